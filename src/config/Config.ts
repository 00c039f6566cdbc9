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
 * (`AuthPolicy.parseRequireAuth`). `max_protocol_version` defaults to the
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
 * @since 0.1.0
 */
import * as EffectConfig from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { isIP } from "node:net"
import * as AuthPolicy from "../auth/AuthPolicy.ts"
import { ConfigError, PgError } from "../errors/PgError.ts"
import * as ConnString from "./ConnString.ts"
import * as Env from "./Env.ts"
import * as Keywords from "./Keywords.ts"
import * as PassFile from "./PassFile.ts"
import * as Platform from "./Platform.ts"
import * as ServiceFile from "./ServiceFile.ts"

// ---------------------------------------------------------------------------
// Enumerated keywords
// ---------------------------------------------------------------------------

/**
 * libpq `sslmode`.
 *
 * @since 0.1.0
 */
export const SslMode = Schema.Literals(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"])
/** @since 0.1.0 */
export type SslMode = typeof SslMode.Type

/**
 * libpq `sslnegotiation`.
 *
 * @since 0.1.0
 */
export const SslNegotiation = Schema.Literals(["postgres", "direct"])
/** @since 0.1.0 */
export type SslNegotiation = typeof SslNegotiation.Type

/**
 * libpq `sslcertmode` (`require` is refused: see the module notes).
 *
 * @since 0.1.0
 */
export const SslCertMode = Schema.Literals(["disable", "allow"])
/** @since 0.1.0 */
export type SslCertMode = typeof SslCertMode.Type

/**
 * libpq `ssl_min_protocol_version` / `ssl_max_protocol_version`, spelled as
 * Node's `tls` module and libpq's docs spell them.
 *
 * @since 0.1.0
 */
export const TlsVersion = Schema.Literals(["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"])
/** @since 0.1.0 */
export type TlsVersion = typeof TlsVersion.Type

/**
 * libpq `channel_binding`.
 *
 * @since 0.1.0
 */
export const ChannelBinding = Schema.Literals(["disable", "prefer", "require"])
/** @since 0.1.0 */
export type ChannelBinding = typeof ChannelBinding.Type

/**
 * libpq `gssencmode` (`require` is refused: no GSSAPI here).
 *
 * @since 0.1.0
 */
export const GssEncMode = Schema.Literals(["disable", "prefer"])
/** @since 0.1.0 */
export type GssEncMode = typeof GssEncMode.Type

/**
 * libpq `target_session_attrs`.
 *
 * @since 0.1.0
 */
export const TargetSessionAttrs = Schema.Literals(["any", "read-write", "read-only", "primary", "standby", "prefer-standby"])
/** @since 0.1.0 */
export type TargetSessionAttrs = typeof TargetSessionAttrs.Type

/**
 * libpq `load_balance_hosts`.
 *
 * @since 0.1.0
 */
export const LoadBalanceHosts = Schema.Literals(["disable", "random"])
/** @since 0.1.0 */
export type LoadBalanceHosts = typeof LoadBalanceHosts.Type

/**
 * A protocol version for `min_protocol_version` / `max_protocol_version`
 * (`latest` resolves to 3.2).
 *
 * @since 0.1.0
 */
export const ProtocolVersion = Schema.Literals(["3.0", "3.2"])
/** @since 0.1.0 */
export type ProtocolVersion = typeof ProtocolVersion.Type

/**
 * libpq `replication`, normalised: `true` (physical), `database` (logical),
 * `false` (a regular connection).
 *
 * @since 0.1.0
 */
export const Replication = Schema.Literals(["false", "true", "database"])
/** @since 0.1.0 */
export type Replication = typeof Replication.Type

// ---------------------------------------------------------------------------
// Field schemas
// ---------------------------------------------------------------------------

const noNul = Schema.makeFilter(
  (s: string) =>
    s.includes("\u0000") ? "must not contain a NUL character" : s.isWellFormed() || "must be well-formed Unicode",
  { arbitraryConstraint: { patterns: [{ source: "^[\\u0001-\\uD7FF\\uE000-\\uFFFF]*$", flags: "" }] } }
)

/** A string value: well-formed Unicode without NUL. */
const Text = Schema.String.check(noNul)

/** A value where empty means unset: present values are non-empty. */
const NonEmptyText = Schema.String.check(noNul, Schema.isNonEmpty())

const INT32_MIN = -2147483648
const INT32_MAX = 2147483647

/** An integer setting, in libpq's `int` range. */
const Int32 = Schema.Int.check(Schema.isBetween({ minimum: INT32_MIN, maximum: INT32_MAX }))

const IPV4 = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}"

/**
 * A numeric IPv4 or IPv6 address (libpq `hostaddr`).
 *
 * @since 0.1.0
 */
export const IpAddress = Schema.String.check(
  Schema.makeFilter((s: string) => isIP(s) !== 0 || "must be a numeric IP address", {
    expected: "a numeric IP address",
    arbitraryConstraint: { patterns: [{ source: `^${IPV4}$`, flags: "" }] }
  })
)

/**
 * A TCP port.
 *
 * @since 0.1.0
 */
export const Port = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))

const HostName = Text.check(Schema.makeFilter((s: string) => !s.includes(",") || "must not contain a comma"))

/**
 * One host to try: a host name, IP address or Unix socket directory, an
 * optional numeric address to use instead of resolving it, and a port.
 *
 * **Details**
 *
 * `host` is empty only when `hostaddr` is given (libpq then has no host
 * name: TLS `verify-full` and the password file use the address). Neither may
 * contain a comma: libpq's lists could not express it.
 *
 * @since 0.1.0
 */
export const HostSpec = Schema.Union([
  Schema.Struct({ host: HostName.check(Schema.isNonEmpty()), hostaddr: Schema.optionalKey(IpAddress), port: Port }),
  Schema.Struct({ host: Schema.Literal(""), hostaddr: IpAddress, port: Port })
])
/** @since 0.1.0 */
export type HostSpec = typeof HostSpec.Type

const REQUIRE_AUTH_METHOD = "!?(password|md5|gss|sspi|scram-sha-256|oauth|none)"

const RequireAuthText = NonEmptyText.check(
  Schema.makeFilter((s: string) => Result.isSuccess(AuthPolicy.parseRequireAuth(s)) || "must be a valid require_auth list", {
    expected: "a require_auth list",
    arbitraryConstraint: { patterns: [{ source: `^${REQUIRE_AUTH_METHOD}$`, flags: "" }] }
  })
)

const Secret = Schema.Redacted(Text)

const STRONG_SSL_MODES: ReadonlyArray<SslMode> = ["require", "verify-ca", "verify-full"]

const TLS_ORDER: ReadonlyArray<TlsVersion> = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]

const Fields = Schema.Struct({
  /** The hosts to try, in order (before `load_balance_hosts` shuffling). */
  hosts: Schema.NonEmptyArray(HostSpec),
  user: NonEmptyText,
  password: Schema.optionalKey(Secret),
  /** The password file to consult when no password is given. */
  passfile: Schema.optionalKey(NonEmptyText),
  database: NonEmptyText,
  /** Command-line options sent to the server (`-c name=value ...`). */
  options: Text,
  applicationName: Schema.optionalKey(NonEmptyText),
  fallbackApplicationName: Schema.optionalKey(NonEmptyText),
  clientEncoding: Schema.optionalKey(Schema.Literal("UTF8")),
  /** Seconds, per host; zero or negative means no limit (see `connectTimeoutMillis`). */
  connectTimeout: Schema.optionalKey(Int32),
  keepalives: Schema.Boolean,
  /** Seconds; zero means the system default. */
  keepalivesIdle: Schema.optionalKey(Int32),
  /** Seconds; zero means the system default. */
  keepalivesInterval: Schema.optionalKey(Int32),
  keepalivesCount: Schema.optionalKey(Int32),
  /** Milliseconds; zero means the system default. */
  tcpUserTimeout: Schema.optionalKey(Int32),
  replication: Replication,
  gssEncMode: GssEncMode,
  sslMode: SslMode,
  sslNegotiation: SslNegotiation,
  sslCert: Schema.optionalKey(NonEmptyText),
  sslKey: Schema.optionalKey(NonEmptyText),
  sslKeyLogFile: Schema.optionalKey(NonEmptyText),
  sslPassword: Schema.optionalKey(Secret),
  sslCertMode: SslCertMode,
  /** A file of trusted roots, or `system`. */
  sslRootCert: Schema.optionalKey(NonEmptyText),
  sslCrl: Schema.optionalKey(NonEmptyText),
  sslCrlDir: Schema.optionalKey(NonEmptyText),
  sslSni: Schema.Boolean,
  /** Unset: no minimum (libpq's default is TLSv1.2). */
  sslMinProtocolVersion: Schema.optionalKey(TlsVersion),
  sslMaxProtocolVersion: Schema.optionalKey(TlsVersion),
  /** As written; `authPolicy` gives its parsed form. */
  requireAuth: Schema.optionalKey(RequireAuthText),
  channelBinding: ChannelBinding,
  targetSessionAttrs: TargetSessionAttrs,
  loadBalanceHosts: LoadBalanceHosts,
  minProtocolVersion: ProtocolVersion,
  maxProtocolVersion: ProtocolVersion
}).check(
  Schema.makeFilter((c) =>
    c.sslNegotiation !== "direct" || STRONG_SSL_MODES.includes(c.sslMode) ||
    `weak sslmode "${c.sslMode}" may not be used with sslnegotiation=direct (use "require", "verify-ca", or "verify-full")`
  ),
  Schema.makeFilter((c) =>
    c.sslRootCert !== "system" || c.sslMode === "verify-full" ||
    `weak sslmode "${c.sslMode}" may not be used with sslrootcert=system (use "verify-full")`
  ),
  Schema.makeFilter((c) =>
    !(c.minProtocolVersion === "3.2" && c.maxProtocolVersion === "3.0") ||
    `"min_protocol_version" is greater than "max_protocol_version"`
  ),
  Schema.makeFilter((c) =>
    c.sslMinProtocolVersion === undefined || c.sslMaxProtocolVersion === undefined ||
    TLS_ORDER.indexOf(c.sslMinProtocolVersion) <= TLS_ORDER.indexOf(c.sslMaxProtocolVersion) ||
    "invalid SSL protocol version range"
  )
)

/**
 * A resolved connection configuration: every libpq keyword this client
 * honours, in camelCase, with libpq's defaults applied.
 *
 * **Details**
 *
 * Printing it (`String`, `JSON.stringify`, `util.inspect`) shows
 * `<redacted>` for `password` and `sslPassword`.
 *
 * @since 0.1.0
 */
export class PgConfig extends Schema.Class<PgConfig>("effect-pgwire/PgConfig")(Fields) {
  /** `connect_timeout` in milliseconds, or `undefined` when there is no limit (unset, zero or negative). */
  get connectTimeoutMillis(): number | undefined {
    const seconds = this.connectTimeout
    return seconds !== undefined && seconds > 0 ? seconds * 1000 : undefined
  }
}

// ---------------------------------------------------------------------------
// Explicit options
// ---------------------------------------------------------------------------

type Secretish = string | Redacted.Redacted<string>
type Intish = number | string

/**
 * Connection settings given directly: libpq's keywords in camelCase, plus
 * `url` (a connection string) and `hosts` (the host/hostaddr/port lists as
 * objects).
 *
 * **Details**
 *
 * These win over everything else. `undefined` and `""` mean "not given" (as
 * `PQconnectdbParams` ignores empty values). Booleans become libpq's `1`/`0`
 * (`replication: true` becomes `true`). Unknown keys are a `ConfigError`.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly url?: string | undefined
  readonly host?: string | undefined
  readonly hostaddr?: string | undefined
  readonly port?: Intish | undefined
  readonly hosts?:
    | ReadonlyArray<
      { readonly host?: string | undefined; readonly hostaddr?: string | undefined; readonly port?: Intish | undefined }
    >
    | undefined
  readonly user?: string | undefined
  readonly password?: Secretish | undefined
  readonly passfile?: string | undefined
  readonly database?: string | undefined
  readonly service?: string | undefined
  readonly serviceFile?: string | undefined
  readonly options?: string | undefined
  readonly applicationName?: string | undefined
  readonly fallbackApplicationName?: string | undefined
  readonly clientEncoding?: string | undefined
  readonly connectTimeout?: Intish | undefined
  readonly keepalives?: boolean | Intish | undefined
  readonly keepalivesIdle?: Intish | undefined
  readonly keepalivesInterval?: Intish | undefined
  readonly keepalivesCount?: Intish | undefined
  readonly tcpUserTimeout?: Intish | undefined
  readonly replication?: boolean | string | undefined
  readonly gssEncMode?: string | undefined
  readonly sslMode?: SslMode | (string & {}) | undefined
  readonly sslNegotiation?: SslNegotiation | (string & {}) | undefined
  readonly sslCompression?: boolean | string | undefined
  readonly sslCert?: string | undefined
  readonly sslKey?: string | undefined
  readonly sslKeyLogFile?: string | undefined
  readonly sslPassword?: Secretish | undefined
  readonly sslCertMode?: string | undefined
  readonly sslRootCert?: string | undefined
  readonly sslCrl?: string | undefined
  readonly sslCrlDir?: string | undefined
  readonly sslSni?: boolean | string | undefined
  readonly requirePeer?: string | undefined
  readonly requireAuth?: string | undefined
  readonly channelBinding?: ChannelBinding | (string & {}) | undefined
  readonly sslMinProtocolVersion?: TlsVersion | (string & {}) | undefined
  readonly sslMaxProtocolVersion?: TlsVersion | (string & {}) | undefined
  readonly minProtocolVersion?: ProtocolVersion | "latest" | (string & {}) | undefined
  readonly maxProtocolVersion?: ProtocolVersion | "latest" | (string & {}) | undefined
  readonly krbSrvName?: string | undefined
  readonly gssLib?: string | undefined
  readonly gssDelegation?: boolean | string | undefined
  readonly targetSessionAttrs?: TargetSessionAttrs | (string & {}) | undefined
  readonly loadBalanceHosts?: LoadBalanceHosts | (string & {}) | undefined
  readonly scramClientKey?: Secretish | undefined
  readonly scramServerKey?: Secretish | undefined
  readonly oauthIssuer?: string | undefined
  readonly oauthClientId?: string | undefined
  readonly oauthClientSecret?: Secretish | undefined
  readonly oauthScope?: string | undefined
  readonly oauthCaFile?: string | undefined
}

// The internal failure: thrown by the helpers below, caught once per entry point.
class Failure {
  readonly error: ConfigError
  constructor(error: ConfigError) {
    this.error = error
  }
}

const fail = (message: string, parameter?: string | undefined): never => {
  throw new Failure(new ConfigError(parameter === undefined ? { message } : { message, parameter }))
}

const boundary = <A>(f: () => A): Result.Result<A, ConfigError> => {
  try {
    return Result.succeed(f())
  } catch (e) {
    if (e instanceof Failure) return Result.fail(e.error)
    throw e
  }
}

const optionText = (keyword: string, value: unknown): string => {
  if (typeof value === "string") return value
  if (Redacted.isRedacted(value)) {
    const inner = Redacted.value(value)
    if (typeof inner === "string") return inner
  } else if (typeof value === "boolean") {
    return keyword === "replication" ? String(value) : value ? "1" : "0"
  } else if (typeof value === "number") {
    return String(value)
  }
  return fail(
    Keywords.isSecret(keyword) ? `invalid value for ${keyword}` : `invalid value for ${keyword}: ${String(value)}`,
    keyword
  )
}

const listOf = (items: ReadonlyArray<string>, keyword: string): string => {
  for (const item of items) if (item.includes(",")) fail(`a ${keyword} in "hosts" must not contain a comma`, keyword)
  return items.join(",")
}

/**
 * The settings of explicit options as libpq keywords (without `url`), in the
 * order given.
 *
 * @since 0.1.0
 */
export const optionParams = (options: Options): Result.Result<ConnString.Params, ConfigError> =>
  boundary(() => {
    const params = new Map<string, string>()
    const set = (keyword: string, value: string) => {
      if (value !== "") params.set(keyword, value)
    }
    for (const [name, value] of Object.entries(options)) {
      if (value === undefined || name === "url") continue
      if (name === "hosts") {
        if (options.host !== undefined || options.hostaddr !== undefined || options.port !== undefined) {
          fail(`"hosts" cannot be combined with "host", "hostaddr" or "port"`, "host")
        }
        const hosts = value as NonNullable<Options["hosts"]>
        if (hosts.length === 0) continue
        set("host", listOf(hosts.map((h) => h.host ?? ""), "host"))
        if (hosts.some((h) => h.hostaddr !== undefined && h.hostaddr !== "")) {
          set("hostaddr", listOf(hosts.map((h) => h.hostaddr ?? ""), "hostaddr"))
        }
        if (hosts.some((h) => h.port !== undefined && h.port !== "")) {
          set("port", listOf(hosts.map((h) => (h.port === undefined ? "" : optionText("port", h.port))), "port"))
        }
        continue
      }
      const row = Keywords.byOption(name)
      if (row === undefined) fail(`unknown connection option "${name}"`, name)
      set(row!.keyword, optionText(row!.keyword, value))
    }
    return params
  })

// ---------------------------------------------------------------------------
// Defaults (conninfo_add_defaults)
// ---------------------------------------------------------------------------

/**
 * The inputs of resolution, all already read.
 *
 * @since 0.1.0
 */
export interface ResolveInput {
  /** The connection string's settings overlaid with the explicit options'. */
  readonly params: ConnString.Params
  /** The settings of the service group, if a service was named. */
  readonly service?: ReadonlyArray<readonly [string, string]> | undefined
  readonly env: Env.Environment
  readonly platform: Platform.Platform
}

/**
 * Every keyword's value after the service file, the environment and the
 * defaults filled in what the settings left unset (`conninfo_add_defaults`;
 * with no settings this is `PQconndefaults`).
 *
 * @since 0.1.0
 */
export const withDefaults = (input: ResolveInput): ConnString.Params => {
  const values = new Map(input.params)
  for (const [keyword, value] of input.service ?? []) if (!values.has(keyword)) values.set(keyword, value)
  let sslModeDefaulted = false
  for (const row of Keywords.KEYWORDS) {
    if (values.has(row.keyword)) continue
    const fromEnv = row.env === undefined ? undefined : input.env[row.env]
    if (fromEnv !== undefined) {
      values.set(row.keyword, fromEnv)
      continue
    }
    if (row.keyword === "sslmode") {
      // PGREQUIRESSL only counts when PGSSLMODE is not set (libpq >= 9.3).
      if (input.env[Keywords.PGREQUIRESSL]?.startsWith("1") === true) {
        values.set("sslmode", "require")
        continue
      }
      sslModeDefaulted = true
    }
    if (row.compiled !== undefined) values.set(row.keyword, row.compiled)
    else if (row.keyword === "user" && input.platform.user !== undefined) values.set("user", input.platform.user)
  }
  // libpq 16+: the system roots are only safe with host name checks.
  if (sslModeDefaulted && values.get("sslrootcert") === "system") values.set("sslmode", "verify-full")
  return values
}

// ---------------------------------------------------------------------------
// Validation (pqConnectOptions2)
// ---------------------------------------------------------------------------

const SPACE = "[ \\t\\n\\v\\f\\r]*"
const INTEGER = new RegExp(`^${SPACE}([+-]?[0-9]+)${SPACE}$`)

/**
 * libpq's `pqParseIntParam`: an optionally signed decimal `int`, blanks
 * allowed around it.
 *
 * @since 0.1.0
 */
export const parseInteger = (value: string, keyword: string): Result.Result<number, ConfigError> =>
  boundary(() => integer(value, keyword))

const integer = (value: string, keyword: string): number => {
  const match = INTEGER.exec(value)
  const n = match === null ? NaN : Number(match[1])
  if (!Number.isSafeInteger(n) || n < INT32_MIN || n > INT32_MAX) {
    fail(`invalid integer value "${value}" for connection option "${keyword}"`, keyword)
  }
  return n
}

const oneOf = <A extends string>(keyword: string, value: string, allowed: ReadonlyArray<A>): A => {
  if (!(allowed as ReadonlyArray<string>).includes(value)) fail(`invalid ${keyword} value: "${value}"`, keyword)
  return value as A
}

const tlsVersion = (keyword: string, value: string | undefined): TlsVersion | undefined => {
  if (value === undefined || value === "") return undefined
  const found = TLS_ORDER.find((v) => v.toLowerCase() === value.toLowerCase())
  if (found === undefined) fail(`invalid "${keyword}" value: "${value}"`, keyword)
  return found
}

const protocolVersion = (keyword: string, value: string): ProtocolVersion =>
  value === "latest" ? "3.2" : oneOf(keyword, value, ["3.0", "3.2"] as const)

const unsupported = (keyword: string, detail: string): never => fail(`${keyword} is not supported: ${detail}`, keyword)

const buildConfig = (values: ConnString.Params, platform: Platform.Platform): PgConfig => {
  // S43: nothing with a NUL goes any further, and no secret is quoted. A lone
  // surrogate cannot be sent as UTF-8 and would be replaced on the wire.
  for (const [keyword, value] of values) {
    if (value.includes("\u0000")) fail(`${keyword} must not contain a NUL character`, keyword)
    if (!value.isWellFormed()) fail(`${keyword} must be well-formed Unicode (it has a lone surrogate)`, keyword)
  }
  const get = (keyword: string): string | undefined => values.get(keyword)
  const nonEmpty = (keyword: string): string | undefined => {
    const v = values.get(keyword)
    return v === undefined || v === "" ? undefined : v
  }

  // Hosts: hostaddr decides the count when given, else host (pqConnectOptions2).
  const addrs = nonEmpty("hostaddr")?.split(",")
  const names = nonEmpty("host")?.split(",")
  const count = addrs?.length ?? names?.length ?? 1
  if (addrs !== undefined && names !== undefined && names.length !== count) {
    fail(`could not match ${names.length} host names to ${count} hostaddr values`, "host")
  }
  const portItems = nonEmpty("port")?.split(",")
  if (portItems !== undefined && portItems.length !== 1 && portItems.length !== count) {
    fail(`could not match ${portItems.length} port numbers to ${count} hosts`, "port")
  }
  const hosts: Array<HostSpec> = []
  for (let i = 0; i < count; i++) {
    const hostaddr = addrs?.[i] ?? ""
    let host = names?.[i] ?? ""
    if (hostaddr !== "" && isIP(hostaddr) === 0) fail(`could not parse network address "${hostaddr}"`, "hostaddr")
    if (hostaddr === "" && host === "") host = platform.defaultHost
    const portText = portItems === undefined ? "" : portItems.length === 1 ? portItems[0]! : portItems[i]!
    let port = 5432
    if (portText !== "") {
      port = integer(portText, "port")
      if (port < 1 || port > 65535) fail(`invalid port number: "${portText}"`, "port")
    }
    hosts.push(hostaddr === "" ? { host, port } : { host, hostaddr, port })
  }

  const user = nonEmpty("user") ?? platform.user
  if (user === undefined || user === "") {
    fail("no user name given, and the operating system user name could not be determined", "user")
  }
  const database = nonEmpty("dbname") ?? user!
  const password = nonEmpty("password")
  let passfile = nonEmpty("passfile")
  if (password === undefined && passfile === undefined && platform.home !== undefined) {
    passfile = Platform.join(platform, platform.home, platform.windows ? "pgpass.conf" : ".pgpass")
  }

  const requireAuth = nonEmpty("require_auth")
  if (requireAuth !== undefined) {
    const parsed = AuthPolicy.parseRequireAuth(requireAuth)
    if (Result.isFailure(parsed)) throw new Failure(parsed.failure)
  }
  const channelBinding = oneOf("channel_binding", get("channel_binding") ?? "prefer", ChannelBinding.literals)
  const sslMode = oneOf("sslmode", get("sslmode") ?? "prefer", SslMode.literals)
  const sslNegotiation = oneOf("sslnegotiation", get("sslnegotiation") ?? "postgres", SslNegotiation.literals)
  if (sslNegotiation === "direct" && !STRONG_SSL_MODES.includes(sslMode)) {
    fail(
      `weak sslmode "${sslMode}" may not be used with sslnegotiation=direct (use "require", "verify-ca", or "verify-full")`,
      "sslmode"
    )
  }
  const sslRootCert = nonEmpty("sslrootcert")
  if (sslRootCert === "system" && sslMode !== "verify-full") {
    fail(`weak sslmode "${sslMode}" may not be used with sslrootcert=system (use "verify-full")`, "sslmode")
  }
  const sslMinProtocolVersion = tlsVersion("ssl_min_protocol_version", get("ssl_min_protocol_version"))
  const sslMaxProtocolVersion = tlsVersion("ssl_max_protocol_version", get("ssl_max_protocol_version"))
  if (
    sslMinProtocolVersion !== undefined && sslMaxProtocolVersion !== undefined &&
    TLS_ORDER.indexOf(sslMinProtocolVersion) > TLS_ORDER.indexOf(sslMaxProtocolVersion)
  ) {
    fail("invalid SSL protocol version range", "ssl_min_protocol_version")
  }
  const sslCertModeText = get("sslcertmode") ?? "allow"
  if (sslCertModeText === "require") {
    unsupported("sslcertmode value \"require\"", "Node's TLS cannot tell whether the server asked for a certificate")
  }
  const sslCertMode = oneOf("sslcertmode", sslCertModeText, SslCertMode.literals)
  const gssText = get("gssencmode") ?? "disable"
  if (gssText === "require") fail(`gssencmode value "require" invalid when GSSAPI support is not compiled in`, "gssencmode")
  const gssEncMode = oneOf("gssencmode", gssText, GssEncMode.literals)
  const targetSessionAttrs = oneOf("target_session_attrs", get("target_session_attrs") ?? "any", TargetSessionAttrs.literals)
  for (const keyword of ["scram_client_key", "scram_server_key"]) {
    if (nonEmpty(keyword) !== undefined) unsupported(keyword, "pass-through SCRAM authentication is not implemented")
  }
  if (nonEmpty("requirepeer") !== undefined) {
    unsupported("requirepeer", "Node cannot read the credentials of a Unix-domain socket peer")
  }
  const loadBalanceHosts = oneOf("load_balance_hosts", get("load_balance_hosts") ?? "disable", LoadBalanceHosts.literals)

  const minText = get("min_protocol_version")
  const minProtocolVersion = minText === undefined ? "3.0" : protocolVersion("min_protocol_version", minText)
  const maxText = get("max_protocol_version")
  // Default: the latest (libpq 18 defaults to 3.0; see the module header).
  const maxProtocolVersion = maxText === undefined ? "3.2" : protocolVersion("max_protocol_version", maxText)
  if (minProtocolVersion === "3.2" && maxProtocolVersion === "3.0") {
    fail(`"min_protocol_version" is greater than "max_protocol_version"`, "min_protocol_version")
  }

  const encoding = nonEmpty("client_encoding")
  if (encoding !== undefined && !["UTF8", "UNICODE", "AUTO"].includes(encoding.replace(/[-_]/g, "").toUpperCase())) {
    fail(`client_encoding "${encoding}" is not supported: this client reads and writes UTF-8 only`, "client_encoding")
  }

  const optionalInt = (keyword: string): number | undefined => {
    const v = get(keyword)
    return v === undefined ? undefined : integer(v, keyword)
  }
  const connectTimeout = optionalInt("connect_timeout")
  const keepalivesValue = optionalInt("keepalives")
  const keepalivesIdle = optionalInt("keepalives_idle")
  const keepalivesInterval = optionalInt("keepalives_interval")
  const keepalivesCount = optionalInt("keepalives_count")
  const tcpUserTimeout = optionalInt("tcp_user_timeout")

  let replication: Replication = "false"
  const replicationText = nonEmpty("replication")
  if (replicationText !== undefined) {
    const lower = replicationText.toLowerCase()
    if (["true", "on", "yes", "1"].includes(lower)) replication = "true"
    else if (lower === "database") replication = "database"
    else if (["false", "off", "no", "0"].includes(lower)) replication = "false"
    else fail(`invalid replication value: "${replicationText}"`, "replication")
  }

  const sslPassword = nonEmpty("sslpassword")
  const optional = <K extends string, V>(key: K, value: V | undefined): { readonly [P in K]?: V } =>
    (value === undefined ? {} : { [key]: value }) as { readonly [P in K]?: V }

  const fields = {
    hosts: hosts as unknown as readonly [HostSpec, ...Array<HostSpec>],
    user: user!,
    ...optional("password", password === undefined ? undefined : Redacted.make(password)),
    ...optional("passfile", passfile),
    database,
    options: get("options") ?? "",
    ...optional("applicationName", nonEmpty("application_name")),
    ...optional("fallbackApplicationName", nonEmpty("fallback_application_name")),
    ...optional("clientEncoding", encoding === undefined ? undefined : "UTF8" as const),
    ...optional("connectTimeout", connectTimeout),
    keepalives: keepalivesValue === undefined || keepalivesValue !== 0,
    ...optional("keepalivesIdle", keepalivesIdle),
    ...optional("keepalivesInterval", keepalivesInterval),
    ...optional("keepalivesCount", keepalivesCount),
    ...optional("tcpUserTimeout", tcpUserTimeout),
    replication,
    gssEncMode,
    sslMode,
    sslNegotiation,
    ...optional("sslCert", nonEmpty("sslcert")),
    ...optional("sslKey", nonEmpty("sslkey")),
    ...optional("sslKeyLogFile", nonEmpty("sslkeylogfile")),
    ...optional("sslPassword", sslPassword === undefined ? undefined : Redacted.make(sslPassword)),
    sslCertMode,
    ...optional("sslRootCert", sslRootCert),
    ...optional("sslCrl", nonEmpty("sslcrl")),
    ...optional("sslCrlDir", nonEmpty("sslcrldir")),
    // libpq looks at the first character only.
    sslSni: (get("sslsni") ?? "1").startsWith("1"),
    ...optional("sslMinProtocolVersion", sslMinProtocolVersion),
    ...optional("sslMaxProtocolVersion", sslMaxProtocolVersion),
    ...optional("requireAuth", requireAuth),
    channelBinding,
    targetSessionAttrs,
    loadBalanceHosts,
    minProtocolVersion,
    maxProtocolVersion
  }
  const decoded = Schema.decodeUnknownResult(PgConfig)(fields)
  if (Result.isFailure(decoded)) fail(`invalid configuration: ${decoded.failure.message}`)
  return (decoded as Result.Success<PgConfig, unknown>).success
}

/**
 * Resolves settings into a `PgConfig`: service file, environment and
 * defaults first (`withDefaults`), then libpq's checks.
 *
 * @since 0.1.0
 */
export const resolve = (input: ResolveInput): Result.Result<PgConfig, ConfigError> =>
  boundary(() => buildConfig(withDefaults(input), input.platform))

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
 * The settings of a connection string overlaid with explicit options: the
 * first input of `resolve`.
 *
 * @since 0.1.0
 */
export const settings = (options: Options): Result.Result<ConnString.Params, ConfigError> =>
  Result.flatMap(
    options.url === undefined ? Result.succeed(new Map<string, string>()) : ConnString.parse(options.url),
    (fromString) =>
      Result.map(optionParams(options), (explicit) => {
        const merged = new Map(fromString)
        for (const [keyword, value] of explicit) merged.set(keyword, value)
        return merged as ConnString.Params
      })
  )

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

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

/**
 * The libpq settings that reproduce a configuration, in libpq's keyword
 * order. Secrets are included in clear.
 *
 * @since 0.1.0
 */
export const toParams = (config: PgConfig): ConnString.Params => {
  const params = new Map<string, string>()
  const put = (keyword: string, value: string | number | undefined) => {
    if (value !== undefined) params.set(keyword, String(value))
  }
  const flag = (b: boolean) => (b ? "1" : "0")
  for (const row of Keywords.KEYWORDS) {
    switch (row.keyword) {
      case "user":
        put("user", config.user)
        break
      case "password":
        put("password", config.password === undefined ? undefined : Redacted.value(config.password))
        break
      case "passfile":
        put("passfile", config.passfile)
        break
      case "channel_binding":
        put("channel_binding", config.channelBinding)
        break
      case "connect_timeout":
        put("connect_timeout", config.connectTimeout)
        break
      case "dbname":
        put("dbname", config.database)
        break
      case "host":
        put("host", config.hosts.map((h) => h.host).join(","))
        break
      case "hostaddr":
        if (config.hosts.some((h) => h.hostaddr !== undefined)) {
          put("hostaddr", config.hosts.map((h) => h.hostaddr ?? "").join(","))
        }
        break
      case "port":
        put("port", config.hosts.map((h) => h.port).join(","))
        break
      case "client_encoding":
        put("client_encoding", config.clientEncoding)
        break
      case "options":
        put("options", config.options)
        break
      case "application_name":
        put("application_name", config.applicationName)
        break
      case "fallback_application_name":
        put("fallback_application_name", config.fallbackApplicationName)
        break
      case "keepalives":
        put("keepalives", flag(config.keepalives))
        break
      case "keepalives_idle":
        put("keepalives_idle", config.keepalivesIdle)
        break
      case "keepalives_interval":
        put("keepalives_interval", config.keepalivesInterval)
        break
      case "keepalives_count":
        put("keepalives_count", config.keepalivesCount)
        break
      case "tcp_user_timeout":
        put("tcp_user_timeout", config.tcpUserTimeout)
        break
      case "sslmode":
        put("sslmode", config.sslMode)
        break
      case "sslnegotiation":
        put("sslnegotiation", config.sslNegotiation)
        break
      case "sslcert":
        put("sslcert", config.sslCert)
        break
      case "sslkey":
        put("sslkey", config.sslKey)
        break
      case "sslcertmode":
        put("sslcertmode", config.sslCertMode)
        break
      case "sslpassword":
        put("sslpassword", config.sslPassword === undefined ? undefined : Redacted.value(config.sslPassword))
        break
      case "sslrootcert":
        put("sslrootcert", config.sslRootCert)
        break
      case "sslcrl":
        put("sslcrl", config.sslCrl)
        break
      case "sslcrldir":
        put("sslcrldir", config.sslCrlDir)
        break
      case "sslsni":
        put("sslsni", flag(config.sslSni))
        break
      case "require_auth":
        put("require_auth", config.requireAuth)
        break
      case "min_protocol_version":
        put("min_protocol_version", config.minProtocolVersion)
        break
      case "max_protocol_version":
        put("max_protocol_version", config.maxProtocolVersion)
        break
      case "ssl_min_protocol_version":
        // Empty keeps the minimum unset instead of the TLSv1.2 default.
        put("ssl_min_protocol_version", config.sslMinProtocolVersion ?? "")
        break
      case "ssl_max_protocol_version":
        put("ssl_max_protocol_version", config.sslMaxProtocolVersion)
        break
      case "gssencmode":
        put("gssencmode", config.gssEncMode)
        break
      case "replication":
        put("replication", config.replication)
        break
      case "target_session_attrs":
        put("target_session_attrs", config.targetSessionAttrs)
        break
      case "load_balance_hosts":
        put("load_balance_hosts", config.loadBalanceHosts)
        break
      case "sslkeylogfile":
        put("sslkeylogfile", config.sslKeyLogFile)
        break
    }
  }
  return params
}

/**
 * Writes a configuration as a connection string that `parse` turns back into
 * the same configuration.
 *
 * **Details**
 *
 * Every value the configuration holds is written, defaults included, so the
 * environment of whoever parses it cannot change it; only unset optional
 * values (which parsing may fill from the environment) are left out. The
 * result contains the password in clear: it is a credential, not a log line
 * (use `describe` for that).
 *
 * @since 0.1.0
 */
export const format = (config: PgConfig, style: "keyword-value" | "uri" = "keyword-value"): string =>
  style === "uri" ? ConnString.formatUri(toParams(config)) : ConnString.formatKeywordValue(toParams(config))

/**
 * A one-line description for logs: hosts, user, database and TLS mode, no
 * secrets.
 *
 * @since 0.1.0
 */
export const describe = (config: PgConfig): string => {
  const hosts = config.hosts
    .map((h) => {
      const name = h.host === "" ? h.hostaddr! : h.host
      const shown = name.includes(":") ? `[${name}]` : name
      return `${shown}:${h.port}${h.hostaddr !== undefined && h.host !== "" ? ` (${h.hostaddr})` : ""}`
    })
    .join(",")
  return `${hosts} user=${config.user} database=${config.database} sslmode=${config.sslMode}`
}

/**
 * The parsed `require_auth`/`channel_binding` policy of a configuration.
 *
 * @since 0.1.0
 */
export const authPolicy = (config: PgConfig): AuthPolicy.AuthPolicy => {
  const policy = AuthPolicy.make({ requireAuth: config.requireAuth, channelBinding: config.channelBinding })
  // A PgConfig only holds values that parse.
  return Result.getOrThrow(policy)
}

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

// ---------------------------------------------------------------------------
// Session options
// ---------------------------------------------------------------------------

/**
 * The connection settings of a configuration in the shape of the session's
 * `connect` options (libpq keywords in camelCase, durations in milliseconds).
 *
 * @since 0.1.0
 */
export interface SessionSettings {
  readonly hosts: ReadonlyArray<{ readonly host: string; readonly hostaddr?: string | undefined; readonly port: number }>
  readonly user: string
  readonly password?: Redacted.Redacted<string> | Effect.Effect<Redacted.Redacted<string>, PgError> | undefined
  readonly database: string
  readonly applicationName?: string | undefined
  readonly parameters?: Readonly<Record<string, string>> | undefined
  readonly sslMode: SslMode
  readonly sslNegotiation: SslNegotiation
  readonly gssEncMode: GssEncMode
  readonly sslRootCert?: string | undefined
  readonly sslCert?: string | undefined
  readonly sslKey?: string | undefined
  readonly sslPassword?: Redacted.Redacted<string> | undefined
  readonly sslSni: boolean
  readonly sslMinProtocolVersion?: TlsVersion | undefined
  readonly sslMaxProtocolVersion?: TlsVersion | undefined
  readonly sslCrl?: string | undefined
  readonly sslCrlDir?: string | undefined
  readonly sslCertMode: SslCertMode
  readonly sslKeyLogFile?: string | undefined
  readonly channelBinding: ChannelBinding
  readonly requireAuth?: string | undefined
  readonly targetSessionAttrs: TargetSessionAttrs
  readonly loadBalanceHosts: LoadBalanceHosts
  readonly keepAlive: boolean
  readonly keepAliveIdleMillis?: number | undefined
  readonly protocolVersion: ProtocolVersion
  readonly minProtocolVersion: ProtocolVersion
  /** 0: no limit. */
  readonly connectTimeout: number
}

/**
 * The session settings of a configuration.
 *
 * **Details**
 *
 * - `applicationName` is `application_name`, else `fallback_application_name`.
 * - `parameters` carries the startup parameters libpq sends from keywords:
 *   `options` when non-empty and `replication` when not `false`.
 * - Without a configured password, `password` is an Effect that reads the
 *   password file when the session asks. The session option is one password
 *   for every host, so with several hosts it fails (naming `passfile`) when
 *   the file gives them different passwords, rather than send one host's
 *   password to another; a session that connects host by host should call
 *   `passwordFor` per attempt instead.
 *
 * @since 0.1.0
 */
export const toSessionOptions = (config: PgConfig, platform?: { readonly windows?: boolean | undefined }): SessionSettings => {
  const parameters: Record<string, string> = {}
  if (config.options !== "") parameters["options"] = config.options
  if (config.replication !== "false") parameters["replication"] = config.replication
  const applicationName = config.applicationName ?? config.fallbackApplicationName
  const password = config.password !== undefined
    ? config.password
    : config.passfile === undefined
    ? undefined
    : Effect.gen(function*() {
      const found = yield* Effect.forEach(config.hosts, (host) => PassFile.passwordFor(config, host, platform))
      const first = found[0]
      if (found.some((p) => (p === undefined ? first !== undefined : first === undefined || Redacted.value(p) !== Redacted.value(first)))) {
        return yield* toPgError(
          new ConfigError({
            message: "the password file gives different passwords for the hosts of this configuration",
            parameter: "passfile"
          })
        )
      }
      return first ?? Redacted.make("")
    })
  return {
    hosts: config.hosts,
    user: config.user,
    ...(password === undefined ? {} : { password }),
    database: config.database,
    ...(applicationName === undefined ? {} : { applicationName }),
    ...(Object.keys(parameters).length === 0 ? {} : { parameters }),
    sslMode: config.sslMode,
    sslNegotiation: config.sslNegotiation,
    gssEncMode: config.gssEncMode,
    ...(config.sslRootCert === undefined ? {} : { sslRootCert: config.sslRootCert }),
    ...(config.sslCert === undefined ? {} : { sslCert: config.sslCert }),
    ...(config.sslKey === undefined ? {} : { sslKey: config.sslKey }),
    ...(config.sslPassword === undefined ? {} : { sslPassword: config.sslPassword }),
    sslSni: config.sslSni,
    ...(config.sslMinProtocolVersion === undefined ? {} : { sslMinProtocolVersion: config.sslMinProtocolVersion }),
    ...(config.sslMaxProtocolVersion === undefined ? {} : { sslMaxProtocolVersion: config.sslMaxProtocolVersion }),
    ...(config.sslCrl === undefined ? {} : { sslCrl: config.sslCrl }),
    ...(config.sslCrlDir === undefined ? {} : { sslCrlDir: config.sslCrlDir }),
    sslCertMode: config.sslCertMode,
    ...(config.sslKeyLogFile === undefined ? {} : { sslKeyLogFile: config.sslKeyLogFile }),
    channelBinding: config.channelBinding,
    ...(config.requireAuth === undefined ? {} : { requireAuth: config.requireAuth }),
    targetSessionAttrs: config.targetSessionAttrs,
    loadBalanceHosts: config.loadBalanceHosts,
    keepAlive: config.keepalives,
    ...(config.keepalivesIdle !== undefined && config.keepalivesIdle > 0
      ? { keepAliveIdleMillis: config.keepalivesIdle * 1000 }
      : {}),
    protocolVersion: config.maxProtocolVersion,
    minProtocolVersion: config.minProtocolVersion,
    connectTimeout: config.connectTimeoutMillis ?? 0
  }
}

/**
 * The connection attempts of a configuration and their per-host TLS
 * decisions (see `Hosts`).
 *
 * @since 0.1.0
 */
export { type Attempt, attempts, type Random, serverNameFor, sslModeFor } from "./Hosts.ts"
