/**
 * A frame writer with length back-patching.
 *
 * `Writer` appends fields into a growing buffer. `begin(type)` writes the type
 * byte and a placeholder length; `end()` back-patches the length (which counts
 * itself but not the type byte, protocol-3.2 "Message Formats"). `flush()` hands
 * out a view of everything written since the last flush and never writes into
 * those bytes again: later writes go after them, and when the buffer is full a
 * new one is allocated. So a flushed view stays valid for as long as the caller
 * holds it (a socket write may still be queued).
 *
 * Encoding a value that cannot be represented (a NUL inside a C string, a count
 * over the int16 range) throws a `ProtocolError`; callers catch it at one
 * boundary. Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import { ProtocolError } from "../errors/PgError.ts"
import * as Utf8 from "./Utf8.ts"

/** The buffer a new writer starts with. */
const DEFAULT_SIZE = 16 * 1024
/** After a flush, a buffer grown beyond this is dropped so a rare huge message does not pin memory. */
const MAX_RETAINED_SIZE = 1024 * 1024

/**
 * @since 0.1.0
 */
export class Writer {
  private buf: Uint8Array
  private view: DataView
  /** Start of the bytes not yet flushed. */
  private start = 0
  /** Next byte to write. */
  pos = 0
  /** Start of the message being written (its type byte, or its length for untyped frames). */
  private messageStart = -1
  private messageLengthAt = -1
  private messageName = "message"

  constructor(initialSize = DEFAULT_SIZE) {
    this.buf = new Uint8Array(initialSize)
    this.view = new DataView(this.buf.buffer)
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const pending = this.pos - this.start
    // The flushed bytes before `start` belong to the socket now, so a full buffer is replaced, not compacted. A
    // replacement of the same size when the unflushed bytes fit in it: doubling every time would grow a writer fed
    // one large frame per flush (CopyData) to MAX_RETAINED_SIZE and back, allocating twice what it carries.
    // `Math.max` keeps a zero-sized writer from doubling 0 forever.
    let size = Math.max(this.buf.length, 64)
    while (size < pending + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(this.start, this.pos), 0)
    const shift = this.start
    this.buf = next
    this.view = new DataView(next.buffer)
    this.start = 0
    this.pos = pending
    if (this.messageStart >= 0) {
      this.messageStart -= shift
      this.messageLengthAt -= shift
    }
  }

  /** Throws a `ProtocolError` for the message being written. */
  fail(message: string): never {
    throw new ProtocolError({ message: `${this.messageName}: ${message}`, messageName: this.messageName })
  }

  /** Starts a typed message: type byte + placeholder length. */
  begin(type: number, messageName = "message"): this {
    this.ensure(5)
    this.messageName = messageName
    this.messageStart = this.pos
    this.buf[this.pos] = type
    this.messageLengthAt = this.pos + 1
    this.pos += 5
    return this
  }

  /** Starts a message without a type byte (StartupMessage, SSLRequest, CancelRequest, ...). */
  beginUntyped(messageName = "message"): this {
    this.ensure(4)
    this.messageName = messageName
    this.messageStart = this.pos
    this.messageLengthAt = this.pos
    this.pos += 4
    return this
  }

  /** Back-patches the length of the message started by `begin`/`beginUntyped`. */
  end(): this {
    const at = this.messageLengthAt
    if (at < 0) this.fail("end() without begin()")
    this.view.setInt32(at, this.pos - at)
    this.messageStart = -1
    this.messageLengthAt = -1
    return this
  }

  /**
   * Discards the message started by `begin`/`beginUntyped` and not yet ended,
   * as if it had never been started. Used when writing a body failed half-way,
   * so that the partial bytes never reach a later `flush`.
   */
  abort(): this {
    if (this.messageStart >= 0) {
      this.pos = this.messageStart
      this.messageStart = -1
      this.messageLengthAt = -1
    }
    return this
  }

  uint8(v: number): this {
    this.ensure(1)
    this.buf[this.pos++] = v
    return this
  }

  int16(v: number): this {
    this.ensure(2)
    this.view.setInt16(this.pos, v)
    this.pos += 2
    return this
  }

  uint16(v: number): this {
    this.ensure(2)
    this.view.setUint16(this.pos, v)
    this.pos += 2
    return this
  }

  int32(v: number): this {
    this.ensure(4)
    this.view.setInt32(this.pos, v)
    this.pos += 4
    return this
  }

  uint32(v: number): this {
    this.ensure(4)
    this.view.setUint32(this.pos, v)
    this.pos += 4
    return this
  }

  int64(v: bigint): this {
    this.ensure(8)
    this.view.setBigInt64(this.pos, v)
    this.pos += 8
    return this
  }

  uint64(v: bigint): this {
    this.ensure(8)
    this.view.setBigUint64(this.pos, v)
    this.pos += 8
    return this
  }

  float64(v: number): this {
    this.ensure(8)
    this.view.setFloat64(this.pos, v)
    this.pos += 8
    return this
  }

  bytes(v: Uint8Array): this {
    this.ensure(v.length)
    this.buf.set(v, this.pos)
    this.pos += v.length
    return this
  }

  /** An int32 length and the bytes, or -1 for `null`. */
  nullableBytes(v: Uint8Array | null): this {
    if (v === null) return this.int32(-1)
    return this.int32(v.length).bytes(v)
  }

  /** UTF-8 bytes without a terminator. */
  string(s: string): this {
    this.ensure(s.length * 3)
    this.pos += Utf8.encodeInto(s, this.buf, this.pos)
    return this
  }

  /** A NUL-terminated UTF-8 string; a NUL inside `s` is an error (it would end the field early). */
  cstring(s: string): this {
    if (s.indexOf("\0") !== -1) this.fail("string contains a NUL byte")
    this.ensure(s.length * 3 + 1)
    this.pos += Utf8.encodeInto(s, this.buf, this.pos)
    this.buf[this.pos++] = 0
    return this
  }

  /**
   * Reserves an int16 to be patched later (a count known only after the items).
   * Returns a mark that stays valid when the buffer grows.
   */
  reserve16(): number {
    this.ensure(2)
    const mark = this.pos - this.start
    this.pos += 2
    return mark
  }

  /** Reserves an int32 to be patched later. Returns a mark that stays valid when the buffer grows. */
  reserve32(): number {
    this.ensure(4)
    const mark = this.pos - this.start
    this.pos += 4
    return mark
  }

  patch16(mark: number, v: number): this {
    this.view.setInt16(this.start + mark, v)
    return this
  }

  patch32(mark: number, v: number): this {
    this.view.setInt32(this.start + mark, v)
    return this
  }

  /** Bytes written since `mark` (a value from `reserve*` or `mark()`). */
  since(mark: number): number {
    return this.pos - this.start - mark
  }

  /** The current position as a mark that stays valid when the buffer grows. */
  mark(): number {
    return this.pos - this.start
  }

  /**
   * Drops everything written after `mark` (and any unfinished message): used
   * when encoding a request fails halfway, so no partial frame is ever sent.
   */
  truncate(mark: number): this {
    this.pos = this.start + mark
    this.messageStart = -1
    this.messageLengthAt = -1
    return this
  }

  /** Bytes written since the last flush. */
  pending(): number {
    return this.pos - this.start
  }

  /**
   * Returns a view of every byte written since the last flush. The writer never
   * writes into those bytes again.
   */
  flush(): Uint8Array {
    if (this.messageStart >= 0) this.fail("flush() inside an unfinished message")
    const out = this.buf.subarray(this.start, this.pos)
    if (this.buf.length > MAX_RETAINED_SIZE) {
      this.buf = new Uint8Array(DEFAULT_SIZE)
      this.view = new DataView(this.buf.buffer)
      this.start = 0
      this.pos = 0
    } else {
      this.start = this.pos
    }
    return out
  }

  /** Returns a fresh copy of every byte written since the last flush (for constant frames). */
  flushCopy(): Uint8Array {
    return this.flush().slice()
  }
}
