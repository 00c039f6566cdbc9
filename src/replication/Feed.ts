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
 * - A buffered message is bytes only (its header and payload in a shared
 *   slab, three numbers and a reference in the queue's arrays): no object per
 *   message while it waits, so a full buffer is not thousands of objects the
 *   garbage collector must promote and trace. The logical layer decodes
 *   straight from those bytes (`takeBatch`); `take` makes `WalMessage`s.
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
import { LENT_READ_BUFFER_BYTES } from "../transport/Transport.ts"
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
/** Full slabs kept for reuse once the consumer is done with them (`reuseSlabs`). */
export const FEED_FREE_SLABS = 16
/** Messages up to this size (header included) are copied byte by byte rather than through a view. */
const SMALL_COPY_BYTES = 64
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

/** The XLogData header kept before each buffered payload: start, end and server time (Int64 each). */
const XLOG_HEADER_BYTES = 24

/**
 * Buffered XLogData messages as bytes: message `i` is the payload `bufs[i][starts[i], ends[i])`, preceded in
 * `bufs[i]` by its `XLOG_HEADER_BYTES` header (start, end and server time).
 *
 * @since 0.1.0
 */
export interface Batch {
  readonly bufs: ReadonlyArray<Uint8Array>
  readonly starts: ReadonlyArray<number>
  readonly ends: ReadonlyArray<number>
}

const uint32At = (buf: Uint8Array, p: number): number =>
  ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0

/**
 * The messages of a batch with their header fields.
 *
 * @since 0.1.0
 */
export const walMessages = (batch: Batch): Array<WalMessage> =>
  batch.starts.map((start, i) => {
    const buf = batch.bufs[i]!
    const view = new DataView(buf.buffer, buf.byteOffset + start - XLOG_HEADER_BYTES, XLOG_HEADER_BYTES)
    return {
      walStart: view.getBigUint64(0),
      walEnd: view.getBigUint64(8),
      serverTime: view.getBigInt64(16),
      data: buf.subarray(start, batch.ends[i])
    }
  })

/**
 * @since 0.1.0
 */
export interface FeedOptions {
  readonly slot: string | undefined
  readonly statusIntervalMillis: number
  readonly idleAdvance: boolean
  /** Called on arrival of every XLogData with its payload `buf[start, end)` (before it is buffered). */
  readonly observe?: ((buf: Uint8Array, start: number, end: number, ack: AckState) => void) | undefined
  /** Hot standby feedback sent after each timed status update (and once when streaming starts). */
  readonly feedback?: Effect.Effect<StandbyFeedback | undefined> | undefined
  /**
   * The consumer of `takeBatch` is done with a batch's bytes when it takes the next (it copies what it keeps):
   * the slabs of the previous batch are then reused for the messages that arrive. Without it, each slab is a new
   * ArrayBuffer, and the ones the consumer is done with stay allocated until a scavenge finds them dead: at
   * tens of MiB per second, tens of MiB the allocator then keeps in the process's RSS.
   */
  readonly reuseSlabs?: boolean | undefined
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
  /** The buffered messages (see `Batch`). */
  private bufs: Array<Uint8Array> = []
  private starts: Array<number> = []
  private ends: Array<number> = []
  /** The first message not yet taken. */
  private head = 0
  /** The highest position received (high and low 32 bits), not yet passed to `ack` when `positionMoved`. */
  private receivedHigh = 0
  private receivedLow = 0
  private positionMoved = false
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
  private slab: Uint8Array = new Uint8Array(0)
  private slabUsed = 0
  /** Full slabs in the batch last taken (reusable once the next is taken, with `reuseSlabs`), and the free ones. */
  private lentSlabs: Array<Uint8Array> = []
  private freeSlabs: Array<Uint8Array> = []
  private readonly slabs = new WeakSet<Uint8Array>()

  /**
   * Buffers a copy of an XLogData's header and payload, `buf[start, end)` (the read buffer is reused). Small
   * messages are copied into a shared slab of `FEED_SLAB_BYTES` (one allocation for many messages, where one
   * ArrayBuffer each cost more than the decoding); larger ones get their own.
   */
  private buffer(buf: Uint8Array, start: number, end: number): void {
    const n = end - start
    let copy: Uint8Array
    let at: number
    if (n > LENT_READ_BUFFER_BYTES) {
      // Longer than one socket read: the Framer assembled the frame in a buffer of its own that nothing reuses,
      // kept as it is (a 200 MB value is not copied once more).
      copy = buf
      at = start
    } else if (n > FEED_SLAB_BYTES / 8) {
      copy = buf.slice(start, end)
      at = 0
    } else {
      if (this.slabUsed + n > this.slab.length) {
        this.slab = this.freeSlabs.pop() ?? this.newSlab()
        this.slabUsed = 0
      }
      copy = this.slab
      at = this.slabUsed
      if (n <= SMALL_COPY_BYTES) {
        // A loop beats making a view to `set` from, for the few bytes most changes take.
        for (let i = 0; i < n; i++) copy[at + i] = buf[start + i]!
      } else copy.set(buf.subarray(start, end), at)
      this.slabUsed += n
    }
    this.bufs.push(copy)
    this.starts.push(at + XLOG_HEADER_BYTES)
    this.ends.push(at + n)
    this.bytes += n - XLOG_HEADER_BYTES + MESSAGE_OVERHEAD_BYTES
  }

  /**
   * A position the server sent, as its high and low 32 bits: the running maximum is kept as numbers and passed
   * to `ack` (as a bigint) only when it is read (`syncReceived`), not once per message.
   */
  private onPosition(high: number, low: number): void {
    if (high > this.receivedHigh || (high === this.receivedHigh && low > this.receivedLow)) {
      this.receivedHigh = high
      this.receivedLow = low
      this.positionMoved = true
    }
  }

  /** Brings `ack.received` up to the highest position received. */
  syncReceived(): void {
    if (!this.positionMoved) return
    this.positionMoved = false
    this.ack.onPosition((BigInt(this.receivedHigh) << 32n) | BigInt(this.receivedLow))
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
      const header = start + 1
      const payload = header + XLOG_HEADER_BYTES
      if (end < payload) return this.broken("XLogData shorter than its header")
      this.onPosition(uint32At(buf, header), uint32At(buf, header + 4))
      this.onPosition(uint32At(buf, header + 8), uint32At(buf, header + 12))
      if (this.ending !== undefined || this.request.clientDone) return
      this.options.observe?.(buf, payload, end, this.ack)
      this.buffer(buf, header, end)
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
        this.syncReceived()
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
    this.syncReceived()
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
   * With `reuseSlabs`: the slabs of the batch taken before are free (its consumer is done with it); the full
   * slabs of `batch` will be once the next is taken. A slab still being filled, or holding messages not yet
   * taken (only the batch's last slab can), is left to the garbage collector.
   */
  private lend(batch: Batch, more: boolean): void {
    for (const slab of this.lentSlabs) if (this.freeSlabs.length < FEED_FREE_SLABS) this.freeSlabs.push(slab)
    this.lentSlabs = []
    const bufs = batch.bufs
    let last: Uint8Array | undefined
    for (let i = 0; i < bufs.length; i++) {
      const buf = bufs[i]!
      if (buf === last || buf === this.slab || !this.slabs.has(buf)) continue
      if (last !== undefined) this.lentSlabs.push(last)
      last = buf
    }
    if (last !== undefined && !more) this.lentSlabs.push(last)
  }

  private newSlab(): Uint8Array {
    const slab = new Uint8Array(FEED_SLAB_BYTES)
    this.slabs.add(slab)
    return slab
  }

  /** Forgets every buffered message. */
  private clear(): void {
    this.bufs = []
    this.starts = []
    this.ends = []
    this.head = 0
    this.bytes = 0
  }

  /**
   * The next buffered messages (at most `FEED_TAKE_MESSAGES`), or undefined once the stream has ended cleanly;
   * fails with the stream's failure.
   */
  readonly takeBatch: Effect.Effect<Batch | undefined, Errors.Failure> = Effect.suspend(() => {
    const ready = (): Effect.Effect<Batch | undefined, Errors.Failure> | undefined => {
      const count = this.starts.length
      if (this.head < count) {
        this.syncReceived()
        // At most FEED_TAKE_MESSAGES at once: what the consumer decodes stays small (young) garbage.
        const head = this.head
        const end = Math.min(count, head + FEED_TAKE_MESSAGES)
        let out: Batch
        if (head === 0 && end === count) {
          out = { bufs: this.bufs, starts: this.starts, ends: this.ends }
          this.clear()
        } else {
          out = { bufs: this.bufs.slice(head, end), starts: this.starts.slice(head, end), ends: this.ends.slice(head, end) }
          for (let i = 0; i < out.starts.length; i++) {
            this.bytes -= out.ends[i]! - out.starts[i]! + MESSAGE_OVERHEAD_BYTES
          }
          if (end === count) this.clear()
          else if (end >= count / 2) {
            // Taken messages must not stay referenced while reading goes on behind them.
            this.bufs = this.bufs.slice(end)
            this.starts = this.starts.slice(end)
            this.ends = this.ends.slice(end)
            this.head = 0
          } else this.head = end
        }
        if (this.options.reuseSlabs === true) this.lend(out, end < count)
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
    return Effect.flatMap(this.nextEvent, () => this.takeBatch)
  })

  /**
   * The next buffered messages (at most `FEED_TAKE_MESSAGES`), or undefined once the stream has ended cleanly;
   * fails with the stream's failure.
   */
  readonly take: Effect.Effect<ReadonlyArray<WalMessage> | undefined, Errors.Failure> = Effect.map(
    this.takeBatch,
    (batch) => batch === undefined ? undefined : walMessages(batch)
  )

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
    this.clear()
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
    this.clear()
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

