import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import { ProtocolError } from "../../src/errors/PgError.ts"
import * as Message from "../../src/protocol/Message.ts"
import * as V2 from "../../src/protocol/V2.ts"
import { golden } from "./Golden.ts"

// Big-endian field builders written out by hand (independent of the Writer).
const i16 = (v: number): Array<number> => [(v >> 8) & 0xff, v & 0xff]
const i32 = (v: number): Array<number> => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]
const str = (s: string): Array<number> => [...new TextEncoder().encode(s)]
const cstr = (s: string): Array<number> => [...str(s), 0]
const lim = (s: string, n: number): Array<number> => [...str(s), ...new Array(n - str(s).length).fill(0)]
const bytes = (...parts: ReadonlyArray<number | ReadonlyArray<number>>): Uint8Array =>
  new Uint8Array(parts.flatMap((p) => (typeof p === "number" ? [p] : [...p])))
const u8 = (s: string): Uint8Array => new Uint8Array(str(s))

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** A small seeded PRNG (mulberry32), so fuzz runs are reproducible. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Cuts `stream` into chunks whose sizes cycle through `sizes`. */
const chunk = (stream: Uint8Array, sizes: ReadonlyArray<number>): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let at = 0
  let k = 0
  while (at < stream.length) {
    const n = sizes.length === 0 ? stream.length : sizes[k++ % sizes.length]!
    out.push(stream.slice(at, at + n))
    at += n
  }
  return out
}

const encodeBackendOk = (m: V2.BackendMessage): Uint8Array => Result.getOrThrow(V2.encodeBackend(m))
const encodeFrontendOk = (m: V2.FrontendMessage): Uint8Array => Result.getOrThrow(V2.encodeFrontend(m))

const failure = <A>(result: Result.Result<A, ProtocolError>): ProtocolError => {
  if (Result.isSuccess(result)) throw new Error("expected a failure")
  return result.failure
}

/**
 * The message's own codec (rows: the codec for their field count), or
 * undefined for CopyDataRows, which has none.
 */
const codecOf = (message: { readonly _tag: string }, fieldCount = 0): Message.Codec<any> | undefined => {
  if (message._tag === "AsciiRow") return V2.asciiRow(fieldCount)
  if (message._tag === "BinaryRow") return V2.binaryRow(fieldCount)
  const codec: unknown = (V2 as Record<string, unknown>)[message._tag]
  return typeof codec === "object" && codec !== null && "readBody" in codec ? codec as Message.Codec<any> : undefined
}

/** The golden check of the stream functions, then of the message's own codec and its Schema. */
const goldenBothWays = (
  wire: Uint8Array,
  message: V2.BackendMessage | V2.FrontendMessage,
  encoded: Uint8Array,
  decoded: V2.BackendMessage | V2.FrontendMessage,
  fieldCount?: number
) => {
  assert.deepStrictEqual(encoded, wire)
  assert.deepStrictEqual(decoded, message)
  const codec = codecOf(message, fieldCount)
  if (codec !== undefined) golden(codec, message, wire)
  else assert.strictEqual(message._tag, "CopyDataRows")
}

/** Golden check in both directions for a server message. */
const backendGolden = (name: string, wire: Uint8Array, message: V2.BackendMessage, context: V2.BackendContext = {}) =>
  it(name, () =>
    goldenBothWays(
      wire,
      message,
      encodeBackendOk(message),
      Result.getOrThrow(V2.decodeBackend(wire, context)),
      context.fieldCount
    ))

/** Golden check in both directions for a client message. */
const frontendGolden = (name: string, wire: Uint8Array, message: V2.FrontendMessage, mode: V2.FrontendMode) =>
  it(name, () =>
    goldenBothWays(wire, message, encodeFrontendOk(message), Result.getOrThrow(V2.decodeFrontend(wire, mode))))

const startupPacket: V2.StartupPacket = {
  _tag: "StartupPacket",
  protocolVersion: 0x20000,
  database: "shop",
  user: "alice",
  options: "",
  unused: "",
  tty: ""
}

describe("V2", () => {
  describe("golden bytes, server messages (protocol-2.0 Message Formats)", () => {
    backendGolden(
      "AsciiRow",
      bytes(
        0x44, // Byte1('D')
        0b10100000, // bitmap: field 0 non-null, field 1 NULL, field 2 non-null
        i32(6), // Int32 size of field 0, including itself
        str("ab"), // Byten
        i32(4), // Int32 size of field 2 (empty value)
        [] // Byten (nothing)
      ),
      { _tag: "AsciiRow", values: [u8("ab"), null, new Uint8Array(0)] },
      { fieldCount: 3 }
    )

    backendGolden(
      "AsciiRow with 9 fields: a two-byte bitmap, the last byte mostly wasted",
      bytes(
        0x44, // Byte1('D')
        0b00000001, // fields 0-6 NULL, field 7 non-null
        0b10000000, // field 8 non-null, bits 6..0 wasted
        i32(5), // field 7 size (1 byte + 4)
        str("x"),
        i32(5), // field 8 size
        str("y")
      ),
      { _tag: "AsciiRow", values: [null, null, null, null, null, null, null, u8("x"), u8("y")] },
      { fieldCount: 9 }
    )

    backendGolden(
      "AuthenticationOk",
      bytes(0x52, i32(0)), // Byte1('R'), Int32(0)
      { _tag: "AuthenticationOk" }
    )
    backendGolden("AuthenticationKerberosV4", bytes(0x52, i32(1)), { _tag: "AuthenticationKerberosV4" })
    backendGolden("AuthenticationKerberosV5", bytes(0x52, i32(2)), { _tag: "AuthenticationKerberosV5" })
    backendGolden(
      "AuthenticationCleartextPassword",
      bytes(0x52, i32(3)),
      { _tag: "AuthenticationCleartextPassword" }
    )
    backendGolden(
      "AuthenticationCryptPassword",
      bytes(
        0x52, // Byte1('R')
        i32(4), // Int32(4)
        str("ab") // Byte2 salt
      ),
      { _tag: "AuthenticationCryptPassword", salt: u8("ab") }
    )
    backendGolden(
      "AuthenticationMD5Password",
      bytes(
        0x52, // Byte1('R')
        i32(5), // Int32(5)
        [0x01, 0x02, 0x03, 0x04] // Byte4 salt
      ),
      { _tag: "AuthenticationMD5Password", salt: new Uint8Array([1, 2, 3, 4]) }
    )
    backendGolden("AuthenticationSCMCredential", bytes(0x52, i32(6)), { _tag: "AuthenticationSCMCredential" })

    backendGolden(
      "BackendKeyData",
      bytes(
        0x4b, // Byte1('K')
        i32(4242), // Int32 process ID
        i32(-559038737) // Int32 secret key (0xDEADBEEF)
      ),
      { _tag: "BackendKeyData", processId: 4242, secretKey: -559038737 }
    )

    backendGolden(
      "BinaryRow",
      bytes(
        0x42, // Byte1('B')
        0b01000000, // bitmap: field 0 NULL, field 1 non-null
        i32(4), // Int32 size of field 1, excluding itself
        i32(42) // Byten (int4 42)
      ),
      { _tag: "BinaryRow", values: [null, new Uint8Array([0, 0, 0, 42])] },
      { fieldCount: 2 }
    )

    backendGolden(
      "CompletedResponse",
      bytes(0x43, cstr("INSERT 17001 1")), // Byte1('C'), String tag
      { _tag: "CompletedResponse", tag: "INSERT 17001 1" }
    )

    backendGolden(
      "CopyDataRows (server side, every line and the end marker)",
      bytes(
        str("1\tapple\n"), // a row ending in '\n'
        str("2\t\\N\n"), // a row with a NULL (COPY text format)
        0x5c,
        0x2e,
        0x0a // Byte1('\\'), Byte1('.'), Byte1('\n')
      ),
      { _tag: "CopyDataRows", rows: [u8("1\tapple"), u8("2\t\\N")], end: true },
      { inCopy: true }
    )

    backendGolden("CopyInResponse", bytes(0x47), { _tag: "CopyInResponse" }) // Byte1('G')
    backendGolden("CopyOutResponse", bytes(0x48), { _tag: "CopyOutResponse" }) // Byte1('H')

    backendGolden(
      "CursorResponse",
      bytes(0x50, cstr("blank")), // Byte1('P'), String name
      { _tag: "CursorResponse", name: "blank" }
    )

    backendGolden(
      "EmptyQueryResponse",
      bytes(0x49, cstr("")), // Byte1('I'), String("")
      { _tag: "EmptyQueryResponse" }
    )

    backendGolden(
      "EmptyQueryResponse keeps a non-empty unused string",
      bytes(0x49, cstr(" ")),
      { _tag: "EmptyQueryResponse", unused: " " }
    )

    backendGolden(
      "ErrorResponse",
      bytes(0x45, cstr("ERROR:  relation \"nope\" does not exist\n")), // Byte1('E'), String message
      { _tag: "ErrorResponse", message: "ERROR:  relation \"nope\" does not exist\n" }
    )

    backendGolden(
      "FunctionResultResponse",
      bytes(
        0x56, // Byte1('V')
        0x47, // Byte1('G') nonempty result
        i32(4), // Int32 size, excluding itself
        i32(7), // Byten result
        0x30 // Byte1('0')
      ),
      { _tag: "FunctionResultResponse", result: new Uint8Array([0, 0, 0, 7]) }
    )

    backendGolden(
      "FunctionVoidResponse",
      bytes(0x56, 0x30), // Byte1('V'), Byte1('0')
      { _tag: "FunctionVoidResponse" }
    )

    backendGolden(
      "NoticeResponse",
      bytes(0x4e, cstr("NOTICE:  hello\n")), // Byte1('N'), String message
      { _tag: "NoticeResponse", message: "NOTICE:  hello\n" }
    )

    backendGolden(
      "NotificationResponse",
      bytes(
        0x41, // Byte1('A')
        i32(31337), // Int32 process ID of the notifier
        cstr("orders") // String condition name
      ),
      { _tag: "NotificationResponse", processId: 31337, conditionName: "orders" }
    )

    backendGolden("ReadyForQuery", bytes(0x5a), { _tag: "ReadyForQuery" }) // Byte1('Z')

    backendGolden(
      "RowDescription",
      bytes(
        0x54, // Byte1('T')
        i16(2), // Int16 number of fields
        cstr("id"), // String field name
        i32(23), // Int32 type OID (int4)
        i16(4), // Int16 type size
        i32(-1), // Int32 type modifier
        cstr("name"),
        i32(1043), // varchar
        i16(-1), // variable width
        i32(36) // varchar(32)
      ),
      {
        _tag: "RowDescription",
        fields: [
          { name: "id", dataTypeOid: 23, dataTypeSize: 4, typeModifier: -1 },
          { name: "name", dataTypeOid: 1043, dataTypeSize: -1, typeModifier: 36 }
        ]
      }
    )
  })

  describe("golden bytes, client messages (protocol-2.0 Message Formats)", () => {
    frontendGolden(
      "CancelRequest",
      bytes(
        i32(16), // Int32(16) packet size
        i32(80877102), // Int32(80877102) cancel request code: 1234 << 16 | 5678
        i32(4242), // Int32 process ID
        i32(-559038737) // Int32 secret key
      ),
      { _tag: "CancelRequest", processId: 4242, secretKey: -559038737 },
      "startup"
    )

    frontendGolden(
      "CopyDataRows (client side)",
      bytes(str("a\n"), str("\n"), str("\\.\n")), // two rows (one empty), then the end marker
      { _tag: "CopyDataRows", rows: [u8("a"), new Uint8Array(0)], end: true },
      "copy"
    )

    frontendGolden(
      "FunctionCall",
      bytes(
        0x46, // Byte1('F')
        cstr(""), // String("") unused
        i32(1598), // Int32 function OID
        i32(2), // Int32 number of arguments
        i32(4), // Int32 size of argument 0
        i32(10), // Byten
        i32(0) // Int32 size of argument 1 (empty)
      ),
      { _tag: "FunctionCall", functionOid: 1598, arguments: [new Uint8Array([0, 0, 0, 10]), new Uint8Array(0)] },
      "normal"
    )

    frontendGolden(
      "FunctionCall as libpq sent it (unused string \" \")",
      bytes(0x46, cstr(" "), i32(1598), i32(0)),
      { _tag: "FunctionCall", unused: " ", functionOid: 1598, arguments: [] },
      "normal"
    )

    frontendGolden(
      "PasswordPacket",
      bytes(
        i32(11), // Int32 packet size: 4 + "secret" + NUL
        cstr("secret") // String password
      ),
      { _tag: "PasswordPacket", password: "secret" },
      "password"
    )

    frontendGolden(
      "Query",
      bytes(0x51, cstr("select 1")), // Byte1('Q'), String query
      { _tag: "Query", query: "select 1" },
      "normal"
    )

    frontendGolden(
      "SSLRequest",
      bytes(
        i32(8), // Int32(8) packet size
        i32(80877103) // Int32(80877103) SSL request code: 1234 << 16 | 5679
      ),
      { _tag: "SSLRequest" },
      "startup"
    )

    frontendGolden(
      "StartupPacket",
      bytes(
        i32(296), // Int32(296) packet size
        i32(0x20000), // Int32 protocol version 2.0
        lim("shop", 64), // LimString64 database
        lim("alice", 32), // LimString32 user
        lim("", 64), // LimString64 options
        lim("", 64), // LimString64 unused
        lim("", 64) // LimString64 tty
      ),
      startupPacket,
      "startup"
    )

    frontendGolden("Terminate", bytes(0x58), { _tag: "Terminate" }, "normal") // Byte1('X')

    it("a LimString that fills its field has no NUL", () => {
      const user = "u".repeat(32)
      const wire = encodeFrontendOk({ ...startupPacket, user })
      assert.strictEqual(wire.length, 296)
      assert.deepStrictEqual([...wire.subarray(72, 104)], str(user))
      assert.strictEqual(wire[104], 0) // options starts right after, no terminator in between
      const back = Result.getOrThrow(V2.decodeFrontend(wire, "startup"))
      assert.deepStrictEqual(back, { ...startupPacket, user })
    })

    it("bytes after a LimString's NUL are ignored", () => {
      const wire = encodeFrontendOk(startupPacket)
      wire[8 + 5] = 0x7a // inside database's padding
      assert.deepStrictEqual(Result.getOrThrow(V2.decodeFrontend(wire, "startup")), startupPacket)
    })

    it("refuses to write a LimString longer than its field", () => {
      const e = failure(V2.encodeFrontend({ ...startupPacket, user: "é".repeat(17) }))
      assert.include(e.message, "user takes 34 bytes, more than 32")
    })

    it("refuses a StartupPacket for protocol 3", () => {
      const wire = encodeFrontendOk(startupPacket)
      wire[5] = 3
      assert.include(failure(V2.decodeFrontend(wire, "startup")).message, "protocol version 3.0")
    })
  })

  describe("codecs made per field count", () => {
    it("asciiRow(n) and binaryRow(n) work with Message.decodeFrame and refuse other counts", () => {
      const wire = bytes(0x42, 0x80, i32(1), 9)
      const row = Result.getOrThrow(Message.decodeFrame(V2.binaryRow(1), wire))
      assert.deepStrictEqual(row, { _tag: "BinaryRow", values: [new Uint8Array([9])] })
      // Nine fields need a two-byte bitmap: the size then starts one byte later and runs past the end.
      assert.isTrue(Result.isFailure(Message.decodeFrame(V2.binaryRow(9), wire)))
      assert.isTrue(Result.isFailure(Message.encodeFrame(V2.asciiRow(2), { _tag: "AsciiRow", values: [null] })))
    })

    it("the Authentication codecs check their code", () => {
      assert.isTrue(Result.isFailure(Message.decodeFrame(V2.AuthenticationOk, bytes(0x52, i32(3)))))
      assert.isTrue(Result.isSuccess(Message.decodeFrame(V2.AuthenticationCleartextPassword, bytes(0x52, i32(3)))))
    })
  })

  describe("BackendDecoder", () => {
    const session: ReadonlyArray<V2.BackendMessage> = [
      { _tag: "AuthenticationMD5Password", salt: new Uint8Array([9, 8, 7, 6]) },
      { _tag: "AuthenticationOk" },
      { _tag: "BackendKeyData", processId: 77, secretKey: 123456 },
      { _tag: "ReadyForQuery" },
      { _tag: "CursorResponse", name: "blank" },
      {
        _tag: "RowDescription",
        fields: [
          { name: "a", dataTypeOid: 23, dataTypeSize: 4, typeModifier: -1 },
          { name: "b", dataTypeOid: 25, dataTypeSize: -1, typeModifier: -1 }
        ]
      },
      { _tag: "AsciiRow", values: [u8("1"), u8("one")] },
      { _tag: "AsciiRow", values: [u8("2"), null] },
      { _tag: "CompletedResponse", tag: "SELECT" },
      { _tag: "ReadyForQuery" },
      { _tag: "CopyOutResponse" },
      { _tag: "CopyDataRows", rows: [u8("1\tone")], end: false },
      { _tag: "CopyDataRows", rows: [u8("")], end: false },
      { _tag: "CopyDataRows", rows: [], end: true },
      { _tag: "CompletedResponse", tag: "COPY" },
      { _tag: "NotificationResponse", processId: 78, conditionName: "ch" },
      { _tag: "NoticeResponse", message: "NOTICE:  x\n" },
      { _tag: "FunctionResultResponse", result: new Uint8Array([1]) },
      { _tag: "FunctionVoidResponse" },
      { _tag: "ReadyForQuery" }
    ]
    const stream = concat(session.map(encodeBackendOk))

    const decodeAll = (chunks: ReadonlyArray<Uint8Array>, decoder = new V2.BackendDecoder()) => {
      const out: Array<V2.BackendMessage> = []
      for (const c of chunks) {
        const result = decoder.push(c)
        out.push(...Result.getOrThrow(result))
      }
      Result.getOrThrow(decoder.finish())
      return out
    }

    it("decodes a whole session in one chunk", () => {
      assert.deepStrictEqual(decodeAll([stream]), session)
    })

    it("decodes the same session fed one byte at a time", () => {
      assert.deepStrictEqual(decodeAll(chunk(stream, [1])), session)
    })

    it.effect.prop("decodes the same messages however the stream is chunked", [
      Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 40 })))
    ], ([sizes]) =>
      Effect.gen(function*() {
        assert.deepStrictEqual(decodeAll(chunk(stream, sizes)), session)
      }))

    it("tracks the field count of the last RowDescription and the COPY state", () => {
      const decoder = new V2.BackendDecoder()
      assert.strictEqual(decoder.fieldCount, -1)
      Result.getOrThrow(decoder.push(encodeBackendOk(session[5]!)))
      assert.strictEqual(decoder.fieldCount, 2)
      Result.getOrThrow(decoder.push(bytes(0x48)))
      assert.isTrue(decoder.inCopy)
      assert.include(failure(decoder.finish()).message, "ended inside CopyDataRows")
    })

    it("waits for more bytes instead of failing on a partial message", () => {
      const decoder = new V2.BackendDecoder()
      const partial = Result.getOrThrow(decoder.push(bytes(0x45, str("ERROR:  par"))))
      assert.deepStrictEqual(partial, [])
      assert.strictEqual(decoder.buffered, 12)
      const rest = Result.getOrThrow(decoder.push(bytes(str("tial\n"), 0, 0x5a)))
      assert.deepStrictEqual(rest, [{ _tag: "ErrorResponse", message: "ERROR:  partial\n" }, { _tag: "ReadyForQuery" }])
      assert.strictEqual(decoder.buffered, 0)
    })

    it("fails at the end of the stream inside a message", () => {
      const decoder = new V2.BackendDecoder()
      Result.getOrThrow(decoder.push(bytes(0x4b, 0, 0)))
      const e = failure(decoder.finish())
      assert.strictEqual(e.messageName, "BackendKeyData")
      assert.include(e.message, "ended inside the message")
    })

    it("an unknown type byte is malformed, with its stream offset", () => {
      const decoder = new V2.BackendDecoder()
      const e = failure(decoder.push(bytes(0x5a, 0x5a, 0x21)))
      assert.include(e.message, "unknown message type 0x21")
      assert.include(e.message, "stream offset 2")
    })

    it("an AsciiRow before any RowDescription is malformed", () => {
      const e = failure(new V2.BackendDecoder().push(bytes(0x44, 0x80, i32(5), 0x31)))
      assert.strictEqual(e.messageName, "AsciiRow")
      assert.include(e.message, "without a preceding RowDescription")
    })

    it("an AsciiRow field size below 4 names the field and offset", () => {
      const decoder = new V2.BackendDecoder({ fieldCount: 1 })
      const e = failure(decoder.push(bytes(0x5a, 0x44, 0x80, i32(3))))
      assert.strictEqual(e.messageName, "AsciiRow")
      assert.strictEqual(e.offset, 1) // after the bitmap byte
      assert.include(e.message, "field 0 has size 3")
      assert.include(e.message, "stream offset 3")
    })

    it("an unknown authentication code is malformed", () => {
      const e = failure(new V2.BackendDecoder().push(bytes(0x52, i32(10))))
      assert.include(e.message, "unknown authentication request code 10")
    })

    it("'V' must be followed by 'G' or '0'", () => {
      const e = failure(new V2.BackendDecoder().push(bytes(0x56, 0x31)))
      assert.include(e.message, "expected 'G' or '0'")
    })

    it("a FunctionResultResponse must end with '0'", () => {
      const e = failure(new V2.BackendDecoder().push(bytes(0x56, 0x47, i32(1), 5, 0x31)))
      assert.strictEqual(e.messageName, "FunctionResultResponse")
      assert.include(e.message, "the end of the result")
    })

    it("invalid UTF-8 in a string is malformed", () => {
      const e = failure(new V2.BackendDecoder().push(bytes(0x43, 0xff, 0xfe, 0)))
      assert.strictEqual(e.messageName, "CompletedResponse")
      assert.include(e.message, "invalid UTF-8")
    })

    it("is poisoned after an error: later input fails the same way", () => {
      const decoder = new V2.BackendDecoder()
      const first = failure(decoder.push(bytes(0x21)))
      const second = failure(decoder.push(bytes(0x5a)))
      assert.strictEqual(second, first)
      assert.strictEqual(failure(decoder.finish()), first)
      assert.strictEqual(decoder.error, first)
    })

    it("pushUnsafe delivers the messages before a malformed one, then throws", () => {
      const decoder = new V2.BackendDecoder()
      const got: Array<string> = []
      assert.throws(() => decoder.pushUnsafe(bytes(0x5a, 0x47, 0x21), (m) => got.push(m._tag)), ProtocolError)
      assert.deepStrictEqual(got, ["ReadyForQuery", "CopyInResponse"])
    })

    it("refuses a value larger than maxMessageSize before buffering it", () => {
      const decoder = new V2.BackendDecoder({ maxMessageSize: 1024, fieldCount: 1 })
      const e = failure(decoder.push(bytes(0x42, 0x80, i32(1_000_000_000), 1, 2, 3)))
      assert.strictEqual(e.messageName, "BinaryRow")
      assert.include(e.message, "exceeds maxMessageSize 1024")
      assert.strictEqual(decoder.buffered, 0)
    })

    it("refuses an unterminated string once it outgrows maxMessageSize", () => {
      const decoder = new V2.BackendDecoder({ maxMessageSize: 100 })
      Result.getOrThrow(decoder.push(bytes(0x4e, new Array(60).fill(0x61))))
      const e = failure(decoder.push(new Uint8Array(60).fill(0x61)))
      assert.strictEqual(e.messageName, "NoticeResponse")
      assert.include(e.message, "exceeds maxMessageSize 100")
    })

    it("refuses a complete message larger than maxMessageSize", () => {
      const decoder = new V2.BackendDecoder({ maxMessageSize: 8 })
      assert.include(failure(decoder.push(bytes(0x43, cstr("0123456789")))).message, "exceeds maxMessageSize 8")
    })

    it("a COPY row longer than maxMessageSize is refused", () => {
      const decoder = new V2.BackendDecoder({ maxMessageSize: 16, inCopy: true })
      Result.getOrThrow(decoder.push(new Uint8Array(10).fill(0x61)))
      assert.include(failure(decoder.push(new Uint8Array(10).fill(0x61))).message, "CopyDataRows")
    })

    it("a large value arriving in many chunks is assembled once, as views of one buffer", () => {
      const value = new Uint8Array(100_000).fill(7)
      const wire = encodeBackendOk({ _tag: "BinaryRow", values: [value] })
      const decoder = new V2.BackendDecoder({ fieldCount: 1 })
      const out: Array<V2.BackendMessage> = []
      for (const c of chunk(wire, [997])) out.push(...Result.getOrThrow(decoder.push(c)))
      assert.strictEqual(out.length, 1)
      const row = out[0]!
      assert.strictEqual(row._tag, "BinaryRow")
      if (row._tag === "BinaryRow") assert.deepStrictEqual(row.values[0], value)
    })

    it("values of a message inside one chunk are views of that chunk", () => {
      const wire = bytes(0x42, 0x80, i32(2), 5, 6)
      const [row] = Result.getOrThrow(new V2.BackendDecoder({ fieldCount: 1 }).push(wire))
      assert.strictEqual(row?._tag, "BinaryRow")
      if (row?._tag === "BinaryRow") assert.strictEqual(row.values[0]!.buffer, wire.buffer)
    })

    it("decodeBackend wants exactly one message", () => {
      assert.include(failure(V2.decodeBackend(bytes(0x5a, 0x5a))).message, "expected one message, got 2")
      assert.include(failure(V2.decodeBackend(bytes(0x4b, 0))).message, "truncated")
      assert.include(failure(V2.decodeBackend(new Uint8Array(0))).message, "expected one message, got 0")
    })
  })

  describe("FrontendDecoder", () => {
    const client: ReadonlyArray<V2.FrontendMessage> = [
      startupPacket,
      { _tag: "PasswordPacket", password: "md5abc" },
      { _tag: "Query", query: "COPY t FROM STDIN" },
      { _tag: "CopyDataRows", rows: [u8("1\tx")], end: false },
      { _tag: "CopyDataRows", rows: [], end: true },
      { _tag: "FunctionCall", unused: " ", functionOid: 1598, arguments: [new Uint8Array([1, 2])] },
      { _tag: "Query", query: "select 1" },
      { _tag: "Terminate" }
    ]
    const stream = concat(client.map(encodeFrontendOk))

    /** A fake server: it tells the decoder what comes next, as a real one knows from what it sent. */
    const serve = (chunks: ReadonlyArray<Uint8Array>): Array<V2.FrontendMessage> => {
      const decoder = new V2.FrontendDecoder()
      const got: Array<V2.FrontendMessage> = []
      for (const c of chunks) {
        decoder.pushUnsafe(c, (m) => {
          got.push(m)
          const next = client[got.length]
          if (next?._tag === "PasswordPacket") decoder.expectPasswordPacket()
          if (next?._tag === "CopyDataRows" && decoder.mode === "normal") decoder.expectCopyDataRows()
        })
      }
      Result.getOrThrow(decoder.finish())
      assert.strictEqual(decoder.mode, "closed")
      return got
    }

    it("decodes a client session, with mode changes made between messages", () => {
      assert.deepStrictEqual(serve([stream]), client)
    })

    it.effect.prop("decodes the same messages however the stream is chunked", [
      Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 })))
    ], ([sizes]) =>
      Effect.gen(function*() {
        assert.deepStrictEqual(serve(chunk(stream, sizes)), client)
      }))

    it("SSLRequest keeps the start-up mode, CancelRequest closes", () => {
      const decoder = new V2.FrontendDecoder()
      Result.getOrThrow(decoder.push(encodeFrontendOk({ _tag: "SSLRequest" })))
      assert.strictEqual(decoder.mode, "startup")
      Result.getOrThrow(decoder.push(encodeFrontendOk({ _tag: "CancelRequest", processId: 1, secretKey: 2 })))
      assert.strictEqual(decoder.mode, "closed")
      assert.include(failure(decoder.push(bytes(0x51))).message, "bytes after Terminate or CancelRequest")
    })

    it("an unknown start-up packet is refused before its length is trusted", () => {
      const decoder = new V2.FrontendDecoder()
      const e = failure(decoder.push(bytes(i32(0x7fffffff), i32(0x30000))))
      assert.include(e.message, "not a protocol 2.0 start-up packet")
      assert.strictEqual(decoder.buffered, 0)
    })

    it("a 3.0 StartupMessage is not a 2.0 start-up packet", () => {
      const e = failure(V2.decodeFrontend(bytes(i32(23), i32(0x30000), cstr("user"), cstr("bob"), 0), "startup"))
      assert.include(e.message, "length 23, code 196608")
    })

    it("a PasswordPacket length out of range is malformed", () => {
      assert.include(failure(V2.decodeFrontend(bytes(i32(4)), "password")).message, "packet length 4 out of range")
      const huge = new V2.FrontendDecoder({ mode: "password", maxMessageSize: 64 })
      assert.include(failure(huge.push(bytes(i32(65)))).message, "packet length 65 out of range")
    })

    it("a PasswordPacket whose string ends before its length is malformed", () => {
      const e = failure(V2.decodeFrontend(bytes(i32(8), cstr("ab"), 0), "password"))
      assert.strictEqual(e.messageName, "PasswordPacket")
      assert.include(e.message, "trailing bytes")
    })

    it("a negative FunctionCall argument count or size is malformed", () => {
      assert.include(failure(V2.decodeFrontend(bytes(0x46, 0, i32(1), i32(-1)))).message, "argument count -1")
      assert.include(
        failure(V2.decodeFrontend(bytes(0x46, 0, i32(1), i32(1), i32(-2)))).message,
        "argument 0 has negative size"
      )
    })

    it("a huge FunctionCall argument count is truncated, not allocated", () => {
      assert.include(failure(V2.decodeFrontend(bytes(0x46, 0, i32(1), i32(0x7fffffff)))).message, "truncated")
    })

    it("an unknown client message type is malformed", () => {
      assert.include(failure(V2.decodeFrontend(bytes(0x50))).message, "unknown message type 0x50")
    })
  })

  describe("CopyDataRows", () => {
    it("decodes rows without the end marker", () => {
      assert.deepStrictEqual(Result.getOrThrow(V2.decodeCopyDataRows(u8("a\nb\n"))), {
        _tag: "CopyDataRows",
        rows: [u8("a"), u8("b")],
        end: false
      })
    })

    it("an unterminated last row is malformed", () => {
      assert.include(failure(V2.decodeCopyDataRows(u8("a\nb"))).message, "unterminated row")
    })

    it("nothing may follow the end marker", () => {
      assert.include(failure(V2.decodeCopyDataRows(u8("\\.\nx\n"))).message, "trailing bytes")
    })

    it("a row that contains a newline or is the end marker cannot be written", () => {
      assert.include(
        failure(V2.encodeCopyDataRows({ _tag: "CopyDataRows", rows: [u8("a\nb")], end: false })).message,
        "contains a newline"
      )
      assert.include(
        failure(V2.encodeCopyDataRows({ _tag: "CopyDataRows", rows: [u8("\\.")], end: false })).message,
        "end marker"
      )
    })

    it("\\.x is an ordinary row", () => {
      const decoder = new V2.BackendDecoder({ inCopy: true })
      const out = Result.getOrThrow(decoder.push(u8("\\.x\n")))
      assert.deepStrictEqual(out, [{ _tag: "CopyDataRows", rows: [u8("\\.x")], end: false }])
      assert.isTrue(decoder.inCopy)
    })
  })

  describe("Schema round trips", () => {
    const backend = [
      ["AuthenticationOk", V2.AuthenticationOkSchema, V2.AuthenticationOk],
      ["AuthenticationKerberosV4", V2.AuthenticationKerberosV4Schema, V2.AuthenticationKerberosV4],
      ["AuthenticationKerberosV5", V2.AuthenticationKerberosV5Schema, V2.AuthenticationKerberosV5],
      ["AuthenticationCleartextPassword", V2.AuthenticationCleartextPasswordSchema, V2.AuthenticationCleartextPassword],
      ["AuthenticationCryptPassword", V2.AuthenticationCryptPasswordSchema, V2.AuthenticationCryptPassword],
      ["AuthenticationMD5Password", V2.AuthenticationMD5PasswordSchema, V2.AuthenticationMD5Password],
      ["AuthenticationSCMCredential", V2.AuthenticationSCMCredentialSchema, V2.AuthenticationSCMCredential],
      ["BackendKeyData", V2.BackendKeyDataSchema, V2.BackendKeyData],
      ["CompletedResponse", V2.CompletedResponseSchema, V2.CompletedResponse],
      ["CopyInResponse", V2.CopyInResponseSchema, V2.CopyInResponse],
      ["CopyOutResponse", V2.CopyOutResponseSchema, V2.CopyOutResponse],
      ["CursorResponse", V2.CursorResponseSchema, V2.CursorResponse],
      ["EmptyQueryResponse", V2.EmptyQueryResponseSchema, V2.EmptyQueryResponse],
      ["ErrorResponse", V2.ErrorResponseSchema, V2.ErrorResponse],
      ["FunctionResultResponse", V2.FunctionResultResponseSchema, V2.FunctionResultResponse],
      ["FunctionVoidResponse", V2.FunctionVoidResponseSchema, V2.FunctionVoidResponse],
      ["NoticeResponse", V2.NoticeResponseSchema, V2.NoticeResponse],
      ["NotificationResponse", V2.NotificationResponseSchema, V2.NotificationResponse],
      ["ReadyForQuery", V2.ReadyForQuerySchema, V2.ReadyForQuery],
      ["RowDescription", V2.RowDescriptionSchema, V2.RowDescription],
      ["CancelRequest", V2.CancelRequestSchema, V2.CancelRequest],
      ["FunctionCall", V2.FunctionCallSchema, V2.FunctionCall],
      ["PasswordPacket", V2.PasswordPacketSchema, V2.PasswordPacket],
      ["Query", V2.QuerySchema, V2.Query],
      ["SSLRequest", V2.SSLRequestSchema, V2.SSLRequest],
      ["StartupPacket", V2.StartupPacketSchema, V2.StartupPacket],
      ["Terminate", V2.TerminateSchema, V2.Terminate]
    ] as const

    for (const [name, schema, codec] of backend) {
      const fromBytes = Message.fromBytes(codec as Message.Codec<any>)
      it.effect.prop(`${name}: encode then decode is the identity, and so is decode then encode`, [schema], ([m]) =>
        Effect.gen(function*() {
          const encoded = yield* Schema.encodeEffect(fromBytes)(m)
          const decoded = yield* Schema.decodeUnknownEffect(fromBytes)(encoded)
          assert.deepStrictEqual(decoded, m)
          assert.deepStrictEqual(yield* Schema.encodeEffect(fromBytes)(decoded), encoded)
        }))
    }

    it.effect.prop("AsciiRow round-trips with the codec for its field count", [V2.AsciiRowSchema], ([m]) =>
      Effect.gen(function*() {
        const fromBytes = Message.fromBytes(V2.asciiRow(m.values.length))
        const encoded = yield* Schema.encodeEffect(fromBytes)(m)
        assert.deepStrictEqual(yield* Schema.decodeUnknownEffect(fromBytes)(encoded), m)
      }))

    it.effect.prop("BinaryRow round-trips with the codec for its field count", [V2.BinaryRowSchema], ([m]) =>
      Effect.gen(function*() {
        const fromBytes = Message.fromBytes(V2.binaryRow(m.values.length))
        const encoded = yield* Schema.encodeEffect(fromBytes)(m)
        assert.deepStrictEqual(yield* Schema.decodeUnknownEffect(fromBytes)(encoded), m)
      }))

    it.effect.prop("CopyDataRows round-trips", [V2.CopyDataRowsSchema], ([m]) =>
      Effect.gen(function*() {
        const encoded = yield* Schema.encodeEffect(V2.CopyDataRowsFromBytes)(m)
        assert.deepStrictEqual(yield* Schema.decodeUnknownEffect(V2.CopyDataRowsFromBytes)(encoded), m)
      }))

    it.effect.prop("the server union round-trips under the matching context", [V2.BackendMessageSchema], ([m]) =>
      Effect.gen(function*() {
        const context: V2.BackendContext = m._tag === "AsciiRow" || m._tag === "BinaryRow"
          ? { fieldCount: m.values.length }
          : { inCopy: m._tag === "CopyDataRows" }
        const fromBytes = V2.BackendMessageFromBytes(context)
        const encoded = yield* Schema.encodeEffect(fromBytes)(m)
        assert.deepStrictEqual(yield* Schema.decodeUnknownEffect(fromBytes)(encoded), m)
      }))

    it.effect.prop("the client union round-trips in the matching mode", [V2.FrontendMessageSchema], ([m]) =>
      Effect.gen(function*() {
        const mode: V2.FrontendMode = m._tag === "StartupPacket" || m._tag === "CancelRequest" ||
            m._tag === "SSLRequest"
          ? "startup"
          : m._tag === "PasswordPacket"
          ? "password"
          : m._tag === "CopyDataRows"
          ? "copy"
          : "normal"
        const fromBytes = V2.FrontendMessageFromBytes(mode)
        const encoded = yield* Schema.encodeEffect(fromBytes)(m)
        assert.deepStrictEqual(yield* Schema.decodeUnknownEffect(fromBytes)(encoded), m)
      }))

    // A plan for a server stream built from arbitrary messages: each row block's
    // rows are cut or padded to its RowDescription's field count.
    const Plan = Schema.Array(Schema.Union([
      Schema.Struct({ simple: V2.BackendMessageSchema }),
      Schema.Struct({ description: V2.RowDescriptionSchema, rows: Schema.Array(V2.AsciiRowSchema) }),
      Schema.Struct({ copy: V2.CopyDataRowsSchema })
    ]))
    const expand = (plan: typeof Plan.Type): Array<V2.BackendMessage> => {
      const out: Array<V2.BackendMessage> = []
      let fields = -1
      for (const step of plan) {
        if ("simple" in step) {
          const m = step.simple
          // Rows and COPY data need their context: those come from the other steps.
          if (m._tag === "AsciiRow" || m._tag === "BinaryRow" || m._tag === "CopyDataRows") continue
          if (m._tag === "CopyOutResponse") continue
          if (m._tag === "RowDescription") fields = m.fields.length
          out.push(m)
        } else if ("description" in step) {
          out.push(step.description)
          fields = step.description.fields.length
          step.rows.forEach((row, i) => {
            const values = Array.from({ length: fields }, (_, k) => row.values[k] ?? null)
            out.push(i % 2 === 0 ? { _tag: "AsciiRow", values } : { _tag: "BinaryRow", values })
          })
        } else {
          out.push({ _tag: "CopyOutResponse" })
          for (const row of step.copy.rows) out.push({ _tag: "CopyDataRows", rows: [row], end: false })
          out.push({ _tag: "CopyDataRows", rows: [], end: true })
        }
      }
      return out
    }

    it.effect.prop("arbitrary server streams decode to their messages under any chunking", [
      Plan,
      Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 32 })))
    ], ([plan, sizes]) =>
      Effect.gen(function*() {
        const messages = expand(plan)
        const stream = concat(messages.map(encodeBackendOk))
        const decoder = new V2.BackendDecoder()
        const out: Array<V2.BackendMessage> = []
        for (const c of chunk(stream, sizes)) decoder.pushUnsafe(c, (m) => out.push(m))
        Result.getOrThrow(decoder.finish())
        assert.deepStrictEqual(out, messages)
      }))
  })

  describe("fuzz", () => {
    const backendSample = concat([
      bytes(0x52, i32(5), 1, 2, 3, 4),
      bytes(0x52, i32(0)),
      bytes(0x4b, i32(1), i32(2)),
      bytes(0x5a),
      bytes(0x54, i16(2), cstr("a"), i32(23), i16(4), i32(-1), cstr("b"), i32(25), i16(-1), i32(-1)),
      bytes(0x44, 0xc0, i32(5), 0x31, i32(6), 0x61, 0x62),
      bytes(0x42, 0x40, i32(1), 9),
      bytes(0x43, cstr("SELECT")),
      bytes(0x48, str("a\tb\n"), str("\\.\n")),
      bytes(0x56, 0x47, i32(1), 7, 0x30),
      bytes(0x56, 0x30),
      bytes(0x41, i32(3), cstr("c")),
      bytes(0x49, 0)
    ])
    const frontendSample = concat([
      encodeFrontendOk(startupPacket),
      bytes(0x51, cstr("select 1")),
      bytes(0x46, cstr(" "), i32(1), i32(1), i32(2), 1, 2),
      bytes(0x58)
    ])

    /** Runs `input` through a decoder in random chunks; anything but a ProtocolError is a failure. */
    const run = (
      decoder: V2.BackendDecoder | V2.FrontendDecoder,
      input: Uint8Array,
      random: () => number
    ): void => {
      let at = 0
      let count = 0
      while (at < input.length) {
        const n = 1 + Math.floor(random() * 16)
        try {
          decoder.pushUnsafe(input.subarray(at, at + n), () => count++)
        } catch (e) {
          assert.instanceOf(e, ProtocolError)
          return
        }
        at += n
      }
      const end = decoder.finish()
      if (Result.isFailure(end)) assert.instanceOf(end.failure, ProtocolError)
      assert.isAtMost(count, input.length)
    }

    const mutate = (sample: Uint8Array, random: () => number): Uint8Array => {
      let input: Uint8Array = sample.slice()
      const mutations = 1 + Math.floor(random() * 4)
      for (let k = 0; k < mutations; k++) {
        const choice = random()
        const at = Math.floor(random() * input.length)
        if (choice < 0.6) input[at] = Math.floor(random() * 256)
        else if (choice < 0.8) input = concat([input.subarray(0, at), input.subarray(at + 1)])
        else input = concat([input.subarray(0, at), new Uint8Array([Math.floor(random() * 256)]), input.subarray(at)])
      }
      return input
    }

    it("random bytes give messages or a typed ProtocolError, never an exception or a hang", () => {
      const random = prng(2024)
      for (let i = 0; i < 1500; i++) {
        const input = new Uint8Array(Math.floor(random() * 80))
        for (let j = 0; j < input.length; j++) input[j] = Math.floor(random() * 256)
        run(new V2.BackendDecoder({ fieldCount: i % 4 === 0 ? -1 : i % 5 }), input, random)
        const modes: ReadonlyArray<V2.FrontendMode> = ["startup", "password", "normal", "copy", "closed"]
        run(new V2.FrontendDecoder({ mode: modes[i % modes.length]! }), input, random)
      }
    })

    it("mutated valid streams give messages or a typed ProtocolError, never an exception or a hang", () => {
      const random = prng(99)
      for (let i = 0; i < 1500; i++) {
        run(new V2.BackendDecoder({ maxMessageSize: 256 }), mutate(backendSample, random), random)
        run(new V2.FrontendDecoder({ maxMessageSize: 512 }), mutate(frontendSample, random), random)
      }
    })

    it("single-message decoders give a message or a typed ProtocolError on random input", () => {
      const random = prng(5)
      for (let i = 0; i < 2000; i++) {
        const input = mutate(i % 2 === 0 ? backendSample.subarray(0, 20) : frontendSample.subarray(0, 40), random)
        for (
          const result of [
            V2.decodeBackend(input, { fieldCount: i % 3 }),
            V2.decodeBackend(input, { inCopy: true }),
            V2.decodeFrontend(input, "startup"),
            V2.decodeFrontend(input, "normal")
          ] as ReadonlyArray<Result.Result<unknown, ProtocolError>>
        ) {
          if (Result.isFailure(result)) assert.instanceOf(result.failure, ProtocolError)
        }
      }
    })
  })
})
