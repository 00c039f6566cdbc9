/**
 * Protocol 2.0 messages, both directions (protocol-2.0 "Message Formats"),
 * and incremental decoders for both directions.
 *
 * **Details**
 *
 * - `_tag`s are the exact names of the 2.0 "Message Formats" page. Several
 *   (`ErrorResponse`, `RowDescription`, `ReadyForQuery`, `Query`, ...) are
 *   also 3.x names: `V2.RowDescription` is a different type from
 *   `Backend.RowDescription`, and the module (the protocol version the
 *   session negotiated) tells them apart, never the tag.
 * - Most 2.0 messages carry no length word: a type byte, then fields whose
 *   sizes follow from the fields themselves. So they cannot be framed without
 *   being parsed, and the codecs here use the `payload` framing of `Message`
 *   (type byte, then the body up to the end of the given bytes) for one whole
 *   message, and `BackendDecoder` / `FrontendDecoder` cut a byte stream into
 *   messages. Only the packets of the start-up exchange sent by the client
 *   (StartupPacket, PasswordPacket, CancelRequest, SSLRequest) start with a
 *   length (`untyped` framing); the server's Authentication messages do not.
 * - AsciiRow and BinaryRow start with a null bitmap whose size depends on the
 *   field count of the preceding RowDescription: their codecs are made per
 *   field count (`asciiRow(n)`, `binaryRow(n)`), and `BackendDecoder`
 *   remembers the last RowDescription. AsciiRow sizes count their own four
 *   bytes, BinaryRow sizes do not (as documented).
 * - CopyDataRows has neither type byte nor length: text lines ending in
 *   '\n', then the line `\.`. A `CopyDataRows` value is some rows (without
 *   their '\n') and whether the end marker follows; the decoders emit one
 *   value per line (`end: true` with no rows for the marker), so a COPY of any
 *   size never has to be buffered whole. `BackendDecoder` enters copy mode by
 *   itself after CopyOutResponse; a server calls
 *   `FrontendDecoder.expectCopyDataRows()` after sending CopyInResponse, and
 *   `expectPasswordPacket()` after an authentication request.
 * - Strings are decoded as strict UTF-8 (set the server's client encoding to
 *   UTF8). The "Unused" strings of FunctionCall and EmptyQueryResponse are
 *   kept when not empty (libpq sent `" "` in FunctionCall), so bytes round
 *   trip. LimStrings are read up to their first NUL; padding after it is
 *   ignored and written as zeros. Bitmap bits past the last field are ignored
 *   and written as zeros.
 * - Byte fields of decoded messages (row values, function results, copy rows)
 *   are views of the input chunks: a chunk passed to a decoder must not be
 *   modified afterwards.
 *
 * Not here: the single-byte answer to SSLRequest (the 2.0 text says 'Y',
 * servers send 'S'; or 'N'), which the caller reads before the decoder sees
 * any byte ('N' would otherwise look like a NoticeResponse); the crypt(3)
 * and MD5 password hashing; the session state machine; and errors raised in
 * the middle of a COPY OUT (nothing frames them apart from the rows in 2.0,
 * so they arrive as rows). Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { ProtocolError } from "../errors/PgError.ts"
import { StartupCode } from "../wire/Codes.ts"
import { DEFAULT_MAX_MESSAGE_SIZE } from "../wire/Framer.ts"
import { Reader } from "../wire/Reader.ts"
import * as Utf8 from "../wire/Utf8.ts"
import { Writer } from "../wire/Writer.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"

/**
 * Type bytes of messages sent by a 2.0 server.
 *
 * @since 0.1.0
 */
export const BackendCode = {
  AsciiRow: 0x44, // 'D'
  Authentication: 0x52, // 'R' (the Int32 that follows says which)
  BackendKeyData: 0x4b, // 'K'
  BinaryRow: 0x42, // 'B'
  CompletedResponse: 0x43, // 'C'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  CursorResponse: 0x50, // 'P'
  EmptyQueryResponse: 0x49, // 'I'
  ErrorResponse: 0x45, // 'E'
  /** FunctionResultResponse and FunctionVoidResponse; the next byte ('G' or '0') says which. */
  FunctionResponse: 0x56, // 'V'
  NoticeResponse: 0x4e, // 'N'
  NotificationResponse: 0x41, // 'A'
  ReadyForQuery: 0x5a, // 'Z'
  RowDescription: 0x54 // 'T'
} as const

/**
 * Type bytes of messages sent by a 2.0 client after the start-up packets.
 *
 * @since 0.1.0
 */
export const FrontendCode = {
  FunctionCall: 0x46, // 'F'
  Query: 0x51, // 'Q'
  Terminate: 0x58 // 'X'
} as const

/**
 * The Int32 after 'R' in the 2.0 Authentication messages.
 *
 * @since 0.1.0
 */
export const AuthCode = {
  Ok: 0,
  KerberosV4: 1,
  KerberosV5: 2,
  CleartextPassword: 3,
  CryptPassword: 4,
  MD5Password: 5,
  SCMCredential: 6
} as const

/**
 * The fixed size of a StartupPacket, length word included.
 *
 * @since 0.1.0
 */
export const STARTUP_PACKET_LENGTH = 296

/** Int16 field counts (RowDescription) are at most this. */
const MAX_FIELDS = 32767

const NEWLINE = 0x0a
const BACKSLASH = 0x5c
const PERIOD = 0x2e

const hex = (b: number): string => `0x${b.toString(16).padStart(2, "0")}`

// ---------------------------------------------------------------------------
// Field Schemas
// ---------------------------------------------------------------------------

/**
 * A LimString*n*: at most `n` bytes of UTF-8, no NUL.
 *
 * @since 0.1.0
 */
export const LimString = (n: number) =>
  Fields.CString.check(
    Schema.isMaxLength(n),
    Schema.makeFilter((s: string) => Utf8.byteLength(s) <= n || `must fit in ${n} bytes of UTF-8`, {
      expected: `a string of at most ${n} UTF-8 bytes`
    })
  )

/** A non-empty string without NUL: an "Unused" string worth keeping. */
const UnusedString = Fields.CString.check(Schema.isMinLength(1))

/** One copy row: bytes without '\n', and not the end marker `\.`. */
const CopyRow = Fields.Bytes.check(
  Schema.makeFilter((b: Uint8Array) => b.indexOf(NEWLINE) === -1 || "must not contain a newline byte", {
    expected: "bytes without a newline"
  }),
  Schema.makeFilter(
    (b: Uint8Array) => !(b.length === 2 && b[0] === BACKSLASH && b[1] === PERIOD) || "must not be the end marker \\.",
    { expected: "a row that is not the end marker" }
  )
)

// ---------------------------------------------------------------------------
// AsciiRow (B) 'D' and BinaryRow (B) 'B'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const AsciiRowSchema = Schema.TaggedStruct("AsciiRow", {
  /** One value per field of the last RowDescription; `null` is SQL NULL (bit clear). */
  values: Schema.Array(Fields.NullableBytes).check(Schema.isMaxLength(MAX_FIELDS))
})
/** @since 0.1.0 */
export interface AsciiRow extends Schema.Schema.Type<typeof AsciiRowSchema> {}

/** @since 0.1.0 */
export const BinaryRowSchema = Schema.TaggedStruct("BinaryRow", {
  /** One value per field of the last RowDescription; `null` is SQL NULL (bit clear). */
  values: Schema.Array(Fields.NullableBytes).check(Schema.isMaxLength(MAX_FIELDS))
})
/** @since 0.1.0 */
export interface BinaryRow extends Schema.Schema.Type<typeof BinaryRowSchema> {}

/**
 * Reads a row body: the null bitmap (bit 7 of byte 0 is field 0), then a size
 * and the bytes of each non-null field. AsciiRow sizes include their own four
 * bytes; BinaryRow sizes do not.
 */
const readRowValues = (r: Reader, fieldCount: number, sizeIncludesItself: boolean): Array<Uint8Array | null> => {
  const bitmap = r.bytes((fieldCount + 7) >> 3)
  const values: Array<Uint8Array | null> = new Array(fieldCount)
  for (let i = 0; i < fieldCount; i++) {
    if ((bitmap[i >> 3]! & (0x80 >> (i & 7))) === 0) {
      values[i] = null
      continue
    }
    let size = r.int32()
    if (sizeIncludesItself) {
      if (size < 4) {
        r.pos -= 4
        r.fail(`field ${i} has size ${size}, less than the 4 bytes of the size itself`)
      }
      size -= 4
    } else if (size < 0) {
      r.pos -= 4
      r.fail(`field ${i} has negative size ${size}`)
    }
    values[i] = r.bytes(size)
  }
  return values
}

const writeRowValues = (w: Writer, values: ReadonlyArray<Uint8Array | null>, sizeIncludesItself: boolean): void => {
  if (values.length > MAX_FIELDS) w.fail(`${values.length} fields exceeds ${MAX_FIELDS}`)
  const bitmapLength = (values.length + 7) >> 3
  for (let byte = 0; byte < bitmapLength; byte++) {
    let bits = 0
    for (let bit = 0; bit < 8; bit++) {
      const i = byte * 8 + bit
      if (i < values.length && values[i] !== null) bits |= 0x80 >> bit
    }
    w.uint8(bits)
  }
  const extra = sizeIncludesItself ? 4 : 0
  for (const v of values) {
    if (v !== null) w.int32(v.length + extra).bytes(v)
  }
}

/**
 * Reads an AsciiRow body for `fieldCount` fields. Throws `ProtocolError`.
 *
 * @since 0.1.0
 */
export const readAsciiRowBody = (r: Reader, fieldCount: number): AsciiRow => ({
  _tag: "AsciiRow",
  values: readRowValues(r, fieldCount, true)
})

/**
 * Reads a BinaryRow body for `fieldCount` fields. Throws `ProtocolError`.
 *
 * @since 0.1.0
 */
export const readBinaryRowBody = (r: Reader, fieldCount: number): BinaryRow => ({
  _tag: "BinaryRow",
  values: readRowValues(r, fieldCount, false)
})

const checkFieldCount = (w: Writer, name: string, expected: number, actual: number): void => {
  if (expected !== actual) w.fail(`${name} has ${actual} values but the RowDescription has ${expected} fields`)
}

/**
 * The AsciiRow codec for rows of `fieldCount` fields (the count of the
 * preceding RowDescription).
 *
 * @since 0.1.0
 */
export const asciiRow = (fieldCount: number): Message.Codec<AsciiRow> =>
  Message.make({
    name: "AsciiRow",
    framing: "payload",
    type: BackendCode.AsciiRow,
    schema: AsciiRowSchema,
    readBody: (r) => readAsciiRowBody(r, fieldCount),
    writeBody: (w, m) => {
      checkFieldCount(w, "AsciiRow", fieldCount, m.values.length)
      writeRowValues(w, m.values, true)
    }
  })

/**
 * The BinaryRow codec for rows of `fieldCount` fields.
 *
 * @since 0.1.0
 */
export const binaryRow = (fieldCount: number): Message.Codec<BinaryRow> =>
  Message.make({
    name: "BinaryRow",
    framing: "payload",
    type: BackendCode.BinaryRow,
    schema: BinaryRowSchema,
    readBody: (r) => readBinaryRowBody(r, fieldCount),
    writeBody: (w, m) => {
      checkFieldCount(w, "BinaryRow", fieldCount, m.values.length)
      writeRowValues(w, m.values, false)
    }
  })

// ---------------------------------------------------------------------------
// Authentication* (B) 'R'
// ---------------------------------------------------------------------------

const authCodec = <A extends { readonly _tag: string }>(
  name: A["_tag"],
  code: number,
  schema: Schema.Codec<A, A>,
  readRest: (r: Reader) => A,
  writeRest: (w: Writer, m: A) => void
): Message.Codec<A> =>
  Message.make({
    name,
    framing: "payload",
    type: BackendCode.Authentication,
    schema,
    readBody: (r) => {
      const c = r.int32()
      if (c !== code) {
        r.pos -= 4
        r.fail(`authentication code ${c} is not ${code}`)
      }
      return readRest(r)
    },
    writeBody: (w, m) => {
      w.int32(code)
      writeRest(w, m)
    }
  })

const noFields = () => {}

/** @since 0.1.0 */
export const AuthenticationOkSchema = Schema.TaggedStruct("AuthenticationOk", {})
/** @since 0.1.0 */
export interface AuthenticationOk extends Schema.Schema.Type<typeof AuthenticationOkSchema> {}
const authenticationOk: AuthenticationOk = { _tag: "AuthenticationOk" }
/** Authentication succeeded: Int32(0). @since 0.1.0 */
export const AuthenticationOk = authCodec(
  "AuthenticationOk",
  AuthCode.Ok,
  AuthenticationOkSchema,
  () => authenticationOk,
  noFields
)

/** @since 0.1.0 */
export const AuthenticationKerberosV4Schema = Schema.TaggedStruct("AuthenticationKerberosV4", {})
/** @since 0.1.0 */
export interface AuthenticationKerberosV4 extends Schema.Schema.Type<typeof AuthenticationKerberosV4Schema> {}
const authenticationKerberosV4: AuthenticationKerberosV4 = { _tag: "AuthenticationKerberosV4" }
/** Kerberos V4 authentication is required: Int32(1). @since 0.1.0 */
export const AuthenticationKerberosV4 = authCodec(
  "AuthenticationKerberosV4",
  AuthCode.KerberosV4,
  AuthenticationKerberosV4Schema,
  () => authenticationKerberosV4,
  noFields
)

/** @since 0.1.0 */
export const AuthenticationKerberosV5Schema = Schema.TaggedStruct("AuthenticationKerberosV5", {})
/** @since 0.1.0 */
export interface AuthenticationKerberosV5 extends Schema.Schema.Type<typeof AuthenticationKerberosV5Schema> {}
const authenticationKerberosV5: AuthenticationKerberosV5 = { _tag: "AuthenticationKerberosV5" }
/** Kerberos V5 authentication is required: Int32(2). @since 0.1.0 */
export const AuthenticationKerberosV5 = authCodec(
  "AuthenticationKerberosV5",
  AuthCode.KerberosV5,
  AuthenticationKerberosV5Schema,
  () => authenticationKerberosV5,
  noFields
)

/** @since 0.1.0 */
export const AuthenticationCleartextPasswordSchema = Schema.TaggedStruct("AuthenticationCleartextPassword", {})
/** @since 0.1.0 */
export interface AuthenticationCleartextPassword
  extends Schema.Schema.Type<typeof AuthenticationCleartextPasswordSchema>
{}
const authenticationCleartextPassword: AuthenticationCleartextPassword = { _tag: "AuthenticationCleartextPassword" }
/** A cleartext password is required: Int32(3). @since 0.1.0 */
export const AuthenticationCleartextPassword = authCodec(
  "AuthenticationCleartextPassword",
  AuthCode.CleartextPassword,
  AuthenticationCleartextPasswordSchema,
  () => authenticationCleartextPassword,
  noFields
)

/** @since 0.1.0 */
export const AuthenticationCryptPasswordSchema = Schema.TaggedStruct("AuthenticationCryptPassword", {
  /** The salt for crypt(3): exactly 2 bytes (Byte2). */
  salt: Fields.Bytes.check(Schema.isBetweenLength(2, 2))
})
/** @since 0.1.0 */
export interface AuthenticationCryptPassword extends Schema.Schema.Type<typeof AuthenticationCryptPasswordSchema> {}
/** A crypt(3)-encrypted password is required: Int32(4), Byte2 salt. `salt` is a view. @since 0.1.0 */
export const AuthenticationCryptPassword = authCodec(
  "AuthenticationCryptPassword",
  AuthCode.CryptPassword,
  AuthenticationCryptPasswordSchema,
  (r) => ({ _tag: "AuthenticationCryptPassword", salt: r.bytes(2) }),
  (w, m) => {
    if (m.salt.length !== 2) w.fail(`salt must be 2 bytes, got ${m.salt.length}`)
    w.bytes(m.salt)
  }
)

/** @since 0.1.0 */
export const AuthenticationMD5PasswordSchema = Schema.TaggedStruct("AuthenticationMD5Password", {
  /** The salt for the MD5 hash: exactly 4 bytes (Byte4). */
  salt: Fields.Bytes.check(Schema.isBetweenLength(4, 4))
})
/** @since 0.1.0 */
export interface AuthenticationMD5Password extends Schema.Schema.Type<typeof AuthenticationMD5PasswordSchema> {}
/** An MD5-encrypted password is required: Int32(5), Byte4 salt. `salt` is a view. @since 0.1.0 */
export const AuthenticationMD5Password = authCodec(
  "AuthenticationMD5Password",
  AuthCode.MD5Password,
  AuthenticationMD5PasswordSchema,
  (r) => ({ _tag: "AuthenticationMD5Password", salt: r.bytes(4) }),
  (w, m) => {
    if (m.salt.length !== 4) w.fail(`salt must be 4 bytes, got ${m.salt.length}`)
    w.bytes(m.salt)
  }
)

/** @since 0.1.0 */
export const AuthenticationSCMCredentialSchema = Schema.TaggedStruct("AuthenticationSCMCredential", {})
/** @since 0.1.0 */
export interface AuthenticationSCMCredential extends Schema.Schema.Type<typeof AuthenticationSCMCredentialSchema> {}
const authenticationSCMCredential: AuthenticationSCMCredential = { _tag: "AuthenticationSCMCredential" }
/** An SCM credentials message is required (Unix sockets only): Int32(6). @since 0.1.0 */
export const AuthenticationSCMCredential = authCodec(
  "AuthenticationSCMCredential",
  AuthCode.SCMCredential,
  AuthenticationSCMCredentialSchema,
  () => authenticationSCMCredential,
  noFields
)

// ---------------------------------------------------------------------------
// BackendKeyData (B) 'K'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const BackendKeyDataSchema = Schema.TaggedStruct("BackendKeyData", {
  /** The process ID of this backend. */
  processId: Fields.Int32,
  /** The secret key of this backend (an Int32 in protocol 2.0). */
  secretKey: Fields.Int32
})
/** @since 0.1.0 */
export interface BackendKeyData extends Schema.Schema.Type<typeof BackendKeyDataSchema> {}

/** @since 0.1.0 */
export const BackendKeyData: Message.Codec<BackendKeyData> = Message.make({
  name: "BackendKeyData",
  framing: "payload",
  type: BackendCode.BackendKeyData,
  schema: BackendKeyDataSchema,
  readBody: (r) => {
    const processId = r.int32()
    const secretKey = r.int32()
    return { _tag: "BackendKeyData", processId, secretKey }
  },
  writeBody: (w, m) => {
    w.int32(m.processId).int32(m.secretKey)
  }
})

// ---------------------------------------------------------------------------
// CancelRequest (F)
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const CancelRequestSchema = Schema.TaggedStruct("CancelRequest", {
  /** The process ID of the target backend. */
  processId: Fields.Int32,
  /** The secret key for the target backend. */
  secretKey: Fields.Int32
})
/** @since 0.1.0 */
export interface CancelRequest extends Schema.Schema.Type<typeof CancelRequestSchema> {}

/**
 * Sent instead of a StartupPacket on a new connection: Int32(16),
 * Int32(80877102), the process ID and the secret key.
 *
 * @since 0.1.0
 */
export const CancelRequest: Message.Codec<CancelRequest> = Message.make({
  name: "CancelRequest",
  framing: "untyped",
  type: -1,
  schema: CancelRequestSchema,
  readBody: (r) => {
    const code = r.int32()
    if (code !== StartupCode.CancelRequest) {
      r.pos -= 4
      r.fail(`request code ${code} is not ${StartupCode.CancelRequest}`)
    }
    const processId = r.int32()
    const secretKey = r.int32()
    return { _tag: "CancelRequest", processId, secretKey }
  },
  writeBody: (w, m) => {
    w.int32(StartupCode.CancelRequest).int32(m.processId).int32(m.secretKey)
  }
})

// ---------------------------------------------------------------------------
// CompletedResponse (B) 'C'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const CompletedResponseSchema = Schema.TaggedStruct("CompletedResponse", {
  /** The command tag ("INSERT oid rows", "DELETE rows", "UPDATE rows", "SELECT", ...). */
  tag: Fields.CString
})
/** @since 0.1.0 */
export interface CompletedResponse extends Schema.Schema.Type<typeof CompletedResponseSchema> {}

/** @since 0.1.0 */
export const CompletedResponse: Message.Codec<CompletedResponse> = Message.make({
  name: "CompletedResponse",
  framing: "payload",
  type: BackendCode.CompletedResponse,
  schema: CompletedResponseSchema,
  readBody: (r) => ({ _tag: "CompletedResponse", tag: r.cstring() }),
  writeBody: (w, m) => {
    w.cstring(m.tag)
  }
})

// ---------------------------------------------------------------------------
// CopyDataRows (B & F)
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const CopyDataRowsSchema = Schema.TaggedStruct("CopyDataRows", {
  /** Rows without their terminating '\n' (views when decoded). */
  rows: Schema.Array(CopyRow),
  /** The end marker `\.` '\n' follows the rows. */
  end: Schema.Boolean
})
/**
 * Some COPY rows, and whether the end marker follows them.
 *
 * @since 0.1.0
 */
export interface CopyDataRows extends Schema.Schema.Type<typeof CopyDataRowsSchema> {}

const copyEnd: CopyDataRows = { _tag: "CopyDataRows", rows: [], end: true }

/**
 * Writes rows, each followed by '\n', then `\.` '\n' when `end` is set.
 * Throws `ProtocolError` for a row containing '\n' or equal to `\.`.
 *
 * @since 0.1.0
 */
export const writeCopyDataRowsUnsafe = (w: Writer, m: CopyDataRows): void => {
  for (let i = 0; i < m.rows.length; i++) {
    const row = m.rows[i]!
    if (row.indexOf(NEWLINE) !== -1) w.fail(`CopyDataRows: row ${i} contains a newline byte`)
    if (row.length === 2 && row[0] === BACKSLASH && row[1] === PERIOD) {
      w.fail(`CopyDataRows: row ${i} is the end marker \\.`)
    }
    w.bytes(row).uint8(NEWLINE)
  }
  if (m.end) w.uint8(BACKSLASH).uint8(PERIOD).uint8(NEWLINE)
}

/**
 * Reads lines from `r` up to its end: every line must end in '\n', and the
 * end marker, if present, must be the last line. Throws `ProtocolError`.
 *
 * @since 0.1.0
 */
export const readCopyDataRowsUnsafe = (r: Reader): CopyDataRows => {
  const rows: Array<Uint8Array> = []
  const buf = r.buf
  while (r.pos < r.end) {
    const start = r.pos
    const nl = indexOfByte(buf, NEWLINE, start, r.end)
    if (nl < 0) r.fail("unterminated row (no newline)")
    r.pos = nl + 1
    if (nl - start === 2 && buf[start] === BACKSLASH && buf[start + 1] === PERIOD) {
      r.done()
      return { _tag: "CopyDataRows", rows, end: true }
    }
    rows.push(buf.subarray(start, nl))
  }
  return { _tag: "CopyDataRows", rows, end: false }
}

/**
 * Encodes CopyDataRows as fresh bytes.
 *
 * @since 0.1.0
 */
export const encodeCopyDataRows = (m: CopyDataRows): Result.Result<Uint8Array, ProtocolError> =>
  encodeWith(m, writeCopyDataRowsUnsafe)

/**
 * Decodes bytes made only of COPY lines (see `readCopyDataRowsUnsafe`).
 *
 * @since 0.1.0
 */
export const decodeCopyDataRows = (bytes: Uint8Array): Result.Result<CopyDataRows, ProtocolError> => {
  try {
    return Result.succeed(readCopyDataRowsUnsafe(new Reader(bytes, 0, bytes.length, "CopyDataRows")))
  } catch (e) {
    return Result.fail(asProtocolError(e, "CopyDataRows"))
  }
}

/**
 * The Schema transformation between COPY lines and CopyDataRows.
 *
 * @since 0.1.0
 */
export const CopyDataRowsFromBytes = Message.fromBytesWith({
  expected: "protocol 2.0 COPY rows",
  schema: CopyDataRowsSchema,
  decode: decodeCopyDataRows,
  encode: encodeCopyDataRows
})

// ---------------------------------------------------------------------------
// CopyInResponse (B) 'G' / CopyOutResponse (B) 'H'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const CopyInResponseSchema = Schema.TaggedStruct("CopyInResponse", {})
/** @since 0.1.0 */
export interface CopyInResponse extends Schema.Schema.Type<typeof CopyInResponseSchema> {}
const copyInResponse: CopyInResponse = { _tag: "CopyInResponse" }

/** The server is ready for CopyDataRows from the client. @since 0.1.0 */
export const CopyInResponse: Message.Codec<CopyInResponse> = Message.make({
  name: "CopyInResponse",
  framing: "payload",
  type: BackendCode.CopyInResponse,
  schema: CopyInResponseSchema,
  readBody: () => copyInResponse,
  writeBody: noFields
})

/** @since 0.1.0 */
export const CopyOutResponseSchema = Schema.TaggedStruct("CopyOutResponse", {})
/** @since 0.1.0 */
export interface CopyOutResponse extends Schema.Schema.Type<typeof CopyOutResponseSchema> {}
const copyOutResponse: CopyOutResponse = { _tag: "CopyOutResponse" }

/** CopyDataRows from the server follow. @since 0.1.0 */
export const CopyOutResponse: Message.Codec<CopyOutResponse> = Message.make({
  name: "CopyOutResponse",
  framing: "payload",
  type: BackendCode.CopyOutResponse,
  schema: CopyOutResponseSchema,
  readBody: () => copyOutResponse,
  writeBody: noFields
})

// ---------------------------------------------------------------------------
// CursorResponse (B) 'P'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const CursorResponseSchema = Schema.TaggedStruct("CursorResponse", {
  /** The cursor's name: "blank" for the implicit cursor, else the FETCH cursor. */
  name: Fields.CString
})
/** @since 0.1.0 */
export interface CursorResponse extends Schema.Schema.Type<typeof CursorResponseSchema> {}

/** @since 0.1.0 */
export const CursorResponse: Message.Codec<CursorResponse> = Message.make({
  name: "CursorResponse",
  framing: "payload",
  type: BackendCode.CursorResponse,
  schema: CursorResponseSchema,
  readBody: (r) => ({ _tag: "CursorResponse", name: r.cstring() }),
  writeBody: (w, m) => {
    w.cstring(m.name)
  }
})

// ---------------------------------------------------------------------------
// EmptyQueryResponse (B) 'I'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const EmptyQueryResponseSchema = Schema.TaggedStruct("EmptyQueryResponse", {
  /** The "Unused" string, when not empty (the documentation says `String("")`). */
  unused: Schema.optionalKey(UnusedString)
})
/** @since 0.1.0 */
export interface EmptyQueryResponse extends Schema.Schema.Type<typeof EmptyQueryResponseSchema> {}
const emptyQueryResponse: EmptyQueryResponse = { _tag: "EmptyQueryResponse" }

/** @since 0.1.0 */
export const EmptyQueryResponse: Message.Codec<EmptyQueryResponse> = Message.make({
  name: "EmptyQueryResponse",
  framing: "payload",
  type: BackendCode.EmptyQueryResponse,
  schema: EmptyQueryResponseSchema,
  readBody: (r) => {
    const unused = r.cstring()
    return unused === "" ? emptyQueryResponse : { _tag: "EmptyQueryResponse", unused }
  },
  writeBody: (w, m) => {
    w.cstring(m.unused ?? "")
  }
})

// ---------------------------------------------------------------------------
// ErrorResponse (B) 'E' / NoticeResponse (B) 'N'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const ErrorResponseSchema = Schema.TaggedStruct("ErrorResponse", {
  /** The error message itself (no fields: protocol 2.0 errors are one string). */
  message: Fields.CString
})
/** @since 0.1.0 */
export interface ErrorResponse extends Schema.Schema.Type<typeof ErrorResponseSchema> {}

/** @since 0.1.0 */
export const ErrorResponse: Message.Codec<ErrorResponse> = Message.make({
  name: "ErrorResponse",
  framing: "payload",
  type: BackendCode.ErrorResponse,
  schema: ErrorResponseSchema,
  readBody: (r) => ({ _tag: "ErrorResponse", message: r.cstring() }),
  writeBody: (w, m) => {
    w.cstring(m.message)
  }
})

/** @since 0.1.0 */
export const NoticeResponseSchema = Schema.TaggedStruct("NoticeResponse", {
  /** The notice message itself. */
  message: Fields.CString
})
/** @since 0.1.0 */
export interface NoticeResponse extends Schema.Schema.Type<typeof NoticeResponseSchema> {}

/** @since 0.1.0 */
export const NoticeResponse: Message.Codec<NoticeResponse> = Message.make({
  name: "NoticeResponse",
  framing: "payload",
  type: BackendCode.NoticeResponse,
  schema: NoticeResponseSchema,
  readBody: (r) => ({ _tag: "NoticeResponse", message: r.cstring() }),
  writeBody: (w, m) => {
    w.cstring(m.message)
  }
})

// ---------------------------------------------------------------------------
// FunctionCall (F) 'F'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const FunctionCallSchema = Schema.TaggedStruct("FunctionCall", {
  /** The "Unused" string, when not empty (libpq sent `" "`). */
  unused: Schema.optionalKey(UnusedString),
  /** The object ID of the function to call. */
  functionOid: Fields.UInt32,
  /** Argument values in binary format (2.0 has no NULL arguments). */
  arguments: Schema.Array(Fields.Bytes)
})
/** @since 0.1.0 */
export interface FunctionCall extends Schema.Schema.Type<typeof FunctionCallSchema> {}

/** @since 0.1.0 */
export const FunctionCall: Message.Codec<FunctionCall> = Message.make({
  name: "FunctionCall",
  framing: "payload",
  type: FrontendCode.FunctionCall,
  schema: FunctionCallSchema,
  readBody: (r) => {
    const unused = r.cstring()
    const functionOid = r.uint32()
    const n = r.int32()
    if (n < 0) {
      r.pos -= 4
      r.fail(`argument count ${n} out of range`)
    }
    // Grown as arguments are read, so an untrusted count never sizes an allocation.
    const args: Array<Uint8Array> = []
    for (let i = 0; i < n; i++) {
      const size = r.int32()
      if (size < 0) {
        r.pos -= 4
        r.fail(`argument ${i} has negative size ${size}`)
      }
      args.push(r.bytes(size))
    }
    return unused === ""
      ? { _tag: "FunctionCall", functionOid, arguments: args }
      : { _tag: "FunctionCall", unused, functionOid, arguments: args }
  },
  writeBody: (w, m) => {
    w.cstring(m.unused ?? "").uint32(m.functionOid).int32(m.arguments.length)
    for (const a of m.arguments) w.int32(a.length).bytes(a)
  }
})

// ---------------------------------------------------------------------------
// FunctionResultResponse (B) 'V' 'G' / FunctionVoidResponse (B) 'V' '0'
// ---------------------------------------------------------------------------

const RESULT_NONEMPTY = 0x47 // 'G'
const RESULT_END = 0x30 // '0'

/** @since 0.1.0 */
export const FunctionResultResponseSchema = Schema.TaggedStruct("FunctionResultResponse", {
  /** The result in binary format (a view when decoded). */
  result: Fields.Bytes
})
/** @since 0.1.0 */
export interface FunctionResultResponse extends Schema.Schema.Type<typeof FunctionResultResponseSchema> {}

const expectByte = (r: Reader, expected: number, what: string): void => {
  const b = r.uint8()
  if (b !== expected) {
    r.pos--
    r.fail(`expected ${what} ('${String.fromCharCode(expected)}'), got ${hex(b)}`)
  }
}

/** 'V', 'G', Int32 size, the result, '0'. @since 0.1.0 */
export const FunctionResultResponse: Message.Codec<FunctionResultResponse> = Message.make({
  name: "FunctionResultResponse",
  framing: "payload",
  type: BackendCode.FunctionResponse,
  schema: FunctionResultResponseSchema,
  readBody: (r) => {
    expectByte(r, RESULT_NONEMPTY, "a nonempty result")
    const size = r.int32()
    if (size < 0) {
      r.pos -= 4
      r.fail(`negative result size ${size}`)
    }
    const result = r.bytes(size)
    expectByte(r, RESULT_END, "the end of the result")
    return { _tag: "FunctionResultResponse", result }
  },
  writeBody: (w, m) => {
    w.uint8(RESULT_NONEMPTY).int32(m.result.length).bytes(m.result).uint8(RESULT_END)
  }
})

/** @since 0.1.0 */
export const FunctionVoidResponseSchema = Schema.TaggedStruct("FunctionVoidResponse", {})
/** @since 0.1.0 */
export interface FunctionVoidResponse extends Schema.Schema.Type<typeof FunctionVoidResponseSchema> {}
const functionVoidResponse: FunctionVoidResponse = { _tag: "FunctionVoidResponse" }

/** 'V', '0'. @since 0.1.0 */
export const FunctionVoidResponse: Message.Codec<FunctionVoidResponse> = Message.make({
  name: "FunctionVoidResponse",
  framing: "payload",
  type: BackendCode.FunctionResponse,
  schema: FunctionVoidResponseSchema,
  readBody: (r) => {
    expectByte(r, RESULT_END, "an empty result")
    return functionVoidResponse
  },
  writeBody: (w) => {
    w.uint8(RESULT_END)
  }
})

// ---------------------------------------------------------------------------
// NotificationResponse (B) 'A'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const NotificationResponseSchema = Schema.TaggedStruct("NotificationResponse", {
  /** The process ID of the notifying backend. */
  processId: Fields.Int32,
  /** The name of the condition the notify was raised on (2.0 has no payload). */
  conditionName: Fields.CString
})
/** @since 0.1.0 */
export interface NotificationResponse extends Schema.Schema.Type<typeof NotificationResponseSchema> {}

/** @since 0.1.0 */
export const NotificationResponse: Message.Codec<NotificationResponse> = Message.make({
  name: "NotificationResponse",
  framing: "payload",
  type: BackendCode.NotificationResponse,
  schema: NotificationResponseSchema,
  readBody: (r) => {
    const processId = r.int32()
    const conditionName = r.cstring()
    return { _tag: "NotificationResponse", processId, conditionName }
  },
  writeBody: (w, m) => {
    w.int32(m.processId).cstring(m.conditionName)
  }
})

// ---------------------------------------------------------------------------
// PasswordPacket (F)
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const PasswordPacketSchema = Schema.TaggedStruct("PasswordPacket", {
  /** The password (encrypted, if requested). */
  password: Fields.CString
})
/** @since 0.1.0 */
export interface PasswordPacket extends Schema.Schema.Type<typeof PasswordPacketSchema> {}

/** Int32 size of the packet, then the password as a String. @since 0.1.0 */
export const PasswordPacket: Message.Codec<PasswordPacket> = Message.make({
  name: "PasswordPacket",
  framing: "untyped",
  type: -1,
  schema: PasswordPacketSchema,
  readBody: (r) => ({ _tag: "PasswordPacket", password: r.cstring() }),
  writeBody: (w, m) => {
    w.cstring(m.password)
  }
})

// ---------------------------------------------------------------------------
// Query (F) 'Q'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const QuerySchema = Schema.TaggedStruct("Query", {
  /** The query string itself. */
  query: Fields.CString
})
/** @since 0.1.0 */
export interface Query extends Schema.Schema.Type<typeof QuerySchema> {}

/** @since 0.1.0 */
export const Query: Message.Codec<Query> = Message.make({
  name: "Query",
  framing: "payload",
  type: FrontendCode.Query,
  schema: QuerySchema,
  readBody: (r) => ({ _tag: "Query", query: r.cstring() }),
  writeBody: (w, m) => {
    w.cstring(m.query)
  }
})

// ---------------------------------------------------------------------------
// ReadyForQuery (B) 'Z'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const ReadyForQuerySchema = Schema.TaggedStruct("ReadyForQuery", {})
/** @since 0.1.0 */
export interface ReadyForQuery extends Schema.Schema.Type<typeof ReadyForQuerySchema> {}
const readyForQuery: ReadyForQuery = { _tag: "ReadyForQuery" }

/** Only the type byte: 2.0 reports no transaction status. @since 0.1.0 */
export const ReadyForQuery: Message.Codec<ReadyForQuery> = Message.make({
  name: "ReadyForQuery",
  framing: "payload",
  type: BackendCode.ReadyForQuery,
  schema: ReadyForQuerySchema,
  readBody: () => readyForQuery,
  writeBody: noFields
})

// ---------------------------------------------------------------------------
// RowDescription (B) 'T'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const RowDescriptionFieldSchema = Schema.Struct({
  /** The field name. */
  name: Fields.CString,
  /** The object ID of the field type. */
  dataTypeOid: Fields.UInt32,
  /** The type size (`pg_type.typlen`; negative for variable width). */
  dataTypeSize: Fields.Int16,
  /** The type modifier. */
  typeModifier: Fields.Int32
})
/** @since 0.1.0 */
export interface RowDescriptionField extends Schema.Schema.Type<typeof RowDescriptionFieldSchema> {}

/** @since 0.1.0 */
export const RowDescriptionSchema = Schema.TaggedStruct("RowDescription", {
  fields: Schema.Array(RowDescriptionFieldSchema).check(Schema.isMaxLength(MAX_FIELDS))
})
/** @since 0.1.0 */
export interface RowDescription extends Schema.Schema.Type<typeof RowDescriptionSchema> {}

/** The layout of the AsciiRow or BinaryRow messages that follow. @since 0.1.0 */
export const RowDescription: Message.Codec<RowDescription> = Message.make({
  name: "RowDescription",
  framing: "payload",
  type: BackendCode.RowDescription,
  schema: RowDescriptionSchema,
  readBody: (r) => {
    const n = r.count16("field", MAX_FIELDS)
    const fields: Array<RowDescriptionField> = []
    for (let i = 0; i < n; i++) {
      const name = r.cstring()
      const dataTypeOid = r.uint32()
      const dataTypeSize = r.int16()
      const typeModifier = r.int32()
      fields.push({ name, dataTypeOid, dataTypeSize, typeModifier })
    }
    return { _tag: "RowDescription", fields }
  },
  writeBody: (w, m) => {
    if (m.fields.length > MAX_FIELDS) w.fail(`${m.fields.length} fields exceeds ${MAX_FIELDS}`)
    w.int16(m.fields.length)
    for (const f of m.fields) w.cstring(f.name).uint32(f.dataTypeOid).int16(f.dataTypeSize).int32(f.typeModifier)
  }
})

// ---------------------------------------------------------------------------
// SSLRequest (F)
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const SSLRequestSchema = Schema.TaggedStruct("SSLRequest", {})
/** @since 0.1.0 */
export interface SSLRequest extends Schema.Schema.Type<typeof SSLRequestSchema> {}
const sslRequest: SSLRequest = { _tag: "SSLRequest" }

/** Int32(8), Int32(80877103). @since 0.1.0 */
export const SSLRequest: Message.Codec<SSLRequest> = Message.make({
  name: "SSLRequest",
  framing: "untyped",
  type: -1,
  schema: SSLRequestSchema,
  readBody: (r) => {
    const code = r.int32()
    if (code !== StartupCode.SSLRequest) {
      r.pos -= 4
      r.fail(`request code ${code} is not ${StartupCode.SSLRequest}`)
    }
    return sslRequest
  },
  writeBody: (w) => {
    w.int32(StartupCode.SSLRequest)
  }
})

// ---------------------------------------------------------------------------
// StartupPacket (F)
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const StartupPacketSchema = Schema.TaggedStruct("StartupPacket", {
  /** Major version in the high 16 bits (1 or 2: the layout of this packet), minor in the low 16. */
  protocolVersion: Schema.Int.check(Schema.isBetween({ minimum: 0x10000, maximum: 0x2ffff })),
  /** The database name (LimString64); empty means the user name. */
  database: LimString(64),
  /** The user name (LimString32). */
  user: LimString(32),
  /** Extra command-line arguments for the backend process (LimString64). */
  options: LimString(64),
  /** Unused (LimString64). */
  unused: LimString(64),
  /** The tty for debugging messages, ignored by servers (LimString64). */
  tty: LimString(64)
})
/** @since 0.1.0 */
export interface StartupPacket extends Schema.Schema.Type<typeof StartupPacketSchema> {}

const readLimString = (r: Reader, n: number, what: string): string => {
  const start = r.pos
  const field = r.bytes(n)
  let length = field.indexOf(0)
  if (length < 0) length = n
  const s = Utf8.decode(field, 0, length)
  if (s === undefined) {
    r.pos = start
    r.fail(`${what} is not valid UTF-8`)
  }
  return s
}

const writeLimString = (w: Writer, s: string, n: number, what: string): void => {
  if (s.indexOf("\0") !== -1) w.fail(`${what} contains a NUL character`)
  const length = Utf8.byteLength(s)
  if (length > n) w.fail(`${what} takes ${length} bytes, more than ${n}`)
  w.string(s)
  for (let i = length; i < n; i++) w.uint8(0)
}

/**
 * The fixed 296-byte start-up packet: Int32(296), Int32 version, then
 * LimString64 database, LimString32 user, LimString64 options, LimString64
 * unused, LimString64 tty.
 *
 * @since 0.1.0
 */
export const StartupPacket: Message.Codec<StartupPacket> = Message.make({
  name: "StartupPacket",
  framing: "untyped",
  type: -1,
  schema: StartupPacketSchema,
  readBody: (r) => {
    if (r.remaining() !== STARTUP_PACKET_LENGTH - 4) {
      r.fail(`a StartupPacket is ${STARTUP_PACKET_LENGTH} bytes, not ${r.remaining() + 4}`)
    }
    const protocolVersion = r.int32()
    const major = protocolVersion >>> 16
    if (major !== 1 && major !== 2) {
      r.pos -= 4
      r.fail(`protocol version ${major}.${protocolVersion & 0xffff} does not use this packet`)
    }
    const database = readLimString(r, 64, "database")
    const user = readLimString(r, 32, "user")
    const options = readLimString(r, 64, "options")
    const unused = readLimString(r, 64, "unused")
    const tty = readLimString(r, 64, "tty")
    return { _tag: "StartupPacket", protocolVersion, database, user, options, unused, tty }
  },
  writeBody: (w, m) => {
    const major = m.protocolVersion >>> 16
    if (major !== 1 && major !== 2) w.fail(`protocol version ${major} does not use this packet`)
    w.int32(m.protocolVersion)
    writeLimString(w, m.database, 64, "database")
    writeLimString(w, m.user, 32, "user")
    writeLimString(w, m.options, 64, "options")
    writeLimString(w, m.unused, 64, "unused")
    writeLimString(w, m.tty, 64, "tty")
  }
})

// ---------------------------------------------------------------------------
// Terminate (F) 'X'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const TerminateSchema = Schema.TaggedStruct("Terminate", {})
/** @since 0.1.0 */
export interface Terminate extends Schema.Schema.Type<typeof TerminateSchema> {}
const terminate: Terminate = { _tag: "Terminate" }

/** @since 0.1.0 */
export const Terminate: Message.Codec<Terminate> = Message.make({
  name: "Terminate",
  framing: "payload",
  type: FrontendCode.Terminate,
  schema: TerminateSchema,
  readBody: () => terminate,
  writeBody: noFields
})

// ---------------------------------------------------------------------------
// Unions
// ---------------------------------------------------------------------------

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

type AnyCodec = Message.Codec<any>

const backendCodecByTag: Record<string, AnyCodec> = Object.fromEntries(
  [
    AuthenticationOk,
    AuthenticationKerberosV4,
    AuthenticationKerberosV5,
    AuthenticationCleartextPassword,
    AuthenticationCryptPassword,
    AuthenticationMD5Password,
    AuthenticationSCMCredential,
    BackendKeyData,
    CompletedResponse,
    CopyInResponse,
    CopyOutResponse,
    CursorResponse,
    EmptyQueryResponse,
    ErrorResponse,
    FunctionResultResponse,
    FunctionVoidResponse,
    NoticeResponse,
    NotificationResponse,
    ReadyForQuery,
    RowDescription
  ].map((c: AnyCodec) => [c.name, c])
)

const frontendCodecByTag: Record<string, AnyCodec> = Object.fromEntries(
  [CancelRequest, FunctionCall, PasswordPacket, Query, SSLRequest, StartupPacket, Terminate].map((
    c: AnyCodec
  ) => [c.name, c])
)

const authCodecByCode: ReadonlyArray<AnyCodec> = [
  AuthenticationOk,
  AuthenticationKerberosV4,
  AuthenticationKerberosV5,
  AuthenticationCleartextPassword,
  AuthenticationCryptPassword,
  AuthenticationMD5Password,
  AuthenticationSCMCredential
]

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
      writeRowValues(w, message.values, true)
      return
    case "BinaryRow":
      w.uint8(BackendCode.BinaryRow)
      writeRowValues(w, message.values, false)
      return
    case "CopyDataRows":
      writeCopyDataRowsUnsafe(w, message)
      return
    default: {
      const codec = backendCodecByTag[message._tag]
      if (codec === undefined) return w.fail(`${(message as { _tag: string })._tag} is not a 2.0 server message`)
      Message.writeFrame(w, codec, message)
    }
  }
}

/**
 * Writes one client message into `w`. Throws `ProtocolError` ("Unsafe").
 *
 * @since 0.1.0
 */
export const writeFrontendUnsafe = (w: Writer, message: FrontendMessage): void => {
  if (message._tag === "CopyDataRows") return writeCopyDataRowsUnsafe(w, message)
  const codec = frontendCodecByTag[message._tag]
  if (codec === undefined) return w.fail(`${(message as { _tag: string })._tag} is not a 2.0 client message`)
  Message.writeFrame(w, codec, message)
}

const scratchWriter = new Writer()

const encodeWith = <A extends { readonly _tag: string }>(
  message: A,
  write: (w: Writer, message: A) => void
): Result.Result<Uint8Array, ProtocolError> => {
  try {
    write(scratchWriter, message)
    return Result.succeed(scratchWriter.flushCopy())
  } catch (e) {
    // Drop the half-written message so it never leaks into a later one.
    scratchWriter.abort().flush()
    return Result.fail(asProtocolError(e, message._tag))
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
 * Encodes one client message as fresh bytes.
 *
 * @since 0.1.0
 */
export const encodeFrontend = (message: FrontendMessage): Result.Result<Uint8Array, ProtocolError> =>
  encodeWith(message, writeFrontendUnsafe)

// ---------------------------------------------------------------------------
// Incremental decoding
// ---------------------------------------------------------------------------

/** Thrown (and always caught in this module) when a message continues past the bytes received. */
const needMore: { readonly needMore: true } = { needMore: true }

const indexOfByte = (buf: Uint8Array, byte: number, from: number, to: number): number => {
  const i = buf.indexOf(byte, from)
  return i >= 0 && i < to ? i : -1
}

const asProtocolError = (e: unknown, messageName: string): ProtocolError =>
  e instanceof ProtocolError ? e : new ProtocolError({ message: `${messageName}: ${String(e)}`, messageName })

/**
 * A Reader over the bytes received so far: running past the end means "wait
 * for more bytes", not "malformed". It records how many bytes the message
 * needs at least (or which byte must arrive) so the decoder does not parse
 * again before that.
 */
class StreamReader extends Reader {
  /** Absolute index in `buf` the parse must reach before it can go on. */
  needUntil = 0
  /** A byte that must arrive before the parse can go on, or -1. */
  waitByte = -1

  short(n: number): never {
    this.needUntil = this.pos + n
    this.waitByte = -1
    throw needMore
  }

  waitFor(byte: number): never {
    this.needUntil = this.end + 1
    this.waitByte = byte
    throw needMore
  }

  override uint8(): number {
    if (this.pos >= this.end) this.short(1)
    return super.uint8()
  }

  override int16(): number {
    if (this.end - this.pos < 2) this.short(2)
    return super.int16()
  }

  override uint16(): number {
    if (this.end - this.pos < 2) this.short(2)
    return super.uint16()
  }

  override int32(): number {
    if (this.end - this.pos < 4) this.short(4)
    return super.int32()
  }

  override bytes(n: number): Uint8Array {
    if (n > 0 && this.end - this.pos < n) this.short(n)
    return super.bytes(n)
  }

  override cstring(): string {
    if (indexOfByte(this.buf, 0, this.pos, this.end) < 0) this.waitFor(0)
    return super.cstring()
  }
}

/**
 * Options of the 2.0 decoders.
 *
 * @since 0.1.0
 */
export interface DecoderOptions {
  /**
   * The largest message accepted, in bytes (a COPY row counts as one
   * message). Checked before a partial message is buffered beyond it. Default:
   * PostgreSQL's 1 GiB - 1.
   */
  readonly maxMessageSize?: number | undefined
}

/**
 * The shared machinery of both decoders: partial input, need-more versus
 * malformed, size limit, poisoning.
 */
abstract class Decoder<M> {
  readonly maxMessageSize: number
  private pending: Array<Uint8Array> = []
  private pendingLength = 0
  private needTotal = 0
  private waitByte = -1
  private pendingName = ""
  /** Stream offset of the first byte not yet delivered as part of a message. */
  private offset = 0
  private poisoned: ProtocolError | undefined = undefined
  private readonly reader = new StreamReader()
  /** Reader for length-delimited packets once they are complete: running past their end is malformed. */
  protected readonly boundedReader = new Reader()

  constructor(options: DecoderOptions) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
  }

  /** Reads one message at `r.pos`; throws `needMore` or `ProtocolError`. */
  protected abstract readMessage(r: StreamReader): M

  /** The name reported when nothing more specific is known. */
  protected abstract readonly streamName: string

  /** Bytes received but not yet delivered as a message. */
  get buffered(): number {
    return this.pendingLength
  }

  /** The error that stopped the decoder, if any. */
  get error(): ProtocolError | undefined {
    return this.poisoned
  }

  /**
   * Decodes every complete message in the bytes received so far plus `chunk`
   * and hands each to `onMessage`, in order. Throws `ProtocolError` ("Unsafe")
   * after delivering the messages before the malformed one; from then on every
   * call throws the same error. `chunk` must not be modified afterwards (the
   * messages hold views of it). If `onMessage` throws, the decoder stops too.
   */
  pushUnsafe(chunk: Uint8Array, onMessage: (message: M) => void): void {
    if (this.poisoned !== undefined) throw this.poisoned
    if (chunk.length === 0) return
    let buf: Uint8Array
    if (this.pendingLength === 0) {
      buf = chunk
    } else {
      this.pending.push(chunk)
      this.pendingLength += chunk.length
      if (
        this.pendingLength < this.needTotal ||
        (this.waitByte >= 0 && chunk.indexOf(this.waitByte) < 0)
      ) {
        if (this.pendingLength > this.maxMessageSize) {
          throw this.poison(this.tooLarge(this.pendingLength, this.pendingName))
        }
        return
      }
      buf = this.concatPending()
    }
    const end = buf.length
    const r = this.reader
    let pos = 0
    while (pos < end) {
      r.reset(buf, pos, end, this.streamName)
      let message: M
      try {
        message = this.readMessage(r)
      } catch (e) {
        if (e === needMore) {
          this.keep(buf.subarray(pos), r.needUntil - pos, r.waitByte, r.messageName)
          const size = Math.max(this.needTotal, this.pendingLength)
          if (size > this.maxMessageSize) throw this.poison(this.tooLarge(size, r.messageName))
          return
        }
        throw this.poison(this.locate(asProtocolError(e, r.messageName), r.base - pos))
      }
      const size = r.pos - pos
      if (size > this.maxMessageSize) throw this.poison(this.tooLarge(size, r.messageName))
      this.offset += size
      pos = r.pos
      try {
        onMessage(message)
      } catch (e) {
        this.poisoned = new ProtocolError({
          message: `${this.streamName}: decoding stopped because the message handler threw`,
          messageName: this.streamName,
          offset: this.offset
        })
        throw e
      }
    }
  }

  /**
   * Decodes every complete message in the bytes received so far plus `chunk`.
   *
   * **Details**
   *
   * A failure is a `ProtocolError` naming the message and the offset; the
   * messages of the same chunk before the malformed one are not returned (use
   * `pushUnsafe` to get them), and the decoder is poisoned: every later call
   * fails the same way.
   */
  push(chunk: Uint8Array): Result.Result<ReadonlyArray<M>, ProtocolError> {
    const out: Array<M> = []
    try {
      this.pushUnsafe(chunk, (m) => out.push(m))
      return Result.succeed(out)
    } catch (e) {
      return Result.fail(asProtocolError(e, this.streamName))
    }
  }

  /**
   * Declares the end of the stream: fails when a message was left incomplete
   * (or a COPY without its end marker).
   */
  finish(): Result.Result<void, ProtocolError> {
    if (this.poisoned !== undefined) return Result.fail(this.poisoned)
    if (this.pendingLength > 0) {
      return Result.fail(this.poison(
        new ProtocolError({
          message:
            `${this.pendingName}: the stream ended inside the message (${this.pendingLength} bytes received) at stream offset ${this.offset}`,
          messageName: this.pendingName,
          offset: this.offset
        })
      ))
    }
    const open = this.openState()
    if (open !== undefined) {
      return Result.fail(this.poison(
        new ProtocolError({ message: `${open}: the stream ended inside ${open}`, messageName: open, offset: this.offset })
      ))
    }
    return Result.succeed(undefined)
  }

  /** The name of a multi-message construct still open (a COPY), if any. */
  protected openState(): string | undefined {
    return undefined
  }

  /** Reads a length-delimited packet at `r.pos` with `codec`, once all its bytes are present. */
  protected readPacket<A extends { readonly _tag: string }>(r: StreamReader, codec: Message.Codec<A>, length: number): A {
    const start = r.pos
    r.bytes(length)
    const b = this.boundedReader.reset(r.buf, start + 4, start + length, codec.name)
    r.reset(r.buf, start + 4, r.end, codec.name)
    const message = codec.readBody(b)
    b.done()
    r.pos = start + length
    return message
  }

  private keep(rest: Uint8Array, needTotal: number, waitByte: number, name: string): void {
    this.pending = [rest]
    this.pendingLength = rest.length
    this.needTotal = needTotal
    this.waitByte = waitByte
    this.pendingName = name
  }

  private concatPending(): Uint8Array {
    const buf = new Uint8Array(this.pendingLength)
    let at = 0
    for (const part of this.pending) {
      buf.set(part, at)
      at += part.length
    }
    this.pending = []
    this.pendingLength = 0
    this.needTotal = 0
    this.waitByte = -1
    return buf
  }

  private tooLarge(size: number, name: string): ProtocolError {
    return new ProtocolError({
      message:
        `${name}: message of at least ${size} bytes exceeds maxMessageSize ${this.maxMessageSize} at stream offset ${this.offset}`,
      messageName: name,
      offset: this.offset
    })
  }

  /** Adds the stream offset of the failure (the message's start plus its header plus the offset in the body). */
  private locate(e: ProtocolError, headerLength: number): ProtocolError {
    const at = this.offset + headerLength + (e.offset ?? 0)
    return new ProtocolError({
      message: `${e.message} (stream offset ${at})`,
      ...(e.messageName !== undefined ? { messageName: e.messageName } : {}),
      ...(e.offset !== undefined ? { offset: e.offset } : {})
    })
  }

  private poison(e: ProtocolError): ProtocolError {
    this.poisoned = e
    this.pending = []
    this.pendingLength = 0
    return e
  }
}

/**
 * Reads one COPY line at `r.pos`: a row, or the end marker.
 */
const readCopyLine = (r: StreamReader): CopyDataRows => {
  const start = r.pos
  r.reset(r.buf, start, r.end, "CopyDataRows")
  const nl = indexOfByte(r.buf, NEWLINE, start, r.end)
  if (nl < 0) r.waitFor(NEWLINE)
  r.pos = nl + 1
  if (nl - start === 2 && r.buf[start] === BACKSLASH && r.buf[start + 1] === PERIOD) return copyEnd
  return { _tag: "CopyDataRows", rows: [r.buf.subarray(start, nl)], end: false }
}

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
      case BackendCode.BackendKeyData:
        return this.body(r, body, BackendKeyData)
      case BackendCode.CompletedResponse:
        return this.body(r, body, CompletedResponse)
      case BackendCode.CopyInResponse:
        return this.body(r, body, CopyInResponse)
      case BackendCode.CursorResponse:
        return this.body(r, body, CursorResponse)
      case BackendCode.EmptyQueryResponse:
        return this.body(r, body, EmptyQueryResponse)
      case BackendCode.ErrorResponse:
        return this.body(r, body, ErrorResponse)
      case BackendCode.NoticeResponse:
        return this.body(r, body, NoticeResponse)
      case BackendCode.NotificationResponse:
        return this.body(r, body, NotificationResponse)
      case BackendCode.ReadyForQuery:
        return this.body(r, body, ReadyForQuery)
      default:
        r.pos = body - 1
        return r.fail(`unknown message type ${hex(type)}`)
    }
  }

  private body<A extends { readonly _tag: string }>(r: StreamReader, body: number, codec: Message.Codec<A>): A {
    r.reset(r.buf, body, r.end, codec.name)
    return codec.readBody(r)
  }
}

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
            return terminate
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

const exactlyOne = <M extends { readonly _tag: string }>(
  decoder: Decoder<M>,
  bytes: Uint8Array,
  name: string
): Result.Result<M, ProtocolError> => {
  const messages: Array<M> = []
  try {
    decoder.pushUnsafe(bytes, (m) => messages.push(m))
  } catch (e) {
    return Result.fail(asProtocolError(e, name))
  }
  if (decoder.buffered > 0) {
    const what = messages.length === 0 ? "a message" : `the message after ${messages[0]!._tag}`
    return Result.fail(
      new ProtocolError({
        message: `${name}: truncated: ${what} continues past the ${bytes.length} bytes given`,
        messageName: name,
        offset: bytes.length
      })
    )
  }
  if (messages.length !== 1) {
    return Result.fail(
      new ProtocolError({
        message: `${name}: expected one message, got ${messages.length}`,
        messageName: name
      })
    )
  }
  return Result.succeed(messages[0]!)
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
