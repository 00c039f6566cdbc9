import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Backend from "../../src/protocol/Backend.ts"
import * as Message from "../../src/protocol/Message.ts"
import { Reader } from "../../src/wire/Reader.ts"
import { Writer } from "../../src/wire/Writer.ts"
import { bytes, cstr, err, golden, i16, i32, ok, toHex } from "./Golden.ts"

/** Golden check through the codec, `Backend.decode`, `Backend.encode` and `Backend.MessageFromBytes`. */
const backendGolden = <A extends Backend.BackendMessage>(
  codec: Message.Codec<A>,
  message: NoInfer<A>,
  frame: Uint8Array
): void => {
  golden(codec, message, frame)
  assert.deepStrictEqual(ok(Backend.decode(frame)), message, "Backend.decode")
  assert.strictEqual(toHex(ok(Backend.encode(message))), toHex(frame), "Backend.encode")
  assert.deepStrictEqual(ok(Schema.decodeUnknownResult(Backend.MessageFromBytes)(frame)), message)
  assert.strictEqual(toHex(ok(Schema.encodeResult(Backend.MessageFromBytes)(message))), toHex(frame))
}

describe("Backend golden bytes (protocol-3.2 Message Formats)", () => {
  it("AuthenticationOk", () => {
    backendGolden(
      Backend.AuthenticationOk,
      { _tag: "AuthenticationOk" },
      bytes(
        [0x52], // Byte1('R')
        i32(8), // Int32(8) length
        i32(0) // Int32(0) success
      )
    )
  })

  it("AuthenticationKerberosV5", () => {
    backendGolden(Backend.AuthenticationKerberosV5, { _tag: "AuthenticationKerberosV5" }, bytes([0x52], i32(8), i32(2)))
  })

  it("AuthenticationCleartextPassword", () => {
    backendGolden(
      Backend.AuthenticationCleartextPassword,
      { _tag: "AuthenticationCleartextPassword" },
      bytes([0x52], i32(8), i32(3))
    )
  })

  it("AuthenticationMD5Password", () => {
    backendGolden(
      Backend.AuthenticationMD5Password,
      { _tag: "AuthenticationMD5Password", salt: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) },
      bytes(
        [0x52], // 'R'
        i32(12), // Int32(12)
        i32(5), // Int32(5) MD5
        [0xde, 0xad, 0xbe, 0xef] // Byte4 salt
      )
    )
  })

  it("AuthenticationGSS", () => {
    backendGolden(Backend.AuthenticationGSS, { _tag: "AuthenticationGSS" }, bytes([0x52], i32(8), i32(7)))
  })

  it("AuthenticationGSSContinue", () => {
    backendGolden(
      Backend.AuthenticationGSSContinue,
      { _tag: "AuthenticationGSSContinue", data: Uint8Array.of(1, 2, 3) },
      bytes([0x52], i32(11), i32(8), [1, 2, 3])
    )
  })

  it("AuthenticationSSPI", () => {
    backendGolden(Backend.AuthenticationSSPI, { _tag: "AuthenticationSSPI" }, bytes([0x52], i32(8), i32(9)))
  })

  it("AuthenticationSASL with two mechanisms and the terminating empty string", () => {
    backendGolden(
      Backend.AuthenticationSASL,
      { _tag: "AuthenticationSASL", mechanisms: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"] },
      bytes(
        [0x52], // 'R'
        i32(4 + 4 + 19 + 14 + 1), // length: self, code, two names, terminator
        i32(10), // Int32(10) SASL
        cstr("SCRAM-SHA-256-PLUS"), // String
        cstr("SCRAM-SHA-256"), // String
        [0] // terminator
      )
    )
  })

  it("AuthenticationSASLContinue", () => {
    backendGolden(
      Backend.AuthenticationSASLContinue,
      { _tag: "AuthenticationSASLContinue", data: new TextEncoder().encode("r=abc,s=xyz,i=4096") },
      bytes([0x52], i32(4 + 4 + 18), i32(11), [...new TextEncoder().encode("r=abc,s=xyz,i=4096")])
    )
  })

  it("AuthenticationSASLFinal", () => {
    backendGolden(
      Backend.AuthenticationSASLFinal,
      { _tag: "AuthenticationSASLFinal", data: new TextEncoder().encode("v=xyz") },
      bytes([0x52], i32(4 + 4 + 5), i32(12), [...new TextEncoder().encode("v=xyz")])
    )
  })

  it("BackendKeyData with a 4-byte key (protocol 3.0)", () => {
    backendGolden(
      Backend.BackendKeyData,
      { _tag: "BackendKeyData", processId: 4242, secretKey: Uint8Array.of(9, 8, 7, 6) },
      bytes(
        [0x4b], // Byte1('K')
        i32(12), // length
        i32(4242), // Int32 process ID
        [9, 8, 7, 6] // Byten secret key, to the end of the message
      )
    )
  })

  it("BackendKeyData with a 256-byte key (protocol 3.2 maximum)", () => {
    const key = Uint8Array.from({ length: 256 }, (_, i) => i)
    backendGolden(
      Backend.BackendKeyData,
      { _tag: "BackendKeyData", processId: 1, secretKey: key },
      bytes([0x4b], i32(4 + 4 + 256), i32(1), [...key])
    )
  })

  it("BindComplete, CloseComplete, ParseComplete, PortalSuspended, NoData, EmptyQueryResponse, CopyDone", () => {
    backendGolden(Backend.BindComplete, { _tag: "BindComplete" }, bytes([0x32], i32(4)))
    backendGolden(Backend.CloseComplete, { _tag: "CloseComplete" }, bytes([0x33], i32(4)))
    backendGolden(Backend.ParseComplete, { _tag: "ParseComplete" }, bytes([0x31], i32(4)))
    backendGolden(Backend.PortalSuspended, { _tag: "PortalSuspended" }, bytes([0x73], i32(4)))
    backendGolden(Backend.NoData, { _tag: "NoData" }, bytes([0x6e], i32(4)))
    backendGolden(Backend.EmptyQueryResponse, { _tag: "EmptyQueryResponse" }, bytes([0x49], i32(4)))
    backendGolden(Backend.CopyDone, { _tag: "CopyDone" }, bytes([0x63], i32(4)))
  })

  it("CommandComplete", () => {
    backendGolden(
      Backend.CommandComplete,
      { _tag: "CommandComplete", tag: "INSERT 0 1" },
      bytes(
        [0x43], // Byte1('C')
        i32(4 + 11), // length
        cstr("INSERT 0 1") // String tag
      )
    )
  })

  it("CopyData", () => {
    backendGolden(
      Backend.CopyData,
      { _tag: "CopyData", data: Uint8Array.of(0x31, 0x09, 0x32, 0x0a) },
      bytes([0x64], i32(8), [0x31, 0x09, 0x32, 0x0a])
    )
  })

  it("CopyInResponse, CopyOutResponse, CopyBothResponse", () => {
    backendGolden(
      Backend.CopyInResponse,
      { _tag: "CopyInResponse", format: 0, columnFormats: [0, 0] },
      bytes(
        [0x47], // Byte1('G')
        i32(4 + 1 + 2 + 4), // length
        [0], // Int8 overall format: text
        i16(2), // Int16 column count
        i16(0),
        i16(0) // Int16[2] column formats
      )
    )
    backendGolden(
      Backend.CopyOutResponse,
      { _tag: "CopyOutResponse", format: 1, columnFormats: [1] },
      bytes([0x48], i32(4 + 1 + 2 + 2), [1], i16(1), i16(1))
    )
    backendGolden(
      Backend.CopyBothResponse,
      { _tag: "CopyBothResponse", format: 1, columnFormats: [] },
      bytes([0x57], i32(4 + 1 + 2), [1], i16(0))
    )
  })

  it("DataRow with a value, an empty value and a NULL", () => {
    backendGolden(
      Backend.DataRow,
      { _tag: "DataRow", values: [Uint8Array.of(0x34, 0x32), new Uint8Array(0), null] },
      bytes(
        [0x44], // Byte1('D')
        i32(4 + 2 + 6 + 4 + 4), // length
        i16(3), // Int16 column count
        i32(2),
        [0x34, 0x32], // "42"
        i32(0), // empty value: length 0, no bytes
        i32(-1) // NULL: length -1, no bytes
      )
    )
  })

  it("ErrorResponse keeps every field in wire order, unknown codes included", () => {
    backendGolden(
      Backend.ErrorResponse,
      {
        _tag: "ErrorResponse",
        fields: [
          { code: "S", value: "ERROR" },
          { code: "C", value: "42P01" },
          { code: "M", value: "no" },
          { code: "Z", value: "future" }
        ]
      },
      bytes(
        [0x45], // Byte1('E')
        i32(4 + 7 + 7 + 4 + 8 + 1), // length
        [0x53],
        cstr("ERROR"), // S
        [0x43],
        cstr("42P01"), // C
        [0x4d],
        cstr("no"), // M
        [0x5a],
        cstr("future"), // Z (unknown: kept)
        [0] // terminator
      )
    )
  })

  it("FunctionCallResponse with a value and with NULL", () => {
    backendGolden(
      Backend.FunctionCallResponse,
      { _tag: "FunctionCallResponse", result: Uint8Array.of(0, 0, 0, 7) },
      bytes([0x56], i32(12), i32(4), [0, 0, 0, 7])
    )
    backendGolden(
      Backend.FunctionCallResponse,
      { _tag: "FunctionCallResponse", result: null },
      bytes([0x56], i32(8), i32(-1))
    )
  })

  it("NegotiateProtocolVersion", () => {
    backendGolden(
      Backend.NegotiateProtocolVersion,
      { _tag: "NegotiateProtocolVersion", newestMinorVersion: 0, unrecognizedOptions: ["_pq_.a"] },
      bytes(
        [0x76], // Byte1('v')
        i32(4 + 4 + 4 + 7), // length
        i32(0), // Int32 newest minor version
        i32(1), // Int32 option count
        cstr("_pq_.a") // String option
      )
    )
  })

  it("NoticeResponse", () => {
    backendGolden(
      Backend.NoticeResponse,
      { _tag: "NoticeResponse", fields: [{ code: "S", value: "NOTICE" }] },
      bytes([0x4e], i32(4 + 1 + 7 + 1), [0x53], cstr("NOTICE"), [0])
    )
  })

  it("NotificationResponse", () => {
    backendGolden(
      Backend.NotificationResponse,
      { _tag: "NotificationResponse", processId: 77, channel: "ch", payload: "é" },
      bytes(
        [0x41], // Byte1('A')
        i32(4 + 4 + 3 + 3), // length (é is 2 bytes of UTF-8)
        i32(77), // Int32 process ID
        cstr("ch"), // String channel
        [0xc3, 0xa9, 0] // String payload "é"
      )
    )
  })

  it("ParameterDescription reads OIDs unsigned", () => {
    backendGolden(
      Backend.ParameterDescription,
      { _tag: "ParameterDescription", parameterTypes: [23, 4294967295] },
      bytes([0x74], i32(4 + 2 + 8), i16(2), i32(23), [0xff, 0xff, 0xff, 0xff])
    )
  })

  it("ParameterDescription reads a count above 32767 as unsigned", () => {
    const n = 40000
    const frame = bytes([0x74], i32(4 + 2 + 4 * n), [0x9c, 0x40], ...Array.from({ length: n }, () => i32(25)))
    const m = ok(Backend.decode(frame)) as Backend.ParameterDescription
    assert.strictEqual(m.parameterTypes.length, n)
    assert.strictEqual(toHex(ok(Backend.encode(m))), toHex(frame))
  })

  it("ParameterStatus", () => {
    backendGolden(
      Backend.ParameterStatus,
      { _tag: "ParameterStatus", name: "TimeZone", value: "UTC" },
      bytes([0x53], i32(4 + 9 + 4), cstr("TimeZone"), cstr("UTC"))
    )
  })

  it("ReadyForQuery for each transaction status", () => {
    backendGolden(Backend.ReadyForQuery, { _tag: "ReadyForQuery", transactionStatus: "I" }, bytes([0x5a], i32(5), [0x49]))
    backendGolden(Backend.ReadyForQuery, { _tag: "ReadyForQuery", transactionStatus: "T" }, bytes([0x5a], i32(5), [0x54]))
    backendGolden(Backend.ReadyForQuery, { _tag: "ReadyForQuery", transactionStatus: "E" }, bytes([0x5a], i32(5), [0x45]))
  })

  it("RowDescription with a system column, a variable-width type and a large OID", () => {
    backendGolden(
      Backend.RowDescription,
      {
        _tag: "RowDescription",
        fields: [{
          name: "ctid",
          tableOid: 3000000000,
          columnAttributeNumber: -1,
          dataTypeOid: 27,
          dataTypeSize: 6,
          typeModifier: -1,
          formatCode: 1
        }, {
          name: "t",
          tableOid: 0,
          columnAttributeNumber: 0,
          dataTypeOid: 25,
          dataTypeSize: -1,
          typeModifier: -1,
          formatCode: 0
        }]
      },
      bytes(
        [0x54], // Byte1('T')
        i32(4 + 2 + (5 + 18) + (2 + 18)), // length
        i16(2), // Int16 field count
        cstr("ctid"), // String name
        [0xb2, 0xd0, 0x5e, 0x00], // Int32 table OID 3000000000
        i16(-1), // Int16 attribute number
        i32(27), // Int32 type OID (tid)
        i16(6), // Int16 type size
        i32(-1), // Int32 type modifier
        i16(1), // Int16 format: binary
        cstr("t"),
        i32(0),
        i16(0),
        i32(25),
        i16(-1),
        i32(-1),
        i16(0)
      )
    )
  })
})

describe("Backend decoding errors name the message and the offset", () => {
  it("an unknown type byte is named", () => {
    const e = err(Backend.decode(bytes([0x78], i32(4))))
    assert.include(e.message, "'x'")
    assert.include(e.message, "0x78")
  })

  it("a length word that disagrees with the bytes given", () => {
    const e = err(Backend.decode(bytes([0x5a], i32(6), [0x49])))
    assert.strictEqual(e.offset, 1)
    assert.include(e.message, "length 6")
  })

  it("a negative value length other than -1 in DataRow", () => {
    const e = err(Backend.decode(bytes([0x44], i32(4 + 2 + 4 + 1 + 4), i16(2), i32(1), [0x61], i32(-2))))
    assert.strictEqual(e.messageName, "DataRow")
    assert.strictEqual(e.offset, 7)
    assert.include(e.message, "DataRow: invalid length -2 at offset 7")
  })

  it("a column count the body cannot hold fails before allocating", () => {
    const e = err(Backend.decode(bytes([0x44], i32(4 + 2), i16(65535))))
    assert.strictEqual(e.messageName, "DataRow")
    assert.strictEqual(e.offset, 0)
    assert.include(e.message, "count 65535")
  })

  it("an unknown authentication code", () => {
    const e = err(Backend.decode(bytes([0x52], i32(8), i32(6))))
    assert.include(e.message, "unknown authentication code 6")
    assert.strictEqual(e.offset, 0)
  })

  it("an MD5 request whose salt is not 4 bytes", () => {
    assert.strictEqual(err(Backend.decode(bytes([0x52], i32(11), i32(5), [1, 2, 3]))).offset, 4)
    const e = err(Backend.decode(bytes([0x52], i32(13), i32(5), [1, 2, 3, 4, 5])))
    assert.include(e.message, "AuthenticationMD5Password: 1 trailing bytes at offset 8")
  })

  it("an empty SASL mechanism list", () => {
    const e = err(Backend.decode(bytes([0x52], i32(9), i32(10), [0])))
    assert.strictEqual(e.messageName, "AuthenticationSASL")
    assert.strictEqual(e.offset, 4)
  })

  it("BackendKeyData keys shorter than 4 or longer than 256 bytes", () => {
    const short = err(Backend.decode(bytes([0x4b], i32(11), i32(1), [1, 2, 3])))
    assert.strictEqual(short.messageName, "BackendKeyData")
    assert.strictEqual(short.offset, 4)
    assert.include(short.message, "3 bytes")
    const long = err(Backend.decode(bytes([0x4b], i32(4 + 4 + 257), i32(1), new Array(257).fill(0))))
    assert.include(long.message, "257 bytes")
    assert.isTrue(
      Backend.encode({ _tag: "BackendKeyData", processId: 1, secretKey: new Uint8Array(257) })._tag === "Failure"
    )
  })

  it("a format code other than 0 or 1", () => {
    const e = err(Backend.decode(bytes([0x47], i32(4 + 1 + 2 + 2), [0], i16(1), i16(2))))
    assert.strictEqual(e.messageName, "CopyInResponse")
    assert.strictEqual(e.offset, 3)
    assert.include(e.message, "invalid format code 2")
    const overall = err(Backend.decode(bytes([0x48], i32(4 + 1 + 2), [2], i16(0))))
    assert.strictEqual(overall.offset, 0)
  })

  it("an invalid transaction status", () => {
    const e = err(Backend.decode(bytes([0x5a], i32(5), [0x58])))
    assert.include(e.message, "ReadyForQuery: invalid transaction status 0x58 at offset 0")
  })

  it("an unterminated string", () => {
    const e = err(Backend.decode(bytes([0x43], i32(4 + 3), [0x41, 0x42, 0x43])))
    assert.include(e.message, "CommandComplete: unterminated string at offset 0")
  })

  it("invalid UTF-8 in a string", () => {
    const e = err(Backend.decode(bytes([0x53], i32(4 + 2 + 2), [0x61, 0], [0xff, 0])))
    assert.strictEqual(e.messageName, "ParameterStatus")
    assert.strictEqual(e.offset, 2)
  })

  it("an ErrorResponse field code outside ASCII", () => {
    const e = err(Backend.decode(bytes([0x45], i32(4 + 1 + 1 + 1), [0x80], [0], [0])))
    assert.strictEqual(e.offset, 0)
    assert.include(e.message, "invalid field code 0x80")
  })

  it("NegotiateProtocolVersion with a huge option count fails at the count", () => {
    const e = err(Backend.decode(bytes([0x76], i32(4 + 4 + 4), i32(0), i32(0x7fffffff))))
    assert.strictEqual(e.messageName, "NegotiateProtocolVersion")
    assert.strictEqual(e.offset, 4)
    const negative = err(Backend.decode(bytes([0x76], i32(4 + 4 + 4), i32(0), i32(-1))))
    assert.strictEqual(negative.offset, 4)
  })

  it("RowDescription with a field count larger than its body", () => {
    const e = err(Backend.decode(bytes([0x54], i32(4 + 2 + 19), i16(2), cstr(""), new Array(18).fill(0))))
    assert.strictEqual(e.offset, 0)
  })

  it("trailing bytes after a complete body", () => {
    const e = err(Backend.decode(bytes([0x31], i32(5), [0])))
    assert.include(e.message, "ParseComplete: 1 trailing bytes at offset 0")
  })
})

describe("Backend hot path", () => {
  it("readUnsafe reads a body inside a larger buffer and returns views into it", () => {
    const buf = bytes([9, 9, 9], i16(1), i32(3), [0x61, 0x62, 0x63], [9])
    const m = Backend.readUnsafe(0x44, buf, 3, buf.length - 1, new Reader()) as Backend.DataRow
    assert.strictEqual(m.values.length, 1)
    const v = m.values[0]!
    assert.strictEqual(v.buffer, buf.buffer)
    assert.strictEqual(v.byteOffset, 9)
  })

  it("readDataRowInto reuses the output array", () => {
    const out: Array<Uint8Array | null> = [null, null, null, null]
    const r = new Reader()
    const buf = bytes(i16(2), i32(-1), i32(1), [7])
    r.reset(buf, 0, buf.length, "DataRow")
    assert.strictEqual(Backend.readDataRowInto(r, out), 2)
    assert.strictEqual(out.length, 2)
    assert.isNull(out[0])
    assert.deepStrictEqual(out[1], Uint8Array.of(7))
  })

  it("body-less messages decode to one shared frozen object", () => {
    const a = ok(Backend.decode(bytes([0x32], i32(4))))
    const b = ok(Backend.decode(bytes([0x32], i32(4))))
    assert.strictEqual(a, b)
    assert.isTrue(Object.isFrozen(a))
  })

  it("writeUnsafe leaves nothing of a failed message in the writer", () => {
    const w = new Writer()
    Backend.writeUnsafe(w, { _tag: "ParseComplete" })
    assert.throws(() => Backend.writeUnsafe(w, { _tag: "CommandComplete", tag: "a\0b" }))
    Backend.writeUnsafe(w, { _tag: "NoData" })
    assert.strictEqual(toHex(w.flush()), toHex(bytes([0x31], i32(4), [0x6e], i32(4))))
  })

  it("encode reports a NUL inside a C string as a typed error", () => {
    const e = err(Backend.encode({ _tag: "ParameterStatus", name: "a\0", value: "" }))
    assert.strictEqual(e.messageName, "ParameterStatus")
    // and the scratch writer is clean afterwards
    assert.strictEqual(toHex(ok(Backend.encode({ _tag: "NoData" }))), "6e00000004")
  })

  it("MessageFromBytes reports the decoding error as a Schema issue", () => {
    const r = Schema.decodeUnknownResult(Backend.MessageFromBytes)(bytes([0x5a], i32(5), [0x21]))
    assert.isTrue(r._tag === "Failure")
    if (r._tag === "Failure") assert.include(String(r.failure), "invalid transaction status 0x21")
  })

  it("the Schemas refuse values the wire cannot carry", () => {
    const is = (schema: Schema.Top, value: unknown) => Schema.is(schema as Schema.Codec<unknown>)(value)
    assert.isFalse(is(Backend.AuthenticationMD5PasswordSchema, { _tag: "AuthenticationMD5Password", salt: new Uint8Array(3) }))
    assert.isFalse(is(Backend.BackendKeyDataSchema, { _tag: "BackendKeyData", processId: 1, secretKey: new Uint8Array(3) }))
    assert.isFalse(is(Backend.BackendKeyDataSchema, { _tag: "BackendKeyData", processId: 1, secretKey: new Uint8Array(257) }))
    assert.isTrue(is(Backend.BackendKeyDataSchema, { _tag: "BackendKeyData", processId: 1, secretKey: new Uint8Array(256) }))
    assert.isFalse(is(Backend.CommandCompleteSchema, { _tag: "CommandComplete", tag: "a\0" }))
    assert.isFalse(is(Backend.AuthenticationSASLSchema, { _tag: "AuthenticationSASL", mechanisms: [] }))
    assert.isFalse(is(Backend.AuthenticationSASLSchema, { _tag: "AuthenticationSASL", mechanisms: [""] }))
    assert.isFalse(is(Backend.ErrorResponseSchema, { _tag: "ErrorResponse", fields: [{ code: "\0", value: "" }] }))
    assert.isFalse(is(Backend.ErrorResponseSchema, { _tag: "ErrorResponse", fields: [{ code: "SS", value: "" }] }))
    assert.isFalse(is(Backend.ParameterDescriptionSchema, { _tag: "ParameterDescription", parameterTypes: [-1] }))
    assert.isFalse(is(Backend.CopyInResponseSchema, { _tag: "CopyInResponse", format: 2, columnFormats: [] }))
  })
})

const roundTrip = <A extends Backend.BackendMessage>(codec: Message.Codec<A>) =>
  it.effect.prop(`${codec.name} round trip`, [codec.schema], ([m]) =>
    Effect.gen(function*() {
      const schema = Message.fromBytes(codec)
      const frame = yield* Schema.encodeEffect(schema)(m)
      const back = yield* Schema.decodeUnknownEffect(schema)(frame)
      assert.deepStrictEqual(back, m)
      const again = yield* Schema.encodeEffect(schema)(back)
      assert.strictEqual(toHex(again), toHex(frame))
      assert.deepStrictEqual(ok(Backend.decode(frame)), m)
    }))

describe("Backend round trips over Schema arbitraries", () => {
  for (const codec of Object.values(Backend.codecs)) roundTrip(codec as Message.Codec<Backend.BackendMessage>)

  it.effect.prop("MessageFromBytes round trip over the union", [Backend.MessageSchema], ([m]) =>
    Effect.gen(function*() {
      const frame = yield* Schema.encodeEffect(Backend.MessageFromBytes)(m as Backend.BackendMessage)
      // a copy, so the decoder does not find the frame it just produced
      const back = yield* Schema.decodeUnknownEffect(Backend.MessageFromBytes)(frame.slice())
      assert.deepStrictEqual(back, m)
    }))
})
