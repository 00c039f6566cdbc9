/**
 * Server benchmark: pgbench's select-only workload (`-S -n -c 16 -j 2`), simple
 * and extended, against PostgreSQL directly, through Node's socket.pipe (the
 * floor of any Node proxy), through the example relay, and against PgServer
 * answering every statement itself (the engine's own cost). Reports TPS and the
 * server process's CPU per transaction (user + system, from /proc/<pid>/stat).
 *
 *   npm exec -- node bench/server/main.ts [seconds]
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { startServer } from "../../test/support/EmbeddedPostgres.ts"

const SECONDS = Number(process.argv[2] ?? 5)
const CLOCK_TICKS_PER_SECOND = 100

const exec = (file: string, args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile(file, [...args], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      error === null ? resolve(String(stdout)) : reject(new Error(`${file}: ${stderr}`))
    )
  )

const cpuTicks = (pid: number): number => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return Number(fields[11]) + Number(fields[12])
}

const child = (mode: string, upstreamPort: number): Promise<{ process: ChildProcess; port: number }> =>
  new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--no-warnings", path.join(import.meta.dirname, "serve.ts"), mode, String(upstreamPort)], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    p.stdout!.on("data", (d: Buffer) => {
      const m = /ready (\d+)/.exec(String(d))
      if (m !== null) resolve({ process: p, port: Number(m[1]) })
    })
    p.once("exit", (code) => reject(new Error(`${mode} server exited with ${code}`)))
  })

const pgbench = async (port: number, protocol: string, user: string) => {
  const out = await exec("pgbench", ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-S", "-n", "-c", "16", "-j", "2", "-T", String(SECONDS), "-M", protocol, "postgres"])
  const tx = Number(/number of transactions actually processed: (\d+)/.exec(out)![1])
  const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0)
  const tps = Number(/tps = ([\d.]+) \(without/.exec(out)![1])
  return { tx, failed, tps }
}

const main = async () => {
  const pg = await startServer({ name: "serverbench", settings: { fsync: false, synchronous_commit: false, max_connections: 100 } })
  const { port, user } = pg.info
  await exec("pgbench", ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-i", "-s", "1", "-q", "postgres"])
  const rows: Array<string> = []
  try {
    for (const target of ["direct", "pipe", "relay", "constant"] as const) {
      for (const protocol of ["simple", "extended"]) {
        const server = target === "direct" ? undefined : await child(target, port)
        const pid = server?.process.pid ?? pg.info.pid
        const before = cpuTicks(pid)
        const r = await pgbench(server?.port ?? port, protocol, user)
        const ticks = cpuTicks(pid) - before
        const cpuMicros = (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND / r.tx
        const cpu = target === "direct" ? "(postmaster only)" : cpuMicros.toFixed(1)
        rows.push(`| ${target} | ${protocol} | ${r.tps.toFixed(0)} | ${cpu} | ${r.failed} |`)
        console.log(rows.at(-1))
        server?.process.kill()
      }
    }
  } finally {
    await pg.stop()
  }
  console.log(`\npgbench -S -n -c 16 -j 2 -T ${SECONDS}\n\n| path | protocol | TPS | server CPU µs/tx | failed |\n|---|---|---|---|---|\n${rows.join("\n")}`)
}

await main()
