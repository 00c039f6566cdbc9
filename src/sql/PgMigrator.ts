/**
 * `PgMigrator`: `effect/sql`'s Migrator for PostgreSQL, serialised across
 * processes by an advisory lock.
 *
 * **Details**
 *
 * `run(options)` (and `layer(options)`, which runs it while the layer is
 * built) applies the migrations the loader returns whose id is above the
 * highest id recorded in the migrations table (`effect_sql_migrations` by
 * default), in id order, each once; the whole run is one transaction, so a
 * failing migration leaves nothing behind. Loaders: `fromRecord` (a record of
 * `"<id>_<name>"` to Effect), `fromFileSystem` (a directory of
 * `<id>_<name>.ts|js|mts|mjs` modules, needs `FileSystem` and `Path`),
 * `fromGlob` and `fromBabelGlob`, all from `effect/sql`.
 *
 * Before anything else the transaction takes
 * `pg_advisory_xact_lock(ADVISORY_LOCK_CLASS, hashtext(<table>))`: a second
 * migrator (in this process or any other) waits at that point until the
 * first has committed, then finds the migrations recorded and runs none.
 * A transaction-level lock is used (not a session-level one) because it is
 * released by COMMIT or ROLLBACK, or when the connection drops, and works
 * through transaction poolers, where a session-level lock would stay on
 * whichever server connection the pooler picked.
 *
 * The migrations table is created inside that transaction, in a savepoint,
 * so a table created at the same time by a process that does not take the
 * lock (another migrator, a deployment script) is found instead of aborting
 * the run (see `ensureTable`).
 *
 * Deliberately not here: schema dumps (`schemaDirectory` is accepted and
 * ignored: writing `_schema.sql` would need `pg_dump` and a child process).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Migrator from "effect/sql/Migrator"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"

/**
 * @since 0.1.0
 */
export * from "effect/sql/Migrator"

/**
 * @since 0.1.0
 */
export { fromFileSystem } from "effect/sql/MigratorFileSystem"

/**
 * The first key of the advisory lock (the second is `hashtext(<table>)`), so
 * migrators of different tables do not wait for each other. The value spells
 * "pgwm" in ASCII.
 *
 * @since 0.1.0
 */
export const ADVISORY_LOCK_CLASS = 0x7067776d

const migrate = Migrator.make({})

/**
 * Applies the pending migrations (see the module header) and returns the
 * `[id, name]` of each one it ran.
 *
 * @since 0.1.0
 */
export const run = <R2 = never>(
  options: Migrator.MigratorOptions<R2>
): Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  Migrator.MigrationError | SqlError,
  SqlClient.SqlClient | R2
> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const table = options.table ?? "effect_sql_migrations"
    return yield* sql.withTransaction(
      Effect.andThen(
        sql`SELECT pg_advisory_xact_lock(${ADVISORY_LOCK_CLASS}, hashtext(${table}))`.withoutTransform,
        Effect.andThen(ensureTable(sql, table), migrate(options))
      )
    )
  })

/** Whether the migrations table exists (committed, or created by this transaction). */
const tableExists = (sql: SqlClient.SqlClient, table: string): Effect.Effect<boolean, SqlError> => {
  // to_regclass folds an unquoted name to lower case: give it the name quoted as statements quote it.
  const quoted = sql`${sql(table)}`.compile(true)[0]
  return Effect.map(
    sql`SELECT 1 AS found WHERE to_regclass(${quoted}) IS NOT NULL`.withoutTransform,
    (rows) => rows.length > 0
  )
}

/**
 * Creates the migrations table if it is missing, before the Migrator looks
 * for it.
 *
 * **Details**
 *
 * The Migrator's own step (look, CREATE TABLE, look again when CREATE
 * fails) assumes that a failed CREATE leaves the connection usable. Here it
 * runs inside the migration transaction, where a failed CREATE would abort
 * the transaction (25P02 on the next look). That happens when another
 * process (one that does not take the advisory lock) creates the table
 * first: this CREATE waits for its transaction and then fails with 23505 or
 * 42P07. So the CREATE runs in a savepoint (a nested `withTransaction`),
 * rolled back to when it fails; the table then exists and the Migrator
 * skips its own CREATE. The columns are the Migrator's, for PostgreSQL.
 */
const ensureTable = (sql: SqlClient.SqlClient, table: string): Effect.Effect<void, SqlError> =>
  Effect.flatMap(tableExists(sql, table), (exists) =>
    exists ? Effect.void : sql.withTransaction(sql`CREATE TABLE ${sql(table)} (
  migration_id integer primary key,
  created_at timestamp with time zone not null default now(),
  name text not null
)`).pipe(
      Effect.asVoid,
      Effect.catch((error) =>
        Effect.flatMap(tableExists(sql, table), (created) => created ? Effect.void : Effect.fail(error))
      )
    ))

/**
 * Runs the migrations while the layer is built.
 *
 * ```ts
 * const MigratorLive = PgMigrator.layer({ loader: PgMigrator.fromRecord({ "0001_create_users": createUsers }) })
 * const SqlLive = MigratorLive.pipe(Layer.provideMerge(PgClient.layer(config)))
 * ```
 *
 * @since 0.1.0
 */
export const layer = <R>(
  options: Migrator.MigratorOptions<R>
): Layer.Layer<never, Migrator.MigrationError | SqlError, SqlClient.SqlClient | R> => Layer.effectDiscard(run(options))
