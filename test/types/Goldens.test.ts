/**
 * Golden bytes derived by hand from the binary formats of PostgreSQL's send
 * and receive functions (src/backend/utils/adt/*.c), one or more per type
 * family. Each row states its derivation; the test encodes the value to the
 * bytes and decodes the bytes to the value.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Param from "../../src/types/Param.ts"
import { defaultRegistry, Registry } from "../../src/types/Registry.ts"
import * as Extension from "../../src/types/Extension.ts"
import { Oid } from "../../src/types/Oid.ts"
import * as Range from "../../src/types/Range.ts"
import * as ArrayCodec from "../../src/types/Array.ts"
import type * as TypeCodec from "../../src/types/TypeCodec.ts"
import { Writer } from "../../src/wire/Writer.ts"

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/[\s|]/g, ""), "hex"))
const micros = Registry.make({ timestamp: "micros" })

interface Golden {
  readonly name: string
  readonly codec: TypeCodec.TypeCodec<any>
  readonly value: unknown
  /** Bytes, `|` between fields. */
  readonly bytes: string
  /** Only decode (the value is sent as text, or encodes to a canonical form elsewhere). */
  readonly decodeOnly?: boolean
  /** What the bytes decode to, when not `value` itself (a Date sent for a date column decodes to its text). */
  readonly decoded?: unknown
}

const c = (oid: number, r: Registry = defaultRegistry) => r.get(oid)!

const goldens: ReadonlyArray<Golden> = [
  // boolsend: one byte 1/0.
  { name: "bool", codec: c(Oid.bool), value: true, bytes: "01" },
  // int2send/int4send/int8send: big-endian two's complement.
  { name: "int2 -2", codec: c(Oid.int2), value: -2, bytes: "fffe" },
  { name: "int4 256", codec: c(Oid.int4), value: 256, bytes: "00000100" },
  { name: "int8 2^32", codec: c(Oid.int8), value: 4294967296n, bytes: "00000001 00000000" },
  { name: "int8 min", codec: c(Oid.int8), value: -(2n ** 63n), bytes: "80000000 00000000" },
  // oidsend: unsigned 32 bits.
  { name: "oid 2^31", codec: c(Oid.oid), value: 2147483648, bytes: "80000000" },
  // float4send/float8send: IEEE 754 big-endian; 1.5 = 0x3FC00000, -0 = sign bit only.
  { name: "float4 1.5", codec: c(Oid.float4), value: 1.5, bytes: "3fc00000" },
  { name: "float8 -0", codec: c(Oid.float8), value: -0, bytes: "80000000 00000000" },
  { name: "float8 Infinity", codec: c(Oid.float8), value: Infinity, bytes: "7ff00000 00000000" },
  // numeric_send: ndigits | weight | sign | dscale | base-10000 digits.
  // 12345.6789 = 1 2345 . 6789 -> weight 1, dscale 4.
  { name: "numeric 12345.6789", codec: c(Oid.numeric), value: "12345.6789", bytes: "0003|0001|0000|0004|0001|0929|1a85" },
  // -0.5 = 0 . 5000 -> one digit 5000 at weight -1, sign 0x4000, dscale 1.
  { name: "numeric -0.5", codec: c(Oid.numeric), value: "-0.5", bytes: "0001|ffff|4000|0001|1388" },
  // 10000 = 1 0000 -> leading digit 1 at weight 1, the trailing zero group stripped.
  { name: "numeric 10000", codec: c(Oid.numeric), value: "10000", bytes: "0001|0001|0000|0000|0001" },
  // 0.00 -> no digits, weight 0, dscale 2.
  { name: "numeric 0.00", codec: c(Oid.numeric), value: "0.00", bytes: "0000|0000|0000|0002" },
  // NaN -> sign 0xC000, nothing else.
  { name: "numeric NaN", codec: c(Oid.numeric), value: "NaN", bytes: "0000|0000|c000|0000" },
  // cash_send: int64 count of cents; decoded as the count tagged money (the bare count with money: "bigint").
  { name: "money -1.00", codec: c(Oid.money), value: Param.make(Oid.money, -100n), bytes: "ffffffff ffffff9c" },
  { name: "money -1.00, bare count", codec: c(Oid.money), value: -100n, bytes: "ffffffff ffffff9c", decoded: Param.make(Oid.money, -100n) },
  { name: "money -1.00 (money: bigint)", codec: c(Oid.money, Registry.make({ money: "bigint" })), value: -100n, bytes: "ffffffff ffffff9c" },
  // textsend/bytearecv: the bytes themselves.
  { name: "text é", codec: c(Oid.text), value: "é", bytes: "c3a9" },
  { name: "bytea", codec: c(Oid.bytea), value: new Uint8Array([0, 255]), bytes: "00ff" },
  // jsonb_send: version 1 then the text.
  { name: "jsonb", codec: c(Oid.jsonb), value: [1], bytes: "01|5b315d" },
  // uuid_send: the 16 bytes.
  {
    name: "uuid",
    codec: c(Oid.uuid),
    value: "00112233-4455-6677-8899-aabbccddeeff",
    bytes: "00112233445566778899aabbccddeeff"
  },
  // date_send: int32 days since 2000-01-01; 2000-01-02 is 1, 1999-12-31 is -1.
  { name: "date 2000-01-02", codec: c(Oid.date), value: "2000-01-02", bytes: "00000001", decodeOnly: true },
  { name: "date 1999-12-31", codec: c(Oid.date), value: "1999-12-31", bytes: "ffffffff", decodeOnly: true },
  {
    name: "date from a Date",
    codec: c(Oid.date),
    value: new Date(Date.UTC(2000, 0, 2, 23)),
    bytes: "00000001",
    decoded: "2000-01-02"
  },
  // time_send: int64 microseconds since midnight; 00:00:01.5 = 1500000 = 0x16E360.
  { name: "time", codec: c(Oid.time), value: "00:00:01.5", bytes: "00000000 0016e360", decodeOnly: true },
  { name: "time from bigint", codec: c(Oid.time), value: 1500000n, bytes: "00000000 0016e360", decoded: "00:00:01.5" },
  // timetz_send: time, then int32 zone in seconds WEST of UTC: +01 is -3600 = 0xFFFFF1F0.
  { name: "timetz", codec: c(Oid.timetz), value: "00:00:00+01", bytes: "00000000 00000000|fffff1f0", decodeOnly: true },
  // timestamp_send: int64 microseconds since 2000-01-01 00:00:00 UTC.
  { name: "timestamptz epoch+1ms", codec: c(Oid.timestamptz), value: new Date(Date.UTC(2000, 0, 1, 0, 0, 0, 1)), bytes: "00000000 000003e8" },
  // 1970-01-01 is -946684800 s = -946684800000000 us = 0xFFFCA2FEC4C82000.
  { name: "timestamptz 1970", codec: c(Oid.timestamptz), value: new Date(0), bytes: "fffca2fe c4c82000" },
  { name: "timestamptz micros", codec: c(Oid.timestamptz, micros), value: 946684800000001n, bytes: "00000000 00000001" },
  // DT_NOEND / DT_NOBEGIN: int64 max / min.
  { name: "timestamp infinity", codec: c(Oid.timestamp), value: Infinity, bytes: "7fffffff ffffffff" },
  { name: "timestamp -infinity", codec: c(Oid.timestamp), value: -Infinity, bytes: "80000000 00000000" },
  // interval_send: int64 time, int32 day, int32 month.
  {
    name: "interval",
    codec: c(Oid.interval),
    value: { months: 1, days: -2, microseconds: 3n },
    bytes: "00000000 00000003|fffffffe|00000001"
  },
  // inet_send: family (2 = IPv4), bits, is_cidr, address length, address.
  { name: "inet 10.0.0.1/8", codec: c(Oid.inet), value: "10.0.0.1/8", bytes: "02|08|00|04|0a000001", decodeOnly: true },
  { name: "cidr 10.0.0.0/8", codec: c(Oid.cidr), value: "10.0.0.0/8", bytes: "02|08|01|04|0a000000", decodeOnly: true },
  // macaddr_send: 6 bytes.
  { name: "macaddr", codec: c(Oid.macaddr), value: "0a:0b:0c:0d:0e:0f", bytes: "0a0b0c0d0e0f", decodeOnly: true },
  // bit_send: int32 bit length, bits packed MSB first: 101 -> 1010 0000.
  { name: "varbit 101", codec: c(Oid.varbit), value: "101", bytes: "00000003|a0", decodeOnly: true },
  // point_send: x, y as float8.
  { name: "point", codec: c(Oid.point), value: { x: 1, y: -1 }, bytes: "3ff00000 00000000|bff00000 00000000" },
  // path_send: closed byte, int32 npts, points.
  {
    name: "path",
    codec: c(Oid.path),
    value: { closed: true, points: [{ x: 0, y: 0 }] },
    bytes: "01|00000001|00000000 00000000|00000000 00000000"
  },
  // circle_send: center x, y, radius.
  {
    name: "circle",
    codec: c(Oid.circle),
    value: { center: { x: 0, y: 0 }, radius: 2 },
    bytes: "00000000 00000000|00000000 00000000|40000000 00000000"
  },
  // pg_lsn_send: uint64; 1/2 = 0x00000001_00000002.
  { name: "pg_lsn", codec: c(Oid.pg_lsn), value: "1/2", bytes: "00000001 00000002", decodeOnly: true },
  // pg_snapshot_send: int32 nxip, xmin, xmax, xips as int64.
  {
    name: "pg_snapshot",
    codec: c(Oid.pg_snapshot),
    value: { xmin: 5n, xmax: 9n, xip: [7n] },
    bytes: "00000001|00000000 00000005|00000000 00000009|00000000 00000007"
  },
  // tsvectorsend: int32 count; lexeme\0, uint16 npos, uint16 pos with the weight in the top 2 bits (A = 3).
  { name: "tsvector", codec: c(Oid.tsvector), value: "'a':1A", bytes: "00000001|6100|0001|c001", decodeOnly: true },
  // array_send: ndim, has-null flag, element OID, (dim, lbound) per dimension, then length-prefixed elements.
  {
    name: "int2[] {1,NULL}",
    codec: c(Oid._int2),
    value: [1, null],
    bytes: "00000001|00000001|00000015|00000002|00000001|00000002 0001|ffffffff"
  },
  { name: "text[] {}", codec: c(Oid._text), value: [], bytes: "00000000|00000000|00000019" },
  {
    name: "int2[] [0:0]={7}",
    codec: c(Oid._int2),
    value: ArrayCodec.bounded([7], [0]),
    bytes: "00000001|00000000|00000015|00000001|00000000|00000002 0007"
  },
  // range_send: flags (LB_INC 0x02, UB_INF 0x10, EMPTY 0x01), then length-prefixed bounds.
  {
    name: "int4range [3,)",
    codec: c(Oid.int4range),
    value: Range.make(3, null),
    bytes: "12|00000004 00000003"
  },
  { name: "int4range empty", codec: c(Oid.int4range), value: Range.empty, bytes: "01" },
  // multirange_send: int32 count, then length-prefixed ranges.
  {
    name: "int4multirange {[1,2)}",
    codec: c(Oid.int4multirange),
    value: [Range.make(1, 2)],
    bytes: "00000001|00000011|02|00000004 00000001|00000004 00000002"
  },
  // record_send: int32 columns, then per column type OID, length, bytes.
  {
    name: "record (1,NULL)",
    codec: c(Oid.record),
    value: [1, null],
    bytes: "00000002|00000017|00000004 00000001|00000019|ffffffff",
    decodeOnly: true
  },
  // hstore_send: int32 pairs, key length, key, value length (-1 for NULL), value.
  {
    name: "hstore",
    codec: Extension.hstore(1, undefined),
    value: { k: null },
    bytes: "00000001|00000001 6b|ffffffff"
  },
  // pgvector vector_send: int16 dim, int16 unused, float4 values.
  { name: "vector", codec: Extension.vector(1, undefined), value: [1.5], bytes: "0001|0000|3fc00000" }
]

describe("hand-derived golden bytes", () => {
  for (const g of goldens) {
    it(g.name, () => {
      const bytes = hex(g.bytes)
      const decoded = g.codec.decodeBinary!(bytes, 0, bytes.length)
      assert.deepStrictEqual(decoded, "decoded" in g ? g.decoded : g.value)
      if (g.decodeOnly !== true) {
        const w = new Writer(64)
        g.codec.encodeBinary!(w, g.value)
        assert.deepStrictEqual(w.flush(), bytes)
      }
    })
  }
})
