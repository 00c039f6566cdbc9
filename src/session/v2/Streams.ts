/**
 * Streams of rows on a protocol 2.0 session (PROTOCOL-2.0 §2 "stream"): outside a transaction block one Query read
 * with socket backpressure, stopped early by a CancelRequest and a drain; inside one a `NO SCROLL` cursor paged
 * with FETCH and closed on stop, or, for a statement DECLARE cannot take (INSERT ... RETURNING, SHOW, EXPLAIN), one
 * Query whose rest is read and dropped on an early stop (a cancel would abort the caller's transaction).
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import type * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { CodecError, ConfigError, PgError } from "../../errors/PgError.ts"
import type { Registry } from "../../types/Registry.ts"
import type { StreamOptions } from "../Api.ts"
import type { QueryResult } from "../Result.ts"
import { TRANSACTION_STREAM_PAGE_ROWS } from "../Streaming.ts"
import * as Literal from "./Literal.ts"
import { type ResultsOptions, severalStatements, StreamRequest } from "./Requests.ts"
import type * as Statements from "./Statements.ts"
import type * as Status from "./Status.ts"
import type { V2Request, Wire } from "./Wire.ts"

/** How long DEALLOCATE or CLOSE of the library's own objects may take when their scope closes. */
export const RELEASE_TIMEOUT_MILLIS = 5_000

/**
 * What the streams need from the session.
 *
 * @since 0.1.0
 */
export interface StreamDeps {
  readonly wire: Wire
  /** The registry as it is now. */
  readonly registry: () => Registry
  readonly plan: (sql: string, params: ReadonlyArray<unknown>) => Effect.Effect<Statements.Plan, PgError>
  /** After a planned Query: DEALLOCATE what the cache let go. */
  readonly settlePlan: (plan: Statements.Plan, tags: ReadonlyArray<string>) => void
  readonly settle: ResultsOptions["settle"]
  readonly abandon: (request: V2Request, onDrop?: () => void) => Effect.Effect<void>
  readonly runResults: (
    sql: string,
    options: ResultsOptions,
    effect: Status.Effect
  ) => Effect.Effect<ReadonlyArray<QueryResult<unknown>>, PgError>
  readonly transactionStatus: Effect.Effect<"I" | "T" | "E">
  readonly streamPageSize: number | undefined
}

const configError = (message: string, parameter: string): PgError =>
  new PgError({ reason: new ConfigError({ message, parameter }) })

const lastRows = (results: ReadonlyArray<QueryResult<unknown>>): ReadonlyArray<unknown> =>
  results[results.length - 1]?.rows ?? []

/**
 * The session's `stream` without its schema: rows as the session decodes them.
 *
 * @since 0.1.0
 */
export const makeStreamRows = (deps: StreamDeps) => {
  /** Cursor names, one counter per session. */
  let cursors = 0

  /**
   * A stream of one Query. `inBlock`: inside a transaction block (a statement no cursor can read), where a cancel
   * would abort the caller's transaction, so an early stop reads the rest and drops it instead.
   */
  const streamQuery = (sql: string, params: ReadonlyArray<unknown>, options: StreamOptions | undefined, inBlock = false) =>
    Stream.fromChannel(
      Channel.fromTransform((_, scope) =>
        Effect.gen(function*() {
          const rowMode = options?.rowMode ?? "object"
          const p = params.length === 0 ? undefined : yield* deps.plan(sql, params)
          const request = new StreamRequest(p?.sql ?? sql, deps.registry(), { rowMode, hidden: p?.hidden, settle: deps.settle })
          request.statusEffect = p === undefined ? "unknown" : "keep"
          if (p !== undefined) request.whenDone(() => deps.settlePlan(p, request.tags))
          deps.wire.submit(request)
          yield* Scope.addFinalizer(
            scope,
            inBlock
              ? Effect.sync(() => {
                request.discard = true
                request.buffer.drop()
                // Not written yet: taken back; written: read to its end and dropped.
                if (!request.done) deps.wire.withdraw(request)
              })
              : deps.abandon(request, () => request.buffer.drop())
          )
          return request.buffer.pull as Effect.Effect<Arr.NonEmptyReadonlyArray<unknown>, PgError | Cause.Done>
        })
      )
    )

  const streamCursor = (
    sql: string,
    params: ReadonlyArray<unknown>,
    options: StreamOptions | undefined,
    pageSize: number
  ): Stream.Stream<unknown, PgError> =>
    Stream.unwrap(Effect.gen(function*() {
      const rowMode = options?.rowMode ?? "object"
      const body = params.length === 0
        ? Literal.trimStatement(sql)
        : yield* Effect.try({
          try: () =>
            Literal.substitute(
              Literal.trimStatement(sql),
              params.map((v, i) => Literal.parameterSql(deps.registry(), v, i + 1))
            ),
          catch: (e) => e instanceof PgError ? e : new PgError({ reason: new CodecError({ message: String(e) }) })
        })
      const name = `pgwire_c${++cursors}`
      const declare = `DECLARE ${name} ${options?.binary === true ? "BINARY " : ""}NO SCROLL CURSOR FOR ${body}`
      const declared = yield* deps.runResults(declare, { rowMode }, "keep")
      if (declared.length > 1) {
        // The string held more statements than the cursor's: their results would be lost.
        yield* deps.runResults(`CLOSE ${name}`, { rowMode }, "keep").pipe(Effect.ignore)
        return yield* severalStatements()
      }
      const pages = Stream.paginate(false, (_: boolean) =>
        Effect.map(deps.runResults(`FETCH ${pageSize} FROM ${name}`, { rowMode }, "keep"), (results) => {
          const rows = lastRows(results)
          return [rows, rows.length < pageSize ? Option.none() : Option.some(false)] as const
        }))
      return Stream.ensuring(
        pages,
        Effect.suspend(() =>
          deps.wire.isClosed || deps.wire.status === "E"
            ? Effect.void
            : deps.runResults(`CLOSE ${name}`, { rowMode }, "keep").pipe(
              Effect.timeoutOption(RELEASE_TIMEOUT_MILLIS),
              Effect.ignore
            )
        )
      )
    }))

  const streamRows = (
    sql: string,
    params: ReadonlyArray<unknown>,
    options: StreamOptions | undefined
  ): Stream.Stream<unknown, PgError> =>
    Stream.unwrap(Effect.gen(function*() {
      const pageSize = options?.pageSize ?? deps.streamPageSize ?? TRANSACTION_STREAM_PAGE_ROWS
      if (!Number.isInteger(pageSize) || pageSize < 0) return yield* configError(`invalid page size ${pageSize}`, "pageSize")
      const status = yield* deps.transactionStatus
      // DECLARE takes queries only: other statements with rows (INSERT ... RETURNING, SHOW, EXPLAIN) run as a Query.
      const cursor = status !== "I" && Literal.isCursorQuery(sql)
      if (!cursor) {
        if (options?.binary === true) {
          return yield* configError("a binary cursor needs a transaction block and a query (protocol 2.0)", "binary")
        }
        return streamQuery(sql, params, options, status !== "I")
      }
      return streamCursor(sql, params, options, pageSize === 0 ? TRANSACTION_STREAM_PAGE_ROWS : pageSize)
    }))

  return streamRows
}
