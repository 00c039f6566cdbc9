/**
 * Large transactions in bounded memory (`node --no-warnings bench/replication/large.ts`):
 * one transaction of 256 MiB and one of 1 GiB (1 KiB rows), each read by a
 * fresh consumer process with `streaming` off and on, measuring the
 * consumer's peak RSS growth, its peak JavaScript heap and ArrayBuffer
 * memory, the time from connect to the acknowledged Commit, and where the
 * server buffered the transaction (`pg_stat_replication_slots`).
 *
 * **What it does**
 *
 * 1. Starts the embedded PostgreSQL 18 (`wal_level=logical`, the default
 *    `logical_decoding_work_mem` of 64 MB: streaming starts past it).
 * 2. For each size: a table, a publication and two slots (streaming off, on),
 *    then the transaction (`insert ... select` of 1 KiB rows).
 * 3. Each slot is read by a child process (this file with the argument
 *    `child`), change by change, acknowledging at the Commit; the child
 *    samples its memory every `SAMPLE_MILLIS` and prints one JSON line.
 *    With streaming on, the client holds the transaction until Stream
 *    Commit: 4 MiB in memory (`DEFAULT_SPILL_MEMORY_BYTES`), the rest in a
 *    spill file.
 * 4. Drops the slots and the table, then goes on to the next size.
 * 5. Prints the table, and with `BENCH_LARGE_WRITE=1` replaces the section
 *    "## One transaction of ..." of `bench/replication/RESULTS.md` (`main.ts`
 *    writes the whole file, its own 256 MiB measurement included: run this
 *    one after it).
 *
 * **Environment**: `BENCH_LARGE_MIB` (comma-separated sizes in MiB, default
 * `256,1024`), `BENCH_LARGE_MODES` (default `off,on`),
 * `BENCH_LARGE_CHILD_FLAGS` (Node flags for the children, e.g.
 * `--max-old-space-size=48` to show that what they hold is bounded, or
 * `--trace-gc`), `BENCH_LARGE_TRACE=1` (each child prints its memory every
 * `BENCH_LARGE_SAMPLE_MILLIS`, default 20, and its output).
 *
 * RSS growth is the peak RSS (`getrusage` maxrss, and the sampled RSS) minus
 * the RSS sampled just before connecting, after start-up and module loading.
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import pg from "pg"
import { DEFAULT_SPILL_MEMORY_BYTES } from "../../src/replication/Held.ts"
import * as PgReplication from "../../src/replication/PgReplication.ts"
import { startServer } from "../../test/support/EmbeddedPostgres.ts"
import { describeMachine, fmt, markdownTable, textTable } from "../Machine.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const SIZES_MIB = (process.env["BENCH_LARGE_MIB"] ?? "256,1024").split(",").map(Number).filter((n) => n > 0)
/** How often a child samples its memory. */
const SAMPLE_MILLIS = Number(process.env["BENCH_LARGE_SAMPLE_MILLIS"] ?? 20)
/** A child still running after this long is killed and its run counted as failed. */
const CHILD_TIMEOUT_MILLIS = 900_000
const MODES = ["off", "on"] as const
const RUN_MODES = MODES.filter((m) => (process.env["BENCH_LARGE_MODES"] ?? "off,on").split(",").includes(m))
type Mode = typeof MODES[number]

interface ChildArgs {
  readonly port: number
  readonly slot: string
  readonly publication: string
  readonly streaming: Mode
}

interface Sample {
  readonly ms: number
  readonly inserts: number
  readonly rssBeforeMiB: number
  /** getrusage maxrss. */
  readonly maxRssMiB: number
  readonly peakSampledRssMiB: number
  readonly peakHeapUsedMiB: number
  readonly peakArrayBuffersMiB: number
  readonly heapBeforeMiB: number
  readonly arrayBuffersBeforeMiB: number
  readonly spilled: boolean
}

const MiB = 2 ** 20

/** The child: reads one transaction change by change and acknowledges it at its Commit. */
const child = async (args: ChildArgs): Promise<Sample> => {
  const conn = { host: "127.0.0.1", port: args.port, user: "postgres", database: "postgres", sslMode: "disable" as const }
  const spillDir = fs.mkdtempSync(path.join(os.tmpdir(), "large-bench-"))
  let spilled = false
  let inserts = 0
  const before = process.memoryUsage()
  let peakRss = before.rss
  let peakHeap = before.heapUsed
  let peakArrayBuffers = before.arrayBuffers
  const sample = () => {
    const m = process.memoryUsage()
    if (m.rss > peakRss) peakRss = m.rss
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed
    if (m.arrayBuffers > peakArrayBuffers) peakArrayBuffers = m.arrayBuffers
    if (process.env["BENCH_LARGE_TRACE"] === "1") {
      console.error(`${Math.round(performance.now())} rss ${(m.rss / MiB).toFixed(0)} heap ${(m.heapUsed / MiB).toFixed(0)}/${(m.heapTotal / MiB).toFixed(0)} ab ${(m.arrayBuffers / MiB).toFixed(0)} ext ${(m.external / MiB).toFixed(0)} inserts ${inserts}`)
    }
    if (!spilled && fs.existsSync(spillDir) && fs.readdirSync(spillDir).length > 0) spilled = true
  }
  const timer = setInterval(sample, SAMPLE_MILLIS)
  const t0 = performance.now()
  try {
    await Effect.runPromise(
      Stream.runForEach(
        Stream.takeUntil(
          PgReplication.logical(conn, {
            slot: args.slot,
            publications: [args.publication],
            streaming: args.streaming,
            spill: { directory: spillDir }
          }),
          (c) => c._tag === "Commit"
        ),
        (c) => {
          if (c._tag === "Insert") inserts++
          return c._tag === "Commit" ? c.ack : Effect.void
        }
      )
    )
  } finally {
    clearInterval(timer)
    fs.rmSync(spillDir, { recursive: true, force: true })
  }
  const ms = performance.now() - t0
  sample()
  return {
    ms,
    inserts,
    rssBeforeMiB: before.rss / MiB,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    peakSampledRssMiB: peakRss / MiB,
    peakHeapUsedMiB: peakHeap / MiB,
    peakArrayBuffersMiB: peakArrayBuffers / MiB,
    heapBeforeMiB: before.heapUsed / MiB,
    arrayBuffersBeforeMiB: before.arrayBuffers / MiB,
    spilled
  }
}

const runChild = (args: ChildArgs): Promise<Sample | undefined> =>
  new Promise((resolve) => {
    const flags = (process.env["BENCH_LARGE_CHILD_FLAGS"] ?? "").split(" ").filter((f) => f !== "")
    const proc = spawn(process.execPath, ["--no-warnings", ...flags, fileURLToPath(import.meta.url), "child", JSON.stringify(args)], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    const timer = setTimeout(() => proc.kill("SIGKILL"), CHILD_TIMEOUT_MILLIS)
    proc.stdout.on("data", (c: Buffer) => (out += c.toString()))
    proc.stderr.on("data", (c: Buffer) => (err += c.toString()))
    proc.on("exit", (code) => {
      clearTimeout(timer)
      if (code !== 0) {
        console.error(`streaming ${args.streaming} failed (${code}): ${err.trim()}`)
        resolve(undefined)
      } else {
        if (err.trim() !== "") console.error(err.trim())
        if (process.env["BENCH_LARGE_TRACE"] === "1") console.error(out.trim().split("\n").slice(0, -1).join("\n"))
        resolve(JSON.parse(out.trim().split("\n").at(-1)!) as Sample)
      }
    })
  })

interface Result {
  readonly mib: number
  readonly streaming: Mode
  readonly writeMs: number
  readonly sample: Sample | undefined
  readonly spillBytes: number
  readonly streamBytes: number
}

const main = async () => {
  const server = await startServer({
    name: "bench-replication-large",
    settings: { wal_level: "logical", max_wal_senders: 10, max_replication_slots: 10, max_wal_size: "4GB", jit: false }
  })
  const port = server.info.port
  const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" })
  await client.connect()
  const results: Array<Result> = []
  try {
    for (const mib of SIZES_MIB) {
      const table = `large_${mib}`
      const publication = `pub_${table}`
      const slot = (m: Mode) => `s_${table}_${m}`
      await client.query(`create table ${table} (id int8 primary key, v text)`)
      await client.query(`create publication ${publication} for table ${table}`)
      for (const m of MODES) await client.query("select pg_create_logical_replication_slot($1, 'pgoutput')", [slot(m)])
      const rows = mib * 1024
      const w0 = Date.now()
      await client.query(`insert into ${table} select g, repeat(md5(g::text), 32) from generate_series(1, ${rows}) g`)
      const writeMs = Date.now() - w0
      console.log(`${mib} MiB: one transaction of ${rows} rows of 1 KiB written in ${writeMs} ms`)
      for (const m of RUN_MODES) {
        const sample = await runChild({ port, slot: slot(m), publication, streaming: m })
        if (sample !== undefined && sample.inserts !== rows) console.error(`streaming ${m}: ${sample.inserts} inserts, expected ${rows}`)
        const stats = await client.query<{ spill_bytes: string; stream_bytes: string }>(
          "select spill_bytes::text, stream_bytes::text from pg_stat_replication_slots where slot_name = $1",
          [slot(m)]
        )
        results.push({
          mib,
          streaming: m,
          writeMs,
          sample,
          spillBytes: Number(stats.rows[0]?.spill_bytes ?? 0),
          streamBytes: Number(stats.rows[0]?.stream_bytes ?? 0)
        })
        console.log(`${mib} MiB streaming ${m}: ${sample === undefined ? "failed" : JSON.stringify(sample)}`)
      }
      for (const m of MODES) await client.query("select pg_drop_replication_slot($1)", [slot(m)])
      await client.query(`drop publication ${publication}`)
      await client.query(`drop table ${table}`)
      await client.query("checkpoint")
    }
  } finally {
    await client.end()
    await server.stop()
  }
  const header = [
    "transaction",
    "streaming",
    "time",
    "RSS growth (peak)",
    "peak JS heap growth",
    "peak ArrayBuffers growth",
    "client spill file",
    "server spill_bytes",
    "server stream_bytes"
  ]
  const rows = results.map((r) => {
    const s = r.sample
    if (s === undefined) return [`${r.mib} MiB`, r.streaming, "failed", "", "", "", "", "", ""]
    return [
      `${r.mib} MiB`,
      r.streaming,
      `${fmt(s.ms)} ms`,
      `${fmt(Math.max(s.maxRssMiB, s.peakSampledRssMiB) - s.rssBeforeMiB)} MiB`,
      `${fmt(s.peakHeapUsedMiB - s.heapBeforeMiB)} MiB`,
      `${fmt(s.peakArrayBuffersMiB - s.arrayBuffersBeforeMiB)} MiB`,
      s.spilled ? "yes" : "no",
      `${fmt(r.spillBytes / MiB)} MiB`,
      `${fmt(r.streamBytes / MiB)} MiB`
    ]
  })
  console.log(textTable(header, rows))
  if (process.env["BENCH_LARGE_WRITE"] === "1") {
    const machine = describeMachine()
    const section = [
      `## One transaction of ${SIZES_MIB.map((m) => (m >= 1024 ? `${m / 1024} GiB` : `${m} MiB`)).join(" and of ")}`,
      "",
      `Written by \`node --no-warnings bench/replication/large.ts\` on ${new Date().toISOString().slice(0, 10)}: one ` +
        "transaction of 1 KiB rows per size, read change by change by a fresh consumer process (acknowledged at its " +
        "Commit) with `streaming` off (the server holds the transaction until its commit, spilling it to its own disk) " +
        "and on (the server streams it past `logical_decoding_work_mem`, 64 MB; this client holds it, " +
        `${DEFAULT_SPILL_MEMORY_BYTES / MiB} MiB in memory ` +
        "and the rest in a spill file, until Stream Commit). RSS growth: peak RSS minus the RSS before connecting " +
        `(the goal: under 64 MiB). Machine: ${machine.cores} x ${machine.cpuModel}, Node ${machine.node}; load average ` +
        `at the end ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}.`,
      "",
      markdownTable(header, rows),
      ""
    ].join("\n")
    const file = path.join(here, "RESULTS.md")
    const text = fs.readFileSync(file, "utf8")
    const start = text.indexOf("## One transaction of")
    const next = start < 0 ? -1 : text.indexOf("\n## ", start + 1)
    const updated = start < 0
      ? `${text.trimEnd()}\n\n${section}`
      : `${text.slice(0, start)}${section}${next < 0 ? "" : text.slice(next + 1)}`
    fs.writeFileSync(file, updated)
  }
}

if (process.argv[2] === "child") {
  child(JSON.parse(process.argv[3]!) as ChildArgs).then(
    (s) => {
      process.stdout.write(`${JSON.stringify(s)}\n`)
      process.exit(0)
    },
    (e: unknown) => {
      process.stderr.write(`${String(e)}\n`)
      process.exit(1)
    }
  )
} else {
  main().catch((e: unknown) => {
    console.error(e)
    process.exit(1)
  })
}
