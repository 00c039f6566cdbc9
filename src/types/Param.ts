/**
 * Typed parameters: a value tagged with the PostgreSQL type it must be sent
 * as (`PgTypes.int4(5)`, `PgTypes.jsonb(x)`), so neither the server's
 * inference nor the client's guess decides.
 *
 * A typed parameter names its type by OID (built-in types) or by name
 * (extension and user types, resolved by the registry from the catalog). It is
 * a frozen object; `value` may be `null` for a typed SQL NULL.
 *
 * A value decoded from the server remembers its type the same way, without
 * being wrapped: the registry's decoders `remember` each object they return of
 * the types whose values say nothing of their type (an interval, a range, a
 * point, a composite, an array of those...) in a non-enumerable symbol
 * property, so that the object, sent back untyped, is declared as that type on
 * every path instead of going as JSON or as an array literal for the server to
 * guess. Equality, spreading, JSON and printing do not see the property: a copy
 * (`{ ...v }`) is an ordinary value again.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */

/**
 * The marker property of a typed parameter.
 *
 * @since 0.1.0
 */
export const TypeId: unique symbol = Symbol.for("effect-pgwire/types/TypedParam")

/**
 * @since 0.1.0
 */
export type TypeId = typeof TypeId

/**
 * A value tagged with its PostgreSQL type.
 *
 * @since 0.1.0
 */
export interface TypedParam<A = unknown> {
  readonly [TypeId]: TypeId
  /** The type OID; 0 when the type is named by `typeName` only. */
  readonly oid: number
  /** The type name (`pg_type.typname`), for types without a fixed OID. */
  readonly typeName: string | undefined
  readonly value: A
}

/**
 * A typed parameter is an instance of a class of its own, not a plain object:
 * code that rebuilds plain objects (effect/sql's result name transforms, which
 * recurse into objects whose constructor is `Object`) leaves a decoded money
 * amount as it is.
 */
class Typed<A> implements TypedParam<A> {
  readonly [TypeId]: TypeId = TypeId
  readonly oid: number
  readonly typeName: string | undefined
  readonly value: A
  constructor(oid: number, typeName: string | undefined, value: A) {
    this.oid = oid
    this.typeName = typeName
    this.value = value
  }
}

/**
 * Tags `value` with a type OID.
 *
 * @since 0.1.0
 */
export const make = <A>(oid: number, value: A): TypedParam<A> => Object.freeze(new Typed(oid, undefined, value))

/**
 * Tags `value` with a type name (resolved by the registry, for extension and
 * user-defined types).
 *
 * @since 0.1.0
 */
export const named = <A>(typeName: string, value: A): TypedParam<A> => Object.freeze(new Typed(0, typeName, value))

/**
 * @since 0.1.0
 */
export const isTypedParam = (u: unknown): u is TypedParam =>
  typeof u === "object" && u !== null && (u as { [TypeId]?: unknown })[TypeId] === TypeId

/**
 * `true` for a parameter that is SQL NULL: `null`, `undefined`, or a typed
 * parameter whose value is one of those. The caller writes length -1 for it
 * instead of calling `writeParameter`.
 *
 * @since 0.1.0
 */
export const isNull = (value: unknown): boolean =>
  value === null || value === undefined || (isTypedParam(value) && (value.value === null || value.value === undefined))

/** The property that holds the type OID of a decoded object (non-enumerable). */
const DecodedType: unique symbol = Symbol.for("effect-pgwire/types/DecodedType")

/**
 * Records on `value` (when it is an object that can take a property: frozen,
 * sealed or non-extensible objects, shared constants among them, are left as
 * they are) that it was
 * decoded as type `oid`; returns `value`.
 *
 * @since 0.1.0
 */
export const remember = <A>(value: A, oid: number): A => {
  if (typeof value === "object" && value !== null && Object.isExtensible(value)) {
    Object.defineProperty(value, DecodedType, { value: oid, configurable: true })
  }
  return value
}

/** The dimensions of a decoded multi-dimensional array whose elements are JavaScript arrays themselves. */
const DecodedDimensions: unique symbol = Symbol.for("effect-pgwire/types/DecodedDimensions")

/**
 * Records that the array `value` was decoded with `dimensions` dimensions
 * (only needed where its elements are arrays themselves, so that its shape
 * does not tell); returns `value`.
 *
 * @since 0.1.0
 */
export const rememberDimensions = <A>(value: A, dimensions: number): A => {
  if (dimensions > 1 && Array.isArray(value) && Object.isExtensible(value)) {
    Object.defineProperty(value, DecodedDimensions, { value: dimensions, configurable: true })
  }
  return value
}

/**
 * The dimensions recorded by `rememberDimensions`, 1 when none were.
 *
 * @since 0.1.0
 */
export const rememberedDimensions = (value: object): number =>
  (value as { readonly [DecodedDimensions]?: number })[DecodedDimensions] ?? 1

/**
 * The type OID `value` was decoded as (see `remember`), if any.
 *
 * @since 0.1.0
 */
export const rememberedOid = (value: object): number | undefined =>
  (value as { readonly [DecodedType]?: number })[DecodedType]
