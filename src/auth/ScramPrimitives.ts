/**
 * What both sides of a SCRAM-SHA-256 exchange share (RFC 5802, RFC 7677):
 * the mechanism names, the message grammar (`x=value` attributes,
 * `saslname`, printable nonces, strict base64), the key derivation and the
 * proof and signature formulas.
 *
 * **Details**
 *
 * With `SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, i)`,
 * `ClientKey = HMAC(SaltedPassword, "Client Key")`, `StoredKey = H(ClientKey)`,
 * `ServerKey = HMAC(SaltedPassword, "Server Key")` and `AuthMessage =
 * client-first-bare + "," + server-first + "," + client-final-without-proof`:
 * the proof is `ClientKey XOR ClientSignature` with `ClientSignature =
 * HMAC(StoredKey, AuthMessage)`, and the server signature is
 * `HMAC(ServerKey, AuthMessage)`.
 *
 * Internal to the auth layer but for the names `Scram.ts` re-exports
 * (`MECHANISM`, `MECHANISM_PLUS`, `Mechanism`, `NONCE_BYTES`, `Keys`).
 * Pure: `node:crypto` for hashing and random bytes, `node:buffer` for base64.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import * as Crypto from "node:crypto"
import * as Result from "effect/Result"
import * as Utf8 from "../wire/Utf8.ts"

/** @since 0.1.0 */
export const MECHANISM = "SCRAM-SHA-256"

/** @since 0.1.0 */
export const MECHANISM_PLUS = "SCRAM-SHA-256-PLUS"

/**
 * A SCRAM mechanism name as it appears in AuthenticationSASL and
 * SASLInitialResponse.
 *
 * @since 0.1.0
 */
export type Mechanism = typeof MECHANISM | typeof MECHANISM_PLUS

/**
 * Random bytes in a nonce (libpq's and the server's `SCRAM_RAW_NONCE_LEN`),
 * sent as 24 base64 characters.
 *
 * @since 0.1.0
 */
export const NONCE_BYTES = 18

/** PostgreSQL stores the iteration count as an int32 (and PBKDF2 here takes no more). */
export const MAX_ITERATIONS = 0x7fffffff

/** SHA-256 output, the length of every key and signature. */
export const KEY_BYTES = 32

/** Whether `n` is an iteration count PostgreSQL can store: an integer from 1 to 2147483647. */
export const isIterationCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 1 && n <= MAX_ITERATIONS

// ---------------------------------------------------------------------------
// Hashing
// ---------------------------------------------------------------------------

// Through a KeyObject: Node's createHmac takes about three times as long with the raw key bytes.
const hmac = (key: Uint8Array | Crypto.KeyObject, data: Uint8Array | string): Uint8Array =>
  new Uint8Array(
    Crypto.createHmac("sha256", key instanceof Uint8Array ? Crypto.createSecretKey(key) : key).update(data).digest()
  )

/** SHA-256 of `data`. */
export const sha256 = (data: Uint8Array): Uint8Array => new Uint8Array(Crypto.createHash("sha256").update(data).digest())

/** `a XOR b`, byte by byte (both of `a`'s length). */
export const xor = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!
  return out
}

/** Equal lengths and equal bytes, compared in constant time. */
export const equalConstantTime = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && Crypto.timingSafeEqual(a, b)

/**
 * What a password yields for one salt and iteration count.
 *
 * @since 0.1.0
 */
export interface Keys {
  readonly clientKey: Uint8Array
  readonly storedKey: Uint8Array
  readonly serverKey: Uint8Array
}

/** PBKDF2, then ClientKey, StoredKey and ServerKey. */
export const deriveKeys = (password: Uint8Array, salt: Uint8Array, iterations: number): Keys => {
  const salted = new Uint8Array(Crypto.pbkdf2Sync(password, salt, iterations, KEY_BYTES, "sha256"))
  const clientKey = hmac(salted, "Client Key")
  return { clientKey, storedKey: sha256(clientKey), serverKey: hmac(salted, "Server Key") }
}

/** `client-first-bare + "," + server-first + "," + client-final-without-proof`. */
export const makeAuthMessage = (clientFirstBare: string, serverFirst: string, clientFinalWithoutProof: string): string =>
  `${clientFirstBare},${serverFirst},${clientFinalWithoutProof}`

/** `HMAC(StoredKey, AuthMessage)`: XORed with ClientKey it is the proof, XORed with the proof it is ClientKey. */
export const clientSignature = (storedKey: Uint8Array, message: string): Uint8Array => hmac(storedKey, message)

/** `HMAC(ServerKey, AuthMessage)`, sent as `v=` in the server-final-message. */
export const serverSignature = (serverKey: Uint8Array, message: string): Uint8Array => hmac(serverKey, message)

/** What `c=` carries, before base64: the gs2 header, then the channel binding data (none without -PLUS). */
export const channelBindingInput = (gs2Header: string, bindingData: Uint8Array): Uint8Array => {
  const header = Utf8.encode(gs2Header)
  const out = new Uint8Array(header.length + bindingData.length)
  out.set(header, 0)
  out.set(bindingData, header.length)
  return out
}

// ---------------------------------------------------------------------------
// Grammar
// ---------------------------------------------------------------------------

// Strict base64 (RFC 4648 section 4, padded): Buffer.from would skip junk.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Strict base64 to bytes; undefined when `text` is not base64. */
export const fromBase64 = (text: string): Uint8Array | undefined =>
  BASE64.test(text) ? new Uint8Array(Buffer.from(text, "base64")) : undefined

/** A key or signature in base64: undefined unless exactly 32 bytes of strict base64. */
export const keyFromBase64 = (text: string): Uint8Array | undefined => {
  const bytes = fromBase64(text)
  return bytes !== undefined && bytes.length === KEY_BYTES ? bytes : undefined
}

/** Padded base64 of `bytes`. */
export const toBase64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")

/** RFC 5802 `printable`: %x21-2B / %x2D-7E (visible ASCII except ','). */
export const isPrintable = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x21 || c > 0x7e || c === 0x2c) return false
  }
  return true
}

/** A valid nonce (or nonce part): non-empty and printable. */
export const isNonce = (s: string): boolean => s.length > 0 && isPrintable(s)

/** `NONCE_BYTES` random bytes, in base64. */
export const randomNonce = (): string => toBase64(new Uint8Array(Crypto.randomBytes(NONCE_BYTES)))

/** RFC 5802 `saslname`: ',' and '=' escaped as =2C and =3D. */
export const saslName = (name: string): string => name.replace(/=/g, "=3D").replace(/,/g, "=2C")

/** Whether `value` is a well-formed `saslname`. */
export const isSaslName = (value: string): boolean => /^(?:[^=,]|=2C|=3D)*$/.test(value)

/** One `x=value` attribute of a SCRAM message. */
export interface Attribute {
  readonly name: string
  readonly value: string
}

/** Splits a SCRAM message into attributes; undefined when a part is not `x=value`. */
export const parseAttributes = (message: string): ReadonlyArray<Attribute> | undefined => {
  const parts = message.split(",")
  const out: Array<Attribute> = []
  for (const part of parts) {
    if (part.length < 2 || part.charCodeAt(1) !== 0x3d) return undefined
    const name = part[0]!
    if (!/^[A-Za-z]$/.test(name)) return undefined
    out.push({ name, value: part.slice(2) })
  }
  return out
}

/** A message as text: strings as they are, bytes decoded as strict UTF-8 (undefined when they are not). */
export const toText = (message: string | Uint8Array): string | undefined =>
  typeof message === "string" ? message : Utf8.decode(message, 0, message.length)

/** A received message as text and its attributes, or why it is not one (strict UTF-8, then `x=value` parts). */
export const readAttributes = (
  message: string | Uint8Array
): Result.Result<{ readonly text: string; readonly attributes: ReadonlyArray<Attribute> }, string> => {
  const text = toText(message)
  if (text === undefined) return Result.fail("not valid UTF-8")
  const attributes = parseAttributes(text)
  return attributes === undefined ? Result.fail("malformed attribute list") : Result.succeed({ text, attributes })
}
