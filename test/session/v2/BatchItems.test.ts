/**
 * Protocol 2.0 batches and queries with parameters on PostgreSQL 13, built as one Query string of the items (and of
 * PREPARE, EXECUTE, DEALLOCATE): an item with a trailing line comment, an empty or comment-only item, and an item
 * of several statements must give what 3.0 gives or a typed error, never results out of place.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { BatchItem } from "../../../src/session/ResultSets.ts"
import { connect13 } from "./Support.ts"

const shape = (exit: Exit.Exit<ReadonlyArray<{ readonly command: string; readonly rows: ReadonlyArray<unknown> }>, unknown>) =>
  Exit.isSuccess(exit) ? exit.value.map((r) => [r.command, r.rows]) : "failed"

describe("protocol 2.0: batch items and comments", () => {
  it.live("trailing line comments, empty and comment-only items give 3.0's results", () =>
    Effect.gen(function*() {
      const v2 = yield* connect13()
      const v3 = yield* connect13({ protocolVersion: "3.0" })
      const batches: ReadonlyArray<ReadonlyArray<BatchItem>> = [
        [{ sql: "select 1 as a -- one" }, { sql: "select $1::int as c -- three", params: [3] }, { sql: "select 4 as d" }],
        [{ sql: "" }, { sql: "select $1::int as c", params: [3] }],
        [{ sql: "-- nothing" }, { sql: "select $1::int as c", params: [3] }, { sql: "/* nothing */ ;" }]
      ]
      for (const items of batches) {
        const a = shape(yield* Effect.exit(v2.batch(items)))
        const b = shape(yield* Effect.exit(v3.batch(items)))
        assert.deepStrictEqual(a, b, JSON.stringify(items))
        assert.notStrictEqual(b, "failed")
      }
      for (const session of [v2, v3]) {
        assert.deepStrictEqual((yield* session.query("select $1::int + 1 as n -- comment", [1])).rows, [{ n: 2 }])
      }
    }), 20_000)

  it.live("an item of several statements is a typed error, as on 3.0, and the session goes on", () =>
    Effect.gen(function*() {
      const v2 = yield* connect13()
      const exit = yield* Effect.exit(v2.batch([{ sql: "select 1 as a; select 2 as b" }, { sql: "select $1::int as c", params: [3] }]))
      assert.isTrue(Exit.isFailure(exit), JSON.stringify(shape(exit)))
      assert.deepStrictEqual((yield* v2.query("select 5 as n")).rows, [{ n: 5 }])
    }), 20_000)
})
