/**
 * One `START_REPLICATION` stream on its own connection: the CopyBoth payloads
 * received, the status updates sent, and how the stream ends.
 *
 * **Details**
 *
 * - Payloads are handled in the socket's read callback, whatever the consumer
 *   is doing: XLogData is copied into a bounded buffer (reading pauses above
 *   `FEED_HIGH_WATER_BYTES` and resumes below the low-water mark); a
 *   keepalive that asks for a reply is answered at once; the logical layer's
 *   `observe` hook sees each payload on arrival, so the ack state knows what
 *   was received before the consumer has read it.
 * - A status fiber sends a Standby Status Update every `statusIntervalMillis`
 *   (the walsender times out on the last reply, not on the consumer, and reads
 *   replies even while its writes are blocked); `ack` sends one at once when
 *   the flush position moves. Positions: write = received, flush = apply =
 *   acknowledged (see `AckState`).
 * - Closing the Scope (the consumer is done, failed or interrupted) never
 *   acknowledges anything: it sends CopyDone, discards what is buffered, waits
 *   at most `COPY_END_TIMEOUT_MILLIS` for the server's CopyDone, then sends
 *   Terminate; the walsender exits and the slot is released.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { ConfigError, PgError, ProtocolError, type ServerError } from "../errors/PgError.ts"
import * as Replication from "../protocol/Replication.ts"
import { AckState } from "./AckState.ts"
import * as Errors from "./Errors.ts"
import * as Link from "./Link.ts"

/** Bytes of received payloads buffered for a slow consumer before reading pauses. */
export const FEED_HIGH_WATER_BYTES = 8 * 1024 * 1024
/** Reading resumes once the buffer is below this. */
export const FEED_LOW_WATER_BYTES = 2 * 1024 * 1024
/** Messages handed to the consumer at once (the rest stay buffered for its next take). */
export const FEED_TAKE_MESSAGES = 1024
/** Small payloads are copied into shared slabs of this size (see `Feed.copy`). */
export const FEED_SLAB_BYTES = 64 * 1024
/** What a buffered message costs beyond its payload, counted against the high-water mark. */
const MESSAGE_OVERHEAD_BYTES = 64
/** How long the server may take to end CopyBoth after the client's CopyDone when the stream closes. */
export const COPY_END_TIMEOUT_MILLIS = 5_000
/** The default interval between status updates (the walsender's default `wal_sender_timeout` is 60 s). */
export const DEFAULT_STATUS_INTERVAL_MILLIS = 10_000

/**
 * One XLogData, its payload copied.
 *
 * @since 0.1.0
 */
export interface WalMessage {
  readonly walStart: bigint
  readonly walEnd: bigint
  readonly serverTime: bigint
  readonly data: Uint8Array
}

/**
 * @since 0.1.0
 */
export interface FeedOptions {
  readonly slot: string | undefined
  readonly statusIntervalMillis: number
  readonly idleAdvance: boolean
  /** Called on arrival of every XLogData (before it is buffered). */
  readonly observe?: ((message: WalMessage, ack: AckState) => void) | undefined
  /** Hot standby feedback sent after each timed status update (and once when streaming starts). */
  readonly feedback?: Effect.Effect<StandbyFeedback | undefined> | undefined
}

/**
 * Hot standby feedback: the oldest transaction whose rows the standby's queries still need, as a full 64-bit
 * transaction id (epoch and xid, as `pg_current_xact_id()` gives it); `undefined` (or both 0) stops it.
 *
 * @since 0.1.0
 */
export interface StandbyFeedback {
  readonly xmin: bigint
  /** The lowest `catalog_xmin` of the standby's slots (default none). */
  readonly catalogXmin?: bigint | undefined
}

/** How the stream ended. */
type Ending = { readonly error: Errors.Failure | undefined; readonly rows: ReadonlyArray<Link.TextRow> }

/**
 * @since 0.1.0
 */
export class Feed implements Link.CopyBothHandler {
  readonly ack: AckState
  readonly request: Link.CopyBothRequest
  readonly link: Link.Link
  readonly options: FeedOptions
  private items: Array<WalMessage> = []
  /** The first item not yet taken. */
  private head = 0
  private bytes = 0
  private paused = false
  private waiter: (() => void) | undefined = undefined
  started = false
  ending: Ending | undefined = undefined
  /** Status updates sent (for tests and metrics). */
  statusUpdates = 0
  /** Keepalives that asked for a reply. */
  replyRequests = 0

  constructor(link: Link.Link, sql: string, options: FeedOptions) {
    this.link = link
    this.options = options
    this.ack = new AckState(options.idleAdvance)
    this.request = new Link.CopyBothRequest(sql, this)
  }

  private wake(): void {
    const w = this.waiter
    this.waiter = undefined
    w?.()
  }

  private wakeQueued = false
  private slab = new Uint8Array(0)
  private slabUsed = 0

  /**
   * A copy of a payload (the read buffer is reused). Small payloads are copied into a shared slab of
   * `FEED_SLAB_BYTES` (one allocation for many messages, where one ArrayBuffer each cost more than the decoding);
   * larger ones get their own.
   */
  private copy(buf: Uint8Array, start: number, end: number): Uint8Array {
    const n = end - start
    if (n > FEED_SLAB_BYTES / 8) return buf.slice(start, end)
    if (this.slabUsed + n > this.slab.length) {
      this.slab = new Uint8Array(FEED_SLAB_BYTES)
      this.slabUsed = 0
    }
    const out = new Uint8Array(this.slab.buffer, this.slabUsed, n)
    out.set(buf.subarray(start, end))
    this.slabUsed += n
    return out
  }

  /**
   * Wakes the consumer once the socket's read callback is over (a microtask), not at each frame: a waiting
   * consumer resumed at once would take one message at a time, and pay the stream's cost per message.
   */
  private wakeSoon(): void {
    if (this.wakeQueued || this.waiter === undefined) return
    this.wakeQueued = true
    queueMicrotask(() => {
      this.wakeQueued = false
      this.wake()
    })
  }

  onStart(): void {
    this.started = true
    this.wake()
  }

  onData(buf: Uint8Array, start: number, end: number): void {
    const type = buf[start]
    if (type === Replication.Code.XLogData) {
      if (end - start < 25) return this.broken("XLogData shorter than its header")
      const view = new DataView(buf.buffer, buf.byteOffset + start + 1, 24)
      const message: WalMessage = {
        walStart: view.getBigUint64(0),
        walEnd: view.getBigUint64(8),
        serverTime: view.getBigInt64(16),
        data: this.copy(buf, start + 25, end)
      }
      this.ack.onPosition(message.walStart)
      this.ack.onPosition(message.walEnd)
      if (this.ending !== undefined || this.request.clientDone) return
      this.options.observe?.(message, this.ack)
      this.items.push(message)
      this.bytes += message.data.length + MESSAGE_OVERHEAD_BYTES
      if (this.bytes > FEED_HIGH_WATER_BYTES && !this.paused) {
        this.paused = true
        this.link.conn.pauseReading(this)
      }
      this.wakeSoon()
      return
    }
    const decoded = Replication.decodeView(buf, start, end)
    if (decoded._tag === "Failure") return this.broken(decoded.failure.message)
    const message = decoded.success
    switch (message._tag) {
      case "PrimaryKeepaliveMessage": {
        const moved = this.ack.onKeepalive(message.walEnd)
        if (message.replyRequested) this.replyRequests++
        if (message.replyRequested || moved) this.sendStatus()
        return
      }
      case "PrimaryStatusUpdate":
        return
      default:
        return this.broken(`unexpected ${message._tag} from the server`)
    }
  }

  private broken(message: string): void {
    this.link.conn.breakWith(new PgError({ reason: new ProtocolError({ message, messageName: "CopyData" }) }))
  }

  /** The stream is being closed by the client (`close`). */
  private closing = false

  onServerDone(): void {
    // Ending on the client's initiative: both CopyDones are through, so Terminate now. A logical walsender may
    // still send a keepalive after its CopyDone (it checks for one before it sees that streaming is over), which
    // the connection core would take for a desync before the CommandComplete; Terminate is a clean end for the
    // walsender either way (it exits on 'X').
    if (this.closing) this.link.conn.terminate()
    this.wake()
  }

  onEnd(error: PgError | ServerError | undefined, rows: ReadonlyArray<Link.TextRow>): void {
    if (this.ending !== undefined) return
    const failure = error === undefined
      ? undefined
      : Errors.classify(error instanceof PgError ? error : new PgError({ reason: error }), this.options.slot)
    this.ending = { error: failure, rows }
    if (this.paused) {
      this.paused = false
      this.link.conn.resumeReading(this)
    }
    this.wake()
  }

  /** Sends a Standby Status Update with the current positions. */
  sendStatus(replyRequested = false): void {
    this.statusUpdates++
    const a = this.ack
    this.request.sendCopyData((w) =>
      Replication.writeUnsafe(w, {
        _tag: "StandbyStatusUpdate",
        written: a.received,
        flushed: a.flushed,
        applied: a.flushed,
        clientTime: Replication.fromEpochMillis(Date.now()),
        replyRequested
      })
    )
  }

  /** Hot standby feedback messages sent. */
  feedbackSent = 0

  /** Sends Hot Standby Feedback: `xmin` and `catalogXmin` (full transaction ids), or zeros to stop it. */
  sendFeedback(feedback: StandbyFeedback | undefined): void {
    this.feedbackSent++
    const xmin = feedback?.xmin ?? 0n
    const catalogXmin = feedback?.catalogXmin ?? 0n
    this.request.sendCopyData((w) =>
      Replication.writeUnsafe(w, {
        _tag: "HotStandbyFeedbackMessage",
        clientTime: Replication.fromEpochMillis(Date.now()),
        xmin: Number(xmin & 0xffffffffn),
        xminEpoch: Number((xmin >> 32n) & 0xffffffffn),
        catalogXmin: Number(catalogXmin & 0xffffffffn),
        catalogXminEpoch: Number((catalogXmin >> 32n) & 0xffffffffn)
      })
    )
  }

  /** Acknowledges everything up to `endLsn`; the server hears of it at once (in a microtask). */
  acknowledge(endLsn: bigint): void {
    if (!this.ack.ack(endLsn) || this.statusQueued) return
    // One status update for the acknowledgements made in one go (a consumer acknowledging a batch of
    // transactions), sent as soon as the current run of work is over.
    this.statusQueued = true
    queueMicrotask(() => this.flushStatus())
  }

  private statusQueued = false

  /** Sends the status update an acknowledgement queued, if it is still pending. */
  private flushStatus(): void {
    if (!this.statusQueued) return
    this.statusQueued = false
    this.sendStatus()
  }

  /** Waits for the next thing the connection tells the feed (data, start, end). */
  private readonly nextEvent: Effect.Effect<void> = Effect.callback<void>((resume) => {
    this.waiter = () => resume(Effect.void)
    return Effect.sync(() => {
      this.waiter = undefined
    })
  })

  /**
   * The next buffered messages (all of them), or undefined once the stream has ended cleanly; fails with the
   * stream's failure.
   */
  readonly take: Effect.Effect<ReadonlyArray<WalMessage> | undefined, Errors.Failure> = Effect.suspend(() => {
    const ready = (): Effect.Effect<ReadonlyArray<WalMessage> | undefined, Errors.Failure> | undefined => {
      if (this.head < this.items.length) {
        // At most FEED_TAKE_MESSAGES at once: what the consumer decodes stays small (young) garbage.
        const end = Math.min(this.items.length, this.head + FEED_TAKE_MESSAGES)
        const out = this.items.slice(this.head, end)
        for (const m of out) this.bytes -= m.data.length + MESSAGE_OVERHEAD_BYTES
        if (end === this.items.length) {
          this.items = []
          this.head = 0
          this.bytes = 0
        } else if (end >= this.items.length / 2) {
          // Taken messages must not stay referenced while reading goes on behind them.
          this.items = this.items.slice(end)
          this.head = 0
        } else this.head = end
        if (this.paused && this.bytes < FEED_LOW_WATER_BYTES) {
          this.paused = false
          this.link.conn.resumeReading(this)
        }
        return Effect.succeed(out)
      }
      if (this.ending !== undefined) {
        return this.ending.error === undefined ? Effect.succeed(undefined) : Effect.fail(this.ending.error)
      }
      return undefined
    }
    const now = ready()
    if (now !== undefined) return now
    return Effect.flatMap(this.nextEvent, () => this.take)
  })

  /** Waits until streaming started, or the request ended (failing with its error, if any). */
  private readonly awaitStart: Effect.Effect<void, Errors.Failure> = Effect.suspend(() => {
    if (this.started) return Effect.void
    // A physical start exactly at the end of a timeline is answered without COPY (the next timeline's row).
    if (this.ending !== undefined) return this.ending.error === undefined ? Effect.void : Effect.fail(this.ending.error)
    return Effect.flatMap(this.nextEvent, () => this.awaitStart)
  })

  /** Waits (bounded) until the server has ended the request after the client's CopyDone. */
  private readonly awaitEnd: Effect.Effect<void> = Effect.suspend(() => {
    if (this.ending !== undefined) return Effect.void
    this.items = []
    this.head = 0
    this.bytes = 0
    return Effect.flatMap(this.nextEvent, () => this.awaitEnd)
  })

  /**
   * Ends streaming: CopyDone, then the server's end within `COPY_END_TIMEOUT_MILLIS`; otherwise the connection
   * is broken. Nothing is acknowledged.
   */
  readonly close: Effect.Effect<void> = Effect.suspend(() => {
    this.closing = true
    // What was acknowledged just before the end reaches the server before CopyDone.
    if (!this.request.serverDone) this.flushStatus()
    if (this.request.serverDone) this.link.conn.terminate()
    this.request.finish()
    this.items = []
    this.head = 0
    this.bytes = 0
    if (this.paused) {
      this.paused = false
      this.link.conn.resumeReading(this)
    }
    // `close` runs as a finalizer, where everything is uninterruptible: the wait itself must be interruptible,
    // or the timeout could never cut it short and a server that does not answer would hang the close.
    return Effect.interruptible(this.awaitEnd).pipe(
      Effect.timeoutOrElse({
        duration: COPY_END_TIMEOUT_MILLIS,
        orElse: () =>
          Effect.sync(() =>
            this.link.conn.breakWith(
              new PgError({ reason: new ProtocolError({ message: "the server did not end CopyBoth after CopyDone" }) })
            )
          )
      })
    )
  })

  /**
   * Starts `sql` (a START_REPLICATION) for the Scope, with the status fiber; fails if the server refuses.
   *
   * @since 0.1.0
   */
  static start(link: Link.Link, sql: string, options: FeedOptions): Effect.Effect<Feed, Errors.Failure, Scope.Scope> {
    return Effect.gen(function*() {
      const interval = options.statusIntervalMillis
      if (!(Number.isFinite(interval) && interval > 0)) {
        return yield* Effect.fail(
          new PgError({
            reason: new ConfigError({
              message: `statusIntervalMillis must be a positive number of milliseconds (got ${interval})`,
              parameter: "statusIntervalMillis"
            })
          })
        )
      }
      const feed = new Feed(link, sql, options)
      yield* Effect.acquireRelease(
        Effect.sync(() => link.conn.submit(feed.request)),
        () => feed.close
      )
      yield* feed.awaitStart
      const feedback = options.feedback
      const sendFeedback = feedback === undefined
        ? Effect.void
        : Effect.flatMap(feedback, (f) => Effect.sync(() => feed.started && feed.ending === undefined && feed.sendFeedback(f)))
      yield* sendFeedback
      const status = Effect.forever(
        Effect.flatMap(
          Effect.sleep(options.statusIntervalMillis),
          () => Effect.andThen(Effect.sync(() => feed.sendStatus()), sendFeedback)
        )
      )
      const fiber = yield* Effect.forkDetach(status)
      yield* Effect.addFinalizer(() => Fiber.interrupt(fiber))
      return feed
    })
  }
}

