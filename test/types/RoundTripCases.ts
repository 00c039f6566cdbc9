/**
 * The values of the round-trip suite (RoundTrip.test.ts): the captured corpus
 * (test/fixtures/types/pg_values.json), the edge values of issue 5, an array of
 * every built-in element type, and the values that cannot go back as they
 * came, each list with the reason (the documented exceptions of the write-back
 * property of issue 15).
 */
import { readFileSync } from "node:fs"
import { builtinTypes } from "../../src/types/Oid.ts"
import { Registry } from "../../src/types/Registry.ts"

// ---------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------

export interface Case {
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

export interface CapturedCase {
  readonly label: string
  readonly sql: string
  readonly oid: number
  readonly binary: string | null
  readonly text: string
}

export const fixture = JSON.parse(readFileSync(new URL("../fixtures/types/pg_values.json", import.meta.url), "utf8")) as {
  readonly cases: ReadonlyArray<CapturedCase>
}

export const builtinByOid = new Map(builtinTypes.map((t) => [t.oid, t]))
export const builtinByName = new Map(builtinTypes.map((t) => [t.name, t]))

export const sinceOf = (label: string): number | undefined => {
  if (label.includes("multirange")) return 14
  if (label === "numeric Infinity" || label === "numeric -Infinity") return 14
  // The interval input of PostgreSQL 13 and 14 stops short of the int64 microsecond range (22015 on 14 too: the
  // interval parser was reworked in 15).
  if (label === "interval big hours") return 15
  if (label === "interval infinity" || label === "interval -infinity") return 17
  return undefined
}

export const extensionOf = (sql: string): string | undefined =>
  ["hstore", "citext", "ltree"].find((e) => sql.includes(`public.${e}`))

/** The 191 captured values. */
export const corpusCases: ReadonlyArray<Case> = fixture.cases.map((c) => ({
  label: c.label,
  sql: c.sql,
  elementOid: builtinByOid.has(c.oid) ? c.oid : undefined,
  since: sinceOf(c.label),
  extension: extensionOf(c.sql)
}))

export const extra = (label: string, sql: string, type?: string, since?: number): Case => ({
  label,
  sql,
  elementOid: type === undefined ? undefined : builtinByName.get(type)!.oid,
  since,
  extension: extensionOf(sql)
})

/** Values of issue 5's list the corpus does not hold, and element types it lacks. */
export const extraCases: ReadonlyArray<Case> = [
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
  extra("interval big negative hours", "'-2562047788 hours'::interval", undefined, 15),
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
export const exactRegistry = Registry.make({ timestamp: "micros" })

/**
 * An array of each built-in element type the cases hold (its first value,
 * twice, in two dimensions with NULLs): every element type with a codec goes
 * through the array codecs too.
 */
export const arrayCases: ReadonlyArray<Case> = (() => {
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

export const ANONYMOUS_RECORD = "the server has no input function for anonymous records (0A000), whatever the client sends"
export const JSON_ARRAY_STRING =
  "a string element of a json array is that element's literal text (Array.encodeText), so a decoded JSON " +
  "string element (\"s\") goes back as the invalid JSON s, typed or not"
export const JSON_NULL = "a JSON null element and an SQL NULL element both decode to null, and null goes back as SQL NULL"
export const BIGINT_DECLARED =
  "an untyped bigint is declared int8 (numeric beyond the int8 range), and the server has no cast from that " +
  "to the type: send it typed"
export const MICROS_AS_INT8 =
  "the exact timestamp representation is a bigint of microseconds, declared int8 when untyped: send " +
  "PgTypes.timestamp / PgTypes.timestamptz"
export const JSON_STRING = "an untyped JavaScript string is the literal text, so a JSON string needs PgTypes.jsonb"
export const BIGINT_ELEMENTS =
  "an array of primitives goes as an array literal, and bigint elements (microseconds) as their digits, which " +
  "the timestamp types do not read"
export const NESTED_VALUES_ARE_ARRAYS =
  "the elements are themselves JavaScript arrays (TypeCodec.valuesAreArrays), so in the codec's text form a " +
  "nested JavaScript array is one element, not a dimension (a decoded value remembers its dimensions, so it " +
  "goes back whole untyped or typed)"

/** Untyped values that do not come back through the cache-on session (they do typed, unless in `typedFails`). */
export const untypedFails: Readonly<Record<string, string>> = {
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
export const typedFails: Readonly<Record<string, string>> = {
  "record[] of record": ANONYMOUS_RECORD,
  "json[]": JSON_ARRAY_STRING,
  "jsonb[]": JSON_NULL,
  "record": ANONYMOUS_RECORD,
  "record nested": ANONYMOUS_RECORD
}

/** Cases whose codec text form does not come back through the server's input function. */
export const textFormFails: Readonly<Record<string, string>> = {
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
export const inferenceFails: Readonly<Record<string, string>> = {
  ...untypedFails,
  "timestamptz[]": BIGINT_ELEMENTS,
  "timestamp[] of timestamp": BIGINT_ELEMENTS,
  "timestamptz[] of timestamptz": BIGINT_ELEMENTS
}

/** Types whose text result carries less than the binary one (or other JavaScript values). */
export const decodeDiffers = (type: string): string | undefined => {
  if (/^pg_catalog\._?reg/.test(type)) return "a reg* type decodes to its OID from binary, to its name from text"
  if (type === "pg_catalog.record" || type === "pg_catalog._record") {
    return "an anonymous record's text carries no column types: its columns decode as strings"
  }
  return undefined
}
