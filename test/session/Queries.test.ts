/**
 * PgSession: Queries: results, simple queries, pipelining, prepared statements, types at the session boundary, per-query options.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { ServerError } from "../../src/errors/PgError.ts"
import * as PgSession from "../../src/session/Session.ts"
import * as PgTypes from "../../src/types/PgTypes.ts"
import * as PgRegistry from "../../src/types/Registry.ts"
import { LenderKey } from "../../src/session/Lender.ts"
import { connectPlain as connect, reasonOf } from "../support/Sessions.ts"



describe("PgSession: queries", () => {
  it.live("hands every result its own rows array, also when it has no rows", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const sql = "select 1 as n where $1::bool"
      const [a, b] = yield* Effect.all([session.query(sql, [false]), session.query(sql, [false])], {
        concurrency: "unbounded"
      })
      assert.strictEqual(a.rows.length, 0)
      assert.notStrictEqual(a.rows, b.rows)
      ;(a.rows as Array<unknown>).push({ n: 0 })
      const unnamed = yield* session.query(sql, [false], { prepare: false })
      const raw = yield* session.query("update pg_class set relname = relname where false")
      assert.deepStrictEqual([b.rows, unnamed.rows, raw.rows], [[], [], []])
      assert.deepStrictEqual((yield* session.query(sql, [true])).rows, [{ n: 1 }])
    }))

  it.live("decodes the common builtins in binary and takes parameters", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const { rows, fields, command, rowCount } = yield* session.query(
        `select $1::int4 as i4, $2::int8 as i8, $3::text as t, true as b, 1.5::float8 as f8, 2.5::float4 as f4,
                32767::int2 as i2, '\\xdeadbeef'::bytea as by, '{"a":[1,2]}'::json as j, 'v'::varchar as v, null::int as n`,
        [42, 9007199254740993n, "héllo"]
      )
      assert.strictEqual(command, "SELECT")
      assert.strictEqual(rowCount, 1)
      assert.strictEqual(fields.length, 11)
      const row = rows[0]!
      assert.strictEqual(row["i4"], 42)
      assert.strictEqual(row["i8"], 9007199254740993n)
      assert.strictEqual(row["t"], "héllo")
      assert.strictEqual(row["b"], true)
      assert.strictEqual(row["f8"], 1.5)
      assert.strictEqual(row["f4"], 2.5)
      assert.strictEqual(row["i2"], 32767)
      assert.deepStrictEqual(row["by"], new Uint8Array([0xde, 0xad, 0xbe, 0xef]))
      assert.deepStrictEqual(row["j"], { a: [1, 2] })
      assert.strictEqual(row["v"], "v")
      assert.strictEqual(row["n"], null)
    }))

  it.live("rows are plain objects with the columns in order; a column named __proto__ is an own property", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const columns = Array.from({ length: 20 }, (_, i) => `${i} as c${i}`).join(", ")
      const { rows } = yield* session.query(`select ${columns} from generate_series(1, 3)`)
      for (const row of rows) {
        assert.strictEqual(Object.getPrototypeOf(row), Object.prototype)
        assert.strictEqual(row.constructor, Object)
        assert.deepStrictEqual(Object.keys(row), Array.from({ length: 20 }, (_, i) => `c${i}`))
        assert.deepStrictEqual(row, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`c${i}`, i])))
      }
      const { rows: [odd] } = yield* session.query(`select 1 as a, 2 as "__proto__", 3 as b`)
      assert.deepStrictEqual(Object.keys(odd!), ["a", "__proto__", "b"])
      assert.strictEqual(Object.getOwnPropertyDescriptor(odd!, "__proto__")?.value, 2)
      assert.strictEqual(Object.getPrototypeOf(odd!), null)
    }))

  it.live("returns rows by position when asked", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const { rows } = yield* session.query<ReadonlyArray<unknown>>("select 1 as a, 'x' as a", [], { rowMode: "array" })
      assert.deepStrictEqual(rows, [[1, "x"]])
    }))

  it.live("works with the statement cache off (unnamed statements)", () =>
    Effect.gen(function*() {
      const session = yield* connect({ statementCacheSize: 0 })
      const { rows } = yield* session.query("select $1::int + 1 as n", [41])
      assert.deepStrictEqual(rows, [{ n: 42 }])
      const prepared = yield* session.query("select count(*)::int as c from pg_prepared_statements")
      assert.deepStrictEqual(prepared.rows, [{ c: 0 }])
    }))

  it.live("reports INSERT/UPDATE/DELETE counts", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table counts (x int)")
      const inserted = yield* session.query("insert into counts select generate_series(1, 5)")
      assert.strictEqual(inserted.command, "INSERT")
      assert.strictEqual(inserted.rowCount, 5)
      const updated = yield* session.query("update counts set x = x + 1 where x > 2")
      assert.strictEqual(updated.command, "UPDATE")
      assert.strictEqual(updated.rowCount, 3)
      const created = yield* session.query("create temp table other (y int)")
      assert.strictEqual(created.command, "CREATE TABLE")
      assert.strictEqual(created.rowCount, null)
    }))

  it.live("a server error is a ServerError with every field, and the session stays usable", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const exit = yield* Effect.exit(session.query("select 1 from no_such_table_anywhere"))
      const reason = reasonOf(exit) as ServerError
      assert.strictEqual(reason._tag, "ServerError")
      assert.strictEqual(reason.code, "42P01")
      assert.strictEqual(reason.severity, "ERROR")
      assert.isNumber(reason.position)
      assert.isString(reason.file)
      assert.isString(reason.routine)
      assert.strictEqual(reason.sqlState.condition, "undefined_table")
      const { rows } = yield* session.query("select 2 as two")
      assert.deepStrictEqual(rows, [{ two: 2 }])
    }))

  it.live("an error in the middle of the rows fails the query; the next query gets only its own rows", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const exit = yield* Effect.exit(session.query("select 1.0 / g as r from generate_series(3, -1, -1) g"))
      assert.strictEqual((reasonOf(exit) as ServerError).code, "22012")
      const { rows } = yield* session.query("select g from generate_series(1, 2) g")
      assert.deepStrictEqual(rows, [{ g: 1 }, { g: 2 }])
    }))

  it.live("exposes the transaction status", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      assert.strictEqual(yield* session.transactionStatus, "I")
      yield* session.query("begin")
      assert.strictEqual(yield* session.transactionStatus, "T")
      yield* Effect.exit(session.query("select 1/0"))
      assert.strictEqual(yield* session.transactionStatus, "E")
      yield* session.query("rollback")
      assert.strictEqual(yield* session.transactionStatus, "I")
    }))

  it.live("waits for ReadyForQuery, so a deferred constraint error reaches its query", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query(
        "create temp table deferred (id int unique deferrable initially deferred)"
      )
      yield* session.query("insert into deferred values (1)")
      const exit = yield* Effect.exit(session.query("insert into deferred values (1)"))
      assert.strictEqual((reasonOf(exit) as ServerError).code, "23505")
    }))
})

describe("PgSession: simple query", () => {
  it.live("returns every result set of a multi-statement string in order", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const results = yield* session.simple("select 1 as a; select 'x' as b, 'y' as c; create temp table st (x int);")
      assert.strictEqual(results.length, 3)
      assert.deepStrictEqual(results[0]!.rows, [{ a: 1 }])
      assert.deepStrictEqual(results[1]!.rows, [{ b: "x", c: "y" }])
      assert.strictEqual(results[2]!.command, "CREATE TABLE")
    }))

  it.live("stops at an error in the middle: later statements do not run", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.simple("create temp table mid (x int)")
      const exit = yield* Effect.exit(
        session.simple("insert into mid values (1); select 1/0; insert into mid values (2)")
      )
      assert.strictEqual((reasonOf(exit) as ServerError).code, "22012")
      const { rows } = yield* session.query("select count(*)::int as c from mid")
      // The string ran in one implicit transaction: the first insert was rolled back too.
      assert.deepStrictEqual(rows, [{ c: 0 }])
    }))

  it.live("an empty query string gives an empty result", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const results = yield* session.simple("")
      assert.strictEqual(results.length, 1)
      assert.strictEqual(results[0]!.command, "")
    }))
})

describe("PgSession: pipelining", () => {
  it.live("10,000 concurrent queries on one session each get their own rows", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const n = 10_000
      const results = yield* Effect.forEach(
        Array.from({ length: n }, (_, i) => i),
        (i) => session.query("select $1::int as i, $2::text as s", [i, `v${i}`]),
        { concurrency: "unbounded" }
      )
      for (let i = 0; i < n; i++) assert.deepStrictEqual(results[i]!.rows, [{ i, s: `v${i}` }])
    }), 60_000)

  it.live("an error inside a pipeline fails only its own request", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table pipe (x int)")
      const [a, b, c] = yield* Effect.all(
        [
          Effect.exit(session.query("insert into pipe values (1)")),
          Effect.exit(session.query("select no_such_function(1)")),
          Effect.exit(session.query("insert into pipe values (3)"))
        ],
        { concurrency: "unbounded" }
      )
      assert.isTrue(Exit.isSuccess(a!))
      assert.strictEqual((reasonOf(b!) as ServerError).code, "42883")
      assert.isTrue(Exit.isSuccess(c!))
      const { rows } = yield* session.query("select x from pipe order by x")
      assert.deepStrictEqual(rows, [{ x: 1 }, { x: 3 }])
    }))

  it.live("a batch runs in one implicit transaction and returns every result", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table batched (x int)")
      const results = yield* session.batch([
        { sql: "insert into batched values ($1)", params: [1] },
        { sql: "insert into batched values ($1)", params: [2] },
        { sql: "select count(*)::int as c from batched" }
      ])
      assert.strictEqual(results.length, 3)
      assert.deepStrictEqual(results[2]!.rows, [{ c: 2 }])
      const exit = yield* Effect.exit(
        session.batch([
          { sql: "insert into batched values (3)" },
          { sql: "select 1/0" },
          { sql: "insert into batched values (4)" }
        ])
      )
      assert.strictEqual((reasonOf(exit) as ServerError).code, "22012")
      const after = yield* session.query("select count(*)::int as c from batched")
      assert.deepStrictEqual(after.rows, [{ c: 2 }])
    }))
})

describe("PgSession: prepared statements", () => {
  it.live("prepare is scoped: Close on release", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const count = session.query<{ c: number }>(
        "select count(*)::int as c from pg_prepared_statements where not from_sql and statement = 'select $1::int * 2 as d'"
      )
      yield* Effect.scoped(
        Effect.gen(function*() {
          const statement = yield* session.prepare("select $1::int * 2 as d")
          assert.deepStrictEqual(statement.parameterTypes, [23])
          assert.strictEqual(statement.fields[0]!.name, "d")
          const { rows } = yield* statement.execute([21])
          assert.deepStrictEqual(rows, [{ d: 42 }])
          assert.deepStrictEqual((yield* count).rows, [{ c: 1 }])
        })
      )
      assert.deepStrictEqual((yield* count).rows, [{ c: 0 }])
    }))

  it.live("the statement cache re-prepares after a schema change and after DISCARD ALL", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table reprep (a int)")
      yield* session.query("insert into reprep values (1)")
      const first = yield* session.query("select * from reprep")
      assert.deepStrictEqual(first.rows, [{ a: 1 }])
      yield* session.query("alter table reprep add column b int default 7")
      const second = yield* session.query("select * from reprep")
      assert.deepStrictEqual(second.rows, [{ a: 1, b: 7 }])
      yield* session.simple("discard all")
      yield* session.query("create temp table reprep (a int)")
      const third = yield* session.query("select * from reprep")
      assert.deepStrictEqual(third.rows, [])
    }))

  it.live("a stale statement inside a transaction fails once, then works after rollback", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table stale (a int)")
      yield* session.query("select * from stale")
      yield* session.query("begin")
      yield* session.query("alter table stale add column b int")
      const exit = yield* Effect.exit(session.query("select * from stale"))
      assert.strictEqual((reasonOf(exit) as ServerError).code, "0A000")
      yield* session.query("rollback")
      const { fields } = yield* session.query("select * from stale")
      assert.deepStrictEqual(fields.map((f) => f.name), ["a"])
    }))
})

describe("PgSession: types at the session boundary", () => {
  it.live("a typed NULL declares its type and sends NULL", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const { rows } = yield* session.query("select pg_typeof($1)::text as t, $1 is null as n", [PgTypes.int4(null)])
      assert.deepStrictEqual(rows, [{ t: "integer", n: true }])
    }))

  it.live("rows typed by a Schema; a mismatch is a CodecError naming the column", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const Person = Schema.Struct({ id: Schema.Number, name: Schema.String })
      const { rows } = yield* session.query("select 1 as id, 'ada' as name", [], { schema: Person })
      assert.deepStrictEqual(rows, [{ id: 1, name: "ada" }])
      const error = yield* Effect.flip(session.query("select 'x' as id, 'ada' as name", [], { schema: Person }))
      assert.strictEqual(error.reason._tag, "CodecError")
      assert.strictEqual((error.reason as { column?: string }).column, "id")
      const streamed = yield* Stream.runCollect(
        session.stream("select g as id, 'n' || g as name from generate_series(1, 3) g", [], { schema: Person })
      )
      assert.deepStrictEqual(streamed.map((p) => p.name), ["n1", "n2", "n3"])
    }))

  it.live("resolves enums, domains and composites from pg_type once per session", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const suffix = `${process.pid}_${Date.now()}`
      yield* session.simple(`
        create type mood_${suffix} as enum ('sad', 'happy');
        create domain posint_${suffix} as int check (value > 0);
        create type pair_${suffix} as (a int, b text);
      `)
      const { rows } = yield* session.query(
        `select 'happy'::mood_${suffix} as m, 5::posint_${suffix} as d, row(1, 'x')::pair_${suffix} as p,
                array['sad', 'happy']::mood_${suffix}[] as ms`
      )
      assert.deepStrictEqual(rows[0], { m: "happy", d: 5, p: { a: 1, b: "x" }, ms: ["sad", "happy"] })
      yield* session.simple(`drop type pair_${suffix}; drop domain posint_${suffix}; drop type mood_${suffix}`)
    }))

  it.live("the registry comes from CurrentRegistry when the options name none", () =>
    Effect.gen(function*() {
      const registry = PgRegistry.Registry.make({ int8: "string" })
      const session = yield* connect().pipe(Effect.provideService(PgSession.CurrentRegistry, registry))
      const { rows } = yield* session.query("select 9007199254740993::int8 as n")
      assert.deepStrictEqual(rows, [{ n: "9007199254740993" }])
    }))
})

describe("PgSession: per-query options", () => {
  it.live("prepare: false runs an unnamed statement even with the cache on", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const sql = "select $1::int * 3 as n /* unnamed */"
      const { rows } = yield* session.query(sql, [14], { prepare: false })
      assert.deepStrictEqual(rows, [{ n: 42 }])
      const prepared = yield* session.query<{ c: number }>(
        "select count(*)::int as c from pg_prepared_statements where statement = $1",
        [sql]
      )
      assert.deepStrictEqual(prepared.rows, [{ c: 0 }])
      assert.isTrue(session[LenderKey].isSettled())
    }))
})
