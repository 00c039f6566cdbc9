import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { ReplicationError } from "../../src/replication/Errors.ts"
import { HOLD_CHUNK_BYTES, HeldTransactions, type Replay } from "../../src/replication/Held.ts"

/** An in-stream message: its type byte, the xid it carries, then `size` bytes of `fill`. */
const message = (type: string, xid: number, size: number, fill = 0): Uint8Array => {
  const data = new Uint8Array(5 + size).fill(fill)
  data[0] = type.charCodeAt(0)
  new DataView(data.buffer).setUint32(1, xid)
  return data
}

const all = (replay: Replay): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  // A payload is valid until the next call: copied, as the decoder decodes it first.
  for (let d = replay.next(); d !== undefined; d = replay.next()) out.push(d.slice())
  return out
}

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "held-test-"))
const spillDirs = (dir: string) => Fs.readdirSync(dir)
const spillFiles = (dir: string) => spillDirs(dir).flatMap((d) => Fs.readdirSync(Path.join(dir, d)))

describe("HeldTransactions", () => {
  it("holds in memory below the bound; spills the transaction that passes it, and replays it in order", () => {
    const dir = tempDir()
    try {
      const held = new HeldTransactions({ memoryBytes: 10_000, directory: dir, maxBytes: undefined })
      const small = [message("I", 7, 100, 1), message("I", 7, 100, 2)]
      for (const m of small) held.add(7, m)
      assert.deepStrictEqual(spillDirs(dir), [], "nothing spilled below the bound")
      // Transaction 8 passes the bound: every message of it so far and later goes to its file, 7 stays in memory.
      const big = Array.from({ length: 50 }, (_, i) => message("I", 8, 1000, i))
      // One record larger than the write buffer (1 MiB) goes straight to the file.
      big.push(message("U", 8, 3 * 1024 * 1024, 0xab))
      big.push(message("I", 8, 10, 0xcd))
      for (const m of big) held.add(8, m)
      assert.strictEqual(held.spilled, 1)
      assert.deepStrictEqual(spillFiles(dir).length, 1)
      assert.isTrue(held.peakMemoryBytes <= 10_000 + 1005, `memory stayed bounded (${held.peakMemoryBytes})`)
      const replayed = all(held.replay(8))
      assert.strictEqual(replayed.length, big.length)
      replayed.forEach((d, i) => assert.deepStrictEqual(d, big[i]!, `message ${i}`))
      assert.deepStrictEqual(spillFiles(dir), [], "the file is removed once replayed")
      assert.deepStrictEqual(all(held.replay(7)), small)
      held.close()
      assert.deepStrictEqual(spillDirs(dir), [], "the stream's directory is removed at the end")
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("in memory, small payloads share chunks and a large one keeps its own buffer; replay gives them back in order", () => {
    const held = new HeldTransactions({ memoryBytes: 64 * 1024 * 1024, directory: false, maxBytes: undefined })
    // Enough small records to fill several chunks, a large payload between them (given as a view of a larger
    // buffer: held as a copy of its bytes only), and a payload of exactly the record-chunk size.
    const sent: Array<Uint8Array> = []
    for (let i = 0; i < 2000; i++) sent.push(message("I", 30, 300 + (i % 50), i & 0xff))
    const backing = message("U", 30, 200_000, 0x5a)
    sent.push(backing.subarray(0, 150_005))
    for (let i = 0; i < 500; i++) sent.push(message("I", 30, 10, i & 0xff))
    sent.push(message("I", 30, HOLD_CHUNK_BYTES - 5, 0x77))
    for (const m of sent) held.add(30, m)
    assert.strictEqual(held.spilled, 0)
    const bytes = sent.reduce((n, m) => n + m.length, 0)
    assert.strictEqual(held.peakMemoryBytes, bytes, "the bound counts payload bytes")
    const replayed = all(held.replay(30))
    assert.strictEqual(replayed.length, sent.length)
    replayed.forEach((d, i) => assert.deepStrictEqual(d, sent[i]!.slice(), `message ${i}`))
    held.close()
  })

  it("a message that alone would pass the bound goes to the file with what was held, never held in memory", () => {
    const dir = tempDir()
    try {
      const held = new HeldTransactions({ memoryBytes: 10_000, directory: dir, maxBytes: undefined })
      const small = message("I", 40, 100, 1)
      // A view into a larger buffer, as a frame's payload is: written from where it is.
      const large = message("I", 40, 300_000, 2).subarray(0, 250_005)
      held.add(40, small)
      held.add(40, large)
      assert.strictEqual(held.spilled, 1)
      assert.strictEqual(held.peakMemoryBytes, small.length, "the large message was never counted in memory")
      assert.deepStrictEqual(spillFiles(dir).length, 1)
      const replayed = all(held.replay(40))
      assert.deepStrictEqual(replayed, [small, large.slice()])
      assert.deepStrictEqual(spillFiles(dir), [])
      held.close()
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("an aborted subtransaction's changes are skipped, its Relation and Type messages kept, in memory and on file", () => {
    const dir = tempDir()
    try {
      for (const memoryBytes of [1_000_000, 100]) {
        const held = new HeldTransactions({ memoryBytes, directory: dir, maxBytes: undefined })
        const top = message("I", 10, 200, 1)
        const relation = message("R", 11, 20, 2)
        const sub = message("I", 11, 200, 3)
        const type = message("Y", 11, 20, 4)
        const after = message("D", 10, 200, 5)
        for (const m of [top, relation, sub, type, after]) held.add(10, m)
        held.abortSub(10, 11)
        assert.deepStrictEqual(all(held.replay(10)), [top, relation, type, after], `memoryBytes ${memoryBytes}`)
        held.close()
      }
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a whole abort drops the transaction and its file; close removes everything held", () => {
    const dir = tempDir()
    try {
      const held = new HeldTransactions({ memoryBytes: 100, directory: dir, maxBytes: undefined })
      for (let i = 0; i < 5; i++) held.add(20, message("I", 20, 100, i))
      for (let i = 0; i < 5; i++) held.add(21, message("I", 21, 100, i))
      assert.strictEqual(spillFiles(dir).length, 2)
      held.drop(20)
      assert.strictEqual(spillFiles(dir).length, 1)
      assert.deepStrictEqual(all(held.replay(20)), [], "nothing of an aborted transaction")
      // A replay stopped in its middle (the stream ended) leaves nothing behind either.
      const replay = held.replay(21)
      assert.isDefined(replay.next())
      held.close()
      assert.deepStrictEqual(spillDirs(dir), [])
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("limits are typed failures: past maxBytes, past memory without spilling, and a directory that cannot be used", () => {
    const reasonOf = (f: () => void): string => {
      try {
        f()
      } catch (e) {
        assert.instanceOf(e, ReplicationError)
        return (e as ReplicationError).reason._tag
      }
      assert.fail("expected a failure")
    }
    const capped = new HeldTransactions({ memoryBytes: 1_000_000, directory: false, maxBytes: 250 })
    capped.add(1, message("I", 1, 100))
    assert.strictEqual(reasonOf(() => capped.add(1, message("I", 1, 200))), "TransactionTooLarge")
    const noSpill = new HeldTransactions({ memoryBytes: 250, directory: false, maxBytes: undefined })
    noSpill.add(1, message("I", 1, 100))
    assert.strictEqual(reasonOf(() => noSpill.add(1, message("I", 1, 200))), "TransactionTooLarge")
    const missing = new HeldTransactions({
      memoryBytes: 50,
      directory: Path.join(Os.tmpdir(), "no-such-directory-for-spill", "x"),
      maxBytes: undefined
    })
    assert.strictEqual(reasonOf(() => missing.add(1, message("I", 1, 100))), "SpillFailed")
  })
})
