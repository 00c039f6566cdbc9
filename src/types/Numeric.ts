/**
 * `numeric` and `money` codecs.
 *
 * **Details**
 *
 * - `numeric` decodes to its exact decimal text by default (`"12345.6789"`,
 *   `"NaN"`, `"Infinity"`, `"-Infinity"`), the same string from the binary and
 *   the text form, with the value's display scale kept (`1.50` stays `"1.50"`).
 *   On request (`numericBigDecimal`) it decodes to an Effect `BigDecimal` with
 *   `scale` = the display scale; NaN and the infinities, which a BigDecimal cannot
 *   hold, decode to the numbers `NaN`, `Infinity` and `-Infinity`.
 * - Binary layout (`numeric_send`): int16 ndigits, int16 weight, uint16 sign
 *   (0x0000 positive, 0x4000 negative, 0xC000 NaN, 0xD000 +Infinity, 0xF000
 *   -Infinity), uint16 display scale, then ndigits base-10000 digits, most
 *   significant first; the value is sum(digit[i] * 10000^(weight - i)).
 * - Encoding accepts a decimal string, a `number` (its shortest exact text:
 *   `0.1` is sent as 0.1, not as the binary fraction), a `bigint` or a
 *   `BigDecimal`, and never rounds.
 * - `money` is a 64-bit count of the currency's smallest unit (cents for most
 *   locales) on the wire. It decodes to that count tagged with its type,
 *   `PgTypes.money(1234n)` (`.value` is the `bigint`; exact and locale-free), so
 *   that the value written back is money again on every path: a bare `bigint`
 *   parameter is declared int8 (the session cannot know the column), and the
 *   server's int8 -> money cast reads whole units, 100 times the amount. The
 *   `money: "bigint"` option decodes to the bare `bigint` (and keeps that
 *   hazard). Its text form is locale-formatted (`$12,345.68`): it is read by
 *   keeping the digits and the sign. A `bigint` (bare or tagged) is sent in
 *   binary (a count of cents); a number or a string is sent as text for the
 *   server to parse in its locale.
 *
 * Pure: imports `effect/BigDecimal` (a data module) and no Effect runtime.
 *
 * @since 0.1.0
 */
import * as BigDecimal from "effect/BigDecimal"
import type { Writer } from "../wire/Writer.ts"
import { Oid } from "./Oid.ts"
import * as Param from "./Param.ts"
import * as Utf8 from "../wire/Utf8.ts"
import * as TypeCodec from "./TypeCodec.ts"

const NAME = "numeric"
const SIGN_POS = 0x0000
const SIGN_NEG = 0x4000
const SIGN_NAN = 0xc000
const SIGN_PINF = 0xd000
const SIGN_NINF = 0xf000
/** NUMERIC_DSCALE_MAX: the largest display scale the server accepts. */
const DSCALE_MAX = 0x3fff
/** The most base-10000 digits before the decimal point (weight is an int16). */
const WEIGHT_MAX = 32767
/** Exponents beyond this cannot give a representable numeric; checked before any string is built. */
const EXPONENT_LIMIT = 200000

const pad4 = (n: number): string => (n < 10 ? "000" : n < 100 ? "00" : n < 1000 ? "0" : "") + n

/**
 * Decodes a binary numeric into its decimal text (`get_str_from_var`).
 * Returns the special values as "NaN", "Infinity", "-Infinity".
 */
const binaryToString = (buf: Uint8Array, start: number, end: number): string => {
  const length = end - start
  if (length < 8) return TypeCodec.fail(NAME, `expected at least 8 bytes, got ${length}`)
  const ndigits = TypeCodec.int16At(buf, start)
  const weight = TypeCodec.int16At(buf, start + 2)
  const sign = TypeCodec.uint16At(buf, start + 4)
  const dscale = TypeCodec.uint16At(buf, start + 6)
  if (ndigits < 0 || length !== 8 + 2 * ndigits) {
    return TypeCodec.fail(NAME, `${ndigits} digits do not match the ${length} bytes`)
  }
  if (sign === SIGN_NAN) return "NaN"
  if (sign === SIGN_PINF) return "Infinity"
  if (sign === SIGN_NINF) return "-Infinity"
  if (sign !== SIGN_POS && sign !== SIGN_NEG) return TypeCodec.fail(NAME, `invalid sign 0x${sign.toString(16)}`)
  if (dscale > DSCALE_MAX) return TypeCodec.fail(NAME, `invalid display scale ${dscale}`)
  const p = start + 8
  for (let i = 0; i < ndigits; i++) {
    if (TypeCodec.uint16At(buf, p + 2 * i) > 9999) return TypeCodec.fail(NAME, `invalid digit at byte ${8 + 2 * i}`)
  }
  // Written as ASCII into a scratch buffer and read as one flat string (see Utf8.fromAscii).
  const size = 2 + 4 * (weight >= 0 ? weight + 1 : 1) + dscale + 4
  const out = size <= numericScratch.length ? numericScratch : new Uint8Array(size)
  let o = 0
  if (sign === SIGN_NEG) out[o++] = 0x2d
  if (weight < 0) out[o++] = 0x30
  else {
    for (let d = 0; d <= weight; d++) {
      const digit = d < ndigits ? TypeCodec.uint16At(buf, p + 2 * d) : 0
      if (d === 0) {
        // The leading group without leading zeros.
        if (digit >= 1000) out[o++] = 0x30 + ((digit / 1000) | 0)
        if (digit >= 100) out[o++] = 0x30 + (((digit / 100) | 0) % 10)
        if (digit >= 10) out[o++] = 0x30 + (((digit / 10) | 0) % 10)
        out[o++] = 0x30 + (digit % 10)
      } else o = writeGroup(out, o, digit)
    }
  }
  if (dscale > 0) {
    out[o++] = 0x2e
    const fracEnd = o + dscale
    for (let d = weight + 1; o < fracEnd; d++) {
      o = writeGroup(out, o, d >= 0 && d < ndigits ? TypeCodec.uint16At(buf, p + 2 * d) : 0)
    }
    o = fracEnd
  }
  return Utf8.fromAscii(out, 0, o)
}

/** Room for numerics up to a few hundred digits; larger ones get a buffer of their own. */
const numericScratch = new Uint8Array(512)

/** Writes a base-10000 digit group as four ASCII digits. */
const writeGroup = (out: Uint8Array, o: number, digit: number): number => {
  out[o] = 0x30 + ((digit / 1000) | 0)
  out[o + 1] = 0x30 + (((digit / 100) | 0) % 10)
  out[o + 2] = 0x30 + (((digit / 10) | 0) % 10)
  out[o + 3] = 0x30 + (digit % 10)
  return o + 4
}

/** A parsed decimal: sign, the base-10000 digits, weight and display scale. */
interface Decimal {
  readonly sign: number
  readonly digits: Array<number>
  readonly weight: number
  readonly dscale: number
}

const decimalPattern = /^\s*([-+])?(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?\s*$/

const SPECIAL: Record<string, number> = {
  nan: SIGN_NAN,
  infinity: SIGN_PINF,
  "+infinity": SIGN_PINF,
  inf: SIGN_PINF,
  "+inf": SIGN_PINF,
  "-infinity": SIGN_NINF,
  "-inf": SIGN_NINF
}

/** Parses decimal text (with an optional exponent) into base-10000 digits. */
const parseDecimal = (text: string): Decimal => {
  const special = SPECIAL[text.trim().toLowerCase()]
  if (special !== undefined) return { sign: special, digits: [], weight: 0, dscale: 0 }
  const m = decimalPattern.exec(text)
  const intText = m?.[2] ?? ""
  const fracText = m?.[3] ?? ""
  if (m === null || intText.length + fracText.length === 0) return TypeCodec.fail(NAME, "invalid numeric text")
  const exponent = m[4] === undefined ? 0 : Number(m[4])
  if (!(Math.abs(exponent) <= EXPONENT_LIMIT)) return TypeCodec.fail(NAME, "exponent out of range")
  return fromDigits(m[1] === "-", intText + fracText, intText.length + exponent, Math.max(0, fracText.length - exponent))
}

/**
 * Builds a Decimal from a digit string whose decimal point sits after
 * `pointAt` digits (may be negative or beyond the end).
 */
const fromDigits = (negative: boolean, allDigits: string, pointAt: number, dscale: number): Decimal => {
  if (dscale > DSCALE_MAX) return TypeCodec.fail(NAME, `display scale ${dscale} exceeds ${DSCALE_MAX}`)
  let digits = allDigits
  let point = pointAt
  if (point > digits.length) digits += "0".repeat(point - digits.length)
  if (point < 0) {
    digits = "0".repeat(-point) + digits
    point = 0
  }
  let intPart = digits.slice(0, point)
  let fracPart = digits.slice(point)
  intPart = "0".repeat((4 - (intPart.length % 4)) % 4) + intPart
  fracPart = fracPart + "0".repeat((4 - (fracPart.length % 4)) % 4)
  const all = intPart + fracPart
  const groups: Array<number> = []
  for (let i = 0; i < all.length; i += 4) groups.push(Number(all.slice(i, i + 4)))
  let weight = intPart.length / 4 - 1
  let first = 0
  while (first < groups.length && groups[first] === 0) {
    first++
    weight--
  }
  let last = groups.length
  while (last > first && groups[last - 1] === 0) last--
  const kept = groups.slice(first, last)
  if (kept.length === 0) return { sign: SIGN_POS, digits: kept, weight: 0, dscale }
  if (weight > WEIGHT_MAX) return TypeCodec.fail(NAME, "value overflows numeric format")
  if (weight < -32768) return TypeCodec.fail(NAME, "value underflows numeric format")
  return { sign: negative ? SIGN_NEG : SIGN_POS, digits: kept, weight, dscale }
}

const fromBigDecimal = (value: BigDecimal.BigDecimal): Decimal => {
  const negative = value.value < 0n
  const digits = String(negative ? -value.value : value.value)
  if (!(Math.abs(value.scale) <= EXPONENT_LIMIT)) return TypeCodec.fail(NAME, "scale out of range")
  return fromDigits(negative, digits, digits.length - value.scale, Math.max(0, value.scale))
}

/** The Decimal of any accepted JavaScript value. */
const toDecimal = (value: unknown): Decimal => {
  if (typeof value === "string") return parseDecimal(value)
  if (typeof value === "number") {
    if (Number.isNaN(value)) return { sign: SIGN_NAN, digits: [], weight: 0, dscale: 0 }
    if (value === Infinity) return { sign: SIGN_PINF, digits: [], weight: 0, dscale: 0 }
    if (value === -Infinity) return { sign: SIGN_NINF, digits: [], weight: 0, dscale: 0 }
    return parseDecimal(String(value))
  }
  if (typeof value === "bigint") return parseDecimal(String(value))
  if (BigDecimal.isBigDecimal(value)) return fromBigDecimal(value)
  return TypeCodec.unsupported(NAME, value, "a decimal string, a number, a bigint or a BigDecimal")
}

const writeDecimal = (w: Writer, d: Decimal): void => {
  w.int16(d.digits.length).int16(d.weight).uint16(d.sign).uint16(d.dscale)
  for (const digit of d.digits) w.uint16(digit)
}

/** The canonical text of a Decimal, as the server prints it. */
const decimalToString = (d: Decimal): string => {
  if (d.sign === SIGN_NAN) return "NaN"
  if (d.sign === SIGN_PINF) return "Infinity"
  if (d.sign === SIGN_NINF) return "-Infinity"
  let s = d.sign === SIGN_NEG ? "-" : ""
  if (d.weight < 0) s += "0"
  else {
    for (let i = 0; i <= d.weight; i++) {
      const digit = d.digits[i] ?? 0
      s += i === 0 ? String(digit) : pad4(digit)
    }
  }
  if (d.dscale > 0) {
    let frac = ""
    for (let i = d.weight + 1; frac.length < d.dscale; i++) frac += pad4(i >= 0 ? d.digits[i] ?? 0 : 0)
    s += "." + frac.slice(0, d.dscale)
  }
  return s
}

const encodeText = (value: unknown): string => {
  if (typeof value === "string") return value
  return decimalToString(toDecimal(value))
}

const encodeBinary = (w: Writer, value: unknown): void => {
  writeDecimal(w, toDecimal(value))
}

/**
 * Canonical decimal text for a numeric value given as a string, number, bigint
 * or BigDecimal (what the server would print for it). Throws `CodecError`.
 *
 * @since 0.1.0
 */
export const format = (value: unknown): string => decimalToString(toDecimal(value))

/**
 * `numeric` (OID 1700) as its exact decimal text (the default).
 *
 * @since 0.1.0
 */
export const numeric: TypeCodec.TypeCodec<string> = TypeCodec.make<string>({
  name: NAME,
  oid: Oid.numeric,
  arrayOid: Oid._numeric,
  decodeBinary: binaryToString,
  decodeText: (buf, start, end) => TypeCodec.utf8(NAME, buf, start, end),
  encodeBinary,
  encodeText
})

const stringToBigDecimal = (s: string): BigDecimal.BigDecimal | number => {
  if (s === "NaN") return Number.NaN
  if (s === "Infinity") return Number.POSITIVE_INFINITY
  if (s === "-Infinity") return Number.NEGATIVE_INFINITY
  const m = decimalPattern.exec(s)
  if (m === null || m[4] !== undefined || (m[2] ?? "") + (m[3] ?? "") === "") {
    return TypeCodec.fail(NAME, "invalid numeric text")
  }
  const frac = m[3] ?? ""
  const unscaled = BigInt((m[2] ?? "") + frac)
  return BigDecimal.make(m[1] === "-" ? -unscaled : unscaled, frac.length)
}

/**
 * `numeric` as an Effect `BigDecimal` (scale = the display scale); NaN and
 * ±Infinity decode to the numbers `NaN`, `Infinity`, `-Infinity`.
 *
 * @since 0.1.0
 */
export const numericBigDecimal: TypeCodec.TypeCodec<BigDecimal.BigDecimal | number> = TypeCodec.make<
  BigDecimal.BigDecimal | number
>({
  name: NAME,
  oid: Oid.numeric,
  arrayOid: Oid._numeric,
  decodeBinary: (buf, start, end) => stringToBigDecimal(binaryToString(buf, start, end)),
  decodeText: (buf, start, end) => stringToBigDecimal(TypeCodec.utf8(NAME, buf, start, end)),
  encodeBinary,
  encodeText
})

const MONEY = "money"
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/**
 * A decoded money amount: the count of the currency's smallest unit tagged
 * with the money type (what `PgTypes.money(count)` makes).
 *
 * @since 0.1.0
 */
export type Money = Param.TypedParam<bigint>

/**
 * `true` for a money amount tagged with its type (`PgTypes.money(x)`, or a
 * decoded money value).
 *
 * @since 0.1.0
 */
export const isMoney = (u: unknown): u is Param.TypedParam<unknown> => Param.isTypedParam(u) && u.oid === Oid.money

// A tagged amount stands for its value (inside an array or a composite the element codec sees it whole).
const untag = (value: unknown): unknown => (isMoney(value) ? value.value : value)

const moneyFromText = (buf: Uint8Array, start: number, end: number): bigint => {
  const s = TypeCodec.utf8(MONEY, buf, start, end)
  const digits = s.replace(/[^0-9]/g, "")
  if (digits.length === 0 || digits.length > 19) return TypeCodec.fail(MONEY, "invalid money text")
  const n = BigInt(digits)
  return s.includes("-") || s.includes("(") ? -n : n
}

const moneyFromBinary = (buf: Uint8Array, start: number, end: number): bigint => {
  TypeCodec.expectLength(MONEY, start, end, 8)
  return TypeCodec.int64At(buf, start)
}

const makeMoney = <A>(wrap: (count: bigint) => A): TypeCodec.TypeCodec<A> =>
  TypeCodec.make<A>({
    name: MONEY,
    oid: Oid.money,
    arrayOid: Oid._money,
    decodeBinary: (buf, start, end) => wrap(moneyFromBinary(buf, start, end)),
    decodeText: (buf, start, end) => wrap(moneyFromText(buf, start, end)),
    encodeBinary: (w, tagged) => {
      const value = untag(tagged)
      if (typeof value !== "bigint") return TypeCodec.unsupported(MONEY, value, "a bigint count of cents")
      if (value < INT64_MIN || value > INT64_MAX) return TypeCodec.fail(MONEY, `${value} is out of range`)
      w.int64(value)
    },
    encodeText: (tagged: unknown) => {
      const value = untag(tagged)
      if (typeof value === "string") return value
      if (typeof value === "number" && Number.isFinite(value)) return String(value)
      return TypeCodec.unsupported(
        MONEY,
        value,
        "a string or a number in text (a bigint count of cents is only sent in binary)"
      )
    },
    formatFor: (value) => (typeof untag(value) === "bigint" ? 1 : 0)
  })

/**
 * `money` (OID 790) as a count of the currency's smallest unit tagged with its
 * type (`PgTypes.money(1234n)` for `$12.34`), which goes back as money on every
 * path.
 *
 * @since 0.1.0
 */
export const money: TypeCodec.TypeCodec<Money> = makeMoney((count) => Param.make(Oid.money, count))

/**
 * `money` as a bare `bigint` count of the currency's smallest unit (the
 * `money: "bigint"` option). Written back untyped it is an int8, which the
 * server's cast reads as whole units: send it as `PgTypes.money(x)`.
 *
 * @since 0.1.0
 */
export const moneyBigint: TypeCodec.TypeCodec<bigint> = makeMoney((count) => count)
