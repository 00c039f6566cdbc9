/**
 * The machinery both protocol 2.0 stream decoders share (`BackendDecoder`,
 * `FrontendDecoder`): partial input kept between chunks, "need more bytes"
 * told from "malformed", the size limit, and poisoning after an error.
 *
 * **Details**
 *
 * Most 2.0 messages carry no length word, so a byte stream cannot be framed
 * without being parsed. A `StreamReader` reads the bytes received so far:
 * running past their end means "wait for more", and it records how many
 * bytes (or which terminator) the message needs, so a message split across
 * chunks is parsed again from its start only once enough bytes have arrived.
 *
 * Internal to the 2.0 modules: `V2.ts` re-exports only `DecoderOptions`.
 * Pure: no Effect runtime, no IO, no timers.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import { ProtocolError } from "../errors/PgError.ts"
import { DEFAULT_MAX_MESSAGE_SIZE } from "../wire/Framer.ts"
import { Reader } from "../wire/Reader.ts"
import type * as Message from "./Message.ts"
import { asProtocolError, indexOfByte, isEndMarker, NEWLINE } from "./V2Codec.ts"
import type { CopyDataRows } from "./V2CopyDataRows.ts"

/** Thrown (and always caught in this module) when a message continues past the bytes received. */
const needMore: { readonly needMore: true } = { needMore: true }

/**
 * A Reader over the bytes received so far: running past the end means "wait
 * for more bytes", not "malformed". It records how many bytes the message
 * needs at least (or which byte must arrive) so the decoder does not parse
 * again before that.
 */
export class StreamReader extends Reader {
  /** Absolute index in `buf` the parse must reach before it can go on. */
  needUntil = 0
  /** A byte that must arrive before the parse can go on, or -1. */
  waitByte = -1

  short(n: number): never {
    this.needUntil = this.pos + n
    this.waitByte = -1
    throw needMore
  }

  waitFor(byte: number): never {
    this.needUntil = this.end + 1
    this.waitByte = byte
    throw needMore
  }

  override uint8(): number {
    if (this.pos >= this.end) this.short(1)
    return super.uint8()
  }

  override int16(): number {
    if (this.end - this.pos < 2) this.short(2)
    return super.int16()
  }

  override uint16(): number {
    if (this.end - this.pos < 2) this.short(2)
    return super.uint16()
  }

  override int32(): number {
    if (this.end - this.pos < 4) this.short(4)
    return super.int32()
  }

  override bytes(n: number): Uint8Array {
    if (n > 0 && this.end - this.pos < n) this.short(n)
    return super.bytes(n)
  }

  override cstring(): string {
    if (indexOfByte(this.buf, 0, this.pos, this.end) < 0) this.waitFor(0)
    return super.cstring()
  }
}

/**
 * Options of the 2.0 decoders.
 *
 * @since 0.1.0
 */
export interface DecoderOptions {
  /**
   * The largest message accepted, in bytes (a COPY row counts as one
   * message). Checked before a partial message is buffered beyond it. Default:
   * PostgreSQL's 1 GiB - 1.
   */
  readonly maxMessageSize?: number | undefined
}

/**
 * The shared machinery of both decoders: partial input, need-more versus
 * malformed, size limit, poisoning.
 */
export abstract class Decoder<M> {
  readonly maxMessageSize: number
  private pending: Array<Uint8Array> = []
  private pendingLength = 0
  private needTotal = 0
  private waitByte = -1
  private pendingName = ""
  /** Stream offset of the first byte not yet delivered as part of a message. */
  private offset = 0
  private poisoned: ProtocolError | undefined = undefined
  private readonly reader = new StreamReader()
  /** Reader for length-delimited packets once they are complete: running past their end is malformed. */
  protected readonly boundedReader = new Reader()

  constructor(options: DecoderOptions) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
  }

  /** Reads one message at `r.pos`; throws `needMore` or `ProtocolError`. */
  protected abstract readMessage(r: StreamReader): M

  /** The name reported when nothing more specific is known. */
  protected abstract readonly streamName: string

  /** Bytes received but not yet delivered as a message. */
  get buffered(): number {
    return this.pendingLength
  }

  /** The error that stopped the decoder, if any. */
  get error(): ProtocolError | undefined {
    return this.poisoned
  }

  /**
   * Decodes every complete message in the bytes received so far plus `chunk`
   * and hands each to `onMessage`, in order. Throws `ProtocolError` ("Unsafe")
   * after delivering the messages before the malformed one; from then on every
   * call throws the same error. `chunk` must not be modified afterwards (the
   * messages hold views of it). If `onMessage` throws, the decoder stops too.
   */
  pushUnsafe(chunk: Uint8Array, onMessage: (message: M) => void): void {
    if (this.poisoned !== undefined) throw this.poisoned
    if (chunk.length === 0) return
    let buf: Uint8Array
    if (this.pendingLength === 0) {
      buf = chunk
    } else {
      this.pending.push(chunk)
      this.pendingLength += chunk.length
      if (
        this.pendingLength < this.needTotal ||
        (this.waitByte >= 0 && chunk.indexOf(this.waitByte) < 0)
      ) {
        if (this.pendingLength > this.maxMessageSize) {
          throw this.poison(this.tooLarge(this.pendingLength, this.pendingName))
        }
        return
      }
      buf = this.concatPending()
    }
    const end = buf.length
    const r = this.reader
    let pos = 0
    while (pos < end) {
      r.reset(buf, pos, end, this.streamName)
      let message: M
      try {
        message = this.readMessage(r)
      } catch (e) {
        if (e === needMore) {
          this.keep(buf.subarray(pos), r.needUntil - pos, r.waitByte, r.messageName)
          const size = Math.max(this.needTotal, this.pendingLength)
          if (size > this.maxMessageSize) throw this.poison(this.tooLarge(size, r.messageName))
          return
        }
        throw this.poison(this.locate(asProtocolError(e, r.messageName), r.base - pos))
      }
      const size = r.pos - pos
      if (size > this.maxMessageSize) throw this.poison(this.tooLarge(size, r.messageName))
      this.offset += size
      pos = r.pos
      try {
        onMessage(message)
      } catch (e) {
        this.poisoned = new ProtocolError({
          message: `${this.streamName}: decoding stopped because the message handler threw`,
          messageName: this.streamName,
          offset: this.offset
        })
        throw e
      }
    }
  }

  /**
   * Decodes every complete message in the bytes received so far plus `chunk`.
   *
   * **Details**
   *
   * A failure is a `ProtocolError` naming the message and the offset; the
   * messages of the same chunk before the malformed one are not returned (use
   * `pushUnsafe` to get them), and the decoder is poisoned: every later call
   * fails the same way.
   */
  push(chunk: Uint8Array): Result.Result<ReadonlyArray<M>, ProtocolError> {
    const out: Array<M> = []
    try {
      this.pushUnsafe(chunk, (m) => out.push(m))
      return Result.succeed(out)
    } catch (e) {
      return Result.fail(asProtocolError(e, this.streamName))
    }
  }

  /**
   * Declares the end of the stream: fails when a message was left incomplete
   * (or a COPY without its end marker).
   */
  finish(): Result.Result<void, ProtocolError> {
    if (this.poisoned !== undefined) return Result.fail(this.poisoned)
    if (this.pendingLength > 0) {
      return Result.fail(this.poison(
        new ProtocolError({
          message:
            `${this.pendingName}: the stream ended inside the message (${this.pendingLength} bytes received) at stream offset ${this.offset}`,
          messageName: this.pendingName,
          offset: this.offset
        })
      ))
    }
    const open = this.openState()
    if (open !== undefined) {
      return Result.fail(this.poison(
        new ProtocolError({ message: `${open}: the stream ended inside ${open}`, messageName: open, offset: this.offset })
      ))
    }
    return Result.succeed(undefined)
  }

  /** The name of a multi-message construct still open (a COPY), if any. */
  protected openState(): string | undefined {
    return undefined
  }

  /** Reads a length-delimited packet at `r.pos` with `codec`, once all its bytes are present. */
  protected readPacket<A extends { readonly _tag: string }>(r: StreamReader, codec: Message.Codec<A>, length: number): A {
    const start = r.pos
    r.bytes(length)
    const b = this.boundedReader.reset(r.buf, start + 4, start + length, codec.name)
    r.reset(r.buf, start + 4, r.end, codec.name)
    const message = codec.readBody(b)
    b.done()
    r.pos = start + length
    return message
  }

  private keep(rest: Uint8Array, needTotal: number, waitByte: number, name: string): void {
    this.pending = [rest]
    this.pendingLength = rest.length
    this.needTotal = needTotal
    this.waitByte = waitByte
    this.pendingName = name
  }

  private concatPending(): Uint8Array {
    const buf = new Uint8Array(this.pendingLength)
    let at = 0
    for (const part of this.pending) {
      buf.set(part, at)
      at += part.length
    }
    this.pending = []
    this.pendingLength = 0
    this.needTotal = 0
    this.waitByte = -1
    return buf
  }

  private tooLarge(size: number, name: string): ProtocolError {
    return new ProtocolError({
      message:
        `${name}: message of at least ${size} bytes exceeds maxMessageSize ${this.maxMessageSize} at stream offset ${this.offset}`,
      messageName: name,
      offset: this.offset
    })
  }

  /** Adds the stream offset of the failure (the message's start plus its header plus the offset in the body). */
  private locate(e: ProtocolError, headerLength: number): ProtocolError {
    const at = this.offset + headerLength + (e.offset ?? 0)
    return new ProtocolError({
      message: `${e.message} (stream offset ${at})`,
      ...(e.messageName !== undefined ? { messageName: e.messageName } : {}),
      ...(e.offset !== undefined ? { offset: e.offset } : {})
    })
  }

  private poison(e: ProtocolError): ProtocolError {
    this.poisoned = e
    this.pending = []
    this.pendingLength = 0
    return e
  }
}

const copyEnd: CopyDataRows = { _tag: "CopyDataRows", rows: [], end: true }

/**
 * Reads one COPY line at `r.pos`: a row, or the end marker.
 */
export const readCopyLine = (r: StreamReader): CopyDataRows => {
  const start = r.pos
  r.reset(r.buf, start, r.end, "CopyDataRows")
  const nl = indexOfByte(r.buf, NEWLINE, start, r.end)
  if (nl < 0) r.waitFor(NEWLINE)
  r.pos = nl + 1
  if (isEndMarker(r.buf, start, nl)) return copyEnd
  return { _tag: "CopyDataRows", rows: [r.buf.subarray(start, nl)], end: false }
}

/**
 * Decodes `bytes` with a fresh `decoder`: they must hold exactly one whole
 * message.
 */
export const exactlyOne = <M extends { readonly _tag: string }>(
  decoder: Decoder<M>,
  bytes: Uint8Array,
  name: string
): Result.Result<M, ProtocolError> => {
  const messages: Array<M> = []
  try {
    decoder.pushUnsafe(bytes, (m) => messages.push(m))
  } catch (e) {
    return Result.fail(asProtocolError(e, name))
  }
  if (decoder.buffered > 0) {
    const what = messages.length === 0 ? "a message" : `the message after ${messages[0]!._tag}`
    return Result.fail(
      new ProtocolError({
        message: `${name}: truncated: ${what} continues past the ${bytes.length} bytes given`,
        messageName: name,
        offset: bytes.length
      })
    )
  }
  if (messages.length !== 1) {
    return Result.fail(
      new ProtocolError({
        message: `${name}: expected one message, got ${messages.length}`,
        messageName: name
      })
    )
  }
  return Result.succeed(messages[0]!)
}
