/**
 * The protocol 2.0 session's imperative core: one socket, the stream decoder
 * of 2.0 server messages (they carry no length, so reading is parsing:
 * `V2.BackendDecoder`), the queue of requests, and the one break path.
 *
 * **Details**
 *
 * - One request is on the wire at a time: the next is written when the one
 *   before has its ReadyForQuery. A CancelRequest can then only reach the
 *   request it was sent for (and while a cancel is under way the wire is held:
 *   nothing new is written until the cancel connection has closed and the
 *   request has drained).
 * - Each message goes through `State.step` against the head request's phase;
 *   NoticeResponse and NotificationResponse are taken first, wherever they come.
 * - The session is broken when its socket closes or the bytes cannot be
 *   trusted (malformed, out of place), never because a message said FATAL
 *   (its text is localized): an unsolicited error is kept and becomes the
 *   reason when the server then closes the connection.
 *
 * @since 0.1.0
 */
import type * as Net from "node:net"
import type * as Transport from "../../transport/Transport.ts"
import { ConnectionError, PgError, ProtocolDesync, ProtocolError, type ServerError } from "../../errors/PgError.ts"
import * as V2 from "../../protocol/V2.ts"
import type { Notification } from "../Api.ts"
import type { Notice } from "../Result.ts"
import * as ErrorText from "./ErrorText.ts"
import * as Framing from "./Framing.ts"
import { type Phase, step } from "./State.ts"
import * as Status from "./Status.ts"

/**
 * A request: the bytes it writes, its phase, and what it does with its replies.
 *
 * @since 0.1.0
 */
export abstract class V2Request {
  phase: Phase = "Results"
  /** Answered (ReadyForQuery came) or failed with the session. */
  done = false
  /** Written to the socket. */
  written = false
  /** The caller went away: replies are read and dropped. */
  discard = false
  /** An ErrorResponse came for it. */
  failedOnServer = false
  /** What it does to the transaction status. */
  statusEffect: Status.Effect = "unknown"
  private doneWaiters: Array<() => void> = []

  /** What goes on the wire. */
  abstract bytes(): Uint8Array
  /** A reply, already judged in place by `State.step` (skipped while `discard`, but for COPY IN). */
  abstract onMessage(wire: Wire, message: V2.BackendMessage): void
  /** ReadyForQuery came. */
  abstract complete(wire: Wire): void
  /** The session broke before the request was answered. */
  abstract fail(error: PgError): void
  /** A notice while the request ran. */
  onNotice(_notice: Notice): void {}
  /** Reads a row in place (`start` after the type byte); requests without it get rows as messages. */
  onRowBytes?(buf: Uint8Array, start: number, end: number, format: 0 | 1, fieldCount: number): void

  /** Calls `f` once the request is answered or failed (at once if it is). */
  whenDone(f: () => void): void {
    if (this.done) f()
    else this.doneWaiters.push(f)
  }

  markDone(): void {
    if (this.done) return
    this.done = true
    const waiters = this.doneWaiters
    this.doneWaiters = []
    for (const f of waiters) f()
  }
}

/**
 * What the wire needs to know from its owner.
 *
 * @since 0.1.0
 */
export interface WireOptions {
  readonly maxMessageSize?: number | undefined
  readonly onNotice: (notice: Notice) => void
  readonly onNotification: (notification: Notification) => void
}

const encoder = new TextEncoder()

/**
 * The socket, the decoder, the queue of requests.
 *
 * @since 0.1.0
 */
export class Wire {
  readonly socket: Net.Socket
  private decoder: V2.BackendDecoder
  /** A ReadyForQuery was read from the current chunk. */
  private answered = false
  /**
   * The bytes of a message not complete yet: the first `pendingLength` bytes of a buffer that grows by doubling,
   * so a message larger than a read is put together in time linear in its size.
   */
  private pending: Uint8Array | undefined = undefined
  private pendingLength = 0
  /** Bytes of the pending message already searched for its end (`Framing.messageEnd`'s `scanned`). */
  private pendingScanned = 0
  /** The field count of the last RowDescription of the request being answered (-1: none). */
  private fieldCount = -1
  /** Inside a COPY OUT: lines until the end marker. */
  private inCopy = false
  /** Bytes this framing does not know came: the codecs read everything from then on. */
  private handedOff = false
  /** The bytes received are lent (a reused buffer). */
  private lent = false
  private readonly options: WireOptions
  private readonly queue: Array<V2Request> = []
  /** The request whose replies are being read. */
  head: V2Request | undefined = undefined
  /** While positive, nothing new is written (a cancel is under way). */
  private holds = 0
  closedWith: PgError | undefined = undefined
  processId = 0
  /** The 4-byte key of BackendKeyData, or undefined when the server sent none (no cancel then). */
  secretKey: Uint8Array | undefined = undefined
  status: Status.Status = "I"
  /** An error that came with no request waiting (a FATAL before the server closes). */
  private unsolicited: ServerError | undefined = undefined
  private readonly closeCallbacks: Array<() => void> = []
  /** When bytes last arrived from the server, and when bytes last went out (`Date.now()`; see `Liveness`). */
  lastReceivedAt = 0
  lastSentAt = 0
  /** Reading is paused for a slow consumer. */
  private paused = false
  private readonly idleWaiters: Array<() => void> = []

  constructor(socket: Net.Socket, options: WireOptions, reads?: Transport.LentReads | undefined) {
    this.socket = socket
    this.options = options
    this.decoder = new V2.BackendDecoder({ maxMessageSize: options.maxMessageSize })
    if (reads !== undefined) {
      // The socket reads into one reused buffer: whatever outlives this call is copied (`pending`, handed-off
      // bytes), and the codecs' views are consumed before it returns.
      this.lent = true
      reads.onBytes = (bytes, length) => this.receive(bytes.subarray(0, length))
    } else socket.on("data", (chunk: Uint8Array) => this.receive(chunk))
    socket.on("error", (cause: Error) =>
      this.breakWith(
        new PgError({ reason: new ConnectionError({ message: `connection failed: ${cause.message}`, requestSent: true, cause }) })
      ))
    socket.on("close", () => this.closedByPeer())
  }

  get isClosed(): boolean {
    return this.closedWith !== undefined
  }

  /** Nothing written and unanswered, nothing queued, no cancel under way. */
  get idle(): boolean {
    return this.head === undefined && this.queue.length === 0 && this.holds === 0
  }

  /** Requests written and not answered: the head, if any (one at a time on 2.0). */
  get inflightCount(): number {
    return this.head === undefined ? 0 : 1
  }

  /** Whether reading is paused for a slow consumer (the server's silence is then ours). */
  get readingPaused(): boolean {
    return this.paused
  }

  /** Whether part of a message is buffered and the rest has not arrived yet. */
  get midFrame(): boolean {
    return this.pending !== undefined || this.decoder.buffered > 0
  }

  /** Queues a request; it is written when the ones before it are answered. */
  submit(request: V2Request): void {
    if (this.closedWith !== undefined) {
      request.markDone()
      request.fail(this.closedWith)
      return
    }
    this.queue.push(request)
    this.pump()
  }

  /** Queues a request ahead of every other (written next: when called as a request completes, before the next). */
  submitFirst(request: V2Request): void {
    if (this.closedWith !== undefined) {
      request.markDone()
      request.fail(this.closedWith)
      return
    }
    this.queue.unshift(request)
    this.pump()
  }

  /** Takes back a request not yet written; false when it already is. */
  withdraw(request: V2Request): boolean {
    const at = this.queue.indexOf(request)
    if (at < 0) return false
    this.queue.splice(at, 1)
    request.markDone()
    this.notifyIdle()
    return true
  }

  hold(): void {
    this.holds++
  }

  release(): void {
    this.holds--
    this.pump()
    this.notifyIdle()
  }

  /** Calls `f` once the wire is idle or closed. */
  whenIdle(f: () => void): void {
    if (this.idle || this.isClosed) f()
    else this.idleWaiters.push(f)
  }

  onClose(f: () => void): void {
    if (this.isClosed) f()
    else this.closeCallbacks.push(f)
  }

  /** Writes raw bytes (COPY data, a password packet). */
  write(bytes: Uint8Array): void {
    if (this.closedWith !== undefined) return
    this.lastSentAt = Date.now()
    this.socket.write(bytes)
  }

  /** Writes one client message. */
  send(message: V2.FrontendMessage): void {
    const bytes = V2.encodeFrontend(message)
    if (bytes._tag === "Failure") {
      this.breakWith(new PgError({ reason: bytes.failure }))
      return
    }
    this.write(bytes.success)
  }

  /** Socket backpressure: stop reading (a stream's consumer is behind). */
  pause(): void {
    this.paused = true
    this.socket.pause()
  }

  resume(): void {
    if (this.paused) {
      this.paused = false
      // The silence while paused was ours: it does not count towards the liveness check.
      this.lastReceivedAt = Date.now()
    }
    this.socket.resume()
  }

  private pump(): void {
    while (this.head === undefined && this.holds === 0 && this.queue.length > 0 && this.closedWith === undefined) {
      const next = this.queue.shift()!
      this.head = next
      next.written = true
      let bytes: Uint8Array
      try {
        bytes = next.bytes()
      } catch (e) {
        this.head = undefined
        next.markDone()
        next.fail(e instanceof PgError ? e : new PgError({ reason: new ProtocolError({ message: String(e) }) }))
        continue
      }
      if (bytes.length > 0) {
        this.lastSentAt = Date.now()
        this.socket.write(bytes)
      }
    }
  }

  private notifyIdle(): void {
    if (!(this.idle || this.isClosed)) return
    const waiters = this.idleWaiters.splice(0)
    for (const f of waiters) f()
  }

  private receive(chunk: Uint8Array): void {
    if (this.closedWith !== undefined) return
    this.lastReceivedAt = Date.now()
    let buf = chunk
    /** The pending buffer `buf` is a view of (kept again when nothing of it was consumed). */
    let held: Uint8Array | undefined
    const scanned = this.pendingScanned
    this.pendingScanned = 0
    if (this.pending !== undefined) {
      const length = this.pendingLength + chunk.length
      if (length > this.pending.length) {
        const grown = new Uint8Array(Math.max(length, this.pending.length * 2))
        grown.set(this.pending.subarray(0, this.pendingLength))
        this.pending = grown
      }
      this.pending.set(chunk, this.pendingLength)
      held = this.pending
      buf = held.subarray(0, length)
      this.pending = undefined
      this.pendingLength = 0
    }
    const end = buf.length
    const limit = this.options.maxMessageSize ?? Number.MAX_SAFE_INTEGER
    let pos = 0
    try {
      while (pos < end && this.closedWith === undefined) {
        if (this.handedOff) {
          this.decoder.pushUnsafe(this.lent ? buf.slice(pos) : pos === 0 ? buf : buf.subarray(pos), this.onMessage)
          break
        }
        const at = Framing.messageEnd(buf, pos, end, this.fieldCount, this.inCopy, limit, pos === 0 && held !== undefined ? scanned : 0)
        if (at === Framing.UNKNOWN) {
          // Not a message this framing knows: the codecs read the rest and say what is wrong.
          this.handedOff = true
          continue
        }
        if (at === Framing.NEED_MORE) {
          if (end - pos > limit) throw this.tooLarge(end - pos)
          // Nothing of a held buffer was handed out when pos is 0: it grows on. Otherwise the rest is copied.
          this.pending = pos === 0 && held !== undefined ? held : buf.slice(pos)
          this.pendingLength = end - pos
          this.pendingScanned = end - pos
          break
        }
        if (at - pos > limit) throw this.tooLarge(at - pos)
        const type = buf[pos]!
        const head = this.head
        if (
          !this.inCopy && (type === 0x44 || type === 0x42) && head !== undefined && head.phase === "Rows" &&
          head.onRowBytes !== undefined
        ) {
          // A row in place: its values are decoded from the receive buffer, no view per value.
          if (!head.discard) head.onRowBytes(buf, pos + 1, at, type === 0x44 ? 0 : 1, this.fieldCount)
        } else {
          if (this.inCopy) {
            if (at - pos === 3 && buf[pos] === 0x5c && buf[pos + 1] === 0x2e) this.inCopy = false
          } else if (type === 0x54) this.fieldCount = (buf[pos + 1]! << 8) | buf[pos + 2]!
          else if (type === 0x48) this.inCopy = true
          this.decoder.pushUnsafe(buf.subarray(pos, at), this.onMessage)
        }
        pos = at
      }
      if (this.answered && this.pending === undefined && this.decoder.buffered === 0 && !this.handedOff) {
        // A request was answered: the next one starts from a decoder that knows no RowDescription, so a row
        // before its own RowDescription is malformed instead of being read with the last one's field count.
        this.decoder = new V2.BackendDecoder({ maxMessageSize: this.options.maxMessageSize })
        this.fieldCount = -1
      }
      this.answered = false
    } catch (e) {
      if (this.closedWith !== undefined) return
      this.breakWith(
        e instanceof PgError
          ? e
          : new PgError({ reason: e instanceof ProtocolError ? e : new ProtocolError({ message: String(e) }) })
      )
    }
  }

  private tooLarge(size: number): ProtocolError {
    return new ProtocolError({
      message: `a message of at least ${size} bytes exceeds maxMessageSize ${this.options.maxMessageSize}`
    })
  }

  private readonly onMessage = (message: V2.BackendMessage): void => {
    if (this.closedWith !== undefined) return
    switch (message._tag) {
      case "NoticeResponse": {
        const notice = ErrorText.toNotice(message.message)
        this.head?.onNotice(notice)
        this.options.onNotice(notice)
        return
      }
      case "NotificationResponse":
        this.options.onNotification({ processId: message.processId, channel: message.conditionName, payload: "" })
        return
    }
    const head = this.head
    if (head === undefined) {
      if (message._tag === "ErrorResponse") {
        // Unsolicited: a FATAL the server sends before it closes (pg_terminate_backend, shutdown).
        this.unsolicited = ErrorText.toServerError(message.message)
        return
      }
      return this.desync(`${message._tag} arrived with no request waiting`, "Idle", message._tag)
    }
    const next = step(head.phase, message)
    if (typeof next === "object") return this.desync(next.desync, head.phase, message._tag)
    head.phase = next
    if (message._tag === "ErrorResponse") head.failedOnServer = true
    if (!head.discard || head.phase === "CopyIn") head.onMessage(this, message)
    if (next === "Done") {
      this.answered = true
      this.head = undefined
      this.status = Status.after(this.status, head.statusEffect, head.failedOnServer)
      head.markDone()
      if (!head.discard) head.complete(this)
      this.pump()
      this.notifyIdle()
    }
  }

  private desync(message: string, state: string, messageName: string): void {
    this.breakWith(new PgError({ reason: new ProtocolDesync({ message, messageName, state }) }))
  }

  private closedByPeer(): void {
    if (this.closedWith !== undefined) return
    const finished = this.decoder.finish()
    const reason = this.unsolicited ??
      (this.pending !== undefined
        ? new ProtocolError({ message: `the stream ended inside a message (${this.pendingLength} bytes received)` })
        : finished._tag === "Failure"
        ? finished.failure
        : new ConnectionError({ message: "the server closed the connection", requestSent: this.head !== undefined }))
    this.breakWith(new PgError({ reason }))
  }

  /** The one break path: the socket is destroyed, and every request waiting fails with `error`. */
  breakWith(error: PgError, destroy = true): void {
    if (this.closedWith !== undefined) return
    this.closedWith = error
    if (destroy) this.socket.destroy()
    const waiting = this.head === undefined ? this.queue.splice(0) : [this.head, ...this.queue.splice(0)]
    this.head = undefined
    for (const request of waiting) {
      request.markDone()
      if (!request.discard) request.fail(error)
    }
    for (const f of this.closeCallbacks.splice(0)) f()
    this.notifyIdle()
  }

  /** Terminate, then close: the server rolls back what is open. */
  terminate(): void {
    if (this.closedWith !== undefined) return
    this.socket.write(encoder.encode("X"))
    this.socket.end()
    this.breakWith(new PgError({ reason: new ConnectionError({ message: "the session is closed", requestSent: false }) }), false)
  }
}
