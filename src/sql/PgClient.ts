/**
 * `PgClient`: the `effect/sql` `SqlClient` for PostgreSQL on effect-pgwire's
 * sessions and pool.
 *
 * **Details**
 *
 * `PgClient.layer(config)` provides both `SqlClient` (what `effect/sql`
 * code, `SqlModel`, `SqlResolver`, `SqlSchema` and the `Migrator` use) and
 * `PgClient` (the same client plus PostgreSQL extras). An application on
 * `@effect/sql-pg` switches by replacing its `PgClient.layer` / `layerConfig`
 * with this one: the configuration accepts `@effect/sql-pg`'s names (`url`,
 * `host`, `port`, `path`, `ssl`, `database`, `username`, `password`,
 * `connectTimeout`, `keepAlive`, `applicationName`, `startupParameters`,
 * `startupOptions`, `spanAttributes`, `transformResultNames`,
 * `transformQueryNames`, `transformJson`, `multiplex`,
 * `multiplexConcurrency`, `prepare`, `preparedStatementCacheSize`,
 * `maxMessageSize`, `idleTimeout`, `maxConnections`, `minConnections`,
 * `connectionTTL`) as well as every `PgPool` option (TLS, multi-host,
 * acquire timeout, lifetime jitter, transaction-pooler safe mode, ...).
 *
 * - The configuration becomes the pool's options in `ClientConfig.ts` (the
 *   `url` first, the explicit settings over it).
 * - Statements are compiled by `Compiler.ts` (`$n` placeholders; the same
 *   output as `@effect/sql-pg`).
 * - One-statement work (`sql\`...\``, `.values`, `.raw`, `.unprepared`) takes
 *   a shared lease from the pool (pipelined with other callers when
 *   `multiplex` is on); `withTransaction`, `reserve`, `.stream`, `listen`,
 *   `copyFrom` and `copyTo` use an exclusive session (or the current
 *   transaction's). A lease's statements run in `SessionConnection.ts`, the
 *   extras in `Extras.ts`.
 * - `withTransaction(effect, { isolationLevel, readOnly, deferrable })`:
 *   nested calls are savepoints (`effect_sql_<depth>`), released on success;
 *   a COMMIT answered with ROLLBACK fails with a `SqlError` (reason
 *   `UnknownError`, operation "commit", the `PgError` `TransactionError` as
 *   its cause); interruption rolls back; a session whose ROLLBACK cannot run
 *   is retired, never reused. `afterCommit`, `Reactivity` deferral and
 *   `SqlResolver`'s transaction awareness work as with any `effect/sql`
 *   client (the transaction runs through `SqlClient.makeWithTransaction`, in
 *   `Transactions.ts`).
 * - Every statement gets a client span from `effect/sql` named after the
 *   database, with OpenTelemetry attributes `db.system.name` =
 *   "postgresql", `db.namespace`, `server.address`, `server.port` and
 *   `db.query.text` (the SQL with placeholders: parameter values never appear);
 *   the extras (`stream`, `copyFrom`, `copyTo`, `listen`, `notify`) get a
 *   client span of the same name and attributes plus `db.operation.name`.
 * - Failures are `SqlError`s whose reason comes from the SQLSTATE
 *   (`SqlErrors.ts`); the `PgError` is the reason's cause.
 *
 * `.unprepared` and `.valuesUnprepared` never create a named prepared
 * statement: without parameters they run through the simple query protocol,
 * so a migration may hold several statements (the rows are those of the last
 * statement); with parameters they run as the unnamed statement (one
 * Parse/Bind/Execute/Sync, nothing left on the server), whatever the
 * statement cache holds.
 *
 * Deliberately not here: `ssl` as a `tls.ConnectionOptions` object (use
 * `sslMode`, `sslRootCert`, `sslCert`, `sslKey`), `stream` (a custom duplex),
 * `types` (an `@effect/sql-pg` registry; use `registry`), and schema dumps
 * (see `PgMigrator.ts`).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Reactivity from "effect/reactivity/Reactivity"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as SqlClient from "effect/sql/SqlClient"
import type { Connection } from "effect/sql/SqlConnection"
import type { SqlError } from "effect/sql/SqlError"
import * as Statement from "effect/sql/Statement"
import * as Stream from "effect/Stream"
import * as PgPool from "../pool/Pool.ts"
import * as Routing from "../pool/Routing.ts"
import * as Transaction from "../pool/Transaction.ts"
import type {
  CopyResult,
  Notification,
  Row,
  StreamOptions
} from "../session/Session.ts"
import { type PgClientConfig, poolOptions } from "./ClientConfig.ts"
import * as Compiler from "./Compiler.ts"
import { makeExtras } from "./Extras.ts"
import { SessionConnection } from "./SessionConnection.ts"
import { makeWithTransaction, ReadOnlyTransaction } from "./Transactions.ts"
import { toSqlError } from "./SqlErrors.ts"

/** A notification from LISTEN/NOTIFY. @since 0.1.0 */
export type { Notification } from "../session/Session.ts"

/**
 * @since 0.1.0
 */
export const TypeId: TypeId = "~effect-pgwire/sql/PgClient"

/**
 * @since 0.1.0
 */
export type TypeId = "~effect-pgwire/sql/PgClient"

/**
 * The statement compiler (see `Compiler.ts`), under `@effect/sql-pg`'s name.
 *
 * @since 0.1.0
 */
export const makeCompiler: (
  transform?: ((name: string) => string) | undefined,
  transformJson?: boolean
) => Statement.Compiler = Compiler.makeCompiler

// ---------------------------------------------------------------------------
// Configuration (`ClientConfig.ts`)
// ---------------------------------------------------------------------------

/**
 * The client's configuration (see `ClientConfig.ts`).
 *
 * @since 0.1.0
 */
export type { PgClientConfig, PgPoolConfig } from "./ClientConfig.ts"

/**
 * A resolved connection string as session options, and a client configuration as pool options (see
 * `ClientConfig.ts`).
 *
 * @since 0.1.0
 */
export { poolOptions, sessionOptionsFromConfig } from "./ClientConfig.ts"

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

/**
 * The client: an `effect/sql` `SqlClient` with PostgreSQL extras.
 *
 * @since 0.1.0
 */
export interface PgClient extends SqlClient.SqlClient {
  readonly [TypeId]: TypeId
  readonly config: PgClientConfig
  /** The session pool behind the client (with `readReplicas`, the writer's). */
  readonly pool: PgPool.Pool
  /** Statements inside `effect` read from a standby when `readReplicas` is set (else nothing changes). */
  readonly withReadOnly: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Runs `self` in a transaction; nested calls are savepoints. The options
   * apply to a top-level transaction only.
   */
  readonly withTransaction: <R, E, A>(
    self: Effect.Effect<A, E, R>,
    options?: Transaction.TransactionOptions
  ) => Effect.Effect<A, E | SqlError, R>
  /** A `jsonb` parameter (the same as `@effect/sql-pg`'s `json`). */
  readonly json: (value: unknown) => Statement.Fragment
  /**
   * LISTEN on an exclusive session for the Scope; resolves once the server
   * confirmed LISTEN. The queue fails with a `SqlError` when the session
   * is lost, and is shut down when the Scope closes.
   */
  readonly listen: (channel: string) => Effect.Effect<Queue.Dequeue<Notification, SqlError>, SqlError, Scope.Scope>
  /** LISTEN as a Stream: the session is held while the stream runs. */
  readonly listenStream: (channel: string) => Stream.Stream<Notification, SqlError>
  /** NOTIFY (pg_notify). */
  readonly notify: (channel: string, payload?: string) => Effect.Effect<void, SqlError>
  /**
   * Rows of a statement as they are taken, in object or array form: one Execute, the socket read as the consumer
   * goes; with `pageSize`, paged through a portal (one round trip per page).
   */
  readonly stream: <A = Row>(
    statement: Statement.Fragment | string,
    options?: StreamOptions & { readonly params?: ReadonlyArray<unknown> | undefined }
  ) => Stream.Stream<A, SqlError>
  /** COPY ... FROM STDIN: a Sink of raw COPY data whose result carries the row count. */
  readonly copyFrom: (statement: Statement.Fragment | string) => Sink.Sink<CopyResult, Uint8Array, never, SqlError>
  /** COPY ... TO STDOUT: a Stream of raw COPY data. */
  readonly copyTo: (statement: Statement.Fragment | string) => Stream.Stream<Uint8Array, SqlError>
}

/**
 * The `PgClient` service tag.
 *
 * @since 0.1.0
 */
export const PgClient = Context.Service<PgClient>("effect-pgwire/sql/PgClient")

const ATTR_DB_SYSTEM_NAME = "db.system.name"
const ATTR_DB_NAMESPACE = "db.namespace"
const ATTR_SERVER_ADDRESS = "server.address"
const ATTR_SERVER_PORT = "server.port"

/** Where the client connects, for span attributes. */
const spanTarget = (options: PgPool.PoolOptions): { readonly address: string; readonly port: number } => {
  const first = options.hosts?.[0]
  return {
    address: first?.host || first?.hostaddr || options.host || "localhost",
    port: first?.port ?? options.port ?? 5432
  }
}

/**
 * Builds a client (and its pool) for the Scope.
 *
 * @since 0.1.0
 */
export const make = (
  config: PgClientConfig
): Effect.Effect<PgClient, SqlError, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function*() {
    const options = yield* Effect.mapError(poolOptions(config), (error) => toSqlError(error, "configure"))
    const routed = config.readReplicas === undefined ? undefined : yield* Effect.mapError(
      Routing.make({ ...options, ...config.readReplicas }),
      (error) => toSqlError(error, "configure")
    )
    const pool = routed?.writer ?? (yield* Effect.mapError(PgPool.make(options), (error) => toSqlError(error, "configure")))
    const compiler = Compiler.makeCompiler(config.transformQueryNames, config.transformJson)
    const transformRows = config.transformResultNames === undefined
      ? undefined
      : Statement.defaultTransforms(config.transformResultNames, config.transformJson ?? true).array
    const target = spanTarget(options)
    const spanAttributes: ReadonlyArray<readonly [string, unknown]> = [
      ...(config.spanAttributes === undefined ? [] : Object.entries(config.spanAttributes)),
      [ATTR_DB_SYSTEM_NAME, "postgresql"],
      [ATTR_DB_NAMESPACE, options.database ?? options.user ?? "postgres"],
      [ATTR_SERVER_ADDRESS, target.address],
      [ATTR_SERVER_PORT, target.port]
    ]
    // With read replicas, a statement inside withReadOnly takes its session from a standby's pool.
    const sharedPool = (fiber: { readonly getRef: <A>(ref: Context.Reference<A>) => A }) =>
      routed !== undefined && fiber.getRef(Routing.ReadOnlyIntent) ? routed.readPool : Effect.succeed(pool)
    const acquirer: Effect.Effect<Connection, SqlError, Scope.Scope> = Effect.mapError(
      Effect.flatMap(
        Effect.withFiber((fiber) => sharedPool(fiber)),
        (from) => Effect.map(from.acquireShared, (session) => new SessionConnection(session, from, true))
      ),
      (error) => toSqlError(error, "acquire")
    )
    // With read replicas, a read-only transaction takes its session from a standby's pool.
    const transactionPool = Effect.withFiber((fiber) =>
      routed !== undefined && fiber.getRef(ReadOnlyTransaction) ? routed.readPool : Effect.succeed(pool)
    )
    // The lease ends with its Scope (before the pool takes the session back): a fiber that outlives the
    // transaction or the reserve scope can no longer reach the session (see `SessionConnection.ts`).
    const transactionAcquirer: Effect.Effect<SessionConnection, SqlError, Scope.Scope> = Effect.mapError(
      Effect.flatMap(transactionPool, (from) =>
        Effect.flatMap(from.acquire, (session) => {
          const connection = new SessionConnection(session, from, false)
          return Effect.as(Effect.addFinalizer(() => Effect.sync(() => connection.release())), connection)
        })),
      (error) => toSqlError(error, "acquire")
    )
    const client = yield* SqlClient.make({
      acquirer,
      transactionAcquirer,
      compiler,
      driver: "effect-pgwire",
      spanAttributes,
      transformRows
    })
    const transactionService = client.transactionService

    const withTransaction = makeWithTransaction(transactionService, spanAttributes, transactionAcquirer)
    const extras = makeExtras(pool, compiler, spanAttributes, transactionService, transformRows)

    const service: PgClient = Object.assign(client, {
      [TypeId]: TypeId,
      config,
      pool,
      withReadOnly: Routing.withReadOnly,
      withTransaction,
      json: Compiler.json,
      ...extras
    })
    return service
  })

// ---------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------

/**
 * Provides `PgClient` and `SqlClient` from an acquisition effect.
 *
 * @since 0.1.0
 */
export const layerFrom = <E, R>(
  acquire: Effect.Effect<PgClient, E, R>
): Layer.Layer<PgClient | SqlClient.SqlClient, E, Exclude<R, Scope.Scope | Reactivity.Reactivity>> =>
  Layer.effectContext(
    Effect.map(acquire, (client) => Context.make(PgClient, client).pipe(Context.add(SqlClient.SqlClient, client)))
  ).pipe(Layer.provide(Reactivity.layer)) as any

/**
 * The client as a Layer: the drop-in replacement of `@effect/sql-pg`'s
 * `PgClient.layer`.
 *
 * ```ts
 * const SqlLive = PgClient.layer({ url: Redacted.make("postgres://app@db/app"), maxConnections: 20 })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (config: PgClientConfig): Layer.Layer<PgClient | SqlClient.SqlClient, SqlError> =>
  layerFrom(make(config))

/**
 * The client as a Layer, from `effect/Config` values (each field may be a
 * `Config`): the drop-in replacement of `@effect/sql-pg`'s `layerConfig`.
 *
 * ```ts
 * const SqlLive = PgClient.layerConfig({ url: Config.redacted("DATABASE_URL"), maxConnections: Config.succeed(20) })
 * ```
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Wrap<PgClientConfig>
): Layer.Layer<PgClient | SqlClient.SqlClient, Config.ConfigError | SqlError> =>
  layerFrom(Effect.flatMap(Config.unwrap(config), make))
