/**
 * A kernel-level black hole (a private network namespace and an `ip rule ... blackhole` to the server's address):
 * the query's bytes stay unacknowledged, so TCP keepalive never fires, and only the liveness check ends the wait.
 * Where the machine does not allow `unshare -n` and `ip`, the test is skipped with the reason printed.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { servers } from "../support/Servers.ts"

const here = Path.dirname(fileURLToPath(import.meta.url))
const CHILD = Path.join(here, "KernelBlackholeChild.ts")

/** Why the machine cannot run it, or undefined when it can. */
const unavailable = ((): string | undefined => {
  const probe = spawnSync("unshare", ["-n", "sh", "-c", "ip link set lo up && ip rule list"], { encoding: "utf8" })
  if (probe.error !== undefined) return `unshare is not available (${probe.error.message})`
  if (probe.status !== 0) return `unshare -n with ip is not allowed here: ${probe.stderr.trim()}`
  return undefined
})()
if (unavailable !== undefined) console.log(`kernel black hole tests skipped: ${unavailable}`)

const run = (livenessCheckAfter: number, waitMillis: number) => {
  const main = servers().main
  const socket = Path.join(main.socketDir, `.s.PGSQL.${main.port}`)
  const child = spawnSync("unshare", ["-n", process.execPath, CHILD, socket, String(livenessCheckAfter), String(waitMillis)], {
    encoding: "utf8",
    // Generous: a loaded machine can take many seconds to start Node and load the sources.
    timeout: waitMillis + 45_000
  })
  const line = child.stdout.trim().split("\n").at(-1) ?? ""
  try {
    return JSON.parse(line) as { outcome: string; message?: string; millis: number }
  } catch {
    throw new Error(`the child printed no result (status ${child.status}): ${child.stdout}\n${child.stderr}`)
  }
}

describe.skipIf(unavailable !== undefined)("a kernel-level black hole", () => {
  it("the liveness check breaks the session; without it the query is still waiting", () => {
    const checked = run(500, 10_000)
    console.log(`kernel black hole, liveness after 500 ms: ${checked.outcome} after ${checked.millis} ms (${checked.message ?? ""})`)
    assert.strictEqual(checked.outcome, "ConnectionError")
    const unchecked = run(0, 3_000)
    console.log(`kernel black hole, liveness off: ${unchecked.outcome} after ${unchecked.millis} ms`)
    assert.strictEqual(unchecked.outcome, "still waiting")
  }, 120_000)
})
