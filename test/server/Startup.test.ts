/**
 * The server engine's start-up against raw frames from the project's codecs:
 * the encryption probes, protocol versions and grease, cancel keys, limits and
 * malformed input. Every reply is decoded by `Backend`; a frame that does not
 * decode fails the test.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Startup from "../../src/protocol/Startup.ts"
import * as Backend from "../../src/protocol/Backend.ts"
import * as Effect from "effect/Effect"
import * as PgSession from "../../src/session/Session.ts"
import { servers } from "../support/Servers.ts"
import * as fs from "node:fs"
import * as tls from "node:tls"
import { handler, makeProbe } from "./ScriptedHandler.ts"
import { codeOf, concat, encodeFrontend, encodeStartup, RawClient, severityOf, startup, waitUntil, withServer } from "./Support.ts"

const SSL_REQUEST = Startup.SSL_REQUEST
const GSSENC_REQUEST = Startup.GSSENC_REQUEST
const query = (sql: string) => encodeFrontend({ _tag: "Query", query: sql })

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

  it("refuses protocol 4.0 with FATAL 0A000 and closes", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      for (const version of [4 << 16]) {
        const c = await RawClient.open(port)
        const body = new Uint8Array(8 + 5 + 7 + 1)
        const view = new DataView(body.buffer)
        view.setInt32(0, body.length)
        view.setInt32(4, version)
        body.set(new TextEncoder().encode("user\0tester\0"), 8)
        c.send(body)
        await c.untilClosed()
        assert.deepStrictEqual(c.tags(), ["ErrorResponse"])
        assert.strictEqual(codeOf(c.messages[0]), "0A000")
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
      // (A known type with a malformed body, such as a one-byte Bind, is an ERROR the session survives: BadMessages.test.ts.)
      for (const frame of [new Uint8Array([0x7a, 0, 0, 0, 4]), new Uint8Array([0x51, 0, 0, 0, 2])]) {
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
