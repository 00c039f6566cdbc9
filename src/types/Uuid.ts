/**
 * The `uuid` codec: a lowercase canonical string
 * (`6ba7b810-9dad-11d1-80b4-00c04fd430c8`), as `uuid_out` prints it.
 *
 * A parameter in the canonical form (any case) is sent in binary (16 bytes);
 * any other string is sent as text for the server's own parser to judge.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import { Oid } from "./Oid.ts"
import * as Utf8 from "../wire/Utf8.ts"
import * as TypeCodec from "./TypeCodec.ts"

const NAME = "uuid"

/** ASCII codes of the lower-case hexadecimal digits. */
const HEX_DIGITS = Uint8Array.from("0123456789abcdef", (c) => c.charCodeAt(0))
/** The formatted UUID is written here, then read as one flat string. */
const scratch = new Uint8Array(36)

const decodeBinary = (buf: Uint8Array, start: number, end: number): string => {
  TypeCodec.expectLength(NAME, start, end, 16)
  let o = 0
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) scratch[o++] = 0x2d
    const b = buf[start + i]!
    scratch[o++] = HEX_DIGITS[b >> 4]!
    scratch[o++] = HEX_DIGITS[b & 15]!
  }
  return Utf8.fromAscii(scratch, 0, 36)
}

/** The 16 bytes of a parameter are written here before they go to the writer. */
const bytes16 = new Uint8Array(16)

/** The value of every hexadecimal digit by character code; -1 for other codes below 256. */
const HEX_VALUE = (() => {
  const table = new Int8Array(256).fill(-1)
  for (let c = 0; c < 10; c++) table[0x30 + c] = c
  for (let c = 0; c < 6; c++) table[0x61 + c] = table[0x41 + c] = 10 + c
  return table
})()

/** Where the two digits of each of the 16 bytes start in the canonical text. */
const BYTE_AT = Uint8Array.from([0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34])

/**
 * Reads a canonical UUID (8-4-4-4-12 hex digits, any case) into `out`; false when `s` is not one. One pass over
 * fixed positions with a table, no regular expression.
 */
const parseCanonical = (s: string, out: Uint8Array): boolean => {
  if (
    s.length !== 36 || s.charCodeAt(8) !== 0x2d || s.charCodeAt(13) !== 0x2d || s.charCodeAt(18) !== 0x2d ||
    s.charCodeAt(23) !== 0x2d
  ) return false
  // Negative once a digit is not hexadecimal or a character is beyond U+00FF (its low byte may look like one).
  let check = 0
  for (let k = 0; k < 16; k++) {
    const p = BYTE_AT[k]!
    const a = s.charCodeAt(p)
    const b = s.charCodeAt(p + 1)
    const hi = HEX_VALUE[a & 0xff]!
    const lo = HEX_VALUE[b & 0xff]!
    check |= hi | lo | -((a | b) >> 8)
    out[k] = (hi << 4) | lo
  }
  return check >= 0
}

/**
 * `uuid` (OID 2950).
 *
 * @since 0.1.0
 */
export const uuid: TypeCodec.TypeCodec<string> = TypeCodec.make<string>({
  name: NAME,
  oid: Oid.uuid,
  arrayOid: Oid._uuid,
  decodeBinary,
  decodeText: (buf, start, end) => TypeCodec.utf8(NAME, buf, start, end),
  encodeBinary: (w, value) => {
    if (typeof value !== "string") return TypeCodec.unsupported(NAME, value, "a string")
    if (!parseCanonical(value, bytes16)) return TypeCodec.fail(NAME, "not a canonical UUID (8-4-4-4-12 hex digits)")
    w.bytes(bytes16)
  },
  encodeText: (value: unknown) =>
    typeof value === "string" ? TypeCodec.checkText(NAME, value) : TypeCodec.unsupported(NAME, value, "a string"),
  formatFor: (value) => (typeof value === "string" && parseCanonical(value, bytes16) ? 1 : 0)
})
