/**
 * The client's `withTransaction`: `effect/sql`'s transaction runner
 * (`SqlClient.makeWithTransaction`) on pooled sessions, with PostgreSQL's
 * BEGIN options.
 *
 * **Details**
 *
 * - Nested calls are savepoints (`effect_sql_<depth>`), released on success.
 * - COMMIT is checked (`Transaction.commit`): a COMMIT answered with ROLLBACK
 *   fails with a `SqlError` whose cause is the `PgError` `TransactionError`.
 * - A session whose ROLLBACK cannot run is retired, never reused; on a
 *   closed session, releasing or rolling back to a savepoint does nothing
 *   (the server has no transaction left).
 * - `withTransaction(effect, options)`: the options (`isolationLevel`,
 *   `readOnly`, `deferrable`) apply to a top-level transaction only; a
 *   read-only one may take its session from a standby (`ReadOnlyTransaction`).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
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
  const connected = (conn: SessionConnection, effect: Effect.Effect<void, SqlError>) =>
    Effect.flatMap(conn.session.isClosed, (closed) => (closed ? Effect.void : effect))

  const baseWithTransaction = SqlClient.makeWithTransaction<SqlClient.TransactionConnection, SessionConnection>({
    transactionService: transactionService as unknown as Context.Key<
      SqlClient.TransactionConnection,
      readonly [conn: SessionConnection, counter: number]
    >,
    spanAttributes,
    acquireConnection: (restore) => restore(transactionAcquirer),
    begin: (conn, statement) => control(conn, statement ?? "BEGIN", "begin"),
    savepoint: (conn, id) => control(conn, `SAVEPOINT effect_sql_${id}`, "savepoint"),
    releaseSavepoint: (conn, id) => connected(conn, control(conn, `RELEASE SAVEPOINT effect_sql_${id}`, "savepoint")),
    commit: (conn) => Effect.mapError(Transaction.commit(conn.session), (error) => toSqlError(error, "commit")),
    // A closed session has no transaction left on the server; one whose
    // ROLLBACK fails is retired, which ends the transaction with the connection.
    rollback: (conn) => Effect.catch(Transaction.rollback(conn.session), () => conn.pool.retire(conn.session)),
    rollbackSavepoint: (conn, id) =>
      connected(conn, control(conn, `ROLLBACK TO SAVEPOINT effect_sql_${id}`, "rollback"))
  })

  return <R, E, A>(
    self: Effect.Effect<A, E, R>,
    txOptions?: Transaction.TransactionOptions
  ): Effect.Effect<A, E | SqlError, R> => {
    if (txOptions === undefined) return baseWithTransaction(self)
    const invalid = Transaction.validateOptions(txOptions)
    if (invalid !== undefined) return Effect.fail(toSqlError(invalid, "begin"))
    const readOnly = txOptions.readOnly === true
    return Effect.flatMap(SqlClient.BeginTransaction, (outer) =>
      baseWithTransaction(
        Effect.provideService(self, SqlClient.BeginTransaction, outer).pipe(
          Effect.provideService(ReadOnlyTransaction, false)
        )
      ).pipe(
        Effect.provideService(SqlClient.BeginTransaction, Transaction.beginStatement(txOptions)),
        Effect.provideService(ReadOnlyTransaction, readOnly)
      ))
  }
}
