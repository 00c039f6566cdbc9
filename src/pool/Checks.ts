/**
 * The checks a pool makes on a session around a lease: whether it is past its
 * lifetime, a health check before reusing an idle one, and, at release,
 * whether it settles (and rolls back) within the release timeout.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { ConnectionError, PgError, TimeoutError } from "../errors/PgError.ts"
import { LenderKey } from "../session/Lender.ts"
import type { Session } from "../session/Session.ts"
import { type Entry, HEALTH_CHECK_TIMEOUT_MILLIS, RELEASE_TIMEOUT_MILLIS } from "./Settings.ts"

/**
 * Whether `entry` is past its lifetime for a checkout. A session is handed
 * out at least once (as in `@effect/sql-pg`), so a lifetime shorter than the
 * way from connect to checkout means "use once" instead of opening session
 * after session until the checkout times out. (The sweeper retires idle
 * sessions past their lifetime whether used or not.)
 */
export const expiredAt = (entry: Entry, now: number): boolean => entry.uses > 0 && now >= entry.retireAt

/**
 * A round trip (an empty simple query), within `HEALTH_CHECK_TIMEOUT_MILLIS`. No answer in time breaks the session
 * (it is retired) rather than interrupting the query: on a silent connection an interruption would run the cancel
 * sequence (a CancelRequest to a server that no longer answers, then the drain) and hold the checkout that much
 * longer.
 */
export const healthCheck = (session: Session): Effect.Effect<void, PgError> =>
  Effect.raceFirst(
    Effect.asVoid(session.simple("")),
    Effect.sleep(HEALTH_CHECK_TIMEOUT_MILLIS).pipe(
      Effect.andThen(Effect.suspend(() => {
        const error = new PgError({
          reason: new TimeoutError({
            message: `the health check did not answer within ${HEALTH_CHECK_TIMEOUT_MILLIS} ms`,
            operation: "health check",
            timeoutMillis: HEALTH_CHECK_TIMEOUT_MILLIS
          })
        })
        session[LenderKey].break(error)
        return Effect.fail(error)
      }))
    )
  )

/**
 * Whether the session settles within the release timeout. The common case
 * (already settled) answers at once, without the timer and the race of
 * `Effect.timeoutOrElse` on every release.
 */
export const settledWithin = (session: Session): Effect.Effect<boolean> =>
  Effect.suspend(() =>
    session[LenderKey].isSettled()
      ? Effect.succeed(true)
      : Effect.map(Effect.timeoutOption(session[LenderKey].settled, RELEASE_TIMEOUT_MILLIS), Option.isSome)
  )


/** The failure of a checkout from a pool that is closing. */
export const closedError = () =>
  new PgError({
    reason: new ConnectionError({ message: "the pool is closed: no new sessions are handed out", requestSent: false })
  })
