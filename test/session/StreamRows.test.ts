/**
 * A stream keeps the rows its consumer has not taken as DataRow bytes and decodes them a batch at a time
 * (`StreamRows`): the queue itself, the framing check that still breaks the session when a malformed row arrives,
 * and, against PostgreSQL 18 and a scripted server, that waiting rows are not decoded, batches stay within
 * `STREAM_BATCH_BYTES`, and a value that fails to decode when taken fails the stream, not the session.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { PgError } from "../../src/errors/PgError.ts"
import * as Backend from "../../src/protocol/Backend.ts"
import { RowShape } from "../../src/session/Result.ts"
import { RowReceiver } from "../../src/session/Rows.ts"
import * as PgSession from "../../src/session/Session.ts"
import { PendingRows, STREAM_BATCH_BYTES } from "../../src/session/StreamRows.ts"
import { defaultRegistry } from "../../src/types/Registry.ts"
import * as FakeServer from "../support/FakeServer.ts"
import { connectTraced, reasonOf } from "../support/Sessions.ts"

/** "It must not hang": the longest a scripted exchange below may take (a generous bound, not a measure). */
const FAULT_MILLIS = 5_000
/** Per-test limit, below vitest's 30 s. */
const TEST_MILLIS = 20_000

/** A reader that returns the first byte of each row (the tests' rows are numbered by it). */
const firstByte = { read: (buf: Uint8Array, start: number) => buf[start]! }

describe("PendingRows", () => {
  it("hands rows out in order across compaction and growth; a batch ends once it reaches its byte bound", () => {
    const pending = new PendingRows()
    const expected: Array<number> = []
    const out: Array<number> = []
    let sequence = 0
    // Rows of 1..40 bytes, each arrival in a buffer of its own (as socket reads), taken in batches of at most 100
    // bytes while more arrive: the queue compacts, then grows to tens of thousands of rows.
    for (let round = 0; round < 200; round++) {
      const arriving = round % 7 === 0 ? 3000 : 15
      const buf = new Uint8Array(arriving * 40)
      for (let k = 0; k < arriving; k++) {
        const start = k * 40
        const size = 1 + (sequence % 40)
        buf[start] = sequence % 256
        pending.push(buf, start, start + size)
        expected.push(sequence % 256)
        sequence++
      }
      const before = pending.bytes
      const batch: Array<unknown> = []
      pending.take(batch, firstByte, 100)
      assert.isAbove(batch.length, 0)
      // The batch stopped at the first row that brought it to 100 bytes: without its last row it was below.
      const sizes = batch.map((_, j) => 1 + ((out.length + j) % 40))
      assert.isBelow(sizes.slice(0, -1).reduce((a, b) => a + b, 0), 100)
      assert.strictEqual(before - pending.bytes, sizes.reduce((a, b) => a + b, 0))
      for (const value of batch) out.push(value as number)
    }
    while (pending.count > 0) {
      const batch: Array<unknown> = []
      pending.take(batch, firstByte, 100)
      for (const value of batch) out.push(value as number)
    }
    assert.strictEqual(pending.bytes, 0)
    assert.deepStrictEqual(out, expected)
  })

  it("a row larger than the bound is a batch of its own", () => {
    const pending = new PendingRows()
    const buf = new Uint8Array(1000)
    buf[0] = 1
    buf[500] = 2
    pending.push(buf, 0, 500)
    pending.push(buf, 500, 1000)
    const first: Array<unknown> = []
    pending.take(first, firstByte, 100)
    assert.deepStrictEqual(first, [1])
    const second: Array<unknown> = []
    pending.take(second, firstByte, 100)
    assert.deepStrictEqual(second, [2])
    assert.strictEqual(pending.count, 0)
  })

  it("a row that fails to decode is dropped and its error thrown, after the rows before it", () => {
    const pending = new PendingRows()
    const buf = Uint8Array.of(1, 2, 3, 4)
    for (let i = 0; i < 4; i++) pending.push(buf, i, i + 1)
    const failing = {
      read: (b: Uint8Array, start: number) => {
        if (b[start] === 3) throw new Error("row 3")
        return b[start]
      }
    }
    const batch: Array<unknown> = []
    assert.throws(() => pending.take(batch, failing, 1000), "row 3")
    assert.deepStrictEqual(batch, [1, 2])
    assert.strictEqual(pending.count, 1)
    pending.clear()
    assert.strictEqual(pending.count, 0)
    assert.strictEqual(pending.bytes, 0)
  })
})

describe("RowReceiver.check", () => {
  const receiver = new RowReceiver("object")
  receiver.describe(FakeServer.rowDescription(["a", "b"]), defaultRegistry)
  const shape = new RowShape(receiver.fields, defaultRegistry)
  /** A DataRow body: column count, then each value's length and bytes. */
  const body = (count: number, ...values: ReadonlyArray<ReadonlyArray<number>>) => {
    const bytes: Array<number> = [count >> 8, count & 0xff]
    for (const v of values) bytes.push(...v)
    return Uint8Array.from(bytes)
  }
  const ok = body(2, [0, 0, 0, 1, 0x61], [0xff, 0xff, 0xff, 0xff])
  const cases: ReadonlyArray<readonly [string, Uint8Array]> = [
    ["a column count other than the description's", body(3, [0, 0, 0, 1, 0x61], [0, 0, 0, 0], [0, 0, 0, 0])],
    ["a length past the end of the body", body(2, [0, 0, 0, 1, 0x61], [0, 0, 0, 9, 0x62])],
    ["a negative length other than -1", body(2, [0, 0, 0, 1, 0x61], [0xff, 0xff, 0xff, 0xfe])],
    ["a body cut inside a length", body(2, [0, 0, 0, 1, 0x61], [0, 0])],
    ["bytes after the last value", body(2, [0, 0, 0, 1, 0x61], [0, 0, 0, 0], [0x63])],
    ["fewer than two bytes", Uint8Array.of(0)]
  ]

  it("passes a well-formed row (a NULL included), which decodes", () => {
    receiver.check(ok, 0, ok.length)
    assert.deepStrictEqual({ ...receiver.read(ok, 0, ok.length) as object }, { a: "a", b: null })
  })

  for (const [what, row] of cases) {
    it(`${what}: the ProtocolError decoding would throw`, () => {
      const thrown = (f: () => void): PgError => {
        try {
          f()
        } catch (e) {
          assert.instanceOf(e, PgError)
          return e as PgError
        }
        return assert.fail("nothing thrown")
      }
      const checked = thrown(() => receiver.check(row, 0, row.length))
      const decoded = thrown(() => shape.readObject(row, 0, row.length))
      assert.strictEqual(checked.reason._tag, "ProtocolError")
      assert.strictEqual(checked.message, decoded.message)
    })
  }
})

describe("streams keep the rows not taken as bytes (PostgreSQL 18)", () => {
  it.live("rows a slow consumer has not taken are received but not decoded; every batch stays within STREAM_BATCH_BYTES", () =>
    Effect.gen(function*() {
      // Text columns of fixed width: every DataRow body is 2 + (4 + 10) + (4 + 90) = 110 bytes in either format.
      const rowBytes = 110
      const total = 60_000
      const { lines, session } = yield* connectTraced()
      yield* session.query("select 1")
      let first = true
      let largest = 0
      let count = 0
      let last = 0
      let receivedDuringPause = 0
      let decodedDuringPause = -1
      const received = () => lines.filter((l) => l.includes("\tDataRow")).length
      const consume = Stream.runForEachArray(
        session.stream<{ n: string; pad: string }>(
          `select lpad(g::text, 10, '0') as n, repeat('x', 90) as pad from generate_series(1, ${total}) g`
        ),
        (rows) =>
          Effect.gen(function*() {
            largest = Math.max(largest, rows.length)
            for (const row of rows) {
              const n = Number(row.n)
              if (n !== last + 1) assert.fail(`row ${n} after ${last}`)
              last = n
            }
            count += rows.length
            if (!first) return
            first = false
            const decodedBefore = decoded
            const receivedBefore = received()
            // Unpaused, the server sends thousands of rows meanwhile (up to the pause thresholds).
            yield* Effect.sleep(500)
            decodedDuringPause = decoded - decodedBefore
            receivedDuringPause = received() - receivedBefore
          })
      )
      // Counts the rows decoded (every row of a stream goes through RowShape.readObject).
      const original = RowShape.prototype.readObject
      let decoded = 0
      yield* Effect.acquireUseRelease(
        Effect.sync(() => {
          RowShape.prototype.readObject = function(this: RowShape, buf: Uint8Array, start: number, end: number) {
            decoded++
            return original.call(this, buf, start, end)
          }
        }),
        () => consume,
        () =>
          Effect.sync(() => {
            RowShape.prototype.readObject = original
          })
      )
      const outcome = { count, largest, receivedDuringPause, decodedDuringPause }
      assert.strictEqual(outcome.count, total)
      assert.strictEqual(decoded, total)
      assert.isAbove(outcome.receivedDuringPause, 1000, "rows arrived while the consumer slept")
      assert.strictEqual(outcome.decodedDuringPause, 0, "rows were decoded before the consumer took them")
      // A batch stops at the first row that brings it to STREAM_BATCH_BYTES.
      assert.isAtMost(outcome.largest, Math.ceil(STREAM_BATCH_BYTES / rowBytes))
      assert.isAbove(outcome.largest, 1)
      const { rows } = yield* session.query("select 'next' as n")
      assert.deepStrictEqual(rows, [{ n: "next" }])
    }), 60_000)
})

describe("streams keep the rows not taken as bytes (scripted server)", () => {
  const connect = (server: FakeServer.FakeServer) =>
    PgSession.connect({
      host: server.host,
      port: server.port,
      user: "postgres",
      // In clear: the socket lends its reads, so rows kept for later must not be views of the reused buffer.
      sslMode: "disable",
      statementCacheSize: 0,
      connectTimeout: FAULT_MILLIS
    })

  /** The describe the session sends before a stream without a statement cache, answered for `columns`. */
  const describeStep = (columns: Parameters<typeof FakeServer.rowDescription>[0]) => [
    FakeServer.readUntil("Sync"),
    FakeServer.send([
      { _tag: "ParseComplete" },
      { _tag: "ParameterDescription", parameterTypes: [] },
      FakeServer.rowDescription(columns),
      FakeServer.readyForQuery()
    ])
  ]

  it.live("a value that fails to decode when taken fails the stream with a CodecError after the rows before it; the session answers the next query", () =>
    Effect.gen(function*() {
      const columns = [{ name: "n", oid: 23 }]
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        describeStep(columns),
        FakeServer.readUntil("Sync"),
        FakeServer.send([
          { _tag: "ParseComplete" },
          { _tag: "BindComplete" },
          FakeServer.rowDescription(columns),
          FakeServer.dataRow(["1"]),
          FakeServer.dataRow(["2"]),
          FakeServer.dataRow(["not a number"]),
          FakeServer.dataRow(["4"]),
          FakeServer.commandComplete("SELECT 4"),
          FakeServer.readyForQuery()
        ]),
        FakeServer.readUntil("Sync"),
        FakeServer.send([
          { _tag: "ParseComplete" },
          { _tag: "BindComplete" },
          FakeServer.rowDescription(["x"]),
          FakeServer.dataRow(["later"]),
          FakeServer.commandComplete("SELECT 1"),
          FakeServer.readyForQuery()
        ]),
        FakeServer.waitForever
      ])
      const session = yield* connect(server)
      const taken: Array<number> = []
      const exit = yield* Effect.exit(
        Stream.runForEach(session.stream<{ n: number }>("select n"), (row) => Effect.sync(() => void taken.push(row.n)))
          .pipe(Effect.timeout(FAULT_MILLIS))
      )
      assert.deepStrictEqual(taken, [1, 2])
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "CodecError")
      assert.match(reason.message, /column "n"/)
      const next = yield* session.query<{ x: string }>("select x").pipe(Effect.timeout(FAULT_MILLIS))
      assert.deepStrictEqual(next.rows, [{ x: "later" }])
      assert.isFalse(yield* session.isClosed)
    }), TEST_MILLIS)

  it.live("a malformed DataRow breaks the session when it arrives, while the consumer has not taken the rows before it", () =>
    Effect.gen(function*() {
      // One column whose length says 100 bytes in a frame that holds 3.
      const malformed = Uint8Array.of(Backend.DataRow.type, 0, 0, 0, 13, 0, 1, 0, 0, 0, 100, 0x61, 0x62, 0x63)
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        describeStep(["x"]),
        FakeServer.readUntil("Sync"),
        FakeServer.send([
          { _tag: "ParseComplete" },
          { _tag: "BindComplete" },
          FakeServer.rowDescription(["x"]),
          FakeServer.dataRow(["a"])
        ]),
        // The second row and the malformed one come while the consumer still holds the first.
        FakeServer.delay(200),
        FakeServer.send([FakeServer.dataRow(["b"])]),
        FakeServer.sendRaw(malformed),
        FakeServer.waitForever
      ])
      const session = yield* connect(server)
      let closedWhileHolding = false
      const exit = yield* Effect.exit(
        Stream.runForEachArray(session.stream<{ x: string }>("select x"), (rows) =>
          Effect.gen(function*() {
            if (rows[0]?.x !== "a") return
            // Hold the first batch until the session has broken (or the bound passes).
            const deadline = Date.now() + FAULT_MILLIS
            while (!(yield* session.isClosed) && Date.now() < deadline) yield* Effect.sleep(10)
            closedWhileHolding = yield* session.isClosed
          })).pipe(Effect.timeout(2 * FAULT_MILLIS))
      )
      assert.isTrue(closedWhileHolding, "the session did not break while the consumer held its first batch")
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(reasonOf(exit)._tag, "ProtocolError")
    }), TEST_MILLIS)
})
