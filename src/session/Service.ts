/**
 * The `Session` service object over one engine: each public operation builds
 * its request, hands it to the engine or the connection, and waits for it
 * (with the engine's interruption sequence as its canceller).
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Pull from "effect/Pull"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { Buffer } from "node:buffer"
import { CodecError, ConfigError, PgError } from "../errors/PgError.ts"
import type { Notification, PreparedStatement, QueryOptions, Session, StreamOptions } from "./Api.ts"
import { sendCancel } from "./Cancel.ts"
import type { Engine, Listener } from "./Engine.ts"
import { NO_PARAMS } from "./Frames.ts"
import * as Facade from "./Facade.ts"
import * as QueryTimeout from "./QueryTimeout.ts"
import {
  CloseRequest,
  FunctionCallRequest,
  PrepareRequest,
  QueryRequest,
  type QueryTracker,
  type Resume
} from "./Requests.ts"
import { type BatchItem, BatchRequest, SimpleRequest } from "./ResultSets.ts"
import type { QueryResult, Row } from "./Result.ts"
import { Statement } from "./Statement.ts"
import { CopyInRequest, type CopyResult, CopyOutRequest, StreamRequest } from "./Streaming.ts"

/** How long closing a prepared statement may take when its scope closes. */
export const STATEMENT_CLOSE_TIMEOUT_MILLIS = 5_000

/**
 * Decodes rows with a Schema; a mismatch becomes a CodecError naming the column
 * (the first key of the issue's path).
 */
const rowDecoder = <A>(schema: Schema.Decoder<A>) => {
  const decode = Schema.decodeUnknownEffect(schema)
  return (row: unknown): Effect.Effect<A, PgError> =>
    Effect.mapError(decode(row), (error) => {
      const column = firstPathKey(error.issue)
      return new PgError({
        reason: new CodecError({
          message: `row does not match the schema${column === undefined ? "" : ` at column "${column}"`}: ${error.message}`,
          ...(column === undefined ? {} : { column })
        })
      })
    }) as Effect.Effect<A, PgError>
}

const firstPathKey = (issue: unknown): string | undefined => {
  let current: unknown = issue
  for (let depth = 0; depth < 16 && current !== null && typeof current === "object"; depth++) {
    const node = current as { path?: ReadonlyArray<PropertyKey>; issue?: unknown; issues?: ReadonlyArray<unknown> }
    if (node.path !== undefined && node.path.length > 0) return String(node.path[0])
    current = node.issue ?? node.issues?.[0]
  }
  return undefined
}

/** Quotes an identifier for LISTEN/UNLISTEN (channel names are identifiers, not parameters). */
export const quoteIdentifier = (name: string): string => `"${name.replace(/"/g, "\"\"")}"`

/** PostgreSQL's NAMEDATALEN - 1: the longest identifier, in bytes. A longer name is truncated by the server. */
export const MAX_IDENTIFIER_BYTES = 63

/**
 * Refuses a channel name the server would not keep as given: LISTEN truncates a name over
 * `MAX_IDENTIFIER_BYTES` (the listener would never hear the name's notifications) and pg_notify refuses it.
 */
const checkChannel = (channel: string): Effect.Effect<void, PgError> => {
  const bytes = Buffer.byteLength(channel, "utf8")
  return bytes <= MAX_IDENTIFIER_BYTES ? Effect.void : Effect.fail(
    new PgError({
      reason: new CodecError({
        message: `channel name of ${bytes} bytes: PostgreSQL keeps at most ${MAX_IDENTIFIER_BYTES} (NAMEDATALEN - 1)`
      })
    })
  )
}


/**
 * The service object over `engine`.
 *
 * @since 0.1.0
 */
export const makeService = (engine: Engine): Session => {
  const conn = engine.conn
  const queryTimeout = engine.options.queryTimeout ?? 0
  /** The session's `queryTimeout` around one request (its interruption cancels the request as a caller's would). */
  const bounded = QueryTimeout.bounded(queryTimeout)

  const rawQuery = <R = Row>(
    sql: string,
    params: ReadonlyArray<unknown> = NO_PARAMS,
    options?: QueryOptions,
    tracker?: QueryTracker
  ) =>
    bounded(Effect.callback<QueryResult<R>, PgError>((resume) => {
      const request = new QueryRequest(
        engine.queryOwner,
        sql,
        params,
        undefined,
        options?.rowMode ?? "object",
        resume as Resume<QueryResult<unknown>>
      )
      if (tracker !== undefined) {
        request.tracker = tracker
        tracker.start()
      }
      engine.startQuery(request, false, options?.prepare === false)
      if (request.done) return
      return engine.interruption.waitOn(request)
    }))

  const streamRows = <R>(
    sql: string,
    params: ReadonlyArray<unknown>,
    options: StreamOptions | undefined,
    fixed: Statement | undefined
  ): Stream.Stream<R, PgError> =>
    Stream.fromChannel(
      Channel.fromTransform((_, scope) =>
        Effect.suspend(() => {
          const pageSize = options?.pageSize ?? engine.options.streamPageSize
          if (pageSize !== undefined && (!Number.isInteger(pageSize) || pageSize < 0)) {
            return Effect.fail(
              new PgError({ reason: new ConfigError({ message: `invalid page size ${pageSize}`, parameter: "pageSize" }) })
            )
          }
          const request = new StreamRequest(engine.queryOwner, sql, params, undefined, options?.rowMode ?? "object", pageSize)
          const submit = (statement: Statement | undefined) => {
            request.statement = statement
            conn.submit(request)
          }
          if (fixed !== undefined) submit(fixed)
          else if (engine.cache === undefined) {
            engine.withResultTypes(sql, params, request, () => submit(undefined), (error) => request.fail(error))
          } else engine.withStatement(sql, params, request, submit, (error) => request.fail(error))
          return Effect.as(
            Scope.addFinalizer(scope, engine.interruption.abandon(request, () => request.abandon())),
            request.pull as Effect.Effect<Arr.NonEmptyReadonlyArray<R>, PgError | Cause.Done>
          )
        })
      )
    )

  const query: Session["query"] = (
    sql: string,
    params: ReadonlyArray<unknown> = NO_PARAMS,
    options?: QueryOptions & { readonly schema?: Schema.Decoder<unknown> }
  ) => {
    const schema = options?.schema
    if (schema === undefined) return rawQuery(sql, params, options) as never
    const decode = rowDecoder(schema)
    return Effect.flatMap(rawQuery(sql, params, options), (result) =>
      Effect.map(Effect.forEach(result.rows, decode), (rows) => ({ ...result, rows }))) as never
  }

  const stream: Session["stream"] = (
    sql: string,
    params: ReadonlyArray<unknown> = NO_PARAMS,
    options?: StreamOptions & { readonly schema?: Schema.Decoder<unknown> }
  ) => {
    const schema = options?.schema
    const rows = streamRows<unknown>(sql, params, options, undefined)
    return (schema === undefined ? rows : Stream.mapEffect(rows, rowDecoder(schema))) as never
  }

  const simple = (sql: string, options?: QueryOptions) =>
    bounded(Effect.callback<ReadonlyArray<QueryResult<Row>>, PgError>((resume) => {
      const request = new SimpleRequest(sql, engine.registry, options?.rowMode ?? "object", resume as never, engine.resultSetsOwner)
      conn.submit(request)
      if (request.done) return
      return engine.interruption.abandon(request)
    }))

  const batch = (items: ReadonlyArray<BatchItem>, options?: QueryOptions) =>
    bounded(Effect.callback<ReadonlyArray<QueryResult<Row>>, PgError>((resume) => {
      if (items.length === 0) return resume(Effect.succeed([]))
      const request = new BatchRequest(items, engine.registry, options?.rowMode ?? "object", resume as never, engine.resultSetsOwner)
      engine.startBatch(request, false, options?.prepare === false)
      if (request.done) return
      return engine.interruption.abandon(request)
    }))

  const functionCall: Session["functionCall"] = (functionOid, args, options) =>
    bounded(Effect.callback((resume) => {
      const request = new FunctionCallRequest(
        functionOid,
        args,
        options?.argumentFormats ?? [],
        options?.resultFormat ?? 1,
        resume
      )
      conn.submit(request)
      if (request.done) return
      return engine.interruption.abandon(request)
    }))

  const prepare = Effect.fn("PgSession.prepare")(function*(sql: string, types: ReadonlyArray<number> = []) {
    const name = engine.nextStatementName()
    const statement = new Statement(name, sql, types)
    yield* Effect.acquireRelease(
      bounded(Effect.callback<void, PgError>((resume) => {
        const request = new PrepareRequest(statement, (error, parameterTypes, fields) =>
          engine.describeStatement(statement, error, parameterTypes, fields, (failure) =>
            resume(failure === undefined ? Effect.void : Effect.fail(failure))))
        conn.submit(request)
        if (request.done) return
        return engine.interruption.abandon(request)
      })),
      () =>
        Effect.callback<void>((resume) => {
          if (conn.isClosed) return resume(Effect.void)
          statement.state = "closed"
          conn.submit(new CloseRequest("S", name, () => resume(Effect.void)))
        }).pipe(Effect.timeoutOrElse({ duration: STATEMENT_CLOSE_TIMEOUT_MILLIS, orElse: () => Effect.void }))
    )
    const execute = <R = Row>(params: ReadonlyArray<unknown> = NO_PARAMS, options?: QueryOptions) =>
      bounded(Effect.callback<QueryResult<R>, PgError>((resume) => {
        if (statement.state === "closed") {
          return resume(Effect.fail(
            new PgError({ reason: new ConfigError({ message: `prepared statement ${name} is closed` }) })
          ))
        }
        const request = new QueryRequest(
          engine.preparedOwner,
          sql,
          params,
          statement,
          options?.rowMode ?? "object",
          resume as Resume<QueryResult<unknown>>
        )
        conn.submit(request)
        if (request.done) return
        return engine.interruption.waitOn(request)
      }))
    const prepared: PreparedStatement = {
      name,
      sql,
      parameterTypes: statement.parameterTypes,
      fields: statement.fields,
      execute,
      stream: <R = Row>(params: ReadonlyArray<unknown> = NO_PARAMS, options?: StreamOptions) =>
        streamRows<R>(sql, params, options, statement)
    }
    return prepared
  })

  const copyFrom = (sql: string): Sink.Sink<CopyResult, Uint8Array, never, PgError> =>
    Sink.fromTransform<Uint8Array, CopyResult, PgError, never>((upstream, scope) =>
      Effect.gen(function*() {
        const request = new CopyInRequest(sql)
        conn.submit(request)
        yield* Scope.addFinalizerExit(scope, (exit) =>
          Effect.suspend(() => {
            if (request.done) return Effect.void
            if (Exit.isSuccess(exit) && request.ended) return Effect.void
            // The upstream failed or the consumer was interrupted: CopyFail, so nothing is committed.
            request.finish("COPY aborted by the client")
            return engine.interruption.drainOrBreak(request)
          }))
        yield* request.awaitStart
        while (true) {
          const chunk = yield* upstream.pipe(Pull.catchDone(() => Effect.succeed(undefined)))
          if (chunk === undefined) break
          if (request.ended || request.done) break
          for (const piece of chunk) {
            if (request.ended || request.done) break
            yield* request.writeChunk(piece)
          }
        }
        request.finish(undefined)
        const result = yield* request.result
        return [result] as const
      })
    )

  const copyTo = (sql: string): Stream.Stream<Uint8Array, PgError> =>
    Stream.fromChannel(
      Channel.fromTransform((_, scope) =>
        Effect.suspend(() => {
          const request = new CopyOutRequest(sql)
          conn.submit(request)
          return Effect.as(Scope.addFinalizer(scope, engine.interruption.abandon(request, () => request.abandon())), request.pull)
        })
      )
    )

  const listen = Effect.fn("PgSession.listen")(function*(channel: string) {
    yield* checkChannel(channel)
    let listener = engine.listeners.get(channel)
    if (listener === undefined) {
      const created: Listener = { subscribers: new Set(), ready: Effect.void }
      listener = created
      engine.listeners.set(channel, created)
      const confirm = yield* Effect.cached(
        simple(`LISTEN ${quoteIdentifier(channel)}`).pipe(
          Effect.asVoid,
          Effect.onError(() => Effect.sync(() => engine.listeners.delete(channel)))
        )
      )
      created.ready = confirm
    }
    yield* listener.ready
    const current = listener
    const queue = yield* Effect.acquireRelease(
      Queue.unbounded<Notification, PgError | Cause.Done>().pipe(
        Effect.tap((q) => Effect.sync(() => current.subscribers.add(q)))
      ),
      (q) =>
        Effect.gen(function*() {
          current.subscribers.delete(q)
          yield* Queue.shutdown(q)
          if (current.subscribers.size === 0 && engine.listeners.get(channel) === current) {
            engine.listeners.delete(channel)
            // Written, not awaited: its reply is dropped in order, and a release never waits on a
            // server that stopped answering.
            if (!conn.isClosed) {
              conn.submit(new SimpleRequest(`UNLISTEN ${quoteIdentifier(channel)}`, engine.registry, "object", () => {}))
            }
          }
        })
    )
    return Stream.fromQueue(queue)
  })

  const notify = (channel: string, payload = "") =>
    checkChannel(channel).pipe(Effect.andThen(rawQuery("select pg_notify($1, $2)", [channel, payload])), Effect.asVoid)

  const cancel = Effect.suspend(() =>
    conn.isClosed ? Effect.void : sendCancel(engine.openSide, conn.processId, conn.secretKey)
  )

  return Facade.make(conn, {
    processId: conn.processId,
    protocolVersion: { major: 3, minor: conn.protocolMinor },
    unsupportedProtocolOptions: engine.unsupportedProtocolOptions,
    encrypted: engine.encryption !== "plain",
    parameterChanges: Stream.fromPubSub(engine.parameterHub),
    transactionStatus: Effect.sync(() => conn.transactionStatus),
    notices: Stream.fromPubSub(engine.noticeHub),
    query,
    stream,
    simple,
    batch,
    prepare,
    copyFrom,
    copyTo,
    listen,
    notify,
    functionCall,
    cancel
  }, {
    parameters: () => conn.parameters,
    registry: () => engine.registry,
    settled: engine.interruption.settled,
    onClose: (f) => engine.onClose(f),
    queryTracked: (sql, params, options, tracker) => rawQuery(sql, params ?? NO_PARAMS, options, tracker)
  })
}

