/**
 * What the observing wrapper alone costs per operation
 * (`node --no-warnings bench/observe/wrapper.ts`): the same `query` on a
 * session that answers at once (no I/O, no server), bare and wrapped by
 * `observe`, with no tracer and with a tracer that keeps nothing, and wrapped
 * without metrics (`ObserveSessions` "spans") with no tracer, in the same run.
 *
 * **What it does**
 *
 * Runs `BENCH_WRAPPER_ROUNDS` rounds (default 9) of `BENCH_WRAPPER_CALLS`
 * (default 200000) sequential calls per configuration, in an order rotated
 * every round, after one warm-up round. It prints, per configuration, the
 * median CPU time of this process per call and, for the wrapped ones, the
 * median (min, max) of each round's difference to the same round's bare time:
 * the wrapper's own cost per operation.
 */
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"
import type { Session } from "../../src/session/Api.ts"
import { LenderKey } from "../../src/session/Lender.ts"
import { observe } from "../../src/session/Observe.ts"
import { describeMachine, median } from "../Machine.ts"

const ROUNDS = Number(process.env["BENCH_WRAPPER_ROUNDS"] ?? 9)
const CALLS = Number(process.env["BENCH_WRAPPER_CALLS"] ?? 200_000)

/** A tracer that makes every span and keeps none. */
const dropping = Tracer.make({ span: (options) => new Tracer.NativeSpan(options) })

const result = { command: "SELECT", rowCount: 1, rows: [{ n: 1 }], fields: [] }
const answered = Effect.succeed(result)

/** Only what `observe` and this bench touch. */
const bare = {
  query: () => answered,
  [LenderKey]: { onClose: () => {}, queryTracked: () => answered }
} as unknown as Session

const target = { database: "postgres", serverAddress: "localhost", serverPort: 5432 }
const wrapped = observe(bare, target)
/** `ObserveSessions` "spans": spans under a tracer, no metrics. */
const spansOnly = observe(bare, target, { metrics: false })

type Config = "bare" | "wrapped, no tracer" | "wrapped, no-op tracer" | "spans only, no tracer"
const CONFIGS: ReadonlyArray<Config> = ["bare", "wrapped, no tracer", "wrapped, no-op tracer", "spans only, no tracer"]

const loop = (session: Session) =>
  Effect.gen(function*() {
    for (let i = 0; i < CALLS; i++) yield* session.query("select $1::int as n", [i])
  })

const programs: Record<Config, Effect.Effect<void, unknown>> = {
  "bare": loop(bare),
  "wrapped, no tracer": loop(wrapped),
  "wrapped, no-op tracer": Effect.withTracer(loop(wrapped), dropping),
  "spans only, no tracer": loop(spansOnly)
}

/** CPU nanoseconds per call of one configuration, once. */
const time = (config: Config): number => {
  const cpu = process.cpuUsage()
  Effect.runSync(programs[config])
  const used = process.cpuUsage(cpu)
  return ((used.user + used.system) * 1000) / CALLS
}

for (const c of CONFIGS) time(c)
const times: Record<Config, Array<number>> = { "bare": [], "wrapped, no tracer": [], "wrapped, no-op tracer": [], "spans only, no tracer": [] }
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < CONFIGS.length; i++) {
    const c = CONFIGS[(i + round) % CONFIGS.length]!
    times[c].push(time(c))
  }
}
console.log(JSON.stringify(describeMachine()))
console.log(`rounds ${ROUNDS}; ${CALLS} calls each; CPU time of this process per call`)
for (const c of CONFIGS) {
  const overhead = times[c].map((t, i) => t - times["bare"][i]!)
  console.log(
    `${c.padEnd(22)} ${median(times[c]).toFixed(0)} ns/op` +
      (c === "bare"
        ? ""
        : `  over bare: median ${median(overhead).toFixed(0)} ns (min ${Math.min(...overhead).toFixed(0)}, max ${
          Math.max(...overhead).toFixed(0)
        })`)
  )
}
