/**
 * The PostgreSQL statement compiler for `effect/sql`: `sql\`...\`` fragments
 * to SQL text with `$1, $2, ...` placeholders and a parameter list.
 *
 * **Details**
 *
 * - Placeholders are `$n`, numbered in order of appearance.
 * - Identifiers (`sql("name")`, insert/update columns) are quoted with double
 *   quotes; a double quote inside is doubled and a dot separates quoted parts
 *   (`sql("app.users")` is `"app"."users"`), so no identifier can close its
 *   quotes and inject SQL.
 * - `sql.in(values)` is `($1,$2,...)`; an empty list after `IN` becomes
 *   `= ANY('{}')` (`<> ALL('{}')` after `NOT IN`), which PostgreSQL types from
 *   the left operand.
 * - `sql.insert(rows)` is `("a","b") VALUES ($1,$2),($3,$4)`; `sql.update`
 *   and `sql.updateValues` render `SET` lists and PostgreSQL's
 *   `(values ...) AS alias(columns)` form.
 * - `sql.and` / `sql.or` join clauses (`1=1` for none).
 * - Arrays and plain objects passed as parameters are left to the session's
 *   parameter rules (an array literal, JSON text; see `types/Registry.ts`);
 *   `json(value)` sends a value as `jsonb` explicitly (a typed parameter), as
 *   `@effect/sql-pg`'s `json` does.
 *
 * For the same statement the output (text and parameters, the JSON parameter
 * compared by its value) is the same as `@effect/sql-pg`'s compiler, so
 * statement caches, logs and tests carry over when switching drivers.
 *
 * Deliberately not here: any knowledge of column types (the server infers
 * them) and rendering values into the SQL text.
 *
 * @since 0.1.0
 */
import * as Statement from "effect/sql/Statement"
import * as PgTypes from "../types/PgTypes.ts"

/**
 * A value to send as `jsonb`.
 *
 * @since 0.1.0
 */
export interface PgJson extends Statement.Custom<"PgJson", unknown> {}

/**
 * Builds the custom segment of a `jsonb` parameter.
 *
 * @since 0.1.0
 */
export const PgJson = Statement.custom<PgJson>("PgJson")

/**
 * The PostgreSQL-specific segments the compiler knows.
 *
 * @since 0.1.0
 */
export type PgCustom = PgJson

/**
 * A fragment holding one `jsonb` parameter: `sql\`insert into t (doc) values (${json(doc)})\``.
 *
 * @since 0.1.0
 */
export const json = (value: unknown): Statement.Fragment => Statement.fragment([PgJson(value)])

/**
 * Quotes an identifier (see the module header).
 *
 * @since 0.1.0
 */
export const escape: (identifier: string) => string = Statement.defaultEscape("\"")

/**
 * The compiler. `transform` renames identifiers written in the statement
 * (for example camelCase to snake_case); with `transformJson` (default true)
 * it also renames the keys of `json(...)` values.
 *
 * @since 0.1.0
 */
export const makeCompiler = (
  transform?: ((name: string) => string) | undefined,
  transformJson = true
): Statement.Compiler => {
  const transformValue = transformJson && transform !== undefined
    ? Statement.defaultTransforms(transform).value
    : undefined
  return Statement.makeCompiler<PgCustom>({
    dialect: "pg",
    placeholder: (index) => `$${index}`,
    onIdentifier: transform === undefined
      ? escape
      : (value, withoutTransform) => escape(withoutTransform ? value : transform(value)),
    onRecordUpdate: (placeholders, alias, columns, values, returning) => [
      `(values ${placeholders}) AS ${alias}${columns}${returning === undefined ? "" : ` RETURNING ${returning[0]}`}`,
      returning === undefined ? values.flat() : values.flat().concat(returning[1])
    ],
    onCustom: (custom, placeholder, withoutTransform) => {
      const value = withoutTransform || transformValue === undefined ? custom.paramA : transformValue(custom.paramA)
      return [placeholder(undefined), [PgTypes.jsonb(value)]]
    }
  })
}
