/**
 * The scalar values of streaming replication payloads, converted exactly: WAL
 * locations (LSNs) to and from PostgreSQL's text form, timestamps (signed
 * 64-bit microseconds since 2000-01-01 00:00:00 UTC, the PostgreSQL epoch) to
 * and from the Unix epoch and `Date`, and 64-bit full transaction ids split
 * into epoch and xid (protocol-3.2 "Streaming Replication Protocol").
 *
 * Re-exported by `Replication`, the public module. Not here: the payloads that
 * carry these values (`Replication`, `BaseBackup`).
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import { ProtocolError } from "../errors/PgError.ts"

/**
 * 2000-01-01T00:00:00Z (the PostgreSQL epoch) in microseconds since the Unix epoch.
 *
 * @since 0.1.0
 */
export const POSTGRES_EPOCH_UNIX_MICROS = 946_684_800_000_000n

/**
 * A replication timestamp (microseconds since 2000-01-01) as microseconds
 * since the Unix epoch. Exact.
 *
 * @since 0.1.0
 */
export const toUnixMicros = (postgresMicros: bigint): bigint => postgresMicros + POSTGRES_EPOCH_UNIX_MICROS

/**
 * Microseconds since the Unix epoch as a replication timestamp. Exact.
 *
 * @since 0.1.0
 */
export const fromUnixMicros = (unixMicros: bigint): bigint => unixMicros - POSTGRES_EPOCH_UNIX_MICROS

/**
 * A replication timestamp as milliseconds since the Unix epoch, rounded down
 * (toward the past, also before 1970). Sub-millisecond digits are lost; use
 * `toUnixMicros` to keep them.
 *
 * @since 0.1.0
 */
export const toEpochMillis = (postgresMicros: bigint): number => {
  const micros = toUnixMicros(postgresMicros)
  let millis = micros / 1000n
  if (micros % 1000n < 0n) millis -= 1n
  return Number(millis)
}

/**
 * Milliseconds since the Unix epoch (e.g. `Date.now()`) as a replication
 * timestamp. A fractional part is dropped (rounded down): binary fractions of
 * a millisecond do not convert to whole microseconds exactly. `millis` must be
 * finite (an invalid `Date` is a programming error and throws `RangeError`).
 *
 * @since 0.1.0
 */
export const fromEpochMillis = (millis: number): bigint => fromUnixMicros(BigInt(Math.floor(millis)) * 1000n)

/**
 * A replication timestamp as a `Date` (millisecond precision, rounded down).
 *
 * @since 0.1.0
 */
export const toDate = (postgresMicros: bigint): Date => new Date(toEpochMillis(postgresMicros))

/**
 * A `Date` as a replication timestamp.
 *
 * @since 0.1.0
 */
export const fromDate = (date: Date): bigint => fromEpochMillis(date.getTime())

/**
 * An LSN in PostgreSQL's text form `XXX/XXXXXXXX` (upper-case hexadecimal, high
 * 32 bits, slash, low 32 bits zero-padded to 8 digits), as used by
 * replication commands and the `pg_lsn` type.
 *
 * @since 0.1.0
 */
export const formatLsn = (lsn: bigint): string => {
  const v = BigInt.asUintN(64, lsn)
  const hi = Number(v >> 32n)
  const lo = Number(v & 0xffffffffn)
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase().padStart(8, "0")}`
}

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

/**
 * Parses an LSN from its text form (`16/B374D848`, `0/0`; each half 1 to 8
 * hex digits, as the server's `pg_lsn` input accepts).
 *
 * @since 0.1.0
 */
export const parseLsn = (text: string): Result.Result<bigint, ProtocolError> => {
  const m = LSN_TEXT.exec(text)
  if (m === null) {
    return Result.fail(
      new ProtocolError({ message: `LSN: ${JSON.stringify(text)} is not of the form XXX/XXX`, messageName: "LSN" })
    )
  }
  return Result.succeed((BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`))
}

/**
 * The epoch (high 32 bits) of a 64-bit full transaction id, as carried by
 * `PrimaryStatusUpdate`.
 *
 * @since 0.1.0
 */
export const transactionEpoch = (fullXid: bigint): number => Number(BigInt.asUintN(64, fullXid) >> 32n)

/**
 * The 32-bit transaction id (low 32 bits) of a 64-bit full transaction id.
 *
 * @since 0.1.0
 */
export const transactionXid = (fullXid: bigint): number => Number(fullXid & 0xffffffffn)
