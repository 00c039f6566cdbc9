/**
 * The replication benchmark (`node --no-warnings bench/replication/main.ts`):
 * decode throughput of a logical stream from a slot that already holds the
 * WAL, effect-pgwire beside pg-logical-replication, with the server's own
 * `pg_logical_slot_peek_binary_changes` over the same WAL as the floor; a live
 * workload beside postgres.js `subscribe`; commit-to-delivery lag and
 * acknowledgement delay.
 *
 * **What it does**
 *
 * 1. Starts the embedded PostgreSQL 18 (`wal_level=logical`, durability off as
 *    the test harness sets it).
 * 2. For each table (`narrow`: int8 and a short text; `mixed`: the nine
 *    columns of `bench/Data.ts`, int4 to jsonb; `wide`: those nine and eleven
 *    more, int2 to int4[], 20 columns), creates a publication and one slot per
 *    contender and round, then writes `BENCH_REPL_TRANSACTIONS` transactions
 *    of 100 inserts: every slot holds the same WAL.
 * 3. Each round runs every contender once, in a fresh child process
 *    (`child.ts`), in an order rotated every round, timing from connect to the
 *    last acknowledged Commit (every change decoded, each transaction
 *    acknowledged at its end LSN), then the floor.
 * 4. Live: postgres.js `subscribe` can only stream from a temporary slot it
 *    creates when it subscribes, so it cannot replay a slot that holds the
 *    WAL. Each contender (postgres.js, pg-logical-replication, effect-pgwire
 *    on a slot created just before) is started, warm-up rows are written until
 *    it has seen one, then one connection writes `BENCH_REPL_LIVE_TRANSACTIONS`
 *    transactions of 100 rows as fast as it can. The producer sets the pace:
 *    the figures to compare are the consumer's CPU per change (from its first
 *    warm-up row on) and how long after the producer's last commit the
 *    consumer had the last row (drain).
 * 5. Lag: a producer commits `BENCH_REPL_LAG_RATE` one-row transactions per
 *    second (default 1,000; up to 4 in flight on 4 connections) for
 *    `BENCH_REPL_LAG_TRANSACTIONS` transactions after 500 not measured
 *    (warm-up: a fresh consumer's first transactions run cold code), each row holding the
 *    server's `clock_timestamp()` at its insert; each consumer timestamps the
 *    delivery of each transaction (its Commit; postgres.js, without a commit
 *    event: its row). p50/p99 of delivery minus insert time, over the
 *    rounds. One acknowledgement in 50 is followed to `confirmed_flush_lsn`
 *    by polling `pg_replication_slots` back to back on a second connection.
 * 6. One transaction of `BENCH_REPL_BIG_MIB` MiB (default 256; 0 skips it and
 *    keeps the section of the last results file), read by effect-pgwire with
 *    streaming off and on, and by pg-logical-replication: time, peak RSS and
 *    its growth, and where the server buffered it.
 * 7. Prints and writes `bench/replication/RESULTS.md` and `results.json`.
 *
 * **Environment**: `BENCH_REPL_TRANSACTIONS` (default 2,000; the issue's
 * size, 1,000,000 changes, is `BENCH_REPL_TRANSACTIONS=10000`),
 * `BENCH_REPL_ROUNDS` (default 3), `BENCH_REPL_TABLES` (default
 * `narrow,mixed,wide`), `BENCH_REPL_LIVE_TRANSACTIONS` (default 500; 0 skips
 * the live workload), `BENCH_REPL_LAG_TRANSACTIONS` (default 3,000; 0 skips
 * the lag section), `BENCH_REPL_LAG_RATE`, `BENCH_REPL_WRITE=0` to print
 * without writing the files, `BENCH_REPL_PROFILE=<dir>`: children write CPU
 * profiles there (summarise them with `bench/e2e/profile.ts`).
 *
 * The children run the TypeScript sources through Node's type stripping (the
 * peer is JavaScript): start-up costs land outside the timed window, but the
 * stripping's memory weighs on every effect-pgwire child's peak RSS.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { startServer } from "../../test/support/EmbeddedPostgres.ts"
import { MIXED_COLUMNS, MIXED_TABLE_COLUMNS } from "../Data.ts"
import { describeMachine, fmt, markdownTable, median, textTable } from "../Machine.ts"
import {
  LAG_CONNECTIONS,
  LAG_RATE,
  LAG_TRANSACTIONS,
  LAG_WARM_UP_TRANSACTIONS,
  LIVE_CONTENDERS,
  LIVE_TRANSACTIONS,
  lagWorkload,
  liveWorkload,
  percentile
} from "./Live.ts"
import { ROUNDS, ROWS_PER_TRANSACTION, runChild, type Sample } from "./Runner.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const TRANSACTIONS = Number(process.env["BENCH_REPL_TRANSACTIONS"] ?? 2000)

const CONTENDERS = ["effect-pgwire", "effect-pgwire-binary", "pg-logical-replication"] as const
type Contender = typeof CONTENDERS[number]
const PEER: Contender = "pg-logical-replication"

/** The eleven columns the wide table adds to the mixed one. */
const WIDE_EXTRA = [
  ["small int2", "(g % 30000)::int2"],
  ["ratio float4", "g::float4 / 3"],
  ["day date", "date '2024-01-01' + g % 3650"],
  ["name varchar(40)", "'item ' || g"],
  ["ints int4[]", "array[g, g + 1, g + 2]::int4[]"],
  ["span interval", "interval '1 second' * g"],
  ["addr inet", "('10.0.' || (g % 256) || '.' || (g % 100))::inet"],
  ["hash bytea", "decode(md5(g::text), 'hex')"],
  ["at time", "time '00:00' + (g % 86400) * interval '1 second'"],
  ["local timestamp", "timestamp '2024-01-01' + g * interval '1 minute'"],
  ["price numeric(12,2)", "(g * 3.5)::numeric(12,2)"]
] as const
const MIXED_SELECT = MIXED_COLUMNS.map((c) => c.replace(/ as \w+$/, "")).join(", ")

const TABLES = {
  narrow: { columns: "id int8 primary key, v text", select: "g::int8, 'value-' || g" },
  mixed: { columns: MIXED_TABLE_COLUMNS, select: MIXED_SELECT },
  wide: {
    columns: `${MIXED_TABLE_COLUMNS}, ${WIDE_EXTRA.map(([c]) => c).join(", ")}`,
    select: `${MIXED_SELECT}, ${WIDE_EXTRA.map(([, e]) => e).join(", ")}`
  }
} as const
type Table = keyof typeof TABLES
const TABLE_NAMES = (process.env["BENCH_REPL_TABLES"] ?? "narrow,mixed,wide").split(",").filter((t): t is Table =>
  t in TABLES
)


/** The large transaction's size, in MiB of 1 KiB rows. */
const BIG_MIB = Number(process.env["BENCH_REPL_BIG_MIB"] ?? 256)
const BIG_CONTENDERS = ["effect-pgwire-big-streaming-off", "effect-pgwire-big-streaming-on", "pg-logical-replication"] as const

interface BigResult {
  readonly contender: string
  readonly sample: Sample | undefined
  readonly spillBytes: number
  readonly streamBytes: number
}

/** One transaction of BIG_MIB MiB read by each big contender from its own slot. */
const bigTransaction = async (client: InstanceType<typeof pg.Client>, port: number): Promise<Array<BigResult>> => {
  if (BIG_MIB <= 0) return []
  await client.query("create table bench_big (id int8 primary key, v text)")
  await client.query("create publication pub_big for table bench_big")
  const slot = (c: string) => `s_big_${c.replace(/[^a-z]/g, "")}`
  for (const c of BIG_CONTENDERS) await client.query("select pg_create_logical_replication_slot($1, 'pgoutput')", [slot(c)])
  const rows = BIG_MIB * 1024
  const t0 = Date.now()
  await client.query(`insert into bench_big select g, repeat(md5(g::text), 32) from generate_series(1, ${rows}) g`)
  console.log(`big: one transaction of ${rows} rows of 1 KiB written in ${Date.now() - t0} ms`)
  const out: Array<BigResult> = []
  for (const c of BIG_CONTENDERS) {
    const sample = await runChild({ contender: c, port, slot: slot(c), publication: "pub_big", transactions: 1 })
    if (sample !== undefined && sample.changes !== rows) console.error(`${c}: ${sample.changes} changes, expected ${rows}`)
    const stats = await client.query<{ spill_bytes: string; stream_bytes: string }>(
      "select spill_bytes::text, stream_bytes::text from pg_stat_replication_slots where slot_name = $1",
      [slot(c)]
    )
    out.push({
      contender: c,
      sample,
      spillBytes: Number(stats.rows[0]?.spill_bytes ?? 0),
      streamBytes: Number(stats.rows[0]?.stream_bytes ?? 0)
    })
    console.log(`big ${c}: ${sample === undefined ? "failed" : `${fmt(sample.ms)} ms, peak RSS ${fmt(sample.maxRssMiB)} MiB`}`)
  }
  return out
}



/** The "One transaction" section of the results file, kept when this run did not measure it. */
const previousBigSection = (): string | undefined => {
  try {
    const md = fs.readFileSync(path.join(here, "RESULTS.md"), "utf8")
    const start = md.indexOf("\n## One transaction")
    if (start < 0) return undefined
    const next = md.indexOf("\n## ", start + 1)
    return md.slice(start + 1, next < 0 ? undefined : next).trimEnd()
  } catch {
    return undefined
  }
}

const main = async () => {
  const server = await startServer({
    name: "bench-replication",
    settings: { wal_level: "logical", max_wal_senders: 20, max_replication_slots: 40, jit: false }
  })
  const client = new pg.Client({ host: "127.0.0.1", port: server.info.port, user: "postgres", database: "postgres" })
  await client.connect()
  const results: Record<string, Record<string, Array<Sample | undefined>>> = {}
  let big: Array<BigResult> = []
  let live: Awaited<ReturnType<typeof liveWorkload>> | undefined
  let lag: Awaited<ReturnType<typeof lagWorkload>> | undefined
  const floors: Record<string, Array<number>> = {}
  try {
    for (const table of TABLE_NAMES) {
      const t = TABLES[table]
      const name = `bench_${table}`
      await client.query(`create table ${name} (${t.columns})`)
      await client.query(`create publication pub_${table} for table ${name}`)
      const slot = (c: string, r: number) => `s_${table}_${c.replace(/[^a-z]/g, "")}_${r}`
      for (let r = 0; r < ROUNDS; r++) {
        for (const c of CONTENDERS) await client.query("select pg_create_logical_replication_slot($1, 'pgoutput')", [slot(c, r)])
      }
      await client.query("select pg_create_logical_replication_slot($1, 'pgoutput')", [slot("floor", 0)])
      const written = Date.now()
      for (let x = 0; x < TRANSACTIONS; x++) {
        const from = x * ROWS_PER_TRANSACTION + 1
        await client.query(
          `insert into ${name} select ${t.select} from generate_series(${from}, ${from + ROWS_PER_TRANSACTION - 1}) g`
        )
      }
      console.log(`${table}: ${TRANSACTIONS} transactions of ${ROWS_PER_TRANSACTION} rows written in ${Date.now() - written} ms`)
      results[table] = Object.fromEntries(CONTENDERS.map((c) => [c, []]))
      floors[table] = []
      for (let r = 0; r < ROUNDS; r++) {
        const order = CONTENDERS.map((_, i) => CONTENDERS[(i + r) % CONTENDERS.length]!)
        for (const c of order) {
          const sample = await runChild({
            contender: c,
            port: server.info.port,
            slot: slot(c, r),
            publication: `pub_${table}`,
            transactions: TRANSACTIONS
          })
          if (sample !== undefined && sample.changes !== TRANSACTIONS * ROWS_PER_TRANSACTION) {
            console.error(`${c}: ${sample.changes} changes, expected ${TRANSACTIONS * ROWS_PER_TRANSACTION}`)
          }
          results[table]![c]!.push(sample)
          console.log(`${table} round ${r + 1} ${c}: ${sample === undefined ? "failed" : `${fmt(sample.ms)} ms`}`)
        }
        const f0 = performance.now()
        await client.query(
          "select count(*) from pg_logical_slot_peek_binary_changes($1, null, null, 'proto_version', '1', 'publication_names', $2)",
          [slot("floor", 0), `pub_${table}`]
        )
        floors[table]!.push(performance.now() - f0)
        console.log(`${table} round ${r + 1} floor: ${fmt(floors[table]!.at(-1)!)} ms`)
      }
    }
    live = await liveWorkload(client, server.info.port)
    lag = await lagWorkload(client, server.info.port)
    big = await bigTransaction(client, server.info.port)
  } finally {
    await client.end()
    await server.stop()
  }

  const changes = TRANSACTIONS * ROWS_PER_TRANSACTION
  const header = [
    "table",
    "contender",
    "median",
    "changes/s",
    `time x ${PEER} (paired)`,
    "x floor",
    "client CPU / change",
    `CPU x ${PEER} (paired)`,
    "peak RSS"
  ]
  const rows: Array<Array<string>> = []
  const paired = (samples: ReadonlyArray<Sample | undefined>, peer: ReadonlyArray<Sample | undefined>, f: (s: Sample) => number) =>
    median(samples.flatMap((s, i) => (s !== undefined && peer[i] !== undefined ? [f(s) / f(peer[i]!)] : [])))
  for (const table of Object.keys(results)) {
    const floor = median(floors[table]!)
    for (const c of CONTENDERS) {
      const samples = results[table]![c]!
      const ok = samples.filter((s): s is Sample => s !== undefined)
      if (ok.length === 0) {
        rows.push([table, c, "failed", "", "", "", "", "", ""])
        continue
      }
      const ms = median(ok.map((s) => s.ms))
      const peer = results[table]![PEER]!
      rows.push([
        table,
        c,
        `${fmt(ms)} ms`,
        fmt(changes / (ms / 1000)),
        c === PEER ? "1" : fmt(paired(samples, peer, (s) => s.ms), 2),
        fmt(ms / floor, 2),
        `${fmt((median(ok.map((s) => s.cpuMs)) * 1000) / changes, 2)} µs`,
        c === PEER ? "1" : fmt(paired(samples, peer, (s) => s.cpuMs), 2),
        `${fmt(median(ok.map((s) => s.maxRssMiB)))} MiB`
      ])
    }
    rows.push([table, "server floor (peek)", `${fmt(floor)} ms`, fmt(changes / (floor / 1000)), "", "1", "", "", ""])
  }
  const machine = describeMachine()
  if (rows.length > 0) console.log(textTable(header, rows))

  const liveHeader = ["contender", "consumer time", "producer tx/s", "client CPU / change", "CPU x postgres.js (paired)", "drain after last commit", "peak RSS"]
  const liveRows: Array<Array<string>> = []
  if (live !== undefined && LIVE_TRANSACTIONS > 0) {
    const peer = live["postgres.js"].map((l) => l.sample)
    for (const c of LIVE_CONTENDERS) {
      const runs = live[c]
      const ok = runs.flatMap((l) => (l.sample === undefined ? [] : [l.sample]))
      if (ok.length === 0) {
        liveRows.push([c, "failed", "", "", "", "", ""])
        continue
      }
      liveRows.push([
        c,
        `${fmt(median(ok.map((s) => s.ms)))} ms`,
        fmt(median(runs.map((l) => l.rate))),
        `${fmt(median(ok.map((s) => (s.cpuMs * 1000) / s.changes)), 2)} µs`,
        c === "postgres.js" ? "1" : fmt(paired(runs.map((l) => l.sample), peer, (s) => s.cpuMs / s.changes), 2),
        `${fmt(median(runs.map((l) => l.drainMs)))} ms`,
        `${fmt(median(ok.map((s) => s.maxRssMiB)))} MiB`
      ])
    }
    console.log(textTable(liveHeader, liveRows))
  }

  const lagHeader = ["contender", "transactions", "producer tx/s", "delivery p50", "delivery p99", "delivery max", "ack to confirmed_flush_lsn p50", "p99", "samples"]
  const lagRows: Array<Array<string>> = []
  if (lag !== undefined && LAG_TRANSACTIONS > 0) {
    for (const c of LIVE_CONTENDERS) {
      const runs = lag[c]
      const delays = runs.flatMap((l) => l.sample?.delaysMs ?? [])
      const acks = runs.flatMap((l) => l.sample?.ackDelaysMs ?? [])
      if (delays.length === 0) {
        lagRows.push([c, "failed", "", "", "", "", "", "", ""])
        continue
      }
      lagRows.push([
        c,
        delays.length.toLocaleString("en"),
        fmt(median(runs.map((l) => l.rate))),
        `${fmt(percentile(delays, 0.5), 2)} ms`,
        `${fmt(percentile(delays, 0.99), 2)} ms`,
        `${fmt(Math.max(...delays), 2)} ms`,
        acks.length === 0 ? "n/a" : `${fmt(percentile(acks, 0.5), 2)} ms`,
        acks.length === 0 ? "n/a" : `${fmt(percentile(acks, 0.99), 2)} ms`,
        acks.length === 0 ? "" : String(acks.length)
      ])
    }
    console.log(textTable(lagHeader, lagRows))
  }

  const bigHeader = ["contender", "time", "peak RSS", "RSS growth", "server spill_bytes", "server stream_bytes"]
  const bigRows = big.map((b) =>
    b.sample === undefined ? [b.contender, "failed", "", "", "", ""] : [
      b.contender,
      `${fmt(b.sample.ms)} ms`,
      `${fmt(b.sample.maxRssMiB)} MiB`,
      `${fmt(b.sample.maxRssMiB - b.sample.rssBeforeMiB)} MiB`,
      `${fmt(b.spillBytes / 2 ** 20)} MiB`,
      `${fmt(b.streamBytes / 2 ** 20)} MiB`
    ]
  )
  if (bigRows.length > 0) console.log(textTable(bigHeader, bigRows))
  if (process.env["BENCH_REPL_WRITE"] !== "0") {
    const bigSection = bigRows.length > 0
      ? [
        `## One transaction of ${BIG_MIB} MiB`,
        "",
        `${(BIG_MIB * 1024).toLocaleString("en")} inserted rows of 1 KiB in one transaction, read change by change ` +
        "(acknowledged at its Commit) with `streaming` off (the server holds the transaction until its commit and " +
        "spills it to its own disk) and on (the server streams it as it decodes; this client holds it, in memory up " +
        "to 16 MiB and spilled to a file beyond, until Stream Commit). RSS growth: peak RSS minus the RSS before " +
        "connecting. pg-logical-replication (proto_version 1) for comparison.",
        "",
        markdownTable(bigHeader, bigRows)
      ].join("\n")
      : previousBigSection()
    const md = [
      "# Replication benchmark",
      "",
      `Written by \`node --no-warnings bench/replication/main.ts\` on ${new Date().toISOString().slice(0, 10)}. ` +
      `Machine: ${machine.cores} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}; ` +
      `load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(" ")} (the machine is shared: wall times are ` +
      "noisy, the paired ratios and the client's CPU per change are the steadier figures).",
      "",
      ...(rows.length === 0 ? [] : [
        "## Decode throughput",
        "",
        `${changes.toLocaleString("en")} changes in ${TRANSACTIONS.toLocaleString("en")} transactions of ${ROWS_PER_TRANSACTION} ` +
        "inserts per table (narrow: int8 and text; mixed: 9 columns, int4 to jsonb; wide: 20 columns, int2 to int4[]), " +
        `read from a slot that already holds the WAL, ${ROUNDS} rounds, each contender in a fresh child process per round ` +
        "(order rotated), timed from connect to the last acknowledged Commit; client CPU is the child's user and system " +
        "time over the same span (`process.cpuUsage`). Ratios are the median of the per-round ratios; the floor is the " +
        "server's `pg_logical_slot_peek_binary_changes` over the same WAL (decoding without a client).",
        "",
        markdownTable(header, rows)
      ]),
      ...(liveRows.length === 0 ? [] : [
        "",
        "## Live workload, beside postgres.js",
        "",
        "postgres.js `subscribe` streams only from a temporary slot it creates when it subscribes, so it cannot read a " +
        "slot that already holds the WAL; here every consumer reads a live workload instead. Each is started on a fresh " +
        "slot (postgres.js on its own), warm-up rows are written until it has seen one, then one connection writes " +
        `${LIVE_TRANSACTIONS.toLocaleString("en")} transactions of ${ROWS_PER_TRANSACTION} rows (narrow) as fast as it can ` +
        "(`synchronous_commit = on`), " +
        `${ROUNDS} rounds, order rotated. The producer sets the pace, so the figures to compare are the consumer's CPU ` +
        "per change (from its first warm-up row to its last row) and the drain: how long after the producer's last " +
        "commit the consumer had the last row. effect-pgwire and pg-logical-replication acknowledge each transaction; " +
        "postgres.js acknowledges nothing it processed (it answers keepalives).",
        "",
        markdownTable(liveHeader, liveRows)
      ]),
      ...(lagRows.length === 0 ? [] : [
        "",
        `## Lag at ${LAG_RATE.toLocaleString("en")} transactions/s`,
        "",
        `A producer commits one-row transactions at ${LAG_RATE.toLocaleString("en")}/s (up to ${LAG_CONNECTIONS} in ` +
        `flight) for ${LAG_TRANSACTIONS.toLocaleString("en")} measured transactions per run after ` +
        `${LAG_WARM_UP_TRANSACTIONS} not measured (a freshly started consumer's first transactions run cold code), ` +
        `${ROUNDS} runs per consumer; each ` +
        "row holds the server's `clock_timestamp()` at its insert, and its commit follows at once (the producer runs " +
        "with `synchronous_commit = on`, the server's default: a walsender sends only flushed WAL). Delivery: the " +
        "consumer's wall clock (same host) when the transaction reaches its code (effect-pgwire: an element of " +
        "`transactions`, as `runAcked` sees it; pg-logical-replication: its Commit message; postgres.js, which has no " +
        "commit event: the row) minus that timestamp. Acknowledgement: one transaction in 50, the time from the " +
        "consumer's acknowledgement of its end LSN until `pg_replication_slots.confirmed_flush_lsn` reaches it, polled " +
        "back to back on a second connection (so it includes one poll's round trip). postgres.js does not acknowledge " +
        "what it processed.",
        "",
        markdownTable(lagHeader, lagRows)
      ]),
      ...(bigSection === undefined ? [] : ["", bigSection]),
      ""
    ].join("\n")
    fs.writeFileSync(path.join(here, "RESULTS.md"), md)
    fs.writeFileSync(
      path.join(here, "results.json"),
      `${
        JSON.stringify(
          {
            transactions: TRANSACTIONS,
            rounds: ROUNDS,
            machine,
            results,
            floors,
            live,
            lag: lag === undefined ? undefined : Object.fromEntries(
              Object.entries(lag).map(([c, runs]) => [c, runs.map((l) => ({ rate: l.rate, ...l.sample, delaysMs: undefined }))])
            ),
            bigMiB: BIG_MIB,
            big
          },
          null,
          2
        )
      }\n`
    )
  }
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
