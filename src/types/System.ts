/**
 * Codecs of the system types a client meets in query results: `pg_lsn`,
 * `pg_snapshot` / `txid_snapshot`, `tid`, `void`.
 *
 * **Details**
 *
 * - `pg_lsn` decodes to its text `X/Y` (hex, uppercase, as `pg_lsn_out` prints
 *   it); binary is a uint64. A `bigint` parameter is sent in binary, a string as
 *   text.
 * - `pg_snapshot` and `txid_snapshot` decode to `{ xmin, xmax, xip }` with
 *   `bigint` transaction ids; binary (`pg_snapshot_send`): int32 count, int64
 *   xmin, int64 xmax, count x int64 in-progress ids; text `xmin:xmax:xip,...`.
 * - `tid` decodes to its text `(block,offset)`; binary: uint32 block, uint16
 *   offset.
 * - `void` decodes to `null` (it has no value; the binary form is empty).
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Fields from "../protocol/Fields.ts"
import { Oid } from "./Oid.ts"
import * as TypeCodec from "./TypeCodec.ts"

const UINT64_MAX = 2n ** 64n - 1n

/** @since 0.1.0 */
export const pg_lsn: TypeCodec.TypeCodec<string> = TypeCodec.make<string>({
  name: "pg_lsn",
  oid: Oid.pg_lsn,
  arrayOid: Oid._pg_lsn,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("pg_lsn", start, end, 8)
    const hi = TypeCodec.int32At(buf, start) >>> 0
    const lo = TypeCodec.int32At(buf, start + 4) >>> 0
    return hi.toString(16).toUpperCase() + "/" + lo.toString(16).toUpperCase()
  },
  decodeText: (buf, start, end) => TypeCodec.utf8("pg_lsn", buf, start, end),
  encodeBinary: (w, value: unknown) => {
    if (typeof value !== "bigint" || value < 0n || value > UINT64_MAX) {
      return TypeCodec.unsupported("pg_lsn", value, "an unsigned 64-bit bigint or an X/Y string")
    }
    w.uint64(value)
  },
  encodeText: (value: unknown) => {
    if (typeof value === "string") return TypeCodec.checkText("pg_lsn", value)
    if (typeof value === "bigint" && value >= 0n && value <= UINT64_MAX) {
      return (value >> 32n).toString(16).toUpperCase() + "/" + (value & 0xffffffffn).toString(16).toUpperCase()
    }
    return TypeCodec.unsupported("pg_lsn", value, "an unsigned 64-bit bigint or an X/Y string")
  }
})

/**
 * A snapshot's visible-transaction boundaries.
 *
 * @since 0.1.0
 */
export const SnapshotSchema = Schema.Struct({
  xmin: Fields.UInt64,
  xmax: Fields.UInt64,
  xip: Schema.Array(Fields.UInt64)
})

/** @since 0.1.0 */
export interface Snapshot extends Schema.Schema.Type<typeof SnapshotSchema> {}

const snapshotPattern = /^(\d+):(\d+):((?:\d+(?:,\d+)*)?)$/

const toSnapshot = (type: string, value: unknown): Snapshot => {
  if (typeof value !== "object" || value === null) return TypeCodec.unsupported(type, value, "{ xmin, xmax, xip }")
  const v = value as { xmin?: unknown; xmax?: unknown; xip?: unknown }
  const ok = (x: unknown): x is bigint => typeof x === "bigint" && x >= 0n && x <= UINT64_MAX
  if (!ok(v.xmin) || !ok(v.xmax) || !Array.isArray(v.xip) || !v.xip.every(ok)) {
    return TypeCodec.fail(type, "xmin, xmax and xip must be unsigned 64-bit bigints")
  }
  return v as Snapshot
}

const makeSnapshot = (name: string, oid: number, arrayOid: number): TypeCodec.TypeCodec<Snapshot> =>
  TypeCodec.make<Snapshot>({
    name,
    oid,
    arrayOid,
    decodeBinary: (buf, start, end) => {
      if (end - start < 20) return TypeCodec.fail(name, "truncated snapshot")
      const n = TypeCodec.int32At(buf, start)
      if (n < 0 || end - start !== 20 + 8 * n) return TypeCodec.fail(name, `${n} ids do not match the length`)
      const xip: Array<bigint> = new Array(n)
      for (let i = 0; i < n; i++) xip[i] = TypeCodec.uint64At(buf, start + 20 + 8 * i)
      return { xmin: TypeCodec.uint64At(buf, start + 4), xmax: TypeCodec.uint64At(buf, start + 12), xip }
    },
    decodeText: (buf, start, end) => {
      const m = snapshotPattern.exec(TypeCodec.utf8(name, buf, start, end))
      if (m === null) return TypeCodec.fail(name, "invalid snapshot text")
      return {
        xmin: BigInt(m[1]!),
        xmax: BigInt(m[2]!),
        xip: m[3] === "" ? [] : m[3]!.split(",").map((x) => BigInt(x))
      }
    },
    encodeBinary: (w, value) => {
      const s = toSnapshot(name, value)
      w.int32(s.xip.length).uint64(s.xmin).uint64(s.xmax)
      for (const x of s.xip) w.uint64(x)
    },
    encodeText: (value) => {
      const s = toSnapshot(name, value)
      return `${s.xmin}:${s.xmax}:${s.xip.join(",")}`
    }
  })

/** @since 0.1.0 */
export const pg_snapshot = makeSnapshot("pg_snapshot", Oid.pg_snapshot, Oid._pg_snapshot)
/** @since 0.1.0 */
export const txid_snapshot = makeSnapshot("txid_snapshot", Oid.txid_snapshot, Oid._txid_snapshot)

/** @since 0.1.0 */
export const tid: TypeCodec.TypeCodec<string> = TypeCodec.make<string>({
  name: "tid",
  oid: Oid.tid,
  arrayOid: Oid._tid,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("tid", start, end, 6)
    return `(${TypeCodec.int32At(buf, start) >>> 0},${TypeCodec.uint16At(buf, start + 4)})`
  },
  decodeText: (buf, start, end) => TypeCodec.utf8("tid", buf, start, end),
  encodeText: (value: unknown) =>
    typeof value === "string" ? TypeCodec.checkText("tid", value) : TypeCodec.unsupported("tid", value, "a string")
})

/** @since 0.1.0 */
export const voidType: TypeCodec.TypeCodec<null> = TypeCodec.make<null>({
  name: "void",
  oid: Oid.void,
  arrayOid: undefined,
  decodeBinary: (_buf, start, end) => {
    TypeCodec.expectLength("void", start, end, 0)
    return null
  },
  decodeText: () => null,
  encodeText: () => ""
})
