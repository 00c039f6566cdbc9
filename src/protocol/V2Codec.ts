/**
 * What the protocol 2.0 codecs of both directions share: limits and marker
 * bytes (the COPY end marker, the bytes after 'V'), the "Unused" string, the
 * codec of a message whose whole body is one String, the check of an Int32
 * code, the writer that picks a codec by `_tag`, the encoder behind
 * `encodeBackend` / `encodeFrontend`, and the error wrapper.
 *
 * **Details**
 *
 * Internal to the 2.0 modules: `V2.ts` re-exports none of it. A message whose
 * body is empty uses `Message.empty`.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { ProtocolError } from "../errors/PgError.ts"
import type { Reader } from "../wire/Reader.ts"
import { Writer } from "../wire/Writer.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"

/** Int16 field counts (RowDescription) are at most this. */
export const MAX_FIELDS = 32767

/** A COPY row ends in '\n'. */
export const NEWLINE = 0x0a
/** The first byte of the COPY end marker `\.`. */
export const BACKSLASH = 0x5c
/** The second byte of the COPY end marker `\.`. */
export const PERIOD = 0x2e

/** After 'V': a nonempty function result follows. */
export const RESULT_NONEMPTY = 0x47 // 'G'
/** After 'V' (and after a result): the end of the function's answer. */
export const RESULT_END = 0x30 // '0'

/** Whether `buf[start, end)` is the COPY end marker `\.` (without its '\n'). */
export const isEndMarker = (buf: Uint8Array, start: number, end: number): boolean =>
  end - start === 2 && buf[start] === BACKSLASH && buf[start + 1] === PERIOD

/** A byte as `0x..`, for error messages. */
export const hex = (b: number): string => `0x${b.toString(16).padStart(2, "0")}`

/** A non-empty string without NUL: an "Unused" string worth keeping. */
export const UnusedString = Fields.CString.check(Schema.isMinLength(1))

/** The index of `byte` in `buf[from, to)`, or -1. */
export const indexOfByte = (buf: Uint8Array, byte: number, from: number, to: number): number => {
  const i = buf.indexOf(byte, from)
  return i >= 0 && i < to ? i : -1
}

/**
 * Reads an Int32 that must equal `expected` (the code of an Authentication
 * message, of CancelRequest or SSLRequest). Throws `ProtocolError` pointing
 * at it, naming it `what`.
 */
export const expectInt32 = (r: Reader, expected: number, what: string): void => {
  const got = r.int32()
  if (got !== expected) {
    r.pos -= 4
    r.fail(`${what} ${got} is not ${expected}`)
  }
}

/** `e` as a `ProtocolError` naming `messageName` (a `ProtocolError` is kept as it is). */
export const asProtocolError = (e: unknown, messageName: string): ProtocolError =>
  e instanceof ProtocolError ? e : new ProtocolError({ message: `${messageName}: ${String(e)}`, messageName })

const scratchWriter = new Writer()

/** Runs `write` for `message` on a scratch writer and returns a copy of the bytes. */
export const encodeWith = <A extends { readonly _tag: string }>(
  message: A,
  write: (w: Writer, message: A) => void
): Result.Result<Uint8Array, ProtocolError> => {
  try {
    write(scratchWriter, message)
    return Result.succeed(scratchWriter.flushCopy())
  } catch (e) {
    // Drop the half-written message so it never leaks into a later one.
    scratchWriter.abort().flush()
    return Result.fail(asProtocolError(e, message._tag))
  }
}

/**
 * Writes any message of `codecs`, chosen by its `_tag`, with that codec's
 * framing. Throws `ProtocolError` for another `_tag`, naming `sender` ("a 2.0
 * `sender` message").
 */
export const writerByTag = (
  codecs: ReadonlyArray<Message.Codec<any>>,
  sender: string
): (w: Writer, message: { readonly _tag: string }) => void => {
  const byTag = new Map(codecs.map((codec) => [codec.name, codec]))
  return (w, message) => {
    const codec = byTag.get(message._tag)
    if (codec === undefined) return w.fail(`${message._tag} is not a 2.0 ${sender} message`)
    Message.writeFrame(w, codec, message)
  }
}

/**
 * The codec of a message whose whole body is one String, the field `field`
 * (CompletedResponse, CursorResponse, ErrorResponse, NoticeResponse, Query,
 * PasswordPacket). Framing `payload` unless given.
 */
export const stringCodec = <
  K extends string,
  A extends { readonly _tag: string } & { readonly [P in K]: string }
>(options: {
  readonly name: A["_tag"]
  readonly framing?: Message.Framing | undefined
  readonly type: number
  readonly schema: Schema.Codec<A, A>
  readonly field: K
}): Message.Codec<A> => {
  const { field, name } = options
  return Message.make({
    name,
    framing: options.framing ?? "payload",
    type: options.type,
    schema: options.schema,
    readBody: (r) => ({ _tag: name, [field]: r.cstring() }) as unknown as A,
    writeBody: (w, m) => {
      w.cstring(m[field])
    }
  })
}
