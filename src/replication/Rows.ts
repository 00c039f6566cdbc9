/**
 * Row values of logical changes, decoded through the type registry by the
 * Relation's column types (or a table's Schema).
 *
 * **Details**
 *
 * - The codecs of a relation's columns are looked up once per Relation
 *   message, not once per value.
 * - An Insert's new row, the bulk of most change streams, is decoded straight
 *   from the payload bytes (`insertRow`): no intermediate tuple objects or
 *   views per value. Anything unusual in the bytes returns `undefined`, and
 *   the caller takes the general path, whose decoder reports the exact fault.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { CodecError, PgError } from "../errors/PgError.ts"
import type * as PgOutput from "../protocol/PgOutput.ts"
import type { Registry } from "../types/Registry.ts"
import type { TypeCodec } from "../types/TypeCodec.ts"

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
const TUPLE_NEW = 0x4e // 'N'

type Codec = TypeCodec<any> | undefined

/**
 * @since 0.1.0
 */
export class RowDecoder {
  readonly registry: Registry
  readonly tables: Readonly<Record<string, Schema.Decoder<unknown>>>
  private readonly codecs = new WeakMap<RelationInfo, ReadonlyArray<Codec>>()

  constructor(registry: Registry, tables: Readonly<Record<string, Schema.Decoder<unknown>>>) {
    this.registry = registry
    this.tables = tables
  }

  private codecsOf(relation: RelationInfo): ReadonlyArray<Codec> {
    let codecs = this.codecs.get(relation)
    if (codecs === undefined) {
      codecs = relation.columns.map((c) => this.registry.get(c.typeOid))
      this.codecs.set(relation, codecs)
    }
    return codecs
  }

  /**
   * Decodes a TupleData by the relation's columns (`partial`: a key or old tuple, not run through the table's
   * Schema). An unchanged TOASTed value is taken from `old` when the server sent the old row (REPLICA IDENTITY
   * FULL still sends 'u' in the new tuple), else it is `Unchanged`.
   */
  row(relation: RelationInfo, tuple: PgOutput.TupleData, partial = false, old?: Row): Row {
    const codecs = this.codecsOf(relation)
    const row: Record<string, unknown> = {}
    const n = Math.min(tuple.length, relation.columns.length)
    for (let i = 0; i < n; i++) {
      const name = relation.columns[i]!.name
      const c = tuple[i]!
      const value = c.kind === "null"
        ? null
        : c.kind === "unchangedToast"
        ? Unchanged
        : this.value(codecs[i], c.kind === "binary", c.value, 0, c.value.length, relation, i)
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
   * The new row of an Insert payload (`'I'`, the xid inside a stream, the relation, `'N'`, the columns), decoded
   * from its bytes; `undefined` for an unknown relation or bytes out of shape (the general path reports those).
   */
  insertRow(
    data: Uint8Array,
    inStream: boolean,
    relations: ReadonlyMap<number, RelationInfo>
  ): { readonly relation: RelationInfo; readonly row: Row } | undefined {
    let p = inStream ? 5 : 1
    const end = data.length
    if (end < p + 7) return undefined
    const oid = ((data[p]! << 24) | (data[p + 1]! << 16) | (data[p + 2]! << 8) | data[p + 3]!) >>> 0
    p += 4
    const relation = relations.get(oid)
    if (relation === undefined || data[p] !== TUPLE_NEW) return undefined
    const n = (data[p + 1]! << 8) | data[p + 2]!
    p += 3
    if (n > relation.columns.length) return undefined
    const codecs = this.codecsOf(relation)
    const row: Record<string, unknown> = {}
    for (let i = 0; i < n; i++) {
      if (p >= end) return undefined
      const kind = data[p++]
      const name = relation.columns[i]!.name
      if (kind === COLUMN_NULL) row[name] = null
      else if (kind === COLUMN_UNCHANGED) row[name] = Unchanged
      else if (kind === COLUMN_TEXT || kind === COLUMN_BINARY) {
        if (p + 4 > end) return undefined
        const length = (data[p]! << 24) | (data[p + 1]! << 16) | (data[p + 2]! << 8) | data[p + 3]!
        p += 4
        if (length < 0 || p + length > end) return undefined
        row[name] = this.value(codecs[i], kind === COLUMN_BINARY, data, p, p + length, relation, i)
        p += length
      } else return undefined
    }
    if (p !== end) return undefined
    return { relation, row: this.bySchema(relation, row) }
  }

  private value(
    codec: Codec,
    binary: boolean,
    buf: Uint8Array,
    start: number,
    end: number,
    relation: RelationInfo,
    index: number
  ): unknown {
    try {
      if (binary) {
        const decode = codec?.decodeBinary
        return decode === undefined ? buf.slice(start, end) : decode(buf, start, end)
      }
      return codec === undefined ? utf8.decode(buf.subarray(start, end)) : codec.decodeText(buf, start, end)
    } catch (e) {
      const column = relation.columns[index]!
      const oid = column.typeOid
      if (e instanceof CodecError) {
        throw new PgError({ reason: new CodecError({ ...e, column: column.name, oid, message: e.message }) })
      }
      if (e instanceof PgError) throw e
      throw new PgError({ reason: new CodecError({ message: String(e), column: column.name, oid }) })
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
