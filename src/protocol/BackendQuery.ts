/**
 * What the server sends in answer to a query (protocol-3.2 "Message
 * Formats", "Simple Query" and "Extended Query"): the shape of the rows
 * (RowDescription, ParameterDescription, NoData), the rows (DataRow, with the
 * session's allocation-free `readDataRowInto`), the end of each step
 * (ParseComplete, BindComplete, CloseComplete, CommandComplete,
 * EmptyQueryResponse, PortalSuspended), the end of the cycle (ReadyForQuery)
 * and a FunctionCall's result, each with its Schema, reader and writer.
 *
 * **Details**
 *
 * - DataRow values and a FunctionCallResponse's result are views into the
 *   frame, `null` for SQL NULL.
 * - Messages without a body, and ReadyForQuery's three states, decode to
 *   shared frozen objects, so the hot path allocates nothing for them.
 *
 * Re-exported by `Backend` under the same names. Pure: no Effect runtime, no
 * IO; decoding column values is the types layer's job.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { Backend as Code } from "../wire/Codes.ts"
import type { Reader } from "../wire/Reader.ts"
import { Array16, readFormatCode, writeCount16 } from "./CodecParts.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"

// ---------------------------------------------------------------------------
// BindComplete (B) '2', CloseComplete (B) '3'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const BindCompleteSchema = Schema.TaggedStruct("BindComplete", {})
/** @since 0.1.0 */
export interface BindComplete extends Schema.Schema.Type<typeof BindCompleteSchema> {}
/** @since 0.1.0 */
export const BindComplete: Message.Codec<BindComplete> = Message.empty({
  name: "BindComplete",
  type: Code.BindComplete,
  schema: BindCompleteSchema
})

/** @since 0.1.0 */
export const CloseCompleteSchema = Schema.TaggedStruct("CloseComplete", {})
/** @since 0.1.0 */
export interface CloseComplete extends Schema.Schema.Type<typeof CloseCompleteSchema> {}
/** @since 0.1.0 */
export const CloseComplete: Message.Codec<CloseComplete> = Message.empty({
  name: "CloseComplete",
  type: Code.CloseComplete,
  schema: CloseCompleteSchema
})

// ---------------------------------------------------------------------------
// CommandComplete (B) 'C'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const CommandCompleteSchema = Schema.TaggedStruct("CommandComplete", {
  /** The command tag, e.g. "SELECT 3", "INSERT 0 1". */
  tag: Fields.CString
})
/** @since 0.1.0 */
export interface CommandComplete extends Schema.Schema.Type<typeof CommandCompleteSchema> {}
/** @since 0.1.0 */
export const CommandComplete: Message.Codec<CommandComplete> = Message.make({
  name: "CommandComplete",
  type: Code.CommandComplete,
  schema: CommandCompleteSchema,
  readBody: (r) => ({ _tag: "CommandComplete", tag: r.cstring() }),
  writeBody: (w, m) => {
    w.cstring(m.tag)
  }
})

// ---------------------------------------------------------------------------
// DataRow (B) 'D'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const DataRowSchema = Schema.TaggedStruct("DataRow", {
  /** Column values; `null` is SQL NULL (length -1). */
  values: Array16(Fields.NullableBytes)
})
/** @since 0.1.0 */
export interface DataRow extends Schema.Schema.Type<typeof DataRowSchema> {}

/**
 * Reads a DataRow body into `out` (reused across rows: its length is set to
 * the column count) and returns the column count.
 *
 * **Details**
 *
 * For the session's row loop: no message object and no array per row. The
 * reader must already be reset to the body (`reader.reset(buf, start, end,
 * "DataRow")`). Each value is a view into the frame (no copy), or `null` for
 * SQL NULL. Throws `ProtocolError` on a malformed body.
 *
 * @since 0.1.0
 */
export const readDataRowInto = (r: Reader, out: Array<Uint8Array | null>): number => {
  const n = r.countU16("column", 4)
  out.length = n
  for (let i = 0; i < n; i++) out[i] = r.nullableBytes()
  r.done()
  return n
}

/**
 * One row of a result. Values are views into the frame.
 *
 * @since 0.1.0
 */
export const DataRow: Message.Codec<DataRow> = Message.make({
  name: "DataRow",
  type: Code.DataRow,
  schema: DataRowSchema,
  readBody: (r) => {
    const n = r.countU16("column", 4)
    const values: Array<Uint8Array | null> = new Array(n)
    for (let i = 0; i < n; i++) values[i] = r.nullableBytes()
    return { _tag: "DataRow", values }
  },
  writeBody: (w, m) => {
    writeCount16(w, m.values.length, "column")
    for (const v of m.values) w.nullableBytes(v)
  }
})

// ---------------------------------------------------------------------------
// EmptyQueryResponse (B) 'I'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const EmptyQueryResponseSchema = Schema.TaggedStruct("EmptyQueryResponse", {})
/** @since 0.1.0 */
export interface EmptyQueryResponse extends Schema.Schema.Type<typeof EmptyQueryResponseSchema> {}
/**
 * The response to an empty query string (in place of CommandComplete).
 *
 * @since 0.1.0
 */
export const EmptyQueryResponse: Message.Codec<EmptyQueryResponse> = Message.empty({
  name: "EmptyQueryResponse",
  type: Code.EmptyQueryResponse,
  schema: EmptyQueryResponseSchema
})

// ---------------------------------------------------------------------------
// FunctionCallResponse (B) 'V'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const FunctionCallResponseSchema = Schema.TaggedStruct("FunctionCallResponse", {
  /** The function result, or `null` for a NULL result (length -1). */
  result: Fields.NullableBytes
})
/** @since 0.1.0 */
export interface FunctionCallResponse extends Schema.Schema.Type<typeof FunctionCallResponseSchema> {}
/**
 * The result of a FunctionCall. `result` is a view into the frame.
 *
 * @since 0.1.0
 */
export const FunctionCallResponse: Message.Codec<FunctionCallResponse> = Message.make({
  name: "FunctionCallResponse",
  type: Code.FunctionCallResponse,
  schema: FunctionCallResponseSchema,
  readBody: (r) => ({ _tag: "FunctionCallResponse", result: r.nullableBytes() }),
  writeBody: (w, m) => {
    w.nullableBytes(m.result)
  }
})

// ---------------------------------------------------------------------------
// NoData (B) 'n'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const NoDataSchema = Schema.TaggedStruct("NoData", {})
/** @since 0.1.0 */
export interface NoData extends Schema.Schema.Type<typeof NoDataSchema> {}
/**
 * The described statement or portal returns no rows.
 *
 * @since 0.1.0
 */
export const NoData: Message.Codec<NoData> = Message.empty({
  name: "NoData",
  type: Code.NoData,
  schema: NoDataSchema
})

// ---------------------------------------------------------------------------
// ParameterDescription (B) 't'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const ParameterDescriptionSchema = Schema.TaggedStruct("ParameterDescription", {
  /**
   * The type OID of each parameter (unsigned 32-bit). The count is an Int16 on
   * the wire but the server allows 65535 parameters, so it is read unsigned.
   */
  parameterTypes: Array16(Fields.UInt32)
})
/** @since 0.1.0 */
export interface ParameterDescription extends Schema.Schema.Type<typeof ParameterDescriptionSchema> {}
/** @since 0.1.0 */
export const ParameterDescription: Message.Codec<ParameterDescription> = Message.make({
  name: "ParameterDescription",
  type: Code.ParameterDescription,
  schema: ParameterDescriptionSchema,
  readBody: (r) => {
    const n = r.countU16("parameter", 4)
    const parameterTypes: Array<number> = new Array(n)
    for (let i = 0; i < n; i++) parameterTypes[i] = r.uint32()
    return { _tag: "ParameterDescription", parameterTypes }
  },
  writeBody: (w, m) => {
    writeCount16(w, m.parameterTypes.length, "parameter")
    for (const oid of m.parameterTypes) w.uint32(oid)
  }
})

// ---------------------------------------------------------------------------
// ParseComplete (B) '1', PortalSuspended (B) 's'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const ParseCompleteSchema = Schema.TaggedStruct("ParseComplete", {})
/** @since 0.1.0 */
export interface ParseComplete extends Schema.Schema.Type<typeof ParseCompleteSchema> {}
/** @since 0.1.0 */
export const ParseComplete: Message.Codec<ParseComplete> = Message.empty({
  name: "ParseComplete",
  type: Code.ParseComplete,
  schema: ParseCompleteSchema
})

/** @since 0.1.0 */
export const PortalSuspendedSchema = Schema.TaggedStruct("PortalSuspended", {})
/** @since 0.1.0 */
export interface PortalSuspended extends Schema.Schema.Type<typeof PortalSuspendedSchema> {}
/**
 * An Execute's row limit was reached; the portal can be executed again.
 *
 * @since 0.1.0
 */
export const PortalSuspended: Message.Codec<PortalSuspended> = Message.empty({
  name: "PortalSuspended",
  type: Code.PortalSuspended,
  schema: PortalSuspendedSchema
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

const READY_IDLE: ReadyForQuery = Object.freeze({ _tag: "ReadyForQuery", transactionStatus: "I" })
const READY_IN_TRANSACTION: ReadyForQuery = Object.freeze({ _tag: "ReadyForQuery", transactionStatus: "T" })
const READY_FAILED: ReadyForQuery = Object.freeze({ _tag: "ReadyForQuery", transactionStatus: "E" })

/**
 * The server is ready for a new query cycle. Decodes to one of three shared
 * frozen objects.
 *
 * @since 0.1.0
 */
export const ReadyForQuery: Message.Codec<ReadyForQuery> = Message.make({
  name: "ReadyForQuery",
  type: Code.ReadyForQuery,
  schema: ReadyForQuerySchema,
  readBody: (r) => {
    const b = r.uint8()
    switch (b) {
      case 0x49:
        return READY_IDLE
      case 0x54:
        return READY_IN_TRANSACTION
      case 0x45:
        return READY_FAILED
    }
    r.pos--
    return r.fail(`invalid transaction status 0x${b.toString(16)}`)
  },
  writeBody: (w, m) => {
    w.uint8(m.transactionStatus.charCodeAt(0))
  }
})

// ---------------------------------------------------------------------------
// RowDescription (B) 'T'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const RowDescriptionFieldSchema = Schema.Struct({
  /** The field (column) name. */
  name: Fields.CString,
  /** The table's OID if the field is a table column, else 0. */
  tableOid: Fields.UInt32,
  /** The column's attribute number if the field is a table column, else 0. */
  columnAttributeNumber: Fields.Int16,
  /** The data type's OID. */
  dataTypeOid: Fields.UInt32,
  /** pg_type.typlen; negative for variable-width types. */
  dataTypeSize: Fields.Int16,
  /** pg_attribute.atttypmod; type-specific. */
  typeModifier: Fields.Int32,
  /** 0 text, 1 binary (always 0 in a Describe of a statement). */
  formatCode: Fields.FormatCode
})
/** @since 0.1.0 */
export interface RowDescriptionField extends Schema.Schema.Type<typeof RowDescriptionFieldSchema> {}

/** @since 0.1.0 */
export const RowDescriptionSchema = Schema.TaggedStruct("RowDescription", {
  fields: Array16(RowDescriptionFieldSchema)
})
/** @since 0.1.0 */
export interface RowDescription extends Schema.Schema.Type<typeof RowDescriptionSchema> {}

/** Bytes a RowDescription field takes at least: an empty name's NUL, then 18 bytes. */
const MIN_ROW_DESCRIPTION_FIELD = 19

/**
 * The shape of the rows that follow.
 *
 * @since 0.1.0
 */
export const RowDescription: Message.Codec<RowDescription> = Message.make({
  name: "RowDescription",
  type: Code.RowDescription,
  schema: RowDescriptionSchema,
  readBody: (r) => {
    const n = r.countU16("field", MIN_ROW_DESCRIPTION_FIELD)
    const fields: Array<RowDescriptionField> = new Array(n)
    for (let i = 0; i < n; i++) {
      const name = r.cstring()
      const tableOid = r.uint32()
      const columnAttributeNumber = r.int16()
      const dataTypeOid = r.uint32()
      const dataTypeSize = r.int16()
      const typeModifier = r.int32()
      const formatCode = readFormatCode(r)
      fields[i] = { name, tableOid, columnAttributeNumber, dataTypeOid, dataTypeSize, typeModifier, formatCode }
    }
    return { _tag: "RowDescription", fields }
  },
  writeBody: (w, m) => {
    writeCount16(w, m.fields.length, "field")
    for (const f of m.fields) {
      w.cstring(f.name)
      w.uint32(f.tableOid)
      w.int16(f.columnAttributeNumber)
      w.uint32(f.dataTypeOid)
      w.int16(f.dataTypeSize)
      w.int32(f.typeModifier)
      w.int16(f.formatCode)
    }
  }
})
