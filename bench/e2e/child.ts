/**
 * One measurement in a fresh process: `node bench/e2e/child.ts <driver>
 * <workload>` with the `Context` as JSON in `BENCH_CONTEXT`.
 *
 * Loads only the driver it runs (so one driver's modules never weigh on
 * another's memory or start-up), prepares the workload (connecting is not
 * timed, except in the connect workloads), then times `run` and measures the
 * process CPU spent during it. Prints one line `RESULT <json>` on stdout:
 * `{ millis, cpuMicros, maxRssKiB, baseRssKiB, check }`, or
 * `{ notApplicable }`, or `{ error }`.
 *
 * Peak RSS is the process's `maxRSS` (the whole process: runtime, modules and
 * the workload); `baseRssKiB` is the resident size just before the timed part,
 * so the workload's own share can be read off.
 *
 * With `BENCH_MEMORY_SAMPLE_MILLIS` set (the streaming-memory runner,
 * `bench/memory/e2e-stream.ts`), the timed part is also sampled at that
 * interval: `process.memoryUsage()` and V8's heap spaces, in `samples`.
 *
 * @since 0.1.0
 */
import type { Context, DriverId, Open, WorkloadId } from "./Workloads.ts"

const MODULES: Readonly<Record<Exclude<DriverId, "pgbench">, string>> = {
  "effect-pgwire": "./drivers/EffectPgwire.ts",
  "postgres.js": "./drivers/PostgresJs.ts",
  "node-postgres": "./drivers/NodePostgres.ts",
  "@effect/sql-pg": "./drivers/SqlPg.ts"
}

/** One sample of the process's memory: bytes, at `t` milliseconds into the timed part. */
interface Sample {
  readonly t: number
  readonly rss: number
  readonly heapTotal: number
  readonly heapUsed: number
  readonly external: number
  readonly arrayBuffers: number
  /** Per V8 heap space: its size and the bytes in use in it. */
  readonly spaces: Record<string, readonly [size: number, used: number]>
}

/** Samples the memory every `millis` until `stop` (which takes a last sample). */
const sampleMemory = async (millis: number, t0: number) => {
  const v8 = await import("node:v8")
  const samples: Array<Sample> = []
  const take = () => {
    const m = process.memoryUsage()
    const spaces: Record<string, readonly [number, number]> = {}
    for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = [s.space_size, s.space_used_size]
    samples.push({
      t: Math.round(performance.now() - t0),
      rss: m.rss,
      heapTotal: m.heapTotal,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      spaces
    })
  }
  const timer = setInterval(take, millis)
  return {
    stop: () => {
      clearInterval(timer)
      take()
      return samples
    }
  }
}

const report = (value: Record<string, unknown>): void => {
  process.stdout.write(`RESULT ${JSON.stringify(value)}\n`)
}

const main = async (): Promise<void> => {
  const driver = process.argv[2] as Exclude<DriverId, "pgbench">
  const workload = process.argv[3] as WorkloadId
  const ctx = JSON.parse(process.env["BENCH_CONTEXT"] ?? "{}") as Context
  const modulePath = MODULES[driver]
  if (modulePath === undefined) throw new Error(`unknown driver ${driver}`)
  const { open } = (await import(modulePath)) as { readonly open: Open }
  const prepared = await open(workload, ctx)
  if ("notApplicable" in prepared) {
    report({ notApplicable: prepared.notApplicable })
    return
  }
  const sampleMillis = Number(process.env["BENCH_MEMORY_SAMPLE_MILLIS"] ?? 0)
  const sampler = sampleMillis > 0 ? await sampleMemory(sampleMillis, performance.now()) : undefined
  const baseRssKiB = Math.round(process.memoryUsage().rss / 1024)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const check = await prepared.run()
  const millis = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const samples = sampler?.stop()
  await prepared.close()
  report({
    millis,
    cpuMicros: cpu.user + cpu.system,
    systemMicros: cpu.system,
    maxRssKiB: process.resourceUsage().maxRSS,
    baseRssKiB,
    check,
    ...(samples === undefined ? {} : { samples })
  })
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    report({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })
    process.exit(1)
  }
)
