/**
 * Property tests: for values generated from each codec's Schema, encoding then
 * decoding is the identity, in binary and in text.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import * as Fields from "../../src/protocol/Fields.ts"
import * as ArrayCodec from "../../src/types/Array.ts"
import * as Bool from "../../src/types/Bool.ts"
import * as Bytea from "../../src/types/Bytea.ts"
import * as Extension from "../../src/types/Extension.ts"
import * as Float from "../../src/types/Float.ts"
import * as Geometric from "../../src/types/Geometric.ts"
import * as Int from "../../src/types/Int.ts"
import * as Json from "../../src/types/Json.ts"
import * as Numeric from "../../src/types/Numeric.ts"
import { Oid } from "../../src/types/Oid.ts"
import * as Range from "../../src/types/Range.ts"
import * as RecordCodec from "../../src/types/Record.ts"
import * as System from "../../src/types/System.ts"
import * as Temporal from "../../src/types/Temporal.ts"
import * as Text from "../../src/types/Text.ts"
import type * as TypeCodec from "../../src/types/TypeCodec.ts"
import * as Uuid from "../../src/types/Uuid.ts"
import { Writer } from "../../src/wire/Writer.ts"

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

const binary = <A>(codec: TypeCodec.TypeCodec<A>, value: A): A => {
  const w = new Writer(64)
  codec.encodeBinary!(w, value)
  const bytes = w.flush()
  return codec.decodeBinary!(bytes, 0, bytes.length)
}

const text = <A>(codec: TypeCodec.TypeCodec<A>, value: A): A => {
  const bytes = utf8(codec.encodeText(value))
  return codec.decodeText(bytes, 0, bytes.length)
}

/** Binary and text round trips both give `expected` (the value itself by default). */
const both = <A>(codec: TypeCodec.TypeCodec<A>, value: A, expected: A = value): void => {
  assert.deepStrictEqual(binary(codec, value), expected)
  assert.deepStrictEqual(text(codec, value), expected)
}

/** Strings PostgreSQL text can hold: no NUL. */
const PgText = Fields.Text.check(Schema.makeFilter((s: string) => !s.includes("\0") || "no NUL"))

const Int32Array = Schema.Array(Schema.NullOr(Fields.Int32))

describe("round trips of generated values", () => {
  it.prop("bool", [Schema.Boolean], ([v]) => both(Bool.bool, v))
  it.prop("int2", [Fields.Int16], ([v]) => both(Int.int2, v))
  it.prop("int4", [Fields.Int32], ([v]) => both(Int.int4, v))
  it.prop("oid", [Fields.UInt32], ([v]) => both(Int.oid, v))
  it.prop("int8", [Fields.Int64], ([v]) => both(Int.int8, v))
  it.prop("xid8", [Fields.UInt64], ([v]) => both(Int.xid8, v))
  it.prop("float8", [Schema.Number], ([v]) => both(Float.float8, v))
  it.prop("float4 (rounded to single precision)", [Schema.Number], ([v]) => both(Float.float4, v, Math.fround(v)))

  it.prop(
    "numeric keeps every digit and the display scale",
    [Schema.BigInt, Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 40 }))],
    ([unscaled, scale]) => {
      const negative = unscaled < 0n
      const digits = String(negative ? -unscaled : unscaled).padStart(scale + 1, "0")
      const s = (negative ? "-" : "") + (scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`)
      both(Numeric.numeric, s)
      assert.strictEqual(Numeric.format(s), s)
    }
  )

  it.prop("text", [PgText], ([v]) => both(Text.text, v))
  it.prop("bytea", [Schema.Uint8Array], ([v]) => both(Bytea.bytea, v))

  it.prop("uuid", [Schema.Uint8Array.check(Schema.isBetweenLength(16, 16))], ([raw]) => {
    const hex = Buffer.from(raw).toString("hex")
    const s = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
    assert.strictEqual(binary(Uuid.uuid, s), s)
  })

  it.prop("jsonb", [Schema.Json], ([v]) => {
    // The documented rule: an integer literal beyond ±(2^53 - 1) decodes to a bigint of the
    // printed digits (the literal, not the double JavaScript would round it to).
    const normal = JSON.parse(JSON.stringify(v), (_k, x) =>
      typeof x === "number" && Number.isInteger(x) && !Number.isSafeInteger(x) && /^-?\d+$/.test(JSON.stringify(x))
        ? BigInt(JSON.stringify(x))
        : x)
    assert.deepStrictEqual(binary(Json.jsonb, v), normal)
    assert.deepStrictEqual(text(Json.json, v), normal)
  })

  it.prop(
    "json: the probe for 16-digit runs agrees with a regular expression",
    [Schema.Array(Schema.Literals(["0", "9", "1234567", "123456789012345", ",", "-", "\"a\"", "1.5e300"]))],
    ([pieces]) => {
      const s = pieces.join("")
      assert.strictEqual(Json.hasLongDigitRun(s), /[0-9]{16}/.test(s), s)
    }
  )

  it.prop("json integers beyond 2^53 stay exact", [Fields.Int64], ([n]) => {
    const value = { n, list: [n, 1.5] }
    const decoded = binary(Json.jsonb, value) as { n: unknown; list: Array<unknown> }
    const expected = Number.isSafeInteger(Number(n)) ? Number(n) : n
    assert.deepStrictEqual(decoded, { n: expected, list: [expected, 1.5] })
  })

  it.prop("timestamptz as Date (milliseconds)", [Schema.Date], ([d]) => {
    both(Temporal.timestamptz, d)
    both(Temporal.timestamp, d)
  })

  it.prop(
    "timestamptz as exact microseconds, BC and far future included",
    [Schema.BigInt.check(Schema.isBetweenBigInt({ minimum: -(2n ** 62n), maximum: 2n ** 62n }))],
    ([us]) => {
      both(Temporal.timestamptzMicros, us)
      both(Temporal.timestampMicros, us)
      const d = Temporal.microsToDate(us)
      if (d !== undefined) assert.isTrue(Temporal.dateToMicros(d) <= us && us - Temporal.dateToMicros(d) < 1000n)
    }
  )

  it.prop(
    "date text and days agree",
    [Schema.Int.check(Schema.isBetween({ minimum: -2451545 - 10957, maximum: 2147483000 }))],
    ([days]) => {
      const w = new Writer(8)
      w.int32(days)
      const b = w.flush()
      const s = Temporal.date.decodeBinary!(b, 0, 4)
      assert.strictEqual(Temporal.parseDate(s), days + 10957)
      assert.strictEqual(Temporal.formatDate(days + 10957), s)
    }
  )

  it.prop("interval", [Temporal.IntervalSchema], ([v]) => both(Temporal.interval, v))

  it.prop("point", [Geometric.PointSchema], ([v]) => both(Geometric.point, v))
  it.prop("line", [Geometric.LineSchema], ([v]) => both(Geometric.line, v))
  it.prop("lseg", [Geometric.LineSegmentSchema], ([v]) => both(Geometric.lseg, v))
  it.prop("box", [Geometric.BoxSchema], ([v]) => both(Geometric.box, v))
  it.prop("path", [Geometric.PathSchema], ([v]) => both(Geometric.path, v))
  it.prop("polygon", [Geometric.PolygonSchema], ([v]) => both(Geometric.polygon, v))
  it.prop("circle", [Geometric.CircleSchema], ([v]) => both(Geometric.circle, v))

  const int4Array = ArrayCodec.make(Int.int4, Oid._int4)
  const textArray = ArrayCodec.make(Text.text, Oid._text)
  const int4Range = Range.makeRange(Int.int4, "int4range", Oid.int4range, undefined)
  const textRange = Range.makeRange(Text.text, "textrange", 1, undefined)
  const int4Multirange = Range.makeMultirange(Int.int4, "int4multirange", Oid.int4multirange, undefined)

  it.prop("int4[] with NULLs", [Int32Array], ([v]) => both(int4Array, v))
  it.prop("text[] with special characters and NULLs", [Schema.Array(Schema.NullOr(PgText))], ([v]) => both(textArray, v))
  it.prop(
    "int4[][] (rectangular)",
    [Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4 })), Int32Array],
    ([width, flat]) => {
      const rows = Math.floor(flat.length / width)
      if (rows === 0) return
      const matrix = Array.from({ length: rows }, (_, r) => flat.slice(r * width, (r + 1) * width))
      both(int4Array, matrix)
    }
  )
  it.prop(
    "arrays with lower bounds",
    [Schema.Int.check(Schema.isBetween({ minimum: -5, maximum: 5 })), Int32Array],
    ([lb, v]) => {
      if (v.length === 0) return
      const value = ArrayCodec.bounded(v, [lb])
      both(int4Array, value, lb === 1 ? v : value)
    }
  )
  it.prop("int4range", [Range.RangeSchema(Fields.Int32)], ([v]) => both(int4Range, v))
  it.prop("ranges of strings needing quotes", [Range.RangeSchema(PgText)], ([v]) => both(textRange, v))
  it.prop("int4multirange", [Schema.Array(Range.RangeSchema(Fields.Int32))], ([v]) => both(int4Multirange, v))

  const pair = RecordCodec.makeComposite("pair", 1, undefined, [
    { name: "a", codec: Int.int4 },
    { name: "b", codec: Text.text }
  ])
  it.prop(
    "composite with text needing quotes",
    [Schema.Struct({ a: Schema.NullOr(Fields.Int32), b: Schema.NullOr(PgText) })],
    ([v]) => both(pair, v)
  )

  const hstore = Extension.hstore(1, undefined)
  it.prop("hstore", [Schema.Record(PgText, Schema.NullOr(PgText))], ([v]) => both(hstore, v))

  it.prop("pg_snapshot", [System.SnapshotSchema], ([v]) => both(System.pg_snapshot, v))

  it.prop("pg_lsn", [Fields.UInt64], ([v]) => {
    const s = System.pg_lsn.encodeText(v as unknown as string)
    const w = new Writer(8)
    System.pg_lsn.encodeBinary!(w, v as unknown as string)
    const bytes = w.flush()
    assert.strictEqual(System.pg_lsn.decodeBinary!(bytes, 0, 8), s)
  })
})
