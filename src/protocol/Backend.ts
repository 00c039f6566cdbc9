/**
 * Messages sent by the server (protocol-3.2 "Message Formats", every message
 * marked "(B)" or "(F & B)"), each with its Schema, reader and writer, and
 * the dispatch over all of them.
 *
 * **Details**
 *
 * - Every message is a `Message.Codec` exported under its protocol name, with
 *   its Schema as `<Name>Schema` and its type as the interface `<Name>`.
 * - The Schemas carry the wire's limits (unsigned 16-bit counts, unsigned OIDs,
 *   4-byte MD5 salt, 4..256-byte cancel keys, format codes 0 and 1, C strings
 *   without NUL), so every value that passes a Schema can be encoded and
 *   arbitraries generate only encodable values.
 * - Decoding is strict: a count that the remaining bytes cannot hold, a
 *   negative length other than -1, a format code other than 0 or 1, invalid
 *   UTF-8, missing terminators and trailing bytes are `ProtocolError`s naming
 *   the message and the offset, counted from the first byte of the body (after
 *   the length word).
 * - Byte fields (`DataRow` values, `CopyData.data`, SASL data, secret keys) are
 *   views into the frame, never copies: they stay valid as long as the frame's
 *   buffer does (the Framer never reuses a buffer it handed out).
 * - Messages without a body decode to one shared frozen object each, so the
 *   hot path allocates nothing for them.
 *
 * Where each part lives: the messages of the start-up phase
 * (`BackendStartup`: Authentication*, BackendKeyData,
 * NegotiateProtocolVersion), the answers to a query (`BackendQuery`:
 * RowDescription, DataRow, CommandComplete, ReadyForQuery, ...), what the
 * server reports (`BackendReports`: ErrorResponse, NoticeResponse,
 * NotificationResponse, ParameterStatus) and COPY (`Copy`, shared with
 * `Frontend`), all re-exported here under their names; this module keeps the
 * union, the codecs by `_tag` and the dispatch.
 *
 * Pure: no Effect runtime, no IO. DataRow fields stay bytes: decoding column
 * values is the types layer's job; what an ErrorResponse means is the
 * session's.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { ProtocolError } from "../errors/PgError.ts"
import { AuthCode, Backend as Code } from "../wire/Codes.ts"
import { Reader } from "../wire/Reader.ts"
import type { Writer } from "../wire/Writer.ts"
import {
  AuthenticationCleartextPassword,
  AuthenticationCleartextPasswordSchema,
  AuthenticationGSS,
  AuthenticationGSSContinue,
  AuthenticationGSSContinueSchema,
  AuthenticationGSSSchema,
  AuthenticationKerberosV5,
  AuthenticationKerberosV5Schema,
  AuthenticationMD5Password,
  AuthenticationMD5PasswordSchema,
  AuthenticationOk,
  AuthenticationOkSchema,
  AuthenticationSASL,
  AuthenticationSASLContinue,
  AuthenticationSASLContinueSchema,
  AuthenticationSASLFinal,
  AuthenticationSASLFinalSchema,
  AuthenticationSASLSchema,
  AuthenticationSSPI,
  AuthenticationSSPISchema,
  BackendKeyData,
  BackendKeyDataSchema,
  NegotiateProtocolVersion,
  NegotiateProtocolVersionSchema
} from "./BackendStartup.ts"
import {
  BindComplete,
  BindCompleteSchema,
  CloseComplete,
  CloseCompleteSchema,
  CommandComplete,
  CommandCompleteSchema,
  DataRow,
  DataRowSchema,
  EmptyQueryResponse,
  EmptyQueryResponseSchema,
  FunctionCallResponse,
  FunctionCallResponseSchema,
  NoData,
  NoDataSchema,
  ParameterDescription,
  ParameterDescriptionSchema,
  ParseComplete,
  ParseCompleteSchema,
  PortalSuspended,
  PortalSuspendedSchema,
  ReadyForQuery,
  ReadyForQuerySchema,
  RowDescription,
  RowDescriptionSchema
} from "./BackendQuery.ts"
import {
  ErrorResponse,
  ErrorResponseSchema,
  NoticeResponse,
  NoticeResponseSchema,
  NotificationResponse,
  NotificationResponseSchema,
  ParameterStatus,
  ParameterStatusSchema
} from "./BackendReports.ts"
import { checkFrameUnsafe, describeType, toProtocolError } from "./CodecParts.ts"
import {
  CopyBothResponse,
  CopyBothResponseSchema,
  CopyData,
  CopyDataSchema,
  CopyDone,
  CopyDoneSchema,
  CopyInResponse,
  CopyInResponseSchema,
  CopyOutResponse,
  CopyOutResponseSchema
} from "./Copy.ts"
import * as Message from "./Message.ts"

export * from "./BackendQuery.ts"
export * from "./BackendReports.ts"
export * from "./BackendStartup.ts"
export { SecretKey } from "./CancelKey.ts"
export { checkFrameUnsafe } from "./CodecParts.ts"
export {
  CopyBothResponse,
  CopyBothResponseSchema,
  CopyData,
  CopyDataSchema,
  CopyDone,
  CopyDoneSchema,
  CopyInResponse,
  CopyInResponseSchema,
  CopyOutResponse,
  CopyOutResponseSchema
} from "./Copy.ts"

// ---------------------------------------------------------------------------
// The union and its dispatch
// ---------------------------------------------------------------------------

/**
 * Every message the server sends.
 *
 * @since 0.1.0
 */
export type BackendMessage =
  | AuthenticationOk
  | AuthenticationKerberosV5
  | AuthenticationCleartextPassword
  | AuthenticationMD5Password
  | AuthenticationGSS
  | AuthenticationGSSContinue
  | AuthenticationSSPI
  | AuthenticationSASL
  | AuthenticationSASLContinue
  | AuthenticationSASLFinal
  | BackendKeyData
  | BindComplete
  | CloseComplete
  | CommandComplete
  | CopyData
  | CopyDone
  | CopyInResponse
  | CopyOutResponse
  | CopyBothResponse
  | DataRow
  | EmptyQueryResponse
  | ErrorResponse
  | FunctionCallResponse
  | NegotiateProtocolVersion
  | NoData
  | NoticeResponse
  | NotificationResponse
  | ParameterDescription
  | ParameterStatus
  | ParseComplete
  | PortalSuspended
  | ReadyForQuery
  | RowDescription

/**
 * The Schema of every server message (a union of the message Schemas).
 *
 * @since 0.1.0
 */
export const MessageSchema = Schema.Union([
  AuthenticationOkSchema,
  AuthenticationKerberosV5Schema,
  AuthenticationCleartextPasswordSchema,
  AuthenticationMD5PasswordSchema,
  AuthenticationGSSSchema,
  AuthenticationGSSContinueSchema,
  AuthenticationSSPISchema,
  AuthenticationSASLSchema,
  AuthenticationSASLContinueSchema,
  AuthenticationSASLFinalSchema,
  BackendKeyDataSchema,
  BindCompleteSchema,
  CloseCompleteSchema,
  CommandCompleteSchema,
  CopyDataSchema,
  CopyDoneSchema,
  CopyInResponseSchema,
  CopyOutResponseSchema,
  CopyBothResponseSchema,
  DataRowSchema,
  EmptyQueryResponseSchema,
  ErrorResponseSchema,
  FunctionCallResponseSchema,
  NegotiateProtocolVersionSchema,
  NoDataSchema,
  NoticeResponseSchema,
  NotificationResponseSchema,
  ParameterDescriptionSchema,
  ParameterStatusSchema,
  ParseCompleteSchema,
  PortalSuspendedSchema,
  ReadyForQuerySchema,
  RowDescriptionSchema
])

/**
 * The codec of each server message, by `_tag`.
 *
 * @since 0.1.0
 */
export const codecs: { readonly [K in BackendMessage["_tag"]]: Message.Codec<Extract<BackendMessage, { _tag: K }>> } =
  {
    AuthenticationOk,
    AuthenticationKerberosV5,
    AuthenticationCleartextPassword,
    AuthenticationMD5Password,
    AuthenticationGSS,
    AuthenticationGSSContinue,
    AuthenticationSSPI,
    AuthenticationSASL,
    AuthenticationSASLContinue,
    AuthenticationSASLFinal,
    BackendKeyData,
    BindComplete,
    CloseComplete,
    CommandComplete,
    CopyData,
    CopyDone,
    CopyInResponse,
    CopyOutResponse,
    CopyBothResponse,
    DataRow,
    EmptyQueryResponse,
    ErrorResponse,
    FunctionCallResponse,
    NegotiateProtocolVersion,
    NoData,
    NoticeResponse,
    NotificationResponse,
    ParameterDescription,
    ParameterStatus,
    ParseComplete,
    PortalSuspended,
    ReadyForQuery,
    RowDescription
  }

/** The reading half of a codec: what the dispatch needs. */
interface BodyReader {
  readonly name: string
  readonly readBody: (r: Reader) => BackendMessage
}

/** The codec of an 'R' message, by the Int32 authentication code. */
const authenticationCodec = (code: number): BodyReader | undefined => {
  switch (code) {
    case AuthCode.Ok:
      return AuthenticationOk
    case AuthCode.SASLContinue:
      return AuthenticationSASLContinue
    case AuthCode.SASLFinal:
      return AuthenticationSASLFinal
    case AuthCode.SASL:
      return AuthenticationSASL
    case AuthCode.MD5Password:
      return AuthenticationMD5Password
    case AuthCode.CleartextPassword:
      return AuthenticationCleartextPassword
    case AuthCode.GSS:
      return AuthenticationGSS
    case AuthCode.GSSContinue:
      return AuthenticationGSSContinue
    case AuthCode.SSPI:
      return AuthenticationSSPI
    case AuthCode.KerberosV5:
      return AuthenticationKerberosV5
  }
  return undefined
}

/**
 * Decodes the body `buf[start, end)` of a server message of type `type`.
 *
 * **Details**
 *
 * The hot path: no Schema parse, no Effect, one switch ordered by frequency
 * (DataRow first). `reader` is reset and reused, so pass the session's one
 * reader. Byte fields of the result are views into `buf`. Throws
 * `ProtocolError` ("Unsafe"): an unknown type byte is named in the error; a
 * malformed body names the message and the offset inside the body.
 *
 * @since 0.1.0
 */
export const readUnsafe = (
  type: number,
  buf: Uint8Array,
  start: number,
  end: number,
  reader: Reader
): BackendMessage => {
  let codec: BodyReader
  switch (type) {
    case Code.DataRow:
      codec = DataRow
      break
    case Code.CommandComplete:
      codec = CommandComplete
      break
    case Code.RowDescription:
      codec = RowDescription
      break
    case Code.ReadyForQuery:
      codec = ReadyForQuery
      break
    case Code.ParseComplete:
      codec = ParseComplete
      break
    case Code.BindComplete:
      codec = BindComplete
      break
    case Code.CopyData:
      codec = CopyData
      break
    case Code.NoData:
      codec = NoData
      break
    case Code.ParameterDescription:
      codec = ParameterDescription
      break
    case Code.ErrorResponse:
      codec = ErrorResponse
      break
    case Code.NoticeResponse:
      codec = NoticeResponse
      break
    case Code.ParameterStatus:
      codec = ParameterStatus
      break
    case Code.PortalSuspended:
      codec = PortalSuspended
      break
    case Code.CloseComplete:
      codec = CloseComplete
      break
    case Code.EmptyQueryResponse:
      codec = EmptyQueryResponse
      break
    case Code.NotificationResponse:
      codec = NotificationResponse
      break
    case Code.CopyDone:
      codec = CopyDone
      break
    case Code.CopyInResponse:
      codec = CopyInResponse
      break
    case Code.CopyOutResponse:
      codec = CopyOutResponse
      break
    case Code.CopyBothResponse:
      codec = CopyBothResponse
      break
    case Code.FunctionCallResponse:
      codec = FunctionCallResponse
      break
    case Code.Authentication: {
      reader.reset(buf, start, end, "Authentication")
      const code = reader.int32()
      const auth = authenticationCodec(code)
      if (auth === undefined) {
        reader.pos = start
        reader.fail(`unknown authentication code ${code}`)
      }
      codec = auth
      break
    }
    case Code.BackendKeyData:
      codec = BackendKeyData
      break
    case Code.NegotiateProtocolVersion:
      codec = NegotiateProtocolVersion
      break
    default:
      throw new ProtocolError({
        message: `unknown backend message type ${describeType(type)}`,
        offset: 0
      })
  }
  reader.reset(buf, start, end, codec.name)
  const message = codec.readBody(reader)
  reader.done()
  return message
}

const decodeReader = new Reader()

/**
 * Decodes one whole frame (type byte, length, body).
 *
 * @since 0.1.0
 */
export const decode = (bytes: Uint8Array): Result.Result<BackendMessage, ProtocolError> => {
  try {
    const type = checkFrameUnsafe(bytes, "backend")
    return Result.succeed(readUnsafe(type, bytes, 5, bytes.length, decodeReader))
  } catch (e) {
    return Result.fail(toProtocolError(e))
  }
}

/**
 * Writes one whole frame of `message` into `w`. Throws `ProtocolError` (and
 * leaves nothing of the failed message in `w`).
 *
 * @since 0.1.0
 */
export const writeUnsafe = (w: Writer, message: BackendMessage): void => {
  const codec = codecs[message._tag] as Message.Codec<BackendMessage>
  try {
    Message.writeFrame(w, codec, message)
  } catch (e) {
    w.abort()
    throw e
  }
}

/**
 * Encodes one message as a fresh byte array (tests, tools, the fake server).
 *
 * @since 0.1.0
 */
export const encode = (message: BackendMessage): Result.Result<Uint8Array, ProtocolError> =>
  Message.encodeFrame(codecs[message._tag] as Message.Codec<BackendMessage>, message)

/**
 * The Schema transformation from one whole frame's bytes to the server
 * message: `Schema.decodeUnknownResult(Backend.MessageFromBytes)(bytes)`, and
 * `Schema.encode...` back to bytes.
 *
 * @since 0.1.0
 */
export const MessageFromBytes = Message.fromBytesWith<BackendMessage>({
  expected: "a backend message frame",
  schema: MessageSchema as Schema.Codec<BackendMessage, BackendMessage>,
  decode,
  encode
})
