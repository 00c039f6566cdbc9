/**
 * Schemas for the field types of the protocol's "Message Data Types" section:
 * IntN of each width, String (NUL-terminated, so a NUL inside is invalid),
 * Byten. They carry the wire constraints, so a value that passes the Schema
 * can always be encoded, and arbitraries generate only encodable values.
 *
 * Pure: imports `effect/Schema` only.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** Int8 (one signed byte). @since 0.1.0 */
export const Int8 = Schema.Int.check(Schema.isBetween({ minimum: -128, maximum: 127 }))
/** A single unsigned byte (Byte1 as a number). @since 0.1.0 */
export const Byte1 = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 }))
/** Int16. @since 0.1.0 */
export const Int16 = Schema.Int.check(Schema.isBetween({ minimum: -32768, maximum: 32767 }))
/** An unsigned 16-bit count (parameter and column counts are read as unsigned where the server allows 65535). @since 0.1.0 */
export const UInt16 = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 }))
/** Int32. @since 0.1.0 */
export const Int32 = Schema.Int.check(Schema.isInt32())
/** An unsigned 32-bit value (OIDs, transaction ids). @since 0.1.0 */
export const UInt32 = Schema.Int.check(Schema.isUint32())
/** Int64 as a bigint. @since 0.1.0 */
export const Int64 = Schema.BigInt.check(
  Schema.isBetweenBigInt({ minimum: -(2n ** 63n), maximum: 2n ** 63n - 1n })
)
/** An unsigned 64-bit value as a bigint (LSNs). @since 0.1.0 */
export const UInt64 = Schema.BigInt.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: 2n ** 64n - 1n }))
/** A 64-bit float. @since 0.1.0 */
export const Float64 = Schema.Number

/**
 * A NUL-terminated string's content: any string without a NUL character and
 * without lone surrogates (which have no UTF-8 form).
 *
 * @since 0.1.0
 */
export const CString = Schema.String.check(
  Schema.makeFilter((s: string) => s.indexOf("\0") === -1 || "must not contain a NUL character", {
    expected: "a string without NUL"
  }),
  Schema.makeFilter((s: string) => s.isWellFormed() || "must be well-formed UTF-16 (no lone surrogates)", {
    expected: "a well-formed string"
  })
)

/**
 * A length-delimited string (no terminator): any well-formed string.
 *
 * @since 0.1.0
 */
export const Text = Schema.String.check(
  Schema.makeFilter((s: string) => s.isWellFormed() || "must be well-formed UTF-16 (no lone surrogates)", {
    expected: "a well-formed string"
  })
)

/** Raw bytes. @since 0.1.0 */
export const Bytes = Schema.Uint8Array

/** Raw bytes or SQL NULL (length -1 on the wire). @since 0.1.0 */
export const NullableBytes = Schema.NullOr(Schema.Uint8Array)

/** A format code: 0 text, 1 binary. @since 0.1.0 */
export const FormatCode = Schema.Literals([0, 1])
