/**
 * Protocol 2.0 session against a scripted fake 2.0 server: malformed rows, strings without terminators, unknown
 * type bytes, bad authentication codes, COPY OUT faults, the fallback from a 3.x start-up, and errors kept whole.
 * Every case ends in a typed error within a bound, and a broken session stays broken.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as PgSession from "../../../src/session/Session.ts"
import { reasonOf } from "../../support/Sessions.ts"
import * as Fake from "./FakeServerV2.ts"

/** Every fault must end well within this. */
const BOUND = "5 seconds"

const connectTo = (port: number, options: Partial<PgSession.SessionOptions> = {}) =>
  PgSession.connect({
    host: "127.0.0.1",
    port,
    user: "u",
    database: "d",
    sslMode: "disable",
    protocolVersion: "2.0",
    connectTimeout: 3_000,
    ...options
  })

const bytes = (...parts: ReadonlyArray<string | ReadonlyArray<number>>): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? [...Buffer.from(p, "latin1")] : [...p])))

/** A session on a fake server whose query answer is `reply` (raw bytes, then the connection stays open). */
const queryFault = (reply: Uint8Array, close = false, options: Partial<PgSession.SessionOptions> = {}) =>
  Effect.gen(function*() {
    const server = yield* Fake.make(async (c) => {
      await Fake.handshake(c)
      await c.next()
      c.raw_(reply)
      if (close) c.close()
      await c.untilClosed()
    })
    const session = yield* connectTo(server.port, options)
    const reason = reasonOf(yield* Effect.exit(session.simple("select x").pipe(Effect.timeout(BOUND))))
    return { reason, session }
  })

describe("protocol 2.0: faults from a scripted server", () => {
  it.live("rows: a size below 4, a row before its RowDescription, a close mid-row, a size over maxMessageSize", () =>
    Effect.gen(function*() {
      const small = yield* queryFault(bytes("Pblank\0T", [0, 1], "a\0", [0, 0, 0, 25, 255, 255, 255, 255, 255, 255], "D", [0x80, 0, 0, 0, 2]))
      assert.strictEqual(small.reason._tag, "ProtocolError")
      assert.isTrue(yield* small.session.isClosed)
      const early = yield* queryFault(bytes("D", [0x80, 0, 0, 0, 5], "xD", [0x80]))
      assert.include(["ProtocolError", "ProtocolDesync"], early.reason._tag)
      const cut = yield* queryFault(bytes("T", [0, 1], "a\0", [0, 0, 0, 25, 255, 255, 255, 255, 255, 255], "D", [0x80]), true)
      assert.include(["ProtocolError", "ConnectionError"], cut.reason._tag)
      const big = yield* queryFault(
        bytes("T", [0, 1], "a\0", [0, 0, 0, 25, 255, 255, 255, 255, 255, 255], "D", [0x80, 0, 1, 0, 0]),
        false,
        { maxMessageSize: 1_000 }
      )
      assert.strictEqual(big.reason._tag, "ProtocolError")
      assert.match(big.reason.message, /maxMessageSize/)
      // A broken session stays broken.
      assert.strictEqual(reasonOf(yield* Effect.exit(big.session.query("select 1")))._tag, "ProtocolError")
    }))

  it.live("bitmap bits past the last field are ignored", () =>
    Effect.gen(function*() {
      const server = yield* Fake.make(async (c) => {
        await Fake.handshake(c)
        await c.next()
        c.raw_(bytes("T", [0, 1], "a\0", [0, 0, 0, 25, 255, 255, 255, 255, 255, 255], "D", [0xff, 0, 0, 0, 6], "ok", "CSELECT 1\0Z"))
        await c.untilClosed()
      })
      const session = yield* connectTo(server.port)
      const results = yield* session.simple("select x").pipe(Effect.timeout(BOUND))
      assert.deepStrictEqual(results[0]!.rows, [{ a: "ok" }])
    }))

  it.live("strings and type bytes: no terminator then a close, unknown types (3.x S, 1, n), V without G/0, V G without 0, I with a string", () =>
    Effect.gen(function*() {
      const noNul = yield* queryFault(bytes("CSELECT"), true)
      assert.include(["ProtocolError", "ConnectionError"], noNul.reason._tag)
      for (const type of ["S", "1", "n", "q"]) {
        const unknown = yield* queryFault(bytes(type, [0, 0, 0, 4]))
        assert.strictEqual(unknown.reason._tag, "ProtocolError")
        assert.match(unknown.reason.message, /unknown message type/)
      }
      const empty = yield* queryFault(bytes("Ix\0Z"))
      assert.strictEqual(empty.reason._tag, "ProtocolDesync")
      for (const reply of [bytes("VX"), bytes("VG", [0, 0, 0, 1, 7], "Z")]) {
        const server = yield* Fake.make(async (c) => {
          await Fake.handshake(c)
          await c.next()
          c.raw_(reply)
          await c.untilClosed()
        })
        const session = yield* connectTo(server.port)
        const reason = reasonOf(yield* Effect.exit(session.functionCall(1, []).pipe(Effect.timeout(BOUND))))
        assert.strictEqual(reason._tag, "ProtocolError")
      }
    }))

  it.live("authentication: unsupported codes, unknown codes, a truncated salt, an error, ReadyForQuery before AuthenticationOk", () =>
    Effect.gen(function*() {
      const login = (reply: Uint8Array, close = false) =>
        Effect.gen(function*() {
          const server = yield* Fake.make(async (c) => {
            await c.startupPacket()
            c.raw_(reply)
            if (close) c.close()
            await c.untilClosed()
          })
          return reasonOf(yield* Effect.exit(connectTo(server.port, { password: "pw" }).pipe(Effect.timeout(BOUND))))
        })
      for (const code of [1, 2, 4, 6]) {
        const reason = yield* login(bytes("R", [0, 0, 0, code], code === 4 ? "ab" : ""))
        assert.strictEqual(reason._tag, "AuthError", `code ${code}`)
      }
      for (const code of [7, 10]) assert.strictEqual((yield* login(bytes("R", [0, 0, 0, code])))._tag, "ProtocolError")
      assert.include(["ProtocolError", "ConnectionError"], (yield* login(bytes("R", [0, 0, 0, 5, 1, 2]), true))._tag)
      const refused = yield* login(bytes("EFATAL:  no pg_hba.conf entry\n\0"), true)
      assert.strictEqual(refused._tag, "ServerError")
      assert.strictEqual(refused.message, "no pg_hba.conf entry")
      assert.strictEqual((yield* login(bytes("Z")))._tag, "ProtocolDesync")
    }))

  it.live("no BackendKeyData: the session works, and an interrupted query cannot be cancelled (the session is closed)", () =>
    Effect.gen(function*() {
      const server = yield* Fake.make(async (c) => {
        await Fake.handshake(c, { key: false })
        await c.next()
        c.raw_(bytes("CSELECT 0\0Z"))
        await c.next()
        await c.untilClosed()
      })
      const session = yield* connectTo(server.port)
      yield* session.simple("select 1").pipe(Effect.timeout(BOUND))
      const fiber = yield* Effect.forkChild(session.simple("select pg_sleep(100)"))
      yield* Effect.sleep(50)
      yield* Fiber.interrupt(fiber).pipe(Effect.timeout(BOUND))
      assert.isTrue(yield* session.isClosed)
    }))

  it.live("COPY OUT: closed before the marker, junk lines then an error, A and N bytes as data", () =>
    Effect.gen(function*() {
      const copy = (reply: Uint8Array, close = false) =>
        Effect.gen(function*() {
          const server = yield* Fake.make(async (c) => {
            await Fake.handshake(c)
            await c.next()
            c.raw_(reply)
            if (close) c.close()
            await c.untilClosed()
          })
          const session = yield* connectTo(server.port)
          const lines: Array<string> = []
          const exit = yield* Effect.exit(
            session.copyTo("copy t to stdout").pipe(
              Stream.runForEach((l) => Effect.sync(() => lines.push(new TextDecoder().decode(l)))),
              Effect.timeout(BOUND)
            )
          )
          return { exit, lines }
        })
      const cut = yield* copy(bytes("H1\n2\n"), true)
      assert.include(["ProtocolError", "ConnectionError"], reasonOf(cut.exit)._tag)
      const junk = yield* copy(bytes("H0\n1\n\n\n\\.\nEERROR:  division by zero\n\0Z"))
      assert.strictEqual(reasonOf(junk.exit).message, "division by zero")
      assert.deepStrictEqual(junk.lines, ["0\n", "1\n"])
      const data = yield* copy(bytes("HNOTICE:  x\nA\x00\x00\n\\.\nCCOPY 2\0Z"))
      assert.isTrue(data.exit._tag === "Success")
      assert.deepStrictEqual(data.lines, ["NOTICE:  x\n", "A\u0000\u0000\n"])
    }))

  it.live("COPY IN: an error then a close fails the copy with the server's error and closes the session", () =>
    Effect.gen(function*() {
      const server = yield* Fake.make(async (c) => {
        await Fake.handshake(c)
        await c.next()
        c.raw_(bytes("G"))
        c.expectCopy()
        await c.next()
        c.raw_(bytes("EERROR:  invalid input syntax for type integer: \"x\"\n\0EFATAL:  terminating connection because protocol synchronization was lost\n\0"))
        c.close()
        await c.untilClosed()
      })
      const session = yield* connectTo(server.port)
      const exit = yield* Effect.exit(
        Stream.make(new TextEncoder().encode("x\n")).pipe(Stream.run(session.copyFrom("copy t from stdin")), Effect.timeout(BOUND))
      )
      assert.match(reasonOf(exit).message, /invalid input syntax/)
      assert.isTrue(yield* session.isClosed)
    }))

  it.live("fallback: a 3.x start-up answered by a 2.0 error string retries once with the 296-byte packet when 2.0 is allowed", () =>
    Effect.gen(function*() {
      const refuse = async (c: Fake.FakeConnection) => {
        await c.startupPacket()
        c.raw_("EFATAL:  unsupported frontend protocol 3.0: server supports 1.0 to 2.0\n\0")
        c.close()
      }
      const seen: Array<{ version: number; length: number }> = []
      const server = yield* Fake.make(refuse, async (c) => {
        const packet = await c.startupPacket()
        seen.push(packet)
        c.send({ _tag: "AuthenticationOk" }, { _tag: "BackendKeyData", processId: 1, secretKey: 2 }, Fake.ready)
        await c.next()
        c.send(Fake.completed("SET"), Fake.completed("SET"), Fake.completed("SET"), Fake.rowDescription("v"), Fake.asciiRow("13.23"), Fake.completed("SELECT 1"), Fake.ready)
        await c.untilClosed()
      })
      const session = yield* connectTo(server.port, { protocolVersion: "3.0", minProtocolVersion: "2.0" }).pipe(Effect.timeout(BOUND))
      assert.deepStrictEqual(session.protocolVersion, { major: 2, minor: 0 })
      assert.deepStrictEqual(seen, [{ version: 0x20000, length: 296 }])
      assert.strictEqual(server.connections(), 2)

      const strict = yield* Fake.make(refuse, refuse)
      const reason = reasonOf(yield* Effect.exit(connectTo(strict.port, { protocolVersion: "3.0" }).pipe(Effect.timeout(BOUND))))
      assert.strictEqual(reason._tag, "ProtocolError")
      assert.strictEqual(strict.connections(), 1)
    }))

  it.live("a length-prefixed 3.x ErrorResponse never falls back", () =>
    Effect.gen(function*() {
      const fields = bytes("SFATAL\0C28000\0Mno\0", [0])
      const length = fields.length + 4
      const server = yield* Fake.make(async (c) => {
        await c.startupPacket()
        c.raw_(bytes("E", [length >>> 24, (length >>> 16) & 255, (length >>> 8) & 255, length & 255], [...fields]))
        c.close()
      }, async (c) => c.close())
      const reason = reasonOf(
        yield* Effect.exit(connectTo(server.port, { protocolVersion: "3.0", minProtocolVersion: "2.0" }).pipe(Effect.timeout(BOUND)))
      )
      assert.strictEqual(reason._tag, "ServerError")
      assert.strictEqual(reason._tag === "ServerError" ? reason.code : "", "28000")
      assert.strictEqual(server.connections(), 1)
    }))

  it.live("a string without its terminator, then silence: a caller's timeout cancels, the drain gives up, the session is broken", () =>
    Effect.gen(function*() {
      const server = yield* Fake.make(async (c) => {
        await Fake.handshake(c)
        await c.next()
        c.raw_(bytes("CSELECT"))
        await c.untilClosed()
      })
      const session = yield* connectTo(server.port)
      const exit = yield* Effect.exit(session.simple("select x").pipe(Effect.timeout(200)))
      assert.isTrue(exit._tag === "Failure")
      // The cancel reaches nothing (the scripted server answers no CancelRequest): the drain times out.
      yield* Effect.suspend(() => session.isClosed).pipe(
        Effect.flatMap((closed) => (closed ? Effect.void : Effect.fail("open"))),
        Effect.retry({ times: 400 }),
        Effect.delay(25)
      )
      assert.include(["TimeoutError", "CancelError"], reasonOf(yield* Effect.exit(session.query("select 1")))._tag)
    }), 20_000)

  it.live("a 2.0 error without \":  \" is kept whole", () =>
    Effect.gen(function*() {
      const { reason, session } = yield* queryFault(bytes("Esomething odd happened\n\0Z"))
      assert.strictEqual(reason._tag, "ServerError")
      assert.strictEqual(reason.message, "something odd happened")
      assert.strictEqual(reason._tag === "ServerError" ? reason.severity : "", "ERROR")
      assert.isFalse(yield* session.isClosed)
    }))
})
