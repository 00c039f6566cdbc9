import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Net from "node:net"
import * as Backend from "../../src/protocol/Backend.ts"
import * as Frontend from "../../src/protocol/Frontend.ts"
import * as Startup from "../../src/protocol/Startup.ts"
import { Framer } from "../../src/wire/Framer.ts"
import { Reader } from "../../src/wire/Reader.ts"
import * as FakeServer from "./FakeServer.ts"

/** Every wait in these tests ends well before vitest's own timeout. */
const WAIT_MILLIS = 3_000

/**
 * A raw client: writes bytes, collects the server's messages (decoded with
 * the project's Backend codecs), and notices the end of the stream. Built on
 * a bare `node:net` socket so the fake server is tested without the session.
 */
interface RawClient {
  readonly write: (bytes: Uint8Array) => Effect.Effect<void>
  /** Waits until `n` messages have arrived in all (or the stream ended) and returns them all. */
  readonly messages: (n: number) => Effect.Effect<ReadonlyArray<Backend.BackendMessage | "N">>
  /** Waits until the server closed the connection. */
  readonly closed: Effect.Effect<void>
}

const connectRaw = (port: number, options: { readonly expectEncryptionByte?: boolean } = {}) =>
  Effect.acquireRelease(
    Effect.callback<Net.Socket>((resume) => {
      const socket = Net.connect(port, "127.0.0.1", () => resume(Effect.succeed(socket)))
      socket.once("error", (e) => resume(Effect.die(e)))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  ).pipe(
    Effect.map((socket): RawClient => {
      const framer = new Framer()
      const reader = new Reader()
      const received: Array<Backend.BackendMessage | "N"> = []
      let ended = false
      let expectByte = options.expectEncryptionByte === true
      const watchers = new Set<() => void>()
      const notify = () => {
        for (const w of watchers) w()
      }
      socket.on("data", (chunk: Buffer) => {
        let bytes: Uint8Array = chunk
        if (expectByte) {
          // The one-byte answer to SSLRequest is not a framed message.
          received.push(String.fromCharCode(bytes[0]!) as "N")
          expectByte = false
          bytes = bytes.subarray(1)
        }
        framer.push(bytes, (type, buf, start, end) => {
          received.push(Backend.readUnsafe(type, buf, start, end, reader))
        })
        notify()
      })
      socket.on("close", () => {
        ended = true
        notify()
      })
      const until = (done: () => boolean) =>
        Effect.callback<void>((resume) => {
          if (done()) return resume(Effect.void)
          const w = () => {
            if (done()) {
              watchers.delete(w)
              resume(Effect.void)
            }
          }
          watchers.add(w)
          return Effect.sync(() => watchers.delete(w))
        }).pipe(Effect.timeout(WAIT_MILLIS), Effect.orDie)
      return {
        write: (bytes) => Effect.sync(() => void socket.write(bytes)),
        messages: (n) => until(() => ended || received.length >= n).pipe(Effect.map(() => received.slice())),
        closed: until(() => ended)
      }
    })
  )

const encodeStartup = (message: Startup.StartupPhaseMessage): Uint8Array => Result.getOrThrow(Startup.encode(message))
const encodeFrontend = (message: Frontend.FrontendMessage): Uint8Array => Result.getOrThrow(Frontend.encode(message))

const startupMessage = (minor: 0 | 2, extra: ReadonlyArray<{ name: string; value: string }> = []) =>
  encodeStartup({
    _tag: "StartupMessage",
    protocolVersion: minor === 2 ? Startup.PROTOCOL_3_2 : Startup.PROTOCOL_3_0,
    parameters: [{ name: "user", value: "alice" }, ...extra]
  })

const tags = (messages: ReadonlyArray<{ readonly _tag: string } | "N">) =>
  messages.map((m) => (typeof m === "string" ? m : m._tag))

describe("FakeServer", () => {
  it.live("answers a 3.2 StartupMessage with the usual handshake and a 32-byte key", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([FakeServer.handshake({ processId: 77, parameters: { application_name: "x" } })])
      const client = yield* connectRaw(server.port)
      yield* client.write(startupMessage(2))
      const messages = yield* client.messages(1 + Object.keys(FakeServer.DEFAULT_PARAMETERS).length + 3)
      assert.deepStrictEqual(tags(messages), [
        "AuthenticationOk",
        ...Object.keys(FakeServer.DEFAULT_PARAMETERS).map(() => "ParameterStatus"),
        "ParameterStatus",
        "BackendKeyData",
        "ReadyForQuery"
      ])
      const statuses = messages.filter((m): m is Backend.ParameterStatus => m !== "N" && m._tag === "ParameterStatus")
      assert.deepInclude(statuses, { _tag: "ParameterStatus", name: "application_name", value: "x" })
      const key = messages.find((m): m is Backend.BackendKeyData => m !== "N" && m._tag === "BackendKeyData")!
      assert.strictEqual(key.processId, 77)
      assert.strictEqual(key.secretKey.length, 32)
      assert.deepStrictEqual(messages.at(-1), { _tag: "ReadyForQuery", transactionStatus: "I" })
      const received = yield* server.received
      assert.deepStrictEqual(tags(received), ["StartupMessage"])
      assert.deepStrictEqual((received[0] as Startup.StartupMessage).parameters, [{ name: "user", value: "alice" }])
      assert.deepStrictEqual(yield* server.errors, [])
    }))

  it.live("gives a 4-byte key at 3.0 and negotiates down when the client asks for more than it speaks", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([FakeServer.handshake()], [FakeServer.handshake({ protocolMinor: 0 })])
      const old = yield* connectRaw(server.port)
      yield* old.write(startupMessage(0))
      const first = yield* old.messages(1 + Object.keys(FakeServer.DEFAULT_PARAMETERS).length + 2)
      assert.strictEqual(tags(first)[0], "AuthenticationOk")
      const key = first.find((m): m is Backend.BackendKeyData => m !== "N" && m._tag === "BackendKeyData")!
      assert.strictEqual(key.secretKey.length, 4)

      const newer = yield* connectRaw(server.port)
      yield* newer.write(startupMessage(2, [{ name: "_pq_.magic", value: "on" }]))
      const second = yield* newer.messages(1)
      assert.deepStrictEqual(second[0], {
        _tag: "NegotiateProtocolVersion",
        newestMinorVersion: 0,
        unrecognizedOptions: ["_pq_.magic"]
      })
    }))

  it.live("refuses encryption with 'N' and then reads the StartupMessage", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([FakeServer.handshake()])
      const client = yield* connectRaw(server.port, { expectEncryptionByte: true })
      yield* client.write(Startup.SSL_REQUEST)
      const answer = yield* client.messages(1)
      assert.deepStrictEqual(answer, ["N"])
      yield* client.write(startupMessage(2))
      const messages = yield* client.messages(3)
      assert.deepStrictEqual(tags(messages).slice(0, 2), ["N", "AuthenticationOk"])
    }))

  it.live("records a CancelRequest and closes its connection without using a script", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([FakeServer.handshake()])
      const key = Uint8Array.from({ length: 32 }, (_, i) => 255 - i)
      const cancel = yield* connectRaw(server.port)
      yield* cancel.write(encodeStartup({ _tag: "CancelRequest", processId: 99, secretKey: key }))
      yield* cancel.closed
      assert.deepStrictEqual(yield* server.cancelRequests, [{ processId: 99, secretKey: key }])
      assert.deepStrictEqual(yield* server.received, [])
      // The script is still there for the first session connection.
      const session = yield* connectRaw(server.port)
      yield* session.write(startupMessage(2))
      const messages = yield* session.messages(1)
      assert.strictEqual(tags(messages)[0], "AuthenticationOk")
      assert.strictEqual(yield* server.connections, 2)
    }))

  it.live("runs expect, respond, send, delay and close in order, recording what the client sends", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.respond("Query", (m) => [
          FakeServer.rowDescription(["q"]),
          FakeServer.dataRow([(m as Frontend.Query).query]),
          FakeServer.commandComplete("SELECT 1")
        ]),
        FakeServer.delay(50),
        FakeServer.send(FakeServer.readyForQuery("T")),
        FakeServer.close()
      ])
      const client = yield* connectRaw(server.port)
      yield* client.write(startupMessage(2))
      const handshakeCount = 1 + Object.keys(FakeServer.DEFAULT_PARAMETERS).length + 2
      yield* client.messages(handshakeCount)
      const sentAt = Date.now()
      yield* client.write(encodeFrontend({ _tag: "Query", query: "select 'hi'" }))
      const all = yield* client.messages(handshakeCount + 4)
      yield* client.closed
      assert.isAtLeast(Date.now() - sentAt, 45)
      const reply = all.slice(handshakeCount)
      assert.deepStrictEqual(tags(reply), ["RowDescription", "DataRow", "CommandComplete", "ReadyForQuery"])
      const row = reply[1] as Backend.DataRow
      assert.strictEqual(new TextDecoder().decode(row.values[0]!), "select 'hi'")
      assert.deepStrictEqual(reply[3], { _tag: "ReadyForQuery", transactionStatus: "T" })
      assert.deepStrictEqual(tags(yield* server.received), ["StartupMessage", "Query"])
      assert.deepStrictEqual(yield* server.errors, [])
    }))

  it.live("readUntil skips messages; an unexpected message is recorded and drops the connection", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.readUntil("Sync"),
        FakeServer.send(FakeServer.readyForQuery()),
        FakeServer.expect("Query")
      ])
      const client = yield* connectRaw(server.port)
      yield* client.write(startupMessage(2))
      yield* client.write(encodeFrontend({ _tag: "Parse", name: "", query: "select 1", parameterTypes: [] }))
      yield* client.write(Frontend.FLUSH)
      yield* client.write(Frontend.SYNC)
      yield* server.waitFor("Sync")
      yield* client.write(Frontend.SYNC)
      yield* client.closed
      assert.deepStrictEqual(tags(yield* server.received), ["StartupMessage", "Parse", "Flush", "Sync", "Sync"])
      assert.deepStrictEqual(yield* server.errors, ["expected Query, received Sync"])
    }))

  it.live("reads a 'p' frame as the Authentication request asked for", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([
        FakeServer.expect("StartupMessage"),
        FakeServer.send({ _tag: "AuthenticationSASL", mechanisms: ["SCRAM-SHA-256"] }),
        FakeServer.expect("SASLInitialResponse"),
        FakeServer.send(FakeServer.errorResponse("28P01", "no", "FATAL")),
        FakeServer.close()
      ])
      const client = yield* connectRaw(server.port)
      yield* client.write(startupMessage(2))
      yield* client.messages(1)
      yield* client.write(
        encodeFrontend({ _tag: "SASLInitialResponse", mechanism: "SCRAM-SHA-256", data: new Uint8Array([1, 2]) })
      )
      const messages = yield* client.messages(2)
      yield* client.closed
      assert.deepStrictEqual(tags(messages), ["AuthenticationSASL", "ErrorResponse"])
      const received = yield* server.received
      assert.deepStrictEqual(received[1], {
        _tag: "SASLInitialResponse",
        mechanism: "SCRAM-SHA-256",
        data: new Uint8Array([1, 2])
      })
      assert.deepStrictEqual(yield* server.errors, [])
    }))

  it.live("sendRaw sends bytes as given and destroy drops the connection after them", () =>
    Effect.gen(function*() {
      const rfq = FakeServer.encodeAll([FakeServer.readyForQuery()])
      const server = yield* FakeServer.make([
        FakeServer.expect("StartupMessage"),
        FakeServer.sendRaw(rfq.subarray(0, 3)),
        FakeServer.delay(20),
        FakeServer.sendRaw(rfq.subarray(3)),
        FakeServer.sendRaw(Uint8Array.of(0x44, 0, 0)),
        FakeServer.destroy()
      ])
      const socket = yield* Effect.acquireRelease(
        Effect.sync(() => Net.connect(server.port, "127.0.0.1")),
        (s) => Effect.sync(() => s.destroy())
      )
      const bytes = yield* Effect.callback<Uint8Array>((resume) => {
        const chunks: Array<Buffer> = []
        socket.on("data", (c: Buffer) => chunks.push(c))
        socket.on("error", () => {})
        socket.on("close", () => resume(Effect.succeed(Buffer.concat(chunks))))
        socket.write(startupMessage(2))
      }).pipe(Effect.timeout(WAIT_MILLIS))
      assert.deepStrictEqual([...bytes], [...rfq, 0x44, 0, 0])
    }))

  it.live("a stalled script keeps recording and never answers; undecodable bytes are an error", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([FakeServer.stall()], [FakeServer.handshake()])
      const stalled = yield* connectRaw(server.port)
      yield* stalled.write(startupMessage(2))
      yield* stalled.write(Frontend.SYNC)
      yield* server.waitFor("Sync")
      const nothing = yield* stalled.messages(1).pipe(Effect.timeout(200), Effect.option)
      assert.isTrue(nothing._tag === "None")
      assert.strictEqual(yield* server.open, 1)

      const broken = yield* connectRaw(server.port)
      yield* broken.write(startupMessage(2))
      yield* broken.write(Uint8Array.of(0x7e, 0, 0, 0, 4))
      yield* broken.closed
      const errors = yield* server.errors
      assert.strictEqual(errors.length, 1)
      assert.match(errors[0]!, /unknown frontend message type '~'/)
    }))

  it.live("connections beyond the scripts are closed at once", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([FakeServer.handshake()])
      const first = yield* connectRaw(server.port)
      yield* first.write(startupMessage(2))
      yield* first.messages(1)
      const extra = yield* connectRaw(server.port)
      yield* extra.write(startupMessage(2))
      yield* extra.closed
      assert.deepStrictEqual(yield* extra.messages(1), [])
    }))

  it.live("closing the Scope closes every connection and the listener", () =>
    Effect.gen(function*() {
      const sockets: Array<Net.Socket> = []
      yield* Effect.addFinalizer(() => Effect.sync(() => sockets.forEach((s) => s.destroy())))
      let clientClosed = false
      const port = yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* FakeServer.make([FakeServer.handshake()])
        const socket = Net.connect(server.port, "127.0.0.1")
        sockets.push(socket)
        socket.on("error", () => {})
        socket.on("close", () => {
          clientClosed = true
        })
        socket.write(startupMessage(2))
        yield* server.waitFor("StartupMessage")
        assert.strictEqual(yield* server.open, 1)
        return server.port
      }))
      yield* Effect.callback<void>((resume) => {
        if (clientClosed) return resume(Effect.void)
        sockets[0]!.once("close", () => resume(Effect.void))
      }).pipe(Effect.timeout(WAIT_MILLIS))
      const refused = yield* Effect.callback<boolean>((resume) => {
        const socket = Net.connect(port, "127.0.0.1")
        sockets.push(socket)
        socket.on("connect", () => resume(Effect.succeed(false)))
        socket.on("error", () => resume(Effect.succeed(true)))
      })
      assert.isTrue(refused)
    }))
})
