/**
 * The protocol 2.0 row messages, AsciiRow (B) 'D' and BinaryRow (B) 'B'
 * (protocol-2.0 "Message Formats").
 *
 * **Details**
 *
 * - A row body starts with a null bitmap whose size depends on the field
 *   count of the preceding RowDescription, which the bytes do not carry: the
 *   codecs are made per field count (`asciiRow(n)`, `binaryRow(n)`), and
 *   `readAsciiRowBody` / `readBinaryRowBody` take the count.
 * - AsciiRow sizes count their own four bytes, BinaryRow sizes do not (as
 *   documented). Bitmap bits past the last field are ignored and written as
 *   zeros.
 * - Values of decoded rows are views of the input.
 *
 * Not here: the other server messages (`V2Backend`), and remembering the last
 * RowDescription (`V2BackendStream.BackendDecoder`). Pure: no Effect runtime,
 * no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type { Reader } from "../wire/Reader.ts"
import type { Writer } from "../wire/Writer.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"
import { BackendCode } from "./V2Backend.ts"
import { MAX_FIELDS } from "./V2Codec.ts"

// ---------------------------------------------------------------------------
// AsciiRow (B) 'D' and BinaryRow (B) 'B'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const AsciiRowSchema = Schema.TaggedStruct("AsciiRow", {
  /** One value per field of the last RowDescription; `null` is SQL NULL (bit clear). */
  values: Schema.Array(Fields.NullableBytes).check(Schema.isMaxLength(MAX_FIELDS))
})
/** @since 0.1.0 */
export interface AsciiRow extends Schema.Schema.Type<typeof AsciiRowSchema> {}

/** @since 0.1.0 */
export const BinaryRowSchema = Schema.TaggedStruct("BinaryRow", {
  /** One value per field of the last RowDescription; `null` is SQL NULL (bit clear). */
  values: Schema.Array(Fields.NullableBytes).check(Schema.isMaxLength(MAX_FIELDS))
})
/** @since 0.1.0 */
export interface BinaryRow extends Schema.Schema.Type<typeof BinaryRowSchema> {}

/**
 * Reads a row body: the null bitmap (bit 7 of byte 0 is field 0), then a size
 * and the bytes of each non-null field. AsciiRow sizes include their own four
 * bytes; BinaryRow sizes do not.
 */
const readRowValues = (r: Reader, fieldCount: number, sizeIncludesItself: boolean): Array<Uint8Array | null> => {
  const bitmap = r.bytes((fieldCount + 7) >> 3)
  const values: Array<Uint8Array | null> = new Array(fieldCount)
  for (let i = 0; i < fieldCount; i++) {
    if ((bitmap[i >> 3]! & (0x80 >> (i & 7))) === 0) {
      values[i] = null
      continue
    }
    let size = r.int32()
    if (sizeIncludesItself) {
      if (size < 4) {
        r.pos -= 4
        r.fail(`field ${i} has size ${size}, less than the 4 bytes of the size itself`)
      }
      size -= 4
    } else if (size < 0) {
      r.pos -= 4
      r.fail(`field ${i} has negative size ${size}`)
    }
    values[i] = r.bytes(size)
  }
  return values
}

const writeRowValues = (w: Writer, values: ReadonlyArray<Uint8Array | null>, sizeIncludesItself: boolean): void => {
  if (values.length > MAX_FIELDS) w.fail(`${values.length} fields exceeds ${MAX_FIELDS}`)
  const bitmapLength = (values.length + 7) >> 3
  for (let byte = 0; byte < bitmapLength; byte++) {
    let bits = 0
    for (let bit = 0; bit < 8; bit++) {
      const i = byte * 8 + bit
      if (i < values.length && values[i] !== null) bits |= 0x80 >> bit
    }
    w.uint8(bits)
  }
  const extra = sizeIncludesItself ? 4 : 0
  for (const v of values) {
    if (v !== null) w.int32(v.length + extra).bytes(v)
  }
}

/**
 * Reads an AsciiRow body for `fieldCount` fields. Throws `ProtocolError`.
 *
 * @since 0.1.0
 */
export const readAsciiRowBody = (r: Reader, fieldCount: number): AsciiRow => ({
  _tag: "AsciiRow",
  values: readRowValues(r, fieldCount, true)
})

/**
 * Reads a BinaryRow body for `fieldCount` fields. Throws `ProtocolError`.
 *
 * @since 0.1.0
 */
export const readBinaryRowBody = (r: Reader, fieldCount: number): BinaryRow => ({
  _tag: "BinaryRow",
  values: readRowValues(r, fieldCount, false)
})

/**
 * Writes an AsciiRow body (the bitmap and the values, sizes counting
 * themselves). Throws `ProtocolError` for more than 32767 values.
 *
 * @since 0.1.0
 */
export const writeAsciiRowBody = (w: Writer, m: AsciiRow): void => writeRowValues(w, m.values, true)

/**
 * Writes a BinaryRow body (the bitmap and the values). Throws
 * `ProtocolError` for more than 32767 values.
 *
 * @since 0.1.0
 */
export const writeBinaryRowBody = (w: Writer, m: BinaryRow): void => writeRowValues(w, m.values, false)

/** The codec of AsciiRow or BinaryRow for rows of `fieldCount` fields. */
const rowCodec = <A extends AsciiRow | BinaryRow>(
  name: A["_tag"],
  schema: Schema.Codec<A, A>,
  fieldCount: number,
  read: (r: Reader, fieldCount: number) => A,
  write: (w: Writer, m: A) => void
): Message.Codec<A> =>
  Message.make({
    name,
    framing: "payload",
    type: BackendCode[name],
    schema,
    readBody: (r) => read(r, fieldCount),
    writeBody: (w, m) => {
      if (m.values.length !== fieldCount) {
        w.fail(`${name} has ${m.values.length} values but the RowDescription has ${fieldCount} fields`)
      }
      write(w, m)
    }
  })

/**
 * The AsciiRow codec for rows of `fieldCount` fields (the count of the
 * preceding RowDescription).
 *
 * @since 0.1.0
 */
export const asciiRow = (fieldCount: number): Message.Codec<AsciiRow> =>
  rowCodec("AsciiRow", AsciiRowSchema, fieldCount, readAsciiRowBody, writeAsciiRowBody)

/**
 * The BinaryRow codec for rows of `fieldCount` fields.
 *
 * @since 0.1.0
 */
export const binaryRow = (fieldCount: number): Message.Codec<BinaryRow> =>
  rowCodec("BinaryRow", BinaryRowSchema, fieldCount, readBinaryRowBody, writeBinaryRowBody)
