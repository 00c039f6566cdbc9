/**
 * A minimal `pg_catalog` for servers that have tables but no SQL engine: the
 * catalog queries clients insist on are answered from a description of the
 * server's relations, and everything else goes to the wrapped handler.
 *
 * **Details**
 *
 * - psql: `\d`, `\dt`, `\dv`, `\d name` and `\d+ name` (the relation list,
 *   the lookup by name pattern, the relation's details and its columns with
 *   `format_type` names), `\dn` and `\l`. The footers `\d name` asks for
 *   (indexes, policies, statistics, publications, inheritance, triggers...)
 *   are answered with no rows: the relations have none.
 * - postgres.js: the array types it loads on connect (`fetch_types`), from the
 *   built-in types of `src/types`.
 * - pgbench's look-up of `pgbench_accounts` before a built-in script (`-S`,
 *   `-b select-only`): found on the search path, not partitioned.
 * - `version()`, `current_database()`, `current_user`, `session_user`,
 *   `current_schema()`.
 * - Any other query reading a `pg_catalog` table gets an empty result with one
 *   text column per select-list item: clients treat it as "none".
 *
 * Queries are recognised by their shape (`CatalogSql`), not parsed: what a
 * client's version adds to a select list gets a neutral value (empty, false,
 * NULL). Both the simple and the extended protocol are served.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { builtinTypes, Oid } from "../types/Oid.ts"
import { type Shape, shapeOf, inListOf, oidOf, patternOf } from "./CatalogSql.ts"
import { type Field, type Handler, type Outcome, type Row, Session } from "./Handler.ts"
import * as ServerError from "./ServerError.ts"

/**
 * One column of a relation.
 *
 * @since 0.1.0
 */
export interface Column {
  readonly name: string
  readonly type: keyof typeof Oid
  /** `atttypmod` (varchar(n): n + 4); default -1. */
  readonly typeModifier?: number | undefined
  readonly notNull?: boolean | undefined
  /** The default's expression text, if any. */
  readonly default?: string | undefined
}

/**
 * A table or view the server serves.
 *
 * @since 0.1.0
 */
export interface Relation {
  /** Default "public". */
  readonly schema?: string | undefined
  readonly name: string
  /** Default "table". */
  readonly kind?: "table" | "view" | undefined
  readonly columns: ReadonlyArray<Column>
}

/**
 * What the catalog knows.
 *
 * @since 0.1.0
 */
export interface Description {
  readonly relations: ReadonlyArray<Relation>
  /** The owner shown for every object; default the session's user. */
  readonly owner?: string | undefined
  /** `version()`; default "PostgreSQL 18.0 (effect-pgwire)". */
  readonly version?: string | undefined
}

/** The first OID of objects users create (PostgreSQL's FirstNormalObjectId). */
const FIRST_USER_OID = 16384

interface Entry {
  readonly oid: number
  readonly schema: string
  readonly relation: Relation
}

const sqlNames: Record<string, string> = {
  bool: "boolean",
  int2: "smallint",
  int4: "integer",
  int8: "bigint",
  float4: "real",
  float8: "double precision",
  varchar: "character varying",
  bpchar: "character",
  timestamp: "timestamp without time zone",
  timestamptz: "timestamp with time zone",
  time: "time without time zone",
  timetz: "time with time zone",
  varbit: "bit varying"
}

/**
 * `format_type(oid, typmod)` for the built-in types: SQL names, the length of
 * varchar and char, numeric's precision and scale, `[]` for arrays.
 *
 * @since 0.1.0
 */
export const formatType = (type: keyof typeof Oid, typeModifier = -1): string => {
  const element = type.startsWith("_") ? type.slice(1) : undefined
  if (element !== undefined && element in Oid) return `${formatType(element as keyof typeof Oid, typeModifier)}[]`
  const base = sqlNames[type] ?? type
  if (typeModifier < 0) return base
  if (type === "varchar" || type === "bpchar") return `${base}(${typeModifier - 4})`
  if (type === "numeric") {
    const t = typeModifier - 4
    return `numeric(${(t >> 16) & 0xffff},${t & 0xffff})`
  }
  return base
}

const text = (name: string): Field => ({ name, typeOid: Oid.text })
const typed = (name: string, type: keyof typeof Oid): Field => ({ name, typeOid: Oid[type] })

/** Rows of a catalog answer: the fields and their values, one column per select-list item. */
interface Answer {
  readonly fields: ReadonlyArray<Field>
  readonly rows: ReadonlyArray<Row>
}

/** A column value by key: its type and its value for one object; `undefined` keys are NULL text. */
type Columns<T> = Record<string, readonly [keyof typeof Oid, (t: T) => unknown]>

const answerOf = <T>(shape: Shape, columns: Columns<T>, objects: ReadonlyArray<T>): Answer => {
  // Own keys only: a select-list item named `constructor` is not a known column.
  const knownOf = (key: string) => (Object.hasOwn(columns, key) ? columns[key] : undefined)
  const fields = shape.items.map((item) => {
    const known = knownOf(item.key)
    const name = item.alias ?? (item.key === "" ? "?column?" : item.key)
    return known === undefined ? text(name) : typed(name, known[0])
  })
  const rows = objects.map((o) =>
    shape.items.map((item) => {
      const known = knownOf(item.key)
      if (known !== undefined) return known[1](o)
      return item.key === "" ? "" : null
    })
  )
  return { fields, rows }
}

const relkindOf = (r: Relation) => (r.kind === "view" ? "v" : "r")

interface Context {
  readonly entries: ReadonlyArray<Entry>
  readonly owner: string
  readonly database: string
  readonly user: string
  readonly version: string
}

const relationColumns: Columns<Entry & { readonly owner: string }> = {
  Schema: ["name", (e) => e.schema],
  Name: ["name", (e) => e.relation.name],
  Type: ["text", (e) => (e.relation.kind === "view" ? "view" : "table")],
  Owner: ["name", (e) => e.owner],
  Persistence: ["text", () => "permanent"],
  "Access method": ["name", (e) => (e.relation.kind === "view" ? null : "heap")],
  Size: ["text", () => "0 bytes"],
  Description: ["text", () => null],
  oid: ["oid", (e) => e.oid],
  nspname: ["name", (e) => e.schema],
  relname: ["name", (e) => e.relation.name],
  relchecks: ["int2", () => 0],
  relkind: ["char", (e) => relkindOf(e.relation)],
  relhasindex: ["bool", () => false],
  relhasrules: ["bool", () => false],
  relhastriggers: ["bool", () => false],
  relrowsecurity: ["bool", () => false],
  relforcerowsecurity: ["bool", () => false],
  relhasoids: ["bool", () => false],
  relispartition: ["bool", () => false],
  array_to_string: ["text", () => ""],
  reltablespace: ["oid", () => 0],
  reloftype: ["text", () => ""],
  relpersistence: ["char", () => "p"],
  relreplident: ["char", () => "d"],
  amname: ["name", (e) => (e.relation.kind === "view" ? null : "heap")]
}

const attributeColumns: Columns<Column> = {
  attname: ["name", (c) => c.name],
  format_type: ["text", (c) => formatType(c.type, c.typeModifier)],
  adbin: ["text", (c) => c.default ?? null],
  attnotnull: ["bool", (c) => c.notNull === true],
  attcollation: ["name", () => null],
  attidentity: ["char", () => ""],
  attgenerated: ["char", () => ""],
  attstorage: ["char", (c) => (Oid[c.type] === Oid.text || c.type === "varchar" || c.type === "bytea" ? "x" : "p")],
  attcompression: ["char", () => ""],
  attstattarget: ["int2", () => null],
  col_description: ["text", () => null]
}

const relationsOf = (shape: Shape, ctx: Context): Answer => {
  const kinds = inListOf(shape.text, "c.relkind")
  const name = patternOf(shape.text, "c.relname")
  const schema = patternOf(shape.text, "n.nspname")
  const visibleOnly = /pg_table_is_visible\(/i.test(shape.text)
  const entries = ctx.entries
    .filter((e) => kinds === undefined || kinds.includes(relkindOf(e.relation)))
    .filter((e) => name === undefined || name.test(e.relation.name))
    .filter((e) => schema === undefined || schema.test(e.schema))
    // pg_table_is_visible: on the default search_path ("$user", public).
    .filter((e) => !visibleOnly || e.schema === "public" || e.schema === ctx.user)
    .sort((a, b) => a.schema.localeCompare(b.schema) || a.relation.name.localeCompare(b.relation.name))
    .map((e) => ({ ...e, owner: ctx.owner }))
  return answerOf(shape, relationColumns, entries)
}

const has = (shape: Shape, ...keys: ReadonlyArray<string>) => keys.every((k) => shape.items.some((i) => i.key === k))

/** The answer to a catalog query, or `undefined` when `sql` is not one. */
const answer = (sql: string, ctx: Context): Answer | undefined => {
  const shape = shapeOf(sql)
  if (shape === undefined) return undefined
  const t = shape.tables
  if (t.size === 0) {
    const fn = /^select (version|current_database|current_schema|current_user|session_user|user)(?:\(\))?(?: as "?(\w+)"?)?$/i.exec(
      shape.text
    )
    if (fn === null) return undefined
    const name = fn[1]!.toLowerCase()
    const value = name === "version"
      ? ctx.version
      : name === "current_database"
      ? ctx.database
      : name === "current_schema"
      ? "public"
      : ctx.user
    return { fields: [typed(fn[2] ?? name, name === "version" ? "text" : "name")], rows: [[value]] }
  }
  if (t.has("pg_class") && has(shape, "Schema", "Name")) return relationsOf(shape, ctx)
  if (t.has("pg_class") && t.size <= 2 && has(shape, "oid", "nspname", "relname")) return relationsOf(shape, ctx)
  if (t.has("pg_class") && has(shape, "relchecks", "relkind")) {
    const oid = oidOf(shape.text, "c.oid")
    const entries = ctx.entries.filter((e) => e.oid === oid).map((e) => ({ ...e, owner: ctx.owner }))
    return answerOf(shape, relationColumns, entries)
  }
  if (t.has("pg_attribute") && has(shape, "attname", "format_type")) {
    const oid = oidOf(shape.text, "a.attrelid")
    return answerOf(shape, attributeColumns, ctx.entries.find((e) => e.oid === oid)?.relation.columns ?? [])
  }
  if (t.has("pg_namespace") && !t.has("pg_class") && has(shape, "Name")) {
    const schemas = [...new Set(["public", ...ctx.entries.map((e) => e.schema)])].sort()
    return answerOf(shape, { Name: ["name", (s: string) => s], Owner: ["name", () => ctx.owner] }, schemas)
  }
  if (t.has("pg_database") && has(shape, "Name")) {
    return answerOf(shape, {
      Name: ["name", (d: string) => d],
      Owner: ["name", () => ctx.owner],
      Encoding: ["name", () => "UTF8"],
      Collate: ["text", () => "C"],
      Ctype: ["text", () => "C"],
      "Locale Provider": ["text", () => "libc"]
    }, [ctx.database])
  }
  if (t.has("pg_partitioned_table") && has(shape, "partstrat")) {
    // pgbench's look-up of its accounts table (built-in scripts): where on the search path, not partitioned.
    const name = /c\.relname = '((?:[^']|'')*)'/i.exec(shape.text)?.[1]?.replace(/''/g, "'")
    const found = ctx.entries.filter((e) => e.relation.name === name && e.schema === "public")
    return answerOf(shape, { n: ["int4", () => 1], partstrat: ["char", () => null], count: ["int8", () => 0n] }, found)
  }
  if (t.has("pg_type") && /typcategory = 'A'/i.test(shape.text) && has(shape, "oid", "typarray")) {
    const elements = new Set(builtinTypes.filter((b) => b.category === "A" && b.elem !== 0).map((b) => b.elem))
    const rows = builtinTypes.filter((b) => elements.has(b.oid)).sort((a, b) => a.oid - b.oid)
    return answerOf(shape, { oid: ["oid", (b) => b.oid], typarray: ["oid", (b) => b.array] }, rows)
  }
  return answerOf(shape, {}, [])
}

const entriesOf = (description: Description): ReadonlyArray<Entry> =>
  description.relations.map((relation, i) => ({ oid: FIRST_USER_OID + i, schema: relation.schema ?? "public", relation }))

/**
 * The catalog answer to `sql` for the current session, or `undefined`.
 *
 * @since 0.1.0
 */
export const lookup = (description: Description) => {
  const entries = entriesOf(description)
  return (sql: string): Effect.Effect<{ readonly fields: ReadonlyArray<Field>; readonly rows: ReadonlyArray<Row> } | undefined, never, Session> =>
    Effect.map(Effect.service(Session), (session) =>
      answer(sql, {
        entries,
        owner: description.owner ?? session.user,
        database: session.database,
        user: session.user,
        version: description.version ?? "PostgreSQL 18.0 (effect-pgwire)"
      }))
}

/**
 * `inner` with the catalog in front: catalog queries (one per Query or Parse)
 * are answered from `description`, every other statement goes to `inner`.
 *
 * @since 0.1.0
 */
export const handler = <R>(description: Description, inner: Handler<R>): Handler<R> => {
  const find = lookup(description)
  const rowsOf = (a: { readonly fields: ReadonlyArray<Field>; readonly rows: ReadonlyArray<Row> }): Outcome<R> => ({
    _tag: "Rows",
    fields: a.fields,
    rows: Stream.fromIterable(a.rows)
  })
  const innerPrepare = inner.prepare
  return {
    simple: (sql) =>
      Stream.unwrap(Effect.map(find(sql), (a) => (a === undefined ? inner.simple(sql) : Stream.make(rowsOf(a))))),
    prepare: (statement) =>
      Effect.flatMap(find(statement.sql), (a) => {
        if (a !== undefined) {
          // Parameters are accepted (as text unless typed) but not used: the answer is the unfiltered one.
          let count = 0
          for (const m of statement.sql.matchAll(/\$(\d+)/g)) count = Math.max(count, Number(m[1]))
          const paramTypes = Array.from({ length: count }, (_, i) => statement.paramTypes[i] || Oid.text)
          return Effect.succeed({ paramTypes, fields: a.fields, execute: () => Effect.succeed(rowsOf(a)) })
        }
        return innerPrepare === undefined
          ? Effect.fail(ServerError.featureNotSupported("the extended query protocol is not supported by this server"))
          : innerPrepare(statement)
      }),
    functionCall: inner.functionCall
  }
}
