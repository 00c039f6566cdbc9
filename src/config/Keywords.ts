/**
 * The libpq connection keywords: their environment variables, compiled-in
 * defaults, camelCase option names, and what this client does with each.
 *
 * **Details**
 *
 * One row per keyword documented in libpq-connect.sgml "Parameter Key Words",
 * in libpq's own order (`PQconninfoOptions` in `fe-connect.c`), so everything
 * that walks the keywords (the parsers, the environment, the service file,
 * `format`) agrees on one list. `requiressl` is not a row: as in libpq it is
 * only an alias that connection strings translate to `sslmode`.
 *
 * Every keyword is accepted by the parsers exactly as libpq accepts it. What
 * happens next is the `support` column:
 *
 * - `honoured`: validated and carried in `PgConfig` for the session to apply.
 * - `ignored`: accepted and dropped, because it only matters for a feature this
 *   client does not have and ignoring it cannot weaken a connection: the
 *   Kerberos/GSSAPI settings (`krbsrvname`, `gsslib`, `gssdelegation`), the
 *   OAuth settings (`oauth_*`: a server that asks for OAUTHBEARER is refused by
 *   the authentication policy anyway) and `sslcompression` (PostgreSQL 14
 *   removed TLS compression).
 * - `rejected`: a non-empty value is a `ConfigError`, because the keyword
 *   promises something this client cannot do and silently dropping it would
 *   connect differently from what the user asked: `requirepeer` (Node cannot
 *   read a Unix socket peer's credentials) and the pass-through SCRAM keys
 *   `scram_client_key`/`scram_server_key`.
 *
 * Deliberately not here: parsing or validation (see `ConnString` and
 * `Config`). Pure data: no Effect runtime.
 *
 * @since 0.1.0
 */

/**
 * What this client does with a keyword.
 *
 * @since 0.1.0
 */
export type Support = "honoured" | "ignored" | "rejected"

/**
 * One libpq connection keyword.
 *
 * @since 0.1.0
 */
export interface Keyword {
  /** The libpq keyword, as written in connection strings and service files. */
  readonly keyword: string
  /** The environment variable libpq falls back to, if any. */
  readonly env?: string | undefined
  /** libpq's compiled-in default, applied after the environment. */
  readonly compiled?: string | undefined
  /** The camelCase name in `Config.Options` (and in `PgConfig` for honoured keywords). */
  readonly option: string
  /** A secret: never quoted in errors, `Redacted` in the config. */
  readonly secret: boolean
  readonly support: Support
}

const row = (
  keyword: string,
  option: string,
  extra: { readonly env?: string; readonly compiled?: string; readonly secret?: boolean; readonly support?: Support } =
    {}
): Keyword => ({
  keyword,
  option,
  env: extra.env,
  compiled: extra.compiled,
  secret: extra.secret ?? false,
  support: extra.support ?? "honoured"
})

/**
 * Every keyword, in libpq's order.
 *
 * **Details**
 *
 * `service` and `servicefile` are consumed while loading (their settings are
 * merged into the others), so `PgConfig` does not carry them. `sslcertmode`
 * and `channel_binding` defaults are libpq's for a build with TLS: `allow` and
 * `prefer`. `gssencmode` defaults to `disable`, libpq's default for a build
 * without GSSAPI, which this client is.
 *
 * @since 0.1.0
 */
export const KEYWORDS: ReadonlyArray<Keyword> = [
  row("service", "service", { env: "PGSERVICE" }),
  row("servicefile", "serviceFile", { env: "PGSERVICEFILE" }),
  row("user", "user", { env: "PGUSER" }),
  row("password", "password", { env: "PGPASSWORD", secret: true }),
  row("passfile", "passfile", { env: "PGPASSFILE" }),
  row("channel_binding", "channelBinding", { env: "PGCHANNELBINDING", compiled: "prefer" }),
  row("connect_timeout", "connectTimeout", { env: "PGCONNECT_TIMEOUT" }),
  row("dbname", "database", { env: "PGDATABASE" }),
  row("host", "host", { env: "PGHOST" }),
  row("hostaddr", "hostaddr", { env: "PGHOSTADDR" }),
  row("port", "port", { env: "PGPORT", compiled: "5432" }),
  row("client_encoding", "clientEncoding", { env: "PGCLIENTENCODING" }),
  row("options", "options", { env: "PGOPTIONS", compiled: "" }),
  row("application_name", "applicationName", { env: "PGAPPNAME" }),
  row("fallback_application_name", "fallbackApplicationName"),
  row("keepalives", "keepalives"),
  row("keepalives_idle", "keepalivesIdle"),
  row("keepalives_interval", "keepalivesInterval"),
  row("keepalives_count", "keepalivesCount"),
  row("tcp_user_timeout", "tcpUserTimeout"),
  row("sslmode", "sslMode", { env: "PGSSLMODE", compiled: "prefer" }),
  row("sslnegotiation", "sslNegotiation", { env: "PGSSLNEGOTIATION", compiled: "postgres" }),
  row("sslcompression", "sslCompression", { env: "PGSSLCOMPRESSION", compiled: "0", support: "ignored" }),
  row("sslcert", "sslCert", { env: "PGSSLCERT" }),
  row("sslkey", "sslKey", { env: "PGSSLKEY" }),
  row("sslcertmode", "sslCertMode", { env: "PGSSLCERTMODE" }),
  row("sslpassword", "sslPassword", { secret: true }),
  row("sslrootcert", "sslRootCert", { env: "PGSSLROOTCERT" }),
  row("sslcrl", "sslCrl", { env: "PGSSLCRL" }),
  row("sslcrldir", "sslCrlDir", { env: "PGSSLCRLDIR" }),
  row("sslsni", "sslSni", { env: "PGSSLSNI", compiled: "1" }),
  row("requirepeer", "requirePeer", { env: "PGREQUIREPEER", support: "rejected" }),
  row("require_auth", "requireAuth", { env: "PGREQUIREAUTH" }),
  row("min_protocol_version", "minProtocolVersion", { env: "PGMINPROTOCOLVERSION" }),
  row("max_protocol_version", "maxProtocolVersion", { env: "PGMAXPROTOCOLVERSION" }),
  row("ssl_min_protocol_version", "sslMinProtocolVersion", { env: "PGSSLMINPROTOCOLVERSION", compiled: "TLSv1.2" }),
  row("ssl_max_protocol_version", "sslMaxProtocolVersion", { env: "PGSSLMAXPROTOCOLVERSION" }),
  row("gssencmode", "gssEncMode", { env: "PGGSSENCMODE", compiled: "disable" }),
  row("krbsrvname", "krbSrvName", { env: "PGKRBSRVNAME", compiled: "postgres", support: "ignored" }),
  row("gsslib", "gssLib", { env: "PGGSSLIB", support: "ignored" }),
  row("gssdelegation", "gssDelegation", { env: "PGGSSDELEGATION", compiled: "0", support: "ignored" }),
  row("replication", "replication"),
  row("target_session_attrs", "targetSessionAttrs", { env: "PGTARGETSESSIONATTRS", compiled: "any" }),
  row("load_balance_hosts", "loadBalanceHosts", { env: "PGLOADBALANCEHOSTS", compiled: "disable" }),
  row("scram_client_key", "scramClientKey", { secret: true, support: "rejected" }),
  row("scram_server_key", "scramServerKey", { secret: true, support: "rejected" }),
  row("oauth_issuer", "oauthIssuer", { support: "ignored" }),
  row("oauth_client_id", "oauthClientId", { support: "ignored" }),
  row("oauth_client_secret", "oauthClientSecret", { secret: true, support: "ignored" }),
  row("oauth_scope", "oauthScope", { support: "ignored" }),
  row("oauth_ca_file", "oauthCaFile", { env: "PGOAUTHCAFILE", support: "ignored" }),
  row("sslkeylogfile", "sslKeyLogFile")
]

const BY_KEYWORD: ReadonlyMap<string, Keyword> = new Map(KEYWORDS.map((k) => [k.keyword, k]))
const BY_OPTION: ReadonlyMap<string, Keyword> = new Map(KEYWORDS.map((k) => [k.option, k]))

/**
 * The row of a libpq keyword, or `undefined` for a keyword libpq does not know.
 *
 * @since 0.1.0
 */
export const byKeyword = (keyword: string): Keyword | undefined => BY_KEYWORD.get(keyword)

/**
 * The row of a camelCase option name.
 *
 * @since 0.1.0
 */
export const byOption = (option: string): Keyword | undefined => BY_OPTION.get(option)

/**
 * Whether a keyword's value is a secret (never quoted in an error).
 *
 * @since 0.1.0
 */
export const isSecret = (keyword: string): boolean => BY_KEYWORD.get(keyword)?.secret === true

/**
 * `PGREQUIRESSL`: the deprecated variable libpq still reads when neither the
 * string nor `PGSSLMODE` sets `sslmode` (a value starting with `1` means
 * `require`).
 *
 * @since 0.1.0
 */
export const PGREQUIRESSL = "PGREQUIRESSL"

/**
 * Every environment variable that feeds a keyword, plus `PGREQUIRESSL`, and
 * `PGSYSCONFDIR` (where the system-wide service file is).
 *
 * @since 0.1.0
 */
export const ENVIRONMENT_VARIABLES: ReadonlyArray<string> = [
  ...KEYWORDS.flatMap((k) => (k.env === undefined ? [] : [k.env])),
  PGREQUIRESSL,
  "PGSYSCONFDIR"
]
