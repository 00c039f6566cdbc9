/**
 * The codecs of every built-in type, assembled for a set of representation
 * options: scalar codecs, an array codec for each type that has an array type,
 * the range and multirange codecs from `pg_range`, and `int2vector` /
 * `oidvector`.
 *
 * The anonymous `record` type is not here: it decodes through a registry, which
 * binds it (see `Registry`). Types without a codec (pseudo-types such as
 * `anyarray`) fall back to text in the registry.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as ArrayCodec from "./Array.ts"
import * as BitString from "./BitString.ts"
import * as Bool from "./Bool.ts"
import * as Bytea from "./Bytea.ts"
import * as Float from "./Float.ts"
import * as Geometric from "./Geometric.ts"
import * as Int from "./Int.ts"
import * as Json from "./Json.ts"
import * as Network from "./Network.ts"
import * as Numeric from "./Numeric.ts"
import { builtinTypes, Oid } from "./Oid.ts"
import * as Range from "./Range.ts"
import * as System from "./System.ts"
import * as Temporal from "./Temporal.ts"
import * as Text from "./Text.ts"
import * as TextSearch from "./TextSearch.ts"
import type * as TypeCodec from "./TypeCodec.ts"
import * as Uuid from "./Uuid.ts"

/**
 * How values of the types with more than one useful JavaScript form are
 * represented.
 *
 * @since 0.1.0
 */
export interface Options {
  /** `int8`: `"bigint"` (default, exact), `"number"` (fails beyond 2^53), `"string"`. */
  readonly int8?: "bigint" | "number" | "string" | undefined
  /** `numeric`: `"string"` (default, exact text) or `"BigDecimal"` (Effect BigDecimal). */
  readonly numeric?: "string" | "BigDecimal" | undefined
  /** `timestamp`/`timestamptz`: `"Date"` (default, milliseconds) or `"micros"` (exact bigint microseconds). */
  readonly timestamp?: "Date" | "micros" | undefined
  /**
   * `money`: `"typed"` (default: the count of cents tagged as money, `PgTypes.money(1234n)`, which goes back as
   * money on every path) or `"bigint"` (the bare count, which goes back as an int8 unless sent as
   * `PgTypes.money`).
   */
  readonly money?: "typed" | "bigint" | undefined
  /** The JSON parser of `json`/`jsonb` (default: `JSON.parse`, exact for large integers). */
  readonly jsonParse?: Json.JsonParser | undefined
}

type AnyCodec = TypeCodec.TypeCodec<any>

/**
 * The scalar codecs (no arrays, ranges or vectors) for `options`.
 *
 * @since 0.1.0
 */
export const scalars = (options: Options = {}): Array<AnyCodec> => {
  const micros = options.timestamp === "micros"
  return [
    Bool.bool,
    Bytea.bytea,
    Text.char,
    Text.name,
    options.int8 === "number" ? Int.int8Number : options.int8 === "string" ? Int.int8String : Int.int8,
    Int.int2,
    Int.int4,
    ...Int.reg,
    Text.text,
    Int.oid,
    System.tid,
    Int.xid,
    Int.cid,
    options.jsonParse === undefined ? Json.json : Json.makeJson(options.jsonParse),
    Text.xml,
    Int.xid8,
    Geometric.point,
    Geometric.lseg,
    Geometric.path,
    Geometric.box,
    Geometric.polygon,
    Geometric.line,
    Float.float4,
    Float.float8,
    Text.unknown,
    Geometric.circle,
    options.money === "bigint" ? Numeric.moneyBigint : Numeric.money,
    Network.macaddr,
    Network.inet,
    Network.cidr,
    Network.macaddr8,
    Text.bpchar,
    Text.varchar,
    Temporal.date,
    Temporal.time,
    micros ? Temporal.timestampMicros : Temporal.timestamp,
    micros ? Temporal.timestamptzMicros : Temporal.timestamptz,
    Temporal.interval,
    Temporal.timetz,
    BitString.bit,
    BitString.varbit,
    options.numeric === "BigDecimal" ? Numeric.numericBigDecimal : Numeric.numeric,
    Text.refcursor,
    Text.cstring,
    System.voidType,
    Uuid.uuid,
    System.txid_snapshot,
    System.pg_lsn,
    TextSearch.tsvector,
    TextSearch.tsquery,
    options.jsonParse === undefined ? Json.jsonb : Json.makeJsonb(options.jsonParse),
    Json.jsonpath,
    System.pg_snapshot,
    ...Text.textOnlyBuiltins
  ]
}

/**
 * Every built-in codec for `options`: scalars, their arrays, `int2vector`,
 * `oidvector`, ranges, multiranges and the arrays of those.
 *
 * @since 0.1.0
 */
export const all = (options: Options = {}): Array<AnyCodec> => {
  const base = scalars(options)
  const byOid = new Map<number, AnyCodec>(base.map((c) => [c.oid, c]))
  const out: Array<AnyCodec> = [...base]
  const add = (codec: AnyCodec): void => {
    out.push(codec)
    byOid.set(codec.oid, codec)
    if (codec.arrayOid !== undefined) out.push(ArrayCodec.make(codec, codec.arrayOid))
  }
  for (const c of base) if (c.arrayOid !== undefined) out.push(ArrayCodec.make(c, c.arrayOid))
  add(ArrayCodec.vector(Int.int2, Oid.int2vector, "int2vector", Oid._int2vector))
  add(ArrayCodec.vector(Int.oid, Oid.oidvector, "oidvector", Oid._oidvector))
  for (const t of builtinTypes) {
    if (t.type !== "r") continue
    const sub = byOid.get(t.rangeSubtype)
    if (sub === undefined) continue
    add(Range.makeRange(sub, t.name, t.oid, t.array || undefined))
  }
  for (const t of builtinTypes) {
    if (t.type !== "m") continue
    const sub = byOid.get(t.rangeSubtype)
    if (sub === undefined) continue
    add(Range.makeMultirange(sub, t.name, t.oid, t.array || undefined))
  }
  return out
}
