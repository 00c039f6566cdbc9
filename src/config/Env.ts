/**
 * The environment variables connection settings fall back to: every `PG*`
 * variable libpq documents that names a connection keyword
 * (libpq-connect.sgml "Environment Variables"), plus `PGREQUIRESSL`,
 * `PGSYSCONFDIR`, and `HOME`/`APPDATA` (where the password and service files
 * are).
 *
 * **Details**
 *
 * An environment is a plain record, `process.env` by default, so tests and
 * programs can pass their own. `EnvironmentSchema` describes it as a Schema so
 * it can be read from any `effect/Config` provider (`Config.config`).
 *
 * libpq semantics: a variable that is set, even to the empty string, counts as
 * set (so `PGSSLMODE=` is an invalid `sslmode`, as with psql). Note that
 * `ConfigProvider.fromEnv` treats empty values as missing unless asked to keep
 * them (`preserveEmptyStrings`).
 *
 * Not applied: `PGDATESTYLE`, `PGTZ` and `PGGEQO`, which libpq turns into
 * startup parameters. This client decodes dates itself and pins the settings
 * it depends on; a session can set them through `options` when wanted.
 * `PGLOCALEDIR` (message translations) has no meaning here.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { ENVIRONMENT_VARIABLES } from "./Keywords.ts"

/**
 * A set of environment variables.
 *
 * @since 0.1.0
 */
export type Environment = Readonly<Record<string, string | undefined>>

/**
 * Every variable read, in libpq's keyword order.
 *
 * @since 0.1.0
 */
export const VARIABLES: ReadonlyArray<string> = [...ENVIRONMENT_VARIABLES, "HOME", "APPDATA"]

/**
 * The environment as a Schema: each variable an optional string.
 *
 * @since 0.1.0
 */
export const EnvironmentSchema = Schema.Struct(
  Object.fromEntries(VARIABLES.map((name) => [name, Schema.optionalKey(Schema.String)])) as Record<
    string,
    Schema.optionalKey<Schema.String>
  >
)

/**
 * The process environment.
 *
 * @since 0.1.0
 */
export const processEnv = (): Environment => process.env
