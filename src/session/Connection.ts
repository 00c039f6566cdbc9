/**
 * The session's imperative core: one reader callback, the FIFO of in-flight
 * requests, the queue of requests not yet written, and the side channels for
 * asynchronous messages, over the bytes of one socket (`SocketIo`).
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
 * - Reading never waits for writing (see `SocketIo`): a pipeline of any size
 *   cannot deadlock on full TCP buffers.
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
import { Reader } from "../wire/Reader.ts"
import { closedByServer, closedError, desyncError, failLeft, internalError, socketError } from "./Breaks.ts"
import { asynchronous, deliver } from "./Dispatch.ts"
import { asPgError, isTypedFailure, type Notice } from "./Result.ts"
import { SocketIo } from "./SocketIo.ts"
import * as State from "./State.ts"

import { Request } from "./Request.ts"
import { Fifo } from "./Fifo.ts"

export { Request } from "./Request.ts"
export { SOCKET_END_GRACE_MILLIS } from "./SocketIo.ts"



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
export class Connection extends SocketIo {
  state: State.SessionState = State.Connecting
  private readonly reader = new Reader()
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
  /**
   * Called when a request whose caller went away (`discard`) becomes the head of the pipeline while it is still
   * running: it was behind others when it was abandoned, so it could not be cancelled then (see `Interruption`).
   */
  onDiscardedHead: ((request: Request) => void) | undefined = undefined

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

  constructor(hooks: ConnectionHooks, options: ConnectionOptions = {}) {
    super(options.maxMessageSize, options.trace)
    this.hooks = hooks
    this.maxPipelineDepth = options.maxPipelineDepth ?? DEFAULT_MAX_PIPELINE_DEPTH
    this.refillAt = Math.floor(this.maxPipelineDepth / 2)
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

  /**
   * Reading a chunk threw. A typed failure breaks the session with its reason; a bug of ours while reading: the
   * request being answered dies with it, the others learn that the session stopped.
   */
  protected readFailed(cause: unknown): void {
    if (isTypedFailure(cause)) {
      this.breakWith(asPgError(cause))
    } else {
      const head = this.inflight[this.head]
      if (head !== undefined) head.defect = { value: cause }
      this.breakWith(internalError(cause))
    }
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

  // -------------------------------------------------------------------------
  // Submitting
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

  // -------------------------------------------------------------------------
  // Reading
  // -------------------------------------------------------------------------

  protected readonly onFrame = (type: number, buf: Uint8Array, start: number, end: number): void => {
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
    this.letGo(error)
    this.hooks.onClose(error)
  }
}

