/**
 * An example of the server engine: a relay that fronts a real PostgreSQL. Each client
 * connection gets its own upstream session (this library's client), opened
 * after the client authenticated and closed with it; every statement the
 * client sends is re-issued upstream and its results are sent back through
 * the engine.
 *
 * **Details**
 *
 * - Simple queries run upstream as simple queries; COPY FROM STDIN and COPY TO
 *   STDOUT are relayed as COPY; the transaction status follows the upstream
 *   session's.
 * - Parse describes the statement upstream once per SQL text and connection
 *   (parameter types and columns, as a real server would answer); Execute runs
 *   it through the upstream session's statement cache.
 * - Values cross as JavaScript values: decoded from the upstream rows, encoded
 *   again for the client in the format its Bind asked for. Upstream errors keep
 *   every field.
 *
 * Deliberately not here: pooling (one upstream session per client), rows
 * streamed as they arrive (a result is read whole, then sent), and the
 * statements of a simple query that ran before one that failed (the client
 * sees only the error, as the upstream's implicit transaction is rolled back
 * anyway). It is an example of the engine, not a proxy.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { type PgError, ServerError as UpstreamServerError } from "../../errors/PgError.ts"
import type { Field as UpstreamField, QueryResult } from "../../session/Result.ts"
import * as PgSession from "../../session/Session.ts"
import type { Field, Handler, Outcome, Prepared } from "../../server/Handler.ts"
import type { StartupInfo } from "../../server/Options.ts"
import * as ServerError from "../../server/ServerError.ts"

/**
 * Where the relay's upstream sessions connect. `user` and `database` default
 * to the client's.
 *
 * @since 0.1.0
 */
export type UpstreamOptions = Partial<PgSession.SessionOptions>

/** What a client sees of an upstream failure: the upstream error itself, or 08006. */
const fromUpstream = (error: PgError): ServerError.ServerError =>
  error.reason instanceof UpstreamServerError
    ? error.reason
    : ServerError.make("08006", `upstream: ${error.reason.message}`)

const fieldsOf = (fields: ReadonlyArray<UpstreamField>): Array<Field> =>
  fields.map((f) => ({
    name: f.name,
    typeOid: f.dataTypeOid,
    tableOid: f.tableOid,
    columnAttributeNumber: f.columnAttributeNumber,
    typeModifier: f.typeModifier
  }))

/** The command tag PostgreSQL sent, rebuilt from the session's verb and count. */
const tagOf = (result: QueryResult<unknown>): string =>
  result.rowCount === null
    ? result.command
    : result.command === "INSERT"
    ? `INSERT 0 ${result.rowCount}`
    : `${result.command} ${result.rowCount}`

const returnsRows = (result: QueryResult<unknown>): boolean => result.fields.length > 0 || result.command === "SELECT"

const transactionEffect = (before: string, after: string): "begin" | "commit" | "rollback" | undefined =>
  before === "I" && after !== "I" ? "begin" : before !== "I" && after === "I" ? "commit" : undefined

const outcomeOf = (result: QueryResult<unknown>, transaction: "begin" | "commit" | "rollback" | undefined): Outcome => {
  if (returnsRows(result)) {
    const tag = tagOf(result)
    return {
      _tag: "Rows",
      fields: fieldsOf(result.fields),
      rows: Stream.fromIterable(result.rows as ReadonlyArray<ReadonlyArray<unknown>>),
      tag: () => tag
    }
  }
  if (result.command === "") return { _tag: "Empty" }
  return { _tag: "Command", tag: tagOf(result), transaction }
}

const COPY_FROM_STDIN = /^\s*copy\b[\s\S]*\bfrom\s+stdin\b/i
const COPY_TO_STDOUT = /^\s*copy\b[\s\S]*\bto\s+stdout\b/i

/**
 * The relay's handler factory: `PgServer.serve({ handler: Relay.handler({ host, port }) })`.
 *
 * @since 0.1.0
 */
export const handler = (upstream: UpstreamOptions) => (info: StartupInfo): Effect.Effect<Handler, ServerError.ServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const session = yield* PgSession.connect({ user: info.user, database: info.database, ...upstream }).pipe(
      Effect.mapError(fromUpstream)
    )
    const described = new Map<string, { readonly paramTypes: ReadonlyArray<number>; readonly fields: ReadonlyArray<Field> | null }>()

    const describe = (sql: string, paramTypes: ReadonlyArray<number>) =>
      Effect.suspend(() => {
        const key = `${paramTypes.join(",")}:${sql}`
        const known = described.get(key)
        if (known !== undefined) return Effect.succeed(known)
        return Effect.scoped(session.prepare(sql, paramTypes)).pipe(
          Effect.map((statement) => {
            const shape = {
              paramTypes: statement.parameterTypes,
              fields: statement.fields.length === 0 ? null : fieldsOf(statement.fields)
            }
            described.set(key, shape)
            return shape
          }),
          Effect.mapError(fromUpstream)
        )
      })

    const run = <A>(effect: Effect.Effect<A, PgError>) =>
      Effect.gen(function*() {
        const before = yield* session.transactionStatus
        const value = yield* Effect.mapError(effect, fromUpstream)
        const after = yield* session.transactionStatus
        return { value, transaction: transactionEffect(before, after) }
      })

    const copyOutcome = (sql: string): Outcome | undefined =>
      COPY_FROM_STDIN.test(sql)
        ? {
          _tag: "CopyIn",
          sink: Sink.mapError(session.copyFrom(sql), fromUpstream).pipe(
            Sink.map((result) => `COPY ${result.rowCount ?? 0}`)
          )
        }
        : COPY_TO_STDOUT.test(sql)
        ? { _tag: "CopyOut", data: Stream.mapError(session.copyTo(sql), fromUpstream) }
        : undefined

    const simple: Handler["simple"] = (sql) => {
      const copy = copyOutcome(sql)
      if (copy !== undefined) return Stream.make(copy)
      return Stream.fromEffect(run(session.simple(sql, { rowMode: "array" }))).pipe(
        Stream.flatMap(({ value, transaction }) =>
          Stream.fromIterable(value.map((r, i) => outcomeOf(r, i === value.length - 1 ? transaction : undefined)))
        )
      )
    }

    const prepare: NonNullable<Handler["prepare"]> = ({ sql, paramTypes }) =>
      Effect.map(describe(sql, paramTypes), (shape): Prepared => ({
        paramTypes: shape.paramTypes,
        fields: shape.fields,
        execute: (params) => {
          const copy = copyOutcome(sql)
          if (copy !== undefined) return Effect.succeed(copy)
          return Effect.map(
            run(session.query<ReadonlyArray<unknown>>(sql, params.values as Array<unknown>, { rowMode: "array" })),
            ({ value, transaction }) => outcomeOf(value, transaction)
          )
        }
      }))

    return { simple, prepare }
  })
