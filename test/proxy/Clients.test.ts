/**
 * Real clients through PgProxy in transaction mode, pool of 4, in front of the
 * shared PostgreSQL 18: psql (`\d`, `\copy` both ways, errors, transactions,
 * SIGINT), pgbench (`-i` by COPY, tpcb-like in simple, extended and prepared
 * modes with 16 clients, checked against the benchmark's invariants),
 * node-postgres, postgres.js pipelining 2,000 queries, and our own client.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import postgres from "postgres"
import * as PgSession from "../../src/session/Session.ts"
import { servers } from "../support/Servers.ts"
import { psqlArgs, run, upstreamOf, waitUntil, withProxy } from "./Support.ts"

const DATABASE = `proxy_clients_${process.pid}`

/** Runs SQL directly on the upstream server (not through the proxy). */
const direct = async (sql: string, database = "postgres") => {
  const client = new pg.Client({ host: servers().main.host, port: servers().main.port, user: "postgres", database })
  await client.connect()
  try {
    return await client.query(sql)
  } finally {
    await client.end()
  }
}

const withDatabase = async <A>(f: () => Promise<A>): Promise<A> => {
  await direct(`drop database if exists ${DATABASE}`)
  await direct(`create database ${DATABASE}`)
  try {
    return await f()
  } finally {
    await direct(`drop database if exists ${DATABASE} with (force)`)
  }
}

const upstream = () => upstreamOf({ database: DATABASE, maxSize: 4 })

describe("PgProxy with real clients", () => {
  it("psql: \\d, \\copy both ways, errors and transactions", async () => {
    await withDatabase(() =>
      withProxy({ upstream: upstream() }, async ({ port }) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgproxy-psql-"))
        const data = Array.from({ length: 2000 }, (_, i) => `${i}\tname ${i}\n`).join("")
        fs.writeFileSync(path.join(dir, "in.tsv"), data)
        fs.writeFileSync(
          path.join(dir, "script.sql"),
          [
            "create table proxy_t (id int primary key, name text);",
            `\\copy proxy_t from '${path.join(dir, "in.tsv")}'`,
            "begin;",
            "insert into proxy_t values (2000, 'last');",
            "commit;",
            "select count(*), max(id), min(name) from proxy_t;",
            `\\copy (select * from proxy_t where id < 2000 order by id) to '${path.join(dir, "out.tsv")}'`,
          ].join("\n")
        )
        const r = await run("psql", [psqlArgs(port, `dbname=${DATABASE}`), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", path.join(dir, "script.sql")])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.include(r.stdout, "2001|2000|last")
        const describe = await run("psql", [psqlArgs(port, `dbname=${DATABASE}`), "-X", "-c", "\\d proxy_t"])
        assert.strictEqual(describe.code, 0, describe.stderr)
        assert.include(describe.stdout, "\"proxy_t_pkey\" PRIMARY KEY, btree (id)")
        assert.strictEqual(fs.readFileSync(path.join(dir, "out.tsv"), "utf8"), data)
        const failing = await run("psql", [psqlArgs(port, `dbname=${DATABASE}`), "-X", "-v", "VERBOSITY=verbose", "-c", "select 1/0"])
        assert.strictEqual(failing.code, 1)
        assert.match(failing.stderr, /22012: division by zero/)
        // An error inside a transaction block: the block fails ('E') and ROLLBACK ends it, on the same upstream.
        const block = await run("psql", [psqlArgs(port, `dbname=${DATABASE}`), "-X", "-A", "-t", "-c", "begin", "-c", "select 1/0", "-c", "rollback", "-c", "select count(*) from proxy_t"])
        assert.include(block.stdout, "2001")
        fs.rmSync(dir, { recursive: true })
      })
    )
  })

  it("psql: SIGINT cancels the running statement (57014) and the session goes on", async () => {
    await withProxy({}, async ({ port }) => {
      const statement = `select pg_sleep(30) as sigint_${process.pid}`
      const child = spawn("psql", [psqlArgs(port), "-X", "-v", "VERBOSITY=verbose", "-c", statement], {
        env: { ...process.env, PGCONNECT_TIMEOUT: "5" }
      })
      let stderr = ""
      child.stderr.on("data", (d) => (stderr += String(d)))
      // psql installs its SIGINT handler only once connected: a SIGINT before that kills it (exit code null), so the
      // signal waits until the statement runs on the upstream.
      const server = new pg.Client({ host: servers().main.host, port: servers().main.port, user: "postgres", database: "postgres" })
      await server.connect()
      try {
        await waitUntil(async () =>
          (await server.query("select 1 from pg_stat_activity where query = $1 and state = 'active'", [statement])).rows.length === 1, 20_000)
      } finally {
        await server.end()
      }
      const started = Date.now()
      child.kill("SIGINT")
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve))
      assert.isBelow(Date.now() - started, 10_000)
      assert.strictEqual(code, 1, stderr)
      assert.match(stderr, /57014/)
    })
  })

  it("pgbench -i, then tpcb-like in simple, extended and prepared modes, 16 clients on 4 upstreams: 0 errors, invariants hold", async () => {
    await withDatabase(() =>
      withProxy({ upstream: upstream() }, async ({ port }) => {
        const base = ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres"]
        const init = await run("pgbench", [...base, "-i", "-s", "1", "-q", DATABASE], {}, 60_000)
        assert.strictEqual(init.code, 0, init.stderr)
        assert.notMatch(init.stderr, /ERROR/)
        for (const mode of ["simple", "extended", "prepared"]) {
          const r = await run("pgbench", [...base, "-n", "-M", mode, "-c", "16", "-j", "2", "-t", "30", DATABASE], {}, 60_000)
          assert.strictEqual(r.code, 0, `${mode}: ${r.stderr}`)
          assert.match(r.stdout, /number of transactions actually processed: 480\/480/, r.stdout)
          assert.match(r.stdout, /number of failed transactions: 0 /, r.stdout)
          assert.notMatch(r.stderr, /ERROR|already exists/, r.stderr)
        }
        // tpcb-like's invariants (TPC-B): every delta lands once in each of the four tables.
        const sums = await direct(
          `select (select sum(abalance) from pgbench_accounts) a, (select sum(bbalance) from pgbench_branches) b,
                  (select sum(tbalance) from pgbench_tellers) t, (select sum(delta) from pgbench_history) h,
                  (select count(*) from pgbench_history) n`,
          DATABASE
        )
        const row = sums.rows[0] as { a: string; b: string; t: string; h: string; n: string }
        assert.strictEqual(row.n, "1440")
        assert.strictEqual(row.a, row.h)
        assert.strictEqual(row.b, row.h)
        assert.strictEqual(row.t, row.h)
      })
    )
  }, 240_000)

  it("node-postgres: parameterised and named statements from 8 clients sharing 2 upstreams", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 2 }) }, async ({ port }) => {
      const clients = await Promise.all(
        Array.from({ length: 8 }, async () => {
          const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" })
          await c.connect()
          return c
        })
      )
      await Promise.all(clients.map(async (c, k) => {
        for (let i = 0; i < 25; i++) {
          // The same name on every client, different SQL per client: each must get its own statement.
          const r = await c.query({ name: "q", text: `select $1::int + ${k} as n`, values: [i] })
          assert.strictEqual(r.rows[0]?.n, i + k)
          const p = await c.query("select $1::text || $2::text as s", ["a", String(i)])
          assert.strictEqual(p.rows[0]?.s, `a${i}`)
        }
      }))
      const failed = await clients[0]!.query("select * from proxy_missing_table").then(() => "", (e: { code: string }) => e.code)
      assert.strictEqual(failed, "42P01")
      const after = await clients[0]!.query({ name: "q", text: "select $1::int + 0 as n", values: [7] })
      assert.strictEqual(after.rows[0]?.n, 7)
      await Promise.all(clients.map((c) => c.end()))
    })
  })

  it("postgres.js: 2,000 pipelined queries on one connection, one failing, the others correct and in order", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 2 }) }, async ({ port }) => {
      const sql = postgres({ host: "127.0.0.1", port, user: "postgres", database: "postgres", max: 1, onnotice: () => {} })
      try {
        const results = await Promise.allSettled(
          Array.from({ length: 2000 }, (_, i) => i === 777 ? sql`select 1/0 as n` : sql`select ${i}::int as n`)
        )
        results.forEach((r, i) => {
          if (i === 777) assert.strictEqual(r.status, "rejected")
          else {
            assert.strictEqual(r.status, "fulfilled", String((r as PromiseRejectedResult).reason))
            assert.strictEqual((r as unknown as PromiseFulfilledResult<Array<{ n: number }>>).value[0]!.n, i)
          }
        })
      } finally {
        await sql.end()
      }
    })
  })

  it("our client: cached statements and a transaction through the proxy", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 1 }) }, async ({ port }) => {
      const rows = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const session = yield* PgSession.connect({ host: "127.0.0.1", port, user: "postgres", database: "postgres", sslMode: "disable" })
        const other = yield* PgSession.connect({ host: "127.0.0.1", port, user: "postgres", database: "postgres", sslMode: "disable" })
        const out: Array<unknown> = []
        for (let i = 0; i < 5; i++) {
          out.push((yield* session.query("select $1::int8 * 2 as n", [BigInt(i)])).rows[0])
          out.push((yield* other.query("select $1::int8 * 3 as n", [BigInt(i)])).rows[0])
        }
        yield* session.simple("begin")
        yield* session.query("select 1")
        yield* session.simple("commit")
        return out
      })))
      assert.deepStrictEqual(rows, [0, 1, 2, 3, 4].flatMap((i) => [{ n: BigInt(i * 2) }, { n: BigInt(i * 3) }]))
    })
  })
})
