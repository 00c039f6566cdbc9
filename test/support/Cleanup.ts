/**
 * What this process must clean up, and the cleanup when it ends: the registry
 * of the servers it started and have not stopped, the run directory it
 * created, and the exit and signal handlers (SIGINT, SIGTERM, SIGHUP) that
 * give every remaining postmaster SIGQUIT (immediate shutdown), wait for it to
 * be gone and remove the directories, as a best effort.
 *
 * Set `EFFECT_PGWIRE_KEEP=1` to keep the directories for debugging.
 *
 * @since 0.1.0
 */
import * as fsSync from "node:fs"

/** A server in the registry: what stopping it and the exit path need of it. */
export interface Registered {
  /** The server's own directory (data, socket, log), removed when it stops. */
  readonly dir: string
  readonly stop: () => Promise<void>
  /** Sends SIGQUIT without waiting and leaves the registry; the postmaster's pid, if it was running. */
  signalSync(): number | undefined
}

/** The servers this process started that have not been stopped. */
export const running = new Set<Registered>()

let owned: string | undefined

/** The run directory this process created (removed when it exits), if any. */
export const ownedHarnessDir = (): string | undefined => owned

/** Records the run directory this process created, or that it is gone (`undefined`). */
export const setOwnedHarnessDir = (dir: string | undefined): void => {
  owned = dir
}

/**
 * The environment variable that keeps every directory (data, logs, certificates)
 * after the servers stop, for debugging: `EFFECT_PGWIRE_KEEP=1 npm test`.
 *
 * @since 0.1.0
 */
export const KEEP_ENV = "EFFECT_PGWIRE_KEEP"

/** Whether `EFFECT_PGWIRE_KEEP` asks to keep the directories. */
export const keepFiles = (): boolean => {
  const v = process.env[KEEP_ENV]
  return v !== undefined && v !== "" && v !== "0"
}

/** Whether `pid` exists and is not a zombie (Linux: reads /proc; "pid (comm) S ...", the state after the last ')'). */
export const pidRunning = (pid: number): boolean => {
  try {
    const stat = fsSync.readFileSync(`/proc/${pid}/stat`, "utf8")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state !== "Z" && state !== "X"
  } catch {
    return false
  }
}

/**
 * Waits, blocking, until `pid` has exited (gone, or a zombie: nobody reaps it
 * while the event loop is blocked). Linux only: reads /proc.
 */
const waitGoneSync = (pid: number, timeoutMs: number): void => {
  const pause = new Int32Array(new SharedArrayBuffer(4))
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && pidRunning(pid)) Atomics.wait(pause, 0, 0, 20)
}

const TERMINATING_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const
let handlersInstalled = false

/**
 * The exit path: every postmaster gets SIGQUIT at once, then (the event loop
 * being unavailable) a blocking wait until they are gone, since a postmaster
 * exits only after its children and removing a directory before that races
 * with files they still write; then the directories go.
 */
const killAllSync = (): void => {
  const servers = [...running]
  const pids = servers.flatMap((s) => s.signalSync() ?? [])
  const deadline = Date.now() + 5_000
  for (const pid of pids) waitGoneSync(pid, deadline - Date.now())
  for (const dir of [...servers.map((s) => s.dir), ...(owned !== undefined ? [owned] : [])]) {
    try {
      fsSync.rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 20 })
    } catch {
      // Best effort while the process exits; the next run sweeps what is left.
    }
  }
}

const onSignal = (signal: NodeJS.Signals): void => {
  killAllSync()
  // When nobody else handles the signal, restore the default and re-raise it,
  // so the process still dies of it (exit status 128 + n).
  if (process.listenerCount(signal) === 1) {
    for (const s of TERMINATING_SIGNALS) process.off(s, onSignal)
    process.kill(process.pid, signal)
  }
}

/** Installs the exit and signal handlers once (every start and the run directory's creation call it). */
export const installExitHandlers = (): void => {
  if (handlersInstalled) return
  handlersInstalled = true
  process.on("exit", killAllSync)
  for (const s of TERMINATING_SIGNALS) process.on(s, onSignal)
}
