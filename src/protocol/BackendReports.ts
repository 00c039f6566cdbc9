/**
 * What the server reports rather than answers (protocol-3.2 "Message
 * Formats" and "Asynchronous Operations"): ErrorResponse and NoticeResponse,
 * which share one layout of coded fields, and the asynchronous
 * NotificationResponse and ParameterStatus, which may arrive at any time,
 * each with its Schema, reader and writer.
 *
 * **Details**
 *
 * The fields of an ErrorResponse or NoticeResponse are kept in wire order,
 * unknown codes included; what they mean is `ErrorFields`' job, and what an
 * error does to a session is the session's.
 *
 * Re-exported by `Backend` under the same names. Pure: no Effect runtime, no
 * IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { Backend as Code } from "../wire/Codes.ts"
import type { Reader } from "../wire/Reader.ts"
import type { Writer } from "../wire/Writer.ts"
import * as ErrorFields from "./ErrorFields.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"

// ---------------------------------------------------------------------------
// ErrorResponse (B) 'E', NoticeResponse (B) 'N'
// ---------------------------------------------------------------------------

const readErrorFields = (r: Reader): Array<ErrorFields.ErrorField> => {
  const fields: Array<ErrorFields.ErrorField> = []
  while (true) {
    const code = r.uint8()
    if (code === 0) return fields
    if (code > 0x7f) {
      r.pos -= 1
      r.fail(`invalid field code 0x${code.toString(16)}`)
    }
    fields.push({ code: String.fromCharCode(code), value: r.cstring() })
  }
}

const writeErrorFields = (w: Writer, fields: ReadonlyArray<ErrorFields.ErrorField>): void => {
  for (const field of fields) {
    const c = field.code.charCodeAt(0)
    if (field.code.length !== 1 || c < 1 || c > 0x7f) w.fail(`invalid field code ${JSON.stringify(field.code)}`)
    w.uint8(c)
    w.cstring(field.value)
  }
  w.uint8(0)
}

/** @since 0.1.0 */
export const ErrorResponseSchema = Schema.TaggedStruct("ErrorResponse", {
  /** The fields in wire order, unknown codes included (see `ErrorFields`). */
  fields: ErrorFields.ErrorFieldsSchema
})
/** @since 0.1.0 */
export interface ErrorResponse extends Schema.Schema.Type<typeof ErrorResponseSchema> {}
/**
 * An error. `ErrorFields.toServerError(message.fields)` gives the typed error.
 *
 * @since 0.1.0
 */
export const ErrorResponse: Message.Codec<ErrorResponse> = Message.make({
  name: "ErrorResponse",
  type: Code.ErrorResponse,
  schema: ErrorResponseSchema,
  readBody: (r) => ({ _tag: "ErrorResponse", fields: readErrorFields(r) }),
  writeBody: (w, m) => writeErrorFields(w, m.fields)
})

// ---------------------------------------------------------------------------
// NoticeResponse (B) 'N'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const NoticeResponseSchema = Schema.TaggedStruct("NoticeResponse", {
  /** The fields in wire order, unknown codes included (see `ErrorFields`). */
  fields: ErrorFields.ErrorFieldsSchema
})
/** @since 0.1.0 */
export interface NoticeResponse extends Schema.Schema.Type<typeof NoticeResponseSchema> {}
/**
 * A notice (asynchronous: may arrive at any time).
 *
 * @since 0.1.0
 */
export const NoticeResponse: Message.Codec<NoticeResponse> = Message.make({
  name: "NoticeResponse",
  type: Code.NoticeResponse,
  schema: NoticeResponseSchema,
  readBody: (r) => ({ _tag: "NoticeResponse", fields: readErrorFields(r) }),
  writeBody: (w, m) => writeErrorFields(w, m.fields)
})

// ---------------------------------------------------------------------------
// NotificationResponse (B) 'A'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const NotificationResponseSchema = Schema.TaggedStruct("NotificationResponse", {
  /** The process ID of the notifying backend. */
  processId: Fields.Int32,
  /** The channel the notification was raised on. */
  channel: Fields.CString,
  /** The payload passed by the notifying process. */
  payload: Fields.CString
})
/** @since 0.1.0 */
export interface NotificationResponse extends Schema.Schema.Type<typeof NotificationResponseSchema> {}
/**
 * A NOTIFY on a channel this session listens to (asynchronous).
 *
 * @since 0.1.0
 */
export const NotificationResponse: Message.Codec<NotificationResponse> = Message.make({
  name: "NotificationResponse",
  type: Code.NotificationResponse,
  schema: NotificationResponseSchema,
  readBody: (r) => {
    const processId = r.int32()
    const channel = r.cstring()
    const payload = r.cstring()
    return { _tag: "NotificationResponse", processId, channel, payload }
  },
  writeBody: (w, m) => {
    w.int32(m.processId)
    w.cstring(m.channel)
    w.cstring(m.payload)
  }
})

// ---------------------------------------------------------------------------
// ParameterStatus (B) 'S'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const ParameterStatusSchema = Schema.TaggedStruct("ParameterStatus", {
  /** The run-time parameter being reported. */
  name: Fields.CString,
  /** Its current value. */
  value: Fields.CString
})
/** @since 0.1.0 */
export interface ParameterStatus extends Schema.Schema.Type<typeof ParameterStatusSchema> {}
/**
 * A run-time parameter's value (during startup, then on every change).
 *
 * @since 0.1.0
 */
export const ParameterStatus: Message.Codec<ParameterStatus> = Message.make({
  name: "ParameterStatus",
  type: Code.ParameterStatus,
  schema: ParameterStatusSchema,
  readBody: (r) => {
    const name = r.cstring()
    const value = r.cstring()
    return { _tag: "ParameterStatus", name, value }
  },
  writeBody: (w, m) => {
    w.cstring(m.name)
    w.cstring(m.value)
  }
})
