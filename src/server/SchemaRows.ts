/**
 * Result columns derived from a Schema: a handler describes its rows once, as
 * a `Schema.Struct`, and gets the RowDescription fields and a row builder.
 *
 * **Details**
 *
 * Each property maps to a PostgreSQL type from its Schema: a string to
 * `text`, a number to `int4` when it carries `Schema.isInt` (else `float8`),
 * a boolean to `bool`, a bigint to `int8`, `Schema.Date` to `timestamptz`,
 * `Schema.Uint8Array` to `bytea`; `NullOr`/`optional` map as their inner
 * type; anything else is sent as text. `types` overrides a property's type by
 * name. Values go out as they are in the Schema's Type (no encoding step): the
 * type's codec from `src/types` encodes them for the client.
 *
 * @since 0.1.0
 */
import type * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
import * as Stream from "effect/Stream"
import { Oid } from "../types/Oid.ts"
import type { Field, Outcome, Row } from "./Handler.ts"
import type { ServerError } from "./ServerError.ts"

type TypeName = keyof typeof Oid

const isIntCheck = (check: unknown): boolean =>
  (check as { annotations?: { expected?: unknown } }).annotations?.expected === "an integer"

const typeOf = (ast: SchemaAST.AST): TypeName => {
  switch (ast._tag) {
    case "String":
    case "TemplateLiteral":
      return "text"
    case "Number":
      return (ast.checks ?? []).some(isIntCheck) ? "int4" : "float8"
    case "Boolean":
      return "bool"
    case "BigInt":
      return "int8"
    case "Literal":
      return typeof ast.literal === "number"
        ? (Number.isInteger(ast.literal) ? "int4" : "float8")
        : typeof ast.literal === "boolean"
        ? "bool"
        : typeof ast.literal === "bigint"
        ? "int8"
        : "text"
    case "Declaration": {
      const id = (ast.annotations?.["representation"] as { readonly id?: unknown } | undefined)?.id
      return id === "effect/schema/Date" ? "timestamptz" : id === "effect/schema/Uint8Array" ? "bytea" : "text"
    }
    case "Union": {
      const inner = ast.types.filter((t) => t._tag !== "Null" && t._tag !== "Undefined")
      return inner.length === 1 ? typeOf(inner[0]!) : "text"
    }
    default:
      return "text"
  }
}

/**
 * The fields of `schema`'s properties, in declaration order, and a function
 * turning one value of the Schema's Type into a row.
 *
 * @since 0.1.0
 */
export const fromSchema = <F extends Schema.Struct.Fields>(
  schema: Schema.Struct<F>,
  types?: { readonly [K in keyof F]?: TypeName }
): { readonly fields: ReadonlyArray<Field>; readonly row: (value: Schema.Struct.Type<F>) => Row } => {
  const names = Object.keys(schema.fields)
  const fields = names.map((name): Field => ({
    name,
    typeOid: Oid[(types as Record<string, TypeName | undefined> | undefined)?.[name] ?? typeOf(schema.fields[name]!.ast)]
  }))
  return {
    fields,
    row: (value) => names.map((name) => (value as Record<string, unknown>)[name] ?? null)
  }
}

/**
 * A Rows outcome whose fields come from `schema` and whose rows are `rows`.
 *
 * @since 0.1.0
 */
export const rows = <F extends Schema.Struct.Fields, R>(
  schema: Schema.Struct<F>,
  rows: Stream.Stream<Schema.Struct.Type<F>, ServerError, R>,
  types?: { readonly [K in keyof F]?: TypeName }
): Outcome<R> => {
  const shape = fromSchema(schema, types)
  return { _tag: "Rows", fields: shape.fields, rows: Stream.map(rows, shape.row) }
}
