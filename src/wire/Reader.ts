/**
 * A read cursor over one protocol frame.
 *
 * `Reader` walks a byte range (`buf[pos, end)`) field by field with a bounds
 * check before every read. It never copies: `bytes(n)` and `rest()` return views
 * into the underlying buffer, valid as long as that buffer is (the Framer never
 * reuses a buffer it handed out, so in practice: forever).
 *
 * Every failure throws a `ProtocolError` naming the message and the offset inside
 * the frame. The throwing methods are internal ("Unsafe" by contract): the
 * protocol layer catches them at exactly one boundary (`Message.decode*`).
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import { ProtocolError } from "../errors/PgError.ts"
import * as Utf8 from "./Utf8.ts"

/**
 * A view of `buf[start, end)`, always a plain `Uint8Array` (a `Buffer`'s own
 * `subarray` makes a `Buffer`, whose `slice` is a view too, not a copy), made
 * by the constructor, which costs less than `subarray`.
 *
 * @since 0.1.0
 */
export const view = (buf: Uint8Array, start: number, end: number): Uint8Array =>
  new Uint8Array(buf.buffer, buf.byteOffset + start, end - start)

/**
 * @since 0.1.0
 */
export class Reader {
  /** The buffer being read. */
  buf: Uint8Array
  /** The next byte to read. */
  pos: number
  /** One past the last readable byte. */
  end: number
  /** Offset of the frame body inside `buf`, so errors report frame-relative offsets. */
  base: number
  /** The protocol name of the message being decoded (for errors). */
  messageName: string

  constructor(buf: Uint8Array = new Uint8Array(0), start = 0, end = buf.length, messageName = "message") {
    this.buf = buf
    this.pos = start
    this.end = end
    this.base = start
    this.messageName = messageName
  }

  /** Points the reader at `buf[start, end)`. Returns `this` for chaining. */
  reset(buf: Uint8Array, start: number, end: number, messageName: string): this {
    this.buf = buf
    this.pos = start
    this.end = end
    this.base = start
    this.messageName = messageName
    return this
  }

  /** Bytes left to read. */
  remaining(): number {
    return this.end - this.pos
  }

  /** Throws a `ProtocolError` at the current offset. */
  fail(message: string): never {
    throw new ProtocolError({
      message: `${this.messageName}: ${message} at offset ${this.pos - this.base}`,
      messageName: this.messageName,
      offset: this.pos - this.base
    })
  }

  private need(n: number, what: string): void {
    if (this.end - this.pos < n) this.fail(`truncated ${what} (need ${n} bytes, have ${this.end - this.pos})`)
  }

  uint8(): number {
    this.need(1, "byte")
    return this.buf[this.pos++]!
  }

  int8(): number {
    return (this.uint8() << 24) >> 24
  }

  int16(): number {
    this.need(2, "int16")
    const b = this.buf
    const p = this.pos
    this.pos = p + 2
    return ((b[p]! << 24) | (b[p + 1]! << 16)) >> 16
  }

  uint16(): number {
    this.need(2, "uint16")
    const b = this.buf
    const p = this.pos
    this.pos = p + 2
    return (b[p]! << 8) | b[p + 1]!
  }

  int32(): number {
    this.need(4, "int32")
    const b = this.buf
    const p = this.pos
    this.pos = p + 4
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!
  }

  uint32(): number {
    return this.int32() >>> 0
  }

  int64(): bigint {
    const hi = this.int32()
    const lo = this.uint32()
    return (BigInt(hi) << 32n) | BigInt(lo)
  }

  uint64(): bigint {
    const hi = this.uint32()
    const lo = this.uint32()
    return (BigInt(hi) << 32n) | BigInt(lo)
  }

  float64(): number {
    this.need(8, "float64")
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0)
    this.pos += 8
    return v
  }

  /** A view of the next `n` bytes (a plain `Uint8Array`, see `view`). */
  bytes(n: number): Uint8Array {
    if (n < 0) this.fail(`negative length ${n}`)
    this.need(n, "bytes")
    const v = view(this.buf, this.pos, this.pos + n)
    this.pos += n
    return v
  }

  /** A view of every remaining byte (a plain `Uint8Array`, see `view`). */
  rest(): Uint8Array {
    const v = view(this.buf, this.pos, this.end)
    this.pos = this.end
    return v
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(): string {
    const b = this.buf
    const start = this.pos
    const end = this.end
    let i = start
    while (i < end && b[i] !== 0) i++
    if (i === end) this.fail("unterminated string")
    const s = Utf8.decode(b, start, i)
    if (s === undefined) this.fail("invalid UTF-8")
    this.pos = i + 1
    return s
  }

  /** `n` bytes of UTF-8 (no terminator). */
  string(n: number): string {
    if (n < 0) this.fail(`negative length ${n}`)
    this.need(n, "string")
    const s = Utf8.decode(this.buf, this.pos, this.pos + n)
    if (s === undefined) this.fail("invalid UTF-8")
    this.pos += n
    return s
  }

  /** An int32 length followed by that many bytes, or `null` for length -1. Other negative lengths fail. */
  nullableBytes(): Uint8Array | null {
    const n = this.int32()
    if (n === -1) return null
    if (n < 0) {
      this.pos -= 4
      this.fail(`invalid length ${n}`)
    }
    return this.bytes(n)
  }

  /** A count that must lie in `[0, max]`, checked before anything is allocated for it. */
  count16(what: string, max = 65535): number {
    const n = this.int16()
    if (n < 0 || n > max) {
      this.pos -= 2
      this.fail(`${what} count ${n} out of range`)
    }
    return n
  }

  /**
   * An unsigned 16-bit count (the server and libpq read the protocol's Int16
   * counts as unsigned, so up to 65535 parameters fit), bounded by what the
   * remaining bytes could possibly hold, so an untrusted count never drives an
   * allocation.
   */
  countU16(what: string, minBytesEach: number): number {
    const n = this.uint16()
    if (n * minBytesEach > this.end - this.pos) {
      this.pos -= 2
      this.fail(`${what} count ${n} does not fit in the ${this.end - this.pos - 2} bytes that follow`)
    }
    return n
  }

  /** A non-negative int32 count, bounded by what the remaining bytes could possibly hold. */
  count32(what: string, minBytesEach: number): number {
    const n = this.int32()
    if (n < 0 || (minBytesEach > 0 && n * minBytesEach > this.end - this.pos)) {
      this.pos -= 4
      this.fail(`${what} count ${n} out of range`)
    }
    return n
  }

  /** Fails unless every byte has been read. */
  done(): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} trailing bytes`)
  }
}
