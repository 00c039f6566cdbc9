/**
 * The text of an untyped parameter whose type the server infers (rule 5 of
 * `Registry`): the value's text is sent with OID 0, as a quoted literal would
 * be. Strings, numbers (shortest exact text, `-0`, `NaN`, `Infinity`),
 * booleans, bigints, Dates (timestamptz text), bytes (`\x` hex), `BigDecimal`,
 * arrays of such values (an array literal, bounds kept) and plain objects or
 * arrays of objects (JSON text). Other objects (a Map, a Set, a Float32Array,
 * a class instance without `toJSON`) are refused rather than serialised as
 * `{}`.
 *
 * Re-exported by `Registry`, which decides when a parameter goes this way.
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as BigDecimal from "effect/BigDecimal"
import * as ArrayCodec from "./Array.ts"
import * as Json from "./Json.ts"
import * as Numeric from "./Numeric.ts"
import * as Temporal from "./Temporal.ts"
import * as TypeCodec from "./TypeCodec.ts"

const isPrimitiveLeaf = (v: unknown): boolean =>
  v === null || v === undefined || typeof v === "string" || typeof v === "number" || typeof v === "boolean" ||
  typeof v === "bigint" || v instanceof Date || v instanceof Uint8Array || BigDecimal.isBigDecimal(v)

/** `true` when an array holds only primitive leaves (at any depth): it becomes an array literal. */
const isPrimitiveArray = (value: ReadonlyArray<unknown>): boolean => {
  for (const item of value) {
    if (Array.isArray(item)) {
      if (!isPrimitiveArray(item)) return false
    } else if (!isPrimitiveLeaf(item)) return false
  }
  return true
}

/**
 * Objects sent as JSON: arrays, plain objects and objects with `toJSON`. A Map,
 * a Set, a typed array other than Uint8Array or a class instance would
 * serialise to something else than the caller meant (`{}`), so they are
 * refused.
 */
const isJsonLike = (value: unknown): boolean => {
  if (typeof value !== "object" || value === null) return false
  if (Array.isArray(value)) return true
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return true
  if (ArrayBuffer.isView(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

const quoteElement = (s: string): string => "\"" + s.replace(/[\\"]/g, "\\$&") + "\""

/**
 * The text sent for an untyped value when the server infers its type (rule 5).
 *
 * @since 0.1.0
 */
export const inferText = (value: unknown): string => {
  if (typeof value === "string") return TypeCodec.checkText("parameter", value)
  if (typeof value === "number") return TypeCodec.formatFloat(value)
  if (typeof value === "boolean") return value ? "true" : "false"
  if (typeof value === "bigint") return String(value)
  if (value instanceof Date) {
    const ms = value.getTime()
    if (Number.isNaN(ms)) return TypeCodec.fail("timestamptz", "invalid Date")
    return Temporal.formatTimestamp(BigInt(ms) * 1000n, true)
  }
  if (value instanceof Uint8Array) return "\\x" + TypeCodec.hex(value, 0, value.length)
  if (BigDecimal.isBigDecimal(value)) return Numeric.format(value)
  if (ArrayCodec.isBoundedArray(value) || (Array.isArray(value) && isPrimitiveArray(value))) {
    return arrayLiteral(value)
  }
  if (isJsonLike(value)) return Json.stringify("json", value)
  return TypeCodec.unsupported(
    "parameter",
    value,
    "a string, number, boolean, bigint, Date, Uint8Array, array, plain object or a typed parameter"
  )
}

/** An array literal of primitive values, each element quoted. */
const arrayLiteral = (value: unknown): string => {
  let elements: unknown = value
  let prefix = ""
  if (ArrayCodec.isBoundedArray(value)) {
    elements = value.elements
    const dims: Array<number> = []
    let level: unknown = elements
    for (let d = 0; d < value.lowerBounds.length && Array.isArray(level); d++) {
      dims.push(level.length)
      level = level[0]
    }
    prefix = dims.map((n, i) => `[${value.lowerBounds[i]}:${value.lowerBounds[i]! + n - 1}]`).join("") + "="
  }
  const render = (level: ReadonlyArray<unknown>): string =>
    "{" + level.map((v) =>
      Array.isArray(v) ? render(v) : v === null || v === undefined ? "NULL" : quoteElement(inferText(v))
    ).join(",") + "}"
  if (!Array.isArray(elements)) return TypeCodec.unsupported("parameter", value, "an array")
  return prefix + render(elements)
}
