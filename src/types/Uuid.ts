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
const canonical = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/


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

const toCanonical = (value: unknown): string => {
  if (typeof value !== "string") return TypeCodec.unsupported(NAME, value, "a string")
  if (!canonical.test(value)) return TypeCodec.fail(NAME, "not a canonical UUID (8-4-4-4-12 hex digits)")
  return value
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
    const s = toCanonical(value)
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) === 0x2d) continue
      w.uint8((TypeCodec.hexValue(s.charCodeAt(i)) << 4) | TypeCodec.hexValue(s.charCodeAt(i + 1)))
      i++
    }
  },
  encodeText: (value: unknown) =>
    typeof value === "string" ? TypeCodec.checkText(NAME, value) : TypeCodec.unsupported(NAME, value, "a string"),
  formatFor: (value) => (typeof value === "string" && canonical.test(value) ? 1 : 0)
})
