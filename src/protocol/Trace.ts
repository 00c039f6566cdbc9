/**
 * One-line renderings of protocol messages in the format of libpq's PQtrace:
 * `direction TAB length TAB Name TAB fields`, so a trace of this library can
 * be read, and diffed, next to one of libpq.
 *
 * **Details**
 *
 * - The direction is "F" (client to server) or "B" (server to client); the
 *   length is the frame's Int32 length word (which counts itself, not the
 *   type byte); then the message name; then, for messages with a body, a tab
 *   and each field preceded by a space: strings in double quotes, byte strings
 *   in single quotes with non-printable bytes as `\xNN`, integers bare, Byte1
 *   fields as the character (or `\xNN`).
 * - As libpq does, Int16 fields are shown unsigned (a RowDescription's type
 *   size -1 shows as 65535), Int32 fields signed (an OID above 2^31 shows
 *   negative), and ErrorResponse/NoticeResponse end with the terminator
 *   `\x00`.
 * - `regress: true` masks what changes between runs, as libpq's
 *   PQTRACE_REGRESS_MODE does: OIDs and process IDs as NNNN, the length of
 *   ErrorResponse/NoticeResponse as NN, their F, L and R fields as "SSSS",
 *   and authentication and COPY payloads as 'BBBB'.
 * - Deliberate differences from libpq: a PasswordMessage's password is never
 *   shown (`"********"`), whatever the mode; AuthenticationMD5Password shows its
 *   salt and NegotiateProtocolVersion its option names (libpq stops short);
 *   secret keys longer than 4 bytes (protocol 3.2) show as bytes.
 *
 * Pure: builds strings; writing them somewhere is the caller's business. Not
 * for the hot path (it may encode a message to learn its length).
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Backend from "./Backend.ts"
import * as Frontend from "./Frontend.ts"
import * as Message from "./Message.ts"
import * as Startup from "./Startup.ts"

/**
 * Who sent the message: "F" the client (frontend), "B" the server (backend).
 *
 * @since 0.1.0
 */
export type Direction = "F" | "B"

/**
 * Any message this library can render.
 *
 * @since 0.1.0
 */
export type AnyMessage = Backend.BackendMessage | Frontend.FrontendMessage | Startup.StartupPhaseMessage

/**
 * @since 0.1.0
 */
export interface RenderOptions {
  /** Mask values that change between runs, as libpq's regress mode. */
  readonly regress?: boolean | undefined
  /** Show Bind parameters and FunctionCall arguments as `'********'` (their lengths stay): for logs. */
  readonly maskValues?: boolean | undefined
}

/** isprint() of the C locale. */
const isPrint = (c: number): boolean => c >= 0x20 && c <= 0x7e

const hex2 = (c: number): string => c.toString(16).padStart(2, "0")

const str = (s: string): string => ` "${s}"`

const nchar = (bytes: Uint8Array, suppress: boolean): string => {
  if (suppress) return " 'BBBB'"
  let out = " '"
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!
    out += isPrint(c) ? String.fromCharCode(c) : `\\x${hex2(c)}`
  }
  return out + "'"
}

const byte1 = (c: number): string => (isPrint(c) ? ` ${String.fromCharCode(c)}` : ` \\x${hex2(c)}`)

/** libpq prints an Int16 through an unsigned 16-bit read. */
const int16 = (n: number): string => ` ${n & 0xffff}`

/** libpq prints every Int32 signed, OIDs above 2^31 included. */
const int32 = (n: number, suppress: boolean): string => (suppress ? " NNNN" : ` ${n | 0}`)

/** A secret key: an Int32 when it is 4 bytes (as libpq prints it), else bytes. */
const secretKey = (key: Uint8Array, suppress: boolean): string =>
  key.length === 4
    ? int32((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!, suppress)
    : nchar(key, suppress)

const values = (vs: ReadonlyArray<Uint8Array | null>, mask = false): string => {
  let out = int16(vs.length)
  for (const v of vs) out += v === null ? " -1" : ` ${v.length}${mask ? " '********'" : nchar(v, false)}`
  return out
}

const formats = (fs: ReadonlyArray<number>): string => {
  let out = int16(fs.length)
  for (const f of fs) out += int16(f)
  return out
}

/** The fields of a message (the text after "Name\t"), or `undefined` for a body-less message. */
const fields = (m: AnyMessage, regress: boolean, mask = false): string | undefined => {
  switch (m._tag) {
    case "AuthenticationOk":
    case "AuthenticationKerberosV5":
    case "AuthenticationCleartextPassword":
    case "AuthenticationGSS":
    case "AuthenticationSSPI":
    case "BindComplete":
    case "CloseComplete":
    case "CopyDone":
    case "EmptyQueryResponse":
    case "NoData":
    case "ParseComplete":
    case "PortalSuspended":
    case "Flush":
    case "Sync":
    case "Terminate":
      return undefined
    case "AuthenticationMD5Password":
      return nchar(m.salt, regress)
    case "AuthenticationGSSContinue":
    case "AuthenticationSASLContinue":
    case "AuthenticationSASLFinal":
      return nchar(m.data, regress)
    case "AuthenticationSASL":
      return m.mechanisms.map(str).join("") + str("")
    case "BackendKeyData":
      return int32(m.processId, regress) + secretKey(m.secretKey, regress)
    case "CommandComplete":
      return str(m.tag)
    case "CopyData":
      return nchar(m.data, regress)
    case "CopyInResponse":
    case "CopyOutResponse":
    case "CopyBothResponse":
      return byte1(m.format) + formats(m.columnFormats)
    case "DataRow":
      return values(m.values)
    case "ErrorResponse":
    case "NoticeResponse": {
      let out = ""
      for (const f of m.fields) {
        const suppress = regress && (f.code === "F" || f.code === "L" || f.code === "R")
        out += byte1(f.code.charCodeAt(0)) + (suppress ? ` "SSSS"` : str(f.value))
      }
      return out + " \\x00"
    }
    case "FunctionCallResponse":
      return m.result === null ? " -1" : ` ${m.result.length}${nchar(m.result, false)}`
    case "NegotiateProtocolVersion":
      return ` ${m.newestMinorVersion} ${m.unrecognizedOptions.length}` + m.unrecognizedOptions.map(str).join("")
    case "NotificationResponse":
      return int32(m.processId, regress) + str(m.channel) + str(m.payload)
    case "ParameterDescription":
      return int16(m.parameterTypes.length) + m.parameterTypes.map((oid) => int32(oid, regress)).join("")
    case "ParameterStatus":
      return str(m.name) + str(m.value)
    case "ReadyForQuery":
      return ` ${m.transactionStatus}`
    case "RowDescription": {
      let out = int16(m.fields.length)
      for (const f of m.fields) {
        out += str(f.name) + int32(f.tableOid, regress) + int16(f.columnAttributeNumber) +
          int32(f.dataTypeOid, regress) + int16(f.dataTypeSize) + int32(f.typeModifier, false) +
          int16(f.formatCode)
      }
      return out
    }
    case "Bind":
      return str(m.portal) + str(m.statement) + formats(m.parameterFormats) + values(m.parameters, mask) +
        formats(m.resultFormats)
    case "Close":
    case "Describe":
      return ` ${m.target}${str(m.name)}`
    case "CopyFail":
      return str(m.message)
    case "Execute":
      return str(m.portal) + int32(m.maxRows, false)
    case "FunctionCall":
      return int32(m.functionOid, regress) + formats(m.argumentFormats) + values(m.arguments, mask) +
        int16(m.resultFormat)
    case "GSSResponse":
    case "SASLResponse":
      return nchar(m.data, regress)
    case "Parse":
      return str(m.name) + str(m.query) + int16(m.parameterTypes.length) +
        m.parameterTypes.map((oid) => int32(oid, regress)).join("")
    case "PasswordMessage":
      return str("********")
    case "Query":
      return str(m.query)
    case "SASLInitialResponse":
      return str(m.mechanism) + (m.data === null ? " -1" : ` ${m.data.length}${nchar(m.data, regress)}`)
    case "StartupMessage": {
      let out = int16(m.protocolVersion >>> 16) + int16(m.protocolVersion)
      for (const p of m.parameters) out += str(p.name) + str(p.value)
      return out
    }
    case "SSLRequest":
      return " 1234 5679"
    case "GSSENCRequest":
      return " 1234 5680"
    case "CancelRequest":
      return " 1234 5678" + int32(m.processId, regress) + secretKey(m.secretKey, regress)
  }
}

const isStartupPhase = (m: AnyMessage): m is Startup.StartupPhaseMessage =>
  m._tag === "StartupMessage" || m._tag === "SSLRequest" || m._tag === "GSSENCRequest" ||
  m._tag === "CancelRequest"

/** The Int32 length word of `m`'s frame, learned by encoding it. */
const lengthOf = (m: AnyMessage): number | undefined => {
  if (isStartupPhase(m)) {
    const r = Startup.encode(m)
    return Result.isSuccess(r) ? r.success.length : undefined
  }
  const codec = (Backend.codecs as Record<string, Message.Codec<AnyMessage>>)[m._tag] ??
    (Frontend.codecs as Record<string, Message.Codec<AnyMessage>>)[m._tag]
  if (codec === undefined) return undefined
  const r = Message.encodeFrame(codec, m)
  return Result.isSuccess(r) ? r.success.length - 1 : undefined
}

/**
 * Renders one message as a PQtrace line (no trailing newline).
 *
 * **Details**
 *
 * `length` is the frame's Int32 length word; when omitted it is computed by
 * encoding the message (a message that cannot be encoded shows `?`).
 *
 * @since 0.1.0
 */
export const render = (
  direction: Direction,
  message: AnyMessage,
  length?: number,
  options?: RenderOptions
): string => {
  const regress = options?.regress === true
  const maskLength = regress && direction === "B" &&
    (message._tag === "ErrorResponse" || message._tag === "NoticeResponse")
  const len = maskLength ? "NN" : String(length ?? lengthOf(message) ?? "?")
  const body = fields(message, regress, options?.maskValues === true)
  return body === undefined
    ? `${direction}\t${len}\t${message._tag}`
    : `${direction}\t${len}\t${message._tag}\t${body}`
}

/**
 * Decodes one whole frame and renders it; a frame that does not decode
 * renders as `Unknown message` with the decoding error, as libpq does for a
 * type it does not know.
 *
 * **Details**
 *
 * `startup: true` reads a frame without a type byte (client direction only);
 * `password` says which 'p' message a client frame is (see
 * `Frontend.PasswordContext`).
 *
 * @since 0.1.0
 */
export const renderFrame = (
  direction: Direction,
  bytes: Uint8Array,
  options?: RenderOptions & {
    readonly startup?: boolean | undefined
    readonly password?: Frontend.PasswordContext["password"] | undefined
  }
): string => {
  const startup = options?.startup === true
  const decoded: Result.Result<AnyMessage, { readonly message: string }> = startup
    ? Startup.decode(bytes)
    : direction === "B"
    ? Backend.decode(bytes)
    : Frontend.decode(bytes, options?.password === undefined ? undefined : { password: options.password })
  const length = bytes.length < 5
    ? bytes.length
    : startup
    ? (bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!
    : (bytes[1]! << 24) | (bytes[2]! << 16) | (bytes[3]! << 8) | bytes[4]!
  if (Result.isFailure(decoded)) return `${direction}\t${length}\tUnknown message: ${decoded.failure.message}`
  return render(direction, decoded.success, length, options)
}
