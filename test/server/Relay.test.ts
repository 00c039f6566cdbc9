/**
 * The example relay (`src/proxy/examples/Relay.ts`) fronting the embedded
 * PostgreSQL 18: real clients talk to PgServer, PgServer re-issues every
 * statement through our own session, and the results and errors come back
 * unchanged.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import * as Relay from "../../src/proxy/examples/Relay.ts"
import * as PgSession from "../../src/session/Session.ts"
import { servers } from "../support/Servers.ts"
import { psql, run, withServer } from "./Support.ts"

const upstream = () => ({ host: servers().main.host, port: servers().main.port, user: "postgres", database: "postgres", sslMode: "disable" as const })

describe("PgServer relay example", () => {
  it("relays psql's queries, errors, transactions and \\copy to PostgreSQL 18", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgserver-relay-"))
    const data = Array.from({ length: 1000 }, (_, i) => `${i}\tname ${i}\n`).join("")
    fs.writeFileSync(path.join(dir, "in.tsv"), data)
    fs.writeFileSync(
      path.join(dir, "script.sql"),
      [
        "create temp table relay_t (id int primary key, name text);",
        `\\copy relay_t from '${path.join(dir, "in.tsv")}'`,
        "begin;",
        "insert into relay_t values (1000, 'last');",
        "commit;",
        "select count(*), max(id), min(name) from relay_t;",
        `\\copy (select * from relay_t where id < 1000 order by id) to '${path.join(dir, "out.tsv")}'`
      ].join("\n")
    )
    await withServer({ handler: Relay.handler(upstream()) }, async ({ port }) => {
      const r = await psql(port, ["-f", path.join(dir, "script.sql")], "user=postgres dbname=postgres")
      assert.strictEqual(r.code, 0, r.stderr)
      assert.include(r.stdout, "1001|1000|last", r.stdout)
      assert.strictEqual(fs.readFileSync(path.join(dir, "out.tsv"), "utf8"), data)
      const failing = await psql(port, ["-c", "select 1/0"], "user=postgres dbname=postgres")
      assert.strictEqual(failing.code, 1)
      assert.match(failing.stderr, /22012: division by zero/)
    })
    fs.rmSync(dir, { recursive: true })
  })

  it("relays node-postgres and our own session's parameterised queries with their types", async () => {
    await withServer({ handler: Relay.handler(upstream()) }, async ({ port }) => {
      const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" })
      await client.connect()
      const r = await client.query("select $1::int + 1 as n, $2::text as t, now() is not null as ok", [41, "x"])
      assert.deepStrictEqual(r.rows, [{ n: 42, t: "x", ok: true }])
      const failed = await client.query("select * from relay_missing_table").then(() => "", (e: { code: string }) => e.code)
      assert.strictEqual(failed, "42P01")
      await client.end()
      const rows = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const session = yield* PgSession.connect({ host: "127.0.0.1", port, user: "postgres", database: "postgres", sslMode: "disable" })
        const result = yield* session.query("select $1::int8 * 2 as n, array[1,2]::int4[] as a, 1.5::numeric as d", [21n])
        return result.rows
      })))
      assert.deepStrictEqual(rows, [{ n: 42n, a: [1, 2], d: "1.5" }])
    })
  })

  it("runs pgbench through the relay in simple, extended and prepared modes with 0 failures", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgserver-relay-"))
    fs.writeFileSync(path.join(dir, "select.sql"), "\\set id random(1, 1000)\nselect :id::int as id;\n")
    await withServer({ handler: Relay.handler(upstream()) }, async ({ port }) => {
      for (const mode of ["simple", "extended", "prepared"]) {
        const r = await run("pgbench", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-n", "-f", path.join(dir, "select.sql"), "-M", mode, "-c", "4", "-j", "2", "-t", "50", "postgres"])
        assert.strictEqual(r.code, 0, `${mode}: ${r.stderr}`)
        assert.match(r.stdout, /number of failed transactions: 0 /)
      }
    })
    fs.rmSync(dir, { recursive: true })
  })
})
