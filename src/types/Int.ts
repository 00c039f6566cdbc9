/**
 * Integer codecs: `int2`, `int4`, `int8`, `oid`, `xid`, `cid`, `xid8` and the
 * `reg*` OID alias types.
 *
 * **Details**
 *
 * - `int2`, `int4`, `oid`, `xid`, `cid` decode to `number` (exact).
 * - `int8` and `xid8` decode to `bigint` by default: a JavaScript number cannot
 *   hold every 64-bit integer. `int8` has two opt-in variants: `"number"` fails
 *   with a `CodecError` for a value beyond ±(2^53 - 1) instead of rounding it,
 *   and `"string"` returns the decimal text.
 * - The `reg*` types (`regclass`, `regtype`, ...) are OIDs on the wire in binary
 *   and decode to `number`; their text form is an object *name*, which decodes
 *   to that name as a string (a digits-only text decodes to a number).
 * - Encoding accepts an integer `number` or a `bigint` within the type's range;
 *   anything else (a fraction, NaN, out of range) is a `CodecError`, never a
 *   silently rounded value.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import type { Writer } from "../wire/Writer.ts"
import { Oid } from "./Oid.ts"
import * as TypeCodec from "./TypeCodec.ts"

const INT8_MIN = -(2n ** 63n)
const INT8_MAX = 2n ** 63n - 1n
const UINT64_MAX = 2n ** 64n - 1n

/** Checks an integer parameter value against `[min, max]` and returns it as a number. */
const toInt = (type: string, value: unknown, min: number, max: number): number => {
  let n: number
  if (typeof value === "number") {
    if (!Number.isInteger(value)) return TypeCodec.fail(type, `${value} is not an integer`)
    n = value
  } else if (typeof value === "bigint") {
    if (value < BigInt(min) || value > BigInt(max)) return TypeCodec.fail(type, `${value} is out of range`)
    n = Number(value)
  } else {
    return TypeCodec.unsupported(type, value, "an integer number or a bigint")
  }
  if (n < min || n > max) return TypeCodec.fail(type, `${n} is out of range`)
  return n
}

/** Checks a 64-bit integer parameter value against `[min, max]` and returns it as a bigint. */
const toBigInt = (type: string, value: unknown, min: bigint, max: bigint): bigint => {
  let n: bigint
  if (typeof value === "bigint") n = value
  else if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      return TypeCodec.fail(type, `${value} is not a safe integer (pass a bigint for values beyond 2^53)`)
    }
    n = BigInt(value)
  } else return TypeCodec.unsupported(type, value, "a bigint or a safe integer number")
  if (n < min || n > max) return TypeCodec.fail(type, `${n} is out of range`)
  return n
}

const makeSmall = (
  name: string,
  oid: number,
  arrayOid: number,
  bytes: 2 | 4,
  min: number,
  max: number
): TypeCodec.TypeCodec<number> =>
  TypeCodec.make<number>({
    name,
    oid,
    arrayOid,
    decodeBinary: bytes === 2
      ? (buf, start, end) => {
        TypeCodec.expectLength(name, start, end, 2)
        return TypeCodec.int16At(buf, start)
      }
      : min < 0
      ? (buf, start, end) => {
        TypeCodec.expectLength(name, start, end, 4)
        return TypeCodec.int32At(buf, start)
      }
      : (buf, start, end) => {
        TypeCodec.expectLength(name, start, end, 4)
        return TypeCodec.int32At(buf, start) >>> 0
      },
    decodeText: (buf, start, end) => TypeCodec.parseIntBytes(name, buf, start, end, min, max),
    encodeBinary: bytes === 2
      ? (w, value) => {
        w.int16(toInt(name, value, min, max))
      }
      : min < 0
      ? (w, value) => {
        w.int32(toInt(name, value, min, max))
      }
      : (w, value) => {
        w.uint32(toInt(name, value, min, max))
      },
    encodeText: (value) => String(toInt(name, value, min, max))
  })

/**
 * `int2` (OID 21): `number` in [-32768, 32767].
 *
 * @since 0.1.0
 */
export const int2 = makeSmall("int2", Oid.int2, Oid._int2, 2, -32768, 32767)

/**
 * `int4` (OID 23): `number` in [-2^31, 2^31 - 1].
 *
 * @since 0.1.0
 */
export const int4 = makeSmall("int4", Oid.int4, Oid._int4, 4, -2147483648, 2147483647)

/**
 * `oid` (OID 26): unsigned 32-bit `number`.
 *
 * @since 0.1.0
 */
export const oid = makeSmall("oid", Oid.oid, Oid._oid, 4, 0, 4294967295)

/**
 * `xid` (OID 28): unsigned 32-bit transaction id.
 *
 * @since 0.1.0
 */
export const xid = makeSmall("xid", Oid.xid, Oid._xid, 4, 0, 4294967295)

/**
 * `cid` (OID 29): unsigned 32-bit command id.
 *
 * @since 0.1.0
 */
export const cid = makeSmall("cid", Oid.cid, Oid._cid, 4, 0, 4294967295)

const decodeInt8Text = (buf: Uint8Array, start: number, end: number): bigint => {
  if (end - start <= 15) return BigInt(TypeCodec.parseIntBytes("int8", buf, start, end, -1e15, 1e15))
  return TypeCodec.parseBigIntText("int8", TypeCodec.utf8("int8", buf, start, end), INT8_MIN, INT8_MAX)
}

const writeInt8 = (w: Writer, value: unknown): void => {
  if (typeof value === "number" && Number.isSafeInteger(value)) {
    // Two int32 words: no bigint allocation for the common case.
    const hi = Math.floor(value / 4294967296)
    w.int32(hi).uint32(value - hi * 4294967296)
    return
  }
  w.int64(toBigInt("int8", value, INT8_MIN, INT8_MAX))
}

const int8Text = (value: unknown): string => String(toBigInt("int8", value, INT8_MIN, INT8_MAX))

/**
 * `int8` (OID 20) as `bigint` (the default).
 *
 * @since 0.1.0
 */
export const int8: TypeCodec.TypeCodec<bigint> = TypeCodec.make<bigint>({
  name: "int8",
  oid: Oid.int8,
  arrayOid: Oid._int8,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("int8", start, end, 8)
    return TypeCodec.int64At(buf, start)
  },
  decodeText: decodeInt8Text,
  encodeBinary: writeInt8,
  encodeText: int8Text
})

const MAX_SAFE_HI = 2097151 // Math.floor(Number.MAX_SAFE_INTEGER / 2^32)

/**
 * `int8` as `number`, failing with a `CodecError` for a value that a number
 * cannot hold exactly (beyond ±(2^53 - 1)).
 *
 * @since 0.1.0
 */
export const int8Number: TypeCodec.TypeCodec<number> = TypeCodec.make<number>({
  name: "int8",
  oid: Oid.int8,
  arrayOid: Oid._int8,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("int8", start, end, 8)
    const hi = TypeCodec.int32At(buf, start)
    const lo = TypeCodec.int32At(buf, start + 4) >>> 0
    const n = hi * 4294967296 + lo
    if (hi > MAX_SAFE_HI || hi < -MAX_SAFE_HI - 1 || !Number.isSafeInteger(n)) {
      return TypeCodec.fail("int8", `${TypeCodec.int64At(buf, start)} does not fit a JavaScript number exactly`)
    }
    return n
  },
  decodeText: (buf, start, end) => {
    const n = decodeInt8Text(buf, start, end)
    if (n > 9007199254740991n || n < -9007199254740991n) {
      return TypeCodec.fail("int8", `${n} does not fit a JavaScript number exactly`)
    }
    return Number(n)
  },
  encodeBinary: writeInt8,
  encodeText: int8Text
})

/**
 * `int8` as its decimal text.
 *
 * @since 0.1.0
 */
export const int8String: TypeCodec.TypeCodec<string> = TypeCodec.make<string>({
  name: "int8",
  oid: Oid.int8,
  arrayOid: Oid._int8,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("int8", start, end, 8)
    return String(TypeCodec.int64At(buf, start))
  },
  decodeText: (buf, start, end) => String(decodeInt8Text(buf, start, end)),
  encodeBinary: (w, value) => {
    if (typeof value === "string") {
      w.int64(TypeCodec.parseBigIntText("int8", value, INT8_MIN, INT8_MAX))
      return
    }
    writeInt8(w, value)
  },
  encodeText: (value) => (typeof value === "string" ? value : int8Text(value))
})

/**
 * `xid8` (OID 5069): unsigned 64-bit full transaction id as `bigint`.
 *
 * @since 0.1.0
 */
export const xid8: TypeCodec.TypeCodec<bigint> = TypeCodec.make<bigint>({
  name: "xid8",
  oid: Oid.xid8,
  arrayOid: Oid._xid8,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("xid8", start, end, 8)
    return TypeCodec.uint64At(buf, start)
  },
  decodeText: (buf, start, end) =>
    TypeCodec.parseBigIntText("xid8", TypeCodec.utf8("xid8", buf, start, end), 0n, UINT64_MAX),
  encodeBinary: (w, value) => {
    w.uint64(toBigInt("xid8", value, 0n, UINT64_MAX))
  },
  encodeText: (value) => String(toBigInt("xid8", value, 0n, UINT64_MAX))
})

const makeReg = (name: string, oidValue: number, arrayOid: number): TypeCodec.TypeCodec<number | string> =>
  TypeCodec.make<number | string>({
    name,
    oid: oidValue,
    arrayOid,
    decodeBinary: (buf, start, end) => {
      TypeCodec.expectLength(name, start, end, 4)
      return TypeCodec.int32At(buf, start) >>> 0
    },
    decodeText: (buf, start, end) => {
      const s = TypeCodec.utf8(name, buf, start, end)
      return /^\d{1,10}$/.test(s) && Number(s) <= 4294967295 ? Number(s) : s
    },
    encodeBinary: (w, value) => {
      w.uint32(toInt(name, value, 0, 4294967295))
    },
    encodeText: (value) => (typeof value === "string" ? value : String(toInt(name, value, 0, 4294967295)))
  })

/**
 * The `reg*` OID alias types (`regproc`, `regprocedure`, `regoper`,
 * `regoperator`, `regclass`, `regcollation`, `regtype`, `regrole`,
 * `regnamespace`, `regconfig`, `regdictionary`).
 *
 * @since 0.1.0
 */
export const reg: ReadonlyArray<TypeCodec.TypeCodec<number | string>> = [
  makeReg("regproc", Oid.regproc, Oid._regproc),
  makeReg("regprocedure", Oid.regprocedure, Oid._regprocedure),
  makeReg("regoper", Oid.regoper, Oid._regoper),
  makeReg("regoperator", Oid.regoperator, Oid._regoperator),
  makeReg("regclass", Oid.regclass, Oid._regclass),
  makeReg("regcollation", Oid.regcollation, Oid._regcollation),
  makeReg("regtype", Oid.regtype, Oid._regtype),
  makeReg("regrole", Oid.regrole, Oid._regrole),
  makeReg("regnamespace", Oid.regnamespace, Oid._regnamespace),
  makeReg("regconfig", Oid.regconfig, Oid._regconfig),
  makeReg("regdictionary", Oid.regdictionary, Oid._regdictionary)
]
