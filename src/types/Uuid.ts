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
import * as TypeCodec from "./TypeCodec.ts"

const NAME = "uuid"
const canonical = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

const H = TypeCodec.HEX_BYTES

const decodeBinary = (buf: Uint8Array, start: number, end: number): string => {
  TypeCodec.expectLength(NAME, start, end, 16)
  const p = start
  return H[buf[p]!]! + H[buf[p + 1]!] + H[buf[p + 2]!] + H[buf[p + 3]!] + "-" + H[buf[p + 4]!] + H[buf[p + 5]!] +
    "-" + H[buf[p + 6]!] + H[buf[p + 7]!] + "-" + H[buf[p + 8]!] + H[buf[p + 9]!] + "-" + H[buf[p + 10]!] +
    H[buf[p + 11]!] + H[buf[p + 12]!] + H[buf[p + 13]!] + H[buf[p + 14]!] + H[buf[p + 15]!]
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
