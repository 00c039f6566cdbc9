/**
 * What the engine does with a request once the server has answered it (or the
 * connection failed it): one pure decision for every request kind, carried out
 * by the engine in one place (`Engine.settleQuery`, `Engine.settleResultSets`).
 *
 * **Details**
 *
 * - A request whose caller went away is dropped: its replies were read and
 *   discarded, nobody is answered.
 * - A statement prepared before a schema change (`isStaleStatementError`) is
 *   evicted from the cache; outside a transaction block, and when nothing that
 *   ran could have ended a transaction, the request runs once more on a freshly
 *   prepared statement (asyncpg's and postgres.js's retry). Inside a
 *   transaction block the transaction is already aborted: the caller gets the
 *   error.
 * - A request pipelined behind a cancelled one may have been hit by that
 *   cancel (it reached the backend after its target had finished): if it
 *   failed with 57014 outside a transaction block, it was rolled back, and it
 *   runs once more.
 * - Rows kept as bytes (their types were unknown when they came) are decoded
 *   once the types are looked up; then the caller is answered.
 * - A request runs again at most once.
 *
 * @since 0.1.0
 */
import type { ServerError } from "../errors/PgError.ts"
import type * as Backend from "../protocol/Backend.ts"
import { isStaleStatementError } from "./Statement.ts"

/**
 * The engine's next step for a finished request.
 *
 * @since 0.1.0
 */
export type Decision =
  /** The caller went away: nothing to answer. */
  | "drop"
  /** Rows were kept as bytes: look their types up, decode them, then answer. */
  | "lookUpTypes"
  /** A stale statement outside a transaction block: evict it, prepare afresh and run once more. */
  | "reprepare"
  /** A stale statement where running again is not safe: evict it and answer with the error. */
  | "evict"
  /** Hit by a cancel meant for an earlier request, outside a transaction block: run once more. */
  | "rerun"
  /** Answer the caller with what the request received. */
  | "answer"

/**
 * What the decision looks at.
 *
 * @since 0.1.0
 */
export interface Finished {
  readonly discard: boolean
  readonly hasRawRows: boolean
  readonly serverError: ServerError | undefined
  /** Times the request already ran again. */
  readonly retries: number
  /** The failing statement was a named (cached) one: preparing it afresh may help. */
  readonly failedOnNamedStatement: boolean
  /** A cancel sent for an earlier request may have reached this one. */
  readonly atRiskOfStrayCancel: boolean
  /** A statement that ends a transaction (COMMIT, ROLLBACK, ...) completed: running again is never safe. */
  readonly endedTransaction: boolean
}

/**
 * The decision for a request answered with `status` (ReadyForQuery's transaction status), or failed by the
 * connection (`undefined`).
 *
 * @since 0.1.0
 */
export const decide = (request: Finished, status: Backend.TransactionStatus | undefined): Decision => {
  if (request.discard) return "drop"
  if (status === undefined) return "answer"
  const error = request.serverError
  if (error !== undefined && request.retries === 0) {
    if (request.failedOnNamedStatement && isStaleStatementError(error)) {
      return status === "I" && !request.endedTransaction ? "reprepare" : "evict"
    }
    if (error.code === "57014" && request.atRiskOfStrayCancel && status === "I") return "rerun"
  }
  return request.hasRawRows && error === undefined ? "lookUpTypes" : "answer"
}

/**
 * Command tags of statements whose completion ends a transaction: a batch that ran one is never run again.
 *
 * @since 0.1.0
 */
export const ENDS_TRANSACTION: ReadonlySet<string> = new Set([
  "COMMIT",
  "ROLLBACK",
  "PREPARE TRANSACTION",
  "COMMIT PREPARED",
  "ROLLBACK PREPARED"
])
