/**
 * `bit` and `varbit` codecs: a string of `0` and `1` characters, as `bit_out`
 * prints it.
 *
 * Binary layout (`bit_send`): int32 bit count, then the bits packed most
 * significant first in ceil(count / 8) bytes (the pad bits of the last byte
 * are zero). Parameters are strings, sent as text (`B'0101'` literal content).
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import { Oid } from "./Oid.ts"
import * as TypeCodec from "./TypeCodec.ts"

const make = (name: string, oid: number, arrayOid: number): TypeCodec.TypeCodec<string> =>
  TypeCodec.make<string>({
    name,
    oid,
    arrayOid,
    decodeBinary: (buf, start, end) => {
      if (end - start < 4) return TypeCodec.fail(name, "truncated bit count")
      const bits = TypeCodec.int32At(buf, start)
      if (bits < 0 || Math.ceil(bits / 8) !== end - start - 4) {
        return TypeCodec.fail(name, `bit count ${bits} does not match the ${end - start - 4} data bytes`)
      }
      let s = ""
      for (let i = 0; i < bits; i++) s += (buf[start + 4 + (i >> 3)]! >> (7 - (i & 7))) & 1 ? "1" : "0"
      return s
    },
    decodeText: (buf, start, end) => {
      const s = TypeCodec.utf8(name, buf, start, end)
      if (!/^[01]*$/.test(s)) return TypeCodec.fail(name, "invalid bit string text")
      return s
    },
    encodeText: (value: unknown) => {
      if (typeof value !== "string") return TypeCodec.unsupported(name, value, "a string of 0 and 1")
      return TypeCodec.checkText(name, value)
    }
  })

/** `bit` (OID 1560). @since 0.1.0 */
export const bit = make("bit", Oid.bit, Oid._bit)
/** `varbit` (OID 1562). @since 0.1.0 */
export const varbit = make("varbit", Oid.varbit, Oid._varbit)
