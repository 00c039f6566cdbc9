/**
 * A bug in the session's own code is a defect of the caller's Effect, not a
 * made-up protocol error: the rest of the reply is read and dropped, and the
 * session stays usable. (A codec that throws is not such a bug: whatever a
 * decoder or encoder throws is a `CodecError` naming the column or the
 * parameter.) The bug is injected by replacing a request kind's row handler
 * for the duration of one call.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { QueryRequest } from "../../src/session/Requests.ts"
import { ResultSetsRequest } from "../../src/session/ResultSets.ts"
import { StreamRequest } from "../../src/session/Streaming.ts"
import { connectPlain } from "../support/Sessions.ts"

class SessionBug extends Error {}

/** Runs `effect` while `prototype.onDataRow` throws a `SessionBug`. */
const withBuggyRows = <A, E, R>(prototype: { onDataRow: unknown }, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const original = prototype.onDataRow
      prototype.onDataRow = () => {
        throw new SessionBug("a bug in a row handler")
      }
      return original
    }),
    () => effect,
    (original) =>
      Effect.sync(() => {
        prototype.onDataRow = original
      })
  )

const diesWithTheBug = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) && exit.cause.reasons.some((r) => Cause.isDieReason(r) && r.defect instanceof SessionBug)

describe("PgSession: a bug is a defect", () => {
  it.live("query, simple, batch and stream die with the bug; the session answers the next query", () =>
    Effect.scoped(Effect.gen(function*() {
      for (const statementCacheSize of [256, 0]) {
        const session = yield* connectPlain({ statementCacheSize })
        const sql = "select n from generate_series(1, 3) n"
        const exits = [
          yield* Effect.exit(withBuggyRows(QueryRequest.prototype, session.query(sql))),
          yield* Effect.exit(withBuggyRows(ResultSetsRequest.prototype, session.simple(sql))),
          yield* Effect.exit(withBuggyRows(ResultSetsRequest.prototype, session.batch([{ sql }]))),
          yield* Effect.exit(withBuggyRows(StreamRequest.prototype, Stream.runCollect(session.stream(sql))))
        ]
        assert.deepStrictEqual(exits.map(diesWithTheBug), [true, true, true, true], `statementCacheSize ${statementCacheSize}`)
        const { rows } = yield* session.query("select 1::int4 as one")
        assert.deepStrictEqual(rows, [{ one: 1 }])
      }
    })))
})
