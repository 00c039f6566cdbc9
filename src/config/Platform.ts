/**
 * The facts about the machine that libpq compiles in or asks the operating
 * system for: the user name, the home directory, the default host, and where
 * the system-wide service file lives.
 *
 * **Details**
 *
 * Resolution (`Config.resolve`) takes these as a plain value so it stays pure
 * and testable; `current` reads them from the running process.
 *
 * - `user`: the operating-system user name (libpq's `pg_fe_getauthname`, which
 *   asks for the effective user id, not `$USER`).
 * - `home`: `$HOME` when set and non-empty, else the account's home directory
 *   (libpq's `pqGetHomeDirectory`); on Windows `%APPDATA%\postgresql`.
 * - `defaultHost`: what an empty host means. libpq uses the socket directory it
 *   was built with (`/tmp` upstream, `/var/run/postgresql` in Debian's and
 *   Red Hat's packages) and `localhost` on Windows. A Node program has no build
 *   of its own, so `current` takes `/var/run/postgresql` when that directory
 *   exists, else `/tmp`, else `localhost` (always `localhost` on Windows).
 * - `sysConfDir`: the directory of the system-wide `pg_service.conf` when
 *   `PGSYSCONFDIR` is not set. libpq compiles in its installation's `etc`
 *   directory; we use `/etc/postgresql-common`, where Debian's libpq looks.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"

/**
 * @since 0.1.0
 */
export interface Platform {
  readonly user: string | undefined
  readonly home: string | undefined
  readonly defaultHost: string
  readonly sysConfDir: string
  readonly windows: boolean
}

/**
 * The socket directories `current` looks for, in order, and that the password
 * file treats as the default socket directory (matched by `localhost`).
 *
 * @since 0.1.0
 */
export const DEFAULT_SOCKET_DIRECTORIES: ReadonlyArray<string> = ["/var/run/postgresql", "/tmp"]

/**
 * See the module notes.
 *
 * @since 0.1.0
 */
export const DEFAULT_SYSCONFDIR = "/etc/postgresql-common"

/**
 * A platform with nothing known: no user, no home, `localhost`. Tests start
 * from it.
 *
 * @since 0.1.0
 */
export const empty: Platform = {
  user: undefined,
  home: undefined,
  defaultHost: "localhost",
  sysConfDir: DEFAULT_SYSCONFDIR,
  windows: false
}

const userInfo = (): Os.UserInfo<string> | undefined => {
  try {
    return Os.userInfo()
  } catch {
    // No passwd entry for the effective user: libpq carries on without one.
    return undefined
  }
}

const isDirectory = (path: string): boolean => {
  try {
    return Fs.statSync(path).isDirectory()
  } catch {
    return false
  }
}

/**
 * The platform of the running process; `env` is read for `HOME` and
 * `APPDATA`.
 *
 * @since 0.1.0
 */
export const current = (env: Readonly<Record<string, string | undefined>>): Effect.Effect<Platform> =>
  Effect.sync(() => {
    const windows = process.platform === "win32"
    const info = userInfo()
    const homeEnv = env["HOME"]
    const appData = env["APPDATA"]
    const home = windows
      ? appData !== undefined && appData !== "" ? `${appData}\\postgresql` : undefined
      : homeEnv !== undefined && homeEnv !== ""
      ? homeEnv
      : info?.homedir
    const defaultHost = windows ? "localhost" : DEFAULT_SOCKET_DIRECTORIES.find(isDirectory) ?? "localhost"
    return { user: info?.username, home, defaultHost, sysConfDir: DEFAULT_SYSCONFDIR, windows }
  })

/**
 * Joins a directory and a file name with the platform's separator.
 *
 * @since 0.1.0
 */
export const join = (platform: Platform, directory: string, file: string): string =>
  `${directory}${platform.windows ? "\\" : "/"}${file}`

/**
 * The client-certificate files libpq uses when `sslcert`, `sslkey`,
 * `sslrootcert` and `sslcrl` are not set (libpq-connect.sgml "SSL Client File
 * Usage"): under `~/.postgresql` (`%APPDATA%\postgresql` on Windows), each used
 * only if it exists.
 *
 * @since 0.1.0
 */
export const defaultSslFiles = (platform: Platform): {
  readonly cert: string
  readonly key: string
  readonly rootCert: string
  readonly crl: string
} | undefined => {
  if (platform.home === undefined) return undefined
  const dir = platform.windows ? platform.home : join(platform, platform.home, ".postgresql")
  return {
    cert: join(platform, dir, "postgresql.crt"),
    key: join(platform, dir, "postgresql.key"),
    rootCert: join(platform, dir, "root.crt"),
    crl: join(platform, dir, "root.crl")
  }
}
