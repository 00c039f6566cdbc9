/**
 * A cached statement the schema has moved under: `ALTER TABLE ... ALTER COLUMN
 * ... TYPE` leaves an INSERT prepared with the old parameter types failing with
 * 42804 in `transformAssignedExpr`. Outside a transaction block the session
 * evicts it and prepares it once more (as after 26000 and 0A000); inside one it
 * fails once (the transaction is aborted) and works after ROLLBACK.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { ServerError } from "../../src/errors/PgError.ts"
import { connectPlain, reasonOf } from "../support/Sessions.ts"

const INSERT = "insert into retyped (x) values ($1)"

const retypedTable = Effect.gen(function*() {
  const session = yield* connectPlain()
  yield* session.query("create temp table retyped (x text)")
  yield* session.query(INSERT, ["1"])
  yield* session.query("alter table retyped alter column x type int4 using x::int4")
  return session
})

describe("PgSession: a column's type changed under a cached statement", () => {
  it.live("query: evicted and prepared again, every later call works", () =>
    Effect.scoped(Effect.gen(function*() {
      const session = yield* retypedTable
      yield* session.query(INSERT, [2])
      yield* session.query(INSERT, [3])
      const { rows } = yield* session.query("select x from retyped order by x")
      assert.deepStrictEqual(rows, [{ x: 1 }, { x: 2 }, { x: 3 }])
    })))

  it.live("batch: evicted and run again", () =>
    Effect.scoped(Effect.gen(function*() {
      const session = yield* retypedTable
      yield* session.batch([{ sql: INSERT, params: [2] }, { sql: "select 1" }])
      yield* session.batch([{ sql: INSERT, params: [3] }])
      const { rows } = yield* session.query("select x from retyped order by x")
      assert.deepStrictEqual(rows, [{ x: 1 }, { x: 2 }, { x: 3 }])
    })))

  it.live("inside a transaction block: fails once with 42804, works after rollback", () =>
    Effect.scoped(Effect.gen(function*() {
      const session = yield* retypedTable
      yield* session.query("begin")
      const exit = yield* Effect.exit(session.query(INSERT, [2]))
      assert.strictEqual((reasonOf(exit) as ServerError).code, "42804")
      yield* session.query("rollback")
      yield* session.query(INSERT, [2])
      const { rows } = yield* session.query("select x from retyped order by x")
      assert.deepStrictEqual(rows, [{ x: 1 }, { x: 2 }])
    })))

  it.live("a statement that is wrong when first prepared still fails with 42804, once", () =>
    Effect.scoped(Effect.gen(function*() {
      const session = yield* connectPlain()
      yield* session.query("create temp table typed (x int4)")
      const exit = yield* Effect.exit(session.query("insert into typed (x) values ($1::text)", ["1"]))
      assert.strictEqual((reasonOf(exit) as ServerError).code, "42804")
    })))
})
