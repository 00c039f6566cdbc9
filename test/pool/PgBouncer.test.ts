/**
 * The pool, transactions and the effect/sql client through PgBouncer in
 * transaction pooling mode, with the transaction-pooler safe mode on.
 *
 * Without a pgbouncer binary these tests do not run: outside CI they are
 * reported as skipped under a name that says so (and a banner on stderr); in
 * CI (`CI` set) a missing binary is a failure, since `.ci/run` installs it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { SqlClient, SqlResolver } from "effect/sql"
import * as Schema from "effect/Schema"
import type { PgError } from "../../src/errors/PgError.ts"
import * as PgPool from "../../src/pool/Pool.ts"
import * as Transaction from "../../src/pool/Transaction.ts"
import * as PgSession from "../../src/session/Session.ts"
import * as PgClient from "../../src/sql/PgClient.ts"
import * as PgBouncer from "../support/PgBouncer.ts"
import { PASSWORDS, servers } from "../support/Servers.ts"

const binary = PgBouncer.findBinary()

let counter = 0
const unique = (prefix: string) => `${prefix}_${process.pid}_${++counter}_${Math.floor(Math.random() * 1e6)}`

const bouncer = (options: Partial<PgBouncer.PgBouncerOptions> = {}) =>
  PgBouncer.acquire({ target: { host: servers().main.host, port: servers().main.port }, ...options })

const poolThrough = (b: PgBouncer.RunningPgBouncer, options: Partial<PgPool.PoolOptions> = {}) =>
  PgPool.make({
    host: b.host,
    port: b.port,
    user: "postgres",
    database: "postgres",
    sslMode: "disable",
    name: unique("bouncer-pool"),
    transactionPooler: true,
    ...options
  })

const direct = () =>
  PgSession.connect({ host: servers().main.host, port: servers().main.port, user: "postgres", database: "postgres" })

if (binary === undefined) {
  const message = PgBouncer.MISSING_BINARY_MESSAGE
  process.stderr.write(`\n${"!".repeat(100)}\n${message}\n${"!".repeat(100)}\n\n`)
  describe("PgBouncer", () => {
    if (process.env["CI"] !== undefined && process.env["CI"] !== "" && process.env["CI"] !== "false") {
      it("has a pgbouncer binary (CI installs the Debian package)", () => {
        assert.fail(message)
      })
    } else {
      it.skip(`NOT RUN: ${message}`, () => {})
    }
  })
} else {
  describe("PgBouncer: transaction pooling with the safe mode", () => {
    it.live("runs parameterized statements through shared server connections", () =>
      Effect.gen(function*() {
        const b = yield* bouncer()
        const pool = yield* poolThrough(b, { maxSize: 6 })
        const results = yield* Effect.forEach(
          Array.from({ length: 300 }, (_, i) => i),
          (i) =>
            // A different statement text per call: each one is parsed afresh, unnamed.
            Effect.map(
              pool.query<{ n: number; s: string }>(`select $1::int as n, $2::text as s /* ${i % 37} */`, [i, `v${i}`]),
              (r) => r.rows[0]!
            ),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(results.map((r) => r.n), Array.from({ length: 300 }, (_, i) => i))
        assert.isTrue(results.every((r, i) => r.s === `v${i}`))
        // More client sessions than server connections: the pooler really shared them.
        const created = (yield* pool.stats).created
        assert.isAbove(created, 2)
        assert.isAtMost(created, 6)
        const admin = yield* PgSession.connect({
          host: b.host,
          port: b.port,
          user: "postgres",
          database: "pgbouncer",
          sslMode: "disable",
          protocolVersion: "3.0"
        })
        const [servers_] = yield* admin.simple("SHOW SERVERS")
        const upstream = servers_!.rows.filter((r) => r["database"] === "postgres")
        assert.isAtLeast(upstream.length, 1)
        assert.isAtMost(upstream.length, 2)
      }), 60_000)

    it.live("keeps transactions whole: savepoints, SET LOCAL, rollback, and a transfer invariant", () =>
      Effect.gen(function*() {
        const b = yield* bouncer()
        const pool = yield* poolThrough(b, { maxSize: 4 })
        const bank = unique("bouncer_bank")
        yield* pool.query(`create table ${bank} (id int primary key, balance int not null check (balance >= 0))`)
        yield* Effect.addFinalizer(() => Effect.ignore(pool.query(`drop table ${bank}`)))
        yield* pool.query(`insert into ${bank} select n, 100 from generate_series(1, 5) n`)
        const exits = yield* Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) =>
            pool.withTransaction(Effect.gen(function*() {
              const src = 1 + (i % 5)
              const dst = 1 + ((i * 3 + 1) % 5)
              yield* pool.query("set local application_name = 'transfer'")
              yield* pool.query(`update ${bank} set balance = balance - $1 where id = $2`, [7, src])
              yield* pool.withTransaction(pool.query(`update ${bank} set balance = balance + $1 where id = $2`, [7, dst]))
              const { rows } = yield* pool.query<{ a: string }>("select current_setting('application_name') as a")
              assert.strictEqual(rows[0]!.a, "transfer")
            })).pipe(Transaction.retry({ times: 20 }), Effect.exit),
          { concurrency: 16 }
        )
        for (const exit of exits) {
          if (Exit.isFailure(exit)) {
            const failure = exit.cause.reasons.find((r) => r._tag === "Fail") as { error: PgError } | undefined
            assert.strictEqual(failure?.error.reason._tag === "ServerError" ? failure.error.reason.code : "", "23514")
          }
        }
        const { rows } = yield* pool.query<{ total: number }>(`select sum(balance)::int as total from ${bank}`)
        assert.strictEqual(rows[0]!.total, 500)
        const failed = yield* Effect.exit(pool.withTransaction(Effect.andThen(
          pool.query(`update ${bank} set balance = 0`),
          Effect.fail("undo")
        )))
        assert.isTrue(Exit.isFailure(failed))
        const { rows: after } = yield* pool.query<{ total: number }>(`select sum(balance)::int as total from ${bank}`)
        assert.strictEqual(after[0]!.total, 500)
        // No session state leaks from one transaction into the next one.
        const { rows: name } = yield* pool.query<{ a: string }>("select current_setting('application_name') as a")
        assert.notStrictEqual(name[0]!.a, "transfer")
      }).pipe(Effect.scoped), 60_000)

    it.live("a cancelled statement is cancelled through the pooler and the next caller gets its own answer", () =>
      Effect.gen(function*() {
        const b = yield* bouncer()
        const applicationName = unique("bouncer-cancel")
        // healthCheckAfter 0: every checkout also runs the health check through the pooler.
        const pool = yield* poolThrough(b, { maxSize: 1, applicationName, healthCheckAfter: 0 })
        const sleeper = yield* Effect.forkChild(pool.query("select pg_sleep(30)"))
        yield* Effect.sleep(300)
        yield* Fiber.interrupt(sleeper)
        const { rows } = yield* pool.query<{ n: number }>("select 2 as n")
        assert.deepStrictEqual(rows, [{ n: 2 }])
        const watcher = yield* direct()
        const { rows: active } = yield* watcher.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where state = 'active' and query = 'select pg_sleep(30)' " +
            "and application_name = $1",
          [applicationName]
        )
        assert.strictEqual(active[0]!.n, 0)
      }), 60_000)

    it.live("refuses LISTEN in safe mode with a typed error", () =>
      Effect.gen(function*() {
        const b = yield* bouncer()
        const pool = yield* poolThrough(b)
        const exit = yield* Effect.exit(Effect.scoped(pool.listen("anything")))
        assert.isTrue(Exit.isFailure(exit))
        const failure = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
        assert.strictEqual((failure as unknown as { error: PgError }).error.reason._tag, "ConfigError")
      }))

    it.live("authenticates clients with md5 from the user list", () =>
      Effect.gen(function*() {
        const b = yield* bouncer({ authType: "md5", users: { md5user: PASSWORDS.md5user } })
        const pool = yield* poolThrough(b, { user: "md5user", password: PASSWORDS.md5user })
        const { rows } = yield* pool.query<{ u: string }>("select current_user as u")
        assert.deepStrictEqual(rows, [{ u: "md5user" }])
        const wrong = yield* Effect.exit(
          Effect.scoped(PgSession.connect({
            host: b.host,
            port: b.port,
            user: "md5user",
            password: "not the password",
            database: "postgres",
            sslMode: "disable"
          }))
        )
        assert.isTrue(Exit.isFailure(wrong))
      }))

    it.live("the effect/sql client works through the pooler: statements, transactions, a batching resolver", () =>
      Effect.gen(function*() {
        const b = yield* bouncer()
        const program = Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const t = unique("bouncer_items")
          yield* sql`create table ${sql(t)} (id int primary key, name text)`
          yield* Effect.addFinalizer(() => Effect.ignore(sql`drop table ${sql(t)}`))
          yield* sql.withTransaction(Effect.gen(function*() {
            yield* sql`insert into ${sql(t)} ${sql.insert(Array.from({ length: 50 }, (_, i) => ({ id: i, name: `n${i}` })) as any)}`
            yield* Effect.exit(sql.withTransaction(Effect.andThen(sql`insert into ${sql(t)} values (999, 'x')`, Effect.fail("no"))))
          }))
          let executions = 0
          const byId = SqlResolver.findById({
            Id: Schema.Int,
            Result: Schema.Struct({ id: Schema.Int, name: Schema.String }),
            ResultId: (row) => row.id,
            execute: (ids) =>
              Effect.suspend(() => {
                executions++
                return sql`select id, name from ${sql(t)} where ${sql.in("id", ids)}`
              })
          })
          const found = yield* Effect.forEach(
            Array.from({ length: 50 }, (_, i) => i),
            (id) => SqlResolver.request(id, byId),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(executions, 1)
          assert.strictEqual(found[49]!.name, "n49")
          assert.deepStrictEqual(yield* sql`select count(*)::int as n from ${sql(t)}`, [{ n: 50 }])
        })
        yield* Effect.scoped(program).pipe(
          Effect.provide(PgClient.layer({
            host: b.host,
            port: b.port,
            username: "postgres",
            database: "postgres",
            sslMode: "disable",
            transactionPooler: true,
            maxConnections: 4
          }))
        )
      }), 60_000)
  })
}
