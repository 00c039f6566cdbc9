/**
 * A client's messages on their way to its relay: handled as they arrive, or
 * queued while the client waits for an upstream (reading pauses past
 * `PENDING_HIGH_WATER_BYTES` queued), then handled in order once it has one.
 * Reading also pauses while the relay `hold`s it: the upstream's socket
 * buffer is full (a COPY FROM STDIN faster than the server), so the client
 * is read at the server's pace, not buffered by the proxy.
 *
 * @since 0.1.0
 */
import type { Duplex } from "node:stream"

/** Client bytes waiting for an upstream above which reading the client pauses. */
export const PENDING_HIGH_WATER_BYTES = 1_048_576

/**
 * What the inbox asks of its relay.
 *
 * @since 0.1.0
 */
export interface Owner {
  /** Whether this message needs an upstream the client does not hold. */
  readonly needsUpstream: (type: number, body: Uint8Array) => boolean
  /** Handles one message; false when the client is done. */
  readonly handle: (type: number, body: Uint8Array) => boolean
  /** Gets an upstream (or gives up on one), then calls `Inbox.linked`. */
  readonly acquire: () => void
  readonly close: () => void
  readonly closed: () => boolean
}

/**
 * @since 0.1.0
 */
export class Inbox {
  readonly #socket: Duplex
  readonly #owner: Owner
  #pending: Array<{ readonly type: number; readonly body: Uint8Array }> = []
  #head = 0
  #bytes = 0
  #linking = false
  #paused = false
  #held = false

  constructor(socket: Duplex, owner: Owner) {
    this.#socket = socket
    this.#owner = owner
  }

  /** Whether the client is waiting for an upstream. */
  get linking(): boolean {
    return this.#linking
  }

  /** One client frame (the body a view valid after the call: the socket's chunks are not reused). */
  readonly onFrame = (type: number, body: Uint8Array): void => {
    if (this.#owner.closed()) return
    if (this.#head === this.#pending.length && !this.#linking) {
      // The common case: nothing waiting, handled at once.
      if (!this.#owner.needsUpstream(type, body)) {
        if (!this.#owner.handle(type, body)) this.#owner.close()
        return
      }
      this.#push(type, body)
      return this.#acquire()
    }
    this.#push(type, body)
    if (this.#bytes > PENDING_HIGH_WATER_BYTES && !this.#paused) {
      this.#paused = true
      this.#socket.pause()
    }
  }

  /** The relay has its upstream, or was refused one (then the waiting message is answered without it). */
  linked(): void {
    this.#linking = false
    this.#drain()
  }

  /** Stops reading the client until `unhold` (the upstream's write buffer is full). False when already held. */
  hold(): boolean {
    if (this.#held) return false
    this.#held = true
    this.#socket.pause()
    return true
  }

  unhold(): void {
    if (!this.#held) return
    this.#held = false
    if (!this.#paused) this.#socket.resume()
  }

  /** Drops what waits (the client left). */
  clear(): void {
    this.#pending = []
    this.#head = 0
    this.#bytes = 0
  }

  #push(type: number, body: Uint8Array): void {
    this.#pending.push({ type, body })
    this.#bytes += body.length
  }

  #acquire(): void {
    this.#linking = true
    this.#owner.acquire()
  }

  /** Handles the messages that waited, until one needs an upstream the client does not have. */
  #drain(): void {
    while (!this.#linking && !this.#owner.closed() && this.#head < this.#pending.length) {
      const frame = this.#pending[this.#head]!
      if (this.#owner.needsUpstream(frame.type, frame.body)) return this.#acquire()
      this.#pending[this.#head++] = undefined as never
      this.#bytes -= frame.body.length
      if (!this.#owner.handle(frame.type, frame.body)) return this.#owner.close()
    }
    if (this.#head === this.#pending.length) {
      this.#pending.length = 0
      this.#head = 0
    }
    if (this.#paused && this.#bytes < PENDING_HIGH_WATER_BYTES / 2) {
      this.#paused = false
      if (!this.#held) this.#socket.resume()
    }
  }
}
