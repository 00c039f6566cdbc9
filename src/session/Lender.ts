/**
 * What a session keeps for whoever lends it (a pool), behind a key that the
 * public module does not export: whether it is open and settled, waiting until
 * it is, and a query whose life the lender tracks.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type { PgError } from "../errors/PgError.ts"
import type { QueryTracker } from "./Requests.ts"
import type { QueryResult, Row } from "./Result.ts"

/**
 * The key of a session's `Lender` members.
 *
 * @since 0.1.0
 */
export const LenderKey: unique symbol = Symbol.for("effect-pgwire/session/Lender")

/**
 * The members a pool needs.
 *
 * @since 0.1.0
 */
export interface Lender {
  /** Waits until nothing is in flight, queued or holding the wire (a pool checks this before reuse). */
  readonly settled: Effect.Effect<void>
  /** Whether nothing is in flight, queued, or being cancelled right now (synchronous). */
  readonly isSettled: () => boolean
  /** Whether the session is open (not closed or broken), synchronously. */
  readonly isOpen: () => boolean
  /** Calls `f` once when the session closes or breaks (at once if it already has). */
  readonly onClose: (f: () => void) => void
  /** Breaks the session through its one break path: everything waiting on it fails with `error`. */
  readonly break: (error: PgError) => void
  /**
   * `query` for whoever lends the session: `tracker.start` runs when the request is created and `tracker.finish`
   * once it no longer occupies the session (answered, failed, or drained after an interruption). Rows are not
   * Schema-decoded here.
   */
  readonly queryTracked: <R = Row>(
    sql: string,
    params: ReadonlyArray<unknown> | undefined,
    options: { readonly rowMode?: "object" | "array" | undefined; readonly prepare?: boolean | undefined } | undefined,
    tracker: QueryTracker
  ) => Effect.Effect<QueryResult<R>, PgError>
}
