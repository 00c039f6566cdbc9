/**
 * Date and time codecs: `date`, `time`, `timetz`, `timestamp`, `timestamptz`,
 * `interval`.
 *
 * **Details**
 *
 * - `timestamp` and `timestamptz` decode to a JavaScript `Date` by default
 *   (millisecond precision: the server's microseconds are floored to the
 *   millisecond). The exact representation (`timestampMicros`,
 *   `timestamptzMicros`, chosen by a registry option) is a `bigint` count of
 *   microseconds since 1970-01-01 00:00:00 UTC, which keeps every value the
 *   server can store, BC dates included. In both, `infinity` and `-infinity`
 *   decode to the numbers `Infinity` and `-Infinity` (they compare correctly
 *   with bigints). A value outside a `Date`'s range (after the year 275760) is a
 *   `CodecError` in the `Date` representation, never an invalid Date.
 * - `timestamp` (without time zone) is read as if it were UTC: the Date's UTC
 *   fields are the stored wall-clock fields. `timestamptz` is an instant.
 * - `date`, `time` and `timetz` decode to the text PostgreSQL prints in ISO
 *   DateStyle (`2024-02-29`, `0044-03-15 BC`, `infinity`; `12:34:56.5`;
 *   `12:34:56+05:30`): exact and free of time-zone surprises.
 * - `interval` decodes to `{ months, days, microseconds }`, the three fields
 *   the server stores (months and days are not convertible to a fixed time);
 *   `microseconds` is a `bigint`. PostgreSQL 17's infinite intervals are the
 *   extreme field values.
 * - Binary layouts (`timestamp_send` and friends): timestamps are int64
 *   microseconds since 2000-01-01 (INT64_MIN/MAX for -infinity/infinity),
 *   `date` is int32 days since 2000-01-01 (INT32_MIN/MAX), `time` is int64
 *   microseconds since midnight, `timetz` adds an int32 zone offset in seconds
 *   west of UTC, `interval` is int64 microseconds, int32 days, int32 months.
 * - Text decoding expects the server's ISO DateStyle and `postgres`
 *   IntervalStyle (the session sets both at startup).
 * - Encoding: a `Date`, a `bigint` of microseconds or `±Infinity` for
 *   timestamps (sent in binary); a `Date` (its UTC calendar day) for `date`; a
 *   `bigint` of microseconds since midnight for `time`; an interval object; a
 *   string is always sent as text for the server to parse.
 *
 * This module holds the calendar dates, timestamps and times of day, which
 * share the calendar arithmetic and ISO text below, and re-exports `interval`
 * (in `Interval`). Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import type { Writer } from "../wire/Writer.ts"
import { Oid } from "./Oid.ts"
import * as TypeCodec from "./TypeCodec.ts"

/** Milliseconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch. */
const PG_EPOCH_MS = 946684800000
const PG_EPOCH_US = 946684800000000n
/** Days from 1970-01-01 to 2000-01-01. */
const PG_EPOCH_DAYS = 10957
const US_PER_DAY = 86400000000n
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const INT32_MIN = -2147483648
const INT32_MAX = 2147483647
/** The largest |milliseconds| a Date holds (ECMAScript "Time Values and Time Range"). */
const DATE_MAX_MS = 8.64e15

// ---------------------------------------------------------------------------
// Calendar arithmetic (proleptic Gregorian, astronomical years: 1 BC = year 0)
// ---------------------------------------------------------------------------

/** Days since 1970-01-01 of a civil date. */
const daysFromCivil = (year: number, month: number, day: number): number => {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

const civil = { year: 0, month: 0, day: 0 }

/** Fills `civil` with the date `days` after 1970-01-01 (no allocation). */
const civilFromDays = (days: number): void => {
  const z = days + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  civil.day = doy - Math.floor((153 * mp + 2) / 5) + 1
  civil.month = mp < 10 ? mp + 3 : mp - 9
  civil.year = yoe + era * 400 + (civil.month <= 2 ? 1 : 0)
}

const pad2 = (n: number): string => (n < 10 ? "0" + n : String(n))

/** `YYYY-MM-DD` of `civil`, and whether it is BC (ISO DateStyle prints the BC year count). */
const formatCivilDate = (): string => {
  const bc = civil.year <= 0
  const y = bc ? 1 - civil.year : civil.year
  return String(y).padStart(4, "0") + "-" + pad2(civil.month) + "-" + pad2(civil.day)
}

/** `HH:MM:SS[.ffffff]` with trailing fractional zeros removed, from microseconds of the day. */
const formatTimeOfDay = (us: number): string => {
  const totalSeconds = Math.floor(us / 1000000)
  const fraction = us - totalSeconds * 1000000
  const h = Math.floor(totalSeconds / 3600)
  const m = Math.floor((totalSeconds % 3600) / 60)
  const s = totalSeconds % 60
  let out = pad2(h) + ":" + pad2(m) + ":" + pad2(s)
  if (fraction > 0) out += "." + String(fraction).padStart(6, "0").replace(/0+$/, "")
  return out
}

/** A zone offset as `EncodeTimezone` prints it: `+HH`, `+HH:MM`, `+HH:MM:SS` (offset in seconds east). */
const formatOffset = (secondsEast: number): string => {
  const sign = secondsEast < 0 ? "-" : "+"
  const abs = Math.abs(secondsEast)
  const h = Math.floor(abs / 3600)
  const m = Math.floor((abs % 3600) / 60)
  const s = abs % 60
  let out = sign + pad2(h)
  if (m !== 0 || s !== 0) out += ":" + pad2(m)
  if (s !== 0) out += ":" + pad2(s)
  return out
}

// ---------------------------------------------------------------------------
// Text parsing
// ---------------------------------------------------------------------------

const timestampPattern =
  /^(\d{4,})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6})\d*)?(?:([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?|Z)?( BC)?$/

/** Parsed fields of a timestamp text: days since 1970, microseconds of the day, zone offset (seconds east). */
const parsed = { days: 0, us: 0, offset: 0 }

/** Parses an ISO timestamp into `parsed`; returns false for `infinity` / `-infinity` (sets `parsed.us` to ±1). */
const parseTimestampText = (type: string, s: string): boolean => {
  if (s === "infinity") {
    parsed.us = 1
    return false
  }
  if (s === "-infinity") {
    parsed.us = -1
    return false
  }
  const m = timestampPattern.exec(s)
  if (m === null) return TypeCodec.fail(type, "invalid timestamp text (expected ISO DateStyle)")
  let year = Number(m[1])
  if (m[12] !== undefined) year = 1 - year
  const month = Number(m[2])
  const day = Number(m[3])
  if (month < 1 || month > 12 || day < 1 || day > 31) return TypeCodec.fail(type, "invalid date fields")
  parsed.days = daysFromCivil(year, month, day)
  const fraction = m[7] === undefined ? 0 : Number(m[7].padEnd(6, "0"))
  parsed.us = ((Number(m[4]) * 60 + Number(m[5])) * 60 + Number(m[6])) * 1000000 + fraction
  parsed.offset = m[8] === undefined
    ? 0
    : (m[8] === "-" ? -1 : 1) * (Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0))
  return true
}

// ---------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------

/**
 * A timestamp in the `Date` representation: a Date, or ±Infinity for the
 * server's `infinity` / `-infinity`.
 *
 * @since 0.1.0
 */
export type TimestampDate = Date | number

/**
 * A timestamp in the exact representation: microseconds since 1970-01-01
 * 00:00:00 UTC, or ±Infinity.
 *
 * @since 0.1.0
 */
export type TimestampMicros = bigint | number

const isPosInfinity = (buf: Uint8Array, p: number): boolean =>
  TypeCodec.int32At(buf, p) === 0x7fffffff && TypeCodec.int32At(buf, p + 4) === -1
const isNegInfinity = (buf: Uint8Array, p: number): boolean =>
  TypeCodec.int32At(buf, p) === INT32_MIN && TypeCodec.int32At(buf, p + 4) === 0

const decodeDateBinary = (type: string) => (buf: Uint8Array, start: number, end: number): TimestampDate => {
  TypeCodec.expectLength(type, start, end, 8)
  if (isPosInfinity(buf, start)) return Number.POSITIVE_INFINITY
  if (isNegInfinity(buf, start)) return Number.NEGATIVE_INFINITY
  const hi = TypeCodec.int32At(buf, start)
  const lo = TypeCodec.int32At(buf, start + 4) >>> 0
  // floor((hi * 2^32 + lo) / 1000) computed exactly: 2^32 = 4294967 * 1000 + 296.
  const ms = hi * 4294967 + Math.floor((hi * 296 + lo) / 1000) + PG_EPOCH_MS
  if (!(Math.abs(ms) <= DATE_MAX_MS)) {
    return TypeCodec.fail(type, "value is outside the range of a JavaScript Date; use the exact timestamp representation")
  }
  return new Date(ms)
}

const decodeMicrosBinary = (type: string) => (buf: Uint8Array, start: number, end: number): TimestampMicros => {
  TypeCodec.expectLength(type, start, end, 8)
  if (isPosInfinity(buf, start)) return Number.POSITIVE_INFINITY
  if (isNegInfinity(buf, start)) return Number.NEGATIVE_INFINITY
  const hi = TypeCodec.int32At(buf, start)
  if (hi >= -1048576 && hi < 1048576) {
    return BigInt(hi * 4294967296 + (TypeCodec.int32At(buf, start + 4) >>> 0) + 946684800000000)
  }
  return TypeCodec.int64At(buf, start) + PG_EPOCH_US
}

/** `n` ASCII digits at `p` as a number; -1 when one of them is not a digit. */
const digitsAt = (b: Uint8Array, p: number, n: number): number => {
  let v = 0
  for (let i = p; i < p + n; i++) {
    const d = b[i]! - 48
    if (d < 0 || d > 9) return -1
    v = v * 10 + d
  }
  return v
}

/**
 * Reads the common shape of a timestamp the server writes in ISO DateStyle, `YYYY-MM-DD HH:MM:SS[.f{1,6}]` then
 * `+HH[:MM[:SS]]`, `-...` or nothing, straight from the bytes into `parsed` (no string, no regular expression).
 * Returns false for anything else (five-digit years, BC, infinity, malformed text): `parseTimestampText` decides.
 */
const parseTimestampBytes = (b: Uint8Array, start: number, end: number): boolean => {
  if (end - start < 19 || b[start + 4] !== 0x2d || b[start + 7] !== 0x2d || b[start + 13] !== 0x3a) return false
  const sep = b[start + 10]
  if ((sep !== 0x20 && sep !== 0x54) || b[start + 16] !== 0x3a) return false
  const year = digitsAt(b, start, 4)
  const month = digitsAt(b, start + 5, 2)
  const day = digitsAt(b, start + 8, 2)
  const hour = digitsAt(b, start + 11, 2)
  const minute = digitsAt(b, start + 14, 2)
  const second = digitsAt(b, start + 17, 2)
  if ((year | month | day | hour | minute | second) < 0) return false
  if (month < 1 || month > 12 || day < 1 || day > 31) return false
  let p = start + 19
  let fraction = 0
  if (p < end && b[p] === 0x2e) {
    p++
    let scale = 100000
    const first = p
    while (p < end) {
      const d = b[p]! - 48
      if (d < 0 || d > 9) break
      // Digits past the sixth are dropped, as the pattern does.
      if (scale >= 1) fraction += d * scale
      scale /= 10
      p++
    }
    if (p === first) return false
  }
  let offset = 0
  if (p < end) {
    const sign = b[p]
    if (sign !== 0x2b && sign !== 0x2d) return false
    const hours = end - p >= 3 ? digitsAt(b, p + 1, 2) : -1
    if (hours < 0) return false
    p += 3
    let minutes = 0
    let seconds = 0
    if (p < end) {
      if (b[p] !== 0x3a || end - p < 3 || (minutes = digitsAt(b, p + 1, 2)) < 0) return false
      p += 3
      if (p < end) {
        if (b[p] !== 0x3a || end - p !== 3 || (seconds = digitsAt(b, p + 1, 2)) < 0) return false
        p += 3
      }
    }
    offset = (sign === 0x2d ? -1 : 1) * (hours * 3600 + minutes * 60 + seconds)
  }
  parsed.days = daysFromCivil(year, month, day)
  parsed.us = ((hour * 60 + minute) * 60 + second) * 1000000 + fraction
  parsed.offset = offset
  return true
}

/** Parses a timestamp's text into `parsed`: the bytes directly when they have the common shape. */
const parseTimestamp = (type: string, buf: Uint8Array, start: number, end: number): boolean =>
  parseTimestampBytes(buf, start, end) || parseTimestampText(type, TypeCodec.utf8(type, buf, start, end))

const decodeDateText = (type: string, withZone: boolean) =>
(buf: Uint8Array, start: number, end: number): TimestampDate => {
  if (!parseTimestamp(type, buf, start, end)) {
    return parsed.us > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY
  }
  const ms = parsed.days * 86400000 + Math.floor(parsed.us / 1000) - (withZone ? parsed.offset * 1000 : 0)
  if (!(Math.abs(ms) <= DATE_MAX_MS)) {
    return TypeCodec.fail(type, "value is outside the range of a JavaScript Date; use the exact timestamp representation")
  }
  return new Date(ms)
}

const decodeMicrosText = (type: string, withZone: boolean) =>
(buf: Uint8Array, start: number, end: number): TimestampMicros => {
  if (!parseTimestamp(type, buf, start, end)) {
    return parsed.us > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY
  }
  return BigInt(parsed.days) * US_PER_DAY + BigInt(parsed.us) - (withZone ? BigInt(parsed.offset) * 1000000n : 0n)
}

/** Microseconds since the Unix epoch of a timestamp parameter, or ±Infinity. */
const toMicros = (type: string, value: unknown): bigint | number => {
  if (value instanceof Date) {
    const ms = value.getTime()
    if (Number.isNaN(ms)) return TypeCodec.fail(type, "invalid Date")
    return BigInt(ms) * 1000n
  }
  if (typeof value === "bigint") return value
  if (value === Number.POSITIVE_INFINITY || value === Number.NEGATIVE_INFINITY) return value
  return TypeCodec.unsupported(type, value, "a Date, a bigint of microseconds since 1970, or ±Infinity")
}

const writeTimestamp = (type: string) => (w: Writer, value: unknown): void => {
  const us = toMicros(type, value)
  if (typeof us === "number") {
    w.int64(us > 0 ? INT64_MAX : INT64_MIN)
    return
  }
  const pg = us - PG_EPOCH_US
  if (pg <= INT64_MIN || pg >= INT64_MAX) return TypeCodec.fail(type, "value is out of range")
  w.int64(pg)
}

/**
 * The ISO text of microseconds since 1970 (`2017-01-01 00:00:00.000001`, with
 * `+00` when `withZone`, ` BC` for years before 1 AD), or `infinity` /
 * `-infinity`.
 *
 * @since 0.1.0
 */
export const formatTimestamp = (micros: TimestampMicros, withZone: boolean): string => {
  if (typeof micros === "number") {
    if (micros === Number.POSITIVE_INFINITY) return "infinity"
    if (micros === Number.NEGATIVE_INFINITY) return "-infinity"
    return TypeCodec.fail("timestamp", "expected a bigint or ±Infinity")
  }
  let days = micros / US_PER_DAY
  let rest = micros % US_PER_DAY
  if (rest < 0n) {
    rest += US_PER_DAY
    days -= 1n
  }
  civilFromDays(Number(days))
  const bc = civil.year <= 0
  return formatCivilDate() + " " + formatTimeOfDay(Number(rest)) + (withZone ? "+00" : "") + (bc ? " BC" : "")
}

const encodeTimestampText = (type: string, withZone: boolean) => (value: unknown): string => {
  if (typeof value === "string") return TypeCodec.checkText(type, value)
  return formatTimestamp(toMicros(type, value), withZone)
}

/**
 * Converts the exact representation to a `Date` (flooring to the
 * millisecond); `undefined` when the value is outside a Date's range.
 *
 * @since 0.1.0
 */
export const microsToDate = (micros: bigint): Date | undefined => {
  let ms = micros / 1000n
  if (micros % 1000n < 0n) ms -= 1n
  const n = Number(ms)
  return Math.abs(n) <= DATE_MAX_MS ? new Date(n) : undefined
}

/**
 * Converts a `Date` to the exact representation.
 *
 * @since 0.1.0
 */
export const dateToMicros = (date: Date): bigint => BigInt(date.getTime()) * 1000n

const makeTimestamp = <A>(
  name: string,
  oid: number,
  arrayOid: number,
  withZone: boolean,
  decodeBinary: (type: string) => TypeCodec.Decoder<A>,
  decodeText: (type: string, withZone: boolean) => TypeCodec.Decoder<A>
): TypeCodec.TypeCodec<A> =>
  TypeCodec.make<A>({
    name,
    oid,
    arrayOid,
    decodeBinary: decodeBinary(name),
    decodeText: decodeText(name, withZone),
    encodeBinary: writeTimestamp(name),
    encodeText: encodeTimestampText(name, withZone)
  })

/** `timestamp` (OID 1114) as a Date (default). @since 0.1.0 */
export const timestamp = makeTimestamp(
  "timestamp",
  Oid.timestamp,
  Oid._timestamp,
  false,
  decodeDateBinary,
  decodeDateText
)
/** `timestamptz` (OID 1184) as a Date (default). @since 0.1.0 */
export const timestamptz = makeTimestamp(
  "timestamptz",
  Oid.timestamptz,
  Oid._timestamptz,
  true,
  decodeDateBinary,
  decodeDateText
)
/** `timestamp` as exact microseconds since 1970. @since 0.1.0 */
export const timestampMicros = makeTimestamp(
  "timestamp",
  Oid.timestamp,
  Oid._timestamp,
  false,
  decodeMicrosBinary,
  decodeMicrosText
)
/** `timestamptz` as exact microseconds since 1970. @since 0.1.0 */
export const timestamptzMicros = makeTimestamp(
  "timestamptz",
  Oid.timestamptz,
  Oid._timestamptz,
  true,
  decodeMicrosBinary,
  decodeMicrosText
)

// ---------------------------------------------------------------------------
// date
// ---------------------------------------------------------------------------

const formatDays = (pgDays: number): string => {
  if (pgDays === INT32_MAX) return "infinity"
  if (pgDays === INT32_MIN) return "-infinity"
  civilFromDays(pgDays + PG_EPOCH_DAYS)
  return civil.year <= 0 ? formatCivilDate() + " BC" : formatCivilDate()
}

const datePattern = /^(\d{4,})-(\d{2})-(\d{2})( BC)?$/

/** PostgreSQL days (since 2000-01-01) of a date parameter. */
const toPgDays = (value: unknown): number => {
  if (value instanceof Date) {
    const ms = value.getTime()
    if (Number.isNaN(ms)) return TypeCodec.fail("date", "invalid Date")
    return Math.floor(ms / 86400000) - PG_EPOCH_DAYS
  }
  if (value === Number.POSITIVE_INFINITY) return INT32_MAX
  if (value === Number.NEGATIVE_INFINITY) return INT32_MIN
  return TypeCodec.unsupported("date", value, "a Date (its UTC day), ±Infinity, or a string")
}

/**
 * The PostgreSQL text of a calendar date given as days since 1970-01-01
 * (`YYYY-MM-DD`, with ` BC` before 1 AD).
 *
 * @since 0.1.0
 */
export const formatDate = (daysSince1970: number): string => formatDays(daysSince1970 - PG_EPOCH_DAYS)

/**
 * Days since 1970-01-01 of a date text (`2024-02-29`, `0044-03-15 BC`);
 * `undefined` for anything else (including `infinity`).
 *
 * @since 0.1.0
 */
export const parseDate = (text: string): number | undefined => {
  const m = datePattern.exec(text)
  if (m === null) return undefined
  const year = m[4] === undefined ? Number(m[1]) : 1 - Number(m[1])
  return daysFromCivil(year, Number(m[2]), Number(m[3]))
}

/**
 * `date` (OID 1082) as its ISO text.
 *
 * @since 0.1.0
 */
export const date: TypeCodec.TypeCodec<string> = TypeCodec.make<string>({
  name: "date",
  oid: Oid.date,
  arrayOid: Oid._date,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("date", start, end, 4)
    return formatDays(TypeCodec.int32At(buf, start))
  },
  decodeText: (buf, start, end) => TypeCodec.utf8("date", buf, start, end),
  encodeBinary: (w, value) => {
    w.int32(toPgDays(value))
  },
  encodeText: (value: unknown) =>
    typeof value === "string" ? TypeCodec.checkText("date", value) : formatDays(toPgDays(value))
})

// ---------------------------------------------------------------------------
// time, timetz
// ---------------------------------------------------------------------------

const US_PER_DAY_NUMBER = 86400000000

const readTimeOfDay = (type: string, buf: Uint8Array, p: number): number => {
  const hi = TypeCodec.int32At(buf, p)
  const lo = TypeCodec.int32At(buf, p + 4) >>> 0
  const us = hi * 4294967296 + lo
  if (hi < 0 || us > US_PER_DAY_NUMBER) return TypeCodec.fail(type, "time of day out of range")
  return us
}

const toTimeMicros = (type: string, value: unknown): bigint => {
  if (typeof value !== "bigint") return TypeCodec.unsupported(type, value, "a bigint of microseconds since midnight or a string")
  if (value < 0n || value > US_PER_DAY) return TypeCodec.fail(type, "time of day out of range")
  return value
}

/**
 * `time` (OID 1083) as its text (`HH:MM:SS[.ffffff]`).
 *
 * @since 0.1.0
 */
export const time: TypeCodec.TypeCodec<string> = TypeCodec.make<string>({
  name: "time",
  oid: Oid.time,
  arrayOid: Oid._time,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("time", start, end, 8)
    return formatTimeOfDay(readTimeOfDay("time", buf, start))
  },
  decodeText: (buf, start, end) => TypeCodec.utf8("time", buf, start, end),
  encodeBinary: (w, value) => {
    w.int64(toTimeMicros("time", value))
  },
  encodeText: (value: unknown) =>
    typeof value === "string"
      ? TypeCodec.checkText("time", value)
      : formatTimeOfDay(Number(toTimeMicros("time", value)))
})

/** TZ_MAX: the largest zone offset the server accepts, 15:59:59. */
const ZONE_LIMIT = 15 * 3600 + 59 * 60 + 59

/**
 * `timetz` (OID 1266) as its text (`HH:MM:SS[.ffffff]+HH[:MM[:SS]]`).
 *
 * @since 0.1.0
 */
export const timetz: TypeCodec.TypeCodec<string> = TypeCodec.make<string>({
  name: "timetz",
  oid: Oid.timetz,
  arrayOid: Oid._timetz,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("timetz", start, end, 12)
    const us = readTimeOfDay("timetz", buf, start)
    const zoneWest = TypeCodec.int32At(buf, start + 8)
    if (zoneWest < -ZONE_LIMIT || zoneWest > ZONE_LIMIT) return TypeCodec.fail("timetz", "zone offset out of range")
    return formatTimeOfDay(us) + formatOffset(-zoneWest)
  },
  decodeText: (buf, start, end) => TypeCodec.utf8("timetz", buf, start, end),
  encodeText: (value: unknown) =>
    typeof value === "string" ? TypeCodec.checkText("timetz", value) : TypeCodec.unsupported("timetz", value, "a string")
})

// ---------------------------------------------------------------------------
// interval (in Interval.ts)
// ---------------------------------------------------------------------------

export {
  /** @since 0.1.0 */
  formatInterval,
  /** @since 0.1.0 */
  type Interval,
  /** @since 0.1.0 */
  interval,
  /** @since 0.1.0 */
  IntervalSchema,
  /** @since 0.1.0 */
  makeInterval
} from "./Interval.ts"
