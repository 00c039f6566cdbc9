/**
 * One timed consumer run of the replication benchmark (`main.ts`); prints one JSON line.
 *
 * Arguments: a JSON object `{ contender, mode, port, slot, publication, transactions }`.
 *
 * Modes:
 *
 * - `slot` (default): reads a slot that already holds the WAL, decodes every change and acknowledges each
 *   transaction's end, until `transactions` commits. Contenders: `effect-pgwire` (text values),
 *   `effect-pgwire-binary` (binary values), `pg-logical-replication` (proto_version 1, its defaults, manual
 *   acknowledgement at each Commit's end LSN), and the large transaction's `effect-pgwire-big-streaming-off|on`.
 * - `live`: a live workload of `bench_live` (int8, text), written by the parent once this consumer is
 *   streaming. Rows with an id of 0 or less are the parent's warm-up: the first one seen prints `ready` (the
 *   parent then starts its producer); the run ends after `transactions * 100` rows with a positive id. CPU and
 *   time count from `ready`. Also `postgres.js` (its `subscribe`: a temporary slot of its own, created when it
 *   subscribes, and no acknowledgement of processed changes; it answers keepalives).
 * - `lag`: `bench_lag (id, t float8)`, one row per transaction, `t` the server's `clock_timestamp()` at the
 *   insert (its commit follows at once): the delivery delay of each transaction is the wall clock at its
 *   delivery (its Commit; postgres.js, which has no commit event: its row) minus `t`. Warm-up rows have `t = 0`.
 *   Every `ACK_SAMPLE_EVERY` transactions, the time from the consumer's acknowledgement to the slot's
 *   `confirmed_flush_lsn` reaching the acknowledged end LSN, polled on a second connection.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import pg from "pg"
import { LogicalReplicationService, PgoutputPlugin } from "pg-logical-replication"
import postgres from "postgres"
import * as PgReplication from "../../src/replication/PgReplication.ts"

type Contender =
  | "effect-pgwire"
  | "effect-pgwire-binary"
  | "pg-logical-replication"
  | "postgres.js"
  | "effect-pgwire-big-streaming-off"
  | "effect-pgwire-big-streaming-on"

const args = JSON.parse(process.argv[2] ?? "{}") as {
  readonly contender: Contender
  readonly mode?: "slot" | "live" | "lag" | undefined
  readonly port: number
  readonly slot: string
  readonly publication: string
  readonly transactions: number
}
const mode = args.mode ?? "slot"

/** One acknowledgement in this many transactions is followed to `confirmed_flush_lsn` (lag mode). */
const ACK_SAMPLE_EVERY = 50
/** Rows per transaction of the live workload. */
const LIVE_ROWS_PER_TRANSACTION = 100

const conn = { host: "127.0.0.1", port: args.port, user: "postgres", database: "postgres" }

/** The wall clock in milliseconds, with the sub-millisecond part. */
const wallClock = (): number => performance.timeOrigin + performance.now()

/** What a run measured beyond time and CPU. */
interface Extra {
  delaysMs?: Array<number>
  ackDelaysMs?: Array<number>
  lastAt?: number
}
const extra: Extra = {}

let cpuFrom = process.cpuUsage()
let timeFrom = performance.now()
/** Live and lag modes: the consumer is streaming; time and CPU count from here. */
const ready = (): void => {
  process.stdout.write("ready\n")
  cpuFrom = process.cpuUsage()
  timeFrom = performance.now()
}

const formatLsn = (lsn: bigint): string => `${(lsn >> 32n).toString(16)}/${(lsn & 0xffffffffn).toString(16)}`

/** Follows sampled acknowledgements to the slot's confirmed_flush_lsn (one at a time, on its own connection). */
const ackFollower = () => {
  const client = new pg.Client(conn)
  const connected = client.connect()
  const delays: Array<number> = []
  let current: Promise<void> | undefined
  const follow = (lsn: string, ackedAt: number): void => {
    if (current !== undefined) return
    current = (async () => {
      await connected
      // Poll once the acknowledgement is on its way: effect-pgwire sends the status update in a microtask after
      // `ack` (one for the acknowledgements made in one go), pg-logical-replication at once.
      await new Promise((resolve) => setImmediate(resolve))
      while (true) {
        const r = await client.query<{ ok: boolean }>(
          "select confirmed_flush_lsn >= $1::pg_lsn as ok from pg_replication_slots where slot_name = $2",
          [lsn, args.slot]
        )
        if (r.rows[0]?.ok === true) break
      }
      delays.push(wallClock() - ackedAt)
    })().finally(() => (current = undefined))
  }
  /** Lets the poll under way finish (the consumer's end sends its last acknowledgement), then closes. */
  const end = async () => {
    await current
    await client.end()
  }
  return { follow, delays, end }
}

/** Runs the contender; resolves with the number of row changes seen. */
const effectPgwire = (binary: boolean): Promise<number> => {
  let changes = 0
  // runAcked's shape (the consumer's effect, then ack), for a fixed count of transactions.
  return Effect.runPromise(
    Stream.runForEach(
      Stream.take(
        PgReplication.transactions(PgReplication.logical({ ...conn, sslMode: "disable" }, {
          slot: args.slot,
          publications: [args.publication],
          binary
        })),
        args.transactions
      ),
      (tx) => {
        changes += tx.changes.length
        return tx.ack
      }
    )
  ).then(() => changes)
}

/** Live mode: counts the producer's rows (positive ids) until all of them came. */
const effectPgwireLive = (): Promise<number> => {
  const target = args.transactions * LIVE_ROWS_PER_TRANSACTION
  let changes = 0
  let started = false
  return Effect.runPromise(
    Stream.runForEachWhile(
      PgReplication.transactions(PgReplication.logical({ ...conn, sslMode: "disable" }, {
        slot: args.slot,
        publications: [args.publication]
      })),
      (tx) => {
        for (const c of tx.changes) {
          if (c._tag !== "Insert") continue
          if ((c.new["id"] as bigint) > 0n) changes++
          else if (!started) {
            started = true
            ready()
          }
        }
        if (changes >= target) extra.lastAt = wallClock()
        return Effect.as(tx.ack, changes < target)
      }
    )
  ).then(() => changes)
}

/** Lag mode: the delivery delay of each transaction, and sampled acknowledgement delays. */
const effectPgwireLag = (): Promise<number> => {
  const delays: Array<number> = []
  const acks = ackFollower()
  let started = false
  return Effect.runPromise(
    Stream.runForEachWhile(
      PgReplication.transactions(PgReplication.logical({ ...conn, sslMode: "disable" }, {
        slot: args.slot,
        publications: [args.publication]
      })),
      (tx) => {
        const at = wallClock()
        const first = tx.changes[0]
        const t = first?._tag === "Insert" ? first.new["t"] as number : 0
        if (t > 0) delays.push(at - t * 1000)
        else if (!started) {
          started = true
          ready()
        }
        const sample = t > 0 && delays.length % ACK_SAMPLE_EVERY === 0
        const ack = sample ? Effect.andThen(tx.ack, Effect.sync(() => acks.follow(formatLsn(tx.endLsn), wallClock()))) : tx.ack
        return Effect.as(ack, delays.length < args.transactions)
      }
    )
  ).then(async () => {
    await acks.end()
    extra.delaysMs = delays
    extra.ackDelaysMs = acks.delays
    return delays.length
  })
}

/**
 * One large transaction read change by change (not grouped: a consumer of a huge transaction acknowledges at
 * its Commit), with `streaming` off (the server holds it) or on (this client holds it, spilling past 64 MiB).
 */
const effectPgwireBig = (streaming: "off" | "on"): Promise<number> => {
  let changes = 0
  return Effect.runPromise(
    Stream.runForEach(
      Stream.takeUntil(
        PgReplication.logical({ ...conn, sslMode: "disable" }, {
          slot: args.slot,
          publications: [args.publication],
          streaming
        }),
        (c) => c._tag === "Commit"
      ),
      (c) => {
        if (c._tag === "Insert") changes++
        return c._tag === "Commit" ? c.ack : Effect.void
      }
    )
  ).then(() => changes)
}

interface PlrMessage {
  readonly tag: string
  readonly commitEndLsn?: string
  readonly new?: Record<string, unknown>
}

const pgLogicalReplication = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const target = mode === "live" ? args.transactions * LIVE_ROWS_PER_TRANSACTION : args.transactions
    let changes = 0
    let commits = 0
    let started = false
    let lastT = 0
    const delays: Array<number> = []
    const acks = mode === "lag" ? ackFollower() : undefined
    const service = new LogicalReplicationService(conn, { acknowledge: { auto: false, timeoutSeconds: 10 } })
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [args.publication] })
    let done = false
    const finish = (count: number) => {
      if (done) return
      done = true
      service.stop().then(async () => {
        if (acks !== undefined) {
          await acks.end()
          extra.delaysMs = delays
          extra.ackDelaysMs = acks.delays
        }
        resolve(count)
      }, reject)
    }
    service.on("data", (_lsn: string, message: PlrMessage) => {
      if (done) return
      if (message.tag === "insert") {
        if (mode === "slot") changes++
        else if (mode === "live") {
          if (Number(message.new!["id"]) > 0) changes++
          else if (!started) {
            started = true
            ready()
          }
        } else lastT = message.new!["t"] as number
      } else if (message.tag === "update" || message.tag === "delete") changes++
      else if (message.tag === "commit") {
        const at = wallClock()
        void service.acknowledge(message.commitEndLsn!)
        if (mode === "lag") {
          if (lastT > 0) {
            delays.push(at - lastT * 1000)
            if (delays.length % ACK_SAMPLE_EVERY === 0) acks!.follow(message.commitEndLsn!, at)
          } else if (!started) {
            started = true
            ready()
          }
          lastT = 0
          if (delays.length >= target) finish(delays.length)
        } else if (mode === "live") {
          if (changes >= target) {
            extra.lastAt = at
            finish(changes)
          }
        } else if (++commits === target) finish(changes)
      }
    })
    service.on("error", reject)
    service.subscribe(plugin, args.slot).catch(reject)
  })

/** postgres.js `subscribe` (live and lag modes): rows as they come, from its own temporary slot. */
const postgresJs = async (): Promise<number> => {
  const sql = postgres({ ...conn, username: conn.user, publications: args.publication, max: 1 })
  const target = mode === "live" ? args.transactions * LIVE_ROWS_PER_TRANSACTION : args.transactions
  let changes = 0
  let started = false
  const delays: Array<number> = []
  let finished!: () => void
  const done = new Promise<void>((resolve) => (finished = resolve))
  const { unsubscribe } = await sql.subscribe("insert", (row) => {
    if (row === null || changes >= target) return
    const at = wallClock()
    if (mode === "live") {
      if (Number(row["id"]) > 0) changes++
      else if (!started) {
        started = true
        ready()
      }
    } else {
      const t = row["t"] as number
      if (t > 0) delays.push(at - t * 1000)
      else if (!started) {
        started = true
        ready()
      }
      changes = delays.length
    }
    if (changes >= target) {
      extra.lastAt = at
      finished()
    }
  })
  await done
  unsubscribe()
  await sql.end({ timeout: 1 })
  if (mode === "lag") extra.delaysMs = delays
  return changes
}

const rssBefore = process.memoryUsage().rss
const run = args.contender === "postgres.js"
  ? postgresJs()
  : args.contender === "pg-logical-replication"
  ? pgLogicalReplication()
  : args.contender === "effect-pgwire-big-streaming-off"
  ? effectPgwireBig("off")
  : args.contender === "effect-pgwire-big-streaming-on"
  ? effectPgwireBig("on")
  : mode === "live"
  ? effectPgwireLive()
  : mode === "lag"
  ? effectPgwireLag()
  : effectPgwire(args.contender === "effect-pgwire-binary")
run.then(
  (changes) => {
    const ms = performance.now() - timeFrom
    const cpu = process.cpuUsage(cpuFrom)
    process.stdout.write(
      `${
        JSON.stringify({
          ms,
          changes,
          cpuMs: (cpu.user + cpu.system) / 1000,
          systemMs: cpu.system / 1000,
          maxRssMiB: process.resourceUsage().maxRSS / 1024,
          rssBeforeMiB: rssBefore / 2 ** 20,
          ...extra
        })
      }\n`
    )
    process.exit(0)
  },
  (e: unknown) => {
    process.stderr.write(`${String(e)}\n`)
    process.exit(1)
  }
)
