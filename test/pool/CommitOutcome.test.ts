/**
 * The end of a transaction is bounded: when the connection goes silent as
 * COMMIT is sent (a stalled network path between the client and a real
 * server), the caller is released with `CommitOutcomeUnknown` (the commit may
 * or may not have happened) and the session is retired; the pool goes on with
 * a new one.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as PgPool from "../../src/pool/Pool.ts"
import { reasonOf } from "../support/Sessions.ts"
import * as FaultProxy from "../support/FaultProxy.ts"
import { servers } from "../support/Servers.ts"

describe("PgTransaction: a COMMIT nobody answers", () => {
  it.live("the caller gets CommitOutcomeUnknown after the commit timeout; the pool replaces the session", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      const pool = yield* PgPool.make({
        host: "127.0.0.1",
        port: proxy.port,
        user: "postgres",
        database: "postgres",
        sslMode: "disable",
        maxSize: 1,
        acquireTimeout: "10 seconds",
        // A replacement opened through the black hole while the pool closes gives up soon.
        connectTimeout: 1_000
      })
      const exit = yield* Effect.exit(pool.withTransaction(
        Effect.gen(function*() {
          // A temporary table: the backend keeps its transaction open until the proxy closes, so nothing shared
          // may wait on its locks.
          yield* pool.query("create temp table commit_outcome (n int)")
          yield* pool.query("insert into commit_outcome values (1)")
          // From here on the path forwards nothing: COMMIT goes out and no answer comes back.
          yield* proxy.blackhole
        }),
        { commitTimeout: "300 millis" }
      ))
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "CommitOutcomeUnknown", reason.message)
      assert.include(reason.message, "may or may not be committed")
      const stats = yield* pool.stats
      assert.strictEqual(stats.inUse, 0)
    })), { timeout: 30_000 })

  it.live("a commit timeout that is not a duration is a ConfigError before BEGIN", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* PgPool.make({ host: servers().main.host, port: servers().main.port, user: "postgres", database: "postgres" })
      const reason = reasonOf(yield* Effect.exit(pool.withTransaction(Effect.void, { commitTimeout: "soon" as never })))
      assert.strictEqual(reason._tag, "ConfigError")
    })))
})
