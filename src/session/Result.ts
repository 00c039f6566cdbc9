/**
 * What queries return: fields, rows, the command tag, and the notices the
 * server sent while the query ran; plus the compiled row shape that turns a
 * DataRow into a row without a Schema parse or a closure per value.
 *
 * @since 0.1.0
 */
import { CodecError, PgError, ProtocolError } from "../errors/PgError.ts"
import type * as Backend from "../protocol/Backend.ts"
import type { FieldDecoder } from "../types/TypeCodec.ts"
import type { Registry } from "../types/Registry.ts"

/**
 * A result column, as RowDescription describes it (protocol-3.2 "RowDescription").
 *
 * @since 0.1.0
 */
export interface Field {
  readonly name: string
  /** OID of the table the column comes from, or 0. */
  readonly tableOid: number
  /** Attribute number of the column in that table, or 0. */
  readonly columnAttributeNumber: number
  /** OID of the column's type. */
  readonly dataTypeOid: number
  readonly dataTypeSize: number
  readonly typeModifier: number
  /** The format the values arrive in: 0 text, 1 binary. */
  readonly format: 0 | 1
}

/**
 * A NoticeResponse (or an ErrorResponse's fields) in readable form.
 *
 * @since 0.1.0
 */
export interface Notice {
  readonly severity: string
  readonly code: string
  readonly message: string
  readonly detail?: string | undefined
  readonly hint?: string | undefined
  readonly where?: string | undefined
  /** Every field, keyed by its one-letter code (protocol-3.2 "Error and Notice Message Fields"). */
  readonly fields: Readonly<Record<string, string>>
}

/**
 * A row keyed by column name (the default row form).
 *
 * @since 0.1.0
 */
export type Row = Record<string, unknown>

/**
 * The result of one statement.
 *
 * @since 0.1.0
 */
export interface QueryResult<R = Row> {
  readonly rows: ReadonlyArray<R>
  readonly fields: ReadonlyArray<Field>
  /** The command tag's verb: "SELECT", "INSERT", "CREATE TABLE", ... ("" for an empty query). */
  readonly command: string
  /** Rows affected or returned, from the command tag; null when the tag has no count. */
  readonly rowCount: number | null
  /** Notices received while this statement ran. */
  readonly notices: ReadonlyArray<Notice>
}

/**
 * How rows are built: objects keyed by column name, or arrays by position.
 *
 * @since 0.1.0
 */
export type RowMode = "object" | "array"

const internalize = (name: string): string => Object.keys({ [name]: 0 })[0] ?? name

/**
 * A constructor of plain objects (their prototype is `Object.prototype`, as a literal's). V8 sizes the objects one
 * constructor makes to the properties they end up with (slack tracking), so every column is stored in the row
 * itself; a `{}` literal holds four and moves the rest to a second allocation (24 bytes more per 9-column row, and
 * about a quarter slower to fill).
 */
const plainObjectConstructor = (): new() => Row => {
  function PlainRow() {}
  PlainRow.prototype = Object.prototype
  return PlainRow as unknown as new() => Row
}

const countedCommands = new Set(["INSERT", "DELETE", "UPDATE", "SELECT", "MOVE", "FETCH", "COPY", "MERGE"])

/**
 * The row count of a `SELECT n` tag, read without making strings; -1 for any other tag.
 *
 * @since 0.1.0
 */
export const selectCount = (tag: string): number => {
  const n = tag.length
  // At most 15 digits: every such count is exact as a number.
  if (n < 8 || n > 22 || !tag.startsWith("SELECT ")) return -1
  let count = 0
  for (let i = 7; i < n; i++) {
    const d = tag.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    count = count * 10 + d
  }
  return count
}

/**
 * Splits a CommandComplete tag into the command and the row count
 * (protocol-3.2 "CommandComplete": `INSERT oid rows`, `SELECT rows`, ...).
 *
 * @since 0.1.0
 */
export const parseCommandTag = (tag: string): { readonly command: string; readonly rowCount: number | null } => {
  // The common tag first, without slicing.
  const selected = selectCount(tag)
  if (selected >= 0) return { command: "SELECT", rowCount: selected }
  const space = tag.lastIndexOf(" ")
  if (space === -1) return { command: tag, rowCount: null }
  const last = tag.slice(space + 1)
  const n = Number(last)
  if (last.length === 0 || !Number.isInteger(n) || n < 0) return { command: tag, rowCount: null }
  let command = tag.slice(0, space)
  if (command.startsWith("INSERT ")) command = "INSERT"
  if (!countedCommands.has(command)) return { command: tag, rowCount: null }
  return { command, rowCount: n }
}

/**
 * Converts RowDescription fields, with the formats the values will arrive in.
 *
 * **Details**
 *
 * A RowDescription that answers Describe of a statement reports format 0 for
 * every column (the formats are not known until Bind); `formats` overrides it.
 *
 * @since 0.1.0
 */
export const toFields = (
  description: ReadonlyArray<Backend.RowDescription["fields"][number]>,
  formats?: ReadonlyArray<0 | 1>
): ReadonlyArray<Field> =>
  description.map((f, i) => ({
    name: f.name,
    tableOid: f.tableOid,
    columnAttributeNumber: f.columnAttributeNumber,
    dataTypeOid: f.dataTypeOid,
    dataTypeSize: f.dataTypeSize,
    typeModifier: f.typeModifier,
    format: formats === undefined ? f.formatCode : (formats[i] ?? formats[0] ?? 0)
  }))

/**
 * A compiled row reader for one result shape.
 *
 * **Details**
 *
 * Built once per statement (cached statements keep theirs), it reads a DataRow
 * body straight from the receive buffer: one object (or array) per row, one
 * decoder call per non-null value, no intermediate arrays.
 *
 * @since 0.1.0
 */
export class RowShape {
  readonly fields: ReadonlyArray<Field>
  readonly names: ReadonlyArray<string>
  readonly decoders: ReadonlyArray<FieldDecoder>
  readonly count: number
  private readonly protoColumn: boolean
  /** One per shape: the objects of one shape share their hidden class and size. */
  private readonly PlainRow = plainObjectConstructor()

  constructor(fields: ReadonlyArray<Field>, registry: Registry) {
    this.fields = fields
    // Property names as internalized strings: every row object then shares one hidden class
    // without a string-table lookup per property.
    this.names = fields.map((f) => internalize(f.name))
    this.decoders = fields.map((f) => registry.decoder(f.dataTypeOid, f.format))
    this.count = fields.length
    this.protoColumn = this.names.includes("__proto__")
  }

  /** Reads one DataRow body into an object. Throws `PgError` (CodecError or ProtocolError). */
  readObject(buf: Uint8Array, start: number, end: number): Row {
    const n = this.count
    let p = start + 2
    if (p > end || ((buf[start]! << 8) | buf[start + 1]!) !== n) this.columnCountMismatch(buf, start, end)
    const names = this.names
    const decoders = this.decoders
    // A column named __proto__ must be an own property, not the row's prototype.
    const row: Row = this.protoColumn ? Object.create(null) : new this.PlainRow()
    let i = 0
    try {
      for (; i < n; i++) {
        if (p + 4 > end) break
        const len = (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!
        p += 4
        if (len === -1) {
          row[names[i]!] = null
          continue
        }
        if (len < 0 || p + len > end) break
        row[names[i]!] = decoders[i]!(buf, p, p + len)
        p += len
      }
    } catch (e) {
      this.decodeFailure(i, e)
    }
    if (i !== n || p !== end) this.truncated(p - start)
    return row
  }

  /** Reads one DataRow body into an array (positional rows). */
  readArray(buf: Uint8Array, start: number, end: number): Array<unknown> {
    const n = this.count
    let p = start + 2
    if (p > end || ((buf[start]! << 8) | buf[start + 1]!) !== n) this.columnCountMismatch(buf, start, end)
    const decoders = this.decoders
    const row = new Array<unknown>(n)
    let i = 0
    try {
      for (; i < n; i++) {
        if (p + 4 > end) break
        const len = (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!
        p += 4
        if (len === -1) {
          row[i] = null
          continue
        }
        if (len < 0 || p + len > end) break
        row[i] = decoders[i]!(buf, p, p + len)
        p += len
      }
    } catch (e) {
      this.decodeFailure(i, e)
    }
    if (i !== n || p !== end) this.truncated(p - start)
    return row
  }

  /** A decoder threw for column `i`: a CodecError naming the column. */
  private decodeFailure(i: number, e: unknown): never {
    const field = this.fields[i]!
    if (e instanceof CodecError) {
      throw new PgError({
        reason: new CodecError({ message: `column "${field.name}": ${e.message}`, oid: field.dataTypeOid, column: field.name })
      })
    }
    if (e instanceof PgError) throw e
    throw new PgError({
      reason: new CodecError({
        message: `column "${field.name}": ${e instanceof Error ? e.message : String(e)}`,
        oid: field.dataTypeOid,
        column: field.name
      })
    })
  }

  private columnCountMismatch(buf: Uint8Array, start: number, end: number): never {
    const got = end - start >= 2 ? (buf[start]! << 8) | buf[start + 1]! : -1
    throw new PgError({
      reason: new ProtocolError({
        message: `DataRow has ${got} columns but the RowDescription has ${this.count}`,
        messageName: "DataRow",
        offset: 0
      })
    })
  }

  private truncated(offset: number): never {
    throw new PgError({
      reason: new ProtocolError({ message: `DataRow: malformed value at offset ${offset}`, messageName: "DataRow", offset })
    })
  }
}

const EMPTY_NOTICES: ReadonlyArray<Notice> = []

/**
 * Builds a result from what a statement received.
 *
 * @since 0.1.0
 */
export const makeResult = <R>(
  rows: ReadonlyArray<R>,
  fields: ReadonlyArray<Field>,
  tag: string,
  notices: ReadonlyArray<Notice> | undefined
): QueryResult<R> => {
  const selected = selectCount(tag)
  if (selected >= 0) return { rows, fields, command: "SELECT", rowCount: selected, notices: notices ?? EMPTY_NOTICES }
  const { command, rowCount } = parseCommandTag(tag)
  return { rows, fields, command, rowCount, notices: notices ?? EMPTY_NOTICES }
}

/**
 * Converts ErrorResponse/NoticeResponse fields into a `Notice`.
 *
 * @since 0.1.0
 */
export const toNotice = (fields: Backend.NoticeResponse["fields"]): Notice => {
  const map: Record<string, string> = {}
  for (const f of fields) map[f.code] = f.value
  return {
    severity: map["V"] ?? map["S"] ?? "NOTICE",
    code: map["C"] ?? "00000",
    message: map["M"] ?? "",
    detail: map["D"],
    hint: map["H"],
    where: map["W"],
    fields: map
  }
}

/**
 * Whether something thrown is one of the typed failures of the pure layers (malformed bytes, a value a codec
 * refuses) or a `PgError`; anything else is a bug.
 *
 * @since 0.1.0
 */
export const isTypedFailure = (e: unknown): boolean =>
  e instanceof PgError || e instanceof ProtocolError || e instanceof CodecError

/**
 * Converts anything thrown by the pure layers into a `PgError`.
 *
 * @since 0.1.0
 */
export const asPgError = (e: unknown): PgError => {
  if (e instanceof PgError) return e
  if (e instanceof ProtocolError) return new PgError({ reason: e })
  if (e instanceof CodecError) return new PgError({ reason: e })
  return new PgError({
    reason: new ProtocolError({ message: `internal error: ${e instanceof Error ? e.message : String(e)}` })
  })
}
