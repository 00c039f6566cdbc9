/**
 * The byte stream of a protocol 2.0 server: the union of the messages it
 * sends, writing any of them, and `BackendDecoder`, which cuts the stream
 * into messages.
 *
 * **Details**
 *
 * - `BackendDecoder` remembers the field count of the last RowDescription
 *   (for AsciiRow and BinaryRow) and, after CopyOutResponse, reads COPY
 *   lines, one `CopyDataRows` per line, up to the end marker.
 * - `decodeBackend` decodes one whole message, given that state as a
 *   `BackendContext`.
 * - Byte fields of decoded messages are views of the input chunks: a chunk
 *   passed to a decoder must not be modified afterwards.
 *
 * Not here: the single-byte answer to SSLRequest ('S' or 'N'), which the
 * caller reads before the decoder sees any byte ('N' would otherwise look
 * like a NoticeResponse), and the session state machine. Pure: no Effect
 * runtime, no IO, no timers.
 *
 * @since 0.1.0
 */
import type * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type { ProtocolError } from "../errors/PgError.ts"
import type { Writer } from "../wire/Writer.ts"
import * as Message from "./Message.ts"
import {
  AuthenticationCleartextPassword,
  AuthenticationCleartextPasswordSchema,
  AuthenticationCryptPassword,
  AuthenticationCryptPasswordSchema,
  AuthenticationKerberosV4,
  AuthenticationKerberosV4Schema,
  AuthenticationKerberosV5,
  AuthenticationKerberosV5Schema,
  AuthenticationMD5Password,
  AuthenticationMD5PasswordSchema,
  AuthenticationOk,
  AuthenticationOkSchema,
  AuthenticationSCMCredential,
  AuthenticationSCMCredentialSchema,
  BackendCode,
  BackendKeyData,
  BackendKeyDataSchema,
  CompletedResponse,
  CompletedResponseSchema,
  CopyInResponse,
  CopyInResponseSchema,
  CopyOutResponse,
  CopyOutResponseSchema,
  CursorResponse,
  CursorResponseSchema,
  EmptyQueryResponse,
  EmptyQueryResponseSchema,
  ErrorResponse,
  ErrorResponseSchema,
  FunctionResultResponse,
  FunctionResultResponseSchema,
  FunctionVoidResponse,
  FunctionVoidResponseSchema,
  NoticeResponse,
  NoticeResponseSchema,
  NotificationResponse,
  NotificationResponseSchema,
  ReadyForQuery,
  ReadyForQuerySchema,
  RowDescription,
  RowDescriptionSchema
} from "./V2Backend.ts"
import { encodeWith, hex, RESULT_END, RESULT_NONEMPTY, writerByTag } from "./V2Codec.ts"
import { type CopyDataRows, CopyDataRowsSchema, decodeCopyDataRows, writeCopyDataRowsUnsafe } from "./V2CopyDataRows.ts"
import { Decoder, type DecoderOptions, exactlyOne, readCopyLine, type StreamReader } from "./V2Decoder.ts"
import {
  type AsciiRow,
  AsciiRowSchema,
  type BinaryRow,
  BinaryRowSchema,
  readAsciiRowBody,
  readBinaryRowBody,
  writeAsciiRowBody,
  writeBinaryRowBody
} from "./V2Rows.ts"

/**
 * Every message a 2.0 server sends.
 *
 * @since 0.1.0
 */
export type BackendMessage =
  | AsciiRow
  | AuthenticationOk
  | AuthenticationKerberosV4
  | AuthenticationKerberosV5
  | AuthenticationCleartextPassword
  | AuthenticationCryptPassword
  | AuthenticationMD5Password
  | AuthenticationSCMCredential
  | BackendKeyData
  | BinaryRow
  | CompletedResponse
  | CopyDataRows
  | CopyInResponse
  | CopyOutResponse
  | CursorResponse
  | EmptyQueryResponse
  | ErrorResponse
  | FunctionResultResponse
  | FunctionVoidResponse
  | NoticeResponse
  | NotificationResponse
  | ReadyForQuery
  | RowDescription

/** @since 0.1.0 */
export const BackendMessageSchema: Schema.Codec<BackendMessage, BackendMessage> = Schema.Union([
  AsciiRowSchema,
  AuthenticationOkSchema,
  AuthenticationKerberosV4Schema,
  AuthenticationKerberosV5Schema,
  AuthenticationCleartextPasswordSchema,
  AuthenticationCryptPasswordSchema,
  AuthenticationMD5PasswordSchema,
  AuthenticationSCMCredentialSchema,
  BackendKeyDataSchema,
  BinaryRowSchema,
  CompletedResponseSchema,
  CopyDataRowsSchema,
  CopyInResponseSchema,
  CopyOutResponseSchema,
  CursorResponseSchema,
  EmptyQueryResponseSchema,
  ErrorResponseSchema,
  FunctionResultResponseSchema,
  FunctionVoidResponseSchema,
  NoticeResponseSchema,
  NotificationResponseSchema,
  ReadyForQuerySchema,
  RowDescriptionSchema
])

type AnyCodec = Message.Codec<any>

/** The Authentication codecs, indexed by the code after 'R'. */
const authCodecByCode: ReadonlyArray<AnyCodec> = [
  AuthenticationOk,
  AuthenticationKerberosV4,
  AuthenticationKerberosV5,
  AuthenticationCleartextPassword,
  AuthenticationCryptPassword,
  AuthenticationMD5Password,
  AuthenticationSCMCredential
]

/** The messages whose type byte alone says which they are, and that change no decoder state. */
const plainCodecs: ReadonlyArray<AnyCodec> = [
  BackendKeyData,
  CompletedResponse,
  CopyInResponse,
  CursorResponse,
  EmptyQueryResponse,
  ErrorResponse,
  NoticeResponse,
  NotificationResponse,
  ReadyForQuery
]

/** `plainCodecs` by type byte. */
const plainCodecByType: Array<AnyCodec | undefined> = []
for (const codec of plainCodecs) plainCodecByType[codec.type] = codec

/** Writes every server message but the rows and CopyDataRows. */
const writeFramed = writerByTag(
  [...authCodecByCode, ...plainCodecs, CopyOutResponse, FunctionResultResponse, FunctionVoidResponse, RowDescription],
  "server"
)

/**
 * Writes one server message into `w`. Throws `ProtocolError` ("Unsafe"); on
 * failure `w` may hold part of the message (roll back with `truncate`).
 *
 * @since 0.1.0
 */
export const writeBackendUnsafe = (w: Writer, message: BackendMessage): void => {
  switch (message._tag) {
    case "AsciiRow":
      w.uint8(BackendCode.AsciiRow)
      writeAsciiRowBody(w, message)
      return
    case "BinaryRow":
      w.uint8(BackendCode.BinaryRow)
      writeBinaryRowBody(w, message)
      return
    case "CopyDataRows":
      writeCopyDataRowsUnsafe(w, message)
      return
    default:
      writeFramed(w, message)
  }
}

/**
 * Encodes one server message as fresh bytes (AsciiRow and BinaryRow take
 * their field count from `values`).
 *
 * @since 0.1.0
 */
export const encodeBackend = (message: BackendMessage): Result.Result<Uint8Array, ProtocolError> =>
  encodeWith(message, writeBackendUnsafe)

/**
 * Options of `BackendDecoder`.
 *
 * @since 0.1.0
 */
export interface BackendDecoderOptions extends DecoderOptions {
  /** Start as if a RowDescription with this many fields had been received. */
  readonly fieldCount?: number | undefined
  /** Start inside a COPY OUT (as if CopyOutResponse had been received). */
  readonly inCopy?: boolean | undefined
}

/**
 * Cuts the byte stream of a 2.0 server into messages.
 *
 * **Details**
 *
 * - Keeps partial input and tells "need more bytes" (wait for the next
 *   chunk) from "malformed" (a `ProtocolError` naming the message and the
 *   offset in it, plus the stream offset in the text).
 * - Remembers the field count of the last RowDescription for AsciiRow and
 *   BinaryRow (a row before any RowDescription is malformed), and after
 *   CopyOutResponse reads COPY lines, one `CopyDataRows` per line, until the
 *   end marker.
 * - A message larger than `maxMessageSize` is refused as soon as its size is
 *   known to exceed it, before it is buffered.
 * - Poisoned after an error: every later call fails the same way.
 *
 * A message split across chunks is parsed again from its start when enough
 * bytes have arrived (the decoder knows how many bytes a length needs, or
 * which terminator it waits for, so a large value arriving in many chunks is
 * parsed once it is complete). Pure: no IO, no timers.
 *
 * @since 0.1.0
 */
export class BackendDecoder extends Decoder<BackendMessage> {
  protected readonly streamName = "BackendMessage"
  private rowFields: number
  private copying: boolean

  constructor(options: BackendDecoderOptions = {}) {
    super(options)
    this.rowFields = options.fieldCount ?? -1
    this.copying = options.inCopy === true
  }

  /** The field count of the last RowDescription, or -1 before any. */
  get fieldCount(): number {
    return this.rowFields
  }

  /** Inside a COPY OUT (between CopyOutResponse and the end marker). */
  get inCopy(): boolean {
    return this.copying
  }

  protected override openState(): string | undefined {
    return this.copying ? "CopyDataRows" : undefined
  }

  protected readMessage(r: StreamReader): BackendMessage {
    if (this.copying) {
      const line = readCopyLine(r)
      if (line.end) this.copying = false
      return line
    }
    const type = r.uint8()
    const body = r.pos
    switch (type) {
      case BackendCode.AsciiRow:
      case BackendCode.BinaryRow: {
        const name = type === BackendCode.AsciiRow ? "AsciiRow" : "BinaryRow"
        r.reset(r.buf, body, r.end, name)
        if (this.rowFields < 0) r.fail(`${name} without a preceding RowDescription`)
        return type === BackendCode.AsciiRow
          ? readAsciiRowBody(r, this.rowFields)
          : readBinaryRowBody(r, this.rowFields)
      }
      case BackendCode.Authentication: {
        r.messageName = "Authentication"
        const code = r.int32()
        const codec = code >= 0 && code < authCodecByCode.length ? authCodecByCode[code] : undefined
        r.reset(r.buf, body, r.end, codec?.name ?? "Authentication")
        if (codec === undefined) r.fail(`unknown authentication request code ${code}`)
        return codec.readBody(r)
      }
      case BackendCode.FunctionResponse: {
        r.messageName = "FunctionResultResponse"
        const b = r.uint8()
        r.pos = body
        if (b === RESULT_NONEMPTY) return this.body(r, body, FunctionResultResponse)
        if (b === RESULT_END) return this.body(r, body, FunctionVoidResponse)
        r.reset(r.buf, body, r.end, "FunctionResultResponse")
        return r.fail(`expected 'G' or '0' after 'V', got ${hex(b)}`)
      }
      case BackendCode.RowDescription: {
        const m = this.body(r, body, RowDescription)
        this.rowFields = m.fields.length
        return m
      }
      case BackendCode.CopyOutResponse: {
        const m = this.body(r, body, CopyOutResponse)
        this.copying = true
        return m
      }
      default: {
        const codec = plainCodecByType[type]
        if (codec !== undefined) return this.body(r, body, codec) as BackendMessage
        r.pos = body - 1
        return r.fail(`unknown message type ${hex(type)}`)
      }
    }
  }

  private body<A extends { readonly _tag: string }>(r: StreamReader, body: number, codec: Message.Codec<A>): A {
    r.reset(r.buf, body, r.end, codec.name)
    return codec.readBody(r)
  }
}

/**
 * What a single-message backend decode must know: the field count of the
 * last RowDescription (for AsciiRow and BinaryRow), and whether a COPY OUT is
 * in progress (for CopyDataRows).
 *
 * @since 0.1.0
 */
export interface BackendContext {
  readonly fieldCount?: number | undefined
  readonly inCopy?: boolean | undefined
}

/**
 * Decodes exactly one server message. Inside a COPY (`context.inCopy`), the
 * bytes are read as one CopyDataRows holding every line (see
 * `decodeCopyDataRows`), whereas `BackendDecoder` emits one per line.
 *
 * @since 0.1.0
 */
export const decodeBackend = (
  bytes: Uint8Array,
  context: BackendContext = {}
): Result.Result<BackendMessage, ProtocolError> =>
  context.inCopy === true
    ? decodeCopyDataRows(bytes)
    : exactlyOne(new BackendDecoder({ fieldCount: context.fieldCount }), bytes, "BackendMessage")

/**
 * The Schema transformation between one server message's bytes and the
 * message, under `context`.
 *
 * @since 0.1.0
 */
export const BackendMessageFromBytes = (context: BackendContext = {}) =>
  Message.fromBytesWith({
    expected: "a protocol 2.0 server message",
    schema: BackendMessageSchema,
    decode: (bytes) => decodeBackend(bytes, context),
    encode: encodeBackend
  })
