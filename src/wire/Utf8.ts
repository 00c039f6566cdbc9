/**
 * UTF-8 encoding and strict decoding for protocol strings and text values.
 *
 * Decoding is strict (invalid UTF-8 is reported, never replaced) and picks the
 * cheapest exact path by length: tiny ASCII strings are built in a loop, short
 * ASCII strings are checked in a loop and sliced natively (Latin-1 and ASCII
 * agree below 0x80), and everything else is validated and decoded natively
 * (`isUtf8`, then the UTF-8 slice). A `TextDecoder` call costs several hundred
 * nanoseconds, more than most column values take to decode.
 * Pure: no Effect runtime, no IO (only `node:buffer`'s byte functions).
 *
 * @since 0.1.0
 */
import { Buffer, isUtf8 } from "node:buffer"

const encoder = new TextEncoder()
const latin1Slice = Buffer.prototype.latin1Slice as unknown as (this: Uint8Array, start: number, end: number) => string
const utf8Slice = Buffer.prototype.utf8Slice as unknown as (this: Uint8Array, start: number, end: number) => string

/** Strings at most this long are built by one `String.fromCharCode` call when ASCII. */
const TINY_MAX_BYTES = 8

const fromCharCode = String.fromCharCode

/**
 * ASCII bytes `[s, e)`, at most `TINY_MAX_BYTES`, as one string made at once (appending characters one by one
 * made a string per character; a native slice costs more than the whole of this for so few bytes).
 */
const tinyAscii = (b: Uint8Array, s: number, e: number): string => {
  switch (e - s) {
    case 0:
      return ""
    case 1:
      return fromCharCode(b[s]!)
    case 2:
      return fromCharCode(b[s]!, b[s + 1]!)
    case 3:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!)
    case 4:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!)
    case 5:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!)
    case 6:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!)
    case 7:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!)
    default:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!)
  }
}
/** Strings at most this long are scanned for ASCII in JavaScript, then sliced natively. */
const SHORT_MAX_BYTES = 48

/**
 * Decodes `bytes[start, end)` as UTF-8.
 *
 * **Details**
 *
 * Returns `undefined` when the bytes are not valid UTF-8 (the caller turns that
 * into a typed error naming the message and offset).
 *
 * @since 0.1.0
 */
export const decode = (bytes: Uint8Array, start: number, end: number): string | undefined => {
  const length = end - start
  if (length <= TINY_MAX_BYTES) {
    let or = 0
    for (let i = start; i < end; i++) or |= bytes[i]!
    return or < 0x80 ? tinyAscii(bytes, start, end) : decodeValidated(bytes, start, end)
  }
  if (length <= SHORT_MAX_BYTES) {
    for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return decodeValidated(bytes, start, end)
    return latin1Slice.call(bytes, start, end)
  }
  return decodeValidated(bytes, start, end)
}

// The view by the constructor, as `Reader.view` makes it (Reader imports this module).
const decodeValidated = (bytes: Uint8Array, start: number, end: number): string | undefined =>
  isUtf8(new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start))
    ? utf8Slice.call(bytes, start, end)
    : undefined

/**
 * The number of bytes `s` takes in UTF-8.
 *
 * @since 0.1.0
 */
export const byteLength = (s: string): number => {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4
        i++
      } else n += 3
    } else n += 3
  }
  return n
}

/**
 * Writes `s` as UTF-8 into `target` at `offset`; returns the number of bytes
 * written. `target` must have room for `3 * s.length` bytes.
 *
 * **Details**
 *
 * Lone surrogates are written as U+FFFD (what `TextEncoder` does): a JavaScript
 * string with a lone surrogate has no exact UTF-8 form.
 *
 * @since 0.1.0
 */
export const encodeInto = (s: string, target: Uint8Array, offset: number): number => {
  const n = s.length
  let i = 0
  for (; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) break
    target[offset + i] = c
  }
  if (i === n) return n
  const result = encoder.encodeInto(i === 0 ? s : s.slice(i), target.subarray(offset + i))
  return i + result.written
}

/**
 * Encodes `s` as a fresh UTF-8 byte array.
 *
 * @since 0.1.0
 */
export const encode = (s: string): Uint8Array => encoder.encode(s)

/**
 * A string of the Latin-1 (here: ASCII) bytes `bytes[start, end)`, built in one
 * native call as a flat string. Codecs that format values byte by byte (uuid,
 * numeric) write into a scratch buffer and call this, instead of concatenating:
 * a string built with `+` is a tree of pieces that costs hundreds of bytes
 * per value until something flattens it.
 *
 * @since 0.1.0
 */
export const fromAscii = (bytes: Uint8Array, start: number, end: number): string => latin1Slice.call(bytes, start, end)
