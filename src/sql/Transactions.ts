/**
 * The client's `withTransaction`: `effect/sql`'s transaction runner
 * (`SqlClient.makeWithTransaction`) on pooled sessions, with PostgreSQL's
 * BEGIN options.
 *
 * **Details**
 *
 * - Nested calls are savepoints (`effect_sql_<depth>`), released on success.
 *   A nested call whose body succeeds although a statement in it failed (the
 *   body caught the error) fails with a `SqlError` (reason `UnknownError`,
 *   operation "savepoint", the `PgError` `TransactionError` as its cause) and
 *   is rolled back, so the outer transaction can go on.
 * - A body that ended the transaction itself (a COMMIT or ROLLBACK statement)
 *   fails with a `SqlError` whose cause is a `TransactionError` (operation
 *   "commit" at the top level, "savepoint" nested): never a success whose
 *   afterCommit callbacks run after a ROLLBACK, never a defect.
 * - COMMIT is checked and bounded (`Transaction.commitWithin`): a COMMIT
 *   answered with ROLLBACK fails with a `SqlError` whose cause is the
 *   `PgError` `TransactionError`; one not answered within the `commitTimeout`
 *   option (default `COMMIT_TIMEOUT_MILLIS`), or whose connection is lost
 *   first, fails with `CommitOutcomeUnknown` as the cause and the session is
 *   retired.
 * - ROLLBACK, ROLLBACK TO SAVEPOINT and RELEASE SAVEPOINT are bounded by the
 *   same `commitTimeout` (a body's savepoints keep their transaction's): a
 *   session whose ROLLBACK cannot run, or that does not answer one of them in
 *   time, is broken and retired, never reused; on a closed session, releasing
 *   or rolling back to a savepoint does nothing (the server has no
 *   transaction left).
 * - A transaction's connection refuses statements once the transaction has
 *   ended (see `SessionConnection.ts`).
 * - `withTransaction(effect, options)`: the options (`isolationLevel`,
 *   `readOnly`, `deferrable`, `commitTimeout`) apply to a top-level
 *   transaction only; a read-only one may take its session from a standby
 *   (`ReadOnlyTransaction`).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { PgError, TransactionError } from "../errors/PgError.ts"
import * as Transaction from "../pool/Transaction.ts"
import type { SessionConnection } from "./SessionConnection.ts"
import { toSqlError } from "./SqlErrors.ts"

/**
 * Whether the transaction about to begin is read-only (it may then run on a standby, with `readReplicas`).
 *
 * @since 0.1.0
 */
export const ReadOnlyTransaction = Context.Reference<boolean>("effect-pgwire/sql/PgClient/ReadOnlyTransaction", {
  defaultValue: () => false
})

/** The commit timeout of the transaction about to commit (`TransactionOptions.commitTimeout`). */
const CommitTimeout = Context.Reference<Duration.Input>("effect-pgwire/sql/PgClient/CommitTimeout", {
  defaultValue: () => Transaction.COMMIT_TIMEOUT_MILLIS
})

const savepointAborted = new PgError({
  reason: new TransactionError({
    message: "a statement in the savepoint had failed: the savepoint was rolled back, its work is undone",
    operation: "savepoint"
  })
})

const endedInBody = (operation: string) =>
  new PgError({
    reason: new TransactionError({
      message: "a COMMIT or ROLLBACK statement in the body ended the transaction: what followed it ran outside the " +
        "transaction, and nothing is left to commit",
      operation
    })
  })

/**
 * The client's `withTransaction`, on the sessions `transactionAcquirer` leases.
 *
 * @since 0.1.0
 */
export const makeWithTransaction = (
  transactionService: SqlClient.SqlClient["transactionService"],
  spanAttributes: ReadonlyArray<readonly [string, unknown]>,
  transactionAcquirer: Effect.Effect<SessionConnection, SqlError, Scope.Scope>
) => {
  const control = (conn: SessionConnection, sql: string, operation: string) =>
    Effect.mapError(Effect.asVoid(Transaction.control(conn.session, sql)), (error) => toSqlError(error, operation))
  // A savepoint exists only inside an open transaction: on a closed session, or one whose transaction a statement
  // of the body ended (status I), there is nothing to release or roll back to.
  const connected = (conn: SessionConnection, effect: Effect.Effect<void, SqlError>) =>
    Effect.flatMap(conn.session.isClosed, (closed) =>
      closed ? Effect.void : Effect.flatMap(conn.session.transactionStatus, (status) => status === "I" ? Effect.void : effect))

  // RELEASE / ROLLBACK TO SAVEPOINT, bounded like ROLLBACK; one that failed because the session broke (or was
  // broken for not answering) has nothing left to do: the outer level fails on its next statement or COMMIT.
  // (effect/sql would make any failure here a defect.)
  const ending = (conn: SessionConnection, sql: string, operation: string) =>
    connected(
      conn,
      Effect.flatMap(CommitTimeout, (timeout) =>
        Effect.catch(
          Effect.mapError(
            Transaction.endWithin(conn.session, Effect.asVoid(Transaction.control(conn.session, sql)), sql, timeout),
            (error) => toSqlError(error, operation)
          ),
          (error) => Effect.flatMap(conn.session.isClosed, (closed) => closed ? Effect.void : Effect.fail(error))
        ))
    )

  const baseWithTransaction = SqlClient.makeWithTransaction<SqlClient.TransactionConnection, SessionConnection>({
    transactionService: transactionService as unknown as Context.Key<
      SqlClient.TransactionConnection,
      readonly [conn: SessionConnection, counter: number]
    >,
    spanAttributes,
    acquireConnection: (restore) => restore(transactionAcquirer),
    begin: (conn, statement) => control(conn, statement ?? "BEGIN", "begin"),
    savepoint: (conn, id) => control(conn, `SAVEPOINT effect_sql_${id}`, "savepoint"),
    releaseSavepoint: (conn, id) => ending(conn, `RELEASE SAVEPOINT effect_sql_${id}`, "savepoint"),
    // Bounded: no answer within the commit timeout (or the connection lost first) is CommitOutcomeUnknown, and
    // the session is broken, so the pool retires it.
    commit: (conn) =>
      Effect.flatMap(CommitTimeout, (timeout) =>
        Effect.mapError(Transaction.commitWithin(conn.session, timeout), (error) => toSqlError(error, "commit"))),
    // A closed session has no transaction left on the server; one whose
    // ROLLBACK fails, or is not answered within the commit timeout, is broken
    // and retired, which ends the transaction with the connection.
    rollback: (conn) =>
      Effect.flatMap(CommitTimeout, (timeout) =>
        Effect.catch(Transaction.endWithin(conn.session, Transaction.rollback(conn.session), "ROLLBACK", timeout), () =>
          conn.pool.retire(conn.session))),
    rollbackSavepoint: (conn, id) => ending(conn, `ROLLBACK TO SAVEPOINT effect_sql_${id}`, "rollback")
  })

  // After a body succeeded, the server's transaction status says whether it really can commit:
  // - E in a savepoint: a statement failed and the body caught the error. RELEASE SAVEPOINT would fail, which
  //   effect/sql makes a defect, leaving the savepoint unrolled and the outer transaction aborted. The savepoint
  //   fails instead: it is rolled back and the outer transaction goes on. (At the top level COMMIT reports it,
  //   answered with ROLLBACK.)
  // - I at any level: a COMMIT or ROLLBACK statement in the body ended the transaction; what followed ran outside
  //   it. COMMIT would only warn and succeed (and afterCommit callbacks run after a ROLLBACK), a savepoint's
  //   RELEASE would fail as a defect: the level fails instead.
  const checkBody: Effect.Effect<void, SqlError> = Effect.flatMap(
    Effect.serviceOption(transactionService),
    (tx) => {
      if (Option.isNone(tx)) return Effect.void
      const conn = tx.value[0] as unknown as SessionConnection
      const operation = tx.value[1] === 0 ? "commit" : "savepoint"
      return Effect.flatMap(conn.session.isClosed, (closed) =>
        closed ? Effect.void : Effect.flatMap(conn.session.transactionStatus, (status) =>
          status === "I"
            ? Effect.fail(toSqlError(endedInBody(operation), operation))
            : status === "E" && operation === "savepoint"
            ? Effect.fail(toSqlError(savepointAborted, operation))
            : Effect.void))
    }
  )
  const checked = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
    Effect.tap(self, () => checkBody)

  return <R, E, A>(
    self: Effect.Effect<A, E, R>,
    txOptions?: Transaction.TransactionOptions
  ): Effect.Effect<A, E | SqlError, R> => {
    if (txOptions === undefined) return baseWithTransaction(checked(self))
    const invalid = Transaction.validateOptions(txOptions)
    if (invalid !== undefined) return Effect.fail(toSqlError(invalid, "begin"))
    const readOnly = txOptions.readOnly === true
    return Effect.flatMap(SqlClient.BeginTransaction, (outer) =>
      baseWithTransaction(
        Effect.provideService(checked(self), SqlClient.BeginTransaction, outer).pipe(
          // The body's savepoints end within the transaction's commit timeout too.
          Effect.provideService(ReadOnlyTransaction, false)
        )
      ).pipe(
        Effect.provideService(SqlClient.BeginTransaction, Transaction.beginStatement(txOptions)),
        Effect.provideService(ReadOnlyTransaction, readOnly),
        Effect.provideService(CommitTimeout, txOptions.commitTimeout ?? Transaction.COMMIT_TIMEOUT_MILLIS)
      ))
  }
}
