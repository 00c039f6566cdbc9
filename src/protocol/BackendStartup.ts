/**
 * What the server sends while a session starts (protocol-3.2 "Message
 * Formats" and "Start-up"): the Authentication messages ('R', told apart by
 * the Int32 code after the type byte), BackendKeyData and
 * NegotiateProtocolVersion, each with its Schema, reader and writer.
 *
 * **Details**
 *
 * - Each Authentication codec checks its own code when it reads; choosing the
 *   codec from the code is the dispatch's job (`Backend.readUnsafe`).
 * - Byte fields (the MD5 salt, SASL and GSSAPI data, the secret key) are
 *   views into the frame.
 *
 * Re-exported by `Backend` under the same names. Pure: no Effect runtime, no
 * IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { AuthCode, Backend as Code } from "../wire/Codes.ts"
import type { Reader } from "../wire/Reader.ts"
import { checkSecretKey, readSecretKey, SecretKey } from "./CancelKey.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"

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
    return { _tag: "BackendKeyData", processId, secretKey: readSecretKey(r) }
  },
  writeBody: (w, m) => {
    checkSecretKey(w, m.secretKey)
    w.int32(m.processId)
    w.bytes(m.secretKey)
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
