/**
 * UTF-8 encoding and strict decoding for protocol strings.
 *
 * Short ASCII strings (the common case: identifiers, command tags, parameter
 * names) take a loop without any native call; everything else goes through a
 * fatal `TextDecoder`, so invalid UTF-8 is reported instead of being replaced.
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */

const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const encoder = new TextEncoder()

/** Strings at most this long are decoded with the ASCII loop when possible. */
const ASCII_FAST_PATH_MAX_BYTES = 64

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
  if (length === 0) return ""
  if (length <= ASCII_FAST_PATH_MAX_BYTES) {
    let out = ""
    let i = start
    for (; i < end; i++) {
      const c = bytes[i]!
      if (c >= 0x80) break
      out += String.fromCharCode(c)
    }
    if (i === end) return out
  }
  try {
    return strictDecoder.decode(bytes.subarray(start, end))
  } catch {
    return undefined
  }
}

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
