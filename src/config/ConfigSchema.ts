/**
 * The shape of a connection configuration: `PgConfig` (every libpq keyword
 * this client honours, resolved and checked) and `Options` (the settings a
 * caller gives, before resolution).
 *
 * **Details**
 *
 * `PgConfig` is a Schema class: decoding one checks every value against the
 * keyword vocabulary (`Vocabulary`, `AuthKeywords`) and the rules that relate
 * keywords to each other (`sslnegotiation=direct` needs a strong `sslmode`,
 * `sslrootcert=system` needs `verify-full`, the protocol and TLS version
 * ranges are ordered).
 *
 * Deliberately not here: defaults and precedence (`Resolve`).
 *
 * @since 0.1.0
 */
import type * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as AuthKeywords from "./AuthKeywords.ts"
import {
  GssEncMode,
  HostSpec,
  Int32,
  LoadBalanceHosts,
  NonEmptyText,
  ProtocolVersion,
  Replication,
  SslCertMode,
  SslMode,
  SslNegotiation,
  STRONG_SSL_MODES,
  TargetSessionAttrs,
  Text,
  TLS_ORDER,
  TlsVersion
} from "./Vocabulary.ts"

const REQUIRE_AUTH_METHOD = `!?(${AuthKeywords.RequireAuthMethod.literals.join("|")})`

const RequireAuthText = NonEmptyText.check(
  Schema.makeFilter((s: string) => Result.isSuccess(AuthKeywords.parseRequireAuth(s)) || "must be a valid require_auth list", {
    expected: "a require_auth list",
    arbitraryConstraint: { patterns: [{ source: `^${REQUIRE_AUTH_METHOD}$`, flags: "" }] }
  })
)

const Secret = Schema.Redacted(Text)

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
  /** As written (`AuthPolicy.make` gives the policy it asks for). */
  requireAuth: Schema.optionalKey(RequireAuthText),
  channelBinding: AuthKeywords.ChannelBinding,
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
    c.minProtocolVersion <= c.maxProtocolVersion ||
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
  readonly channelBinding?: AuthKeywords.ChannelBinding | (string & {}) | undefined
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
