/**
 * The `Session` interface over a protocol 2.0 connection: each operation
 * builds its request (`Requests`), hands it to the wire (`Wire`) and waits
 * for it; an interrupted caller runs the cancellation sequence.
 *
 * **Details**
 *
 * - `query` and `stream` without parameters send the SQL as it is; with
 *   parameters, `PREPARE` + `EXECUTE` with escape-string literals through the
 *   statement cache (`Statements`).
 * - `stream` outside a transaction block is one Query read as the consumer
 *   takes the rows (socket backpressure), stopped early by a CancelRequest and
 *   a drain; inside one, a `NO SCROLL` cursor paged with FETCH and closed on
 *   stop (a cancel would abort the transaction). `binary: true` declares a
 *   BINARY cursor, whose rows decode through the binary codecs.
 * - `transactionStatus` is tracked (`Status`); when the SQL run since makes it
 *   unknown, it asks the server (`Status.PROBE_SQL`).
 * - `parameterChanges` never emits: 2.0 has no ParameterStatus. Notification
 *   payloads are always "" (2.0 carries none).
 * - Cancellation: a request not written is withdrawn; one running gets, after
 *   `CANCEL_GRACE`, a CancelRequest (the 4-byte key), and the session drains to
 *   ReadyForQuery within `DRAIN_TIMEOUT` or is broken. COPY IN cannot be
 *   cancelled in 2.0 without losing the connection: interrupting it closes the
 *   session (the server rolls the copy back).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Net from "node:net"
import * as Option from "effect/Option"
import type * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Buffer } from "node:buffer"
import {
  CancelError,
  CodecError,
  ConfigError,
  ConnectionError,
  PgError,
  TimeoutError
} from "../../errors/PgError.ts"
import type { Registry } from "../../types/Registry.ts"
import type { FunctionCallResult, Notification, PreparedStatement, QueryOptions, Session, StreamOptions } from "../Api.ts"
import { sendCancel } from "../Cancel.ts"
import { CANCEL_GRACE, DRAIN_TIMEOUT, DRAIN_TIMEOUT_MILLIS } from "../Interruption.ts"
import * as Facade from "../Facade.ts"
import * as QueryTimeout from "../QueryTimeout.ts"
import type { QueryTracker } from "../Requests.ts"
import type { BatchItem } from "../ResultSets.ts"
import { makeResult, type Notice, type QueryResult, type Row } from "../Result.ts"
import * as Catalog from "../../types/Catalog.ts"
import * as Literal from "./Literal.ts"
import * as Copy from "./Copy.ts"
import {
  failureOf,
  FunctionCallRequest,
  outcome,
  ResultsRequest,
  RowReader,
  type ResultsOptions
} from "./Requests.ts"
import * as Statements from "./Statements.ts"
import { STATEMENT_SEPARATOR } from "./Statements.ts"
import * as Status from "./Status.ts"
import * as Streams from "./Streams.ts"
import { RELEASE_TIMEOUT_MILLIS } from "./Streams.ts"
import * as Styles from "./Styles.ts"
import type { V2Request, Wire } from "./Wire.ts"

/** How long DEALLOCATE or CLOSE of the library's own objects may take when their scope closes (`Streams`). */
export { RELEASE_TIMEOUT_MILLIS }

/** PostgreSQL's NAMEDATALEN - 1. */
const MAX_IDENTIFIER_BYTES = 63

/**
 * What the service is made of.
 *
 * @since 0.1.0
 */
export interface Parts {
  readonly wire: Wire
  readonly registry: Registry
  readonly openSide: Effect.Effect<Net.Socket, PgError>
  readonly encrypted: boolean
  readonly parameters: ReadonlyMap<string, string>
  readonly noticeHub: PubSub.PubSub<Notice>
  readonly listeners: Map<string, Set<Queue.Queue<Notification, PgError | Cause.Done>>>
  readonly statementCacheSize: number
  readonly streamPageSize: number | undefined
  /** The session's `queryTimeout` in milliseconds (0: none). */
  readonly queryTimeout: number
}

const configError = (message: string, parameter?: string): PgError =>
  new PgError({ reason: new ConfigError({ message, ...(parameter === undefined ? {} : { parameter }) }) })

const rowDecoder = <A>(schema: Schema.Decoder<A>) => {
  const decode = Schema.decodeUnknownEffect(schema)
  return (row: unknown): Effect.Effect<A, PgError> =>
    Effect.mapError(decode(row), (error) =>
      new PgError({ reason: new CodecError({ message: `row does not match the schema: ${error.message}` }) })) as Effect.Effect<
        A,
        PgError
      >
}

/**
 * The service object.
 *
 * @since 0.1.0
 */
export const makeService = (parts: Parts): Session => {
  const { wire } = parts
  /** The configured registry, extended with the types looked up so far. */
  let registry = parts.registry
  /** OIDs looked up in pg_type (found or not): each once per session. */
  const lookedUp = new Set<number>()
  const needsTypes = (oids: ReadonlyArray<number>): boolean =>
    registry.unknownOids(oids).some((oid) => !lookedUp.has(oid))
  const cache = new Statements.StatementCache(parts.statementCacheSize)
  /** Names a DEALLOCATE inside a failed transaction block could not drop (see `deallocate`). */
  const undeallocated: Array<string> = []
  /** The session's `queryTimeout` around one request (its interruption cancels the request as a caller's would). */
  const bounded = QueryTimeout.bounded(parts.queryTimeout)

  /**
   * Runs as a request of user SQL is answered, before the caller sees it: DEALLOCATE ALL or DISCARD ALL empty the
   * statement cache; after a request that may have changed a setting the text decoders depend on, the server is
   * asked (2.0 has no ParameterStatus) and a value they cannot read breaks the session, as on 3.x.
   */
  const serverMajor = Number.parseInt(parts.parameters.get("server_version") ?? "0", 10)
  const checkStyles = (request: ResultsRequest, answer: () => void): void => {
    // DEALLOCATE ALL and DISCARD ALL drop the cached statements with the rest.
    if (request.tags.some((tag) => tag === "DEALLOCATE ALL" || tag === "DISCARD ALL")) {
      cache.clear()
      undeallocated.length = 0
    }
    // Not inside a block known to be failed (the names exist, so DEALLOCATE can only fail there).
    if (undeallocated.length > 0 && wire.status !== "E") deallocate(undeallocated.splice(0))
    if (request.brokenWith !== undefined || !Styles.mayChange(request.sql, request.tags)) return answer()
    const check = new ResultsRequest(Styles.CHECK_SQL, registry, { rowMode: "array" }, (c) => {
      const found = c.serverError === undefined && c.brokenWith === undefined
        ? Styles.problem(c.results[0]?.rows[0] as ReadonlyArray<unknown> | undefined, serverMajor)
        : undefined
      if (found !== undefined) {
        const error = configError(found.message, found.parameter)
        request.brokenWith = error
        wire.breakWith(error)
      }
      answer()
    })
    check.statusEffect = "probe"
    wire.submitFirst(check)
  }

  // -- waiting and the cancellation sequence ---------------------------------------------------------------------

  const awaitDone = (request: V2Request, within: typeof DRAIN_TIMEOUT): Effect.Effect<boolean> =>
    Effect.callback<void>((resume) => request.whenDone(() => resume(Effect.void))).pipe(
      Effect.timeoutOption(within),
      Effect.map(Option.isSome)
    )

  /** What an interrupted caller runs for `request`. */
  const abandon = (request: V2Request, onDrop?: () => void): Effect.Effect<void> =>
    Effect.suspend(() => {
      request.discard = true
      onDrop?.()
      if (request.done || wire.withdraw(request)) return Effect.void
      if (request instanceof Copy.CopyInRequest && request.started) {
        wire.breakWith(
          new PgError({
            reason: new ConnectionError({
              message:
                "COPY FROM STDIN was interrupted: protocol 2.0 can only abort it by closing the connection (the server rolled the copy back)",
              requestSent: true
            })
          })
        )
        return Effect.void
      }
      wire.hold()
      return Effect.gen(function*() {
        if (yield* awaitDone(request, CANCEL_GRACE)) return
        const key = wire.secretKey
        if (key === undefined) {
          wire.breakWith(
            new PgError({ reason: new CancelError({ message: "the server sent no BackendKeyData: a query cannot be cancelled" }) })
          )
          return
        }
        const sent = yield* Effect.exit(sendCancel(parts.openSide, wire.processId, key))
        if (Exit.isFailure(sent)) {
          wire.breakWith(new PgError({ reason: new CancelError({ message: "the cancel request failed", cause: sent.cause }) }))
          return
        }
        if (!(yield* awaitDone(request, DRAIN_TIMEOUT))) {
          wire.breakWith(
            new PgError({
              reason: new TimeoutError({
                message: `the session did not drain within ${DRAIN_TIMEOUT_MILLIS} ms after a cancel`,
                operation: "drain",
                timeoutMillis: DRAIN_TIMEOUT_MILLIS
              })
            })
          )
        }
      }).pipe(Effect.ensuring(Effect.sync(() => wire.release())))
    })

  /** Runs a Query and waits for all of it (and for the types of rows kept as bytes). */
  const run = (sql: string, options: ResultsOptions, effect: Status.Effect): Effect.Effect<ResultsRequest, PgError> =>
    Effect.flatMap(
      Effect.callback<ResultsRequest, PgError>((resume) => {
        const request = new ResultsRequest(sql, registry, { needsTypes, settle: checkStyles, ...options }, (r) => resume(Effect.succeed(r)))
        request.statusEffect = effect
        wire.submit(request)
        if (request.done) return
        return abandon(request)
      }),
      (request) => request.undecoded.length === 0 ? Effect.succeed(request) : Effect.as(decodeLater(request), request)
    )

  /** Looks the unknown types of kept rows up in pg_type (once per session), then decodes the rows. */
  const decodeLater = (request: ResultsRequest): Effect.Effect<void> =>
    Effect.gen(function*() {
      const oids = [...new Set(request.undecoded.flatMap((u) => registry.unknownOids(u.description.map((f) => f.dataTypeOid))))]
        .filter((oid) => !lookedUp.has(oid))
      if (oids.length > 0 && !wire.isClosed) {
        for (const oid of oids) lookedUp.add(oid)
        const versionNum = Number.parseInt(parts.parameters.get("server_version") ?? "0", 10) * 10000
        const found = yield* Effect.exit(rawQuery<ReadonlyArray<unknown>>(Catalog.typeQuery(versionNum), [oids], { rowMode: "array" }))
        if (found._tag === "Success") {
          try {
            const rows = found.value.rows
            registry = registry.withTypes(rows.map((row) =>
              Catalog.rowFromText(row.map((v) => v === null || v === undefined ? null : typeof v === "object" ? JSON.stringify(v) : String(v)))
            ))
          } catch {
            // Unreadable catalog rows: the types stay unknown and decode as text.
          }
        }
      }
      for (const u of request.undecoded) {
        const reader = new RowReader(u.description, registry, request.options.rowMode)
        try {
          for (const row of u.raw) u.rows.push(reader.read(row.values, row.format))
        } catch (e) {
          request.clientError ??= e instanceof PgError ? e : new PgError({ reason: new CodecError({ message: String(e) }) })
        }
        u.raw.length = 0
      }
    })

  const runResults = (sql: string, options: ResultsOptions, effect: Status.Effect) =>
    Effect.flatMap(run(sql, options, effect), outcome)

  /**
   * DEALLOCATE, written and not awaited (its reply is read in order and dropped). Inside a failed transaction block
   * it fails: the names not deallocated wait in `undeallocated` and go again after a later request that does not
   * leave the session in a block known to be failed (`checkStyles`), so no statement is left on the server.
   */
  const deallocate = (names: ReadonlyArray<string>): void => {
    if (names.length === 0 || wire.isClosed) return
    const request = new ResultsRequest(names.map((n) => `DEALLOCATE ${n}`).join(";\n"), registry, { rowMode: "array" }, (r) => {
      if (r.serverError === undefined) return
      // The string stopped at its first error: in a failed block every name is still there; outside one the
      // failing name is gone (DEALLOCATE ALL ran) and the rest are.
      undeallocated.push(...names.slice(wire.status === "I" ? r.tags.length + 1 : r.tags.length))
    })
    request.statusEffect = "keep"
    wire.submit(request)
  }

  const plan = (sql: string, params: ReadonlyArray<unknown>, unnamed = false) =>
    Effect.try({ try: () => cache.plan(registry, sql, params, unnamed), catch: (e) => e instanceof PgError ? e : new PgError({ reason: new CodecError({ message: String(e) }) }) })

  /** The last visible result of a Query. */
  const lastResult = (results: ReadonlyArray<QueryResult<unknown>>): QueryResult<unknown> =>
    results[results.length - 1] ?? { rows: [], fields: [], command: "", rowCount: null, notices: [] }

  const rawQuery = <R>(sql: string, params: ReadonlyArray<unknown>, options?: QueryOptions): Effect.Effect<QueryResult<R>, PgError> => {
    const rowMode = options?.rowMode ?? "object"
    if (params.length === 0) {
      return Effect.map(runResults(sql, { rowMode }, "unknown"), (results) => lastResult(results) as QueryResult<R>)
    }
    return Effect.flatMap(plan(sql, params, options?.prepare === false), (p) =>
      Effect.flatMap(run(p.sql, { rowMode, hidden: p.hidden }, "keep"), (request) => {
        deallocate(cache.settle(p, request.tags))
        if (request.serverError !== undefined) {
          const error = Statements.explain(p, request.serverError, request.completedBeforeError)
          if (p.prepares) return Effect.fail(error)
          // A cached statement is evicted only outside a transaction block: in a failed one DEALLOCATE would fail
          // too and leave the statement on the server with no name in the cache (a later failure outside evicts it).
          return Effect.andThen(
            Effect.map(transactionStatus, (status) => {
              if (status === "I") deallocate(cache.evict(p))
            }),
            Effect.fail(error)
          )
        }
        const failure = failureOf(request)
        if (failure !== undefined) return Effect.fail(failure)
        return Effect.succeed(lastResult(request.results) as QueryResult<R>)
      }))
  }

  const query: Session["query"] = (
    sql: string,
    params: ReadonlyArray<unknown> = [],
    options?: QueryOptions & { readonly schema?: Schema.Decoder<unknown> }
  ) => {
    const schema = options?.schema
    if (schema === undefined) return bounded(rawQuery(sql, params, options)) as never
    const decode = rowDecoder(schema)
    return Effect.flatMap(bounded(rawQuery(sql, params, options)), (result) =>
      Effect.map(Effect.forEach(result.rows, decode), (rows) => ({ ...result, rows }))) as never
  }

  /** The transaction status, asking the server when the SQL run since makes it unknown (M21). */
  const transactionStatus: Effect.Effect<"I" | "T" | "E"> = Effect.suspend(() => {
    if (wire.status !== "unknown") return Effect.succeed(wire.status)
    if (wire.isClosed) return Effect.succeed("I" as const)
    return Effect.map(Effect.exit(run(Status.PROBE_SQL, { rowMode: "array" }, "probe")), (exit) => {
      let status: "I" | "T" | "E" = "E"
      if (Exit.isSuccess(exit)) {
        const request = exit.value
        if (request.serverError !== undefined) status = "E"
        else if (request.brokenWith !== undefined) status = "I"
        else status = (request.results[0]?.rows[0] as Array<unknown> | undefined)?.[0] === false ? "T" : "I"
      }
      if (!wire.isClosed && wire.status === "unknown") wire.status = status
      return status
    })
  })

  // -- streams -------------------------------------------------------------------------------------------------

  const streamRows = Streams.makeStreamRows({
    wire,
    registry: () => registry,
    plan: (sql, params) => plan(sql, params),
    settlePlan: (p, tags) => deallocate(cache.settle(p, tags)),
    settle: checkStyles,
    abandon,
    runResults,
    transactionStatus,
    streamPageSize: parts.streamPageSize
  })

  const stream: Session["stream"] = (
    sql: string,
    params: ReadonlyArray<unknown> = [],
    options?: StreamOptions & { readonly schema?: Schema.Decoder<unknown> }
  ) => {
    const schema = options?.schema
    const rows = streamRows(sql, params, options)
    return (schema === undefined ? rows : Stream.mapEffect(rows, rowDecoder(schema))) as never
  }

  const simple = (sql: string, options?: QueryOptions) =>
    bounded(runResults(sql, { rowMode: options?.rowMode ?? "object" }, Status.classify(sql))) as Effect.Effect<
      ReadonlyArray<QueryResult<Row>>,
      PgError
    >

  /** One multi-statement Query (one implicit transaction); statements with parameters as PREPARE, EXECUTE, DEALLOCATE. */
  const batch = (items: ReadonlyArray<BatchItem>, options?: QueryOptions) =>
    bounded(Effect.gen(function*() {
      if (items.length === 0) return [] as ReadonlyArray<QueryResult<Row>>
      const parts: Array<string> = []
      const hidden = new Set<number>()
      const prepared: Array<{ readonly name: string; readonly at: number }> = []
      /** Items with no statement: the server gives them no result in a string of several, 3.x an empty one. */
      const empty: Array<number> = []
      for (const [index, item] of items.entries()) {
        const params = item.params ?? []
        // Each item must give exactly one result, or the results (and the hidden ones) would be out of place.
        const count = Literal.statementCount(item.sql)
        if (count === 2) {
          return yield* configError(`batch item ${index + 1} holds several statements: a batch item is one statement`, "sql")
        }
        if (params.length === 0) {
          if (count === 0) empty.push(index)
          else parts.push(Literal.trimStatement(item.sql))
          continue
        }
        const literals = yield* Effect.try({
          try: () => params.map((v, i) => Literal.parameterSql(registry, v, i + 1)),
          catch: (e) => e instanceof PgError ? e : new PgError({ reason: new CodecError({ message: String(e) }) })
        })
        const name = cache.nextName("pgwire_b")
        prepared.push({ name, at: parts.length })
        hidden.add(parts.length)
        parts.push(Literal.prepareSql(name, item.sql, Literal.declaredTypes(registry, params)))
        parts.push(Literal.executeSql(name, literals))
        hidden.add(parts.length)
        parts.push(`DEALLOCATE ${name}`)
      }
      const emptyResult = makeResult([], [], "", undefined)
      if (parts.length === 0) return items.map(() => emptyResult) as ReadonlyArray<QueryResult<Row>>
      // Each statement ends on a line of its own, so an item's trailing line comment cannot swallow the separator.
      const request = yield* run(parts.join(STATEMENT_SEPARATOR), { rowMode: options?.rowMode ?? "object", hidden: (i) => hidden.has(i) }, "unknown")
      // What was prepared and not deallocated (the string stopped at an error) is deallocated now.
      deallocate(prepared.filter((p) => request.tags[p.at] === "PREPARE" && request.tags[p.at + 2] !== "DEALLOCATE").map((p) => p.name))
      const results = [...(yield* outcome(request))]
      for (const index of empty) results.splice(index, 0, emptyResult)
      return results as ReadonlyArray<QueryResult<Row>>
    }))

  const functionCall: Session["functionCall"] = (functionOid, args, options) =>
    Effect.suspend(() => {
      if (options?.resultFormat === 0 || options?.argumentFormats?.includes(0) === true) {
        return Effect.fail(configError("protocol 2.0 function calls take and return binary values only", "resultFormat"))
      }
      const nulls = args.findIndex((a) => a === null)
      if (nulls >= 0) {
        return Effect.fail(
          new PgError({
            reason: new CodecError({ message: `argument ${nulls + 1} is NULL: protocol 2.0 function calls cannot carry NULL`, parameter: nulls + 1 })
          })
        )
      }
      return bounded(Effect.callback<FunctionCallResult, PgError>((resume) => {
        const request = new FunctionCallRequest(functionOid, args as ReadonlyArray<Uint8Array>, resume)
        wire.submit(request)
        if (request.done) return
        return abandon(request)
      }))
    })

  const prepare = Effect.fn("PgSession.prepare")(function*(sql: string, types: ReadonlyArray<number> = []) {
    const names: Array<string> = []
    for (const oid of types) {
      const name = oid === 0 ? "unknown" : registry.get(oid)?.name
      if (name === undefined) return yield* configError(`type ${oid} is not in the registry: protocol 2.0 names parameter types in PREPARE`, "types")
      names.push(oid === 0 ? name : `pg_catalog.${Literal.quoteIdentifier(name)}`)
    }
    const name = cache.nextName("pgwire_p")
    yield* Effect.acquireRelease(
      bounded(runResults(Literal.prepareSql(name, sql, names.length === 0 ? undefined : names), { rowMode: "array" }, "keep")),
      () =>
        Effect.suspend(() => {
          if (wire.isClosed) return Effect.void
          return runResults(`DEALLOCATE ${name}`, { rowMode: "array" }, "keep").pipe(
            Effect.timeoutOption(RELEASE_TIMEOUT_MILLIS),
            Effect.ignore
          )
        })
    )
    const described = yield* bounded(runResults(
      `SELECT parameter_types::oid[] FROM pg_catalog.pg_prepared_statements WHERE name = ${Literal.literal(name)}`,
      { rowMode: "array" },
      "keep"
    ))
    const parameterTypes = ((described[0]?.rows[0] as Array<unknown> | undefined)?.[0] as ReadonlyArray<number> | undefined) ?? []
    const execute = <R = Row>(params: ReadonlyArray<unknown> = [], options?: QueryOptions) =>
      Effect.flatMap(
        Effect.try({
          try: () => Literal.executeSql(name, params.map((v, i) => Literal.parameterSql(registry, v, i + 1))),
          catch: (e) => e instanceof PgError ? e : new PgError({ reason: new CodecError({ message: String(e) }) })
        }),
        (text) =>
          Effect.map(bounded(runResults(text, { rowMode: options?.rowMode ?? "object" }, "keep")), (r) =>
            lastResult(r) as QueryResult<R>)
      )
    const prepared: PreparedStatement = {
      name,
      sql,
      parameterTypes,
      fields: [],
      execute,
      stream: <R = Row>(params: ReadonlyArray<unknown> = [], options?: StreamOptions) =>
        stream<R>(sql, params, options)
    }
    return prepared
  })

  const copyFrom = (sql: string) => Copy.copyFrom(wire, sql, abandon)

  const copyTo = (sql: string) => Copy.copyTo(wire, sql, abandon)

  const checkChannel = (channel: string): Effect.Effect<void, PgError> => {
    const bytes = Buffer.byteLength(channel, "utf8")
    return bytes <= MAX_IDENTIFIER_BYTES ? Effect.void : Effect.fail(
      new PgError({
        reason: new CodecError({ message: `channel name of ${bytes} bytes: PostgreSQL keeps at most ${MAX_IDENTIFIER_BYTES}` })
      })
    )
  }

  const listen = Effect.fn("PgSession.listen")(function*(channel: string) {
    yield* checkChannel(channel)
    let subscribers = parts.listeners.get(channel)
    if (subscribers === undefined) {
      yield* runResults(`LISTEN ${Literal.quoteIdentifier(channel)}`, { rowMode: "array" }, "keep")
      subscribers = parts.listeners.get(channel) ?? new Set()
      parts.listeners.set(channel, subscribers)
    }
    const current = subscribers
    const queue = yield* Effect.acquireRelease(
      Queue.unbounded<Notification, PgError | Cause.Done>().pipe(
        Effect.tap((q) => Effect.sync(() => current.add(q)))
      ),
      (q) =>
        Effect.gen(function*() {
          current.delete(q)
          yield* Queue.shutdown(q)
          if (current.size === 0 && parts.listeners.get(channel) === current) {
            parts.listeners.delete(channel)
            if (!wire.isClosed) {
              const request = new ResultsRequest(`UNLISTEN ${Literal.quoteIdentifier(channel)}`, registry, { rowMode: "array" }, () => {})
              request.statusEffect = "keep"
              wire.submit(request)
            }
          }
        })
    )
    return Stream.fromQueue(queue)
  })

  const notify = (channel: string, payload = "") =>
    checkChannel(channel).pipe(
      Effect.andThen(runResults(`SELECT pg_catalog.pg_notify(${Literal.literal(channel)}, ${Literal.literal(payload)})`, { rowMode: "array" }, "keep")),
      Effect.asVoid
    )

  const cancel = Effect.suspend(() =>
    wire.isClosed || wire.secretKey === undefined ? Effect.void : sendCancel(parts.openSide, wire.processId, wire.secretKey)
  )

  const queryTracked = <R>(
    sql: string,
    params: ReadonlyArray<unknown> | undefined,
    options: QueryOptions | undefined,
    tracker: QueryTracker
  ) =>
    Effect.suspend(() => {
      tracker.start()
      return bounded(rawQuery<R>(sql, params ?? [], options)).pipe(Effect.ensuring(Effect.sync(() => tracker.finish())))
    })

  wire.onClose(() => {
    cache.clear()
    for (const subscribers of parts.listeners.values()) {
      for (const q of subscribers) Queue.failCauseUnsafe(q, Cause.fail(wire.closedWith!))
    }
  })

  return Facade.make(wire, {
    processId: wire.processId,
    protocolVersion: { major: 2, minor: 0 },
    unsupportedProtocolOptions: [],
    encrypted: parts.encrypted,
    parameterChanges: Stream.never,
    transactionStatus,
    notices: Stream.fromPubSub(parts.noticeHub),
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
    parameters: () => parts.parameters,
    registry: () => registry,
    settled: Effect.callback<void>((resume) => wire.whenIdle(() => resume(Effect.void))),
    onClose: (f) => wire.onClose(f),
    queryTracked
  })
}
