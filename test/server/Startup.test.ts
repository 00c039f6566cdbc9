/**
 * The server engine's start-up against raw frames from the project's codecs:
 * the encryption probes, protocol versions and grease, cancel keys, limits and
 * malformed input. Every reply is decoded by `Backend`; a frame that does not
 * decode fails the test.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Startup from "../../src/protocol/Startup.ts"
import * as Frontend from "../../src/protocol/Frontend.ts"
import * as Backend from "../../src/protocol/Backend.ts"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as PgServer from "../../src/server/PgServer.ts"
import * as PgSession from "../../src/session/Session.ts"
import { servers } from "../support/Servers.ts"
import * as fs from "node:fs"
import * as net from "node:net"
import { duplexPair } from "node:stream"
import * as tls from "node:tls"
import { Framer } from "../../src/wire/Framer.ts"
import { handler, makeProbe } from "./ScriptedHandler.ts"
import { codeOf, concat, encodeFrontend, encodeStartup, RawClient, severityOf, startup, waitUntil, withServer } from "./Support.ts"

const SSL_REQUEST = Startup.SSL_REQUEST
const GSSENC_REQUEST = Startup.GSSENC_REQUEST
const query = (sql: string) => encodeFrontend({ _tag: "Query", query: sql })
const SYNC = Frontend.SYNC
const parseUnnamed = (sql: string) => encodeFrontend({ _tag: "Parse", name: "", query: sql, parameterTypes: [] })
const BIND_UNNAMED = encodeFrontend({ _tag: "Bind", portal: "", statement: "", parameterFormats: [], parameters: [], resultFormats: [] })
const EXECUTE_UNNAMED = encodeFrontend({ _tag: "Execute", portal: "", maxRows: 0 })

const keyOf = (messages: ReadonlyArray<Backend.BackendMessage>) =>
  messages.find((m): m is Backend.BackendKeyData => m._tag === "BackendKeyData")

describe("PgServer start-up", () => {
  it("answers GSSENCRequest and SSLRequest 'N' on one socket, then authenticates the StartupMessage", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await RawClient.open(port)
      c.expectByte().send(GSSENC_REQUEST)
      await c.waitFor(() => c.bytes.length === 1)
      c.expectByte().send(SSL_REQUEST)
      await c.waitFor(() => c.bytes.length === 2)
      assert.deepStrictEqual(c.bytes, [0x4e, 0x4e])
      c.send(startup())
      const got = await c.until("ReadyForQuery")
      assert.strictEqual(got[0]!._tag, "AuthenticationOk")
      assert.strictEqual(keyOf(got)!.secretKey.length, 4)
      const status = new Map(got.flatMap((m) => (m._tag === "ParameterStatus" ? [[m.name, m.value] as const] : [])))
      assert.deepStrictEqual([...status.keys()].sort(), [
        "DateStyle",
        "IntervalStyle",
        "TimeZone",
        "application_name",
        "client_encoding",
        "default_transaction_read_only",
        "in_hot_standby",
        "integer_datetimes",
        "is_superuser",
        "scram_iterations",
        "search_path",
        "server_encoding",
        "server_version",
        "session_authorization",
        "standard_conforming_strings"
      ])
      assert.match(status.get("server_version")!, /^\d+\.\d+/)
      assert.strictEqual(status.get("session_authorization"), "tester")
      c.close()
    })
  })

  it("answers grease 3.9999 with _pq_ options by NegotiateProtocolVersion first, then runs 3.2 with a 32-byte key", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await RawClient.open(port)
      c.send(startup("tester", (3 << 16) | 9999, { "_pq_.test_protocol_negotiation": "", "_pq_.x": "1" }))
      const got = await c.until("ReadyForQuery")
      const first = got[0]!
      assert.strictEqual(first._tag, "NegotiateProtocolVersion")
      if (first._tag === "NegotiateProtocolVersion") {
        assert.strictEqual(first.newestMinorVersion, Startup.PROTOCOL_3_2)
        assert.deepStrictEqual(first.unrecognizedOptions, ["_pq_.test_protocol_negotiation", "_pq_.x"])
      }
      assert.strictEqual(got[1]!._tag, "AuthenticationOk")
      assert.strictEqual(keyOf(got)!.secretKey.length, 32)
      c.close()
    })
  })

  it("sends no NegotiateProtocolVersion to a 3.0 or 3.2 client, and negotiates 3.2 down when the server offers 3.0", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      for (const [version, keyBytes] of [[Startup.PROTOCOL_3_0, 4], [Startup.PROTOCOL_3_2, 32]] as const) {
        const c = await RawClient.open(port)
        c.send(startup("tester", version))
        const got = await c.until("ReadyForQuery")
        assert.notInclude(c.tags(), "NegotiateProtocolVersion")
        assert.strictEqual(keyOf(got)!.secretKey.length, keyBytes)
        c.close()
      }
    })
    await withServer({ handler: handler(makeProbe()), protocol: { max: "3.0" } }, async ({ port }) => {
      const c = await RawClient.open(port)
      c.send(startup("tester", Startup.PROTOCOL_3_2))
      const got = await c.until("ReadyForQuery")
      assert.deepStrictEqual(got[0], { _tag: "NegotiateProtocolVersion", newestMinorVersion: Startup.PROTOCOL_3_0, unrecognizedOptions: [] })
      assert.strictEqual(keyOf(got)!.secretKey.length, 4)
      c.close()
    })
  })

  it("refuses protocol 4.0 and 2.0 with FATAL 08P01 and closes", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      for (const version of [4 << 16, 2 << 16]) {
        const c = await RawClient.open(port)
        const body = new Uint8Array(8 + 5 + 7 + 1)
        const view = new DataView(body.buffer)
        view.setInt32(0, body.length)
        view.setInt32(4, version)
        body.set(new TextEncoder().encode("user\0tester\0"), 8)
        c.send(body)
        await c.untilClosed()
        assert.deepStrictEqual(c.tags(), ["ErrorResponse"])
        assert.strictEqual(codeOf(c.messages[0]), "08P01")
        assert.strictEqual(severityOf(c.messages[0]), "FATAL")
      }
    })
  })

  it("refuses a StartupMessage without a user (FATAL 28000)", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await RawClient.open(port)
      c.send(encodeStartup({ _tag: "StartupMessage", protocolVersion: Startup.PROTOCOL_3_0, parameters: [{ name: "database", value: "x" }] }))
      await c.untilClosed()
      assert.strictEqual(codeOf(c.messages[0]), "28000")
    })
  })

  it("closes truncated, oversized and silent start-ups after the start-up timeout, and stays up with a gauge back at 0", async () => {
    await withServer({ handler: handler(makeProbe()), limits: { startupTimeout: 1_000 } }, async ({ port, server }) => {
      const truncated = await RawClient.open(port)
      truncated.send(startup().subarray(0, 10))
      const silent = await RawClient.open(port)
      const oversized = await RawClient.open(port)
      const big = new Uint8Array(10_001 + 4)
      new DataView(big.buffer).setInt32(0, big.length)
      new DataView(big.buffer).setInt32(4, Startup.PROTOCOL_3_0)
      oversized.send(big)
      await Promise.all([truncated.untilClosed(), silent.untilClosed(), oversized.untilClosed()])
      assert.deepStrictEqual(truncated.tags(), [])
      assert.deepStrictEqual(silent.tags(), [])
      assert.deepStrictEqual(oversized.tags(), ["ErrorResponse"])
      assert.strictEqual(codeOf(oversized.messages[0]), "08P01")
      const c = await RawClient.open(port)
      c.send(startup())
      await c.until("ReadyForQuery")
      c.close()
      await new Promise((r) => setTimeout(r, 50))
      assert.strictEqual(await import("effect/Effect").then((E) => E.runPromise(server.connections)), 0)
    })
  })

  it("answers SSLRequest 'S' with a certificate and refuses plaintext sent in the same write (CVE-2021-3935)", async () => {
    const certs = servers().certs
    const options = {
      handler: handler(makeProbe()),
      tls: { key: fs.readFileSync(certs.serverKey, "utf8"), cert: fs.readFileSync(certs.serverCert, "utf8") }
    }
    await withServer(options, async ({ port }) => {
      const c = await RawClient.open(port)
      c.expectByte().send(concat(SSL_REQUEST, startup()))
      await c.untilClosed()
      assert.deepStrictEqual(c.bytes, [0x53])
      assert.deepStrictEqual(c.tags(), [])
      // The same request alone: TLS starts and the session runs inside it.
      const plain = await RawClient.open(port)
      plain.expectByte().send(SSL_REQUEST)
      await plain.waitFor(() => plain.bytes.length === 1)
      plain.socket.removeAllListeners("data")
      const secure = tls.connect({ socket: plain.socket, rejectUnauthorized: false })
      await new Promise<void>((r) => secure.once("secureConnect", () => r()))
      const chunks: Array<Buffer> = []
      secure.on("data", (d: Buffer) => chunks.push(d))
      secure.write(startup())
      await new Promise<void>((r) => {
        const check = () => (Buffer.concat(chunks).includes(Buffer.from([0x5a, 0, 0, 0, 5, 0x49])) ? r() : setTimeout(check, 10))
        check()
      })
      secure.destroy()
    })
  })

  it("serves direct TLS with ALPN postgresql (our client, sslnegotiation=direct) and closes direct TLS without it before any protocol byte", async () => {
    const certs = servers().certs
    const options = {
      handler: handler(makeProbe()),
      tls: { key: fs.readFileSync(certs.serverKey, "utf8"), cert: fs.readFileSync(certs.serverCert, "utf8") }
    }
    await withServer(options, async ({ port }) => {
      const rows = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const session = yield* PgSession.connect({
          host: "127.0.0.1",
          port,
          user: "tester",
          database: "db",
          sslMode: "require",
          sslNegotiation: "direct"
        })
        assert.isTrue(session.encrypted)
        return (yield* session.simple("select 8"))[0]!.rows
      })))
      assert.deepStrictEqual(rows, [{ "?column?": 8 }])
      for (const ALPNProtocols of [["h2"], undefined]) {
        const received: Array<Buffer> = []
        const socket = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...(ALPNProtocols ? { ALPNProtocols } : {}) })
        socket.on("data", (d: Buffer) => received.push(d))
        socket.on("secureConnect", () => socket.write(startup()))
        await new Promise<void>((r) => {
          socket.once("close", () => r())
          socket.once("error", () => r())
        })
        assert.deepStrictEqual(received, [])
      }
    })
  })

  it("ignores a CancelRequest with a wrong key or a 4-byte key for a 32-byte one: no reply, the statement runs on", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe) }, async ({ port }) => {
      const c = await RawClient.open(port)
      c.send(startup("tester", Startup.PROTOCOL_3_2))
      const key = keyOf(await c.until("ReadyForQuery"))!
      const from = c.messages.length
      c.send(query("sleep 30000"))
      await waitUntil(() => probe.started === 1)
      const wrong = new Uint8Array(key.secretKey)
      wrong[0] = wrong[0]! ^ 1
      for (const [processId, secretKey] of [[key.processId, wrong], [key.processId, key.secretKey.slice(0, 4)], [key.processId + 1, key.secretKey]] as const) {
        const cancel = await RawClient.open(port)
        cancel.send(encodeStartup({ _tag: "CancelRequest", processId, secretKey }))
        // The server closes a cancel connection once it handled the request.
        await cancel.untilClosed()
        assert.deepStrictEqual(cancel.tags(), [])
      }
      assert.deepStrictEqual(c.tags(from), [])
      assert.strictEqual(probe.finalized, 0)
      // The right key interrupts it: 57014, and the handler's finalizer ran.
      const cancel = await RawClient.open(port)
      cancel.send(encodeStartup({ _tag: "CancelRequest", processId: key.processId, secretKey: key.secretKey }))
      const after = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(after.map((m) => m._tag), ["ErrorResponse", "ReadyForQuery"])
      assert.strictEqual(codeOf(after[0]), "57014")
      assert.strictEqual(probe.finalized, 1)
      c.close()
    })
  })

  it("answers a connection over maxConnections with FATAL 53300", async () => {
    await withServer({ handler: handler(makeProbe()), limits: { maxConnections: 1 } }, async ({ port }) => {
      const a = await RawClient.open(port)
      a.send(startup())
      await a.until("ReadyForQuery")
      const b = await RawClient.open(port)
      b.send(startup())
      await b.untilClosed()
      assert.strictEqual(codeOf(b.messages[0]), "53300")
      a.close()
    })
  })

  it("answers an unknown message type after start-up with FATAL 08P01 and keeps serving others", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      for (const frame of [new Uint8Array([0x7a, 0, 0, 0, 4]), new Uint8Array([0x42, 0, 0, 0, 5, 0]), new Uint8Array([0x51, 0, 0, 0, 2])]) {
        const c = await RawClient.open(port)
        c.send(startup())
        await c.until("ReadyForQuery")
        const from = c.messages.length
        c.send(frame)
        await c.untilClosed()
        assert.deepStrictEqual(c.tags(from), ["ErrorResponse"])
        assert.strictEqual(codeOf(c.messages[from]), "08P01")
        assert.strictEqual(severityOf(c.messages[from]), "FATAL")
      }
    })
  })
})

describe("PgServer messages", () => {
  const session = async (port: number) => {
    const c = await RawClient.open(port)
    c.send(startup())
    await c.until("ReadyForQuery")
    return c
  }

  it("stops a pipelined batch at its failing Parse and sends exactly one ReadyForQuery; the next batch works", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await session(port)
      const from = c.messages.length
      const pbe = (sql: string) =>
        concat(
          encodeFrontend({ _tag: "Parse", name: "", query: sql, parameterTypes: [] }),
          BIND_UNNAMED,
          EXECUTE_UNNAMED
        )
      c.send(pbe("select 1"), pbe("nonsense"), pbe("select 3"), SYNC)
      const got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.map((m) => m._tag), [
        "ParseComplete",
        "BindComplete",
        "DataRow",
        "CommandComplete",
        "ErrorResponse",
        "ReadyForQuery"
      ])
      assert.strictEqual(codeOf(got[4]), "42601")
      await new Promise((r) => setTimeout(r, 50))
      assert.strictEqual(c.tags(from).filter((t) => t === "ReadyForQuery").length, 1)
      const next = c.messages.length
      c.send(pbe("select 4"), SYNC)
      const again = await c.until("ReadyForQuery", next)
      assert.deepStrictEqual(again.map((m) => m._tag), ["ParseComplete", "BindComplete", "DataRow", "CommandComplete", "ReadyForQuery"])
      c.close()
    })
  })

  it("answers a multi-statement Query failing in the middle with a result, the error and one ReadyForQuery, and an empty Query with EmptyQueryResponse", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe) }, async ({ port }) => {
      const c = await session(port)
      const from = c.messages.length
      c.send(query("select 1; select 1/0; select 3"), query(""))
      await c.waitFor(() => c.tags(from).filter((t) => t === "ReadyForQuery").length === 2)
      await new Promise((r) => setTimeout(r, 50))
      assert.deepStrictEqual(c.tags(from), [
        "RowDescription",
        "DataRow",
        "CommandComplete",
        "ErrorResponse",
        "ReadyForQuery",
        "EmptyQueryResponse",
        "ReadyForQuery"
      ])
      assert.strictEqual(codeOf(c.messages[from + 3]), "22012")
      assert.deepStrictEqual(probe.statements, ["select 1", "select 1/0", ""])
      c.close()
    })
  })

  it("answers statements pipelined before a slow one at once, not when the slow one ends", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe) }, async ({ port, server }) => {
      const c = await session(port)
      const from = c.messages.length
      // One write: the engine defers its answers while more messages are queued, and must send them before it waits.
      c.send(query("select 1"), query("select 2"), query("sleep 30000"))
      await c.waitFor(() => c.tags(from).filter((t) => t === "ReadyForQuery").length === 2)
      assert.deepStrictEqual(c.tags(from), [
        "RowDescription",
        "DataRow",
        "CommandComplete",
        "ReadyForQuery",
        "RowDescription",
        "DataRow",
        "CommandComplete",
        "ReadyForQuery"
      ])
      assert.strictEqual(probe.started, 1)
      assert.strictEqual(probe.finalized, 0)
      c.close()
      await waitUntil(() => probe.finalized === 1)
      await waitUntil(async () => (await Effect.runPromise(server.connections)) === 0)
    })
  })

  it("pulls a result only as fast as its client reads it: a client that stops reading holds bounded memory and slows no one else", async () => {
    let pulled = 0
    let finalized = 0
    const wide = "x".repeat(10_000)
    const probe = makeProbe()
    const scripted = handler(probe)
    const endless: PgServer.Handler = {
      simple: (sql) =>
        sql === "endless"
          ? Stream.make(PgServer.Outcome.rows(
            [PgServer.field("w", "text")],
            Stream.forever(Stream.sync(() => [wide])).pipe(
              Stream.tap(() => Effect.sync(() => pulled++)),
              Stream.ensuring(Effect.sync(() => finalized++))
            )
          ))
          : scripted.simple(sql)
    }
    await withServer({ handler: endless }, async ({ port, server }) => {
      // A raw socket that sends its query and never reads.
      const stalled = net.connect({ port, host: "127.0.0.1" })
      await new Promise<void>((r) => stalled.once("connect", () => r()))
      stalled.pause()
      stalled.write(concat(startup(), query("endless")))
      await waitUntil(() => pulled > 0)
      const other = await session(port)
      const from = other.messages.length
      other.send(query("select 7"))
      const got = await other.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["RowDescription", "DataRow", "CommandComplete", "ReadyForQuery"])
      // The socket's buffers fill and the handler's stream stops being pulled (kernel buffers are a few MiB):
      // the count stands still for 300 ms (without backpressure it grows until this times out).
      let last = -1
      await waitUntil(async () => {
        const now = pulled
        await new Promise((r) => setTimeout(r, 300))
        const stable = now === last && pulled === now
        last = pulled
        return stable
      }, 15_000)
      assert.isBelow(pulled * wide.length, 64 * 1024 * 1024)
      stalled.destroy()
      await waitUntil(() => finalized === 1)
      other.close()
      await waitUntil(async () => (await Effect.runPromise(server.connections)) === 0)
    })
  })

  it("keeps each connection's prepared statements its own: two clients pipelining the same name with different SQL", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const [a, b] = await Promise.all([session(port), session(port)])
      const run = (sql: string) =>
        concat(
          encodeFrontend({ _tag: "Parse", name: "s1", query: sql, parameterTypes: [] }),
          encodeFrontend({ _tag: "Bind", portal: "", statement: "s1", parameterFormats: [], parameters: [], resultFormats: [] }),
          EXECUTE_UNNAMED,
          encodeFrontend({ _tag: "Close", target: "S", name: "s1" }),
          SYNC
        )
      const fromA = a.messages.length
      const fromB = b.messages.length
      for (let i = 0; i < 20; i++) {
        a.send(run(`select ${i}`))
        b.send(run(`select ${1000 + i}`))
      }
      const values = (c: RawClient, from: number) =>
        c.messages.slice(from).flatMap((m) => (m._tag === "DataRow" ? [new TextDecoder().decode(m.values[0]!)] : []))
      await a.waitFor(() => a.tags(fromA).filter((t) => t === "ReadyForQuery").length === 20)
      await b.waitFor(() => b.tags(fromB).filter((t) => t === "ReadyForQuery").length === 20)
      assert.deepStrictEqual(values(a, fromA), Array.from({ length: 20 }, (_, i) => String(i)))
      assert.deepStrictEqual(values(b, fromB), Array.from({ length: 20 }, (_, i) => String(1000 + i)))
      assert.notInclude(a.tags(fromA), "ErrorResponse")
      assert.notInclude(b.tags(fromB), "ErrorResponse")
      a.close()
      b.close()
    })
  })

  it("closes the socket at Terminate and counts the connection out", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port, server }) => {
      const c = await session(port)
      c.send(query("select 1"), encodeFrontend({ _tag: "Terminate" }))
      await c.untilClosed()
      assert.isTrue(c.closed)
      assert.deepStrictEqual(c.tags().slice(-4), ["RowDescription", "DataRow", "CommandComplete", "ReadyForQuery"])
      await waitUntil(async () => (await Effect.runPromise(server.connections)) === 0)
    })
  })

  it("answers Parse+Describe(S)+Sync with ParameterDescription and RowDescription or NoData, and Close of nothing with CloseComplete", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await session(port)
      const from = c.messages.length
      c.send(
        encodeFrontend({ _tag: "Parse", name: "a", query: "select $1, $2", parameterTypes: [23, 0] }),
        encodeFrontend({ _tag: "Describe", target: "S", name: "a" }),
        encodeFrontend({ _tag: "Parse", name: "b", query: "begin", parameterTypes: [] }),
        encodeFrontend({ _tag: "Describe", target: "S", name: "b" }),
        encodeFrontend({ _tag: "Close", target: "S", name: "nothing" }),
        encodeFrontend({ _tag: "Close", target: "P", name: "nothing" }),
        SYNC
      )
      const got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.map((m) => m._tag), [
        "ParseComplete",
        "ParameterDescription",
        "RowDescription",
        "ParseComplete",
        "ParameterDescription",
        "NoData",
        "CloseComplete",
        "CloseComplete",
        "ReadyForQuery"
      ])
      assert.deepStrictEqual(got[1], { _tag: "ParameterDescription", parameterTypes: [23, 25] })
      c.close()
    })
  })

  it("pages a named portal inside a transaction across Syncs, and drops it at COMMIT (34000)", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe) }, async ({ port }) => {
      const c = await session(port)
      let from = c.messages.length
      c.send(query("begin"))
      await c.until("ReadyForQuery", from)
      from = c.messages.length
      c.send(
        encodeFrontend({ _tag: "Parse", name: "s", query: "series 25", parameterTypes: [] }),
        encodeFrontend({ _tag: "Bind", portal: "p", statement: "s", parameterFormats: [], parameters: [], resultFormats: [1] }),
        encodeFrontend({ _tag: "Execute", portal: "p", maxRows: 10 }),
        SYNC
      )
      let got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.filter((m) => m._tag === "DataRow").length, 10)
      assert.include(got.map((m) => m._tag), "PortalSuspended")
      assert.deepStrictEqual(got.at(-1), { _tag: "ReadyForQuery", transactionStatus: "T" })
      assert.isAtMost(probe.pulled, 11)
      from = c.messages.length
      c.send(encodeFrontend({ _tag: "Execute", portal: "p", maxRows: 10 }), SYNC)
      got = await c.until("ReadyForQuery", from)
      const rows = got.filter((m): m is Backend.DataRow => m._tag === "DataRow")
      assert.strictEqual(rows.length, 10)
      assert.deepStrictEqual(Array.from(rows[0]!.values[0]!), [0, 0, 0, 11])
      from = c.messages.length
      c.send(encodeFrontend({ _tag: "Execute", portal: "p", maxRows: 10 }), SYNC)
      got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.filter((m) => m._tag === "DataRow").length, 5)
      assert.deepStrictEqual(got.find((m) => m._tag === "CommandComplete"), { _tag: "CommandComplete", tag: "SELECT 25" })
      from = c.messages.length
      c.send(query("commit"))
      await c.until("ReadyForQuery", from)
      from = c.messages.length
      c.send(encodeFrontend({ _tag: "Execute", portal: "p", maxRows: 10 }), SYNC)
      got = await c.until("ReadyForQuery", from)
      assert.strictEqual(codeOf(got[0]), "34000")
      assert.deepStrictEqual(got.at(-1), { _tag: "ReadyForQuery", transactionStatus: "I" })
      c.close()
    })
  })

  it("reports transaction status T, E, E, I for begin, a failing statement, another statement, rollback", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await session(port)
      const statuses: Array<string> = []
      for (const sql of ["begin", "fail", "select 1", "rollback"]) {
        const from = c.messages.length
        c.send(query(sql))
        const got = await c.until("ReadyForQuery", from)
        const last = got.at(-1)!
        statuses.push(last._tag === "ReadyForQuery" ? last.transactionStatus : "?")
      }
      assert.deepStrictEqual(statuses, ["T", "E", "E", "I"])
      c.close()
    })
  })

  it("ignores Flush and Sync during COPY FROM STDIN started by Execute, and answers the batch's Sync once", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe) }, async ({ port }) => {
      const c = await session(port)
      const from = c.messages.length
      const data = (text: string) => encodeFrontend({ _tag: "CopyData", data: new TextEncoder().encode(text) })
      c.send(
        parseUnnamed("copy in"),
        BIND_UNNAMED,
        EXECUTE_UNNAMED,
        Frontend.FLUSH
      )
      await c.until("CopyInResponse", from)
      c.send(data("a\n"), Frontend.FLUSH, SYNC, data("b\n"), encodeFrontend({ _tag: "CopyDone" }), SYNC)
      const got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["ParseComplete", "BindComplete", "CopyInResponse", "CommandComplete", "ReadyForQuery"])
      assert.deepStrictEqual(got[3], { _tag: "CommandComplete", tag: "COPY 2" })
      assert.strictEqual(Buffer.concat(probe.copied).toString(), "a\nb\n")
      c.close()
    })
  })

  it("answers an empty statement's Execute with one EmptyQueryResponse", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await session(port)
      const from = c.messages.length
      c.send(
        parseUnnamed(""),
        BIND_UNNAMED,
        encodeFrontend({ _tag: "Describe", target: "P", name: "" }),
        EXECUTE_UNNAMED,
        SYNC
      )
      const got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["ParseComplete", "BindComplete", "NoData", "EmptyQueryResponse", "ReadyForQuery"])
      c.close()
    })
  })

  it("turns a handler's defect into XX000 with its text withheld, and the session goes on", async () => {
    const dying: PgServer.Handler = {
      simple: (sql) =>
        sql === "die"
          ? Stream.fromEffect(Effect.die(new Error("secret internal detail")))
          : handler(makeProbe()).simple(sql)
    }
    await withServer({ handler: dying }, async ({ port }) => {
      const c = await session(port)
      let from = c.messages.length
      c.send(query("die"))
      const got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["ErrorResponse", "ReadyForQuery"])
      assert.strictEqual(codeOf(got[0]), "XX000")
      assert.notInclude(JSON.stringify(got[0]), "secret")
      from = c.messages.length
      c.send(query("select 5"))
      assert.include((await c.until("ReadyForQuery", from)).map((m) => m._tag), "DataRow")
      c.close()
    })
  })

  it("interrupts a statement past limits.statementTimeout with 57014 and runs the next one", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe), limits: { statementTimeout: 100 } }, async ({ port }) => {
      const c = await session(port)
      let from = c.messages.length
      c.send(query("sleep 30000"))
      const got = await c.until("ReadyForQuery", from)
      assert.strictEqual(codeOf(got[0]), "57014")
      assert.match(got[0]!._tag === "ErrorResponse" ? got[0].fields.find((f) => f.code === "M")!.value : "", /statement timeout/)
      assert.strictEqual(probe.finalized, 1)
      from = c.messages.length
      c.send(query("select 1"))
      assert.deepStrictEqual((await c.until("ReadyForQuery", from)).map((m) => m._tag), ["RowDescription", "DataRow", "CommandComplete", "ReadyForQuery"])
      c.close()
    })
  })

  it("ends COPY FROM STDIN at a failing sink with one ErrorResponse and one ReadyForQuery, dropping the CopyData after it", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await session(port)
      const from = c.messages.length
      c.send(query("copy in fail"))
      await c.until("CopyInResponse", from)
      const data = encodeFrontend({ _tag: "CopyData", data: new TextEncoder().encode("1\n") })
      c.send(data, data, data, encodeFrontend({ _tag: "CopyDone" }))
      const got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["CopyInResponse", "ErrorResponse", "ReadyForQuery"])
      assert.strictEqual(codeOf(got[1]), "22P04")
      await new Promise((r) => setTimeout(r, 50))
      assert.strictEqual(c.tags(from).filter((t) => t === "ReadyForQuery").length, 1)
      // CopyFail from the client: 57014, and the session goes on.
      const next = c.messages.length
      c.send(query("copy in"))
      await c.until("CopyInResponse", next)
      c.send(data, encodeFrontend({ _tag: "CopyFail", message: "client gave up" }))
      const failed = await c.until("ReadyForQuery", next)
      assert.strictEqual(codeOf(failed[1]), "57014")
      c.close()
    })
  })
})

describe("PgServer.handle in memory", () => {
  it("serves a duplex pair with no socket: start-up, a query, Terminate, and handle() returns", async () => {
    const [serverSide, clientSide] = duplexPair()
    const served = Effect.runPromise(PgServer.handle(serverSide, { handler: handler(makeProbe()) }))
    const framer = new Framer()
    const messages: Array<Backend.BackendMessage> = []
    clientSide.on("data", (chunk: Buffer) => {
      for (const f of framer.pushAll(new Uint8Array(chunk))) {
        const frame = concat(new Uint8Array([f.type, 0, 0, 0, 0]), f.body)
        new DataView(frame.buffer).setInt32(1, f.body.length + 4)
        messages.push(Result.getOrThrow(Backend.decode(frame)))
      }
    })
    clientSide.write(concat(startup(), query("series 3")))
    await waitUntil(() => messages.filter((m) => m._tag === "ReadyForQuery").length === 2)
    const tags = messages.map((m) => m._tag)
    assert.deepStrictEqual(tags.slice(0, 1), ["AuthenticationOk"])
    assert.deepStrictEqual(tags.slice(tags.indexOf("BackendKeyData") + 1), [
      "ReadyForQuery",
      "RowDescription",
      "DataRow",
      "DataRow",
      "DataRow",
      "CommandComplete",
      "ReadyForQuery"
    ])
    clientSide.write(encodeFrontend({ _tag: "Terminate" }))
    await served
    await new Promise<void>((r) => (clientSide.readableEnded ? r() : clientSide.once("end", () => r())))
  })
})
