/**
 * `PgSession`: one PostgreSQL connection as an Effect service.
 *
 * **Details**
 *
 * `connect(options)` opens a Scoped session: the socket, the startup and
 * authentication exchange, and on scope close a Terminate and the socket's
 * end. Queries are Effects (`query`, `simple`, `batch`, `functionCall`) or
 * Streams (`stream`, `copyTo`); `copyFrom` is a Sink; prepared statements and
 * LISTEN subscriptions are Scoped resources.
 *
 * Concurrent fibers may share a session: their requests are pipelined (each
 * ends in its own Sync, so an error fails only its own request) and replies
 * are routed strictly in order.
 *
 * Interruption (of a query fiber, a stream consumer, or an `Effect.timeout`)
 * follows ARCHITECTURE.md "Cancellation":
 * 1. a request not yet written is withdrawn: nothing is sent;
 * 2. a request already answered needs nothing;
 * 3. otherwise, after `CANCEL_GRACE_MILLIS`, a CancelRequest goes out on a side
 *    connection with the session's transport settings, while the session holds
 *    the wire so nothing new is written;
 * 4. the session drains to ReadyForQuery within `DRAIN_TIMEOUT_MILLIS`; the
 *    interrupted request's rows are dropped, never delivered to anyone else;
 * 5. if the drain does not finish, the session is broken (and a pool retires it);
 * 6. requests already pipelined behind the cancelled one that fail with
 *    57014 query_canceled outside a transaction are re-run once: the cancel
 *    reached the backend after its target had finished (RELIABILITY B1).
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { Buffer } from "node:buffer"
import type * as Net from "node:net"
import * as AuthPolicy from "../auth/AuthPolicy.ts"
import * as PgConfig from "../config/Config.ts"
import { CancelError, CodecError, ConfigError, ConnectionError, PgError, TimeoutError } from "../errors/PgError.ts"
import type * as Backend from "../protocol/Backend.ts"
import * as Catalog from "../types/Catalog.ts"
import * as PgTypes from "../types/PgTypes.ts"
import { defaultRegistry, type Registry } from "../types/Registry.ts"
import * as Transport from "../transport/Transport.ts"
import { sendCancel } from "./Cancel.ts"
import * as Establish from "./Establish.ts"
import {
  type Encryption,
  encryptionOrder,
  type Established,
  type GssEncMode,
  type SslMode,
  type SslNegotiation,
  type TlsSettings,
  type TlsVersion
} from "./Establish.ts"
import { Connection, type Request } from "./Connection.ts"
import {
  type BatchItem,
  type ResultSetsOwner,
  type ResultSetsRequest,
  BatchRequest,
  BatchStatement,
  CloseRequest,
  declaredTypes,
  FunctionCallRequest,
  type FunctionCallResult,
  PrepareRequest,
  type QueryOwner,
  QueryRequest,
  type QueryTracker,
  type Resume,
  SimpleRequest
} from "./Requests.ts"
import type { Field, Notice, QueryResult, Row, RowMode } from "./Result.ts"
import { isStaleStatementError, Statement, StatementCache } from "./Statement.ts"
import { checkParameter, StartupRequest, type StartupOptions } from "./Startup.ts"
import { CopyInRequest, type CopyResult, CopyOutRequest, StreamRequest } from "./Streaming.ts"

export type { BatchItem, CopyResult, Field, FunctionCallResult, Notice, QueryResult, QueryTracker, Row, RowMode }

// ---------------------------------------------------------------------------
// Timeouts (every one a named constant)
// ---------------------------------------------------------------------------

/** Time to connect and authenticate, by default. libpq waits forever; a session that can hang is worse. */
export const DEFAULT_CONNECT_TIMEOUT_MILLIS = 30_000
/** After an interruption, how long a running request may take to finish on its own before a CancelRequest is sent. */
export const CANCEL_GRACE_MILLIS = 10
/** After a CancelRequest, how long the session may take to reach ReadyForQuery before it is broken. */
export const DRAIN_TIMEOUT_MILLIS = 5_000
/** How long closing a prepared statement may take when its scope closes. */
export const STATEMENT_CLOSE_TIMEOUT_MILLIS = 5_000

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/**
 * `target_session_attrs` (libpq-connect.sgml).
 *
 * @since 0.1.0
 */
export type TargetSessionAttrs = "any" | "read-write" | "read-only" | "primary" | "standby" | "prefer-standby"

/**
 * Options of `connect`: libpq's connection keywords in camelCase, plus
 * session settings.
 *
 * @since 0.1.0
 */
export interface SessionOptions {
  /**
   * A libpq connection string (`postgres://...` URI or `key=value` pairs). Explicit
   * options win over it; it wins over the `PG*` environment, the service file
   * and the defaults (libpq's precedence).
   */
  readonly url?: string | undefined
  /** libpq `passfile` (default `~/.pgpass`): looked up per host when no password is given. */
  readonly passfile?: string | undefined
  /** libpq `service`: a section of the connection service file. */
  readonly service?: string | undefined
  /** libpq `servicefile`. */
  readonly serviceFile?: string | undefined
  /** libpq `options`: command-line options sent at start-up (`-c search_path=app`). */
  readonly options?: string | undefined
  /** libpq `fallback_application_name`. */
  readonly fallbackApplicationName?: string | undefined
  /** Host name, IP address, or Unix socket directory (a path starting with `/`). Default: libpq's (a Unix socket directory when one exists, else `localhost`). */
  readonly host?: string | undefined
  /** Numeric address to connect to instead of resolving `host` (which still names the server for TLS checks). */
  readonly hostaddr?: string | undefined
  /** Several hosts, tried in order (libpq's comma-separated `host`/`port` lists). Overrides `host`. */
  readonly hosts?: ReadonlyArray<{ readonly host: string; readonly port?: number | undefined; readonly hostaddr?: string | undefined }> | undefined
  /** Default 5432. */
  readonly port?: number | undefined
  /** libpq `sslmode`. Default "prefer" ("verify-full" with `sslRootCert: "system"`). */
  readonly sslMode?: SslMode | undefined
  /** libpq `sslnegotiation`: "postgres" (SSLRequest, default) or "direct" (TLS at once, PostgreSQL 17+). */
  readonly sslNegotiation?: SslNegotiation | undefined
  /** libpq `gssencmode`. Default "disable" (no GSSAPI library: "require" fails). */
  readonly gssEncMode?: GssEncMode | undefined
  /** libpq `sslrootcert`: a file of trusted roots, or "system". */
  readonly sslRootCert?: string | undefined
  /** libpq `sslcert`. */
  readonly sslCert?: string | undefined
  /** libpq `sslkey`. */
  readonly sslKey?: string | undefined
  /** libpq `sslpassword`. */
  readonly sslPassword?: string | Redacted.Redacted<string> | undefined
  /** libpq `sslsni`. Default true. */
  readonly sslSni?: boolean | undefined
  /** libpq `sslcrl`: certificate revocation lists (PEM file). */
  readonly sslCrl?: string | undefined
  /** libpq `sslcrldir`. */
  readonly sslCrlDir?: string | undefined
  /** libpq `sslcertmode`: "allow" (default) or "disable" ("require" is refused, as libpq without it). */
  readonly sslCertMode?: "disable" | "allow" | undefined
  /** libpq `sslkeylogfile`. */
  readonly sslKeyLogFile?: string | undefined
  /** libpq `ssl_min_protocol_version`. Default "TLSv1.2". */
  readonly sslMinProtocolVersion?: TlsVersion | undefined
  /** libpq `ssl_max_protocol_version`. */
  readonly sslMaxProtocolVersion?: TlsVersion | undefined
  /** libpq `channel_binding`: "disable", "prefer" (default), "require". */
  readonly channelBinding?: "disable" | "prefer" | "require" | undefined
  /** libpq `require_auth`: a comma-separated list of methods, or of negated methods (`!md5,!password`). */
  readonly requireAuth?: string | undefined
  /** libpq `target_session_attrs`. Default "any". */
  readonly targetSessionAttrs?: TargetSessionAttrs | undefined
  /** libpq `load_balance_hosts`: "disable" (default) or "random". */
  readonly loadBalanceHosts?: "disable" | "random" | undefined
  /** The random source for `loadBalanceHosts: "random"` (tests). Default Math.random. */
  readonly random?: (() => number) | undefined
  /** libpq `keepalives`. Default true. */
  readonly keepalives?: boolean | undefined
  /** libpq `keepalives_idle`, in seconds. Default 60. */
  readonly keepalivesIdle?: number | undefined
  /** Default: libpq's (`PGUSER`, else the operating system user name). */
  readonly user?: string | undefined
  /** A password, a Redacted password, or an Effect evaluated at each connection attempt (rotating credentials). */
  readonly password?: string | Redacted.Redacted<string> | Effect.Effect<string | Redacted.Redacted<string>, PgError> | undefined
  /** Default: the user name (libpq). */
  readonly database?: string | undefined
  readonly applicationName?: string | undefined
  /** Extra run-time parameters sent in the StartupMessage (`options`-style settings such as `search_path`). */
  readonly parameters?: Readonly<Record<string, string>> | undefined
  /** Protocol version to ask for: "3.2" (default) or "3.0". */
  readonly protocolVersion?: "3.0" | "3.2" | undefined
  /** Lowest protocol version accepted when the server offers an older one. Default "3.0". */
  readonly minProtocolVersion?: "3.0" | "3.2" | undefined
  /** Connect + authenticate timeout per host attempt, in milliseconds (0: none). Default: `connect_timeout` from the connection string or `PGCONNECT_TIMEOUT` (seconds), else 30000. */
  readonly connectTimeout?: number | undefined
  /** Prepared statements cached per session (LRU). 0 disables the cache: every query uses the unnamed statement (safe behind transaction poolers). Default 256. */
  readonly statementCacheSize?: number | undefined
  /** Requests in flight at most. Default 1024. */
  readonly maxPipelineDepth?: number | undefined
  /** Largest message accepted from the server, in bytes. Default 1 GiB - 1. */
  readonly maxMessageSize?: number | undefined
  /** Type codecs. Default: the builtin registry. */
  readonly registry?: Registry | undefined
  /**
   * Rows per Execute for `stream` (portal paging); 0: one Execute for the whole result, read as the consumer takes
   * the rows (socket backpressure). Default: 0 outside a transaction block, 2048 inside one (stopping a stream early
   * then needs no cancel, which would abort the transaction).
   */
  readonly streamPageSize?: number | undefined
  /** Highest SCRAM iteration count accepted from a server (checked before any hashing). */
  readonly scramMaxIterations?: number | undefined
  /** Receives a PQtrace-style line for every protocol message sent and received (passwords masked). */
  readonly trace?: ((line: string) => void) | undefined
}

/**
 * Per-query options.
 *
 * @since 0.1.0
 */
export interface QueryOptions {
  /** "object" (default): rows keyed by column name; "array": rows by position. */
  readonly rowMode?: RowMode | undefined
  /**
   * false: run this query as an unnamed statement (Parse/Bind/Describe/Execute/Sync in
   * one write) even when the statement cache is on. Default true.
   */
  readonly prepare?: boolean | undefined
}

/**
 * Options that decode every row through a Schema at the boundary.
 *
 * @since 0.1.0
 */
export interface SchemaOptions<A> extends QueryOptions {
  /** Each row is decoded with this Schema; a mismatch is a CodecError naming the column. */
  readonly schema: Schema.Decoder<A>
}

/**
 * @since 0.1.0
 */
export interface StreamOptions extends QueryOptions {
  /**
   * Rows per Execute: the portal is paged, one round trip per page. 0: one Execute for every row, the socket
   * read as the consumer takes them. Default: the session's `streamPageSize`.
   */
  readonly pageSize?: number | undefined
}

/**
 * A notification from LISTEN/NOTIFY.
 *
 * @since 0.1.0
 */
export interface Notification {
  readonly processId: number
  readonly channel: string
  readonly payload: string
}

/**
 * A named prepared statement, alive for its Scope (closed on the server when
 * the Scope closes).
 *
 * @since 0.1.0
 */
export interface PreparedStatement {
  readonly name: string
  readonly sql: string
  /** Parameter type OIDs as the server resolved them. */
  readonly parameterTypes: ReadonlyArray<number>
  /** Result columns (empty when the statement returns no rows). */
  readonly fields: ReadonlyArray<Field>
  readonly execute: <R = Row>(
    params?: ReadonlyArray<unknown>,
    options?: QueryOptions
  ) => Effect.Effect<QueryResult<R>, PgError>
  readonly stream: <R = Row>(params?: ReadonlyArray<unknown>, options?: StreamOptions) => Stream.Stream<R, PgError>
}

/**
 * The session service.
 *
 * @since 0.1.0
 */
export interface Session {
  /** The backend's process id (BackendKeyData). */
  readonly processId: number
  /** The protocol version in use after negotiation. */
  readonly protocolVersion: { readonly major: 3; readonly minor: number }
  /** `_pq_.` protocol options the server did not recognise (NegotiateProtocolVersion). */
  readonly unsupportedProtocolOptions: ReadonlyArray<string>
  /** Whether the connection is encrypted (TLS). With `sslMode: "prefer"` a server may have refused. */
  readonly encrypted: boolean
  /** The server's parameters (ParameterStatus), current. */
  readonly parameters: Effect.Effect<ReadonlyMap<string, string>>
  /** Every ParameterStatus received from now on. */
  readonly parameterChanges: Stream.Stream<{ readonly name: string; readonly value: string }>
  /** Transaction status from the last ReadyForQuery: I (idle), T (in a transaction), E (failed transaction). */
  readonly transactionStatus: Effect.Effect<Backend.TransactionStatus>
  /** Every NoticeResponse received from now on (each is also attached to its query's result). */
  readonly notices: Stream.Stream<Notice>
  /** Runs one statement. With `{ schema }`, every row is decoded by the Schema. */
  readonly query: {
    <A>(sql: string, params: ReadonlyArray<unknown>, options: SchemaOptions<A>): Effect.Effect<QueryResult<A>, PgError>
    <R = Row>(sql: string, params?: ReadonlyArray<unknown>, options?: QueryOptions): Effect.Effect<QueryResult<R>, PgError>
  }
  /** Streams one statement's rows, paging through a portal. With `{ schema }`, every row is decoded by the Schema. */
  readonly stream: {
    <A>(sql: string, params: ReadonlyArray<unknown>, options: StreamOptions & SchemaOptions<A>): Stream.Stream<A, PgError>
    <R = Row>(sql: string, params?: ReadonlyArray<unknown>, options?: StreamOptions): Stream.Stream<R, PgError>
  }
  /** Runs a simple Query (several statements allowed); every result in order. */
  readonly simple: (sql: string, options?: QueryOptions) => Effect.Effect<ReadonlyArray<QueryResult<Row>>, PgError>
  /**
   * Runs several statements in one write and one implicit transaction; one result per statement. Statements go
   * through the statement cache like `query`'s (new SQL is parsed and described within the batch, cached SQL is only
   * bound), unless `prepare: false`.
   */
  readonly batch: (
    items: ReadonlyArray<BatchItem>,
    options?: QueryOptions
  ) => Effect.Effect<ReadonlyArray<QueryResult<Row>>, PgError>
  /** Prepares a named statement for the Scope. */
  readonly prepare: (
    sql: string,
    types?: ReadonlyArray<number>
  ) => Effect.Effect<PreparedStatement, PgError, Scope.Scope>
  /** COPY ... FROM STDIN as a Sink of raw COPY data; the result is the server's row count. */
  readonly copyFrom: (sql: string) => Sink.Sink<CopyResult, Uint8Array, never, PgError>
  /** COPY ... TO STDOUT as a Stream of CopyData payloads. */
  readonly copyTo: (sql: string) => Stream.Stream<Uint8Array, PgError>
  /** LISTEN for the Scope: resolves once LISTEN is confirmed. */
  readonly listen: (channel: string) => Effect.Effect<Stream.Stream<Notification, PgError>, PgError, Scope.Scope>
  /** NOTIFY (pg_notify). */
  readonly notify: (channel: string, payload?: string) => Effect.Effect<void, PgError>
  /** Calls a function by OID with arguments already encoded (FunctionCall). */
  readonly functionCall: (
    functionOid: number,
    args: ReadonlyArray<Uint8Array | null>,
    options?: { readonly argumentFormats?: ReadonlyArray<0 | 1>; readonly resultFormat?: 0 | 1 }
  ) => Effect.Effect<FunctionCallResult, PgError>
  /** Sends a CancelRequest for whatever the session is running now (advisory). */
  readonly cancel: Effect.Effect<void, PgError>
  /** Whether the session is closed or broken. */
  readonly isClosed: Effect.Effect<boolean>
  /** Waits until nothing is in flight and no cancel is pending (a pool checks this before reuse). */
  readonly settled: Effect.Effect<void>
  /** Whether nothing is in flight, queued, or being cancelled right now (synchronous). */
  readonly isSettled: () => boolean
  /** Whether the session is open (not closed or broken), synchronously. */
  readonly isOpen: () => boolean
  /**
   * `query` for whoever lends the session (a pool): `tracker.start` runs when
   * the request is created and `tracker.finish` once it no longer occupies the
   * session (answered, failed, or drained after an interruption). Rows are not
   * Schema-decoded here.
   */
  readonly queryTracked: <R = Row>(
    sql: string,
    params: ReadonlyArray<unknown> | undefined,
    options: QueryOptions | undefined,
    tracker: QueryTracker
  ) => Effect.Effect<QueryResult<R>, PgError>
  /** The type registry in use. */
  readonly registry: Registry
}

/**
 * The `PgSession` service tag.
 *
 * @since 0.1.0
 */
export class PgSession extends Context.Service<PgSession, Session>()("effect-pgwire/session/PgSession") {}

// ---------------------------------------------------------------------------
// The engine: the Connection plus statement cache, retries and cancellation
// ---------------------------------------------------------------------------

class Engine {
  readonly conn: Connection
  /** This session's registry: the configured one, extended with types looked up in pg_type. */
  registry: Registry
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
  /** Cancels in progress (the wire is held while > 0). */
  cancelsInProgress = 0
  private readonly settledWaiters: Array<() => void> = []

  constructor(
    options: SessionOptions,
    openSide: Effect.Effect<Net.Socket, PgError>,
    noticeHub: PubSub.PubSub<Notice>,
    parameterHub: PubSub.PubSub<{ readonly name: string; readonly value: string }>
  ) {
    this.options = options
    this.registry = options.registry ?? defaultRegistry
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
          this.notifySettled()
        }
      },
      { maxMessageSize: options.maxMessageSize, maxPipelineDepth: options.maxPipelineDepth, trace: options.trace }
    )
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
    const names = this.unknownTypeNames(params)
    if (names !== undefined) {
      return this.ensureTypeNames(names, () => {
        if (!request.done) this.withStatement(sql, params, request, start, failed)
      })
    }
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
    const names = this.unknownTypeNames(params)
    if (names !== undefined) {
      return this.ensureTypeNames(names, () => {
        if (!request.done) this.withResultTypes(sql, params, request, start, failed)
      })
    }
    const unnamed = new Statement("", sql, declaredTypes(this.registry, params))
    this.conn.submit(
      new PrepareRequest(unnamed, (error, _parameterTypes, fields) => {
        if (request.done) return
        if (error !== undefined) {
          request.done = true
          return failed(error)
        }
        this.ensureTypes((fields ?? []).map((f) => f.dataTypeOid), () => {
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

  /** OIDs looked up in pg_type (found or not): each is looked up once per session. */
  private readonly lookedUp = new Set<number>()
  /** OIDs being looked up, with who waits for them. */
  private readonly lookingUp = new Map<number, Array<() => void>>()
  /** Type names looked up (found or not). */
  private readonly namesLookedUp = new Set<string>()

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
    this.ensureTypes([...parameterTypes, ...(fields ?? []).map((f) => f.dataTypeOid)], () => {
      statement.describe(parameterTypes, fields, this.registry)
      statement.settle(undefined)
      done(undefined)
    })
  }

  /** Whether some of `oids` are unknown and not looked up yet (their values would decode as text). */
  needsTypes(oids: ReadonlyArray<number>): boolean {
    for (const oid of this.registry.unknownOids(oids)) if (!this.lookedUp.has(oid)) return true
    return false
  }

  /**
   * Calls `then` once every OID of `oids` is known or has been looked up,
   * joining lookups already in flight (concurrent first uses of a type wait for
   * the same lookup).
   */
  ensureTypes(oids: ReadonlyArray<number>, then: () => void): void {
    const unknown = this.registry.unknownOids(oids).filter((oid) => !this.lookedUp.has(oid))
    if (unknown.length === 0) return then()
    const fetch = unknown.filter((oid) => !this.lookingUp.has(oid))
    const inFlight = unknown.filter((oid) => this.lookingUp.has(oid))
    let remaining = inFlight.length + (fetch.length > 0 ? 1 : 0)
    const done = () => {
      if (--remaining === 0) then()
    }
    for (const oid of inFlight) this.lookingUp.get(oid)!.push(done)
    if (fetch.length === 0) return
    for (const oid of fetch) this.lookingUp.set(oid, [])
    this.lookUpOids(fetch, () => {
      for (const oid of fetch) {
        this.lookedUp.add(oid)
        const waiters = this.lookingUp.get(oid) ?? []
        this.lookingUp.delete(oid)
        for (const w of waiters) w()
      }
      done()
    })
  }

  /** Names of typed parameters whose type the registry does not know, or undefined. */
  unknownTypeNames(params: ReadonlyArray<unknown>): Array<string> | undefined {
    let names: Array<string> | undefined
    for (const p of params) {
      if (
        PgTypes.isTypedParam(p) && p.oid === 0 && p.typeName !== undefined &&
        this.registry.getByName(p.typeName) === undefined && !this.namesLookedUp.has(p.typeName)
      ) {
        ;(names ??= []).push(p.typeName)
      }
    }
    return names
  }

  /** Resolves type names (`to_regtype`) and looks their OIDs up. */
  ensureTypeNames(names: ReadonlyArray<string>, then: () => void): void {
    for (const name of names) this.namesLookedUp.add(name)
    this.internalQuery(
      "select to_regtype(n)::oid::int8 as oid from unnest($1::text[]) as n",
      [names],
      (rows) => {
        const oids = rows.map((row) => Number(row[0])).filter((oid) => Number.isInteger(oid) && oid > 0)
        this.ensureTypes(oids, then)
      }
    )
  }

  /** Looks `oids` up in pg_type and extends this session's registry with what it finds. */
  private lookUpOids(oids: ReadonlyArray<number>, then: () => void): void {
    const version = this.conn.parameters.get("server_version") ?? "0"
    const versionNum = Number.parseInt(version, 10) * 10000
    this.internalQuery(Catalog.typeQuery(versionNum), [oids], (rows) => {
      try {
        const typeRows = rows.map((row) =>
          Catalog.rowFromText(
            row.map((v) => (v === null || v === undefined ? null : typeof v === "object" ? JSON.stringify(v) : String(v)))
          )
        )
        this.registry = this.registry.withTypes(typeRows)
      } catch {
        // Unreadable catalog rows: the types stay unknown and decode as text.
      }
      then()
    })
  }

  /**
   * A query of the session's own (catalog lookups), ahead of queued requests;
   * `then` gets the rows (empty when it failed: lookups are best effort).
   */
  private internalQuery(
    sql: string,
    params: ReadonlyArray<unknown>,
    then: (rows: ReadonlyArray<ReadonlyArray<unknown>>) => void
  ): void {
    const owner: QueryOwner = {
      registry: this.registry,
      settleQuery: (request) => {
        const ok = request.serverError === undefined && request.clientError === undefined &&
          request.brokenWith === undefined
        then(ok ? (request.rows as ReadonlyArray<ReadonlyArray<unknown>>) : [])
      }
    }
    this.conn.submitFirst(new QueryRequest(owner, sql, params, undefined, "array", () => {}))
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

  // -- callers waiting on queries ----------------------------------------------

  /** The query each fiber waits on (a fiber waits on one at a time). */
  private readonly waiting = new Map<Fiber.Fiber<unknown, unknown>, QueryRequest>()

  /**
   * What an interrupted caller of a query runs: one Effect for the session, which finds the query by the
   * interrupted fiber. (A canceller per query, an Effect with a closure and its context, stayed in memory for as
   * long as the query waited: in a deep pipeline, a few percent of the time went to collecting it.)
   */
  private readonly abandonWaiting: Effect.Effect<void> = Effect.withFiber((fiber) => {
    const request = this.waiting.get(fiber)
    if (request === undefined) return Effect.void
    this.waiting.delete(fiber)
    request.waiter = undefined
    return this.abandon(request)
  })

  /**
   * Registers the current fiber as waiting on `request` and returns what `Effect.callback` runs if that fiber is
   * interrupted. Called from the callback's registration, which runs on the waiting fiber.
   */
  waitOn(request: QueryRequest): Effect.Effect<void> {
    const fiber = Fiber.getCurrent()
    if (fiber === undefined) return this.abandon(request)
    request.waiter = fiber
    this.waiting.set(fiber, request)
    return this.abandonWaiting
  }

  /** `request` is finished for good: its fiber no longer waits on it. */
  private release(request: QueryRequest): void {
    const fiber = request.waiter
    if (fiber === undefined) return
    request.waiter = undefined
    if (this.waiting.get(fiber) === request) this.waiting.delete(fiber)
  }

  /** The owner of queries run as named statements that a caller prepared (`prepare`): no re-runs, no cache. */
  readonly preparedOwner: QueryOwner = ((engine: Engine): QueryOwner => ({
    get registry(): Registry {
      return engine.registry
    },
    settleQuery: (request: QueryRequest): void => {
      request.finish()
      if (!request.discard) request.resume(request.outcome())
    },
    release: (request: QueryRequest): void => this.release(request)
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
        if (this.unknownTypeNames(params) !== undefined) continue
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

  /** Statements whose completion ends a transaction: a batch that ran one is never run again. */
  private static readonly endsTransaction = new Set([
    "COMMIT",
    "ROLLBACK",
    "PREPARE TRANSACTION",
    "COMMIT PREPARED",
    "ROLLBACK PREPARED"
  ])

  /**
   * A batch was answered (`status`) or failed (`undefined`): the statements it parsed join the cache; after a
   * stale cached statement (`isStaleStatementError`) the batch runs once more, if nothing of it can have been kept (outside a
   * transaction block, no COMMIT or ROLLBACK among the items that ran).
   */
  settleBatch(request: BatchRequest, status: Backend.TransactionStatus | undefined): boolean {
    for (const target of request.statements) if (target instanceof BatchStatement) this.adopt(target)
    const error = request.serverError
    if (status === undefined) return false
    if (error === undefined || request.discard || request.retries > 0) return this.answerRaw(request)
    if (!isStaleStatementError(error)) return false
    const stale = request.statements[request.results.length]
    if (stale === undefined || stale instanceof BatchStatement) return false
    this.evict(stale)
    if (status !== "I" || request.results.some((result) => Engine.endsTransaction.has(result.command))) return false
    request.retries++
    request.reset()
    this.startBatch(request, true)
    return true
  }

  /** Rows kept as bytes (types not looked up yet): looked up, decoded, then the caller is answered. */
  answerRaw(request: ResultSetsRequest): boolean {
    if (request.rawResults.length === 0 || request.discard) return false
    const oids = request.rawResults.flatMap((result) => result.fields.map((f) => f.dataTypeOid))
    this.ensureTypes(oids, () => {
      request.decodeRaw(this.registry)
      request.answer()
    })
    return true
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

  /** The owner of simple queries and batches: rows of unknown types are decoded once looked up; batches may re-run. */
  readonly resultSetsOwner: ResultSetsOwner = ((engine: Engine): ResultSetsOwner => ({
    get registry(): Registry {
      return engine.registry
    },
    needsTypes: (oids) => engine.needsTypes(oids),
    settle: (request, status) =>
      request instanceof BatchRequest
        ? engine.settleBatch(request, status)
        : status !== undefined && !request.discard && engine.answerRaw(request)
  }))(this)

  readonly queryOwner: QueryOwner = ((engine: Engine): QueryOwner => ({
    /** Read when a request is encoded: the session's registry as it is then (it grows with pg_type lookups). */
    get registry(): Registry {
      return engine.registry
    },
    needsTypes: (oids: ReadonlyArray<number>): boolean => this.needsTypes(oids),
    release: (request: QueryRequest): void => this.release(request),
    settleQuery: (request: QueryRequest, status: Backend.TransactionStatus | undefined): void => {
      if (request.discard) return request.finish()
      if (request.raw !== undefined && status !== undefined) {
        return this.ensureTypes(request.fields.map((f) => f.dataTypeOid), () => {
          request.decodeRaw(this.registry)
          this.queryOwner.settleQuery(request, status)
        })
      }
      const error = request.serverError
      if (error !== undefined && status !== undefined && request.retries === 0) {
        // Stale cached statement: re-prepare transparently, but only outside a transaction
        // block (inside one the transaction is already aborted: asyncpg #103, Bun #35120).
        if (request.statement !== undefined && isStaleStatementError(error)) {
          this.evict(request.statement)
          if (status === "I") {
            request.retries++
            request.reset(undefined)
            return this.startQuery(request, true)
          }
        } else if (error.code === "57014" && request.atRiskOfStrayCancel && status === "I") {
          // A cancel meant for an earlier request reached the backend after that request had
          // finished; this request was rolled back by it, so running it again is safe.
          request.retries++
          request.reset(request.statement)
          return this.startQuery(request, true, request.unnamed)
        }
      }
      request.finish()
      request.resume(request.outcome())
    }
  }))(this)

  startQuery(request: QueryRequest, first = false, unnamed = false): void {
    request.unnamed = unnamed
    if (unnamed) {
      const names = this.unknownTypeNames(request.params)
      if (names !== undefined) {
        return this.ensureTypeNames(names, () => {
          if (!request.done) this.startQuery(request, first, true)
        })
      }
      request.statement = undefined
      return first ? this.conn.submitFirst(request) : this.conn.submit(request)
    }
    // The hot path: a cached, prepared statement and no type to look up (no closures).
    const cache = this.cache
    if (cache !== undefined && !first && this.unknownTypeNames(request.params) === undefined) {
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

  // -- waiting on requests ----------------------------------------------------

  /** Waits until `request` is done, at most `millis`; true if it is done. */
  awaitDone(request: Request, millis: number): Effect.Effect<boolean> {
    if (request.done) return Effect.succeed(true)
    return Effect.callback<boolean>((resume) => {
      let timer: ReturnType<typeof setTimeout> | undefined = undefined
      const previous = request.onSettled
      request.onSettled = () => {
        previous?.()
        if (timer !== undefined) clearTimeout(timer)
        resume(Effect.succeed(true))
      }
      timer = setTimeout(() => {
        timer = undefined
        resume(Effect.succeed(request.done))
      }, millis)
      return Effect.sync(() => {
        if (timer !== undefined) clearTimeout(timer)
      })
    })
  }

  notifySettled(): void {
    if (!this.conn.idle && !this.conn.isClosed) return
    const waiters = this.settledWaiters.splice(0)
    for (const w of waiters) w()
  }

  readonly settled: Effect.Effect<void> = Effect.callback((resume) => {
    if (this.conn.idle || this.conn.isClosed) return resume(Effect.void)
    const check = () => {
      if (this.conn.idle || this.conn.isClosed) resume(Effect.void)
      else setTimeout(check, 1)
    }
    setTimeout(check, 1)
  })

  // -- interruption -----------------------------------------------------------

  /**
   * The caller of `request` went away. Runs the cancellation sequence (see the
   * module header) and returns once the session is consistent again.
   *
   * `stop` lets streaming requests end their work without a cancel when they can
   * (a suspended portal just needs a Sync); it returns true when nothing is executing.
   */
  abandon(request: Request, stop?: () => boolean): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (request.done) return Effect.void
      if (!request.written) {
        this.conn.withdraw(request)
        request.discard = true
        request.done = true
        if (request instanceof QueryRequest) request.finish()
        return Effect.void
      }
      request.discard = true
      if (stop?.() === true) return this.drain(request)
      // Behind other requests: not running yet, so a cancel would hit another request.
      // Its replies are dropped when they come.
      if (this.conn.current !== request) return Effect.void
      return this.awaitDone(request, CANCEL_GRACE_MILLIS).pipe(
        Effect.flatMap((done) => (done ? Effect.void : this.cancelAndDrain(request)))
      )
    })
  }

  private drain(request: Request): Effect.Effect<void> {
    return this.awaitDone(request, DRAIN_TIMEOUT_MILLIS).pipe(
      Effect.flatMap((done) => {
        if (!done) {
          this.conn.breakWith(
            new PgError({
              reason: new TimeoutError({
                message: `the session did not return to ReadyForQuery within ${DRAIN_TIMEOUT_MILLIS} ms`,
                operation: "drain",
                timeoutMillis: DRAIN_TIMEOUT_MILLIS
              })
            })
          )
        }
        return Effect.void
      })
    )
  }

  private cancelAndDrain(request: Request): Effect.Effect<void> {
    const conn = this.conn
    const self = this
    return Effect.gen(function*() {
      if (request.done || conn.isClosed) return
      conn.hold()
      self.cancelsInProgress++
      self.markAtRisk(request)
      const cancel = yield* Effect.forkDetach(
        sendCancel(self.openSide, conn.processId, conn.secretKey).pipe(Effect.exit)
      )
      const done = yield* self.awaitDone(request, DRAIN_TIMEOUT_MILLIS)
      const cancelExit = yield* Fiber.join(cancel)
      self.cancelsInProgress--
      if (!done) {
        const reason = Exit.isFailure(cancelExit)
          ? "the cancel request failed and the query did not finish"
          : "the server did not answer the cancel"
        conn.breakWith(
          new PgError({
            reason: new CancelError({
              message: `${reason} within ${DRAIN_TIMEOUT_MILLIS} ms; the session was closed`
            })
          })
        )
      }
      conn.unhold()
      self.notifySettled()
    })
  }

  /** Requests written after `target` may be hit by its cancel: mark them for a safe re-run. */
  private markAtRisk(target: Request): void {
    // Every in-flight query other than the target is at risk (they are all after it: the target is the head).
    for (const request of this.inflightQueries()) if (request !== target) request.atRiskOfStrayCancel = true
  }

  private inflightQueries(): ReadonlyArray<QueryRequest> {
    return this.conn.inflightRequests().filter((r: Request): r is QueryRequest => r instanceof QueryRequest)
  }
}

interface Listener {
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

/**
 * The registry a session uses when its options name none: `defaultRegistry`
 * unless a Layer or `Effect.provideService` sets another (per application, per
 * pool, per test).
 *
 * @since 0.1.0
 */
export const CurrentRegistry = Context.Reference<Registry>("effect-pgwire/session/CurrentRegistry", {
  defaultValue: () => defaultRegistry
})

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

// ---------------------------------------------------------------------------
// connect
// ---------------------------------------------------------------------------

const resolvePassword = (
  password: SessionOptions["password"]
): Effect.Effect<string | undefined, PgError> => {
  if (password === undefined) return Effect.succeed(undefined)
  if (typeof password === "string") return Effect.succeed(password)
  if (Redacted.isRedacted(password)) return Effect.succeed(Redacted.value(password))
  return Effect.map(password, (p) => (typeof p === "string" ? p : Redacted.value(p)))
}

/** One host to try (libpq's host/hostaddr/port lists, expanded). */
interface HostAttempt {
  readonly host: string
  readonly hostaddr: string | undefined
  readonly port: number
}

/** Everything `connect` resolved: the libpq configuration and the session's own settings. */
interface Resolved {
  readonly config: PgConfig.PgConfig
  readonly settings: PgConfig.SessionSettings
  readonly options: SessionOptions
  readonly connectTimeoutMillis: number
}

const SESSION_ONLY_KEYS: ReadonlyArray<keyof SessionOptions> = [
  "password",
  "connectTimeout",
  "protocolVersion",
  "statementCacheSize",
  "maxPipelineDepth",
  "maxMessageSize",
  "registry",
  "streamPageSize",
  "scramMaxIterations",
  "trace",
  "random",
  "parameters"
]

/**
 * libpq's resolution: explicit options, then `url`, then the service file, then
 * `PG*` environment variables, then defaults (see `PgConfig.load`).
 */
const resolveOptions = (given: SessionOptions): Effect.Effect<Resolved, PgError> =>
  Effect.gen(function*() {
    const libpq: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(given)) {
      if (!(SESSION_ONLY_KEYS as ReadonlyArray<string>).includes(key)) libpq[key] = value
    }
    if (given.protocolVersion !== undefined) libpq["maxProtocolVersion"] = given.protocolVersion
    if (typeof given.password === "string" || Redacted.isRedacted(given.password)) libpq["password"] = given.password
    const config = yield* PgConfig.load(libpq as PgConfig.Options)
    const settings = PgConfig.toSessionOptions(config)
    const connectTimeoutMillis = given.connectTimeout ??
      (config.connectTimeout === undefined ? DEFAULT_CONNECT_TIMEOUT_MILLIS : (config.connectTimeoutMillis ?? 0))
    return { config, settings, options: given, connectTimeoutMillis }
  })

/** The hosts to try, in order (shuffled for `loadBalanceHosts: "random"`). */
const hostAttempts = (resolved: Resolved): ReadonlyArray<HostAttempt> =>
  PgConfig.attempts(resolved.config, resolved.options.random ?? Math.random).map((a) => ({
    host: a.host,
    hostaddr: a.hostaddr,
    port: a.port
  }))

const tlsSettingsOf = (settings: PgConfig.SessionSettings): TlsSettings => ({
  sslMode: settings.sslMode,
  sslNegotiation: settings.sslNegotiation,
  gssEncMode: settings.gssEncMode,
  sslRootCert: settings.sslRootCert,
  sslCert: settings.sslCert,
  sslKey: settings.sslKey,
  sslPassword: settings.sslPassword === undefined ? undefined : Redacted.value(settings.sslPassword),
  sslSni: settings.sslSni,
  sslMinProtocolVersion: settings.sslMinProtocolVersion,
  sslMaxProtocolVersion: settings.sslMaxProtocolVersion,
  sslCrl: settings.sslCrl,
  sslCrlDir: settings.sslCrlDir,
  sslCertMode: settings.sslCertMode,
  sslKeyLogFile: settings.sslKeyLogFile
})

/** The password for one attempt: the given one (a value or an Effect), else the password file's entry for that host. */
const passwordFor = (resolved: Resolved, attempt: HostAttempt): Effect.Effect<string | undefined, PgError> => {
  const given = resolved.options.password
  if (given !== undefined && !(typeof given === "string" || Redacted.isRedacted(given))) {
    return resolvePassword(given)
  }
  if (resolved.config.password !== undefined) return Effect.succeed(Redacted.value(resolved.config.password))
  return Effect.map(
    PgConfig.passwordFor(resolved.config, { host: attempt.host, hostaddr: attempt.hostaddr, port: attempt.port } as never),
    (p) => (p === undefined || Redacted.value(p) === "" ? undefined : Redacted.value(p))
  )
}

/**
 * Whether a session satisfies `target_session_attrs` (libpq-connect.sgml):
 * from the `in_hot_standby` and `default_transaction_read_only` ParameterStatus
 * reports (PostgreSQL 14+), else by asking the server, as libpq does.
 */
const satisfies = (
  session: Session,
  parameters: ReadonlyMap<string, string>,
  attrs: TargetSessionAttrs
): Effect.Effect<boolean, PgError> =>
  Effect.gen(function*() {
    if (attrs === "any") return true
    const standby = parameters.get("in_hot_standby") !== undefined
      ? parameters.get("in_hot_standby") === "on"
      : (yield* session.simple("select pg_catalog.pg_is_in_recovery()"))[0]!.rows[0]!["pg_is_in_recovery"] === true
    if (attrs === "primary") return !standby
    if (attrs === "standby" || attrs === "prefer-standby") return standby
    const readOnly = standby || (parameters.get("default_transaction_read_only") !== undefined
      ? parameters.get("default_transaction_read_only") === "on"
      : (yield* session.simple("show transaction_read_only"))[0]!.rows[0]!["transaction_read_only"] === "on")
    return attrs === "read-only" ? readOnly : !readOnly
  })

/** Whether a failed attempt may be retried with the next encryption method (libpq 17's rules). */
const mayFallBack = (error: PgError): boolean => {
  const reason = error.reason
  switch (reason._tag) {
    case "ServerError":
      // Rejected during start-up (pg_hba, authentication): `allow` retries with TLS,
      // `prefer` without.
      return true
    case "TlsError":
      // A failed TLS start-up; but an ErrorResponse answer to SSLRequest means the
      // server failed before negotiating: no retry.
      return !reason.message.includes("answered SSLRequest with an error")
    default:
      return false
  }
}

/**
 * Opens a session: connects, authenticates, and returns the service. The
 * session lives as long as the Scope: closing it sends Terminate and closes
 * the socket, and fails anything still running with a connection error.
 *
 * **Details**
 *
 * Hosts are tried in order (or shuffled with `loadBalanceHosts: "random"`),
 * each with the encryption methods `sslMode` allows, within `connectTimeout`
 * per attempt; a host that does not satisfy `targetSessionAttrs` is skipped.
 * When every attempt fails, the error lists each host's failure.
 *
 * @since 0.1.0
 */
export const connect = Effect.fn("PgSession.connect")(function*(given: SessionOptions) {
  const withRegistry: SessionOptions = given.registry === undefined
    ? { ...given, registry: yield* CurrentRegistry }
    : given
  const resolved = yield* resolveOptions(withRegistry)
  const settings = resolved.settings
  const attempts = hostAttempts(resolved)
  const tls = tlsSettingsOf(settings)
  const policy = yield* Effect.fromResult(
    AuthPolicy.make({ requireAuth: settings.requireAuth, channelBinding: settings.channelBinding })
  ).pipe(Effect.mapError((reason) => new PgError({ reason })))
  const attrs = settings.targetSessionAttrs
  const failures: Array<string> = []
  let lastError: PgError | undefined
  // prefer-standby: a first pass for standbys, then any server (libpq).
  const passes: ReadonlyArray<TargetSessionAttrs> = attrs === "prefer-standby" ? ["standby", "any"] : [attrs]
  for (const pass of passes) {
    for (const attempt of attempts) {
      // No TLS over Unix-domain sockets (libpq).
      const encryptions = Transport.isUnixHost(attempt.hostaddr ?? attempt.host)
        ? ["plain" as const]
        : yield* encryptionOrder(tls)
      for (let i = 0; i < encryptions.length; i++) {
        const encryption = encryptions[i]!
        const canFallBack = i + 1 < encryptions.length
        const open = (protocolMinor: number | undefined) =>
          Effect.exit(
            Effect.acquireRelease(
              openSession(resolved, attempt, encryption, canFallBack, tls, policy, protocolMinor),
              ([engine]) => Effect.sync(() => engine.conn.terminate())
            )
          )
        let exit = yield* open(undefined)
        if (Exit.isFailure(exit) && refusedProtocol32(exit, settings)) {
          // A server or pooler that cannot even answer NegotiateProtocolVersion (PgBouncer before
          // 1.22 answers a 3.2 start-up with 08P01 "bad packet header"): try 3.0, which the
          // minimum allows.
          exit = yield* open(0)
        }
        if (Exit.isSuccess(exit)) {
          const [engine, session] = exit.value
          const ok = yield* satisfies(session, engine.conn.parameters, pass).pipe(Effect.exit)
          if (Exit.isSuccess(ok) && ok.value) return session
          engine.conn.terminate()
          const why = Exit.isSuccess(ok)
            ? `the server does not satisfy target_session_attrs=${pass}`
            : `checking target_session_attrs failed: ${String(Cause.squash(ok.cause))}`
          failures.push(`${describeAttempt(attempt)}: ${why}`)
          lastError = new PgError({
            reason: new ConnectionError({ message: `${describeAttempt(attempt)}: ${why}`, requestSent: false })
          })
          break
        }
        const error = Cause.squash(exit.cause)
        if (!(error instanceof PgError)) return yield* Effect.failCause(exit.cause)
        lastError = error
        failures.push(`${describeAttempt(attempt)} (${encryption}): ${error.message}`)
        if (error.reason._tag === "ConfigError" || error.reason._tag === "AuthError") {
          // Client-side refusals do not depend on the host.
          return yield* Effect.fail(error)
        }
        if (!(canFallBack && mayFallBack(error))) break
      }
    }
  }
  if (lastError !== undefined && failures.length <= 1) return yield* Effect.fail(lastError)
  const reason = lastError!.reason
  return yield* Effect.fail(
    new PgError({
      reason: reason._tag === "ServerError"
        ? reason
        : new ConnectionError({ message: `could not connect to any host:\n  ${failures.join("\n  ")}`, requestSent: false })
    })
  )
})

/** Whether a start-up failed because the server refused protocol 3.2 itself (and 3.0 is allowed). */
const refusedProtocol32 = (exit: Exit.Exit<unknown, unknown>, settings: PgConfig.SessionSettings): boolean => {
  if (settings.protocolVersion !== "3.2" || settings.minProtocolVersion === "3.2") return false
  const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
  return error instanceof PgError && error.reason._tag === "ServerError" && error.reason.code === "08P01"
}

const describeAttempt = (attempt: HostAttempt): string =>
  `${attempt.host}${attempt.hostaddr === undefined ? "" : ` (${attempt.hostaddr})`}:${attempt.port}`

/** One attempt: open the stream, run start-up; fails (with everything closed) or returns the live engine. */
const openSession = (
  resolved: Resolved,
  attempt: HostAttempt,
  encryption: Encryption,
  plainAfterReject: boolean,
  tls: TlsSettings,
  policy: AuthPolicy.AuthPolicy,
  protocolMinor?: number | undefined
): Effect.Effect<readonly [Engine, Session], PgError> =>
  Effect.gen(function*() {
    const options = resolved.options
    const settings = resolved.settings
    const target = Transport.endpoint(attempt.hostaddr ?? attempt.host, attempt.port)
    const connectTimeout = resolved.connectTimeoutMillis
    const keepAlive: Transport.KeepAlive = settings.keepAlive === false
      ? { enabled: false, idleMillis: 0 }
      : { enabled: true, idleMillis: settings.keepAliveIdleMillis ?? Transport.DEFAULT_KEEPALIVE.idleMillis }
    const password = yield* passwordFor(resolved, attempt)
    const noticeHub = yield* PubSub.unbounded<Notice>()
    const parameterHub = yield* PubSub.unbounded<{ readonly name: string; readonly value: string }>()
    let established: Established | undefined
    const run = Effect.gen(function*() {
      established = yield* openEstablished(target, attempt.host, encryption, plainAfterReject, tls, connectTimeout, keepAlive, true)
      const used = established.encryption
      // The cancel connection uses the same transport settings as this one.
      const openSide = Effect.map(
        openEstablished(target, attempt.host, used, false, tls, connectTimeout, keepAlive),
        (e) => e.socket
      )
      const engine = new Engine(options, openSide, noticeHub, parameterHub)
      engine.conn.attach(established.socket, established.reads)
      const startup: StartupOptions = {
        user: settings.user,
        database: settings.database,
        password,
        applicationName: settings.applicationName,
        parameters: { ...settings.parameters, ...options.parameters },
        protocolMinor: protocolMinor ?? (settings.protocolVersion === "3.0" ? 0 : 2),
        minProtocolMinor: settings.minProtocolVersion === "3.2" ? 2 : 0,
        scramMaxIterations: options.scramMaxIterations,
        policy,
        tls: used !== "plain",
        peerCertificate: established.peerCertificate
      }
      const request = new StartupRequest(startup, () => {})
      yield* Effect.callback<void, PgError>((resume) => {
        ;(request as { resume: Resume<void> }).resume = resume
        engine.conn.submit(request)
      }).pipe(Effect.onError(() => Effect.sync(() => engine.conn.breakWith(
        new PgError({ reason: new ConnectionError({ message: "start-up failed", requestSent: true }) })
      ))))
      engine.encryption = used
      engine.unsupportedProtocolOptions = request.unsupportedOptions
      return [engine, makeService(engine)] as const
    })
    return yield* (connectTimeout > 0
      ? run.pipe(
        Effect.timeoutOrElse({
          duration: connectTimeout,
          orElse: () =>
            Effect.fail(
              new PgError({
                reason: new TimeoutError({
                  message: `connecting to ${Transport.describe(target)} timed out after ${connectTimeout} ms`,
                  operation: "connect",
                  timeoutMillis: connectTimeout
                })
              })
            )
        })
      )
      : run).pipe(Effect.onError(() => Effect.sync(() => established?.socket.destroy())))
  })

/** `open`, but when the server answers 'N' and plain is allowed next, continue in clear on the same socket (libpq). */
const openEstablished = (
  target: Transport.Endpoint,
  host: string,
  encryption: Encryption,
  plainAfterReject: boolean,
  tls: TlsSettings,
  timeoutMillis: number,
  keepAlive: Transport.KeepAlive,
  lendReads = false
): Effect.Effect<Established, PgError> =>
  Establish.open(target, host, encryption, tls, timeoutMillis, keepAlive, plainAfterReject, lendReads)

/** The parameters of a query given none: shared (a default `[]` would be an array per call). */
const NO_PARAMS: ReadonlyArray<unknown> = Object.freeze([])

const makeService = (engine: Engine): Session => {
  const conn = engine.conn

  const rawQuery = <R = Row>(
    sql: string,
    params: ReadonlyArray<unknown> = NO_PARAMS,
    options?: QueryOptions,
    tracker?: QueryTracker
  ) =>
    Effect.callback<QueryResult<R>, PgError>((resume) => {
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
      return engine.waitOn(request)
    })

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
            Scope.addFinalizer(scope, engine.abandon(request, () => request.abandon())),
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
    Effect.callback<ReadonlyArray<QueryResult<Row>>, PgError>((resume) => {
      const request = new SimpleRequest(sql, engine.registry, options?.rowMode ?? "object", resume as never, engine.resultSetsOwner)
      conn.submit(request)
      if (request.done) return
      return engine.abandon(request)
    })

  const batch = (items: ReadonlyArray<BatchItem>, options?: QueryOptions) =>
    Effect.callback<ReadonlyArray<QueryResult<Row>>, PgError>((resume) => {
      if (items.length === 0) return resume(Effect.succeed([]))
      const request = new BatchRequest(items, engine.registry, options?.rowMode ?? "object", resume as never, engine.resultSetsOwner)
      engine.startBatch(request, false, options?.prepare === false)
      if (request.done) return
      return engine.abandon(request)
    })

  const functionCall: Session["functionCall"] = (functionOid, args, options) =>
    Effect.callback((resume) => {
      const request = new FunctionCallRequest(
        functionOid,
        args,
        options?.argumentFormats ?? [],
        options?.resultFormat ?? 1,
        resume
      )
      conn.submit(request)
      if (request.done) return
      return engine.abandon(request)
    })

  const prepare = (sql: string, types: ReadonlyArray<number> = []) =>
    Effect.gen(function*() {
      const name = engine.nextStatementName()
      const statement = new Statement(name, sql, types)
      yield* Effect.acquireRelease(
        Effect.callback<void, PgError>((resume) => {
          const request = new PrepareRequest(statement, (error, parameterTypes, fields) =>
            engine.describeStatement(statement, error, parameterTypes, fields, (failure) =>
              resume(failure === undefined ? Effect.void : Effect.fail(failure))))
          conn.submit(request)
          if (request.done) return
          return engine.abandon(request)
        }),
        () =>
          Effect.callback<void>((resume) => {
            if (conn.isClosed) return resume(Effect.void)
            statement.state = "closed"
            conn.submit(new CloseRequest("S", name, () => resume(Effect.void)))
          }).pipe(Effect.timeoutOrElse({ duration: STATEMENT_CLOSE_TIMEOUT_MILLIS, orElse: () => Effect.void }))
      )
      const execute = <R = Row>(params: ReadonlyArray<unknown> = NO_PARAMS, options?: QueryOptions) =>
        Effect.callback<QueryResult<R>, PgError>((resume) => {
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
          return engine.waitOn(request)
        })
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
    Sink.fromTransform((upstream, scope) =>
      Effect.gen(function*() {
        const request = new CopyInRequest(sql)
        conn.submit(request)
        yield* Scope.addFinalizerExit(scope, (exit) =>
          Effect.suspend(() => {
            if (request.done) return Effect.void
            if (Exit.isSuccess(exit) && request.ended) return Effect.void
            // The upstream failed or the consumer was interrupted: CopyFail, so nothing is committed.
            request.finish(Exit.isFailure(exit) ? "COPY aborted by the client" : "COPY aborted by the client")
            return engine.awaitDone(request, DRAIN_TIMEOUT_MILLIS).pipe(Effect.asVoid)
          }))
        yield* request.awaitStart
        while (true) {
          const chunk = yield* upstream.pipe(Effect.catchCause((cause) =>
            Cause.hasFails(cause) && Cause.isDone(Cause.squash(cause)) ? Effect.succeed(undefined) : Effect.failCause(cause)
          ))
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
      }) as any
    )

  const copyTo = (sql: string): Stream.Stream<Uint8Array, PgError> =>
    Stream.fromChannel(
      Channel.fromTransform((_, scope) =>
        Effect.suspend(() => {
          const request = new CopyOutRequest(sql)
          conn.submit(request)
          return Effect.as(Scope.addFinalizer(scope, engine.abandon(request, () => request.abandon())), request.pull)
        })
      )
    )

  const listen = (channel: string) =>
    Effect.gen(function*() {
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

  return {
    processId: conn.processId,
    protocolVersion: { major: 3, minor: conn.protocolMinor },
    unsupportedProtocolOptions: engine.unsupportedProtocolOptions,
    encrypted: engine.encryption !== "plain",
    parameters: Effect.sync(() => new Map(conn.parameters) as ReadonlyMap<string, string>),
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
    cancel,
    isClosed: Effect.sync(() => conn.isClosed),
    settled: engine.settled,
    isSettled: () => conn.idle || conn.isClosed,
    isOpen: () => !conn.isClosed,
    queryTracked: (sql, params, options, tracker) => rawQuery(sql, params ?? NO_PARAMS, options, tracker),
    get registry() {
      return engine.registry
    }
  }
}

/**
 * A Layer that provides `PgSession` for its lifetime.
 *
 * @since 0.1.0
 */
export const layer = (options: SessionOptions): Layer.Layer<PgSession, PgError> =>
  Layer.effect(PgSession, connect(options))
