/**
 * Incremental framing: byte chunks in, complete protocol frames out.
 *
 * A protocol 3.x frame is a type byte, an int32 length that counts itself, and
 * the body (protocol-3.2 "Message Formats"). Startup-phase frames sent by a
 * client (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest) have no type
 * byte; a server-side framer asks for them with `expectUntyped()`.
 *
 * **Details**
 *
 * - `maxMessageSize` is checked as soon as a header is complete, before any
 *   byte of the body is buffered, so an untrusted length never causes an
 *   allocation proportional to it.
 * - A frame that lies inside one chunk is delivered as a range of that chunk
 *   (no copy). A frame split across chunks is assembled into a buffer of exactly
 *   its size. Delivered ranges are never written again by the framer, so they
 *   stay valid after the callback returns.
 * - After a failure the framer is poisoned: every later `push` fails the same
 *   way (the stream position is unknown, so nothing after it can be trusted).
 * - `finish()` at the end of the stream fails if a frame was cut off, so a
 *   truncated message is an error rather than a wait for bytes that never come.
 * - Startup frames must have a length word in `[8, 10004]`, the server's own
 *   bounds for a startup packet.
 *
 * Pure: no Effect runtime, no IO. Errors are thrown `ProtocolError`s; the
 * session catches them at its one boundary.
 *
 * @since 0.1.0
 */
import { ProtocolError } from "../errors/PgError.ts"
import { view } from "./Reader.ts"

/**
 * Receives one frame: `type` is the type byte (or -1 for an untyped startup
 * frame) and the body is `buf[start, end)`.
 *
 * @since 0.1.0
 */
export type FrameHandler = (type: number, buf: Uint8Array, start: number, end: number) => void

/** PostgreSQL's own limit on a message (MaxAllocSize - 1 in the server's pqcomm.c). */
export const DEFAULT_MAX_MESSAGE_SIZE = 0x3fffffff

/**
 * The largest startup packet body (the bytes after the length word), as the
 * server's MAX_STARTUP_PACKET_LENGTH: the server rejects a length word outside
 * `[8, 10004]` ("invalid length of startup packet", postmaster's
 * ProcessStartupPacket checks `len - 4` against `[4, 10000]`).
 */
export const MAX_STARTUP_PACKET_LENGTH = 10000

/**
 * @since 0.1.0
 */
export interface FramerOptions {
  /** Largest accepted frame (length word included). Default: 1 GiB - 1. */
  readonly maxMessageSize?: number | undefined
  /** Server side: the first frame has no type byte. */
  readonly startup?: boolean | undefined
}

/**
 * @since 0.1.0
 */
export class Framer {
  readonly maxMessageSize: number
  /** When true, the next frame has no type byte. */
  private untyped: boolean
  /** Header bytes of a frame whose header is split across chunks. */
  private readonly head = new Uint8Array(5)
  private headLength = 0
  /** A frame being assembled across chunks: its type, buffer (body only) and fill level. */
  private partialType = 0
  private partial: Uint8Array | undefined = undefined
  private partialFilled = 0
  /** Total bytes consumed, for error offsets. */
  private consumed = 0
  private poisoned: ProtocolError | undefined = undefined
  /** Set by `stop()` from inside a handler: `push` returns at the next frame boundary. */
  private stopped = false

  constructor(options: FramerOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
    this.untyped = options.startup === true
  }

  /** The next frame has no type byte (server side, after SSLRequest/GSSENCRequest). */
  expectUntyped(): void {
    this.untyped = true
  }

  /** Whether a partial frame is buffered. */
  hasPartial(): boolean {
    return this.headLength > 0 || this.partial !== undefined
  }

  /**
   * Called from inside a handler: stop delivering frames from the current chunk.
   * `push` then returns the offset of the first byte not consumed, so the caller
   * can hand the rest to someone else (e.g. a TLS layer after SSLRequest).
   */
  stop(): void {
    this.stopped = true
  }

  private fail(message: string, frameHeader?: { readonly type: number; readonly length: number }): never {
    const error = new ProtocolError({
      message: `${message} at stream offset ${this.consumed}`,
      offset: this.consumed,
      ...(frameHeader === undefined ? {} : { frameHeader })
    })
    this.poisoned = error
    throw error
  }

  private headerSize(): number {
    return this.untyped ? 4 : 5
  }

  /** Validates a header; returns the body length. */
  private checkLength(type: number, length: number): number {
    // A startup packet carries at least its int32 code or protocol version.
    const minimum = type === -1 ? 8 : 4
    if (length < minimum) this.fail(`invalid message length ${length} for type ${describeType(type)}`, { type, length })
    const limit = type === -1 ? MAX_STARTUP_PACKET_LENGTH + 4 : this.maxMessageSize
    if (length > limit) {
      this.fail(`message of type ${describeType(type)} with length ${length} exceeds the limit of ${limit} bytes`, {
        type,
        length
      })
    }
    return length - 4
  }

  /**
   * Feeds a chunk; calls `onFrame` for every complete frame, in order.
   * Returns the number of bytes of `chunk` consumed (all of them unless a
   * handler called `stop()`).
   */
  push(chunk: Uint8Array, onFrame: FrameHandler): number {
    if (this.poisoned !== undefined) throw this.poisoned
    this.stopped = false
    let pos = 0
    const end = chunk.length

    // 1. Finish a frame whose body is being assembled.
    if (this.partial !== undefined) {
      const need = this.partial.length - this.partialFilled
      const take = Math.min(need, end)
      this.partial.set(chunk.subarray(0, take), this.partialFilled)
      this.partialFilled += take
      pos = take
      if (this.partialFilled < this.partial.length) {
        this.consumed += take
        return end
      }
      const body = this.partial
      this.partial = undefined
      this.consumed += take
      onFrame(this.partialType, body, 0, body.length)
      if (this.stopped) return pos
    }

    // 2. Finish a header split across chunks.
    if (this.headLength > 0) {
      const size = this.headerSize()
      while (this.headLength < size && pos < end) this.head[this.headLength++] = chunk[pos++]!
      if (this.headLength < size) return end
      const h = this.head
      const type = size === 5 ? h[0]! : -1
      const o = size - 4
      const length = (h[o]! << 24) | (h[o + 1]! << 16) | (h[o + 2]! << 8) | h[o + 3]!
      const bodyLength = this.checkLength(type, length)
      this.headLength = 0
      this.consumed += size
      if (type === -1) this.untyped = false
      if (end - pos >= bodyLength) {
        this.consumed += bodyLength
        onFrame(type, chunk, pos, pos + bodyLength)
        pos += bodyLength
        if (this.stopped) return pos
      } else {
        this.startPartial(type, bodyLength, chunk, pos, end)
        return end
      }
    }

    // 3. Whole frames inside this chunk (the hot loop).
    while (true) {
      const avail = end - pos
      if (this.untyped) {
        if (avail < 4) break
        const length = (chunk[pos]! << 24) | (chunk[pos + 1]! << 16) | (chunk[pos + 2]! << 8) | chunk[pos + 3]!
        const bodyLength = this.checkLength(-1, length)
        this.untyped = false
        if (avail - 4 >= bodyLength) {
          this.consumed += 4 + bodyLength
          onFrame(-1, chunk, pos + 4, pos + 4 + bodyLength)
          pos += 4 + bodyLength
          if (this.stopped) return pos
          continue
        }
        this.consumed += 4
        this.startPartial(-1, bodyLength, chunk, pos + 4, end)
        return end
      }
      if (avail < 5) break
      const type = chunk[pos]!
      const length = (chunk[pos + 1]! << 24) | (chunk[pos + 2]! << 16) | (chunk[pos + 3]! << 8) | chunk[pos + 4]!
      if (length < 4 || length > this.maxMessageSize) this.checkLength(type, length)
      const frameEnd = pos + 1 + length
      if (frameEnd <= end) {
        this.consumed += 1 + length
        onFrame(type, chunk, pos + 5, frameEnd)
        pos = frameEnd
        if (this.stopped) return pos
        continue
      }
      this.consumed += 5
      this.startPartial(type, length - 4, chunk, pos + 5, end)
      return end
    }

    // 4. Keep an incomplete header.
    while (pos < end) this.head[this.headLength++] = chunk[pos++]!
    return end
  }

  /**
   * Called when the byte stream has ended: fails with a `ProtocolError` if a
   * frame was cut off (a header or body is partly buffered), so a truncated
   * message becomes an error instead of a wait that never ends.
   */
  finish(): void {
    if (this.poisoned !== undefined) throw this.poisoned
    if (this.partial !== undefined) {
      this.fail(
        `stream ended inside a message of type ${describeType(this.partialType)} (${this.partialFilled} of ${this.partial.length} body bytes)`
      )
    }
    if (this.headLength > 0) this.fail(`stream ended inside a message header (${this.headLength} bytes)`)
  }

  private startPartial(type: number, bodyLength: number, chunk: Uint8Array, from: number, end: number): void {
    const body = new Uint8Array(bodyLength)
    body.set(chunk.subarray(from, end), 0)
    this.partialType = type
    this.partial = body
    this.partialFilled = end - from
    this.consumed += end - from
  }

  /**
   * Collects the frames of one or more chunks into an array (tests, tools).
   * Each frame is `{ type, body }` with `body` a view.
   */
  pushAll(chunk: Uint8Array): Array<{ readonly type: number; readonly body: Uint8Array }> {
    const out: Array<{ readonly type: number; readonly body: Uint8Array }> = []
    this.push(chunk, (type, buf, start, end) => out.push({ type, body: view(buf, start, end) }))
    return out
  }
}

const describeType = (type: number): string =>
  type === -1
    ? "startup"
    : type >= 0x20 && type < 0x7f
    ? `'${String.fromCharCode(type)}'`
    : `0x${type.toString(16).padStart(2, "0")}`
