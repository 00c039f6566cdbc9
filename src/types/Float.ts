/**
 * `float4` and `float8` codecs: JavaScript `number`, keeping NaN, ±Infinity and
 * -0.
 *
 * **Details**
 *
 * - `float8` is a JavaScript number exactly, in both directions.
 * - `float4` decodes to the exact value of the stored single-precision float
 *   (`1.1` stored as float4 is 1.100000023841858), from both the binary and the
 *   text form (the text is rounded to single precision with `Math.fround`), so
 *   the two formats agree. Encoding rounds to single precision, as the server's
 *   own input function does.
 * - A `bigint` is accepted when it converts to a float without rounding.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import { Oid } from "./Oid.ts"
import * as TypeCodec from "./TypeCodec.ts"

const toNumber = (type: string, value: unknown): number => {
  if (typeof value === "number") return value
  if (typeof value === "bigint") {
    const n = Number(value)
    if (BigInt(n) !== value) return TypeCodec.fail(type, `${value} cannot be represented exactly`)
    return n
  }
  return TypeCodec.unsupported(type, value, "a number")
}

/**
 * `float4` (OID 700).
 *
 * @since 0.1.0
 */
export const float4: TypeCodec.TypeCodec<number> = TypeCodec.make<number>({
  name: "float4",
  oid: Oid.float4,
  arrayOid: Oid._float4,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("float4", start, end, 4)
    return TypeCodec.float32At(buf, start)
  },
  decodeText: (buf, start, end) =>
    Math.fround(TypeCodec.parseFloatText("float4", TypeCodec.utf8("float4", buf, start, end))),
  encodeBinary: (w, value) => {
    w.uint32(TypeCodec.float32Bits(toNumber("float4", value)))
  },
  encodeText: (value) => TypeCodec.formatFloat(toNumber("float4", value))
})

/**
 * `float8` (OID 701).
 *
 * @since 0.1.0
 */
export const float8: TypeCodec.TypeCodec<number> = TypeCodec.make<number>({
  name: "float8",
  oid: Oid.float8,
  arrayOid: Oid._float8,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("float8", start, end, 8)
    return TypeCodec.float64At(buf, start)
  },
  decodeText: (buf, start, end) => TypeCodec.parseFloatText("float8", TypeCodec.utf8("float8", buf, start, end)),
  encodeBinary: (w, value) => {
    w.float64(toNumber("float8", value))
  },
  encodeText: (value) => TypeCodec.formatFloat(toNumber("float8", value))
})
