/**
 * Protocol 2.0 statement cache on PostgreSQL 13: a cached statement the server no longer has, or can no longer
 * run as prepared (DEALLOCATE ALL, DISCARD ALL, a table changed under `select *`), must not fail every later call
 * of the same SQL on that session.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { connect13 } from "./Support.ts"

describe("protocol 2.0: stale cached statements", () => {
  it.live("after DEALLOCATE ALL, DISCARD ALL or an altered table, the same query runs again", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      const table = `v2_stale_${process.pid}_${Date.now()}`
      yield* session.query(`create table ${table} (a int)`)
      yield* session.query(`insert into ${table} values (1)`)
      const sql = `select * from ${table} where a = $1`
      assert.deepStrictEqual((yield* session.query(sql, [1])).rows, [{ a: 1 }])
      for (const reset of ["DEALLOCATE ALL", "DISCARD ALL", `alter table ${table} add column b int`]) {
        yield* session.query(reset)
        // After the table changed the first call fails (2.0 errors carry no SQLSTATE to tell a stale statement by
        // and retry); the next runs.
        const first = yield* Effect.exit(session.query(sql, [1]))
        const second = yield* Effect.exit(session.query(sql, [1]))
        assert.strictEqual(second._tag, "Success", `${reset}: ${JSON.stringify(second)}`)
        // DEALLOCATE ALL and DISCARD ALL are seen by their command tag: not even the first call fails.
        if (!reset.startsWith("alter")) assert.strictEqual(first._tag, "Success", `${reset}: ${JSON.stringify(first)}`)
      }
      assert.deepStrictEqual((yield* session.query(sql, [1])).rows, [{ a: 1, b: null }])
      yield* session.query(`drop table ${table}`)
    }), 20_000)

  it.live("failures of a cached statement inside transaction blocks leave no statement behind on the server", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      yield* session.query("create temp table uniq (a int primary key)")
      yield* session.query("insert into uniq values (1)")
      const count = Effect.map(
        session.query<{ n: number }>("select count(*)::int as n from pg_catalog.pg_prepared_statements"),
        (r) => r.rows[0]!.n
      )
      for (let i = 0; i < 6; i++) {
        yield* session.query("begin")
        yield* Effect.exit(session.query("insert into uniq values ($1)", [1]))
        yield* session.query("rollback")
      }
      assert.isAtMost(yield* count, 2)
    }), 20_000)

  it.live("statements a failed batch or a one-shot query leaves inside a failed block are deallocated after it", () =>
    Effect.gen(function*() {
      const session = yield* connect13({ statementCacheSize: 0 })
      const count = Effect.map(
        session.query<{ n: number }>("select count(*)::int as n from pg_catalog.pg_prepared_statements"),
        (r) => r.rows[0]!.n
      )
      for (let i = 0; i < 4; i++) {
        yield* session.query("begin")
        yield* Effect.exit(session.batch([{ sql: "select $1::int as a", params: [1] }, { sql: "select 1 / 0" }]))
        yield* session.query("rollback")
        yield* session.query("begin")
        yield* Effect.exit(session.query("select 1 / $1::int", [0]))
        yield* session.query("rollback")
      }
      yield* session.query("select 1")
      assert.strictEqual(yield* count, 0)
    }), 20_000)
})
