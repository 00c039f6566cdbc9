/**
 * Round-trip tests of values built in JavaScript: numbers, times, arrays,
 * ranges and multiranges, in both statement-cache modes (registered by
 * RoundTrip.test.ts once per server).
 */
import { assert, describe } from "@effect/vitest"
import * as BigDecimal from "effect/BigDecimal"
import * as Effect from "effect/Effect"
import * as PgTypes from "../../src/types/PgTypes.ts"
import { Registry } from "../../src/types/Registry.ts"
import { type ServerInfo } from "../support/Servers.ts"
import { builtinByName } from "./RoundTripCases.ts"
import {
  type It,
  MODES,
  tableName,
  failureOf,
  assertServerError,
  sessionsOf,
  valueOf
} from "./RoundTripScratch.ts"

export const valueTests = (it: It, label: string, server: ServerInfo): void => {
  const major = server.majorVersion
  const sessions = sessionsOf(label)

  describe("numbers", () => {
    it.effect("int8 extremes and ±(2^53 + 1) go in and come out exact, also inside json_build_object", () =>
      Effect.gen(function*() {
        const values = [-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -(2n ** 53n + 1n), 0n]
        for (const mode of MODES) {
          const session = yield* sessions(mode.options)
          for (const x of values) {
            const { rows } = yield* session.query(
              "SELECT $1::int8 AS v, $1::int8::text AS t, json_build_object('v', $1::int8) AS j, " +
                "jsonb_build_object('v', $1::int8) AS jb",
              [x]
            )
            const row = rows[0]!
            assert.strictEqual(row["v"], x, mode.name)
            assert.strictEqual(row["t"], String(x), mode.name)
            assert.deepStrictEqual(row["j"], { v: x === 0n ? 0 : x }, mode.name)
            assert.deepStrictEqual(row["jb"], { v: x === 0n ? 0 : x }, mode.name)
          }
          // Beyond int8 a bigint is declared numeric: still exact.
          assert.strictEqual(yield* valueOf(session, "$1::numeric::text", 2n ** 70n + 1n), String(2n ** 70n + 1n))
          // The largest safe number goes as a number and comes back as an int8 bigint.
          assert.strictEqual(yield* valueOf(session, "$1::int8", Number.MAX_SAFE_INTEGER), 9007199254740991n)
        }
      }))

    it.effect("numeric: 1000 digits, NaN and ±Infinity as strings, exact both ways", () =>
      Effect.gen(function*() {
        const thousand = "1" + "0".repeat(499) + "." + "9".repeat(500)
        const values = ["-" + thousand, thousand, "0.000", "-0.5", "NaN", ...(major >= 14 ? ["Infinity", "-Infinity"] : [])]
        for (const mode of MODES) {
          const session = yield* sessions(mode.options)
          for (const x of values) {
            const { rows } = yield* session.query("SELECT $1::numeric AS v, $1::numeric::text AS t", [x])
            assert.strictEqual(rows[0]!["v"], x, mode.name)
            assert.strictEqual(rows[0]!["t"], x, mode.name)
          }
          if (major < 14) {
            // PostgreSQL 13 has no numeric infinity: an error, never a silently different value.
            assertServerError(yield* failureOf(session.query("SELECT $1::numeric AS v", ["Infinity"])), "22P02")
          }
        }
        const exact = yield* sessions({ registry: Registry.make({ numeric: "BigDecimal" }) })
        const decimal = BigDecimal.fromStringUnsafe("-" + thousand)
        const back = yield* valueOf(exact, "$1::numeric", decimal)
        assert.isTrue(BigDecimal.isBigDecimal(back))
        assert.isTrue(BigDecimal.equals(back as BigDecimal.BigDecimal, decimal))
        assert.strictEqual(yield* valueOf(exact, "$1::numeric::text", decimal), "-" + thousand)
      }))

    it.effect("float8 and float4 edge values keep their bits: -0, NaN, ±Infinity, denormals, 2^53 - 1", () =>
      Effect.gen(function*() {
        const float8: ReadonlyArray<readonly [number, string]> = [
          [-0, "-0"],
          [Number.NaN, "NaN"],
          [Number.POSITIVE_INFINITY, "Infinity"],
          [Number.NEGATIVE_INFINITY, "-Infinity"],
          [5e-324, "5e-324"],
          [9007199254740991, "9.007199254740991e+15"],
          [0.1, "0.1"],
          [1.7976931348623157e308, "1.7976931348623157e+308"],
          [2.2250738585072014e-308, "2.2250738585072014e-308"]
        ]
        const float4: ReadonlyArray<readonly [number, string]> = [
          [-0, "-0"],
          [Number.NaN, "NaN"],
          [Math.fround(1.1), "1.1"],
          [Math.fround(3.4028234663852886e38), "3.4028235e+38"],
          [Math.fround(1e-45), "1e-45"]
        ]
        for (const mode of MODES) {
          const session = yield* sessions(mode.options)
          for (const [type, cases] of [["float8", float8], ["float4", float4]] as const) {
            for (const [x, text] of cases) {
              const { rows } = yield* session.query(`SELECT $1::${type} AS v, $1::${type}::text AS t`, [x])
              assert.isTrue(Object.is(rows[0]!["v"], x), `${mode.name} ${type} ${text}: ${rows[0]!["v"]}`)
              assert.strictEqual(rows[0]!["t"], text, `${mode.name} ${type}`)
            }
          }
        }
      }))
  })

  describe("time", () => {
    it.effect("timestamptz keeps microseconds in the exact mode, and a decoded value finds its row", () =>
      Effect.gen(function*() {
        const table = tableName()
        const setup = yield* sessions()
        yield* setup.simple(
          `CREATE TABLE ${table} (k int4, t timestamptz, ts timestamp);` +
            `INSERT INTO ${table} VALUES ` +
            `(1, '2017-01-01 00:00:00.000001+00', '2017-01-01 00:00:00.000001'), (2, 'infinity', 'infinity'), ` +
            `(3, '-infinity', '-infinity'), (4, '0044-03-15 01:02:03.5+00 BC', '0044-03-15 01:02:03.5 BC'), ` +
            `(5, '2024-05-31 16:08:37.123+00', '2024-05-31 16:08:37.123'), ` +
            `(6, '1969-12-31 23:59:59.999999+00', '1969-12-31 23:59:59.999999')`
        )
        for (const mode of MODES) {
          const exact = yield* sessions({ ...mode.options, registry: Registry.make({ timestamp: "micros" }) })
          const { rows } = yield* exact.query(`SELECT k, t, ts FROM ${table} ORDER BY k`)
          assert.strictEqual(rows[0]!["t"], 1483228800000001n, mode.name)
          assert.strictEqual(rows[0]!["ts"], 1483228800000001n, mode.name)
          assert.strictEqual(rows[1]!["t"], Number.POSITIVE_INFINITY, mode.name)
          assert.strictEqual(rows[2]!["t"], Number.NEGATIVE_INFINITY, mode.name)
          assert.strictEqual(rows[5]!["t"], -1n, mode.name)
          for (const row of rows) {
            const byT = yield* exact.query(`SELECT k FROM ${table} WHERE t = $1`, [PgTypes.timestamptz(row["t"] as bigint)])
            assert.deepStrictEqual(byT.rows, [{ k: row["k"] }], `${mode.name}: t of row ${row["k"]}`)
            const byTs = yield* exact.query(`SELECT k FROM ${table} WHERE ts = $1`, [PgTypes.timestamp(row["ts"] as bigint)])
            assert.deepStrictEqual(byTs.rows, [{ k: row["k"] }], `${mode.name}: ts of row ${row["k"]}`)
          }
          // The Date representation floors to the millisecond: rows with microseconds are not found again.
          const dates = yield* sessions(mode.options)
          const dateRows = (yield* dates.query(`SELECT k, t FROM ${table} ORDER BY k`)).rows
          assert.deepStrictEqual(dateRows[4]!["t"], new Date(Date.UTC(2024, 4, 31, 16, 8, 37, 123)))
          assert.deepStrictEqual(dateRows[5]!["t"], new Date(-1))
          const found: Array<number> = []
          for (const row of dateRows) {
            const r = yield* dates.query(`SELECT k FROM ${table} WHERE t = $1`, [row["t"]])
            if (r.rows.length === 1) found.push(r.rows[0]!["k"] as number)
          }
          assert.deepStrictEqual(found, [2, 3, 4, 5], `${mode.name}: rows found again through a Date`)
        }
      }))

    it.effect("a Date for a timestamp column: PgTypes.timestamp in any TimeZone; an untyped Date is a timestamptz", () =>
      Effect.gen(function*() {
        const table = tableName()
        const session = yield* sessions({ parameters: { TimeZone: "America/New_York" } })
        yield* session.simple(`CREATE TABLE ${table} (ts timestamp); INSERT INTO ${table} VALUES ('2024-05-31 16:08:37.123')`)
        const ts = (yield* session.query(`SELECT ts FROM ${table}`)).rows[0]!["ts"] as Date
        // timestamp decodes as if UTC: the Date's UTC fields are the stored wall-clock fields.
        assert.strictEqual(ts.toISOString(), "2024-05-31T16:08:37.123Z")
        const typed = yield* session.query(`SELECT count(*)::int4 AS n FROM ${table} WHERE ts = $1 /* typed */`, [
          PgTypes.timestamp(ts)
        ])
        assert.strictEqual(typed.rows[0]!["n"], 1)
        // Untyped, a Date is declared timestamptz, so the column is compared in the session's TimeZone.
        const untyped = yield* session.query(`SELECT count(*)::int4 AS n FROM ${table} WHERE ts = $1 /* untyped */`, [ts])
        assert.strictEqual(untyped.rows[0]!["n"], 0)
      }))

    // The session pins DateStyle and IntervalStyle at start-up (Startup.ts), whatever the options ask.
    it.effect("text results decode as binary ones whatever DateStyle and IntervalStyle the session starts with", () =>
      Effect.gen(function*() {
        const binary = yield* sessions()
        const text = yield* sessions({
          statementCacheSize: 0,
          parameters: { DateStyle: "German", IntervalStyle: "iso_8601" }
        })
        const date = "SELECT '2024-02-29'::date AS d"
        assert.deepStrictEqual((yield* text.query(date)).rows, (yield* binary.query(date)).rows)
        const others = "SELECT '2024-05-31 16:08:37.123+00'::timestamptz AS t, '1 day 02:00:00'::interval AS i"
        assert.deepStrictEqual((yield* text.query(others)).rows, (yield* binary.query(others)).rows)
      }))

    it.effect("dates, times and intervals built in JavaScript go in", () =>
      Effect.gen(function*() {
        const intervals: Array<readonly [PgTypes.Interval, string]> = [
          [PgTypes.makeInterval(14, 3, 14706789000n), "1 year 2 mons 3 days 04:05:06.789"],
          [PgTypes.makeInterval(0, 0, 1n), "00:00:00.000001"],
          [PgTypes.makeInterval(-1, -1, -1n), "-1 mons -1 days -00:00:00.000001"],
          [PgTypes.makeInterval(0, 45, 0n), "45 days"],
          [PgTypes.makeInterval(1200, 0, 0n), "100 years"]
        ]
        if (major >= 14) intervals.push([PgTypes.makeInterval(0, 0, 2562047788n * 3600000000n), "2562047788:00:00"])
        if (major >= 17) {
          intervals.push([PgTypes.makeInterval(2147483647, 2147483647, 2n ** 63n - 1n), "infinity"])
          intervals.push([PgTypes.makeInterval(-2147483648, -2147483648, -(2n ** 63n)), "-infinity"])
        }
        for (const mode of MODES) {
          const session = yield* sessions(mode.options)
          for (const [value, text] of intervals) {
            // Untyped objects need the server's declared type (cache on); typed ones go anywhere.
            if (mode.name === "cache on") assert.strictEqual(yield* valueOf(session, "$1::interval::text", value), text)
            assert.strictEqual(yield* valueOf(session, "$1::interval::text", PgTypes.interval(value)), text, mode.name)
            assert.deepStrictEqual(yield* valueOf(session, "$1::interval", PgTypes.interval(value)), value, mode.name)
          }
          const dates: ReadonlyArray<readonly [unknown, string]> = [
            [new Date(Date.UTC(2024, 1, 29)), "2024-02-29"],
            [new Date(Date.UTC(-43, 2, 15)), "0044-03-15 BC"],
            [Number.POSITIVE_INFINITY, "infinity"],
            [Number.NEGATIVE_INFINITY, "-infinity"],
            ["5874897-12-31", "5874897-12-31"]
          ]
          for (const [value, text] of dates) {
            assert.strictEqual(yield* valueOf(session, "$1::date::text", PgTypes.date(value as Date)), text, mode.name)
          }
          assert.strictEqual(yield* valueOf(session, "$1::time::text", PgTypes.time(45296123456n)), "12:34:56.123456")
          assert.strictEqual(yield* valueOf(session, "$1::time::text", PgTypes.time(86400000000n)), "24:00:00")
          assert.strictEqual(yield* valueOf(session, "$1::timetz::text", PgTypes.timetz("12:34:56+05:30")), "12:34:56+05:30")
          // ±Infinity and BC Dates as timestamps, untyped.
          assert.strictEqual(yield* valueOf(session, "$1::timestamptz::text", Number.POSITIVE_INFINITY), "infinity")
          assert.strictEqual(yield* valueOf(session, "$1::timestamptz::text", Number.NEGATIVE_INFINITY), "-infinity")
          assert.strictEqual(
            yield* valueOf(session, "$1::timestamptz::text", new Date(Date.UTC(-43, 2, 15, 1, 2, 3, 500))),
            "0044-03-15 01:02:03.5+00 BC"
          )
        }
      }))
  })

  describe("arrays", () => {
    it.effect("JavaScript arrays go in: empty, NULL elements, dimensions, lower bounds, quotes and backslashes", () =>
      Effect.gen(function*() {
        const int4: ReadonlyArray<readonly [unknown, string]> = [
          [[], "{}"],
          [[1, null, 3], "{1,NULL,3}"],
          [[[1, 2], [3, 4]], "{{1,2},{3,4}}"],
          [[[[1], [null]], [[3], [4]]], "{{{1},{NULL}},{{3},{4}}}"],
          [PgTypes.bounded([1, 2], [2]), "[2:3]={1,2}"],
          [PgTypes.bounded([[1], [2]], [0, -5]), "[0:1][-5:-5]={{1},{2}}"]
        ]
        const texts = ["a\"b", "c\\d", "\\", "\"", "", " lead", "trail ", "NULL", "null", "{}", "a,b", "tab\there", "é𝄞", null]
        for (const mode of MODES) {
          const session = yield* sessions(mode.options)
          for (const [value, text] of int4) {
            assert.strictEqual(yield* valueOf(session, "$1::int4[]::text", value), text, mode.name)
            assert.deepStrictEqual(yield* valueOf(session, "$1::int4[]", value), value, mode.name)
          }
          // Every element arrives exactly: unnest them one by one.
          const unnested = yield* session.query(
            "SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n",
            [texts]
          )
          assert.deepStrictEqual(unnested.rows.map((r) => r["x"]), texts, mode.name)
          assert.deepStrictEqual(yield* valueOf(session, "$1::text[]", texts), texts, mode.name)
          // Mixed element kinds: each element's text.
          assert.deepStrictEqual(yield* valueOf(session, "$1::text[]", ["a", 1, 2.5, true, 3n]), ["a", "1", "2.5", "true", "3"])
          assert.deepStrictEqual(yield* valueOf(session, "$1::numeric[]", [1, "2.5", 3n, null]), ["1", "2.5", "3", null])
          assert.deepStrictEqual(yield* valueOf(session, "$1::int8[]", [1n, 2, null]), [1n, 2n, null])
          const bytes = [new Uint8Array([0, 255]), null, new Uint8Array(0)]
          assert.deepStrictEqual(yield* valueOf(session, "$1::bytea[]", bytes), bytes, mode.name)
          const dates = [new Date(0), null]
          assert.deepStrictEqual(yield* valueOf(session, "$1::timestamptz[]", dates), dates, mode.name)
        }
      }))

    it.effect("an empty JavaScript array for jsonb: the server's type decides with the cache on, {} with it off", () =>
      Effect.gen(function*() {
        const on = yield* sessions()
        const off = yield* sessions({ statementCacheSize: 0 })
        assert.deepStrictEqual(yield* valueOf(on, "$1::jsonb", []), [])
        // OID 0: the array literal {} is what the server reads, and for jsonb that is an empty object.
        assert.deepStrictEqual(yield* valueOf(off, "$1::jsonb", []), {})
        assert.deepStrictEqual(yield* valueOf(off, "$1::jsonb", PgTypes.jsonb([])), [])
      }))
  })

  describe("ranges and multiranges", () => {
    it.effect("JavaScript ranges go in for every built-in range type: empty, unbounded, infinite, inclusive", () =>
      Effect.gen(function*() {
        const cases: Array<readonly [string, unknown, string]> = [
          ["int4range", PgTypes.range(1, 5, "[]"), "[1,6)"],
          ["int4range", PgTypes.emptyRange, "empty"],
          ["int4range", PgTypes.range(null, 5), "(,5)"],
          ["int4range", PgTypes.range(null, null), "(,)"],
          ["int8range", PgTypes.range(-(2n ** 63n), 2n ** 63n - 1n), "[-9223372036854775808,9223372036854775807)"],
          ["numrange", PgTypes.range("1.5", "2.5", "(]"), "(1.5,2.5]"],
          ["numrange", PgTypes.range(major >= 14 ? "-Infinity" : "-1e100", "0.5", "()"), major >= 14
            ? "(-Infinity,0.5)"
            : "(-10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000,0.5)"],
          ["tsrange", PgTypes.range(new Date(0), new Date(1000), "[]"), "[\"1970-01-01 00:00:00\",\"1970-01-01 00:00:01\"]"],
          ["tstzrange", PgTypes.range(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, "[]"), "[-infinity,infinity]"],
          ["tstzrange", PgTypes.range(new Date(0), null), "[\"1970-01-01 00:00:00+00\",)"],
          ["daterange", PgTypes.range("2024-01-01", "2024-01-31", "[]"), "[2024-01-01,2024-02-01)"],
          ["daterange", PgTypes.range<string | number>("2024-01-01", Number.POSITIVE_INFINITY), "[2024-01-01,infinity)"]
        ]
        if (major >= 14) {
          cases.push(
            ["int4multirange", [PgTypes.range(1, 3), PgTypes.range(5, 7, "[]")], "{[1,3),[5,8)}"],
            ["int4multirange", [], "{}"],
            ["nummultirange", [PgTypes.range(null, "0"), PgTypes.range("1", null)], "{(,0),[1,)}"],
            ["datemultirange", [PgTypes.range("2024-01-01", "2024-01-05")], "{[2024-01-01,2024-01-05)}"],
            [
              "tstzmultirange",
              [PgTypes.range<Date | number>(Number.NEGATIVE_INFINITY, new Date(0))],
              "{[-infinity,\"1970-01-01 00:00:00+00\")}"
            ]
          )
        }
        for (const mode of MODES) {
          const session = yield* sessions(mode.options)
          for (const [type, value, text] of cases) {
            // Untyped objects take the server's declared type (cache on); typed ones go anywhere.
            if (mode.name === "cache on") assert.strictEqual(yield* valueOf(session, `$1::${type}::text`, value), text, type)
            assert.strictEqual(
              yield* valueOf(session, `$1::${type}::text`, PgTypes.typedOid(builtinByName.get(type)!.oid, value)),
              text,
              `${mode.name} ${type}`
            )
          }
        }
      }))

    if (major < 14) {
      it.effect("PostgreSQL 13 has no multiranges: a multirange parameter is a server error, not a guess", () =>
        Effect.gen(function*() {
          const session = yield* sessions()
          assertServerError(yield* failureOf(session.query("SELECT $1::int4multirange AS v", [[]])), "42704")
        }))
    }
  })

}
