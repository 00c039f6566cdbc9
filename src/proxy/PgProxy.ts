/**
 * `PgProxy`: a connection pooler in front of PostgreSQL, built on `PgServer`
 * (clients: start-up, TLS, authentication, cancel keys) and on the session's
 * transport and libpq resolution (upstream connections).
 *
 * **Details**
 *
 * - `mode: "transaction"` (default): a client holds an upstream from its first
 *   statement until ReadyForQuery 'I' with nothing outstanding; `"session"`:
 *   from its first statement until it leaves.
 * - Frames are relayed as bytes; only what the accounting needs is looked at
 *   (see `Relay.ts`). Prepared statements are mapped to upstream names and
 *   replayed where missing (`Statements.ts`). Statements that leave state in
 *   the backend pin the client to its upstream (`SessionState.ts`).
 * - Clients authenticate against the proxy (`auth`: trust, cleartext, md5,
 *   SCRAM-SHA-256 and -PLUS over the proxy's TLS); upstream connections use
 *   the proxy's own credentials from `upstream` (libpq keywords, `url`, `PG*`
 *   variables, the password file).
 * - Clients connected to `admin.database` (default "pgproxy") get the admin
 *   console (`Admin.ts`).
 * - The proxy's Scope closes the listener (clients get FATAL 57P01), then
 *   every upstream.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { ConfigError, PgError } from "../errors/PgError.ts"
import type { PoolOptions } from "../pool/Settings.ts"
import * as PgServer from "../server/PgServer.ts"
import { DEFAULT_ADMIN_DATABASE, serveAdmin } from "./Admin.ts"
import * as Metrics from "./Metrics.ts"
import * as Parameters from "./Parameters.ts"
import type { Context as RelayContext, Totals } from "./Context.ts"
import { type Relay, serveClient } from "./Relay.ts"
import { DEFAULT_MAX_PREPARED_STATEMENTS } from "./Statements.ts"
import * as Upstream from "./Upstream.ts"
import {
  DEFAULT_ACQUIRE_TIMEOUT_MILLIS,
  DEFAULT_IDLE_TIMEOUT_MILLIS,
  DEFAULT_MAX_LIFETIME_MILLIS,
  DEFAULT_POOL_SIZE,
  type PoolSettings,
  UpstreamPool
} from "./UpstreamPool.ts"

export { DEFAULT_ADMIN_DATABASE } from "./Admin.ts"
export { metricsOf } from "./Metrics.ts"
export { DEFAULT_MAX_PREPARED_STATEMENTS } from "./Statements.ts"
export { DEFAULT_ACQUIRE_TIMEOUT_MILLIS, DEFAULT_IDLE_TIMEOUT_MILLIS, DEFAULT_MAX_LIFETIME_MILLIS, DEFAULT_POOL_SIZE } from "./UpstreamPool.ts"

/** Client connections served at once, by default (PgBouncer's `max_client_conn`). */
export const DEFAULT_MAX_CLIENT_CONNECTIONS = 100

/**
 * @since 0.1.0
 */
export interface ProxyOptions {
  readonly listen?: PgServer.Listen | undefined
  /** The proxy's certificate: clients may use TLS (and SCRAM-SHA-256-PLUS). */
  readonly tls?: PgServer.TlsOptions | undefined
  /** How clients authenticate to the proxy (default trust). */
  readonly auth?: PgServer.AuthMethod | undefined
  /**
   * The upstream server and the pool: libpq keywords (`url`, `host`, `user`,
   * `password`, `sslmode`, ...) and `minSize`, `maxSize` (default 20),
   * `acquireTimeout` (30 s), `idleTimeout` (60 s), `maxLifetime` (30 min).
   */
  readonly upstream: PoolOptions
  /** Default "transaction". */
  readonly mode?: "session" | "transaction" | undefined
  /** Default `DEFAULT_MAX_CLIENT_CONNECTIONS`; one more is answered FATAL 53300. */
  readonly maxClientConnections?: number | undefined
  /** Statements kept prepared per upstream (least recently used closed first). Default 200. */
  readonly maxPreparedStatements?: number | undefined
  /** The admin console's database (default "pgproxy"), or false for none. */
  readonly admin?: { readonly database?: string | undefined } | false | undefined
  /** The `proxy.name` attribute of the metrics (`Metrics.ts`). Default "default". */
  readonly name?: string | undefined
  /** The newest protocol offered to clients (default "3.2"). */
  readonly protocol?: { readonly max?: "3.0" | "3.2" | undefined } | undefined
}

/**
 * A running proxy.
 *
 * @since 0.1.0
 */
export interface RunningProxy {
  readonly address: PgServer.Address
  /** Clients connected now. */
  readonly clients: Effect.Effect<number>
  /** Upstream connections open now. */
  readonly upstreams: Effect.Effect<number>
  /** The admin console's tables (as `SHOW POOLS` etc.). */
  readonly totals: Effect.Effect<Totals>
  readonly shutdown: (mode: "smart" | "fast") => Effect.Effect<void>
}

/**
 * The running proxy as a service (`layer`).
 *
 * @since 0.1.0
 */
export class Proxy extends Context.Service<Proxy, RunningProxy>()("effect-pgwire/proxy/PgProxy") {}

const millis = (input: Duration.Input | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(Duration.fromInputUnsafe(input))

const configError = (message: string, parameter: string) =>
  new PgError({ reason: new ConfigError({ message, parameter }) })

const settingsOf = (options: PoolOptions): PoolSettings | PgError => {
  const maxSize = options.maxSize ?? DEFAULT_POOL_SIZE
  const minSize = options.minSize ?? 0
  if (!Number.isInteger(maxSize) || maxSize < 1) return configError(`maxSize must be a positive integer, got ${maxSize}`, "maxSize")
  if (!Number.isInteger(minSize) || minSize < 0 || minSize > maxSize) {
    return configError(`minSize must be an integer between 0 and maxSize, got ${minSize}`, "minSize")
  }
  const acquireTimeoutMillis = millis(options.acquireTimeout, DEFAULT_ACQUIRE_TIMEOUT_MILLIS)
  if (!(acquireTimeoutMillis > 0) || !Number.isFinite(acquireTimeoutMillis)) {
    return configError("acquireTimeout must be finite and positive", "acquireTimeout")
  }
  return {
    minSize,
    maxSize,
    acquireTimeoutMillis,
    idleTimeoutMillis: millis(options.idleTimeout, DEFAULT_IDLE_TIMEOUT_MILLIS),
    maxLifetimeMillis: millis(options.maxLifetime, DEFAULT_MAX_LIFETIME_MILLIS)
  }
}

/**
 * Listens until the Scope closes.
 *
 * @since 0.1.0
 */
export const serve = (options: ProxyOptions): Effect.Effect<RunningProxy, PgError, Scope.Scope> =>
  Effect.gen(function*() {
    const settings = settingsOf(options.upstream)
    if (settings instanceof PgError) return yield* Effect.fail(settings)
    const maxPrepared = options.maxPreparedStatements ?? DEFAULT_MAX_PREPARED_STATEMENTS
    if (!Number.isInteger(maxPrepared) || maxPrepared < 1) {
      return yield* Effect.fail(configError("maxPreparedStatements must be a positive integer", "maxPreparedStatements"))
    }
    const target = yield* Upstream.resolve(options.upstream)
    const fibers = yield* FiberSet.make()
    const runFork = yield* FiberSet.runtime(fibers)()
    const pool = new UpstreamPool(settings, (callback) => {
      runFork(
        Effect.flatMap(Effect.exit(Upstream.open(target, maxPrepared)), (exit) =>
          Effect.sync(() => {
            if (Exit.isSuccess(exit)) return callback(exit.value)
            const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
            callback(
              failure !== undefined && failure._tag === "Fail"
                ? failure.error
                : configError("the upstream connection could not be opened", "upstream")
            )
          }))
      )
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => pool.closeAll()))
    const totals: Totals = { transactions: 0, queries: 0, received: 0, sent: 0, canceled: 0, cancelsDropped: 0, parameterSets: 0 }
    const clients = new Set<Relay>()
    const ctx: RelayContext = {
      pool,
      mode: options.mode ?? "transaction",
      totals,
      fork: (effect) => {
        runFork(effect)
      },
      clients
    }
    yield* Effect.forkScoped(Metrics.record(options.name ?? "default", ctx))
    const adminDatabase = options.admin === false ? undefined : options.admin?.database ?? DEFAULT_ADMIN_DATABASE

    /** The server's ParameterStatus set: known once an upstream has been opened (opened here for the first client). */
    const serverParameters = Effect.callback<ReadonlyMap<string, string>, PgServer.Errors.ServerError>((resume) => {
      const known = pool.serverParameters
      if (known !== undefined) return resume(Effect.succeed(known))
      const withdraw = pool.acquire((result) => {
        if ("reason" in result) {
          resume(Effect.fail(PgServer.Errors.make("08006", `the upstream server is not available: ${result.reason.message}`)))
          return
        }
        pool.release(result)
        resume(Effect.succeed(pool.serverParameters ?? result.parameters))
      })
      return Effect.sync(withdraw)
    })

    const server = yield* PgServer.serve({
      listen: options.listen,
      tls: options.tls,
      auth: options.auth,
      protocol: options.protocol,
      limits: { maxConnections: options.maxClientConnections ?? DEFAULT_MAX_CLIENT_CONNECTIONS },
      handler: { simple: () => Stream.empty },
      parameters: (info) =>
        info.database === adminDatabase ? Effect.succeed({}) : Effect.flatMap(serverParameters, (server) => {
          const canonical = new Map([...server.keys()].map((name) => [name.toLowerCase(), name]))
          const values: Record<string, string> = Object.fromEntries(server)
          for (const [name, value] of info.parameters) {
            if (name === "user" || name === "database" || name === "options" || name.startsWith("_pq_.")) continue
            values[canonical.get(name.toLowerCase()) ?? name] = value
          }
          // `-c name=value` in options: a malformed one refuses the client now; those the server reports are told.
          const options = info.parameters.get("options")
          if (options !== undefined) {
            const settings = Parameters.parseOptions(options)
            if (!Array.isArray(settings)) return Effect.fail(settings)
            for (const [name, value] of settings) {
              const reported = canonical.get(name)
              if (reported !== undefined) values[reported] = value
            }
          }
          return Effect.succeed(values)
        }),
      takeover: (takeover) =>
        adminDatabase !== undefined && takeover.info.database === adminDatabase
          ? serveAdmin(takeover, ctx, target.settings.database)
          : serveClient(takeover, ctx)
    })
    return {
      address: server.address,
      clients: Effect.sync(() => clients.size),
      upstreams: Effect.sync(() => pool.all.size),
      totals: Effect.sync(() => ({ ...totals })),
      shutdown: server.shutdown
    }
  })

/**
 * `serve` as a Layer of `Proxy`.
 *
 * @since 0.1.0
 */
export const layer = (options: ProxyOptions): Layer.Layer<Proxy, PgError> => Layer.effect(Proxy, serve(options))
