/**
 * The client's answers to an authentication request (protocol-3.2 "Message
 * Formats" and "SASL Authentication"): PasswordMessage, SASLInitialResponse,
 * SASLResponse and GSSResponse, which all use the type byte 'p', each with
 * its Schema, reader and writer, and the `PasswordContext` that says which
 * one a 'p' frame is.
 *
 * **Details**
 *
 * "The exact message type can be deduced from the context", never from the
 * bytes: the server knows which one it asked for. Byte fields are views into
 * the frame.
 *
 * Re-exported by `Frontend` under the same names. Pure: no Effect runtime, no
 * IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { Frontend as Code } from "../wire/Codes.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"

/** A 'p' message whose data is the whole body (a view when decoded). */
const dataCodec = <A extends { readonly _tag: string; readonly data: Uint8Array }>(
  name: A["_tag"],
  schema: Schema.Codec<A, A>
): Message.Codec<A> =>
  Message.make({
    name,
    type: Code.PasswordFamily,
    schema,
    readBody: (r) => ({ _tag: name, data: r.rest() }) as A,
    writeBody: (w, m) => {
      w.bytes(m.data)
    }
  })

// ---------------------------------------------------------------------------
// GSSResponse (F) 'p'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const GSSResponseSchema = Schema.TaggedStruct("GSSResponse", {
  /** GSSAPI/SSPI specific message data. */
  data: Fields.Bytes
})
/** @since 0.1.0 */
export interface GSSResponse extends Schema.Schema.Type<typeof GSSResponseSchema> {}
/**
 * A GSSAPI or SSPI response ('p': see the module notes). `data` is a view.
 *
 * @since 0.1.0
 */
export const GSSResponse: Message.Codec<GSSResponse> = dataCodec("GSSResponse", GSSResponseSchema)

// ---------------------------------------------------------------------------
// PasswordMessage (F) 'p'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const PasswordMessageSchema = Schema.TaggedStruct("PasswordMessage", {
  /** The password (hashed, if MD5 was requested). */
  password: Fields.CString
})
/** @since 0.1.0 */
export interface PasswordMessage extends Schema.Schema.Type<typeof PasswordMessageSchema> {}
/**
 * A password response ('p': see the module notes).
 *
 * @since 0.1.0
 */
export const PasswordMessage: Message.Codec<PasswordMessage> = Message.make({
  name: "PasswordMessage",
  type: Code.PasswordFamily,
  schema: PasswordMessageSchema,
  readBody: (r) => ({ _tag: "PasswordMessage", password: r.cstring() }),
  writeBody: (w, m) => {
    w.cstring(m.password)
  }
})

// ---------------------------------------------------------------------------
// SASLInitialResponse (F) 'p'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const SASLInitialResponseSchema = Schema.TaggedStruct("SASLInitialResponse", {
  /** The SASL mechanism the client selected. */
  mechanism: Fields.CString,
  /** The mechanism's "Initial Client Response", or `null` for none (length -1). */
  data: Fields.NullableBytes
})
/** @since 0.1.0 */
export interface SASLInitialResponse extends Schema.Schema.Type<typeof SASLInitialResponseSchema> {}
/**
 * The first SASL message ('p': see the module notes). `data` is a view.
 *
 * @since 0.1.0
 */
export const SASLInitialResponse: Message.Codec<SASLInitialResponse> = Message.make({
  name: "SASLInitialResponse",
  type: Code.PasswordFamily,
  schema: SASLInitialResponseSchema,
  readBody: (r) => {
    const mechanism = r.cstring()
    return { _tag: "SASLInitialResponse", mechanism, data: r.nullableBytes() }
  },
  writeBody: (w, m) => {
    w.cstring(m.mechanism)
    w.nullableBytes(m.data)
  }
})

// ---------------------------------------------------------------------------
// SASLResponse (F) 'p'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const SASLResponseSchema = Schema.TaggedStruct("SASLResponse", {
  /** Mechanism-specific data (SCRAM's client-final-message). */
  data: Fields.Bytes
})
/** @since 0.1.0 */
export interface SASLResponse extends Schema.Schema.Type<typeof SASLResponseSchema> {}
/**
 * A later SASL message ('p': see the module notes). `data` is a view.
 *
 * @since 0.1.0
 */
export const SASLResponse: Message.Codec<SASLResponse> = dataCodec("SASLResponse", SASLResponseSchema)

// ---------------------------------------------------------------------------
// Which 'p' message
// ---------------------------------------------------------------------------

/**
 * Which message a 'p' frame is: the server knows, because it asked for it
 * (AuthenticationCleartextPassword or AuthenticationMD5Password: a
 * PasswordMessage; AuthenticationSASL: a SASLInitialResponse;
 * AuthenticationSASLContinue: a SASLResponse; AuthenticationGSS/SSPI: a
 * GSSResponse).
 *
 * @since 0.1.0
 */
export interface PasswordContext {
  readonly password: "PasswordMessage" | "SASLInitialResponse" | "SASLResponse" | "GSSResponse"
}
