/**
 * The `bytea` codec: JavaScript `Uint8Array`.
 *
 * **Details**
 *
 * - Decoding copies the bytes out of the frame into a new plain `Uint8Array`,
 *   so the value never pins a socket chunk and stays valid after the row is
 *   gone. (Not `slice`: on a Node `Buffer`, which is what the socket delivers,
 *   `slice` returns a view that shares the chunk's memory.) Both formats give a
 *   plain `Uint8Array`, never a `Buffer`.
 * - The text form is read in both of the server's `bytea_output` styles: `hex`
 *   (`\x00ff`, the default) and `escape` (`\000\377`, printable bytes as is,
 *   `\\` for a backslash).
 * - A `Uint8Array` (including a Node `Buffer`) or an `ArrayBuffer` is sent in
 *   binary; its text form is the hex style.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import { Oid } from "./Oid.ts"
import * as TypeCodec from "./TypeCodec.ts"

const NAME = "bytea"

const decodeText = (buf: Uint8Array, start: number, end: number): Uint8Array => {
  if (end - start >= 2 && buf[start] === 0x5c && buf[start + 1] === 0x78) {
    const n = end - start - 2
    if (n % 2 !== 0) return TypeCodec.fail(NAME, "odd number of hex digits")
    const out = new Uint8Array(n / 2)
    for (let i = 0, p = start + 2; i < out.length; i++, p += 2) {
      const hi = TypeCodec.hexValue(buf[p]!)
      const lo = TypeCodec.hexValue(buf[p + 1]!)
      if (hi < 0 || lo < 0) return TypeCodec.fail(NAME, `invalid hex digit at byte ${p - start}`)
      out[i] = (hi << 4) | lo
    }
    return out
  }
  const out = new Uint8Array(end - start)
  let n = 0
  for (let p = start; p < end;) {
    const c = buf[p]!
    if (c !== 0x5c) {
      out[n++] = c
      p++
    } else if (p + 1 < end && buf[p + 1] === 0x5c) {
      out[n++] = 0x5c
      p += 2
    } else if (p + 3 < end && isOctal(buf[p + 1]!) && isOctal(buf[p + 2]!) && isOctal(buf[p + 3]!)) {
      const v = ((buf[p + 1]! - 0x30) << 6) | ((buf[p + 2]! - 0x30) << 3) | (buf[p + 3]! - 0x30)
      if (v > 255) return TypeCodec.fail(NAME, `invalid escape at byte ${p - start}`)
      out[n++] = v
      p += 4
    } else {
      return TypeCodec.fail(NAME, `invalid escape at byte ${p - start}`)
    }
  }
  return out.slice(0, n)
}

/**
 * A copy of `buf[start, end)` in a new plain `Uint8Array` (whatever `buf`'s
 * class: `Buffer.prototype.slice` would return a view).
 *
 * @since 0.1.0
 */
export const copyOut = (buf: Uint8Array, start: number, end: number): Uint8Array =>
  new Uint8Array(buf.subarray(start, end))

const isOctal = (c: number): boolean => c >= 0x30 && c <= 0x37

const toBytes = (value: unknown): Uint8Array => {
  if (value instanceof Uint8Array) return value
  if (value instanceof ArrayBuffer) return new Uint8Array(value)
  return TypeCodec.unsupported(NAME, value, "a Uint8Array")
}

/**
 * `bytea` (OID 17).
 *
 * @since 0.1.0
 */
export const bytea: TypeCodec.TypeCodec<Uint8Array> = TypeCodec.make<Uint8Array>({
  name: NAME,
  oid: Oid.bytea,
  arrayOid: Oid._bytea,
  decodeBinary: (buf, start, end) => copyOut(buf, start, end),
  decodeText,
  encodeBinary: (w, value) => {
    w.bytes(toBytes(value))
  },
  encodeText: (value) => {
    const bytes = toBytes(value)
    return "\\x" + TypeCodec.hex(bytes, 0, bytes.length)
  }
})
