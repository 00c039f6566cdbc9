/**
 * The `effect/sql` connection of one session lease: how each of
 * `SqlConnection`'s operations (`execute`, `executeRaw`, `executeStream`,
 * `executeValues` and their unprepared forms) runs on a session, and the
 * `SqlError` its failure becomes.
 *
 * **Details**
 *
 * A shared lease (one-statement work, pipelined with other callers when the
 * pool multiplexes) takes its session for itself before a stream runs on it.
 * `.unprepared` and `.valuesUnprepared` never create a named prepared
 * statement (see `PgClient.ts`).
 *
 * An exclusive lease (a transaction's connection, `reserve`) ends when its
 * Scope closes (`release`). A fiber forked inside a transaction may outlive
 * it and still hold the connection in its context; from then on every
 * operation fails with a `ConnectionError` (nothing is sent), since the
 * session may already serve another caller, whose transaction the statement
 * would otherwise join.
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import type { Connection } from "effect/sql/SqlConnection"
import type { SqlError } from "effect/sql/SqlError"
import * as Stream from "effect/Stream"
import { ConnectionError, PgError } from "../errors/PgError.ts"
import type * as PgPool from "../pool/Pool.ts"
import type { QueryOptions, QueryResult, Row, Session } from "../session/Session.ts"
import { toSqlError } from "./SqlErrors.ts"

// `.unprepared` / `.valuesUnprepared` with parameters: the unnamed statement
// (Parse/Bind/Execute/Sync in one write), never a named one in the statement
// cache, so nothing outlives the statement on the server (what transaction
// poolers such as PgBouncer rely on).
const UNNAMED: QueryOptions = { prepare: false }
const ARRAY_ROWS: QueryOptions = { rowMode: "array" }
const UNNAMED_ARRAY_ROWS: QueryOptions = { rowMode: "array", prepare: false }

const releasedError = new PgError({
  reason: new ConnectionError({
    message: "the connection's lease has ended (its transaction or reserve scope is over): nothing was sent",
    requestSent: false
  })
})

const refuse = (operation: string): Effect.Effect<never, SqlError> => Effect.fail(toSqlError(releasedError, operation))

/**
 * The `effect/sql` connection of one session lease.
 *
 * @since 0.1.0
 */
export class SessionConnection implements Connection {
  readonly session: Session
  readonly pool: PgPool.Pool
  /** A shared lease: streams take the session for themselves first. */
  readonly shared: boolean

  /** Whether the lease has ended (see the module header). */
  private released = false

  constructor(session: Session, pool: PgPool.Pool, shared: boolean) {
    this.session = session
    this.pool = pool
    this.shared = shared
  }

  /** Ends the lease: from now on every operation fails and nothing reaches the session. */
  release(): void {
    this.released = true
  }

  /** The session while the lease lasts; afterwards the failure every operation gets. */
  get leased(): Effect.Effect<Session, PgError> {
    return this.released ? Effect.fail(releasedError) : Effect.succeed(this.session)
  }

  private rows(sql: string, params: ReadonlyArray<unknown>, operation: string, options?: QueryOptions) {
    return Effect.mapError(
      Effect.map(this.session.query(sql, params, options), (result) => result.rows),
      (error) => toSqlError(error, operation)
    )
  }

  execute(
    sql: string,
    params: ReadonlyArray<unknown>,
    transformRows: (<A extends object>(row: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined
  ): Effect.Effect<ReadonlyArray<any>, SqlError> {
    if (this.released) return refuse("execute")
    const rows = this.rows(sql, params, "execute")
    return transformRows === undefined ? rows : Effect.map(rows, transformRows)
  }

  executeRaw(sql: string, params: ReadonlyArray<unknown>): Effect.Effect<QueryResult, SqlError> {
    if (this.released) return refuse("executeRaw")
    return Effect.mapError(this.session.query(sql, params), (error) => toSqlError(error, "executeRaw"))
  }

  executeStream(
    sql: string,
    params: ReadonlyArray<unknown>,
    transformRows: (<A extends object>(row: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined
  ): Stream.Stream<any, SqlError> {
    if (this.released) return Stream.fromEffect(refuse("executeStream"))
    const rows = this.shared
      ? Stream.unwrap(Effect.as(this.pool.reserve(this.session), this.session.stream(sql, params)))
      : this.session.stream(sql, params)
    const mapped = Stream.mapError(rows, (error) => toSqlError(error, "executeStream"))
    return transformRows === undefined
      ? mapped
      : Stream.mapArray(mapped, (chunk) => transformRows(chunk) as Arr.NonEmptyReadonlyArray<Row>)
  }

  executeValues(sql: string, params: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, SqlError> {
    if (this.released) return refuse("executeValues")
    return this.values(sql, params, ARRAY_ROWS, "executeValues")
  }

  private values(sql: string, params: ReadonlyArray<unknown>, options: QueryOptions, operation: string) {
    return Effect.mapError(
      Effect.map(this.session.query<ReadonlyArray<unknown>>(sql, params, options), (r) => r.rows),
      (error) => toSqlError(error, operation)
    )
  }

  executeValuesUnprepared(
    sql: string,
    params: ReadonlyArray<unknown>
  ): Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, SqlError> {
    if (this.released) return refuse("executeValuesUnprepared")
    if (params.length > 0) return this.values(sql, params, UNNAMED_ARRAY_ROWS, "executeValuesUnprepared")
    return Effect.mapError(
      Effect.map(
        this.session.simple(sql, ARRAY_ROWS),
        (results) => (results[results.length - 1]?.rows ?? []) as unknown as ReadonlyArray<ReadonlyArray<unknown>>
      ),
      (error) => toSqlError(error, "executeValuesUnprepared")
    )
  }

  executeUnprepared(
    sql: string,
    params: ReadonlyArray<unknown>,
    transformRows: (<A extends object>(row: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined
  ): Effect.Effect<ReadonlyArray<any>, SqlError> {
    if (this.released) return refuse("executeUnprepared")
    const rows = params.length > 0
      ? this.rows(sql, params, "executeUnprepared", UNNAMED)
      : Effect.mapError(
        Effect.map(this.session.simple(sql), (results) => results[results.length - 1]?.rows ?? []),
        (error) => toSqlError(error, "executeUnprepared")
      )
    return transformRows === undefined ? rows : Effect.map(rows, transformRows)
  }
}
