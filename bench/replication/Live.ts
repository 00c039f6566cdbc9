/**
 * The live sections of the replication benchmark: a live workload every contender (postgres.js `subscribe`
 * included) reads as it is written, and the lag of a paced producer with the acknowledgement delay.
 *
 * @since 0.1.0
 */
import pg from "pg"
import { fmt } from "../Machine.ts"
import { ROUNDS, ROWS_PER_TRANSACTION, runChild, type Sample } from "./Runner.ts"

export const LIVE_TRANSACTIONS = Number(process.env["BENCH_REPL_LIVE_TRANSACTIONS"] ?? 500)
export const LAG_TRANSACTIONS = Number(process.env["BENCH_REPL_LAG_TRANSACTIONS"] ?? 3000)
export const LAG_RATE = Number(process.env["BENCH_REPL_LAG_RATE"] ?? 1000)
/** Lag: paced transactions not measured before the measured ones (the consumer's code reaches its steady state). */
export const LAG_WARM_UP_TRANSACTIONS = 500
/** Lag producer: transactions in flight at most (one per connection). */
export const LAG_CONNECTIONS = 4

/** The wall clock in milliseconds, with the sub-millisecond part (as the children read it). */
export const wallClock = (): number => performance.timeOrigin + performance.now()

export const LIVE_CONTENDERS = ["effect-pgwire", "pg-logical-replication", "postgres.js"] as const
export type LiveContender = typeof LIVE_CONTENDERS[number]

export interface LiveSample {
  readonly sample: Sample | undefined
  /** The producer's transactions per second. */
  readonly rate: number
  /** From the producer's last commit to the consumer's last row. */
  readonly drainMs: number
}

/** A fresh slot for a live or lag consumer (postgres.js makes its own); dropped by the returned function. */
export const liveSlot = async (client: InstanceType<typeof pg.Client>, c: LiveContender, name: string) => {
  if (c === "postgres.js") return { slot: "", drop: async () => {} }
  await client.query("select pg_create_logical_replication_slot($1, 'pgoutput')", [name])
  return { slot: name, drop: () => client.query("select pg_drop_replication_slot($1)", [name]) }
}

/** The live workload, every contender per round. */
export const liveWorkload = async (client: InstanceType<typeof pg.Client>, port: number) => {
  const out = Object.fromEntries(LIVE_CONTENDERS.map((c) => [c, [] as Array<LiveSample>])) as Record<LiveContender, Array<LiveSample>>
  if (LIVE_TRANSACTIONS <= 0) return out
  await client.query("create table bench_live (id int8 primary key, v text)")
  await client.query("create publication pub_live for table bench_live")
  const producer = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" })
  await producer.connect()
  // The harness turns synchronous_commit off, which leaves the WAL to the WAL writer (every wal_writer_delay,
  // 200 ms): a walsender sends only flushed WAL, so commits are flushed at once here (fsync stays off).
  await producer.query("set synchronous_commit = on")
  let nextId = 1
  let warmUpId = 0
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const order = LIVE_CONTENDERS.map((_, i) => LIVE_CONTENDERS[(i + r) % LIVE_CONTENDERS.length]!)
      for (const c of order) {
        const { drop, slot } = await liveSlot(client, c, `s_live_${r}_${c.replace(/[^a-z]/g, "")}`)
        let produced: { rate: number; lastCommitAt: number } | undefined
        let producing: Promise<void> = Promise.resolve()
        const sample = await runChild(
          { contender: c, mode: "live", port, slot, publication: "pub_live", transactions: LIVE_TRANSACTIONS },
          {
            warmUp: () => producer.query("insert into bench_live values ($1, 'warm-up')", [warmUpId--]),
            onReady: () =>
              producing = (async () => {
                const t0 = performance.now()
                for (let x = 0; x < LIVE_TRANSACTIONS; x++) {
                  const from = nextId
                  nextId += ROWS_PER_TRANSACTION
                  await producer.query(
                    `insert into bench_live select g, 'value-' || g from generate_series(${from}, ${from + ROWS_PER_TRANSACTION - 1}) g`
                  )
                }
                produced = { rate: LIVE_TRANSACTIONS / ((performance.now() - t0) / 1000), lastCommitAt: wallClock() }
              })()
          }
        )
        await producing
        await drop()
        const drainMs = sample?.lastAt !== undefined && produced !== undefined ? sample.lastAt - produced.lastCommitAt : NaN
        out[c].push({ sample, rate: produced?.rate ?? NaN, drainMs })
        console.log(
          `live round ${r + 1} ${c}: ${
            sample === undefined ? "failed" : `${fmt(sample.ms)} ms, ${fmt((sample.cpuMs * 1000) / sample.changes, 2)} µs CPU/change`
          }, producer ${fmt(produced?.rate ?? NaN)} tx/s, drain ${fmt(drainMs)} ms`
        )
      }
    }
  } finally {
    await producer.end()
  }
  return out
}

/** The lag section: a paced producer of one-row transactions, every contender per round. */
export const lagWorkload = async (client: InstanceType<typeof pg.Client>, port: number) => {
  const out = Object.fromEntries(LIVE_CONTENDERS.map((c) => [c, [] as Array<{ sample: Sample | undefined; rate: number }>])) as Record<
    LiveContender,
    Array<{ sample: Sample | undefined; rate: number }>
  >
  if (LAG_TRANSACTIONS <= 0) return out
  await client.query("create table bench_lag (id bigserial primary key, t float8 not null)")
  await client.query("create publication pub_lag for table bench_lag")
  const producers = Array.from({ length: LAG_CONNECTIONS }, () =>
    new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" }))
  for (const p of producers) {
    await p.connect()
    // As in the live workload: each commit flushes its WAL at once, as with the server's default.
    await p.query("set synchronous_commit = on")
  }
  const insert = "insert into bench_lag (t) values (extract(epoch from clock_timestamp()))"
  const warmUp = "insert into bench_lag (t) values (0)"
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const order = LIVE_CONTENDERS.map((_, i) => LIVE_CONTENDERS[(i + r) % LIVE_CONTENDERS.length]!)
      for (const c of order) {
        const { drop, slot } = await liveSlot(client, c, `s_lag_${r}_${c.replace(/[^a-z]/g, "")}`)
        let rate = NaN
        let producing: Promise<void> = Promise.resolve()
        const sample = await runChild(
          { contender: c, mode: "lag", port, slot, publication: "pub_lag", transactions: LAG_TRANSACTIONS },
          {
            warmUp: () => producers[0]!.query(warmUp),
            onReady: () =>
              producing = (async () => {
                // Transaction x is due at t0 + x / rate; each connection runs one at a time.
                // The first LAG_WARM_UP_TRANSACTIONS (t = 0, not measured) bring the consumer to its steady state.
                const t0 = performance.now()
                const total = LAG_WARM_UP_TRANSACTIONS + LAG_TRANSACTIONS
                let next = 0
                const lane = async (p: InstanceType<typeof pg.Client>) => {
                  while (next < total) {
                    const due = t0 + (next * 1000) / LAG_RATE
                    const wait = due - performance.now()
                    if (wait > 1) {
                      await new Promise((f) => setTimeout(f, wait))
                      continue
                    }
                    await p.query(next++ < LAG_WARM_UP_TRANSACTIONS ? warmUp : insert)
                  }
                }
                await Promise.all(producers.map(lane))
                rate = total / ((performance.now() - t0) / 1000)
              })()
          }
        )
        await producing
        await drop()
        out[c].push({ sample, rate })
        const d = sample?.delaysMs ?? []
        console.log(
          `lag round ${r + 1} ${c}: ${sample === undefined ? "failed" : `p50 ${fmt(percentile(d, 0.5))} ms, p99 ${fmt(percentile(d, 0.99))} ms`}, producer ${fmt(rate)} tx/s`
        )
      }
    }
  } finally {
    for (const p of producers) await p.end()
  }
  return out
}

/** The `q` quantile of `values` (nearest rank). */
export const percentile = (values: ReadonlyArray<number>, q: number): number => {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}
