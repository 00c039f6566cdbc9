/**
 * What observation costs (`node --no-warnings bench/observe/main.ts`): the
 * same workloads on sessions without the observing wrapper
 * (`ObserveSessions` false), with it and no tracer installed (metrics only),
 * with it under a tracer that keeps nothing (every span made, then
 * dropped), and with it without metrics (`ObserveSessions` "spans") and no
 * tracer, in the same run.
 *
 * **What it does**
 *
 * Starts the embedded PostgreSQL 18, opens one session per configuration,
 * and runs `BENCH_OBSERVE_ROUNDS` rounds (default 5); each round times every
 * configuration once, in an order rotated every round, on two workloads:
 * - sequential: `BENCH_OBSERVE_SEQUENTIAL` (default 2000) `select $1::int`,
 *   one after the other;
 * - pipelined: `BENCH_OBSERVE_PIPELINED` (default 10000) of the same, 64 at a
 *   time on one session.
 * It prints the median time per configuration (in all and per operation),
 * the median of the paired ratios (each round's time over the same round's
 * unobserved time) and of the paired differences per operation, for the
 * wall-clock time and for this process's CPU time (user and system; the
 * server is another process), the steadier figure on a loaded machine.
 * `bench/observe/wrapper.ts` measures the wrapper alone, without I/O.
 */
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"
import * as PgSession from "../../src/session/Session.ts"
import { startServer } from "../../test/support/EmbeddedPostgres.ts"
import { describeMachine, median } from "../Machine.ts"

const ROUNDS = Number(process.env["BENCH_OBSERVE_ROUNDS"] ?? 5)
const SEQUENTIAL = Number(process.env["BENCH_OBSERVE_SEQUENTIAL"] ?? 2000)
const PIPELINED = Number(process.env["BENCH_OBSERVE_PIPELINED"] ?? 10000)
const CONCURRENCY = 64

/** A tracer that makes every span and keeps none. */
const dropping = Tracer.make({ span: (options) => new Tracer.NativeSpan(options) })

type Config = "unobserved" | "metrics only" | "no-op tracer" | "spans only"
const CONFIGS: ReadonlyArray<Config> = ["unobserved", "metrics only", "no-op tracer", "spans only"]

const main = async () => {
  const server = await startServer({ name: "observe-bench" })
  try {
    const results = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const connect = (observe: boolean | "spans") =>
        PgSession.connect({ host: server.info.host, port: server.info.port, user: "postgres", database: "postgres", sslMode: "disable" })
          .pipe(Effect.provideService(PgSession.ObserveSessions, observe))
      const sessions: Record<Config, PgSession.Session> = {
        "unobserved": yield* connect(false),
        "metrics only": yield* connect(true),
        "no-op tracer": yield* connect(true),
        "spans only": yield* connect("spans")
      }
      const sequential = (s: PgSession.Session) =>
        Effect.gen(function*() {
          for (let i = 0; i < SEQUENTIAL; i++) yield* s.query("select $1::int as n", [i])
        })
      const pipelined = (s: PgSession.Session) =>
        Effect.forEach(Array.from({ length: PIPELINED }, (_, i) => i), (i) => s.query("select $1::int as n", [i]), {
          concurrency: CONCURRENCY,
          discard: true
        })
      const timed = (config: Config, workload: (s: PgSession.Session) => Effect.Effect<void, unknown>) =>
        Effect.gen(function*() {
          const effect = workload(sessions[config])
          const started = performance.now()
          const cpu = process.cpuUsage()
          yield* config === "no-op tracer" ? Effect.withTracer(effect, dropping) : effect
          const used = process.cpuUsage(cpu)
          cpuTimes[workloadName(workload)]![config].push((used.user + used.system) / 1000)
          return performance.now() - started
        })
      const cpuTimes: Record<string, Record<Config, Array<number>>> = {
        sequential: { "unobserved": [], "metrics only": [], "no-op tracer": [], "spans only": [] },
        pipelined: { "unobserved": [], "metrics only": [], "no-op tracer": [], "spans only": [] }
      }
      const workloadName = (w: unknown) => (w === sequential ? "sequential" : "pipelined")
      // Warm-up: statements prepared, code compiled.
      for (const c of CONFIGS) {
        yield* timed(c, sequential)
        yield* timed(c, pipelined)
      }
      const times: Record<string, Record<Config, Array<number>>> = {
        sequential: { "unobserved": [], "metrics only": [], "no-op tracer": [], "spans only": [] },
        pipelined: { "unobserved": [], "metrics only": [], "no-op tracer": [], "spans only": [] }
      }
      for (let round = 0; round < ROUNDS; round++) {
        const order = CONFIGS.map((_, i) => CONFIGS[(i + round) % CONFIGS.length]!)
        for (const c of order) times["sequential"]![c].push(yield* timed(c, sequential))
        for (const c of order) times["pipelined"]![c].push(yield* timed(c, pipelined))
      }
      // The warm-up's CPU times are not counted.
      for (const w of Object.values(cpuTimes)) for (const c of CONFIGS) w[c].shift()
      return { wall: times, cpu: cpuTimes }
    })))
    console.log(JSON.stringify(describeMachine()))
    console.log(`rounds ${ROUNDS}; sequential ${SEQUENTIAL} queries; pipelined ${PIPELINED} queries, ${CONCURRENCY} at a time`)
    const perOp: Record<string, number> = { sequential: SEQUENTIAL, pipelined: PIPELINED }
    for (const [clock, table] of Object.entries(results)) for (const [workload, byConfig] of Object.entries(table)) {
      const base = byConfig["unobserved"]
      const n = perOp[workload]!
      for (const c of CONFIGS) {
        const ratios = byConfig[c].map((t, i) => t / base[i]!)
        // Per operation, in microseconds; the paired difference is what the configuration adds to each.
        const micros = byConfig[c].map((t) => (t * 1000) / n)
        const added = byConfig[c].map((t, i) => ((t - base[i]!) * 1_000_000) / n)
        console.log(
          `${clock.padEnd(4)} ${workload.padEnd(10)} ${c.padEnd(13)} median ${median(byConfig[c]).toFixed(1)} ms` +
            ` (${median(micros).toFixed(2)} us/op)` +
            `  paired ratio to unobserved: median ${median(ratios).toFixed(3)} ` +
            `(min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)})` +
            (c === "unobserved" ? "" : `  paired difference: median ${median(added).toFixed(0)} ns/op`)
        )
      }
    }
  } finally {
    await server.stop()
  }
}

await main()
