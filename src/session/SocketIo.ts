/**
 * The bytes of a connected session's socket, both ways: received chunks
 * framed where they lie (lent reads) or from a copy, reading paused for a
 * slow consumer and resumed, frames written in one socket write per
 * microtask, backpressure for COPY FROM, and the socket let go when the
 * session ends. `Connection` extends it with the requests those bytes carry.
 *
 * **Details**
 *
 * - Reading never waits for writing: bytes are read whenever they arrive and
 *   handed to the Framer, while writes are batched into one socket write per
 *   microtask, so a pipeline of any size cannot deadlock on full TCP buffers.
 * - Each frame goes straight from the Framer to `onFrame` (the reader of
 *   `Connection`); whatever it throws ends up in `readFailed`.
 * - Nothing is written once the session has broken or closed (`closedWith`).
 *
 * @since 0.1.0
 */
import type * as Net from "node:net"
import type { PgError } from "../errors/PgError.ts"
import { Framer } from "../wire/Framer.ts"
import { view } from "../wire/Reader.ts"
import { Writer } from "../wire/Writer.ts"
import type { Request } from "./Request.ts"
import { Tracer } from "./Tracer.ts"

/** After Terminate, how long the socket may take to close cleanly before it is destroyed. */
export const SOCKET_END_GRACE_MILLIS = 1000

/**
 * The socket's reads and writes under a `Connection`.
 *
 * @since 0.1.0
 */
export abstract class SocketIo {
  readonly writer = new Writer()
  protected readonly framer: Framer
  protected readonly tracer: Tracer | undefined
  protected socket: Net.Socket | undefined = undefined
  /** Set once the socket is gone: the break reason, or undefined after a clean close; null while open. */
  protected closedWith: PgError | undefined | null = null
  /** When bytes last arrived from the server, and when bytes last went out (`Date.now()`; see `Liveness`). */
  lastReceivedAt = 0
  lastSentAt = 0
  private flushScheduled = false
  private paused = false
  /** Bytes parked by consumers that asked reading to pause. */
  private readonly pauseReasons = new Set<object>()
  /** The request to tell when the chunk being handled is done (`atChunkEnd`). */
  private chunkEndRequest: Request | undefined = undefined
  /** Whether the bytes being framed are lent (the socket's next read overwrites them). */
  private lending = false
  /** Whether a request keeps views of the bytes it receives past the read that brought them (see `keepViews`). */
  private keepingViews = false
  private drainWaiters: Array<() => void> = []

  constructor(maxMessageSize: number | undefined, trace: ((line: string) => void) | undefined) {
    this.framer = new Framer({ maxMessageSize })
    this.tracer = trace === undefined ? undefined : new Tracer(trace)
  }

  /** Takes each received frame, in order (the session's reader). */
  protected abstract readonly onFrame: (type: number, buf: Uint8Array, start: number, end: number) => void

  /** Framing or handling a received chunk threw: a typed failure, or a bug of ours. */
  protected abstract readFailed(cause: unknown): void

  // -------------------------------------------------------------------------
  // Reading
  // -------------------------------------------------------------------------

  /**
   * Bytes read through the socket's stream (TLS, or a socket opened for TLS). Framed as a plain Uint8Array, as lent
   * bytes are: handlers that keep bytes copy them with `slice`, which on a Buffer would make a view.
   */
  protected readonly onData = (chunk: Buffer): void =>
    this.receive(view(chunk, 0, chunk.length), false)

  /**
   * Bytes the socket lends: framed where they are, which every handler allows (they decode or copy what they
   * keep), except while a request keeps views: then they are copied first.
   */
  protected readonly onLent = (bytes: Uint8Array, length: number): void =>
    this.keepingViews ? this.receive(bytes.slice(0, length), false) : this.receive(view(bytes, 0, length), true)

  private receive(chunk: Uint8Array, lent: boolean): void {
    this.lastReceivedAt = Date.now()
    try {
      this.lending = lent
      let consumed = this.framer.push(chunk, this.onFrame)
      // A request began keeping views in the middle of lent bytes (`keepViews` stopped the framer): the rest of
      // them is framed from a copy.
      while (consumed < chunk.length) {
        chunk = chunk.slice(consumed)
        this.lending = false
        consumed = this.framer.push(chunk, this.onFrame)
      }
    } catch (e) {
      this.readFailed(e)
    }
    this.lending = false
    const request = this.chunkEndRequest
    if (request !== undefined) {
      this.chunkEndRequest = undefined
      request.onChunkEnd()
    }
  }

  /**
   * From the next message on, the current request keeps views of the bytes it receives (COPY TO hands its chunks
   * out as they arrived), so received bytes must stay as they are: lent bytes are copied before they are framed,
   * until `releaseViews`.
   */
  keepViews(): void {
    this.keepingViews = true
    if (this.lending) this.framer.stop()
  }

  /** The request that kept views of received bytes is done with them (see `keepViews`). */
  releaseViews(): void {
    this.keepingViews = false
  }

  /**
   * Calls `request.onChunkEnd()` once the received chunk being handled is
   * done: a stream hands its consumer everything one chunk carried at once,
   * not one resumption per message.
   */
  atChunkEnd(request: Request): void {
    this.chunkEndRequest = request
  }

  /** Asks reading to pause until `resumeReading(owner)` (a slow stream consumer). */
  pauseReading(owner: object): void {
    this.pauseReasons.add(owner)
    if (!this.paused && this.socket !== undefined) {
      this.paused = true
      this.socket.pause()
    }
  }

  /** Whether reading is paused for a slow consumer (the server's silence is then ours). */
  get readingPaused(): boolean {
    return this.paused
  }

  /** Whether part of a frame is buffered and the rest has not arrived yet. */
  get midFrame(): boolean {
    return this.framer.hasPartial()
  }

  resumeReading(owner: object): void {
    this.pauseReasons.delete(owner)
    if (this.paused && this.pauseReasons.size === 0 && this.socket !== undefined) {
      this.paused = false
      // The silence while paused was ours: it does not count towards the liveness check.
      this.lastReceivedAt = Date.now()
      this.socket.resume()
    }
  }

  // -------------------------------------------------------------------------
  // Writing
  // -------------------------------------------------------------------------

  protected readonly onDrain = (): void => {
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const w of waiters) w()
  }

  /**
   * Whether the socket's write buffer is over its high-water mark; `onDrain`
   * is called once it empties (COPY FROM uses this for backpressure).
   */
  writeBlocked(onDrain: () => void): boolean {
    const socket = this.socket
    if (socket === undefined || !socket.writableNeedDrain) return false
    this.drainWaiters.push(onDrain)
    return true
  }

  /** Writes extra frames for the current exclusive owner or from a handler (Execute for the next page, Sync, CopyData). */
  send(encode: (w: Writer) => void): void {
    if (this.socket === undefined || this.closedWith !== null) return
    encode(this.writer)
    this.scheduleFlush()
  }

  /** Writes bytes that are already encoded (constant frames). */
  sendBytes(bytes: Uint8Array): void {
    if (this.socket === undefined || this.closedWith !== null) return
    this.writer.bytes(bytes)
    this.scheduleFlush()
  }

  /**
   * Writes everything encoded so far (a frame header, typically), then `payload` as it is, corked into one
   * writev: a large frame body (CopyData) goes out without being copied into the write buffer.
   */
  sendPayload(payload: Uint8Array): void {
    const socket = this.socket
    if (socket === undefined || this.closedWith !== null || socket.destroyed) return
    socket.cork()
    this.flush()
    this.tracer?.sent(payload)
    this.lastSentAt = Date.now()
    socket.write(payload)
    socket.uncork()
  }

  protected scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    queueMicrotask(this.flush)
  }

  /** Writes everything encoded so far to the socket. */
  readonly flush = (): void => {
    this.flushScheduled = false
    if (this.writer.pending() === 0) return
    const bytes = this.writer.flush()
    const socket = this.socket
    if (socket !== undefined && this.closedWith === null && !socket.destroyed) {
      this.tracer?.sent(bytes)
      this.lastSentAt = Date.now()
      socket.write(bytes)
    }
  }

  // -------------------------------------------------------------------------
  // Letting go
  // -------------------------------------------------------------------------

  /**
   * The session ended (`error` undefined: a clean close after Terminate): COPY FROM's waiters go on (and find the
   * session closed), nothing more is read, and the socket is destroyed, at once after a break, after
   * `SOCKET_END_GRACE_MILLIS` otherwise.
   */
  protected letGo(error: PgError | undefined): void {
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const w of waiters) w()
    const socket = this.socket
    if (socket !== undefined) {
      socket.off("data", this.onData)
      socket.off("drain", this.onDrain)
      if (error !== undefined) socket.destroy()
      else setTimeout(() => socket.destroy(), SOCKET_END_GRACE_MILLIS).unref()
    }
  }
}
