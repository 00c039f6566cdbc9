/**
 * The engine of a session: the `Connection` plus what decides how requests run
 * and what happens once they are answered: the statement cache, the type
 * lookups (`TypeLookup`), interruption (`Interruption`), and the settle
 * decisions (`Settle`), carried out here in one place.
 *
 * **Details**
 *
 * The walk of a query: `Service` creates a `QueryRequest` and calls
 * `startQuery`, which binds a cached statement (or prepares one first, or goes
 * unnamed) and submits it to the `Connection`. The connection writes it, and
 * routes each reply frame to it through `State.step` (rows go to its row
 * receiver). On ReadyForQuery the request calls its owner, the engine's
 * `settleQuery`, which asks `Settle.decide` and carries the decision out:
 * answer the waiting fiber, look result types up first, or run once more.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Net from "node:net"
import { ConfigError, PgError } from "../errors/PgError.ts"
import type * as Backend from "../protocol/Backend.ts"
import { defaultRegistry, type Registry } from "../types/Registry.ts"
import type { Notification, SessionOptions } from "./Api.ts"
import { Connection, type Request } from "./Connection.ts"
import type { Encryption } from "./Establish.ts"
import { Interruption } from "./Interruption.ts"
import { Liveness, LISTEN_CHECK_INTERVAL_MILLIS, LIVENESS_CHECK_AFTER_MILLIS, LIVENESS_PROBE_TIMEOUT_MILLIS } from "./Liveness.ts"
import { declaredTypes, NO_PARAMS } from "./Frames.ts"
import { CloseRequest, PrepareRequest, type QueryOwner, type QueryRequest } from "./Requests.ts"
import { BatchRequest, BatchStatement, type ResultSetsOwner, type ResultSetsRequest } from "./ResultSets.ts"
import type { Field, Notice } from "./Result.ts"
import { decide, ENDS_TRANSACTION } from "./Settle.ts"
import { Statement, StatementCache } from "./Statement.ts"
import { checkParameter } from "./Startup.ts"
import { TypeLookup } from "./TypeLookup.ts"

/**
 * A LISTEN channel's subscribers, and the Effect that confirms the LISTEN.
 *
 * @since 0.1.0
 */
export interface Listener {
  readonly subscribers: Set<Queue.Queue<Notification, PgError | Cause.Done>>
  ready: Effect.Effect<void, PgError>
}

/**
 * The statement cache key: the SQL text, plus the declared parameter types
 * when any is not 0 (no allocation in the common all-inferred case).
 */
const statementKey = (registry: Registry, sql: string, params: ReadonlyArray<unknown>): string => {
  let key: string | undefined
  for (let i = 0; i < params.length; i++) {
    const v = params[i]
    const oid = v === null || v === undefined ? 0 : registry.parameterOid(v)
    if (oid !== 0) key = `${key ?? `${sql}\u0000`}${i}:${oid},`
  }
  return key ?? sql
}

/**
 * One session's engine.
 *
 * @since 0.1.0
 */
export class Engine {
  readonly conn: Connection
  readonly types: TypeLookup
  readonly interruption: Interruption
  readonly liveness: Liveness
  readonly cache: StatementCache | undefined
  readonly options: SessionOptions
  readonly openSide: Effect.Effect<Net.Socket, PgError>
  readonly noticeHub: PubSub.PubSub<Notice>
  readonly parameterHub: PubSub.PubSub<{ readonly name: string; readonly value: string }>
  readonly listeners = new Map<string, Listener>()
  /** How the connection is encrypted. */
  encryption: Encryption = "plain"
  /** `_pq_.` options the server did not recognise. */
  unsupportedProtocolOptions: ReadonlyArray<string> = []
  /** Told once when the connection closes or breaks (a pool frees the session's slot). */
  private closeListeners: Array<() => void> = []

  constructor(
    options: SessionOptions,
    openSide: Effect.Effect<Net.Socket, PgError>,
    noticeHub: PubSub.PubSub<Notice>,
    parameterHub: PubSub.PubSub<{ readonly name: string; readonly value: string }>
  ) {
    this.options = options
    const cacheSize = options.statementCacheSize ?? 256
    this.cache = cacheSize > 0 ? new StatementCache(cacheSize) : undefined
    this.openSide = openSide
    this.noticeHub = noticeHub
    this.parameterHub = parameterHub
    this.conn = new Connection(
      {
        onNotice: (notice) => {
          PubSub.publishUnsafe(this.noticeHub, notice)
        },
        onNotification: (processId, channel, payload) => {
          const listener = this.listeners.get(channel)
          if (listener === undefined) return
          const n: Notification = { processId, channel, payload }
          for (const q of listener.subscribers) Queue.offerUnsafe(q, n)
        },
        onParameterStatus: (name, value) => {
          PubSub.publishUnsafe(this.parameterHub, { name, value })
          const unusable = checkParameter(name, value)
          if (unusable !== undefined) {
            this.conn.breakWith(new PgError({ reason: new ConfigError({ message: unusable, parameter: name }) }))
          }
        },
        onClose: (error) => {
          for (const listener of this.listeners.values()) {
            for (const q of listener.subscribers) {
              if (error !== undefined) Queue.failCauseUnsafe(q, Cause.fail(error))
              else Queue.endUnsafe(q)
            }
          }
          this.listeners.clear()
          this.liveness.stop()
          this.interruption.notifySettled()
          const closeListeners = this.closeListeners
          this.closeListeners = []
          for (const f of closeListeners) f()
        },
        onIdle: () => this.interruption.notifySettled()
      },
      { maxMessageSize: options.maxMessageSize, maxPipelineDepth: options.maxPipelineDepth, trace: options.trace }
    )
    this.types = new TypeLookup(this.conn, options.registry ?? defaultRegistry)
    this.interruption = new Interruption(this.conn, openSide)
    this.liveness = new Liveness(this.conn, openSide, {
      checkAfter: options.livenessCheckAfter ?? LIVENESS_CHECK_AFTER_MILLIS,
      probeTimeout: options.livenessProbeTimeout ?? LIVENESS_PROBE_TIMEOUT_MILLIS,
      listenInterval: options.listenCheckInterval ?? LISTEN_CHECK_INTERVAL_MILLIS
    }, () => this.listeners.size > 0)
  }

  /** Calls `f` once when the connection closes or breaks (at once if it already has). */
  onClose(f: () => void): void {
    if (this.conn.isClosed) f()
    else this.closeListeners.push(f)
  }

  /**
   * When typed parameters name types the registry does not know (`PgTypes.typedAs`), looks the names up and then
   * calls `again` (unless the request is done by then): true when it did so, false when nothing needs looking up.
   */
  private typeNamesFirst(params: ReadonlyArray<unknown>, request: Request, again: () => void): boolean {
    const names = this.types.unknownTypeNames(params)
    if (names === undefined) return false
    this.types.ensureTypeNames(names, () => {
      if (!request.done) again()
    })
    return true
  }

  /** This session's registry: the configured one, extended with types looked up in pg_type. */
  get registry(): Registry {
    return this.types.registry
  }

  // -- statements -------------------------------------------------------------

  /**
   * Runs `start` with the cached statement for `sql` once it is prepared (or with
   * none when the cache is off). The cache key is the SQL text plus the types
   * declared for its parameters, so the same SQL with a differently typed
   * parameter is another statement. Named typed parameters (`PgTypes.typedAs`)
   * whose type the registry does not know are looked up first.
   */
  withStatement(
    sql: string,
    params: ReadonlyArray<unknown>,
    request: Request,
    start: (statement: Statement | undefined) => void,
    failed: (error: PgError) => void
  ): void {
    if (this.typeNamesFirst(params, request, () => this.withStatement(sql, params, request, start, failed))) return
    const cache = this.cache
    if (cache === undefined) return start(undefined)
    const key = statementKey(this.registry, sql, params)
    let statement = cache.get(key)
    if (statement === undefined || statement.state === "failed" || statement.state === "closed") {
      statement = new Statement(cache.nextName(), sql, declaredTypes(this.registry, params), key)
      const prepared = statement
      for (const evicted of cache.add(key, prepared)) this.closeStatement(evicted)
      this.conn.submit(
        new PrepareRequest(prepared, (error, parameterTypes, fields) =>
          this.describeStatement(prepared, error, parameterTypes, fields, (failure) => {
            if (failure !== undefined) cache.remove(key, prepared)
          }))
      )
    }
    if (statement.state === "ready") return start(statement)
    if (statement.state === "failed") {
      request.done = true
      return failed(statement.failure!)
    }
    const ready = statement
    ready.waiters.push((error) => {
      if (request.done) return
      if (error !== undefined) {
        request.done = true
        failed(error)
      } else start(ready)
    })
  }

  /**
   * Runs `start` once the result types of `sql` are known, without the statement cache: the unnamed statement is
   * parsed and described first (one round trip), and types the registry does not know are looked up. A stream hands
   * its rows over as they come, so, unlike a query, it cannot keep them as bytes until its ReadyForQuery and look
   * the types up then.
   */
  withResultTypes(
    sql: string,
    params: ReadonlyArray<unknown>,
    request: Request,
    start: () => void,
    failed: (error: PgError) => void
  ): void {
    if (this.typeNamesFirst(params, request, () => this.withResultTypes(sql, params, request, start, failed))) return
    const unnamed = new Statement("", sql, declaredTypes(this.registry, params))
    this.conn.submit(
      new PrepareRequest(unnamed, (error, _parameterTypes, fields) => {
        if (request.done) return
        if (error !== undefined) {
          request.done = true
          return failed(error)
        }
        this.types.ensureTypes((fields ?? []).map((f) => f.dataTypeOid), () => {
          if (!request.done) start()
        })
      })
    )
  }

  private statementCount = 0

  /** A statement name unique on this connection (from the cache's sequence when there is a cache). */
  nextStatementName(): string {
    return this.cache?.nextName() ?? `p${++this.statementCount}`
  }

  /**
   * Records a statement's description and settles it; types the registry does
   * not know are first looked up in pg_type (domains, enums, composites, ranges,
   * extension types), once per session. A failed lookup leaves them as text.
   */
  describeStatement(
    statement: Statement,
    error: PgError | undefined,
    parameterTypes: ReadonlyArray<number>,
    fields: ReadonlyArray<Field> | undefined,
    done: (error: PgError | undefined) => void
  ): void {
    if (error !== undefined) {
      statement.settle(error)
      return done(error)
    }
    this.types.ensureTypes([...parameterTypes, ...(fields ?? []).map((f) => f.dataTypeOid)], () => {
      statement.describe(parameterTypes, fields, this.registry)
      statement.settle(undefined)
      done(undefined)
    })
  }

  /** Closes a statement on the server (after every execution already written). */
  closeStatement(statement: Statement): void {
    if (statement.state === "closed") return
    statement.state = "closed"
    this.conn.submit(new CloseRequest("S", statement.name))
  }

  /** Evicts a statement the server no longer accepts (`isStaleStatementError`). */
  evict(statement: Statement): void {
    if (this.cache?.remove(statement.key, statement) === true) this.closeStatement(statement)
  }

  // -- queries ------------------------------------------------------------------

  /** The owner of queries run as named statements that a caller prepared (`prepare`): no re-runs, no cache. */
  readonly preparedOwner: QueryOwner = ((engine: Engine): QueryOwner => ({
    get registry(): Registry {
      return engine.registry
    },
    settleQuery: (request: QueryRequest): void => engine.answerQuery(request),
    release: (request: QueryRequest): void => engine.interruption.release(request)
  }))(this)

  readonly queryOwner: QueryOwner = ((engine: Engine): QueryOwner => ({
    /** Read when a request is encoded: the session's registry as it is then (it grows with pg_type lookups). */
    get registry(): Registry {
      return engine.registry
    },
    needsTypes: (oids: ReadonlyArray<number>): boolean => engine.types.needsTypes(oids),
    release: (request: QueryRequest): void => engine.interruption.release(request),
    settleQuery: (request: QueryRequest, status: Backend.TransactionStatus | undefined): void =>
      engine.settleQuery(request, status)
  }))(this)

  /** A query was answered (`status`) or failed (`undefined`): carries out `Settle.decide`. */
  settleQuery(request: QueryRequest, status: Backend.TransactionStatus | undefined): void {
    const decision = decide({
      discard: request.discard,
      hasRawRows: request.received.waitsForTypes,
      serverError: request.serverError,
      retries: request.retries,
      failedOnNamedStatement: request.statement !== undefined,
      atRiskOfStrayCancel: request.atRiskOfStrayCancel,
      endedTransaction: false
    }, status)
    switch (decision) {
      case "drop":
        return request.finish()
      case "lookUpTypes":
        return this.types.ensureTypes(request.received.waitingTypes(), () => {
          request.decodeKept(this.registry)
          this.answerQuery(request)
        })
      case "reprepare":
        this.evict(request.statement!)
        request.retries++
        request.reset(undefined)
        return this.startQuery(request, true)
      case "evict":
        this.evict(request.statement!)
        return this.answerQuery(request)
      case "rerun":
        request.retries++
        request.reset(request.statement)
        return this.startQuery(request, true, request.unnamed)
      case "answer":
        return this.answerQuery(request)
    }
  }

  /** Hands the query's outcome to its caller (unless the caller went away). */
  answerQuery(request: QueryRequest): void {
    request.finish()
    if (!request.discard) request.resume(request.outcome())
  }

  startQuery(request: QueryRequest, first = false, unnamed = false): void {
    request.unnamed = unnamed
    if (unnamed) {
      if (this.typeNamesFirst(request.params, request, () => this.startQuery(request, first, true))) return
      request.statement = undefined
      return first ? this.conn.submitFirst(request) : this.conn.submit(request)
    }
    // The hot path: a cached, prepared statement and no type to look up (no closures).
    const cache = this.cache
    if (cache !== undefined && !first && this.types.unknownTypeNames(request.params) === undefined) {
      const statement = cache.get(statementKey(this.registry, request.sql, request.params))
      if (statement !== undefined && statement.state === "ready") {
        request.statement = statement
        return this.conn.submit(request)
      }
    }
    this.withStatement(
      request.sql,
      request.params,
      request,
      (statement) => {
        request.statement = statement
        if (first) this.conn.submitFirst(request)
        else this.conn.submit(request)
      },
      (error) => {
        request.finish()
        request.resume(Effect.fail(error))
      }
    )
  }

  // -- simple queries and batches -------------------------------------------------

  /** The owner of simple queries and batches. */
  readonly resultSetsOwner: ResultSetsOwner = ((engine: Engine): ResultSetsOwner => ({
    get registry(): Registry {
      return engine.registry
    },
    needsTypes: (oids) => engine.types.needsTypes(oids),
    settle: (request, status) => engine.settleResultSets(request, status)
  }))(this)

  // -- batches ------------------------------------------------------------------

  /**
   * Chooses how each item of a batch runs (see `BatchRequest`) and submits it: cached, ready statements are bound;
   * the first item with SQL the cache does not know is parsed under a new name in the batch itself (the statement
   * joins the cache once the batch is answered); the rest go unnamed.
   */
  startBatch(request: BatchRequest, first = false, unnamed = false): void {
    const cache = this.cache
    if (cache !== undefined && !unnamed) {
      const items = request.items
      const statements = new Array<Statement | BatchStatement | undefined>(items.length)
      let fresh: Set<string> | undefined
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!
        const params = item.params ?? NO_PARAMS
        // Typed parameters whose type is not known yet: the unnamed statement, as before the cache.
        if (this.types.unknownTypeNames(params) !== undefined) continue
        const key = statementKey(this.registry, item.sql, params)
        const cached = cache.get(key)
        if (cached !== undefined && cached.state !== "failed" && cached.state !== "closed") {
          // A statement still being prepared is bound by a later batch.
          if (cached.state === "ready") statements[i] = cached
          continue
        }
        if (fresh?.has(key) === true) continue
        ;(fresh ??= new Set()).add(key)
        statements[i] = new BatchStatement(
          new Statement(cache.nextName(), item.sql, declaredTypes(this.registry, params), key)
        )
      }
      request.statements = statements
    }
    if (first) this.conn.submitFirst(request)
    else this.conn.submit(request)
  }

  /**
   * A simple query or a batch was answered (`status`) or failed (`undefined`): the statements a batch parsed join
   * the cache, then `Settle.decide`. True when the engine takes the request over (it looks types up before
   * answering, or runs the batch again).
   */
  settleResultSets(request: ResultSetsRequest, status: Backend.TransactionStatus | undefined): boolean {
    const batch = request instanceof BatchRequest ? request : undefined
    if (batch !== undefined) for (const target of batch.statements) if (target instanceof BatchStatement) this.adopt(target)
    const failedOn = batch?.statements[request.results.length]
    const decision = decide({
      discard: request.discard,
      hasRawRows: request.received.waitsForTypes,
      serverError: request.serverError,
      retries: request.retries,
      failedOnNamedStatement: failedOn instanceof Statement,
      atRiskOfStrayCancel: request.atRiskOfStrayCancel,
      endedTransaction: request.results.some((result) => ENDS_TRANSACTION.has(result.command))
    }, status)
    switch (decision) {
      case "lookUpTypes": {
        this.types.ensureTypes(request.received.waitingTypes(), () => {
          request.decodeKept(this.registry)
          request.answer()
        })
        return true
      }
      case "reprepare":
        this.evict(failedOn as Statement)
        request.retries++
        batch!.reset()
        this.startBatch(batch!, true)
        return true
      case "evict":
        this.evict(failedOn as Statement)
        return false
      case "rerun":
        // Rolled back by a cancel meant for an earlier request: the same again, ahead of the queue.
        request.retries++
        request.atRiskOfStrayCancel = false
        if (batch !== undefined) {
          batch.reset()
          this.startBatch(batch, true)
        } else {
          request.reset()
          this.conn.submitFirst(request)
        }
        return true
      case "drop":
      case "answer":
        return false
    }
  }

  /** A statement a batch parsed: into the cache if the server described it (else closed if it exists). */
  private adopt(target: BatchStatement): void {
    const statement = target.statement
    const cache = this.cache
    const current = cache?.get(statement.key)
    const taken = current !== undefined && current.state !== "failed" && current.state !== "closed"
    if (cache === undefined || !target.described || taken || this.conn.isClosed) {
      if (target.parsed && !this.conn.isClosed) this.closeStatement(statement)
      return
    }
    for (const evicted of cache.add(statement.key, statement)) this.closeStatement(evicted)
    this.describeStatement(statement, undefined, target.parameterTypes, target.fields, (failure) => {
      if (failure !== undefined) cache.remove(statement.key, statement)
    })
  }

}
