/**
 * The session's public vocabulary: the options of `connect`, of a query and of
 * a stream, the `Session` service interface and its tag, and the registry a
 * session uses by default.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import type { ChannelBinding } from "../config/AuthKeywords.ts"
import type {
  GssEncMode,
  LoadBalanceHosts,
  ProtocolVersion,
  SslCertMode,
  SslMode,
  SslNegotiation,
  TargetSessionAttrs,
  TlsVersion
} from "../config/Vocabulary.ts"
import type { PgError } from "../errors/PgError.ts"
import type * as Backend from "../protocol/Backend.ts"
import { defaultRegistry, type Registry } from "../types/Registry.ts"
import type { FunctionCallResult, QueryTracker } from "./Requests.ts"
import type { BatchItem } from "./ResultSets.ts"
import type { Field, Notice, QueryResult, Row, RowMode } from "./Result.ts"
import type { Lender, LenderKey } from "./Lender.ts"
import type { CopyResult } from "./Streaming.ts"

export type { BatchItem, CopyResult, Field, FunctionCallResult, Notice, QueryResult, QueryTracker, Row, RowMode }

/**
 * `target_session_attrs` (libpq-connect.sgml), as the configuration defines it.
 *
 * @since 0.1.0
 */
export type { TargetSessionAttrs }

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
  readonly sslCertMode?: SslCertMode | undefined
  /** libpq `sslkeylogfile`. */
  readonly sslKeyLogFile?: string | undefined
  /** libpq `ssl_min_protocol_version`. Default "TLSv1.2". */
  readonly sslMinProtocolVersion?: TlsVersion | undefined
  /** libpq `ssl_max_protocol_version`. */
  readonly sslMaxProtocolVersion?: TlsVersion | undefined
  /** libpq `channel_binding`: "disable", "prefer" (default), "require". */
  readonly channelBinding?: ChannelBinding | undefined
  /** libpq `require_auth`: a comma-separated list of methods, or of negated methods (`!md5,!password`). */
  readonly requireAuth?: string | undefined
  /** libpq `target_session_attrs`. Default "any". */
  readonly targetSessionAttrs?: TargetSessionAttrs | undefined
  /** libpq `load_balance_hosts`: "disable" (default) or "random". */
  readonly loadBalanceHosts?: LoadBalanceHosts | undefined
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
  /**
   * Protocol version to ask for: "3.2" (default), "3.0", or "2.0" (PostgreSQL 13 and older: the 2.0 session, see
   * the README's "Protocol 2.0" section).
   */
  readonly protocolVersion?: ProtocolVersion | undefined
  /**
   * Lowest protocol version accepted when the server offers an older one. Default "3.0". "2.0" lets a 3.x start-up
   * refused by a server too old for 3.0 start again in 2.0, as libpq up to 13 did.
   */
  readonly minProtocolVersion?: ProtocolVersion | undefined
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
  /**
   * Every `query`, `simple`, `batch`, `functionCall`, `prepare` and prepared `execute` that takes longer than this
   * fails with a `TimeoutError` (operation "query") and is cancelled as an interrupted request is, in milliseconds
   * (0: none). A pool's sessions take the pool's. Default 0 (`DEFAULT_QUERY_TIMEOUT_MILLIS`): only the caller's
   * own timeout and the liveness check end a wait.
   */
  readonly queryTimeout?: number | undefined
  /**
   * Silence while a request waits, in milliseconds, before the session checks that the server still answers a side
   * connection; no answer within `livenessProbeTimeout` breaks the session, and so does a frame stopped in the
   * middle that long (see `Liveness`). 0: off. Default 15000 (`LIVENESS_CHECK_AFTER_MILLIS`).
   */
  readonly livenessCheckAfter?: number | undefined
  /** How long a liveness check may take, in milliseconds. Default 5000 (`LIVENESS_PROBE_TIMEOUT_MILLIS`). */
  readonly livenessProbeTimeout?: number | undefined
  /**
   * How often a listening session with nothing in flight checks its connection (a Sync, answered within
   * `livenessProbeTimeout`, else the session breaks and its notification streams fail), in milliseconds. 0: off.
   * Default 30000 (`LISTEN_CHECK_INTERVAL_MILLIS`).
   */
  readonly listenCheckInterval?: number | undefined
}

/**
 * The default of `queryTimeout`: none.
 *
 * @since 0.1.0
 */
export const DEFAULT_QUERY_TIMEOUT_MILLIS = 0

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
  /**
   * Protocol 2.0 only: inside a transaction block, page through a `BINARY` cursor, whose rows decode through the
   * binary codecs (outside one, a ConfigError: a cursor needs a transaction block). Ignored by 3.x sessions.
   */
  readonly binary?: boolean | undefined
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
  readonly protocolVersion: { readonly major: 2 | 3; readonly minor: number }
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
  /** For whoever lends the session (a pool); the key is not exported by the public module. */
  readonly [LenderKey]: Lender
  /** The type registry in use. */
  readonly registry: Registry
}

/**
 * The `PgSession` service tag.
 *
 * @since 0.1.0
 */
export class PgSession extends Context.Service<PgSession, Session>()("effect-pgwire/session/PgSession") {}

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
