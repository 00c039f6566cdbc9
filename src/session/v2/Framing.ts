/**
 * Where each protocol 2.0 server message ends (they carry no length: protocol-2.0
 * "Message Formats"), so the session can hand whole messages to the codecs and
 * read rows in place, without a view per value.
 *
 * **Details**
 *
 * - `messageEnd` returns the index after the message at `pos`, `NEED_MORE`
 *   when the bytes so far end inside it, or `UNKNOWN` when its type byte is not
 *   a 2.0 message (the codecs then say why).
 * - A row needs the field count of the last RowDescription; a size below its
 *   minimum, or one that takes the row past `limit` (maxMessageSize), is a
 *   `ProtocolError` at once, before the row is buffered.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import { ProtocolError } from "../../errors/PgError.ts"

/** The message continues past the bytes received. */
export const NEED_MORE = -1
/** Not a 2.0 message type byte (or not one this function can frame). */
export const UNKNOWN = -2

const int32At = (buf: Uint8Array, at: number): number =>
  (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!

const cstringEnd = (buf: Uint8Array, from: number, end: number): number => {
  const nul = buf.indexOf(0, from)
  return nul < 0 || nul >= end ? NEED_MORE : nul + 1
}

/**
 * The end of the row at `pos` (type byte `D` or `B`) with `fieldCount` fields.
 *
 * @since 0.1.0
 */
export const rowEnd = (
  buf: Uint8Array,
  pos: number,
  end: number,
  fieldCount: number,
  ascii: boolean,
  limit = Number.MAX_SAFE_INTEGER
): number => {
  let p = pos + 1
  const bitmap = p
  p += (fieldCount + 7) >> 3
  if (p > end) return NEED_MORE
  for (let i = 0; i < fieldCount; i++) {
    if ((buf[bitmap + (i >> 3)]! & (0x80 >> (i & 7))) === 0) continue
    if (p + 4 > end) return NEED_MORE
    const size = int32At(buf, p)
    const length = ascii ? size - 4 : size
    if (length < 0) {
      throw new ProtocolError({
        message: `${ascii ? "AsciiRow" : "BinaryRow"}: field ${i} has size ${size}, ${ascii ? "less than the 4 bytes of the size itself" : "negative"}`,
        messageName: ascii ? "AsciiRow" : "BinaryRow",
        offset: p - pos
      })
    }
    p += 4 + length
    if (p - pos > limit) {
      throw new ProtocolError({
        message: `${ascii ? "AsciiRow" : "BinaryRow"}: a message of at least ${p - pos} bytes exceeds maxMessageSize ${limit}`,
        messageName: ascii ? "AsciiRow" : "BinaryRow",
        offset: 0
      })
    }
    if (p > end) return NEED_MORE
  }
  return p
}

/**
 * The end of the message at `pos`: an index, `NEED_MORE` or `UNKNOWN`. `fieldCount` is the last
 * RowDescription's (-1 before any: a row is then `UNKNOWN`), `inCopy` whether COPY OUT lines are being read.
 * `scanned`: how many bytes from `pos` an earlier call that said `NEED_MORE` for this message read (its terminator
 * is not among them), so a long string or COPY line is searched once, not again with every chunk.
 *
 * @since 0.1.0
 */
export const messageEnd = (
  buf: Uint8Array,
  pos: number,
  end: number,
  fieldCount: number,
  inCopy: boolean,
  limit = Number.MAX_SAFE_INTEGER,
  scanned = 0
): number => {
  if (inCopy) {
    const nl = buf.indexOf(10, pos + scanned)
    return nl < 0 || nl >= end ? NEED_MORE : nl + 1
  }
  const type = buf[pos]!
  switch (type) {
    case 0x44: // D
    case 0x42: // B
      return fieldCount < 0 ? UNKNOWN : rowEnd(buf, pos, end, fieldCount, type === 0x44, limit)
    case 0x43: // C
    case 0x50: // P
    case 0x45: // E
    case 0x4e: // N
    case 0x49: // I
      return cstringEnd(buf, Math.max(pos + 1, pos + scanned), end)
    case 0x41: // A
      return pos + 5 > end ? NEED_MORE : cstringEnd(buf, Math.max(pos + 5, pos + scanned), end)
    case 0x5a: // Z
    case 0x47: // G
    case 0x48: // H
      return pos + 1
    case 0x4b: // K
      return pos + 9 > end ? NEED_MORE : pos + 9
    case 0x52: { // R
      if (pos + 5 > end) return NEED_MORE
      const code = int32At(buf, pos + 1)
      const size = code === 5 ? 9 : code === 4 ? 7 : 5
      return pos + size > end ? NEED_MORE : pos + size
    }
    case 0x56: { // V
      if (pos + 2 > end) return NEED_MORE
      const b = buf[pos + 1]
      if (b === 0x30) return pos + 2
      if (b !== 0x47) return UNKNOWN
      if (pos + 6 > end) return NEED_MORE
      const size = int32At(buf, pos + 2)
      if (size < 0) return UNKNOWN
      return pos + 7 + size > end ? NEED_MORE : pos + 7 + size
    }
    case 0x54: { // T
      if (pos + 3 > end) return NEED_MORE
      const n = (buf[pos + 1]! << 8) | buf[pos + 2]!
      let p = pos + 3
      for (let i = 0; i < n; i++) {
        const nul = cstringEnd(buf, p, end)
        if (nul < 0) return NEED_MORE
        p = nul + 10
        if (p > end) return NEED_MORE
      }
      return p
    }
    default:
      return UNKNOWN
  }
}
