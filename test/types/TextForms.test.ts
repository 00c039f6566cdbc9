/**
 * The text forms: what the server prints in other settings or styles that
 * the captured corpus does not show (escape-style bytea, other time zones,
 * whitespace in literals), and malformed text that must be a CodecError.
 */
import { assert, describe, it } from "@effect/vitest"
import { CodecError } from "../../src/errors/PgError.ts"
import * as Extension from "../../src/types/Extension.ts"
import * as Json from "../../src/types/Json.ts"
import * as Numeric from "../../src/types/Numeric.ts"
import { Oid } from "../../src/types/Oid.ts"
import * as Range from "../../src/types/Range.ts"
import * as RecordCodec from "../../src/types/Record.ts"
import * as Param from "../../src/types/Param.ts"
import { defaultRegistry, Registry } from "../../src/types/Registry.ts"
import * as Temporal from "../../src/types/Temporal.ts"
import { Writer } from "../../src/wire/Writer.ts"

const decode = (oid: number, s: string, r: Registry = defaultRegistry): unknown => {
  const b = new TextEncoder().encode(s)
  return r.decoder(oid, 0)(b, 0, b.length)
}
const micros = Registry.make({ timestamp: "micros" })
const bad = (oid: number, s: string, r: Registry = defaultRegistry): void => {
  assert.throws(() => decode(oid, s, r), CodecError, undefined, s)
}

describe("text forms", () => {
  it("bytea in the escape output style", () => {
    assert.deepStrictEqual(decode(Oid.bytea, "a\\000\\377\\\\b"), new Uint8Array([0x61, 0, 0xff, 0x5c, 0x62]))
    bad(Oid.bytea, "\\x0")
    bad(Oid.bytea, "\\xzz")
    bad(Oid.bytea, "\\9")
  })

  it("timestamp text read from the bytes agrees with the general parser's arithmetic on 3,000 generated values", () => {
    let seed = 11
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n
    const pad = (v: number, n: number) => String(v).padStart(n, "0")
    for (let k = 0; k < 3000; k++) {
      const [year, month, day, hour, minute, second] = [
        1 + next(9999), 1 + next(12), 1 + next(28), next(24), next(60), next(60)
      ]
      const digits = next(9)
      const fractionText = digits === 0 ? "" : "." + Array.from({ length: digits }, () => next(10)).join("")
      const offsetSeconds = [0, 3600 * (next(15)), -(3600 * next(13) + 60 * next(60)), 3600 + 60 * next(60) + next(60)][k % 4]!
      const sign = offsetSeconds < 0 ? "-" : "+"
      const abs = Math.abs(offsetSeconds)
      const zone = k % 4 === 0
        ? ""
        : k % 4 === 1
        ? `${sign}${pad(abs / 3600, 2)}`
        : k % 4 === 2
        ? `${sign}${pad(Math.floor(abs / 3600), 2)}:${pad(Math.floor(abs / 60) % 60, 2)}`
        : `${sign}${pad(Math.floor(abs / 3600), 2)}:${pad(Math.floor(abs / 60) % 60, 2)}:${pad(abs % 60, 2)}`
      const text = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)} ${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${fractionText}${zone}`
      const date = new Date(0)
      date.setUTCFullYear(year, month - 1, day)
      const days = BigInt(Math.round(date.getTime() / 86400000))
      const fraction = BigInt((fractionText.slice(1) + "000000").slice(0, 6))
      const expected = days * 86400000000n + BigInt((hour * 60 + minute) * 60 + second) * 1000000n + fraction -
        BigInt(offsetSeconds) * 1000000n
      assert.strictEqual(decode(Oid.timestamptz, text, micros), expected, text)
      assert.strictEqual(decode(Oid.timestamp, text.slice(0, text.length - zone.length), micros), expected + BigInt(offsetSeconds) * 1000000n, text)
    }
    // Shapes the byte reader leaves to the pattern: a five-digit year, BC, no colon in the offset, a 'T'.
    assert.strictEqual(decode(Oid.timestamptz, "10000-01-01 00:00:00+00", micros), 253402300800000000n)
    assert.strictEqual(decode(Oid.timestamptz, "2024-01-01 05:30:00+0530", micros), 1704067200000000n)
    assert.strictEqual(decode(Oid.timestamptz, "2024-01-01T00:00:00Z", micros), 1704067200000000n)
    bad(Oid.timestamptz, "2024-01-01 00:00:00.")
    bad(Oid.timestamptz, "2024-01-01 00:00:00+5")
    bad(Oid.timestamptz, "2024-01-01 00:00:00+05:3")
    bad(Oid.timestamptz, "2024-01-01 00:00:00+05:30:1x")
    bad(Oid.timestamptz, "2024-00-01 00:00:00")
  })

  it("timestamps in any session time zone, with and without seconds in the offset", () => {
    assert.strictEqual(decode(Oid.timestamptz, "2024-01-01 05:30:00+05:30", micros), 1704067200000000n)
    assert.strictEqual(decode(Oid.timestamptz, "2023-12-31 20:00:00-04", micros), 1704067200000000n)
    assert.strictEqual(decode(Oid.timestamptz, "2024-01-01 00:00:00.5-00:00:30", micros), 1704067230500000n)
    assert.deepStrictEqual(decode(Oid.timestamptz, "2024-01-01 05:30:00+05:30"), new Date(Date.UTC(2024, 0, 1)))
    // timestamp without time zone is wall-clock time read as UTC.
    assert.strictEqual((decode(Oid.timestamp, "0001-01-01 00:00:00") as Date).getUTCFullYear(), 1)
    assert.strictEqual((decode(Oid.timestamp, "0001-12-31 00:00:00 BC") as Date).getUTCFullYear(), 0)
    bad(Oid.timestamptz, "2024-01-01")
    bad(Oid.timestamptz, "Mon Jan 01 00:00:00 2024 PST")
    bad(Oid.timestamptz, "2024-13-01 00:00:00+00")
  })

  it("formats the exact representation the way the server prints it", () => {
    assert.strictEqual(Temporal.formatTimestamp(0n, true), "1970-01-01 00:00:00+00")
    assert.strictEqual(Temporal.formatTimestamp(-1n, false), "1969-12-31 23:59:59.999999")
    assert.strictEqual(Temporal.formatTimestamp(-62135596800000000n - 1n, false), "0001-12-31 23:59:59.999999 BC")
    assert.strictEqual(Temporal.formatTimestamp(Infinity, true), "infinity")
    assert.strictEqual(Temporal.microsToDate(-1n)!.getTime(), -1)
    assert.isUndefined(Temporal.microsToDate(2n ** 63n - 1n))
  })

  it("intervals in the postgres style, and the text we send reads back exactly", () => {
    assert.deepStrictEqual(decode(Oid.interval, "1 day"), { months: 0, days: 1, microseconds: 0n })
    assert.deepStrictEqual(decode(Oid.interval, "-00:00:00.000001"), { months: 0, days: 0, microseconds: -1n })
    assert.deepStrictEqual(decode(Oid.interval, "3 years"), { months: 36, days: 0, microseconds: 0n })
    const v = { months: -14, days: 3, microseconds: -14706000001n }
    assert.strictEqual(Temporal.formatInterval(v), "-14 mons 3 days -4:05:06.000001")
    assert.deepStrictEqual(decode(Oid.interval, Temporal.formatInterval(v)), v)
    bad(Oid.interval, "P1Y2M")
    bad(Oid.interval, "1 fortnight")
    bad(Oid.interval, "@ 1 hour ago")
  })

  it("numeric text in, canonical text out", () => {
    assert.strictEqual(Numeric.format("1.5e3"), "1500")
    assert.strictEqual(Numeric.format("1.50e-1"), "0.150")
    assert.strictEqual(Numeric.format("-000.00"), "0.00")
    assert.strictEqual(Numeric.format(0.1), "0.1")
    assert.strictEqual(Numeric.format(5e-324), "0." + "0".repeat(323) + "5")
    assert.strictEqual(Numeric.format(-(10n ** 30n)), "-1" + "0".repeat(30))
    assert.strictEqual(Numeric.format("inf"), "Infinity")
    assert.throws(() => Numeric.format("1e999999"), CodecError)
    assert.throws(() => Numeric.format("12a"), CodecError)
    assert.throws(() => Numeric.format("."), CodecError)
    assert.throws(() => Numeric.format("0." + "1".repeat(16384)), /display scale/)
  })

  it("money keeps the digits and the sign of any locale's format", () => {
    const bare = Registry.make({ money: "bigint" })
    assert.strictEqual(decode(Oid.money, "$1,234.56", bare), 123456n)
    assert.strictEqual(decode(Oid.money, "-$0.01", bare), -1n)
    assert.strictEqual(decode(Oid.money, "($5.00)", bare), -500n)
    assert.strictEqual(decode(Oid.money, "1.234,56 €", bare), 123456n)
    // By default the count comes tagged as money (PgTypes.money), from text as from binary.
    assert.deepStrictEqual(decode(Oid.money, "$1,234.56"), Param.make(Oid.money, 123456n))
    bad(Oid.money, "$")
  })

  it("arrays: quoting, escapes, NULL spellings, whitespace, delimiters, bounds", () => {
    assert.deepStrictEqual(decode(Oid._text, "{\"a,b\",\"c\\\"d\",e\\,f,null,\"NULL\"}"), ["a,b", "c\"d", "e,f", null, "NULL"])
    assert.deepStrictEqual(decode(Oid._int4, " { 1 , 2 } "), [1, 2])
    assert.deepStrictEqual(decode(Oid._text, "{  a b  }"), ["a b"])
    assert.deepStrictEqual(decode(Oid._int4, "{{},{}}"), [])
    assert.deepStrictEqual(decode(Oid._box, "{(1,1),(0,0);(2,2),(1,1)}"), [
      { upperRight: { x: 1, y: 1 }, lowerLeft: { x: 0, y: 0 } },
      { upperRight: { x: 2, y: 2 }, lowerLeft: { x: 1, y: 1 } }
    ])
    assert.deepStrictEqual(decode(Oid._int4, "[1:2]={5,6}"), [5, 6])
    for (const s of ["{1,2", "{1,,2}", "{{1},2}", "{{1,2},{3}}", "{1}x", "[1:3]={1,2}", "[1:2={1,2}", "1,2", "{{{{{{{1}}}}}}}", "{\"a}"]) {
      bad(Oid._int4, s)
    }
  })

  it("ranges: quoted bounds, doubled quotes, escapes, empty in any case", () => {
    const textRange = Range.makeRange(defaultRegistry.get(Oid.text)!, "textrange", 1, undefined)
    const b = new TextEncoder().encode("[\"a\"\"b\",c\\,d)")
    assert.deepStrictEqual(textRange.decodeText(b, 0, b.length), Range.make("a\"b", "c,d"))
    assert.deepStrictEqual(decode(Oid.int4range, " EMPTY "), Range.empty)
    assert.deepStrictEqual(decode(Oid.int4multirange, "{ [1,2) , empty }"), [Range.make(1, 2), Range.empty])
    for (const s of ["[1,2", "1,2)", "[1;2)", "[1,2)x", "emptyx", "[\"1,2)"]) bad(Oid.int4range, s)
    bad(Oid.int4multirange, "{[1,2)")
  })

  it("records: quoting and NULL against the empty string", () => {
    const bytes = new TextEncoder().encode("(\"a \"\"q\"\" \\\\ b\",,\"\",x)")
    assert.deepStrictEqual(RecordCodec.parseText("record", bytes, 0, bytes.length), ["a \"q\" \\ b", null, "", "x"])
    assert.deepStrictEqual(decode(Oid.record, "()"), [null])
    bad(Oid.record, "(1,2")
    bad(Oid.record, "(\"1)")
  })

  it("hstore in its text form", () => {
    const hstore = Extension.hstore(1, undefined)
    const b = new TextEncoder().encode("a=>1, \"b c\"=>NULL, \"d\\\"\"=>\"NULL\",__proto__=>x")
    const v = hstore.decodeText(b, 0, b.length) as Record<string, string | null>
    assert.deepStrictEqual(Object.keys(v), ["a", "b c", "d\"", "__proto__"])
    assert.strictEqual(v["d\""], "NULL")
    assert.strictEqual(Object.getPrototypeOf(v), Object.prototype)
    assert.strictEqual(hstore.encodeText({ a: "1", b: null }), "\"a\"=>\"1\", \"b\"=>NULL")
    for (const s of ["a", "a=>", "a=>1 b=>2", "\"a=>1"]) {
      const x = new TextEncoder().encode(s)
      assert.throws(() => hstore.decodeText(x, 0, x.length), CodecError, undefined, s)
    }
  })

  it("json: exact large integers only where they are integers, other parsers on request", () => {
    assert.deepStrictEqual(Json.parse("{\"a\":12345678901234567890,\"b\":1.5e300,\"c\":\"12345678901234567890\"}"), {
      a: 12345678901234567890n,
      b: 1.5e300,
      c: "12345678901234567890"
    })
    assert.deepStrictEqual(Json.parse("[-9007199254740993, 9007199254740991]"), [-9007199254740993n, 9007199254740991])
    assert.strictEqual(Json.stringify("json", { n: 2n ** 64n }), "{\"n\":18446744073709551616}")
    bad(Oid.json, "{")
    assert.throws(() => defaultRegistry.decoder(Oid.jsonb, 1)(new Uint8Array([2, 0x31]), 0, 2), /unsupported binary version 2/)
  })
})

describe("uuid parameters", () => {
  const uuid = defaultRegistry.get(Oid.uuid)!
  const encode = (value: string): string => {
    const w = new Writer()
    uuid.encodeBinary!(w, value)
    return Array.from(w.flush(), (b) => b.toString(16).padStart(2, "0")).join("")
  }

  it("the canonical form in either case goes in binary, as its 16 bytes", () => {
    for (const text of ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"]) {
      assert.strictEqual(uuid.formatFor(text), 1, text)
      assert.strictEqual(encode(text), "a0eebc999c0b4ef8bb6d6bb9bd380a11")
    }
  })

  it("any other text goes as text for the server to judge, and never as wrong bytes", () => {
    const others = [
      "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
      "a0eebc999c0b4ef8bb6d6bb9bd380a11",
      "a0eebc99-9c0b4-ef8-bb6d-6bb9bd380a11",
      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g",
      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
      // U+0161 and U+0130 share their low byte with 'a' and '0'.
      "\u0161\u0130eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1\u0131"
    ]
    for (const text of others) {
      assert.strictEqual(uuid.formatFor(text), 0, text)
      assert.throws(() => encode(text), CodecError, undefined, text)
    }
  })
})
