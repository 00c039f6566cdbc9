/**
 * The replication benchmark (`node --no-warnings bench/replication/main.ts`):
 * decode throughput of a logical stream from a slot that already holds the
 * WAL, effect-pgwire beside pg-logical-replication, with the server's own
 * `pg_logical_slot_peek_binary_changes` over the same WAL as the floor.
 *
 * **What it does**
 *
 * 1. Starts the embedded PostgreSQL 18 (`wal_level=logical`, durability off as
 *    the test harness sets it).
 * 2. For each table (`narrow`: int8 and a short text; `mixed`: the nine
 *    columns of `bench/Data.ts`, int4 to jsonb), creates a publication and one
 *    slot per contender and round, then writes `BENCH_REPL_TRANSACTIONS`
 *    transactions of 100 inserts: every slot holds the same WAL.
 * 3. Each round runs every contender once, in a fresh child process
 *    (`child.ts`), in an order rotated every round, timing from connect to the
 *    last acknowledged Commit (every change decoded, each transaction
 *    acknowledged at its end LSN), then the floor.
 * 4. One transaction of `BENCH_REPL_BIG_MIB` MiB (default 256; 0 skips it), read by
 *    effect-pgwire with streaming off and on, and by pg-logical-replication:
 *    time, peak RSS and its growth, and where the server buffered it.
 * 5. Prints and writes `bench/replication/RESULTS.md` and `results.json`:
 *    median time, changes/s, the median of the per-round ratios to
 *    pg-logical-replication, client CPU per change and peak RSS.
 *
 * **Environment**: `BENCH_REPL_TRANSACTIONS` (default 2,000; the issue's
 * figure is 10,000), `BENCH_REPL_ROUNDS` (default 3), `BENCH_REPL_WRITE=0` to
 * print without writing the files, `BENCH_REPL_PROFILE=<dir>`: children write CPU profiles there (summarise
 * them with `bench/e2e/profile.ts`).
 *
 * The children run the TypeScript sources through Node's type stripping (the
 * peer is JavaScript): start-up costs land outside the timed window, but the
 * stripping's memory weighs on every effect-pgwire child's peak RSS.
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { startServer } from "../../test/support/EmbeddedPostgres.ts"
import { MIXED_COLUMNS, MIXED_TABLE_COLUMNS } from "../Data.ts"
import { describeMachine, fmt, markdownTable, median, textTable } from "../Machine.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const TRANSACTIONS = Number(process.env["BENCH_REPL_TRANSACTIONS"] ?? 2000)
const ROUNDS = Number(process.env["BENCH_REPL_ROUNDS"] ?? 3)
const ROWS_PER_TRANSACTION = 100
/** A child still running after this long is killed and its run counted as failed. */
const CHILD_TIMEOUT_MILLIS = 600_000

const CONTENDERS = ["effect-pgwire", "effect-pgwire-binary", "pg-logical-replication"] as const
type Contender = typeof CONTENDERS[number]
const PEER: Contender = "pg-logical-replication"

const TABLES = {
  narrow: { columns: "id int8 primary key, v text", select: "g::int8, 'value-' || g" },
  mixed: { columns: MIXED_TABLE_COLUMNS, select: MIXED_COLUMNS.map((c) => c.replace(/ as \w+$/, "")).join(", ") }
} as const
type Table = keyof typeof TABLES

interface Sample {
  readonly ms: number
  readonly changes: number
  readonly cpuMs: number
  readonly maxRssMiB: number
  readonly rssBeforeMiB: number
}

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

const runChild = (args: Record<string, unknown>): Promise<Sample | undefined> =>
  new Promise((resolve) => {
    const profile = process.env["BENCH_REPL_PROFILE"]
    const flags = profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profile}`]
    const child = spawn(process.execPath, ["--no-warnings", ...flags, path.join(here, "child.ts"), JSON.stringify(args)], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MILLIS)
    child.stdout.on("data", (c: Buffer) => (out += c.toString()))
    child.stderr.on("data", (c: Buffer) => (err += c.toString()))
    child.on("exit", (code) => {
      clearTimeout(timer)
      if (code !== 0) {
        console.error(`${String(args["contender"])} failed (${code}): ${err.trim()}`)
        resolve(undefined)
      } else {
        if (err.trim() !== "") console.error(`${String(args["contender"])}: ${err.trim()}`)
        resolve(JSON.parse(out.trim().split("\n").at(-1)!) as Sample)
      }
    })
  })

const main = async () => {
  const server = await startServer({
    name: "bench-replication",
    settings: { wal_level: "logical", max_wal_senders: 20, max_replication_slots: 40, jit: false }
  })
  const client = new pg.Client({ host: "127.0.0.1", port: server.info.port, user: "postgres", database: "postgres" })
  await client.connect()
  const results: Record<string, Record<string, Array<Sample | undefined>>> = {}
  let big: Array<BigResult> = []
  const floors: Record<string, Array<number>> = {}
  try {
    for (const table of Object.keys(TABLES) as Array<Table>) {
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
    big = await bigTransaction(client, server.info.port)
  } finally {
    await client.end()
    await server.stop()
  }

  const changes = TRANSACTIONS * ROWS_PER_TRANSACTION
  const header = ["table", "contender", "median", "changes/s", `x ${PEER} (paired)`, "x floor", "client CPU / change", "peak RSS"]
  const rows: Array<Array<string>> = []
  for (const table of Object.keys(results)) {
    const floor = median(floors[table]!)
    for (const c of CONTENDERS) {
      const samples = results[table]![c]!
      const ok = samples.filter((s): s is Sample => s !== undefined)
      if (ok.length === 0) {
        rows.push([table, c, "failed", "", "", "", "", ""])
        continue
      }
      const ms = median(ok.map((s) => s.ms))
      const peer = results[table]![PEER]!
      const ratios = samples.flatMap((s, i) => (s !== undefined && peer[i] !== undefined ? [s.ms / peer[i]!.ms] : []))
      rows.push([
        table,
        c,
        `${fmt(ms)} ms`,
        fmt(changes / (ms / 1000)),
        c === PEER ? "1" : fmt(median(ratios), 2),
        fmt(ms / floor, 2),
        `${fmt((median(ok.map((s) => s.cpuMs)) * 1000) / changes, 2)} µs`,
        `${fmt(median(ok.map((s) => s.maxRssMiB)))} MiB`
      ])
    }
    rows.push([table, "server floor (peek)", `${fmt(floor)} ms`, fmt(changes / (floor / 1000)), "", "1", "", ""])
  }
  const machine = describeMachine()
  console.log(textTable(header, rows))
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
    const md = [
      "# Replication benchmark",
      "",
      `Written by \`node --no-warnings bench/replication/main.ts\` on ${new Date().toISOString().slice(0, 10)}: ${changes.toLocaleString("en")} ` +
        `changes in ${TRANSACTIONS.toLocaleString("en")} transactions of ${ROWS_PER_TRANSACTION} inserts per table, read from a slot ` +
        `that already holds the WAL, ${ROUNDS} rounds, each contender in a fresh child process per round (order rotated), ` +
        "timed from connect to the last acknowledged Commit. Ratios are the median of the per-round ratios; the floor is the " +
        "server's `pg_logical_slot_peek_binary_changes` over the same WAL (decoding without a client).",
      "",
      `Machine: ${machine.cores} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}; ` +
        `load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}.`,
      "",
      markdownTable(header, rows),
      "",
      `## One transaction of ${BIG_MIB} MiB`,
      "",
      `${(BIG_MIB * 1024).toLocaleString("en")} inserted rows of 1 KiB in one transaction, read change by change ` +
        "(acknowledged at its Commit) with `streaming` off (the server holds the transaction until its commit and " +
        "spills it to its own disk) and on (the server streams it as it decodes; this client holds it, in memory up " +
        "to 16 MiB and spilled to a file beyond, until Stream Commit). RSS growth: peak RSS minus the RSS before " +
        "connecting. pg-logical-replication (proto_version 1) for comparison.",
      "",
      markdownTable(bigHeader, bigRows),
      ""
    ].join("\n")
    fs.writeFileSync(path.join(here, "RESULTS.md"), md)
    fs.writeFileSync(
      path.join(here, "results.json"),
      `${JSON.stringify({ transactions: TRANSACTIONS, rounds: ROUNDS, machine, results, floors, bigMiB: BIG_MIB, big }, null, 2)}\n`
    )
  }
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
