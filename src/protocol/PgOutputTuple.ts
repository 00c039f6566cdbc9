/**
 * The TupleData message part of `pgoutput` row changes (protocol-3.2
 * "Logical Replication Message Formats", TupleData) and the submessage bytes
 * that introduce it: 'N' the new tuple, 'K' the old key, 'O' the old tuple.
 * Columns are `null`, `unchangedToast` (the value was not sent), `text` or
 * `binary`; values are views of the decoded buffer.
 *
 * Re-exported by `PgOutput`, the public module (`TupleColumnSchema`,
 * `TupleColumn`, `TupleDataSchema`, `TupleData`); the readers and writers are
 * internal to the `PgOutput*` files. Not here: the messages that carry tuples
 * (`PgOutputChanges`). Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type { Reader } from "../wire/Reader.ts"
import type { Writer } from "../wire/Writer.ts"
import * as Fields from "./Fields.ts"

// TupleData submessage bytes.
export const TUPLE_NEW = 0x4e // 'N'
export const TUPLE_KEY = 0x4b // 'K'
export const TUPLE_OLD = 0x4f // 'O'
const COLUMN_NULL = 0x6e // 'n'
const COLUMN_UNCHANGED = 0x75 // 'u'
const COLUMN_TEXT = 0x74 // 't'
const COLUMN_BINARY = 0x62 // 'b'

// ---------------------------------------------------------------------------
// TupleData
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const TupleColumnSchema = Schema.Union([
  /** 'n': SQL NULL. */
  Schema.Struct({ kind: Schema.Literal("null") }),
  /** 'u': an unchanged TOASTed value; the value itself was not sent. */
  Schema.Struct({ kind: Schema.Literal("unchangedToast") }),
  /** 't': the value in text format. */
  Schema.Struct({ kind: Schema.Literal("text"), value: Fields.Bytes }),
  /** 'b': the value in binary format (`binary = true` subscriptions). */
  Schema.Struct({ kind: Schema.Literal("binary"), value: Fields.Bytes })
])
/** @since 0.1.0 */
export type TupleColumn = typeof TupleColumnSchema.Type

/**
 * The TupleData message part: one entry per published column.
 *
 * @since 0.1.0
 */
export const TupleDataSchema = Schema.Array(TupleColumnSchema).check(Schema.isMaxLength(32767))
/** @since 0.1.0 */
export type TupleData = typeof TupleDataSchema.Type

const nullColumn: TupleColumn = { kind: "null" }
const unchangedColumn: TupleColumn = { kind: "unchangedToast" }

export const readTupleData = (r: Reader): TupleData => {
  const n = r.count16("column", 32767)
  const columns: Array<TupleColumn> = new Array(n)
  for (let i = 0; i < n; i++) {
    const kind = r.uint8()
    switch (kind) {
      case COLUMN_NULL:
        columns[i] = nullColumn
        break
      case COLUMN_UNCHANGED:
        columns[i] = unchangedColumn
        break
      case COLUMN_TEXT:
      case COLUMN_BINARY: {
        const length = r.int32()
        if (length < 0) {
          r.pos -= 4
          r.fail(`column ${i} has negative length ${length}`)
        }
        const value = r.bytes(length)
        columns[i] = kind === COLUMN_TEXT ? { kind: "text", value } : { kind: "binary", value }
        break
      }
      default:
        r.pos--
        r.fail(`column ${i} has unknown kind 0x${kind.toString(16).padStart(2, "0")}`)
    }
  }
  return columns
}

export const writeTupleData = (w: Writer, columns: TupleData): void => {
  if (columns.length > 32767) w.fail(`${columns.length} columns exceeds 32767`)
  w.int16(columns.length)
  for (const column of columns) {
    switch (column.kind) {
      case "null":
        w.uint8(COLUMN_NULL)
        break
      case "unchangedToast":
        w.uint8(COLUMN_UNCHANGED)
        break
      case "text":
        w.uint8(COLUMN_TEXT).int32(column.value.length).bytes(column.value)
        break
      case "binary":
        w.uint8(COLUMN_BINARY).int32(column.value.length).bytes(column.value)
        break
    }
  }
}

// ---------------------------------------------------------------------------
// The tuple parts of Insert, Update and Delete
// ---------------------------------------------------------------------------

/** The optional 'K' / 'O' part of Update and Delete. */
export interface OldParts {
  key: TupleData | undefined
  oldTuple: TupleData | undefined
}

/** Reads the submessage byte `part` ('N', 'K' or 'O') that must come next. */
export const expectPart = (r: Reader, part: number, what: string): void => {
  const b = r.uint8()
  if (b !== part) {
    r.pos--
    r.fail(`expected ${what} ('${String.fromCharCode(part)}'), got 0x${b.toString(16).padStart(2, "0")}`)
  }
}

/** Reads the optional 'K' / 'O' part; leaves the reader on the byte after it. */
export const readOldParts = (r: Reader, required: boolean): OldParts => {
  const b = r.uint8()
  if (b === TUPLE_KEY) return { key: readTupleData(r), oldTuple: undefined }
  if (b === TUPLE_OLD) return { key: undefined, oldTuple: readTupleData(r) }
  if (required) {
    r.pos--
    r.fail(`expected a key ('K') or old tuple ('O'), got 0x${b.toString(16).padStart(2, "0")}`)
  }
  r.pos--
  return { key: undefined, oldTuple: undefined }
}

export const writeOldParts = (w: Writer, key: TupleData | undefined, oldTuple: TupleData | undefined): void => {
  if (key !== undefined) {
    w.uint8(TUPLE_KEY)
    writeTupleData(w, key)
  } else if (oldTuple !== undefined) {
    w.uint8(TUPLE_OLD)
    writeTupleData(w, oldTuple)
  }
}
