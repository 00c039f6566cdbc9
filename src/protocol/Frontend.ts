/**
 * Messages sent by the client after startup (protocol-3.2 "Message Formats",
 * every typed message marked "(F)" or "(F & B)"), each with its Schema, reader
 * and writer; the hot-path writers the session uses without message objects;
 * frames that never change, encoded once; and the dispatch over all of them
 * (for the server engine and the fake server, which read what a client
 * sends).
 *
 * **Details**
 *
 * - The 'p' type byte is shared by GSSResponse, PasswordMessage,
 *   SASLInitialResponse and SASLResponse: "the exact message type can be
 *   deduced from the context", never from the bytes. A reader that does not
 *   say which one it expects (`PasswordContext`) gets a PasswordMessage, the
 *   answer to the most common request (AuthenticationCleartextPassword or
 *   AuthenticationMD5Password).
 * - Counts the docs write as Int16 are written and read as unsigned 16-bit
 *   (the server reads them so, and accepts 65535 parameters).
 * - Decoding errors name the message and the offset counted from the first
 *   byte of the body (after the length word). Byte fields are views into the
 *   frame.
 * - Startup-phase frames (StartupMessage, SSLRequest, GSSENCRequest,
 *   CancelRequest) have no type byte and live in `Startup`.
 *
 * Where each part lives: the messages that run statements (`FrontendQuery`:
 * Query, Parse, Bind, Describe, Execute, Close, Flush, Sync and their
 * writers), the answers to authentication (`FrontendAuth`: the 'p' messages
 * and `PasswordContext`) and COPY (`Copy`: CopyData and CopyDone, shared with
 * `Backend`, and CopyFail), all re-exported here under their names; this
 * module keeps FunctionCall, Terminate, the frames encoded once, the union,
 * the codecs by `_tag` and the dispatch.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { ProtocolError } from "../errors/PgError.ts"
import { Frontend as Code } from "../wire/Codes.ts"
import { Reader } from "../wire/Reader.ts"
import type { Writer } from "../wire/Writer.ts"
import {
  Array16,
  checkFrameUnsafe,
  describeType,
  readFormatCode,
  readFormatCodes,
  readValues,
  toProtocolError,
  writeFormatCodes,
  writeValues
} from "./CodecParts.ts"
import { CopyData, CopyDataSchema, CopyDone, CopyDoneSchema, CopyFail, CopyFailSchema } from "./Copy.ts"
import * as Fields from "./Fields.ts"
import {
  GSSResponse,
  GSSResponseSchema,
  type PasswordContext,
  PasswordMessage,
  PasswordMessageSchema,
  SASLInitialResponse,
  SASLInitialResponseSchema,
  SASLResponse,
  SASLResponseSchema
} from "./FrontendAuth.ts"
import {
  Bind,
  BindSchema,
  Close,
  CloseSchema,
  Describe,
  DescribeSchema,
  Execute,
  ExecuteSchema,
  Flush,
  FlushSchema,
  Parse,
  ParseSchema,
  Query,
  QuerySchema,
  Sync,
  SyncSchema
} from "./FrontendQuery.ts"
import * as Message from "./Message.ts"

export { CopyData, CopyDataSchema, CopyDone, CopyDoneSchema, CopyFail, CopyFailSchema } from "./Copy.ts"
export * from "./FrontendAuth.ts"
export * from "./FrontendQuery.ts"

// ---------------------------------------------------------------------------
// FunctionCall (F) 'F'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const FunctionCallSchema = Schema.TaggedStruct("FunctionCall", {
  /** The OID of the function to call. */
  functionOid: Fields.UInt32,
  /** None (all text), one (applies to all) or one per argument. */
  argumentFormats: Array16(Fields.FormatCode),
  /** Argument values; `null` is SQL NULL (length -1). */
  arguments: Array16(Fields.NullableBytes),
  /** The format of the result: 0 text, 1 binary. */
  resultFormat: Fields.FormatCode
})
/** @since 0.1.0 */
export interface FunctionCall extends Schema.Schema.Type<typeof FunctionCallSchema> {}
/**
 * Calls a function by OID (the legacy fast-path interface). Decoded argument
 * values are views into the frame.
 *
 * @since 0.1.0
 */
export const FunctionCall: Message.Codec<FunctionCall> = Message.make({
  name: "FunctionCall",
  type: Code.FunctionCall,
  schema: FunctionCallSchema,
  readBody: (r) => {
    const functionOid = r.uint32()
    const argumentFormats = readFormatCodes(r, "argument format")
    const args = readValues(r, "argument")
    const resultFormat = readFormatCode(r)
    return { _tag: "FunctionCall", functionOid, argumentFormats, arguments: args, resultFormat }
  },
  writeBody: (w, m) => {
    w.uint32(m.functionOid)
    writeFormatCodes(w, m.argumentFormats, "argument format")
    writeValues(w, m.arguments, "argument")
    w.int16(m.resultFormat)
  }
})

// ---------------------------------------------------------------------------
// Terminate (F) 'X'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const TerminateSchema = Schema.TaggedStruct("Terminate", {})
/** @since 0.1.0 */
export interface Terminate extends Schema.Schema.Type<typeof TerminateSchema> {}
/**
 * Ends the session; the client then closes the connection.
 *
 * @since 0.1.0
 */
export const Terminate: Message.Codec<Terminate> = Message.empty({
  name: "Terminate",
  type: Code.Terminate,
  schema: TerminateSchema
})

// ---------------------------------------------------------------------------
// Frames encoded once
// ---------------------------------------------------------------------------

const constant = <A extends { readonly _tag: string }>(codec: Message.Codec<A>, message: NoInfer<A>): Uint8Array =>
  Result.getOrThrow(Message.encodeFrame(codec, message))

/**
 * The Sync frame. Shared by every user: never mutate it.
 *
 * @since 0.1.0
 */
export const SYNC: Uint8Array = constant(Sync, { _tag: "Sync" })

/**
 * The Flush frame. Shared by every user: never mutate it.
 *
 * @since 0.1.0
 */
export const FLUSH: Uint8Array = constant(Flush, { _tag: "Flush" })

/**
 * The Terminate frame. Shared by every user: never mutate it.
 *
 * @since 0.1.0
 */
export const TERMINATE: Uint8Array = constant(Terminate, { _tag: "Terminate" })

/**
 * The CopyDone frame. Shared by every user: never mutate it.
 *
 * @since 0.1.0
 */
export const COPY_DONE: Uint8Array = constant(CopyDone, { _tag: "CopyDone" })

/**
 * Describe of the unnamed portal (`Describe P ""`). Shared by every user:
 * never mutate it.
 *
 * @since 0.1.0
 */
export const DESCRIBE_UNNAMED_PORTAL: Uint8Array = constant(Describe, { _tag: "Describe", target: "P", name: "" })

/**
 * Execute of the unnamed portal with no row limit (`Execute "" 0`). Shared by
 * every user: never mutate it.
 *
 * @since 0.1.0
 */
export const EXECUTE_UNNAMED_ALL: Uint8Array = constant(Execute, { _tag: "Execute", portal: "", maxRows: 0 })

// ---------------------------------------------------------------------------
// The union and its dispatch
// ---------------------------------------------------------------------------

/**
 * Every typed message the client sends.
 *
 * @since 0.1.0
 */
export type FrontendMessage =
  | Bind
  | Close
  | CopyData
  | CopyDone
  | CopyFail
  | Describe
  | Execute
  | Flush
  | FunctionCall
  | GSSResponse
  | Parse
  | PasswordMessage
  | Query
  | SASLInitialResponse
  | SASLResponse
  | Sync
  | Terminate

/**
 * The Schema of every typed client message (a union of the message Schemas).
 *
 * @since 0.1.0
 */
export const MessageSchema = Schema.Union([
  BindSchema,
  CloseSchema,
  CopyDataSchema,
  CopyDoneSchema,
  CopyFailSchema,
  DescribeSchema,
  ExecuteSchema,
  FlushSchema,
  FunctionCallSchema,
  GSSResponseSchema,
  ParseSchema,
  PasswordMessageSchema,
  QuerySchema,
  SASLInitialResponseSchema,
  SASLResponseSchema,
  SyncSchema,
  TerminateSchema
])

/**
 * The codec of each typed client message, by `_tag`.
 *
 * @since 0.1.0
 */
export const codecs: {
  readonly [K in FrontendMessage["_tag"]]: Message.Codec<Extract<FrontendMessage, { _tag: K }>>
} = {
  Bind,
  Close,
  CopyData,
  CopyDone,
  CopyFail,
  Describe,
  Execute,
  Flush,
  FunctionCall,
  GSSResponse,
  Parse,
  PasswordMessage,
  Query,
  SASLInitialResponse,
  SASLResponse,
  Sync,
  Terminate
}

interface BodyReader {
  readonly name: string
  readonly readBody: (r: Reader) => FrontendMessage
}

const passwordFamily = (context: PasswordContext | undefined): BodyReader => {
  switch (context?.password) {
    case undefined:
    case "PasswordMessage":
      return PasswordMessage
    case "SASLInitialResponse":
      return SASLInitialResponse
    case "SASLResponse":
      return SASLResponse
    case "GSSResponse":
      return GSSResponse
  }
}

/**
 * Decodes the body `buf[start, end)` of a client message of type `type`.
 *
 * **Details**
 *
 * The server engine's hot path: one switch ordered by frequency (Bind first).
 * A 'p' frame is read as `context.password` says (PasswordMessage by
 * default). `reader` is reset and reused. Byte fields of the result are views
 * into `buf`. Throws `ProtocolError`: an unknown type byte is named in the
 * error; a malformed body names the message and the offset inside the body.
 *
 * @since 0.1.0
 */
export const readUnsafe = (
  type: number,
  buf: Uint8Array,
  start: number,
  end: number,
  reader: Reader,
  context?: PasswordContext
): FrontendMessage => {
  let codec: BodyReader
  switch (type) {
    case Code.Bind:
      codec = Bind
      break
    case Code.Execute:
      codec = Execute
      break
    case Code.Sync:
      codec = Sync
      break
    case Code.Parse:
      codec = Parse
      break
    case Code.Describe:
      codec = Describe
      break
    case Code.Query:
      codec = Query
      break
    case Code.CopyData:
      codec = CopyData
      break
    case Code.Close:
      codec = Close
      break
    case Code.Flush:
      codec = Flush
      break
    case Code.CopyDone:
      codec = CopyDone
      break
    case Code.CopyFail:
      codec = CopyFail
      break
    case Code.Terminate:
      codec = Terminate
      break
    case Code.FunctionCall:
      codec = FunctionCall
      break
    case Code.PasswordFamily:
      codec = passwordFamily(context)
      break
    default:
      throw new ProtocolError({ message: `unknown frontend message type ${describeType(type)}`, offset: 0 })
  }
  reader.reset(buf, start, end, codec.name)
  const message = codec.readBody(reader)
  reader.done()
  return message
}

const decodeReader = new Reader()

/**
 * Decodes one whole typed frame (type byte, length, body); a 'p' frame as
 * `context` says (PasswordMessage by default).
 *
 * @since 0.1.0
 */
export const decode = (
  bytes: Uint8Array,
  context?: PasswordContext
): Result.Result<FrontendMessage, ProtocolError> => {
  try {
    const type = checkFrameUnsafe(bytes, "frontend")
    return Result.succeed(readUnsafe(type, bytes, 5, bytes.length, decodeReader, context))
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
export const writeUnsafe = (w: Writer, message: FrontendMessage): void => {
  try {
    Message.writeFrame(w, codecs[message._tag] as Message.Codec<FrontendMessage>, message)
  } catch (e) {
    w.abort()
    throw e
  }
}

/**
 * Encodes one message as a fresh byte array.
 *
 * @since 0.1.0
 */
export const encode = (message: FrontendMessage): Result.Result<Uint8Array, ProtocolError> =>
  Message.encodeFrame(codecs[message._tag] as Message.Codec<FrontendMessage>, message)

/**
 * The Schema transformation from one whole frame's bytes to a client message,
 * reading 'p' frames as `context` says.
 *
 * @since 0.1.0
 */
export const messageFromBytes = (context?: PasswordContext) =>
  Message.fromBytesWith<FrontendMessage>({
    expected: "a frontend message frame",
    schema: MessageSchema as Schema.Codec<FrontendMessage, FrontendMessage>,
    decode: (bytes) => decode(bytes, context),
    encode
  })

/**
 * The Schema transformation from one whole frame's bytes to a client message:
 * `Schema.decodeUnknownResult(Frontend.MessageFromBytes)(bytes)`.
 *
 * **Details**
 *
 * A 'p' frame decodes as a PasswordMessage (the bytes alone cannot say which
 * 'p' message they are); use `messageFromBytes(context)`, or the codec's own
 * `Message.fromBytes(Frontend.SASLResponse)`, for the others. Encoding is
 * exact for every message.
 *
 * @since 0.1.0
 */
export const MessageFromBytes = messageFromBytes()
