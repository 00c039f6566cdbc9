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
 *   untyped with the cache off for the values the parameter rules infer.
 * Values that cannot go back that way are listed below with the reason, the
 * list is checked (each still fails), and each goes back typed (`PgTypes`).
 *
 * Each run works in databases of its own, created and dropped here, so the
 * user-defined and extension types it creates meet nobody else's.
 */
import { assert, describe, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { existsSync, readFileSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { type CodecError, PgError } from "../../src/errors/PgError.ts"
import * as PgSession from "../../src/session/Session.ts"
import * as ArrayCodec from "../../src/types/Array.ts"
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
  extra("pg_lsn live", "pg_current_wal_lsn()"),
  extra("txid_snapshot live", "txid_current_snapshot()"),
  extra("pg_snapshot live", "pg_current_snapshot()"),
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
const MONEY_AS_INT8 =
  "money decodes to a bigint of cents; an untyped bigint is declared int8 and the server's int8 -> money cast " +
  "reads whole units, 100 times the amount (no error!): send PgTypes.money"
const MICROS_AS_INT8 =
  "the exact timestamp representation is a bigint of microseconds, declared int8 when untyped: send " +
  "PgTypes.timestamp / PgTypes.timestamptz"
const JSON_STRING = "an untyped JavaScript string is the literal text, so a JSON string needs PgTypes.jsonb"
const NESTED_VALUES_ARE_ARRAYS =
  "the elements are themselves JavaScript arrays (TypeCodec.valuesAreArrays), so a nested JavaScript array is " +
  "one element, not a dimension: a multi-dimensional array of json, polygons, multiranges or records goes back " +
  "one-dimensional"
const BIGINT_ELEMENTS = "bigint elements go as their digits in an array literal, which the element type does not read"

/** Untyped values that do not come back through the cache-on session (they do typed, unless `typedToo`). */
const untypedFails: Readonly<Record<string, string>> = {
  "xid8": BIGINT_DECLARED,
  "money": MONEY_AS_INT8,
  "money negative": MONEY_AS_INT8,
  "money large": MONEY_AS_INT8,
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
  "jsonb[] 2d": NESTED_VALUES_ARE_ARRAYS,
  "json[]": JSON_ARRAY_STRING,
  "jsonb[]": JSON_NULL,
  "record": ANONYMOUS_RECORD,
  "record nested": ANONYMOUS_RECORD,
  "record[] of record": ANONYMOUS_RECORD
}

/** Cases that do not come back even typed. */
const typedFails: Readonly<Record<string, string>> = {
  "jsonb[] 2d": NESTED_VALUES_ARE_ARRAYS,
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

/** Untyped values the cache-off session sends with OID 0 (or a declared OID) that the server does not read back. */
const inferenceFails: Readonly<Record<string, string>> = {
  // An array of numbers goes as an array literal, which jsonb[] reads element by element.
  ...Object.fromEntries(Object.entries(untypedFails).filter(([label]) => label !== "jsonb[] 2d")),
  "int2vector": "an array goes as an array literal ({1,2,3}); int2vector's input is space-separated",
  "oidvector": "an array goes as an array literal; oidvector's input is space-separated",
  "timestamptz[]": BIGINT_ELEMENTS,
  "timestamp[] of timestamp": BIGINT_ELEMENTS,
  "timestamptz[] of timestamptz": BIGINT_ELEMENTS,
  "money[] of money": BIGINT_ELEMENTS
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
      const partial = { label, server, database }
      const runs = yield* Effect.cached(runCases({ ...partial, runs: Effect.die("unused") }, casesFor(server)))
      const target: Target = { ...partial, runs }
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
  /** Untyped, cache off, for the values the parameter rules infer. */
  readonly inferred: Outcome | undefined
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

/** Values the parameter rules send without a type of their own: primitives, Dates, bytes, and arrays of them. */
const inferable = (v: unknown): boolean =>
  v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean" ||
  typeof v === "bigint" || v instanceof Date || v instanceof Uint8Array ||
  (Array.isArray(v) && v.every(inferable)) ||
  (ArrayCodec.isBoundedArray(v) && inferable(v.elements))


const runCases = (t: Target, cases: ReadonlyArray<Case>) =>
  Effect.scoped(Effect.gen(function*() {
    const binary = yield* connectTo(t.server, t.database, { registry: exactRegistry, statementCacheSize: 8192 })
    // One at a time: the first query of each user type completes the session's registry from pg_type.
    const values = yield* Effect.forEach(cases, (c, i) =>
      binary.query(
        `SELECT (${c.sql}) AS v, ty.oid AS o, format('%I.%I', n.nspname, ty.typname) AS type ` +
          `FROM pg_catalog.pg_type ty JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace ` +
          `WHERE ty.oid = pg_typeof(${c.sql}) /* value ${i} */`
      ).pipe(Effect.map((r) => ({ row: r.rows[0]!, format: r.fields[0]!.format }))))
    // The text session starts from the registry the binary one completed from pg_type.
    const text = yield* connectTo(t.server, t.database, { registry: binary.registry, statementCacheSize: 0 })
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
          inferred: inferable(v) || oid === PgTypes.Oid.json || oid === PgTypes.Oid.jsonb
            ? yield* outcome(text.query(`${back} /* inferred ${i} */`, [v]))
            : undefined
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
              // 5. Untyped with the cache off: OID 0 text, or the type the parameter rules declare.
              if (run.inferred !== undefined) {
                const inferenceReason = inferenceFails[c.label]
                if (inferenceReason === undefined) assertPrints(run.inferred, run, "untyped, cache off")
                else assertStillFails(run.inferred, run, "untyped, cache off", inferenceReason)
              }
            }))
        }
      })
    })
  }
})
