import { assert, describe, it } from "@effect/vitest"
import { ProtocolError } from "../../src/errors/PgError.ts"
import { Writer } from "../../src/wire/Writer.ts"

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")

describe("Writer", () => {
  it("back-patches the length of a typed message (it counts itself, not the type byte)", () => {
    const w = new Writer()
    w.begin(0x51, "Query").cstring("x").end()
    assert.strictEqual(hex(w.flush()), "51" + "00000006" + "7800")
  })

  it("back-patches the length of an untyped message (it counts itself)", () => {
    const w = new Writer()
    w.beginUntyped("SSLRequest").int32(80877103).end()
    assert.strictEqual(hex(w.flush()), "00000008" + "04d2162f")
  })

  it("writes integers in network byte order", () => {
    const w = new Writer()
    w.uint8(0xff).int16(-2).uint16(0xfffe).int32(-2).uint32(0xfffffffe).int64(-2n).uint64(2n ** 64n - 1n).float64(1)
    assert.strictEqual(
      hex(w.flush()),
      "ff" + "fffe" + "fffe" + "fffffffe" + "fffffffe" + "fffffffffffffffe" + "ffffffffffffffff" + "3ff0000000000000"
    )
  })

  it("writes nullable bytes and strings", () => {
    const w = new Writer()
    w.nullableBytes(null).nullableBytes(Uint8Array.of(7)).string("é").cstring("😀")
    assert.strictEqual(hex(w.flush()), "ffffffff" + "00000001" + "07" + "c3a9" + "f09f988000")
  })

  it("refuses a NUL inside a C string, naming the message", () => {
    const w = new Writer()
    w.begin(0x51, "Query")
    assert.throws(() => w.cstring("a\0b"), ProtocolError, "Query: string contains a NUL byte")
  })

  it("abort discards a half-written message", () => {
    const w = new Writer()
    w.begin(0x53, "Sync").end()
    w.begin(0x51, "Query").cstring("partial")
    w.abort()
    w.begin(0x48, "Flush").end()
    assert.strictEqual(hex(w.flush()), "5300000004" + "4800000004")
  })

  it("refuses to flush inside an unfinished message, and end without begin", () => {
    const w = new Writer()
    w.begin(0x51, "Query")
    assert.throws(() => w.flush(), ProtocolError)
    assert.throws(() => new Writer().end(), ProtocolError)
  })

  it("keeps flushed views intact when it grows", () => {
    const w = new Writer(16)
    w.begin(0x44, "DataRow").int16(1).nullableBytes(Uint8Array.of(1, 2, 3)).end()
    const first = w.flush()
    const copy = first.slice()
    w.bytes(new Uint8Array(1000).fill(0xaa))
    const second = w.flush()
    assert.deepStrictEqual(first, copy)
    assert.strictEqual(second.length, 1000)
    assert.isTrue(second.every((b) => b === 0xaa))
  })

  it("never rewrites flushed bytes when writing after a flush in the same buffer", () => {
    const w = new Writer(64)
    w.uint32(0x01020304)
    const first = w.flush()
    w.uint32(0xffffffff)
    assert.strictEqual(hex(first), "01020304")
    assert.strictEqual(hex(w.flush()), "ffffffff")
  })

  it("keeps marks and the message start valid across growth", () => {
    const w = new Writer(8)
    w.uint8(0xee)
    w.flush()
    w.begin(0x54, "RowDescription")
    const count = w.reserve16()
    const mark = w.mark()
    w.bytes(new Uint8Array(100))
    const len = w.reserve32()
    w.bytes(new Uint8Array(3).fill(9))
    w.patch32(len, w.since(len) - 4)
    w.patch16(count, 1)
    assert.strictEqual(w.since(mark), 107)
    w.end()
    const out = w.flush()
    assert.strictEqual(out.length, 1 + 4 + 2 + 100 + 4 + 3)
    assert.strictEqual(hex(out.subarray(0, 7)), "54" + "00000071" + "0001")
    assert.strictEqual(hex(out.subarray(107, 114)), "00000003" + "090909")
  })

  it("does not hang when it starts with a zero-sized buffer", () => {
    const w = new Writer(0)
    w.uint32(1)
    assert.strictEqual(hex(w.flush()), "00000001")
  })

  it("drops a grown buffer after flush but keeps the flushed view intact", () => {
    const w = new Writer(16)
    w.bytes(new Uint8Array(2 * 1024 * 1024).fill(1))
    const big = w.flush()
    w.uint8(2)
    assert.strictEqual(big.length, 2 * 1024 * 1024)
    assert.isTrue(big.every((b) => b === 1))
    assert.strictEqual(hex(w.flush()), "02")
  })

  it("a full buffer is replaced by one of the same size when the unflushed bytes fit: one large frame per flush does not grow it", () => {
    const w = new Writer()
    const payload = new Uint8Array(64 * 1024).fill(7)
    const capacities = new Set<number>()
    for (let i = 0; i < 40; i++) {
      w.begin(0x64).bytes(payload).end()
      const out = w.flush()
      assert.strictEqual(out.length, payload.length + 5)
      assert.strictEqual(out[5 + 1000], 7)
      capacities.add(out.buffer.byteLength)
    }
    // Doubling at every replacement went 128 KiB, 256 KiB, ... up to 2 MiB and back.
    assert.deepStrictEqual([...capacities], [128 * 1024])
  })

  it("flushCopy returns a copy the writer can never touch", () => {
    const w = new Writer()
    w.uint8(5)
    const c = w.flushCopy()
    assert.notStrictEqual(c.buffer.byteLength, 16 * 1024)
    assert.strictEqual(hex(c), "05")
  })

  it("pending counts bytes since the last flush", () => {
    const w = new Writer()
    w.uint16(1)
    assert.strictEqual(w.pending(), 2)
    w.flush()
    assert.strictEqual(w.pending(), 0)
  })
})
