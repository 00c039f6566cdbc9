/**
 * Resolution: libpq's precedence (explicit options, the connection string,
 * the service file, the `PG*` environment, the compiled-in defaults) and the
 * checks of `pqConnectOptions2`, from settings already read into a `PgConfig`.
 *
 * **Details**
 *
 * Pure: every input (environment, service file settings, platform facts) is
 * passed in; `Config.load` reads them. See `Config` for the precedence and
 * where this differs from libpq.
 *
 * @since 0.1.0
 */
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { isIP } from "node:net"
import { ConfigError } from "../errors/PgError.ts"
import * as AuthKeywords from "./AuthKeywords.ts"
import { type Options, PgConfig } from "./ConfigSchema.ts"
import * as ConnString from "./ConnString.ts"
import type * as Env from "./Env.ts"
import * as Keywords from "./Keywords.ts"
import * as Platform from "./Platform.ts"
import {
  GssEncMode,
  type HostSpec,
  INT32_MAX,
  INT32_MIN,
  LoadBalanceHosts,
  type ProtocolVersion,
  type Replication,
  SslCertMode,
  SslMode,
  SslNegotiation,
  STRONG_SSL_MODES,
  TargetSessionAttrs,
  TLS_ORDER,
  type TlsVersion
} from "./Vocabulary.ts"

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
  value === "latest" ? "3.2" : oneOf(keyword, value, ["2.0", "3.0", "3.2"] as const)

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
    const parsed = AuthKeywords.parseRequireAuth(requireAuth)
    if (Result.isFailure(parsed)) throw new Failure(parsed.failure)
  }
  const channelBinding = oneOf("channel_binding", get("channel_binding") ?? "prefer", AuthKeywords.ChannelBinding.literals)
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
  const maxText = get("max_protocol_version")
  // Default: the latest (libpq 18 defaults to 3.0; see the module header).
  const maxProtocolVersion = maxText === undefined ? "3.2" : protocolVersion("max_protocol_version", maxText)
  // Default 3.0, or 2.0 when that is the maximum asked for.
  const minProtocolVersion = minText === undefined
    ? (maxProtocolVersion === "2.0" ? "2.0" : "3.0")
    : protocolVersion("min_protocol_version", minText)
  if (minProtocolVersion > maxProtocolVersion) {
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

