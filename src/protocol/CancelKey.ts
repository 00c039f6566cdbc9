/**
 * The cancel key of protocol 3.x, which the server hands out in
 * BackendKeyData and the client sends back in a CancelRequest: its Schema
 * and its bounds, read and checked the same way in both messages.
 *
 * **Details**
 *
 * The key "extends to the end of the message" (protocol-3.2
 * "BackendKeyData" and "CancelRequest"): 4 bytes before protocol 3.2, up to
 * 256 bytes since. Protocol 2.0's key is an Int32 field (`V2Frontend`).
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type { Reader } from "../wire/Reader.ts"
import type { Writer } from "../wire/Writer.ts"

/**
 * A cancel secret key: 4 bytes before protocol 3.2, up to 256 bytes since
 * (protocol-3.2 "BackendKeyData": "The maximum key length is 256 bytes").
 *
 * @since 0.1.0
 */
export const SecretKey = Schema.Uint8Array.check(Schema.isBetweenLength(4, 256))

/** Smallest and largest cancel key, protocol-3.2 "BackendKeyData" and "CancelRequest". */
const MIN_SECRET_KEY = 4
const MAX_SECRET_KEY = 256

/**
 * Reads the key as the rest of the body (a view into the frame), after
 * checking its length. Throws `ProtocolError`.
 */
export const readSecretKey = (r: Reader): Uint8Array => {
  const n = r.remaining()
  if (n < MIN_SECRET_KEY || n > MAX_SECRET_KEY) {
    r.fail(`secret key of ${n} bytes is outside ${MIN_SECRET_KEY}..${MAX_SECRET_KEY}`)
  }
  return r.rest()
}

/** Checks a key's length before it is written. Throws `ProtocolError`. */
export const checkSecretKey = (w: Writer, key: Uint8Array): void => {
  const n = key.length
  if (n < MIN_SECRET_KEY || n > MAX_SECRET_KEY) {
    w.fail(`secret key of ${n} bytes is outside ${MIN_SECRET_KEY}..${MAX_SECRET_KEY}`)
  }
}
