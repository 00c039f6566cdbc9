/**
 * The values of libpq's connection keywords, defined once: the enumerated
 * keywords (`sslmode`, `gssencmode`, `target_session_attrs`, ...) and the
 * shapes of the values the other keywords hold (text, integers, hosts).
 *
 * **Details**
 *
 * `PgConfig`, the session's options and the transport's TLS settings all take
 * their types from here, so a keyword accepts the same values everywhere.
 * `channel_binding` and `require_auth` are in `AuthKeywords`.
 *
 * Deliberately not here: defaults, precedence and the checks that relate
 * keywords to each other (see `Resolve` and `ConfigSchema`).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { isIP } from "node:net"

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
 * (`latest` resolves to 3.2). "2.0" is this library's own value (libpq never
 * accepted it): the 2.0 session, for PostgreSQL 13 and older.
 *
 * @since 0.1.0
 */
export const ProtocolVersion = Schema.Literals(["2.0", "3.0", "3.2"])
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
// Values
// ---------------------------------------------------------------------------

const noNul = Schema.makeFilter(
  (s: string) =>
    s.includes("\u0000") ? "must not contain a NUL character" : s.isWellFormed() || "must be well-formed Unicode",
  { arbitraryConstraint: { patterns: [{ source: "^[\\u0001-\\uD7FF\\uE000-\\uFFFF]*$", flags: "" }] } }
)

/**
 * A string value: well-formed Unicode without NUL.
 *
 * @since 0.1.0
 */
export const Text = Schema.String.check(noNul)

/**
 * A value where empty means unset: present values are non-empty.
 *
 * @since 0.1.0
 */
export const NonEmptyText = Schema.String.check(noNul, Schema.isNonEmpty())

/** @since 0.1.0 */
export const INT32_MIN = -2147483648
/** @since 0.1.0 */
export const INT32_MAX = 2147483647

/**
 * An integer setting, in libpq's `int` range.
 *
 * @since 0.1.0
 */
export const Int32 = Schema.Int.check(Schema.isBetween({ minimum: INT32_MIN, maximum: INT32_MAX }))

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

/**
 * The `sslmode`s that insist on TLS (`sslnegotiation=direct` needs one).
 *
 * @since 0.1.0
 */
export const STRONG_SSL_MODES: ReadonlyArray<SslMode> = ["require", "verify-ca", "verify-full"]

/**
 * The TLS versions, oldest first (for ordering `ssl_min_protocol_version` and
 * `ssl_max_protocol_version`).
 *
 * @since 0.1.0
 */
export const TLS_ORDER: ReadonlyArray<TlsVersion> = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
