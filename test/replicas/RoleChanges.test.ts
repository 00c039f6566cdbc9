/**
 * Role changes pushed by the server, over a real primary and its streaming
 * standby: once a routed pool has used a session, a ParameterStatus saying
 * its server changed role (`default_transaction_read_only=on` on a writer's
 * server, `in_hot_standby=off` on a reader's after pg_promote()) retires the
 * session at once, without waiting for the routed pool's next use of it, and
 * makes the pool check its hosts again.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { streamingPair } from "../support/Standby.ts"
import { direct, eventually, promote, retiredOnceHeard, routed, turnReadOnly, turnReadWrite } from "./Support.ts"

/** How long a pushed change may take to retire a session (a "must not hang" bound, not a timing claim). */
const RETIRE_BOUND_MILLIS = 10_000

describe("role changes pushed by the server", () => {
  it.live("a writer session hearing default_transaction_read_only=on, and a reader session hearing in_hot_standby=off, are retired at once", () =>
    Effect.gen(function*() {
      const pair = yield* streamingPair()
      const pool = yield* routed(pair, {
        name: "pushed",
        maxSize: 1,
        // Long enough that only a pushed change makes the pool look at its hosts again during the test.
        lagCheckInterval: 600_000
      })
      const port = "select inet_server_port() as port"
      const write = yield* pool.query<{ port: number }>(port)
      assert.strictEqual(write.rows[0]!.port, pair.primary.port)
      const read = yield* pool.query<{ port: number }>(port, [], { readOnly: true })
      assert.strictEqual(read.rows[0]!.port, pair.standby.port)
      const reader = pool.readers[1]!
      assert.deepInclude(yield* pool.writer.stats, { size: 1, retired: 0 })
      assert.deepInclude(yield* reader.stats, { size: 1, retired: 0 })

      // The primary turns read-only. The server reports the setting with the answer of the next statement
      // its session runs; that statement goes through the writer pool directly, not the routed query, so
      // nothing but the reported change can retire the session.
      const primary = yield* direct(pair.primary)
      yield* turnReadOnly(
        primary,
        "the writer's session heard default_transaction_read_only=on and was retired",
        retiredOnceHeard(pool.writer),
        RETIRE_BOUND_MILLIS
      )
      yield* turnReadWrite(primary)

      // The standby is promoted: the reader's session hears in_hot_standby=off with its next answer.
      yield* promote(yield* direct(pair.standby))
      // Any statement on the reader's session brings the change: the one below, or the host check the
      // writer's retirement started (it queries each reader pool directly, not through the routed query).
      // The statement's own outcome is not the point: when the change is heard while the session is leased
      // (a health check at checkout may be what hears it), the pool tries at once to open a replacement,
      // which the promoted server refuses (target_session_attrs=standby), and that failure may be this
      // statement's.
      yield* Effect.exit(reader.query("select pg_is_in_recovery() as recovering"))
      yield* eventually(
        "the reader's session heard in_hot_standby=off and was retired",
        Effect.map(reader.stats, (s) => s.retired === 1 && s.size === 0),
        RETIRE_BOUND_MILLIS
      )
      // And the hosts were checked again at once: the promoted server is no longer read from.
      yield* eventually(
        "the routed pool saw the promotion",
        Effect.map(pool.status, (all) => all.find((s) => s.port === pair.standby.port)?.standby === false),
        RETIRE_BOUND_MILLIS
      )
    }).pipe(Effect.scoped), 120_000)
})
