/**
 * Query text that is not valid Unicode (a lone UTF-16 surrogate) is refused
 * with a CodecError naming its position, by every operation that sends SQL:
 * UTF-8 has no form for it, so it would go out as U+FFFD and the server would
 * run another statement than the one written. A surrogate pair is fine.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { connectPlain, reasonOf } from "../support/Sessions.ts"

const LONE = "select 'x\uD800y' as v"

describe("PgSession: query text with a lone surrogate", () => {
  it.live("query, simple, batch, prepare and stream refuse it before sending; the session stays usable", () =>
    Effect.scoped(Effect.gen(function*() {
      for (const statementCacheSize of [256, 0]) {
        const session = yield* connectPlain({ statementCacheSize })
        const attempts = [
          session.query(LONE),
          session.query(LONE, [], { prepare: false }),
          session.simple(LONE),
          session.batch([{ sql: "select 1" }, { sql: LONE }]),
          Effect.scoped(session.prepare(LONE)),
          Stream.runCollect(session.stream(LONE))
        ]
        for (const attempt of attempts) {
          const reason = reasonOf(yield* Effect.exit(attempt as Effect.Effect<unknown, unknown>))
          assert.strictEqual(reason._tag, "CodecError", reason.message)
          assert.include(reason.message, "position 10")
        }
        const { rows } = yield* session.query("select 'x\uD83D\uDE00y' as v")
        assert.deepStrictEqual(rows, [{ v: "x\uD83D\uDE00y" }])
      }
    })))
})
