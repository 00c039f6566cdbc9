/**
 * The end-to-end benchmark suite (`npm run bench`).
 *
 * **What it does**
 *
 * 1. Starts the embedded PostgreSQL 18 on loopback TCP with TLS on and
 *    durability off (fsync, synchronous_commit and full_page_writes off, as the
 *    test harness always sets them; JIT off so a plan's compile time does not
 *    blur the client's).
 * 2. Creates the data: `bench_rows` (the mixed rows), `bench_json` (the ~7 KB
 *    documents), `bench_wide_json` (the ~10 KB nested documents, stored
 *    uncompressed), and a COPY text file of `bench_rows` in a temporary
 *    directory.
 * 3. For each round, each workload and each driver (in an order rotated every
 *    round), runs the workload in a fresh child process (`child.ts`), or the
 *    C reference (`Pgbench.ts`), and checks its result value.
 * 4. Prints a table per workload (median, min, max, throughput, paired ratio
 *    to postgres.js, client CPU per operation, peak RSS) and the targets of
 *    issue 7, and writes `bench/RESULTS.md` and `bench/results.json`.
 *
 * **Environment**
 *
 * - `BENCH_ROUNDS` (default 5): rounds.
 * - `BENCH_ONLY`: comma-separated workload and/or driver ids to run (e.g.
 *   `select1,rows,effect-pgwire,postgres.js`); all when absent.
 * - `BENCH_SCALE` (default 1): multiplies every workload's size (quick runs).
 * - `BENCH_TIMEOUT_SECONDS` (default 300): a child still running after this is
 *   killed and its run counted as failed.
 * - `BENCH_PROFILE=<dir>`: children run with `node --cpu-prof` and write
 *   their profiles into `<dir>` (see `profile.ts`).
 * - `BENCH_WRITE=1`: write the results files even for a partial run (by
 *   default only a full run, all workloads and drivers at scale 1, replaces
 *   `bench/RESULTS.md` and `bench/results.json`).
 * - `BENCH_RESULTS=<name>`: write the results of this run, partial or not, to
 *   `bench/<name>.md` and `bench/<name>.json` instead (a focused run, e.g.
 *   `BENCH_ONLY=jsonb,wide-json BENCH_RESULTS=results-jsonb`, kept beside the
 *   full run's files).
 * - `BENCH_FROM_SOURCE=1`: run the children from the TypeScript sources
 *   (Node's type stripping) instead of compiling them first.
 *
 * **Why the children run compiled JavaScript**
 *
 * An installed effect-pgwire is JavaScript (`dist/`), and so are the peers.
 * Node's type stripping costs memory (its transformer stays resident, about
 * 20-30 MiB in a child) and start-up time that no user pays, and it would
 * weigh on peak RSS. So the suite first compiles `src/` and `bench/e2e/` with
 * `bench/tsconfig.e2e.json` into `node_modules/.cache/effect-pgwire-bench/`
 * (ignored by git, and inside `node_modules` so package imports resolve), and
 * the children run that output.
 *
 * Nothing here asserts: a wrong result value marks the run as failed in the
 * table, and the suite goes on.
 *
 * @since 0.1.0
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pipeline } from "node:stream/promises"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { to as copyTo } from "pg-copy-streams"
import { PASSWORDS, ROLES, startServer } from "../../test/support/EmbeddedPostgres.ts"
import { jsonDocsSql, MIXED_TABLE_COLUMNS, mixedRowsSql, WIDE_JSON_TABLE_COLUMNS, wideJsonDocsSql } from "../Data.ts"
import { describeMachine, fmt } from "../Machine.ts"
import { detectTools, runReference } from "./Pgbench.ts"
import { consoleTable, judge, markdownTargets, markdownWorkload, type Run, type Runs, summarise, type Summary, type Target } from "./Report.ts"
import {
  type Context,
  DRIVERS,
  type DriverId,
  expectedCheck,
  JSON_TABLE,
  ROWS_TABLE,
  WIDE_JSON_TABLE,
  type Workload,
  WORKLOADS
} from "./Workloads.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const benchDir = path.join(here, "..")
const repoRoot = path.join(benchDir, "..")

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

const env = process.env
const rounds = Math.max(1, Number(env["BENCH_ROUNDS"] ?? 5))
const scale = Number(env["BENCH_SCALE"] ?? 1)
const timeoutMs = Number(env["BENCH_TIMEOUT_SECONDS"] ?? 300) * 1000
const profileDir = env["BENCH_PROFILE"]
const fromSource = env["BENCH_FROM_SOURCE"] === "1"
const only = (env["BENCH_ONLY"] ?? "").split(",").map((s) => s.trim()).filter((s) => s.length > 0)
const onlyWorkloads = only.filter((s) => WORKLOADS.some((w) => w.id === s))
const onlyDrivers = only.filter((s) => (DRIVERS as ReadonlyArray<string>).includes(s))
const unknown = only.filter((s) => !onlyWorkloads.includes(s) && !onlyDrivers.includes(s))
if (unknown.length > 0) {
  console.error(`BENCH_ONLY: unknown ids ${unknown.join(", ")}; workloads: ${WORKLOADS.map((w) => w.id).join(", ")}; drivers: ${DRIVERS.join(", ")}`)
  process.exit(2)
}
const workloads = WORKLOADS.filter((w) => onlyWorkloads.length === 0 || onlyWorkloads.includes(w.id))
const drivers = DRIVERS.filter((d) => onlyDrivers.length === 0 || onlyDrivers.includes(d))
const complete = workloads.length === WORKLOADS.length && drivers.length === DRIVERS.length && scale === 1
const resultsName = env["BENCH_RESULTS"]
if (resultsName !== undefined && !/^[A-Za-z0-9._-]+$/.test(resultsName)) {
  console.error(`BENCH_RESULTS: a file name without a directory or extension (letters, digits, '.', '_', '-'), not ${resultsName}`)
  process.exit(2)
}
const write = complete || env["BENCH_WRITE"] === "1" || resultsName !== undefined
const mdFile = resultsName === undefined ? "RESULTS.md" : `${resultsName}.md`
const jsonFile = resultsName === undefined ? "results.json" : `${resultsName}.json`
const opsOf = (w: Workload): number => Math.max(1, Math.round(w.ops * scale))
/** The mixed rows (and their COPY file) are only made when a workload reads them: a focused run skips the 1M-row insert. */
const rowsCount = workloads.some((w) => ["rows", "stream", "copy-in", "copy-out"].includes(w.id))
  ? opsOf(WORKLOADS.find((w) => w.id === "rows")!)
  : 0
const jsonCount = opsOf(WORKLOADS.find((w) => w.id === "jsonb")!)
const wideJsonCount = opsOf(WORKLOADS.find((w) => w.id === "wide-json")!)

const packageVersion = (name: string): string => {
  try {
    return JSON.parse(fs.readFileSync(path.join(repoRoot, "node_modules", name, "package.json"), "utf8")).version
  } catch {
    return "?"
  }
}

/** Files under `src/` that differ from the commit (new, changed or deleted): what the run measured beyond it. */
const uncommittedSources = (): ReadonlyArray<string> => {
  try {
    return execFileSync("git", ["status", "--porcelain", "--untracked-files=all", "--", "src"], { cwd: repoRoot, encoding: "utf8" })
      .split("\n")
      .filter((l) => l.trim().length > 0)
      .map((l) => l.slice(3))
  } catch {
    return []
  }
}

const gitRevision = (): string => {
  try {
    return execFileSync("git", ["describe", "--always", "--dirty"], { cwd: repoRoot, encoding: "utf8" }).trim()
  } catch {
    return "unknown"
  }
}

// ---------------------------------------------------------------------------
// Children
// ---------------------------------------------------------------------------

const compiledDir = path.join(repoRoot, "node_modules", ".cache", "effect-pgwire-bench")

/** Compiles the children (see the module header); returns the child's entry file. */
const compileChildren = (): string => {
  if (fromSource) return path.join(here, "child.ts")
  fs.rmSync(compiledDir, { recursive: true, force: true })
  const tsc = path.join(repoRoot, "node_modules", ".bin", "tsc")
  try {
    execFileSync(tsc, ["-p", path.join(benchDir, "tsconfig.e2e.json")], { cwd: repoRoot, stdio: "pipe" })
  } catch (e) {
    // Type errors still emit JavaScript; only a missing output is fatal.
    const output = e instanceof Error && "stdout" in e ? String((e as { stdout: unknown }).stdout) : String(e)
    console.log(`tsc reported errors (the output is used anyway):\n${output.split("\n").slice(0, 10).join("\n")}`)
  }
  const entry = path.join(compiledDir, "bench", "e2e", "child.js")
  if (!fs.existsSync(entry)) throw new Error(`compiling the benchmark children produced no ${entry}`)
  return entry
}

const runChild = (entry: string, driver: DriverId, workload: Workload, ctx: Context, round: number) =>
  new Promise<Run>((resolve) => {
    const args = ["--no-warnings"]
    if (profileDir !== undefined) {
      fs.mkdirSync(profileDir, { recursive: true })
      const name = `${driver.replace(/[^a-z0-9.-]/gi, "_")}-${workload.id}-r${round}.cpuprofile`
      args.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}`)
    }
    args.push(entry, driver, workload.id)
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      env: { ...env, BENCH_CONTEXT: JSON.stringify(ctx) },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      const line = stdout.split("\n").find((l) => l.startsWith("RESULT "))
      if (line === undefined) {
        const why = signal === "SIGKILL" ? `killed after ${timeoutMs / 1000} s` : `exit ${code ?? signal}`
        resolve({ round, error: `${why}: ${stderr.trim().split("\n").slice(-3).join(" ").slice(0, 400)}` })
        return
      }
      resolve({ round, ...(JSON.parse(line.slice("RESULT ".length)) as Omit<Run, "round">) })
    })
  })

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

const main = async (): Promise<void> => {
  const started = performance.now()
  const machine = describeMachine()
  const loadBefore = os.loadavg()
  const tools = detectTools()
  const childEntry = compileChildren()
  console.log(`effect-pgwire e2e benchmarks: ${workloads.length} workloads x ${drivers.length} drivers x ${rounds} rounds${scale !== 1 ? `, scale ${scale}` : ""}`)
  console.log(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}`)
  if (drivers.includes("pgbench")) {
    console.log(`pgbench: ${tools.pgbench ?? "not installed (Debian package postgresql-client): its column stays empty"}`)
    console.log(`psql: ${tools.psql ?? "not installed: no COPY reference"}`)
    if (!tools.gnuTime) console.log("GNU time (/usr/bin/time) not installed: no CPU/RSS figures for the C reference")
  }

  const serverSettings = {
    fsync: false,
    synchronous_commit: false,
    full_page_writes: false,
    jit: false,
    shared_buffers: "256MB",
    max_connections: 100
  }
  const server = await startServer({ name: "bench", tls: true, settings: serverSettings })
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pgwire-bench-data-"))
  const admin = new pg.Client({ host: server.info.host, port: server.info.port, user: server.info.user, database: server.info.database })
  try {
    const info = server.info
    await admin.connect()
    console.log(
      `PostgreSQL ${info.version} on ${info.host}:${info.port}; creating ${rowsCount} mixed rows, ${jsonCount} jsonb documents and ${wideJsonCount} nested ones...`
    )
    await admin.query(`drop table if exists ${ROWS_TABLE}, ${JSON_TABLE}, ${WIDE_JSON_TABLE}`)
    await admin.query(`create table ${ROWS_TABLE} (${MIXED_TABLE_COLUMNS})`)
    await admin.query(`insert into ${ROWS_TABLE} ${mixedRowsSql(rowsCount)}`)
    await admin.query(`create table ${JSON_TABLE} as ${jsonDocsSql(jsonCount)}`)
    // Issue 22's table as the issue gives it: unlogged, its documents stored uncompressed.
    await admin.query(`create unlogged table ${WIDE_JSON_TABLE} (${WIDE_JSON_TABLE_COLUMNS})`)
    await admin.query(`alter table ${WIDE_JSON_TABLE} alter column doc set storage external`)
    await admin.query(`insert into ${WIDE_JSON_TABLE} ${wideJsonDocsSql(wideJsonCount)}`)
    await admin.query(`vacuum analyze ${ROWS_TABLE}, ${JSON_TABLE}, ${WIDE_JSON_TABLE}`)
    const jsonSize = (await admin.query(`select avg(octet_length(doc::text))::int as n from ${JSON_TABLE}`)).rows[0]!["n"]
    const wideJsonSize = (await admin.query(`select avg(octet_length(doc::text))::int as n from ${WIDE_JSON_TABLE}`)).rows[0]!["n"]
    const copyFile = path.join(tmp, "rows.copy")
    await pipeline(admin.query(copyTo(`copy ${ROWS_TABLE} to stdout`)), fs.createWriteStream(copyFile))
    const copyBytes = fs.statSync(copyFile).size
    // The server runs as another user when this process is root: it never opens the file itself (COPY FROM STDIN).
    console.log(
      `data ready: COPY file ${fmt(copyBytes / 2 ** 20)} MiB, jsonb documents ${jsonSize} bytes on average, nested ones ${wideJsonSize}`
    )

    const baseCtx: Omit<Context, "ops" | "copyTable"> = {
      host: info.host,
      port: info.port,
      user: info.user,
      database: info.database,
      scramUser: ROLES.scram,
      scramPassword: PASSWORDS.scramuser,
      tlsUser: ROLES.ssl,
      tlsPassword: PASSWORDS.ssluser,
      caFile: info.certs!.caCert,
      copyFile
    }

    const runs: Runs = {}
    let copyTables = 0
    for (let round = 1; round <= rounds; round++) {
      const order = drivers.map((_, i) => drivers[(i + round - 1) % drivers.length]!)
      for (const workload of workloads) {
        for (const driver of order) {
          const ops = opsOf(workload)
          const copyTable = `bench_copy_${++copyTables}`
          if (workload.id === "copy-in") await admin.query(`create unlogged table ${copyTable} (${MIXED_TABLE_COLUMNS})`)
          const ctx: Context = { ...baseCtx, ops, copyTable }
          let run: Run
          if (driver === "pgbench") {
            try {
              const r = await runReference(workload.id, ctx, tools, timeoutMs)
              run = typeof r === "string"
                ? { round, notApplicable: r }
                : {
                  round,
                  millis: r.millis,
                  cpuMicros: r.cpuMicros,
                  systemMicros: r.systemMicros,
                  maxRssKiB: r.maxRssKiB,
                  check: r.completed === ops ? expectedCheck(workload.id, ops, copyBytes) : -r.completed
                }
            } catch (e) {
              run = { round, error: e instanceof Error ? e.message : String(e) }
            }
          } else {
            run = await runChild(childEntry, driver, workload, ctx, round)
          }
          if (workload.id === "copy-in") {
            // Whatever the driver reports, the rows must be in the table.
            if (run.millis !== undefined) {
              run = { ...run, check: Number((await admin.query(`select count(*)::int as n from ${copyTable}`)).rows[0]!["n"]) }
            }
            await admin.query(`drop table ${copyTable}`)
          }
          if (run.millis !== undefined) run = { ...run, expected: expectedCheck(workload.id, ops, copyBytes) }
          const forWorkload = (runs[workload.id] ??= {})
          ;(forWorkload[driver] ??= []).push(run)
          const shown = run.millis !== undefined
            ? `${fmt(run.millis)} ms${run.check !== run.expected ? ` WRONG RESULT (check ${run.check}, expected ${run.expected})` : ""}`
            : run.notApplicable !== undefined
            ? `n/a (${run.notApplicable})`
            : `FAILED: ${run.error}`
          console.log(`[round ${round}/${rounds}] ${workload.id.padEnd(13)} ${driver.padEnd(14)} ${shown}`)
        }
      }
    }

    // -- report ---------------------------------------------------------------
    const summaries: Record<string, ReadonlyArray<Summary>> = {}
    const targets: Array<Target> = []
    for (const workload of workloads) {
      const s = drivers.map((d) => summarise(workload, opsOf(workload), d, runs))
      summaries[workload.id] = s
      if (drivers.includes("effect-pgwire")) targets.push(...judge(workload, s, runs))
      console.log(`\n${workload.number} ${workload.id}: ${workload.title}\n`)
      console.log(consoleTable(s, workload.unit))
    }
    const totalSeconds = (performance.now() - started) / 1000
    const loadAfter = os.loadavg()
    console.log(`\nTargets for effect-pgwire (paired medians)\n`)
    for (const t of targets) {
      console.log(`  ${t.workload.padEnd(13)} ${t.label.padEnd(58)} ${t.value === undefined ? "—" : fmt(t.value)}  ${t.met === undefined ? "not judged" : t.met ? "met" : "MISSED"}`)
    }
    console.log(`\ntotal ${fmt(totalSeconds)} s`)

    if (!write) {
      console.log("partial run: bench/RESULTS.md and bench/results.json left as they are (BENCH_WRITE=1 or BENCH_RESULTS=<name> to write them)")
      return
    }
    const versions = {
      "effect-pgwire": gitRevision(),
      effect: packageVersion("effect"),
      "postgres.js": packageVersion("postgres"),
      "node-postgres": `pg ${packageVersion("pg")}, pg-cursor ${packageVersion("pg-cursor")}, pg-copy-streams ${packageVersion("pg-copy-streams")}`,
      "@effect/sql-pg": packageVersion("@effect/sql-pg"),
      pgbench: tools.pgbench ?? "not installed",
      psql: tools.psql ?? "not installed"
    }
    const uncommitted = uncommittedSources()
    const pending = workloads.flatMap((w) =>
      (summaries[w.id] ?? []).filter((s) => s.status !== "ok").map((s) => `- ${w.number} ${w.id}, ${s.driver}: ${s.status} (${s.note})`)
    )
    const md = renderMarkdown({
      machine,
      server: `PostgreSQL ${info.version} (embedded, loopback TCP, ${Object.entries(serverSettings).map(([k, v]) => `${k}=${v}`).join(", ")})`,
      versions,
      summaries,
      targets,
      pending,
      uncommitted,
      totalSeconds,
      loadBefore,
      loadAfter,
      copyBytes,
      jsonSize: Number(jsonSize),
      wideJsonSize: Number(wideJsonSize)
    })
    fs.writeFileSync(path.join(benchDir, mdFile), md)
    fs.writeFileSync(
      path.join(benchDir, jsonFile),
      JSON.stringify(
        {
          machine,
          server: info.version,
          serverSettings,
          rounds,
          scale,
          versions,
          uncommittedSources: uncommitted,
          loadAverage: { before: loadBefore, after: loadAfter },
          totalSeconds,
          workloads: workloads.map((w) => ({ ...w, ops: opsOf(w), summaries: summaries[w.id], runs: runs[w.id] })),
          targets
        },
        null,
        1
      ) + "\n"
    )
    console.log(`wrote bench/${mdFile} and bench/${jsonFile}`)
  } finally {
    await admin.end().catch(() => {})
    fs.rmSync(tmp, { recursive: true, force: true })
    await server.stop()
  }
}

const renderMarkdown = (r: {
  readonly machine: ReturnType<typeof describeMachine>
  readonly server: string
  readonly versions: Readonly<Record<string, string>>
  readonly summaries: Readonly<Record<string, ReadonlyArray<Summary>>>
  readonly targets: ReadonlyArray<Target>
  readonly pending: ReadonlyArray<string>
  readonly uncommitted: ReadonlyArray<string>
  readonly totalSeconds: number
  readonly loadBefore: ReadonlyArray<number>
  readonly loadAfter: ReadonlyArray<number>
  readonly copyBytes: number
  readonly jsonSize: number
  readonly wideJsonSize: number
}): string => {
  const load = (l: ReadonlyArray<number>) => l.map((x) => x.toFixed(2)).join(" / ")
  const sections = workloads.map((w) =>
    `### ${w.number}. ${w.title}\n\n${opsOf(w).toLocaleString("en-US")} ${w.unit}. Target: ${w.target}.\n\n${markdownWorkload(r.summaries[w.id] ?? [], `${w.unit}/s`)}`
  )
  return `# Benchmark results

${
    resultsName === undefined
      ? `Generated by \`npm run bench\` (\`bench/e2e/main.ts\`); micro benchmarks are in [micro/RESULTS.md](micro/RESULTS.md).
Every number comes from one run of that command; it is replaced by the next full run.`
      : `Generated by \`${only.length > 0 ? `BENCH_ONLY=${only.join(",")} ` : ""}BENCH_RESULTS=${resultsName} npm run bench\` (\`bench/e2e/main.ts\`): a focused run
of ${workloads.length === WORKLOADS.length ? "every workload" : `workloads ${workloads.map((w) => w.number).join(", ")}`}; the full run is in [RESULTS.md](RESULTS.md).`
  }

## Setup

- Machine: ${r.machine.cpuModel}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB memory, ${r.machine.os}
- Node ${r.machine.node}; ${r.server}
- Date: ${r.machine.date}; ${rounds} rounds; total ${fmt(r.totalSeconds)} s; load average (1/5/15 min) before ${load(r.loadBefore)}, after ${load(r.loadAfter)}
- Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join("; ")}${
    r.uncommitted.length === 0
      ? ""
      : `\n- Work in progress measured with it (not yet committed at the time of the run): ${r.uncommitted.map((f) => `\`${f}\``).join(", ")}`
  }
- Data: ${
    rowsCount === 0
      ? `\`${ROWS_TABLE}\` not filled (no workload of this run reads it)`
      : `\`${ROWS_TABLE}\` ${rowsCount.toLocaleString("en-US")} rows (int4, int8, text with 10% NULL, timestamptz, float8, bool, numeric(16,4), uuid, small jsonb)`
  }; \`${JSON_TABLE}\` ${jsonCount.toLocaleString("en-US")} rows of ${r.jsonSize} bytes of jsonb on average; \`${WIDE_JSON_TABLE}\` ${wideJsonCount.toLocaleString("en-US")} rows of ${r.wideJsonSize} bytes of nested jsonb on average, stored uncompressed${rowsCount === 0 ? "" : `; COPY file ${fmt(r.copyBytes / 2 ** 20)} MiB`}.

How to read the tables:

- Each driver runs each workload in a fresh child process per round; the order of the drivers rotates every round.
  The time covers the workload only (connecting is outside it, except in workloads 8a/8b).
- "× postgres.js (paired)": per round, the driver's time over postgres.js's time in the same round; the median of those
  ratios (below 1 is faster than postgres.js).
- "client CPU µs/op": the child's user + system CPU during the timed part, per query, row or connection (median over rounds); in parentheses the system (kernel) part of it.
  The server's CPU is not included; client and server share the same ${r.machine.cores} cores.
- "peak RSS": the child's maximum resident set over its whole life (runtime and modules included); in parentheses, its resident
  size just before the timed part.
- pgbench/psql (libpq, C): times from pgbench's own tps (initial connection excluded; with \`-C\` every reconnection included);
  psql \`\\copy\` is timed as a whole process. Their CPU and RSS (GNU time) cover the whole process.
- Each driver runs with its defaults: postgres.js and node-postgres receive text and return int8/numeric as strings; effect-pgwire
  and @effect/sql-pg receive binary (int8 as bigint, numeric as an exact string). For the concurrent workloads the pipelining switch
  of each driver that has one is on (effect-pgwire's pool and @effect/sql-pg: \`multiplex: true\`; postgres.js pipelines by default;
  node-postgres cannot). Workload 3c is pgbench's \`\\startpipeline\` shape: 200 pipelines of 100 queries, each awaited before the
  next; effect-pgwire sends each as one \`batch\` (one Sync), postgres.js and @effect/sql-pg as 100 queries issued together.
  A run whose result value (row count or checksum) is wrong counts as failed.

## Results

${sections.join("\n\n")}

## Targets (issue 7; effect-pgwire, paired medians)

${r.targets.length === 0 ? "Not judged (effect-pgwire was not run)." : markdownTargets(workloads, r.targets)}

## Not measured

${r.pending.length === 0 ? "Everything ran." : r.pending.join("\n")}
`
}

await main()
