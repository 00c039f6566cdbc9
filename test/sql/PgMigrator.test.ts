import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { SqlClient } from "effect/sql"
import * as path from "node:path"
import * as PgMigrator from "../../src/sql/PgMigrator.ts"
import type * as PgSession from "../../src/session/Session.ts"
import { layer, monitor, unique } from "./Clients.ts"

/** Waits until a backend of `applicationName` waits for a lock (another transaction holds it). */
const awaitLockWait = (watcher: PgSession.Session, applicationName: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      const { rows } = yield* watcher.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'",
        [applicationName]
      )
      if (rows[0]!.n > 0) return
      yield* Effect.sleep(10)
    }
    assert.fail(`no backend of ${applicationName} ever waited for a lock`)
  })

describe("PgMigrator", () => {
  it.live("two migrators started at once apply each migration exactly once", () =>
    Effect.gen(function*() {
      const log = unique("migration_log")
      const migrations = unique("migrations")
      const loader = PgMigrator.fromRecord({
        "1_first": Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`create table if not exists ${sql(log)} (migration text)`
          yield* sql`select pg_sleep(0.2)`
          yield* sql`insert into ${sql(log)} values ('first')`
        }),
        "2_second": Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`insert into ${sql(log)} values ('second')`
        })
      })
      const migrate = PgMigrator.run({ loader, table: migrations }).pipe(Effect.provide(layer()))
      const [a, b] = yield* Effect.all([migrate, migrate], { concurrency: 2 })
      assert.strictEqual(a.length + b.length, 2)
      const check = Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const applied = yield* sql`select migration from ${sql(log)} order by migration`
        const recorded = yield* sql`select migration_id from ${sql(migrations)} order by migration_id`
        yield* sql.unsafe(`drop table ${log}; drop table ${migrations}`).unprepared
        return { applied, recorded }
      })
      const { applied, recorded } = yield* check.pipe(Effect.provide(layer()))
      assert.deepStrictEqual(applied, [{ migration: "first" }, { migration: "second" }])
      assert.deepStrictEqual(recorded, [{ migration_id: 1 }, { migration_id: 2 }])
    }))

  it.live("loads migrations from the file system, in id order, each once", () =>
    Effect.gen(function*() {
      const migrations = unique("migrations")
      const directory = path.join(import.meta.dirname, "..", "fixtures", "migrations")
      const run = PgMigrator.run({ loader: PgMigrator.fromFileSystem(directory), table: migrations })
      const program = Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* Effect.addFinalizer(() =>
          Effect.ignore(sql.unsafe(`drop table if exists pgwire_fs_items; drop table if exists ${migrations}`).unprepared)
        )
        assert.deepStrictEqual(yield* run, [[1, "create_fs_items"], [2, "seed_fs_items"]])
        assert.deepStrictEqual(yield* run, [])
        assert.deepStrictEqual(yield* sql`select name from pgwire_fs_items order by id`, [{ name: "one" }, { name: "two" }])
      })
      yield* Effect.scoped(program).pipe(Effect.provide(Layer.merge(layer(), NodeServices.layer)))
    }))

  it.live("a failing migration leaves nothing behind", () =>
    Effect.gen(function*() {
      const migrations = unique("migrations")
      const created = unique("half")
      const loader = PgMigrator.fromRecord({
        "1_create": Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`create table ${sql(created)} (x int)`
        }),
        "2_broken": Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`select * from table_that_does_not_exist`
        })
      })
      const program = Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const exit = yield* Effect.exit(PgMigrator.run({ loader, table: migrations }))
        assert.isTrue(Exit.isFailure(exit))
        const [row] = yield* sql`select to_regclass(${created})::text as r`
        assert.deepStrictEqual(row, { r: null })
        yield* Effect.ignore(sql.unsafe(`drop table if exists ${migrations}`))
      })
      yield* program.pipe(Effect.provide(layer()))
    }))

  it.live("a migrations table another process creates at the same time is found, and the run goes on", () =>
    Effect.gen(function*() {
      const migrations = unique("migrations")
      const items = unique("items")
      const applicationName = unique("migrator")
      const other = yield* monitor()
      const watcher = yield* monitor()
      yield* Effect.addFinalizer(() =>
        Effect.ignore(watcher.simple(`drop table if exists ${items}; drop table if exists ${migrations}`))
      )
      // Another migrator (one that takes no advisory lock) has created the table, not yet committed.
      yield* other.simple(
        `begin; create table ${migrations} (migration_id integer primary key, ` +
          "created_at timestamp with time zone not null default now(), name text not null)"
      )
      const loader = PgMigrator.fromRecord({
        "1_items": Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`create table ${sql(items)} (id int)`
        })
      })
      const run = yield* Effect.forkChild(
        PgMigrator.run({ loader, table: migrations }).pipe(Effect.provide(layer({ applicationName })))
      )
      // This run's CREATE TABLE waits for the other transaction, then fails once it commits.
      yield* awaitLockWait(watcher, applicationName)
      yield* other.simple("commit")
      assert.deepStrictEqual(yield* Fiber.join(run), [[1, "items"]])
      const { rows } = yield* watcher.query<{ migration_id: number }>(`select migration_id from ${migrations}`)
      assert.deepStrictEqual(rows, [{ migration_id: 1 }])
    }).pipe(Effect.scoped))
})
