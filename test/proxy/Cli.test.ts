/**
 * The `pgproxy` command: its options, and psql through a proxy started as a
 * process from a libpq URL.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as path from "node:path"
import { PgError } from "../../src/errors/PgError.ts"
import { parseArgs, parseUserList } from "../../src/proxy/main.ts"
import { servers } from "../support/Servers.ts"
import { psqlArgs, run } from "./Support.ts"

describe("pgproxy command", () => {
  it("reads its options from arguments and the environment; refuses bad ones", () => {
    const o = parseArgs(["--upstream", "postgres://app@db:5433/app", "--listen", "0.0.0.0:7000", "--mode=session", "--pool-size", "8"], {})
    assert.notInstanceOf(o, PgError)
    if (o instanceof PgError) return
    assert.deepStrictEqual(o.listen, { host: "0.0.0.0", port: 7000 })
    assert.strictEqual(o.mode, "session")
    assert.deepStrictEqual(o.upstream, { url: "postgres://app@db:5433/app", maxSize: 8 })
    const env = parseArgs([], { PGPROXY_UPSTREAM: "host=db", PGPROXY_POOL_SIZE: "3" })
    assert.deepStrictEqual(!(env instanceof PgError) && env.upstream, { url: "host=db", maxSize: 3 })
    for (const bad of [["--pool-size", "0"], ["--mode", "statement"], ["--listen", "nowhere"], ["--auth", "md5"], ["stray"]]) {
      assert.instanceOf(parseArgs(bad, {}), PgError, bad.join(" "))
    }
    assert.deepStrictEqual([...parseUserList("\"alice\" \"se\"\"cret\"\n; comment\n\"bob\" \"md5abc\"\n")], [["alice", "se\"cret"], ["bob", "md5abc"]])
  })

  it("runs as a process from a libpq URL; psql goes through it", async () => {
    const main = servers().main
    const child = spawn(process.execPath, ["--no-warnings", path.join(import.meta.dirname, "../../src/proxy/main.ts"),
      "--upstream", `postgres://postgres@${main.host}:${main.port}/postgres?sslmode=disable`, "--listen", "127.0.0.1:0", "--pool-size", "2"], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = ""
        const onData = (d: Buffer) => {
          out += String(d)
          const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out)
          if (m !== null) resolve(Number(m[1]))
        }
        child.stdout.on("data", onData)
        child.stderr.on("data", onData)
        child.once("exit", (code) => reject(new Error(`exited with ${code}: ${out}`)))
        setTimeout(() => reject(new Error(`not listening: ${out}`)), 20_000)
      })
      const r = await run("psql", [psqlArgs(port), "-X", "-A", "-t", "-c", "select 40 + 2"])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.strictEqual(r.stdout.trim(), "42")
    } finally {
      child.kill("SIGTERM")
    }
  })
})
