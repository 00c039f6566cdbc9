/**
 * The messages of streamed in-progress transactions (pgoutput `streaming`),
 * held from their Stream Start chunks until their Stream Commit (or Prepare),
 * in bounded memory and spilled to a file beyond it.
 *
 * **Details**
 *
 * - Each held message is kept as the payload the server sent (decoded only
 *   when the transaction is replayed) with the xid it carries (a
 *   subtransaction's, or the top-level transaction's), as one record (length,
 *   xid, payload) appended to chunks of `HOLD_CHUNK_BYTES`: no allocation and
 *   no object per message (thousands of small buffers cost the allocator and
 *   the garbage collector more than their bytes; what they freed stayed in
 *   the process's RSS). A payload larger than a quarter of a chunk is kept as
 *   it is, in its own buffer.
 * - Memory is bounded across all held transactions: once their payloads
 *   pass `memoryBytes`, the transaction that grew is moved to a file of its
 *   own (the same records, written through a 1 MiB buffer),
 *   and its later messages go to the file too. The files live in a directory
 *   made under `directory` on the first spill and removed when the stream
 *   ends, when the transaction is replayed or when it is aborted.
 * - Without spilling (`directory: false`), passing `memoryBytes` fails with
 *   `TransactionTooLarge`; `maxBytes` caps one transaction either way.
 * - A subtransaction's Stream Abort marks its xid: its data changes are
 *   skipped at replay, its Relation and Type messages are kept (the server
 *   does not send them again for the transaction).
 * - Replay reads a spilled transaction back in order, one record at a time,
 *   through one reused read buffer (a payload handed out is valid until the
 *   next one is asked for: the decoder copies what it keeps), so only the
 *   changes of one replay batch are decoded at once. A batch ends after
 *   `REPLAY_BATCH_BYTES` of payloads: a larger batch of decoded changes alive
 *   at once is what the garbage collector then found alive at every
 *   scavenge; 1,024 rows moved every later change of the replay straight to
 *   the old generation (allocation-site pretenuring), growing the heap by
 *   hundreds of MiB, and 64 KiB still made V8 double its young generation
 *   during a 1 GiB replay.
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { ReplicationError, SpillFailed, TransactionTooLarge } from "./Errors.ts"

/**
 * Payload bytes of streamed transactions held in memory before the one that grows is spilled to a file. Small:
 * the server streams a transaction only once it passes `logical_decoding_work_mem` (64 MB by default), so most
 * streamed transactions end on disk anyway, and what was held first stays in the process's RSS after the spill
 * (16 MiB here made a streamed 256 MiB transaction grow the consumer by about 13 MiB more).
 *
 * @since 0.1.0
 */
export const DEFAULT_SPILL_MEMORY_BYTES = 4 * 1024 * 1024

/**
 * Payload bytes a replay hands to the decoder per batch (at least one payload): the changes of one batch are
 * alive together in the consumer's hands, and they are what a scavenge finds alive. V8 doubles its young
 * generation once the bytes surviving scavenges since its last growth pass about its size (16 MiB semi-spaces,
 * of which loading the modules and connecting already leave about 15 MiB): with 64 KiB, 73 KiB survived each
 * scavenge of a replay and a streamed 1 GiB transaction grew the young generation from 32 to 64 MiB (24 MiB
 * more RSS) about halfway; with 4 KiB (as `STREAM_BATCH_BYTES`), 4 KiB survive, 0.6 MiB over the whole replay.
 *
 * @since 0.1.0
 */
export const REPLAY_BATCH_BYTES = 4 * 1024

/** Bytes gathered before one write to a spill file, and read at once when replaying. */
const FILE_BUFFER_BYTES = 1024 * 1024

/** Records of messages held in memory are appended to chunks of this size. */
export const HOLD_CHUNK_BYTES = 256 * 1024

/** A payload larger than this is held as it is (its own buffer), not copied into a chunk. */
const OWN_BUFFER_BYTES = HOLD_CHUNK_BYTES / 4

/** Record header in a spill file: payload length (uint32), xid (uint32). */
const RECORD_HEADER_BYTES = 8

/** Relation and Type messages stay when their subtransaction aborts. */
const RELATION = 0x52
const TYPE = 0x59

/**
 * @since 0.1.0
 */
export interface HeldOptions {
  /** Payload bytes held in memory across streamed transactions. */
  readonly memoryBytes: number
  /** Where spill files go (a directory made inside it); `false`: never spill, fail past `memoryBytes`. */
  readonly directory: string | false
  /** The most payload bytes of one transaction (memory and file), or undefined for no cap. */
  readonly maxBytes: number | undefined
}

/** One held message. */
interface Entry {
  readonly xid: number
  readonly data: Uint8Array
}

/**
 * Messages held in memory, in order: chunks of records (`used` bytes of them filled) or one large payload as it
 * came.
 */
type Segment =
  | { readonly records: Uint8Array; used: number }
  | { readonly records: undefined; readonly xid: number; readonly data: Uint8Array }

/** A spill file being written. */
interface SpillFile {
  readonly path: string
  readonly fd: number
  readonly buffer: Uint8Array
  used: number
}

/** One streamed transaction held. */
class Held {
  memory: Array<Segment> = []
  memoryBytes = 0
  totalBytes = 0
  file: SpillFile | undefined = undefined
  readonly aborted = new Set<number>()
}

/**
 * What a replay yields: each held message's payload, in order, without the aborted subtransactions' changes.
 *
 * @since 0.1.0
 */
export interface Replay {
  /**
   * The next payload, or undefined when the transaction is done (its file is then removed). The payload is valid
   * until the next call (it may be a view of a reused read buffer): decode or copy it first.
   */
  readonly next: () => Uint8Array | undefined
  /** Stops early (the stream ended): removes the file. */
  readonly close: () => void
}

/** Runs a file operation; what the file system refuses is a typed `SpillFailed`. */
const onFile = <A>(path: string, f: () => A): A => {
  try {
    return f()
  } catch (e) {
    throw new ReplicationError({
      reason: new SpillFailed({ message: `spilling a streamed transaction: ${e instanceof Error ? e.message : String(e)}`, path })
    })
  }
}

const tooLarge = (xid: number, limit: number, why: string) =>
  new ReplicationError({
    reason: new TransactionTooLarge({
      message: `streamed transaction ${xid} holds more than ${limit} bytes before its commit (${why})`,
      xid,
      limit
    })
  })

/**
 * The held streamed transactions of one stream.
 *
 * @since 0.1.0
 */
export class HeldTransactions {
  readonly options: HeldOptions
  private readonly held = new Map<number, Held>()
  private memoryBytes = 0
  private dir: string | undefined = undefined
  private files = 0
  private readonly replays = new Set<Replay>()
  /** Transactions spilled to a file so far (for tests and metrics). */
  spilled = 0
  /** The most payload bytes held in memory at once (for tests and metrics). */
  peakMemoryBytes = 0

  constructor(options: HeldOptions) {
    this.options = options
  }

  /** Holds one message of transaction `xid` (`data` carries `messageXid` as its first field). Throws `ReplicationError`. */
  add(xid: number, data: Uint8Array): void {
    let h = this.held.get(xid)
    if (h === undefined) this.held.set(xid, h = new Held())
    const messageXid = data.length >= 5 ? new DataView(data.buffer, data.byteOffset + 1, 4).getUint32(0) : xid
    h.totalBytes += data.length
    const max = this.options.maxBytes
    if (max !== undefined && h.totalBytes > max) throw tooLarge(xid, max, "maxHeldBytes")
    const file = h.file
    if (file !== undefined) return onFile(file.path, () => this.write(file, messageXid, data))
    if (this.memoryBytes + data.length > this.options.memoryBytes) {
      // Past the bound: the transaction goes to a file, this message straight after what it held (a large value
      // is written from where it is, not copied into memory first).
      if (this.options.directory === false) throw tooLarge(xid, this.options.memoryBytes, "spilling is off")
      const dir = this.options.directory
      const spilled = onFile(dir, () => this.spill(xid, h, dir))
      return onFile(spilled.path, () => this.write(spilled, messageXid, data))
    }
    hold(h, messageXid, data)
    h.memoryBytes += data.length
    this.memoryBytes += data.length
    if (this.memoryBytes > this.peakMemoryBytes) this.peakMemoryBytes = this.memoryBytes
  }

  /** A subtransaction of `xid` aborted: its data changes will be skipped. */
  abortSub(xid: number, subXid: number): void {
    this.held.get(xid)?.aborted.add(subXid)
  }

  /** The whole transaction aborted: dropped, its file removed. */
  drop(xid: number): void {
    const h = this.held.get(xid)
    if (h === undefined) return
    this.held.delete(xid)
    this.forget(h)
  }

  /** Takes transaction `xid` out for replay (at its Stream Commit or Stream Prepare). */
  replay(xid: number): Replay {
    const h = this.held.get(xid)
    this.held.delete(xid)
    if (h === undefined) return { next: () => undefined, close: () => {} }
    const memory = h.memory
    this.memoryBytes -= h.memoryBytes
    h.memory = []
    h.memoryBytes = 0
    const skip = (entry: Entry): boolean =>
      h.aborted.has(entry.xid) && entry.data[0] !== RELATION && entry.data[0] !== TYPE
    let index = 0
    let offset = 0
    /** The next message held in memory, or undefined past the last; each segment is let go once read. */
    const fromMemory = (): Entry | undefined => {
      while (index < memory.length) {
        const segment = memory[index]!
        if (segment.records === undefined) {
          memory[index++] = EMPTY
          return segment
        }
        if (offset < segment.used) {
          const entry = readRecord(segment.records, offset)
          offset += RECORD_HEADER_BYTES + entry.data.length
          return entry
        }
        memory[index++] = EMPTY
        offset = 0
      }
      return undefined
    }
    let reader: FileReader | undefined
    const replay: Replay = {
      next: () => {
        for (let entry = fromMemory(); entry !== undefined; entry = fromMemory()) {
          if (!skip(entry)) return entry.data
        }
        if (h.file === undefined) return undefined
        const file = h.file
        const r = reader ??= onFile(file.path, () => new FileReader(this.finishWriting(file)))
        for (;;) {
          const entry = onFile(file.path, () => r.next())
          if (entry === undefined) {
            replay.close()
            return undefined
          }
          if (!skip(entry)) return entry.data
        }
      },
      close: () => {
        this.replays.delete(replay)
        reader?.close()
        reader = undefined
        if (h.file !== undefined) removeFile(h.file)
        h.file = undefined
      }
    }
    this.replays.add(replay)
    return replay
  }

  /** Everything dropped and every file removed (the stream ended). */
  close(): void {
    for (const h of this.held.values()) this.forget(h)
    this.held.clear()
    for (const r of [...this.replays]) r.close()
    if (this.dir !== undefined) {
      Fs.rmSync(this.dir, { recursive: true, force: true })
      this.dir = undefined
    }
  }

  private forget(h: Held): void {
    this.memoryBytes -= h.memoryBytes
    h.memory = []
    h.memoryBytes = 0
    if (h.file !== undefined) {
      closeQuietly(h.file.fd)
      removeFile(h.file)
      h.file = undefined
    }
  }

  /** Moves a transaction's held messages to a new file; what follows of it goes there too. */
  private spill(xid: number, h: Held, directory: string): SpillFile {
    if (this.dir === undefined) this.dir = Fs.mkdtempSync(Path.join(directory, "effect-pgwire-spill-"))
    const path = Path.join(this.dir, `${xid}-${this.files++}`)
    const file: SpillFile = { path, fd: Fs.openSync(path, "wx", 0o600), buffer: new Uint8Array(FILE_BUFFER_BYTES), used: 0 }
    h.file = file
    this.spilled++
    for (const segment of h.memory) {
      if (segment.records === undefined) this.write(file, segment.xid, segment.data)
      else {
        flush(file)
        writeAll(file.fd, segment.records.subarray(0, segment.used))
      }
    }
    this.memoryBytes -= h.memoryBytes
    h.memory = []
    h.memoryBytes = 0
    return file
  }

  private write(file: SpillFile, xid: number, data: Uint8Array): void {
    if (file.used + RECORD_HEADER_BYTES > file.buffer.length) flush(file)
    const header = new DataView(file.buffer.buffer, file.buffer.byteOffset + file.used, RECORD_HEADER_BYTES)
    header.setUint32(0, data.length)
    header.setUint32(4, xid)
    file.used += RECORD_HEADER_BYTES
    if (data.length > file.buffer.length - file.used) {
      flush(file)
      if (data.length > file.buffer.length) return writeAll(file.fd, data)
    }
    file.buffer.set(data, file.used)
    file.used += data.length
  }

  /** Flushes and closes the file for writing; returns its path. */
  private finishWriting(file: SpillFile): string {
    flush(file)
    closeQuietly(file.fd)
    return file.path
  }
}

/** A segment already replayed. */
const EMPTY: Segment = { records: new Uint8Array(0), used: 0 }

/** Appends one message to a transaction's segments in memory. */
const hold = (h: Held, xid: number, data: Uint8Array): void => {
  if (data.length > OWN_BUFFER_BYTES) {
    // Its own buffer: a copy unless the payload already is one (not a view that would keep a shared slab alive).
    const own = data.byteLength === data.buffer.byteLength ? data : data.slice()
    h.memory.push({ records: undefined, xid, data: own })
    return
  }
  const size = RECORD_HEADER_BYTES + data.length
  let last = h.memory.at(-1)
  if (last === undefined || last.records === undefined || last.used + size > last.records.length) {
    last = { records: new Uint8Array(HOLD_CHUNK_BYTES), used: 0 }
    h.memory.push(last)
  }
  writeRecord(last.records, last.used, xid, data)
  last.used += size
}

/** Writes a record (length, xid, payload) at `offset`. */
const writeRecord = (buffer: Uint8Array, offset: number, xid: number, data: Uint8Array): void => {
  const header = new DataView(buffer.buffer, buffer.byteOffset + offset, RECORD_HEADER_BYTES)
  header.setUint32(0, data.length)
  header.setUint32(4, xid)
  buffer.set(data, offset + RECORD_HEADER_BYTES)
}

/** The record at `offset` (its payload a view of `buffer`). */
const readRecord = (buffer: Uint8Array, offset: number): Entry => {
  const header = new DataView(buffer.buffer, buffer.byteOffset + offset, RECORD_HEADER_BYTES)
  const start = offset + RECORD_HEADER_BYTES
  return { xid: header.getUint32(4), data: buffer.subarray(start, start + header.getUint32(0)) }
}

const flush = (file: SpillFile): void => {
  if (file.used === 0) return
  writeAll(file.fd, file.buffer.subarray(0, file.used))
  file.used = 0
}

const writeAll = (fd: number, data: Uint8Array): void => {
  let offset = 0
  while (offset < data.length) offset += Fs.writeSync(fd, data, offset, data.length - offset)
}

const closeQuietly = (fd: number): void => {
  try {
    Fs.closeSync(fd)
  } catch {
    // already closed
  }
}

const removeFile = (file: SpillFile): void => {
  Fs.rmSync(file.path, { force: true })
}

/** Reads a spill file's records back in order through one buffer. */
class FileReader {
  private readonly fd: number
  private buffer = new Uint8Array(0)
  private start = 0
  private end = 0
  private eof = false

  constructor(path: string) {
    this.fd = Fs.openSync(path, "r")
  }

  /**
   * Ensures `n` bytes are buffered from `start`; false at the end of the file. The buffer is reused (a record
   * handed out is a view of it, valid until the next `next`); it grows only for a record larger than it.
   */
  private fill(n: number): boolean {
    if (this.end - this.start >= n) return true
    if (n > this.buffer.length || (this.buffer.length > FILE_BUFFER_BYTES && n <= FILE_BUFFER_BYTES)) {
      // Grown for one large record, then back to the usual size: a large value's bytes are not kept.
      const next = new Uint8Array(Math.max(n, FILE_BUFFER_BYTES))
      next.set(this.buffer.subarray(this.start, this.end))
      this.buffer = next
    } else this.buffer.copyWithin(0, this.start, this.end)
    this.end -= this.start
    this.start = 0
    while (this.end - this.start < n && !this.eof) {
      const read = Fs.readSync(this.fd, this.buffer, this.end, this.buffer.length - this.end, null)
      if (read === 0) this.eof = true
      this.end += read
    }
    return this.end - this.start >= n
  }

  next(): Entry | undefined {
    if (!this.fill(RECORD_HEADER_BYTES)) return undefined
    const length = new DataView(this.buffer.buffer, this.buffer.byteOffset + this.start, RECORD_HEADER_BYTES).getUint32(0)
    if (!this.fill(RECORD_HEADER_BYTES + length)) {
      throw new Error("a spill file ended inside a record") // our own file, written by us: a defect
    }
    const entry = readRecord(this.buffer, this.start)
    this.start += RECORD_HEADER_BYTES + length
    return entry
  }

  close(): void {
    closeQuietly(this.fd)
  }
}
