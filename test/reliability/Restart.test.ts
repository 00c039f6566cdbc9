/**
 * A server killed with SIGKILL (no shutdown at all: the postmaster vanishes, its backends follow) and another
 * started in its place, behind the same address (the proxy sends new connections to the new server): a pool's
 * callers get typed errors, never a hang, and the pool serves again from the new server without being rebuilt.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as PgPool from "../../src/pool/Pool.ts"
import { acquire } from "../support/EmbeddedPostgres.ts"
import * as FaultProxy from "../support/FaultProxy.ts"

/** "It must not hang": how long the pool may take to serve again, at most. */
const RECOVERY_BOUND_MILLIS = 15_000

describe("a server restart", () => {
  it.live("after SIGKILL and a new server on the same address, the pool serves again", () =>
    Effect.scoped(Effect.gen(function*() {
      const first = yield* acquire({ name: "restartA" })
      const proxy = yield* FaultProxy.make(first.port)
      const pool = yield* PgPool.make({
        host: "127.0.0.1",
        port: proxy.port,
        user: "postgres",
        database: "postgres",
        sslMode: "disable",
        maxSize: 2,
        connectTimeout: 2_000,
        acquireTimeout: 3_000
      })
      assert.deepStrictEqual((yield* pool.query("select 1 as ok")).rows, [{ ok: 1 }])
      process.kill(first.pid, "SIGKILL")
      const second = yield* acquire({ name: "restartB" })
      yield* proxy.retarget(second.port)
      const started = Date.now()
      const errors: Array<string> = []
      let served = false
      while (!served && Date.now() - started < RECOVERY_BOUND_MILLIS) {
        const exit = yield* Effect.exit(pool.query("select 2 as ok").pipe(Effect.timeout(5_000)))
        if (exit._tag === "Success") served = true
        else {
          errors.push(String(exit.cause).slice(0, 120))
          yield* Effect.sleep(50)
        }
      }
      console.log(`SIGKILL restart: served again after ${Date.now() - started} ms, ${errors.length} failed calls first`)
      assert.isTrue(served, `the pool did not serve again within ${RECOVERY_BOUND_MILLIS} ms: ${errors.join("; ")}`)
      // No caller waited on its own timeout: every failure was a typed error from the pool.
      for (const e of errors) assert.notInclude(e, "TimeoutException")
    })), { timeout: 90_000 })
})
