/**
 * CopyDataRows (B & F), the one protocol 2.0 message both directions send
 * (protocol-2.0 "Message Formats").
 *
 * **Details**
 *
 * CopyDataRows has neither type byte nor length: text lines ending in '\n',
 * then the line `\.`. A `CopyDataRows` value is some rows (without their
 * '\n') and whether the end marker follows. Here the bytes given are read as
 * one value holding every line; the stream decoders (`V2BackendStream`,
 * `V2FrontendStream`) emit one value per line instead, so a COPY of any size
 * never has to be buffered whole. Rows of a decoded value are views of the
 * input.
 *
 * Not here: errors raised in the middle of a COPY OUT (nothing frames them
 * apart from the rows in 2.0, so they arrive as rows). Pure: no Effect
 * runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type { ProtocolError } from "../errors/PgError.ts"
import { Reader } from "../wire/Reader.ts"
import type { Writer } from "../wire/Writer.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"
import { asProtocolError, BACKSLASH, encodeWith, indexOfByte, isEndMarker, NEWLINE, PERIOD } from "./V2Codec.ts"

/** One copy row: bytes without '\n', and not the end marker `\.`. */
const CopyRow = Fields.Bytes.check(
  Schema.makeFilter((b: Uint8Array) => b.indexOf(NEWLINE) === -1 || "must not contain a newline byte", {
    expected: "bytes without a newline"
  }),
  Schema.makeFilter(
    (b: Uint8Array) => !isEndMarker(b, 0, b.length) || "must not be the end marker \\.",
    { expected: "a row that is not the end marker" }
  )
)

/** @since 0.1.0 */
export const CopyDataRowsSchema = Schema.TaggedStruct("CopyDataRows", {
  /** Rows without their terminating '\n' (views when decoded). */
  rows: Schema.Array(CopyRow),
  /** The end marker `\.` '\n' follows the rows. */
  end: Schema.Boolean
})
/**
 * Some COPY rows, and whether the end marker follows them.
 *
 * @since 0.1.0
 */
export interface CopyDataRows extends Schema.Schema.Type<typeof CopyDataRowsSchema> {}

/**
 * Writes rows, each followed by '\n', then `\.` '\n' when `end` is set.
 * Throws `ProtocolError` for a row containing '\n' or equal to `\.`.
 *
 * @since 0.1.0
 */
export const writeCopyDataRowsUnsafe = (w: Writer, m: CopyDataRows): void => {
  for (let i = 0; i < m.rows.length; i++) {
    const row = m.rows[i]!
    if (row.indexOf(NEWLINE) !== -1) w.fail(`CopyDataRows: row ${i} contains a newline byte`)
    if (isEndMarker(row, 0, row.length)) w.fail(`CopyDataRows: row ${i} is the end marker \\.`)
    w.bytes(row).uint8(NEWLINE)
  }
  if (m.end) w.uint8(BACKSLASH).uint8(PERIOD).uint8(NEWLINE)
}

/**
 * Reads lines from `r` up to its end: every line must end in '\n', and the
 * end marker, if present, must be the last line. Throws `ProtocolError`.
 *
 * @since 0.1.0
 */
export const readCopyDataRowsUnsafe = (r: Reader): CopyDataRows => {
  const rows: Array<Uint8Array> = []
  const buf = r.buf
  while (r.pos < r.end) {
    const start = r.pos
    const nl = indexOfByte(buf, NEWLINE, start, r.end)
    if (nl < 0) r.fail("unterminated row (no newline)")
    r.pos = nl + 1
    if (isEndMarker(buf, start, nl)) {
      r.done()
      return { _tag: "CopyDataRows", rows, end: true }
    }
    rows.push(buf.subarray(start, nl))
  }
  return { _tag: "CopyDataRows", rows, end: false }
}

/**
 * Encodes CopyDataRows as fresh bytes.
 *
 * @since 0.1.0
 */
export const encodeCopyDataRows = (m: CopyDataRows): Result.Result<Uint8Array, ProtocolError> =>
  encodeWith(m, writeCopyDataRowsUnsafe)

/**
 * Decodes bytes made only of COPY lines (see `readCopyDataRowsUnsafe`).
 *
 * @since 0.1.0
 */
export const decodeCopyDataRows = (bytes: Uint8Array): Result.Result<CopyDataRows, ProtocolError> => {
  try {
    return Result.succeed(readCopyDataRowsUnsafe(new Reader(bytes, 0, bytes.length, "CopyDataRows")))
  } catch (e) {
    return Result.fail(asProtocolError(e, "CopyDataRows"))
  }
}

/**
 * The Schema transformation between COPY lines and CopyDataRows.
 *
 * @since 0.1.0
 */
export const CopyDataRowsFromBytes = Message.fromBytesWith({
  expected: "protocol 2.0 COPY rows",
  schema: CopyDataRowsSchema,
  decode: decodeCopyDataRows,
  encode: encodeCopyDataRows
})
