/**
 * Protocol 2.0 session on PostgreSQL 13: a value much larger than a socket read arrives in many chunks. The
 * session must put it together in time linear in its size (it copied everything received so far on every chunk:
 * a 60 MB value took about a minute of CPU).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
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
})
