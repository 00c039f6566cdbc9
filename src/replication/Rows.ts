/**
 * Row values of logical changes, decoded through the type registry by the
 * Relation's column types (or a table's Schema).
 *
 * **Details**
 *
 * - The codecs of a relation's columns are looked up once per Relation
 *   message, not once per value.
 * - An Insert's new row, the bulk of most change streams, is decoded straight
 *   from the payload bytes (`tupleRow`): no intermediate tuple objects or
 *   views per value. Anything unusual in the bytes returns `undefined`, and
 *   the caller takes the general path, whose decoder reports the exact fault.
 * - The rows of one relation are objects of one constructor with the same
 *   (internalized) property names, so they share a hidden class.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { CodecError, PgError } from "../errors/PgError.ts"
import type * as PgOutput from "../protocol/PgOutput.ts"
import type { Registry } from "../types/Registry.ts"

/**
 * The marker of a TOASTed value the server did not send (it did not change).
 *
 * @since 0.1.0
 */
export const Unchanged: unique symbol = Symbol.for("effect-pgwire/replication/Unchanged")
/** @since 0.1.0 */
export type Unchanged = typeof Unchanged

/**
 * A decoded row: column name to value (`null`, `Unchanged`, or the decoded value).
 *
 * @since 0.1.0
 */
export type Row = Readonly<Record<string, unknown>>

/**
 * A relation as the server last described it.
 *
 * @since 0.1.0
 */
export interface RelationInfo {
  readonly oid: number
  readonly schema: string
  readonly name: string
  /** `schema.name`. */
  readonly table: string
  readonly replicaIdentity: PgOutput.ReplicaIdentity
  readonly columns: ReadonlyArray<{
    readonly name: string
    readonly typeOid: number
    readonly typeModifier: number
    readonly key: boolean
  }>
}

const utf8 = new TextDecoder()

const COLUMN_NULL = 0x6e // 'n'
const COLUMN_UNCHANGED = 0x75 // 'u'
const COLUMN_TEXT = 0x74 // 't'
const COLUMN_BINARY = 0x62 // 'b'

type FieldDecoder = (buf: Uint8Array, start: number, end: number) => unknown

/** A type the registry does not know: its text as a string, its binary form as a copy of the bytes. */
const textFallback: FieldDecoder = (buf, start, end) => utf8.decode(buf.subarray(start, end))
const bytesFallback: FieldDecoder = (buf, start, end) => buf.slice(start, end)

/** The same string, internalized: every row of a relation then shares one hidden class (as in `RowShape`). */
const internalize = (name: string): string => Object.keys({ [name]: 0 })[0] ?? name

/**
 * How the rows of one relation are built, made once per Relation message: the column names, a decoder per
 * column and format, and a constructor of plain objects (V8 sizes the objects of one constructor to the
 * properties they end up with, so every column is stored in the row itself).
 */
class Shape {
  readonly names: ReadonlyArray<string>
  readonly text: ReadonlyArray<FieldDecoder>
  readonly binary: ReadonlyArray<FieldDecoder>
  /** A column named `__proto__` must be an own property, not the row's prototype. */
  readonly protoColumn: boolean
  readonly Row: new() => Record<string, unknown>

  constructor(relation: RelationInfo, registry: Registry) {
    this.names = relation.columns.map((c) => internalize(c.name))
    const codecs = relation.columns.map((c) => registry.get(c.typeOid))
    this.text = codecs.map((c) => c?.decodeText ?? textFallback)
    this.binary = codecs.map((c) => c?.decodeBinary ?? bytesFallback)
    this.protoColumn = this.names.includes("__proto__")
    function Row() {}
    Row.prototype = Object.prototype
    this.Row = Row as unknown as new() => Record<string, unknown>
  }

  make(): Record<string, unknown> {
    return this.protoColumn ? Object.create(null) : new this.Row()
  }
}

/**
 * @since 0.1.0
 */
export class RowDecoder {
  readonly registry: Registry
  readonly tables: Readonly<Record<string, Schema.Decoder<unknown>>>
  private readonly shapes = new WeakMap<RelationInfo, Shape>()

  constructor(registry: Registry, tables: Readonly<Record<string, Schema.Decoder<unknown>>>) {
    this.registry = registry
    this.tables = tables
  }

  private shapeOf(relation: RelationInfo): Shape {
    let shape = this.shapes.get(relation)
    if (shape === undefined) {
      shape = new Shape(relation, this.registry)
      this.shapes.set(relation, shape)
    }
    return shape
  }

  /**
   * Decodes a TupleData by the relation's columns (`partial`: a key or old tuple, not run through the table's
   * Schema). An unchanged TOASTed value is taken from `old` when the server sent the old row (REPLICA IDENTITY
   * FULL still sends 'u' in the new tuple), else it is `Unchanged`.
   */
  row(relation: RelationInfo, tuple: PgOutput.TupleData, partial = false, old?: Row): Row {
    const shape = this.shapeOf(relation)
    const row = shape.make()
    const n = Math.min(tuple.length, relation.columns.length)
    for (let i = 0; i < n; i++) {
      const name = shape.names[i]!
      const c = tuple[i]!
      const value = c.kind === "null"
        ? null
        : c.kind === "unchangedToast"
        ? Unchanged
        : this.value(c.kind === "binary" ? shape.binary[i]! : shape.text[i]!, c.value, 0, c.value.length, relation, i)
      row[name] = value === Unchanged && old !== undefined && old[name] !== Unchanged ? old[name] : value
    }
    return partial ? row : this.bySchema(relation, row)
  }

  /**
   * The old key of an Update or Delete (DEFAULT or INDEX identity): only the identity's columns (the server sends
   * the others as nulls that say nothing about the row).
   */
  key(relation: RelationInfo, tuple: PgOutput.TupleData): Row {
    const row = this.row(relation, tuple, true) as Record<string, unknown>
    for (const c of relation.columns) if (!c.key) delete row[c.name]
    return row
  }

  /**
   * A new row read straight from a payload: the TupleData's column count and columns in `data[start, end)`,
   * which they must fill exactly; `undefined` for bytes out of shape (the general path reports those). Values
   * are decoded without intermediate objects or views.
   */
  tupleRow(relation: RelationInfo, data: Uint8Array, start: number, end: number): Row | undefined {
    let p = start
    if (p + 2 > end) return undefined
    const n = (data[p]! << 8) | data[p + 1]!
    p += 2
    if (n > relation.columns.length) return undefined
    const shape = this.shapeOf(relation)
    const names = shape.names
    const row = shape.make()
    let i = 0
    try {
      for (; i < n; i++) {
        if (p >= end) return undefined
        const kind = data[p++]
        if (kind === COLUMN_NULL) row[names[i]!] = null
        else if (kind === COLUMN_UNCHANGED) row[names[i]!] = Unchanged
        else if (kind === COLUMN_TEXT || kind === COLUMN_BINARY) {
          if (p + 4 > end) return undefined
          const length = (data[p]! << 24) | (data[p + 1]! << 16) | (data[p + 2]! << 8) | data[p + 3]!
          p += 4
          if (length < 0 || p + length > end) return undefined
          const decode = kind === COLUMN_TEXT ? shape.text[i]! : shape.binary[i]!
          row[names[i]!] = decode(data, p, p + length)
          p += length
        } else return undefined
      }
    } catch (e) {
      throw valueError(e, relation, i)
    }
    if (p !== end) return undefined
    return this.bySchema(relation, row)
  }

  private value(
    decode: FieldDecoder,
    buf: Uint8Array,
    start: number,
    end: number,
    relation: RelationInfo,
    index: number
  ): unknown {
    try {
      return decode(buf, start, end)
    } catch (e) {
      throw valueError(e, relation, index)
    }
  }

  private bySchema(relation: RelationInfo, row: Row): Row {
    const schema = this.tables[relation.table]
    if (schema === undefined) return row
    try {
      return Schema.decodeUnknownSync(schema)(row) as Row
    } catch (e) {
      throw new PgError({
        reason: new CodecError({
          message: `a row of ${relation.table} does not match its schema: ${e instanceof Error ? e.message : String(e)}`
        })
      })
    }
  }
}

/** A value's decoder failed: a `PgError` naming the column and its type. */
const valueError = (e: unknown, relation: RelationInfo, index: number): PgError => {
  const column = relation.columns[index]!
  const oid = column.typeOid
  if (e instanceof CodecError) return new PgError({ reason: new CodecError({ ...e, column: column.name, oid, message: e.message }) })
  if (e instanceof PgError) return e
  return new PgError({ reason: new CodecError({ message: String(e), column: column.name, oid }) })
}
