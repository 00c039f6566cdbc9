/**
 * The shape of a value codec: how one PostgreSQL type's values are read from a
 * DataRow field and written into a Bind parameter, in both wire formats.
 *
 * **Details**
 *
 * - Decoders read `buf[start, end)` (a view into the frame: never keep it,
 *   copy what must outlive the row) and return the JavaScript value. They throw
 *   a `CodecError` naming the type and what was wrong; they never throw anything
 *   else and never return a silently wrong value.
 * - `encodeBinary` appends the value's binary form to a `Writer` (without the
 *   length word: the caller back-patches it); `encodeText` returns its text form.
 *   Both throw a `CodecError` when the value cannot be represented.
 * - `formatFor` says which format a given JavaScript value is sent in. By default
 *   a string is sent as text (it is taken as the literal text of the value, as
 *   in psql) and anything else in binary when a binary encoder exists.
 *
 * The hot-path rule: no Schema parse, no Effect, no closure per value. Codecs are
 * plain objects of functions built once per type.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import { CodecError } from "../errors/PgError.ts"
import * as Utf8 from "../wire/Utf8.ts"
import type { Writer } from "../wire/Writer.ts"

/**
 * Decodes a column value from `buf[start, end)`. Throws `CodecError`.
 *
 * @since 0.1.0
 */
export type FieldDecoder = (buf: Uint8Array, start: number, end: number) => unknown

/**
 * A typed `FieldDecoder`.
 *
 * @since 0.1.0
 */
export type Decoder<A> = (buf: Uint8Array, start: number, end: number) => A

/**
 * Appends a value's binary form (without its length word). Throws `CodecError`.
 *
 * @since 0.1.0
 */
export type BinaryEncoder<A> = (w: Writer, value: A) => void

/**
 * A wire format code: 0 text, 1 binary.
 *
 * @since 0.1.0
 */
export type Format = 0 | 1

/**
 * The codec of one PostgreSQL type.
 *
 * @since 0.1.0
 */
export interface TypeCodec<A = unknown> {
  /** `pg_type.typname`. */
  readonly name: string
  readonly oid: number
  /** The OID of this type's array type, when there is one. */
  readonly arrayOid: number | undefined
  /** The separator of this type's elements in an array literal (`typdelim`: `;` for box, `,` otherwise). */
  readonly delimiter: string
  /** Decodes the binary form; `undefined` when only the text form is understood. */
  readonly decodeBinary: Decoder<A> | undefined
  /** Decodes the text form (what the type's output function prints, ISO DateStyle, UTF-8). */
  readonly decodeText: Decoder<A>
  /** Encodes the binary form; `undefined` when values are always sent as text. */
  readonly encodeBinary: BinaryEncoder<A> | undefined
  /** Encodes the text form the type's input function accepts. */
  readonly encodeText: (value: A) => string
  /** The format `value` is sent in when the server expects this type. */
  readonly formatFor: (value: unknown) => Format
  /**
   * `true` when this type's JavaScript values are themselves arrays (json, polygon,
   * multiranges, records, vectors): a JavaScript array given for an array of this
   * type is then one-dimensional.
   */
  readonly valuesAreArrays: boolean
}

/**
 * Builds a codec; omitted fields get their defaults (no binary form, `,`
 * delimiter, strings as text and other values in binary when possible).
 *
 * @since 0.1.0
 */
export const make = <A>(options: {
  readonly name: string
  readonly oid: number
  readonly arrayOid?: number | undefined
  readonly delimiter?: string | undefined
  readonly decodeBinary?: Decoder<A> | undefined
  readonly decodeText: Decoder<A>
  readonly encodeBinary?: BinaryEncoder<A> | undefined
  readonly encodeText: (value: A) => string
  readonly formatFor?: ((value: unknown) => Format) | undefined
  readonly valuesAreArrays?: boolean | undefined
}): TypeCodec<A> => {
  const encodeBinary = options.encodeBinary
  return {
    name: options.name,
    oid: options.oid,
    arrayOid: options.arrayOid,
    delimiter: options.delimiter ?? ",",
    decodeBinary: options.decodeBinary,
    decodeText: options.decodeText,
    encodeBinary,
    encodeText: options.encodeText,
    formatFor: options.formatFor ??
      (encodeBinary === undefined ? textFormat : defaultFormat),
    valuesAreArrays: options.valuesAreArrays ?? false
  }
}

/**
 * The same codec under another OID and name (domains, aliases, extension types).
 *
 * @since 0.1.0
 */
export const rename = <A>(
  codec: TypeCodec<A>,
  oid: number,
  name: string,
  arrayOid: number | undefined
): TypeCodec<A> => ({ ...codec, oid, name, arrayOid })

/** Strings as text, everything else in binary. */
const defaultFormat = (value: unknown): Format => (typeof value === "string" ? 0 : 1)
/** Always text. */
const textFormat = (): Format => 0

/**
 * Always binary: for types whose values are strings sent as their own bytes.
 *
 * @since 0.1.0
 */
export const binaryFormat = (): Format => 1

/**
 * Throws a `CodecError` for type `type`. The internal "Unsafe" helper of every
 * codec; the registry's callers catch it at one boundary.
 *
 * @since 0.1.0
 */
export const fail = (type: string, message: string): never => {
  throw new CodecError({ message: `${type}: ${message}` })
}

/**
 * Fails unless the field is exactly `n` bytes long.
 *
 * @since 0.1.0
 */
export const expectLength = (type: string, start: number, end: number, n: number): void => {
  if (end - start !== n) fail(type, `expected ${n} bytes, got ${end - start}`)
}

/**
 * Decodes `buf[start, end)` as UTF-8, failing on invalid bytes.
 *
 * @since 0.1.0
 */
export const utf8 = (type: string, buf: Uint8Array, start: number, end: number): string => {
  const s = Utf8.decode(buf, start, end)
  if (s === undefined) return fail(type, "invalid UTF-8")
  return s
}

/**
 * A short description of a JavaScript value for error messages (never the value
 * itself, which may be a secret or huge).
 *
 * @since 0.1.0
 */
export const describe = (value: unknown): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  if (value instanceof Date) return "a Date"
  if (value instanceof Uint8Array) return "a Uint8Array"
  const t = typeof value
  return t === "object" ? "an object" : `a ${t}`
}

/**
 * Fails because `value` is not one of the JavaScript kinds `type` accepts.
 *
 * @since 0.1.0
 */
export const unsupported = (type: string, value: unknown, expected: string): never =>
  fail(type, `cannot encode ${describe(value)}; expected ${expected}`)

const big32 = 4294967296

/**
 * Reads a big-endian int32 at `p` (no bounds check: the caller checked the length).
 *
 * @since 0.1.0
 */
export const int32At = (buf: Uint8Array, p: number): number =>
  (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!

/**
 * Reads a big-endian int16 at `p` (no bounds check).
 *
 * @since 0.1.0
 */
export const int16At = (buf: Uint8Array, p: number): number => ((buf[p]! << 24) | (buf[p + 1]! << 16)) >> 16

/**
 * Reads a big-endian uint16 at `p` (no bounds check).
 *
 * @since 0.1.0
 */
export const uint16At = (buf: Uint8Array, p: number): number => (buf[p]! << 8) | buf[p + 1]!

/**
 * Reads a big-endian int64 at `p` as a bigint, with a single allocation when
 * the value is within ±2^52 (the common case).
 *
 * @since 0.1.0
 */
export const int64At = (buf: Uint8Array, p: number): bigint => {
  const hi = int32At(buf, p)
  const lo = int32At(buf, p + 4) >>> 0
  if (hi >= -1048576 && hi < 1048576) return BigInt(hi * big32 + lo)
  return (BigInt(hi) << 32n) | BigInt(lo)
}

/**
 * Reads a big-endian uint64 at `p` as a bigint.
 *
 * @since 0.1.0
 */
export const uint64At = (buf: Uint8Array, p: number): bigint => {
  const hi = int32At(buf, p) >>> 0
  const lo = int32At(buf, p + 4) >>> 0
  if (hi < 1048576) return BigInt(hi * big32 + lo)
  return (BigInt(hi) << 32n) | BigInt(lo)
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
const f64 = new Float64Array(1)
const f32 = new Float32Array(1)
const f64Bytes = new Uint8Array(f64.buffer)
const f32Bytes = new Uint8Array(f32.buffer)

/**
 * Reads a big-endian float64 at `p` without allocating.
 *
 * @since 0.1.0
 */
export const float64At = (buf: Uint8Array, p: number): number => {
  if (littleEndian) {
    for (let i = 0; i < 8; i++) f64Bytes[i] = buf[p + 7 - i]!
  } else {
    for (let i = 0; i < 8; i++) f64Bytes[i] = buf[p + i]!
  }
  return f64[0]!
}

/**
 * Reads a big-endian float32 at `p` without allocating.
 *
 * @since 0.1.0
 */
export const float32At = (buf: Uint8Array, p: number): number => {
  if (littleEndian) {
    for (let i = 0; i < 4; i++) f32Bytes[i] = buf[p + 3 - i]!
  } else {
    for (let i = 0; i < 4; i++) f32Bytes[i] = buf[p + i]!
  }
  return f32[0]!
}

/**
 * The bits of a float32 (rounded from `v`) as a uint32, for writing.
 *
 * @since 0.1.0
 */
export const float32Bits = (v: number): number => {
  f32[0] = v
  if (littleEndian) return ((f32Bytes[3]! << 24) | (f32Bytes[2]! << 16) | (f32Bytes[1]! << 8) | f32Bytes[0]!) >>> 0
  return ((f32Bytes[0]! << 24) | (f32Bytes[1]! << 16) | (f32Bytes[2]! << 8) | f32Bytes[3]!) >>> 0
}

/**
 * Parses a decimal integer from ASCII bytes (optional sign, at least one digit,
 * nothing else) and checks it lies in `[min, max]`. Only for ranges within
 * ±2^53.
 *
 * @since 0.1.0
 */
export const parseIntBytes = (
  type: string,
  buf: Uint8Array,
  start: number,
  end: number,
  min: number,
  max: number
): number => {
  let i = start
  let negative = false
  if (i < end && (buf[i] === 0x2d || buf[i] === 0x2b)) {
    negative = buf[i] === 0x2d
    i++
  }
  if (i === end || end - i > 16) return fail(type, "invalid integer text")
  let n = 0
  for (; i < end; i++) {
    const d = buf[i]! - 0x30
    if (d < 0 || d > 9) return fail(type, "invalid integer text")
    n = n * 10 + d
  }
  if (negative) n = -n
  if (n < min || n > max) return fail(type, `${n} is out of range`)
  return n === 0 ? 0 : n
}

/**
 * Parses a decimal integer text into a bigint (optional sign, digits only) and
 * checks it lies in `[min, max]`.
 *
 * @since 0.1.0
 */
export const parseBigIntText = (type: string, text: string, min: bigint, max: bigint): bigint => {
  if (!/^[-+]?\d+$/.test(text)) return fail(type, "invalid integer text")
  const n = BigInt(text)
  if (n < min || n > max) return fail(type, `${text} is out of range`)
  return n
}

/**
 * The text form of a float (`-0`, `NaN`, `Infinity` and `-Infinity` as
 * PostgreSQL spells them; otherwise the shortest text that reads back exactly).
 *
 * @since 0.1.0
 */
export const formatFloat = (v: number): string => (Object.is(v, -0) ? "-0" : String(v))

const isFloatDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

const floatPattern = /^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|Infinity|inf|NaN)$/i

/**
 * Parses float text as PostgreSQL prints it (`NaN`, `Infinity`, `-Infinity`,
 * `1e+20`, `-0`, ...).
 *
 * @since 0.1.0
 */
export const parseFloatText = (type: string, text: string): number => {
  // The common case first: digits, '.', exponent and sign only, ending in a digit (what the server writes for
  // finite values), read by Number without the pattern.
  const n = text.length
  if (n > 0 && isFloatDigit(text.charCodeAt(n - 1))) {
    let plain = true
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i)
      if (!isFloatDigit(c) && c !== 0x2e && c !== 0x2d && c !== 0x2b && c !== 0x65 && c !== 0x45) {
        plain = false
        break
      }
    }
    if (plain) {
      const v = Number(text)
      if (!Number.isNaN(v)) return v
    }
  }
  const t = text.trim()
  if (!floatPattern.test(t)) return fail(type, "invalid floating-point text")
  const lower = t.toLowerCase()
  if (lower === "nan" || lower === "+nan" || lower === "-nan") return Number.NaN
  if (lower.endsWith("inf") || lower.endsWith("infinity")) {
    return t.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY
  }
  return Number(t)
}

/**
 * The two lowercase hex digits of every byte value.
 *
 * @since 0.1.0
 */
export const HEX_BYTES: ReadonlyArray<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))
const HEX = HEX_BYTES

/**
 * Two lowercase hex digits per byte of `buf[start, end)`.
 *
 * @since 0.1.0
 */
export const hex = (buf: Uint8Array, start: number, end: number, separator = ""): string => {
  let s = ""
  for (let i = start; i < end; i++) {
    if (separator !== "" && i > start) s += separator
    s += HEX[buf[i]!]
  }
  return s
}

/**
 * The value of one hex digit character code, or -1.
 *
 * @since 0.1.0
 */
export const hexValue = (c: number): number => {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  return -1
}

/**
 * Fails unless `s` can be sent as PostgreSQL text: well-formed UTF-16 (a lone
 * surrogate has no UTF-8 form and would be silently replaced) and no NUL
 * character (PostgreSQL text cannot hold one).
 *
 * @since 0.1.0
 */
export const checkText = (type: string, s: string): string => {
  if (!s.isWellFormed()) return fail(type, "string contains a lone surrogate (not valid UTF-8)")
  if (s.indexOf("\0") !== -1) return fail(type, "string contains a NUL character, which PostgreSQL text cannot hold")
  return s
}

/**
 * Sets an own enumerable property, safely for the key `__proto__` (which a
 * plain assignment would turn into a prototype change): object keys decoded
 * from the server (hstore keys, attribute names) are data.
 *
 * @since 0.1.0
 */
export const setOwn = (target: Record<string, unknown>, key: string, value: unknown): void => {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  } else target[key] = value
}
