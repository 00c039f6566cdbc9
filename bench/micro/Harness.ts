/**
 * Timing loops for the micro benchmarks: whole passes over byte streams
 * (MB/s, rows/s) and batches of small operations (ns/op).
 *
 * Contenders are always measured interleaved: one sample of each in turn,
 * round after round, so a neighbour process or a frequency change on a shared
 * machine weighs on all of them alike instead of on whoever ran at that
 * moment. Each contender warms up first (so the JIT has settled); when the
 * process runs with `--expose-gc`, a full GC runs before every sample, so no
 * contender pays for another's garbage. The median sample is reported.
 * Results feed the tables; nothing here asserts.
 *
 * @since 0.1.0
 */

/** Keeps results observable so the JIT cannot drop the work that produced them. */
let sink = 0

/**
 * Adds a value to the sink (benchmarks pass a checksum of what they decoded).
 *
 * @since 0.1.0
 */
export const consume = (value: number): void => {
  sink = (sink + value) | 0
}

/**
 * The sink's value, printed at the end of a run.
 *
 * @since 0.1.0
 */
export const sinkValue = (): number => sink

const gc = (globalThis as { gc?: () => void }).gc

/**
 * Whether samples start from a collected heap (`node --expose-gc`).
 *
 * @since 0.1.0
 */
export const collectsBetweenSamples = gc !== undefined

const medianOf = (values: Array<number>): number => {
  values.sort((a, b) => a - b)
  return values[values.length >> 1]!
}

/**
 * Times full passes of each contender (`run` returns a checksum): `warmup`
 * passes each, then rounds of one pass per contender until every contender
 * has `minSamples` samples and `minMillis` of measured time (at most
 * `maxSamples`). Returns the median milliseconds per pass, per contender.
 *
 * @since 0.1.0
 */
export const comparePasses = (
  runs: ReadonlyArray<() => number>,
  options: { readonly warmup?: number; readonly minSamples?: number; readonly maxSamples?: number; readonly minMillis?: number } = {}
): Array<number> => {
  const warmup = options.warmup ?? 3
  const minSamples = options.minSamples ?? 7
  const maxSamples = options.maxSamples ?? 25
  const minMillis = options.minMillis ?? 1500
  for (const run of runs) for (let i = 0; i < warmup; i++) consume(run())
  const samples = runs.map(() => [] as Array<number>)
  const totals = runs.map(() => 0)
  let taken = 0
  while (taken < maxSamples && (taken < minSamples || totals.some((t) => t < minMillis))) {
    runs.forEach((run, i) => {
      gc?.()
      const t0 = performance.now()
      consume(run())
      const dt = performance.now() - t0
      samples[i]!.push(dt)
      totals[i]! += dt
    })
    taken++
  }
  return samples.map(medianOf)
}

const batchSize = (op: () => number, batchMillis: number): number => {
  let n = 16
  while (true) {
    const t0 = performance.now()
    let acc = 0
    for (let i = 0; i < n; i++) acc += op()
    consume(acc)
    const dt = performance.now() - t0
    if (dt >= batchMillis || n >= 1 << 26) return Math.max(1, Math.round((n * batchMillis) / Math.max(dt, 0.001)))
    n *= 2
  }
}

/**
 * Times small operations (each `op` returns a number to keep its work
 * observable): calibrates a batch size per contender so a batch takes about
 * `batchMillis` (this doubles as the warm-up), then takes `samples` rounds of
 * one batch per contender. Returns the median nanoseconds per call, per
 * contender.
 *
 * @since 0.1.0
 */
export const compareOps = (
  ops: ReadonlyArray<() => number>,
  options: { readonly batchMillis?: number; readonly samples?: number } = {}
): Array<number> => {
  const batchMillis = options.batchMillis ?? 10
  const samples = options.samples ?? 9
  const sizes = ops.map((op) => batchSize(op, batchMillis))
  const times = ops.map(() => [] as Array<number>)
  for (let s = 0; s < samples; s++) {
    ops.forEach((op, i) => {
      const n = sizes[i]!
      const t0 = performance.now()
      let acc = 0
      for (let k = 0; k < n; k++) acc += op()
      consume(acc)
      times[i]!.push(((performance.now() - t0) * 1e6) / n)
    })
  }
  return times.map(medianOf)
}
