/**
 * Streaming memory in the end-to-end benchmark's own setup: workload 5 (`stream`, `select * from bench_rows`, plain
 * TCP) run by the compiled child of `bench/e2e` (`child.ts`), with its memory sampled during the timed part.
 *
 * `node bench/memory/e2e-stream.ts [rows,...] [driver,...]` (default `1000000,3000000,10000000` and `effect-pgwire`):
 * for each row count, in increasing order, the table grows to that many rows and one child per driver streams it
 * (the drivers of `bench/e2e`: `effect-pgwire`, `postgres.js`, `node-postgres`, `@effect/sql-pg`, one after the
 * other on the same table). Each child reports every `SAMPLE_MILLIS` its `process.memoryUsage()` and V8's heap spaces; this prints, per run, the growth
 * (the child's peak resident set minus its resident set just before the timed part, as the suite reports it), the
 * client CPU per row, and how the growth splits: V8's young generation (new space), the old generation (old, code
 * and large-object spaces and the rest), memory outside V8's heap (external, array buffers), and what is neither
 * (the allocator's and the runtime's own, `rss - heapTotal - external`). With `--json <file>` every sample is written
 * too; with `--log <file>` the child's other output (e.g. V8's `--trace-gc-nvp` lines) goes there. With
 * `--variants <dir>,<dir>...` (directories of children compiled before, e.g. copies of the output directory made at
 * two commits) nothing is compiled: each row count runs `--rounds <n>` rounds (default 1) of every variant in turn,
 * for paired figures. `BENCH_NODE_OPTIONS` passes V8 flags to the child (to compare a flag, never as the figure to report).
 *
 * The children run from `node_modules/.cache/effect-pgwire-memory` (compiled here with `bench/tsconfig.e2e.json`),
 * apart from the suite's own output directory, so a suite running at the same time is not disturbed. Nothing here
 * asserts.
 *
 * @since 0.1.0
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { PASSWORDS, ROLES, startServer } from "../../test/support/EmbeddedPostgres.ts"
import { MIXED_COLUMNS, MIXED_TABLE_COLUMNS } from "../Data.ts"
import type { Context, DriverId } from "../e2e/Workloads.ts"
import { expectedCheck, ROWS_TABLE } from "../e2e/Workloads.ts"

/** How often the child samples its memory. */
const SAMPLE_MILLIS = 500

/** A child still running after this is killed (10M rows take about a minute on a loaded 2-core machine). */
const CHILD_TIMEOUT_MILLIS = 600_000

/** Rows inserted per statement while the table grows (keeps each insert's memory on the server modest). */
const INSERT_STEP_ROWS = 1_000_000

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.join(here, "..", "..")
const outDir = path.join(repoRoot, "node_modules", ".cache", "effect-pgwire-memory")

const MIB = 1024 * 1024
const mib = (bytes: number): string => (bytes / MIB).toFixed(1)

interface Sample {
  readonly t: number
  readonly rss: number
  readonly heapTotal: number
  readonly heapUsed: number
  readonly external: number
  readonly arrayBuffers: number
  readonly spaces: Record<string, readonly [number, number]>
}

interface ChildResult {
  readonly millis?: number
  readonly cpuMicros?: number
  readonly systemMicros?: number
  readonly maxRssKiB?: number
  readonly baseRssKiB?: number
  readonly check?: number
  readonly samples?: ReadonlyArray<Sample>
  readonly error?: string
}

const args = process.argv.slice(2)
const jsonAt = args.indexOf("--json")
const jsonFile = jsonAt >= 0 ? args.splice(jsonAt, 2)[1] : undefined
const logAt = args.indexOf("--log")
const logFile = logAt >= 0 ? args.splice(logAt, 2)[1] : undefined
const variantsAt = args.indexOf("--variants")
const variants = variantsAt >= 0 ? args.splice(variantsAt, 2)[1]!.split(",") : undefined
const roundsAt = args.indexOf("--rounds")
const rounds = roundsAt >= 0 ? Number(args.splice(roundsAt, 2)[1]) : 1
const counts = (args[0] ?? "1000000,3000000,10000000").split(",").map(Number).sort((a, b) => a - b)
const drivers = (args[1] ?? "effect-pgwire").split(",") as ReadonlyArray<Exclude<DriverId, "pgbench">>
const nodeOptions = (process.env["BENCH_NODE_OPTIONS"] ?? "").split(" ").filter((s) => s.length > 0)

const compile = (): string => {
  fs.rmSync(outDir, { recursive: true, force: true })
  try {
    execFileSync(path.join(repoRoot, "node_modules", ".bin", "tsc"), [
      "-p",
      path.join(repoRoot, "bench", "tsconfig.e2e.json"),
      "--outDir",
      outDir
    ], { cwd: repoRoot, stdio: "pipe" })
  } catch {
    // Type errors elsewhere still emit JavaScript; only a missing output is fatal.
  }
  const entry = path.join(outDir, "bench", "e2e", "child.js")
  if (!fs.existsSync(entry)) throw new Error(`compiling the benchmark children produced no ${entry}`)
  return entry
}

const runChild = (entry: string, driver: string, ctx: Context): Promise<ChildResult> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, ["--no-warnings", ...nodeOptions, entry, driver, "stream"], {
      cwd: repoRoot,
      env: { ...process.env, BENCH_CONTEXT: JSON.stringify(ctx), BENCH_MEMORY_SAMPLE_MILLIS: String(SAMPLE_MILLIS) },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MILLIS)
    child.on("close", (code) => {
      clearTimeout(timer)
      if (logFile !== undefined) {
        const lines = stdout.split("\n").filter((l) => !l.startsWith("RESULT "))
        fs.appendFileSync(logFile, `== ${path.relative(repoRoot, entry)} ${ctx.ops} rows\n${lines.join("\n")}\n`)
      }
      const line = stdout.split("\n").find((l) => l.startsWith("RESULT "))
      resolve(line === undefined ? { error: `exit ${code}: ${stderr.trim().slice(-400)}` } : JSON.parse(line.slice(7)))
    })
  })

const YOUNG = ["new_space", "new_large_object_space"]

/** The split of one sample, against the first one. */
const split = (s: Sample) => {
  let young = 0
  let old = 0
  for (const [name, [size]] of Object.entries(s.spaces)) {
    if (YOUNG.includes(name)) young += size
    else old += size
  }
  return { young, old, external: s.external, other: s.rss - s.heapTotal - s.external }
}

const describe = (rows: number, driver: string, r: ChildResult): string => {
  if (r.error !== undefined || r.samples === undefined || r.samples.length === 0) return `${rows} rows: ${r.error}`
  const base = r.baseRssKiB! * 1024
  const growth = r.maxRssKiB! * 1024 - base
  const first = r.samples[0]!
  const peak = r.samples.reduce((a, b) => (b.rss > a.rss ? b : a))
  const at = (s: Sample) => {
    const p = split(s)
    const f = split(first)
    return `rss ${mib(s.rss)} (heap used ${mib(s.heapUsed)}): young ${mib(p.young)} (${mib(p.young - f.young)}), old ${
      mib(p.old)
    } (${mib(p.old - f.old)}), external ${mib(p.external)} (${mib(p.external - f.external)}), other ${mib(p.other)} (${
      mib(p.other - f.other)
    })`
  }
  const lines = [
    `${rows.toLocaleString("en-US")} rows, ${driver}: ${(r.millis! / 1000).toFixed(1)} s, client CPU ${
      (r.cpuMicros! / rows).toFixed(2)
    } µs/row (${(r.systemMicros! / rows).toFixed(2)} system), check ${
      r.check === expectedCheck("stream", rows, 0) ? "ok" : `WRONG ${r.check}`
    }`,
    `  growth ${mib(growth)} MiB (peak ${mib(r.maxRssKiB! * 1024)}, before ${mib(base)})`,
    `  first sample: ${at(first)}`,
    `  at the sampled peak (${(peak.t / 1000).toFixed(1)} s): ${at(peak)}`,
    `  last sample (${(r.samples.at(-1)!.t / 1000).toFixed(1)} s): ${at(r.samples.at(-1)!)}`
  ]
  return lines.join("\n")
}

const entries = variants === undefined
  ? [compile()]
  : variants.map((dir) => path.resolve(dir, "bench", "e2e", "child.js"))
const server = await startServer({
  name: "memory-e2e",
  tls: true,
  settings: { fsync: false, synchronous_commit: false, full_page_writes: false, jit: false, shared_buffers: "256MB" }
})
const info = server.info
const admin = new pg.Client({ host: info.host, port: info.port, user: info.user, database: info.database })
const all: Array<{ rows: number; variant: string; driver: string; round: number; result: ChildResult }> = []
try {
  await admin.connect()
  await admin.query(`drop table if exists ${ROWS_TABLE}`)
  await admin.query(`create table ${ROWS_TABLE} (${MIXED_TABLE_COLUMNS})`)
  let filled = 0
  for (const rows of counts) {
    while (filled < rows) {
      const to = Math.min(rows, filled + INSERT_STEP_ROWS)
      await admin.query(`insert into ${ROWS_TABLE} select ${MIXED_COLUMNS.join(", ")} from generate_series(${filled + 1}, ${to}) g`)
      filled = to
    }
    await admin.query(`vacuum analyze ${ROWS_TABLE}`)
    const ctx: Context = {
      host: info.host,
      port: info.port,
      user: info.user,
      database: info.database,
      scramUser: ROLES.scram,
      scramPassword: PASSWORDS.scramuser,
      tlsUser: ROLES.ssl,
      tlsPassword: PASSWORDS.ssluser,
      caFile: info.certs!.caCert,
      ops: rows,
      copyTable: "",
      copyFile: ""
    }
    for (let round = 1; round <= rounds; round++) {
      for (const entry of entries) {
        for (const driver of drivers) {
          const result = await runChild(entry, driver, ctx)
          const variant = path.relative(repoRoot, entry)
          all.push({ rows, variant, driver, round, result })
          if (entries.length > 1 || rounds > 1) console.log(`${variant}, round ${round}:`)
          console.log(describe(rows, driver, result))
        }
      }
    }
  }
  if (jsonFile !== undefined) fs.writeFileSync(jsonFile, JSON.stringify({ drivers, nodeOptions, runs: all }) + "\n")
} finally {
  await admin.end().catch(() => {})
  await server.stop()
}
