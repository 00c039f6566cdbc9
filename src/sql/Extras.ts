/**
 * The client's PostgreSQL extras, beyond what `effect/sql` asks of a client:
 * rows streamed from one statement, COPY FROM and COPY TO, LISTEN as a queue
 * or a stream, and NOTIFY.
 *
 * **Details**
 *
 * - `stream`, `copyFrom` and `copyTo` run on the current transaction's
 *   session, or else on an exclusive session from the pool, held while they
 *   run; `listen` and `listenStream` hold a session of their own.
 * - Each gets a client span named and attributed as `effect/sql` names a
 *   statement's span, plus `db.operation.name` (and `db.query.text` where
 *   there is SQL).
 * - `stream`'s object rows get the client's `transformResultNames`, as its
 *   statements' rows do.
 * - Failures are `SqlError`s (`SqlErrors.ts`), the operation named.
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import type * as SqlClient from "effect/sql/SqlClient"
import { ConnectionError as SqlConnectionError, SqlError } from "effect/sql/SqlError"
import * as Statement from "effect/sql/Statement"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import type { PgError } from "../errors/PgError.ts"
import type * as PgPool from "../pool/Pool.ts"
import type { CopyResult, Notification, Row, Session, StreamOptions } from "../session/Session.ts"
import type { SessionConnection } from "./SessionConnection.ts"
import { toSqlError } from "./SqlErrors.ts"

const ATTR_DB_OPERATION_NAME = "db.operation.name"
const ATTR_DB_QUERY_TEXT = "db.query.text"

const mapCause = (cause: Cause.Cause<PgError>): Cause.Cause<SqlError> =>
  Cause.map(cause, (error) => toSqlError(error, "listen"))

/**
 * The extras of a client on `pool`, whose statements compile with `compiler` and whose spans carry
 * `spanAttributes`.
 *
 * @since 0.1.0
 */
export const makeExtras = (
  pool: PgPool.Pool,
  compiler: Statement.Compiler,
  spanAttributes: ReadonlyArray<readonly [string, unknown]>,
  transactionService: SqlClient.SqlClient["transactionService"],
  transformRows?: (<A extends object>(rows: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined
) => {
  /** The current transaction's session, if any (a failure once that transaction has ended). */
  const currentSession: Effect.Effect<Option.Option<Session>, PgError> = Effect.flatMap(
    Effect.serviceOption(transactionService),
    (tx) => Option.isSome(tx) ? Effect.map((tx.value[0] as SessionConnection).leased, Option.some) : Effect.succeedNone
  )

  const compile = (statement: Statement.Fragment | string, params?: ReadonlyArray<unknown>) =>
    typeof statement === "string" ? [statement, params ?? []] as const : compiler.compile(statement, false)

  // The extras get client spans like statements do: same name, same attributes.
  const name = Statement.spanName(spanAttributes)
  const spanOptions = (operation: string, sql?: string): Tracer.SpanOptions => ({
    kind: "client",
    attributes: {
      ...Object.fromEntries(spanAttributes),
      [ATTR_DB_OPERATION_NAME]: operation,
      ...(sql === undefined ? {} : { [ATTR_DB_QUERY_TEXT]: sql })
    }
  })

  const exclusiveStream = <A>(
    f: (session: Session) => Stream.Stream<A, PgError>,
    operation: string,
    sql: string
  ): Stream.Stream<A, SqlError> =>
    Stream.mapError(
      Stream.unwrap(
        Effect.flatMap(currentSession, (tx) =>
          Option.isSome(tx) ? Effect.succeed(f(tx.value)) : Effect.map(pool.acquire, f))
      ),
      (error) => toSqlError(error, operation)
    ).pipe(Stream.withSpan(name, spanOptions(operation, sql)))

  const listenStream = (channel: string): Stream.Stream<Notification, SqlError> =>
    Stream.mapError(
      Stream.unwrap(pool.listen(channel)),
      (error) => toSqlError(error, "listen")
    ).pipe(Stream.withSpan(name, spanOptions("LISTEN")))

  const listen = (
    channel: string
  ): Effect.Effect<Queue.Dequeue<Notification, SqlError>, SqlError, Scope.Scope> =>
    Effect.gen(function*() {
      const notifications = yield* Effect.mapError(pool.listen(channel), (error) => toSqlError(error, "listen")).pipe(
        Effect.withSpan(name, spanOptions("LISTEN"))
      )
      const queue = yield* Effect.acquireRelease(
        Queue.unbounded<Notification, SqlError>(),
        (queue) => Queue.shutdown(queue)
      )
      yield* Effect.forkScoped(
        Stream.runForEach(notifications, (notification) => Queue.offer(queue, notification)).pipe(
          Effect.exit,
          Effect.flatMap((exit) =>
            Exit.isFailure(exit)
              ? Queue.failCause(queue, mapCause(exit.cause))
              : Queue.fail(
                queue,
                new SqlError({
                  reason: new SqlConnectionError({
                    cause: undefined,
                    message: "the LISTEN session ended",
                    operation: "listen"
                  })
                })
              )
          )
        )
      )
      return queue as Queue.Dequeue<Notification, SqlError>
    })

  return {
    listen,
    listenStream,
    notify: (channel: string, payload?: string): Effect.Effect<void, SqlError> =>
      Effect.mapError(pool.notify(channel, payload), (error) => toSqlError(error, "notify")).pipe(
        Effect.withSpan(name, spanOptions("NOTIFY"))
      ),
    stream: <A = Row>(
      statement: Statement.Fragment | string,
      streamOptions?: StreamOptions & { readonly params?: ReadonlyArray<unknown> | undefined }
    ): Stream.Stream<A, SqlError> => {
      const [sql, params] = compile(statement, streamOptions?.params)
      const rows = exclusiveStream((session) => session.stream<A>(sql, params, streamOptions), "stream", sql)
      // Object rows get the client's result name transform, as its statements' rows do; arrays have no names.
      return transformRows === undefined || streamOptions?.rowMode === "array"
        ? rows
        : Stream.mapArray(rows, (chunk) => transformRows(chunk as ReadonlyArray<object>) as unknown as Arr.NonEmptyReadonlyArray<A>)
    },
    copyFrom: (statement: Statement.Fragment | string): Sink.Sink<CopyResult, Uint8Array, never, SqlError> => {
      const [sql] = compile(statement)
      return Sink.mapError(
        Sink.unwrap(
          Effect.andThen(
            Effect.makeSpanScoped(name, spanOptions("COPY", sql)),
            Effect.flatMap(currentSession, (tx) =>
              Option.isSome(tx)
                ? Effect.succeed(tx.value.copyFrom(sql))
                : Effect.map(pool.acquire, (session) => session.copyFrom(sql)))
          )
        ),
        (error) => toSqlError(error, "copyFrom")
      )
    },
    copyTo: (statement: Statement.Fragment | string): Stream.Stream<Uint8Array, SqlError> => {
      const [sql] = compile(statement)
      return exclusiveStream((session) => session.copyTo(sql), "copyTo", sql)
    }
  }
}
