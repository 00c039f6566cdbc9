/**
 * The COPY sub-protocol's messages (protocol-3.2 "COPY Operations" and
 * "Message Formats"), both directions in one place: CopyData and CopyDone,
 * which client and server both send ("(F & B)"), so one codec serves both;
 * the server's CopyInResponse, CopyOutResponse and CopyBothResponse, which
 * start a COPY; and the client's CopyFail, which aborts one.
 *
 * **Details**
 *
 * `Backend` re-exports CopyData, CopyDone and the three responses;
 * `Frontend` re-exports CopyData, CopyDone and CopyFail: `Frontend.CopyData`
 * is `Backend.CopyData`. `CopyData.data` is a view into the frame.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { Backend as Code, Frontend as FrontendCode } from "../wire/Codes.ts"
import { Array16, readFormatCode, writeCount16 } from "./CodecParts.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"

// ---------------------------------------------------------------------------
// CopyData (F & B) 'd', CopyDone (F & B) 'c'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const CopyDataSchema = Schema.TaggedStruct("CopyData", {
  /** Part of a COPY data stream (from the server: exactly one row). */
  data: Fields.Bytes
})
/** @since 0.1.0 */
export interface CopyData extends Schema.Schema.Type<typeof CopyDataSchema> {}
/**
 * COPY data. `data` is a view into the frame.
 *
 * @since 0.1.0
 */
export const CopyData: Message.Codec<CopyData> = Message.make({
  name: "CopyData",
  type: Code.CopyData,
  schema: CopyDataSchema,
  readBody: (r) => ({ _tag: "CopyData", data: r.rest() }),
  writeBody: (w, m) => {
    w.bytes(m.data)
  }
})

/** @since 0.1.0 */
export const CopyDoneSchema = Schema.TaggedStruct("CopyDone", {})
/** @since 0.1.0 */
export interface CopyDone extends Schema.Schema.Type<typeof CopyDoneSchema> {}
/** @since 0.1.0 */
export const CopyDone: Message.Codec<CopyDone> = Message.empty({
  name: "CopyDone",
  type: Code.CopyDone,
  schema: CopyDoneSchema
})

// ---------------------------------------------------------------------------
// CopyInResponse (B) 'G', CopyOutResponse (B) 'H', CopyBothResponse (B) 'W'
// ---------------------------------------------------------------------------

const copyResponseFields = {
  /** Overall COPY format (Int8): 0 textual, 1 binary. */
  format: Fields.FormatCode,
  /** Per-column format codes (0 text, 1 binary); all 0 when `format` is 0. */
  columnFormats: Array16(Fields.FormatCode)
}

const copyResponseCodec = <A extends {
  readonly _tag: string
  readonly format: 0 | 1
  readonly columnFormats: ReadonlyArray<0 | 1>
}>(name: A["_tag"], type: number, schema: Schema.Codec<A, A>): Message.Codec<A> =>
  Message.make({
    name,
    type,
    schema,
    readBody: (r) => {
      const format = r.int8()
      if (format !== 0 && format !== 1) {
        r.pos -= 1
        r.fail(`invalid overall format ${format}`)
      }
      const n = r.countU16("column", 2)
      const columnFormats: Array<0 | 1> = new Array(n)
      for (let i = 0; i < n; i++) columnFormats[i] = readFormatCode(r)
      return { _tag: name, format, columnFormats } as unknown as A
    },
    writeBody: (w, m) => {
      w.uint8(m.format)
      writeCount16(w, m.columnFormats.length, "column")
      for (const f of m.columnFormats) w.int16(f)
    }
  })

/** @since 0.1.0 */
export const CopyInResponseSchema = Schema.TaggedStruct("CopyInResponse", copyResponseFields)
/** @since 0.1.0 */
export interface CopyInResponse extends Schema.Schema.Type<typeof CopyInResponseSchema> {}
/**
 * Start of COPY FROM STDIN: the client now sends CopyData (or CopyFail).
 *
 * @since 0.1.0
 */
export const CopyInResponse: Message.Codec<CopyInResponse> = copyResponseCodec(
  "CopyInResponse",
  Code.CopyInResponse,
  CopyInResponseSchema
)

/** @since 0.1.0 */
export const CopyOutResponseSchema = Schema.TaggedStruct("CopyOutResponse", copyResponseFields)
/** @since 0.1.0 */
export interface CopyOutResponse extends Schema.Schema.Type<typeof CopyOutResponseSchema> {}
/**
 * Start of COPY TO STDOUT: CopyData follows.
 *
 * @since 0.1.0
 */
export const CopyOutResponse: Message.Codec<CopyOutResponse> = copyResponseCodec(
  "CopyOutResponse",
  Code.CopyOutResponse,
  CopyOutResponseSchema
)

/** @since 0.1.0 */
export const CopyBothResponseSchema = Schema.TaggedStruct("CopyBothResponse", copyResponseFields)
/** @since 0.1.0 */
export interface CopyBothResponse extends Schema.Schema.Type<typeof CopyBothResponseSchema> {}
/**
 * Start of COPY in both directions (streaming replication).
 *
 * @since 0.1.0
 */
export const CopyBothResponse: Message.Codec<CopyBothResponse> = copyResponseCodec(
  "CopyBothResponse",
  Code.CopyBothResponse,
  CopyBothResponseSchema
)

// ---------------------------------------------------------------------------
// CopyFail (F) 'f'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const CopyFailSchema = Schema.TaggedStruct("CopyFail", {
  /** The error message to report as the cause of failure. */
  message: Fields.CString
})
/** @since 0.1.0 */
export interface CopyFail extends Schema.Schema.Type<typeof CopyFailSchema> {}
/**
 * Aborts a COPY FROM STDIN; the server answers with an ErrorResponse.
 *
 * @since 0.1.0
 */
export const CopyFail: Message.Codec<CopyFail> = Message.make({
  name: "CopyFail",
  type: FrontendCode.CopyFail,
  schema: CopyFailSchema,
  readBody: (r) => ({ _tag: "CopyFail", message: r.cstring() }),
  writeBody: (w, m) => {
    w.cstring(m.message)
  }
})
