/**
 * The rows a stream has received and its consumer has not taken yet, kept as the DataRow bytes they came in and
 * decoded a batch at a time when the consumer pulls.
 *
 * **Details**
 *
 * Why bytes: a row decoded as soon as it arrives lives in V8's young generation until the consumer takes it, and a
 * socket read brings hundreds of rows at once, so every scavenge that runs while a read is being decoded finds
 * them alive and copies them. V8 grows its young generation (to twice its size, once) after the bytes that
 * survived its scavenges since the last growth add up to its size, however slowly they add up; over a long stream
 * the rows caught in flight were enough (2-3 bytes per row streamed, and the growth came after two to five million
 * mixed rows, adding 32 MiB to the resident set). Kept as bytes, the rows waiting are the received buffers
 * (outside V8's heap) and two integers each; only the batch being handed over is decoded, `STREAM_BATCH_BYTES` of
 * DataRow at most, so a scavenge finds a few dozen rows alive instead of hundreds (0.55 bytes per row streamed), and
 * the growth would come after 26-30 million rows.
 *
 * The bytes must stay as they are until taken: the stream asks its connection to keep views (`keepViews`), so lent
 * socket reads are copied once per read before they are framed.
 *
 * @since 0.1.0
 */

/**
 * A batch handed to a stream's consumer ends once its rows came in this many bytes of DataRow (a row is never
 * split; a larger row is a batch of its own): about 25 mixed rows of the benchmark's, 400 one-int4-column ones.
 * What a scavenge finds alive grows with it: 41 KiB per scavenge with 16 KiB batches, 19 KiB with these (of which
 * about 10 KiB are not rows), for the same CPU per row within the noise of the measurement.
 */
export const STREAM_BATCH_BYTES = 4 * 1024

/** Rows the queue has room for at first; it doubles when full (a socket read of tiny rows brings thousands). */
const INITIAL_CAPACITY = 1024

/**
 * Decodes one DataRow body (`RowReceiver.read`).
 *
 * @since 0.1.0
 */
export interface RowReader {
  read(buf: Uint8Array, start: number, end: number): unknown
}

/**
 * A FIFO of DataRow bodies: the buffer each lies in and its range, without an object per row.
 *
 * @since 0.1.0
 */
export class PendingRows {
  /** The buffer of each row (rows of one socket read share it). */
  private bufs: Array<Uint8Array | undefined> = new Array(INITIAL_CAPACITY)
  /** Start and end of each row's body, in pairs. */
  private ranges = new Int32Array(2 * INITIAL_CAPACITY)
  private head = 0
  private tail = 0
  /** DataRow bytes of the rows queued. */
  bytes = 0

  /** Rows queued. */
  get count(): number {
    return this.tail - this.head
  }

  push(buf: Uint8Array, start: number, end: number): void {
    if (this.tail === this.bufs.length) this.makeRoom()
    const i = this.tail++
    this.bufs[i] = buf
    this.ranges[2 * i] = start
    this.ranges[2 * i + 1] = end
    this.bytes += end - start
  }

  /**
   * Decodes rows from the front into `into` until their bytes reach `maxBytes` (at least one row). A row that
   * fails to decode is dropped from the queue and its error thrown; the rows before it are in `into`.
   */
  take(into: Array<unknown>, reader: RowReader, maxBytes: number): void {
    const bufs = this.bufs
    const ranges = this.ranges
    let taken = 0
    while (this.head < this.tail && taken < maxBytes) {
      const i = this.head++
      const buf = bufs[i]!
      bufs[i] = undefined
      const start = ranges[2 * i]!
      const end = ranges[2 * i + 1]!
      taken += end - start
      this.bytes -= end - start
      into.push(reader.read(buf, start, end))
    }
    if (this.head === this.tail) this.head = this.tail = 0
  }

  /** Drops every row queued. */
  clear(): void {
    this.bufs.fill(undefined, this.head, this.tail)
    this.head = this.tail = 0
    this.bytes = 0
  }

  /** The queue is full at its end: move its rows to the front, or double it when they fill more than half. */
  private makeRoom(): void {
    const count = this.tail - this.head
    const capacity = this.bufs.length
    if (count > capacity / 2) {
      const bufs: Array<Uint8Array | undefined> = new Array(2 * capacity)
      const ranges = new Int32Array(4 * capacity)
      for (let j = 0; j < count; j++) bufs[j] = this.bufs[this.head + j]
      ranges.set(this.ranges.subarray(2 * this.head, 2 * this.tail))
      this.bufs = bufs
      this.ranges = ranges
    } else {
      for (let j = 0; j < count; j++) this.bufs[j] = this.bufs[this.head + j]
      this.bufs.fill(undefined, count, this.tail)
      this.ranges.copyWithin(0, 2 * this.head, 2 * this.tail)
    }
    this.head = 0
    this.tail = count
  }
}
