/**
 * The exactness rules of `json`/`jsonb` decoding (issue 22): integers beyond
 * 2^53 come back as `bigint`s whether or not the document takes the fast path,
 * and the fast path (plain `JSON.parse`) is taken for documents whose long
 * digit runs are all inside strings (hex digests and the like).
 *
 * The oracle is the exact parse applied to every document: `JSON.parse` with a
 * reviver that turns every integer literal a number cannot hold into a
 * `bigint`. Whatever path `Json.parse` picks, its result must equal the
 * oracle's.
 */
import { assert, describe, it } from "@effect/vitest"
import { vi } from "vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import * as Json from "../../src/types/Json.ts"
import { connectPlain } from "../support/Sessions.ts"

type Reviver = (this: unknown, key: string, value: unknown) => unknown

/** Every integer literal beyond ±(2^53 - 1) as a bigint: the slow path, on every document. */
const oracle = (text: string): unknown =>
  JSON.parse(text, ((_key: string, value: unknown, context?: { source?: string }) =>
    typeof value === "number" && !Number.isSafeInteger(value) && /^-?\d+$/.test(context?.source ?? "")
      ? BigInt(context!.source!)
      : value) as Reviver)

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Decodes `text` as the binary jsonb codec receives it (version byte 1, then the text). */
const decodeJsonb = (text: string): unknown => {
  const binary = new Uint8Array([1, ...bytes(text)])
  return Json.jsonb.decodeBinary!(binary, 0, binary.length)
}

/** Decodes `text` through the codecs as the session does: jsonb in binary, json as text. */
const throughCodecs = (text: string): { readonly jsonb: unknown; readonly json: unknown } => {
  const plain = bytes(text)
  return { jsonb: decodeJsonb(text), json: Json.json.decodeText(plain, 0, plain.length) }
}

const md5 = (s: string): string => createHash("md5").update(s).digest("hex")

/** The document of issue 22's `wide_json` table for row `i`, as PostgreSQL 18 prints jsonb. */
const wideDoc = (i: number): string =>
  `{${
    Array.from({ length: 86 }, (_, k) => {
      const j = k + 1
      return `"key_${j}": {"b": ${(i + j) % 2 === 0}, "f": ${(j * 1.5).toFixed(1)}, "n": ${i * j}, "s": "${md5(String(i * j))}${md5(String(j))}"}`
    }).join(", ")
  }}`

describe("json exactness", () => {
  it("integers beyond 2^53 are bigints wherever a value stands, and only there", () => {
    const cases: ReadonlyArray<readonly [string, unknown]> = [
      ["12345678901234567890", 12345678901234567890n],
      ["-9007199254740993", -9007199254740993n],
      [" \t\r\n9007199254740993\n", 9007199254740993n],
      ["9007199254740992", 9007199254740992n],
      ["9007199254740991", 9007199254740991],
      ["-9007199254740991", -9007199254740991],
      ["[1,18446744073709551616,-18446744073709551616]", [1, 18446744073709551616n, -18446744073709551616n]],
      ["{\"a\":{\"b\":[12345678901234567890]}}", { a: { b: [12345678901234567890n] } }],
      ["{\"a\" :\n\t12345678901234567890\r\n}", { a: 12345678901234567890n }],
      // Fractions and exponents are doubles, however many digits they have.
      ["[12345678901234567890.5, 1.12345678901234567890, 12345678901234567e2]", [Number("12345678901234567890.5"), Number("1.12345678901234567890"), 12345678901234567e2]],
      // Digits inside strings stay strings, with or without the exact path.
      ["\"12345678901234567890\"", "12345678901234567890"],
      ["[\"ab12345678901234567890cd\", \"x 12345678901234567890 y\"]", ["ab12345678901234567890cd", "x 12345678901234567890 y"]],
      ["[\"[12345678901234567890]\", \"-12345678901234567890,\"]", ["[12345678901234567890]", "-12345678901234567890,"]],
      // Escapes before and around the digits.
      ["[\"\\\"\", 12345678901234567890]", ["\"", 12345678901234567890n]],
      ["[\"a\\\\\", 12345678901234567890]", ["a\\", 12345678901234567890n]],
      ["\"\\\"12345678901234567890\\\"\"", "\"12345678901234567890\""],
      ["\"\\u00312345678901234567890\"", "12345678901234567890"],
      ["{\"12345678901234567890\": 12345678901234567890}", { "12345678901234567890": 12345678901234567890n }]
    ]
    for (const [text, expected] of cases) {
      assert.deepStrictEqual(Json.parse(text), expected, text)
      assert.deepStrictEqual(throughCodecs(text), { jsonb: expected, json: expected }, text)
    }
  })

  it("an integer beyond 2^53 is found at every offset from the probes", () => {
    // The probe reads every 16th character: shift the literal across a whole period, inside containers of each kind.
    for (let pad = 0; pad < 40; pad++) {
      const spaces = " ".repeat(pad)
      for (const [text, expected] of [
        [`${spaces}12345678901234567890`, 12345678901234567890n],
        [`[${spaces}-12345678901234567890]`, [-12345678901234567890n]],
        [`{"${"k".repeat(pad)}":9007199254740993}`, { ["k".repeat(pad)]: 9007199254740993n }],
        [`["${"f".repeat(pad)}",${"9".repeat(17 + (pad % 5))}]`, ["f".repeat(pad), BigInt("9".repeat(17 + (pad % 5)))]],
        // A run that starts like a value but is not an integer, right before one: the probing resumes after it.
        [`[${spaces}123456.5,12345678901234567890]`, [123456.5, 12345678901234567890n]],
        [`[${spaces}1234567890123456789.5,-12345678901234567890]`, [1234567890123456789.5, -12345678901234567890n]]
      ] as const) {
        assert.isTrue(Json.mayHoldUnsafeInteger(text), text)
        assert.deepStrictEqual(Json.parse(text), expected, text)
      }
    }
  })

  it("issue 22's documents, whose hex strings hold long digit runs, take the fast path and equal the exact parse", () => {
    let withRuns = 0
    const docs = Array.from({ length: 300 }, (_, i) => wideDoc(i + 1))
    const expected = docs.map(oracle)
    // What the codec calls JSON.parse with: never a reviver (the exact path) for these documents.
    const spy = vi.spyOn(JSON, "parse")
    try {
      docs.forEach((text, i) => {
        if (Json.hasLongDigitRun(text)) withRuns++
        assert.isFalse(Json.mayHoldUnsafeInteger(text), `row ${i + 1}`)
        assert.deepStrictEqual(decodeJsonb(text), expected[i], `row ${i + 1}`)
      })
      assert.strictEqual(spy.mock.calls.length, docs.length)
      assert.isTrue(spy.mock.calls.every((args) => args[1] === undefined))
    } finally {
      spy.mockRestore()
    }
    // The shape does hold such runs (about a third of the rows): the case above is not empty.
    assert.isAbove(withRuns, 30)
    // A big integer added to such a document is still found and kept exact.
    const big = wideDoc(7).replace("\"n\": 7,", "\"n\": 70000000000000000007,")
    assert.isTrue(Json.mayHoldUnsafeInteger(big))
    assert.strictEqual((Json.parse(big) as { key_1: { n: unknown } }).key_1.n, 70000000000000000007n)
  })

  // Documents assembled from values that are tricky for the probe: big integers, long runs in strings
  // (quoted, between letters, after escapes, looking like values), fractions and exponents with long runs,
  // with JSON's four whitespace characters and padding that moves every value across the probes' period.
  const Value = Schema.Literals([
    "12345678901234567890",
    "-9007199254740993",
    "9007199254740993",
    "9007199254740991",
    "-18446744073709551616",
    "1234567890123456789012345678901234567890",
    "12345678901234567890.5",
    "123456.5",
    "1.12345678901234567890",
    "12345678901234567e2",
    "1e-12345678901234567",
    "\"12345678901234567890\"",
    "\"0123456789abcdef12345678901234567890fedcba\"",
    "\"x 12345678901234567890 y\"",
    "\"\\\"12345678901234567890\\\"\"",
    "\"\\\\\"",
    "\"\\u00312345678901234567890\"",
    "\"[12345678901234567890]\"",
    "1",
    "-1.5",
    "true",
    "null",
    "\"a\""
  ])
  const Space = Schema.Literals(["", " ", "\n", "\t", "\r\n  ", "                 "])
  const Wrap = Schema.Literals(["bare", "object", "array", "key"])
  const Item = Schema.Tuple([Value, Space, Space, Wrap])

  const assemble = (items: ReadonlyArray<readonly [string, string, string, string]>): string =>
    `[${
      items.map(([value, before, after, wrap]) => {
        const v = `${before}${value}${after}`
        switch (wrap) {
          case "object":
            return `{"k"${before}:${v}}`
          case "array":
            return `[${v},${v}]`
          case "key":
            return `{${before}"${value.replace(/[\\"]/g, "")}"${after}:${v}}`
          default:
            return v
        }
      }).join(",")
    }]`

  it.prop("any document decodes to the exact parse, on either path and through both codecs", [Schema.Array(Item)], ([items]) => {
    const text = assemble(items)
    const expected = oracle(text)
    assert.deepStrictEqual(Json.parse(text), expected, text)
    assert.deepStrictEqual(throughCodecs(text), { jsonb: expected, json: expected }, text)
  })

  it.prop("a document with an integer beyond 2^53 always takes the exact path", [Schema.Array(Item)], ([items]) => {
    const text = assemble(items)
    if (JSON.stringify(oracle(text), (_k, v) => (typeof v === "bigint" ? "BIGINT" : v)).includes("\"BIGINT\"")) {
      assert.isTrue(Json.mayHoldUnsafeInteger(text), text)
    }
  })

  it.live("documents from PostgreSQL 18 decode to the exact parse of their text, jsonb and json alike", () =>
    Effect.gen(function*() {
      const session = yield* connectPlain()
      const result = yield* session.query<{ readonly doc: unknown; readonly plain: unknown; readonly text: string }>(
        `select doc, doc::json as plain, doc::text as text from (
           select jsonb_build_object(
             'big', 12345678901234567890, 'neg', -9007199254740993, 'safe', 9007199254740991,
             'in_string', '12345678901234567890', 'fraction', 12345678901234567890.5,
             'nested', jsonb_build_array(jsonb_build_object('n', 18446744073709551616)),
             'hex', md5('3') || md5('1')) as doc
           union all
           select (select jsonb_object_agg('key_' || j, jsonb_build_object('n', i * j,
                     's', md5((i * j)::text) || md5(j::text), 'b', (i + j) % 2 = 0, 'f', j * 1.5))
                   from generate_series(1, 86) as k(j))
           from generate_series(1, 20) as s(i)) docs`
      )
      assert.strictEqual(result.rows.length, 21)
      for (const row of result.rows) {
        const expected = oracle(row.text)
        assert.deepStrictEqual(row.doc, expected)
        assert.deepStrictEqual(row.plain, expected)
      }
      const first = result.rows[0]!.doc as Record<string, unknown>
      assert.strictEqual(first["big"], 12345678901234567890n)
      assert.strictEqual(first["neg"], -9007199254740993n)
      assert.strictEqual(first["safe"], 9007199254740991)
      assert.strictEqual(first["in_string"], "12345678901234567890")
      assert.deepStrictEqual(first["nested"], [{ n: 18446744073709551616n }])
      // The rows of issue 22's shape equal the documents built here (the fast path's case above).
      assert.deepStrictEqual(result.rows[1]!.doc, JSON.parse(wideDoc(1)))
    }))
})
