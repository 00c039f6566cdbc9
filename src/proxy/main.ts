#!/usr/bin/env node
/**
 * The `pgproxy` command: PgProxy as a process.
 *
 *   pgproxy --upstream postgres://app:secret@db:5432/app --listen 127.0.0.1:6432 --pool-size 20
 *
 * Options (each also read from the environment variable in brackets):
 *
 * - `--upstream <url>` [PGPROXY_UPSTREAM]: libpq connection string or URL of
 *   the server; unset keywords come from `PG*` variables and the password
 *   file, as libpq.
 * - `--listen <host:port>` [PGPROXY_LISTEN], default 127.0.0.1:6432; or a
 *   directory for a Unix-domain socket: `--listen /run/pgproxy:6432`.
 * - `--mode transaction|session` [PGPROXY_MODE], default transaction.
 * - `--pool-size <n>` [PGPROXY_POOL_SIZE], default 20.
 * - `--max-client-conn <n>` [PGPROXY_MAX_CLIENT_CONN], default 100.
 * - `--max-prepared-statements <n>`, default 200.
 * - `--auth trust|md5|scram` with `--auth-file <file>` (PgBouncer's
 *   `userlist.txt` format: `"user" "password"` per line, the password in
 *   clear, as `md5...`, or as a `SCRAM-SHA-256$...` secret).
 * - `--tls-cert <file> --tls-key <file>`: TLS for clients.
 * - `--admin-db <name>`, default pgproxy.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import { ConfigError, PgError } from "../errors/PgError.ts"
import * as PgServer from "../server/PgServer.ts"
import * as PgProxy from "./PgProxy.ts"

/**
 * The options from the command line and the environment.
 *
 * @since 0.1.0
 */
export const parseArgs = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>
): PgProxy.ProxyOptions | PgError => {
  const given = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith("--")) return configError(`unexpected argument ${arg}`, arg)
    const eq = arg.indexOf("=")
    if (eq > 0) given.set(arg.slice(2, eq), arg.slice(eq + 1))
    else {
      const value = argv[i + 1]
      if (value === undefined) return configError(`${arg} needs a value`, arg)
      given.set(arg.slice(2), value)
      i++
    }
  }
  const get = (name: string, variable?: string) => given.get(name) ?? (variable === undefined ? undefined : env[variable])
  const integer = (name: string, variable: string | undefined, fallback: number): number | PgError => {
    const raw = get(name, variable)
    if (raw === undefined) return fallback
    const n = Number(raw)
    return Number.isInteger(n) && n > 0 ? n : configError(`--${name} must be a positive integer, got ${raw}`, name)
  }
  const listenRaw = get("listen", "PGPROXY_LISTEN") ?? "127.0.0.1:6432"
  const colon = listenRaw.lastIndexOf(":")
  const port = Number(listenRaw.slice(colon + 1))
  if (colon < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    return configError(`--listen must be host:port, got ${listenRaw}`, "listen")
  }
  const host = listenRaw.slice(0, colon)
  const listen: PgServer.Listen = host.startsWith("/") ? { unixDirectory: host, port } : { host, port }
  const mode = get("mode", "PGPROXY_MODE") ?? "transaction"
  if (mode !== "transaction" && mode !== "session") return configError(`--mode must be transaction or session, got ${mode}`, "mode")
  const poolSize = integer("pool-size", "PGPROXY_POOL_SIZE", PgProxy.DEFAULT_POOL_SIZE)
  if (poolSize instanceof PgError) return poolSize
  const maxClients = integer("max-client-conn", "PGPROXY_MAX_CLIENT_CONN", PgProxy.DEFAULT_MAX_CLIENT_CONNECTIONS)
  if (maxClients instanceof PgError) return maxClients
  const maxPrepared = integer("max-prepared-statements", undefined, PgProxy.DEFAULT_MAX_PREPARED_STATEMENTS)
  if (maxPrepared instanceof PgError) return maxPrepared
  const auth = authOf(get("auth", "PGPROXY_AUTH") ?? "trust", get("auth-file", "PGPROXY_AUTH_FILE"))
  if (auth instanceof PgError) return auth
  const cert = get("tls-cert")
  const key = get("tls-key")
  if ((cert === undefined) !== (key === undefined)) return configError("--tls-cert and --tls-key go together", "tls-cert")
  const upstream = get("upstream", "PGPROXY_UPSTREAM")
  return {
    listen,
    mode,
    auth,
    upstream: { ...(upstream === undefined ? {} : { url: upstream }), maxSize: poolSize },
    maxClientConnections: maxClients,
    maxPreparedStatements: maxPrepared,
    admin: { database: get("admin-db") ?? PgProxy.DEFAULT_ADMIN_DATABASE },
    ...(cert !== undefined && key !== undefined ? { tls: { cert: Fs.readFileSync(cert, "utf8"), key: Fs.readFileSync(key, "utf8") } } : {})
  }
}

const configError = (message: string, parameter: string) => new PgError({ reason: new ConfigError({ message, parameter }) })

/**
 * Users and passwords from a PgBouncer-style `userlist.txt`.
 *
 * @since 0.1.0
 */
export const parseUserList = (text: string): Map<string, string> => {
  const users = new Map<string, string>()
  for (const line of text.split("\n")) {
    const m = /^\s*"((?:[^"]|"")*)"\s+"((?:[^"]|"")*)"/.exec(line)
    if (m !== null) users.set(m[1]!.replaceAll("\"\"", "\""), m[2]!.replaceAll("\"\"", "\""))
  }
  return users
}

const authOf = (method: string, file: string | undefined): PgServer.AuthMethod | PgError => {
  if (method === "trust") return PgServer.Auth.trust
  if (method !== "md5" && method !== "scram") return configError(`--auth must be trust, md5 or scram, got ${method}`, "auth")
  if (file === undefined) return configError(`--auth ${method} needs --auth-file`, "auth-file")
  let users: Map<string, string>
  try {
    users = parseUserList(Fs.readFileSync(file, "utf8"))
  } catch (e) {
    return configError(`could not read ${file}: ${e instanceof Error ? e.message : String(e)}`, "auth-file")
  }
  const lookup = (user: string) => Effect.succeed(users.get(user))
  return method === "md5" ? PgServer.Auth.md5(lookup) : PgServer.Auth.scram(lookup)
}

const main = Effect.gen(function*() {
  const options = parseArgs(process.argv.slice(2), process.env)
  if (options instanceof PgError) return yield* Effect.fail(options)
  const proxy = yield* PgProxy.Proxy
  const a = proxy.address
  yield* Effect.logInfo(`pgproxy listening on ${a._tag === "Tcp" ? `${a.host}:${a.port}` : a.path} (${options.mode} mode)`)
  return yield* Effect.never
})

if (import.meta.main) {
  const options = parseArgs(process.argv.slice(2), process.env)
  if (options instanceof PgError) {
    console.error(`pgproxy: ${options.reason.message}`)
    process.exit(2)
  }
  NodeRuntime.runMain(Effect.provide(main, Layer.orDie(PgProxy.layer(options))))
}
