/**
 * Protocol 2.0 session on PostgreSQL 13: named prepared statements, concurrent callers on one session,
 * `require_auth`, and `PgClient` (effect/sql) over a 2.0 pool.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { SqlClient } from "effect/sql"
import * as PgClient from "../../../src/sql/PgClient.ts"
import { reasonOf } from "../../support/Sessions.ts"
import { PASSWORDS, servers } from "../../support/Servers.ts"
import { connect13 } from "./Support.ts"

describe("protocol 2.0: more of the API", () => {
  it.live("prepare: parameter types from pg_prepared_statements, execute and stream, DEALLOCATE with the scope", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      const count = Effect.map(
        session.query("select count(*)::int as n from pg_prepared_statements where name like 'pgwire_p%'"),
        (r) => r.rows[0]!["n"]
      )
      yield* Effect.scoped(Effect.gen(function*() {
        const statement = yield* session.prepare("select $1::int + $2 as n, $3::text as t", [0, 23])
        assert.deepStrictEqual(statement.parameterTypes, [23, 23, 25])
        assert.deepStrictEqual((yield* statement.execute([40, 2, "a'b"])).rows, [{ n: 42, t: "a'b" }])
        const rows = yield* statement.stream([1, 1, null]).pipe(Stream.runCollect)
        assert.deepStrictEqual(rows, [{ n: 2, t: null }])
        assert.strictEqual(yield* count, 1)
      }))
      assert.strictEqual(yield* count, 0)
    }))

  it.live("concurrent callers on one session are answered in order, each with its own result", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      const results = yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) => session.query("select $1::int * 2 as n", [i]),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(results.map((r) => r.rows[0]!["n"]), Array.from({ length: 200 }, (_, i) => i * 2))
    }))

  it.live("require_auth is checked as for 3.x", () =>
    Effect.gen(function*() {
      const refused = reasonOf(
        yield* Effect.exit(connect13({ user: "md5user", password: PASSWORDS.md5user, requireAuth: "password" }))
      )
      assert.strictEqual(refused._tag, "AuthError")
      const ok = yield* connect13({ user: "passworduser", password: PASSWORDS.passworduser, requireAuth: "password" })
      assert.deepStrictEqual((yield* ok.query("select 1 as one")).rows, [{ one: 1 }])
      const binding = reasonOf(yield* Effect.exit(connect13({ channelBinding: "require" })))
      assert.strictEqual(binding._tag, "AuthError")
    }))

  it.live("prepare: false leaves no prepared statement on the server; the default caches one", () =>
    Effect.scoped(Effect.gen(function*() {
      const session = yield* connect13()
      const count = Effect.map(
        session.query<{ n: number }>("select count(*)::int as n from pg_catalog.pg_prepared_statements"),
        (r) => r.rows[0]!.n
      )
      assert.deepStrictEqual((yield* session.query("select $1::int + 1 as n", [1], { prepare: false })).rows, [{ n: 2 }])
      assert.strictEqual(yield* count, 0)
      // Even when the cache holds the same statement, prepare: false does not use or add to it.
      yield* session.query("select $1::int + 1 as n", [1])
      assert.strictEqual(yield* count, 1)
      assert.deepStrictEqual((yield* session.query("select $1::int + 1 as n", [5], { prepare: false })).rows, [{ n: 6 }])
      assert.strictEqual(yield* count, 1)
    })))

  it.live("PgClient over a 2.0 pool: statements with parameters, transactions, streams", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const t = `v2_sql_${process.pid}_${Date.now()}`
      yield* sql.unsafe(`create table ${t} (id int, name text)`)
      yield* sql`insert into ${sql(t)} ${sql.insert([{ id: 1, name: "a" }, { id: 2, name: "b'c" }])}`
      const rows = yield* sql<{ id: number; name: string }>`select id, name from ${sql(t)} where id >= ${1} order by id`
      assert.deepStrictEqual(rows.map((r) => r.name), ["a", "b'c"])
      yield* Effect.exit(sql.withTransaction(Effect.andThen(sql`insert into ${sql(t)} values (${3}, ${"x"})`, Effect.fail("no"))))
      const streamed = yield* sql`select id from ${sql(t)} order by id`.stream.pipe(Stream.runCollect)
      assert.strictEqual(streamed.length, 2)
      yield* sql.unsafe(`drop table ${t}`)
    }).pipe(
      Effect.provide(PgClient.layer({
        host: servers().pg13.host,
        port: servers().pg13.port,
        username: "postgres",
        database: "postgres",
        sslMode: "disable",
        maxProtocolVersion: "2.0",
        name: `v2-client-${process.pid}`
      } as PgClient.PgClientConfig))
    ))
})
