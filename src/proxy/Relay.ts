/**
 * One client of the proxy: its frames relayed to the upstream it holds, the
 * upstream's frames relayed back as bytes, and the accounting that says when
 * the upstream may go back to the pool.
 *
 * **Details**
 *
 * - Every message written upstream that the server answers, and every reply
 *   the proxy makes itself, leaves an entry in a queue (`Replies.ts`); each
 *   upstream frame is judged against the head entry, which is popped when its
 *   last frame arrives, and the proxy's own replies go out when they reach
 *   the head.
 * - After an ErrorResponse in the extended protocol the server skips to Sync
 *   (protocol-3.2 "Extended Query"): the entries up to the next Sync entry go
 *   with it (a Parse among them is forgotten), and, when the client has not
 *   sent that Sync yet, its messages are dropped until it does.
 * - Transaction mode: the upstream is returned at ReadyForQuery 'I' once the
 *   queue is empty (no Sync, Query or COPY outstanding), no cancel is in
 *   flight and the client is not pinned. A statement that leaves state in the
 *   backend (`SessionState`) pins the client to its upstream for the rest of
 *   its session. Session mode: the upstream is held until the client leaves.
 * - On each new upstream the client's tracked parameters that differ are set
 *   with one `set_config` query; the ParameterStatus it causes is relayed.
 * - A CancelRequest with the client's key reaches the upstream only while the
 *   client has something outstanding there, and the upstream is not returned
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
import { Writer } from "../wire/Writer.ts"
import { Inbox } from "./Inbox.ts"
import {
  backend,
  CLOSE_COMPLETE,
  cstringEnd,
  decoder,
  type Entry,
  errorFrame,
  judge,
  Kind,
  literal,
  owedOnLoss,
  PARSE_COMPLETE,
  reader,
  readyFrame,
  text,
  Verdict
} from "./Replies.ts"
import * as SessionState from "./SessionState.ts"
import { type ClientStatement, upstreamNameOf } from "./Statements.ts"
import type { Upstream } from "./Upstream.ts"
import type { UpstreamPool } from "./UpstreamPool.ts"


/**
 * Counters shared by the clients of one proxy (admin `SHOW STATS`).
 *
 * @since 0.1.0
 */
export interface Totals {
  transactions: number
  queries: number
  received: number
  sent: number
  canceled: number
  cancelsDropped: number
  /** `set_config` queries sent to bring an upstream to a client's parameters. */
  parameterSets: number
}

/**
 * What a client relay needs from its proxy.
 *
 * @since 0.1.0
 */
export interface Context {
  readonly pool: UpstreamPool
  readonly mode: "session" | "transaction"
  readonly totals: Totals
  /** Runs a background Effect (cancel requests). */
  readonly fork: (effect: Effect.Effect<void>) => void
  /** Live clients (admin `SHOW CLIENTS`). */
  readonly clients: Set<Relay>
}

/** The non-localized severity (field 'V') of an ErrorResponse body, read without decoding the rest. */
const severityOf = (buf: Uint8Array, start: number, end: number): string | undefined => {
  let i = start
  while (i < end && buf[i] !== 0) {
    const code = buf[i]!
    const valueEnd = buf.indexOf(0, i + 1)
    if (valueEnd < 0 || valueEnd >= end) return undefined
    if (code === 0x56) return decoder.decode(buf.subarray(i + 1, valueEnd))
    i = valueEnd + 1
  }
  return undefined
}

const lostError = (error: PgError): ServerError.ServerError =>
  ServerError.make("08006", `the upstream connection was lost: ${error.reason.message}`)

let nextClientId = 1

/**
 * @since 0.1.0
 */
export class Relay {
  readonly id = nextClientId++
  readonly wire: Wire
  readonly info: Takeover["info"]
  readonly processId: number
  readonly connectedAt = Date.now()
  readonly #ctx: Context
  readonly #out = new Writer()
  upstream: Upstream | undefined = undefined
  readonly #entries: Array<Entry> = []
  #head = 0
  /** Client messages are dropped until Sync (an error in this extended batch). */
  #discarding = false
  /** The upstream skips to Sync after an error the client's Sync has not answered yet. */
  #upstreamSkipping = false
  #copyIn = false
  /** Why the client keeps its upstream (transaction mode), if it must. */
  pinned: string | undefined = undefined
  /** The client's prepared statements by its own names. */
  readonly statements = new Map<string, ClientStatement>()
  /** The client's session parameters by lower-case name, replayed on each upstream. */
  readonly parameters = new Map<string, string>()
  #cancels = 0
  #closed = false
  #flushScheduled = false
  #blocked = false
  /** Whether the client is waiting for an upstream (admin). */
  waiting = false
  transactions = 0
  queries = 0

  constructor(takeover: Takeover, ctx: Context) {
    this.wire = takeover.wire
    this.#inbox = new Inbox(takeover.wire.socket, {
      needsUpstream: (type, body) => this.needsUpstream(type, body),
      handle: (type, body) => this.handle(type, body),
      acquire: () => this.#acquire(),
      close: () => this.close(),
      closed: () => this.#closed
    })
    this.info = takeover.info
    this.processId = takeover.processId
    this.#ctx = ctx
    const server = ctx.pool.serverParameters
    if (server !== undefined) {
      for (const [name, value] of server) {
        if (SessionState.TRACKED_PARAMETERS.has(name.toLowerCase())) this.parameters.set(name.toLowerCase(), value)
      }
    }
    for (const [name, value] of takeover.info.parameters) {
      if (!SessionState.STARTUP_ONLY.has(name) && !name.startsWith("_pq_.")) this.parameters.set(name.toLowerCase(), value)
    }
    takeover.onCancel(() => this.cancel())
  }

  get clientStatus(): "I" | "T" | "E" {
    return this.upstream?.status ?? "I"
  }

  // ---------------------------------------------------------------------------
  // Client side
  // ---------------------------------------------------------------------------

  /** Whether a client message needs an upstream before it is handled. */
  needsUpstream(type: number, body: Uint8Array): boolean {
    if (this.upstream !== undefined || this.#discarding || this.#closed) return false
    switch (type) {
      case In.Parse:
        // A named statement is kept by the proxy: when no upstream is free, its Parse is answered now and
        // replayed where it is first used (a client that prepares synchronously while its other connections
        // hold every upstream in a transaction would otherwise wait for itself: pgbench -M prepared).
        return body[0] === 0 || this.#ctx.pool.canLendNow
      case In.Query:
      case In.Bind:
      case In.Execute:
      case In.FunctionCall:
        return true
      case In.Describe:
        return true
      case In.Close:
        return !(body[0] === 0x53 && body[1] !== 0)
      default:
        return false
    }
  }

  // ---------------------------------------------------------------------------
  // Reading the client: frames wait here while the client waits for an upstream
  // ---------------------------------------------------------------------------

  readonly #inbox: Inbox
  #withdraw: (() => void) | undefined = undefined
  /** Called once the client is done. */
  onDone: (() => void) | undefined = undefined

  /** Starts reading the client's frames. */
  start(): void {
    this.wire.divert(this.#inbox.onFrame, () => this.close())
  }

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
      // The message that needed the upstream is then answered without one (see `handle`).
      this.#refuseStatement(
        ServerError.make(
          result.reason._tag === "TimeoutError" ? "53300" : "08006",
          `no upstream connection: ${result.reason.message}`
        )
      )
    } else {
      this.#attach(result)
    }
    this.#inbox.linked()
  }

  /** The statement that needed an upstream fails: an error now, and its ReadyForQuery at once (Query) or at Sync. */
  #refuseStatement(error: ServerError.ServerError): void {
    this.#emit(errorFrame(error))
    this.#discarding = true
    this.#refusedQuery = true
    this.#scheduleFlush()
  }
  #refusedQuery = false

  /** Handles one client message. Returns false when the client is done (Terminate, a FATAL). */
  handle(type: number, body: Uint8Array): boolean {
    this.#ctx.totals.received += body.length + 5
    if (this.#refusedQuery) {
      // The message that could not get an upstream: a Query is answered now, an extended batch at its Sync.
      this.#refusedQuery = false
      if (type === In.Query) {
        this.#discarding = false
        this.#push({ kind: Kind.Synthetic, bytes: readyFrame(this.clientStatus), ready: true })
        return true
      }
    }
    if (type === In.Terminate) return false
    if (this.#discarding && type !== In.Sync) return true
    switch (type) {
      case In.Query:
        return this.#query(body)
      case In.Parse:
        this.#parse(body)
        return true
      case In.Bind:
        this.#bind(body)
        return true
      case In.Describe:
        this.#describe(body)
        return true
      case In.Close:
        this.#close(body)
        return true
      case In.Execute:
        this.#forward(type, body, { kind: Kind.Execute })
        return true
      case In.Sync:
        this.#sync(body)
        return true
      case In.Flush:
        if (this.upstream !== undefined) this.#forward(type, body, undefined)
        else this.#scheduleFlush()
        return true
      case In.FunctionCall:
        this.#forward(type, body, { kind: Kind.FunctionCall })
        return true
      case In.CopyData:
      case In.CopyDone:
      case In.CopyFail:
        if (this.upstream !== undefined && this.#copyIn) {
          if (type !== In.CopyData) this.#copyIn = false
          this.#forward(type, body, undefined)
        }
        return true
      default:
        this.#emit(errorFrame(ServerError.protocolViolation(`invalid frontend message type ${type}`)))
        this.#scheduleFlush()
        return false
    }
  }

  #query(body: Uint8Array): boolean {
    const sql = text(body, 0, cstringEnd(body, 0))
    this.queries++
    this.#ctx.totals.queries++
    let discardAll = false
    if (SessionState.mayAffectSession(sql)) {
      const effect = SessionState.classify(sql, this.#tracked)
      switch (effect._tag) {
        case "Pin":
          this.pinned ??= effect.why
          break
        case "DiscardAll":
          discardAll = true
          break
        case "Deallocate":
          if (effect.name === undefined || this.statements.has(effect.name)) {
            // The client's protocol-level statements are the proxy's to drop; upstream they stay, shared.
            if (effect.name === undefined) this.statements.clear()
            else this.statements.delete(effect.name)
            this.#push({
              kind: Kind.Synthetic,
              bytes: backend(
                { _tag: "CommandComplete", tag: effect.name === undefined ? "DEALLOCATE ALL" : "DEALLOCATE" },
                { _tag: "ReadyForQuery", transactionStatus: this.clientStatus }
              ),
              ready: true
            })
            return true
          }
          break
        case "None":
          break
      }
    }
    this.#forward(In.Query, body, { kind: Kind.Query, discardAll })
    return true
  }

  readonly #tracked = (name: string): boolean => SessionState.TRACKED_PARAMETERS.has(name) || this.parameters.has(name)

  #parse(body: Uint8Array): void {
    const nameEnd = cstringEnd(body, 0)
    const rest = body.subarray(nameEnd + 1)
    const sql = text(rest, 0, cstringEnd(rest, 0))
    if (SessionState.mayAffectSession(sql)) {
      const effect = SessionState.classify(sql, this.#tracked)
      if (effect._tag === "Pin") this.pinned ??= effect.why
    }
    if (nameEnd === 0) {
      this.#forward(In.Parse, body, { kind: Kind.Parse })
      return
    }
    const name = text(body, 0, nameEnd)
    if (this.statements.has(name)) {
      this.#fail(ServerError.duplicateStatement(name))
      return
    }
    const statement: ClientStatement = { upstreamName: upstreamNameOf(rest), rest: rest.slice(), sql }
    this.statements.set(name, statement)
    const upstream = this.upstream
    if (upstream === undefined) {
      this.#push({ kind: Kind.Synthetic, bytes: PARSE_COMPLETE, clientName: name })
      return
    }
    if (upstream.statements.has(statement.upstreamName)) {
      upstream.statements.touch(statement.upstreamName)
      this.#push({ kind: Kind.Synthetic, bytes: PARSE_COMPLETE, clientName: name })
      return
    }
    this.#writeParse(upstream, statement, Kind.Parse, name)
  }

  /** Writes Parse of `statement` under its upstream name (closing evicted statements first). */
  #writeParse(upstream: Upstream, statement: ClientStatement, kind: Kind, clientName: string | undefined): void {
    for (const evicted of upstream.statements.add(statement.upstreamName)) {
      const w = upstream.writer
      w.begin(In.Close).uint8(0x53).cstring(evicted).end()
      this.#entries.push({ kind: Kind.CloseHidden })
    }
    const w = upstream.writer
    w.begin(In.Parse).cstring(statement.upstreamName).bytes(statement.rest).end()
    upstream.scheduleFlush()
    this.#entries.push({ kind, upstreamName: statement.upstreamName, clientName })
  }

  /** The statement `name` on the current upstream: replayed there if it lacks it. Undefined (and an error sent) if unknown. */
  #statementFor(name: string): ClientStatement | undefined {
    const statement = this.statements.get(name)
    if (statement === undefined) {
      this.#fail(ServerError.unknownStatement(name))
      return undefined
    }
    const upstream = this.upstream!
    if (upstream.statements.has(statement.upstreamName)) upstream.statements.touch(statement.upstreamName)
    else this.#writeParse(upstream, statement, Kind.ParseHidden, undefined)
    return statement
  }

  #bind(body: Uint8Array): void {
    const portalEnd = cstringEnd(body, 0)
    const nameEnd = cstringEnd(body, portalEnd + 1)
    if (nameEnd === portalEnd + 1) {
      this.#forward(In.Bind, body, { kind: Kind.Bind })
      return
    }
    const statement = this.#statementFor(text(body, portalEnd + 1, nameEnd))
    if (statement === undefined) return
    const upstream = this.upstream!
    upstream.writer.begin(In.Bind)
      .bytes(body.subarray(0, portalEnd + 1))
      .cstring(statement.upstreamName)
      .bytes(body.subarray(nameEnd + 1))
      .end()
    upstream.scheduleFlush()
    this.#entries.push({ kind: Kind.Bind })
  }

  #describe(body: Uint8Array): void {
    const target = body[0]
    const nameEnd = cstringEnd(body, 1)
    if (target !== 0x53 || nameEnd === 1) {
      this.#forward(In.Describe, body, { kind: target === 0x53 ? Kind.DescribeStatement : Kind.DescribePortal })
      return
    }
    const statement = this.#statementFor(text(body, 1, nameEnd))
    if (statement === undefined) return
    const upstream = this.upstream!
    upstream.writer.begin(In.Describe).uint8(0x53).cstring(statement.upstreamName).end()
    upstream.scheduleFlush()
    this.#entries.push({ kind: Kind.DescribeStatement })
  }

  #close(body: Uint8Array): void {
    const nameEnd = cstringEnd(body, 1)
    if (body[0] === 0x53 && nameEnd > 1) {
      // The upstream keeps the statement (other clients may share it; the LRU closes it in time).
      this.statements.delete(text(body, 1, nameEnd))
      this.#push({ kind: Kind.Synthetic, bytes: CLOSE_COMPLETE })
      return
    }
    this.#forward(In.Close, body, { kind: Kind.Close })
  }

  #sync(body: Uint8Array): void {
    this.#discarding = false
    if (this.#copyIn && this.upstream !== undefined) {
      // protocol-3.2 "COPY Operations": Sync during COPY FROM STDIN is ignored by the server.
      this.#forward(In.Sync, body, undefined)
      return
    }
    this.#upstreamSkipping = false
    if (this.upstream === undefined) {
      this.#push({ kind: Kind.Synthetic, bytes: readyFrame("I"), ready: true })
      return
    }
    this.#forward(In.Sync, body, { kind: Kind.Sync })
  }

  /** A reply of the proxy's own (an error): the rest of the batch is dropped until Sync. */
  #fail(error: ServerError.ServerError): void {
    this.#push({ kind: Kind.Synthetic, bytes: errorFrame(error) })
    this.#discarding = true
  }

  #forward(type: number, body: Uint8Array, entry: Entry | undefined): void {
    const upstream = this.upstream
    if (upstream === undefined) return
    upstream.writer.begin(type).bytes(body).end()
    upstream.scheduleFlush()
    if (entry !== undefined) this.#entries.push(entry)
  }

  /** Queues a reply: sent now when nothing is outstanding before it. */
  #push(entry: Entry): void {
    this.#entries.push(entry)
    this.#advance()
  }

  // ---------------------------------------------------------------------------
  // Upstream side
  // ---------------------------------------------------------------------------

  #attach(upstream: Upstream): void {
    this.upstream = upstream
    upstream.sink = this.#onFrame
    upstream.chunkEnd = this.#flushNow
    upstream.onLost = this.#onLost
    this.#applyParameters(upstream)
  }

  /** Sets the client's parameters that differ on the upstream just lent (one query, its replies dropped). */
  #applyParameters(upstream: Upstream): void {
    let sql = ""
    const settings = upstream.settings
    for (const [name, value] of this.parameters) {
      if (settings.get(name) === value) continue
      sql += `${sql === "" ? "SELECT " : ", "}pg_catalog.set_config(${literal(name)}, ${literal(value)}, false)`
      // The value the server reports (ParameterStatus) replaces this; parameters it does not report stay so.
      settings.set(name, value)
    }
    if (sql === "") return
    this.#ctx.totals.parameterSets++
    upstream.writer.begin(In.Query).cstring(sql).end()
    upstream.scheduleFlush()
    this.#entries.push({ kind: Kind.QueryHidden })
  }

  readonly #onFrame = (type: number, buf: Uint8Array, start: number, end: number): void => {
    const entry = this.#entries[this.#head]
    switch (type) {
      case Code.ParameterStatus:
        this.#parameterStatus(buf, start, end)
        return this.#relay(type, buf, start, end)
      case Code.NoticeResponse:
      case Code.NotificationResponse:
        if (entry?.kind === Kind.QueryHidden) return
        return this.#relay(type, buf, start, end)
      case Code.ErrorResponse:
        return this.#error(entry, type, buf, start, end)
      case Code.ReadyForQuery:
        return this.#ready(entry, type, buf, start, end)
    }
    if (entry === undefined) return this.#desync(type)
    switch (judge(entry, type)) {
      case Verdict.Relay:
        if (type === Code.CopyInResponse) this.#enterCopyIn(entry)
        else if (type === Code.CommandComplete && entry.discardAll === true) this.#discardedAll(buf, start, end)
        return this.#relay(type, buf, start, end)
      case Verdict.RelayLast:
        this.#pop()
        return this.#relayed(type, buf, start, end)
      case Verdict.DropLast:
        return this.#popped()
      case Verdict.Drop:
        return
      case Verdict.Desync:
        return this.#desync(type)
    }
  }

  #parameterStatus(buf: Uint8Array, start: number, end: number): void {
    const nameEnd = buf.indexOf(0, start)
    if (nameEnd < 0 || nameEnd >= end) return
    const valueEnd = buf.indexOf(0, nameEnd + 1)
    const name = decoder.decode(buf.subarray(start, nameEnd)).toLowerCase()
    const value = decoder.decode(buf.subarray(nameEnd + 1, valueEnd < 0 || valueEnd > end ? end : valueEnd))
    if (this.#tracked(name)) this.parameters.set(name, value)
  }

  /** COPY FROM STDIN began after an Execute: a Sync the client sent behind the Execute was read (and ignored) by the server in COPY mode. */
  #enterCopyIn(entry: Entry): void {
    this.#copyIn = true
    if (entry.kind !== Kind.Execute) return
    let i = this.#head + 1
    while (i < this.#entries.length && this.#entries[i]!.kind === Kind.Sync) i++
    if (i > this.#head + 1) this.#entries.splice(this.#head + 1, i - this.#head - 1)
  }

  #discardedAll(buf: Uint8Array, start: number, end: number): void {
    if (text(buf, start, end).replace(/\0$/, "") !== "DISCARD ALL") return
    this.statements.clear()
    this.upstream?.statements.clear()
    if (this.#ctx.mode === "transaction") this.pinned = undefined
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
    if (entry.kind === Kind.Query || entry.kind === Kind.FunctionCall) return this.#relay(type, buf, start, end)
    if (entry.kind === Kind.QueryHidden) return
    this.#copyIn = false
    // Extended protocol: the server skips to Sync; so do the replies expected before it.
    const upstream = this.upstream
    while (this.#head < this.#entries.length && this.#entries[this.#head]!.kind !== Kind.Sync) {
      const skipped = this.#entries[this.#head]!
      if (skipped.upstreamName !== undefined) upstream?.statements.remove(skipped.upstreamName)
      if (skipped.clientName !== undefined) this.statements.delete(skipped.clientName)
      this.#pop()
    }
    if (this.#head === this.#entries.length) {
      // The client's Sync has not come yet: its messages until then are dropped, as the server would.
      this.#discarding = true
      this.#upstreamSkipping = true
    }
    this.#relay(type, buf, start, end)
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
    this.#pop()
    if (entry.kind !== Kind.QueryHidden) {
      this.#relay(type, buf, start, end)
      if (status === "I") {
        this.transactions++
        this.#ctx.totals.transactions++
      }
    }
    this.#advance(true)
  }

  /** Copies one upstream frame into the client's outbound buffer. */
  #relay(type: number, buf: Uint8Array, start: number, end: number): void {
    this.#out.uint8(type).int32(end - start + 4).bytes(buf.subarray(start, end))
  }

  /** Relays a frame that ended the head entry (already popped), then sends the replies behind it that are the proxy's own. */
  #relayed(type: number, buf: Uint8Array, start: number, end: number): void {
    this.#relay(type, buf, start, end)
    this.#advance()
  }

  #popped(): void {
    this.#pop()
    this.#advance()
  }

  #pop(): void {
    this.#entries[this.#head] = undefined as unknown as Entry
    this.#head++
    if (this.#head === this.#entries.length) {
      this.#entries.length = 0
      this.#head = 0
    }
  }

  /**
   * Sends the proxy's own replies at the head; after a ReadyForQuery (`ready`,
   * or one of them) returns the upstream when nothing is outstanding.
   */
  #advance(ready = false): void {
    while (this.#head < this.#entries.length && this.#entries[this.#head]!.kind === Kind.Synthetic) {
      const entry = this.#entries[this.#head]!
      this.#emit(entry.bytes!)
      if (entry.ready === true) ready = true
      this.#pop()
    }
    this.#scheduleFlush()
    if (ready) this.#maybeRelease()
  }

  #maybeRelease(): void {
    const upstream = this.upstream
    if (
      upstream === undefined || this.pinned !== undefined || this.#ctx.mode === "session" ||
      this.#head < this.#entries.length ||
      upstream.status !== "I" || this.#copyIn || this.#upstreamSkipping || this.#cancels > 0
    ) return
    this.#detach(upstream)
    this.#ctx.pool.release(upstream)
  }

  #detach(upstream: Upstream): void {
    upstream.sink = undefined
    upstream.chunkEnd = undefined
    upstream.onLost = undefined
    this.upstream = undefined
    if (upstream.socket.isPaused() && this.#blocked) upstream.socket.resume()
  }

  /** The upstream did something the accounting does not allow: both connections are closed. */
  #desync(type: number): void {
    const upstream = this.upstream
    if (upstream !== undefined) {
      this.#detach(upstream)
      this.#ctx.pool.discard(upstream)
    }
    this.#emit(errorFrame(ServerError.protocolViolation(`unexpected message '${String.fromCharCode(type)}' from the upstream`)))
    this.#flushNow()
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
      this.#emit(errorFrame(ServerError.fatal(failure)))
      this.#flushNow()
      this.close()
      return
    }
    const owed = owedOnLoss(this.#entries, this.#head, errorFrame(failure))
    for (const bytes of owed.frames) this.#emit(bytes)
    this.#entries.length = 0
    this.#head = 0
    this.#copyIn = false
    this.#upstreamSkipping = false
    if (owed.open) this.#discarding = true
    this.#flushNow()
  }

  // ---------------------------------------------------------------------------
  // Writing to the client
  // ---------------------------------------------------------------------------

  #emit(bytes: Uint8Array): void {
    this.#out.bytes(bytes)
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    queueMicrotask(this.#flushNow)
  }

  readonly #flushNow = (): void => {
    this.#flushScheduled = false
    if (this.#out.pending() === 0) return
    const bytes = this.#out.flush()
    this.#ctx.totals.sent += bytes.length
    const socket = this.wire.socket
    if (socket.destroyed) return
    if (!socket.write(bytes) && !this.#blocked) {
      // A client that reads slowly (its socket's buffer past Node's high-water mark) slows its own upstream, not the proxy.
      const upstream = this.upstream
      if (upstream === undefined) return
      this.#blocked = true
      upstream.socket.pause()
      socket.once("drain", () => {
        this.#blocked = false
        if (this.upstream === upstream) upstream.socket.resume()
      })
    }
  }

  // ---------------------------------------------------------------------------
  // Cancel and close
  // ---------------------------------------------------------------------------

  /** A CancelRequest with this client's key: sent to the upstream only while the client has something outstanding there. */
  cancel(): void {
    const upstream = this.upstream
    if (upstream === undefined || this.#head === this.#entries.length) {
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
      this.#detach(upstream)
      const clean = this.#head === this.#entries.length && upstream.status === "I" && !this.#copyIn &&
        !this.#upstreamSkipping && this.#cancels === 0 && this.pinned === undefined
      if (clean) this.#ctx.pool.release(upstream)
      else this.#ctx.pool.discard(upstream)
    }
    this.#entries.length = 0
    this.#head = 0
    this.#flushNow()
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
