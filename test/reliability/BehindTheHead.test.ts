/**
 * A request whose caller went away while it waited behind others is not left to run: once it reaches the head of
 * the pipeline, still running, it is cancelled (with the wire held and the requests behind it protected from the
 * stray cancel, as for a request interrupted at the head), so abandoned work stops costing the callers behind it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as FaultProxy from "../support/FaultProxy.ts"
import { servers } from "../support/Servers.ts"
import { awaitActive, connectPlain } from "../support/Sessions.ts"

/** How long the abandoned statement would run if nobody cancelled it. */
const ABANDONED_SLEEP_SECONDS = 60
/** How long the storm of caller timeouts lasts. */
const STORM_MILLIS = 3_000
/** A generous bound for the caller behind it (the abandoned statement alone would take a minute). */
const FOLLOWER_BOUND_MILLIS = 15_000

// Each test has its own proxy and sessions (and its own statement text to find on the server): they run side by side.
describe.concurrent("PgSession: an abandoned request behind others", () => {
  it.live("is cancelled when it reaches the head, and the callers behind it are not hit", () =>
    Effect.scoped(Effect.gen(function*() {
      // Through a proxy that counts the CancelRequests (the session's cancels use the same endpoint).
      const proxy = yield* FaultProxy.make(servers().main.port)
      const session = yield* connectPlain({ port: proxy.port })
      const monitor = yield* connectPlain()
      const leader = yield* Effect.forkChild(session.query("select pg_sleep(0.3) as leader", [], { prepare: false }))
      yield* awaitActive(monitor, session, "as leader")
      // Written behind the leader: its caller gives up while the leader still runs.
      const abandoned = yield* Effect.exit(
        // Unnamed (Parse, Bind, Execute in one write), so it is in flight behind the leader, not waiting for a Parse.
        session.query(`select pg_sleep(${ABANDONED_SLEEP_SECONDS}) as abandoned_behind_head`, [], { prepare: false }).pipe(
          Effect.timeout(50)
        )
      )
      assert.strictEqual(abandoned._tag, "Failure")
      const started = Date.now()
      const follower = yield* session.query("select 42 as follower").pipe(Effect.timeoutOption(FOLLOWER_BOUND_MILLIS))
      const waited = Date.now() - started
      console.log(`follower answered after ${waited} ms behind an abandoned ${ABANDONED_SLEEP_SECONDS} s statement`)
      assert.isTrue(Option.isSome(follower), "the follower waited for the abandoned statement to run to its end")
      assert.deepStrictEqual(Option.getOrThrow(follower).rows, [{ follower: 42 }])
      assert.deepStrictEqual((yield* Fiber.join(leader)).rows, [{ leader: null }])
      const { rows } = yield* monitor.query(
        "select count(*)::int4 as n from pg_stat_activity where state = 'active' and strpos(query, 'abandoned_behind_head') > 0 and pid <> pg_backend_pid()"
      )
      assert.deepStrictEqual(rows, [{ n: 0 }])
      // One cancel, sent once the abandoned statement ran at the head (none while it waited behind the leader).
      assert.strictEqual(proxy.counters().cancelRequests, 1)
    })), { timeout: 30_000 })

  it.live("a storm of caller timeouts on a shared session: abandoned work is cancelled, the other callers never fail", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      const session = yield* connectPlain({ port: proxy.port })
      const until = Date.now() + STORM_MILLIS
      const latencies: Array<number> = []
      const failures: Array<string> = []
      let abandoned = 0
      // Callers that give up after 30 ms on statements of up to 300 ms.
      const impatient = Effect.gen(function*() {
        let i = 0
        while (Date.now() < until) {
          const seconds = ((i++ * 37) % 30) / 100
          const exit = yield* Effect.exit(session.query("select pg_sleep($1::float8) as storm", [seconds]).pipe(Effect.timeout(30)))
          if (exit._tag === "Failure") abandoned++
        }
      })
      // Callers that wait for their answer: each must get its own marker back.
      const patient = (worker: number) =>
        Effect.gen(function*() {
          let i = 0
          while (Date.now() < until) {
            const marker = worker * 100_000 + i++
            const started = Date.now()
            const exit = yield* Effect.exit(session.query("select $1::int4 as marker", [marker]))
            latencies.push(Date.now() - started)
            if (exit._tag === "Failure") failures.push(String(exit.cause))
            else if (exit.value.rows[0]?.["marker"] !== marker) failures.push(`marker ${marker}: ${JSON.stringify(exit.value.rows)}`)
          }
        })
      yield* Effect.all([impatient, impatient, impatient, impatient, patient(1), patient(2)], { concurrency: "unbounded" })
      latencies.sort((a, b) => a - b)
      const p50 = latencies[Math.floor(latencies.length / 2)] ?? 0
      const max = latencies.at(-1) ?? 0
      const cancels = proxy.counters().cancelRequests
      console.log(
        `storm of ${STORM_MILLIS} ms: ${abandoned} callers gave up, ${cancels} CancelRequests, ` +
          `${latencies.length} patient queries (p50 ${p50} ms, max ${max} ms), ${failures.length} failed`
      )
      assert.deepStrictEqual(failures, [])
      assert.isAbove(cancels, 0)
      assert.deepStrictEqual((yield* session.query("select 1 as ok")).rows, [{ ok: 1 }])
    })), { timeout: 30_000 })
})
