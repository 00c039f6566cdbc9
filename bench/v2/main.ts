/**
 * Protocol 2.0 against protocol 3.0 on the same PostgreSQL 13, in the same run: sequential queries (without and
 * with parameters) and a 1,000,000-row text result read whole (`simple`) and streamed. 3.0's text-format rows
 * are the simple query protocol's; 2.0's are AsciiRows.
 *
 * Usage: `node --no-warnings bench/v2/main.ts [rounds] [rows]` (default 3 rounds, 1,000,000 rows). Prints the
 * median of each workload and the ratio 2.0 / 3.0 (below 1: 2.0 is faster).
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
    const time = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.gen(function*() {
        const started = performance.now()
        yield* effect
        return performance.now() - started
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

type Times = { readonly plain: number; readonly params: number; readonly whole: number; readonly stream: number }
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

const row = (name: string, key: keyof Times, unit: string, scale: (ms: number) => number) => {
  const v3 = median(results["3.0"].map((t) => t[key]))
  const v2 = median(results["2.0"].map((t) => t[key]))
  return `| ${name} | ${scale(v3).toFixed(0)} ${unit} | ${scale(v2).toFixed(0)} ${unit} | ${(v2 / v3).toFixed(2)} |`
}
const machine = describeMachine()
console.log(`${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}`)
console.log(`PostgreSQL ${server.info.version}, ${rounds} rounds (median), ${rows} rows of ${MIXED_COLUMNS.length} mixed columns\n`)
console.log("| workload | 3.0 | 2.0 | 2.0 / 3.0 time |")
console.log("|---|---|---|---|")
console.log(row(`${SEQUENTIAL} sequential queries, no parameters`, "plain", "ms", (ms) => ms))
console.log(row(`${SEQUENTIAL} sequential queries, one parameter`, "params", "ms", (ms) => ms))
console.log(row(`${rows} rows read whole (text rows: simple on 3.0)`, "whole", "ms", (ms) => ms))
console.log(row(`${rows} rows streamed (3.0: binary, portal)`, "stream", "ms", (ms) => ms))
