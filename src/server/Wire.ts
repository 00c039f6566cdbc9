/**
 * The byte side of one server connection: frames in (cut by `wire/Framer`),
 * frames out (written by `wire/Writer`, flushed with the socket's
 * backpressure), and the switch to TLS after SSLRequest.
 *
 * **Details**
 *
 * - Inbound frames are queued until the connection loop takes them; past
 *   `INBOUND_HIGH_WATER_BYTES` queued the socket is paused, so a client that
 *   pipelines faster than its statements run costs bounded memory.
 * - In start-up and authentication each frame stops the framer: the bytes
 *   after it wait untouched, so the engine can refuse plaintext queued behind
 *   SSLRequest (CVE-2021-3935), hand the raw socket to TLS, and read a
 *   session's messages with its own limit once authentication is over (before
 *   that, no message may exceed `AUTH_MESSAGE_MAX_BYTES`).
 * - `flush` waits for 'drain' when the socket's buffer is full: a client that
 *   reads slowly slows its own statement, never the listener.
 *
 * Does not decode messages: the connection does, with the codec the state
 * asks for ('p' frames mean different things during authentication).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { Duplex } from "node:stream"
import * as Tls from "node:tls"
import * as Backend from "../protocol/Backend.ts"
import { Framer } from "../wire/Framer.ts"
import { Writer } from "../wire/Writer.ts"

/** Queued inbound bytes above which the socket is paused. */
export const INBOUND_HIGH_WATER_BYTES = 1_048_576

/**
 * Largest message a client may send before authentication ends (a password
 * or SASL message; PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH): a longer one is
 * refused at its header, so a client that has not authenticated cannot make
 * the server hold up to `maxMessageBytes` for it.
 */
export const AUTH_MESSAGE_MAX_BYTES = 65_535

/** Pending outbound bytes above which a row loop flushes (and waits for the socket). */
export const OUTBOUND_FLUSH_BYTES = 65_536

/**
 * One frame: `type` is the type byte, -1 for an untyped start-up frame; `body`
 * is a view of the bytes after the length word.
 *
 * @since 0.1.0
 */
export interface Frame {
  readonly type: number
  readonly body: Uint8Array
}

/**
 * Why `take` returned no frame.
 *
 * @since 0.1.0
 */
export type End =
  | { readonly _tag: "Closed" }
  | { readonly _tag: "Malformed"; readonly message: string }
  /** The first byte was a TLS handshake record (0x16): direct TLS, the bytes kept for the handshake. */
  | { readonly _tag: "DirectTls" }

/** The first byte of a TLS handshake record: a client using direct TLS (`sslnegotiation=direct`). */
const TLS_HANDSHAKE_RECORD = 0x16

/**
 * @since 0.1.0
 */
export class Wire {
  socket: Duplex
  /** Replaced once, when authentication ends, by one with the server's own limit (`authenticated`). */
  framer: Framer
  readonly #maxMessageSize: number
  #authenticating = true
  readonly writer = new Writer()
  // Inbound frames from #head on (shift() of a long array copies it: a pipelined write holds thousands).
  #frames: Array<Frame> = []
  #head = 0
  #queuedBytes = 0
  #leftover: Uint8Array | undefined = undefined
  #end: End | undefined = undefined
  #wake: (() => void) | undefined = undefined
  #paused = false
  #closed = false
  #first = true
  #direct: Uint8Array | undefined = undefined
  #onClose: Array<() => void> = []

  constructor(socket: Duplex, maxMessageSize: number) {
    this.socket = socket
    this.#maxMessageSize = maxMessageSize
    this.framer = new Framer({ startup: true, maxMessageSize: Math.min(maxMessageSize, AUTH_MESSAGE_MAX_BYTES) })
    this.#attach(socket)
  }

  #attach(socket: Duplex): void {
    socket.on("data", this.#onData)
    socket.on("end", this.#onEnd)
    socket.on("close", this.#onEnd)
    socket.on("error", this.#onEnd)
  }

  #detach(socket: Duplex): void {
    socket.off("data", this.#onData)
    socket.off("end", this.#onEnd)
    socket.off("close", this.#onEnd)
    socket.off("error", this.#onEnd)
  }

  readonly #onFrame = (type: number, buf: Uint8Array, start: number, end: number): void => {
    const diverted = this.#diverted
    if (diverted !== undefined) return diverted(type, buf.subarray(start, end))
    this.#frames.push({ type, body: buf.subarray(start, end) })
    this.#queuedBytes += end - start
    // Start-up and authentication read one frame at a time: the bytes after it wait untouched (#leftover) until the
    // engine says how to read them (TLS after SSLRequest; the server's own message limit after authentication).
    if (type === -1 || this.#authenticating) this.framer.stop()
  }

  /**
   * Authentication is over: from the next frame on, messages may be as large
   * as the server's limit (before, `AUTH_MESSAGE_MAX_BYTES`).
   */
  authenticated(): void {
    if (!this.#authenticating) return
    this.#authenticating = false
    // Stopped at every frame, the framer is at a boundary; after a framing error it stays (it fails every chunk).
    if (this.#end?._tag !== "Malformed" && !this.framer.hasPartial()) {
      this.framer = new Framer({ maxMessageSize: this.#maxMessageSize })
    }
  }

  #feed(chunk: Uint8Array): void {
    try {
      const used = this.framer.push(chunk, this.#onFrame)
      if (used < chunk.length) {
        // Start-up and authentication: keep the rest untouched until the engine says how to read it.
        this.#leftover = chunk.subarray(used)
        this.#pause()
      }
    } catch (e) {
      this.#end ??= { _tag: "Malformed", message: e instanceof Error ? e.message : String(e) }
    }
    if (this.#queuedBytes > INBOUND_HIGH_WATER_BYTES) this.#pause()
    this.#notify()
  }

  readonly #onData = (chunk: Uint8Array): void => {
    if (this.#first) {
      this.#first = false
      if (chunk[0] === TLS_HANDSHAKE_RECORD) {
        // No startup packet starts so (its length would exceed every limit): keep the bytes for TLS.
        this.#direct = chunk
        this.#end = { _tag: "DirectTls" }
        this.#pause()
        this.#notify()
        return
      }
    }
    if (this.#leftover !== undefined) {
      const merged = new Uint8Array(this.#leftover.length + chunk.length)
      merged.set(this.#leftover, 0)
      merged.set(chunk, this.#leftover.length)
      this.#leftover = merged
      return
    }
    this.#feed(chunk)
  }

  readonly #onEnd = (): void => {
    this.#end ??= { _tag: "Closed" }
    if (!this.#closed) {
      this.#closed = true
      for (const f of this.#onClose) f()
    }
    this.#notify()
  }

  get #queued(): number {
    return this.#frames.length - this.#head
  }

  #shift(): Frame | undefined {
    if (this.#head >= this.#frames.length) return undefined
    const frame = this.#frames[this.#head++]!
    if (this.#head === this.#frames.length) {
      this.#frames = []
      this.#head = 0
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head)
      this.#head = 0
    }
    return frame
  }

  #notify(): void {
    const end = this.#divertedEnd
    if (end !== undefined && this.#end !== undefined) {
      this.#divertedEnd = undefined
      end(this.#end)
    }
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  #pause(): void {
    if (!this.#paused) {
      this.#paused = true
      this.socket.pause()
    }
  }

  #diverted: ((type: number, body: Uint8Array) => void) | undefined = undefined
  #divertedEnd: ((end: End) => void) | undefined = undefined

  /**
   * From now on every frame goes to `onFrame` as it arrives (the queued ones
   * first) in place of `take`, and the end of the stream to `onEnd`, once: a
   * connection taken over by a relay reads without an Effect per frame. Its
   * backpressure is then the caller's (`socket.pause()`).
   */
  divert(onFrame: (type: number, body: Uint8Array) => void, onEnd: (end: End) => void): void {
    this.#diverted = onFrame
    this.#divertedEnd = onEnd
    let frame = this.#shift()
    while (frame !== undefined) {
      this.#queuedBytes -= frame.body.length
      onFrame(frame.type, frame.body)
      frame = this.#shift()
    }
    const rest = this.#leftover
    this.#leftover = undefined
    if (rest !== undefined && rest.length > 0) this.#feed(rest)
    if (this.#paused) {
      this.#paused = false
      this.socket.resume()
    }
    this.#notify()
  }

  /** Runs `f` once when the peer closes or the socket fails. */
  onClose(f: () => void): void {
    if (this.#closed) f()
    else this.#onClose.push(f)
  }

  /** Whether bytes the framer has not looked at yet are waiting (start-up only). */
  get hasLeftover(): boolean {
    return (this.#leftover !== undefined && this.#leftover.length > 0) || this.#queued > 0
  }

  /**
   * The next frame, or why there is none. Never fails. Output still pending
   * (deferred by `flushAtReady`) is sent before waiting for the client.
   */
  readonly take: Effect.Effect<Frame | End> = Effect.suspend(() => {
    // Fast path: a frame already queued (pipelined messages) is taken without a callback.
    if (this.#queued > 0 && !this.#paused) {
      const frame = this.#shift()!
      this.#queuedBytes -= frame.body.length
      return Effect.succeed(frame)
    }
    return this.writer.pending() > 0 ? Effect.andThen(this.flush, this.#takeAsync) : this.#takeAsync
  })

  readonly #takeAsync: Effect.Effect<Frame | End> = Effect.callback<Frame | End>((resume) => {
    const attempt = (): boolean => {
      const frame = this.#shift()
      if (frame !== undefined) {
        this.#queuedBytes -= frame.body.length
        if (this.#paused && this.#leftover === undefined && this.#queuedBytes < INBOUND_HIGH_WATER_BYTES / 2) {
          this.#paused = false
          this.socket.resume()
        }
        resume(Effect.succeed(frame))
        return true
      }
      if (this.#leftover !== undefined) {
        const rest = this.#leftover
        this.#leftover = undefined
        this.#feed(rest)
        return attempt()
      }
      if (this.#end !== undefined) {
        resume(Effect.succeed(this.#end))
        return true
      }
      if (this.#paused) {
        this.#paused = false
        this.socket.resume()
      }
      return false
    }
    const wake = (): void => {
      if (!attempt()) this.#wake = wake
    }
    if (!attempt()) this.#wake = wake
    return Effect.sync(() => {
      this.#wake = undefined
    })
  })

  /** Appends one message to the outbound buffer (sent at the next `flush`). Throws `ProtocolError`. */
  send(message: Backend.BackendMessage): void {
    Backend.writeUnsafe(this.writer, message)
  }

  /** Writes bytes outside the writer (the one-byte SSL/GSSENC answers), after anything pending. */
  sendRaw(bytes: Uint8Array): void {
    const pending = this.writer.flush()
    if (pending.length > 0) this.socket.write(pending)
    this.socket.write(bytes)
  }

  /** Sends everything pending; waits while the socket's buffer is full. */
  readonly flush: Effect.Effect<void> = Effect.suspend(() => {
    const bytes = this.writer.flush()
    if (bytes.length === 0 || this.#closed || this.socket.destroyed) return Effect.void
    const ok = this.socket.write(bytes)
    if (ok) return Effect.void
    return Effect.callback<void>((resume) => {
      const done = () => {
        this.socket.off("drain", done)
        this.#onClose = this.#onClose.filter((f) => f !== done)
        resume(Effect.void)
      }
      this.socket.on("drain", done)
      this.onClose(done)
      return Effect.sync(() => {
        this.socket.off("drain", done)
      })
    })
  })

  /**
   * Flushes at a ReadyForQuery, unless the client's next message is already
   * queued (a pipelining client) and less than `OUTBOUND_FLUSH_BYTES` are
   * pending: the answers then leave together, in one write, when the engine
   * next waits (for the client in `take`, or for a statement that does not
   * finish at once). One write per pipelined query cost more CPU than the
   * rest of a simple query (each a TCP segment of its own).
   */
  readonly flushAtReady: Effect.Effect<void> = Effect.suspend(() =>
    this.#queued > 0 && this.writer.pending() < OUTBOUND_FLUSH_BYTES ? Effect.void : this.flush
  )

  /** Flushes only past `OUTBOUND_FLUSH_BYTES` (row loops). */
  readonly flushIfFull: Effect.Effect<void> = Effect.suspend(() =>
    this.writer.pending() >= OUTBOUND_FLUSH_BYTES ? this.flush : Effect.void
  )

  /**
   * Replaces the socket with a server-side TLS socket over it and waits for the
   * handshake. Fails (returns `false`) when it does not finish.
   */
  startTls(options: Tls.TlsOptions): Effect.Effect<Tls.TLSSocket | undefined> {
    return Effect.callback<Tls.TLSSocket | undefined>((resume) => {
      const raw = this.socket
      this.#detach(raw)
      this.#leftover = undefined
      const direct = this.#direct
      this.#direct = undefined
      this.#end = undefined
      // Direct TLS: the ClientHello was already read, so the TLS layer reads through a stream that replays it.
      const under: Duplex = direct === undefined ? raw : replaying(raw, direct)
      const tls = new Tls.TLSSocket(under, { ...options, isServer: true })
      const onSecure = () => {
        cleanup()
        this.socket = tls
        this.#attach(tls)
        this.#paused = false
        tls.resume()
        resume(Effect.succeed(tls))
      }
      const onFail = () => {
        cleanup()
        tls.destroy()
        raw.destroy()
        resume(Effect.succeed(undefined))
      }
      const cleanup = () => {
        tls.off("secure", onSecure)
        tls.off("error", onFail)
        tls.off("close", onFail)
      }
      tls.once("secure", onSecure)
      tls.once("error", onFail)
      tls.once("close", onFail)
      raw.resume()
      return Effect.sync(() => {
        cleanup()
        tls.destroy()
      })
    })
  }

  /** Sends what is pending and closes the socket. */
  close(): void {
    const bytes = this.writer.flush()
    if (!this.socket.destroyed) {
      if (bytes.length > 0) this.socket.end(bytes)
      else this.socket.end()
      // A peer that never reads must not keep the socket half-open.
      setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MILLIS).unref()
    }
  }

  /** Drops the socket now. */
  destroy(): void {
    this.socket.destroy()
  }
}

/** A duplex over `raw` that first yields `head` (bytes already read from it). */
const replaying = (raw: Duplex, head: Uint8Array): Duplex => {
  const stream = new PassThroughDuplex(raw)
  stream.push(head)
  return stream
}

class PassThroughDuplex extends Duplex {
  readonly #raw: Duplex
  constructor(raw: Duplex) {
    super()
    this.#raw = raw
    raw.on("data", (d: Uint8Array) => {
      if (!this.push(d)) raw.pause()
    })
    raw.on("end", () => this.push(null))
    raw.on("error", (e) => this.destroy(e))
    raw.on("close", () => this.destroy())
  }
  override _read(): void {
    this.#raw.resume()
  }
  override _write(chunk: Uint8Array, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#raw.write(chunk, callback)
  }
  override _final(callback: (error?: Error | null) => void): void {
    this.#raw.end()
    callback()
  }
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#raw.destroy()
    callback(error)
  }
}

/** How long a closing socket may take to hand its last bytes to a peer that does not read. */
export const CLOSE_GRACE_MILLIS = 1_000
