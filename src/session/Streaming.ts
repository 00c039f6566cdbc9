/**
 * Requests whose replies are consumed as they arrive: rows (`stream`),
 * COPY TO (`copyTo`), COPY FROM (`copyFrom`).
 *
 * **Details**
 *
 * - `StreamRequest` runs one statement through the unnamed portal. Without a
 *   page size it asks for every row with one Execute and pauses reading the
 *   socket while the consumer is behind. With one it pages with
 *   Execute(pageSize) + Flush; on PortalSuspended it asks for the next page at
 *   once while fewer than a page of rows is buffered (so the server works while
 *   the consumer consumes), else when the consumer pulls. Memory is bounded
 *   whatever the result size; the rows not taken wait as bytes (`StreamRows`). It holds the wire until ReadyForQuery or its
 *   Sync (nothing else may be written while the portal is open: a Sync from
 *   another request would close it).
 * - `CopyOutRequest` runs COPY ... TO STDOUT as a simple Query; CopyData
 *   payloads are buffered up to a byte high-water mark, above which reading the
 *   socket pauses until the consumer pulls.
 * - `CopyInRequest` (in `StreamingCopyIn.ts`, re-exported here) runs
 *   COPY ... FROM STDIN as a simple Query and holds the wire while the
 *   caller's chunks go out as CopyData (waiting on socket drain), then
 *   CopyDone; or CopyFail when the upstream fails or is interrupted, so
 *   nothing is committed (protocol-3.2 "COPY Operations").
 *
 * Pulls complete through `Effect.callback` resumptions: one per batch, not per
 * row.
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { ConfigError, PgError, type ServerError } from "../errors/PgError.ts"
import type * as Backend from "../protocol/Backend.ts"
import * as Frontend from "../protocol/Frontend.ts"
import { view } from "../wire/Reader.ts"
import type { Writer } from "../wire/Writer.ts"
import { type Connection, READ_PAUSE_HIGH_WATER_BYTES, Request } from "./Connection.ts"
import { declaredTypes, sendCopyFail, writeBind } from "./Frames.ts"
import { PLAN_SIMPLE } from "./Requests.ts"
import type { QueryOwner } from "./Requests.ts"
import type { RowMode } from "./Result.ts"
import { RowReceiver } from "./Rows.ts"
export { CopyInRequest, type CopyResult } from "./StreamingCopyIn.ts"
import { PendingRows, STREAM_BATCH_BYTES } from "./StreamRows.ts"
import type * as State from "./State.ts"
import type { Statement } from "./Statement.ts"

type PullResume<A> = (effect: Effect.Effect<Arr.NonEmptyReadonlyArray<A>, PgError | Cause.Done>) => void

const PLAN_STREAM_BOUND: ReadonlyArray<State.Phase> = ["BindComplete", "Rows", "ReadyForQuery"]
const PLAN_STREAM_UNNAMED: ReadonlyArray<State.Phase> = [
  "ParseComplete",
  "BindComplete",
  "RowDescription",
  "Rows",
  "ReadyForQuery"
]

/**
 * A stream without a page size stops reading the socket once the rows the consumer has not taken yet came in this
 * many bytes of DataRow, or number this many rows (`STREAM_PAUSE_HIGH_WATER_ROWS`); reading resumes once the
 * consumer has taken half of them. The socket read being handled is finished first (at most its 64 KiB more).
 * Those rows wait as bytes (`StreamRows`).
 */
export const STREAM_PAUSE_HIGH_WATER_BYTES = 1024 * 1024

/** See `STREAM_PAUSE_HIGH_WATER_BYTES`: small rows cost more in memory than on the wire. */
export const STREAM_PAUSE_HIGH_WATER_ROWS = 4096

/**
 * Shared pull machinery: a buffer, at most one waiting consumer, and the end.
 *
 * @since 0.1.0
 */
abstract class PullRequest<A> extends Request {
  protected buffer: Array<A> = []
  private waiter: PullResume<A> | undefined = undefined
  protected finished = false
  protected failure: PgError | undefined = undefined

  /** Called after a batch was taken (to ask for more). */
  protected afterTake(): void {}

  /** Whether items wait for the consumer. */
  protected hasItems(): boolean {
    return this.buffer.length > 0
  }

  /** The next batch (every item waiting, unless a subclass hands them out in smaller batches; may be empty). */
  protected takeItems(): Array<A> {
    const batch = this.buffer
    this.buffer = []
    return batch
  }

  /** What a pull gets now: a batch, the defect, the failure or the end; undefined while there is nothing yet. */
  private outcome(): Effect.Effect<Arr.NonEmptyReadonlyArray<A>, PgError | Cause.Done> | undefined {
    const batch = this.defect === undefined && this.hasItems() ? this.takeItems() : undefined
    if (this.defect !== undefined) return Effect.die(this.defect.value)
    if (batch !== undefined && batch.length > 0) {
      this.afterTake()
      return Effect.succeed(batch as unknown as Arr.NonEmptyReadonlyArray<A>)
    }
    if (this.failure !== undefined) return Effect.fail(this.failure)
    if (this.finished) return Cause.done()
    return undefined
  }

  protected deliver(): void {
    const waiter = this.waiter
    if (waiter === undefined) return
    const outcome = this.outcome()
    if (outcome === undefined) return
    this.waiter = undefined
    waiter(outcome)
  }

  /** Waits for the next outcome (see `deliver`). */
  private readonly wait: Effect.Effect<Arr.NonEmptyReadonlyArray<A>, PgError | Cause.Done> = Effect.callback(
    (resume) => {
      this.waiter = resume
      this.deliver()
      if (this.waiter !== resume) return
      return Effect.sync(() => {
        if (this.waiter === resume) this.waiter = undefined
      })
    }
  )

  /**
   * The next batch; fails with `Cause.Done` at the end. Rows already received are handed over without suspending
   * the consumer (a stream hands a socket read over in several batches, see `StreamRows`).
   */
  readonly pull: Effect.Effect<Arr.NonEmptyReadonlyArray<A>, PgError | Cause.Done> = Effect.suspend(() =>
    this.outcome() ?? this.wait
  )

  protected end(failure: PgError | undefined): void {
    if (failure !== undefined && this.failure === undefined) this.failure = failure
    this.finished = true
    this.deliver()
  }

  fail(error: PgError): void {
    this.end(error)
  }
}

/**
 * Rows per Execute for a stream without a page size inside a transaction block: there it pages (stopping early is
 * a Sync), because the cancel that stops a one-Execute stream would abort the transaction.
 *
 * @since 0.1.0
 */
export const TRANSACTION_STREAM_PAGE_ROWS = 2048

/**
 * The rows of one statement, as the consumer pulls them.
 *
 * **Details**
 *
 * Without a page size (`pageSize` 0; the default outside a transaction block), one Execute asks for every row and
 * Sync follows at once, as a query's does: rows are handed over as they come, and reading the socket pauses
 * while the rows not yet taken exceed `STREAM_PAUSE_HIGH_WATER_ROWS` or `STREAM_PAUSE_HIGH_WATER_BYTES`, so TCP
 * holds the server back (as pgx, rust-postgres and libpq's single-row mode read a result): no round trip per page,
 * and stopping early is a CancelRequest. The wire is held until ReadyForQuery, so that cancel can only reach this
 * statement.
 *
 * With a page size (given, or `TRANSACTION_STREAM_PAGE_ROWS` inside a transaction block), the unnamed portal is
 * paged with Execute(pageSize) + Flush (a cursor, as pg-cursor and postgres.js's `cursor` page), holding the wire
 * until its Sync; stopping early after a page is just that Sync.
 *
 * In both modes the rows not taken yet wait as the bytes they came in (`StreamRows`): each pull decodes the next
 * `STREAM_BATCH_BYTES` of them, so few decoded rows are ever alive at once. A malformed DataRow still breaks the
 * session when it arrives (its framing is checked then); a value that fails to decode when taken fails the stream
 * with a `CodecError` after the rows before it, and the rest of the result is read and dropped.
 *
 * @since 0.1.0
 */
export class StreamRequest extends PullRequest<unknown> {
  override exclusive = true
  readonly owner: QueryOwner
  readonly sql: string
  readonly params: ReadonlyArray<unknown>
  statement: Statement | undefined
  readonly rowMode: RowMode
  /** Rows per Execute; 0: every row in one Execute; undefined until written: chosen by the transaction status. */
  private pageSize: number | undefined
  private conn: Connection | undefined = undefined
  /** Its columns; rows are read through it (see `Rows`) into the buffer the consumer takes. */
  private readonly received: RowReceiver
  /** PortalSuspended received and no Execute sent since. */
  suspended = false
  /** Sync written: the portal is closed (or about to be). */
  synced = false
  /** CommandComplete, EmptyQueryResponse or ErrorResponse received: the statement no longer runs. */
  private executed = false
  /** The rows not yet taken, as DataRow bytes, decoded a batch at a time as the consumer pulls (`StreamRows`). */
  private readonly pending = new PendingRows()
  /** Reading is paused for this request (paced mode). */
  private paused = false

  constructor(
    owner: QueryOwner,
    sql: string,
    params: ReadonlyArray<unknown>,
    statement: Statement | undefined,
    rowMode: RowMode,
    pageSize: number | undefined
  ) {
    super()
    this.owner = owner
    this.sql = sql
    this.params = params
    this.statement = statement
    this.rowMode = rowMode
    this.pageSize = pageSize
    this.received = new RowReceiver(rowMode)
  }

  encode(w: Writer, conn: Connection): void {
    this.conn = conn
    // The status the last ReadyForQuery reported: a BEGIN pipelined just ahead is not seen (such a stream, stopped
    // early, cancels inside the transaction).
    const pageSize = this.pageSize ??= conn.transactionStatus === "I" ? 0 : TRANSACTION_STREAM_PAGE_ROWS
    const registry = this.owner.registry
    const statement = this.statement
    if (statement !== undefined) {
      writeBind(w, registry, "", statement.name, this.params, statement.parameterTypes, statement.resultFormats)
      this.received.expect(statement.fields, statement.returnsRows ? statement.shape(registry) : undefined)
      statement.inUse++
      this.begin(PLAN_STREAM_BOUND)
    } else {
      const types = declaredTypes(registry, this.params)
      Frontend.writeParse(w, "", this.sql, types)
      writeBind(w, registry, "", "", this.params, types, [])
      w.bytes(Frontend.DESCRIBE_UNNAMED_PORTAL)
      this.begin(PLAN_STREAM_UNNAMED)
    }
    Frontend.writeExecute(w, "", pageSize)
    if (pageSize > 0) w.bytes(Frontend.FLUSH)
    else {
      w.bytes(Frontend.SYNC)
      this.synced = true
    }
  }

  override continuePortal(): boolean {
    // Once Sync is written the portal is done: the next message is ReadyForQuery.
    return !this.synced
  }

  override onBindComplete(): void {
    // The rows wait as views of the received bytes until the consumer takes them.
    this.keepsViews = true
    this.conn?.keepViews()
  }

  /** The bytes received from BindComplete on were kept as they came (see `onBindComplete`). */
  private keepsViews = false

  /** Received bytes need not stay as they are any more (only if this request asked, see `Connection.keepViews`). */
  private releaseViews(): void {
    if (!this.keepsViews) return
    this.keepsViews = false
    this.conn?.releaseViews()
  }

  override onRowDescription(message: Backend.RowDescription): void {
    // The types were looked up before the stream started (`Engine.withResultTypes`): rows are never kept as bytes.
    this.received.describe(message, this.owner.registry)
  }

  override onDataRow(buf: Uint8Array, start: number, end: number): void {
    // A malformed row breaks the session now; its values are decoded when the consumer takes it.
    this.received.check(buf, start, end)
    const pending = this.pending
    pending.push(buf, start, end)
    if (this.pageSize !== 0) return
    const conn = this.conn!
    if (
      (pending.bytes > STREAM_PAUSE_HIGH_WATER_BYTES || pending.count > STREAM_PAUSE_HIGH_WATER_ROWS) &&
      !this.paused
    ) {
      this.paused = true
      conn.pauseReading(this)
    }
    conn.atChunkEnd(this)
  }

  override onChunkEnd(): void {
    this.deliver()
  }

  override onPortalSuspended(): void {
    if (this.discard || this.clientError !== undefined) {
      this.sync()
      return
    }
    if (this.pending.count < this.pageSize!) this.executeNext()
    else this.suspended = true
    this.deliver()
  }

  private executeNext(): void {
    this.suspended = false
    this.conn?.send((w) => {
      Frontend.writeExecute(w, "", this.pageSize!)
      w.bytes(Frontend.FLUSH)
    })
  }

  protected override hasItems(): boolean {
    return this.pending.count > 0
  }

  /** Decodes the next batch (`STREAM_BATCH_BYTES`); a value that fails to decode fails the stream after the rows before it. */
  protected override takeItems(): Array<unknown> {
    const rows: Array<unknown> = []
    try {
      this.pending.take(rows, this.received, STREAM_BATCH_BYTES)
    } catch (e) {
      this.decodeFailed(e)
    }
    return rows
  }

  /**
   * A row failed to decode when taken: the rest of the result is dropped as it comes (as for a row decoded when it
   * arrives) and the stream fails with the error (`CodecError`) once the statement is over, or dies with a bug of
   * ours.
   */
  private decodeFailed(e: unknown): void {
    this.pending.clear()
    if (e instanceof PgError) this.clientError ??= e
    else this.defect ??= { value: e }
    // Everything had arrived: complete() already ran without the error.
    if (this.finished && this.failure === undefined && e instanceof PgError) this.failure = e
    if (this.suspended) this.sync()
    this.resume()
  }

  protected override afterTake(): void {
    const pending = this.pending
    if (this.suspended && !this.synced && !this.discard && pending.count < this.pageSize!) this.executeNext()
    if (pending.bytes <= STREAM_PAUSE_HIGH_WATER_BYTES / 2 && pending.count <= STREAM_PAUSE_HIGH_WATER_ROWS / 2) {
      this.resume()
    }
  }

  private resume(): void {
    if (!this.paused) return
    this.paused = false
    this.conn?.resumeReading(this)
  }

  /** Ends the portal: Sync closes it and lets other requests be written. */
  sync(): void {
    if (this.synced) return
    this.synced = true
    this.suspended = false
    const conn = this.conn
    if (conn === undefined) return
    conn.sendBytes(Frontend.SYNC)
    conn.release(this)
  }

  override onCommandComplete(): void {
    this.executed = true
    this.sync()
    this.deliver()
  }

  override onEmptyQuery(): void {
    this.executed = true
    this.sync()
  }

  override onServerError(conn: Connection, error: ServerError): void {
    super.onServerError(conn, error)
    this.executed = true
    this.sync()
  }

  /** The consumer went away: stop paging; returns true when no Execute is outstanding. */
  abandon(): boolean {
    this.discard = true
    this.pending.clear()
    // The rest of the result must be read (and dropped) for the session to reach ReadyForQuery.
    this.resume()
    if (this.suspended) {
      this.sync()
      return true
    }
    // Without pages, Sync went out with the Execute: the statement runs until its CommandComplete or error.
    return this.pageSize === 0 ? this.executed : this.synced
  }

  complete(): void {
    this.releaseViews()
    this.resume()
    if (this.statement !== undefined) this.statement.inUse--
    const error = this.serverError !== undefined ? new PgError({ reason: this.serverError }) : this.clientError
    this.end(error)
  }

  override fail(error: PgError): void {
    this.releaseViews()
    this.resume()
    if (this.statement !== undefined && this.written) this.statement.inUse--
    super.fail(error)
  }
}

/**
 * COPY ... TO STDOUT.
 *
 * **Details**
 *
 * Each element is one CopyData payload (for the text and CSV formats, one
 * row). Payloads are views into the receive buffer, never written again, so
 * they stay valid; copy them if you keep many small ones for long (a view keeps
 * its whole receive chunk alive).
 *
 * @since 0.1.0
 */
export class CopyOutRequest extends PullRequest<Uint8Array> {
  readonly sql: string
  private conn: Connection | undefined = undefined
  private bytes = 0
  private started = false
  private paused = false
  tag = ""

  constructor(sql: string) {
    super()
    this.sql = sql
  }

  encode(w: Writer, conn: Connection): void {
    this.conn = conn
    Frontend.writeQuery(w, this.sql)
    this.begin(PLAN_SIMPLE)
  }

  override onCopyOut(): void {
    this.started = true
    // The chunks handed out are views of the received bytes.
    this.conn?.keepViews()
  }

  override onCopyIn(conn: Connection): void {
    sendCopyFail(conn, "copyTo expects COPY ... TO STDOUT")
  }

  override onCopyData(buf: Uint8Array, start: number, end: number): void {
    this.buffer.push(view(buf, start, end))
    this.bytes += end - start
    if (this.bytes > READ_PAUSE_HIGH_WATER_BYTES && !this.paused) {
      this.paused = true
      this.conn?.pauseReading(this)
    }
    this.conn?.atChunkEnd(this)
  }

  override onChunkEnd(): void {
    this.deliver()
  }

  protected override afterTake(): void {
    this.bytes = 0
    if (this.paused) {
      this.paused = false
      this.conn?.resumeReading(this)
    }
  }

  override onCommandComplete(tag: string): void {
    this.tag = tag
  }

  abandon(): boolean {
    this.discard = true
    this.buffer = []
    this.afterTake()
    return false
  }

  complete(): void {
    this.conn?.releaseViews()
    if (this.paused) this.conn?.resumeReading(this)
    if (this.serverError !== undefined) return this.end(new PgError({ reason: this.serverError }))
    if (!this.started) {
      return this.end(
        new PgError({
          reason: new ConfigError({ message: "copyTo expects a COPY ... TO STDOUT statement", parameter: "sql" })
        })
      )
    }
    this.end(undefined)
  }

  override fail(error: PgError): void {
    this.conn?.releaseViews()
    if (this.paused) this.conn?.resumeReading(this)
    super.fail(error)
  }
}
