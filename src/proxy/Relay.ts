/**
 * One client of the proxy: its frames routed to the upstream it holds, the
 * upstream's frames relayed back as bytes, and the accounting that says when
 * the upstream may go back to the pool.
 *
 * **Details**
 *
 * - Every message written upstream that the server answers, and every reply
 *   the proxy makes itself, leaves an entry in a queue (`Outstanding.ts`,
 *   entries in `Replies.ts`); each upstream frame is judged against the head
 *   entry, which is popped when its last frame arrives, and the proxy's own
 *   replies go out when they reach the head (`Outbound.ts` writes them).
 * - After an ErrorResponse in the extended protocol the server skips to Sync
 *   (protocol-3.2 "Extended Query"): the entries up to the next Sync entry go
 *   with it (a Parse among them is forgotten), and, when the client has not
 *   sent that Sync yet, its messages are dropped until it does.
 * - When a client takes an upstream and gives it back is `Lending.ts`; a
 *   statement that leaves state in the backend (`SessionCommands.ts`) pins the
 *   client to its upstream for the rest of its session. Named statements are
 *   translated by `Prepared.ts`.
 * - On each new upstream the client's parameters that differ are set with one
 *   `set_config` query (`Parameters.ts`); the ParameterStatus it causes is
 *   relayed.
 * - A CancelRequest with the client's key reaches the upstream only while the
 *   client has something outstanding there (a statement still waiting for an
 *   upstream is answered 57014 by the proxy), and the upstream is not returned
 *   until the cancel connection has closed, so a cancel never reaches another
 *   client's statement (PgBouncer #717).
 * - When the upstream fails, every answer the client is owed becomes an
 *   ErrorResponse 08006 (and its ReadyForQuery); a client inside a
 *   transaction, pinned, or in session mode loses state it cannot get back
 *   and is closed with FATAL 08006.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { PgError } from "../errors/PgError.ts"
import * as ErrorFields from "../protocol/ErrorFields.ts"
import * as Backend from "../protocol/Backend.ts"
import * as ServerError from "../server/ServerError.ts"
import type { Takeover } from "../server/Options.ts"
import type { Wire } from "../server/Wire.ts"
import { Backend as Code, Frontend as In } from "../wire/Codes.ts"
import type { Context } from "./Context.ts"
import { Inbox } from "./Inbox.ts"
import * as Lending from "./Lending.ts"
import { Outbound } from "./Outbound.ts"
import { Outstanding } from "./Outstanding.ts"
import * as Parameters from "./Parameters.ts"
import * as Prepared from "./Prepared.ts"
import { type Entry, errorFrame, judge, Kind, lostError, reader, readyFrame, severityOf, SHARED, Verdict } from "./Replies.ts"
import * as SessionCommands from "./SessionCommands.ts"
import type { ClientStatement } from "./Statements.ts"
import type { Upstream } from "./Upstream.ts"

let nextClientId = 1

/** A Sync sent after the client ended a COPY early: answered by the server, never one it ignored in COPY mode. */
const SYNC_AFTER_COPY: Entry = Object.freeze({ kind: Kind.Sync, afterCopy: true })

/**
 * @since 0.1.0
 */
export class Relay implements SessionCommands.Host, Lending.LoanState {
  readonly id = nextClientId++
  readonly wire: Wire
  readonly info: Takeover["info"]
  readonly processId: number
  readonly connectedAt = Date.now()
  readonly #ctx: Context
  readonly #out: Outbound
  readonly #inbox: Inbox
  upstream: Upstream | undefined = undefined
  readonly #owed = new Outstanding()
  /** Client messages are dropped until Sync (an error in this extended batch). */
  #discarding = false
  /** The upstream skips to Sync after an error the client's Sync has not answered yet. */
  #upstreamSkipping = false
  #copyIn = false
  /**
   * The client ended a COPY (CopyDone, CopyFail) before the server's CopyInResponse reached the proxy: a client may
   * send its data right behind the statement (pgx's CopyFrom does), and the server reads it once in COPY mode.
   */
  #copyEndedEarly = false
  /** Extended-protocol messages went upstream since the last Sync (see `Lending.isClean`). */
  #unsynced = false
  /** The message that needed an upstream could not get one: answered without it. */
  #refusedQuery = false
  /** Why the client keeps its upstream (transaction mode), if it must. */
  pinned: string | undefined = undefined
  /** The client's prepared statements by its own names. */
  readonly statements = new Map<string, ClientStatement>()
  readonly unnamed: Prepared.Unnamed = { rest: undefined, here: false }
  /** The client's session parameters, replayed on each upstream. */
  readonly parameters: Parameters.ClientParameters
  #cancels = 0
  #closed = false
  #withdraw: (() => void) | undefined = undefined
  /** Whether the client is waiting for an upstream (admin). */
  waiting = false
  transactions = 0
  queries = 0
  /** Called once the client is done. */
  onDone: (() => void) | undefined = undefined

  constructor(takeover: Takeover, ctx: Context) {
    this.wire = takeover.wire
    this.info = takeover.info
    this.processId = takeover.processId
    this.#ctx = ctx
    this.#inbox = new Inbox(takeover.wire.socket, {
      needsUpstream: (type, body) =>
        this.upstream === undefined && !this.#discarding && !this.#closed &&
        Lending.needsUpstream(type, body, ctx.pool.canLendNow),
      handle: (type, body) => this.handle(type, body),
      acquire: () => this.#acquire(),
      close: () => this.close(),
      closed: () => this.#closed
    })
    this.#out = new Outbound(takeover.wire.socket, () => this.upstream, (bytes) => {
      ctx.totals.sent += bytes
    })
    this.parameters = new Parameters.ClientParameters(ctx.pool.serverParameters, takeover.info.parameters, ctx.pool.reportedParameters)
    this.tracked = this.parameters.tracked
    takeover.onCancel(() => this.cancel())
  }

  // Lending.LoanState
  get settled(): boolean { return this.#owed.empty }
  /** The client's transaction status: its upstream's, idle without one. */
  get status(): "I" | "T" | "E" { return this.upstream?.status ?? "I" }
  get copyIn(): boolean { return this.#copyIn }
  get unsynced(): boolean { return this.#unsynced }
  get upstreamSkipping(): boolean { return this.#upstreamSkipping }
  get cancels(): number { return this.#cancels }

  /** Starts reading the client's frames. */
  start(): void {
    this.wire.divert(this.#inbox.onFrame, () => this.close())
  }

  // ---------------------------------------------------------------------------
  // Taking an upstream
  // ---------------------------------------------------------------------------

  /** Waits in the pool's queue for an upstream, then handles the frames that waited. */
  #acquire(): void {
    this.waiting = true
    this.#withdraw = this.#ctx.pool.acquire(this.#acquired)
  }

  readonly #acquired = (result: Upstream | PgError): void => {
    this.waiting = false
    this.#withdraw = undefined
    if (this.#closed) {
      if (!("reason" in result)) this.#ctx.pool.release(result)
      return
    }
    if ("reason" in result) {
      this.#refuse(ServerError.make(
        result.reason._tag === "TimeoutError" ? "53300" : "08006",
        `no upstream connection: ${result.reason.message}`
      ))
    } else {
      this.#attach(result)
    }
    this.#inbox.linked()
  }

  /** The message that needed an upstream is answered without one, with `error` (see `handle`). */
  #refuse(error: ServerError.ServerError): void {
    this.#out.emit(errorFrame(error))
    this.#discarding = true
    this.#refusedQuery = true
    this.#out.scheduleFlush()
  }

  #attach(upstream: Upstream): void {
    this.upstream = upstream
    upstream.sink = this.#onFrame
    upstream.chunkEnd = this.#out.flush
    upstream.onLost = this.#onLost
    upstream.onWriteFull = this.#upstreamFull
    this.#unsynced = false
    this.unnamed.here = false
    const sql = this.parameters.queryFor(upstream)
    if (sql === undefined) return
    this.#ctx.totals.parameterSets++
    upstream.writer.begin(In.Query).cstring(sql).end()
    upstream.scheduleFlush()
    this.#owed.push(SHARED.QueryHidden)
  }

  // ---------------------------------------------------------------------------
  // Client side
  // ---------------------------------------------------------------------------

  /** Handles one client message. Returns false when the client is done (Terminate, a FATAL). */
  handle(type: number, body: Uint8Array): boolean {
    this.#ctx.totals.received += body.length + 5
    if (this.#refusedQuery) {
      // The message that could not get an upstream: a Query is answered now, an extended batch at its Sync.
      this.#refusedQuery = false
      if (type === In.Query) {
        this.#discarding = false
        this.reply({ kind: Kind.Synthetic, bytes: readyFrame(this.status), ready: true })
        return true
      }
    }
    if (type === In.Terminate) return false
    if (this.#discarding && type !== In.Sync) return true
    switch (type) {
      case In.Query:
        SessionCommands.query(this, body)
        return true
      case In.Parse:
        Prepared.parse(this, body)
        return this.#extended()
      case In.Bind:
        Prepared.bind(this, body)
        return this.#extended()
      case In.Describe:
        Prepared.describe(this, body)
        return this.#extended()
      case In.Close:
        Prepared.close(this, body)
        return this.#extended()
      case In.Execute:
        this.forward(type, body, SHARED.Execute)
        return this.#extended()
      case In.Sync:
        this.#sync(body)
        return true
      case In.Flush:
        if (this.upstream !== undefined) this.forward(type, body, undefined)
        else this.#out.scheduleFlush()
        return true
      case In.FunctionCall:
        this.forward(type, body, SHARED.FunctionCall)
        return true
      case In.CopyData:
      case In.CopyDone:
      case In.CopyFail:
        // Relayed in order whenever the client holds an upstream: the server takes them in COPY mode, also when they
        // came before its CopyInResponse, and drops them otherwise (protocol-3.2 "COPY Operations").
        if (this.upstream === undefined) return true
        if (type !== In.CopyData) {
          if (this.#copyIn) this.#copyIn = false
          else if (!this.#owed.empty) this.#copyEndedEarly = true
        }
        this.forward(type, body, undefined)
        return true
      default:
        this.#out.emit(errorFrame(ServerError.protocolViolation(`invalid frontend message type ${type}`)))
        this.#out.scheduleFlush()
        return false
    }
  }

  /** An extended-protocol message was handled: with an upstream held, the server's implicit transaction waits for Sync. */
  #extended(): boolean {
    if (this.upstream !== undefined) this.#unsynced = true
    return true
  }

  // SessionCommands.Host
  get mode(): "session" | "transaction" { return this.#ctx.mode }
  readonly countQuery = (): void => {
    this.queries++
    this.#ctx.totals.queries++
  }
  readonly unpin = (): void => {
    this.pinned = undefined
  }

  /** Whether the proxy follows parameter `name` for this client (`Parameters.ClientParameters`). */
  readonly tracked: (name: string) => boolean

  pin(why: string): void {
    this.pinned ??= why
  }

  #sync(body: Uint8Array): void {
    this.#discarding = false
    if (this.#copyIn && this.upstream !== undefined) {
      // protocol-3.2 "COPY Operations": Sync during COPY FROM STDIN is ignored by the server.
      this.forward(In.Sync, body, undefined)
      return
    }
    this.#upstreamSkipping = false
    this.#unsynced = false
    if (this.upstream === undefined) {
      this.reply({ kind: Kind.Synthetic, bytes: readyFrame("I"), ready: true })
      return
    }
    this.forward(In.Sync, body, this.#copyEndedEarly ? SYNC_AFTER_COPY : SHARED.Sync)
  }

  /** A reply of the proxy's own (an error): the rest of the batch is dropped until Sync. */
  readonly fail = (error: ServerError.ServerError): void => {
    this.reply({ kind: Kind.Synthetic, bytes: errorFrame(error) })
    this.#discarding = true
  }

  forward(type: number, body: Uint8Array, entry: Entry | undefined): void {
    const upstream = this.upstream
    if (upstream === undefined) return
    upstream.writer.begin(type).bytes(body).end()
    upstream.scheduleFlush()
    if (entry !== undefined) this.#owed.push(entry)
  }

  /** Records what a message written upstream is owed. */
  expect(entry: Entry): void {
    this.#owed.push(entry)
  }

  /** Queues a reply of the proxy's own: sent now when nothing is outstanding before it. */
  reply(entry: Entry): void {
    this.#owed.push(entry)
    this.#advance()
  }

  // ---------------------------------------------------------------------------
  // Upstream side
  // ---------------------------------------------------------------------------

  readonly #onFrame = (type: number, buf: Uint8Array, start: number, end: number): void => {
    const entry = this.#owed.head
    switch (type) {
      case Code.ParameterStatus:
        this.parameters.reportedBy(buf, start, end)
        return this.#out.relay(type, buf, start, end)
      case Code.NoticeResponse:
      case Code.NotificationResponse:
        if (entry?.kind === Kind.QueryHidden) return
        return this.#out.relay(type, buf, start, end)
      case Code.ErrorResponse:
        return this.#error(entry, type, buf, start, end)
      case Code.ReadyForQuery:
        return this.#ready(entry, type, buf, start, end)
    }
    if (entry === undefined) return this.#desync(type)
    switch (judge(entry, type)) {
      case Verdict.Relay:
        if (type === Code.CopyInResponse) this.#enterCopyIn(entry)
        else if (type === Code.CommandComplete && (entry.discardAll === true || entry.resetAll === true)) SessionCommands.reset(this, buf, start, end)
        return this.#out.relay(type, buf, start, end)
      case Verdict.RelayLast:
        this.#owed.pop()
        this.#out.relay(type, buf, start, end)
        return this.#advance(false, true)
      case Verdict.DropLast:
        this.#owed.pop()
        return this.#advance(false, true)
      case Verdict.Drop:
        return
      case Verdict.Desync:
        return this.#desync(type)
    }
  }

  /** COPY FROM STDIN began: after an Execute, a Sync the client sent behind it was read (and ignored) by the server in COPY mode. */
  #enterCopyIn(entry: Entry): void {
    if (this.#copyEndedEarly) this.#copyEndedEarly = false
    else this.#copyIn = true
    if (entry.kind === Kind.Execute) this.#owed.dropSyncsBehindHead()
  }

  #error(entry: Entry | undefined, type: number, buf: Uint8Array, start: number, end: number): void {
    // A FATAL (protocol-3.2 "Termination": pg_terminate_backend, shutdown) ends the upstream, not the client: the
    // upstream is lost with the server's reason, and the client is told as for any lost upstream.
    const severity = severityOf(buf, start, end)
    if (entry === undefined || severity === "FATAL" || severity === "PANIC") {
      const upstream = this.upstream
      const message = Backend.readUnsafe(type, buf, start, end, reader) as Backend.ErrorResponse
      const error = ErrorFields.toServerError(message.fields)
      if (upstream === undefined || (error.severity !== "FATAL" && error.severity !== "PANIC")) return this.#desync(type)
      return upstream.fail(new PgError({ reason: error }))
    }
    if (entry.kind === Kind.Query || entry.kind === Kind.FunctionCall) return this.#out.relay(type, buf, start, end)
    if (entry.kind === Kind.QueryHidden) return this.#parametersRefused(type, buf, start, end)
    this.#copyIn = false
    this.#copyEndedEarly = false
    // Extended protocol: the server skips to Sync; so do the replies expected before it.
    this.#owed.skipToSync(this.#forgetSkipped)
    if (this.#owed.empty) {
      // The client's Sync has not come yet: its messages until then are dropped, as the server would.
      this.#discarding = true
      this.#upstreamSkipping = true
    }
    this.#out.relay(type, buf, start, end)
  }

  readonly #forgetSkipped = (skipped: Entry): void => Prepared.forgetSkipped(this, skipped)

  /**
   * The upstream refused the client's parameters (an unknown name or a bad value from start-up or `options`): the
   * client cannot have the session it asked for, and is closed with the server's error, as a server would at start-up.
   */
  #parametersRefused(type: number, buf: Uint8Array, start: number, end: number): void {
    const message = Backend.readUnsafe(type, buf, start, end, reader) as Backend.ErrorResponse
    const error = ErrorFields.toServerError(message.fields)
    const upstream = this.upstream
    if (upstream !== undefined) {
      this.#detach(upstream)
      this.#ctx.pool.discard(upstream)
    }
    this.#out.emit(errorFrame(ServerError.make(error.code, `the session parameters could not be set: ${error.message}`, undefined, "FATAL")))
    this.#out.flush()
    this.close()
  }

  #ready(entry: Entry | undefined, type: number, buf: Uint8Array, start: number, end: number): void {
    const upstream = this.upstream
    if (entry === undefined || upstream === undefined) return this.#desync(type)
    if (entry.kind !== Kind.Sync && entry.kind !== Kind.Query && entry.kind !== Kind.QueryHidden && entry.kind !== Kind.FunctionCall) {
      return this.#desync(type)
    }
    const status = buf[start] === 0x54 ? "T" : buf[start] === 0x45 ? "E" : "I"
    upstream.status = status
    this.#copyIn = false
    this.#copyEndedEarly = false
    this.#owed.pop()
    if (entry.kind !== Kind.QueryHidden) {
      this.#out.relay(type, buf, start, end)
      if (status === "I") {
        this.transactions++
        this.#ctx.totals.transactions++
      }
    }
    this.#advance(true, true)
  }

  /**
   * Sends the proxy's own replies at the head; after a ReadyForQuery (`ready`,
   * or one of them) returns the upstream if the lending rule allows. Inside an
   * upstream read (`reading`) the flush is the read's end (`chunkEnd`), or the
   * return of the upstream: no microtask is scheduled for it.
   */
  #advance(ready = false, reading = false): void {
    let entry = this.#owed.head
    while (entry !== undefined && entry.kind === Kind.Synthetic) {
      this.#out.emit(entry.bytes!)
      if (entry.ready === true) ready = true
      this.#owed.pop()
      entry = this.#owed.head
    }
    if (!reading) this.#out.scheduleFlush()
    if (ready) this.#maybeRelease()
  }

  #maybeRelease(): void {
    const upstream = this.upstream
    if (upstream === undefined || !Lending.mayReturn(this.#ctx.mode, this)) return
    // The upstream goes to the next holder first (its waiting statement is written at once), then this client's
    // reply: the server starts on the next statement one socket write sooner. `#detach` copies the reply's frames
    // out of the read buffer before the next holder's frames can reuse it; the read's `chunkEnd` is the next
    // holder's from here, so this client's reply is written now.
    this.#detach(upstream)
    this.#ctx.pool.release(upstream)
    this.#out.flush()
  }

  /** The upstream's socket buffer is full: the client is read again once it drains (a COPY faster than the server). */
  readonly #upstreamFull = (): void => {
    const upstream = this.upstream
    if (upstream === undefined || !this.#inbox.hold()) return
    upstream.socket.once("drain", () => {
      if (this.upstream === upstream) this.#inbox.unhold()
    })
  }

  #detach(upstream: Upstream): void {
    // Frames relayed from the read in progress are copied before another holder's frames reuse its buffer.
    this.#out.seal()
    upstream.sink = undefined
    upstream.chunkEnd = undefined
    upstream.onLost = undefined
    upstream.onWriteFull = undefined
    this.#inbox.unhold()
    this.upstream = undefined
    if (upstream.socket.isPaused() && this.#out.blocked) upstream.socket.resume()
  }

  /** The upstream did something the accounting does not allow: both connections are closed. */
  #desync(type: number): void {
    const upstream = this.upstream
    if (upstream !== undefined) {
      this.#detach(upstream)
      this.#ctx.pool.discard(upstream)
    }
    this.#out.emit(errorFrame(ServerError.protocolViolation(`unexpected message '${String.fromCharCode(type)}' from the upstream`)))
    this.#out.flush()
    this.close()
  }

  readonly #onLost = (error: PgError): void => {
    const upstream = this.upstream
    if (upstream === undefined) return
    const inTransaction = upstream.status !== "I"
    this.#detach(upstream)
    const failure = lostError(error)
    if (inTransaction || this.pinned !== undefined || this.#ctx.mode === "session") {
      // The transaction or the session state the client relies on is gone with the upstream.
      this.#out.emit(errorFrame(ServerError.fatal(failure)))
      this.#out.flush()
      this.close()
      return
    }
    const owed = this.#owed.takeOwed(errorFrame(failure))
    for (const bytes of owed.frames) this.#out.emit(bytes)
    this.#copyIn = false
    this.#copyEndedEarly = false
    this.#upstreamSkipping = false
    if (owed.open) this.#discarding = true
    this.#out.flush()
  }

  // ---------------------------------------------------------------------------
  // Cancel and close
  // ---------------------------------------------------------------------------

  /** A CancelRequest with this client's key: sent to the upstream only while the client has something outstanding there. */
  cancel(): void {
    if (this.waiting) {
      // The statement waits for an upstream and has reached no server: it leaves the queue and is answered as a
      // server answers a canceled statement, at once (a psql user's Ctrl-C while the pool is busy).
      const withdraw = this.#withdraw
      this.waiting = false
      this.#withdraw = undefined
      withdraw?.()
      this.#ctx.totals.canceled++
      this.#refuse(ServerError.queryCanceled())
      this.#inbox.linked()
      return
    }
    const upstream = this.upstream
    if (upstream === undefined || this.#owed.empty) {
      this.#ctx.totals.cancelsDropped++
      return
    }
    this.#ctx.totals.canceled++
    this.#cancels++
    this.#ctx.fork(
      upstream.cancel().pipe(
        Effect.ignore,
        Effect.ensuring(Effect.sync(() => {
          this.#cancels--
          if (this.upstream === upstream) this.#maybeRelease()
        }))
      )
    )
  }

  /** The client left (Terminate, closed socket): its upstream goes back if it is clean, else it is closed. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#ctx.clients.delete(this)
    this.#withdraw?.()
    this.#withdraw = undefined
    this.#inbox.clear()
    const upstream = this.upstream
    if (upstream !== undefined) {
      const clean = Lending.isClean(this)
      // What the client sent before it left goes to the server now, not at the end of the microtask (by then a
      // discarded upstream is closed): a direct connection would have run it.
      upstream.flush()
      this.#detach(upstream)
      if (clean) this.#ctx.pool.release(upstream)
      else this.#ctx.pool.discard(upstream)
    }
    this.#owed.clear()
    this.#out.flush()
    this.wire.close()
    const done = this.onDone
    this.onDone = undefined
    done?.()
  }

  get closed(): boolean {
    return this.#closed
  }
}

/**
 * Serves one client over a taken-over connection until it leaves.
 *
 * @since 0.1.0
 */
export const serveClient = (takeover: Takeover, ctx: Context): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const relay = new Relay(takeover, ctx)
    ctx.clients.add(relay)
    relay.onDone = () => resume(Effect.void)
    relay.start()
    return Effect.sync(() => relay.close())
  })
