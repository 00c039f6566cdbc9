/**
 * Protocol 2.0 messages sent by the server (protocol-2.0 "Message Formats",
 * the messages marked (B)), one codec per message in the documentation's
 * order, with the type bytes and authentication codes they use.
 *
 * **Details**
 *
 * - Every codec uses the `payload` framing: a type byte, then the body up to
 *   the end of the given bytes (2.0 server messages carry no length).
 * - Byte fields of decoded messages are views of the input.
 *
 * Not here: AsciiRow and BinaryRow, whose layout depends on the preceding
 * RowDescription (`V2Rows`); CopyDataRows, which both directions send
 * (`V2CopyDataRows`); and the union of server messages with its stream
 * decoder (`V2BackendStream`). Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type { Reader } from "../wire/Reader.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"
import { expectInt32, hex, MAX_FIELDS, RESULT_END, RESULT_NONEMPTY, stringCodec, UnusedString } from "./V2Codec.ts"

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

// ---------------------------------------------------------------------------
// Authentication* (B) 'R'
// ---------------------------------------------------------------------------

/** An Authentication message whose body is its code alone: one frozen instance. */
const authCodec = <A extends { readonly _tag: string }>(
  name: A["_tag"],
  code: number,
  schema: Schema.Codec<A, A>
): Message.Codec<A> => {
  const instance = Object.freeze({ _tag: name }) as A
  return Message.make({
    name,
    framing: "payload",
    type: BackendCode.Authentication,
    schema,
    readBody: (r) => {
      expectInt32(r, code, "authentication code")
      return instance
    },
    writeBody: (w) => {
      w.int32(code)
    }
  })
}

/** An Authentication message whose code is followed by a salt of `size` bytes (a view when decoded). */
const authSaltCodec = <A extends { readonly _tag: string; readonly salt: Uint8Array }>(
  name: A["_tag"],
  code: number,
  schema: Schema.Codec<A, A>,
  size: number
): Message.Codec<A> =>
  Message.make({
    name,
    framing: "payload",
    type: BackendCode.Authentication,
    schema,
    readBody: (r) => {
      expectInt32(r, code, "authentication code")
      return { _tag: name, salt: r.bytes(size) } as A
    },
    writeBody: (w, m) => {
      if (m.salt.length !== size) w.fail(`salt must be ${size} bytes, got ${m.salt.length}`)
      w.int32(code).bytes(m.salt)
    }
  })

/** @since 0.1.0 */
export const AuthenticationOkSchema = Schema.TaggedStruct("AuthenticationOk", {})
/** @since 0.1.0 */
export interface AuthenticationOk extends Schema.Schema.Type<typeof AuthenticationOkSchema> {}
/** Authentication succeeded: Int32(0). @since 0.1.0 */
export const AuthenticationOk: Message.Codec<AuthenticationOk> = authCodec(
  "AuthenticationOk",
  AuthCode.Ok,
  AuthenticationOkSchema
)

/** @since 0.1.0 */
export const AuthenticationKerberosV4Schema = Schema.TaggedStruct("AuthenticationKerberosV4", {})
/** @since 0.1.0 */
export interface AuthenticationKerberosV4 extends Schema.Schema.Type<typeof AuthenticationKerberosV4Schema> {}
/** Kerberos V4 authentication is required: Int32(1). @since 0.1.0 */
export const AuthenticationKerberosV4: Message.Codec<AuthenticationKerberosV4> = authCodec(
  "AuthenticationKerberosV4",
  AuthCode.KerberosV4,
  AuthenticationKerberosV4Schema
)

/** @since 0.1.0 */
export const AuthenticationKerberosV5Schema = Schema.TaggedStruct("AuthenticationKerberosV5", {})
/** @since 0.1.0 */
export interface AuthenticationKerberosV5 extends Schema.Schema.Type<typeof AuthenticationKerberosV5Schema> {}
/** Kerberos V5 authentication is required: Int32(2). @since 0.1.0 */
export const AuthenticationKerberosV5: Message.Codec<AuthenticationKerberosV5> = authCodec(
  "AuthenticationKerberosV5",
  AuthCode.KerberosV5,
  AuthenticationKerberosV5Schema
)

/** @since 0.1.0 */
export const AuthenticationCleartextPasswordSchema = Schema.TaggedStruct("AuthenticationCleartextPassword", {})
/** @since 0.1.0 */
export interface AuthenticationCleartextPassword
  extends Schema.Schema.Type<typeof AuthenticationCleartextPasswordSchema>
{}
/** A cleartext password is required: Int32(3). @since 0.1.0 */
export const AuthenticationCleartextPassword: Message.Codec<AuthenticationCleartextPassword> = authCodec(
  "AuthenticationCleartextPassword",
  AuthCode.CleartextPassword,
  AuthenticationCleartextPasswordSchema
)

/** @since 0.1.0 */
export const AuthenticationCryptPasswordSchema = Schema.TaggedStruct("AuthenticationCryptPassword", {
  /** The salt for crypt(3): exactly 2 bytes (Byte2). */
  salt: Fields.Bytes.check(Schema.isBetweenLength(2, 2))
})
/** @since 0.1.0 */
export interface AuthenticationCryptPassword extends Schema.Schema.Type<typeof AuthenticationCryptPasswordSchema> {}
/** A crypt(3)-encrypted password is required: Int32(4), Byte2 salt. `salt` is a view. @since 0.1.0 */
export const AuthenticationCryptPassword: Message.Codec<AuthenticationCryptPassword> = authSaltCodec(
  "AuthenticationCryptPassword",
  AuthCode.CryptPassword,
  AuthenticationCryptPasswordSchema,
  2
)

/** @since 0.1.0 */
export const AuthenticationMD5PasswordSchema = Schema.TaggedStruct("AuthenticationMD5Password", {
  /** The salt for the MD5 hash: exactly 4 bytes (Byte4). */
  salt: Fields.Bytes.check(Schema.isBetweenLength(4, 4))
})
/** @since 0.1.0 */
export interface AuthenticationMD5Password extends Schema.Schema.Type<typeof AuthenticationMD5PasswordSchema> {}
/** An MD5-encrypted password is required: Int32(5), Byte4 salt. `salt` is a view. @since 0.1.0 */
export const AuthenticationMD5Password: Message.Codec<AuthenticationMD5Password> = authSaltCodec(
  "AuthenticationMD5Password",
  AuthCode.MD5Password,
  AuthenticationMD5PasswordSchema,
  4
)

/** @since 0.1.0 */
export const AuthenticationSCMCredentialSchema = Schema.TaggedStruct("AuthenticationSCMCredential", {})
/** @since 0.1.0 */
export interface AuthenticationSCMCredential extends Schema.Schema.Type<typeof AuthenticationSCMCredentialSchema> {}
/** An SCM credentials message is required (Unix sockets only): Int32(6). @since 0.1.0 */
export const AuthenticationSCMCredential: Message.Codec<AuthenticationSCMCredential> = authCodec(
  "AuthenticationSCMCredential",
  AuthCode.SCMCredential,
  AuthenticationSCMCredentialSchema
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
export const CompletedResponse: Message.Codec<CompletedResponse> = stringCodec({
  name: "CompletedResponse",
  type: BackendCode.CompletedResponse,
  schema: CompletedResponseSchema,
  field: "tag"
})

// ---------------------------------------------------------------------------
// CopyInResponse (B) 'G' / CopyOutResponse (B) 'H'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const CopyInResponseSchema = Schema.TaggedStruct("CopyInResponse", {})
/** @since 0.1.0 */
export interface CopyInResponse extends Schema.Schema.Type<typeof CopyInResponseSchema> {}

/** The server is ready for CopyDataRows from the client. @since 0.1.0 */
export const CopyInResponse: Message.Codec<CopyInResponse> = Message.empty({
  name: "CopyInResponse",
  framing: "payload",
  type: BackendCode.CopyInResponse,
  schema: CopyInResponseSchema
})

/** @since 0.1.0 */
export const CopyOutResponseSchema = Schema.TaggedStruct("CopyOutResponse", {})
/** @since 0.1.0 */
export interface CopyOutResponse extends Schema.Schema.Type<typeof CopyOutResponseSchema> {}

/** CopyDataRows from the server follow. @since 0.1.0 */
export const CopyOutResponse: Message.Codec<CopyOutResponse> = Message.empty({
  name: "CopyOutResponse",
  framing: "payload",
  type: BackendCode.CopyOutResponse,
  schema: CopyOutResponseSchema
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
export const CursorResponse: Message.Codec<CursorResponse> = stringCodec({
  name: "CursorResponse",
  type: BackendCode.CursorResponse,
  schema: CursorResponseSchema,
  field: "name"
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
// ErrorResponse (B) 'E'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const ErrorResponseSchema = Schema.TaggedStruct("ErrorResponse", {
  /** The error message itself (no fields: protocol 2.0 errors are one string). */
  message: Fields.CString
})
/** @since 0.1.0 */
export interface ErrorResponse extends Schema.Schema.Type<typeof ErrorResponseSchema> {}

/** @since 0.1.0 */
export const ErrorResponse: Message.Codec<ErrorResponse> = stringCodec({
  name: "ErrorResponse",
  type: BackendCode.ErrorResponse,
  schema: ErrorResponseSchema,
  field: "message"
})

// ---------------------------------------------------------------------------
// FunctionResultResponse (B) 'V' 'G' / FunctionVoidResponse (B) 'V' '0'
// ---------------------------------------------------------------------------

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
// NoticeResponse (B) 'N'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const NoticeResponseSchema = Schema.TaggedStruct("NoticeResponse", {
  /** The notice message itself. */
  message: Fields.CString
})
/** @since 0.1.0 */
export interface NoticeResponse extends Schema.Schema.Type<typeof NoticeResponseSchema> {}

/** @since 0.1.0 */
export const NoticeResponse: Message.Codec<NoticeResponse> = stringCodec({
  name: "NoticeResponse",
  type: BackendCode.NoticeResponse,
  schema: NoticeResponseSchema,
  field: "message"
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
// ReadyForQuery (B) 'Z'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const ReadyForQuerySchema = Schema.TaggedStruct("ReadyForQuery", {})
/** @since 0.1.0 */
export interface ReadyForQuery extends Schema.Schema.Type<typeof ReadyForQuerySchema> {}

/** Only the type byte: 2.0 reports no transaction status. @since 0.1.0 */
export const ReadyForQuery: Message.Codec<ReadyForQuery> = Message.empty({
  name: "ReadyForQuery",
  framing: "payload",
  type: BackendCode.ReadyForQuery,
  schema: ReadyForQuerySchema
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

