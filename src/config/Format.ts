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
 * **Details**
 *
 * Each honoured keyword is written from the `PgConfig` field its `Keywords`
 * row names (booleans as libpq's `1`/`0`); the host lists come from `hosts`.
 *
 * @since 0.1.0
 */
export const toParams = (config: PgConfig): ConnString.Params => {
  const params = new Map<string, string>()
  for (const row of Keywords.KEYWORDS) {
    const value = valueOf(config, row)
    if (value !== undefined) params.set(row.keyword, value)
  }
  return params
}

const valueOf = (config: PgConfig, row: Keywords.Keyword): string | undefined => {
  switch (row.keyword) {
    case "host":
      return config.hosts.map((h) => h.host).join(",")
    case "hostaddr":
      return config.hosts.some((h) => h.hostaddr !== undefined)
        ? config.hosts.map((h) => h.hostaddr ?? "").join(",")
        : undefined
    case "port":
      return config.hosts.map((h) => h.port).join(",")
    case "ssl_min_protocol_version":
      // Empty keeps the minimum unset instead of the TLSv1.2 default.
      return config.sslMinProtocolVersion ?? ""
  }
  if (row.support !== "honoured" || !Object.hasOwn(config, row.option)) return undefined
  const value: unknown = config[row.option as keyof PgConfig]
  if (typeof value === "boolean") return value ? "1" : "0"
  if (Redacted.isRedacted(value)) return String(Redacted.value(value))
  return value === undefined ? undefined : String(value)
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
