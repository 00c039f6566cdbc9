/**
 * PgBouncer for tests: started on loopback in front of a test server, with
 * its own ini file, user list and log in a temporary directory.
 *
 * **Usage**
 *
 * - `findBinary()`: the `pgbouncer` executable (PATH, then `/usr/sbin`,
 *   where Debian's `pgbouncer` package puts it), or `undefined`.
 * - Promise API: `const bouncer = await startPgBouncer({ target: servers().main })`,
 *   then `bouncer.host` / `bouncer.port`, and `await bouncer.stop()`.
 * - Effect API: `acquire(options)` is a scoped Effect (stopped with the scope).
 *
 * **Settings.** `pool_mode = transaction` by default; `auth_type = trust`
 * (every user in the user list is let in; the server then authenticates
 * PgBouncer's own connection with its pg_hba rules) or `md5` (clients prove
 * the password from the user list, which PgBouncer also uses upstream);
 * `max_prepared_statements = 0` (written only for PgBouncer 1.21 and later,
 * which know the setting; older ones never track prepared statements);
 * `ignore_startup_parameters = extra_float_digits` (the session sends it at
 * startup, PgBouncer refuses parameters it does not track), plus
 * `IntervalStyle` before PgBouncer 1.20 (which tracks it); no Unix socket;
 * no TLS to the server.
 *
 * **Root.** PgBouncer refuses to run as root: when this process is root it
 * runs as `nobody` (the same account the PostgreSQL harness uses), and its
 * directory is chowned to it.
 *
 * **What it deliberately does not do.** It never installs PgBouncer and
 * never skips anything by itself: callers decide what a missing binary means
 * (`MISSING_BINARY_MESSAGE`). It imports nothing from `src/`.
 *
 * @since 0.1.0
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fsSync from "node:fs"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { resolveServerUser, type ServerUser } from "./EmbeddedPostgres.ts"

/**
 * What tests say when there is no binary.
 *
 * @since 0.1.0
 */
export const MISSING_BINARY_MESSAGE =
  "PgBouncer tests did NOT run: no pgbouncer binary on this machine. Install the Debian package " +
  "(`apt-get install -y --no-install-recommends pgbouncer`; .ci/run does this in CI) to run them."

/** How long PgBouncer may take to accept connections. */
const START_TIMEOUT_MILLIS = 10_000
/** How long PgBouncer may take to exit after SIGTERM before SIGKILL. */
const STOP_TIMEOUT_MILLIS = 5_000

/**
 * The `pgbouncer` executable, or `undefined` when it is not installed.
 *
 * @since 0.1.0
 */
export const findBinary = (): string | undefined => {
  const dirs = [...(process.env["PATH"] ?? "").split(path.delimiter), "/usr/sbin", "/usr/local/sbin", "/usr/local/bin"]
  for (const dir of dirs) {
    if (dir === "") continue
    const candidate = path.join(dir, "pgbouncer")
    try {
      fsSync.accessSync(candidate, fsSync.constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

/**
 * The version of a `pgbouncer` binary as `[major, minor, patch]`.
 *
 * @since 0.1.0
 */
export const binaryVersion = (binary: string): readonly [number, number, number] => {
  const out = execFileSync(binary, ["--version"], { encoding: "utf8" })
  const match = /PgBouncer (\d+)\.(\d+)(?:\.(\d+))?/.exec(out)
  if (match === null) throw new Error(`cannot read the version of ${binary} from: ${out.slice(0, 200)}`)
  return [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)]
}

/**
 * @since 0.1.0
 */
export interface PgBouncerOptions {
  /** The server PgBouncer forwards to. */
  readonly target: { readonly host: string; readonly port: number }
  /** Default "transaction". */
  readonly poolMode?: "session" | "transaction" | "statement" | undefined
  /** Default "trust". */
  readonly authType?: "trust" | "md5" | undefined
  /** The user list: name to password (empty for trust). Default: `postgres` and `testuser`. */
  readonly users?: Readonly<Record<string, string>> | undefined
  /** Server connections per user and database. Default 2 (fewer than clients, so they are shared). */
  readonly defaultPoolSize?: number | undefined
}

/**
 * A running PgBouncer.
 *
 * @since 0.1.0
 */
export interface RunningPgBouncer {
  readonly host: string
  readonly port: number
  readonly version: readonly [number, number, number]
  readonly dir: string
  readonly stop: () => Promise<void>
}

const running = new Set<ChildProcess>()
let exitHandlerInstalled = false

const installExitHandler = () => {
  if (exitHandlerInstalled) return
  exitHandlerInstalled = true
  process.on("exit", () => {
    for (const child of running) {
      try {
        child.kill("SIGKILL")
      } catch {
        // already gone
      }
    }
  })
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

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const serverUser = (): ServerUser | undefined => {
  let passwd = ""
  try {
    passwd = fsSync.readFileSync("/etc/passwd", "utf8")
  } catch {
    // no passwd file: the conventional nobody ids
  }
  return resolveServerUser(process.getuid?.(), passwd)
}

const quote = (s: string) => `"${s.replace(/"/g, "\"\"")}"`

const logTail = async (file: string): Promise<string> => {
  try {
    const text = await fs.readFile(file, "utf8")
    return text.split("\n").slice(-20).join("\n")
  } catch {
    return "(no log)"
  }
}

/**
 * Starts PgBouncer. Rejects with an Error naming the binary and the log tail
 * when it does not come up; nothing is left running then.
 *
 * @since 0.1.0
 */
export const startPgBouncer = async (options: PgBouncerOptions): Promise<RunningPgBouncer> => {
  const binary = findBinary()
  if (binary === undefined) throw new Error(MISSING_BINARY_MESSAGE)
  const version = binaryVersion(binary)
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `effect-pgwire-pgbouncer-${process.pid}-`))
  const user = serverUser()
  const port = await freePort()
  const users = options.users ?? { postgres: "", testuser: "" }
  const log = path.join(dir, "pgbouncer.log")
  const lines = [
    "[databases]",
    `* = host=${options.target.host} port=${options.target.port}`,
    "",
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    "unix_socket_dir =",
    `auth_type = ${options.authType ?? "trust"}`,
    `auth_file = ${path.join(dir, "userlist.txt")}`,
    `pool_mode = ${options.poolMode ?? "transaction"}`,
    `default_pool_size = ${options.defaultPoolSize ?? 2}`,
    "max_client_conn = 500",
    // PgBouncer refuses start-up parameters it does not track; IntervalStyle is tracked from 1.20 on.
    `ignore_startup_parameters = extra_float_digits${version[0] === 1 && version[1] < 20 ? ",IntervalStyle" : ""}`,
    "server_tls_sslmode = disable",
    `logfile = ${log}`,
    "admin_users = postgres",
    ...(version[0] > 1 || version[1] >= 21 ? ["max_prepared_statements = 0"] : [])
  ]
  await fs.writeFile(path.join(dir, "pgbouncer.ini"), lines.join("\n") + "\n")
  await fs.writeFile(
    path.join(dir, "userlist.txt"),
    Object.entries(users).map(([name, password]) => `${quote(name)} ${quote(password)}`).join("\n") + "\n",
    { mode: 0o600 }
  )
  if (user !== undefined) {
    await fs.chown(dir, user.uid, user.gid)
    for (const file of await fs.readdir(dir)) await fs.chown(path.join(dir, file), user.uid, user.gid)
  }
  const child = spawn(binary, [path.join(dir, "pgbouncer.ini")], {
    stdio: ["ignore", "ignore", "pipe"],
    ...(user !== undefined ? { uid: user.uid, gid: user.gid } : {})
  })
  let stderr = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000)
  })
  let exited: number | null | undefined = undefined
  child.once("exit", (code) => {
    exited = code
    running.delete(child)
  })
  running.add(child)
  installExitHandler()

  const stop = async () => {
    if (exited === undefined) {
      child.kill("SIGTERM")
      const deadline = Date.now() + STOP_TIMEOUT_MILLIS
      while (exited === undefined && Date.now() < deadline) await sleep(20)
      if (exited === undefined) child.kill("SIGKILL")
      while (exited === undefined) await sleep(20)
    }
    await fs.rm(dir, { recursive: true, force: true })
  }

  const deadline = Date.now() + START_TIMEOUT_MILLIS
  while (Date.now() < deadline) {
    if (exited !== undefined) break
    if (await canConnect(port)) return { host: "127.0.0.1", port, version, dir, stop }
    await sleep(50)
  }
  const tail = await logTail(log)
  await stop()
  throw new Error(
    `${binary} did not accept connections on 127.0.0.1:${port} within ${START_TIMEOUT_MILLIS} ms` +
      `${user !== undefined ? ` (as ${user.name}, because PgBouncer refuses to run as root)` : ""}` +
      `\n--- stderr ---\n${stderr}\n--- log ---\n${tail}`
  )
}

/**
 * PgBouncer for the Scope.
 *
 * @since 0.1.0
 */
export const acquire = (options: PgBouncerOptions): Effect.Effect<RunningPgBouncer, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => startPgBouncer(options),
      catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
    }),
    (bouncer) => Effect.promise(() => bouncer.stop())
  )
