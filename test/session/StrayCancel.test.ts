/**
 * A cancel never reaches a request other than the one it was sent for. An
 * interrupted query that finishes on its own while its CancelRequest is on the
 * way leaves the cancel to land on whatever the backend runs next: a query, a
 * simple query or a batch pipelined right behind it. Those callers were never
 * interrupted; outside a transaction block they were rolled back by the stray
 * cancel, and are run once more, so they never see 57014.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as PgSession from "../../src/session/Session.ts"
import { connectPlain } from "../support/Sessions.ts"

/** Races per request kind: the cancel lands on the follower in a good share of them without the re-run. */
const RACES = 60

type Follower = (session: PgSession.Session, marker: number) => Effect.Effect<unknown, unknown>

const FOLLOWERS: ReadonlyArray<readonly [string, Follower]> = [
  ["query", (s, marker) => s.query("select $1::int4 as marker, pg_sleep(0.005)", [marker])],
  ["simple", (s, marker) => s.simple(`select ${marker} as marker, pg_sleep(0.005)`)],
  ["batch", (s, marker) => s.batch([{ sql: "select $1::int4 as marker, pg_sleep(0.005)", params: [marker] }])]
]

describe("PgSession: a stray cancel never fails another caller", () => {
  for (const [kind, follower] of FOLLOWERS) {
    it.live(`${kind} pipelined behind an interrupted query`, () =>
      Effect.scoped(Effect.gen(function*() {
        const session = yield* connectPlain()
        const failures: Array<string> = []
        for (let i = 0; i < RACES; i++) {
          const leader = yield* Effect.forkChild(session.query("select pg_sleep(0.02)"))
          const behind = yield* Effect.forkChild(Effect.exit(follower(session, i)))
          // Interrupt somewhere around the leader's end, so its cancel may arrive after it finished.
          yield* Effect.sleep(2 + (i % 19))
          yield* Fiber.interrupt(leader)
          const exit = yield* Fiber.join(behind)
          if (exit._tag === "Failure") failures.push(`race ${i}: ${String(exit.cause)}`)
        }
        assert.deepStrictEqual(failures, [])
        const { rows } = yield* session.query("select 1 as ok")
        assert.deepStrictEqual(rows, [{ ok: 1 }])
      })), { timeout: 60_000 })
  }
})
