/**
 * PostgreSQL's MD5 password authentication, both sides.
 *
 * **Details**
 *
 * protocol-3.2 "AuthenticationMD5Password": the server sends a 4-byte random
 * salt; the client answers with a PasswordMessage holding
 * `"md5" + md5hex(md5hex(password + user) + salt)`, where `md5hex` is the
 * lower-case hexadecimal MD5 digest. The inner `"md5" + md5hex(password + user)`
 * is also what the server stores in `pg_authid.rolpassword` for an MD5 role,
 * so the server side only needs the stored form.
 *
 * Strings are hashed as their UTF-8 bytes; pass a `Uint8Array` to hash other
 * bytes (libpq hashes the password and user name bytes as given, in the client
 * encoding). MD5 passwords are deprecated upstream; prefer SCRAM.
 *
 * Deliberately not here: the PasswordMessage framing (protocol layer) and the
 * decision whether an MD5 request may be answered (`AuthPolicy`).
 *
 * Pure: `node:crypto` for MD5 and the constant-time comparison, nothing else.
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"
import * as Utf8 from "../wire/Utf8.ts"

const bytesOf = (value: string | Uint8Array): Uint8Array => (typeof value === "string" ? Utf8.encode(value) : value)

const md5Hex = (...parts: ReadonlyArray<Uint8Array>): string => {
  const hash = Crypto.createHash("md5")
  for (const part of parts) hash.update(part)
  return hash.digest("hex")
}

const STORED = /^md5[0-9a-f]{32}$/

/**
 * The stored form of an MD5 password: `"md5" + md5hex(password + user)`.
 *
 * **Details**
 *
 * The same value as libpq's `PQencryptPassword` and the server's
 * `pg_authid.rolpassword` for an MD5 role: 35 ASCII characters.
 *
 * @since 0.1.0
 */
export const storedPassword = (password: string | Uint8Array, user: string | Uint8Array): string =>
  "md5" + md5Hex(bytesOf(password), bytesOf(user))

/**
 * Whether `value` has the shape of a stored MD5 password (`md5` and 32
 * lower-case hexadecimal digits), as the server tests a `rolpassword`.
 *
 * @since 0.1.0
 */
export const isStoredPassword = (value: string): boolean => STORED.test(value)

/**
 * The client's answer to AuthenticationMD5Password:
 * `"md5" + md5hex(md5hex(password + user) + salt)`.
 *
 * **Details**
 *
 * `salt` is the 4 bytes of the request, used as given (the protocol codec
 * guarantees their number). The result is 35 ASCII characters, sent as the
 * PasswordMessage's string.
 *
 * @since 0.1.0
 */
export const passwordResponse = (
  password: string | Uint8Array,
  user: string | Uint8Array,
  salt: Uint8Array
): string => responseFromStored(storedPassword(password, user), salt)

/**
 * The expected answer computed from the stored form, as the server does
 * (`"md5" + md5hex(stored.slice(3) + salt)`).
 *
 * @since 0.1.0
 */
export const responseFromStored = (stored: string, salt: Uint8Array): string =>
  "md5" + md5Hex(Utf8.encode(stored.slice(3)), salt)

/**
 * Server side: whether a client's PasswordMessage answers the MD5 challenge
 * for a role whose stored password is `stored`.
 *
 * **Details**
 *
 * False when `stored` is not an MD5 stored password. The comparison takes the
 * same time wherever the first difference is.
 *
 * @since 0.1.0
 */
export const verifyResponse = (stored: string, salt: Uint8Array, response: string): boolean => {
  if (!isStoredPassword(stored)) return false
  const expected = Utf8.encode(responseFromStored(stored, salt))
  const actual = Utf8.encode(response)
  return actual.length === expected.length && Crypto.timingSafeEqual(actual, expected)
}
