/**
 * Restarts of a server started by the test harness that keep its data
 * directory: fast (SIGINT) or immediate (SIGQUIT, a crash as far as the data
 * is concerned), then the same binary, environment, user, data directory and
 * port again. The postmaster started here is stopped with the Scope, before
 * the harness removes the directory.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import type { ServerInfo } from "./Servers.ts"
import * as PgSession from "../../src/session/Session.ts"

/** How long a shutdown or a start may take before the test fails. */
const RESTART_TIMEOUT_MILLIS = 60_000
const POLL_MILLIS = 50

/** A server that can be restarted in place. */
export interface Restartable {
  /** Stops the postmaster (fast or immediate) and starts it again on the same data directory and port. */
  readonly restart: (mode: "fast" | "immediate") => Effect.Effect<void>
  /** Restarts so far. */
  readonly restarts: () => number
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const until = (what: string, check: () => boolean | Promise<boolean>): Effect.Effect<void> =>
  Effect.promise(async () => {
    const deadline = Date.now() + RESTART_TIMEOUT_MILLIS
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`restart: ${what} did not happen in time`)
      await new Promise((r) => setTimeout(r, POLL_MILLIS))
    }
  })

/** Whether the server answers a session. */
const answers = (info: ServerInfo): Promise<boolean> =>
  Effect.runPromise(
    Effect.scoped(Effect.flatMap(
      PgSession.connect({ host: info.host, port: info.port, user: "postgres", database: "postgres", sslMode: "disable" }),
      (s) => s.query("select 1")
    )).pipe(Effect.match({ onFailure: () => false, onSuccess: () => true }))
  )

/** `info`'s server, restartable for the Scope. */
export const restartable = (info: ServerInfo): Effect.Effect<Restartable, never, Scope.Scope> =>
  Effect.gen(function*() {
    const exe = Fs.readlinkSync(`/proc/${info.pid}/exe`)
    const env = Object.fromEntries(
      Fs.readFileSync(`/proc/${info.pid}/environ`, "utf8").split("\0").filter((e) => e.includes("=")).map((e) => {
        const i = e.indexOf("=")
        return [e.slice(0, i), e.slice(i + 1)]
      })
    )
    const owner = Fs.statSync(info.dataDir)
    const asOwner = process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {}
    let pid = info.pid
    let count = 0
    let mine: ChildProcess.ChildProcess | undefined
    const stop = (signal: NodeJS.Signals) =>
      Effect.gen(function*() {
        const current = pid
        yield* Effect.sync(() => process.kill(current, signal))
        yield* until("the postmaster's exit", () => !alive(current))
      })
    const start = Effect.gen(function*() {
      const log = Fs.openSync(info.logFile, "a")
      const child = ChildProcess.spawn(exe, ["-D", info.dataDir, "-c", `port=${info.port}`], {
        stdio: ["ignore", log, log],
        env,
        ...asOwner
      })
      Fs.closeSync(log)
      mine = child
      pid = child.pid!
      yield* until("the server's start", () => answers(info))
    })
    yield* Effect.addFinalizer(() =>
      mine === undefined ? Effect.void : Effect.ignore(stop("SIGINT"))
    )
    return {
      restart: (mode) =>
        Effect.gen(function*() {
          yield* stop(mode === "fast" ? "SIGINT" : "SIGQUIT")
          yield* start
          count++
        }),
      restarts: () => count
    }
  })
