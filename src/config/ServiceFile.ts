/**
 * The connection service file (`pg_service.conf`): named groups of connection
 * settings, selected with `service=` or `PGSERVICE` (libpq-connect.sgml "The
 * Connection Service File").
 *
 * **Details**
 *
 * `find` reads one file as libpq's `parseServiceFile` does:
 *
 * - Lines are trimmed of C `isspace` characters; empty lines and lines
 *   starting with `#` are skipped; a line of 1023 bytes or more is an error.
 * - `[name]` opens a group; the group ends at the next `[`. A header matches
 *   when the text after `[` starts with the service name followed by `]`.
 * - Inside the wanted group each line is `keyword=value`, split at the first
 *   `=` with nothing trimmed around it and no quoting: the value is the rest of
 *   the line. An unknown keyword (including `requiressl` and an LDAP URL: this
 *   client has no LDAP lookup) is a syntax error, `service` and `servicefile`
 *   are "nested" errors. Lines of other groups are not checked.
 * - The first setting of a keyword in the group wins.
 *
 * `lookup` finds the files as `parseServiceInfo` does: the `servicefile`
 * setting, else `PGSERVICEFILE` (either must exist), else
 * `~/.pg_service.conf` if it exists; when the service is not there, the
 * system-wide `pg_service.conf` in `PGSYSCONFDIR` (or `Platform.sysConfDir`).
 * A service found nowhere is an error.
 *
 * Merging (service settings sit below the connection string and above the
 * environment) is `Config.resolve`'s job.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as FsPromises from "node:fs/promises"
import { ConfigError, PgError } from "../errors/PgError.ts"
import * as Keywords from "./Keywords.ts"
import { join, type Platform } from "./Platform.ts"

/**
 * The settings a service group holds, in file order (first setting of a
 * keyword only).
 *
 * @since 0.1.0
 */
export interface Found {
  readonly found: boolean
  readonly params: ReadonlyArray<readonly [string, string]>
}

const isSpace = (c: string | undefined): boolean =>
  c === " " || c === "\t" || c === "\n" || c === "\v" || c === "\f" || c === "\r"

// libpq reads lines with fgets into a 1024-byte buffer and refuses lines that fill it.
const MAX_LINE_BYTES = 1023

const error = (message: string) => Result.fail(new ConfigError({ message, parameter: "service" }))

/**
 * Looks for one service in the text of one service file.
 *
 * @since 0.1.0
 */
export const find = (text: string, fileName: string, service: string): Result.Result<Found, ConfigError> => {
  const params: Array<readonly [string, string]> = []
  const seen = new Set<string>()
  let found = false
  let lineNumber = 0
  let at = 0
  const encoder = new TextEncoder()
  while (at < text.length) {
    const end = text.indexOf("\n", at)
    const raw = end < 0 ? text.slice(at) : text.slice(at, end + 1)
    at = end < 0 ? text.length : end + 1
    lineNumber++
    if (encoder.encode(raw).length >= MAX_LINE_BYTES) {
      return error(`line ${lineNumber} too long in service file "${fileName}"`)
    }
    let first = 0
    let last = raw.length
    while (last > first && isSpace(raw[last - 1])) last--
    while (first < last && isSpace(raw[first])) first++
    const line = raw.slice(first, last)
    if (line === "" || line.startsWith("#")) continue
    if (line.startsWith("[")) {
      if (found) break
      found = line.startsWith(service, 1) && line[service.length + 1] === "]"
      continue
    }
    if (!found) continue
    const eq = line.indexOf("=")
    if (eq < 0) return error(`syntax error in service file "${fileName}", line ${lineNumber}`)
    const key = line.slice(0, eq)
    const value = line.slice(eq + 1)
    if (key === "service" || key === "servicefile") {
      return error(`nested "${key}" specifications not supported in service file "${fileName}", line ${lineNumber}`)
    }
    if (Keywords.byKeyword(key) === undefined) {
      return error(`syntax error in service file "${fileName}", line ${lineNumber}`)
    }
    if (!seen.has(key)) {
      seen.add(key)
      params.push([key, value])
    }
  }
  return Result.succeed({ found, params: found ? params : [] })
}

/**
 * The settings of a service and the file that supplied them.
 *
 * @since 0.1.0
 */
export interface Service {
  readonly name: string
  readonly file: string
  readonly params: ReadonlyArray<readonly [string, string]>
}

const pgError = (message: string) => new PgError({ reason: new ConfigError({ message, parameter: "service" }) })

// undefined: the file does not exist (or cannot be read, which libpq treats alike).
const readText = (path: string): Effect.Effect<string | undefined> =>
  Effect.promise(() => FsPromises.readFile(path, "utf8").catch(() => undefined))

const exists = (path: string): Effect.Effect<boolean> =>
  Effect.promise(() => FsPromises.stat(path).then(() => true, () => false))

const search = (text: string, file: string, service: string) =>
  Effect.mapError(Effect.fromResult(find(text, file, service)), (reason) => new PgError({ reason }))

/**
 * Finds a service's settings in the user's and the system's service files.
 *
 * **Details**
 *
 * `serviceFile` is the `servicefile` setting, if any. `env` supplies
 * `PGSERVICEFILE` and `PGSYSCONFDIR`.
 *
 * @since 0.1.0
 */
export const lookup = Effect.fnUntraced(function*(
  service: string,
  serviceFile: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  platform: Platform
): Effect.fn.Return<Service, PgError> {
  const named = serviceFile ?? env["PGSERVICEFILE"]
  let userFile: string | undefined = named
  if (userFile === undefined && platform.home !== undefined) {
    const candidate = join(platform, platform.home, ".pg_service.conf")
    if (yield* exists(candidate)) userFile = candidate
  }
  if (userFile !== undefined) {
    const text = yield* readText(userFile)
    if (text === undefined) return yield* pgError(`service file "${userFile}" not found`)
    const result = yield* search(text, userFile, service)
    if (result.found) return { name: service, file: userFile, params: result.params }
  }
  const systemFile = join(platform, env["PGSYSCONFDIR"] ?? platform.sysConfDir, "pg_service.conf")
  const text = yield* readText(systemFile)
  if (text !== undefined) {
    const result = yield* search(text, systemFile, service)
    if (result.found) return { name: service, file: systemFile, params: result.params }
  }
  return yield* pgError(`definition of service "${service}" not found`)
})
