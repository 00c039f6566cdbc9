/**
 * Protocol 2.0 session on PostgreSQL 13: a value or COPY line much larger than a socket read arrives in many
 * chunks. The session must put it together in time linear in its size (it copied everything received so far on
 * every chunk, and searched a long line for its end again with every chunk).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { connect13 } from "./Support.ts"

/** Far above what a linear reassembly needs on a loaded machine; the quadratic one took several times longer. */
const MUST_NOT_HANG = "20 seconds"

describe("protocol 2.0: wide values", () => {
  it.live("a 60 MB text value is read whole; the session goes on", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      const size = 60_000_000
      const sql = `select repeat('x', ${size}) || 'end' as v`
      const row = (yield* session.query<{ v: string }>(sql).pipe(Effect.timeout(MUST_NOT_HANG))).rows[0]!
      assert.strictEqual(row.v.length, size + 3)
      assert.isTrue(row.v.endsWith("xend"))
      assert.deepStrictEqual((yield* session.query("select 1 as one")).rows, [{ one: 1 }])
    }), 60_000)

  it.live("an 80 MB COPY OUT line is read whole; the session goes on", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      const size = 80_000_000
      const lines = yield* session.copyTo(`copy (select repeat('y', ${size})) to stdout`).pipe(
        Stream.runCollect,
        Effect.timeout(MUST_NOT_HANG)
      )
      assert.strictEqual(lines.reduce((n, line) => n + line.length, 0), size + 1)
      assert.deepStrictEqual((yield* session.query("select 1 as one")).rows, [{ one: 1 }])
    }), 60_000)
})
