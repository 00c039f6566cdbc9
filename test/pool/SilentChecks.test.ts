/**
 * The pool's own checks on a session whose path went silent (a fault proxy
 * black-holes that one connection, from a given message on, in front of a
 * real server): a check nobody answers retires the session within the check's
 * bound, without sending a CancelRequest to a server that no longer answers
 * (which held the caller for the cancel's drain on top), and the caller is
 * served by another session.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as PgPool from "../../src/pool/Pool.ts"
import * as FaultProxy from "../support/FaultProxy.ts"
import { servers } from "../support/Servers.ts"

describe("PgPool: a health check nobody answers", () => {
  it.live("retires the session by breaking it, not by cancelling, and the checkout is served by a new session", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      // The health check is a simple Query: each connection's first one is answered, its second goes into the
      // black hole (with every later byte of that connection).
      yield* proxy.fault({ _tag: "AtMessage", direction: "toServer", type: "Q", k: 2, how: "blackhole" })
      const pool = yield* PgPool.make({
        host: "127.0.0.1",
        port: proxy.port,
        user: "postgres",
        database: "postgres",
        sslMode: "disable",
        maxSize: 1,
        acquireTimeout: "20 seconds",
        connectTimeout: 2_000,
        livenessCheckAfter: 20_000,
        // Every checkout checks its session first.
        healthCheckAfter: 0
      })
      const first = yield* pool.query<{ n: number }>("select 1 as n")
      assert.deepStrictEqual(first.rows, [{ n: 1 }])
      const second = yield* pool.query<{ n: number }>("select 2 as n").pipe(Effect.timeout("20 seconds"))
      assert.deepStrictEqual(second.rows, [{ n: 2 }])
      assert.strictEqual(proxy.counters().faultsFired, 1)
      // Two sessions, and no third connection for a CancelRequest.
      assert.strictEqual(proxy.accepted(), 2)
    })), { timeout: 40_000 })
})
