/**
 * Writing a configuration back out: the libpq settings that reproduce it, a
 * connection string `parse` turns back into it, and a one-line description
 * for logs.
 *
 * @since 0.1.0
 */
import * as Redacted from "effect/Redacted"
import type { PgConfig } from "./ConfigSchema.ts"
import * as ConnString from "./ConnString.ts"
import * as Keywords from "./Keywords.ts"

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
