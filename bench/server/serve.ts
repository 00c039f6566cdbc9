/**
 * A server process for the server benchmark (its CPU is read from
 * /proc/<pid>/stat by bench/server/main.ts): `node serve.ts <mode> <upstreamPort>`
 * with mode `constant` (PgServer answering every statement with one int4 row:
 * the engine's own cost), `relay` (the example relay to PostgreSQL) or `pipe`
 * (Node's socket.pipe to PostgreSQL: the floor any Node proxy pays). Prints
 * `ready <port>` once listening.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as net from "node:net"
import * as PgServer from "../../src/server/PgServer.ts"
import * as Relay from "../../src/proxy/examples/Relay.ts"

process.on("SIGTERM", () => process.exit(0))

const [mode, upstreamPort] = [process.argv[2], Number(process.argv[3])]

const one = [PgServer.field("n", "int4")]
// pgbench's start-up probe of pgbench_accounts' partitioning (GetTableInfo) reads three columns.
const partitions = [PgServer.field("n", "int4"), PgServer.field("partstrat", "char"), PgServer.field("count", "int8")]
const constant: PgServer.Handler = {
  simple: (sql) =>
    Stream.make(
      sql.includes("partstrat")
        ? PgServer.Outcome.rows(partitions, Stream.make([1, null, 0n]))
        : PgServer.Outcome.rows(one, Stream.make([1]))
    ),
  prepare: ({ sql, paramTypes }) => {
    const n = Math.max(0, ...Array.from(sql.matchAll(/\$(\d+)/g), (m) => Number(m[1])))
    return Effect.succeed({
      paramTypes: Array.from({ length: n }, (_, i) => paramTypes[i] || 23),
      fields: one,
      execute: () => Effect.succeed(PgServer.Outcome.rows(one, Stream.make([1])))
    })
  }
}

if (mode === "pipe") {
  const server = net.createServer({ noDelay: true }, (client) => {
    const up = net.connect({ host: "127.0.0.1", port: upstreamPort, noDelay: true })
    client.pipe(up).pipe(client)
    client.on("error", () => up.destroy())
    up.on("error", () => client.destroy())
  })
  server.listen(0, "127.0.0.1", () => console.log(`ready ${(server.address() as net.AddressInfo).port}`))
} else {
  Effect.runFork(Effect.scoped(Effect.gen(function*() {
    const server = yield* PgServer.serve({
      listen: { port: 0 },
      handler: mode === "relay"
        ? Relay.handler({ host: "127.0.0.1", port: upstreamPort, sslMode: "disable" })
        : constant,
      limits: { maxConnections: 200 }
    })
    console.log(`ready ${server.address._tag === "Tcp" ? server.address.port : 0}`)
    yield* Effect.never
  })))
}
