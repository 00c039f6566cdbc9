/**
 * Messages sent by the server (protocol-3.2 "Message Formats", every message
 * marked "(B)" or "(F & B)"), each with its Schema, reader and writer, in the
 * order of the documentation; then the dispatch over all of them.
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
import * as ErrorFields from "./ErrorFields.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

/** The most items an unsigned 16-bit count can announce. */
const MAX_COUNT16 = 65535

/** An array whose length must fit in an unsigned 16-bit count. */
const Array16 = <S extends Schema.Top>(item: S) => Schema.Array(item).check(Schema.isMaxLength(MAX_COUNT16))

/**
 * A cancel secret key: 4 bytes before protocol 3.2, up to 256 bytes since
 * (protocol-3.2 "BackendKeyData": "The maximum key length is 256 bytes").
 *
 * @since 0.1.0
 */
export const SecretKey = Schema.Uint8Array.check(Schema.isBetweenLength(4, 256))

/** Smallest and largest cancel key, protocol-3.2 "BackendKeyData". */
const MIN_SECRET_KEY = 4
const MAX_SECRET_KEY = 256

/** Writes an unsigned 16-bit count after checking it fits. */
const writeCount16 = (w: Writer, n: number, what: string): void => {
  if (n > MAX_COUNT16) w.fail(`${n} ${what}s exceed the limit of ${MAX_COUNT16}`)
  w.uint16(n)
}

/** Reads a format code (Int16 that "must presently be zero (text) or one (binary)"). */
const readFormatCode = (r: Reader): 0 | 1 => {
  const v = r.int16()
  if (v !== 0 && v !== 1) {
    r.pos -= 2
    r.fail(`invalid format code ${v}`)
  }
  return v
}

/** A body-less message: one frozen instance, shared by every decode. */
const emptyCodec = <A extends { readonly _tag: string }>(
  name: A["_tag"],
  type: number,
  schema: Schema.Codec<A, A>
): Message.Codec<A> => {
  const instance = Object.freeze({ _tag: name }) as A
  return Message.make({
    name,
    type,
    schema,
    readBody: () => instance,
    writeBody: () => {}
  })
}

/** Reads the Int32 that says which Authentication message this is, and checks it. */
const expectAuthCode = (r: Reader, code: number): void => {
  const got = r.int32()
  if (got !== code) {
    r.pos -= 4
    r.fail(`authentication code ${got} is not ${code}`)
  }
}

/** An Authentication message with no data after its code: one frozen instance. */
const authEmptyCodec = <A extends { readonly _tag: string }>(
  name: A["_tag"],
  code: number,
  schema: Schema.Codec<A, A>
): Message.Codec<A> => {
  const instance = Object.freeze({ _tag: name }) as A
  return Message.make({
    name,
    type: Code.Authentication,
    schema,
    readBody: (r) => {
      expectAuthCode(r, code)
      return instance
    },
    writeBody: (w) => {
      w.int32(code)
    }
  })
}

/** An Authentication message whose data is the rest of the body. */
const authDataCodec = <A extends { readonly _tag: string; readonly data: Uint8Array }>(
  name: A["_tag"],
  code: number,
  schema: Schema.Codec<A, A>
): Message.Codec<A> =>
  Message.make({
    name,
    type: Code.Authentication,
    schema,
    readBody: (r) => {
      expectAuthCode(r, code)
      return { _tag: name, data: r.rest() } as A
    },
    writeBody: (w, m) => {
      w.int32(code)
      w.bytes(m.data)
    }
  })

// ---------------------------------------------------------------------------
// AuthenticationOk (B) 'R' 0
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const AuthenticationOkSchema = Schema.TaggedStruct("AuthenticationOk", {})
/** @since 0.1.0 */
export interface AuthenticationOk extends Schema.Schema.Type<typeof AuthenticationOkSchema> {}
/**
 * Authentication succeeded.
 *
 * @since 0.1.0
 */
export const AuthenticationOk: Message.Codec<AuthenticationOk> = authEmptyCodec(
  "AuthenticationOk",
  AuthCode.Ok,
  AuthenticationOkSchema
)

// ---------------------------------------------------------------------------
// AuthenticationKerberosV5 (B) 'R' 2
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const AuthenticationKerberosV5Schema = Schema.TaggedStruct("AuthenticationKerberosV5", {})
/** @since 0.1.0 */
export interface AuthenticationKerberosV5 extends Schema.Schema.Type<typeof AuthenticationKerberosV5Schema> {}
/**
 * Kerberos V5 authentication is required (no server has asked for it since
 * PostgreSQL 9.3; decoded so a client can refuse it by name).
 *
 * @since 0.1.0
 */
export const AuthenticationKerberosV5: Message.Codec<AuthenticationKerberosV5> = authEmptyCodec(
  "AuthenticationKerberosV5",
  AuthCode.KerberosV5,
  AuthenticationKerberosV5Schema
)

// ---------------------------------------------------------------------------
// AuthenticationCleartextPassword (B) 'R' 3
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const AuthenticationCleartextPasswordSchema = Schema.TaggedStruct("AuthenticationCleartextPassword", {})
/** @since 0.1.0 */
export interface AuthenticationCleartextPassword
  extends Schema.Schema.Type<typeof AuthenticationCleartextPasswordSchema>
{}
/**
 * A clear-text password is required.
 *
 * @since 0.1.0
 */
export const AuthenticationCleartextPassword: Message.Codec<AuthenticationCleartextPassword> = authEmptyCodec(
  "AuthenticationCleartextPassword",
  AuthCode.CleartextPassword,
  AuthenticationCleartextPasswordSchema
)

// ---------------------------------------------------------------------------
// AuthenticationMD5Password (B) 'R' 5
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const AuthenticationMD5PasswordSchema = Schema.TaggedStruct("AuthenticationMD5Password", {
  /** The salt to use when hashing the password: exactly 4 bytes (Byte4). */
  salt: Schema.Uint8Array.check(Schema.isBetweenLength(4, 4))
})
/** @since 0.1.0 */
export interface AuthenticationMD5Password extends Schema.Schema.Type<typeof AuthenticationMD5PasswordSchema> {}
/**
 * An MD5-hashed password is required. `salt` is a view into the frame.
 *
 * @since 0.1.0
 */
export const AuthenticationMD5Password: Message.Codec<AuthenticationMD5Password> = Message.make({
  name: "AuthenticationMD5Password",
  type: Code.Authentication,
  schema: AuthenticationMD5PasswordSchema,
  readBody: (r) => {
    expectAuthCode(r, AuthCode.MD5Password)
    return { _tag: "AuthenticationMD5Password", salt: r.bytes(4) }
  },
  writeBody: (w, m) => {
    if (m.salt.length !== 4) w.fail(`salt of ${m.salt.length} bytes is not 4 bytes`)
    w.int32(AuthCode.MD5Password)
    w.bytes(m.salt)
  }
})

// ---------------------------------------------------------------------------
// AuthenticationGSS (B) 'R' 7
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const AuthenticationGSSSchema = Schema.TaggedStruct("AuthenticationGSS", {})
/** @since 0.1.0 */
export interface AuthenticationGSS extends Schema.Schema.Type<typeof AuthenticationGSSSchema> {}
/**
 * GSSAPI authentication is required.
 *
 * @since 0.1.0
 */
export const AuthenticationGSS: Message.Codec<AuthenticationGSS> = authEmptyCodec(
  "AuthenticationGSS",
  AuthCode.GSS,
  AuthenticationGSSSchema
)

// ---------------------------------------------------------------------------
// AuthenticationGSSContinue (B) 'R' 8
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const AuthenticationGSSContinueSchema = Schema.TaggedStruct("AuthenticationGSSContinue", {
  /** GSSAPI or SSPI authentication data. */
  data: Fields.Bytes
})
/** @since 0.1.0 */
export interface AuthenticationGSSContinue extends Schema.Schema.Type<typeof AuthenticationGSSContinueSchema> {}
/**
 * GSSAPI or SSPI data. `data` is a view into the frame.
 *
 * @since 0.1.0
 */
export const AuthenticationGSSContinue: Message.Codec<AuthenticationGSSContinue> = authDataCodec(
  "AuthenticationGSSContinue",
  AuthCode.GSSContinue,
  AuthenticationGSSContinueSchema
)

// ---------------------------------------------------------------------------
// AuthenticationSSPI (B) 'R' 9
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const AuthenticationSSPISchema = Schema.TaggedStruct("AuthenticationSSPI", {})
/** @since 0.1.0 */
export interface AuthenticationSSPI extends Schema.Schema.Type<typeof AuthenticationSSPISchema> {}
/**
 * SSPI authentication is required.
 *
 * @since 0.1.0
 */
export const AuthenticationSSPI: Message.Codec<AuthenticationSSPI> = authEmptyCodec(
  "AuthenticationSSPI",
  AuthCode.SSPI,
  AuthenticationSSPISchema
)

// ---------------------------------------------------------------------------
// AuthenticationSASL (B) 'R' 10
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const AuthenticationSASLSchema = Schema.TaggedStruct("AuthenticationSASL", {
  /**
   * SASL mechanisms in the server's order of preference. Non-empty, and no
   * name is empty: on the wire an empty string ends the list.
   */
  mechanisms: Schema.Array(Fields.CString.check(Schema.isMinLength(1))).check(Schema.isMinLength(1))
})
/** @since 0.1.0 */
export interface AuthenticationSASL extends Schema.Schema.Type<typeof AuthenticationSASLSchema> {}
/**
 * SASL authentication is required, with one of these mechanisms.
 *
 * @since 0.1.0
 */
export const AuthenticationSASL: Message.Codec<AuthenticationSASL> = Message.make({
  name: "AuthenticationSASL",
  type: Code.Authentication,
  schema: AuthenticationSASLSchema,
  readBody: (r) => {
    expectAuthCode(r, AuthCode.SASL)
    const mechanisms: Array<string> = []
    while (true) {
      const name = r.cstring()
      if (name === "") break
      mechanisms.push(name)
    }
    if (mechanisms.length === 0) {
      r.pos -= 1
      r.fail("empty mechanism list")
    }
    return { _tag: "AuthenticationSASL", mechanisms }
  },
  writeBody: (w, m) => {
    if (m.mechanisms.length === 0) w.fail("empty mechanism list")
    w.int32(AuthCode.SASL)
    for (const name of m.mechanisms) {
      if (name === "") w.fail("empty mechanism name (it would end the list)")
      w.cstring(name)
    }
    w.uint8(0)
  }
})

// ---------------------------------------------------------------------------
// AuthenticationSASLContinue (B) 'R' 11
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const AuthenticationSASLContinueSchema = Schema.TaggedStruct("AuthenticationSASLContinue", {
  /** SASL data, specific to the mechanism (SCRAM's server-first-message). */
  data: Fields.Bytes
})
/** @since 0.1.0 */
export interface AuthenticationSASLContinue extends Schema.Schema.Type<typeof AuthenticationSASLContinueSchema> {}
/**
 * A SASL challenge. `data` is a view into the frame.
 *
 * @since 0.1.0
 */
export const AuthenticationSASLContinue: Message.Codec<AuthenticationSASLContinue> = authDataCodec(
  "AuthenticationSASLContinue",
  AuthCode.SASLContinue,
  AuthenticationSASLContinueSchema
)

// ---------------------------------------------------------------------------
// AuthenticationSASLFinal (B) 'R' 12
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const AuthenticationSASLFinalSchema = Schema.TaggedStruct("AuthenticationSASLFinal", {
  /** SASL outcome "additional data" (SCRAM's server-final-message). */
  data: Fields.Bytes
})
/** @since 0.1.0 */
export interface AuthenticationSASLFinal extends Schema.Schema.Type<typeof AuthenticationSASLFinalSchema> {}
/**
 * SASL authentication has completed. `data` is a view into the frame.
 *
 * @since 0.1.0
 */
export const AuthenticationSASLFinal: Message.Codec<AuthenticationSASLFinal> = authDataCodec(
  "AuthenticationSASLFinal",
  AuthCode.SASLFinal,
  AuthenticationSASLFinalSchema
)

// ---------------------------------------------------------------------------
// BackendKeyData (B) 'K'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const BackendKeyDataSchema = Schema.TaggedStruct("BackendKeyData", {
  /** The process ID of this backend. */
  processId: Fields.Int32,
  /** The secret key: 4 bytes before protocol 3.2, 4 to 256 bytes since. */
  secretKey: SecretKey
})
/** @since 0.1.0 */
export interface BackendKeyData extends Schema.Schema.Type<typeof BackendKeyDataSchema> {}
/**
 * Cancellation key data. The key "extends to the end of the message"
 * (protocol 3.2); a key shorter than 4 or longer than 256 bytes is rejected.
 * `secretKey` is a view into the frame: copy it to keep it.
 *
 * @since 0.1.0
 */
export const BackendKeyData: Message.Codec<BackendKeyData> = Message.make({
  name: "BackendKeyData",
  type: Code.BackendKeyData,
  schema: BackendKeyDataSchema,
  readBody: (r) => {
    const processId = r.int32()
    const n = r.remaining()
    if (n < MIN_SECRET_KEY || n > MAX_SECRET_KEY) {
      r.fail(`secret key of ${n} bytes is outside ${MIN_SECRET_KEY}..${MAX_SECRET_KEY}`)
    }
    return { _tag: "BackendKeyData", processId, secretKey: r.rest() }
  },
  writeBody: (w, m) => {
    const n = m.secretKey.length
    if (n < MIN_SECRET_KEY || n > MAX_SECRET_KEY) {
      w.fail(`secret key of ${n} bytes is outside ${MIN_SECRET_KEY}..${MAX_SECRET_KEY}`)
    }
    w.int32(m.processId)
    w.bytes(m.secretKey)
  }
})

// ---------------------------------------------------------------------------
// BindComplete (B) '2', CloseComplete (B) '3'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const BindCompleteSchema = Schema.TaggedStruct("BindComplete", {})
/** @since 0.1.0 */
export interface BindComplete extends Schema.Schema.Type<typeof BindCompleteSchema> {}
/** @since 0.1.0 */
export const BindComplete: Message.Codec<BindComplete> = emptyCodec(
  "BindComplete",
  Code.BindComplete,
  BindCompleteSchema
)

/** @since 0.1.0 */
export const CloseCompleteSchema = Schema.TaggedStruct("CloseComplete", {})
/** @since 0.1.0 */
export interface CloseComplete extends Schema.Schema.Type<typeof CloseCompleteSchema> {}
/** @since 0.1.0 */
export const CloseComplete: Message.Codec<CloseComplete> = emptyCodec(
  "CloseComplete",
  Code.CloseComplete,
  CloseCompleteSchema
)

// ---------------------------------------------------------------------------
// CommandComplete (B) 'C'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const CommandCompleteSchema = Schema.TaggedStruct("CommandComplete", {
  /** The command tag, e.g. "SELECT 3", "INSERT 0 1". */
  tag: Fields.CString
})
/** @since 0.1.0 */
export interface CommandComplete extends Schema.Schema.Type<typeof CommandCompleteSchema> {}
/** @since 0.1.0 */
export const CommandComplete: Message.Codec<CommandComplete> = Message.make({
  name: "CommandComplete",
  type: Code.CommandComplete,
  schema: CommandCompleteSchema,
  readBody: (r) => ({ _tag: "CommandComplete", tag: r.cstring() }),
  writeBody: (w, m) => {
    w.cstring(m.tag)
  }
})

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
export const CopyDone: Message.Codec<CopyDone> = emptyCodec("CopyDone", Code.CopyDone, CopyDoneSchema)

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
// DataRow (B) 'D'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const DataRowSchema = Schema.TaggedStruct("DataRow", {
  /** Column values; `null` is SQL NULL (length -1). */
  values: Array16(Fields.NullableBytes)
})
/** @since 0.1.0 */
export interface DataRow extends Schema.Schema.Type<typeof DataRowSchema> {}

/**
 * Reads a DataRow body into `out` (reused across rows: its length is set to
 * the column count) and returns the column count.
 *
 * **Details**
 *
 * For the session's row loop: no message object and no array per row. The
 * reader must already be reset to the body (`reader.reset(buf, start, end,
 * "DataRow")`). Each value is a view into the frame (no copy), or `null` for
 * SQL NULL. Throws `ProtocolError` on a malformed body.
 *
 * @since 0.1.0
 */
export const readDataRowInto = (r: Reader, out: Array<Uint8Array | null>): number => {
  const n = r.countU16("column", 4)
  out.length = n
  for (let i = 0; i < n; i++) out[i] = r.nullableBytes()
  r.done()
  return n
}

/**
 * One row of a result. Values are views into the frame.
 *
 * @since 0.1.0
 */
export const DataRow: Message.Codec<DataRow> = Message.make({
  name: "DataRow",
  type: Code.DataRow,
  schema: DataRowSchema,
  readBody: (r) => {
    const n = r.countU16("column", 4)
    const values: Array<Uint8Array | null> = new Array(n)
    for (let i = 0; i < n; i++) values[i] = r.nullableBytes()
    return { _tag: "DataRow", values }
  },
  writeBody: (w, m) => {
    writeCount16(w, m.values.length, "column")
    for (const v of m.values) w.nullableBytes(v)
  }
})

// ---------------------------------------------------------------------------
// EmptyQueryResponse (B) 'I'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const EmptyQueryResponseSchema = Schema.TaggedStruct("EmptyQueryResponse", {})
/** @since 0.1.0 */
export interface EmptyQueryResponse extends Schema.Schema.Type<typeof EmptyQueryResponseSchema> {}
/**
 * The response to an empty query string (in place of CommandComplete).
 *
 * @since 0.1.0
 */
export const EmptyQueryResponse: Message.Codec<EmptyQueryResponse> = emptyCodec(
  "EmptyQueryResponse",
  Code.EmptyQueryResponse,
  EmptyQueryResponseSchema
)

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
// FunctionCallResponse (B) 'V'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const FunctionCallResponseSchema = Schema.TaggedStruct("FunctionCallResponse", {
  /** The function result, or `null` for a NULL result (length -1). */
  result: Fields.NullableBytes
})
/** @since 0.1.0 */
export interface FunctionCallResponse extends Schema.Schema.Type<typeof FunctionCallResponseSchema> {}
/**
 * The result of a FunctionCall. `result` is a view into the frame.
 *
 * @since 0.1.0
 */
export const FunctionCallResponse: Message.Codec<FunctionCallResponse> = Message.make({
  name: "FunctionCallResponse",
  type: Code.FunctionCallResponse,
  schema: FunctionCallResponseSchema,
  readBody: (r) => ({ _tag: "FunctionCallResponse", result: r.nullableBytes() }),
  writeBody: (w, m) => {
    w.nullableBytes(m.result)
  }
})

// ---------------------------------------------------------------------------
// NegotiateProtocolVersion (B) 'v'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const NegotiateProtocolVersionSchema = Schema.TaggedStruct("NegotiateProtocolVersion", {
  /** Newest minor protocol version the server supports for the requested major version. */
  newestMinorVersion: Fields.Int32,
  /** The `_pq_.` options of the StartupMessage the server did not recognize. */
  unrecognizedOptions: Schema.Array(Fields.CString)
})
/** @since 0.1.0 */
export interface NegotiateProtocolVersion extends Schema.Schema.Type<typeof NegotiateProtocolVersionSchema> {}
/**
 * The server supports an older minor version or not all requested options.
 *
 * **Details**
 *
 * The option count is an untrusted Int32: it is checked against the bytes
 * present (each option takes at least its terminator) before anything is
 * allocated for it (pgx's fuzzing found an out-of-memory crash exactly here).
 *
 * @since 0.1.0
 */
export const NegotiateProtocolVersion: Message.Codec<NegotiateProtocolVersion> = Message.make({
  name: "NegotiateProtocolVersion",
  type: Code.NegotiateProtocolVersion,
  schema: NegotiateProtocolVersionSchema,
  readBody: (r) => {
    const newestMinorVersion = r.int32()
    const n = r.count32("unrecognized option", 1)
    const unrecognizedOptions: Array<string> = new Array(n)
    for (let i = 0; i < n; i++) unrecognizedOptions[i] = r.cstring()
    return { _tag: "NegotiateProtocolVersion", newestMinorVersion, unrecognizedOptions }
  },
  writeBody: (w, m) => {
    w.int32(m.newestMinorVersion)
    w.int32(m.unrecognizedOptions.length)
    for (const option of m.unrecognizedOptions) w.cstring(option)
  }
})

// ---------------------------------------------------------------------------
// NoData (B) 'n'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const NoDataSchema = Schema.TaggedStruct("NoData", {})
/** @since 0.1.0 */
export interface NoData extends Schema.Schema.Type<typeof NoDataSchema> {}
/**
 * The described statement or portal returns no rows.
 *
 * @since 0.1.0
 */
export const NoData: Message.Codec<NoData> = emptyCodec("NoData", Code.NoData, NoDataSchema)

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
// ParameterDescription (B) 't'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const ParameterDescriptionSchema = Schema.TaggedStruct("ParameterDescription", {
  /**
   * The type OID of each parameter (unsigned 32-bit). The count is an Int16 on
   * the wire but the server allows 65535 parameters, so it is read unsigned.
   */
  parameterTypes: Array16(Fields.UInt32)
})
/** @since 0.1.0 */
export interface ParameterDescription extends Schema.Schema.Type<typeof ParameterDescriptionSchema> {}
/** @since 0.1.0 */
export const ParameterDescription: Message.Codec<ParameterDescription> = Message.make({
  name: "ParameterDescription",
  type: Code.ParameterDescription,
  schema: ParameterDescriptionSchema,
  readBody: (r) => {
    const n = r.countU16("parameter", 4)
    const parameterTypes: Array<number> = new Array(n)
    for (let i = 0; i < n; i++) parameterTypes[i] = r.uint32()
    return { _tag: "ParameterDescription", parameterTypes }
  },
  writeBody: (w, m) => {
    writeCount16(w, m.parameterTypes.length, "parameter")
    for (const oid of m.parameterTypes) w.uint32(oid)
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

// ---------------------------------------------------------------------------
// ParseComplete (B) '1', PortalSuspended (B) 's'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const ParseCompleteSchema = Schema.TaggedStruct("ParseComplete", {})
/** @since 0.1.0 */
export interface ParseComplete extends Schema.Schema.Type<typeof ParseCompleteSchema> {}
/** @since 0.1.0 */
export const ParseComplete: Message.Codec<ParseComplete> = emptyCodec(
  "ParseComplete",
  Code.ParseComplete,
  ParseCompleteSchema
)

/** @since 0.1.0 */
export const PortalSuspendedSchema = Schema.TaggedStruct("PortalSuspended", {})
/** @since 0.1.0 */
export interface PortalSuspended extends Schema.Schema.Type<typeof PortalSuspendedSchema> {}
/**
 * An Execute's row limit was reached; the portal can be executed again.
 *
 * @since 0.1.0
 */
export const PortalSuspended: Message.Codec<PortalSuspended> = emptyCodec(
  "PortalSuspended",
  Code.PortalSuspended,
  PortalSuspendedSchema
)

// ---------------------------------------------------------------------------
// ReadyForQuery (B) 'Z'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const TransactionStatus = Schema.Literals(["I", "T", "E"])
/** @since 0.1.0 */
export type TransactionStatus = typeof TransactionStatus.Type

/** @since 0.1.0 */
export const ReadyForQuerySchema = Schema.TaggedStruct("ReadyForQuery", {
  /** 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block. */
  transactionStatus: TransactionStatus
})
/** @since 0.1.0 */
export interface ReadyForQuery extends Schema.Schema.Type<typeof ReadyForQuerySchema> {}

const READY_IDLE: ReadyForQuery = Object.freeze({ _tag: "ReadyForQuery", transactionStatus: "I" })
const READY_IN_TRANSACTION: ReadyForQuery = Object.freeze({ _tag: "ReadyForQuery", transactionStatus: "T" })
const READY_FAILED: ReadyForQuery = Object.freeze({ _tag: "ReadyForQuery", transactionStatus: "E" })

/**
 * The server is ready for a new query cycle. Decodes to one of three shared
 * frozen objects.
 *
 * @since 0.1.0
 */
export const ReadyForQuery: Message.Codec<ReadyForQuery> = Message.make({
  name: "ReadyForQuery",
  type: Code.ReadyForQuery,
  schema: ReadyForQuerySchema,
  readBody: (r) => {
    const b = r.uint8()
    switch (b) {
      case 0x49:
        return READY_IDLE
      case 0x54:
        return READY_IN_TRANSACTION
      case 0x45:
        return READY_FAILED
    }
    r.pos--
    return r.fail(`invalid transaction status 0x${b.toString(16)}`)
  },
  writeBody: (w, m) => {
    w.uint8(m.transactionStatus.charCodeAt(0))
  }
})

// ---------------------------------------------------------------------------
// RowDescription (B) 'T'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const RowDescriptionFieldSchema = Schema.Struct({
  /** The field (column) name. */
  name: Fields.CString,
  /** The table's OID if the field is a table column, else 0. */
  tableOid: Fields.UInt32,
  /** The column's attribute number if the field is a table column, else 0. */
  columnAttributeNumber: Fields.Int16,
  /** The data type's OID. */
  dataTypeOid: Fields.UInt32,
  /** pg_type.typlen; negative for variable-width types. */
  dataTypeSize: Fields.Int16,
  /** pg_attribute.atttypmod; type-specific. */
  typeModifier: Fields.Int32,
  /** 0 text, 1 binary (always 0 in a Describe of a statement). */
  formatCode: Fields.FormatCode
})
/** @since 0.1.0 */
export interface RowDescriptionField extends Schema.Schema.Type<typeof RowDescriptionFieldSchema> {}

/** @since 0.1.0 */
export const RowDescriptionSchema = Schema.TaggedStruct("RowDescription", {
  fields: Array16(RowDescriptionFieldSchema)
})
/** @since 0.1.0 */
export interface RowDescription extends Schema.Schema.Type<typeof RowDescriptionSchema> {}

/** Bytes a RowDescription field takes at least: an empty name's NUL, then 18 bytes. */
const MIN_ROW_DESCRIPTION_FIELD = 19

/**
 * The shape of the rows that follow.
 *
 * @since 0.1.0
 */
export const RowDescription: Message.Codec<RowDescription> = Message.make({
  name: "RowDescription",
  type: Code.RowDescription,
  schema: RowDescriptionSchema,
  readBody: (r) => {
    const n = r.countU16("field", MIN_ROW_DESCRIPTION_FIELD)
    const fields: Array<RowDescriptionField> = new Array(n)
    for (let i = 0; i < n; i++) {
      const name = r.cstring()
      const tableOid = r.uint32()
      const columnAttributeNumber = r.int16()
      const dataTypeOid = r.uint32()
      const dataTypeSize = r.int16()
      const typeModifier = r.int32()
      const formatCode = readFormatCode(r)
      fields[i] = { name, tableOid, columnAttributeNumber, dataTypeOid, dataTypeSize, typeModifier, formatCode }
    }
    return { _tag: "RowDescription", fields }
  },
  writeBody: (w, m) => {
    writeCount16(w, m.fields.length, "field")
    for (const f of m.fields) {
      w.cstring(f.name)
      w.uint32(f.tableOid)
      w.int16(f.columnAttributeNumber)
      w.uint32(f.dataTypeOid)
      w.int16(f.dataTypeSize)
      w.int32(f.typeModifier)
      w.int16(f.formatCode)
    }
  }
})

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

/** Describes a type byte for errors: the character and its hex value. */
const describeType = (type: number): string =>
  type >= 0x20 && type < 0x7f
    ? `'${String.fromCharCode(type)}' (0x${type.toString(16).padStart(2, "0")})`
    : `0x${type.toString(16).padStart(2, "0")}`

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
 * Catches at the one boundary: a `ProtocolError` is returned as is; anything
 * else (a decoder bug) becomes a `ProtocolError` that says so.
 */
const toProtocolError = (e: unknown): ProtocolError =>
  e instanceof ProtocolError
    ? e
    : new ProtocolError({ message: `unexpected decoder failure: ${String(e)}`, offset: 0 })

/**
 * Checks a whole typed frame's header; returns its type byte. Throws
 * `ProtocolError`.
 *
 * @since 0.1.0
 */
export const checkFrameUnsafe = (bytes: Uint8Array, direction: string): number => {
  if (bytes.length < 5) {
    throw new ProtocolError({
      message: `${direction} frame of ${bytes.length} bytes is shorter than its 5-byte header`,
      offset: 0
    })
  }
  const length = ((bytes[1]! << 24) | (bytes[2]! << 16) | (bytes[3]! << 8) | bytes[4]!)
  if (length < 4 || length + 1 !== bytes.length) {
    throw new ProtocolError({
      message: `${direction} frame of type ${describeType(bytes[0]!)}: length ${length} does not match the ${
        bytes.length - 1
      } bytes after the type byte at offset 1`,
      offset: 1
    })
  }
  return bytes[0]!
}

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
