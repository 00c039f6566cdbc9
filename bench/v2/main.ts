/**
 * Protocol 2.0 against protocol 3.0 on the same PostgreSQL 13, in the same run: sequential queries (without and
 * with parameters) and a 1,000,000-row text result read whole (`simple`) and streamed. 3.0's text-format rows
 * are the simple query protocol's; 2.0's are AsciiRows.
 *
 * Usage: `node --no-warnings bench/v2/main.ts [rounds] [rows]` (default 3 rounds, 1,000,000 rows). Prints the
 * median of each workload's wall time and client CPU time, and the ratios 2.0 / 3.0 (below 1: 2.0 is faster).
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as PgSession from "../../src/session/Session.ts"
import { startServer } from "../../test/support/EmbeddedPostgres.ts"
import { MIXED_COLUMNS } from "../Data.ts"
import { describeMachine, median } from "../Machine.ts"

const rounds = Number(process.argv[2] ?? 3)
const rows = Number(process.argv[3] ?? 1_000_000)
const SEQUENTIAL = 2_000

const server = await startServer({ kind: "pg13", name: "bench-v2" })

const workloads = (version: "2.0" | "3.0") =>
  Effect.scoped(Effect.gen(function*() {
    const session = yield* PgSession.connect({
      host: server.info.host,
      port: server.info.port,
      user: "postgres",
      database: "postgres",
      sslMode: "disable",
      protocolVersion: version
    })
    // Wall time and this process's CPU time (user + system): on a loaded machine the CPU time is what tells the
    // client's own cost (decoding) apart from waiting for the server.
    const time = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.gen(function*() {
        const started = performance.now()
        const cpu = process.cpuUsage()
        yield* effect
        const used = process.cpuUsage(cpu)
        return { wall: performance.now() - started, cpu: (used.user + used.system) / 1000 }
      })
    const plain = yield* time(Effect.forEach(Array.from({ length: SEQUENTIAL }), () => session.query("select 1 as one"), { discard: true }))
    const params = yield* time(
      Effect.forEach(Array.from({ length: SEQUENTIAL }), (_, i) => session.query("select $1::int + 1 as n", [i]), { discard: true })
    )
    const sql = `select ${MIXED_COLUMNS.join(", ")} from generate_series(1, ${rows}) g`
    const whole = yield* time(Effect.flatMap(session.simple(sql), (r) => Effect.sync(() => {
      if (r[0]!.rows.length !== rows) throw new Error("row count")
    })))
    let streamed = 0
    const stream = yield* time(session.stream(sql).pipe(Stream.runForEach(() => Effect.sync(() => void streamed++))))
    if (streamed !== rows) throw new Error("stream count")
    return { plain, params, whole, stream }
  }))

type Time = { readonly wall: number; readonly cpu: number }
type Times = { readonly plain: Time; readonly params: Time; readonly whole: Time; readonly stream: Time }
const results: Record<"2.0" | "3.0", Array<Times>> = { "2.0": [], "3.0": [] }
try {
  for (let round = 0; round < rounds; round++) {
    for (const version of round % 2 === 0 ? (["3.0", "2.0"] as const) : (["2.0", "3.0"] as const)) {
      results[version].push(await Effect.runPromise(workloads(version)))
    }
  }
} finally {
  await server.stop()
}

const row = (name: string, key: keyof Times) => {
  const of = (version: "2.0" | "3.0", what: keyof Time) => median(results[version].map((t) => t[key][what]))
  const cell = (version: "2.0" | "3.0") => `${of(version, "wall").toFixed(0)} ms (CPU ${of(version, "cpu").toFixed(0)} ms)`
  return `| ${name} | ${cell("3.0")} | ${cell("2.0")} | ${(of("2.0", "wall") / of("3.0", "wall")).toFixed(2)} | ${
    (of("2.0", "cpu") / of("3.0", "cpu")).toFixed(2)
  } |`
}
const machine = describeMachine()
console.log(`${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}`)
console.log(`PostgreSQL ${server.info.version}, ${rounds} rounds (median), ${rows} rows of ${MIXED_COLUMNS.length} mixed columns\n`)
console.log("| workload | 3.0 | 2.0 | 2.0 / 3.0 time | 2.0 / 3.0 client CPU |")
console.log("|---|---|---|---|---|")
console.log(row(`${SEQUENTIAL} sequential queries, no parameters`, "plain"))
console.log(row(`${SEQUENTIAL} sequential queries, one parameter`, "params"))
console.log(row(`${rows} rows read whole (text rows: simple on 3.0)`, "whole"))
console.log(row(`${rows} rows streamed (3.0: binary, portal)`, "stream"))
