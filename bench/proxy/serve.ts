/**
 * A PgProxy process for the proxy benchmark (its CPU and RSS are read from
 * /proc by bench/proxy/main.ts): `node serve.ts <upstreamPort> <user> <poolSize> [mode]`.
 * Prints `ready <port>` once listening.
 */
import * as Effect from "effect/Effect"
import * as PgProxy from "../../src/proxy/PgProxy.ts"

process.on("SIGTERM", () => process.exit(0))
process.on("SIGINT", () => process.exit(0))

const [upstreamPort, user, poolSize, mode] = [Number(process.argv[2]), process.argv[3]!, Number(process.argv[4] ?? 4), process.argv[5] ?? "transaction"]

Effect.runFork(Effect.scoped(Effect.gen(function*() {
  const proxy = yield* PgProxy.serve({
    upstream: { host: "127.0.0.1", port: upstreamPort, user, database: "postgres", sslMode: "disable", maxSize: poolSize },
    mode: mode as "transaction" | "session",
    maxClientConnections: 500
  })
  console.log(`ready ${proxy.address.port}`)
  return yield* Effect.never
})))
