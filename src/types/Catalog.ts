/**
 * Codecs for types the server creates at run time (domains, enums, composites,
 * ranges, multiranges, arrays of those, extension types), built from rows of
 * the server's `pg_type` catalog.
 *
 * **Details**
 *
 * - The session runs `typeQuery` for the OIDs it does not know (it follows
 *   element, base, range-subtype and attribute types recursively), converts
 *   each result row with `rowFromText`, and hands the rows to
 *   `Registry.withTypes`. This module is the pure part: rows in, codecs out.
 * - Domains resolve to their base type's codec under the domain's OID; enums
 *   are strings; composites decode to objects keyed by attribute name; ranges
 *   and multiranges use their subtype's codec; arrays their element's codec; a
 *   base type is matched by name against the extension codecs (`hstore`,
 *   `citext`, ...). Anything unresolvable (a missing dependency, an unknown
 *   base type) gets a text codec: unknown types never crash, they come back as
 *   strings.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as ArrayCodec from "./Array.ts"
import type { ExtensionCodec } from "./Extension.ts"
import * as Range from "./Range.ts"
import * as RecordCodec from "./Record.ts"
import { textOnly, textual } from "./Text.ts"
import * as TypeCodec from "./TypeCodec.ts"

/**
 * One attribute of a composite type (`pg_attribute`: `attname`, `atttypid`).
 *
 * @since 0.1.0
 */
export const AttributeRowSchema = Schema.Struct({ name: Schema.String, type: Schema.Number })

/**
 * The `pg_type` facts needed to build a codec (plus `pg_range.rngsubtype`
 * and the composite's attributes in `attnum` order, dropped ones excluded).
 *
 * @since 0.1.0
 */
export const TypeRowSchema = Schema.Struct({
  oid: Schema.Number,
  typname: Schema.String,
  /** b base, c composite, d domain, e enum, p pseudo, r range, m multirange. */
  typtype: Schema.String,
  typcategory: Schema.optional(Schema.String),
  typelem: Schema.Number,
  typbasetype: Schema.Number,
  typarray: Schema.Number,
  typrelid: Schema.Number,
  typdelim: Schema.optional(Schema.String),
  rngsubtype: Schema.optional(Schema.NullOr(Schema.Number)),
  attributes: Schema.optional(Schema.Array(AttributeRowSchema))
})

/**
 * @since 0.1.0
 */
export interface TypeRow extends Schema.Schema.Type<typeof TypeRowSchema> {}

/**
 * The query that returns the rows for the type OIDs in its one parameter
 * (`$1::oid[]`, as text `{1,2}`), and every type they depend on. Columns, in
 * order: oid, typname, typtype, typcategory, typelem, typbasetype, typarray,
 * typrelid, typdelim, rngsubtype, attributes (JSON `[{"name","type"}]`).
 *
 * **Details**
 *
 * `pg_range.rngmultitypid` exists from PostgreSQL 14 (multiranges); pass the
 * server's `server_version_num` so older servers get a query without it.
 *
 * @since 0.1.0
 */
export const typeQuery = (serverVersionNum: number): string => {
  const range = serverVersionNum >= 140000
    ? "r.rngtypid = t.oid OR r.rngmultitypid = t.oid"
    : "r.rngtypid = t.oid"
  return `WITH RECURSIVE wanted(oid) AS (
  SELECT unnest($1::pg_catalog.oid[])
  UNION
  SELECT d.dep
  FROM wanted w
  JOIN pg_catalog.pg_type t ON t.oid = w.oid
  CROSS JOIN LATERAL (
    SELECT t.typelem
    UNION ALL SELECT t.typbasetype
    UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE ${range}
    UNION ALL SELECT a.atttypid FROM pg_catalog.pg_attribute a
      WHERE t.typrelid <> 0 AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
  ) AS d(dep)
  WHERE d.dep <> 0
)
SELECT t.oid, t.typname, t.typtype, t.typcategory, t.typelem, t.typbasetype, t.typarray, t.typrelid, t.typdelim,
  (SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE ${range} LIMIT 1) AS rngsubtype,
  (SELECT coalesce(json_agg(json_build_object('name', a.attname, 'type', a.atttypid::pg_catalog.int8) ORDER BY a.attnum), '[]')
     FROM pg_catalog.pg_attribute a
     WHERE t.typrelid <> 0 AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS attributes
FROM pg_catalog.pg_type t
WHERE t.oid IN (SELECT oid FROM wanted)`
}

const int = (name: string, s: string | null | undefined): number => {
  const n = Number(s)
  if (s === null || s === undefined || !Number.isInteger(n)) return TypeCodec.fail("pg_type", `invalid ${name}`)
  return n
}

/**
 * Converts one text-format row of `typeQuery` into a `TypeRow`. Throws
 * `CodecError` on a malformed row.
 *
 * @since 0.1.0
 */
export const rowFromText = (row: ReadonlyArray<string | null>): TypeRow => {
  const attributesText = row[10]
  let attributes: Array<{ name: string; type: number }> = []
  if (attributesText !== null && attributesText !== undefined) {
    let parsed: unknown
    try {
      parsed = JSON.parse(attributesText)
    } catch {
      return TypeCodec.fail("pg_type", "invalid attributes")
    }
    if (!Array.isArray(parsed)) return TypeCodec.fail("pg_type", "invalid attributes")
    attributes = parsed.map((a: { name?: unknown; type?: unknown }) => {
      if (typeof a?.name !== "string" || typeof a.type !== "number") return TypeCodec.fail("pg_type", "invalid attribute")
      return { name: a.name, type: a.type }
    })
  }
  return {
    oid: int("oid", row[0]),
    typname: row[1] ?? TypeCodec.fail("pg_type", "missing typname"),
    typtype: row[2] ?? TypeCodec.fail("pg_type", "missing typtype"),
    typcategory: row[3] ?? "",
    typelem: int("typelem", row[4]),
    typbasetype: int("typbasetype", row[5]),
    typarray: int("typarray", row[6]),
    typrelid: int("typrelid", row[7]),
    typdelim: row[8] ?? ",",
    rngsubtype: row[9] === null || row[9] === undefined ? null : int("rngsubtype", row[9]),
    attributes
  }
}

const isArrayRow = (row: TypeRow): boolean =>
  row.typelem !== 0 && (row.typcategory === "A" || (row.typcategory === undefined && row.typname.startsWith("_")))

type AnyCodec = TypeCodec.TypeCodec<any>

/**
 * Builds the codecs of `rows`, resolving dependencies among the rows and, for
 * the rest, through `lookup` (the registry's known codecs). Rows whose OID
 * `lookup` knows are skipped (a known codec is never replaced by a generic one),
 * as are pseudo-types; rows that cannot be resolved get text codecs.
 *
 * @since 0.1.0
 */
export const codecsFromRows = (
  rows: ReadonlyArray<TypeRow>,
  lookup: (oid: number) => AnyCodec | undefined,
  extensions: Readonly<Record<string, ExtensionCodec>>
): Array<AnyCodec> => {
  const resolved = new Map<number, AnyCodec>()
  const get = (oid: number): AnyCodec | undefined => resolved.get(oid) ?? lookup(oid)
  const build = (row: TypeRow): AnyCodec | undefined => {
    const arrayOid = row.typarray === 0 ? undefined : row.typarray
    switch (row.typtype) {
      case "b": {
        if (isArrayRow(row)) {
          const elem = get(row.typelem)
          return elem === undefined ? undefined : ArrayCodec.make(elem, row.oid, row.typname)
        }
        const extension = extensions[row.typname]
        return extension !== undefined ? extension(row.oid, arrayOid) : textOnly(row.typname, row.oid, arrayOid)
      }
      case "d": {
        const base = get(row.typbasetype)
        return base === undefined ? undefined : TypeCodec.rename(base, row.oid, row.typname, arrayOid)
      }
      case "e":
        return textual(row.typname, row.oid, arrayOid)
      case "c": {
        const attributes: Array<RecordCodec.Attribute> = []
        for (const a of row.attributes ?? []) {
          const codec = get(a.type)
          if (codec === undefined) return undefined
          attributes.push({ name: a.name, codec })
        }
        return RecordCodec.makeComposite(row.typname, row.oid, arrayOid, attributes)
      }
      case "r":
      case "m": {
        const sub = row.rngsubtype === null || row.rngsubtype === undefined ? undefined : get(row.rngsubtype)
        if (sub === undefined) return undefined
        return row.typtype === "r"
          ? Range.makeRange(sub, row.typname, row.oid, arrayOid)
          : Range.makeMultirange(sub, row.typname, row.oid, arrayOid)
      }
      default:
        return undefined
    }
  }
  // Types the registry knows already (the built-ins a query pulled in as dependencies) keep their codecs.
  let pending = rows.filter((r) => r.typtype !== "p" && lookup(r.oid) === undefined)
  for (;;) {
    const next: Array<TypeRow> = []
    for (const row of pending) {
      const codec = build(row)
      if (codec === undefined) next.push(row)
      else resolved.set(row.oid, codec)
    }
    if (next.length === 0 || next.length === pending.length) {
      for (const row of next) {
        resolved.set(row.oid, textOnly(row.typname, row.oid, row.typarray === 0 ? undefined : row.typarray))
      }
      break
    }
    pending = next
  }
  return [...resolved.values()]
}
