/**
 * The session-wide `queryTimeout` around one request, shared by the 3.x and
 * 2.0 sessions: its interruption cancels the request as a caller's would.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { PgError, TimeoutError } from "../errors/PgError.ts"

/**
 * Bounds `effect` by `millis` (0 or less: unbounded), failing with a `TimeoutError` of operation "query".
 *
 * @since 0.1.0
 */
export const bounded = (millis: number) => <A>(effect: Effect.Effect<A, PgError>): Effect.Effect<A, PgError> =>
  millis > 0
    ? Effect.timeoutOrElse(effect, {
      duration: millis,
      orElse: () =>
        Effect.fail(
          new PgError({
            reason: new TimeoutError({
              message: `the query did not complete within the session's queryTimeout of ${millis} ms`,
              operation: "query",
              timeoutMillis: millis
            })
          })
        )
    })
    : effect
