/**
 * Protocol 2.0 sessions in a pool on PostgreSQL 13: transactions (commit, rollback, savepoints, a COMMIT answered
 * with ROLLBACK), the transaction status tracked and probed as M21 measured, release of a session left in a
 * transaction.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as PgPool from "../../../src/pool/Pool.ts"
import { reasonOf } from "../../support/Sessions.ts"
import { servers } from "../../support/Servers.ts"
import { connect13 } from "./Support.ts"

let poolCounter = 0

const makePool = (options: Partial<PgPool.PoolOptions> = {}) =>
  PgPool.make({
    host: servers().pg13.host,
    port: servers().pg13.port,
    user: "postgres",
    database: "postgres",
    sslMode: "disable",
    protocolVersion: "2.0",
    name: `v2-pool-${++poolCounter}`,
    ...options
  })

describe("protocol 2.0: transaction status and pools", () => {
  it.live("transactionStatus: tracked for the library's statements, probed after other SQL (M21)", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      assert.strictEqual(yield* session.transactionStatus, "I")
      yield* session.simple("BEGIN")
      assert.strictEqual(yield* session.transactionStatus, "T")
      yield* session.simple("SAVEPOINT s1")
      yield* Effect.ignore(session.query("select 1/0"))
      assert.strictEqual(yield* session.transactionStatus, "E")
      yield* session.simple("ROLLBACK TO SAVEPOINT s1")
      assert.strictEqual(yield* session.transactionStatus, "T")
      yield* session.simple("COMMIT AND CHAIN")
      assert.strictEqual(yield* session.transactionStatus, "T")
      yield* session.simple("COMMIT")
      assert.strictEqual(yield* session.transactionStatus, "I")
      // User SQL the session cannot judge: the status is asked of the server.
      yield* session.simple("select 1; begin; select 2")
      assert.strictEqual(yield* session.transactionStatus, "T")
      yield* session.simple("select 1/0").pipe(Effect.ignore)
      assert.strictEqual(yield* session.transactionStatus, "E")
      yield* session.simple("rollback; select 1")
      assert.strictEqual(yield* session.transactionStatus, "I")
    }))

  it.live("closing the session rolls back its open transaction; pg_terminate_backend ends it with a typed error", () =>
    Effect.gen(function*() {
      const monitor = yield* connect13()
      const t = `v2_close_${process.pid}_${Date.now()}`
      yield* monitor.query(`create table ${t} (x int)`)
      yield* Effect.scoped(Effect.gen(function*() {
        const session = yield* connect13()
        yield* session.simple(`begin; insert into ${t} values (1)`)
      }))
      const gone = (pid: number) =>
        monitor.query("select 1 from pg_stat_activity where pid = $1", [pid]).pipe(
          Effect.flatMap((r) => (r.rows.length === 0 ? Effect.void : Effect.fail("still there"))),
          Effect.retry({ times: 100 }),
          Effect.delay(20)
        )
      assert.deepStrictEqual((yield* monitor.query(`select count(*)::int as n from ${t}`)).rows, [{ n: 0 }])
      const victim = yield* connect13()
      yield* monitor.query("select pg_terminate_backend($1)", [victim.processId])
      yield* gone(victim.processId)
      const reason = reasonOf(yield* Effect.exit(victim.query("select 1")))
      assert.strictEqual(reason._tag, "ServerError")
      assert.match(reason.message, /terminating connection due to administrator command/)
      assert.isTrue(yield* victim.isClosed)
      yield* monitor.query(`drop table ${t}`)
    }))

  it.live("pool transactions: commit, rollback, savepoints, COMMIT answered with ROLLBACK", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 2 })
      const t = `v2_tx_${process.pid}_${Date.now()}`
      yield* pool.query(`create table ${t} (x int)`)
      const count = Effect.map(pool.query<{ n: number }>(`select count(*)::int as n from ${t}`), (r) => r.rows[0]!.n)
      yield* pool.withTransaction(pool.query(`insert into ${t} values ($1)`, [1]))
      assert.strictEqual(yield* count, 1)
      yield* Effect.exit(pool.withTransaction(Effect.andThen(pool.query(`insert into ${t} values (2)`), Effect.fail("no"))))
      assert.strictEqual(yield* count, 1)
      yield* pool.withTransaction(Effect.gen(function*() {
        yield* pool.query(`insert into ${t} values (3)`)
        yield* Effect.exit(pool.withTransaction(Effect.andThen(pool.query(`insert into ${t} values (4)`), Effect.fail("inner"))))
        yield* pool.withTransaction(pool.query(`insert into ${t} values ($1)`, [5]))
      }))
      assert.deepStrictEqual((yield* pool.query(`select x from ${t} order by x`)).rows, [{ x: 1 }, { x: 3 }, { x: 5 }])
      const exit = yield* Effect.exit(pool.withTransaction(Effect.gen(function*() {
        yield* pool.query(`insert into ${t} values (6)`)
        yield* Effect.ignore(pool.query("select 1/0"))
      })))
      assert.strictEqual(reasonOf(exit)._tag, "TransactionError")
      assert.strictEqual(yield* count, 3)
      assert.strictEqual(yield* pool.withSession((s) => s.transactionStatus), "I")
      yield* pool.query(`drop table ${t}`)
    }))

  it.live("a session released inside a transaction is rolled back before reuse", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 1 })
      yield* pool.withSession((s) => s.simple("begin; create temp table left_open (a int)"))
      assert.strictEqual(yield* pool.withSession((s) => s.transactionStatus), "I")
      const { rows } = yield* pool.query("select count(*)::int as n from pg_class where relname = 'left_open'")
      assert.deepStrictEqual(rows, [{ n: 0 }])
    }))
})
