/**
 * What the protocol 3.x message codecs of both directions share: unsigned
 * 16-bit counts and the arrays they bound, format codes, lists of values,
 * the check of a whole frame's header, and the wording of errors about a
 * type byte.
 *
 * **Details**
 *
 * Internal to the 3.x modules: `Backend` re-exports `checkFrameUnsafe` only,
 * as it always did. A message whose body is empty uses `Message.empty`.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { ProtocolError } from "../errors/PgError.ts"
import type { Reader } from "../wire/Reader.ts"
import type { Writer } from "../wire/Writer.ts"

/** The most items an unsigned 16-bit count can announce. */
export const MAX_COUNT16 = 65535

/** An array whose length must fit in an unsigned 16-bit count. */
export const Array16 = <S extends Schema.Top>(item: S) => Schema.Array(item).check(Schema.isMaxLength(MAX_COUNT16))

/** Writes an unsigned 16-bit count after checking it fits. */
export const writeCount16 = (w: Writer, n: number, what: string): void => {
  if (n > MAX_COUNT16) w.fail(`${n} ${what}s exceed the limit of ${MAX_COUNT16}`)
  w.uint16(n)
}

/** Reads a format code (Int16 that "must presently be zero (text) or one (binary)"). */
export const readFormatCode = (r: Reader): 0 | 1 => {
  const v = r.int16()
  if (v !== 0 && v !== 1) {
    r.pos -= 2
    r.fail(`invalid format code ${v}`)
  }
  return v
}

/** Reads a count of format codes, then the codes. */
export const readFormatCodes = (r: Reader, what: string): Array<0 | 1> => {
  const n = r.countU16(what, 2)
  const out: Array<0 | 1> = new Array(n)
  for (let i = 0; i < n; i++) out[i] = readFormatCode(r)
  return out
}

/** Writes a count of format codes, then the codes. */
export const writeFormatCodes = (w: Writer, codes: ReadonlyArray<0 | 1>, what: string): void => {
  writeCount16(w, codes.length, what)
  for (let i = 0; i < codes.length; i++) w.int16(codes[i]!)
}

/** Reads a count of values, then each value (Int32 length, -1 for NULL, then the bytes, as views). */
export const readValues = (r: Reader, what: string): Array<Uint8Array | null> => {
  const n = r.countU16(what, 4)
  const out: Array<Uint8Array | null> = new Array(n)
  for (let i = 0; i < n; i++) out[i] = r.nullableBytes()
  return out
}

/** Writes a count of values, then each value (`null` as length -1). */
export const writeValues = (w: Writer, values: ReadonlyArray<Uint8Array | null>, what: string): void => {
  writeCount16(w, values.length, what)
  for (let i = 0; i < values.length; i++) w.nullableBytes(values[i]!)
}

/** Describes a type byte for errors: the character and its hex value. */
export const describeType = (type: number): string =>
  type >= 0x20 && type < 0x7f
    ? `'${String.fromCharCode(type)}' (0x${type.toString(16).padStart(2, "0")})`
    : `0x${type.toString(16).padStart(2, "0")}`

/**
 * Catches at the one boundary: a `ProtocolError` is returned as is; anything
 * else (a decoder bug) becomes a `ProtocolError` that says so.
 */
export const toProtocolError = (e: unknown): ProtocolError =>
  e instanceof ProtocolError
    ? e
    : new ProtocolError({ message: `unexpected decoder failure: ${String(e)}`, offset: 0 })

/**
 * Checks a whole typed frame's header; returns its type byte. Throws
 * `ProtocolError`.
 *
 * @since 0.1.0
 */
export const checkFrameUnsafe = (bytes: Uint8Array, direction: string): number => {
  if (bytes.length < 5) {
    throw new ProtocolError({
      message: `${direction} frame of ${bytes.length} bytes is shorter than its 5-byte header`,
      offset: 0
    })
  }
  const length = ((bytes[1]! << 24) | (bytes[2]! << 16) | (bytes[3]! << 8) | bytes[4]!)
  if (length < 4 || length + 1 !== bytes.length) {
    throw new ProtocolError({
      message: `${direction} frame of type ${describeType(bytes[0]!)}: length ${length} does not match the ${
        bytes.length - 1
      } bytes after the type byte at offset 1`,
      offset: 1
    })
  }
  return bytes[0]!
}
