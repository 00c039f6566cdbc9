import { assert, describe, it } from "@effect/vitest"
import { ProtocolError } from "../../src/errors/PgError.ts"
import { Reader } from "../../src/wire/Reader.ts"

const failure = (f: () => unknown): ProtocolError => {
  try {
    f()
  } catch (e) {
    assert.instanceOf(e, ProtocolError)
    return e as ProtocolError
  }
  return assert.fail("expected a ProtocolError")
}

/** A reader over `body`, placed at offset 3 of a larger buffer so frame-relative offsets are tested. */
const over = (...body: Array<number>): Reader => {
  const buf = Uint8Array.from([0xee, 0xee, 0xee, ...body, 0xee])
  return new Reader(buf, 3, 3 + body.length, "Test")
}

describe("Reader", () => {
  it("reads integers in network byte order", () => {
    const r = over(0xff, 0xfe, 0xff, 0xfe, 0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff)
    assert.strictEqual(r.int8(), -1)
    assert.strictEqual(r.uint8(), 0xfe)
    assert.strictEqual(r.uint16(), 0xfffe)
    assert.strictEqual(r.int32(), -2147483648)
    assert.strictEqual(r.uint32(), 4294967295)
    r.done()
  })

  it("reads int16 signed", () => {
    assert.strictEqual(over(0x80, 0x00).int16(), -32768)
    assert.strictEqual(over(0x7f, 0xff).int16(), 32767)
  })

  it("reads 64-bit integers and floats", () => {
    assert.strictEqual(over(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe).int64(), -2n)
    assert.strictEqual(over(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe).uint64(), 2n ** 64n - 2n)
    assert.strictEqual(over(0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18).float64(), Math.PI)
  })

  it("fails on every read past the end, naming the message and the frame-relative offset", () => {
    const reads: Array<(r: Reader) => unknown> = [
      (r) => r.uint8(),
      (r) => r.int16(),
      (r) => r.uint16(),
      (r) => r.int32(),
      (r) => r.int64(),
      (r) => r.float64(),
      (r) => r.bytes(2),
      (r) => r.string(2)
    ]
    for (const read of reads) {
      const r = over(1)
      r.pos++
      const e = failure(() => read(r))
      assert.strictEqual(e.messageName, "Test")
      assert.strictEqual(e.offset, 1)
      assert.match(e.message, /^Test: truncated .* at offset 1$/)
    }
  })

  it("bytes and rest are views, not copies", () => {
    const r = over(1, 2, 3, 4)
    const a = r.bytes(2)
    const b = r.rest()
    assert.strictEqual(a.buffer, r.buf.buffer)
    assert.strictEqual(a.byteOffset, 3)
    assert.deepStrictEqual(b, Uint8Array.of(3, 4))
    assert.strictEqual(r.remaining(), 0)
  })

  it("views over a Buffer are plain Uint8Arrays, so their slice is a copy", () => {
    // A Buffer's own subarray is a Buffer, whose slice is another view: a value kept with slice
    // would change when the read buffer is reused.
    const buf = Buffer.from([0xee, 1, 2, 3, 4, 0xee])
    const r = new Reader(buf, 1, 5, "Test")
    const a = r.bytes(2)
    const b = r.rest()
    assert.isFalse(Buffer.isBuffer(a))
    assert.isFalse(Buffer.isBuffer(b))
    assert.strictEqual(a.buffer, buf.buffer)
    const kept = [a.slice(), b.slice()]
    buf.fill(9)
    assert.deepStrictEqual(kept, [Uint8Array.of(1, 2), Uint8Array.of(3, 4)])
    assert.deepStrictEqual([a, b], [Uint8Array.of(9, 9), Uint8Array.of(9, 9)])
  })

  it("rejects a negative byte count", () => {
    assert.include(failure(() => over(1).bytes(-1)).message, "negative length -1")
  })

  it("reads C strings and rejects unterminated ones", () => {
    const r = over(0x61, 0xc3, 0xa9, 0, 0x62)
    assert.strictEqual(r.cstring(), "aé")
    const e = failure(() => r.cstring())
    assert.strictEqual(e.offset, 4)
    assert.include(e.message, "unterminated string")
  })

  it("rejects invalid UTF-8 in C strings and in sized strings", () => {
    assert.include(failure(() => over(0xc3, 0x28, 0).cstring()).message, "invalid UTF-8 at offset 0")
    assert.include(failure(() => over(0x61, 0xff).string(2)).message, "invalid UTF-8")
  })

  it("reads nullable bytes: -1 is null, other negative lengths fail at the length", () => {
    const r = over(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 9, 0xff, 0xff, 0xff, 0xfe)
    assert.isNull(r.nullableBytes())
    assert.deepStrictEqual(r.nullableBytes(), Uint8Array.of(9))
    const e = failure(() => r.nullableBytes())
    assert.strictEqual(e.offset, 9)
    assert.include(e.message, "invalid length -2")
  })

  it("nullable bytes longer than the body fail", () => {
    assert.include(failure(() => over(0, 0, 0, 5, 1).nullableBytes()).message, "truncated bytes")
  })

  it("count16 rejects negative counts and counts over its maximum", () => {
    assert.strictEqual(over(0, 3).count16("x", 10), 3)
    assert.include(failure(() => over(0xff, 0xff).count16("column")).message, "column count -1 out of range at offset 0")
    assert.include(failure(() => over(0, 11).count16("x", 10)).message, "x count 11")
  })

  it("countU16 reads unsigned and bounds the count by the bytes that follow", () => {
    assert.strictEqual(over(0xff, 0xff, ...new Array(65535).fill(0)).countU16("x", 1), 65535)
    const e = failure(() => over(0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0).countU16("value", 4))
    assert.strictEqual(e.offset, 0)
    assert.include(e.message, "value count 3 does not fit in the 11 bytes that follow")
  })

  it("count32 rejects negative counts and counts the body cannot hold", () => {
    assert.strictEqual(over(0, 0, 0, 2, 0, 0).count32("x", 1), 2)
    assert.include(failure(() => over(0xff, 0xff, 0xff, 0xff).count32("x", 1)).message, "x count -1 out of range")
    assert.include(failure(() => over(0x7f, 0xff, 0xff, 0xff, 0).count32("x", 1)).message, "out of range at offset 0")
  })

  it("done reports trailing bytes", () => {
    const r = over(1, 2, 3)
    r.uint8()
    assert.include(failure(() => r.done()).message, "Test: 2 trailing bytes at offset 1")
  })

  it("reset points the reader at a new range and name", () => {
    const r = new Reader()
    r.reset(Uint8Array.of(9, 9, 7), 2, 3, "Other")
    assert.strictEqual(r.uint8(), 7)
    assert.strictEqual(failure(() => r.uint8()).messageName, "Other")
  })
})
