/**
 * Interruption at (nearly) every await: each operation is interrupted after 0, 1, 2, 4, 8, 16 and 32 ms, on a
 * session behind a proxy with latency (so the interruption lands before the write, while the request is in flight,
 * in the middle of its rows, or after its answer) and on a pool. Each time the session is left usable (it answers
 * the next query) or retired, and nothing stays active or idle in a transaction on the server.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as PgPool from "../../src/pool/Pool.ts"
import type * as PgSession from "../../src/session/Session.ts"
import * as FaultProxy from "../support/FaultProxy.ts"
import { servers } from "../support/Servers.ts"
import { connectPlain } from "../support/Sessions.ts"

const DELAYS = [0, 1, 2, 4, 8, 16, 32]
/** "It must not hang". */
const BOUND_MILLIS = 10_000
const APPLICATION = "interrupt_everywhere"
const TABLE = `interrupt_everywhere_${process.pid}`

const encoder = new TextEncoder()
const copyChunks = Array.from({ length: 20 }, (_, c) =>
  encoder.encode(Array.from({ length: 100 }, (_, i) => `${c * 100 + i}\n`).join("")))

const OPERATIONS: ReadonlyArray<readonly [string, (s: PgSession.Session) => Effect.Effect<unknown, unknown>]> = [
  ["query", (s) => s.query("select pg_sleep(0.005), n from generate_series(1, 200) as n")],
  ["stream (one Execute)", (s) => Stream.runDrain(s.stream("select n from generate_series(1, 3000) as n", [], { pageSize: 0 }))],
  ["stream (paged)", (s) => Stream.runDrain(s.stream("select n from generate_series(1, 3000) as n", [], { pageSize: 100 }))],
  ["copyFrom", (s) => Stream.run(Stream.fromIterable(copyChunks), s.copyFrom(`copy ${TABLE} from stdin`))],
  ["copyTo", (s) => Stream.runDrain(s.copyTo("copy (select n from generate_series(1, 5000) as n) to stdout"))],
  ["listen", (s) => Effect.scoped(Effect.flatMap(s.listen("interrupt_everywhere"), (n) => Stream.runDrain(Stream.take(n, 1))))],
  ["batch", (s) => s.batch([{ sql: "select pg_sleep(0.005)" }, { sql: `insert into ${TABLE} values (1)` }, { sql: "select 1" }])],
  ["simple in a transaction block", (s) => s.simple(`begin; insert into ${TABLE} values (2); select pg_sleep(0.01); commit`)]
]

/** The backends of this suite that are running or inside a transaction, as the monitor sees them. */
const busyBackends = (monitor: PgSession.Session) =>
  Effect.map(
    monitor.query<{ pid: number; state: string }>(
      "select pid, state from pg_stat_activity where application_name = $1 and state <> 'idle'",
      [APPLICATION]
    ),
    (r) => r.rows
  )

/** Waits (bounded) until no backend of the suite is busy; the busy ones if some stay so. */
const settledServer = (monitor: PgSession.Session) =>
  Effect.gen(function*() {
    const started = Date.now()
    let busy = yield* busyBackends(monitor)
    while (busy.length > 0 && Date.now() - started < BOUND_MILLIS) {
      yield* Effect.sleep(20)
      busy = yield* busyBackends(monitor)
    }
    return busy
  })

describe("interruption at every await", () => {
  it.live("on a session behind 2 ms of latency each way: usable or retired, nothing left on the server", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port, { latency: { toServer: 2, toClient: 2 } })
      const monitor = yield* connectPlain()
      yield* monitor.simple(`create table ${TABLE} (n int4)`)
      yield* Effect.addFinalizer(() => monitor.simple(`drop table if exists ${TABLE}`).pipe(Effect.ignore))
      const open = connectPlain({ port: proxy.port, applicationName: APPLICATION })
      let session = yield* open
      let retired = 0
      let usable = 0
      for (const [name, operation] of OPERATIONS) {
        for (const delay of DELAYS) {
          const t0 = Date.now()
          const interrupted = yield* Effect.exit(operation(session).pipe(Effect.timeout(delay))).pipe(Effect.timeoutOption(BOUND_MILLIS))
          assert.isTrue(Option.isSome(interrupted), `${name} at ${delay} ms: the interruption itself hung`)
          if (Date.now() - t0 > 1000) console.log(`${name} at ${delay} ms: released after ${Date.now() - t0} ms`)
          const next = yield* Effect.exit(session.query("select 1 as ok")).pipe(Effect.timeoutOption(BOUND_MILLIS))
          assert.isTrue(Option.isSome(next), `${name} at ${delay} ms: the next query hung`)
          const exit = Option.getOrThrow(next)
          if (exit._tag === "Success") {
            usable++
            assert.deepStrictEqual(exit.value.rows, [{ ok: 1 }], `${name} at ${delay} ms`)
            assert.strictEqual(yield* session.transactionStatus, "I", `${name} at ${delay} ms: left in a transaction`)
          } else {
            retired++
            assert.isTrue(yield* session.isClosed, `${name} at ${delay} ms: a failed next query on an open session`)
            session = yield* open
          }
          assert.deepStrictEqual(yield* settledServer(monitor), [], `${name} at ${delay} ms`)
        }
      }
      console.log(`session: ${usable} interruptions left it usable, ${retired} retired it`)
    })), { timeout: 60_000 })

  it.live("on a pool: withTransaction and queries interrupted, the pool goes on, nothing idle in a transaction", () =>
    Effect.scoped(Effect.gen(function*() {
      const monitor = yield* connectPlain()
      const table = `${TABLE}_pool`
      yield* monitor.simple(`create table ${table} (n int4)`)
      yield* Effect.addFinalizer(() => monitor.simple(`drop table if exists ${table}`).pipe(Effect.ignore))
      const proxy = yield* FaultProxy.make(servers().main.port, { latency: { toServer: 2, toClient: 2 } })
      const pool = yield* PgPool.make({
        host: "127.0.0.1",
        port: proxy.port,
        user: "postgres",
        database: "postgres",
        sslMode: "disable",
        applicationName: APPLICATION,
        maxSize: 2
      })
      let committed = 0
      for (const delay of [...DELAYS, 64]) {
        const exit = yield* Effect.exit(pool.withTransaction(Effect.gen(function*() {
          yield* pool.query(`insert into ${table} values ($1)`, [delay])
          yield* pool.query("select pg_sleep(0.01)")
          yield* pool.query(`insert into ${table} values ($1)`, [delay])
        })).pipe(Effect.timeout(delay)))
        if (exit._tag === "Success") committed++
        yield* Effect.exit(pool.query("select pg_sleep(0.01)").pipe(Effect.timeout(delay)))
        const next = yield* Effect.exit(pool.query("select 1 as ok")).pipe(Effect.timeoutOption(BOUND_MILLIS))
        assert.isTrue(Option.isSome(next) && Option.getOrThrow(next)._tag === "Success", `after ${delay} ms`)
        assert.deepStrictEqual(yield* settledServer(monitor), [], `after ${delay} ms`)
      }
      // All or nothing: every transaction wrote two rows or none.
      const { rows } = yield* monitor.query<{ n: number; c: number }>(
        `select n, count(*)::int4 as c from ${table} group by n order by n`
      )
      for (const row of rows) assert.strictEqual(row.c, 2, `transaction ${row.n} half committed`)
      console.log(`pool: ${committed} of ${DELAYS.length + 1} transactions committed, the others rolled back whole`)
    })), { timeout: 60_000 })
})
