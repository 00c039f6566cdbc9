/**
 * The connection settings of a configuration in the shape of the session's
 * `connect` options.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { ConfigError, PgError } from "../errors/PgError.ts"
import type { ChannelBinding } from "./AuthKeywords.ts"
import type { PgConfig } from "./ConfigSchema.ts"
import * as PassFile from "./PassFile.ts"
import type {
  GssEncMode,
  LoadBalanceHosts,
  ProtocolVersion,
  SslCertMode,
  SslMode,
  SslNegotiation,
  TargetSessionAttrs,
  TlsVersion
} from "./Vocabulary.ts"

/**
 * The encryption keywords of a configuration as the transport applies them:
 * `sslmode`, `sslnegotiation`, `gssencmode` and the other `ssl*` keywords.
 *
 * @since 0.1.0
 */
export interface TlsKeywords {
  readonly sslMode: SslMode
  readonly sslNegotiation: SslNegotiation
  readonly gssEncMode: GssEncMode
  /** A file of trusted root certificates, or "system". Default `~/.postgresql/root.crt` when it exists. */
  readonly sslRootCert?: string | undefined
  /** Client certificate file. Default `~/.postgresql/postgresql.crt` when it exists. */
  readonly sslCert?: string | undefined
  /** Client key file. Default `~/.postgresql/postgresql.key` when it exists. */
  readonly sslKey?: string | undefined
  /** Passphrase of the client key. */
  readonly sslPassword?: Redacted.Redacted<string> | undefined
  /** Send the host name as SNI (never for IP addresses). */
  readonly sslSni: boolean
  /** Unset: libpq's TLSv1.2. */
  readonly sslMinProtocolVersion?: TlsVersion | undefined
  readonly sslMaxProtocolVersion?: TlsVersion | undefined
  /** A file of certificate revocation lists (PEM). */
  readonly sslCrl?: string | undefined
  /** A directory of CRL files (every file in it is read). */
  readonly sslCrlDir?: string | undefined
  /** "allow": send a client certificate when one is configured; "disable": never. */
  readonly sslCertMode: SslCertMode
  /** Append TLS key material in NSS key log format (for packet analysers), as libpq's `sslkeylogfile`. */
  readonly sslKeyLogFile?: string | undefined
}

/**
 * The connection settings of a configuration in the shape of the session's
 * `connect` options (libpq keywords in camelCase, durations in milliseconds).
 *
 * @since 0.1.0
 */
export interface SessionSettings extends TlsKeywords {
  readonly hosts: ReadonlyArray<{ readonly host: string; readonly hostaddr?: string | undefined; readonly port: number }>
  readonly user: string
  readonly password?: Redacted.Redacted<string> | Effect.Effect<Redacted.Redacted<string>, PgError> | undefined
  readonly database: string
  readonly applicationName?: string | undefined
  readonly parameters?: Readonly<Record<string, string>> | undefined
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
        return yield* new PgError({
          reason: new ConfigError({
            message: "the password file gives different passwords for the hosts of this configuration",
            parameter: "passfile"
          })
        })
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
