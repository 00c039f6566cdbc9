/**
 * Real clients through PgProxy in transaction mode on one or two upstreams,
 * doing what programs do at awkward moments: postgres.js pipelines with a
 * failing statement in the middle, node-postgres leaving inside a
 * transaction or while it waits for an upstream or while its statement runs,
 * 50 MB parameters and rows, the admin console while the pool is busy.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import Cursor from "pg-cursor"
import postgres from "postgres"
import { psqlArgs, run, upstreamOf, waitUntil, withProxy } from "./Support.ts"

const client = async (port: number): Promise<InstanceType<typeof pg.Client>> => {
  const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" })
  ;(c as unknown as { on: (event: string, f: () => void) => void }).on("error", () => {})
  await c.connect()
  return c
}

/** Runs an admin console command (simple protocol) and returns its rows. */
const admin = async (port: number, command: string): Promise<Array<Record<string, unknown>>> => {
  const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "pgproxy" })
  await c.connect()
  try {
    return (await c.query(command)).rows
  } finally {
    await c.end()
  }
}

/** Sends a CancelRequest (protocol 3.0 key); resolves once the proxy closed that connection. */
const sendCancel = (port: number, processId: number, secretKey: number): Promise<void> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => {
      const frame = Buffer.alloc(16)
      frame.writeInt32BE(16, 0)
      frame.writeInt32BE(80877102, 4)
      frame.writeInt32BE(processId, 8)
      frame.writeInt32BE(secretKey, 12)
      socket.end(frame)
    })
    socket.on("close", () => resolve())
    socket.on("error", () => resolve())
  })

const proxyOf = (maxSize: number) => ({ upstream: upstreamOf({ maxSize, acquireTimeout: "10 seconds" }) })

describe("PgProxy with real clients at awkward moments", () => {
  it("postgres.js: pipelined statements with a failure in the middle, prepared statements shared by three clients on one upstream", async () => {
    await withProxy(proxyOf(1), async ({ port }) => {
      const sqls = Array.from({ length: 3 }, () => postgres({ host: "127.0.0.1", port, user: "postgres", database: "postgres", max: 1, onnotice: () => {} }))
      try {
        const rounds = await Promise.all(sqls.map((sql, c) =>
          Promise.all(Array.from({ length: 30 }, (_, i) =>
            i % 10 === 5
              ? sql`select 1 / ${0}::int as n`.then(() => "no error", (e: { code?: string }) => `error ${e.code}`)
              : sql`select ${c}::int * 1000 + ${i}::int as n`.then((rows) => String(rows[0]!.n))
          ))
        ))
        rounds.forEach((results, c) => {
          assert.deepStrictEqual(results, Array.from({ length: 30 }, (_, i) => (i % 10 === 5 ? "error 22012" : String(c * 1000 + i))))
        })
        // The upstream went back clean: a transaction and a query on each client afterwards.
        for (const [c, sql] of sqls.entries()) {
          const [row] = await sql.begin((tx) => tx`select ${c}::int as c, current_setting('transaction_isolation') as iso`)
          assert.strictEqual(row!.c, c)
        }
      } finally {
        await Promise.all(sqls.map((sql) => sql.end({ timeout: 1 })))
      }
    })
  })

  it("node-postgres: a client that leaves inside a transaction, or after an error in one; the next client starts clean", async () => {
    await withProxy(proxyOf(1), async ({ port }) => {
      const a = await client(port)
      await a.query("begin")
      await a.query("create temporary table if not exists t_left_open (x int) on commit drop")
      await a.query("insert into t_left_open values (1)")
      await a.end()
      const b = await client(port)
      const inBlock = await b.query("select now() = statement_timestamp() as fresh")
      assert.strictEqual(inBlock.rows[0]?.fresh, true)
      // BEGIN; SELECT 1/0; then ROLLBACK on the same upstream.
      await b.query("begin")
      const failed = await b.query("select 1/0").then(() => "no error", (e: { code?: string }) => e.code)
      assert.strictEqual(failed, "22012")
      const aborted = await b.query("select 1").then(() => "no error", (e: { code?: string }) => e.code)
      assert.strictEqual(aborted, "25P02")
      await b.query("rollback")
      assert.strictEqual((await b.query("select 'after rollback' as s")).rows[0]?.s, "after rollback")
      await b.end()
    })
  })

  it("node-postgres: a client that leaves while queued for an upstream, and one that leaves with its statement running", async () => {
    await withProxy(proxyOf(1), async ({ port }) => {
      const holder = await client(port)
      await holder.query("begin")
      const queued = await client(port)
      const pending = queued.query("select 'queued'").then(() => "answered", () => "failed")
      await waitUntil(async () => (await admin(port, "show clients")).some((c) => c["state"] === "waiting"), 10_000)
      ;(queued as unknown as { connection: { stream: { destroy: () => void } } }).connection.stream.destroy()
      await pending
      await holder.query("commit")
      // The statement of a client that leaves keeps running on its backend: that upstream is closed, never lent.
      const runner = await client(port)
      void runner.query("select 'runner' as who, pg_sleep(0.5)").catch(() => {})
      await waitUntil(async () => (await admin(port, "show clients")).some((c) => c["state"] === "active"), 10_000)
      ;(runner as unknown as { connection: { stream: { destroy: () => void } } }).connection.stream.destroy()
      const next = await client(port)
      const r = await next.query("select 'next' as who")
      assert.deepStrictEqual(r.rows, [{ who: "next" }])
      await holder.end()
      await next.end()
    })
  })

  it("a 50 MB Bind parameter and a 50 MB result row, while another client waits for the one upstream", async () => {
    // The waiting client's limit is generous: on a loaded machine moving 100 MB through three processes takes a while.
    await withProxy({ upstream: upstreamOf({ maxSize: 1, acquireTimeout: "50 seconds" }) }, async ({ port }) => {
      const big = await client(port)
      const other = await client(port)
      const size = 50 * 1024 * 1024
      const param = "p".repeat(size)
      const [echo, row] = await Promise.all([
        big.query("select length($1::text) as n, md5($1::text) as h", [param]),
        other.query("select 'other' as who")
      ])
      assert.strictEqual(echo.rows[0]?.n, size)
      const expected = (await import("node:crypto")).createHash("md5").update(param).digest("hex")
      assert.strictEqual(echo.rows[0]?.h, expected)
      assert.deepStrictEqual(row.rows, [{ who: "other" }])
      const [result, after] = await Promise.all([
        big.query("select repeat('r', $1::int) as r", [size]),
        other.query("select 'after' as who")
      ])
      const r = String(result.rows[0]?.r)
      assert.strictEqual(r.length, size)
      assert.isTrue(/^r+$/.test(r))
      assert.deepStrictEqual(after.rows, [{ who: "after" }])
      await big.end()
      await other.end()
    })
  }, 90_000)

  it("the admin console while the pool is busy: SHOW in any case, with trailing semicolons and spaces", async () => {
    await withProxy(proxyOf(1), async ({ port }) => {
      const holder = await client(port)
      await holder.query("begin")
      const waiter = await client(port)
      const pending = waiter.query("select 'waited' as s")
      pending.catch(() => {})
      await waitUntil(async () => (await admin(port, "show clients")).some((c) => c["state"] === "waiting"), 10_000)
      for (const command of ["SHOW POOLS", "show pools;", "Show Pools ;", "  SHOW\tPOOLS ;  ", "show pools;;", "show pools; ;\n"]) {
        const rows = await admin(port, command).catch((e: Error) => assert.fail(`${JSON.stringify(command)}: ${e.message}`))
        assert.strictEqual(rows.length, 1, command)
        assert.strictEqual(rows[0]!["cl_waiting"], "1", command)
        assert.strictEqual(rows[0]!["sv_active"], "1", command)
      }
      assert.strictEqual((await admin(port, "SHOW STATS;")).length, 1)
      assert.strictEqual((await admin(port, "show servers ;")).length, 1)
      await holder.query("commit")
      assert.deepStrictEqual((await pending).rows, [{ s: "waited" }])
      await holder.end()
      await waiter.end()
    })
  })

  it("pg-cursor: a portal read by Execute and Flush outside a transaction holds its upstream until closed; one abandoned by a disconnect is not lent", async () => {
    await withProxy(proxyOf(1), async ({ port }) => {
      const reader = await client(port)
      const other = await client(port)
      const cursor = reader.query(new Cursor("select g from generate_series(1, 250) g"))
      const first = await cursor.read(100)
      const waiting = other.query("select now() = statement_timestamp() as fresh, 'other' as who")
      const second = await cursor.read(100)
      const third = await cursor.read(100)
      assert.deepStrictEqual([first.length, second.length, third.length], [100, 100, 50])
      assert.deepStrictEqual(third.at(-1), { g: 250 })
      await cursor.close()
      assert.deepStrictEqual((await waiting).rows, [{ fresh: true, who: "other" }])
      // Abandoned: the reader leaves with its portal open (no Sync sent).
      const abandoned = reader.query(new Cursor("select g from generate_series(1, 1000) g"))
      assert.strictEqual((await abandoned.read(10)).length, 10)
      ;(reader as unknown as { connection: { stream: { destroy: () => void } } }).connection.stream.destroy()
      const r = await other.query("select now() = statement_timestamp() as fresh")
      assert.deepStrictEqual(r.rows, [{ fresh: true }])
      await other.end()
    })
  })

  it("a cancel for a statement still waiting for an upstream answers it 57014 at once, as the server would cancel it", async () => {
    await withProxy(proxyOf(1), async ({ port }) => {
      const holder = await client(port)
      await holder.query("begin")
      const waiter = (await client(port)) as InstanceType<typeof pg.Client> & { processID: number; secretKey: number }
      const pending = waiter.query("select 'ran' as s").then(() => "ran", (e: { code?: string }) => e.code)
      await waitUntil(async () => (await admin(port, "show clients")).some((c) => c["state"] === "waiting"), 10_000)
      await sendCancel(port, waiter.processID, waiter.secretKey)
      // Without the cancel it would wait for the holder's COMMIT (or the 10 s acquire timeout, 53300).
      assert.strictEqual(await pending, "57014")
      assert.deepStrictEqual((await holder.query("select 'holder still in its block' as s")).rows.length, 1)
      // The same for an extended batch (Parse/Bind/Describe/Execute/Sync): one error, one ReadyForQuery.
      const batch = waiter.query("select $1::text as s", ["ran"]).then(() => "ran", (e: { code?: string }) => e.code)
      await waitUntil(async () => (await admin(port, "show clients")).some((c) => c["state"] === "waiting"), 10_000)
      await sendCancel(port, waiter.processID, waiter.secretKey)
      assert.strictEqual(await batch, "57014")
      await holder.query("commit")
      assert.deepStrictEqual((await waiter.query("select 'next' as s")).rows, [{ s: "next" }])
      await holder.end()
      await waiter.end()
    })
  })

  it("postgres.js, eight clients on two upstreams: named statements that fail at Parse, at Bind and at run time, again and again", async () => {
    await withProxy(proxyOf(2), async ({ port }) => {
      const sqls = Array.from({ length: 8 }, () => postgres({ host: "127.0.0.1", port, user: "postgres", database: "postgres", max: 1, onnotice: () => {} }))
      try {
        const outcome = (p: Promise<ReadonlyArray<Record<string, unknown>>>) =>
          p.then((rows) => `ok ${String(rows[0]?.["n"])}`, (e: { code?: string }) => `error ${e.code}`)
        const rounds = await Promise.all(sqls.map((sql, c) =>
          Promise.all(Array.from({ length: 12 }, (_, i) => {
            switch (i % 4) {
              case 0:
                return outcome(sql`selec ${i}::int as n`)
              case 1:
                return outcome(sql`select ${"not a number"}::int as n`)
              case 2:
                return outcome(sql`select 10 / (${i}::int - ${i}::int) as n`)
              default:
                return outcome(sql`select ${c * 100 + i}::int as n`)
            }
          }))
        ))
        rounds.forEach((results, c) => {
          assert.deepStrictEqual(results, Array.from({ length: 12 }, (_, i) =>
            ["error 42601", "error 22P02", "error 22012", `ok ${c * 100 + i}`][i % 4]))
        })
      } finally {
        await Promise.all(sqls.map((sql) => sql.end({ timeout: 1 })))
      }
    })
  })

  it("psql \\lo_import and \\lo_export: libpq's large-object calls are FunctionCall messages, relayed both ways", async () => {
    await withProxy(proxyOf(1), async ({ port }) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgproxy-lo-"))
      const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256))
      fs.writeFileSync(path.join(dir, "in.bin"), data)
      const imported = await run("psql", [psqlArgs(port), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", `\\lo_import '${path.join(dir, "in.bin")}'`])
      assert.strictEqual(imported.code, 0, imported.stderr)
      const oid = /lo_import (\d+)/.exec(imported.stdout)?.[1]
      assert.isDefined(oid, imported.stdout)
      const exported = await run("psql", [psqlArgs(port), "-X", "-v", "ON_ERROR_STOP=1", "-c", `\\lo_export ${oid} '${path.join(dir, "out.bin")}'`, "-c", `\\lo_unlink ${oid}`])
      assert.strictEqual(exported.code, 0, exported.stderr)
      assert.isTrue(fs.readFileSync(path.join(dir, "out.bin")).equals(data))
      fs.rmSync(dir, { recursive: true })
    })
  })
})
