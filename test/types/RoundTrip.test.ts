/**
 * The value types against real servers, through the session: every value of
 * the captured corpus (test/fixtures/types/pg_values.json), the edge values of
 * issue 5, and an array of every built-in element type go to PostgreSQL 18
 * and PostgreSQL 13 as parameters and come back as results, in both wire
 * formats.
 *
 * The method, for each value (an SQL expression):
 * - the server's own text: `SELECT (<expression>)::text`;
 * - the value decoded from a binary result (statement cache on) and from a text
 *   result (cache off) must be the same JavaScript value;
 * - sent back as a parameter, `SELECT $1::<type>::text` must print the
 *   server's own text: untyped with the cache on (the server declares the
 *   type, the value goes in binary where the codec can), as the codec's text
 *   form with the cache off (OID 0: the server's input function parses it), and
 *   untyped with the cache off (the unnamed statement).
 * The two untyped round trips are the write-back property of issue 15: a value
 * decoded from the server and sent back as it is stays the same value on the
 * server, on the cached and on the unnamed path. The server compares by its own
 * text (`::text`), which is stricter than `=` (it tells `1.50` from `1.5` and
 * `-0` from `0`) and works for the types without an equality operator (json,
 * point, polygon, pg_snapshot...).
 * Values that cannot go back that way are listed below with the reason; the
 * lists are checked (each listed case still fails), and the untyped ones go
 * back typed (`PgTypes`) unless listed again.
 *
 * Then values built in JavaScript (numbers, times, arrays, ranges, composites,
 * extension types), the parameter rules (OID 0 inference, typed parameters,
 * encoding errors before anything is sent) and the session's use of the
 * registry. Known session issues are `it.effect.fails` tests with the cause in a
 * comment: they start failing once the issue is fixed.
 *
 * Not here: byte layouts and the codecs' edge cases without a server
 * (Goldens, Corpus, Properties, Fuzz), and the session's own protocol tests.
 *
 * Each run works in databases of its own, created and dropped here, so the
 * user-defined and extension types it creates meet nobody else's.
 */
import { assert, describe, layer, type Vitest } from "@effect/vitest"
import * as BigDecimal from "effect/BigDecimal"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { existsSync, readFileSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { type CodecError, PgError } from "../../src/errors/PgError.ts"
import * as PgSession from "../../src/session/Session.ts"
import { builtinTypes } from "../../src/types/Oid.ts"
import * as PgTypes from "../../src/types/PgTypes.ts"
import { Registry } from "../../src/types/Registry.ts"
import { PACKAGES } from "../support/EmbeddedPostgres.ts"
import { servers, type ServerInfo } from "../support/Servers.ts"

// ---------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------

interface Case {
  readonly label: string
  /** An SQL expression whose type is the type under test. */
  readonly sql: string
  /** The built-in element type, for the generated array cases. */
  readonly elementOid?: number | undefined
  /** The first major version with this type or value. */
  readonly since?: number | undefined
  /** The extension the type comes from. */
  readonly extension?: string | undefined
}

interface CapturedCase {
  readonly label: string
  readonly sql: string
  readonly oid: number
  readonly binary: string | null
  readonly text: string
}

const fixture = JSON.parse(readFileSync(new URL("../fixtures/types/pg_values.json", import.meta.url), "utf8")) as {
  readonly cases: ReadonlyArray<CapturedCase>
}

const builtinByOid = new Map(builtinTypes.map((t) => [t.oid, t]))
const builtinByName = new Map(builtinTypes.map((t) => [t.name, t]))

const sinceOf = (label: string): number | undefined => {
  if (label.includes("multirange")) return 14
  if (label === "numeric Infinity" || label === "numeric -Infinity") return 14
  // PostgreSQL 13's interval input stops short of the int64 microsecond range.
  if (label === "interval big hours") return 14
  if (label === "interval infinity" || label === "interval -infinity") return 17
  return undefined
}

const extensionOf = (sql: string): string | undefined =>
  ["hstore", "citext", "ltree"].find((e) => sql.includes(`public.${e}`))

/** The 191 captured values. */
const corpusCases: ReadonlyArray<Case> = fixture.cases.map((c) => ({
  label: c.label,
  sql: c.sql,
  elementOid: builtinByOid.has(c.oid) ? c.oid : undefined,
  since: sinceOf(c.label),
  extension: extensionOf(c.sql)
}))

const extra = (label: string, sql: string, type?: string, since?: number): Case => ({
  label,
  sql,
  elementOid: type === undefined ? undefined : builtinByName.get(type)!.oid,
  since,
  extension: extensionOf(sql)
})

/** Values of issue 5's list the corpus does not hold, and element types it lacks. */
const extraCases: ReadonlyArray<Case> = [
  extra("int8 extremes inside json_build_object", "json_build_object('min', (-9223372036854775808)::int8, " +
    "'max', 9223372036854775807::int8, 'big', 9007199254740993::int8, 'neg', (-9007199254740993)::int8)"),
  extra("int8 extremes inside jsonb_build_object", "jsonb_build_object('min', (-9223372036854775808)::int8, " +
    "'max', 9223372036854775807::int8, 'big', 9007199254740993::int8)"),
  extra("float8 Infinity", "'Infinity'::float8"),
  extra("float8 denormal max", "'2.2250738585072009e-308'::float8"),
  extra("numeric 1000 digits negative", "('-0.' || repeat('1', 999))::numeric"),
  extra("numeric huge scale", "'1e-1000'::numeric"),
  extra("timestamp micro before 1970", "'1969-12-31 23:59:59.999999'::timestamp"),
  extra("timestamptz infinity", "'infinity'::timestamptz"),
  extra("timestamptz year 10000", "'10000-01-01 00:00:00+00'::timestamptz"),
  extra("date 1 BC", "'0001-12-31 BC'::date"),
  extra("time max", "'23:59:59.999999'::time"),
  extra("timetz +14", "'23:59:59.999999+14'::timetz"),
  extra("timetz -15:59", "'00:00:00-15:59'::timetz"),
  extra("interval months only", "'3 mons'::interval"),
  extra("interval days only", "'-7 days'::interval"),
  extra("interval all fields negative", "'-1 year -2 mons -3 days -00:00:00.000001'::interval"),
  extra("interval big negative hours", "'-2562047788 hours'::interval", undefined, 14),
  extra("int4[] lower bound 2", "'[2:3]={1,2}'::int4[]"),
  extra("int4[] empty", "'{}'::int4[]"),
  extra("int4[] 3d", "'{{{1,2},{3,4}},{{5,6},{7,NULL}}}'::int4[]"),
  extra("text[] quotes and backslashes",
    "ARRAY['a\"b', 'c\\d', '\\\\', '\"', '', ' lead', 'trail ', 'NULL', 'null', '{}', 'a,b', E'tab\\there', NULL]"),
  extra("text[] 2d with NULL", "'{{a,NULL},{\"b c\",\"\"}}'::text[]"),
  extra("text[] unicode", "ARRAY['héllo', '☃', '𝄞', 'ß']"),
  extra("jsonb[] 2d", "'{{1,2},{3,4}}'::jsonb[]"),
  extra("int4range inclusive", "'[1,5]'::int4range"),
  extra("int8range unbounded above", "'[0,)'::int8range"),
  extra("numrange both inclusive", "'[1.5,2.5]'::numrange"),
  extra("numrange empty", "'empty'::numrange"),
  extra("numrange unbounded", "'(,)'::numrange"),
  extra("tsrange unbounded below", "'(,2020-01-01 00:00:00.000001]'::tsrange"),
  extra("tstzrange infinite both", "'[-infinity,infinity]'::tstzrange"),
  extra("daterange infinity", "'[2024-01-01,infinity)'::daterange"),
  extra("daterange inclusive upper", "'[2024-01-01,2024-01-31]'::daterange"),
  extra("daterange empty", "'empty'::daterange"),
  extra("nummultirange", "'{[1.5,2.5), (3,)}'::nummultirange", "nummultirange", 14),
  extra("int8multirange", "'{(,-1], [10,20)}'::int8multirange", "int8multirange", 14),
  extra("tsmultirange", "'{[2020-01-01,2020-01-02)}'::tsmultirange", "tsmultirange", 14),
  extra("tstzmultirange infinite", "'{[-infinity,2020-01-01 00:00:00+00), [2021-01-01 00:00:00+00,infinity]}'::tstzmultirange",
    "tstzmultirange", 14),
  extra("datemultirange empty", "'{}'::datemultirange", "datemultirange", 14),
  extra("bytea 10000 bytes", "decode(repeat('00ff7f80', 2500), 'hex')"),
  extra("bytea every byte", "(SELECT string_agg(set_byte('\\x00'::bytea, 0, b), ''::bytea ORDER BY b) FROM generate_series(0, 255) b)"),
  extra("jsonb empty containers", "'[[], {}, \"\", 0, -0.5, 1e-7, true]'::jsonb"),
  extra("jsonb unicode and escapes", "'{\"é\": \"\\u00e9\\n\\t\\\\\", \"k\\\"q\": [\"𝄞\"]}'::jsonb"),
  extra("jsonb integer of 40 digits", "'1234567890123456789012345678901234567890'::jsonb"),
  extra("json array", "'[1, \"two\", null, {\"x\": [true]}]'::json"),
  extra("uuid nil", "'00000000-0000-0000-0000-000000000000'::uuid"),
  extra("uuid upper case input", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid"),
  extra("inet any", "'0.0.0.0/0'::inet"),
  extra("cidr6 all", "'::/0'::cidr"),
  extra("macaddr8 from EUI-48", "'08:00:2b:01:02:03'::macaddr8"),
  extra("bit 1", "B'1'::bit(1)"),
  extra("varbit 100 bits", "repeat('10', 50)::varbit"),
  extra("line vertical", "'{1,0,-3}'::line"),
  extra("path single point", "'[(0,0)]'::path"),
  extra("polygon negative", "'((-1,-1),(1e300,-1e-300),(0,NaN))'::polygon"),
  extra("circle zero", "'<(0,0),0>'::circle"),
  extra("box degenerate", "'(1,1),(1,1)'::box"),
  extra("tsvector empty", "''::tsvector"),
  extra("tsvector positions", "'fat:2,4 cat:3 rat:5A,6B,7C'::tsvector"),
  extra("tsquery phrase", "'fat <2> (cat | !rat) & ''it''''s'':*'::tsquery"),
  extra("xml document", "'<?xml version=\"1.0\"?><doc a=\"1\">é &amp; <b/></doc>'::xml"),
  extra("pg_lsn max", "'FFFFFFFF/FFFFFFFF'::pg_lsn"),
  extra("money zero", "0::money"),
  extra("money large", "'92233720368547758.07'::money"),
  extra("char(5)", "'ab'::char(5)"),
  extra("name of 63 bytes", "repeat('n', 63)::name"),
  extra("name truncated", "repeat('é', 40)::name"),
  extra("varchar(3)", "'abc'::varchar(3)"),
  extra("text with every escape", "E'quote\\' backslash\\\\ newline\\n tab\\t bell\\x07 é 𝄞'"),
  extra("regproc", "'now'::regproc", "regproc"),
  extra("regprocedure", "'pg_catalog.abs(int4)'::regprocedure", "regprocedure"),
  extra("regoper", "'pg_catalog.||/'::regoper", "regoper"),
  extra("regoperator", "'pg_catalog.+(int4,int4)'::regoperator", "regoperator"),
  extra("regnamespace", "'pg_catalog'::regnamespace", "regnamespace"),
  extra("regrole", "'postgres'::regrole", "regrole"),
  extra("regconfig", "'pg_catalog.english'::regconfig", "regconfig"),
  extra("regdictionary", "'pg_catalog.simple'::regdictionary", "regdictionary"),
  extra("regcollation", "'pg_catalog.\"C\"'::regcollation", "regcollation"),
  extra("refcursor", "'my_cursor'::refcursor", "refcursor"),
  extra("oid zero", "0::oid"),
  // User-defined types of the scratch database.
  extra("wrapper: nested composite", "row(row(1, 'x y')::public.pair, 'happy', 5, 'lbl', '[1.5,2.5)', " +
    "ARRAY['a', 'b c', NULL], ARRAY[row(2, 'z')::public.pair, NULL])::public.wrapper"),
  extra("wrapper: every field NULL", "row(NULL, NULL, NULL, NULL, NULL, NULL, NULL)::public.wrapper"),
  extra("wrapper[]", "ARRAY[row(row(3, '')::public.pair, 'sad', 1, 'x', 'empty', '{}', '{}')::public.wrapper, NULL]"),
  extra("pair: quotes and commas", "row(-1, 'a,\"b\"\\c ()')::public.pair"),
  extra("pair[] empty", "'{}'::public.pair[]"),
  extra("mood[] with NULL", "ARRAY['happy', NULL]::public.mood[]"),
  extra("label: domain over text", "'a label'::public.label"),
  extra("label[]", "ARRAY['x', 'y z']::public.label[]"),
  extra("posint[] 2d", "'{{1,2},{3,NULL}}'::public.posint[]"),
  extra("floatrange empty", "'empty'::public.floatrange"),
  extra("floatrange unbounded infinite", "'(,Infinity]'::public.floatrange"),
  extra("floatrange[]", "ARRAY['[1,2)'::public.floatrange, 'empty']"),
  extra("hstore unicode, empty and NULL", "'\"é\"=>\"\", \"k\"=>NULL, \"=>\"=>\"\\\\\"'::public.hstore"),
  extra("hstore[]", "ARRAY['a=>1'::public.hstore, NULL]"),
  extra("citext[]", "ARRAY['A', 'b']::public.citext[]"),
  extra("ltree long", "'Top.Science.Astronomy.Cosmology'::public.ltree"),
  extra("ltree empty", "''::public.ltree")
]

/** The exact registry: timestamps as bigint microseconds (Dates would drop them). */
const exactRegistry = Registry.make({ timestamp: "micros" })

/**
 * An array of each built-in element type the cases hold (its first value,
 * twice, in two dimensions with NULLs): every element type with a codec goes
 * through the array codecs too.
 */
const arrayCases: ReadonlyArray<Case> = (() => {
  const seen = new Set<number>()
  const out: Array<Case> = []
  for (const c of [...corpusCases, ...extraCases]) {
    const t = c.elementOid === undefined ? undefined : builtinByOid.get(c.elementOid)
    if (t === undefined || t.array === 0 || t.category === "A" || seen.has(t.oid)) continue
    seen.add(t.oid)
    // A JavaScript array given for an array of a type whose values are arrays (json, polygon,
    // multiranges, records, ...) is one-dimensional (TypeCodec.valuesAreArrays): those get one dimension.
    const flat = exactRegistry.get(t.oid)?.valuesAreArrays === true
    out.push({
      label: `${t.name}[] of ${c.label}`,
      sql: flat ? `ARRAY[(${c.sql}), NULL]` : `ARRAY[[(${c.sql}), NULL], [NULL, (${c.sql})]]`,
      since: c.since,
      extension: c.extension
    })
  }
  return out
})()

// ---------------------------------------------------------------------------
// What cannot go back as it came, and why
// ---------------------------------------------------------------------------

const ANONYMOUS_RECORD = "the server has no input function for anonymous records (0A000), whatever the client sends"
const JSON_ARRAY_STRING =
  "a string element of a json array is that element's literal text (Array.encodeText), so a decoded JSON " +
  "string element (\"s\") goes back as the invalid JSON s, typed or not"
const JSON_NULL = "a JSON null element and an SQL NULL element both decode to null, and null goes back as SQL NULL"
const BIGINT_DECLARED =
  "an untyped bigint is declared int8 (numeric beyond the int8 range), and the server has no cast from that " +
  "to the type: send it typed"
const MICROS_AS_INT8 =
  "the exact timestamp representation is a bigint of microseconds, declared int8 when untyped: send " +
  "PgTypes.timestamp / PgTypes.timestamptz"
const JSON_STRING = "an untyped JavaScript string is the literal text, so a JSON string needs PgTypes.jsonb"
const BIGINT_ELEMENTS =
  "an array of primitives goes as an array literal, and bigint elements (microseconds) as their digits, which " +
  "the timestamp types do not read"
const NESTED_VALUES_ARE_ARRAYS =
  "the elements are themselves JavaScript arrays (TypeCodec.valuesAreArrays), so in the codec's text form a " +
  "nested JavaScript array is one element, not a dimension (a decoded value remembers its dimensions, so it " +
  "goes back whole untyped or typed)"

/** Untyped values that do not come back through the cache-on session (they do typed, unless in `typedFails`). */
const untypedFails: Readonly<Record<string, string>> = {
  "xid8": BIGINT_DECLARED,
  "jsonb string": JSON_STRING,
  "timestamp": MICROS_AS_INT8,
  "timestamp micro": MICROS_AS_INT8,
  "timestamp BC": MICROS_AS_INT8,
  "timestamp max": MICROS_AS_INT8,
  "timestamp min": MICROS_AS_INT8,
  "timestamp year 1": MICROS_AS_INT8,
  "timestamp 1 BC": MICROS_AS_INT8,
  "timestamp micro before 1970": MICROS_AS_INT8,
  "timestamptz": MICROS_AS_INT8,
  "timestamptz micro": MICROS_AS_INT8,
  "timestamptz BC": MICROS_AS_INT8,
  "timestamptz before 1970": MICROS_AS_INT8,
  "timestamptz year 10000": MICROS_AS_INT8,
  "jsonb integer of 40 digits": BIGINT_DECLARED,
  "json[]": JSON_ARRAY_STRING,
  "jsonb[]": JSON_NULL,
  "record": ANONYMOUS_RECORD,
  "record nested": ANONYMOUS_RECORD,
  "record[] of record": ANONYMOUS_RECORD
}

/** Cases that do not come back even typed. */
const typedFails: Readonly<Record<string, string>> = {
  "record[] of record": ANONYMOUS_RECORD,
  "json[]": JSON_ARRAY_STRING,
  "jsonb[]": JSON_NULL,
  "record": ANONYMOUS_RECORD,
  "record nested": ANONYMOUS_RECORD
}

/** Cases whose codec text form does not come back through the server's input function. */
const textFormFails: Readonly<Record<string, string>> = {
  "money": "the money codec has no text form for a bigint of cents (the text depends on lc_monetary)",
  "money negative": "the money codec has no text form for a bigint of cents (the text depends on lc_monetary)",
  "money large": "the money codec has no text form for a bigint of cents (the text depends on lc_monetary)",
  "money zero": "the money codec has no text form for a bigint of cents (the text depends on lc_monetary)",
  "money[] of money": "the money codec has no text form for a bigint of cents (the text depends on lc_monetary)",
  "jsonb[] 2d": NESTED_VALUES_ARE_ARRAYS,
  "record[] of record": ANONYMOUS_RECORD,
  "json[]": JSON_ARRAY_STRING,
  "jsonb[]": JSON_NULL,
  "record": ANONYMOUS_RECORD,
  "record nested": ANONYMOUS_RECORD
}

/**
 * Decoded values that do not come back untyped through the cache-off session (the unnamed statement: the
 * declared type is the value's own, or OID 0 for the server to infer). The same as with the cache on, and the
 * arrays of bigint microseconds.
 */
const inferenceFails: Readonly<Record<string, string>> = {
  ...untypedFails,
  "timestamptz[]": BIGINT_ELEMENTS,
  "timestamp[] of timestamp": BIGINT_ELEMENTS,
  "timestamptz[] of timestamptz": BIGINT_ELEMENTS
}

/** Types whose text result carries less than the binary one (or other JavaScript values). */
const decodeDiffers = (run: CaseRun): string | undefined => {
  if (/^pg_catalog\._?reg/.test(run.type)) return "a reg* type decodes to its OID from binary, to its name from text"
  if (run.type === "pg_catalog.record" || run.type === "pg_catalog._record") {
    return "an anonymous record's text carries no column types: its columns decode as strings"
  }
  return undefined
}

// ---------------------------------------------------------------------------
// The servers and their scratch databases
// ---------------------------------------------------------------------------

/** The extension types the cases use. */
const EXTENSIONS = ["hstore", "citext", "ltree"] as const

/** Whether a server's binaries ship an extension (its control file), known when the tests are collected. */
const shipsExtension = (server: ServerInfo, name: string): boolean => {
  for (let dir = Path.dirname(fileURLToPath(import.meta.url)); ; dir = Path.dirname(dir)) {
    const native = Path.join(dir, "node_modules", PACKAGES[server.kind], "native")
    if (existsSync(native)) return existsSync(Path.join(native, "share", "postgresql", "extension", `${name}.control`))
    if (Path.dirname(dir) === dir) return false
  }
}

interface Target {
  readonly label: string
  readonly server: ServerInfo
  readonly database: string
  /** The corpus run, once per server (memoized). */
  readonly runs: Effect.Effect<ReadonlyMap<string, CaseRun>, PgError>
}

const serverList = (): ReadonlyArray<readonly [string, ServerInfo]> => [
  ["PostgreSQL 18", servers().main],
  ["PostgreSQL 13", servers().pg13]
]

const connectTo = (server: ServerInfo, database: string, options: Partial<PgSession.SessionOptions> = {}) =>
  PgSession.connect({ host: server.host, port: server.port, user: "postgres", database, ...options })

const userTypesSql = [
  "CREATE TYPE public.pair AS (a int4, dropped int4, b text)",
  "ALTER TYPE public.pair DROP ATTRIBUTE dropped",
  "CREATE TYPE public.mood AS ENUM ('sad', 'happy')",
  "CREATE DOMAIN public.posint AS int4 CHECK (VALUE > 0)",
  "CREATE DOMAIN public.label AS text CHECK (VALUE <> '')",
  "CREATE TYPE public.floatrange AS RANGE (subtype = float8)",
  "CREATE TYPE public.wrapper AS (p public.pair, m public.mood, n public.posint, l public.label, " +
  "r public.floatrange, tags text[], ps public.pair[])"
]

const casesFor = (server: ServerInfo): ReadonlyArray<Case> =>
  [...corpusCases, ...extraCases, ...arrayCases].filter((c) =>
    (c.since ?? 0) <= server.majorVersion && (c.extension === undefined || shipsExtension(server, c.extension))
  )

/** Creates a database with the user-defined and extension types; drops it (forcing out sessions) at the end. */
const scratchDatabase = (label: string, server: ServerInfo) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const database = `effect_pgwire_types_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
      yield* Effect.scoped(Effect.flatMap(connectTo(server, "postgres"), (s) => s.simple(`CREATE DATABASE ${database}`)))
      const extensions = EXTENSIONS.filter((name) => shipsExtension(server, name))
      yield* Effect.scoped(Effect.flatMap(
        connectTo(server, database),
        (s) => s.simple([...extensions.map((e) => `CREATE EXTENSION ${e} SCHEMA public`), ...userTypesSql].join(";\n"))
      ))
      const runs = yield* Effect.cached(runCases(server, database, casesFor(server)))
      const target: Target = { label, server, database, runs }
      return target
    }),
    (target) =>
      Effect.scoped(Effect.flatMap(
        connectTo(server, "postgres"),
        (s) => s.simple(`DROP DATABASE IF EXISTS ${target.database} WITH (FORCE)`)
      )).pipe(Effect.ignore)
  )

class Scratch extends Context.Service<Scratch, ReadonlyMap<string, Target>>()("effect-pgwire/test/types/Scratch") {
  static readonly layer = Layer.effect(
    Scratch,
    Effect.gen(function*() {
      const targets = yield* Effect.forEach(
        serverList(),
        ([label, server]) => scratchDatabase(label, server),
        { concurrency: "unbounded" }
      )
      return new Map(targets.map((t) => [t.label, t]))
    }).pipe(Effect.orDie)
  )
}

const targetOf = (label: string) => Effect.map(Scratch, (m) => m.get(label)!)

// ---------------------------------------------------------------------------
// Running the cases
// ---------------------------------------------------------------------------

/** What a round trip printed (`null` for SQL NULL), or the error it failed with. */
type Outcome = { readonly ok: true; readonly text: string | null } | { readonly ok: false; readonly error: string }

interface CaseRun {
  readonly c: Case
  /** The type, schema-qualified (`pg_catalog.int4`), as the cast target. */
  readonly type: string
  readonly oid: number
  readonly serverText: string | null
  readonly fromBinary: unknown
  readonly fromText: unknown
  /** The result formats the binary session asked for (1 where a decoder exists). */
  readonly binaryFormat: 0 | 1
  /** The format the untyped value goes in with the cache on. */
  readonly parameterFormat: 0 | 1
  /** Untyped, cache on. */
  readonly untyped: Outcome
  /** Typed (`PgTypes.typedOid`), cache on. */
  readonly typed: Outcome
  /** The codec's text form as a string, cache off (OID 0). */
  readonly asText: Outcome
  /** Untyped, cache off (the unnamed statement), the value as that session decoded it. */
  readonly inferred: Outcome
}

/**
 * The text to compare for a value expression of type `oid`: its `::text` cast,
 * except json, which keeps its input text verbatim (compared through jsonb), and
 * xml, whose `::text` cast keeps an XML declaration its output function drops.
 */
const textExpression = (expression: string, oid: number): string =>
  oid === PgTypes.Oid.json
    ? `(${expression})::pg_catalog.jsonb::text`
    : oid === PgTypes.Oid._json
    ? `(${expression})::pg_catalog.jsonb[]::text`
    : oid === PgTypes.Oid.xml
    ? `format('%s', ${expression})`
    : `(${expression})::text`

const errorText = (error: PgError): string => `${error.reason._tag}: ${error.message}`

const textOf = (v: unknown): string | null => (v === null ? null : String(v))

const outcome = (effect: Effect.Effect<PgSession.QueryResult, PgError>): Effect.Effect<Outcome> =>
  Effect.match(effect, {
    onFailure: (error): Outcome => ({ ok: false, error: errorText(error) }),
    onSuccess: (result): Outcome => ({ ok: true, text: textOf(result.rows[0]!["t"]) })
  })

/** Runs every case through two sessions of `database` (see the module header); one `CaseRun` per label. */
const runCases = (server: ServerInfo, database: string, cases: ReadonlyArray<Case>) =>
  Effect.scoped(Effect.gen(function*() {
    // Every SQL text below is unique (a comment numbers it): the statement cache keys statements by their
    // text, and the first execution's values declare the parameter types for all later ones.
    const binary = yield* connectTo(server, database, { registry: exactRegistry, statementCacheSize: 8192 })
    // One at a time: the first query of each user type completes the session's registry from pg_type (and
    // concurrent first queries would meet the known lookup race, tested below).
    const values = yield* Effect.forEach(cases, (c, i) =>
      binary.query(
        `SELECT (${c.sql}) AS v, ty.oid AS o, format('%I.%I', n.nspname, ty.typname) AS type ` +
          `FROM pg_catalog.pg_type ty JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace ` +
          `WHERE ty.oid = pg_typeof(${c.sql}) /* value ${i} */`
      ).pipe(Effect.map((r) => ({ row: r.rows[0]!, format: r.fields[0]!.format }))))
    // The text session starts from the registry the binary one completed from pg_type.
    // (With the cache off a session never looks types up: see "with the cache off, user types ..." below.)
    const text = yield* connectTo(server, database, { registry: binary.registry, statementCacheSize: 0 })
    const runs = yield* Effect.forEach(cases, (c, i) =>
      Effect.gen(function*() {
        const { row, format } = values[i]!
        const type = row["type"] as string
        const oid = row["o"] as number
        const serverText = (yield* binary.query(`SELECT ${textExpression(c.sql, oid)} AS t /* server ${i} */`))
          .rows[0]!["t"]
        const fromText = (yield* text.query(`SELECT (${c.sql}) AS v /* text ${i} */`)).rows[0]!["v"]
        const v = row["v"]
        const back = `SELECT ${textExpression(`$1::${type}`, oid)} AS t`
        const codec = binary.registry.get(oid)
        const literal = Effect.try({
          try: () => codec!.encodeText(v),
          catch: (e) => new PgError({ reason: e as CodecError })
        })
        const run: CaseRun = {
          c,
          type,
          oid,
          serverText: textOf(serverText),
          fromBinary: v,
          fromText,
          binaryFormat: format,
          parameterFormat: binary.registry.parameterFormat(v, oid),
          untyped: yield* outcome(binary.query(`${back} /* untyped ${i} */`, [v])),
          typed: yield* outcome(binary.query(`${back} /* typed ${i} */`, [PgTypes.typedOid(oid, v)])),
          asText: yield* outcome(Effect.flatMap(literal, (l) => text.query(`${back} /* as text ${i} */`, [l]))),
          inferred: yield* outcome(text.query(`${back} /* inferred ${i} */`, [fromText]))
        }
        return run
      }), { concurrency: "unbounded" })
    return new Map(runs.map((r) => [r.c.label, r]))
  }))

const show = (v: unknown): string =>
  JSON.stringify(v, (_, x) =>
    typeof x === "bigint"
      ? `${x}n`
      : x instanceof Uint8Array
      ? `bytes:${Buffer.from(x).toString("hex")}`
      : typeof x === "number" && !Number.isFinite(x)
      ? String(x)
      : Object.is(x, -0)
      ? "-0"
      : x)

/** The round trip printed the server's own text. */
const assertPrints = (o: Outcome, run: CaseRun, what: string): void => {
  assert.isTrue(o.ok, `${what}: ${o.ok ? "" : o.error}`)
  if (o.ok) assert.strictEqual(o.text, run.serverText, what)
}

/** The round trip is listed as failing: check that it still does (or the list is stale). */
const assertStillFails = (o: Outcome, run: CaseRun, what: string, reason: string): void => {
  assert.isFalse(o.ok && o.text === run.serverText, `${what} is listed as not coming back (${reason}) but it does`)
}

// ---------------------------------------------------------------------------
// Targeted tests: values built in JavaScript, parameter rules, session behaviour
// ---------------------------------------------------------------------------

type It = Vitest.MethodsNonLive<Scratch>

/** The two statement-cache modes: prepared (server-declared types, binary) and unnamed (OID 0, text results). */
const MODES = [
  { name: "cache on", options: {} },
  { name: "cache off", options: { statementCacheSize: 0 } }
] as const

let tableCounter = 0
/** A table name unique in the run (the scratch database goes away with everything in it). */
const tableName = (): string => `t_${process.pid}_${++tableCounter}`

/** Fails the test unless the effect fails; returns the error's reason. */
const failureOf = <A>(effect: Effect.Effect<A, PgError>) => Effect.map(Effect.flip(effect), (error) => error.reason)

const assertServerError = (reason: PgError["reason"], code: string): void => {
  assert.strictEqual(reason._tag, "ServerError", reason.message)
  if (reason._tag === "ServerError") assert.strictEqual(reason.code, code, reason.message)
}

/** `SELECT <expression> AS v` with one parameter: the decoded value. */
const valueOf = (session: PgSession.Session, expression: string, param: unknown) =>
  Effect.map(session.query(`SELECT ${expression} AS v`, [param]), (r) => r.rows[0]!["v"])

const targetedTests = (it: It, label: string, server: ServerInfo): void => {
  const major = server.majorVersion
  const sessions = (options: Partial<PgSession.SessionOptions> = {}) =>
    Effect.flatMap(targetOf(label), (t) => connectTo(t.server, t.database, options))

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

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

layer(Scratch.layer, { excludeTestServices: true, timeout: 120_000 })("value types through the session", (it) => {
  for (const [label, server] of serverList()) {
    describe(label, () => {
      const runsOf = Effect.flatMap(targetOf(label), (t) => t.runs)

      describe("every value: binary/text agreement and round trips", () => {
        for (const c of [...corpusCases, ...extraCases, ...arrayCases]) {
          if ((c.since ?? 0) > server.majorVersion) {
            it.effect.skip(`${c.label}: not in PostgreSQL ${server.majorVersion} (since ${c.since})`, () => Effect.void)
            continue
          }
          if (c.extension !== undefined && !shipsExtension(server, c.extension)) {
            it.effect.skip(`${c.label}: the ${c.extension} extension is absent from these binaries`, () => Effect.void)
            continue
          }
          it.effect(c.label, () =>
            Effect.gen(function*() {
              const run = (yield* runsOf).get(c.label)!
              // 1. The binary and the text result decode to the same value.
              const differs = decodeDiffers(run)
              if (differs === undefined) {
                assert.strictEqual(show(run.fromBinary), show(run.fromText), "binary and text decodings")
                assert.deepStrictEqual(run.fromBinary, run.fromText)
              } else {
                assert.notStrictEqual(show(run.fromBinary), show(run.fromText), differs)
              }
              // 2. Untyped, statement cache on (the server declares the type).
              const untypedReason = untypedFails[c.label]
              if (untypedReason === undefined) assertPrints(run.untyped, run, "untyped, cache on")
              else assertStillFails(run.untyped, run, "untyped, cache on", untypedReason)
              // 3. Typed.
              const typedReason = typedFails[c.label]
              if (typedReason === undefined) assertPrints(run.typed, run, "typed, cache on")
              else assertStillFails(run.typed, run, "typed, cache on", typedReason)
              // 4. The codec's text form, parsed by the server's input function.
              const textReason = textFormFails[c.label]
              if (textReason === undefined) assertPrints(run.asText, run, "text form, cache off")
              else assertStillFails(run.asText, run, "text form, cache off", textReason)
              // 5. Untyped with the cache off: the value's remembered type, the type the parameter rules
              // declare, or OID 0 text.
              const inferenceReason = inferenceFails[c.label]
              if (inferenceReason === undefined) assertPrints(run.inferred, run, "untyped, cache off")
              else assertStillFails(run.inferred, run, "untyped, cache off", inferenceReason)
            }))
        }
      })

      // The write-back property of issue 15 in one place: what fails is exactly what the lists name.
      it.effect("write-back: every decoded value sent back untyped is the same value, cache on and off, but the listed", () =>
        Effect.gen(function*() {
          const runs = [...(yield* runsOf).values()]
          const differs = (o: Outcome, run: CaseRun) => !(o.ok && o.text === run.serverText)
          const failing = (path: "untyped" | "inferred") => runs.filter((r) => differs(r[path], r)).map((r) => r.c.label)
          const listed = (list: Readonly<Record<string, string>>) =>
            runs.map((r) => r.c.label).filter((label) => list[label] !== undefined)
          assert.deepStrictEqual(failing("untyped"), listed(untypedFails), "cache on")
          assert.deepStrictEqual(failing("inferred"), listed(inferenceFails), "cache off")
          assert.isAtLeast(runs.length, 300)
        }))

      targetedTests(it, label, server)
    })
  }

  it.effect("the generated array cases cover every built-in element type that has a codec and an input", () =>
    Effect.sync(() => {
      const covered = new Set(arrayCases.map((c) => c.label.slice(0, c.label.indexOf("[]"))))
      const missing = builtinTypes
        .filter((t) => t.array !== 0 && t.type !== "p" && t.category !== "A" && exactRegistry.has(t.oid))
        .map((t) => t.name)
        .filter((name) => !covered.has(name))
      // gtsvector is an index-internal type without an input function.
      assert.deepStrictEqual(missing, ["gtsvector"])
    }))
})
