/**
 * Proxy benchmark: pgbench through PgProxy, through Debian's PgBouncer (both in
 * transaction mode with a pool of 4) and directly, in interleaved rounds:
 * `-S` simple, `-S` extended, the default tpcb-like script (simple), and `-S`
 * prepared (PgProxy and direct only: PgBouncer before 1.21 runs another client's
 * statement), and for the select-only runs Node's `socket.pipe` with one
 * upstream per client (no pooling: the floor of any Node relay), each `-c 16 -j 2 -T <seconds>`. Per run: TPS, failed
 * transactions, p99 latency (from `pgbench -l`), the proxy process's CPU per
 * transaction (user + system from /proc/<pid>/stat) and its RSS at the end.
 * Per round, the paired ratios PgProxy/PgBouncer of TPS and CPU per transaction.
 * Each workload first runs `WARMUP_SECONDS` through PgProxy unmeasured (JIT).
 *
 * With `PROXY_BASELINE=<another checkout>` a second PgProxy from that
 * checkout runs beside this one in the same rounds ("PgProxy baseline"), and
 * the paired ratios of this one against it are printed too (before/after).
 *
 *   npm exec -- node bench/proxy/main.ts [seconds] [rounds]
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { startServer } from "../../test/support/EmbeddedPostgres.ts"
import { startPgBouncer } from "../../test/support/PgBouncer.ts"

const SECONDS = Number(process.argv[2] ?? 10)
const ROUNDS = Number(process.argv[3] ?? 1)
const POOL = 4
/** Seconds of unmeasured load on the proxy per workload before the rounds. */
const WARMUP_SECONDS = 3
const CLOCK_TICKS_PER_SECOND = 100

const exec = (file: string, args: ReadonlyArray<string>, cwd?: string): Promise<{ stdout: string; stderr: string }> =>
  new Promise((resolve, reject) =>
    execFile(file, [...args], { maxBuffer: 64 * 1024 * 1024, cwd }, (error, stdout, stderr) =>
      error === null ? resolve({ stdout: String(stdout), stderr: String(stderr) }) : reject(new Error(`${file}: ${stderr}`))
    )
  )

const cpuTicks = (pid: number): number => {
  const [user, system] = cpuSplit(pid)
  return user + system
}

/** User and system clock ticks of a process (fields 14 and 15 of /proc/<pid>/stat). */
const cpuSplit = (pid: number): readonly [number, number] => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return [Number(fields[11]), Number(fields[12])]
}

const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0)

const pidOf = (needle: string): number => {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) return Number(entry)
    } catch {
      // gone
    }
  }
  throw new Error(`no process with ${needle}`)
}

const BASELINE = process.env["PROXY_BASELINE"]

const startProxy = (upstreamPort: number, user: string, root?: string): Promise<{ process: ChildProcess; port: number }> =>
  new Promise((resolve, reject) => {
    const extra = process.env["PROXY_NODE_ARGS"]?.split(" ").filter((a) => a !== "") ?? []
    const wrapper = process.env["PROXY_WRAPPER"]
    const serve = root === undefined ? path.join(import.meta.dirname, "serve.ts") : path.join(root, "bench", "proxy", "serve.ts")
    const argv = [...extra, "--no-warnings", serve, String(upstreamPort), user, String(POOL)]
    const p = spawn(wrapper ?? process.execPath, wrapper === undefined ? argv : [process.execPath, ...argv], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    p.stdout!.on("data", (d: Buffer) => {
      const m = /ready (\d+)/.exec(String(d))
      if (m !== null) resolve({ process: p, port: Number(m[1]) })
    })
    p.once("exit", (code) => reject(new Error(`proxy exited with ${code}`)))
  })

/** Node's socket.pipe to the server, one upstream per client (bench/server's floor of any Node proxy). */
const startPipe = (upstreamPort: number): Promise<{ process: ChildProcess; port: number }> =>
  new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--no-warnings", path.join(import.meta.dirname, "../server/serve.ts"), "pipe", String(upstreamPort)], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    p.stdout!.on("data", (d: Buffer) => {
      const m = /ready (\d+)/.exec(String(d))
      if (m !== null) resolve({ process: p, port: Number(m[1]) })
    })
    p.once("exit", (code) => reject(new Error(`pipe exited with ${code}`)))
  })

interface Run {
  readonly target: string
  readonly workload: string
  readonly tps: number
  readonly failed: number
  readonly errors: number
  readonly p99Millis: number
  readonly cpuMicrosPerTx: number | undefined
  /** Share of the proxy's CPU time spent in the kernel. */
  readonly systemShare: number | undefined
  readonly rssMiB: number | undefined
}

const ONLY = process.env["PROXY_BENCH_ONLY"]
const WORKLOADS_ALL = [
  { name: "select-only simple", args: ["-S", "-M", "simple"] },
  { name: "select-only extended", args: ["-S", "-M", "extended"] },
  { name: "tpcb-like simple", args: ["-M", "simple"] },
  { name: "select-only prepared", args: ["-S", "-M", "prepared"] }
] as const
const WORKLOADS = WORKLOADS_ALL.filter((w) => ONLY === undefined || w.name === ONLY)
const TARGETS = process.env["PROXY_BENCH_TARGETS"]?.split(",")

const pgbench = async (port: number, user: string, args: ReadonlyArray<string>, pid: number | undefined) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "proxy-bench-"))
  const before = pid === undefined ? 0 : cpuTicks(pid)
  const splitBefore = pid === undefined ? [0, 0] : cpuSplit(pid)
  const { stdout, stderr } = await exec(
    "pgbench",
    ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-n", "-c", "16", "-j", "2", "-T", String(SECONDS), "-l", "--log-prefix", path.join(dir, "tx"), ...args, "postgres"],
    dir
  )
  const ticks = pid === undefined ? 0 : cpuTicks(pid) - before
  const splitAfter = pid === undefined ? [0, 0] : cpuSplit(pid)
  const tx = Number(/number of transactions actually processed: (\d+)/.exec(stdout)![1])
  const latencies: Array<number> = []
  for (const file of fs.readdirSync(dir)) {
    for (const line of fs.readFileSync(path.join(dir, file), "utf8").split("\n")) {
      const field = line.split(" ")[2]
      if (field !== undefined) latencies.push(Number(field))
    }
  }
  fs.rmSync(dir, { recursive: true })
  latencies.sort((a, b) => a - b)
  return {
    tps: Number(/tps = ([\d.]+) \(without/.exec(stdout)![1]),
    failed: Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0),
    errors: (stderr.match(/ERROR/g) ?? []).length,
    p99Millis: (latencies[Math.floor(latencies.length * 0.99)] ?? 0) / 1000,
    cpuMicrosPerTx: pid === undefined ? undefined : (ticks / CLOCK_TICKS_PER_SECOND) * 1e6 / tx,
    systemShare: pid === undefined || ticks === 0 ? undefined : (splitAfter[1]! - splitBefore[1]!) / ticks,
    rssMiB: pid === undefined ? undefined : rssKiB(pid) / 1024
  }
}

const main = async () => {
  const pg = await startServer({ name: "proxybench", settings: { fsync: false, synchronous_commit: false, max_connections: 100 } })
  const { port, user } = pg.info
  await exec("pgbench", ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-i", "-s", "1", "-q", "postgres"])
  const bouncer = await startPgBouncer({ target: { host: "127.0.0.1", port }, defaultPoolSize: POOL, users: { [user]: "" } })
  const bouncerPid = pidOf(path.join(bouncer.dir, "pgbouncer.ini"))
  const proxy = await startProxy(port, user)
  const baseline = BASELINE === undefined ? undefined : await startProxy(port, user, BASELINE)
  const pipe = await startPipe(port)
  const runs: Array<Run & { readonly round: number }> = []
  try {
    // Warm-up, not measured: V8 compiles the proxy's hot paths during its first seconds of load.
    for (const workload of WORKLOADS) {
      await pgbench(proxy.port, user, [...workload.args, "-T", String(WARMUP_SECONDS)], undefined)
      if (baseline !== undefined) await pgbench(baseline.port, user, [...workload.args, "-T", String(WARMUP_SECONDS)], undefined)
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const workload of WORKLOADS) {
        const targets = [
          { name: "PgProxy", port: proxy.port, pid: proxy.process.pid },
          ...(baseline === undefined ? [] : [{ name: "PgProxy baseline", port: baseline.port, pid: baseline.process.pid }]),
          ...(workload.name.includes("prepared") ? [] : [{ name: `PgBouncer ${bouncer.version.join(".")}`, port: bouncer.port, pid: bouncerPid }]),
          ...(workload.name.startsWith("select-only s") || workload.name.startsWith("select-only e")
            ? [{ name: "Node pipe 1:1", port: pipe.port, pid: pipe.process.pid }]
            : []),
          { name: "direct", port, pid: undefined }
        ]
        for (const target of round % 2 === 0 ? [...targets].reverse() : targets) {
          if (TARGETS !== undefined && !TARGETS.some((t) => target.name.startsWith(t))) continue
          const r = await pgbench(target.port, user, workload.args, target.pid)
          const run = { round, target: target.name, workload: workload.name, ...r }
          runs.push(run)
          console.error(JSON.stringify(run))
        }
      }
    }
  } finally {
    proxy.process.kill(process.env["PROXY_NODE_ARGS"] === undefined ? "SIGTERM" : "SIGINT")
    baseline?.process.kill("SIGTERM")
    await new Promise((r) => setTimeout(r, 1000))
    pipe.process.kill("SIGTERM")
    await bouncer.stop()
    await pg.stop()
  }
  const lines = [
    `| round | workload | target | TPS | failed | ERROR lines | p99 ms | proxy CPU µs/tx | of it in kernel | proxy RSS MiB |`,
    `|---|---|---|---|---|---|---|---|---|---|`,
    ...runs.map((r) =>
      `| ${r.round} | ${r.workload} | ${r.target} | ${r.tps.toFixed(0)} | ${r.failed} | ${r.errors} | ${r.p99Millis.toFixed(2)} | ${
        r.cpuMicrosPerTx?.toFixed(1) ?? "-"
      } | ${r.systemShare === undefined ? "-" : `${(r.systemShare * 100).toFixed(0)}%`} | ${r.rssMiB?.toFixed(0) ?? "-"} |`
    ),
    "",
    "| round | workload | TPS PgProxy/PgBouncer | CPU per tx PgProxy/PgBouncer |",
    "|---|---|---|---|",
    ...runs.filter((r) => r.target === "PgProxy").flatMap((p) => {
      const b = runs.find((r) => r.round === p.round && r.workload === p.workload && r.target.startsWith("PgBouncer"))
      if (b === undefined) return []
      return [`| ${p.round} | ${p.workload} | ${(p.tps / b.tps).toFixed(2)} | ${(p.cpuMicrosPerTx! / b.cpuMicrosPerTx!).toFixed(2)} |`]
    }),
    ...(baseline === undefined ? [] : [
      "",
      "| round | workload | TPS PgProxy/baseline | CPU per tx PgProxy/baseline |",
      "|---|---|---|---|",
      ...runs.filter((r) => r.target === "PgProxy").flatMap((p) => {
        const b = runs.find((r) => r.round === p.round && r.workload === p.workload && r.target === "PgProxy baseline")
        if (b === undefined) return []
        return [`| ${p.round} | ${p.workload} | ${(p.tps / b.tps).toFixed(2)} | ${(p.cpuMicrosPerTx! / b.cpuMicrosPerTx!).toFixed(2)} |`]
      })
    ])
  ]
  console.log(lines.join("\n"))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
