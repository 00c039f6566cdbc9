import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Message from "../../src/protocol/Message.ts"
import * as Startup from "../../src/protocol/Startup.ts"
import { Reader } from "../../src/wire/Reader.ts"
import { Writer } from "../../src/wire/Writer.ts"
import { bytes, cstr, err, golden, i16, i32, ok, toHex } from "./Golden.ts"

const startupGolden = <A extends Startup.StartupPhaseMessage>(
  codec: Message.Codec<A>,
  message: NoInfer<A>,
  frame: Uint8Array
): void => {
  golden(codec, message, frame)
  assert.deepStrictEqual(ok(Startup.decode(frame)), message, "Startup.decode")
  assert.strictEqual(toHex(ok(Startup.encode(message))), toHex(frame), "Startup.encode")
  assert.deepStrictEqual(ok(Schema.decodeUnknownResult(Startup.MessageFromBytes)(frame)), message)
  assert.strictEqual(toHex(ok(Schema.encodeResult(Startup.MessageFromBytes)(message))), toHex(frame))
}

describe("Startup golden bytes (protocol-3.2 Message Formats)", () => {
  it("StartupMessage for protocol 3.2", () => {
    startupGolden(
      Startup.StartupMessage,
      {
        _tag: "StartupMessage",
        protocolVersion: 196610,
        parameters: [{ name: "user", value: "u" }, { name: "database", value: "" }]
      },
      bytes(
        i32(4 + 4 + 5 + 2 + 9 + 1 + 1), // Int32 length, counting itself
        i16(3),
        i16(2), // Int32(196610): major 3, minor 2
        cstr("user"),
        cstr("u"), // String name, String value
        cstr("database"),
        cstr(""),
        [0] // terminator
      )
    )
  })

  it("SSLRequest and GSSENCRequest, and their constant frames", () => {
    const ssl = bytes(i32(8), i16(1234), i16(5679))
    const gss = bytes(i32(8), i16(1234), i16(5680))
    startupGolden(Startup.SSLRequest, { _tag: "SSLRequest" }, ssl)
    startupGolden(Startup.GSSENCRequest, { _tag: "GSSENCRequest" }, gss)
    assert.strictEqual(toHex(Startup.SSL_REQUEST), toHex(ssl))
    assert.strictEqual(toHex(Startup.GSSENC_REQUEST), toHex(gss))
  })

  it("CancelRequest with a 4-byte key and with a 256-byte key", () => {
    startupGolden(
      Startup.CancelRequest,
      { _tag: "CancelRequest", processId: 63, secretKey: Uint8Array.of(1, 2, 3, 4) },
      bytes(
        i32(16), // Int32 length
        i16(1234),
        i16(5678), // Int32(80877102)
        i32(63), // Int32 process ID
        [1, 2, 3, 4] // Byten key
      )
    )
    const key = new Uint8Array(256).fill(0xaa)
    startupGolden(
      Startup.CancelRequest,
      { _tag: "CancelRequest", processId: 1, secretKey: key },
      bytes(i32(12 + 256), i16(1234), i16(5678), i32(1), [...key])
    )
  })
})

describe("Startup decoding rules", () => {
  it("readUnsafe discriminates by the first Int32 of the body", () => {
    const r = new Reader()
    const ssl = bytes(i16(1234), i16(5679))
    assert.strictEqual(Startup.readUnsafe(ssl, 0, ssl.length, r)._tag, "SSLRequest")
    const cancel = bytes(i16(1234), i16(5678), i32(5), [1, 2, 3, 4])
    assert.strictEqual(Startup.readUnsafe(cancel, 0, cancel.length, r)._tag, "CancelRequest")
    const startup = bytes(i16(3), i16(0), [0])
    assert.strictEqual(Startup.readUnsafe(startup, 0, startup.length, r)._tag, "StartupMessage")
  })

  it("a StartupMessage cannot carry a request code (major version 1234)", () => {
    const e = err(Message.decodeFrame(Startup.StartupMessage, bytes(i32(9), i16(1234), i16(5679), [0])))
    assert.strictEqual(e.messageName, "StartupMessage")
    assert.strictEqual(e.offset, 0)
    const unknown = err(Startup.decode(bytes(i32(9), i16(1234), i16(9999), [0])))
    assert.include(unknown.message, "unknown request code")
    assert.isFalse(
      Schema.is(Startup.StartupMessageSchema)({ _tag: "StartupMessage", protocolVersion: 80877103, parameters: [] })
    )
    assert.isTrue(Startup.encode({ _tag: "StartupMessage", protocolVersion: 80877102, parameters: [] })._tag === "Failure")
  })

  it("a protocol 2.0 startup packet is not read as a 3.x StartupMessage", () => {
    const e = err(Startup.decode(bytes(i32(9), i16(2), i16(0), [0])))
    assert.include(e.message, "protocol version 2.0 is not 3.0 or later")
  })

  it("a NUL inside a parameter value cannot smuggle in another parameter", () => {
    const message: Startup.StartupMessage = {
      _tag: "StartupMessage",
      protocolVersion: 196608,
      parameters: [{ name: "user", value: "guest\0user\0admin" }]
    }
    assert.isFalse(Schema.is(Startup.StartupMessageSchema)(message))
    assert.include(err(Startup.encode(message)).message, "NUL")
    assert.isTrue(Schema.encodeResult(Startup.MessageFromBytes)(message)._tag === "Failure")
    const w = new Writer()
    assert.throws(() => Startup.writeStartupMessage(w, 196608, message.parameters), /NUL/)
    assert.strictEqual(w.pending(), 0)
  })

  it("an empty parameter name is refused (it would end the list)", () => {
    assert.isTrue(
      Startup.encode({ _tag: "StartupMessage", protocolVersion: 196608, parameters: [{ name: "", value: "x" }] })
        ._tag === "Failure"
    )
  })

  it("a StartupMessage must end with its terminator", () => {
    const e = err(Startup.decode(bytes(i32(4 + 4 + 5 + 2), i16(3), i16(0), cstr("user"), cstr("u"))))
    assert.strictEqual(e.messageName, "StartupMessage")
    assert.include(e.message, "unterminated string at offset 11")
  })

  it("CancelRequest keys outside 4..256 bytes are refused both ways", () => {
    const long = err(Startup.decode(bytes(i32(12 + 257), i16(1234), i16(5678), i32(1), new Array(257).fill(0))))
    assert.strictEqual(long.messageName, "CancelRequest")
    assert.strictEqual(long.offset, 8)
    const short = err(Startup.decode(bytes(i32(15), i16(1234), i16(5678), i32(1), [1, 2, 3])))
    assert.include(short.message, "3 bytes")
    assert.isTrue(
      Startup.encode({ _tag: "CancelRequest", processId: 1, secretKey: new Uint8Array(257) })._tag === "Failure"
    )
  })

  it("a frame longer than the server's startup packet limit is refused", () => {
    const frame = new Uint8Array(10005)
    frame.set(bytes(i32(10005), i16(3), i16(0)))
    assert.include(err(Startup.decode(frame)).message, "exceeds the limit of 10004")
  })

  it("a length word that disagrees with the bytes given", () => {
    assert.include(err(Startup.decode(bytes(i32(9), i16(1234), i16(5679)))).message, "length 9")
    assert.include(err(Startup.decode(bytes([0, 0]))).message, "shorter than its length word")
  })
})

describe("the one-byte answer to an encryption request", () => {
  it("decodes S, N, G and E", () => {
    assert.strictEqual(Startup.decodeEncryptionResponse(0x53), "S")
    assert.strictEqual(Startup.decodeEncryptionResponse(0x4e), "N")
    assert.strictEqual(Startup.decodeEncryptionResponse(0x47), "G")
    assert.strictEqual(Startup.decodeEncryptionResponse(0x45), "E")
    assert.isUndefined(Startup.decodeEncryptionResponse(0x52))
  })

  it("refuses the other request's acceptance", () => {
    assert.isUndefined(Startup.decodeEncryptionResponse(0x47, "SSLRequest"))
    assert.isUndefined(Startup.decodeEncryptionResponse(0x53, "GSSENCRequest"))
    assert.strictEqual(Startup.decodeEncryptionResponse(0x53, "SSLRequest"), "S")
    assert.strictEqual(Startup.decodeEncryptionResponse(0x47, "GSSENCRequest"), "G")
    assert.strictEqual(Startup.decodeEncryptionResponse(0x4e, "GSSENCRequest"), "N")
  })
})

describe("Startup round trips over Schema arbitraries", () => {
  for (const codec of Object.values(Startup.codecs)) {
    const c = codec as Message.Codec<Startup.StartupPhaseMessage>
    it.effect.prop(`${c.name} round trip`, [c.schema], ([m]) =>
      Effect.gen(function*() {
        const schema = Message.fromBytes(c)
        const frame = yield* Schema.encodeEffect(schema)(m)
        assert.deepStrictEqual(yield* Schema.decodeUnknownEffect(schema)(frame), m)
        assert.deepStrictEqual(ok(Startup.decode(frame)), m)
        assert.strictEqual(toHex(ok(Startup.encode(ok(Startup.decode(frame))))), toHex(frame))
      }))
  }

  it.effect.prop("MessageFromBytes round trip over the union", [Startup.MessageSchema], ([m]) =>
    Effect.gen(function*() {
      const frame = yield* Schema.encodeEffect(Startup.MessageFromBytes)(m as Startup.StartupPhaseMessage)
      assert.deepStrictEqual(yield* Schema.decodeUnknownEffect(Startup.MessageFromBytes)(frame.slice()), m)
    }))
})
