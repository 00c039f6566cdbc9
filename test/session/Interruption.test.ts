/**
 * The cancellation sequence's waits run on the clock in use: under a test clock
 * the grace period and the drain timeout pass when the clock is moved, not in
 * real time.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import type { Connection, Request } from "../../src/session/Connection.ts"
import { CANCEL_GRACE, DRAIN_TIMEOUT, Interruption } from "../../src/session/Interruption.ts"

/** What `awaitDone` reads of a request: whether it is done, and the hook called when it settles. */
const pending = () => ({ done: false, onSettled: undefined as (() => void) | undefined })

// awaitDone touches neither the connection nor the side connection.
const interruption = new Interruption(undefined as unknown as Connection, Effect.never)

describe("Interruption: waits on the clock in use", () => {
  it.effect("the drain timeout passes when the test clock reaches it, and not before", () =>
    Effect.gen(function*() {
      const request = pending()
      const waiting = yield* Effect.forkChild(interruption.awaitDone(request as unknown as Request, DRAIN_TIMEOUT))
      yield* TestClock.adjust(Duration.subtract(DRAIN_TIMEOUT, Duration.millis(1)))
      request.done = true
      request.onSettled?.()
      assert.isTrue(yield* Fiber.join(waiting), "settled before the timeout")
      const late = pending()
      const timedOut = yield* Effect.forkChild(interruption.awaitDone(late as unknown as Request, DRAIN_TIMEOUT))
      yield* TestClock.adjust(CANCEL_GRACE)
      yield* Effect.yieldNow
      assert.isUndefined(timedOut.pollUnsafe(), "still waiting after the grace period")
      yield* TestClock.adjust(DRAIN_TIMEOUT)
      yield* Effect.yieldNow
      // Over at once on the test clock: a wait on a real timer would still be running here.
      const exit = timedOut.pollUnsafe()
      assert.deepStrictEqual(exit?._tag === "Success" ? exit.value : "still waiting", false)
    }))
})
