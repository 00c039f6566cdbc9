/**
 * A silent connection is detected without a caller's timeout (the liveness check), a frame whose length promises
 * bytes that never come is bounded by the same rule, a listening session checks its own connection, and the
 * session-wide `queryTimeout` bounds every request. All through a proxy between the client and the real server.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as PgPool from "../../src/pool/Pool.ts"
import { LISTEN_CHECK_INTERVAL_MILLIS, LIVENESS_CHECK_AFTER_MILLIS, LIVENESS_PROBE_TIMEOUT_MILLIS } from "../../src/session/Liveness.ts"
import * as FaultProxy from "../support/FaultProxy.ts"
import { servers } from "../support/Servers.ts"
import { connectPlain, reasonOf } from "../support/Sessions.ts"

/** Short settings, so a test sees the rule at work in well under a second or two. */
const FAST = { livenessCheckAfter: 400, livenessProbeTimeout: 400, listenCheckInterval: 300 } as const
/**
 * For the tests where the link is live: the checks start as early, but a check has 3 s to be answered, so a loaded
 * machine (a side connection, a TLS handshake) cannot make a live session look dead.
 */
const FAST_LIVE = { ...FAST, livenessProbeTimeout: 3_000 } as const
/** "It must not hang": generous against the settings above. */
const BOUND_MILLIS = 10_000

const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const result = yield* Effect.exit(effect).pipe(Effect.timeoutOption(BOUND_MILLIS))
    return { result, millis: Date.now() - started }
  })

// Each test has its own proxy and session and mostly waits for a check to fire: they run side by side.
describe.concurrent("PgSession: liveness", () => {
  it("the defaults are named and on", () => {
    assert.strictEqual(LIVENESS_CHECK_AFTER_MILLIS, 15_000)
    assert.strictEqual(LIVENESS_PROBE_TIMEOUT_MILLIS, 5_000)
    assert.strictEqual(LISTEN_CHECK_INTERVAL_MILLIS, 30_000)
  })

  it.live("a query with no timeout on a silent link fails with a ConnectionError", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      const session = yield* connectPlain({ port: proxy.port, ...FAST })
      yield* session.query("select 1 as warm")
      yield* proxy.blackhole
      const { result, millis } = yield* timed(session.query("select 1 as warm"))
      console.log(`silent link: the query failed after ${millis} ms`)
      assert.isTrue(Option.isSome(result), `still waiting after ${BOUND_MILLIS} ms`)
      const reason = reasonOf(Option.getOrThrow(result))
      assert.strictEqual(reason._tag, "ConnectionError")
      assert.include(reason.message, "liveness check")
      assert.isTrue(yield* session.isClosed)
    })), { timeout: 30_000 })

  it.live("a long query on a live link is left alone (the server answers the check)", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      const session = yield* connectPlain({ port: proxy.port, ...FAST_LIVE })
      const { rows } = yield* session.query("select pg_sleep(1.5) as slept, 7 as n")
      assert.deepStrictEqual(rows, [{ slept: null, n: 7 }])
      // The side checks went through the proxy: more connections than the session's own.
      const counters = proxy.counters()
      console.log(`checks during a 1.5 s query: ${counters.accepted - 1} side connections`)
      assert.isAbove(counters.accepted, 1)
      assert.isFalse(yield* session.isClosed)
    })), { timeout: 30_000 })

  it.live("over TLS: the side check is a TLS handshake; a live link is left alone, a silent one is broken", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      const session = yield* connectPlain({ port: proxy.port, sslMode: "require", ...FAST_LIVE })
      assert.isTrue(session.encrypted)
      assert.deepStrictEqual((yield* session.query("select pg_sleep(1.2) as slept")).rows, [{ slept: null }])
      const checks = proxy.counters().accepted - 1
      assert.isAbove(checks, 0)
      yield* proxy.blackhole
      const { result, millis } = yield* timed(session.query("select 1 as lost"))
      console.log(`TLS: ${checks} side handshakes during a 1.2 s query; a silent link failed the query after ${millis} ms`)
      assert.isTrue(Option.isSome(result), `still waiting after ${BOUND_MILLIS} ms`)
      assert.strictEqual(reasonOf(Option.getOrThrow(result))._tag, "ConnectionError")
    })), { timeout: 30_000 })

  it.live("a probe timeout of 0 means the default, not a check that can never be answered", () =>
    Effect.scoped(Effect.gen(function*() {
      const session = yield* connectPlain({ livenessCheckAfter: 300, livenessProbeTimeout: 0 })
      assert.deepStrictEqual((yield* session.query("select pg_sleep(1) as slept")).rows, [{ slept: null }])
      assert.isFalse(yield* session.isClosed)
    })), { timeout: 30_000 })

  it.live("a DataRow whose length grew by 16 MiB breaks the session with a ProtocolError", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      const session = yield* connectPlain({ port: proxy.port, ...FAST })
      yield* proxy.fault({ _tag: "GrowLength", direction: "toClient", type: "D", k: 1, by: 16 * 1024 * 1024 })
      const { result, millis } = yield* timed(session.query("select 'corrupted' as row"))
      console.log(`length grown upward: the query failed after ${millis} ms`)
      assert.isTrue(Option.isSome(result), `still waiting after ${BOUND_MILLIS} ms`)
      const reason = reasonOf(Option.getOrThrow(result))
      assert.strictEqual(reason._tag, "ProtocolError")
      assert.include(reason.message, "stopped in the middle")
      assert.isTrue(yield* session.isClosed)
    })), { timeout: 30_000 })

  it.live("a LISTEN stream on a silent connection fails loudly", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      const session = yield* connectPlain({ port: proxy.port, ...FAST })
      const notifications = yield* session.listen("liveness_channel")
      const consumer = yield* Effect.forkChild(Stream.runCollect(notifications).pipe(Effect.exit))
      yield* Effect.sleep(50)
      yield* proxy.blackhole
      const started = Date.now()
      const exit = yield* Fiber.join(consumer).pipe(Effect.timeoutOption(BOUND_MILLIS))
      console.log(`silent listener: the stream failed after ${Date.now() - started} ms`)
      assert.isTrue(Option.isSome(exit), `the stream was still open after ${BOUND_MILLIS} ms`)
      const reason = reasonOf(Option.getOrThrow(exit))
      assert.strictEqual(reason._tag, "ConnectionError")
    })), { timeout: 30_000 })
})

describe.concurrent("PgSession and PgPool: queryTimeout", () => {
  it.live("a session's queryTimeout fails a long query with a TimeoutError, cancels it, and the session goes on", () =>
    Effect.scoped(Effect.gen(function*() {
      const session = yield* connectPlain({ queryTimeout: 300 })
      const reason = reasonOf(yield* Effect.exit(session.query("select pg_sleep(30)")))
      assert.strictEqual(reason._tag, "TimeoutError")
      assert.include(reason.message, "queryTimeout")
      const simple = reasonOf(yield* Effect.exit(session.simple("select pg_sleep(30)")))
      assert.strictEqual(simple._tag, "TimeoutError")
      assert.deepStrictEqual((yield* session.query("select 5 as n")).rows, [{ n: 5 }])
    })), { timeout: 30_000 })

  it.live("a pool's queryTimeout reaches its sessions", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* PgPool.make({
        host: servers().main.host,
        port: servers().main.port,
        user: "postgres",
        database: "postgres",
        sslMode: "disable",
        maxSize: 1,
        queryTimeout: 300
      })
      const reason = reasonOf(yield* Effect.exit(pool.query("select pg_sleep(30)")))
      assert.strictEqual(reason._tag, "TimeoutError")
      assert.deepStrictEqual((yield* pool.query("select 6 as n")).rows, [{ n: 6 }])
    })), { timeout: 30_000 })
})
