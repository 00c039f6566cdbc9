import { assert, describe, it } from "@effect/vitest"
import * as BigDecimal from "effect/BigDecimal"
import * as Result from "effect/Result"
import * as Statement from "effect/sql/Statement"
import { CodecError } from "../../src/errors/PgError.ts"
import * as Catalog from "../../src/types/Catalog.ts"
import { Oid } from "../../src/types/Oid.ts"
import * as Param from "../../src/types/Param.ts"
import * as PgTypes from "../../src/types/PgTypes.ts"
import { defaultRegistry, Registry } from "../../src/types/Registry.ts"
import * as Text from "../../src/types/Text.ts"
import { Writer } from "../../src/wire/Writer.ts"

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const bytes = (...b: Array<number>): Uint8Array => new Uint8Array(b)

/** What the session does for one parameter: choose the OID (unless declared) and format, then write. */
const send = (value: unknown, declaredOid = 0, registry: Registry = defaultRegistry) => {
  const oid = declaredOid === 0 ? registry.parameterOid(value) : declaredOid
  const format = registry.parameterFormat(value, oid)
  const w = new Writer(64)
  registry.writeParameter(w, value, oid, format, 1)
  return { oid, format, bytes: w.flush() }
}

const text = (value: unknown, declaredOid = 0) => {
  const r = send(value, declaredOid)
  assert.strictEqual(r.format, 0)
  return new TextDecoder().decode(r.bytes)
}

const codecError = (f: () => unknown): CodecError => {
  try {
    f()
  } catch (e) {
    assert.instanceOf(e, CodecError)
    return e as CodecError
  }
  throw new Error("expected a CodecError")
}

describe("Registry", () => {
  describe("results", () => {
    it("asks for binary exactly where a binary decoder exists", () => {
      assert.strictEqual(defaultRegistry.resultFormat(Oid.int4), 1)
      assert.strictEqual(defaultRegistry.resultFormat(Oid._timestamptz), 1)
      assert.strictEqual(defaultRegistry.resultFormat(Oid.tsquery), 0)
      assert.strictEqual(defaultRegistry.resultFormat(Oid.aclitem), 0)
      assert.strictEqual(defaultRegistry.resultFormat(Oid._aclitem), 0)
      assert.strictEqual(defaultRegistry.resultFormat(999999), 0)
    })

    it("falls back to a string or a copy of the bytes for an unknown OID, never throwing on lookup", () => {
      const buf = utf8("xyz")
      assert.strictEqual(defaultRegistry.decoder(999999, 0)(buf, 0, 3), "xyz")
      const copy = defaultRegistry.decoder(999999, 1)(buf, 1, 3) as Uint8Array
      buf[1] = 0
      assert.deepStrictEqual(copy, utf8("yz"))
      assert.throws(() => defaultRegistry.decoder(999999, 0)(bytes(0xff), 0, 1), CodecError)
    })

    it("decodes one value into a Result naming the type OID on failure", () => {
      assert.deepStrictEqual(defaultRegistry.decode(Oid.int4, 1, bytes(0, 0, 0, 7)), Result.succeed(7))
      const failed = defaultRegistry.decode(Oid.int4, 1, bytes(0, 7))
      assert.isTrue(Result.isFailure(failed))
      if (Result.isFailure(failed)) {
        assert.strictEqual(failed.failure.oid, Oid.int4)
        assert.match(failed.failure.message, /int4: expected 4 bytes, got 2/)
      }
    })

    it("copies bytea out of the frame", () => {
      const frame = bytes(1, 2, 3)
      const value = defaultRegistry.decoder(Oid.bytea, 1)(frame, 1, 3) as Uint8Array
      frame[1] = 9
      assert.deepStrictEqual(value, bytes(2, 3))
    })

    it("lists the OIDs it does not know, once each", () => {
      assert.deepStrictEqual(defaultRegistry.unknownOids([23, 0, 424242, 424242, 25]), [424242])
    })
  })

  describe("parameter OIDs (rule 4 exceptions)", () => {
    it("declares bigint, bytes, Date and BigDecimal and leaves everything else to the server", () => {
      assert.strictEqual(defaultRegistry.parameterOid(1n), Oid.int8)
      assert.strictEqual(defaultRegistry.parameterOid(2n ** 63n), Oid.numeric)
      assert.strictEqual(defaultRegistry.parameterOid(-(2n ** 63n)), Oid.int8)
      assert.strictEqual(defaultRegistry.parameterOid(bytes(1)), Oid.bytea)
      assert.strictEqual(defaultRegistry.parameterOid(new Date(0)), Oid.timestamptz)
      assert.strictEqual(defaultRegistry.parameterOid(BigDecimal.make(1n, 0)), Oid.numeric)
      for (const v of ["x", 1, 1.5, true, [1], { a: 1 }, [{ a: 1 }]]) {
        assert.strictEqual(defaultRegistry.parameterOid(v), 0)
      }
      assert.strictEqual(defaultRegistry.parameterOid(PgTypes.jsonb({})), Oid.jsonb)
      assert.strictEqual(defaultRegistry.parameterOid(PgTypes.array("int4", [1])), Oid._int4)
      assert.strictEqual(defaultRegistry.parameterOid(PgTypes.typedAs("hstore", {})), 0)
    })
  })

  describe("untyped values the server infers (OID 0) go as literal text", () => {
    it("strings verbatim", () => {
      assert.strictEqual(text("it's {\"x\"}"), "it's {\"x\"}")
    })
    it("numbers as their shortest exact text, keeping -0, NaN and the infinities", () => {
      assert.strictEqual(text(1.5), "1.5")
      assert.strictEqual(text(-0), "-0")
      assert.strictEqual(text(Number.NaN), "NaN")
      assert.strictEqual(text(Number.NEGATIVE_INFINITY), "-Infinity")
      assert.strictEqual(text(1e21), "1e+21")
      assert.strictEqual(text(5e-324), "5e-324")
      assert.strictEqual(text(0.1), "0.1")
    })
    it("booleans", () => {
      assert.strictEqual(text(true), "true")
      assert.strictEqual(text(false), "false")
    })
    it("arrays of primitives as array literals, every element quoted", () => {
      assert.strictEqual(text([1, null, "a\"b\\c", true]), "{\"1\",NULL,\"a\\\"b\\\\c\",\"true\"}")
      assert.strictEqual(text([[1, 2], [3, 4]]), "{{\"1\",\"2\"},{\"3\",\"4\"}}")
      assert.strictEqual(text([]), "{}")
      assert.strictEqual(text(PgTypes.bounded([1, 2], [0])), "[0:1]={\"1\",\"2\"}")
    })
    it("objects and arrays of objects as JSON, bigints exact", () => {
      assert.strictEqual(text({ a: 1, b: [true, null], c: 9007199254740993n }), "{\"a\":1,\"b\":[true,null],\"c\":9007199254740993}")
      assert.strictEqual(text([{ a: 1 }, { b: 2 }]), "[{\"a\":1},{\"b\":2}]")
    })
    it("rejects values with no text form", () => {
      const e = codecError(() => send(Symbol("x")))
      assert.strictEqual(e.parameter, 1)
      codecError(() => send(() => 1))
      codecError(() => send({ toJSON: () => undefined }))
      codecError(() => send(new Map([["a", 1]])))
      codecError(() => send(new Set([1])))
      codecError(() => send(new Float32Array([1])))
      codecError(() => send(new (class Point {})()))
      assert.strictEqual(text({ toJSON: () => [1] }), "[1]")
      assert.strictEqual(text(Object.assign(Object.create(null), { a: 1 })), "{\"a\":1}")
    })
    it("rejects a NUL character and a lone surrogate instead of altering the string", () => {
      assert.match(codecError(() => send("a\0b")).message, /NUL/)
      assert.match(codecError(() => send("a\ud800")).message, /surrogate/)
    })
  })

  describe("declared exceptions are sent in binary", () => {
    it("bigint as int8", () => {
      const r = send(-2n)
      assert.deepStrictEqual([r.oid, r.format], [Oid.int8, 1])
      assert.deepStrictEqual(r.bytes, bytes(255, 255, 255, 255, 255, 255, 255, 254))
    })
    it("a bigint beyond int8 as numeric", () => {
      const r = send(2n ** 70n)
      assert.strictEqual(r.oid, Oid.numeric)
      assert.strictEqual(r.format, 1)
    })
    it("bytes as bytea", () => {
      const r = send(bytes(0, 255))
      assert.deepStrictEqual([r.oid, r.format], [Oid.bytea, 1])
      assert.deepStrictEqual(r.bytes, bytes(0, 255))
    })
    it("a Date as timestamptz microseconds since 2000", () => {
      const r = send(new Date(Date.UTC(2000, 0, 1, 0, 0, 0, 1)))
      assert.deepStrictEqual([r.oid, r.format], [Oid.timestamptz, 1])
      assert.deepStrictEqual(r.bytes, bytes(0, 0, 0, 0, 0, 0, 0x03, 0xe8))
      codecError(() => send(new Date(Number.NaN)))
    })
  })

  describe("values for a type the server declared", () => {
    it("encodes for that type in binary", () => {
      assert.deepStrictEqual(send(5, Oid.int4).bytes, bytes(0, 0, 0, 5))
      assert.deepStrictEqual(send(5n, Oid.int2).bytes, bytes(0, 5))
      assert.deepStrictEqual(send(9007199254740991, Oid.int8).bytes, bytes(0, 0x1f, 255, 255, 255, 255, 255, 255))
      assert.deepStrictEqual(send(-1, Oid.int8).bytes, bytes(255, 255, 255, 255, 255, 255, 255, 255))
      assert.deepStrictEqual(send(1.5, Oid.float4).bytes, bytes(0x3f, 0xc0, 0, 0))
      assert.deepStrictEqual(send(true, Oid.bool).bytes, bytes(1))
      assert.deepStrictEqual(send({ a: 1 }, Oid.jsonb).bytes, bytes(1, ...utf8("{\"a\":1}")))
      assert.deepStrictEqual(send([], Oid.json).bytes, utf8("[]"))
      assert.deepStrictEqual(send(5, Oid.text).bytes, utf8("5"))
      assert.strictEqual(send("héllo", Oid.text).format, 1)
      assert.strictEqual(send("6ba7b810-9dad-11d1-80b4-00c04fd430c8", Oid.uuid).bytes.length, 16)
    })
    it("sends a string as its literal text, whatever the type", () => {
      assert.deepStrictEqual(send("5", Oid.int4), { oid: Oid.int4, format: 0, bytes: utf8("5") })
      assert.deepStrictEqual(send("{\"a\":1}", Oid.jsonb).bytes, utf8("{\"a\":1}"))
      assert.strictEqual(send("{6ba7b810-9dad-11d1-80b4-00c04fd430c8}", Oid.uuid).format, 0)
      assert.strictEqual(send("2024-01-01", Oid.date).format, 0)
    })
    it("sends arrays in binary when every element can go in binary, as text otherwise", () => {
      const binary = send([1, null, 3], Oid._int4)
      assert.strictEqual(binary.format, 1)
      assert.deepStrictEqual(
        binary.bytes,
        bytes(0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 23, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1, 255, 255, 255, 255, 0, 0, 0, 4, 0, 0, 0, 3)
      )
      const textual = send(["1", 2], Oid._int4)
      assert.strictEqual(textual.format, 0)
      assert.strictEqual(new TextDecoder().decode(textual.bytes), "{\"1\",\"2\"}")
      assert.strictEqual(send(["a", "b"], Oid._text).format, 1)
      assert.strictEqual(new TextDecoder().decode(send(["{\"a\":1}", { b: 2 }], Oid._jsonb).bytes), "{\"{\\\"a\\\":1}\",\"{\\\"b\\\":2}\"}")
    })
    it("treats nested arrays as dimensions, except for element types whose values are arrays", () => {
      const matrix = send([[1, 2], [3, 4]], Oid._int4)
      assert.strictEqual(matrix.bytes[3], 2)
      const jsons = send([[1, 2], [3]], Oid._jsonb)
      assert.strictEqual(jsons.bytes[3], 1)
      assert.match(codecError(() => send([[1, 2], [3]], Oid._int4)).message, /ragged/)
      assert.match(codecError(() => send([[1], 2], Oid._int4)).message, /ragged/)
    })
    it("fails with the parameter index for a value the type cannot hold", () => {
      const e = codecError(() => {
        const w = new Writer(16)
        defaultRegistry.writeParameter(w, 1.5, Oid.int4, 1, 3)
      })
      assert.strictEqual(e.parameter, 3)
      assert.strictEqual(e.oid, Oid.int4)
      assert.match(e.message, /^parameter \$3: int4: 1.5 is not an integer/)
      codecError(() => send(2 ** 31, Oid.int4))
      codecError(() => send(2 ** 53, Oid.int8))
      codecError(() => send(2n ** 63n, Oid.int8))
      codecError(() => send(true, Oid.int4))
      codecError(() => send(1, Oid.timestamptz))
      codecError(() => send({ months: 1 }, Oid.interval))
      codecError(() => send(new Date(), Oid.bool))
      codecError(() => send([1], Oid.point))
    })
    it("removes the bytes of a parameter that failed", () => {
      const w = new Writer(16)
      w.int32(7)
      assert.throws(() => defaultRegistry.writeParameter(w, [1, 2.5], Oid._int4, 1, 1), CodecError)
      assert.deepStrictEqual(w.flush(), bytes(0, 0, 0, 7))
    })
    it("sends raw bytes in binary for a declared type it does not know", () => {
      const r = send(bytes(1, 2), 777777)
      assert.deepStrictEqual([r.format, [...r.bytes]], [1, [1, 2]])
      assert.deepStrictEqual(send("x", 777777), { oid: 777777, format: 0, bytes: utf8("x") })
    })
    it("refuses to write NULL (the caller writes length -1)", () => {
      assert.isTrue(PgTypes.isNullParameter(null))
      assert.isTrue(PgTypes.isNullParameter(undefined))
      assert.isTrue(PgTypes.isNullParameter(PgTypes.int4(null)))
      assert.isFalse(PgTypes.isNullParameter(0))
      codecError(() => defaultRegistry.writeParameter(new Writer(8), null, Oid.int4, 0, 1))
      assert.deepStrictEqual(defaultRegistry.encodeParameter(PgTypes.text(null), 0), { format: 0, bytes: null })
    })
  })

  describe("typed parameters", () => {
    it("use their own OID and binary where the codec can", () => {
      const r = send(PgTypes.int4(5))
      assert.deepStrictEqual([r.oid, r.format, [...r.bytes]], [Oid.int4, 1, [0, 0, 0, 5]])
      assert.deepStrictEqual(send(PgTypes.jsonb("a")).bytes, utf8("\"a\""))
      assert.strictEqual(send(PgTypes.jsonb("a")).format, 0)
      assert.deepStrictEqual(send(PgTypes.jsonb({ a: "b" })).bytes, bytes(1, ...utf8("{\"a\":\"b\"}")))
      assert.strictEqual(send(PgTypes.array("text", ["a", null])).format, 1)
      assert.strictEqual(send(PgTypes.int4range(PgTypes.range(1, 5))).format, 1)
      assert.strictEqual(send(PgTypes.literal("5")).oid, 0)
    })
    it("go as text when the server expects another type", () => {
      const r = send(PgTypes.int4(5), Oid.int8)
      assert.deepStrictEqual([r.format, new TextDecoder().decode(r.bytes)], [0, "5"])
      assert.strictEqual(new TextDecoder().decode(send(PgTypes.jsonb({ a: 1 }), Oid.text).bytes), "{\"a\":1}")
    })
    it("fail for a type the registry does not know", () => {
      assert.match(codecError(() => send(PgTypes.typedAs("hstore", { a: "1" }))).message, /unknown type hstore/)
    })
  })

  describe("options", () => {
    it("int8 as number fails rather than rounding", () => {
      const r = Registry.make({ int8: "number" })
      const big = bytes(0, 0x20, 0, 0, 0, 0, 0, 1)
      assert.throws(() => r.decoder(Oid.int8, 1)(big, 0, 8), /does not fit a JavaScript number exactly/)
      assert.strictEqual(r.decoder(Oid.int8, 1)(bytes(0, 0x1f, 255, 255, 255, 255, 255, 255), 0, 8), 9007199254740991)
      assert.strictEqual(r.decoder(Oid.int8, 0)(utf8("-9007199254740991"), 0, 17), -9007199254740991)
      assert.throws(() => r.decoder(Oid.int8, 0)(utf8("9007199254740993"), 0, 16), CodecError)
      // The int8[] decoder is the array codec of int8 as number: the elements are numbers.
      const array = bytes(0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7)
      assert.deepStrictEqual(r.decoder(Oid._int8, 1)(array, 0, array.length), [7])
      assert.deepStrictEqual(r.decoder(Oid._int8, 1)(array, 0, array.length), r.get(Oid._int8)!.decodeBinary!(array, 0, array.length))
    })
    it("int8 as string", () => {
      const r = Registry.make({ int8: "string" })
      assert.strictEqual(r.decoder(Oid.int8, 1)(bytes(128, 0, 0, 0, 0, 0, 0, 0), 0, 8), "-9223372036854775808")
    })
    it("numeric as BigDecimal", () => {
      const r = Registry.make({ numeric: "BigDecimal" })
      const v = r.decoder(Oid.numeric, 0)(utf8("-1.50"), 0, 5) as BigDecimal.BigDecimal
      assert.strictEqual(v.value, -150n)
      assert.strictEqual(v.scale, 2)
    })
    it("timestamps as exact microseconds, in ranges and arrays too", () => {
      const r = Registry.make({ timestamp: "micros" })
      assert.strictEqual(r.decoder(Oid.timestamptz, 0)(utf8("2017-01-01 00:00:00.000001+00"), 0, 29), 1483228800000001n)
      const literal = utf8("[\"2017-01-01 00:00:00.000001+00\",)")
      const range = r.decoder(Oid.tstzrange, 0)(literal, 0, literal.length) as PgTypes.Range<bigint>
      assert.strictEqual(range.lower, 1483228800000001n)
    })
    it("a custom JSON parser", () => {
      const r = Registry.make({ jsonParse: () => "parsed" })
      assert.strictEqual(r.decoder(Oid.jsonb, 1)(bytes(1, 0x31), 0, 2), "parsed")
    })
  })

  describe("registering codecs", () => {
    it("returns a new registry with the codec and its array, leaving the original unchanged", () => {
      const custom = { ...Text.textual("mytext", 900001, 900002), decodeText: () => "custom" }
      const r = defaultRegistry.with(custom)
      assert.isUndefined(defaultRegistry.get(900001))
      assert.strictEqual(r.decoder(900001, 0)(utf8("x"), 0, 1), "custom")
      assert.deepStrictEqual(r.decoder(900002, 0)(utf8("{a,b}"), 0, 5), ["custom", "custom"])
      assert.strictEqual(r.getByName("mytext"), custom)
    })
    it("builds codecs from catalog rows; a known type is never replaced, an unresolvable one is text", () => {
      const rows: Array<Catalog.TypeRow> = [
        { oid: 23, typname: "int4", typtype: "b", typelem: 0, typbasetype: 0, typarray: 1007, typrelid: 0 },
        { oid: 910001, typname: "age", typtype: "d", typelem: 0, typbasetype: 23, typarray: 910002, typrelid: 0 },
        { oid: 910003, typname: "orphan", typtype: "d", typelem: 0, typbasetype: 123456, typarray: 0, typrelid: 0 },
        { oid: 910004, typname: "anyx", typtype: "p", typelem: 0, typbasetype: 0, typarray: 0, typrelid: 0 },
        {
          oid: 910005,
          typname: "person",
          typtype: "c",
          typelem: 0,
          typbasetype: 0,
          typarray: 910008,
          typrelid: 1,
          attributes: [{ name: "name", type: 25 }, { name: "age", type: 910001 }]
        },
        { oid: 910006, typname: "hstore", typtype: "b", typelem: 0, typbasetype: 0, typarray: 910007, typrelid: 0 }
      ]
      const r = defaultRegistry.withTypes(rows)
      assert.strictEqual(r.get(23), defaultRegistry.get(23))
      assert.strictEqual(r.decoder(910001, 1)(bytes(0, 0, 0, 42), 0, 4), 42)
      assert.deepStrictEqual(r.decoder(910002, 0)(utf8("{1,2}"), 0, 5), [1, 2])
      assert.strictEqual(r.resultFormat(910003), 0)
      assert.strictEqual(r.decoder(910003, 0)(utf8("x"), 0, 1), "x")
      assert.isUndefined(r.get(910004))
      assert.deepStrictEqual(r.decoder(910005, 0)(utf8("(Ann,42)"), 0, 8), { name: "Ann", age: 42 })
      assert.deepStrictEqual(r.decoder(910006, 0)(utf8("\"a\"=>\"1\""), 0, 8), { a: "1" })
      assert.strictEqual(r.parameterOid(PgTypes.typedAs("hstore", {})), 910006)
      assert.strictEqual(send(PgTypes.typedAs("person", { name: "Bo", age: 7 }), 0, r).format, 1)
      const people = send(PgTypes.array("person", [{ name: "Bo", age: 7 }, null]), 0, r)
      assert.deepStrictEqual([people.oid, people.format], [910008, 1])
      assert.deepStrictEqual(r.decoder(910008, 1)(people.bytes, 0, people.bytes.length), [{ name: "Bo", age: 7 }, null])
      assert.match(codecError(() => send(PgTypes.array("nosuch", [1]), 0, r)).message, /unknown type _nosuch/)
    })
    it("parses the catalog query's text rows", () => {
      const row = Catalog.rowFromText(["16", "bool", "b", "B", "0", "0", "1000", "0", ",", null, "[]"])
      assert.deepStrictEqual(row, {
        oid: 16,
        typname: "bool",
        typtype: "b",
        typcategory: "B",
        typelem: 0,
        typbasetype: 0,
        typarray: 1000,
        typrelid: 0,
        typdelim: ",",
        rngsubtype: null,
        attributes: []
      })
      assert.throws(() => Catalog.rowFromText(["x"]), CodecError)
      assert.throws(() => Catalog.rowFromText(["1", "a", "b", "", "0", "0", "0", "0", ",", null, "{"]), CodecError)
      assert.notInclude(Catalog.typeQuery(130000), "rngmultitypid")
      assert.include(Catalog.typeQuery(180000), "rngmultitypid")
    })
  })
})

describe("decoded values remember their type (issue 15: what is read goes back as the same type)", () => {
  const decodeText = (oid: number, s: string, registry: Registry = defaultRegistry): unknown => {
    const b = utf8(s)
    return registry.decoder(oid, 0)(b, 0, b.length)
  }

  it("an interval, a range, a point, an int2vector and an array of polygons are declared as the type they came from", () => {
    const cases: ReadonlyArray<readonly [number, string]> = [
      [Oid.interval, "3 mons"],
      [Oid.int4range, "[1,6)"],
      [Oid.int4range, "empty"],
      [Oid.numrange, "empty"],
      [Oid.point, "(1,2)"],
      [Oid._interval, "{\"1 day\",NULL}"],
      [Oid.int2vector, "1 2 3"],
      [Oid._polygon, "{\"((0,0),(1,1),(1,0))\"}"]
    ]
    for (const [oid, s] of cases) {
      const value = decodeText(oid, s)
      assert.strictEqual(defaultRegistry.parameterOid(value), oid, s)
      assert.strictEqual(send(value).oid, oid, s)
    }
    // Values whose kind says enough (or that go as an array literal any element type reads) do not pay for it.
    assert.strictEqual(defaultRegistry.parameterOid(decodeText(Oid._int4, "{1,NULL,3}")), 0)
    assert.strictEqual(defaultRegistry.parameterOid(decodeText(Oid.timestamptz, "2024-05-31 16:08:37.123+00")), Oid.timestamptz)
    assert.strictEqual(defaultRegistry.parameterOid(decodeText(Oid.timestamp, "2024-05-31 16:08:37.123")), Oid.timestamptz)
    // A two-dimensional array of array-valued elements remembers its dimensions too, so it does not go back as a
    // one-dimensional array of arrays.
    for (const [oid, s] of [[Oid._polygon, "{{\"((0,0),(1,1))\"}}"], [Oid._jsonb, "{{1,2},{3,4}}"]] as const) {
      const value = decodeText(oid, s)
      assert.strictEqual(defaultRegistry.parameterOid(value), oid)
      const sent = send(value)
      assert.deepStrictEqual(defaultRegistry.get(oid)!.decodeBinary!(sent.bytes, 0, sent.bytes.length), value)
      assert.strictEqual(new DataView(sent.bytes.buffer, sent.bytes.byteOffset).getInt32(0), 2)
    }
    assert.strictEqual(defaultRegistry.parameterOid(decodeText(Oid._jsonb, "[0:0][1:1]={{1}}")), Oid._jsonb)
    assert.strictEqual(defaultRegistry.parameterOid(decodeText(Oid._jsonb, "{\"{\\\"a\\\": 1}\",null}")), Oid._jsonb)
    // Nothing shows: equality, spreading and JSON see the plain value.
    const interval = decodeText(Oid.interval, "3 mons")
    assert.deepStrictEqual(Object.keys(interval as object), ["months", "days", "microseconds"])
    assert.deepStrictEqual(interval, { months: 3, days: 0, microseconds: 0n })
    assert.strictEqual(Object.getOwnPropertySymbols({ ...(interval as object) }).length, 0)
  })

  it("objects that cannot take a property (an extension codec's sealed values) are left as they are", () => {
    const sealed = Object.preventExtensions({ a: 1 })
    assert.strictEqual(Param.remember(sealed, Oid.point), sealed)
    assert.strictEqual(Param.rememberedOid(sealed), undefined)
    assert.strictEqual(Param.remember(7, Oid.int4), 7)
  })

  it("an interval sent back with the cache off goes in binary as an interval, not as JSON text", () => {
    const value = decodeText(Oid.interval, "1 year 2 mons 3 days 04:05:06.789")
    const r = send(value)
    assert.strictEqual(r.oid, Oid.interval)
    assert.strictEqual(r.format, 1)
    // A copy is an ordinary object again: JSON text for the server to infer.
    assert.strictEqual(defaultRegistry.parameterOid({ ...(value as object) }), 0)
  })

  it("json and jsonb values and primitives do not remember; shared constants are never marked", () => {
    assert.strictEqual(defaultRegistry.parameterOid(decodeText(Oid.jsonb, "{\"a\": 1}")), 0)
    assert.strictEqual(defaultRegistry.parameterOid(decodeText(Oid.json, "[1]")), 0)
    assert.strictEqual(decodeText(Oid.text, "x"), "x")
    // Every decoded empty range is a fresh object; the shared PgTypes.emptyRange is frozen and stays untyped.
    const a = decodeText(Oid.int4range, "empty")
    const b = decodeText(Oid.numrange, "empty")
    assert.notStrictEqual(a, b)
    assert.deepStrictEqual(a, PgTypes.emptyRange)
    assert.isTrue(Object.isFrozen(PgTypes.emptyRange))
    assert.strictEqual(defaultRegistry.parameterOid(PgTypes.emptyRange), 0)
  })

  it("money decodes tagged as money, and arrays of typed parameters of one type are that type's array", () => {
    const money = decodeText(Oid.money, "$12.34")
    assert.deepStrictEqual(money, PgTypes.money(1234n))
    const r = send(money)
    assert.strictEqual(r.oid, Oid.money)
    assert.strictEqual(r.format, 1)
    assert.deepStrictEqual(r.bytes, bytes(0, 0, 0, 0, 0, 0, 0x04, 0xd2))
    assert.strictEqual(defaultRegistry.parameterOid([PgTypes.money(1n), null, [PgTypes.money(2n)]]), Oid._money)
    assert.strictEqual(defaultRegistry.parameterOid([PgTypes.int4(1), PgTypes.int4(2)]), Oid._int4)
    assert.strictEqual(defaultRegistry.parameterOid([PgTypes.int4(1), PgTypes.int8(2)]), 0)
    assert.strictEqual(defaultRegistry.parameterOid([1, PgTypes.int4(2)]), 0)
    assert.strictEqual(defaultRegistry.parameterOid(PgTypes.bounded([PgTypes.money(1n)], [0])), Oid._money)
  })
})

describe("typed parameters survive effect/sql's result transforms", () => {
  it("a decoded money amount in a row stays PgTypes.money through transformResultNames", () => {
    const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
    const rows: ReadonlyArray<Record<string, unknown>> = Statement.defaultTransforms(camel).array([
      { unit_price: PgTypes.money(1234n), other_field: { a_b: 1 } }
    ])
    assert.deepStrictEqual(rows, [{ unitPrice: PgTypes.money(1234n), otherField: { aB: 1 } }])
    assert.strictEqual(defaultRegistry.parameterOid(rows[0]!["unitPrice"]), Oid.money)
  })
})
