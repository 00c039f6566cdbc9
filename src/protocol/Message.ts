/**
 * The shape of a message codec: one Schema for the data, a hand-written
 * `readBody`/`writeBody` pair beside it, and a Schema transformation from bytes
 * built from the pair.
 *
 * **Details**
 *
 * - The Schema (a `TaggedStruct` whose `_tag` is the name on the protocol-3.2
 *   "Message Formats" page) is the message's documentation, its validator, its
 *   JSON form and the source of arbitraries for property tests.
 * - `readBody`/`writeBody` are the hot path: no Schema parse, no Effect. They
 *   throw `ProtocolError` on bad input (the "Unsafe" contract); `decodeFrame`,
 *   `encodeFrame` and the `fromBytes` Schema catch at one boundary.
 * - Three framings exist: `typed` (type byte, int32 length that counts itself,
 *   body: every 3.x message), `untyped` (int32 length, body: startup-phase
 *   frames), and `payload` (type byte then the body up to the end of the
 *   enclosing buffer: replication messages inside CopyData, logical
 *   replication messages, and protocol 2.0 messages, which carry no length).
 *
 * Pure: imports `effect/Schema` and `effect/Result` only.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"
import { ProtocolError } from "../errors/PgError.ts"
import { Reader } from "../wire/Reader.ts"
import { Writer } from "../wire/Writer.ts"

/**
 * How a message is delimited on the wire.
 *
 * @since 0.1.0
 */
export type Framing = "typed" | "untyped" | "payload"

/**
 * A message codec.
 *
 * @since 0.1.0
 */
export interface Codec<A extends { readonly _tag: string }> {
  /** The protocol name, equal to the Schema's `_tag`. */
  readonly name: A["_tag"]
  readonly framing: Framing
  /** The type byte (`typed` and `payload` framings); -1 for `untyped`. */
  readonly type: number
  /** The data Schema. */
  readonly schema: Schema.Codec<A, A>
  /** Reads the body; the reader is bounded to the body. Throws `ProtocolError`. */
  readonly readBody: (r: Reader) => A
  /** Writes the body (the frame header is written by `writeFrame`). Throws `ProtocolError`. */
  readonly writeBody: (w: Writer, message: A) => void
}

/**
 * Builds a codec.
 *
 * @since 0.1.0
 */
export const make = <A extends { readonly _tag: string }>(options: {
  readonly name: A["_tag"]
  readonly framing?: Framing | undefined
  readonly type: number
  readonly schema: Schema.Codec<A, A>
  readonly readBody: (r: Reader) => A
  readonly writeBody: (w: Writer, message: A) => void
}): Codec<A> => ({
  name: options.name,
  framing: options.framing ?? "typed",
  type: options.type,
  schema: options.schema,
  readBody: options.readBody,
  writeBody: options.writeBody
})

/**
 * Builds the codec of a message without fields: its body is empty, and every
 * decode returns one frozen instance.
 *
 * @since 0.1.0
 */
export const empty = <A extends { readonly _tag: string }>(options: {
  readonly name: A["_tag"]
  readonly framing?: Framing | undefined
  readonly type: number
  readonly schema: Schema.Codec<A, A>
}): Codec<A> => {
  const instance = Object.freeze({ _tag: options.name }) as A
  return make({ ...options, readBody: () => instance, writeBody: () => {} })
}

/**
 * Writes one whole frame (header and body) into `w`. Throws `ProtocolError`.
 *
 * @since 0.1.0
 */
export const writeFrame = <A extends { readonly _tag: string }>(w: Writer, codec: Codec<A>, message: NoInfer<A>): void => {
  switch (codec.framing) {
    case "typed":
      w.begin(codec.type, codec.name)
      codec.writeBody(w, message)
      w.end()
      return
    case "untyped":
      w.beginUntyped(codec.name)
      codec.writeBody(w, message)
      w.end()
      return
    case "payload":
      w.uint8(codec.type)
      codec.writeBody(w, message)
      return
  }
}

const scratchWriter = new Writer()

/**
 * Encodes one message as a fresh byte array.
 *
 * @since 0.1.0
 */
export const encodeFrame = <A extends { readonly _tag: string }>(
  codec: Codec<A>,
  message: NoInfer<A>
): Result.Result<Uint8Array, ProtocolError> => {
  try {
    writeFrame(scratchWriter, codec, message)
    return Result.succeed(scratchWriter.flushCopy())
  } catch (e) {
    // Drop the half-written message so it never leaks into a later frame.
    scratchWriter.abort().flush()
    if (e instanceof ProtocolError) return Result.fail(e)
    throw e
  }
}

/**
 * Reads a whole frame of `codec`'s framing from `bytes` (which must hold exactly
 * one message) and returns the message. Throws `ProtocolError`.
 *
 * @since 0.1.0
 */
export const readFrameUnsafe = <A extends { readonly _tag: string }>(codec: Codec<A>, bytes: Uint8Array): A => {
  const r = new Reader(bytes, 0, bytes.length, codec.name)
  let bodyStart: number
  let bodyEnd = bytes.length
  if (codec.framing === "untyped") {
    const length = r.int32()
    if (length !== bytes.length) r.fail(`length ${length} does not match the ${bytes.length} bytes given`)
    bodyStart = 4
  } else {
    const type = r.uint8()
    if (type !== codec.type) {
      r.pos = 0
      r.fail(`type byte 0x${type.toString(16)} is not 0x${codec.type.toString(16)}`)
    }
    if (codec.framing === "typed") {
      const length = r.int32()
      if (length < 4 || length + 1 !== bytes.length) {
        r.pos = 1
        r.fail(`length ${length} does not match the ${bytes.length} bytes given`)
      }
      bodyStart = 5
    } else {
      bodyStart = 1
    }
  }
  r.reset(bytes, bodyStart, bodyEnd, codec.name)
  const message = codec.readBody(r)
  r.done()
  return message
}

/**
 * Decodes one whole frame.
 *
 * @since 0.1.0
 */
export const decodeFrame = <A extends { readonly _tag: string }>(
  codec: Codec<A>,
  bytes: Uint8Array
): Result.Result<A, ProtocolError> => {
  try {
    return Result.succeed(readFrameUnsafe(codec, bytes))
  } catch (e) {
    if (e instanceof ProtocolError) return Result.fail(e)
    return Result.fail(new ProtocolError({ message: `${codec.name}: ${String(e)}`, messageName: codec.name }))
  }
}

/**
 * Decodes a body (bytes after the header) with `codec`. Throws `ProtocolError`.
 *
 * @since 0.1.0
 */
export const readBodyUnsafe = <A extends { readonly _tag: string }>(
  codec: Codec<A>,
  buf: Uint8Array,
  start: number,
  end: number,
  reader: Reader = new Reader()
): A => {
  reader.reset(buf, start, end, codec.name)
  const message = codec.readBody(reader)
  reader.done()
  return message
}

/**
 * The Schema transformation from a frame's bytes to the message, built from the
 * codec's `readBody`/`writeBody`: `Schema.decodeUnknownResult(fromBytes(codec))(bytes)`.
 *
 * **Details**
 *
 * A check on the byte side runs the decoder once and reports a typed issue
 * (the `ProtocolError` message: message name and offset) when the bytes are
 * not a valid frame; the decoded value is remembered for the transformation
 * that follows, so a frame is decoded once.
 *
 * @since 0.1.0
 */
export const fromBytes = <A extends { readonly _tag: string }>(codec: Codec<A>) => {
  const decoded = new WeakMap<Uint8Array, A>()
  const bytesSchema = Schema.Uint8Array.check(
    Schema.makeFilter((bytes: Uint8Array) => {
      const result = decodeFrame(codec, bytes)
      if (Result.isFailure(result)) return result.failure.message
      decoded.set(bytes, result.success)
      return undefined
    }, { expected: `a ${codec.name} frame` })
  )
  return bytesSchema.pipe(
    Schema.decodeTo(codec.schema, {
      decode: SchemaGetter.transform((bytes: Uint8Array) => decoded.get(bytes) ?? readFrameUnsafe(codec, bytes)),
      encode: SchemaGetter.transform((message: A) => {
        const result = encodeFrame(codec, message)
        if (Result.isFailure(result)) throw result.failure
        return result.success
      })
    })
  )
}

/**
 * The Schema transformation from one whole frame's bytes to a union of messages,
 * built from a decoder and an encoder that already dispatch on the type byte
 * and the `_tag` (`Backend.MessageFromBytes`, `Frontend.MessageFromBytes`,
 * `Startup.MessageFromBytes`).
 *
 * **Details**
 *
 * Works like `fromBytes`: a check on the byte side decodes once and reports the
 * `ProtocolError` message as the issue; the transformation reuses that result.
 * A frame produced by the encoder is remembered with the message it encodes,
 * so the check that runs on the byte side while encoding does not decode it
 * again: that matters when the bytes alone cannot say which message they are
 * (a 'p' frame encoded from a SASLResponse must not be re-read as a
 * PasswordMessage).
 *
 * @since 0.1.0
 */
export const fromBytesWith = <A extends { readonly _tag: string }>(options: {
  readonly expected: string
  readonly schema: Schema.Codec<A, A>
  readonly decode: (bytes: Uint8Array) => Result.Result<A, ProtocolError>
  readonly encode: (message: A) => Result.Result<Uint8Array, ProtocolError>
}) => {
  const decoded = new WeakMap<Uint8Array, A>()
  const bytesSchema = Schema.Uint8Array.check(
    Schema.makeFilter((bytes: Uint8Array) => {
      if (decoded.has(bytes)) return undefined
      const result = options.decode(bytes)
      if (Result.isFailure(result)) return result.failure.message
      decoded.set(bytes, result.success)
      return undefined
    }, { expected: options.expected })
  )
  return bytesSchema.pipe(
    Schema.decodeTo(options.schema, {
      decode: SchemaGetter.transform((bytes: Uint8Array) => {
        const cached = decoded.get(bytes)
        if (cached !== undefined) return cached
        const result = options.decode(bytes)
        if (Result.isFailure(result)) throw result.failure
        return result.success
      }),
      encode: SchemaGetter.transform((message: A) => {
        const result = options.encode(message)
        if (Result.isFailure(result)) throw result.failure
        decoded.set(result.success, message)
        return result.success
      })
    })
  )
}
