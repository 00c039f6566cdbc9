/**
 * Spans and metrics for every operation of a session: `observe` takes a
 * `Session` and returns one whose operations each run in a client span named
 * and attributed per OpenTelemetry's database conventions, a child of the
 * caller's span, and record `db.client.operation.duration`.
 *
 * **Details**
 *
 * - Attributes at the start: `db.system.name` = "postgresql", `db.namespace`
 *   (the database), `server.address`, `server.port`, `network.peer.address`,
 *   `network.peer.port`, `db.operation.name`, `db.collection.name` (when the
 *   statement names exactly one table), `db.query.summary` (also the span's
 *   name), `db.query.text` with every literal replaced by `?`
 *   (`QuerySummary`), and `db.operation.batch.size` for batches. Parameter
 *   values are never read.
 * - At the end: `db.response.returned_rows` (rows received, for queries,
 *   streams and COPY TO), and on failure `db.response.status_code` (the
 *   SQLSTATE, for a server error) and `error.type` (the SQLSTATE, the
 *   reason's tag such as `ConnectionError`, or `interrupted`).
 * - A stream's span runs from its first pull to its end; a prepared
 *   statement's `execute` and `stream` get spans of their own; LISTEN's span
 *   covers its confirmation.
 * - With no tracer installed (the active tracer is Effect's `nativeTracer`),
 *   no span is made: the operation runs as it is, with one clock reading on
 *   each side for the duration metric, its ending recorded synchronously
 *   (`onExitPrimitive`, no finalizer effect), and its operation name and
 *   success histogram looked up once per statement text and session. With
 *   `metrics: false` (`ObserveSessions` "spans") it runs as it is, after one
 *   look at the fiber's tracer, and nothing is recorded.
 *
 * The wrapper applies to any `Session` (the connection it wraps is not
 * looked at), once, where sessions are opened (`Connect`).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import { Clock as ClockRef } from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as Metric from "effect/Metric"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { PgError } from "../errors/PgError.ts"
import type { PreparedStatement, Session } from "./Api.ts"
import { LenderKey } from "./Lender.ts"
import { type ProtocolLog, register } from "./ProtocolLog.ts"
import { summaryOf } from "./QuerySummary.ts"
import type { QueryResult } from "./Result.ts"
import { type ServerAttributes, SessionMetrics } from "./SessionMetrics.ts"
import type { TraceSwitch } from "./Tracer.ts"

/**
 * Whether sessions opened from now on are wrapped by `observe`: `true`
 * (default) for spans and metrics, `"spans"` for spans only (without a
 * tracer an operation then costs one look at the fiber's tracer, and no
 * metric is recorded), `false` to leave the session as the engine made it.
 *
 * @since 0.1.0
 */
export const ObserveSessions = Context.Reference<boolean | "spans">("effect-pgwire/session/ObserveSessions", {
  defaultValue: () => true
})

/**
 * Where the session is connected, and the counters it keeps.
 *
 * @since 0.1.0
 */
export interface Target {
  readonly database: string
  /** The host name as configured (`server.address`). */
  readonly serverAddress: string
  readonly serverPort: number
  /** The address connected to: an IP address or a Unix socket directory (`network.peer.address`). */
  readonly peerAddress?: string | undefined
  readonly peerPort?: number | undefined
  /** Bytes each way (the connection's trace switch counts them). */
  readonly traffic?: TraceSwitch | undefined
  /** The statement cache's counters. */
  readonly cache?: { readonly hits: number; readonly misses: number } | undefined
}

/**
 * How often, at most, the bytes and statement cache counters are published
 * after an operation without a span (with a span: after each).
 */
export const FLUSH_INTERVAL_MILLIS = 100

/**
 * Statement texts whose operations (summary, name, success histogram) a
 * session keeps, so an operation without a span costs one lookup; past it
 * the session's cache starts over.
 */
export const OPERATION_CACHE_SIZE = 256

/** Metrics per server, shared by its sessions. */
const metricsByServer = new Map<string, SessionMetrics>()

const metricsFor = (attributes: ServerAttributes): SessionMetrics => {
  const key = `${attributes["server.address"]}\u0000${attributes["server.port"]}\u0000${attributes["db.namespace"]}`
  let metrics = metricsByServer.get(key)
  if (metrics === undefined) {
    metrics = new SessionMetrics(attributes)
    metricsByServer.set(key, metrics)
  }
  return metrics
}

/**
 * What a failure is, for `error.type`: the SQLSTATE of a server error (or
 * `ServerError` when a protocol 2.0 error has none), the reason's tag of
 * another `PgError`, `interrupted`, or `_OTHER`.
 *
 * @since 0.1.0
 */
export const errorTypeOf = (cause: Cause.Cause<unknown>): { readonly type: string; readonly status?: string } => {
  if (Cause.hasInterruptsOnly(cause)) return { type: "interrupted" }
  const error = Cause.squash(cause)
  if (error instanceof PgError) {
    const reason = error.reason
    // A protocol 2.0 error carries no SQLSTATE unless one was recovered from its text.
    if (reason._tag === "ServerError" && reason.code !== "") return { type: reason.code, status: reason.code }
    return { type: reason._tag }
  }
  return { type: "_OTHER" }
}

/** What one operation is, before it runs. */
interface Operation {
  /** `db.operation.name`. */
  readonly name: string
  /** The duration histogram of its successes, once looked up. */
  success?: Metric.Histogram<number> | undefined
  /** The span's name (`db.query.summary`, or the operation). */
  readonly summary: () => string
  /** Only built for a span. */
  readonly attributes: () => Record<string, unknown>
}

/**
 * Whether spans would go anywhere: a tracer other than Effect's default one,
 * and tracing not disabled.
 *
 * @since 0.1.0
 */
export const isTraced = (fiber: Fiber.Fiber<unknown, unknown>): boolean => {
  const tracer = fiber.cache.tracer
  return tracer !== undefined && tracer !== Tracer.nativeTracer && fiber.cache.tracerEnabled
}

/**
 * Wraps `session`: every operation in a span (when a tracer is installed) and
 * in the duration metric.
 *
 * @since 0.1.0
 */
export const observe = (session: Session, target: Target, options?: { readonly metrics?: boolean | undefined }): Session => {
  /** Whether operations record metrics (`ObserveSessions` not "spans"). */
  const recording = options?.metrics ?? true
  const server: ServerAttributes = {
    "db.system.name": "postgresql",
    "db.namespace": target.database,
    "server.address": target.serverAddress,
    "server.port": target.serverPort
  }
  const metrics = metricsFor(server)
  const base: Record<string, unknown> = {
    ...server,
    ...(target.peerAddress === undefined ? {} : { "network.peer.address": target.peerAddress }),
    ...(target.peerPort === undefined ? {} : { "network.peer.port": target.peerPort })
  }
  // Counters already published.
  let sent = 0
  let received = 0
  let hits = 0
  let misses = 0
  let flushedAt = 0
  let lastContext: Context.Context<never> | undefined
  // What was counted since the last publication is published when the session closes.
  session[LenderKey].onClose(() => {
    if (recording && lastContext !== undefined) flush(lastContext)
  })

  /** Publishes what the connection counted since the last operation ended. */
  const flush = (context: Context.Context<never>): void => {
    const traffic = target.traffic
    if (traffic !== undefined) {
      if (traffic.bytesOut > sent) {
        metrics.bytesSent.updateUnsafe(traffic.bytesOut - sent, context)
        sent = traffic.bytesOut
      }
      if (traffic.bytesIn > received) {
        metrics.bytesReceived.updateUnsafe(traffic.bytesIn - received, context)
        received = traffic.bytesIn
      }
    }
    const cache = target.cache
    if (cache !== undefined) {
      if (cache.hits > hits) {
        metrics.cacheHits.updateUnsafe(cache.hits - hits, context)
        hits = cache.hits
      }
      if (cache.misses > misses) {
        metrics.cacheMisses.updateUnsafe(cache.misses - misses, context)
        misses = cache.misses
      }
    }
  }

  const statement = (prefix: string | undefined, sql: string): Operation => {
    const s = summaryOf(sql)
    const verb = s.operation === "" ? (prefix ?? "QUERY") : s.operation
    const name = prefix === undefined ? verb : `${prefix} ${verb}`
    const summary = () => prefix === undefined ? (s.summary === "" ? name : s.summary) : `${prefix} ${s.summary || verb}`
    return {
      name,
      summary,
      attributes: () => ({
        ...base,
        "db.operation.name": name,
        "db.query.summary": summary(),
        "db.query.text": s.sanitized,
        ...(s.collections.length === 1 ? { "db.collection.name": s.collections[0] } : {})
      })
    }
  }

  // The operations of the statement texts this session ran (no prefix), looked up once each.
  let operations = new Map<string, Operation>()
  const statementOf = (sql: string): Operation => {
    let operation = operations.get(sql)
    if (operation === undefined) {
      if (operations.size >= OPERATION_CACHE_SIZE) operations = new Map()
      operation = statement(undefined, sql)
      operations.set(sql, operation)
    }
    return operation
  }

  const named = (name: string): Operation => ({
    name,
    summary: () => name,
    attributes: () => ({ ...base, "db.operation.name": name, "db.query.summary": name })
  })

  /** Ends an operation: the metric, and the span's closing attributes. */
  const finish = (
    context: Context.Context<never>,
    operation: Operation,
    exit: Exit.Exit<unknown, unknown>,
    startMillis: number,
    rows: number | undefined,
    span: Tracer.Span | undefined
  ): void => {
    const failure = Exit.isFailure(exit) ? errorTypeOf(exit.cause) : undefined
    if (recording) {
      const now = performance.now()
      lastContext = context
      const histogram = failure === undefined
        ? (operation.success ??= metrics.duration(operation.name, undefined))
        : metrics.duration(operation.name, failure.type)
      histogram.updateUnsafe((now - startMillis) / 1000, context)
      if (now - flushedAt >= FLUSH_INTERVAL_MILLIS || span !== undefined) {
        flushedAt = now
        flush(context)
      }
    }
    if (span === undefined) return
    if (rows !== undefined) span.attribute("db.response.returned_rows", rows)
    if (failure !== undefined) {
      span.attribute("error.type", failure.type)
      if (failure.status !== undefined) span.attribute("db.response.status_code", failure.status)
    }
  }

  /** `effect` in a span (made, attributed and ended here) when `fiber` has a tracer. */
  const traced = <A, E, R>(
    fiber: Fiber.Fiber<unknown, unknown>,
    operation: Operation,
    effect: Effect.Effect<A, E, R>,
    rowsOf: ((a: A) => number | undefined) | undefined
  ): Effect.Effect<A, E, R> => {
    const start = performance.now()
    return Effect.useSpan(
      operation.summary(),
      { kind: "client", attributes: operation.attributes() },
      (span) =>
        // Not made the parent of `effect`: a session operation opens no span of its own below it.
        Effect.onExitPrimitive(effect, (exit) => {
          finish(
            fiber.context,
            operation,
            exit,
            start,
            Exit.isSuccess(exit) && rowsOf !== undefined ? rowsOf(exit.value) : undefined,
            span
          )
          return undefined
        })
    )
  }

  /**
   * The hot path, for a statement text (`query`, `simple`, a prepared
   * statement's `execute`): without a tracer, one clock reading on each side
   * and the histogram update, the operation looked up only at the end, and
   * nothing allocated but the two steps (the fiber's access and the exit's
   * observer). (The observer stays uninterruptible, `onExitPrimitive`'s
   * default: an interruptible one is skipped when the fiber is interrupted,
   * and the interruption would not be counted.)
   */
  const runStatement = <A, E, R>(
    sql: string,
    effect: Effect.Effect<A, E, R>,
    rowsOf: (a: A) => number | undefined
  ): Effect.Effect<A, E, R> =>
    Effect.withFiber((fiber) => {
      if (isTraced(fiber)) return traced(fiber, statementOf(sql), effect, rowsOf)
      if (!recording) return effect
      const start = performance.now()
      return Effect.onExitPrimitive(effect, (exit) => {
        finish(fiber.context, statementOf(sql), exit, start, undefined, undefined)
        return undefined
      })
    })

  /** Any other operation, described when it starts. */
  const run = <A, E, R>(
    describe: () => Operation,
    effect: Effect.Effect<A, E, R>,
    rowsOf?: (a: A) => number | undefined
  ): Effect.Effect<A, E, R> =>
    Effect.withFiber((fiber) => {
      if (!recording && !isTraced(fiber)) return effect
      const operation = describe()
      if (isTraced(fiber)) return traced(fiber, operation, effect, rowsOf)
      const start = performance.now()
      return Effect.onExitPrimitive(effect, (exit) => {
        finish(fiber.context, operation, exit, start, undefined, undefined)
        return undefined
      })
    })

  /** A stream observed from its first pull to its end; `count` tells how many rows an element holds. */
  const runStream = <A, E>(describe: () => Operation, stream: Stream.Stream<A, E>, count: boolean) =>
    Stream.unwrap(Effect.withFiber((fiber) => {
      const traced = isTraced(fiber)
      if (!traced && !recording) return Effect.succeed(stream)
      const operation = describe()
      const start = performance.now()
      let rows = 0
      const counted = count && traced
        ? Stream.mapArray(stream, (chunk) => {
          rows += chunk.length
          return chunk
        })
        : stream
      const ended = Stream.onExit(counted, (exit) =>
        traced
          ? Effect.flatMap(Effect.currentSpan.pipe(Effect.orElseSucceed(() => undefined)), (span) =>
            Effect.sync(() => finish(fiber.context, operation, exit, start, count ? rows : undefined, span)))
          : Effect.sync(() => finish(fiber.context, operation, exit, start, undefined, undefined)))
      // No stack trace: it would point here, and capturing one costs an Error per stream.
      return Effect.succeed(
        traced ? Stream.withSpan(ended, operation.summary(), {
          kind: "client",
          attributes: operation.attributes(),
          captureStackTrace: false
        }) : ended
      )
    }))

  const rowCount = (result: QueryResult<unknown>): number => result.rows.length
  const rowCounts = (results: ReadonlyArray<QueryResult<unknown>>): number => {
    let n = 0
    for (const r of results) n += r.rows.length
    return n
  }

  const wrapPrepared = (prepared: PreparedStatement): PreparedStatement => ({
    ...prepared,
    execute: (params, options) =>
      runStatement(prepared.sql, prepared.execute(params, options), rowCount),
    stream: (params, options) => runStream(() => statementOf(prepared.sql), prepared.stream(params, options), true)
  })

  // The operations without a statement text, described once per session (with their success histograms).
  const once = (operation: Operation) => () => operation
  const listenOperation = once(named("LISTEN"))
  const notifyOperation = once(named("NOTIFY"))
  const functionCallOperation = once(named("FUNCTION CALL"))
  const cancelOperation = once(named("CANCEL"))

  const lender = session[LenderKey]
  return {
    get processId() {
      return session.processId
    },
    protocolVersion: session.protocolVersion,
    unsupportedProtocolOptions: session.unsupportedProtocolOptions,
    encrypted: session.encrypted,
    parameters: session.parameters,
    parameterChanges: session.parameterChanges,
    transactionStatus: session.transactionStatus,
    notices: session.notices,
    query: ((sql: string, params?: ReadonlyArray<unknown>, options?: never) =>
      runStatement(sql, session.query(sql, params, options), rowCount)) as Session["query"],
    stream: ((sql: string, params?: ReadonlyArray<unknown>, options?: never) =>
      runStream(() => statementOf(sql), session.stream(sql, params, options), true)) as Session["stream"],
    simple: (sql, options) => runStatement(sql, session.simple(sql, options), rowCounts),
    batch: (items, options) =>
      run(() => batchOperation(items.map((item) => item.sql)), session.batch(items, options), rowCounts),
    prepare: (sql, types) =>
      Effect.map(run(() => statement("PREPARE", sql), session.prepare(sql, types)), wrapPrepared),
    copyFrom: (sql) => observeSink(() => statementOf(sql), session.copyFrom(sql)),
    copyTo: (sql) => runStream(() => statementOf(sql), session.copyTo(sql), false),
    listen: (channel) => run(listenOperation, session.listen(channel)),
    notify: (channel, payload) => run(notifyOperation, session.notify(channel, payload)),
    functionCall: (oid, args, options) => run(functionCallOperation, session.functionCall(oid, args, options)),
    cancel: run(cancelOperation, session.cancel),
    isClosed: session.isClosed,
    [LenderKey]: {
      ...lender,
      queryTracked: (sql, params, options, tracker) =>
        runStatement(sql, lender.queryTracked(sql, params, options, tracker), rowCount)
    },
    get registry() {
      return session.registry
    }
  }

  function batchOperation(texts: ReadonlyArray<string>): Operation {
    const verbs = new Set<string>()
    const tables: Array<string> = []
    for (const text of texts) {
      const s = summaryOf(text)
      verbs.add(s.operation)
      for (const t of s.collections) if (!tables.includes(t)) tables.push(t)
    }
    const verb = verbs.size === 1 ? [...verbs][0]! : ""
    const name = verb === "" ? "BATCH" : `BATCH ${verb}`
    const summary = [name, ...tables].join(" ")
    return {
      name,
      summary: () => summary,
      attributes: () => ({
        ...base,
        "db.operation.name": name,
        "db.query.summary": summary,
        "db.operation.batch.size": texts.length,
        ...(tables.length === 1 ? { "db.collection.name": tables[0] } : {})
      })
    }
  }

  function observeSink<A, In, L, E>(describe: () => Operation, sink: Sink.Sink<A, In, L, E>): Sink.Sink<A, In, L, E> {
    return Sink.unwrap(Effect.withFiber((fiber) => {
      if (!recording && !isTraced(fiber)) return Effect.succeed(sink)
      const operation = describe()
      const start = performance.now()
      const ended = (span: Tracer.Span | undefined) =>
        Sink.onExit(sink, (exit) => Effect.sync(() => finish(fiber.context, operation, exit, start, undefined, span)))
      if (!isTraced(fiber)) return Effect.succeed(ended(undefined))
      // The span ends with the sink's scope, after its exit was recorded.
      return Effect.map(
        Effect.makeSpanScoped(operation.summary(), { kind: "client", attributes: operation.attributes() }),
        ended
      )
    }))
  }
}

/**
 * What `connect` knows of the session it opened.
 *
 * @since 0.1.0
 */
export interface Opened {
  readonly database: string
  readonly host: string
  readonly port: number
  readonly address: string
  readonly log: ProtocolLog
  readonly cache: { readonly hits: number; readonly misses: number } | undefined
}

/**
 * The session `connect` returns: registered for `setProtocolTrace`, the
 * connect span annotated with where it went, and wrapped by `observe` unless
 * `ObserveSessions` is false (without metrics when it is "spans").
 *
 * @since 0.1.0
 */
export const opened = (session: Session, info: Opened): Effect.Effect<Session> =>
  Effect.withFiber((fiber) => {
    register(session, info.log)
    const parent = fiber.cache.span
    if (parent !== undefined && parent._tag === "Span") {
      parent.attribute("db.system.name", "postgresql")
      parent.attribute("db.namespace", info.database)
      parent.attribute("server.address", info.host)
      parent.attribute("server.port", info.port)
      parent.attribute("network.peer.address", info.address)
    }
    const mode = fiber.getRef(ObserveSessions)
    if (mode === false) return Effect.succeed(session)
    const wrapped = observe(session, {
      database: info.database,
      serverAddress: info.host,
      serverPort: info.port,
      peerAddress: info.address,
      peerPort: info.address.startsWith("/") ? undefined : info.port,
      traffic: info.log.traceSwitch,
      cache: info.cache
    }, { metrics: mode !== "spans" })
    register(wrapped, info.log)
    return Effect.succeed(wrapped)
  })

/**
 * Records one host attempt of `connect` as an event of its span: the host,
 * the encryption tried, and the outcome (`ok` or the error's type); a
 * successful one adds `tls` (when encrypted) and `authenticated`.
 *
 * @since 0.1.0
 */
export const attemptEvent = (
  attempt: { readonly host: string; readonly port: number },
  encryption: string,
  exit: Exit.Exit<readonly [unknown, Session], unknown>
): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    const span = fiber.cache.span
    if (span === undefined || span._tag !== "Span" || !isTraced(fiber)) return Effect.void
    const now = fiber.getRef(ClockRef).currentTimeNanosUnsafe()
    const where = { "server.address": attempt.host, "server.port": attempt.port, "pgwire.encryption": encryption }
    if (Exit.isFailure(exit)) {
      span.event("connect.attempt", now, { ...where, "error.type": errorTypeOf(exit.cause).type })
      return Effect.void
    }
    span.event("connect.attempt", now, { ...where, outcome: "ok" })
    if (exit.value[1].encrypted) span.event("tls", now, where)
    span.event("authenticated", now, { ...where, "pgwire.protocol": `3.${exit.value[1].protocolVersion.minor}` })
    return Effect.void
  })

/**
 * `effect` in a span named `name` (kind internal, `db.system.name` and
 * `db.operation.name` set), when a tracer is installed; else `effect` as it
 * is. For what groups session operations: a transaction, a savepoint.
 *
 * @since 0.1.0
 */
export const grouped = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>,
  attributes?: Record<string, unknown>
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) =>
    isTraced(fiber)
      ? Effect.withSpan(effect, name, {
        attributes: { "db.system.name": "postgresql", "db.operation.name": name, ...attributes },
        captureStackTrace: false
      })
      : effect
  )
