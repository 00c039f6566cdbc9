import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import * as Utf8 from "../../src/wire/Utf8.ts"

const enc = new TextEncoder()

describe("Utf8", () => {
  it("decodes short ASCII (fast path), long ASCII and non-ASCII (slow path)", () => {
    assert.strictEqual(Utf8.decode(enc.encode("xabcx"), 1, 4), "abc")
    const long = "a".repeat(65)
    assert.strictEqual(Utf8.decode(enc.encode(long), 0, 65), long)
    assert.strictEqual(Utf8.decode(enc.encode("é☃😀"), 0, 9), "é☃😀")
    assert.strictEqual(Utf8.decode(new Uint8Array(0), 0, 0), "")
  })

  it("agrees with a strict TextDecoder at every length up to 80, at any offset, ASCII or not, valid or not", () => {
    const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
    let seed = 7
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff)
    const pools = [
      () => 0x20 + (next() % 95),
      () => next() % 256,
      () => (next() % 4 === 0 ? 0xc3 : 0x61 + (next() % 26))
    ]
    for (let length = 0; length <= 80; length++) {
      for (const byte of pools) {
        for (let k = 0; k < 20; k++) {
          const offset = next() % 5
          const buf = new Uint8Array(offset + length + 3).fill(0x21)
          for (let i = 0; i < length; i++) buf[offset + i] = byte()
          let expected: string | undefined
          try {
            expected = strict.decode(buf.subarray(offset, offset + length))
          } catch {
            expected = undefined
          }
          assert.strictEqual(Utf8.decode(buf, offset, offset + length), expected, `${length} ${buf.join(",")}`)
        }
      }
    }
  })

  it("keeps a byte order mark (it is data, not a signature)", () => {
    assert.strictEqual(Utf8.decode(Uint8Array.of(0xef, 0xbb, 0xbf, 0x61), 0, 4), "\ufeffa")
  })

  it("rejects invalid UTF-8 instead of replacing it", () => {
    const invalid = [
      [0x80], // lone continuation byte
      [0xc3], // truncated two-byte sequence
      [0xc0, 0xaf], // overlong "/"
      [0xed, 0xa0, 0x80], // an encoded UTF-16 surrogate
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0xff],
      [0x61, 0x62, 0xe2, 0x82] // valid ASCII then a truncated sequence
    ]
    for (const b of invalid) assert.isUndefined(Utf8.decode(Uint8Array.from(b), 0, b.length), JSON.stringify(b))
  })

  it("encodes like TextEncoder and measures the same length", () => {
    for (const s of ["", "abc", "é", "☃", "😀", "a😀b", "\ud800", "x\udc00y", "\ud83d"]) {
      const expected = enc.encode(s)
      assert.strictEqual(Utf8.byteLength(s), expected.length, JSON.stringify(s))
      const out = new Uint8Array(s.length * 3 + 2)
      const n = Utf8.encodeInto(s, out, 1)
      assert.deepStrictEqual(out.subarray(1, 1 + n), expected, JSON.stringify(s))
      assert.deepStrictEqual(Utf8.encode(s), expected)
    }
  })

  it.prop("round trip of well-formed strings, with byteLength exact", [Schema.String], ([s]) => {
    const out = new Uint8Array(s.length * 3)
    const n = Utf8.encodeInto(s, out, 0)
    assert.strictEqual(n, Utf8.byteLength(s))
    if (s.isWellFormed()) assert.strictEqual(Utf8.decode(out, 0, n), s)
  })
})
