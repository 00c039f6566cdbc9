/**
 * The time-of-day codecs: `time` (OID 1083) and `timetz` (OID 1266), decoded
 * to the text PostgreSQL prints in ISO DateStyle (`12:34:56.5`,
 * `12:34:56+05:30`): exact and free of time-zone surprises.
 *
 * **Details**
 *
 * - Binary layouts (`time_send`, `timetz_send`): `time` is int64
 *   microseconds since midnight (0 to 24:00:00 inclusive), `timetz` adds an
 *   int32 zone offset in seconds west of UTC (at most 15:59:59 either way).
 * - Encoding: a `bigint` of microseconds since midnight for `time`; a string
 *   is always sent as text for the server to parse (the only form `timetz`
 *   takes).
 *
 * Re-exported by `Temporal`. Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import { formatTimeOfDay, pad2 } from "./Calendar.ts"
import { Oid } from "./Oid.ts"
import * as TypeCodec from "./TypeCodec.ts"

const US_PER_DAY = 86400000000n

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
