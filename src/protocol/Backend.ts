/**
 * Messages sent by the server (protocol-3.2 "Message Formats", every message
 * marked "(B)"), each with its Schema, reader and writer, in the order of the
 * documentation.
 *
 * Pure: no Effect runtime, no IO. DataRow fields stay bytes: decoding column
 * values is the types layer's job.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { Backend as Code } from "../wire/Codes.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"

// ---------------------------------------------------------------------------
// DataRow (B) 'D'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const DataRowSchema = Schema.TaggedStruct("DataRow", {
  /** Column values; `null` is SQL NULL (length -1). */
  values: Schema.Array(Fields.NullableBytes)
})
/** @since 0.1.0 */
export interface DataRow extends Schema.Schema.Type<typeof DataRowSchema> {}

/** @since 0.1.0 */
export const DataRow: Message.Codec<DataRow> = Message.make({
  name: "DataRow",
  type: Code.DataRow,
  schema: DataRowSchema,
  readBody: (r) => {
    const n = r.count16("column", 65535)
    const values: Array<Uint8Array | null> = new Array(n)
    for (let i = 0; i < n; i++) values[i] = r.nullableBytes()
    return { _tag: "DataRow", values }
  },
  writeBody: (w, m) => {
    if (m.values.length > 65535) w.fail(`${m.values.length} columns exceeds 65535`)
    w.int16(m.values.length)
    for (const v of m.values) w.nullableBytes(v)
  }
})

// ---------------------------------------------------------------------------
// ReadyForQuery (B) 'Z'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const TransactionStatus = Schema.Literals(["I", "T", "E"])
/** @since 0.1.0 */
export type TransactionStatus = typeof TransactionStatus.Type

/** @since 0.1.0 */
export const ReadyForQuerySchema = Schema.TaggedStruct("ReadyForQuery", {
  /** 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block. */
  transactionStatus: TransactionStatus
})
/** @since 0.1.0 */
export interface ReadyForQuery extends Schema.Schema.Type<typeof ReadyForQuerySchema> {}

/** @since 0.1.0 */
export const ReadyForQuery: Message.Codec<ReadyForQuery> = Message.make({
  name: "ReadyForQuery",
  type: Code.ReadyForQuery,
  schema: ReadyForQuerySchema,
  readBody: (r) => {
    const b = r.uint8()
    if (b !== 0x49 && b !== 0x54 && b !== 0x45) {
      r.pos--
      r.fail(`invalid transaction status 0x${b.toString(16)}`)
    }
    return { _tag: "ReadyForQuery", transactionStatus: String.fromCharCode(b) as TransactionStatus }
  },
  writeBody: (w, m) => {
    w.uint8(m.transactionStatus.charCodeAt(0))
  }
})
