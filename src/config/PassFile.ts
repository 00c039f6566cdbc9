/**
 * The password file (`~/.pgpass`, `PGPASSFILE`, `passfile`): parsing, the
 * lookup for one connection attempt, and reading the file with libpq's
 * permission check (libpq-connect.sgml "The Password File").
 *
 * **Details**
 *
 * As libpq's `passwordFromFile` and `pwdfMatchesString`:
 *
 * - Each line is `hostname:port:database:username:password`; `\` escapes the
 *   next character (so `\:` and `\\`); a line starting with `#` is a comment,
 *   trailing CR/LF are stripped, other whitespace is data. Fields after the
 *   password are ignored; a line with fewer than five fields never matches.
 * - A first-four field that is exactly `*` matches anything (`\*` is a literal
 *   star). The first matching line wins.
 * - The host searched for is `host`, else `hostaddr`, else `localhost`; a Unix
 *   socket in the default socket directory is also searched as `localhost`.
 *   The port is the attempt's port. No lookup happens without a database and
 *   a user name.
 * - On POSIX a file that is not a regular file, or that group or others may
 *   access at all, is ignored with a warning; a missing file is no error. On
 *   Windows there is no permission check.
 *
 * One deliberate difference: libpq has a single compiled-in default socket
 * directory; here both `/var/run/postgresql` and `/tmp` count as default
 * (`Platform.DEFAULT_SOCKET_DIRECTORIES`), whichever the platform chose.
 *
 * The lookup happens per host at connection time (`passwordFor`), so a file
 * edited between attempts is honoured. Passwords are `Redacted` from the
 * moment they are parsed.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as FsPromises from "node:fs/promises"
import { DEFAULT_SOCKET_DIRECTORIES } from "./Platform.ts"

/**
 * One usable line of a password file. A key field is `undefined` when the
 * line has `*` there (it matches anything).
 *
 * @since 0.1.0
 */
export interface Entry {
  readonly host: string | undefined
  readonly port: string | undefined
  readonly database: string | undefined
  readonly user: string | undefined
  readonly password: Redacted.Redacted<string>
  /** 1-based line number, for diagnostics. */
  readonly line: number
}

/**
 * What one connection attempt looks up.
 *
 * @since 0.1.0
 */
export interface Key {
  /** `host`, else `hostaddr`; empty means `localhost`. */
  readonly host: string
  /** Empty means 5432. */
  readonly port: string
  readonly database: string
  readonly user: string
}

// Splits a line at unescaped colons, removing the escapes: five fields at
// most, the fifth running to the next unescaped colon.
const fields = (line: string): { readonly values: Array<string>; readonly star: Array<boolean> } => {
  const values: Array<string> = []
  const star: Array<boolean> = []
  let value = ""
  let raw = ""
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (c === "\\" && i + 1 < line.length) {
      raw += c + line[i + 1]
      value += line[++i]
    } else if (c === ":") {
      values.push(value)
      star.push(raw === "*")
      value = ""
      raw = ""
      if (values.length === 5) return { values, star }
    } else {
      // Includes a trailing backslash, which libpq keeps (it escapes nothing).
      value += c
      raw += c
    }
  }
  values.push(value)
  star.push(raw === "*")
  return { values, star }
}

/**
 * Parses the text of a password file into its usable lines.
 *
 * @since 0.1.0
 */
export const parse = (text: string): ReadonlyArray<Entry> => {
  const entries: Array<Entry> = []
  const lines = text.split("\n")
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k]!.replace(/[\r\n]+$/, "")
    if (line === "" || line.startsWith("#")) continue
    const { values, star } = fields(line)
    if (values.length < 5) continue
    const key = (n: number) => (star[n] === true ? undefined : values[n]!)
    entries.push({
      host: key(0),
      port: key(1),
      database: key(2),
      user: key(3),
      password: Redacted.make(values[4]!),
      line: k + 1
    })
  }
  return entries
}

/**
 * The password of the first entry matching the key, as libpq chooses it.
 *
 * @since 0.1.0
 */
export const lookup = (entries: ReadonlyArray<Entry>, key: Key): Redacted.Redacted<string> | undefined => {
  if (key.database === "" || key.user === "") return undefined
  const host = key.host === "" || DEFAULT_SOCKET_DIRECTORIES.includes(key.host) ? "localhost" : key.host
  const port = key.port === "" ? "5432" : key.port
  const matches = (field: string | undefined, value: string) => field === undefined || field === value
  for (const e of entries) {
    if (matches(e.host, host) && matches(e.port, port) && matches(e.database, key.database) && matches(e.user, key.user)) {
      return e.password
    }
  }
  return undefined
}

/**
 * The key for one host of a configuration (`host`, else `hostaddr`).
 *
 * @since 0.1.0
 */
export const keyFor = (
  config: { readonly database: string; readonly user: string },
  host: { readonly host: string; readonly hostaddr?: string | undefined; readonly port: number }
): Key => ({
  host: host.host !== "" ? host.host : host.hostaddr ?? "",
  port: String(host.port),
  database: config.database,
  user: config.user
})

/**
 * Reads a password file: its entries, or none when it is missing, not a
 * regular file, or readable by group or others (those two with a warning, as
 * libpq prints one).
 *
 * @since 0.1.0
 */
export const read = (
  path: string,
  options?: { readonly windows?: boolean | undefined }
): Effect.Effect<ReadonlyArray<Entry>> =>
  Effect.gen(function*() {
    const stat = yield* Effect.promise(() => FsPromises.stat(path).catch(() => undefined))
    if (stat === undefined) return []
    if (options?.windows !== true) {
      if (!stat.isFile()) {
        yield* Effect.logWarning(`password file "${path}" is not a plain file`)
        return []
      }
      if ((stat.mode & 0o077) !== 0) {
        yield* Effect.logWarning(
          `password file "${path}" has group or world access; permissions should be u=rw (0600) or less`
        )
        return []
      }
    }
    const text = yield* Effect.promise(() => FsPromises.readFile(path, "utf8").catch(() => undefined))
    return text === undefined ? [] : parse(text)
  })

/**
 * The password for one host: the configured one, else the password file's.
 *
 * **Details**
 *
 * Call it for each connection attempt (libpq looks the file up per host). It
 * never fails: an unreadable or insecure file means no password from it.
 *
 * @since 0.1.0
 */
export const passwordFor = (
  config: {
    readonly database: string
    readonly user: string
    readonly password?: Redacted.Redacted<string> | undefined
    readonly passfile?: string | undefined
  },
  host: { readonly host: string; readonly hostaddr?: string | undefined; readonly port: number },
  options?: { readonly windows?: boolean | undefined }
): Effect.Effect<Redacted.Redacted<string> | undefined> => {
  if (config.password !== undefined) return Effect.succeed(config.password)
  const passfile = config.passfile
  if (passfile === undefined || passfile === "") return Effect.succeed(undefined)
  return Effect.map(read(passfile, options), (entries) => lookup(entries, keyFor(config, host)))
}
