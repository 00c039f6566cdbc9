/**
 * Timing loops for the micro benchmarks: a per-iteration loop for whole byte
 * streams (MB/s, rows/s) and a batched loop for small operations (ns/op).
 *
 * Each measurement warms up first (so the JIT has settled), then takes
 * several samples and reports the median, which is robust to a stray GC pause
 * or a neighbour process on a shared machine. Results feed the tables; nothing
 * here asserts.
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

/**
 * Times `run` (one full pass over a stream): `warmup` passes, then samples
 * until `minSamples` passes and at least `minMillis` have been measured (at most
 * `maxSamples`). Returns the median milliseconds per pass.
 *
 * @since 0.1.0
 */
export const timePasses = (
  run: () => number,
  options: { readonly warmup?: number; readonly minSamples?: number; readonly maxSamples?: number; readonly minMillis?: number } = {}
): number => {
  const warmup = options.warmup ?? 3
  const minSamples = options.minSamples ?? 7
  const maxSamples = options.maxSamples ?? 25
  const minMillis = options.minMillis ?? 1500
  for (let i = 0; i < warmup; i++) consume(run())
  const samples: Array<number> = []
  let total = 0
  while (samples.length < maxSamples && (samples.length < minSamples || total < minMillis)) {
    const t0 = performance.now()
    consume(run())
    const dt = performance.now() - t0
    samples.push(dt)
    total += dt
  }
  samples.sort((a, b) => a - b)
  return samples[samples.length >> 1]!
}

/**
 * Times a small operation: calibrates a batch size so one batch takes about
 * `batchMillis`, then takes `samples` batches. Returns the median nanoseconds
 * per call of `op`.
 *
 * @since 0.1.0
 */
export const timeOp = (
  op: () => number,
  options: { readonly batchMillis?: number; readonly samples?: number } = {}
): number => {
  const batchMillis = options.batchMillis ?? 10
  const samples = options.samples ?? 9
  let n = 16
  // Calibrate (this doubles as the warmup).
  while (true) {
    const t0 = performance.now()
    let acc = 0
    for (let i = 0; i < n; i++) acc += op()
    consume(acc)
    const dt = performance.now() - t0
    if (dt >= batchMillis || n >= 1 << 26) {
      n = Math.max(1, Math.round((n * batchMillis) / Math.max(dt, 0.001)))
      break
    }
    n *= 2
  }
  const times: Array<number> = []
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now()
    let acc = 0
    for (let i = 0; i < n; i++) acc += op()
    consume(acc)
    times.push(((performance.now() - t0) * 1e6) / n)
  }
  times.sort((a, b) => a - b)
  return times[times.length >> 1]!
}
