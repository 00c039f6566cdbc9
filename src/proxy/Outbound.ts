/**
 * What goes to one client: upstream frames copied as bytes and the proxy's own
 * replies, gathered in one buffer and written with one socket write per flush
 * (at the end of an upstream chunk, or of the microtask).
 *
 * **Details**
 *
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
    this.#out.bytes(bytes)
  }

  /** Appends one upstream frame: `type` and the body `buf[start, end)`. */
  relay(type: number, buf: Uint8Array, start: number, end: number): void {
    this.#out.uint8(type).int32(end - start + 4).bytes(buf.subarray(start, end))
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
