/**
 * `PgConfig`: everything needed to connect, resolved from explicit options, a
 * libpq connection string (URI or keyword/value), the connection service
 * file, `PG*` environment variables and libpq's defaults, with libpq's
 * precedence and checks.
 *
 * **Details**
 *
 * Precedence, highest first (libpq-connect.sgml "Parameter Key Words", "The
 * Connection Service File"; `conninfo_array_parse` and `conninfo_add_defaults`
 * in `fe-connect.c`):
 *
 * 1. explicit options (camelCase; an empty or undefined value is not a value,
 *    as with `PQconnectdbParams`);
 * 2. the connection string (`url`); within it, later settings win;
 * 3. the service named by `service` (or `PGSERVICE`): a service file setting
 *    overrides the environment, as the docs say, and the first setting of a
 *    keyword in the group wins;
 * 4. the `PG*` variable of each keyword (set means set, even when empty), then
 *    `PGREQUIRESSL=1` for an `sslmode` still unset;
 * 5. libpq's compiled-in defaults; the operating-system user name for `user`;
 *    and `sslmode=verify-full` instead of `prefer` when the default would
 *    apply and `sslrootcert=system`.
 *
 * Then the checks of libpq's `pqConnectOptions2`: host, hostaddr and port
 * lists must line up (one port serves every host), an empty host means
 * `Platform.defaultHost`, an empty database means the user name, the password
 * file defaults to `~/.pgpass` when no password is given, every enumerated
 * keyword must hold one of its documented values (an unknown `sslmode` is an
 * error, never "no TLS"), `sslnegotiation=direct` needs `sslmode` require or
 * stronger, `sslrootcert=system` needs `verify-full`, the TLS and protocol
 * version ranges must be ordered, and `require_auth` must parse
 * (`AuthKeywords.parseRequireAuth`). `max_protocol_version` defaults to the
 * latest (3.2): unlike libpq 18, which defaults to 3.0, a server that does not
 * speak 3.2 answers with NegotiateProtocolVersion and the session continues at
 * 3.0 (set `max_protocol_version=3.0` for a pooler that cannot negotiate).
 *
 * Where this differs from libpq, on purpose (and what the connection-time
 * checks of libpq happen here instead):
 *
 * - Integer settings (`port`, `connect_timeout`, `keepalives*`,
 *   `tcp_user_timeout`) are checked here with libpq's integer rules; a port
 *   outside 1-65535 and a `hostaddr` that is not an IP address are errors
 *   rather than a host skipped at connection time.
 * - `client_encoding` must be UTF-8 (`UTF8`, `UTF-8`, `UNICODE`, or `auto`):
 *   this client reads and writes UTF-8 only, so another encoding would
 *   silently garble text.
 * - `replication` must be one of its documented values (libpq leaves that
 *   check to the server).
 * - `gssencmode=require` and `sslcertmode=require` are refused as libpq
 *   refuses them when built without GSSAPI or without OpenSSL's certificate
 *   callback; `requirepeer` and the SCRAM pass-through keys are refused (see
 *   `Keywords`); the other keywords of features this client lacks are
 *   accepted and ignored (see `Keywords`).
 * - A NUL character in any value is an error naming the parameter, never
 *   quoting a secret; so is a lone UTF-16 surrogate (it has no UTF-8 form).
 * - `service`/`servicefile` are consumed while loading, so the config does not
 *   carry them; the settings they supplied are in the config.
 * - The empty host default is `Platform.defaultHost` (see `Platform`).
 *
 * Secrets (`password`, `sslPassword`) are `Redacted`: printing a config, its
 * JSON form, and every error show no password.
 *
 * `resolve` is pure; `load`/`parse` read the environment, the service file and
 * the platform; `config` reads the environment through `effect/Config`.
 * The password file is read per connection attempt, not here
 * (`PassFile.passwordFor`).
 *
 * The pieces, one concern each, re-exported here: `Vocabulary` and
 * `AuthKeywords` (the values each keyword accepts), `ConfigSchema` (`PgConfig`
 * and `Options`), `Resolve` (precedence, defaults and checks), `Format`
 * (writing a configuration back out), `SessionSettings` (the session's
 * `connect` options) and `Hosts` (the connection attempts).
 *
 * @since 0.1.0
 */
import * as EffectConfig from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import { type ConfigError, PgError } from "../errors/PgError.ts"
import { type Options, type PgConfig } from "./ConfigSchema.ts"
import * as Env from "./Env.ts"
import * as PassFile from "./PassFile.ts"
import * as Platform from "./Platform.ts"
import { resolve, settings } from "./Resolve.ts"
import * as ServiceFile from "./ServiceFile.ts"
import type { HostSpec } from "./Vocabulary.ts"

export { ChannelBinding } from "./AuthKeywords.ts"
export { type Options, PgConfig } from "./ConfigSchema.ts"
export { describe, format, toParams } from "./Format.ts"
export { type Attempt, attempts, type Random, serverNameFor, sslModeFor } from "./Hosts.ts"
export { optionParams, parseInteger, resolve, type ResolveInput, settings, withDefaults } from "./Resolve.ts"
export { type SessionSettings, type TlsKeywords, toSessionOptions } from "./SessionSettings.ts"
export {
  GssEncMode,
  HostSpec,
  IpAddress,
  LoadBalanceHosts,
  Port,
  ProtocolVersion,
  Replication,
  SslCertMode,
  SslMode,
  SslNegotiation,
  TargetSessionAttrs,
  TlsVersion
} from "./Vocabulary.ts"

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

/**
 * Where the ambient inputs come from; every field defaults to the running
 * process.
 *
 * @since 0.1.0
 */
export interface Sources {
  /** Default `process.env`. */
  readonly env?: Env.Environment | undefined
  /** Overrides of the detected platform facts (user, home, default host...). */
  readonly platform?: Partial<Platform.Platform> | undefined
}

const toPgError = (reason: ConfigError) => new PgError({ reason })

/**
 * Loads a configuration from explicit options (with an optional `url`), the
 * environment, the service file and the platform.
 *
 * @since 0.1.0
 */
export const load = Effect.fn("PgConfig.load")(function*(
  options: Options = {},
  sources: Sources = {}
): Effect.fn.Return<PgConfig, PgError> {
  const env = sources.env ?? Env.processEnv()
  const platform: Platform.Platform = { ...(yield* Platform.current(env)), ...sources.platform }
  const params = yield* Effect.mapError(Effect.fromResult(settings(options)), toPgError)
  const serviceName = params.get("service") ?? env["PGSERVICE"]
  const service = serviceName === undefined
    ? undefined
    : yield* ServiceFile.lookup(serviceName, params.get("servicefile"), env, platform)
  return yield* Effect.mapError(
    Effect.fromResult(resolve({ params, service: service?.params, env, platform })),
    toPgError
  )
})

/**
 * Parses a libpq connection string (a `postgresql://` URI or a keyword/value
 * string) into a resolved configuration; `options` override the string's
 * settings.
 *
 * @since 0.1.0
 */
export const parse = (
  connectionString: string,
  options: Omit<Options, "url"> = {},
  sources: Sources = {}
): Effect.Effect<PgConfig, PgError> => load({ ...options, url: connectionString }, sources)

/**
 * The configuration read through `effect/Config`: the `PG*` variables (and
 * `HOME`, `PGSYSCONFDIR`) come from the current `ConfigProvider`, then
 * loading proceeds as `load` with those variables as the environment.
 *
 * **Details**
 *
 * A failure is an `effect/Config` `ConfigError` whose `SourceError` carries
 * the `PgError` as its cause. `ConfigProvider.fromEnv` drops empty variables
 * unless created with `preserveEmptyStrings`.
 *
 * @since 0.1.0
 */
export const config = (options: Options = {}, platform?: Partial<Platform.Platform>): EffectConfig.Config<PgConfig> =>
  EffectConfig.schema(Env.EnvironmentSchema).pipe(
    EffectConfig.mapEffect((env) =>
      Effect.mapError(
        load(options, { env, platform }),
        (error) => new EffectConfig.ConfigError(new ConfigProvider.SourceError({ message: error.message, cause: error }))
      )
    )
  )

/**
 * The password for one host: the configuration's, else the password file's
 * (read now; see `PassFile.passwordFor`).
 *
 * @since 0.1.0
 */
export const passwordFor = (
  config: PgConfig,
  host: HostSpec,
  platform?: { readonly windows?: boolean | undefined }
): Effect.Effect<Redacted.Redacted<string> | undefined> => PassFile.passwordFor(config, host, platform)
