/**
 * Server restarts under a pool, behind the same address (the proxy sends new connections to the new server):
 *
 * - a fast shutdown (SIGINT, `pg_ctl stop -m fast`) and an immediate one (SIGQUIT, `-m immediate`) while queries
 *   and transactions are in flight, then the same data directory started again: every caller gets a result or a
 *   typed error, never a hang; the pool serves again without being rebuilt; no acknowledged commit is lost and
 *   nothing is left active or idle in a transaction;
 * - a SIGKILL (no shutdown at all: the postmaster vanishes, its backends follow) and another server started in its
 *   place: the pool's callers get typed errors and the pool serves again from the new server.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { PgError } from "../../src/errors/PgError.ts"
import * as PgPool from "../../src/pool/Pool.ts"
import { acquire } from "../support/EmbeddedPostgres.ts"
import * as FaultProxy from "../support/FaultProxy.ts"

/** "It must not hang": how long the pool may take to serve again, at most. */
const RECOVERY_BOUND_MILLIS = 15_000
/** Callers in flight when the server goes: half long queries, half transactions. */
const IN_FLIGHT = 4
const APPLICATION = "restart_test"

/** A caller's outcome: a result, or the tag of a typed error (anything else fails the test). */
const outcome = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "result"
  const reasons = exit.cause.reasons
  const failed = reasons.find((r) => r._tag === "Fail")
  const error = failed !== undefined ? (failed as unknown as { error: unknown }).error : undefined
  assert.instanceOf(error, PgError, `not a typed error: ${String(exit.cause).slice(0, 300)}`)
  return (error as PgError).reason._tag
}

const countBy = (items: ReadonlyArray<string>) => {
  const counts: Record<string, number> = {}
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1
  return counts
}

/** Waits (bounded) until the postmaster process is gone. */
const exited = (pid: number) =>
  Effect.gen(function*() {
    const started = Date.now()
    const alive = () => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    }
    while (alive()) {
      if (Date.now() - started > RECOVERY_BOUND_MILLIS) return yield* Effect.die(new Error(`postmaster ${pid} still running`))
      yield* Effect.sleep(10)
    }
    return Date.now() - started
  })

/**
 * A shutdown by `signal` (SIGINT: fast, SIGQUIT: immediate; postgres-ref "Shutting Down the Server") while a pool has
 * queries and transactions in flight, then the same data directory started again behind the same address.
 */
const shutdownAndRestart = (signal: "SIGINT" | "SIGQUIT", label: string) =>
  Effect.scoped(Effect.gen(function*() {
    // Commits wait for their WAL write, so an acknowledged commit must survive even the immediate shutdown.
    const first = yield* acquire({ name: `restart-${label}-a`, settings: { synchronous_commit: true } })
    const proxy = yield* FaultProxy.make(first.port)
    const pool = yield* PgPool.make({
      host: "127.0.0.1",
      port: proxy.port,
      user: "postgres",
      database: "postgres",
      sslMode: "disable",
      applicationName: APPLICATION,
      maxSize: IN_FLIGHT,
      connectTimeout: 2_000,
      acquireTimeout: 3_000
    })
    yield* pool.query("create table transfers (id int4 primary key)")
    // Callers in flight when the server goes: long queries, and transactions that insert, sleep and commit.
    const acknowledged: Array<number> = []
    let nextId = 0
    const writer = Effect.gen(function*() {
      while (true) {
        const id = ++nextId
        yield* pool.withTransaction(Effect.gen(function*() {
          yield* pool.query("insert into transfers values ($1)", [id])
          yield* pool.query("select pg_sleep(0.02)")
        }))
        acknowledged.push(id)
      }
    })
    const callers = [
      ...Array.from({ length: IN_FLIGHT / 2 }, () => pool.query("select pg_sleep(5)")),
      ...Array.from({ length: IN_FLIGHT / 2 }, () => writer)
    ].map((call) => Effect.exit(call).pipe(Effect.timeoutOption(RECOVERY_BOUND_MILLIS)))
    const fibers = yield* Effect.forEach(callers, (call) => Effect.forkChild(call))
    // Shut down once every caller holds a session and the writers have committed.
    const armed = Date.now()
    while (acknowledged.length < IN_FLIGHT && Date.now() - armed < RECOVERY_BOUND_MILLIS) yield* Effect.sleep(10)
    assert.isAtLeast(acknowledged.length, IN_FLIGHT, "the writers never committed")
    const signalled = Date.now()
    process.kill(first.pid, signal)
    const stopMillis = yield* exited(first.pid)
    // Every caller in flight is answered (a typed error; a result only for what finished before), none hangs.
    const outcomes: Array<string> = []
    for (const fiber of fibers) {
      const joined = yield* Fiber.join(fiber)
      assert.isTrue(Option.isSome(joined), `a caller still waited ${RECOVERY_BOUND_MILLIS} ms after the ${signal}`)
      if (Option.isSome(joined)) outcomes.push(outcome(joined.value))
    }
    const answeredMillis = Date.now() - signalled
    // The same data directory again (after an immediate shutdown the new server runs crash recovery first).
    const second = yield* acquire({ name: `restart-${label}-b`, dataFrom: first.dataDir })
    yield* proxy.retarget(second.port)
    const restarted = Date.now()
    const errors: Array<string> = []
    let served = false
    while (!served && Date.now() - restarted < RECOVERY_BOUND_MILLIS) {
      const exit = yield* Effect.exit(pool.query("select count(*)::int4 as n from transfers").pipe(Effect.timeout(5_000)))
      if (exit._tag === "Success") served = true
      else {
        errors.push(outcome(exit))
        yield* Effect.sleep(20)
      }
    }
    const recoveryMillis = Date.now() - restarted
    assert.isTrue(served, `the pool did not serve again within ${RECOVERY_BOUND_MILLIS} ms: ${errors.join("; ")}`)
    // No acknowledged commit is lost; the pool's sessions on the new server are all idle.
    const { rows } = yield* pool.query<{ id: number }>("select id from transfers")
    const stored = new Set(rows.map((r) => r.id))
    const lost = acknowledged.filter((id) => !stored.has(id))
    assert.deepStrictEqual(lost, [], "acknowledged commits lost")
    const busy = yield* pool.query<{ state: string }>(
      "select state from pg_stat_activity where application_name = $1 and state <> 'idle' and pid <> pg_backend_pid()",
      [APPLICATION]
    )
    assert.deepStrictEqual(busy.rows, [])
    console.log(
      `${label} shutdown (${signal}): postmaster gone after ${stopMillis} ms, all ${IN_FLIGHT} callers answered ` +
        `${answeredMillis} ms after the signal ${JSON.stringify(countBy(outcomes))}; restarted server served again ` +
        `${recoveryMillis} ms after it was up (${errors.length} failed calls first ${JSON.stringify(countBy(errors))}); ` +
        `${acknowledged.length} acknowledged commits, none lost (${stored.size} rows stored)`
    )
  }))

// Each test restarts servers of its own behind a proxy of its own: they run side by side.
describe.concurrent("a server restart", () => {
  it.live("a fast shutdown (SIGINT) with queries in flight, then a restart: every caller answered, the pool serves again", () =>
    shutdownAndRestart("SIGINT", "fast"), { timeout: 90_000 })

  it.live("an immediate shutdown (SIGQUIT) with queries in flight, then a restart: every caller answered, the pool serves again", () =>
    shutdownAndRestart("SIGQUIT", "immediate"), { timeout: 90_000 })

  it.live("after SIGKILL and a new server on the same address, the pool serves again", () =>
    Effect.scoped(Effect.gen(function*() {
      const first = yield* acquire({ name: "restartA" })
      const proxy = yield* FaultProxy.make(first.port)
      const pool = yield* PgPool.make({
        host: "127.0.0.1",
        port: proxy.port,
        user: "postgres",
        database: "postgres",
        sslMode: "disable",
        maxSize: 2,
        connectTimeout: 2_000,
        acquireTimeout: 3_000
      })
      assert.deepStrictEqual((yield* pool.query("select 1 as ok")).rows, [{ ok: 1 }])
      process.kill(first.pid, "SIGKILL")
      const second = yield* acquire({ name: "restartB" })
      yield* proxy.retarget(second.port)
      const started = Date.now()
      const errors: Array<string> = []
      let served = false
      while (!served && Date.now() - started < RECOVERY_BOUND_MILLIS) {
        const exit = yield* Effect.exit(pool.query("select 2 as ok").pipe(Effect.timeout(5_000)))
        if (exit._tag === "Success") served = true
        else {
          errors.push(String(exit.cause).slice(0, 120))
          yield* Effect.sleep(50)
        }
      }
      console.log(`SIGKILL restart: served again after ${Date.now() - started} ms, ${errors.length} failed calls first`)
      assert.isTrue(served, `the pool did not serve again within ${RECOVERY_BOUND_MILLIS} ms: ${errors.join("; ")}`)
      // No caller waited on its own timeout: every failure was a typed error from the pool.
      for (const e of errors) assert.notInclude(e, "TimeoutException")
    })), { timeout: 90_000 })
})
