/**
 * Transaction status on a protocol 2.0 session, whose ReadyForQuery carries
 * none (protocol-2.0 "ReadyForQuery"; PROTOCOL-2.0 §1.7, M5, M21).
 *
 * **Details**
 *
 * - Statements the library itself sends (a whole Query that is one BEGIN,
 *   COMMIT, ROLLBACK, SAVEPOINT, RELEASE or ROLLBACK TO) move a known status
 *   exactly, by whether they succeeded, never by their command tag (COMMIT AND
 *   CHAIN is tagged COMMIT, ROLLBACK TO is tagged ROLLBACK).
 * - EXECUTE of a prepared statement, FETCH, COPY, a function call and the
 *   status probe cannot start or end a transaction block: on success the
 *   status stays, on an error a block becomes failed (I stays I: the implicit
 *   transaction of the string was rolled back).
 * - Any other SQL makes the status unknown; `PROBE_SQL` resolves it:
 *   `t` = I, `f` = T, an error = E (M21).
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */

/**
 * A status, or "unknown" after SQL the session cannot judge.
 *
 * @since 0.1.0
 */
export type Status = "I" | "T" | "E" | "unknown"

/**
 * What a request does to the transaction status.
 *
 * @since 0.1.0
 */
export type Effect =
  | "begin"
  | "end"
  | "inBlock"
  | "keep"
  | "probe"
  | "unknown"

/**
 * The query that tells the status when it is unknown (PROTOCOL-2.0 M21).
 *
 * @since 0.1.0
 */
export const PROBE_SQL = "SELECT statement_timestamp() = transaction_timestamp()"

const BEGIN = /^\s*(begin|start\s+transaction)\b[^;]*;?\s*$/i
const END = /^\s*(commit|end|rollback|abort)(\s+(work|transaction))?\s*;?\s*$/i
const IN_BLOCK = /^\s*(savepoint\s+\S+|release(\s+savepoint)?\s+\S+|rollback(\s+(work|transaction))?\s+to(\s+savepoint)?\s+\S+)\s*;?\s*$/i

/**
 * What a whole simple Query does to the status, judged from its text.
 *
 * @since 0.1.0
 */
export const classify = (sql: string): Effect => {
  if (sql.length > 200) return "unknown"
  if (BEGIN.test(sql)) return "begin"
  if (END.test(sql)) return "end"
  if (IN_BLOCK.test(sql)) return "inBlock"
  return "unknown"
}

/**
 * The status after a request: `before`, what it does, whether it failed.
 *
 * @since 0.1.0
 */
export const after = (before: Status, effect: Effect, failed: boolean): Status => {
  switch (effect) {
    case "unknown":
      return "unknown"
    case "probe":
      return before
    case "begin":
      // BEGIN inside a block only warns; a failed BEGIN in a failed block stays failed.
      if (failed) return before === "T" ? "E" : before
      return before === "E" ? "E" : "T"
    case "end":
      // COMMIT or ROLLBACK ends the block, even a failed one (COMMIT is then answered ROLLBACK). A COMMIT that
      // fails (a deferred constraint, a serialization failure) has ended it too, rolled back: ask the server.
      return failed ? "unknown" : "I"
    case "inBlock":
      // SAVEPOINT, RELEASE and ROLLBACK TO succeed only inside a block, and leave it usable.
      if (failed) return before === "T" ? "E" : before
      return "T"
    case "keep":
      if (!failed) return before
      return before === "T" ? "E" : before
  }
}
