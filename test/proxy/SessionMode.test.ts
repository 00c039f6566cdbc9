/**
 * Session mode: one upstream per client from its first statement until it
 * leaves; a clean upstream then serves the next client.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import { run, upstreamOf, withProxy } from "./Support.ts"

const connect = async (port: number) => {
  const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" })
  await c.connect()
  return c
}

const pidOf = async (c: InstanceType<typeof pg.Client>) => (await c.query("select pg_backend_pid() as pid")).rows[0]?.pid

describe("PgProxy session mode", () => {
  it("each client keeps one upstream across transactions; others wait for a free one", async () => {
    await withProxy({ mode: "session", upstream: upstreamOf({ maxSize: 2, acquireTimeout: "2 seconds" }) }, async ({ port }) => {
      const a = await connect(port)
      const b = await connect(port)
      const pidA = await pidOf(a)
      const pidB = await pidOf(b)
      assert.notStrictEqual(pidA, pidB)
      for (let i = 0; i < 5; i++) {
        await a.query("begin")
        await a.query("select 1")
        await a.query("commit")
        assert.strictEqual(await pidOf(a), pidA)
        assert.strictEqual(await pidOf(b), pidB)
      }
      // A third client waits while both upstreams are held, and gets A's once A leaves.
      const c = await connect(port)
      const third = pidOf(c)
      await new Promise((r) => setTimeout(r, 200))
      await a.end()
      assert.strictEqual(await third, pidA)
      await b.end()
      await c.end()
    })
  })

  it("pgbench in session mode, 4 clients on 4 upstreams, simple, extended and prepared: 0 failures", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgproxy-session-"))
    const script = path.join(dir, "script.sql")
    fs.writeFileSync(script, "\\set id random(1, 1000)\nbegin;\nselect :id::int as id;\nselect :id::int + 1;\ncommit;\n")
    await withProxy({ mode: "session", upstream: upstreamOf({ maxSize: 4 }) }, async ({ port }) => {
      for (const mode of ["simple", "extended", "prepared"]) {
        const r = await run("pgbench", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-n", "-f", script, "-M", mode, "-c", "4", "-j", "2", "-t", "50", "postgres"], {}, 60_000)
        assert.strictEqual(r.code, 0, `${mode}: ${r.stderr}`)
        assert.match(r.stdout, /number of transactions actually processed: 200\/200/)
        assert.match(r.stdout, /number of failed transactions: 0 /)
      }
    })
    fs.rmSync(dir, { recursive: true })
  })
})
