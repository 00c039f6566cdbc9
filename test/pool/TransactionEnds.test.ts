/**
 * The statements that end a transaction or a savepoint after a failed or
 * interrupted body (ROLLBACK, ROLLBACK TO SAVEPOINT, RELEASE SAVEPOINT) are
 * bounded by the transaction's `commitTimeout`: when the path to a real server
 * goes silent during the body, the caller gets its body's own outcome within
 * that bound, not after the session's liveness check or TCP gives up; the
 * session is retired and the pool serves again with a new one.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as PgPool from "../../src/pool/Pool.ts"
import * as FaultProxy from "../support/FaultProxy.ts"
import { servers } from "../support/Servers.ts"
import { reasonOf } from "../support/Sessions.ts"

const poolThrough = (port: number) =>
  PgPool.make({
    host: "127.0.0.1",
    port,
    user: "postgres",
    database: "postgres",
    sslMode: "disable",
    maxSize: 1,
    acquireTimeout: "10 seconds",
    connectTimeout: 2_000,
    // The session's own liveness check would notice the silence only after this long.
    livenessCheckAfter: 20_000
  })

/** After the proxy forwards again, the pool serves with a new session. */
const servesAgain = (pool: PgPool.Pool) =>
  Effect.gen(function*() {
    const result = yield* pool.query<{ one: number }>("select 1 as one").pipe(Effect.timeout("10 seconds"))
    assert.deepStrictEqual(result.rows, [{ one: 1 }])
    assert.strictEqual((yield* pool.stats).inUse, 0)
  })

/**
 * A one-session pool behind a fault proxy: `run` makes the path go silent somewhere; then it forwards again and
 * the pool must serve with a new session.
 */
const onSilentPath = <A, E>(run: (proxy: FaultProxy.FaultProxy, pool: PgPool.Pool) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.scoped(Effect.gen(function*() {
    const proxy = yield* FaultProxy.make(servers().main.port)
    const pool = yield* poolThrough(proxy.port)
    yield* run(proxy, pool)
    yield* proxy.restore
    yield* servesAgain(pool)
  }))

/** The message of the first failure in `exit`. */
const failureMessage = (exit: Exit.Exit<unknown, unknown>): string => {
  const reason = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  return (reason as unknown as { error: { message: string } } | undefined)?.error.message ?? ""
}

describe("PgPool.withTransaction: the ROLLBACK after a failed body is bounded", () => {
  it.live("a ROLLBACK nobody answers ends within commitTimeout: the body's error is returned", () =>
    onSilentPath((proxy, pool) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(pool.withTransaction(
          Effect.gen(function*() {
            yield* pool.query("select 1")
            // From here on the path forwards nothing: ROLLBACK goes out and no answer comes back.
            yield* proxy.blackhole
            return yield* Effect.fail("the body failed" as const)
          }),
          { commitTimeout: "300 millis" }
        ).pipe(Effect.timeout("10 seconds")))
        assert.deepStrictEqual(exit, Exit.fail("the body failed" as const))
      })
    ), { timeout: 40_000 })

  it.live("an interrupted body on a silent path: the caller's own timeout ends the transaction within commitTimeout", () =>
    onSilentPath((proxy, pool) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(pool.withTransaction(
          Effect.gen(function*() {
            yield* pool.query("select 1")
            yield* proxy.blackhole
            return yield* Effect.never
          }),
          { commitTimeout: "300 millis" }
        ).pipe(Effect.timeout("200 millis"), Effect.timeout("10 seconds")))
        assert.isTrue(Exit.isFailure(exit))
        assert.include(failureMessage(exit), "200", "the inner timeout's error, not the outer one's")
      })
    ), { timeout: 40_000 })
})

describe("PgPool.withTransaction: a COMMIT nobody answers says so once", () => {
  it.live("the CommitOutcomeUnknown message is not wrapped in a 'connection was lost' one", () =>
    onSilentPath((proxy, pool) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(pool.withTransaction(
          Effect.gen(function*() {
            yield* pool.query("select 1")
            yield* proxy.blackhole
          }),
          { commitTimeout: "300 millis" }
        ).pipe(Effect.timeout("10 seconds")))
        const reason = reasonOf(exit)
        assert.strictEqual(reason._tag, "CommitOutcomeUnknown")
        assert.strictEqual(reason.message, "COMMIT was not answered within 300 ms; the transaction may or may not be committed")
      })
    ), { timeout: 40_000 })
})

describe("PgPool.withTransaction: savepoints on a silent path are bounded", () => {
  it.live("a ROLLBACK TO SAVEPOINT nobody answers ends within commitTimeout: the savepoint's error is returned", () =>
    onSilentPath((proxy, pool) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(pool.withTransaction(
          pool.withTransaction(Effect.gen(function*() {
            yield* pool.query("select 1")
            yield* proxy.blackhole
            return yield* Effect.fail("the savepoint failed" as const)
          })),
          { commitTimeout: "300 millis" }
        ).pipe(Effect.timeout("10 seconds")))
        assert.isTrue(Exit.isFailure(exit))
        const failures = Exit.isFailure(exit) ? exit.cause.reasons.filter((r) => r._tag === "Fail") : []
        assert.deepStrictEqual(
          (failures[0] as unknown as { error: unknown } | undefined)?.error,
          "the savepoint failed",
          "the savepoint's own failure comes first"
        )
      })
    ), { timeout: 40_000 })

  it.live("a SAVEPOINT nobody answers: the caller's own timeout ends it, and the transaction ends within commitTimeout", () =>
    onSilentPath((proxy, pool) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(pool.withTransaction(
          Effect.gen(function*() {
            yield* pool.query("select 1")
            yield* proxy.blackhole
            return yield* pool.withTransaction(Effect.succeed("never reached"))
          }),
          { commitTimeout: "300 millis" }
        ).pipe(Effect.timeout("200 millis"), Effect.timeout("10 seconds")))
        assert.isTrue(Exit.isFailure(exit))
        assert.include(failureMessage(exit), "200", "the inner timeout's error, not the outer one's")
      })
    ), { timeout: 40_000 })
})

describe("PgPool: the release check's ROLLBACK on a silent path", () => {
  it.live("a session returned inside a transaction whose ROLLBACK nobody answers is broken, not cancelled", () =>
    onSilentPath((proxy, pool) =>
      Effect.gen(function*() {
        yield* Effect.scoped(Effect.gen(function*() {
          const session = yield* pool.acquire
          yield* session.simple("begin")
          // From here on the path forwards nothing: the release check's ROLLBACK goes out and no answer comes back.
          yield* proxy.blackhole
        })).pipe(Effect.timeout("20 seconds"))
        // The session was retired within the release timeout by breaking it: no CancelRequest connection was opened
        // to a server that had stopped answering (which held the release for the cancel's drain on top).
        assert.strictEqual(proxy.accepted(), 1)
      })
    ), { timeout: 40_000 })
})

describe("PgPool: one session silent at ROLLBACK beside a healthy one", () => {
  it.live("the failed transaction returns its error within commitTimeout while the other session serves on", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      // Only the connection that sends ROLLBACK goes silent, from that message on.
      yield* proxy.fault({ _tag: "AtMessage", direction: "toServer", type: "Q", k: 1, how: "blackhole", matching: "ROLLBACK" })
      const pool = yield* PgPool.make({
        host: "127.0.0.1",
        port: proxy.port,
        user: "postgres",
        database: "postgres",
        sslMode: "disable",
        maxSize: 2,
        acquireTimeout: "10 seconds",
        connectTimeout: 2_000,
        livenessCheckAfter: 20_000
      })
      const failed = pool.withTransaction(
        Effect.andThen(pool.query("select 1"), Effect.fail("the body failed" as const)),
        { commitTimeout: "300 millis" }
      )
      const [exit, others] = yield* Effect.all([
        Effect.exit(failed.pipe(Effect.timeout("10 seconds"))),
        Effect.forEach([1, 2, 3], (n) => pool.withTransaction(pool.query<{ n: number }>(`select ${n} as n`)), { concurrency: 1 })
          .pipe(Effect.timeout("10 seconds"))
      ], { concurrency: "unbounded" })
      assert.deepStrictEqual(exit, Exit.fail("the body failed" as const))
      assert.deepStrictEqual(others.map((r) => r.rows[0]?.n), [1, 2, 3])
      assert.strictEqual(proxy.counters().faultsFired, 1)
      yield* proxy.fault(undefined)
      yield* servesAgain(pool)
    })), { timeout: 40_000 })
})

describe("PgPool.withTransaction: the bound is for silence, not for work", () => {
  it.live("a savepoint queued behind a concurrent statement longer than commitTimeout succeeds", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* PgPool.make({
        host: servers().main.host,
        port: servers().main.port,
        user: "postgres",
        database: "postgres",
        maxSize: 1
      })
      const [slept, nested] = yield* pool.withTransaction(
        Effect.all([
          pool.query<{ n: number }>("select 1 as n from pg_sleep(0.8)"),
          Effect.andThen(Effect.sleep("50 millis"), pool.withTransaction(pool.query<{ n: number }>("select 2 as n")))
        ], { concurrency: "unbounded" }),
        { commitTimeout: "300 millis" }
      ).pipe(Effect.timeout("10 seconds"))
      assert.deepStrictEqual([slept.rows, nested.rows], [[{ n: 1 }], [{ n: 2 }]])
    })), { timeout: 20_000 })
})
