/**
 * Protocol 2.0 streams inside a transaction block on PostgreSQL 13 of statements a cursor cannot read (INSERT ...
 * RETURNING, SHOW, EXPLAIN). A block's streams read a cursor, and DECLARE takes only a query: these failed with a
 * syntax error that aborted the caller's transaction. They must stream as on 3.x and leave the block usable.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { connect13 } from "./Support.ts"

describe("protocol 2.0: streams of statements that are not queries, inside a transaction block", () => {
  it.live("INSERT RETURNING, SHOW and EXPLAIN stream; an early stop leaves the block usable", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      yield* session.query("create temp table ret (a int)")
      yield* session.query("begin")
      assert.deepStrictEqual(
        yield* Stream.runCollect(session.stream("insert into ret values (1), (2) returning a")),
        [{ a: 1 }, { a: 2 }]
      )
      assert.deepStrictEqual(yield* Stream.runCollect(session.stream("insert into ret values ($1) returning a", [3])), [{ a: 3 }])
      assert.strictEqual((yield* Stream.runCollect(session.stream("show work_mem"))).length, 1)
      assert.strictEqual((yield* Stream.runCollect(session.stream("/* plan */ explain select 1"))).length, 1)
      // An early stop: the statement still runs whole (as a 3.x portal of a data-modifying statement does).
      const first = yield* Stream.runCollect(Stream.take(session.stream("insert into ret select g from generate_series(10, 5009) g returning a"), 1))
      assert.deepStrictEqual(first, [{ a: 10 }])
      assert.strictEqual(yield* session.transactionStatus, "T")
      yield* session.query("commit")
      assert.deepStrictEqual((yield* session.query("select count(*)::int as n from ret")).rows, [{ n: 5003 }])
    }), 20_000)
})
