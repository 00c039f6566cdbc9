/**
 * Run by KernelBlackhole.test.ts inside a private network namespace (`unshare -n`): a loopback address forwarded
 * to the server's Unix socket (sockets in the file system cross namespaces), a session to it, then a kernel rule
 * that drops every packet to that address (`ip rule ... blackhole`), with the query's bytes unacknowledged. Prints
 * one JSON line: how the query ended and after how long.
 */
import * as Effect from "effect/Effect"
import { execSync } from "node:child_process"
import * as Net from "node:net"
import * as PgSession from "../../src/session/Session.ts"

const [socketPath, livenessCheckAfter, waitMillis] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])]
const ADDRESS = "10.200.0.1"
const PORT = 5433

execSync(`ip link set lo up && ip addr add ${ADDRESS}/32 dev lo`)
const forwarder = Net.createServer((client) => {
  const upstream = Net.connect(socketPath)
  client.pipe(upstream).pipe(client)
  client.on("error", () => upstream.destroy())
  upstream.on("error", () => client.destroy())
})
await new Promise<void>((resolve) => forwarder.listen(PORT, ADDRESS, resolve))

const program = Effect.scoped(Effect.gen(function*() {
  const session = yield* PgSession.connect({
    host: ADDRESS,
    port: PORT,
    user: "postgres",
    database: "postgres",
    sslMode: "disable",
    livenessCheckAfter,
    livenessProbeTimeout: 500
  })
  yield* session.query("select 1 as warm")
  // Every packet to the address is dropped from now on, in both directions (the forwarder is on it too).
  execSync(`ip rule del pref 0 && ip rule add pref 100 table local && ip rule add pref 10 to ${ADDRESS} blackhole`)
  const started = Date.now()
  const exit = yield* Effect.exit(session.query("select 2 as lost")).pipe(Effect.timeoutOption(waitMillis))
  const millis = Date.now() - started
  if (exit._tag === "None") return { outcome: "still waiting", millis }
  const result = exit.value
  if (result._tag === "Success") return { outcome: "answered", millis }
  const error = result.cause.reasons.find((r) => r._tag === "Fail") as unknown as { error?: { reason?: { _tag: string; message: string } } }
  return { outcome: error?.error?.reason?._tag ?? "defect", message: error?.error?.reason?.message, millis }
}))

const result = await Effect.runPromise(Effect.orElseSucceed(program, () => ({ outcome: "setup failed", millis: 0 })))
console.log(JSON.stringify(result))
process.exit(0)
