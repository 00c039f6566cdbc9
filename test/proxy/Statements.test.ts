/**
 * Prepared statements across pooled upstreams (SERVER.md G8): the same name
 * for different SQL on two clients sharing one upstream, Close, DEALLOCATE
 * and DISCARD ALL, a statement used after its client moved to another
 * upstream, and the per-upstream LRU.
 */
import { assert, describe, it } from "@effect/vitest"
import pg from "pg"
import { upstreamOf, withProxy } from "./Support.ts"

const connect = async (port: number) => {
  const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" })
  await c.connect()
  return c
}

const codeOf = (p: Promise<unknown>): Promise<string> => p.then(() => "", (e: { code?: string }) => e.code ?? String(e))

describe("PgProxy prepared statements", () => {
  it("G8: two clients, the same statement name for different SQL, a pool of 1: each gets its own result", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 1 }) }, async ({ port }) => {
      const a = await connect(port)
      const b = await connect(port)
      for (let i = 0; i < 20; i++) {
        const [ra, rb] = await Promise.all([
          a.query({ name: "P_0", text: "select 'a' || $1::text as v", values: [i] }),
          b.query({ name: "P_0", text: "select 'b' || ($1::int * 2)::text as v", values: [i] })
        ])
        assert.strictEqual(ra.rows[0]?.v, `a${i}`)
        assert.strictEqual(rb.rows[0]?.v, `b${i * 2}`)
      }
      // Both statements live on the one upstream under names derived from their text.
      const names = await a.query("select name from pg_prepared_statements where name like 'px_%' order by name")
      assert.strictEqual(names.rows.length, 2)
      await a.end()
      await b.end()
    })
  })

  it("EXECUTE of a name the client never prepared is the server's 26000", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 1 }) }, async ({ port }) => {
      const a = await connect(port)
      assert.strictEqual(await codeOf(a.query("execute nope")), "26000")
      assert.strictEqual((await a.query("select 1 as n")).rows[0]?.n, 1)
      await a.end()
    })
  })

  it("DEALLOCATE, DEALLOCATE ALL and DISCARD ALL forget the client's statements (26000 after), others keep theirs", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 1 }) }, async ({ port }) => {
      const a = await connect(port)
      const b = await connect(port)
      await a.query({ name: "s1", text: "select 1 as n" })
      await a.query({ name: "s2", text: "select 2 as n" })
      await b.query({ name: "s1", text: "select 1 as n" })
      assert.strictEqual(((await a.query("deallocate s1")) as unknown as { command: string }).command, "DEALLOCATE")
      assert.strictEqual(await codeOf(a.query({ name: "s1", text: "select 1 as n" })), "26000")
      // The other client's statement of the same text is still there.
      assert.strictEqual((await b.query({ name: "s1", text: "select 1 as n" })).rows[0]?.n, 1)
      assert.strictEqual((await a.query({ name: "s2", text: "select 2 as n" })).rows[0]?.n, 2)
      await a.query("deallocate all")
      assert.strictEqual(await codeOf(a.query({ name: "s2", text: "select 2 as n" })), "26000")
      await b.query({ name: "s3", text: "select 3 as n" })
      await b.query("discard all")
      assert.strictEqual(await codeOf(b.query({ name: "s3", text: "select 3 as n" })), "26000")
      await a.end()
      await b.end()
    })
  })

  it("a statement prepared on one upstream runs after its client moved to another", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 2 }) }, async ({ port }) => {
      const a = await connect(port)
      const b = await connect(port)
      const first = await a.query({ name: "pid", text: "select pg_backend_pid() as pid, $1::int as n", values: [1] })
      // The other client takes that upstream (the most recently returned) and keeps it in a transaction.
      await b.query("begin")
      const held = await b.query("select pg_backend_pid() as pid")
      assert.strictEqual(held.rows[0]?.pid, first.rows[0]?.pid)
      const moved = await a.query({ name: "pid", text: "select pg_backend_pid() as pid, $1::int as n", values: [2] })
      assert.notStrictEqual(moved.rows[0]?.pid, first.rows[0]?.pid)
      assert.strictEqual(moved.rows[0]?.n, 2)
      await b.query("commit")
      await a.end()
      await b.end()
    })
  })

  it("each upstream keeps at most maxPreparedStatements, least recently used closed first; evicted ones are replayed", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 1 }), maxPreparedStatements: 2 }, async ({ port }) => {
      const a = await connect(port)
      for (let round = 0; round < 3; round++) {
        for (let k = 0; k < 4; k++) {
          const r = await a.query({ name: `s${k}`, text: `select ${k} as n, $1::int as r`, values: [round] })
          assert.deepStrictEqual(r.rows[0], { n: k, r: round })
        }
      }
      const count = await a.query("select count(*)::int as n from pg_prepared_statements where name like 'px_%'")
      assert.isAtMost(count.rows[0]?.n as number, 2)
      await a.end()
    })
  })
})
