/**
 * The public face of the value types: typed-parameter constructors
 * (`PgTypes.int4(5)`, `PgTypes.jsonb(x)`, `PgTypes.array("int4", [1, 2])`),
 * the value shapes, and the registry.
 *
 * **Details**
 *
 * A typed parameter is declared with its own type OID in Parse and sent in
 * binary where the codec can (see `Registry` for the full parameter rules).
 * Use one where the server cannot infer a type (`jsonb_build_object('k', $1)`,
 * `$1 IS NULL`), where a JavaScript value is ambiguous (an empty array for a
 * json column, a string meant as a JSON string), or to pin the type a
 * transaction pooler's fresh prepare will see. Each constructor accepts `null`
 * for a typed SQL NULL.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import type * as BigDecimal from "effect/BigDecimal"
import type { BoundedArray } from "./Array.ts"
import type * as Geometric from "./Geometric.ts"
import { builtinTypes, Oid } from "./Oid.ts"
import * as Param from "./Param.ts"
import type { Range } from "./Range.ts"
import type * as System from "./System.ts"
import type * as Temporal from "./Temporal.ts"

export {
  /** @since 0.1.0 */
  bounded,
  /** @since 0.1.0 */
  type BoundedArray,
  /** @since 0.1.0 */
  isBoundedArray
} from "./Array.ts"
export {
  /** @since 0.1.0 */
  type Box,
  /** @since 0.1.0 */
  type Circle,
  /** @since 0.1.0 */
  type Line,
  /** @since 0.1.0 */
  type LineSegment,
  /** @since 0.1.0 */
  type Path,
  /** @since 0.1.0 */
  type Point,
  /** @since 0.1.0 */
  type Polygon
} from "./Geometric.ts"
export {
  /** @since 0.1.0 */
  builtinTypes,
  /** @since 0.1.0 */
  Oid
} from "./Oid.ts"
export {
  /** @since 0.1.0 */
  isTypedParam,
  /** @since 0.1.0 */
  type TypedParam
} from "./Param.ts"
export {
  /** @since 0.1.0 */
  empty as emptyRange,
  /** @since 0.1.0 */
  make as range,
  /** @since 0.1.0 */
  type Range
} from "./Range.ts"
export {
  /** @since 0.1.0 */
  defaultRegistry,
  /** @since 0.1.0 */
  isNullParameter,
  /** @since 0.1.0 */
  Registry,
  /** @since 0.1.0 */
  type RegistryOptions
} from "./Registry.ts"
export {
  /** @since 0.1.0 */
  type Snapshot
} from "./System.ts"
export {
  /** @since 0.1.0 */
  dateToMicros,
  /** @since 0.1.0 */
  formatTimestamp,
  /** @since 0.1.0 */
  type Interval,
  /** @since 0.1.0 */
  makeInterval,
  /** @since 0.1.0 */
  microsToDate
} from "./Temporal.ts"
export {
  /** @since 0.1.0 */
  type Decoder,
  /** @since 0.1.0 */
  type FieldDecoder,
  /** @since 0.1.0 */
  type TypeCodec
} from "./TypeCodec.ts"

type Typed<A> = Param.TypedParam<A | null>

const typed = <A>(oid: number) => (value: A | null): Typed<A> => Param.make(oid, value)

/** @since 0.1.0 */
export const bool = typed<boolean>(Oid.bool)
/** @since 0.1.0 */
export const int2 = typed<number | bigint>(Oid.int2)
/** @since 0.1.0 */
export const int4 = typed<number | bigint>(Oid.int4)
/** @since 0.1.0 */
export const int8 = typed<number | bigint>(Oid.int8)
/** @since 0.1.0 */
export const oid = typed<number>(Oid.oid)
/** @since 0.1.0 */
export const float4 = typed<number>(Oid.float4)
/** @since 0.1.0 */
export const float8 = typed<number>(Oid.float8)
/** @since 0.1.0 */
export const numeric = typed<string | number | bigint | BigDecimal.BigDecimal>(Oid.numeric)
/**
 * A `money` amount: a bigint count of cents (binary) or a string/number the server parses. A decoded money value is
 * `money(count)`, so it goes back as money untyped or not.
 *
 * @since 0.1.0
 */
export const money = typed<bigint | string | number>(Oid.money)
/** @since 0.1.0 */
export const text = typed<string>(Oid.text)
/** @since 0.1.0 */
export const varchar = typed<string>(Oid.varchar)
/** @since 0.1.0 */
export const bpchar = typed<string>(Oid.bpchar)
/** @since 0.1.0 */
export const name = typed<string>(Oid.name)
/** @since 0.1.0 */
export const bytea = typed<Uint8Array>(Oid.bytea)
/** A JSON value (a string is a JSON string, not JSON text). @since 0.1.0 */
export const json = typed<unknown>(Oid.json)
/** A JSON value (a string is a JSON string, not JSON text). @since 0.1.0 */
export const jsonb = typed<unknown>(Oid.jsonb)
/** @since 0.1.0 */
export const jsonpath = typed<string>(Oid.jsonpath)
/** @since 0.1.0 */
export const uuid = typed<string>(Oid.uuid)
/** A date: a `Date` (its UTC day), ±Infinity, or the text `YYYY-MM-DD`. @since 0.1.0 */
export const date = typed<Date | number | string>(Oid.date)
/** A time of day: a bigint of microseconds since midnight, or its text. @since 0.1.0 */
export const time = typed<bigint | string>(Oid.time)
/** @since 0.1.0 */
export const timetz = typed<string>(Oid.timetz)
/** A timestamp: a `Date`, bigint microseconds since 1970, ±Infinity, or its text. @since 0.1.0 */
export const timestamp = typed<Temporal.TimestampDate | Temporal.TimestampMicros | string>(Oid.timestamp)
/** A timestamptz: a `Date`, bigint microseconds since 1970, ±Infinity, or its text. @since 0.1.0 */
export const timestamptz = typed<Temporal.TimestampDate | Temporal.TimestampMicros | string>(Oid.timestamptz)
/** @since 0.1.0 */
export const interval = typed<Temporal.Interval | string>(Oid.interval)
/** @since 0.1.0 */
export const inet = typed<string>(Oid.inet)
/** @since 0.1.0 */
export const cidr = typed<string>(Oid.cidr)
/** @since 0.1.0 */
export const macaddr = typed<string>(Oid.macaddr)
/** @since 0.1.0 */
export const macaddr8 = typed<string>(Oid.macaddr8)
/** @since 0.1.0 */
export const bit = typed<string>(Oid.bit)
/** @since 0.1.0 */
export const varbit = typed<string>(Oid.varbit)
/** @since 0.1.0 */
export const point = typed<Geometric.Point>(Oid.point)
/** @since 0.1.0 */
export const line = typed<Geometric.Line>(Oid.line)
/** @since 0.1.0 */
export const lseg = typed<Geometric.LineSegment>(Oid.lseg)
/** @since 0.1.0 */
export const box = typed<Geometric.Box>(Oid.box)
/** @since 0.1.0 */
export const path = typed<Geometric.Path>(Oid.path)
/** @since 0.1.0 */
export const polygon = typed<Geometric.Polygon>(Oid.polygon)
/** @since 0.1.0 */
export const circle = typed<Geometric.Circle>(Oid.circle)
/** @since 0.1.0 */
export const tsvector = typed<string>(Oid.tsvector)
/** @since 0.1.0 */
export const tsquery = typed<string>(Oid.tsquery)
/** @since 0.1.0 */
export const xml = typed<string>(Oid.xml)
/** @since 0.1.0 */
export const pgLsn = typed<bigint | string>(Oid.pg_lsn)
/** @since 0.1.0 */
export const pgSnapshot = typed<System.Snapshot | string>(Oid.pg_snapshot)
/** @since 0.1.0 */
export const int4range = typed<Range<number | bigint>>(Oid.int4range)
/** @since 0.1.0 */
export const int8range = typed<Range<number | bigint>>(Oid.int8range)
/** @since 0.1.0 */
export const numrange = typed<Range<string | number | bigint | BigDecimal.BigDecimal>>(Oid.numrange)
/** @since 0.1.0 */
export const tsrange = typed<Range<Temporal.TimestampDate | Temporal.TimestampMicros>>(Oid.tsrange)
/** @since 0.1.0 */
export const tstzrange = typed<Range<Temporal.TimestampDate | Temporal.TimestampMicros>>(Oid.tstzrange)
/** @since 0.1.0 */
export const daterange = typed<Range<Date | string>>(Oid.daterange)
/** @since 0.1.0 */
export const int4multirange = typed<ReadonlyArray<Range<number | bigint>>>(Oid.int4multirange)
/** @since 0.1.0 */
export const int8multirange = typed<ReadonlyArray<Range<number | bigint>>>(Oid.int8multirange)
/** @since 0.1.0 */
export const nummultirange = typed<ReadonlyArray<Range<string | number | bigint | BigDecimal.BigDecimal>>>(
  Oid.nummultirange
)
/** @since 0.1.0 */
export const tsmultirange = typed<ReadonlyArray<Range<Temporal.TimestampDate | Temporal.TimestampMicros>>>(
  Oid.tsmultirange
)
/** @since 0.1.0 */
export const tstzmultirange = typed<ReadonlyArray<Range<Temporal.TimestampDate | Temporal.TimestampMicros>>>(
  Oid.tstzmultirange
)
/** @since 0.1.0 */
export const datemultirange = typed<ReadonlyArray<Range<Date | string>>>(Oid.datemultirange)

const arrayOids = new Map<string, number>()
for (const t of builtinTypes) if (t.array !== 0) arrayOids.set(t.name, t.array)

/**
 * An array of elements of the named type: `PgTypes.array("int4", [1, null])`.
 * A built-in element type gives the array's fixed OID; any other name is
 * resolved by the registry (`_<name>`, from the catalog). Nested JavaScript
 * arrays are dimensions; a `BoundedArray` carries lower bounds. For an array
 * type known only by OID, use `typedOid(arrayOid, values)`.
 *
 * @since 0.1.0
 */
export const array = <A>(
  elementType: string,
  values: ReadonlyArray<A | null | ReadonlyArray<unknown>> | BoundedArray<A> | null
): Param.TypedParam<unknown> => {
  const arrayOid = arrayOids.get(elementType)
  return arrayOid === undefined ? Param.named(`_${elementType}`, values) : Param.make(arrayOid, values)
}

/**
 * A value of a type named by `pg_type.typname` (an extension or user type:
 * `PgTypes.typedAs("hstore", { a: "1" })`, `PgTypes.typedAs("mood", "happy")`),
 * resolved through the session's registry.
 *
 * @since 0.1.0
 */
export const typedAs = <A>(typeName: string, value: A | null): Param.TypedParam<A | null> =>
  Param.named(typeName, value)

/**
 * A value of a type given by OID.
 *
 * @since 0.1.0
 */
export const typedOid = <A>(oidValue: number, value: A | null): Param.TypedParam<A | null> =>
  Param.make(oidValue, value)

/**
 * A string sent as text with OID 0: the server infers its type exactly as
 * for an untyped literal (what an untyped string parameter already does;
 * useful to force it for a value that would otherwise be declared, such as a
 * bigint).
 *
 * @since 0.1.0
 */
export const literal = (text: string): Param.TypedParam<string> => Param.make(0, text)
