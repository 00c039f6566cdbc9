/**
 * The session's imperative core: one socket, one Framer, one reader callback,
 * the FIFO of in-flight requests, the queue of requests not yet written, and
 * the side channels for asynchronous messages.
 *
 * **Details**
 *
 * - Write order equals reply order. A request is written once (all its frames
 *   at once, ending in Sync or Flush) and appended to the in-flight FIFO; every
 *   backend message goes to the head of that FIFO and nowhere else, so no row
 *   can reach another request. The head leaves the FIFO on its ReadyForQuery.
 * - Every message is judged by `State.step` against the head's phase before
 *   any handler runs. An unexpected message breaks the session with a
 *   `ProtocolDesync` naming the message and the phase.
 * - Reading never waits for writing: bytes are read whenever they arrive and
 *   handed to the Framer, while writes are batched into one socket write per
 *   microtask, so a pipeline of any size cannot deadlock on full TCP buffers.
 * - Some requests hold the wire (`exclusive`: a portal being paged, a COPY):
 *   later requests stay queued until it lets go. A cancel in progress also
 *   holds the wire (see `Cancel`): nothing new is written until the cancelled
 *   request has reached ReadyForQuery and the cancel connection has closed.
 * - `breakWith` is the one break path: the state becomes `Broken`, every
 *   queued and in-flight request fails with the reason, the socket is
 *   destroyed, and the owner is told. The reasons, and what each request
 *   left behind fails with, are in `Breaks`.
 * - The reader handles rows, COPY data and CommandComplete itself; every other
 *   message it has judged goes to its request's hook or to the owner through
 *   `Dispatch`.
 *
 * This module runs no Effects: it is called from socket callbacks and from
 * the Effect API in `Session`, which owns scoping, interruption and timers.
 *
 * @since 0.1.0
 */
import type * as Net from "node:net"
import type { LentReads } from "../transport/Transport.ts"
import * as ErrorFields from "../protocol/ErrorFields.ts"
import * as Backend from "../protocol/Backend.ts"
import * as Frontend from "../protocol/Frontend.ts"
import { PgError, type ServerError } from "../errors/PgError.ts"
import { Backend as Code } from "../wire/Codes.ts"
import { Framer } from "../wire/Framer.ts"
import { Reader, view } from "../wire/Reader.ts"
import { Writer } from "../wire/Writer.ts"
import { closedByServer, closedError, desyncError, failLeft, internalError, socketError } from "./Breaks.ts"
import { asynchronous, deliver } from "./Dispatch.ts"
import { asPgError, isTypedFailure, type Notice } from "./Result.ts"
import * as State from "./State.ts"

import { Request } from "./Request.ts"
import { Fifo } from "./Fifo.ts"
import { Tracer } from "./Tracer.ts"

export { Request } from "./Request.ts"



/**
 * Callbacks from the connection to its owner.
 *
 * @since 0.1.0
 */
export interface ConnectionHooks {
  readonly onNotice: (notice: Notice) => void
  readonly onNotification: (processId: number, channel: string, payload: string) => void
  readonly onParameterStatus: (name: string, value: string) => void
  /** The session broke or closed; called once. */
  readonly onClose: (error: PgError | undefined) => void
  /** Nothing is in flight, pending or holding the wire any more (after a reply or a released hold). */
  readonly onIdle: () => void
}

/**
 * @since 0.1.0
 */
export interface ConnectionOptions {
  readonly maxMessageSize?: number | undefined
  /** Requests written and not yet answered, at most. */
  readonly maxPipelineDepth?: number | undefined
  /** Receives a PQtrace-style line for every message sent and received (see `Trace`). */
  readonly trace?: ((line: string) => void) | undefined
}


/** Requests in flight at most, by default: deep enough to keep a server busy, shallow enough to bound memory. */
export const DEFAULT_MAX_PIPELINE_DEPTH = 1024

/** Receive-side bytes buffered by a slow consumer before reading pauses. */
export const READ_PAUSE_HIGH_WATER_BYTES = 4 * 1024 * 1024



/**
 * @since 0.1.0
 */
export class Connection {
  state: State.SessionState = State.Connecting
  readonly writer = new Writer()
  private readonly reader = new Reader()
  private readonly framer: Framer
  private socket: Net.Socket | undefined = undefined
  private readonly hooks: ConnectionHooks
  readonly maxPipelineDepth: number
  /**
   * A full pipeline is refilled once it has drained to this many requests in
   * flight, not one request per answer: the queued requests then go out in a
   * few large writes instead of one small write per socket read.
   */
  private readonly refillAt: number

  /** In-flight requests: `inflight[head..]`. */
  private inflight: Array<Request> = []
  private head = 0
  /** Requests not yet written, in submission order. */
  private readonly pending = new Fifo<Request>()
  /** The request holding the wire, if any. */
  private exclusiveOwner: Request | undefined = undefined
  /** Write holds (cancels in progress). */
  private holds = 0
  private flushScheduled = false
  private paused = false
  /** Bytes parked by consumers that asked reading to pause. */
  private readonly pauseReasons = new Set<object>()
  /** The request to tell when the chunk being handled is done (`atChunkEnd`). */
  private chunkEndRequest: Request | undefined = undefined
  /**
   * Called when a request whose caller went away (`discard`) becomes the head of the pipeline while it is still
   * running: it was behind others when it was abandoned, so it could not be cancelled then (see `Interruption`).
   */
  onDiscardedHead: ((request: Request) => void) | undefined = undefined
  /** When bytes last arrived from the server, and when bytes last went out (`Date.now()`; see `Liveness`). */
  lastReceivedAt = 0
  lastSentAt = 0

  /** Transaction status from the last ReadyForQuery. */
  transactionStatus: Backend.TransactionStatus = "I"
  /** Server parameters (ParameterStatus), kept current for the whole session. */
  readonly parameters = new Map<string, string>()
  processId = 0
  secretKey: Uint8Array = new Uint8Array(0)
  /** Negotiated protocol minor version (3.x). */
  protocolMinor = 2
  /** A FATAL error the server sent before closing; becomes the break reason. */
  private fatal: ServerError | undefined = undefined
  /** Set once the socket is gone. */
  private closedWith: PgError | undefined | null = null
  private readonly tracer: Tracer | undefined

  constructor(hooks: ConnectionHooks, options: ConnectionOptions = {}) {
    this.hooks = hooks
    this.framer = new Framer({ maxMessageSize: options.maxMessageSize })
    this.maxPipelineDepth = options.maxPipelineDepth ?? DEFAULT_MAX_PIPELINE_DEPTH
    this.refillAt = Math.floor(this.maxPipelineDepth / 2)
    this.tracer = options.trace === undefined ? undefined : new Tracer(options.trace)
  }

  // -------------------------------------------------------------------------
  // Socket
  // -------------------------------------------------------------------------

  /** Takes ownership of an open socket and starts reading (through `reads` when the socket lends its reads). */
  attach(socket: Net.Socket, reads?: LentReads): void {
    this.socket = socket
    this.state = State.Startup
    if (reads !== undefined) reads.onBytes = this.onLent
    else socket.on("data", this.onData)
    socket.on("error", this.onSocketError)
    socket.on("close", this.onSocketClose)
    socket.on("drain", this.onDrain)
    if (socket.isPaused()) socket.resume()
  }

  /** Whether the bytes being framed are lent (the socket's next read overwrites them). */
  private lending = false
  /** Whether a request keeps views of the bytes it receives past the read that brought them (see `keepViews`). */
  private keepingViews = false

  /**
   * Bytes read through the socket's stream (TLS, or a socket opened for TLS). Framed as a plain Uint8Array, as lent
   * bytes are: handlers that keep bytes copy them with `slice`, which on a Buffer would make a view.
   */
  private readonly onData = (chunk: Buffer): void =>
    this.receive(view(chunk, 0, chunk.length), false)

  /**
   * Bytes the socket lends: framed where they are, which every handler allows (they decode or copy what they
   * keep), except while a request keeps views: then they are copied first.
   */
  private readonly onLent = (bytes: Uint8Array, length: number): void =>
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
      if (isTypedFailure(e)) {
        this.breakWith(asPgError(e))
      } else {
        // A bug of ours while reading: the request being answered dies with it, the others learn that the
        // session stopped.
        const head = this.inflight[this.head]
        if (head !== undefined) head.defect = { value: e }
        this.breakWith(internalError(e))
      }
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

  private readonly onSocketError = (cause: Error): void => {
    this.breakWith(socketError(cause))
  }

  private readonly onSocketClose = (): void => {
    if (this.state._tag === "Closing" || this.state._tag === "Closed") {
      this.finish(undefined)
      return
    }
    this.breakWith(closedByServer(this.fatal))
  }

  private drainWaiters: Array<() => void> = []
  private readonly onDrain = (): void => {
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

  /** Number of requests written and not yet answered. */
  get inflightCount(): number {
    return this.inflight.length - this.head
  }

  /** The request whose replies are being read. */
  get current(): Request | undefined {
    return this.inflight[this.head]
  }

  /** Whether nothing is queued, in flight, or holding the wire. */
  get idle(): boolean {
    return this.inflightCount === 0 && this.pending.length === 0 && this.holds === 0
  }

  /** Whether `request` is in flight (written, not answered). */
  isInflight(request: Request): boolean {
    for (let i = this.head; i < this.inflight.length; i++) if (this.inflight[i] === request) return true
    return false
  }

  /** The requests in flight, head first (a copy). */
  inflightRequests(): ReadonlyArray<Request> {
    return this.inflight.slice(this.head)
  }

  /** Whether `request` is the last request written (nothing was written after it). */
  isLastWritten(request: Request): boolean {
    return this.inflight.length > this.head && this.inflight[this.inflight.length - 1] === request
  }

  /**
   * Submits a request: written now if the wire is free, else queued.
   * A session that is broken or closed fails it at once.
   */
  submit(request: Request): void {
    if (!State.acceptsRequests(this.state)) {
      request.done = true
      request.fail(closedError(this.closedWith))
      return
    }
    if (this.pending.length > 0 || !this.canWrite()) {
      this.pending.push(request)
      return
    }
    this.write(request)
  }

  /**
   * Submits a request ahead of every queued one (a re-run after a stale
   * statement or a stray cancel keeps its place in line).
   */
  submitFirst(request: Request): void {
    if (!State.acceptsRequests(this.state)) {
      request.done = true
      request.fail(closedError(this.closedWith))
      return
    }
    if (this.canWrite()) this.write(request)
    else this.pending.unshift(request)
  }

  /** Removes a request that was never written. Returns false if it was already written. */
  withdraw(request: Request): boolean {
    if (request.written) return false
    this.pending.remove(request)
    if (this.idle) this.hooks.onIdle()
    return true
  }

  private canWrite(): boolean {
    return this.exclusiveOwner === undefined && this.holds === 0 && this.inflightCount < this.maxPipelineDepth &&
      this.socket !== undefined
  }

  private write(request: Request): void {
    const mark = this.writer.mark()
    try {
      request.encode(this.writer, this)
    } catch (e) {
      this.writer.truncate(mark)
      request.done = true
      if (!isTypedFailure(e)) request.defect = { value: e }
      request.fail(asPgError(e))
      if (this.idle) this.hooks.onIdle()
      return
    }
    request.written = true
    if (request.exclusive) this.exclusiveOwner = request
    this.inflight.push(request)
    if (this.state._tag === "Ready") this.state = State.Busy
    this.scheduleFlush()
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

  /** The exclusive owner lets go of the wire: queued requests may be written. */
  release(request: Request): void {
    if (this.exclusiveOwner === request) {
      this.exclusiveOwner = undefined
      this.pump()
    }
  }

  /** Holds the wire (a cancel is in progress). */
  hold(): void {
    this.holds++
  }

  unhold(): void {
    if (this.holds > 0) this.holds--
    this.pump()
    if (this.idle) this.hooks.onIdle()
  }

  private pump(): void {
    while (this.pending.length > 0 && this.canWrite() && State.acceptsRequests(this.state)) {
      this.write(this.pending.shift()!)
    }
  }

  private scheduleFlush(): void {
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
  // Reading
  // -------------------------------------------------------------------------

  private readonly onFrame = (type: number, buf: Uint8Array, start: number, end: number): void => {
    this.tracer?.received(type, buf, start, end)
    const request = this.inflight[this.head]
    // The hot path: rows of the current result.
    if (type === Code.DataRow) {
      if (request !== undefined && State.step(request.phase, "DataRow") === "Stay") {
        if (!request.discard && request.clientError === undefined && request.defect === undefined) {
          try {
            request.onDataRow(buf, start, end)
          } catch (e) {
            // A bug of ours (not a typed failure): the caller's Effect dies with it once the request is answered;
            // the rest of its rows are read and dropped, and the session stays usable.
            if (!isTypedFailure(e)) {
              request.defect = { value: e }
              return
            }
            const error = asPgError(e)
            // A row whose framing is wrong (a column length past the frame, a wrong column count): the bytes
            // from the server can no longer be trusted, so the session breaks. A value its codec refuses
            // (CodecError) fails only its request.
            if (error.reason._tag === "ProtocolError") return this.breakWith(error)
            request.clientError = error
          }
        }
        return
      }
      return this.desync("DataRow", request)
    }
    if (type === Code.CopyData) {
      if (request !== undefined && State.step(request.phase, "CopyData") === "Stay") {
        if (!request.discard) request.onCopyData(buf, start, end)
        return
      }
      return this.desync("CopyData", request)
    }
    const event = State.EVENTS[type]
    if (event === undefined) return asynchronous(this, this.hooks, this.reader, type, buf, start, end, request)
    if (request === undefined) {
      return type === Code.ErrorResponse ? this.errorWhileIdle(buf, start, end) : this.desync(State.messageName(type), undefined)
    }
    const outcome = State.step(request.phase, event)
    if (outcome === "Desync") return this.desync(State.messageName(type), request)
    if (type === Code.CommandComplete) {
      // Once per statement: the tag goes to the request without a message object.
      const tag = this.reader.reset(buf, start, end, "CommandComplete").cstring()
      this.reader.done()
      request.onCommandComplete(tag)
      if (outcome === "Advance" && !request.done) State.advance(request, event)
      return
    }
    const message = Backend.readUnsafe(type, buf, start, end, this.reader)
    switch (outcome) {
      case "Stay":
      case "Advance":
        deliver(this, request, message)
        if (outcome === "Advance" && !request.done) State.advance(request, event)
        return
      case "Copy": {
        State.enterCopy(request, event as "CopyInResponse" | "CopyOutResponse" | "CopyBothResponse")
        deliver(this, request, message)
        return
      }
      case "Skip": {
        const error = ErrorFields.toServerError((message as Backend.ErrorResponse).fields)
        if (error.severity === "FATAL" || error.severity === "PANIC") this.fatal = error
        State.skip(request)
        request.onServerError(this, error)
        return
      }
      case "Complete": {
        const status = (message as Backend.ReadyForQuery).transactionStatus
        this.transactionStatus = status
        this.inflight[this.head] = undefined as unknown as Request
        this.head++
        if (this.head === this.inflight.length) {
          this.inflight = []
          this.head = 0
          if (this.state._tag === "Busy" || this.state._tag === "Startup") this.state = State.Ready
        } else if (this.head > 1024 && this.head * 2 > this.inflight.length) {
          this.inflight = this.inflight.slice(this.head)
          this.head = 0
        }
        request.done = true
        if (this.exclusiveOwner === request) this.exclusiveOwner = undefined
        request.complete(this, status)
        request.onSettled?.()
        const next = this.inflight[this.head]
        if (next !== undefined && next.discard && !next.done) this.onDiscardedHead?.(next)
        if (this.pending.length > 0 && this.inflightCount <= this.refillAt) this.pump()
        else if (this.idle) this.hooks.onIdle()
        return
      }
    }
  }

  /**
   * An ErrorResponse while no request is in flight. A FATAL or PANIC one may come at any time (protocol-3.2
   * "Termination": `pg_terminate_backend`, `idle_session_timeout`, shutdown): the session ends with the server's
   * error, so whatever waits (a listener, the next caller) gets its SQLSTATE. Any other is a desync.
   */
  private errorWhileIdle(buf: Uint8Array, start: number, end: number): void {
    const message = Backend.readUnsafe(Code.ErrorResponse, buf, start, end, this.reader) as Backend.ErrorResponse
    const error = ErrorFields.toServerError(message.fields)
    if (error.severity !== "FATAL" && error.severity !== "PANIC") return this.desync("ErrorResponse", undefined)
    this.fatal = error
    this.breakWith(new PgError({ reason: error }))
  }

  private desync(messageName: string, request: Request | undefined): void {
    this.breakWith(desyncError(messageName, request))
  }

  // -------------------------------------------------------------------------
  // Closing and breaking
  // -------------------------------------------------------------------------

  /** Whether the session has broken or closed. */
  get isClosed(): boolean {
    return this.closedWith !== null
  }

  /**
   * The one break path: fail everything, destroy the socket, tell the owner.
   * Idempotent.
   */
  breakWith(error: PgError): void {
    if (this.closedWith !== null) return
    this.state = { _tag: "Broken", reason: error.message }
    this.finish(error)
  }

  /** Sends Terminate and closes the socket; pending and in-flight requests fail. */
  terminate(): void {
    if (this.closedWith !== null) return
    this.state = State.Closing
    const socket = this.socket
    if (socket !== undefined && !socket.destroyed) {
      this.writer.bytes(Frontend.TERMINATE)
      this.flush()
      socket.end()
    }
    this.finish(undefined)
  }

  private finish(error: PgError | undefined): void {
    if (this.closedWith !== null) return
    this.closedWith = error
    if (error === undefined) this.state = State.Closed
    const inflight = this.inflight.slice(this.head)
    const pending = this.pending.drain()
    this.inflight = []
    this.head = 0
    this.exclusiveOwner = undefined
    failLeft(inflight, pending, error)
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
    this.hooks.onClose(error)
  }
}

/** After Terminate, how long the socket may take to close cleanly before it is destroyed. */
export const SOCKET_END_GRACE_MILLIS = 1000
