/**
 * The `interval` codec (OID 1186): the three fields the server stores,
 * `{ months, days, microseconds }` (months and days are not convertible to a
 * fixed time), `microseconds` a `bigint`.
 *
 * **Details**
 *
 * - Binary layout (`interval_send`): int64 microseconds, int32 days, int32
 *   months. PostgreSQL 17's infinite intervals are the extreme field values
 *   (INT32/INT64 MIN or MAX in all three), printed `infinity` / `-infinity`.
 * - Text decoding expects the `postgres` IntervalStyle (the session sets it at
 *   startup): `1 year 2 mons 3 days 04:05:06.789`.
 * - Encoding: an interval object, in binary or as the text `formatInterval`
 *   writes; a string is always sent as text for the server to parse.
 *
 * Re-exported by `Temporal`. Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Fields from "../protocol/Fields.ts"
import { Oid } from "./Oid.ts"
import * as TypeCodec from "./TypeCodec.ts"

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const INT32_MIN = -2147483648
const INT32_MAX = 2147483647

/** `n` (0 to 99) in two digits. */
const pad2 = (n: number): string => (n < 10 ? "0" + n : String(n))

/**
 * An interval's three stored fields.
 *
 * @since 0.1.0
 */
export const IntervalSchema = Schema.Struct({
  months: Fields.Int32,
  days: Fields.Int32,
  microseconds: Fields.Int64
})

/**
 * @since 0.1.0
 */
export interface Interval extends Schema.Schema.Type<typeof IntervalSchema> {}

/**
 * Builds an interval value.
 *
 * @since 0.1.0
 */
export const makeInterval = (months: number, days: number, microseconds: bigint): Interval => ({
  months,
  days,
  microseconds
})

const isInfiniteInterval = (v: Interval): 1 | -1 | 0 =>
  v.months === INT32_MAX && v.days === INT32_MAX && v.microseconds === INT64_MAX
    ? 1
    : v.months === INT32_MIN && v.days === INT32_MIN && v.microseconds === INT64_MIN
    ? -1
    : 0

const US_PER_HOUR = 3600000000n

const timeToken = /^([+-])?(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/

const parseIntervalText = (s: string): Interval => {
  if (s === "infinity") return { months: INT32_MAX, days: INT32_MAX, microseconds: INT64_MAX }
  if (s === "-infinity") return { months: INT32_MIN, days: INT32_MIN, microseconds: INT64_MIN }
  const tokens = s.split(" ")
  let months = 0
  let days = 0
  let micros = 0n
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!
    const t = timeToken.exec(token)
    if (t !== null) {
      const magnitude = BigInt(t[2]!) * US_PER_HOUR + BigInt(Number(t[3]) * 60000000 + Number(t[4]) * 1000000) +
        BigInt(t[5] === undefined ? 0 : Number(t[5].padEnd(6, "0")))
      micros += t[1] === "-" ? -magnitude : magnitude
      continue
    }
    const unit = tokens[++i]
    if (!/^[+-]?\d+$/.test(token) || unit === undefined) return TypeCodec.fail("interval", "invalid interval text")
    const n = Number(token)
    if (unit === "year" || unit === "years") months += n * 12
    else if (unit === "mon" || unit === "mons") months += n
    else if (unit === "day" || unit === "days") days += n
    else return TypeCodec.fail("interval", `unexpected unit ${unit} (expected IntervalStyle postgres)`)
  }
  if (months < INT32_MIN || months > INT32_MAX || days < INT32_MIN || days > INT32_MAX) {
    return TypeCodec.fail("interval", "field out of range")
  }
  return { months, days, microseconds: micros }
}

const toInterval = (value: unknown): Interval => {
  if (
    typeof value === "object" && value !== null && "months" in value && "days" in value &&
    "microseconds" in value
  ) {
    const v = value as { months: unknown; days: unknown; microseconds: unknown }
    if (
      Number.isInteger(v.months) && Number.isInteger(v.days) && typeof v.microseconds === "bigint" &&
      (v.months as number) >= INT32_MIN && (v.months as number) <= INT32_MAX &&
      (v.days as number) >= INT32_MIN && (v.days as number) <= INT32_MAX &&
      v.microseconds >= INT64_MIN && v.microseconds <= INT64_MAX
    ) {
      return v as Interval
    }
    return TypeCodec.fail("interval", "fields out of range (months and days int32, microseconds an int64 bigint)")
  }
  return TypeCodec.unsupported("interval", value, "{ months, days, microseconds } or a string")
}

/**
 * The text of an interval that the server's input function reads back
 * exactly (`-14 mons 3 days -04:05:06.789`), or `infinity` / `-infinity`.
 *
 * @since 0.1.0
 */
export const formatInterval = (value: Interval): string => {
  const inf = isInfiniteInterval(value)
  if (inf !== 0) return inf > 0 ? "infinity" : "-infinity"
  const negative = value.microseconds < 0n
  const abs = negative ? -value.microseconds : value.microseconds
  const hours = abs / US_PER_HOUR
  const rest = Number(abs % US_PER_HOUR)
  const minutes = Math.floor(rest / 60000000)
  const seconds = Math.floor((rest % 60000000) / 1000000)
  const fraction = rest % 1000000
  return `${value.months} mons ${value.days} days ${negative ? "-" : ""}${hours}:${pad2(minutes)}:${pad2(seconds)}` +
    (fraction === 0 ? "" : "." + String(fraction).padStart(6, "0"))
}

/**
 * `interval` (OID 1186) as `{ months, days, microseconds }`.
 *
 * @since 0.1.0
 */
export const interval: TypeCodec.TypeCodec<Interval> = TypeCodec.make<Interval>({
  name: "interval",
  oid: Oid.interval,
  arrayOid: Oid._interval,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("interval", start, end, 16)
    return {
      months: TypeCodec.int32At(buf, start + 12),
      days: TypeCodec.int32At(buf, start + 8),
      microseconds: TypeCodec.int64At(buf, start)
    }
  },
  decodeText: (buf, start, end) => parseIntervalText(TypeCodec.utf8("interval", buf, start, end)),
  encodeBinary: (w, value) => {
    const v = toInterval(value)
    w.int64(v.microseconds).int32(v.days).int32(v.months)
  },
  encodeText: (value: unknown) =>
    typeof value === "string" ? TypeCodec.checkText("interval", value) : formatInterval(toInterval(value))
})
