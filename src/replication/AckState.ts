/**
 * The positions a replication client reports in Standby Status Updates, and
 * the rules that keep a slot from moving past anything the consumer has not
 * processed.
 *
 * **Details** (REPLICATION.md section 0)
 *
 * - `received` (the write position) is the running maximum of every position
 *   the server sent: XLogData start and end, keepalive `walEnd`. Logical
 *   XLogData carries 0 for non-final writes (Relation, Type): a maximum never
 *   moves back.
 * - `flushed` (flush and apply) moves only on `ack`, to an end position the
 *   consumer acknowledged after processing it, and never backwards. Only the
 *   flush position moves a slot (`walsender.c ProcessStandbyReplyMessage`).
 *   Before the first ack it is 0, which the server ignores.
 * - The end positions the consumer may acknowledge are Commit / Prepare /
 *   Commit Prepared / Rollback Prepared / Stream Commit end LSNs, never a
 *   commit LSN (acking a commit LSN replays the transaction: the server skips
 *   a transaction only when its commit record starts before the confirmed
 *   position).
 * - Idle advance: while every received transaction is acknowledged and none
 *   is open (begun, or streamed and not yet committed or aborted), a keepalive
 *   position is acknowledged too, so a slot whose publication sees no changes
 *   still releases WAL.
 *
 * Pure: no Effect runtime; the replication feed calls it from the socket's read
 * callback and from `ack`.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export class AckState {
  /** The write position: the highest position received. */
  received = 0n
  /** The flush (and apply) position: the highest position acknowledged. */
  flushed = 0n
  /** A transaction begun (Begin, Begin Prepare) and not yet ended. */
  open = false
  /** Streamed in-progress transactions (top-level xids) not yet committed, prepared or aborted. */
  readonly streaming = new Set<number>()
  /** End positions received and not yet acknowledged, ascending. */
  private readonly pending: Array<bigint> = []
  /** Whether keepalive positions are acknowledged while idle. */
  readonly idleAdvance: boolean

  constructor(idleAdvance: boolean) {
    this.idleAdvance = idleAdvance
  }

  /** A position the server sent (XLogData start or end; 0 is ignored by the maximum). */
  onPosition(lsn: bigint): void {
    if (lsn > this.received) this.received = lsn
  }

  /** Begin or Begin Prepare. */
  onBegin(): void {
    this.open = true
  }

  /** A transaction (or a prepare, commit prepared, rollback prepared) ended at `endLsn`: it may be acknowledged. */
  onEnd(endLsn: bigint): void {
    this.open = false
    this.onPosition(endLsn)
    const last = this.pending[this.pending.length - 1]
    if (endLsn > this.flushed && (last === undefined || endLsn > last)) this.pending.push(endLsn)
  }

  /** Stream Start of a top-level transaction. */
  onStreamStart(xid: number): void {
    this.streaming.add(xid)
  }

  /** The streamed transaction was committed or prepared (then `onEnd`), or aborted as a whole. */
  onStreamDone(xid: number): void {
    this.streaming.delete(xid)
  }

  /** Nothing received is unacknowledged and no transaction is open. */
  get idle(): boolean {
    return !this.open && this.pending.length === 0 && this.streaming.size === 0
  }

  /** The unacknowledged end positions, ascending (a copy). */
  get unacknowledged(): ReadonlyArray<bigint> {
    return this.pending.slice()
  }

  /**
   * A keepalive: its position is received; while idle (and `idleAdvance`), acknowledged too. Returns whether the
   * flush position moved.
   */
  onKeepalive(walEnd: bigint): boolean {
    this.onPosition(walEnd)
    if (this.idleAdvance && this.idle && walEnd > this.flushed) {
      this.flushed = walEnd
      return true
    }
    return false
  }

  /**
   * The consumer processed everything up to `endLsn` (an end position it received). Monotone: an older
   * position changes nothing. Returns whether the flush position moved.
   */
  ack(endLsn: bigint): boolean {
    while (this.pending.length > 0 && this.pending[0]! <= endLsn) this.pending.shift()
    if (endLsn <= this.flushed) return false
    this.flushed = endLsn
    return true
  }
}
