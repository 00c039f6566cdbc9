/**
 * A statement being prepared when the link goes silent: the caller's own timeout releases it, and the session does
 * not stay open with a Parse nobody will ever answer. The work the caller waited on (the session's own Parse and
 * Describe) gets the cancellation sequence's drain limit to be answered; then the session breaks, so later callers
 * fail fast and a pool replaces it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { DRAIN_TIMEOUT_MILLIS } from "../../src/session/Interruption.ts"
import * as FaultProxy from "../support/FaultProxy.ts"
import { servers } from "../support/Servers.ts"
import { connectPlain, reasonOf } from "../support/Sessions.ts"

/** How long the test waits for the session to break, at most: the drain limit plus a generous margin. */
const BREAK_BOUND_MILLIS = DRAIN_TIMEOUT_MILLIS + 10_000
/** A caller after the break must be answered at once; this bounds "at once" generously. */
const FAIL_FAST_BOUND_MILLIS = 2_000

// Each test has its own proxy and session and mostly waits out the drain limit: they run side by side.
describe.concurrent("PgSession: a statement being prepared on a silent link", () => {
  it.live("the caller times out, the session breaks after the drain limit, the next caller fails fast", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      const session = yield* connectPlain({ port: proxy.port })
      assert.deepStrictEqual((yield* session.query("select 1 as warm")).rows, [{ warm: 1 }])
      yield* proxy.blackhole
      const started = Date.now()
      // A statement the cache does not know: Parse and Describe go out first, and nothing comes back.
      const first = yield* Effect.exit(session.query("select 2 as never_prepared").pipe(Effect.timeout(200)))
      const released = Date.now() - started
      assert.strictEqual(first._tag, "Failure")
      assert.isBelow(released, FAIL_FAST_BOUND_MILLIS, "the caller's timeout released it")
      let broken = false
      while (!broken && Date.now() - started < BREAK_BOUND_MILLIS) {
        yield* Effect.sleep(100)
        broken = yield* session.isClosed
      }
      const brokeAfter = Date.now() - started
      console.log(`caller released after ${released} ms; session broken after ${brokeAfter} ms (drain limit ${DRAIN_TIMEOUT_MILLIS} ms)`)
      assert.isTrue(broken, `the session was still open after ${BREAK_BOUND_MILLIS} ms`)
      const next = yield* Effect.exit(session.query("select 3 as after_break").pipe(Effect.timeout(FAIL_FAST_BOUND_MILLIS)))
      // The break's reason (a caller that waited instead would fail with Effect's own timeout, not a PgError).
      const reason = reasonOf(next)
      assert.include(reason.message, "did not return to ReadyForQuery")
      console.log(`next caller: ${reason._tag}: ${reason.message}`)
    })), { timeout: 30_000 })

  it.live("a COPY FROM interrupted on a silent link: CopyFail goes unanswered, the session breaks after the drain limit", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      // The liveness check off: the drain limit alone must end it.
      const session = yield* connectPlain({ port: proxy.port, livenessCheckAfter: 0 })
      yield* session.simple("create temp table silent_copy (n int4)")
      const rows = Stream.fromIterable([new TextEncoder().encode("1\n2\n")]).pipe(
        Stream.concat(Stream.fromEffect(Effect.andThen(proxy.blackhole, Effect.never)))
      )
      const started = Date.now()
      const exit = yield* Effect.exit(Stream.run(rows, session.copyFrom("copy silent_copy from stdin")).pipe(Effect.timeout(300)))
      assert.strictEqual(exit._tag, "Failure")
      let broken = yield* session.isClosed
      while (!broken && Date.now() - started < BREAK_BOUND_MILLIS) {
        yield* Effect.sleep(100)
        broken = yield* session.isClosed
      }
      console.log(`COPY FROM on a silent link: caller and session done after ${Date.now() - started} ms`)
      assert.isTrue(broken, `the session was still open after ${BREAK_BOUND_MILLIS} ms`)
    })), { timeout: 30_000 })
})
