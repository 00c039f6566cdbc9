/**
 * The byte stream of a protocol 2.0 client: the union of the messages it
 * sends, writing any of them, and `FrontendDecoder`, which cuts the stream
 * into messages (for a server or a scripted fake server).
 *
 * **Details**
 *
 * - The client's bytes do not say everything: the server tells the decoder
 *   when a PasswordPacket or COPY lines come next (`FrontendMode`).
 * - `decodeFrontend` decodes one whole message in a given mode.
 * - Byte fields of decoded messages are views of the input chunks: a chunk
 *   passed to a decoder must not be modified afterwards.
 *
 * Not here: the single-byte answer to SSLRequest, the crypt(3) and MD5
 * password hashing, and the server's state machine. Pure: no Effect runtime,
 * no IO, no timers.
 *
 * @since 0.1.0
 */
import type * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type { ProtocolError } from "../errors/PgError.ts"
import { StartupCode } from "../wire/Codes.ts"
import type { Writer } from "../wire/Writer.ts"
import * as Message from "./Message.ts"
import { encodeWith, hex, writerByTag } from "./V2Codec.ts"
import { type CopyDataRows, CopyDataRowsSchema, decodeCopyDataRows, writeCopyDataRowsUnsafe } from "./V2CopyDataRows.ts"
import { Decoder, type DecoderOptions, exactlyOne, readCopyLine, type StreamReader } from "./V2Decoder.ts"
import {
  CancelRequest,
  CancelRequestSchema,
  FrontendCode,
  FunctionCall,
  FunctionCallSchema,
  PasswordPacket,
  PasswordPacketSchema,
  Query,
  QuerySchema,
  SSLRequest,
  SSLRequestSchema,
  STARTUP_PACKET_LENGTH,
  StartupPacket,
  StartupPacketSchema,
  Terminate,
  TerminateSchema
} from "./V2Frontend.ts"

/**
 * Every message a 2.0 client sends.
 *
 * @since 0.1.0
 */
export type FrontendMessage =
  | CancelRequest
  | CopyDataRows
  | FunctionCall
  | PasswordPacket
  | Query
  | SSLRequest
  | StartupPacket
  | Terminate

/** @since 0.1.0 */
export const FrontendMessageSchema: Schema.Codec<FrontendMessage, FrontendMessage> = Schema.Union([
  CancelRequestSchema,
  CopyDataRowsSchema,
  FunctionCallSchema,
  PasswordPacketSchema,
  QuerySchema,
  SSLRequestSchema,
  StartupPacketSchema,
  TerminateSchema
])

/** Writes every client message but CopyDataRows. */
const writeFramed = writerByTag(
  [CancelRequest, FunctionCall, PasswordPacket, Query, SSLRequest, StartupPacket, Terminate],
  "client"
)

/**
 * Writes one client message into `w`. Throws `ProtocolError` ("Unsafe").
 *
 * @since 0.1.0
 */
export const writeFrontendUnsafe = (w: Writer, message: FrontendMessage): void =>
  message._tag === "CopyDataRows" ? writeCopyDataRowsUnsafe(w, message) : writeFramed(w, message)

/**
 * Encodes one client message as fresh bytes.
 *
 * @since 0.1.0
 */
export const encodeFrontend = (message: FrontendMessage): Result.Result<Uint8Array, ProtocolError> =>
  encodeWith(message, writeFrontendUnsafe)

/**
 * What a `FrontendDecoder` expects next.
 *
 * - `startup`: a StartupPacket, SSLRequest or CancelRequest (length-prefixed).
 * - `password`: a PasswordPacket (after an authentication request).
 * - `normal`: Query, FunctionCall or Terminate.
 * - `copy`: COPY lines up to the end marker (after CopyInResponse).
 * - `closed`: nothing (after Terminate or CancelRequest).
 *
 * @since 0.1.0
 */
export type FrontendMode = "startup" | "password" | "normal" | "copy" | "closed"

/**
 * Options of `FrontendDecoder`.
 *
 * @since 0.1.0
 */
export interface FrontendDecoderOptions extends DecoderOptions {
  /** The initial mode. Default: `startup`. */
  readonly mode?: FrontendMode | undefined
}

/**
 * Cuts the byte stream of a 2.0 client into messages (for a server or a
 * scripted fake server).
 *
 * **Details**
 *
 * The client's bytes do not say everything: the server tells the decoder
 * when a PasswordPacket (`expectPasswordPacket`, after sending an
 * authentication request) or COPY lines (`expectCopyDataRows`, after sending
 * CopyInResponse) come next. A change made from `pushUnsafe`'s callback
 * applies to the very next message of the same chunk; `push` parses the
 * whole chunk first, which suits clients that wait for the server's answer
 * (as 2.0 clients must before a PasswordPacket or COPY data). Start-up packets are checked against the sizes
 * the 2.0 documentation fixes (StartupPacket 296, CancelRequest 16,
 * SSLRequest 8), so an untrusted length never drives buffering. After a
 * StartupPacket the mode becomes `normal`; after SSLRequest it stays
 * `startup`; after CancelRequest or Terminate it is `closed`, and any further
 * byte is malformed. Same error, size-limit and poisoning rules as
 * `BackendDecoder`.
 *
 * @since 0.1.0
 */
export class FrontendDecoder extends Decoder<FrontendMessage> {
  protected readonly streamName = "FrontendMessage"
  private state: FrontendMode

  constructor(options: FrontendDecoderOptions = {}) {
    super(options)
    this.state = options.mode ?? "startup"
  }

  /** What the decoder expects next. */
  get mode(): FrontendMode {
    return this.state
  }

  /** The next message is a PasswordPacket (call after sending an authentication request). */
  expectPasswordPacket(): void {
    this.state = "password"
  }

  /** COPY lines come next, up to the end marker (call after sending CopyInResponse). */
  expectCopyDataRows(): void {
    this.state = "copy"
  }

  protected override openState(): string | undefined {
    return this.state === "copy" ? "CopyDataRows" : undefined
  }

  protected readMessage(r: StreamReader): FrontendMessage {
    switch (this.state) {
      case "startup":
        return this.readStartup(r)
      case "password": {
        r.messageName = "PasswordPacket"
        const start = r.pos
        const length = r.int32()
        if (length < 5 || length > this.maxMessageSize) {
          r.pos = start
          r.fail(`packet length ${length} out of range`)
        }
        r.pos = start
        const m = this.readPacket(r, PasswordPacket, length)
        this.state = "normal"
        return m
      }
      case "copy": {
        const line = readCopyLine(r)
        if (line.end) this.state = "normal"
        return line
      }
      case "normal": {
        const type = r.uint8()
        const body = r.pos
        switch (type) {
          case FrontendCode.Query:
            r.reset(r.buf, body, r.end, "Query")
            return Query.readBody(r)
          case FrontendCode.FunctionCall:
            r.reset(r.buf, body, r.end, "FunctionCall")
            return FunctionCall.readBody(r)
          case FrontendCode.Terminate:
            this.state = "closed"
            return Terminate.readBody(r)
          default:
            r.pos = body - 1
            return r.fail(`unknown message type ${hex(type)}`)
        }
      }
      case "closed":
        return r.fail("bytes after Terminate or CancelRequest")
    }
  }

  private readStartup(r: StreamReader): FrontendMessage {
    r.messageName = "StartupPacket"
    const start = r.pos
    const length = r.int32()
    const code = r.int32()
    r.pos = start
    if (length === 16 && code === StartupCode.CancelRequest) {
      const m = this.readPacket(r, CancelRequest, length)
      this.state = "closed"
      return m
    }
    if (length === 8 && code === StartupCode.SSLRequest) return this.readPacket(r, SSLRequest, length)
    if (length === STARTUP_PACKET_LENGTH) {
      const m = this.readPacket(r, StartupPacket, length)
      this.state = "normal"
      return m
    }
    return r.fail(`not a protocol 2.0 start-up packet (length ${length}, code ${code})`)
  }
}

/**
 * Decodes exactly one client message in `mode` (default `normal`). In `copy`
 * mode the bytes are read as one CopyDataRows holding every line.
 *
 * @since 0.1.0
 */
export const decodeFrontend = (
  bytes: Uint8Array,
  mode: FrontendMode = "normal"
): Result.Result<FrontendMessage, ProtocolError> =>
  mode === "copy"
    ? decodeCopyDataRows(bytes)
    : exactlyOne(new FrontendDecoder({ mode }), bytes, "FrontendMessage")

/**
 * The Schema transformation between one client message's bytes and the
 * message, in `mode`.
 *
 * @since 0.1.0
 */
export const FrontendMessageFromBytes = (mode: FrontendMode = "normal") =>
  Message.fromBytesWith({
    expected: "a protocol 2.0 client message",
    schema: FrontendMessageSchema,
    decode: (bytes) => decodeFrontend(bytes, mode),
    encode: encodeFrontend
  })
