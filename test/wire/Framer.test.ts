import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { ProtocolError } from "../../src/errors/PgError.ts"
import * as Backend from "../../src/protocol/Backend.ts"
import * as Startup from "../../src/protocol/Startup.ts"
import { Framer } from "../../src/wire/Framer.ts"
import { Reader } from "../../src/wire/Reader.ts"
import { bytes, fixture, fromHex, i32, toHex } from "../protocol/Golden.ts"

interface Frame {
  readonly type: number
  readonly body: string
}

/** Feeds `chunks` and collects every frame (bodies copied to hex at delivery). */
const run = (framer: Framer, chunks: ReadonlyArray<Uint8Array>): Array<Frame> => {
  const out: Array<Frame> = []
  for (const c of chunks) {
    framer.push(c, (type, buf, start, end) => out.push({ type, body: toHex(buf.subarray(start, end)) }))
  }
  return out
}

/** Cuts `all` at the given positions. */
const cut = (all: Uint8Array, positions: ReadonlyArray<number>): Array<Uint8Array> => {
  const sorted = [...new Set(positions.map((p) => p % (all.length + 1)))].sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let from = 0
  for (const p of sorted) {
    chunks.push(all.subarray(from, p))
    from = p
  }
  chunks.push(all.subarray(from))
  return chunks
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

const failure = (f: () => unknown): ProtocolError => {
  try {
    f()
  } catch (e) {
    assert.instanceOf(e, ProtocolError)
    return e as ProtocolError
  }
  return assert.fail("expected a ProtocolError")
}

interface Vector {
  readonly direction: string
  readonly message: string
  readonly hex: string
  readonly expect_error?: boolean
  readonly note?: string
}

const backendVectors = fixture<{ readonly vectors: ReadonlyArray<Vector> }>("protocol_message_vectors.json").vectors
  .filter((v) => v.direction === "backend" && v.expect_error !== true && v.note?.includes("body only") !== true)

describe("Framer cuts a byte stream into the same frames however it is chunked", () => {
  it.prop(
    "random messages, random split points",
    [
      Schema.Array(Backend.MessageSchema).check(Schema.isMaxLength(6)),
      Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 100000 }))).check(Schema.isMaxLength(12))
    ],
    ([messages, positions]) => {
      const frames = messages.map((m) => Result.getOrThrow(Backend.encode(m as Backend.BackendMessage)))
      const all = concat(frames)
      const got = run(new Framer(), cut(all, positions))
      assert.deepStrictEqual(got, frames.map((f) => ({ type: f[0]!, body: toHex(f.subarray(5)) })))
      const reader = new Reader()
      const framer = new Framer()
      const decoded: Array<Backend.BackendMessage> = []
      for (const c of cut(all, positions)) {
        framer.push(c, (type, buf, start, end) => decoded.push(Backend.readUnsafe(type, buf, start, end, reader)))
      }
      assert.deepStrictEqual(decoded, messages)
      assert.isFalse(framer.hasPartial())
    }
  )

  it("every split point of every conformance backend vector, and one byte per chunk", () => {
    // vectors that end with stray bytes of an incomplete next frame cannot be followed by another frame
    const whole = backendVectors.filter((v) => !v.message.includes("stray bytes"))
    const all = concat(whole.map((v) => fromHex(v.hex)))
    const expected = run(new Framer(), [all])
    assert.isAtLeast(expected.length, whole.length)
    for (const v of backendVectors) {
      const frame = fromHex(v.hex)
      const whole = run(new Framer(), [frame])
      for (let i = 0; i <= frame.length; i++) {
        assert.deepStrictEqual(run(new Framer(), [frame.subarray(0, i), frame.subarray(i)]), whole, `${v.message} @${i}`)
      }
    }
    const oneByOne = Array.from(all, (b) => Uint8Array.of(b))
    assert.deepStrictEqual(run(new Framer(), oneByOne), expected)
  })

  it("frames inside one chunk are views; a split frame is a new buffer the framer never writes again", () => {
    const a = bytes([0x44], i32(10), [0, 1], i32(0))
    const b = bytes([0x5a], i32(5), [0x49])
    const chunk = concat([a, b])
    const framer = new Framer()
    const bodies: Array<Uint8Array> = []
    framer.push(chunk, (_t, buf, start, end) => bodies.push(buf.subarray(start, end)))
    assert.strictEqual(bodies[0]!.buffer, chunk.buffer)
    framer.push(b.subarray(0, 3), () => {})
    framer.push(b.subarray(3), (_t, buf, start, end) => bodies.push(buf.subarray(start, end)))
    const split = bodies[2]!
    assert.notStrictEqual(split.buffer, chunk.buffer)
    framer.push(bytes([0x5a], i32(5)), () => {})
    framer.push(Uint8Array.of(0x54), () => {})
    assert.strictEqual(toHex(split), "49")
  })
})

describe("Framer limits", () => {
  it("a header claiming 2 GB fails at once, before any body byte arrives", () => {
    const framer = new Framer()
    const e = failure(() => framer.push(bytes([0x44], i32(0x7fffffff)), () => assert.fail("no frame")))
    assert.include(e.message, "exceeds the limit")
    assert.strictEqual(e.offset, 0)
    assert.isFalse(framer.hasPartial())
  })

  it("the limit is checked when a split header completes", () => {
    const framer = new Framer({ maxMessageSize: 100 })
    framer.push(Uint8Array.of(0x44, 0, 0), () => {})
    const e = failure(() => framer.push(Uint8Array.of(0, 101), () => {}))
    assert.include(e.message, "length 101 exceeds the limit of 100")
  })

  it("a frame at exactly the limit passes", () => {
    const framer = new Framer({ maxMessageSize: 8 })
    assert.strictEqual(run(framer, [bytes([0x64], i32(8), [1, 2, 3, 4])]).length, 1)
  })

  it("negative and too-small lengths are refused", () => {
    assert.include(failure(() => new Framer().pushAll(bytes([0x44], i32(-1)))).message, "invalid message length -1")
    assert.include(failure(() => new Framer().pushAll(bytes([0x44], i32(3)))).message, "invalid message length 3")
  })

  it("error offsets count from the start of the stream", () => {
    const framer = new Framer()
    framer.pushAll(bytes([0x31], i32(4), [0x32], i32(4)))
    assert.strictEqual(failure(() => framer.pushAll(bytes([0x33], i32(2)))).offset, 10)
  })
})

describe("Framer poisoning, stop and end of stream", () => {
  it("after an error every later push fails the same way", () => {
    const framer = new Framer()
    const first = failure(() => framer.pushAll(bytes([0x44], i32(1))))
    const second = failure(() => framer.pushAll(bytes([0x5a], i32(5), [0x49])))
    assert.strictEqual(second, first)
    assert.strictEqual(failure(() => framer.finish()), first)
  })

  it("stop() returns the offset of the first byte not consumed", () => {
    const framer = new Framer()
    const chunk = concat([bytes([0x5a], i32(5), [0x49]), Uint8Array.of(0x16, 0x03, 0x01)])
    const consumed = framer.push(chunk, () => framer.stop())
    assert.strictEqual(consumed, 6)
    assert.strictEqual(toHex(chunk.subarray(consumed)), "160301")
  })

  it("stop() on a frame completed across chunks", () => {
    const framer = new Framer()
    framer.push(bytes([0x5a], i32(5)), () => {})
    assert.strictEqual(framer.push(Uint8Array.of(0x49, 0xaa), () => framer.stop()), 1)
  })

  it("finish() fails inside a frame or a header and passes between frames", () => {
    const a = new Framer()
    a.pushAll(bytes([0x5a], i32(5), [0x49]))
    a.finish()
    const b = new Framer()
    b.pushAll(Uint8Array.of(0x5a, 0))
    assert.include(failure(() => b.finish()).message, "stream ended inside a message header")
    const c = new Framer()
    c.pushAll(bytes([0x44], i32(10), [0]))
    assert.include(failure(() => c.finish()).message, "1 of 6 body bytes")
  })
})

describe("Framer startup frames (server side)", () => {
  it("reads an untyped startup frame, then typed frames", () => {
    const startup = Result.getOrThrow(Startup.encode({
      _tag: "StartupMessage",
      protocolVersion: 196610,
      parameters: [{ name: "user", value: "u" }]
    }))
    const query = bytes([0x51], i32(5), [0])
    const all = concat([startup, query])
    const expected = [{ type: -1, body: toHex(startup.subarray(4)) }, { type: 0x51, body: "00" }]
    for (let i = 0; i <= all.length; i++) {
      assert.deepStrictEqual(run(new Framer({ startup: true }), [all.subarray(0, i), all.subarray(i)]), expected)
    }
  })

  it("expectUntyped after SSLRequest: the next frame has no type byte again", () => {
    const framer = new Framer({ startup: true })
    const frames = run(framer, [Startup.SSL_REQUEST])
    assert.deepStrictEqual(frames, [{ type: -1, body: "04d2162f" }])
    framer.expectUntyped()
    assert.deepStrictEqual(run(framer, [Startup.GSSENC_REQUEST]), [{ type: -1, body: "04d21630" }])
  })

  it("startup frames follow the server's bounds: length 8 to 10004", () => {
    assert.include(failure(() => new Framer({ startup: true }).pushAll(i32AsBytes(7))).message, "invalid message length 7")
    assert.include(failure(() => new Framer({ startup: true }).pushAll(i32AsBytes(10005))).message, "exceeds the limit of 10004")
    const framer = new Framer({ startup: true })
    framer.pushAll(i32AsBytes(10004))
    assert.isTrue(framer.hasPartial())
  })
})

function i32AsBytes(n: number): Uint8Array {
  return Uint8Array.from(i32(n))
}
