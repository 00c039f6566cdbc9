/**
 * Round-trip tests of user-defined and extension types, the parameter rules
 * (OID 0 inference, typed parameters, encoding errors before anything is
 * sent) and the other families, money among them (registered by
 * RoundTrip.test.ts once per server).
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { PgError } from "../../src/errors/PgError.ts"
import * as PgTypes from "../../src/types/PgTypes.ts"
import { Registry } from "../../src/types/Registry.ts"
import { type ServerInfo } from "../support/Servers.ts"
import { builtinByName } from "./RoundTripCases.ts"
import {
  EXTENSIONS,
  shipsExtension,
  Scratch,
  targetOf,
  type It,
  MODES,
  tableName,
  failureOf,
  assertServerError,
  sessionsOf,
  valueOf
} from "./RoundTripScratch.ts"

export const parameterTests = (it: It, label: string, server: ServerInfo): void => {
  const sessions = sessionsOf(label)

  describe("records, composites, enums, domains and a user range (through pg_type)", () => {
    it.effect("JavaScript objects, strings and ranges go in as user-defined types and come back equal", () =>
      Effect.gen(function*() {
        const session = yield* sessions()
        const wrapper = {
          p: { a: 1, b: "x, \"y\" (z)" },
          m: "happy",
          n: 5,
          l: "lbl",
          r: PgTypes.range(1.5, Number.POSITIVE_INFINITY, "[]"),
          tags: ["a", null, "b c"],
          ps: [{ a: 2, b: null }, null]
        }
        const cases: ReadonlyArray<readonly [string, unknown]> = [
          ["public.pair", { a: 1, b: "x y" }],
          ["public.pair", { a: null, b: "" }],
          ["public.pair[]", [{ a: 1, b: "a" }, null]],
          ["public.mood", "happy"],
          ["public.mood[]", ["sad", null, "happy"]],
          ["public.posint", 5],
          ["public.posint[]", [[1, 2], [3, null]]],
          ["public.label", "a label"],
          ["public.floatrange", PgTypes.range(1.5, 2.5)],
          ["public.floatrange", PgTypes.emptyRange],
          ["public.wrapper", wrapper],
          ["public.wrapper", { p: null, m: null, n: null, l: null, r: null, tags: null, ps: null }]
        ]
        for (const [type, value] of cases) {
          assert.deepStrictEqual(yield* valueOf(session, `$1::${type}`, value), value, type)
        }
        // Anonymous records decode positionally, nested ones too.
        const { rows } = yield* session.query("SELECT row(1, 'a', NULL) AS r, row(1, row(2.5::float8, 'x'), ARRAY[1, 2]) AS n")
        assert.deepStrictEqual(rows[0], { r: [1, "a", null], n: [1, [2.5, "x"], [1, 2]] })
        // Domains check their constraints on the server: 23514 check_violation, never a silent value.
        assertServerError(yield* failureOf(valueOf(session, "$1::public.posint", 0)), "23514")
        assertServerError(yield* failureOf(valueOf(session, "$1::public.label", "")), "23514")
        assertServerError(yield* failureOf(valueOf(session, "$1::public.mood", "angry")), "22P02")
      }))

    it.effect("a named typed parameter resolves its type by name, even where nothing else names it", () =>
      Effect.gen(function*() {
        const session = yield* sessions()
        assert.strictEqual(
          yield* valueOf(session, "$1::public.pair::text", PgTypes.typedAs("pair", { a: 1, b: "x" })),
          "(1,x)"
        )
        // The session resolves the name (to_regtype) and looks the type up before Parse.
        assert.strictEqual(yield* valueOf(session, "$1", PgTypes.typedAs("mood", "sad")), "sad")
        assert.strictEqual(yield* valueOf(session, "pg_typeof($1)::text", PgTypes.typedAs("mood", "sad")), "mood")
        // A name the server does not know is a CodecError naming the parameter, before anything is sent.
        const reason = yield* failureOf(valueOf(session, "$1", PgTypes.typedAs("no_such_type_here", "x")))
        assert.strictEqual(reason._tag, "CodecError")
        if (reason._tag === "CodecError") assert.strictEqual(reason.parameter, 1)
      }))

    it.effect("with the cache off, user types are looked up too and decode the same", () =>
      Effect.gen(function*() {
        const off = yield* sessions({ statementCacheSize: 0 })
        assert.deepStrictEqual(yield* valueOf(off, "row($1::int4, 'x y')::public.pair", 1), { a: 1, b: "x y" })
        assert.strictEqual(
          yield* valueOf(off, "$1::public.pair::text", PgTypes.typedAs("pair", { a: 1, b: "x" })),
          "(1,x)"
        )
      }))

    // Concurrent first uses of a type wait for the same pg_type lookup (Session.ts Engine.ensureTypes).
    it.effect("concurrent first queries of a user type all decode it", () =>
      Effect.gen(function*() {
        const session = yield* sessions()
        const values = yield* Effect.forEach(
          [1, 2, 3, 4],
          (i) => valueOf(session, `row($1::int4, 'x')::public.pair /* ${i} */`, i),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(values, [1, 2, 3, 4].map((a) => ({ a, b: "x" })))
      }))
  })

  describe("extension types", () => {
    it.effect("pg_available_extensions lists exactly the extensions these binaries ship", () =>
      Effect.gen(function*() {
        const session = yield* sessions()
        const { rows } = yield* session.query<{ name: string }>(
          "SELECT name FROM pg_available_extensions WHERE name = ANY($1::text[]) ORDER BY name",
          [[...EXTENSIONS]]
        )
        assert.deepStrictEqual(
          rows.map((r) => r.name),
          EXTENSIONS.filter((e) => shipsExtension(server, e)).sort()
        )
      }))

    const extensionTests: ReadonlyArray<readonly [string, string, Effect.Effect<void, PgError, Scratch | Scope.Scope>]> = [
      ["hstore", "an object of strings and NULLs goes in and comes back equal", Effect.gen(function*() {
        const session = yield* sessions()
        const value = { "a": "1", "b": null, "é k": "x\"y\\z", "": "" }
        assert.deepStrictEqual(yield* valueOf(session, "$1::public.hstore", value), value)
        assert.strictEqual(yield* valueOf(session, "$1::public.hstore -> 'é k'", value), "x\"y\\z")
        assert.deepStrictEqual(yield* valueOf(session, "$1::public.hstore", {}), {})
      })],
      ["citext", "a string goes in and compares case-insensitively", Effect.gen(function*() {
        const session = yield* sessions()
        assert.strictEqual(yield* valueOf(session, "$1::public.citext", "MiXeD"), "MiXeD")
        assert.strictEqual(yield* valueOf(session, "$1::public.citext = 'mixed'", "MiXeD"), true)
        assert.deepStrictEqual(yield* valueOf(session, "$1::public.citext[]", ["A", null]), ["A", null])
      })],
      ["ltree", "a label path goes in and its operators see it", Effect.gen(function*() {
        const session = yield* sessions()
        assert.strictEqual(yield* valueOf(session, "$1::public.ltree", "Top.Science"), "Top.Science")
        assert.strictEqual(yield* valueOf(session, "$1::public.ltree @> 'Top.Science.Astronomy'", "Top.Science"), true)
      })]
    ]
    for (const [name, behaviour, body] of extensionTests) {
      if (shipsExtension(server, name)) it.effect(`${name}: ${behaviour}`, () => body)
      else it.effect.skip(`${name}: absent from these binaries (no contrib), so not tested`, () => Effect.void)
    }
  })

  describe("parameters without a declared type (OID 0) and typed parameters", () => {
    it.effect("untyped values in typical contexts: insert ... values ($1) and where x = $1", () =>
      Effect.gen(function*() {
        const columns: ReadonlyArray<readonly [string, string, unknown]> = [
          ["i", "int4", 5],
          ["b", "int8", 9007199254740993n],
          ["n", "numeric", "1.50"],
          ["f", "float8", 2.5],
          ["s", "text", "it's \"quoted\""],
          ["ok", "bool", true],
          ["j", "jsonb", { a: [1, { b: null }], big: 9007199254740993n }],
          ["js", "json", { k: "v" }],
          ["ia", "int4[]", [1, null, 3]],
          ["ta", "text[]", ["a", "b c"]],
          ["by", "bytea", new Uint8Array([0, 1, 255])],
          ["ts", "timestamptz", new Date(Date.UTC(2024, 4, 31, 16, 8, 37, 123))],
          ["d", "date", "2024-02-29"],
          ["u", "uuid", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"]
        ]
        for (const mode of MODES) {
          const table = tableName()
          const session = yield* sessions(mode.options)
          yield* session.simple(`CREATE TABLE ${table} (${columns.map(([c, t]) => `${c} ${t}`).join(", ")})`)
          const inserted = yield* session.query(
            `INSERT INTO ${table} VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})`,
            columns.map(([, , v]) => v)
          )
          assert.strictEqual(inserted.rowCount, 1)
          const row = (yield* session.query(`SELECT * FROM ${table}`)).rows[0]!
          for (const [c, , v] of columns) assert.deepStrictEqual(row[c], v, `${mode.name}: ${c}`)
          for (const [c, t, v] of columns) {
            if (t === "json") continue // json has no equality operator
            const found = yield* session.query(`SELECT count(*)::int4 AS n FROM ${table} WHERE ${c} = $1`, [v])
            assert.strictEqual(found.rows[0]!["n"], 1, `${mode.name}: where ${c} = $1`)
          }
        }
      }))

    it.effect("a polymorphic context cannot infer a type (42P18); a typed parameter fixes it", () =>
      Effect.gen(function*() {
        for (const mode of MODES) {
          const session = yield* sessions(mode.options)
          assertServerError(yield* failureOf(valueOf(session, "jsonb_build_object('k', $1)", "x")), "42P18")
          assert.deepStrictEqual(yield* valueOf(session, "jsonb_build_object('k', $1)", PgTypes.text("x")), { k: "x" })
          assert.deepStrictEqual(
            yield* valueOf(session, "jsonb_build_object('n', $1)", PgTypes.int8(2n ** 60n)),
            { n: 2n ** 60n }
          )
          assert.strictEqual(yield* valueOf(session, "array_length($1, 1)", PgTypes.array("int4", [1, 2, 3])), 3)
          assert.strictEqual(yield* valueOf(session, "$1 IS NULL", PgTypes.int4(null)), true)
          // One SQL text per type: the statement cache keys statements by their text (see the known issue below).
          assert.strictEqual(yield* valueOf(session, "pg_typeof($1)::text /* 1 */", PgTypes.jsonb({})), "jsonb")
          assert.strictEqual(yield* valueOf(session, "pg_typeof($1)::text /* 2 */", PgTypes.array("text", ["a"])), "text[]")
          assert.strictEqual(
            yield* valueOf(session, "pg_typeof($1)::text /* 3 */", PgTypes.int4range(PgTypes.emptyRange)),
            "int4range"
          )
          const { rows } = yield* session.query("SELECT coalesce($1, $2) AS v", [PgTypes.int8(null), 7n])
          assert.strictEqual(rows[0]!["v"], 7n)
          assert.deepStrictEqual(yield* valueOf(session, "$1", PgTypes.jsonb("a string")), "a string")
        }
      }))

    // The statement cache key includes the declared parameter types (Session.ts statementKey).
    it.effect("a typed parameter keeps its type when the same SQL ran before with another type", () =>
      Effect.gen(function*() {
        const session = yield* sessions()
        assert.deepStrictEqual(yield* valueOf(session, "jsonb_build_object('k', $1)", PgTypes.text("x")), { k: "x" })
        assert.deepStrictEqual(yield* valueOf(session, "jsonb_build_object('k', $1)", PgTypes.int8(5n)), { k: 5 })
        assert.strictEqual(yield* valueOf(session, "pg_typeof($1)::text", PgTypes.jsonb({})), "jsonb")
        assert.strictEqual(yield* valueOf(session, "pg_typeof($1)::text", PgTypes.array("text", ["a"])), "text[]")
      }))

    it.effect("a typed parameter where the server declared another type goes as text for the server to convert", () =>
      Effect.gen(function*() {
        const session = yield* sessions()
        // A prepared statement whose parameter the server declared int4.
        const prepared = yield* session.prepare("SELECT $1 + 1 AS v", [PgTypes.Oid.int4])
        assert.deepStrictEqual(prepared.parameterTypes, [PgTypes.Oid.int4])
        assert.deepStrictEqual((yield* prepared.execute([PgTypes.int8(41n)])).rows, [{ v: 42 }])
        // A value the declared type cannot hold is the server's error, never a rounded number.
        assertServerError(yield* failureOf(prepared.execute([PgTypes.numeric("1.5")])), "22P02")
        // The statement cache keys statements by their declared parameter types: an untyped value lets the
        // server declare int4, while a typed float8 gets a statement of its own that declares float8, so the
        // SQL cast applies to a float8 (and rounds, as PostgreSQL's float8 -> int4 cast does).
        assert.strictEqual(yield* valueOf(session, "$1::int4 + 0", 1), 1)
        assert.strictEqual(yield* valueOf(session, "$1::int4 + 0", PgTypes.float8(2)), 2)
        assert.strictEqual(yield* valueOf(session, "$1::int4 + 0", PgTypes.float8(2.5)), 2)
      }))

    it.effect("a value that cannot be encoded is a CodecError naming the parameter, and nothing is sent", () =>
      Effect.gen(function*() {
        for (const mode of MODES) {
          const table = tableName()
          const lines: Array<string> = []
          const session = yield* sessions({ ...mode.options, trace: (line) => lines.push(line) })
          yield* session.simple(`CREATE TABLE ${table} (i int4, s text)`)
          const insert = `INSERT INTO ${table} VALUES ($1, $2)`
          const bad: ReadonlyArray<readonly [ReadonlyArray<unknown>, number]> = [
            [[PgTypes.int4(2 ** 40), "a"], 1],
            [[1, "a\u0000b"], 2],
            [[1, "lone \ud800 surrogate"], 2],
            [[1, new Map([["k", "v"]])], 2],
            [[1, Symbol("s")], 2],
            ...(mode.name === "cache on" ? [[[2 ** 31, "a"], 1] as const] : [])
          ]
          for (const [params, index] of bad) {
            const before = lines.length
            const reason = yield* failureOf(session.query(insert, params))
            assert.strictEqual(reason._tag, "CodecError", `${mode.name}: ${reason.message}`)
            if (reason._tag === "CodecError") assert.strictEqual(reason.parameter, index, reason.message)
            assert.include(reason.message, `$${index}`)
            // Neither Bind nor Execute left for it (with the cache on, the Parse of the first try did).
            const sent = lines.slice(before).filter((l) => l.startsWith("F\t"))
            assert.deepStrictEqual(sent.filter((l) => /\t(Bind|Execute)\t/.test(l)), [], `${mode.name}: $${index}`)
          }
          // The session is still usable and the server never saw a row.
          assert.deepStrictEqual((yield* session.query(`SELECT count(*)::int4 AS n FROM ${table}`)).rows, [{ n: 0 }])
          yield* session.query(insert, [1, "ok"])
          assert.deepStrictEqual((yield* session.query(`SELECT i, s FROM ${table}`)).rows, [{ i: 1, s: "ok" }])
        }
      }))

    it.effect("with the cache on, values go in binary wherever their codec can, and results come in binary", () =>
      Effect.gen(function*() {
        const runs = [...(yield* Effect.flatMap(targetOf(label), (t) => t.runs)).values()]
        // A string is the literal text of the value (rule 3), so values holding strings (numeric, date, inet,
        // ...) go as text; the anonymous record has no input at all. Everything else goes in binary.
        const containsString = (v: unknown): boolean =>
          typeof v === "string" || (typeof v === "object" && v !== null && Object.values(v).some(containsString))
        for (const r of runs) {
          if (r.parameterFormat === 1) continue
          const record = r.type === "pg_catalog.record" || r.type === "pg_catalog._record"
          assert.isTrue(containsString(r.fromBinary) || record, r.c.label)
        }
        assert.isAtLeast(runs.filter((r) => r.parameterFormat === 1).length, 180)
        // Only the types without a binary decoder (tsquery, aclitem) come back as text.
        const textResults = new Set(runs.filter((r) => r.binaryFormat === 0).map((r) => r.type))
        assert.deepStrictEqual(
          [...textResults].sort(),
          ["pg_catalog._aclitem", "pg_catalog._tsquery", "pg_catalog.aclitem", "pg_catalog.tsquery"]
        )
        const lines: Array<string> = []
        const session = yield* sessions({ trace: (line) => lines.push(line) })
        yield* session.query("SELECT $1::int8 AS a, $2::float8 AS b, $3::jsonb AS c, $4::int4[] AS d", [
          1n,
          0.5,
          { a: 1 },
          [1, 2]
        ])
        const bind = lines.find((l) => l.startsWith("F\t") && l.includes("\tBind\t"))!
        // One format code for all four parameters: 1 (binary); and binary results for all four columns.
        assert.match(bind, /^F\t\d+\tBind\t "" "s\d+" 1 1 4 /)
        assert.match(bind, / 4 1 1 1 1$| 1 1$/)
        assert.include(bind, "'\\x01{\"a\":1}'")
      }))
  })

  describe("other families", () => {
    it.effect("bytea: the same bytes from binary, hex text and escape text, as plain Uint8Array copies", () =>
      Effect.gen(function*() {
        const every = new Uint8Array(256).map((_, i) => i)
        const on = yield* sessions()
        const hex = yield* sessions({ statementCacheSize: 0 })
        const escape = yield* sessions({ statementCacheSize: 0, parameters: { bytea_output: "escape" } })
        for (const session of [on, hex, escape]) {
          const v = (yield* valueOf(session, "$1::bytea", every)) as Uint8Array
          assert.deepStrictEqual(v, every)
          // A copy of its own, not a Buffer view pinning the socket chunk.
          assert.isFalse(Buffer.isBuffer(v))
          assert.strictEqual(v.buffer.byteLength, 256)
        }
        assert.strictEqual(
          yield* valueOf(escape, "encode($1::bytea, 'escape')", new Uint8Array([0x61, 0x5c, 0x00, 0xff])),
          "a\\\\\\000\\377"
        )
      }))

    it.effect("jsonb goes in binary with its version byte, as the server's own jsonb_send", () =>
      Effect.gen(function*() {
        const session = yield* sessions()
        const value = { a: [1, "é"], b: null }
        const encoded = session.registry.encodeParameter(PgTypes.jsonb(value), PgTypes.Oid.jsonb)
        assert.strictEqual(encoded.format, 1)
        assert.strictEqual(encoded.bytes![0], 1)
        const sent = (yield* valueOf(session, "jsonb_send($1::jsonb)", PgTypes.jsonb(value))) as Uint8Array
        assert.strictEqual(sent[0], 1)
        assert.deepStrictEqual(yield* valueOf(session, "$1::jsonb", PgTypes.jsonb(value)), value)
        assert.deepStrictEqual(yield* valueOf(session, "jsonb_send($1::jsonb)", PgTypes.jsonb(value)), sent)
      }))

    it.effect("live values (the server's current WAL position and snapshots) come back as they went", () =>
      Effect.gen(function*() {
        for (const mode of MODES) {
          const session = yield* sessions(mode.options)
          for (const [expression, type] of [
            ["pg_current_wal_lsn()", "pg_lsn"],
            ["txid_current_snapshot()", "txid_snapshot"],
            ["pg_current_snapshot()", "pg_snapshot"]
          ] as const) {
            // The value and its text from one query: they change from one query to the next.
            const { rows } = yield* session.query(`SELECT x AS v, x::text AS t FROM (SELECT ${expression} AS x) s`)
            const { v, t } = rows[0]!
            assert.strictEqual(yield* valueOf(session, `$1::${type}::text`, PgTypes.typedOid(
              builtinByName.get(type)!.oid,
              v
            )), t, `${mode.name} ${type}`)
          }
        }
      }))

    // Issue 15: a decoded amount written back used to be a bare bigint, declared int8, which the server's
    // int8 -> money cast reads as whole units ($12.34 came back as $1,234.00, the minimum as "out of range").
    it.effect("money: a decoded amount goes back as the same count of cents, cache on and off, extremes too", () =>
      Effect.gen(function*() {
        const amounts = ["12.34", "-92233720368547758.08", "92233720368547758.07", "0", "-0.01"]
        for (const mode of MODES) {
          const source = tableName()
          const copy = tableName()
          const session = yield* sessions(mode.options)
          yield* session.simple(
            `CREATE TABLE ${source} (k int4, m money); CREATE TABLE ${copy} (k int4, m money, ms money[]);` +
              `INSERT INTO ${source} VALUES ${amounts.map((a, i) => `(${i}, '${a}')`).join(", ")}`
          )
          const { rows } = yield* session.query(`SELECT k, m FROM ${source} ORDER BY k`)
          assert.deepStrictEqual(rows[0]!["m"], PgTypes.money(1234n), mode.name)
          assert.deepStrictEqual(rows[1]!["m"], PgTypes.money(-(2n ** 63n)), mode.name)
          const all = rows.map((r) => r["m"])
          for (const row of rows) {
            yield* session.query(`INSERT INTO ${copy} VALUES ($1, $2, $3)`, [row["k"], row["m"], all])
          }
          const same = yield* session.query(
            `SELECT count(*)::int4 AS n FROM ${source} s JOIN ${copy} c USING (k) ` +
              `WHERE s.m = c.m AND c.ms = (SELECT array_agg(m ORDER BY k) FROM ${source})`
          )
          assert.deepStrictEqual(same.rows, [{ n: amounts.length }], mode.name)
          assert.strictEqual(yield* valueOf(session, "$1::money::text", rows[0]!["m"]), "$12.34", mode.name)
          assert.strictEqual(yield* valueOf(session, "$1::money::text", PgTypes.money(1234567n)), "$12,345.67")
          assert.strictEqual(yield* valueOf(session, "$1::money::text", "12345.67"), "$12,345.67")
        }
        // The bare count (money: "bigint") keeps the hazard: untyped, it is an int8 the cast reads as whole units.
        const bare = yield* sessions({ registry: Registry.make({ money: "bigint" }) })
        const count = (yield* bare.query("SELECT '12.34'::money AS v")).rows[0]!["v"]
        assert.strictEqual(count, 1234n)
        assert.strictEqual(yield* valueOf(bare, "$1::money::text /* bare */", count), "$1,234.00")
        assert.strictEqual(yield* valueOf(bare, "$1::money::text /* typed */", PgTypes.money(count as bigint)), "$12.34")
      }))
  })
}
