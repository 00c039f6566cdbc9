/**
 * The client's configuration: `PgClientConfig` (every `PgPool` option, plus
 * `@effect/sql-pg`'s names, plus the `effect/sql` settings) and its
 * translation into the pool's options (`poolOptions`), with the session
 * options of a parsed connection string (`sessionOptionsFromConfig`).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as PgConfig from "../config/Config.ts"
import { ConfigError, PgError } from "../errors/PgError.ts"
import type * as PgPool from "../pool/Pool.ts"
import type * as Routing from "../pool/Routing.ts"
import type { SessionOptions } from "../session/Session.ts"

/**
 * The client's configuration: every `PgPool` option (our names), plus
 * `@effect/sql-pg`'s names, plus the `effect/sql` settings.
 *
 * **Details**
 *
 * Where both spellings exist, ours wins when both are given: `user` over
 * `username`, `maxSize` over `maxConnections`, `minSize` over
 * `minConnections`, `maxLifetime` over `connectionTTL` (whose 0, as in
 * `@effect/sql-pg`, is `maxUses: 1`: each connection used once), `statementCacheSize`
 * over `prepare` / `preparedStatementCacheSize`, `parameters` over
 * `startupParameters`. Explicit settings win over the `url`'s.
 *
 * @since 0.1.0
 */
export interface PgClientConfig extends Omit<PgPool.PoolOptions, "connectTimeout" | "url"> {
  /** A libpq connection string (URI or keyword/value), parsed with `PgConfig.parse`. */
  readonly url?: Redacted.Redacted<string> | string | undefined
  /** `@effect/sql-pg`: a Unix socket file such as `/run/postgresql/.s.PGSQL.5432`. */
  readonly path?: string | undefined
  /** `@effect/sql-pg`: `true` requires TLS with verification against the system roots, `false` disables it. */
  readonly ssl?: boolean | undefined
  /** `@effect/sql-pg`: the user name. */
  readonly username?: string | undefined
  /** Connect + authenticate timeout (a number is milliseconds). Default 30 s. */
  readonly connectTimeout?: Duration.Input | undefined
  /** `@effect/sql-pg`: TCP keepalive on, with probes after this idle time (whole seconds, at least 1). */
  readonly keepAlive?: Duration.Input | undefined
  /** `@effect/sql-pg`: run-time parameters sent at startup. */
  readonly startupParameters?: Readonly<Record<string, string>> | undefined
  /** `@effect/sql-pg`: the startup `options` string (`-c name=value ...`). */
  readonly startupOptions?: string | undefined
  /** Extra attributes on every statement span. */
  readonly spanAttributes?: Readonly<Record<string, unknown>> | undefined
  /**
   * Route reads to standbys (`Routing.ts`): the hosts are a primary and its standbys; statements inside
   * `withReadOnly` and `withTransaction(effect, { readOnly: true })` read from a standby fit to read from,
   * everything else goes to the read-write server.
   */
  readonly readReplicas?: Routing.RoutingSettings | undefined
  /** Renames result columns (for example snake_case to camelCase). */
  readonly transformResultNames?: ((name: string) => string) | undefined
  /** Renames identifiers in statements (for example camelCase to snake_case). */
  readonly transformQueryNames?: ((name: string) => string) | undefined
  /** Also rename keys inside JSON values. Default true. */
  readonly transformJson?: boolean | undefined
  /** `@effect/sql-pg`: `false` turns the statement cache off (unnamed statements only). */
  readonly prepare?: boolean | undefined
  /** `@effect/sql-pg`: the statement cache size. */
  readonly preparedStatementCacheSize?: number | undefined
  /** `@effect/sql-pg`: `maxSize`. */
  readonly maxConnections?: number | undefined
  /** `@effect/sql-pg`: `minSize`. */
  readonly minConnections?: number | undefined
  /**
   * `@effect/sql-pg`: `maxLifetime`, except 0, which means what it means there: every connection is
   * used once (`maxUses: 1`), never reused.
   */
  readonly connectionTTL?: Duration.Input | undefined
}

/**
 * `@effect/sql-pg`'s name for the pooled client's configuration: the same type.
 *
 * @since 0.1.0
 */
export type PgPoolConfig = PgClientConfig

const configError = (message: string, parameter: string) =>
  new PgError({ reason: new ConfigError({ message, parameter }) })

const defined = <A extends object>(record: A): A => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value
  return out as A
}

/**
 * Session options from a resolved `PgConfig` (a parsed connection string).
 *
 * @since 0.1.0
 */
export const sessionOptionsFromConfig = (config: PgConfig.PgConfig): SessionOptions =>
  defined<SessionOptions>({
    hosts: config.hosts.map((h) => defined({ host: h.host, port: h.port, hostaddr: h.hostaddr })),
    user: config.user,
    password: config.password,
    passfile: config.passfile,
    database: config.database,
    options: config.options === "" ? undefined : config.options,
    applicationName: config.applicationName,
    fallbackApplicationName: config.fallbackApplicationName,
    connectTimeout: config.connectTimeout === undefined ? undefined : config.connectTimeoutMillis ?? 0,
    keepalives: config.keepalives,
    keepalivesIdle: config.keepalivesIdle,
    sslMode: config.sslMode,
    sslNegotiation: config.sslNegotiation,
    gssEncMode: config.gssEncMode,
    sslRootCert: config.sslRootCert,
    sslCert: config.sslCert,
    sslKey: config.sslKey,
    sslPassword: config.sslPassword,
    sslSni: config.sslSni,
    sslMinProtocolVersion: config.sslMinProtocolVersion,
    sslMaxProtocolVersion: config.sslMaxProtocolVersion,
    channelBinding: config.channelBinding,
    requireAuth: config.requireAuth,
    targetSessionAttrs: config.targetSessionAttrs,
    loadBalanceHosts: config.loadBalanceHosts,
    protocolVersion: config.maxProtocolVersion,
    minProtocolVersion: config.minProtocolVersion
  })

const SOCKET_FILE = /^(.*)\/\.s\.PGSQL\.(\d+)$/

/**
 * The pool options of a client configuration: the `url` parsed first, then
 * the explicit settings over it (see `PgClientConfig`).
 *
 * @since 0.1.0
 */
export const poolOptions = (config: PgClientConfig): Effect.Effect<PgPool.PoolOptions, PgError> =>
  Effect.gen(function*() {
    const url = config.url === undefined
      ? undefined
      : typeof config.url === "string"
      ? config.url
      : Redacted.value(config.url)
    const fromUrl: SessionOptions = url === undefined ? {} : sessionOptionsFromConfig(yield* PgConfig.parse(url))
    let socket: { host: string; port: number } | undefined
    if (config.path !== undefined) {
      const match = SOCKET_FILE.exec(config.path)
      if (match === null) {
        return yield* Effect.fail(
          configError("path must name a PostgreSQL socket file such as /run/postgresql/.s.PGSQL.5432", "path")
        )
      }
      socket = { host: match[1] === "" ? "/" : match[1]!, port: Number(match[2]) }
    }
    let connectTimeout: number | undefined
    if (config.connectTimeout !== undefined) {
      const parsed = Duration.fromInput(config.connectTimeout)
      if (Option.isNone(parsed)) return yield* Effect.fail(configError("invalid connectTimeout", "connectTimeout"))
      connectTimeout = Duration.toMillis(parsed.value)
    }
    let keepalives = config.keepalives
    let keepalivesIdle = config.keepalivesIdle
    if (config.keepAlive !== undefined) {
      const parsed = Duration.fromInput(config.keepAlive)
      if (Option.isNone(parsed)) return yield* Effect.fail(configError("invalid keepAlive", "keepAlive"))
      keepalives = keepalives ?? true
      keepalivesIdle = keepalivesIdle ?? Math.max(1, Math.floor(Duration.toMillis(parsed.value) / 1000))
    }
    const startupParameters = config.startupParameters === undefined && config.startupOptions === undefined
      ? undefined
      : {
        ...config.startupParameters,
        ...(config.startupOptions === undefined ? {} : { options: config.startupOptions })
      }
    const parameters = fromUrl.parameters === undefined && startupParameters === undefined &&
        config.parameters === undefined
      ? undefined
      : { ...fromUrl.parameters, ...startupParameters, ...config.parameters }
    // @effect/sql-pg's connectionTTL: a connection is used at least once, so 0 means "use each once";
    // our maxLifetime 0 means "no limit", so 0 becomes maxUses 1 instead.
    let connectionTTL = config.connectionTTL
    let maxUses = config.maxUses
    if (connectionTTL !== undefined && config.maxLifetime === undefined) {
      const parsed = Duration.fromInput(connectionTTL)
      if (Option.isNone(parsed)) return yield* Effect.fail(configError("invalid connectionTTL", "connectionTTL"))
      if (Duration.toMillis(parsed.value) === 0) {
        connectionTTL = undefined
        maxUses = maxUses ?? 1
      }
    }
    const statementCacheSize = config.statementCacheSize ??
      (config.prepare === false ? 0 : config.preparedStatementCacheSize)
    const explicit = defined<PgPool.PoolOptions>({
      ...config,
      url: undefined,
      path: undefined,
      ssl: undefined,
      username: undefined,
      startupParameters: undefined,
      startupOptions: undefined,
      spanAttributes: undefined,
      readReplicas: undefined,
      transformResultNames: undefined,
      transformQueryNames: undefined,
      transformJson: undefined,
      prepare: undefined,
      preparedStatementCacheSize: undefined,
      maxConnections: undefined,
      minConnections: undefined,
      connectionTTL: undefined,
      host: socket?.host ?? config.host,
      port: socket?.port ?? config.port,
      user: config.user ?? config.username,
      sslMode: config.sslMode ?? (config.ssl === true ? "verify-full" : config.ssl === false ? "disable" : undefined),
      sslRootCert: config.sslRootCert ?? (config.ssl === true ? "system" : undefined),
      keepAlive: undefined,
      connectTimeout,
      keepalives,
      keepalivesIdle,
      parameters,
      statementCacheSize,
      maxSize: config.maxSize ?? config.maxConnections,
      minSize: config.minSize ?? config.minConnections,
      maxLifetime: config.maxLifetime ?? connectionTTL,
      maxUses
    } as PgPool.PoolOptions)
    // An explicit host replaces the url's host list.
    const merged: PgPool.PoolOptions = { ...fromUrl, ...explicit }
    return explicit.host !== undefined && explicit.hosts === undefined ? { ...merged, hosts: undefined } : merged
  })
