import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Frontend from "../../src/protocol/Frontend.ts"
import * as Message from "../../src/protocol/Message.ts"
import { Reader } from "../../src/wire/Reader.ts"
import { Writer } from "../../src/wire/Writer.ts"
import { ascii, bytes, cstr, err, golden, i16, i32, ok, toHex } from "./Golden.ts"

/** Golden check through the codec, `Frontend.decode`, `Frontend.encode` and `Frontend.messageFromBytes`. */
const frontendGolden = <A extends Frontend.FrontendMessage>(
  codec: Message.Codec<A>,
  message: NoInfer<A>,
  frame: Uint8Array,
  context?: Frontend.PasswordContext
): void => {
  golden(codec, message, frame)
  assert.deepStrictEqual(ok(Frontend.decode(frame, context)), message, "Frontend.decode")
  assert.strictEqual(toHex(ok(Frontend.encode(message))), toHex(frame), "Frontend.encode")
  const schema = Frontend.messageFromBytes(context)
  assert.deepStrictEqual(ok(Schema.decodeUnknownResult(schema)(frame)), message)
  assert.strictEqual(toHex(ok(Schema.encodeResult(schema)(message))), toHex(frame))
}

describe("Frontend golden bytes (protocol-3.2 Message Formats)", () => {
  it("Bind with formats, a value, an empty value and a NULL", () => {
    frontendGolden(
      Frontend.Bind,
      {
        _tag: "Bind",
        portal: "p",
        statement: "s1",
        parameterFormats: [1],
        parameters: [Uint8Array.of(0, 0, 0, 42), new Uint8Array(0), null],
        resultFormats: [0, 1]
      },
      bytes(
        [0x42], // Byte1('B')
        i32(4 + 2 + 3 + 2 + 2 + 2 + 8 + 4 + 4 + 2 + 4), // length
        cstr("p"), // String portal
        cstr("s1"), // String statement
        i16(1), // Int16 parameter format count
        i16(1), // Int16[1] binary for all
        i16(3), // Int16 parameter count
        i32(4),
        [0, 0, 0, 42], // value
        i32(0), // empty value
        i32(-1), // NULL
        i16(2), // Int16 result format count
        i16(0),
        i16(1) // Int16[2]
      )
    )
  })

  it("Close and Describe of a statement and of a portal", () => {
    frontendGolden(
      Frontend.Close,
      { _tag: "Close", target: "S", name: "s1" },
      bytes(
        [0x43], // Byte1('C')
        i32(4 + 1 + 3), // length
        [0x53], // Byte1 'S'
        cstr("s1") // String name
      )
    )
    frontendGolden(Frontend.Close, { _tag: "Close", target: "P", name: "" }, bytes([0x43], i32(6), [0x50], [0]))
    frontendGolden(
      Frontend.Describe,
      { _tag: "Describe", target: "S", name: "s1" },
      bytes([0x44], i32(8), [0x53], cstr("s1"))
    )
    frontendGolden(Frontend.Describe, { _tag: "Describe", target: "P", name: "" }, bytes([0x44], i32(6), [0x50], [0]))
  })

  it("CopyData, CopyDone, CopyFail", () => {
    frontendGolden(Frontend.CopyData, { _tag: "CopyData", data: Uint8Array.of(1, 2) }, bytes([0x64], i32(6), [1, 2]))
    frontendGolden(Frontend.CopyDone, { _tag: "CopyDone" }, bytes([0x63], i32(4)))
    frontendGolden(
      Frontend.CopyFail,
      { _tag: "CopyFail", message: "stop" },
      bytes([0x66], i32(4 + 5), cstr("stop"))
    )
  })

  it("Execute", () => {
    frontendGolden(
      Frontend.Execute,
      { _tag: "Execute", portal: "c1", maxRows: 100 },
      bytes(
        [0x45], // Byte1('E')
        i32(4 + 3 + 4), // length
        cstr("c1"), // String portal
        i32(100) // Int32 max rows
      )
    )
  })

  it("Flush, Sync, Terminate", () => {
    frontendGolden(Frontend.Flush, { _tag: "Flush" }, bytes([0x48], i32(4)))
    frontendGolden(Frontend.Sync, { _tag: "Sync" }, bytes([0x53], i32(4)))
    frontendGolden(Frontend.Terminate, { _tag: "Terminate" }, bytes([0x58], i32(4)))
  })

  it("FunctionCall", () => {
    frontendGolden(
      Frontend.FunctionCall,
      {
        _tag: "FunctionCall",
        functionOid: 3000000000,
        argumentFormats: [],
        arguments: [ascii("x").length ? Uint8Array.of(0x78) : null, null],
        resultFormat: 1
      },
      bytes(
        [0x46], // Byte1('F')
        i32(4 + 4 + 2 + 2 + 5 + 4 + 2), // length
        [0xb2, 0xd0, 0x5e, 0x00], // Int32 function OID 3000000000
        i16(0), // Int16 argument format count
        i16(2), // Int16 argument count
        i32(1),
        [0x78], // "x"
        i32(-1), // NULL
        i16(1) // Int16 result format
      )
    )
  })

  it("GSSResponse (with its 'p' context)", () => {
    frontendGolden(
      Frontend.GSSResponse,
      { _tag: "GSSResponse", data: Uint8Array.of(0x60, 0x82) },
      bytes([0x70], i32(6), [0x60, 0x82]),
      { password: "GSSResponse" }
    )
  })

  it("Parse with unsigned OIDs", () => {
    frontendGolden(
      Frontend.Parse,
      { _tag: "Parse", name: "s1", query: "SELECT $1, $2", parameterTypes: [23, 4294967295] },
      bytes(
        [0x50], // Byte1('P')
        i32(4 + 3 + 14 + 2 + 8), // length
        cstr("s1"), // String name
        cstr("SELECT $1, $2"), // String query
        i16(2), // Int16 count
        i32(23), // int4
        [0xff, 0xff, 0xff, 0xff] // OID 4294967295
      )
    )
  })

  it("PasswordMessage (the default reading of 'p')", () => {
    frontendGolden(
      Frontend.PasswordMessage,
      { _tag: "PasswordMessage", password: "md5abc" },
      bytes([0x70], i32(4 + 7), cstr("md5abc"))
    )
  })

  it("Query with multi-byte UTF-8 (the length counts bytes)", () => {
    frontendGolden(
      Frontend.Query,
      { _tag: "Query", query: "SELECT '😀'" },
      bytes([0x51], i32(4 + 13 + 1), ascii("SELECT '"), [0xf0, 0x9f, 0x98, 0x80], ascii("'"), [0])
    )
  })

  it("SASLInitialResponse with data and without (length -1)", () => {
    frontendGolden(
      Frontend.SASLInitialResponse,
      { _tag: "SASLInitialResponse", mechanism: "SCRAM-SHA-256", data: Uint8Array.from(ascii("n,,n=,r=abc")) },
      bytes(
        [0x70], // Byte1('p')
        i32(4 + 14 + 4 + 11), // length
        cstr("SCRAM-SHA-256"), // String mechanism
        i32(11), // Int32 length of the initial response
        ascii("n,,n=,r=abc") // Byten
      ),
      { password: "SASLInitialResponse" }
    )
    frontendGolden(
      Frontend.SASLInitialResponse,
      { _tag: "SASLInitialResponse", mechanism: "SCRAM-SHA-256", data: null },
      bytes([0x70], i32(4 + 14 + 4), cstr("SCRAM-SHA-256"), i32(-1)),
      { password: "SASLInitialResponse" }
    )
  })

  it("SASLResponse", () => {
    frontendGolden(
      Frontend.SASLResponse,
      { _tag: "SASLResponse", data: Uint8Array.from(ascii("c=biws")) },
      bytes([0x70], i32(4 + 6), ascii("c=biws")),
      { password: "SASLResponse" }
    )
  })
})

describe("Frontend constant frames and hot-path writers", () => {
  it("the constant frames hold the documented bytes", () => {
    assert.strictEqual(toHex(Frontend.SYNC), "5300000004")
    assert.strictEqual(toHex(Frontend.FLUSH), "4800000004")
    assert.strictEqual(toHex(Frontend.TERMINATE), "5800000004")
    assert.strictEqual(toHex(Frontend.COPY_DONE), "6300000004")
    assert.strictEqual(toHex(Frontend.DESCRIBE_UNNAMED_PORTAL), "44000000065000")
    assert.strictEqual(toHex(Frontend.EXECUTE_UNNAMED_ALL), "45000000090000000000")
  })

  it("the writers produce the same bytes as the codecs", () => {
    const w = new Writer(8)
    Frontend.writeParse(w, "s", "SELECT 1", [25])
    Frontend.writeBind(w, "", "s", [1], [null], [1])
    Frontend.writeDescribe(w, "P", "")
    Frontend.writeExecute(w, "", 0)
    Frontend.writeClose(w, "S", "s")
    Frontend.writeQuery(w, "BEGIN")
    Frontend.writeFlush(w)
    Frontend.writeSync(w)
    const expected = [
      Frontend.encode({ _tag: "Parse", name: "s", query: "SELECT 1", parameterTypes: [25] }),
      Frontend.encode({
        _tag: "Bind",
        portal: "",
        statement: "s",
        parameterFormats: [1],
        parameters: [null],
        resultFormats: [1]
      }),
      Frontend.encode({ _tag: "Describe", target: "P", name: "" }),
      Frontend.encode({ _tag: "Execute", portal: "", maxRows: 0 }),
      Frontend.encode({ _tag: "Close", target: "S", name: "s" }),
      Frontend.encode({ _tag: "Query", query: "BEGIN" }),
      Frontend.encode({ _tag: "Flush" }),
      Frontend.encode({ _tag: "Sync" })
    ].map((r) => toHex(ok(r))).join("")
    assert.strictEqual(toHex(w.flush()), expected)
  })

  it("a writer that fails on a NUL throws a typed error naming the message", () => {
    const w = new Writer()
    assert.throws(() => Frontend.writeQuery(w, "SELECT 1\0; DROP TABLE t"), /Query: string contains a NUL byte/)
  })

  it("Bind with more than 65535 parameters is refused when writing", () => {
    const e = err(Frontend.encode({
      _tag: "Bind",
      portal: "",
      statement: "",
      parameterFormats: [],
      parameters: new Array(65536).fill(null),
      resultFormats: []
    }))
    assert.include(e.message, "65536 parameters exceed the limit of 65535")
  })

  it("Parse with 65535 parameter types uses the unsigned count", () => {
    const types = new Array(65535).fill(23)
    const frame = ok(Frontend.encode({ _tag: "Parse", name: "", query: "", parameterTypes: types }))
    assert.strictEqual(frame[7], 0xff)
    assert.strictEqual(frame[8], 0xff)
    const back = ok(Frontend.decode(frame)) as Frontend.Parse
    assert.strictEqual(back.parameterTypes.length, 65535)
  })
})

describe("Frontend 'p' context", () => {
  it("MessageFromBytes encodes every 'p' message and decodes a fresh frame as a PasswordMessage", () => {
    const m: Frontend.SASLResponse = { _tag: "SASLResponse", data: Uint8Array.of(1, 2) }
    const frame = ok(Schema.encodeResult(Frontend.MessageFromBytes)(m))
    assert.strictEqual(toHex(frame), "700000000601" + "02")
    // the frame it produced is remembered with the message it encodes
    assert.deepStrictEqual(ok(Schema.decodeUnknownResult(Frontend.MessageFromBytes)(frame)), m)
    // the same bytes arriving fresh carry no context: not a valid PasswordMessage
    assert.isTrue(Schema.decodeUnknownResult(Frontend.MessageFromBytes)(frame.slice())._tag === "Failure")
  })

  const frame = bytes([0x70], i32(4 + 4), ascii("abc"), [0])

  it("the same bytes read as each member of the 'p' family", () => {
    assert.deepStrictEqual(ok(Frontend.decode(frame)), { _tag: "PasswordMessage", password: "abc" })
    assert.deepStrictEqual(ok(Frontend.decode(frame, { password: "SASLResponse" })), {
      _tag: "SASLResponse",
      data: Uint8Array.of(0x61, 0x62, 0x63, 0)
    })
    assert.deepStrictEqual(ok(Frontend.decode(frame, { password: "GSSResponse" })), {
      _tag: "GSSResponse",
      data: Uint8Array.of(0x61, 0x62, 0x63, 0)
    })
    const e = err(Frontend.decode(frame, { password: "SASLInitialResponse" }))
    assert.strictEqual(e.messageName, "SASLInitialResponse")
  })

  it("readUnsafe takes the context too", () => {
    const m = Frontend.readUnsafe(0x70, frame, 5, frame.length, new Reader(), { password: "SASLResponse" })
    assert.strictEqual(m._tag, "SASLResponse")
  })
})

describe("Frontend decoding errors name the message and the offset", () => {
  it("an unknown type byte", () => {
    const e = err(Frontend.decode(bytes([0x5a], i32(4))))
    assert.include(e.message, "unknown frontend message type 'Z'")
  })

  it("a Bind parameter length of -2", () => {
    const e = err(Frontend.decode(bytes([0x42], i32(4 + 1 + 1 + 2 + 2 + 4 + 2), [0], [0], i16(0), i16(1), i32(-2), i16(0))))
    assert.strictEqual(e.messageName, "Bind")
    assert.strictEqual(e.offset, 6)
    assert.include(e.message, "invalid length -2")
  })

  it("a Bind parameter count the body cannot hold", () => {
    const e = err(Frontend.decode(bytes([0x42], i32(4 + 1 + 1 + 2 + 2), [0], [0], i16(0), i16(40000))))
    assert.strictEqual(e.offset, 4)
  })

  it("a Describe target other than 'S' or 'P'", () => {
    const e = err(Frontend.decode(bytes([0x44], i32(6), [0x58], [0])))
    assert.strictEqual(e.messageName, "Describe")
    assert.strictEqual(e.offset, 0)
    assert.include(e.message, "invalid target 0x58")
  })

  it("a truncated Execute", () => {
    const e = err(Frontend.decode(bytes([0x45], i32(4 + 1 + 2), [0], [0, 0])))
    assert.include(e.message, "Execute: truncated int32")
    assert.strictEqual(e.offset, 1)
  })

  it("a SASLInitialResponse whose data length overruns the body", () => {
    const e = err(Frontend.decode(bytes([0x70], i32(4 + 2 + 4), cstr("m"), i32(100)), { password: "SASLInitialResponse" }))
    assert.strictEqual(e.messageName, "SASLInitialResponse")
    assert.strictEqual(e.offset, 6)
  })

  it("a FunctionCall with a bad result format", () => {
    const e = err(Frontend.decode(bytes([0x46], i32(4 + 4 + 2 + 2 + 2), i32(1), i16(0), i16(0), i16(7))))
    assert.strictEqual(e.offset, 8)
  })

  it("the Schemas refuse values the wire cannot carry", () => {
    const is = (schema: Schema.Top, value: unknown) => Schema.is(schema as Schema.Codec<unknown>)(value)
    assert.isFalse(is(Frontend.QuerySchema, { _tag: "Query", query: "a\0b" }))
    assert.isFalse(is(Frontend.QuerySchema, { _tag: "Query", query: "\ud800" }))
    assert.isFalse(is(Frontend.CloseSchema, { _tag: "Close", target: "X", name: "" }))
    assert.isFalse(is(Frontend.ExecuteSchema, { _tag: "Execute", portal: "", maxRows: 2 ** 31 }))
    assert.isFalse(is(Frontend.ParseSchema, { _tag: "Parse", name: "", query: "", parameterTypes: [2 ** 32] }))
    assert.isFalse(is(Frontend.BindSchema, {
      _tag: "Bind",
      portal: "",
      statement: "",
      parameterFormats: [2],
      parameters: [],
      resultFormats: []
    }))
  })
})

const roundTrip = <A extends Frontend.FrontendMessage>(codec: Message.Codec<A>) =>
  it.effect.prop(`${codec.name} round trip`, [codec.schema], ([m]) =>
    Effect.gen(function*() {
      const schema = Message.fromBytes(codec)
      const frame = yield* Schema.encodeEffect(schema)(m)
      const back = yield* Schema.decodeUnknownEffect(schema)(frame)
      assert.deepStrictEqual(back, m)
      assert.strictEqual(toHex(yield* Schema.encodeEffect(schema)(back)), toHex(frame))
      const context = codec.type === 0x70 ? { password: codec.name } as Frontend.PasswordContext : undefined
      assert.deepStrictEqual(ok(Frontend.decode(frame, context)), m)
    }))

describe("Frontend round trips over Schema arbitraries", () => {
  for (const codec of Object.values(Frontend.codecs)) roundTrip(codec as Message.Codec<Frontend.FrontendMessage>)

  it.effect.prop("MessageFromBytes round trip over the union (the 'p' family excepted)", [Frontend.MessageSchema], ([m]) =>
    Effect.gen(function*() {
      const message = m as Frontend.FrontendMessage
      const frame = yield* Schema.encodeEffect(Frontend.MessageFromBytes)(message)
      const context = frame[0] === 0x70 ? { password: message._tag } as Frontend.PasswordContext : undefined
      const back = yield* Schema.decodeUnknownEffect(Frontend.messageFromBytes(context))(frame.slice())
      assert.deepStrictEqual(back, m)
    }))
})
