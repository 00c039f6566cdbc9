/**
 * Server messages for the fake server's scripts (`FakeServer`), built in text
 * format, which is enough for scripted results: RowDescription, DataRow,
 * CommandComplete, ReadyForQuery, ErrorResponse, NoticeResponse, and
 * `encodeAll`, which encodes messages with the project's own `Backend` codec
 * into one socket write.
 *
 * Re-exported by `FakeServer`. Not here: the script steps (`FakeServerScript`)
 * and the server (`FakeServer`).
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Backend from "../../src/protocol/Backend.ts"

// ---------------------------------------------------------------------------
// Message builders (text format: enough for scripted results)
// ---------------------------------------------------------------------------

/** The OID of `text`. */
const TEXT_OID = 25

/**
 * A RowDescription of text-format columns (type `text` unless given).
 *
 * @since 0.1.0
 */
export const rowDescription = (
  columns: ReadonlyArray<string | { readonly name: string; readonly oid: number }>
): Backend.RowDescription => ({
  _tag: "RowDescription",
  fields: columns.map((c) => ({
    name: typeof c === "string" ? c : c.name,
    tableOid: 0,
    columnAttributeNumber: 0,
    dataTypeOid: typeof c === "string" ? TEXT_OID : c.oid,
    dataTypeSize: -1,
    typeModifier: -1,
    formatCode: 0
  }))
})

/**
 * A DataRow of text values (`null` for SQL NULL).
 *
 * @since 0.1.0
 */
export const dataRow = (values: ReadonlyArray<string | null>): Backend.DataRow => ({
  _tag: "DataRow",
  values: values.map((v) => (v === null ? null : new TextEncoder().encode(v)))
})

/**
 * @since 0.1.0
 */
export const commandComplete = (tag: string): Backend.CommandComplete => ({ _tag: "CommandComplete", tag })

/**
 * @since 0.1.0
 */
export const readyForQuery = (transactionStatus: Backend.TransactionStatus = "I"): Backend.ReadyForQuery => ({
  _tag: "ReadyForQuery",
  transactionStatus
})

/**
 * An ErrorResponse with severity (both localized and not), SQLSTATE and
 * message.
 *
 * @since 0.1.0
 */
export const errorResponse = (
  code: string,
  message: string,
  severity: "ERROR" | "FATAL" | "PANIC" = "ERROR"
): Backend.ErrorResponse => ({
  _tag: "ErrorResponse",
  fields: [
    { code: "S", value: severity },
    { code: "V", value: severity },
    { code: "C", value: code },
    { code: "M", value: message }
  ]
})

/**
 * A NoticeResponse (severity NOTICE, SQLSTATE 00000 unless given).
 *
 * @since 0.1.0
 */
export const noticeResponse = (message: string, code = "00000"): Backend.NoticeResponse => ({
  _tag: "NoticeResponse",
  fields: [
    { code: "S", value: "NOTICE" },
    { code: "V", value: "NOTICE" },
    { code: "C", value: code },
    { code: "M", value: message }
  ]
})

/**
 * Encodes messages into one byte array (one socket write). Throws on a
 * message the codecs refuse.
 *
 * @since 0.1.0
 */
export const encodeAll = (messages: ReadonlyArray<Backend.BackendMessage>): Uint8Array => {
  const frames = messages.map((m) => {
    const encoded = Backend.encode(m)
    if (Result.isFailure(encoded)) throw new Error(`FakeServer: cannot encode ${m._tag}: ${encoded.failure.message}`)
    return encoded.success
  })
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0))
  let at = 0
  for (const f of frames) {
    out.set(f, at)
    at += f.length
  }
  return out
}
