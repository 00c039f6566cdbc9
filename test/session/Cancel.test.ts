/**
 * PgSession: Cancellation: interruption sends CancelRequest, drains, and never reaches another request.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { ServerError } from "../../src/errors/PgError.ts"
import { awaitActive, connectPlain as connect, reasonOf } from "../support/Sessions.ts"




describe("PgSession: cancellation", () => {
  it.live("interrupting pg_sleep(30) returns within a second, the query is gone, the session works", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const monitor = yield* connect()
      const fiber = yield* Effect.forkChild(session.query("select pg_sleep(30)"))
      yield* awaitActive(monitor, session, "pg_sleep(30)")
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      const elapsed = Date.now() - started
      assert.isBelow(elapsed, 1000)
      const { rows } = yield* monitor.query(
        "select count(*)::int as c from pg_stat_activity where pid = $1 and state = 'active' and query like '%pg_sleep(30)%'",
        [session.processId]
      )
      assert.deepStrictEqual(rows, [{ c: 0 }])
      const after = yield* session.query("select 'usable' as u")
      assert.deepStrictEqual(after.rows, [{ u: "usable" }])
    }))

  it.live("Effect.timeout cancels a slow query", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const exit = yield* Effect.exit(session.query("select pg_sleep(10)").pipe(Effect.timeout(100)))
      assert.isTrue(Exit.isFailure(exit))
      const { rows } = yield* session.query("select 1 as one")
      assert.deepStrictEqual(rows, [{ one: 1 }])
    }))

  it.live("a cancel racing a query that just finished never cancels the next one", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      for (let i = 0; i < 300; i++) {
        const fiber = yield* Effect.forkChild(session.query("select 1"))
        if (i % 3 === 1) yield* Effect.yieldNow
        if (i % 3 === 2) yield* Effect.sleep(0)
        yield* Fiber.interrupt(fiber)
        const exit = yield* Effect.exit(session.query("select 2 as two"))
        assert.isTrue(Exit.isSuccess(exit), `iteration ${i}: ${Exit.isFailure(exit) ? String(exit.cause) : ""}`)
      }
    }), 60_000)

  it.live("interrupting one of many fibers waiting on one session cancels that fiber's query and no other", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const monitor = yield* connect()
      const value = (i: number) => Effect.map(session.query<{ n: number }>("select $1::int as n", [i]), (r) => r.rows[0]!.n)
      const before = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) => Effect.forkChild(value(i)))
      const sleeper = yield* Effect.forkChild(session.query("select pg_sleep(30), 'sleeper'"))
      const after = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => 100 + i), (i) => Effect.forkChild(value(i)))
      yield* awaitActive(monitor, session, "'sleeper'")
      // One queued behind the sleeper goes too: it is dropped without a cancel.
      yield* Fiber.interrupt(after[7]!)
      const started = Date.now()
      yield* Fiber.interrupt(sleeper)
      assert.isBelow(Date.now() - started, 1000)
      assert.deepStrictEqual(yield* Fiber.joinAll(before), Array.from({ length: 20 }, (_, i) => i))
      const rest = after.filter((_, i) => i !== 7)
      assert.deepStrictEqual(yield* Fiber.joinAll(rest), Array.from({ length: 20 }, (_, i) => 100 + i).filter((n) => n !== 107))
      assert.deepStrictEqual((yield* session.query("select 'usable' as u")).rows, [{ u: "usable" }])
    }))

  it.live("an interrupted fiber's finalizer can query, and interrupting a prepared statement's execution cancels it", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const monitor = yield* connect()
      let cleanup: unknown = undefined
      const fiber = yield* Effect.forkChild(
        session.query("select pg_sleep(30), 'finalized'").pipe(
          Effect.onInterrupt(() => Effect.map(session.query("select 'cleaned up' as c"), (r) => void (cleanup = r.rows)))
        )
      )
      yield* awaitActive(monitor, session, "'finalized'")
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(cleanup, [{ c: "cleaned up" }])

      const statement = yield* session.prepare("select pg_sleep($1::float8), 'prepared'")
      const execution = yield* Effect.forkChild(statement.execute([30]))
      yield* awaitActive(monitor, session, "'prepared'")
      const started = Date.now()
      yield* Fiber.interrupt(execution)
      assert.isBelow(Date.now() - started, 1000)
      assert.strictEqual((yield* statement.execute([0])).rowCount, 1)
    }))

  it.live("interrupting before anything is written sends nothing", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const fiber = yield* Effect.forkChild(session.query("select pg_sleep(5)"), { startImmediately: false })
      yield* Fiber.interrupt(fiber)
      const { rows } = yield* session.query("select 3 as three")
      assert.deepStrictEqual(rows, [{ three: 3 }])
    }))
})

describe("PgSession: cancel", () => {
  it.live("session.cancel cancels the running query (57014) and the session stays usable", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const monitor = yield* connect()
      const fiber = yield* Effect.forkChild(Effect.exit(session.query("select pg_sleep(30)")))
      for (let i = 0; i < 200; i++) {
        const { rows } = yield* monitor.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where pid = $1 and state = 'active' and query like '%pg_sleep(30)%'",
          [session.processId]
        )
        if (rows[0]!.n === 1) break
        yield* Effect.sleep(10)
      }
      yield* session.cancel
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual((reasonOf(exit) as ServerError).code, "57014")
      assert.isTrue((reasonOf(exit) as ServerError).sqlState.canceled)
      const { rows } = yield* session.query("select 1 as one")
      assert.deepStrictEqual(rows, [{ one: 1 }])
    }))
})
