/**
 * When a client takes an upstream, and when it gives it back: the
 * transaction-mode lending rule.
 *
 * **Details**
 *
 * - A client takes an upstream with its first message that the server must
 *   answer: a Query, Bind, Execute, Describe, FunctionCall, an unnamed Parse,
 *   and the Close of a portal or of the unnamed statement. A named Parse is
 *   kept by the proxy and answered at once when no upstream is free (it is
 *   replayed where the statement is first used); the Close of a named
 *   statement and Sync or Flush with nothing outstanding need no upstream.
 * - Transaction mode gives the upstream back at ReadyForQuery 'I' once nothing
 *   is owed (no Sync, Query or COPY outstanding, the server not skipping to a
 *   Sync the client has not sent), no cancel is in flight (a late cancel would
 *   hit the next client's statement), and the client is not pinned by session
 *   state. Session mode keeps it until the client leaves.
 * - A client that leaves returns a clean upstream (the same conditions,
 *   whatever the mode); any other is closed. Extended-protocol messages
 *   without their Sync leave the server in the implicit transaction they
 *   opened (ReadyForQuery 'I' came before them, and Flush answers them all):
 *   such an upstream is not clean, or the next client's statements would run
 *   inside that transaction and see what it wrote.
 *
 * Pure.
 *
 * @since 0.1.0
 */
import { Frontend as In } from "../wire/Codes.ts"

/**
 * Whether a client message needs an upstream the client does not hold;
 * `canLendNow`: whether the pool would lend one at once.
 *
 * @since 0.1.0
 */
export const needsUpstream = (type: number, body: Uint8Array, canLendNow: boolean): boolean => {
  switch (type) {
    case In.Parse:
      // A client that prepares synchronously while its other connections hold every upstream in a transaction
      // would otherwise wait for itself (pgbench -M prepared).
      return body[0] === 0 || canLendNow
    case In.Query:
    case In.Bind:
    case In.Execute:
    case In.FunctionCall:
    case In.Describe:
      return true
    case In.Close:
      return !(body[0] === 0x53 && body[1] !== 0)
    default:
      return false
  }
}

/**
 * What decides whether a lent upstream is clean.
 *
 * @since 0.1.0
 */
export interface LoanState {
  /** Nothing is owed by the upstream. */
  readonly settled: boolean
  /** The transaction status of the last ReadyForQuery. */
  readonly status: "I" | "T" | "E"
  readonly copyIn: boolean
  /**
   * Extended-protocol messages went upstream since the last Sync: the server keeps the implicit transaction they
   * opened until that Sync (protocol-3.2 "Extended Query").
   */
  readonly unsynced: boolean
  /** The server skips to a Sync the client has not sent. */
  readonly upstreamSkipping: boolean
  /** Cancel requests in flight. */
  readonly cancels: number
  /** Why the client keeps its upstream, if it must. */
  readonly pinned: string | undefined
}

/**
 * Whether the upstream holds nothing of the client's: it may serve another.
 *
 * @since 0.1.0
 */
export const isClean = (loan: LoanState): boolean =>
  loan.settled && loan.status === "I" && !loan.copyIn && !loan.unsynced && !loan.upstreamSkipping &&
  loan.cancels === 0 && loan.pinned === undefined

/**
 * Whether the upstream goes back to the pool now (after a ReadyForQuery, or
 * when the last cancel completed).
 *
 * @since 0.1.0
 */
export const mayReturn = (mode: "session" | "transaction", loan: LoanState): boolean =>
  mode === "transaction" && isClean(loan)
