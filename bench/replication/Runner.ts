/**
 * One contender of the replication benchmark in a child process of its own (`child.ts`): what it reports, and
 * how it is run (to its end, or as a live consumer that says when it streams).
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))

/** Rows each producer transaction writes. */
export const ROWS_PER_TRANSACTION = 100
export const ROUNDS = Number(process.env["BENCH_REPL_ROUNDS"] ?? 3)
/** Warm-up rows are written this often until a live or lag consumer has seen one. */
export const WARM_UP_INTERVAL_MILLIS = 50
/** A child still running after this long is killed and its run counted as failed. */
export const CHILD_TIMEOUT_MILLIS = 600_000

export interface Sample {
  readonly ms: number
  readonly changes: number
  readonly cpuMs: number
  readonly maxRssMiB: number
  readonly rssBeforeMiB: number
  /** Live: the wall clock when the consumer had the last row. */
  readonly lastAt?: number
  /** Lag: each transaction's delivery delay, and sampled acknowledgement delays (milliseconds). */
  readonly delaysMs?: ReadonlyArray<number>
  readonly ackDelaysMs?: ReadonlyArray<number>
}

/**
 * Runs one child to its end. With `onReady`, the child prints `ready` once it streams: `warmUp` runs every
 * `WARM_UP_INTERVAL_MILLIS` until then, `onReady` after.
 */
export const runChild = (
  args: Record<string, unknown>,
  live?: { readonly warmUp: () => Promise<unknown>; readonly onReady: () => Promise<unknown> }
): Promise<Sample | undefined> =>
  new Promise((resolve) => {
    const profile = process.env["BENCH_REPL_PROFILE"]
    const flags = profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profile}`]
    const child = spawn(process.execPath, ["--no-warnings", ...flags, path.join(here, "child.ts"), JSON.stringify(args)], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    let ready = false
    let warming: ReturnType<typeof setInterval> | undefined
    const stopWarmUp = () => warming !== undefined && clearInterval(warming)
    if (live !== undefined) {
      let busy = false
      warming = setInterval(() => {
        if (busy || ready) return
        busy = true
        live.warmUp().then(() => (busy = false), (e: unknown) => console.error(`warm-up: ${String(e)}`))
      }, WARM_UP_INTERVAL_MILLIS)
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MILLIS)
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString()
      if (live !== undefined && !ready && out.startsWith("ready\n")) {
        ready = true
        stopWarmUp()
        live.onReady().catch((e: unknown) => console.error(`producer: ${String(e)}`))
      }
    })
    child.stderr.on("data", (c: Buffer) => (err += c.toString()))
    child.on("exit", (code) => {
      clearTimeout(timer)
      stopWarmUp()
      if (code !== 0) {
        console.error(`${String(args["contender"])} failed (${code}): ${err.trim()}`)
        resolve(undefined)
      } else {
        if (err.trim() !== "") console.error(`${String(args["contender"])}: ${err.trim()}`)
        resolve(JSON.parse(out.trim().split("\n").at(-1)!) as Sample)
      }
    })
  })
