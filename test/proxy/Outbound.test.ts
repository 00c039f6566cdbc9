/**
 * What goes to a client: relayed frames copied as runs out of a read buffer
 * that the next read overwrites, interleaved with the proxy's own frames.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duplex } from "node:stream"
import { Outbound } from "../../src/proxy/Outbound.ts"
import { Framer } from "../../src/wire/Framer.ts"

/** A client socket that keeps a copy of every write. */
const recorder = () => {
  const writes: Array<Uint8Array> = []
  const socket = new Duplex({
    read() {},
    write(chunk: Uint8Array, _encoding, callback) {
      writes.push(Uint8Array.from(chunk))
      callback()
    }
  })
  return { socket, writes }
}

const frame = (type: string, body: ReadonlyArray<number>): Array<number> => {
  const length = body.length + 4
  return [type.charCodeAt(0), length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff, ...body]
}

const concat = (parts: ReadonlyArray<Uint8Array>): Array<number> => parts.flatMap((p) => [...p])

describe("proxy outbound", () => {
  it("relays frames of one read as one run, dropped frames left out, own frames in order, after the read buffer is reused", () => {
    const { socket, writes } = recorder()
    let sent = 0
    const out = new Outbound(socket, () => undefined, (n) => {
      sent += n
    })
    const t = frame("T", [0, 1, 0x61, 0])
    const d = frame("D", [0, 1, 0, 0, 0, 1, 0x31])
    const n = frame("N", [0x53, 0x57, 0])
    const c = frame("C", [0x53, 0x45, 0x4c, 0])
    const z = frame("Z", [0x49])
    // One read buffer, reused: the framer hands out views of it.
    const readBuffer = new Uint8Array(64)
    const bytes = [...t, ...d, ...n, ...c, ...z]
    readBuffer.set(bytes)
    const own = new Uint8Array(frame("1", []))
    const framer = new Framer()
    framer.push(readBuffer.subarray(0, bytes.length), (type, buf, start, end) => {
      if (type === 0x4e) return // a NoticeResponse dropped (a hidden query's)
      if (type === 0x43) out.emit(own) // the proxy's own frame between two relayed ones
      out.relay(type, buf, start, end)
    })
    // The end of the read (the holder's `chunkEnd`, or letting go of the upstream): the run is copied.
    out.seal()
    readBuffer.fill(0xee)
    out.flush()
    assert.deepStrictEqual(concat(writes), [...t, ...d, ...own, ...c, ...z])
    assert.strictEqual(sent, t.length + d.length + own.length + c.length + z.length)
  })

  it("relays a frame assembled from several reads and one whose header came in the read before, with their headers", () => {
    const { socket, writes } = recorder()
    const out = new Outbound(socket, () => undefined, () => {})
    const d = frame("D", [0, 1, 0, 0, 0, 3, 0x61, 0x62, 0x63])
    const c = frame("C", [0x53, 0x45, 0x4c, 0])
    const z = frame("Z", [0x49])
    const all = [...d, ...c, ...z]
    const framer = new Framer()
    const readBuffer = new Uint8Array(64)
    // Reads cut inside D's body, then inside C's header: each read overwrites the buffer, and is sealed after it.
    for (const [from, to] of [[0, 8], [8, d.length + 2], [d.length + 2, all.length]] as const) {
      readBuffer.fill(0xee)
      readBuffer.set(all.slice(from, to))
      framer.push(readBuffer.subarray(0, to - from), (type, buf, start, end) => out.relay(type, buf, start, end))
      out.seal()
    }
    readBuffer.fill(0xee)
    out.flush()
    assert.deepStrictEqual(concat(writes), all)
  })

  it("takes a body whose bytes before it are not its header as a frame to write whole", () => {
    const { socket, writes } = recorder()
    const out = new Outbound(socket, () => undefined, () => {})
    // A body at offset 5 behind bytes that look like another header: the frame is written with its own header.
    const buf = new Uint8Array([0x44, 0, 0, 0, 9, 0x49])
    out.relay(0x5a, buf, 5, 6)
    out.flush()
    assert.deepStrictEqual(concat(writes), frame("Z", [0x49]))
  })
})
