/**
 * The configuration each server's data directory gets: the `postgresql.conf`
 * settings every server has (`baseSettings`), TLS with the run's generated
 * certificates, the caller's settings, the standard `pg_hba.conf` lines
 * letting each standard role in by its method (`standardHba`), and
 * `standby.signal` for a hot standby.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { type CertPaths, serverCertFiles, type ServerCertName } from "./Certs.ts"
import { sqlLiteral } from "./Templates.ts"

/**
 * The standard `pg_hba.conf` lines. First match wins (client-authentication
 * docs, "The pg_hba.conf File"), so the TLS-only and non-TLS-only lines come
 * before the generic `host` lines; a role without a matching line is refused
 * with 28000 "no pg_hba.conf entry". `hostssl` lines are left out when TLS is
 * off (they could never match).
 *
 * @since 0.1.0
 */
export const standardHba = (tls: boolean): ReadonlyArray<string> => {
  const tcp = ["127.0.0.1/32", "::1/128"]
  const lines: Array<string> = [
    "local     all          postgres                       trust",
    "local     replication  postgres                       trust",
    ...tcp.map((a) => `host      replication  postgres      ${a.padEnd(16)} trust`)
  ]
  if (tls) {
    lines.push(
      ...tcp.map((a) => `hostssl   all          certuser      ${a.padEnd(16)} cert`),
      ...tcp.map((a) => `hostssl   all          ssluser       ${a.padEnd(16)} scram-sha-256`)
    )
  }
  lines.push(
    ...tcp.map((a) => `hostnossl all          nossluser     ${a.padEnd(16)} trust`),
    ...tcp.map((a) => `host      all          md5user       ${a.padEnd(16)} md5`),
    ...tcp.map((a) => `host      all          passworduser  ${a.padEnd(16)} password`),
    ...tcp.map((a) => `host      all          scramuser     ${a.padEnd(16)} scram-sha-256`),
    ...tcp.map((a) => `host      all          testuser      ${a.padEnd(16)} trust`),
    ...tcp.map((a) => `host      all          postgres      ${a.padEnd(16)} trust`),
    "local     all          md5user                        md5",
    "local     all          passworduser                   password",
    "local     all          scramuser                      scram-sha-256",
    "local     all          nossluser                      trust",
    "local     all          testuser                       trust"
  )
  return lines
}

/** A setting's value as `postgresql.conf` spells it. */
const settingValue = (value: string | number | boolean): string =>
  typeof value === "boolean" ? (value ? "on" : "off") : typeof value === "number" ? String(value) : sqlLiteral(value)

/**
 * The `postgresql.conf` lines every server gets, before the caller's settings
 * (a later line wins in postgresql.conf).
 *
 * @since 0.1.0
 */
export const baseSettings = (socketDir: string): Readonly<Record<string, string | number | boolean>> => ({
  listen_addresses: "127.0.0.1",
  unix_socket_directories: socketDir,
  // Test data is disposable: skip the disk flushes.
  fsync: false,
  synchronous_commit: false,
  full_page_writes: false,
  shared_buffers: "32MB",
  // The server's own messages stay in English whatever the machine's locale.
  lc_messages: "C"
})

/**
 * The server being configured: its own directory (the TLS files go in
 * `<dir>/tls`), its data directory (a copy of a template or of `dataFrom`),
 * its socket directory, and the options already resolved.
 */
export interface ConfigTarget {
  readonly dir: string
  readonly dataDir: string
  readonly socketDir: string
  readonly tls: boolean
  readonly standby: boolean
  /** The run's certificates when `tls` is on. */
  readonly certs: CertPaths | undefined
}

/** The start options the configuration reads (see `StartOptions`). */
export interface ConfigOptions {
  readonly serverCert?: ServerCertName | undefined
  readonly hba?: ReadonlyArray<string> | undefined
  readonly standardHba?: boolean | undefined
  readonly settings?: Readonly<Record<string, string | number | boolean>> | undefined
}

/**
 * Writes a server's configuration into its data directory: `postgresql.conf`
 * gets `baseSettings`, then the TLS settings (the requested server
 * certificate, its key and the CA copied into `<dir>/tls`), then the caller's
 * settings; `pg_hba.conf` is the caller's lines, then `standardHba`; a standby
 * gets `standby.signal`.
 */
export const writeServerConfig = async (target: ConfigTarget, options: ConfigOptions): Promise<void> => {
  const { certs, dataDir, dir, socketDir, standby, tls } = target
  const settings: Record<string, string | number | boolean> = { ...baseSettings(socketDir) }
  if (tls && certs !== undefined) {
    const tlsDir = path.join(dir, "tls")
    await fs.mkdir(tlsDir, { mode: 0o755 })
    const files = serverCertFiles(certs, options.serverCert ?? "server")
    await fs.copyFile(files.cert, path.join(tlsDir, "server.crt"))
    await fs.copyFile(files.key, path.join(tlsDir, "server.key"))
    await fs.copyFile(certs.caCert, path.join(tlsDir, "ca.crt"))
    // PostgreSQL refuses a key readable by group or others (owned by the server user).
    await fs.chmod(path.join(tlsDir, "server.key"), 0o600)
    Object.assign(settings, {
      ssl: true,
      ssl_cert_file: path.join(tlsDir, "server.crt"),
      ssl_key_file: path.join(tlsDir, "server.key"),
      ssl_ca_file: path.join(tlsDir, "ca.crt")
    })
  }
  Object.assign(settings, options.settings ?? {})
  const conf = Object.entries(settings).map(([k, v]) => `${k} = ${settingValue(v)}`)
  await fs.appendFile(
    path.join(dataDir, "postgresql.conf"),
    `\n# Added by the effect-pgwire test harness\n${conf.join("\n")}\n`
  )
  const hba = [...(options.hba ?? []), ...((options.standardHba ?? true) ? standardHba(tls) : [])]
  await fs.writeFile(
    path.join(dataDir, "pg_hba.conf"),
    `# Written by the effect-pgwire test harness; first match wins.\n${hba.join("\n")}\n`
  )
  if (standby) await fs.writeFile(path.join(dataDir, "standby.signal"), "")
}
