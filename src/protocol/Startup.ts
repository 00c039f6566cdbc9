/**
 * The startup-phase frames a client sends before (or instead of) a session:
 * StartupMessage, SSLRequest, GSSENCRequest and CancelRequest (protocol-3.2
 * "Message Formats"), and the server's one-byte answer to an encryption
 * request.
 *
 * **Details**
 *
 * - These frames have no type byte: an Int32 length that counts itself, then
 *   an Int32 that says what the frame is: a protocol version (StartupMessage)
 *   or one of the request codes 80877102 (cancel), 80877103 (SSL), 80877104
 *   (GSSAPI encryption). Every request code has 1234 in its major half, which
 *   no protocol version has, so a StartupMessage with major version 1234 is
 *   rejected: decoding it would swallow a request.
 * - A StartupMessage's names and values are C strings: a NUL inside one would
 *   end it early and let a value smuggle in another parameter (pgx found
 *   `user=admin` injection exactly so), so the Schema and the writer reject it.
 *   Names are non-empty (an empty name ends the list on the wire).
 * - Protocol 2.0's startup packet has a different, fixed layout (`V2`):
 *   versions below 3.0 are rejected here.
 * - A startup packet body is at most 10000 bytes (the server's
 *   MAX_STARTUP_PACKET_LENGTH); longer frames are rejected by `decode`.
 * - Errors name the message and the offset counted from the first byte after
 *   the length word.
 *
 * Pure: no Effect runtime, no IO. The choice of parameters (user, database,
 * application_name, `_pq_.` options) belongs to the session's configuration.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { ProtocolError } from "../errors/PgError.ts"
import { MAX_STARTUP_PACKET_LENGTH } from "../wire/Framer.ts"
import { ProtocolVersion, StartupCode } from "../wire/Codes.ts"
import { Reader } from "../wire/Reader.ts"
import type { Writer } from "../wire/Writer.ts"
import { checkSecretKey, readSecretKey, SecretKey } from "./CancelKey.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"

/** The major half of every special request code (1234 << 16 | minor). */
const REQUEST_MAJOR = 1234

const expectCode = (r: Reader, code: number, what: string): void => {
  const got = r.int32()
  if (got !== code) {
    r.pos -= 4
    r.fail(`code ${got} is not the ${what} code ${code}`)
  }
}

// ---------------------------------------------------------------------------
// CancelRequest (F)
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const CancelRequestSchema = Schema.TaggedStruct("CancelRequest", {
  /** The process ID of the target backend (from BackendKeyData). */
  processId: Fields.Int32,
  /** The target backend's secret key: 4 bytes before protocol 3.2, 4 to 256 since. */
  secretKey: SecretKey
})
/** @since 0.1.0 */
export interface CancelRequest extends Schema.Schema.Type<typeof CancelRequestSchema> {}
/**
 * Asks the server, on a new connection, to cancel what a backend is running.
 * The key "extends to the end of the message" (protocol 3.2); a key shorter
 * than 4 or longer than 256 bytes is rejected both ways.
 *
 * @since 0.1.0
 */
export const CancelRequest: Message.Codec<CancelRequest> = Message.make({
  name: "CancelRequest",
  framing: "untyped",
  type: -1,
  schema: CancelRequestSchema,
  readBody: (r) => {
    expectCode(r, StartupCode.CancelRequest, "cancel request")
    const processId = r.int32()
    return { _tag: "CancelRequest", processId, secretKey: readSecretKey(r) }
  },
  writeBody: (w, m) => {
    checkSecretKey(w, m.secretKey)
    w.int32(StartupCode.CancelRequest)
    w.int32(m.processId)
    w.bytes(m.secretKey)
  }
})

// ---------------------------------------------------------------------------
// GSSENCRequest (F)
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const GSSENCRequestSchema = Schema.TaggedStruct("GSSENCRequest", {})
/** @since 0.1.0 */
export interface GSSENCRequest extends Schema.Schema.Type<typeof GSSENCRequestSchema> {}

const GSSENC_REQUEST_INSTANCE: GSSENCRequest = Object.freeze({ _tag: "GSSENCRequest" })

/**
 * Asks for GSSAPI encryption; the server answers one byte, 'G' or 'N'.
 *
 * @since 0.1.0
 */
export const GSSENCRequest: Message.Codec<GSSENCRequest> = Message.make({
  name: "GSSENCRequest",
  framing: "untyped",
  type: -1,
  schema: GSSENCRequestSchema,
  readBody: (r) => {
    expectCode(r, StartupCode.GSSENCRequest, "GSSAPI encryption request")
    return GSSENC_REQUEST_INSTANCE
  },
  writeBody: (w) => {
    w.int32(StartupCode.GSSENCRequest)
  }
})

// ---------------------------------------------------------------------------
// SSLRequest (F)
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const SSLRequestSchema = Schema.TaggedStruct("SSLRequest", {})
/** @since 0.1.0 */
export interface SSLRequest extends Schema.Schema.Type<typeof SSLRequestSchema> {}

const SSL_REQUEST_INSTANCE: SSLRequest = Object.freeze({ _tag: "SSLRequest" })

/**
 * Asks for TLS; the server answers one byte, 'S' or 'N'.
 *
 * @since 0.1.0
 */
export const SSLRequest: Message.Codec<SSLRequest> = Message.make({
  name: "SSLRequest",
  framing: "untyped",
  type: -1,
  schema: SSLRequestSchema,
  readBody: (r) => {
    expectCode(r, StartupCode.SSLRequest, "SSL request")
    return SSL_REQUEST_INSTANCE
  },
  writeBody: (w) => {
    w.int32(StartupCode.SSLRequest)
  }
})

// ---------------------------------------------------------------------------
// StartupMessage (F)
// ---------------------------------------------------------------------------

/**
 * A protocol version number (major << 16 | minor): 3.0 or later, never a
 * request code's major 1234.
 *
 * @since 0.1.0
 */
export const ProtocolVersionNumber = Fields.Int32.check(
  Schema.makeFilter((v: number) => {
    const major = v >>> 16
    if (major === REQUEST_MAJOR) return "major version 1234 belongs to the special request codes"
    if (major < 3) return "protocol versions before 3.0 use another startup packet"
    return undefined
  }, { expected: "a protocol version of 3.0 or later" })
)

/**
 * One StartupMessage parameter.
 *
 * @since 0.1.0
 */
export const StartupParameterSchema = Schema.Struct({
  /** The parameter name ("user", "database", "options", "replication", a GUC, or a `_pq_.` option); never empty. */
  name: Fields.CString.check(Schema.isMinLength(1)),
  /** Its value. */
  value: Fields.CString
})
/** @since 0.1.0 */
export interface StartupParameter extends Schema.Schema.Type<typeof StartupParameterSchema> {}

/** @since 0.1.0 */
export const StartupMessageSchema = Schema.TaggedStruct("StartupMessage", {
  /** major << 16 | minor: 196608 is 3.0, 196610 is 3.2. */
  protocolVersion: ProtocolVersionNumber,
  /** Name/value pairs in wire order ("user" is required by the server, not by the format). */
  parameters: Schema.Array(StartupParameterSchema)
})
/** @since 0.1.0 */
export interface StartupMessage extends Schema.Schema.Type<typeof StartupMessageSchema> {}

const checkVersion = (r: Reader, version: number): void => {
  const major = version >>> 16
  if (major === REQUEST_MAJOR) {
    r.pos -= 4
    r.fail(`unknown request code ${version}`)
  }
  if (major < 3) {
    r.pos -= 4
    r.fail(`protocol version ${major}.${version & 0xffff} is not 3.0 or later`)
  }
}

/**
 * The first message of a session.
 *
 * @since 0.1.0
 */
export const StartupMessage: Message.Codec<StartupMessage> = Message.make({
  name: "StartupMessage",
  framing: "untyped",
  type: -1,
  schema: StartupMessageSchema,
  readBody: (r) => {
    const protocolVersion = r.int32()
    checkVersion(r, protocolVersion)
    const parameters: Array<StartupParameter> = []
    while (true) {
      const name = r.cstring()
      if (name === "") break
      parameters.push({ name, value: r.cstring() })
    }
    return { _tag: "StartupMessage", protocolVersion, parameters }
  },
  writeBody: (w, m) => {
    const major = m.protocolVersion >>> 16
    if (major === REQUEST_MAJOR || major < 3) w.fail(`protocol version ${m.protocolVersion} is not 3.0 or later`)
    w.int32(m.protocolVersion)
    for (const p of m.parameters) {
      if (p.name === "") w.fail("empty parameter name (it would end the list)")
      w.cstring(p.name)
      w.cstring(p.value)
    }
    w.uint8(0)
  }
})

/**
 * Writes a whole StartupMessage frame into `w`. Throws `ProtocolError` (a NUL
 * in a name or value, an empty name).
 *
 * @since 0.1.0
 */
export const writeStartupMessage = (
  w: Writer,
  protocolVersion: number,
  parameters: ReadonlyArray<StartupParameter>
): void => {
  try {
    Message.writeFrame(w, StartupMessage, { _tag: "StartupMessage", protocolVersion, parameters })
  } catch (e) {
    w.abort()
    throw e
  }
}

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

/**
 * Protocol 3.0 (196608) and 3.2 (196610), as carried in StartupMessage.
 *
 * @since 0.1.0
 */
export const PROTOCOL_3_0: number = ProtocolVersion.V3_0
/** @since 0.1.0 */
export const PROTOCOL_3_2: number = ProtocolVersion.V3_2

/**
 * The SSLRequest frame. Shared by every user: never mutate it.
 *
 * @since 0.1.0
 */
export const SSL_REQUEST: Uint8Array = Result.getOrThrow(Message.encodeFrame(SSLRequest, SSL_REQUEST_INSTANCE))

/**
 * The GSSENCRequest frame. Shared by every user: never mutate it.
 *
 * @since 0.1.0
 */
export const GSSENC_REQUEST: Uint8Array = Result.getOrThrow(
  Message.encodeFrame(GSSENCRequest, GSSENC_REQUEST_INSTANCE)
)

/**
 * The server's answer to an encryption request.
 *
 * - "S": TLS accepted (to SSLRequest); "G": GSSAPI encryption accepted (to
 *   GSSENCRequest); "N": refused, continue unencrypted or try the other one.
 * - "E": the first byte of an ErrorResponse (a server that does not know the
 *   request). The rest of that frame follows; the docs warn it must not be
 *   shown to the user, since the server is not yet authenticated
 *   (CVE-2024-10977), and the connection must be closed.
 *
 * It is one byte, not a frame. After "S", any byte already read beyond it is a
 * protocol violation (buffer stuffing, CVE-2021-23222): the caller must hand
 * the socket to TLS with nothing buffered.
 *
 * @since 0.1.0
 */
export type EncryptionResponse = "S" | "N" | "G" | "E"

/**
 * Reads the one-byte answer to an SSLRequest or GSSENCRequest; `undefined`
 * for any other byte (a protocol violation). With `request`, an answer that
 * belongs to the other request ('G' to SSLRequest, 'S' to GSSENCRequest) is
 * also `undefined`.
 *
 * @since 0.1.0
 */
export const decodeEncryptionResponse = (
  byte: number,
  request?: "SSLRequest" | "GSSENCRequest"
): EncryptionResponse | undefined => {
  switch (byte) {
    case 0x4e:
      return "N"
    case 0x45:
      return "E"
    case 0x53:
      return request === "GSSENCRequest" ? undefined : "S"
    case 0x47:
      return request === "SSLRequest" ? undefined : "G"
  }
  return undefined
}

// ---------------------------------------------------------------------------
// The union and its dispatch
// ---------------------------------------------------------------------------

/**
 * Every startup-phase frame.
 *
 * @since 0.1.0
 */
export type StartupPhaseMessage = StartupMessage | SSLRequest | GSSENCRequest | CancelRequest

/**
 * The Schema of every startup-phase frame.
 *
 * @since 0.1.0
 */
export const MessageSchema = Schema.Union([
  StartupMessageSchema,
  SSLRequestSchema,
  GSSENCRequestSchema,
  CancelRequestSchema
])

/**
 * The codec of each startup-phase frame, by `_tag`.
 *
 * @since 0.1.0
 */
export const codecs: {
  readonly [K in StartupPhaseMessage["_tag"]]: Message.Codec<Extract<StartupPhaseMessage, { _tag: K }>>
} = { StartupMessage, SSLRequest, GSSENCRequest, CancelRequest }

interface BodyReader {
  readonly name: string
  readonly readBody: (r: Reader) => StartupPhaseMessage
}

/**
 * Decodes the body `buf[start, end)` of a startup-phase frame (the bytes
 * after the length word), discriminating by its first Int32. Throws
 * `ProtocolError`.
 *
 * @since 0.1.0
 */
export const readUnsafe = (buf: Uint8Array, start: number, end: number, reader: Reader): StartupPhaseMessage => {
  reader.reset(buf, start, end, "startup packet")
  const code = reader.int32()
  let codec: BodyReader
  switch (code) {
    case StartupCode.SSLRequest:
      codec = SSLRequest
      break
    case StartupCode.GSSENCRequest:
      codec = GSSENCRequest
      break
    case StartupCode.CancelRequest:
      codec = CancelRequest
      break
    default:
      codec = StartupMessage
  }
  reader.reset(buf, start, end, codec.name)
  const message = codec.readBody(reader)
  reader.done()
  return message
}

const decodeReader = new Reader()

/**
 * Decodes one whole startup-phase frame (length word and body).
 *
 * @since 0.1.0
 */
export const decode = (bytes: Uint8Array): Result.Result<StartupPhaseMessage, ProtocolError> => {
  try {
    if (bytes.length < 4) {
      throw new ProtocolError({
        message: `startup packet of ${bytes.length} bytes is shorter than its length word`,
        offset: 0
      })
    }
    const length = (bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!
    if (length !== bytes.length) {
      throw new ProtocolError({
        message: `startup packet: length ${length} does not match the ${bytes.length} bytes given at offset 0`,
        offset: 0
      })
    }
    if (length - 4 > MAX_STARTUP_PACKET_LENGTH) {
      throw new ProtocolError({
        message: `startup packet: length ${length} exceeds the limit of ${MAX_STARTUP_PACKET_LENGTH + 4} at offset 0`,
        offset: 0
      })
    }
    return Result.succeed(readUnsafe(bytes, 4, bytes.length, decodeReader))
  } catch (e) {
    return Result.fail(
      e instanceof ProtocolError
        ? e
        : new ProtocolError({ message: `unexpected decoder failure: ${String(e)}`, offset: 0 })
    )
  }
}

/**
 * Writes one whole frame of `message` into `w`. Throws `ProtocolError` (and
 * leaves nothing of the failed message in `w`).
 *
 * @since 0.1.0
 */
export const writeUnsafe = (w: Writer, message: StartupPhaseMessage): void => {
  try {
    Message.writeFrame(w, codecs[message._tag] as Message.Codec<StartupPhaseMessage>, message)
  } catch (e) {
    w.abort()
    throw e
  }
}

/**
 * Encodes one startup-phase frame as a fresh byte array.
 *
 * @since 0.1.0
 */
export const encode = (message: StartupPhaseMessage): Result.Result<Uint8Array, ProtocolError> =>
  Message.encodeFrame(codecs[message._tag] as Message.Codec<StartupPhaseMessage>, message)

/**
 * The Schema transformation from one whole startup-phase frame's bytes to the
 * message: `Schema.decodeUnknownResult(Startup.MessageFromBytes)(bytes)`.
 *
 * @since 0.1.0
 */
export const MessageFromBytes = Message.fromBytesWith<StartupPhaseMessage>({
  expected: "a startup-phase frame",
  schema: MessageSchema as Schema.Codec<StartupPhaseMessage, StartupPhaseMessage>,
  decode,
  encode
})
