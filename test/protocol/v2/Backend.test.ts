/**
 * Protocol 2.0, server messages: the golden bytes of each message in both
 * directions, the row codecs made per field count, the stream decoder
 * (chunking, the field count and COPY state it tracks, malformed input,
 * maxMessageSize, views) and the COPY data rows both sides send.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import { ProtocolError } from "../../../src/errors/PgError.ts"
import * as Message from "../../../src/protocol/Message.ts"
import * as V2 from "../../../src/protocol/V2.ts"
import { backendGolden, bytes, chunk, concat, cstr, encodeBackendOk, failure, i16, i32, str, u8 } from "./Support.ts"

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
})
