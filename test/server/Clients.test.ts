/**
 * The server engine against real clients: psql and pgbench from Debian's
 * postgresql-client, node-postgres, postgres.js and this library's own
 * session, all talking to the scripted handler.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import postgres from "postgres"
import * as PgServer from "../../src/server/PgServer.ts"
import * as PgSession from "../../src/session/Session.ts"
import { servers } from "../support/Servers.ts"
import { reasonOf } from "../support/Sessions.ts"
import { handler, makeProbe, type Probe } from "./ScriptedHandler.ts"
import { codeOf, encodeStartup, psql, RawClient, run, startup, waitUntil, withServer } from "./Support.ts"

const scratch = () => fs.mkdtempSync(path.join(os.tmpdir(), "pgserver-"))

/** Runs psql's `sleep 30000`, sends it SIGINT once the handler started: psql reports 57014 and the finalizer ran. */
const cancelPsqlSleep = async (port: number, conn: string, probe: Probe) => {
  const child = spawn("psql", [`host=127.0.0.1 port=${port} user=tester dbname=db ${conn}`, "-X", "-v", "VERBOSITY=verbose", "-c", "sleep 30000"])
  let stderr = ""
  child.stderr.on("data", (d) => (stderr += d))
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)))
  await waitUntil(() => probe.started === 1)
  child.kill("SIGINT")
  assert.strictEqual(await exited, 1)
  assert.match(stderr, /57014: canceling statement due to user request/)
  assert.strictEqual(probe.finalized, 1)
}

describe("PgServer with psql", () => {
  it("runs a multi-statement string, empty queries, and stops at an error mid-string with psql's exit code", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe) }, async ({ port }) => {
      const two = await psql(port, ["-c", "select 1; select 2"], "sslmode=prefer")
      assert.strictEqual(two.code, 0, two.stderr)
      assert.deepStrictEqual(two.stdout.trim().split("\n"), ["1", "2"])
      for (const empty of ["", ";;"]) {
        const r = await psql(port, ["-c", empty])
        assert.strictEqual(r.code, 0, r.stderr)
      }
      probe.statements.length = 0
      const failing = await psql(port, ["-c", "select 1; select 1/0; select 3"])
      assert.strictEqual(failing.code, 1)
      assert.match(failing.stderr, /ERROR: {2}22012: division by zero/)
      assert.deepStrictEqual(probe.statements, ["select 1", "select 1/0"])
    })
  })

  it("copies 100,000 rows in with \\copy (every byte reaches the sink) and out byte-identically", async () => {
    const probe = makeProbe()
    const dir = scratch()
    const lines = Array.from({ length: 100_000 }, (_, i) => `${i + 1}\n`).join("")
    fs.writeFileSync(path.join(dir, "in.txt"), lines)
    await withServer({ handler: handler(probe) }, async ({ port }) => {
      const copyIn = await psql(port, ["-c", `\\copy in from '${path.join(dir, "in.txt")}'`])
      assert.strictEqual(copyIn.code, 0, copyIn.stderr)
      assert.strictEqual(Buffer.concat(probe.copied).toString(), lines)
      const out = path.join(dir, "out.txt")
      const copyOut = await psql(port, ["-c", `\\copy (out 100000) to '${out}'`])
      assert.strictEqual(copyOut.code, 0, copyOut.stderr)
      assert.strictEqual(copyOut.stdout.trim(), "COPY 100000")
      assert.isTrue(fs.readFileSync(out).equals(Buffer.from(lines)))
    })
    fs.rmSync(dir, { recursive: true })
  })

  it("cancels a sleeping statement on SIGINT: psql shows 57014 and the handler's finalizer ran", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe) }, async ({ port }) => {
      await cancelPsqlSleep(port, "sslmode=disable", probe)
    })
  })
})

describe("PgServer with psql over TLS", () => {
  it("cancels a sleeping statement of a TLS session: psql's CancelRequest arrives in clear", async () => {
    const probe = makeProbe()
    const certs = servers().certs
    const tls = { key: fs.readFileSync(certs.serverKey, "utf8"), cert: fs.readFileSync(certs.serverCert, "utf8") }
    await withServer({ handler: handler(probe), tls: { ...tls, required: true } }, async ({ port }) => {
      await cancelPsqlSleep(port, "sslmode=require", probe)
      const clear = await psql(port, ["-c", "select 1"])
      assert.strictEqual(clear.code, 2)
      assert.match(clear.stderr, /sslmode=require/)
    })
  })
})

describe("PgServer with pgbench", () => {
  it("runs a custom script in simple, extended and prepared modes and a \\startpipeline script with 0 failures", async () => {
    const dir = scratch()
    fs.writeFileSync(path.join(dir, "echo.sql"), "select 1;\n")
    fs.writeFileSync(path.join(dir, "pipe.sql"), "\\startpipeline\nselect 1;\nselect 2;\n\\endpipeline\n")
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const bench = (script: string, mode: string) =>
        run("pgbench", ["-h", "127.0.0.1", "-p", String(port), "-U", "tester", "-n", "-f", path.join(dir, script), "-M", mode, "-c", "4", "-j", "2", "-t", "50", "db"])
      for (const [script, mode] of [["echo.sql", "simple"], ["echo.sql", "extended"], ["echo.sql", "prepared"], ["pipe.sql", "extended"], ["pipe.sql", "prepared"]] as const) {
        const r = await bench(script, mode)
        assert.strictEqual(r.code, 0, `${script} ${mode}: ${r.stderr}`)
        assert.match(r.stdout, /number of transactions actually processed: 200\/200/)
        assert.match(r.stdout, /number of failed transactions: 0 /)
      }
    })
    fs.rmSync(dir, { recursive: true })
  })
})

describe("PgServer with node-postgres and postgres.js", () => {
  it("answers node-postgres parameterised and named queries", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const client = new pg.Client({ host: "127.0.0.1", port, user: "tester", database: "db" })
      await client.connect()
      const r = await client.query("select $1, $2", ["a", null])
      assert.deepStrictEqual(r.rows, [{ p1: "a", p2: null }])
      for (const v of ["x", "y"]) {
        const named = await client.query({ name: "echo", text: "select $1", values: [v] })
        assert.deepStrictEqual(named.rows, [{ p1: v }])
      }
      const series = await client.query("series 3")
      assert.deepStrictEqual(series.rows.map((row) => row.n), [1, 2, 3])
      const failed = await client.query("select 1/0").then(() => undefined, (e: { code?: string }) => e.code)
      assert.strictEqual(failed, "22012")
      assert.deepStrictEqual((await client.query("select 5")).rows, [{ "?column?": 5 }])
      await client.end()
    })
  })

  it("serves postgres.js whose Parse is answered late (Flush without Sync) and reports setParameter through onparameter", async () => {
    await withServer({ handler: handler(makeProbe(), { prepareDelayMs: 200 }) }, async ({ port }) => {
      const changes: Array<string> = []
      const sql = postgres({
        host: "127.0.0.1",
        port,
        user: "tester",
        database: "db",
        max: 1,
        fetch_types: false,
        onparameter: (name, value) => changes.push(`${name}=${value}`)
      })
      try {
        const first = await sql.unsafe("select $1", ["delayed"])
        assert.deepStrictEqual([...first], [{ p1: "delayed" }])
        await sql.unsafe("set application_name demo")
        assert.include(changes, "application_name=demo")
      } finally {
        await sql.end()
      }
    })
  })

  it("answers 2,000 queries pipelined by postgres.js on one connection, one failing, each with its own result", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const sql = postgres({ host: "127.0.0.1", port, user: "tester", database: "db", max: 1, fetch_types: false })
      try {
        const results = await Promise.allSettled(
          Array.from({ length: 2_000 }, (_, i) => (i === 1_000 ? sql.unsafe("fail") : sql.unsafe("select $1", [`v${i}`])))
        )
        results.forEach((r, i) => {
          if (i === 1_000) {
            assert.strictEqual(r.status, "rejected")
            assert.strictEqual((r as PromiseRejectedResult).reason.code, "P0001")
          } else {
            assert.strictEqual(r.status, "fulfilled")
            assert.deepStrictEqual([...(r as PromiseFulfilledResult<ReadonlyArray<unknown>>).value], [{ p1: `v${i}` }])
          }
        })
      } finally {
        await sql.end()
      }
    })
  })

  it("delivers a handler's notice and notification to node-postgres", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const client = new pg.Client({ host: "127.0.0.1", port, user: "tester", database: "db" })
      const notices: Array<string> = []
      const notifications: Array<{ channel: string; payload?: string; processId: number }> = []
      // The pg typings in use here do not declare the EventEmitter side of Client.
      const events = client as unknown as { on: (event: string, f: (n: never) => void) => void }
      events.on("notice", (n: { severity: string; code: string; message: string }) => notices.push(`${n.severity} ${n.code} ${n.message}`))
      events.on("notification", (n: { channel: string; payload?: string; processId: number }) => notifications.push(n))
      await client.connect()
      await client.query("notify jobs done")
      await waitUntil(() => notifications.length === 1)
      assert.deepStrictEqual(notices, ["NOTICE 01000 notifying jobs"])
      assert.strictEqual(notifications[0]!.channel, "jobs")
      assert.strictEqual(notifications[0]!.payload, "done")
      assert.strictEqual(notifications[0]!.processId, (client as unknown as { processID: number }).processID)
      await client.end()
    })
  })

  it("pages postgres.js's cursor(10) over 1,000 rows, pulling no more than 10 rows ahead of what was sent", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe) }, async ({ port }) => {
      const sql = postgres({ host: "127.0.0.1", port, user: "tester", database: "db", max: 1, fetch_types: false })
      try {
        let seen = 0
        await sql.begin(async (tx) => {
          for await (const rows of tx.unsafe("series 1000").cursor(10)) {
            seen += rows.length
            assert.isAtMost(probe.pulled, seen + 10)
          }
        })
        assert.strictEqual(seen, 1_000)
      } finally {
        await sql.end()
      }
    })
  })
})

describe("PgServer with our own client", () => {
  it("reports the default ParameterStatus set, runs 3.2 with a 32-byte key, and delivers setParameter as a change", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      await Effect.runPromise(Effect.scoped(Effect.gen(function*(): Effect.fn.Return<void, unknown, import("effect/Scope").Scope> {
        const session = yield* PgSession.connect({ host: "127.0.0.1", port, user: "tester", database: "db", sslMode: "disable", protocolVersion: "3.2" })
        assert.deepStrictEqual(session.protocolVersion, { major: 3, minor: 2 })
        const parameters = yield* session.parameters
        assert.strictEqual(parameters.get("client_encoding"), "UTF8")
        assert.strictEqual(parameters.get("DateStyle"), "ISO, MDY")
        assert.strictEqual(parameters.get("integer_datetimes"), "on")
        const results = yield* session.simple("select 7; series 2")
        assert.deepStrictEqual(results.map((r) => r.rows), [[{ "?column?": 7 }], [{ n: 1 }, { n: 2 }]])
        const change = yield* Effect.forkChild(Stream.runHead(session.parameterChanges))
        yield* Effect.sleep(10)
        yield* session.simple("set TimeZone Europe/Paris")
        const got = yield* Fiber.join(change)
        assert.deepStrictEqual(Option.getOrUndefined(got), { name: "TimeZone", value: "Europe/Paris" })
      })))
    })
  })

  it("sends rows described by a Schema (Rows.rows) that our client decodes to the same values, in text and binary", async () => {
    const Person = Schema.Struct({
      id: Schema.Int,
      score: Schema.Number,
      name: Schema.String,
      active: Schema.Boolean,
      big: Schema.BigInt,
      born: Schema.Date,
      photo: Schema.NullOr(Schema.Uint8Array)
    })
    const people = [
      { id: 1, score: 1.5, name: "Ada", active: true, big: 9007199254740993n, born: new Date("1815-12-10T00:00:00Z"), photo: new Uint8Array([1, 2]) },
      { id: 2, score: -0.25, name: "Brian", active: false, big: -1n, born: new Date("1942-01-01T12:30:00Z"), photo: null }
    ]
    const schemaHandler: PgServer.Handler = {
      simple: () => Stream.make(PgServer.Rows.rows(Person, Stream.fromIterable(people))),
      prepare: () =>
        Effect.succeed({
          paramTypes: [],
          fields: PgServer.Rows.fromSchema(Person).fields,
          execute: () => Effect.succeed(PgServer.Rows.rows(Person, Stream.fromIterable(people)))
        })
    }
    await withServer({ handler: schemaHandler }, async ({ port }) => {
      const [simple, extended] = await Effect.runPromise(Effect.scoped(Effect.gen(function*(): Effect.fn.Return<readonly [unknown, unknown], unknown, import("effect/Scope").Scope> {
        const session = yield* PgSession.connect({ host: "127.0.0.1", port, user: "tester", database: "db", sslMode: "disable" })
        const text = (yield* session.simple("people"))[0]!.rows
        const binary = (yield* session.query("people")).rows
        return [text, binary] as const
      })))
      assert.deepStrictEqual(simple, people)
      assert.deepStrictEqual(extended, people)
    })
  })

  it("answers FunctionCall through the handler's functionCall, and 0A000 without one", async () => {
    const call: PgServer.Handler["functionCall"] = (oid, args) =>
      oid === 1
        ? Effect.succeed(new Uint8Array(args.flatMap((a) => (a === null ? [] : [...a].reverse()))))
        : Effect.fail(PgServer.Errors.make("42883", `function with OID ${oid} does not exist`))
    await withServer({ handler: { ...handler(makeProbe()), functionCall: call } }, async ({ port }) => {
      await Effect.runPromise(Effect.scoped(Effect.gen(function*(): Effect.fn.Return<void, unknown, import("effect/Scope").Scope> {
        const session = yield* PgSession.connect({ host: "127.0.0.1", port, user: "tester", database: "db", sslMode: "disable" })
        const result = yield* session.functionCall(1, [new Uint8Array([1, 2, 3]), null])
        assert.deepStrictEqual(result.result === null ? null : [...result.result], [3, 2, 1])
        const missing = yield* Effect.exit(session.functionCall(2, []))
        assert.strictEqual(reasonOf(missing)._tag, "ServerError")
        assert.strictEqual((reasonOf(missing) as { code: string }).code, "42883")
        assert.strictEqual(yield* session.transactionStatus, "I")
      })))
    })
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const exit = await Effect.runPromise(Effect.exit(Effect.scoped(Effect.flatMap(
        PgSession.connect({ host: "127.0.0.1", port, user: "tester", database: "db", sslMode: "disable" }),
        (session) => session.functionCall(1, [])
      ))))
      assert.strictEqual((reasonOf(exit) as { code: string }).code, "0A000")
    })
  })

  it("accepts client_encoding SQL_ASCII from psql and refuses LATIN1", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const ascii = await psql(port, ["-c", "select 1"], "", { PGCLIENTENCODING: "SQL_ASCII" })
      assert.strictEqual(ascii.code, 0, ascii.stderr)
      const latin = await psql(port, ["-c", "select 1"], "", { PGCLIENTENCODING: "LATIN1" })
      assert.strictEqual(latin.code, 2)
      assert.match(latin.stderr, /invalid value for parameter "client_encoding": "LATIN1"/)
    })
  })
})

describe("PgServer cancellation and termination", () => {
  it("lets 100 concurrent cancels stop A's statement only; a cancel after it ended never reaches A's next one", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe) }, async ({ port }) => {
      const a = await RawClient.open(port)
      a.send(startup())
      const keyA = (await a.until("ReadyForQuery")).find((m) => m._tag === "BackendKeyData")!
      const b = await RawClient.open(port)
      b.send(startup())
      await b.until("ReadyForQuery")
      const q = (sql: string) => new Uint8Array([0x51, ...int32(sql.length + 5), ...new TextEncoder().encode(sql), 0])
      let fromA = a.messages.length
      const fromB = b.messages.length
      a.send(q("sleep 30000"))
      b.send(q("sleep 300"))
      await waitUntil(() => probe.started === 2)
      if (keyA._tag !== "BackendKeyData") throw new Error("no key")
      const cancels = await Promise.all(Array.from({ length: 100 }, () => RawClient.open(port)))
      for (const c of cancels) c.send(encodeStartup({ _tag: "CancelRequest", processId: keyA.processId, secretKey: keyA.secretKey }))
      const gotA = await a.until("ReadyForQuery", fromA)
      assert.strictEqual(codeOf(gotA[0]), "57014")
      const gotB = await b.until("ReadyForQuery", fromB)
      assert.deepStrictEqual(gotB.map((m) => m._tag), ["CommandComplete", "ReadyForQuery"])
      await Promise.all(cancels.map((c) => c.untilClosed()))
      // A is idle now: a late cancel is processed (its connection closes) and finds nothing to stop.
      const late = await RawClient.open(port)
      late.send(encodeStartup({ _tag: "CancelRequest", processId: keyA.processId, secretKey: keyA.secretKey }))
      await late.untilClosed()
      fromA = a.messages.length
      a.send(q("sleep 50"))
      const next = await a.until("ReadyForQuery", fromA)
      assert.deepStrictEqual(next.map((m) => m._tag), ["CommandComplete", "ReadyForQuery"])
      a.close()
      b.close()
    })
  })

  it("interrupts the handler of a client that drops mid-statement, and the connection gauge returns to 0", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe) }, async ({ port, server }) => {
      const c = await RawClient.open(port)
      c.send(startup())
      await c.until("ReadyForQuery")
      c.send(new Uint8Array([0x51, ...int32(16), ...new TextEncoder().encode("sleep 30000"), 0]))
      await waitUntil(() => probe.started === 1)
      c.close()
      await waitUntil(() => probe.finalized === 1)
      await waitUntil(async () => (await Effect.runPromise(server.connections)) === 0)
    })
  })

  it("sends FATAL 57P01 to every session on a fast shutdown", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port, server }) => {
      const c = await RawClient.open(port)
      c.send(startup())
      await c.until("ReadyForQuery")
      const from = c.messages.length
      await Effect.runPromise(server.shutdown("fast"))
      await c.untilClosed()
      assert.strictEqual(codeOf(c.messages[from]), "57P01")
    })
  })
})

const int32 = (n: number): Array<number> => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]

describe("PgServer start-up as clients see it", () => {
  it("sends psql, node-postgres and postgres.js no NegotiateProtocolVersion: their first server frame is Authentication", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      // A recording relay in front of the server: the first byte each client receives after its StartupMessage.
      const firsts: Array<string> = []
      const tap = net.createServer((client) => {
        const upstream = net.connect({ port, host: "127.0.0.1" })
        let seen = false
        upstream.on("data", (d: Buffer) => {
          if (!seen && d.length > 1) {
            seen = true
            firsts.push(String.fromCharCode(d[0]!))
          }
          client.write(d)
        })
        client.on("data", (d) => upstream.write(d))
        client.on("close", () => upstream.destroy())
        upstream.on("close", () => client.destroy())
        client.on("error", () => upstream.destroy())
        upstream.on("error", () => client.destroy())
      })
      await new Promise<void>((r) => tap.listen(0, "127.0.0.1", () => r()))
      const tapPort = (tap.address() as net.AddressInfo).port
      try {
        const r = await psql(tapPort, ["-c", "select 1"])
        assert.strictEqual(r.code, 0, r.stderr)
        const client = new pg.Client({ host: "127.0.0.1", port: tapPort, user: "tester", database: "db" })
        await client.connect()
        await client.end()
        const sql = postgres({ host: "127.0.0.1", port: tapPort, user: "tester", database: "db", fetch_types: false, max: 1 })
        await sql.unsafe("select 1")
        await sql.end()
        assert.deepStrictEqual(firsts, ["R", "R", "R"])
      } finally {
        tap.close()
      }
    })
  })
})

describe("PgServer.handle and smart shutdown", () => {
  it("serves a socket accepted elsewhere through handle()", async () => {
    const listener = net.createServer((socket) => {
      Effect.runFork(PgServer.handle(socket, { handler: handler(makeProbe()) }))
    })
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", () => r()))
    try {
      const r = await psql((listener.address() as net.AddressInfo).port, ["-c", "select 6; series 2"])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.deepStrictEqual(r.stdout.trim().split("\n"), ["6", "1", "2"])
    } finally {
      listener.close()
    }
  })

  it("runs as a Layer: PgServer.Server is the running server while the layer is built", async () => {
    const count = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const server = yield* PgServer.Server
      const port = server.address._tag === "Tcp" ? server.address.port : 0
      const r = yield* Effect.promise(() => psql(port, ["-c", "select 4"]))
      assert.strictEqual(r.stdout.trim(), "4", r.stderr)
      return yield* server.connections
    }).pipe(Effect.provide(PgServer.layer({ handler: handler(makeProbe()) })))))
    assert.isAtMost(count, 1)
  })

  it("stops accepting on a smart shutdown and waits for the open session to end", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port, server }) => {
      const c = await RawClient.open(port)
      c.send(startup())
      await c.until("ReadyForQuery")
      let done = false
      const shutdown = Effect.runPromise(server.shutdown("smart")).then(() => (done = true))
      await waitUntil(() => new Promise<boolean>((resolve) => {
        const probe = net.connect({ port, host: "127.0.0.1" })
        probe.once("connect", () => (probe.destroy(), resolve(false)))
        probe.once("error", () => resolve(true))
      }))
      const from = c.messages.length
      c.send(new Uint8Array([0x51, ...int32(13), ...new TextEncoder().encode("select 2"), 0]))
      assert.deepStrictEqual((await c.until("ReadyForQuery", from)).map((m) => m._tag), ["RowDescription", "DataRow", "CommandComplete", "ReadyForQuery"])
      assert.isFalse(done)
      c.close()
      await shutdown
      assert.isTrue(done)
    })
  })
})
