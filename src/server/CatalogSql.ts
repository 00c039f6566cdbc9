/**
 * Reading the shape of a catalog query without a SQL engine: its select list
 * (one key per output column), the catalog tables it reads, and the few
 * literals its WHERE clause filters on. Enough to recognise the queries psql,
 * postgres.js and other clients send about the catalog, whatever their
 * version adds or reorders in the select list.
 *
 * **Details**
 *
 * A column's key is its alias (`AS "Name"`, `AS relhasoids`), else the
 * function it calls (`pg_catalog.format_type(...)` is `format_type`), else the
 * first column it names (`c.relchecks` is `relchecks`, `CASE WHEN c.reloftype
 * ...` is `reloftype`, a subquery on `d.adbin` is `adbin`), else `""` (a
 * literal). Keys are lower case except quoted aliases.
 *
 * @since 0.1.0
 */

/**
 * One output column of a query's select list.
 *
 * @since 0.1.0
 */
export interface Item {
  readonly key: string
  /** The alias as written, when there is one. */
  readonly alias: string | undefined
}

/**
 * A query's shape.
 *
 * @since 0.1.0
 */
export interface Shape {
  /** The text with runs of white space made one space, without a trailing `;`. */
  readonly text: string
  readonly items: ReadonlyArray<Item>
  /** `pg_catalog` tables named anywhere in the text (`pg_class`, `pg_attribute`, ...). */
  readonly tables: ReadonlySet<string>
}

/** Splits `text` at commas outside parentheses and quotes, up to the top-level FROM. */
const selectList = (text: string): Array<string> | undefined => {
  const m = /^\s*select\s+/i.exec(text)
  if (m === null) return undefined
  const out: Array<string> = []
  let depth = 0
  let start = m[0].length
  let i = start
  while (i < text.length) {
    const ch = text[i]!
    if (ch === "'" || ch === "\"") {
      const close = text.indexOf(ch, i + 1)
      if (close < 0) return undefined
      i = close + 1
      continue
    }
    if (ch === "(") depth++
    else if (ch === ")") depth--
    else if (depth === 0 && ch === ",") {
      out.push(text.slice(start, i))
      start = i + 1
    } else if (depth === 0 && /^\sfrom\s/i.test(text.slice(i, i + 6))) {
      out.push(text.slice(start, i))
      return out
    }
    i++
  }
  out.push(text.slice(start))
  return out
}

const itemOf = (raw: string): Item => {
  const item = raw.trim()
  const alias = /\s+as\s+(?:"([^"]+)"|(\w+))$/i.exec(item)
  if (alias !== null) {
    return alias[1] !== undefined
      ? { key: alias[1], alias: alias[1] }
      : { key: alias[2]!.toLowerCase(), alias: alias[2] }
  }
  const call = /^(?:pg_catalog\.)?(\w+)\s*\(/i.exec(item)
  if (call !== null) {
    const inner = /^(?:case\b|\(\s*select\b)/i.test(item) ? undefined : call[1]!.toLowerCase()
    if (inner !== undefined) return { key: inner, alias: undefined }
  }
  const column = /\b(?!pg_catalog\.)([a-z_]\w*)\.([a-z_]\w*)\b/i.exec(item)
  if (column !== null) return { key: column[2]!.toLowerCase(), alias: undefined }
  const bare = /^([a-z_]\w*)$/i.exec(item)
  if (bare !== null) return { key: bare[1]!.toLowerCase(), alias: undefined }
  return { key: "", alias: undefined }
}

/**
 * The shape of `sql`, or `undefined` when it is not one SELECT.
 *
 * @since 0.1.0
 */
export const shapeOf = (sql: string): Shape | undefined => {
  const text = sql.replace(/\s+/g, " ").trim().replace(/;+\s*$/, "")
  if (text.includes(";")) return undefined
  const list = selectList(text)
  if (list === undefined) return undefined
  const tables = new Set<string>()
  for (const m of text.matchAll(/\bpg_catalog\.(pg_\w+)\b(?!\s*\()/gi)) tables.add(m[1]!.toLowerCase())
  return { text, items: list.map(itemOf), tables }
}

/**
 * The pattern of `column OPERATOR(pg_catalog.~) '<regex>'` (psql's name
 * patterns), as a RegExp; `undefined` when absent or not a valid pattern.
 *
 * @since 0.1.0
 */
export const patternOf = (text: string, column: string): RegExp | undefined => {
  const escaped = column.replace(".", "\\.")
  const m = new RegExp(`${escaped} (?:OPERATOR\\(pg_catalog\\.~\\)|~) '((?:[^']|'')*)'`, "i").exec(text)
  if (m === null) return undefined
  try {
    return new RegExp(m[1]!.replace(/''/g, "'"))
  } catch {
    return undefined
  }
}

/**
 * The OID compared with `column` (`c.oid = '16384'`, `a.attrelid = 16384`).
 *
 * @since 0.1.0
 */
export const oidOf = (text: string, column: string): number | undefined => {
  const escaped = column.replace(".", "\\.")
  const m = new RegExp(`${escaped} ?= ?'?(\\d+)'?`, "i").exec(text)
  return m === null ? undefined : Number(m[1])
}

/**
 * The quoted values of `column IN ('r','p','')`.
 *
 * @since 0.1.0
 */
export const inListOf = (text: string, column: string): ReadonlyArray<string> | undefined => {
  const escaped = column.replace(".", "\\.")
  const m = new RegExp(`${escaped} IN \\(([^)]*)\\)`, "i").exec(text)
  if (m === null) return undefined
  return [...m[1]!.matchAll(/'([^']*)'/g)].map((v) => v[1]!)
}
