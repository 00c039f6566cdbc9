/**
 * The C reference: libpq through `pgbench` (custom scripts with `-f`, one
 * client unless the workload is the pool, `-M prepared` for statements run
 * many times, `\startpipeline` for pipelining, `-C` for connection setup) and
 * through `psql`'s `\copy` for the COPY workloads, which pgbench cannot do.
 *
 * **Measurement**
 *
 * - pgbench: the time is derived from its own `tps` line (transactions over
 *   tps), which excludes process start and the initial connection, as the
 *   Node children exclude theirs; with `-C` it includes every reconnection.
 * - psql: the wall time of the whole process (start and connection included,
 *   a few milliseconds against seconds of COPY).
 * - CPU and peak RSS come from GNU time (`/usr/bin/time`) when installed (for
 *   pgbench they cover the whole process, start and connection included);
 *   otherwise they are not reported.
 *
 * libpq defaults to `sslmode=prefer`, and the benchmark server has TLS on, so
 * every run sets `PGSSLMODE` explicitly.
 *
 * If `pgbench`/`psql` are missing (Debian package `postgresql-client`), the
 * workloads report that instead of a number.
 *
 * @since 0.1.0
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Context, JSON_TABLE, PIPELINE_BATCH, ROWS_TABLE, TLS_CHECK_SQL, WIDE_JSON_TABLE, type WorkloadId } from "./Workloads.ts"

/**
 * One measured run of a reference tool.
 *
 * @since 0.1.0
 */
export interface ToolRun {
  readonly millis: number
  readonly cpuMicros: number | undefined
  /** The system (kernel) part of `cpuMicros`. */
  readonly systemMicros: number | undefined
  readonly maxRssKiB: number | undefined
  /** Operations the tool reports it completed. */
  readonly completed: number
}

/**
 * Which client tools exist on this machine.
 *
 * @since 0.1.0
 */
export interface Tools {
  readonly pgbench: string | undefined
  readonly psql: string | undefined
  readonly gnuTime: boolean
}

const version = (binary: string): string | undefined => {
  const r = spawnSync(binary, ["--version"], { encoding: "utf8" })
  return r.status === 0 ? r.stdout.trim() : undefined
}

/**
 * Looks for `pgbench`, `psql` and GNU time on the PATH.
 *
 * @since 0.1.0
 */
export const detectTools = (): Tools => ({
  pgbench: version("pgbench"),
  psql: version("psql"),
  gnuTime: spawnSync("/usr/bin/time", ["-f", "%U", "true"], { encoding: "utf8" }).status === 0
})

interface Plan {
  readonly tool: "pgbench" | "psql"
  readonly args: ReadonlyArray<string>
  readonly script?: string
  readonly env: Readonly<Record<string, string>>
  /** Operations per pgbench transaction. */
  readonly perTransaction: number
}

const repeat = (line: string, n: number): string => Array.from({ length: n }, () => line).join("\n")

const plan = (workload: WorkloadId, ctx: Context): Plan | string => {
  const base = { PGHOST: ctx.host, PGPORT: String(ctx.port), PGUSER: ctx.user, PGDATABASE: ctx.database, PGSSLMODE: "disable" }
  const bench = (script: string, args: ReadonlyArray<string>, perTransaction = 1, env: Readonly<Record<string, string>> = {}): Plan => ({
    tool: "pgbench",
    script: script + "\n",
    args: ["-n", "-c", "1", "-j", "1", ...args],
    env: { ...base, ...env },
    perTransaction
  })
  const paramsScript = "\\set n random(1, 1000000)\nselect :n::int4 as n, :n::text as s;"
  switch (workload) {
    case "select1":
      return bench("select 1 as n;", ["-M", "prepared", "-t", String(ctx.ops)])
    case "params":
    case "prepared":
      return bench(paramsScript, ["-M", "prepared", "-t", String(ctx.ops)])
    case "pipeline":
    case "batch": {
      const batch = PIPELINE_BATCH
      return bench(`\\startpipeline\n${repeat("select 1 as n;", batch)}\n\\endpipeline`, [
        "-M",
        "prepared",
        "-t",
        String(Math.ceil(ctx.ops / batch))
      ], batch)
    }
    case "pool":
      return {
        ...bench("select 1 as n;", ["-M", "prepared"]),
        args: ["-n", "-c", "4", "-j", "2", "-M", "prepared", "-t", String(Math.ceil(ctx.ops / 4))]
      }
    case "rows":
      return bench(`select * from ${ROWS_TABLE};`, ["-M", "extended", "-t", "1"], ctx.ops)
    case "jsonb":
      return bench(`select id, doc from ${JSON_TABLE};`, ["-M", "extended", "-t", "1"], ctx.ops)
    case "wide-json":
      return bench(`select id, doc from ${WIDE_JSON_TABLE};`, ["-M", "extended", "-t", "1"], ctx.ops)
    case "stream":
      return "pgbench keeps a whole result in memory (no row-by-row or paged fetch)"
    case "copy-in":
      return {
        tool: "psql",
        args: ["-X", "-v", "ON_ERROR_STOP=1", "-c", `\\copy ${ctx.copyTable} from '${ctx.copyFile}'`],
        env: base,
        perTransaction: 1
      }
    case "copy-out":
      return {
        tool: "psql",
        args: ["-X", "-v", "ON_ERROR_STOP=1", "-c", `\\copy ${ROWS_TABLE} to '/dev/null'`],
        env: base,
        perTransaction: 1
      }
    case "connect-scram":
      return bench("select 1 as n;", ["-C", "-M", "extended", "-t", String(ctx.ops)], 1, {
        PGUSER: ctx.scramUser,
        PGPASSWORD: ctx.scramPassword
      })
    case "connect-tls":
      return bench(`${TLS_CHECK_SQL};`, ["-C", "-M", "extended", "-t", String(ctx.ops)], 1, {
        PGUSER: ctx.tlsUser,
        PGPASSWORD: ctx.tlsPassword,
        PGSSLMODE: "verify-full",
        PGSSLROOTCERT: ctx.caFile
      })
  }
}

const run = (command: string, args: ReadonlyArray<string>, env: Readonly<Record<string, string>>, timeoutMs: number) =>
  new Promise<{ code: number | null; stdout: string; stderr: string; millis: number }>((resolve) => {
    const t0 = performance.now()
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, millis: performance.now() - t0 })
    })
  })

/**
 * Runs one workload with the reference tool; a string when it cannot.
 *
 * @since 0.1.0
 */
export const runReference = async (
  workload: WorkloadId,
  ctx: Context,
  tools: Tools,
  timeoutMs: number
): Promise<ToolRun | string> => {
  const p = plan(workload, ctx)
  if (typeof p === "string") return p
  if (tools[p.tool] === undefined) return `${p.tool} is not installed (Debian package postgresql-client)`
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgwire-bench-"))
  try {
    const args = [...p.args]
    if (p.script !== undefined) {
      const file = path.join(dir, "script.sql")
      fs.writeFileSync(file, p.script)
      args.push("-f", file)
    }
    const timeFile = path.join(dir, "time.txt")
    const [command, fullArgs] = tools.gnuTime
      ? ["/usr/bin/time", ["-f", "%U %S %M", "-o", timeFile, p.tool, ...args]] as const
      : [p.tool, args] as const
    const r = await run(command, fullArgs, p.env, timeoutMs)
    if (r.code !== 0) throw new Error(`${p.tool} exited with ${r.code}: ${(r.stderr || r.stdout).trim().slice(-600)}`)
    let cpuMicros: number | undefined
    let systemMicros: number | undefined
    let maxRssKiB: number | undefined
    if (tools.gnuTime) {
      const [user, system, rss] = fs.readFileSync(timeFile, "utf8").trim().split(/\s+/).slice(-3).map(Number)
      cpuMicros = ((user ?? 0) + (system ?? 0)) * 1e6
      systemMicros = (system ?? 0) * 1e6
      maxRssKiB = rss
    }
    if (p.tool === "psql") {
      const m = /COPY (\d+)/.exec(r.stdout)
      return { millis: r.millis, cpuMicros, systemMicros, maxRssKiB, completed: m === null ? 0 : Number(m[1]) }
    }
    const tps = /tps = ([\d.]+)/.exec(r.stdout)
    const processed = /number of transactions actually processed: (\d+)/.exec(r.stdout)
    if (tps === null || processed === null) throw new Error(`unexpected pgbench output:\n${r.stdout.slice(-600)}`)
    const transactions = Number(processed[1])
    return {
      millis: (transactions / Number(tps[1])) * 1000,
      cpuMicros,
      systemMicros,
      maxRssKiB,
      completed: transactions * p.perTransaction
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
