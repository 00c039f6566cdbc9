/**
 * What goes to one client: upstream frames copied as bytes and the proxy's own
 * replies, gathered in one buffer and written with one socket write per flush
 * (at the end of an upstream chunk, or of the microtask).
 *
 * **Details**
 *
 * - Upstream frames relayed unchanged one after the other in the same read
 *   are copied as one run (`relay` only notes where the run ends): the
 *   frame's header is already in the read buffer, so a reply of several
 *   frames costs one copy, not a header and a copy per frame. The run is
 *   copied into the buffer before anything else is appended, at `flush`, and
 *   at `seal` (the holder lets go of the upstream): the read buffer is reused
 *   by the upstream's next read.
 * - A client that reads slowly (its socket's buffer past Node's high-water
 *   mark) pauses the upstream it holds until its socket drains: it slows its
 *   own upstream, not the proxy.
 *
 * @since 0.1.0
 */
import type { Duplex } from "node:stream"
import { Writer } from "../wire/Writer.ts"
import type { Upstream } from "./Upstream.ts"

/**
 * @since 0.1.0
 */
export class Outbound {
  readonly #socket: Duplex
  readonly #out = new Writer()
  /** The upstream the client holds now (paused while the client's socket is full). */
  readonly #holding: () => Upstream | undefined
  /** Counts the bytes written. */
  readonly #sent: (bytes: number) => void
  #flushScheduled = false
  #blocked = false
  /** The run of relayed frames not yet copied: `#runBuf[#runStart, #runEnd)`, headers included. */
  #runBuf: Uint8Array | undefined = undefined
  #runStart = 0
  #runEnd = 0

  constructor(socket: Duplex, holding: () => Upstream | undefined, sent: (bytes: number) => void) {
    this.#socket = socket
    this.#holding = holding
    this.#sent = sent
  }

  /** Whether the client's socket is full (the upstream it held was paused). */
  get blocked(): boolean {
    return this.#blocked
  }

  /** Appends frames made by the proxy. */
  emit(bytes: Uint8Array): void {
    this.seal()
    this.#out.bytes(bytes)
  }

  /**
   * Appends one upstream frame: `type` and the body `buf[start, end)`, a view
   * valid until the end of the upstream's read (see `seal`).
   */
  relay(type: number, buf: Uint8Array, start: number, end: number): void {
    const frameStart = start - 5
    // The next frame of the same read, right after the run: the run grows.
    if (buf === this.#runBuf && frameStart === this.#runEnd) {
      this.#runEnd = end
      return
    }
    this.seal()
    const length = end - start + 4
    if (
      frameStart >= 0 && buf[frameStart] === type &&
      ((buf[frameStart + 1]! << 24) | (buf[frameStart + 2]! << 16) | (buf[frameStart + 3]! << 8) | buf[frameStart + 4]!) === length
    ) {
      // Its header is in the buffer before the body (not so for a frame the framer assembled from several reads).
      this.#runBuf = buf
      this.#runStart = frameStart
      this.#runEnd = end
      return
    }
    this.#out.uint8(type).int32(length).bytes(buf.subarray(start, end))
  }

  /** Copies the run of relayed frames into the buffer: before the upstream's read buffer is reused. */
  seal(): void {
    const run = this.#runBuf
    if (run === undefined) return
    this.#runBuf = undefined
    this.#out.bytes(run.subarray(this.#runStart, this.#runEnd))
  }

  /** Writes what is gathered at the end of the microtask. */
  scheduleFlush(): void {
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    queueMicrotask(this.flush)
  }

  /** Writes what is gathered now. */
  readonly flush = (): void => {
    this.#flushScheduled = false
    this.seal()
    if (this.#out.pending() === 0) return
    const bytes = this.#out.flush()
    this.#sent(bytes.length)
    const socket = this.#socket
    if (socket.destroyed) return
    if (!socket.write(bytes) && !this.#blocked) {
      const upstream = this.#holding()
      if (upstream === undefined) return
      this.#blocked = true
      upstream.socket.pause()
      socket.once("drain", () => {
        this.#blocked = false
        if (this.#holding() === upstream) upstream.socket.resume()
      })
    }
  }
}
