/**
 * Protocol 2.0 streams on PostgreSQL 13 whose SQL holds several row-returning statements. A 2.0 Query runs every
 * statement of its string; a stream gives the rows of one statement (3.x refuses several commands), so it must not
 * hand out rows of different shapes as one stream, nor drop a result in silence.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { reasonOf } from "../../support/Sessions.ts"
import { connect13 } from "./Support.ts"

describe("protocol 2.0: a stream of several statements", () => {
  it.live("fails with a ConfigError outside and inside a transaction block; the session goes on", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      const sql = "select 1 as a; select 'x' as b, 2 as c"
      const outside = reasonOf(yield* Effect.exit(Stream.runCollect(session.stream(sql))))
      assert.strictEqual(outside._tag, "ConfigError", outside.message)
      assert.deepStrictEqual((yield* session.query("select 42 as n")).rows, [{ n: 42 }])
      yield* session.query("begin")
      const inside = reasonOf(yield* Effect.exit(Stream.runCollect(session.stream(sql))))
      assert.strictEqual(inside._tag, "ConfigError", inside.message)
      yield* session.query("rollback")
      assert.deepStrictEqual((yield* session.query("select 43 as n")).rows, [{ n: 43 }])
      // One row-returning statement after others is one shape: it streams.
      const rows = yield* Stream.runCollect(session.stream("set local work_mem = '8MB'; select g from generate_series(1, 3) g"))
      assert.deepStrictEqual(rows, [{ g: 1 }, { g: 2 }, { g: 3 }])
    }), 20_000)
})
