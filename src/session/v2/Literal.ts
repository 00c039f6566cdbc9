/**
 * SQL text for a protocol 2.0 session, which has no extended query protocol:
 * parameters as escape-string literals, `$n` replaced in a statement, the
 * PREPARE and EXECUTE statements that stand in for Parse and Bind, and the
 * check of COPY data for an end marker that would end the copy early.
 *
 * **Details**
 *
 * - A literal is always written `E'...'` with `'` and `\` doubled: right
 *   whatever `standard_conforming_strings` says (PROTOCOL-2.0 M16).
 * - `substitute` finds `$n` outside quoted strings, quoted identifiers,
 *   dollar-quoted strings and comments; it is used where PREPARE cannot go (a
 *   cursor's query).
 * - The end marker of 2.0 COPY IN: in text format `\.` ends the data anywhere in
 *   a line (protocol-2.0 "COPY", PROTOCOL-2.0 M11b); in CSV a line `\.` does.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import { CodecError, PgError } from "../../errors/PgError.ts"
import { Oid } from "../../types/Oid.ts"
import { isNullParameter, type Registry } from "../../types/Registry.ts"
import * as Utf8 from "../../wire/Utf8.ts"
import { Writer } from "../../wire/Writer.ts"

/**
 * An escape-string literal of `text`.
 *
 * @since 0.1.0
 */
export const literal = (text: string): string => "E'" + text.replace(/\\/g, "\\\\").replace(/'/g, "''") + "'"

const scratch = new Writer(1024)

/**
 * The type of a parameter as the registry infers it, or `interval` for an object of the shape intervals decode to
 * (integer `months` and `days`, a bigint `microseconds`): 3.x learns the type from the server, but a 2.0 literal
 * is written before, and the JSON text such an object would otherwise get is read by the server's lenient
 * interval input as another interval.
 */
const parameterOid = (registry: Registry, value: unknown): number => {
  const oid = registry.parameterOid(value)
  if (oid !== 0 || typeof value !== "object" || value === null) return oid
  const v = value as { readonly months?: unknown; readonly days?: unknown; readonly microseconds?: unknown }
  return Object.keys(value).length === 3 && Number.isInteger(v.months) && Number.isInteger(v.days) &&
      typeof v.microseconds === "bigint"
    ? Oid.interval
    : 0
}

/**
 * One parameter as SQL: `NULL`, or the literal of its text form (the registry's
 * text encoding, as a 3.x Bind in text format would carry it). Throws a
 * `PgError` with a CodecError naming the parameter.
 *
 * @since 0.1.0
 */
export const parameterSql = (registry: Registry, value: unknown, index: number): string => {
  if (isNullParameter(value)) return "NULL"
  const oid = parameterOid(registry, value)
  try {
    registry.writeParameter(scratch, value, oid, 0, index)
    const bytes = scratch.flushCopy()
    const text = Utf8.decode(bytes, 0, bytes.length)
    if (text === undefined) throw new CodecError({ message: `parameter $${index}: text form is not UTF-8`, parameter: index })
    if (text.includes("\u0000")) {
      throw new CodecError({ message: `parameter $${index}: PostgreSQL text cannot contain NUL`, parameter: index })
    }
    return literal(text)
  } catch (e) {
    if (e instanceof CodecError) throw new PgError({ reason: e })
    throw e
  } finally {
    scratch.flush()
  }
}

/**
 * The declared type of each parameter for PREPARE (`unknown` where the server
 * infers it), or undefined when every one is inferred.
 *
 * @since 0.1.0
 */
export const declaredTypes = (registry: Registry, params: ReadonlyArray<unknown>): ReadonlyArray<string> | undefined => {
  let any = false
  const names = params.map((value) => {
    if (isNullParameter(value)) return "unknown"
    const oid = parameterOid(registry, value)
    const name = oid === 0 ? undefined : registry.get(oid)?.name
    if (name === undefined) return "unknown"
    any = true
    return `pg_catalog.${quoteIdentifier(name)}`
  })
  return any ? names : undefined
}

/**
 * Quotes an identifier.
 *
 * @since 0.1.0
 */
export const quoteIdentifier = (name: string): string => `"${name.replace(/"/g, "\"\"")}"`

/**
 * The statement text without trailing blanks and semicolons.
 *
 * @since 0.1.0
 */
export const trimStatement = (sql: string): string => sql.replace(/[\s;]+$/, "")

/**
 * `PREPARE name[(types)] AS sql`.
 *
 * @since 0.1.0
 */
export const prepareSql = (name: string, sql: string, types: ReadonlyArray<string> | undefined): string =>
  `PREPARE ${name}${types === undefined ? "" : `(${types.join(", ")})`} AS ${trimStatement(sql)}`

/**
 * `EXECUTE name(literals)`.
 *
 * @since 0.1.0
 */
export const executeSql = (name: string, literals: ReadonlyArray<string>): string =>
  literals.length === 0 ? `EXECUTE ${name}` : `EXECUTE ${name}(${literals.join(", ")})`

const isIdentChar = (c: number): boolean =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c > 127

/**
 * The index after the string, quoted identifier, comment or dollar-quoted string that starts at `i`, or `i` when
 * none does (a `$n` is not a dollar quote). An unterminated one runs to the end.
 */
const skipQuoted = (sql: string, i: number): number => {
  const n = sql.length
  const c = sql.charCodeAt(i)
  if (c === 39 /* ' */) {
    // E'...' strings take backslash escapes; others only ''.
    const escapes = i > 0 && (sql[i - 1] === "E" || sql[i - 1] === "e") && (i < 2 || !isIdentChar(sql.charCodeAt(i - 2)))
    i++
    while (i < n) {
      const d = sql.charCodeAt(i)
      if (escapes && d === 92) i += 2
      else if (d === 39) {
        if (sql.charCodeAt(i + 1) === 39) i += 2
        else break
      } else i++
    }
    return Math.min(i + 1, n)
  }
  if (c === 34 /* " */) {
    i = sql.indexOf("\"", i + 1)
    while (i >= 0 && sql.charCodeAt(i + 1) === 34) i = sql.indexOf("\"", i + 2)
    return i < 0 ? n : i + 1
  }
  if (c === 45 && sql.charCodeAt(i + 1) === 45) {
    const end = sql.indexOf("\n", i)
    return end < 0 ? n : end + 1
  }
  if (c === 47 && sql.charCodeAt(i + 1) === 42) {
    let depth = 1
    i += 2
    while (i < n && depth > 0) {
      if (sql.charCodeAt(i) === 47 && sql.charCodeAt(i + 1) === 42) (depth++, i += 2)
      else if (sql.charCodeAt(i) === 42 && sql.charCodeAt(i + 1) === 47) (depth--, i += 2)
      else i++
    }
    return i
  }
  if (c === 36 /* $ */ && (i === 0 || !isIdentChar(sql.charCodeAt(i - 1)))) {
    const tag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 128))
    if (tag !== null) {
      const end = sql.indexOf(tag[0], i + tag[0].length)
      return end < 0 ? n : end + tag[0].length
    }
  }
  return i
}

/**
 * Replaces every `$n` of `sql` outside strings, quoted identifiers and
 * comments by `values[n - 1]`. A `$n` with no value is a CodecError.
 *
 * @since 0.1.0
 */
export const substitute = (sql: string, values: ReadonlyArray<string>): string => {
  let out = ""
  let from = 0
  let i = 0
  const n = sql.length
  while (i < n) {
    const c = sql.charCodeAt(i)
    if (c === 36 /* $ */ && (i === 0 || !isIdentChar(sql.charCodeAt(i - 1)))) {
      const digits = /^\$(\d+)/.exec(sql.slice(i, i + 12))
      if (digits !== null) {
        const index = Number(digits[1])
        const value = values[index - 1]
        if (value === undefined) {
          throw new PgError({
            reason: new CodecError({ message: `$${index} has no parameter (${values.length} given)`, parameter: index })
          })
        }
        out += sql.slice(from, i) + value
        i += digits[0].length
        from = i
        continue
      }
    }
    const after = skipQuoted(sql, i)
    i = after > i ? after : i + 1
  }
  return out + sql.slice(from)
}

/**
 * How many statements `sql` holds: 0 when it is only blanks, comments and semicolons, 1, or 2 for two or more
 * (semicolons inside strings, quoted identifiers, comments and dollar quotes do not count).
 *
 * @since 0.1.0
 */
export const statementCount = (sql: string): 0 | 1 | 2 => {
  let count = 0
  let content = false
  let i = 0
  const n = sql.length
  while (i < n) {
    const c = sql.charCodeAt(i)
    const after = skipQuoted(sql, i)
    if (after > i) {
      // A comment is not content; a string, identifier or dollar quote is.
      if (!(c === 45 || c === 47)) content = true
      i = after
      continue
    }
    if (c === 59 /* ; */) {
      if (content) count++
      content = false
    } else if (!(c === 32 || (c >= 9 && c <= 13))) content = true
    i++
  }
  if (content) count++
  return count >= 2 ? 2 : count === 1 ? 1 : 0
}

/**
 * Whether `sql` is a query DECLARE CURSOR takes: its first word (after blanks, comments and opening parentheses)
 * is SELECT, VALUES, TABLE or WITH. INSERT ... RETURNING, SHOW, EXPLAIN and the like are not.
 *
 * @since 0.1.0
 */
export const isCursorQuery = (sql: string): boolean => {
  let i = 0
  const n = sql.length
  while (i < n) {
    const c = sql.charCodeAt(i)
    if (c === 40 /* ( */ || c === 32 || (c >= 9 && c <= 13)) {
      i++
      continue
    }
    const after = (c === 45 || c === 47) ? skipQuoted(sql, i) : i
    if (after === i) break
    i = after
  }
  return /^(select|values|table|with)\b/i.test(sql.slice(i, i + 7))
}

/**
 * Whether a COPY statement reads CSV (its end marker is then a whole line): the word CSV among the options, after
 * `STDIN` (`FORMAT csv`, `WITH CSV`), not in the table's or a column's name before it. When unsure it says text,
 * whose check refuses more.
 *
 * @since 0.1.0
 */
export const isCsvCopy = (sql: string): boolean => /\bstdin\b[\s\S]*\bcsv\b/i.test(sql)

/**
 * Scans COPY IN data, chunk by chunk, for what would end a 2.0 copy before
 * the client does.
 *
 * @since 0.1.0
 */
export class CopyDataCheck {
  private readonly csv: boolean
  /** Text: the last byte was an unpaired backslash. CSV: bytes of the current line so far, up to 3. */
  private backslash = false
  private lineHead = ""
  /** The last byte seen (to add the final newline), and the one before it. */
  lastByte = -1
  private previousByte = -1
  offset = 0
  /** The data's line ending, from its first line (PostgreSQL reads LF, CRLF or CR, and wants the marker alike). */
  private eol: "\n" | "\r\n" | "\r" | undefined = undefined
  /** The first line ending began with CR: the next byte tells CRLF from CR. */
  private crFirst = false
  /** CSV, until the line ending is known: inside a quoted field. */
  private quoted = false

  constructor(csv: boolean) {
    this.csv = csv
  }

  /** Undefined, or why the chunk is refused (with its stream offset). */
  check(chunk: Uint8Array): string | undefined {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!
      if (this.eol === undefined) {
        // In CSV a line ending inside quotes is data (a multi-line cell): the server takes the first unquoted one.
        if (this.crFirst) this.eol = b === 10 ? "\r\n" : "\r"
        else if (this.csv && b === 34) this.quoted = !this.quoted
        else if (!this.quoted && b === 10) this.eol = "\n"
        else if (!this.quoted && b === 13) this.crFirst = true
      }
      if (this.csv) {
        // A line ends at \n or, in data with CR line endings, at \r (PostgreSQL reads either style).
        if (b === 10 || b === 13) {
          if (this.lineHead === "\\.") return this.refuse(i, "a line \\. (the end marker) in CSV data")
          this.lineHead = ""
        } else if (this.lineHead.length < 3) {
          this.lineHead += String.fromCharCode(b)
        }
      } else if (this.backslash) {
        this.backslash = false
        if (b === 46) return this.refuse(i, "\\. (the end marker) in text data")
      } else if (b === 92) this.backslash = true
    }
    this.offset += chunk.length
    if (chunk.length > 1) this.previousByte = chunk[chunk.length - 2]!
    else if (chunk.length === 1) this.previousByte = this.lastByte
    if (chunk.length > 0) this.lastByte = chunk[chunk.length - 1]!
    return undefined
  }

  /**
   * What ends the data: the last line's ending when it is missing, then the end marker, both in the data's line
   * ending (a `\\.` ended otherwise is "end-of-copy marker does not match previous newline style", copy.c).
   */
  ending(): string {
    const eol = this.eol ?? (this.crFirst ? "\r" : "\n")
    if (this.offset === 0) return `\\.${eol}`
    const ended = eol === "\r\n"
      ? this.lastByte === 10 && this.previousByte === 13
      : this.lastByte === eol.charCodeAt(0)
    if (ended) return `\\.${eol}`
    // A last CRLF line cut after its CR only lacks the LF.
    if (eol === "\r\n" && this.lastByte === 13) return `\n\\.${eol}`
    return `${eol}\\.${eol}`
  }

  /** Whether the data so far ends inside a CSV line that is exactly `\.` (then the end is refused). */
  finish(): string | undefined {
    if (this.csv && this.lineHead === "\\.") {
      return this.refuse(0, "a last line \\. (the end marker) in CSV data")
    }
    if (!this.csv && this.backslash) return `COPY data ends with a lone backslash at byte ${this.offset - 1}`
    return undefined
  }

  private refuse(at: number, what: string): string {
    return `COPY data holds ${what} at byte ${this.offset + at}: protocol 2.0 would end the copy there and read the rest as messages`
  }
}
