/**
 * Protocol 2.0 sessions are watched as 3.x ones are: a silent link is found by the liveness check (a side
 * connection), a long query on a live link is left alone, a listening session checks its own connection with an
 * empty Query, and `queryTimeout` bounds every request and cancels it. Through a proxy to PostgreSQL 13.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as PgSession from "../../../src/session/Session.ts"
import * as FaultProxy from "../../support/FaultProxy.ts"
import { servers } from "../../support/Servers.ts"
import { reasonOf } from "../../support/Sessions.ts"
import * as Fake from "./FakeServerV2.ts"
import { connect13 } from "./Support.ts"

/** Short settings, so a test sees the rule at work within a second or two. */
const FAST = { livenessCheckAfter: 400, livenessProbeTimeout: 400, listenCheckInterval: 300 } as const
/**
 * For the tests where the link is live: the checks start as early, but a check has 3 s to be answered, so a loaded
 * machine cannot make a live session look dead.
 */
const FAST_LIVE = { ...FAST, livenessProbeTimeout: 3_000 } as const
/** "It must not hang": generous against the settings above. */
const BOUND_MILLIS = 10_000

const proxy13 = FaultProxy.make(servers().pg13.port, { raw: true })

describe("protocol 2.0: liveness", () => {
  it.live("a query with no timeout on a silent link fails with a ConnectionError", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* proxy13
      const session = yield* connect13({ port: proxy.port, ...FAST })
      assert.deepStrictEqual(session.protocolVersion, { major: 2, minor: 0 })
      yield* session.query("select 1 as warm")
      yield* proxy.blackhole
      const result = yield* Effect.exit(session.query("select 2 as lost")).pipe(Effect.timeoutOption(BOUND_MILLIS))
      assert.isTrue(Option.isSome(result), `still waiting after ${BOUND_MILLIS} ms`)
      const reason = reasonOf(Option.getOrThrow(result))
      assert.strictEqual(reason._tag, "ConnectionError")
      assert.include(reason.message, "liveness check")
      assert.isTrue(yield* session.isClosed)
    })), { timeout: 30_000 })

  it.live("a long query on a live link is left alone (the server answers the side checks)", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* proxy13
      const session = yield* connect13({ port: proxy.port, ...FAST_LIVE })
      const { rows } = yield* session.query("select pg_sleep(1.5) as slept, 7 as n")
      assert.strictEqual(rows[0]?.n, 7)
      assert.isAbove(proxy.accepted(), 1, "no side check went through the proxy")
      assert.isFalse(yield* session.isClosed)
    })), { timeout: 30_000 })

  it.live("a LISTEN stream on a silent connection fails loudly", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* proxy13
      const session = yield* connect13({ port: proxy.port, ...FAST })
      const notifications = yield* session.listen("liveness_v2")
      const consumer = yield* Effect.forkChild(Stream.runCollect(notifications).pipe(Effect.exit))
      yield* Effect.sleep(50)
      yield* proxy.blackhole
      const exit = yield* Fiber.join(consumer).pipe(Effect.timeoutOption(BOUND_MILLIS))
      assert.isTrue(Option.isSome(exit), `the stream was still open after ${BOUND_MILLIS} ms`)
      assert.strictEqual(reasonOf(Option.getOrThrow(exit))._tag, "ConnectionError")
    })), { timeout: 30_000 })

  it.live("a listening session on a live link answers its checks and goes on receiving", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* proxy13
      const session = yield* connect13({ port: proxy.port, ...FAST_LIVE })
      const sender = yield* connect13()
      const notifications = yield* session.listen("liveness_v2_live")
      const consumer = yield* Effect.forkChild(Stream.runCollect(Stream.take(notifications, 1)))
      // Several listen checks pass while idle.
      yield* Effect.sleep(1_200)
      assert.isFalse(yield* session.isClosed)
      yield* sender.notify("liveness_v2_live")
      const got = yield* Fiber.join(consumer).pipe(Effect.timeoutOption(BOUND_MILLIS))
      assert.isTrue(Option.isSome(got))
      assert.strictEqual(Option.getOrThrow(got)[0]?.channel, "liveness_v2_live")
      assert.deepStrictEqual((yield* session.query("select 3 as n")).rows, [{ n: 3 }])
    })), { timeout: 30_000 })
})

describe("protocol 2.0: a message stopped in the middle", () => {
  it.live("a CompletedResponse without its terminator, then silence, while the server answers the check: a ProtocolError", () =>
    Effect.scoped(Effect.gen(function*() {
      // The scripted server's second connection (the side check) is closed at once: an answer.
      const server = yield* Fake.make(async (c) => {
        await Fake.handshake(c)
        await c.next()
        c.raw_("CSELECT")
        await c.untilClosed()
      })
      const session = yield* PgSession.connect({
        host: "127.0.0.1",
        port: server.port,
        user: "u",
        database: "d",
        sslMode: "disable",
        protocolVersion: "2.0",
        ...FAST_LIVE
      })
      const result = yield* Effect.exit(session.simple("select x")).pipe(Effect.timeoutOption(BOUND_MILLIS))
      assert.isTrue(Option.isSome(result), `still waiting after ${BOUND_MILLIS} ms`)
      const reason = reasonOf(Option.getOrThrow(result))
      assert.strictEqual(reason._tag, "ProtocolError")
      assert.include(reason.message, "stopped in the middle")
      assert.isTrue(yield* session.isClosed)
    })), { timeout: 30_000 })
})

describe("protocol 2.0: queryTimeout", () => {
  it.live("fails a long query, simple, batch, prepared execute and function call with a TimeoutError, cancels each, and the session goes on", () =>
    Effect.scoped(Effect.gen(function*() {
      const session = yield* connect13({ queryTimeout: 300 })
      const query = reasonOf(yield* Effect.exit(session.query("select pg_sleep(30)")))
      assert.strictEqual(query._tag, "TimeoutError")
      assert.include(query.message, "queryTimeout")
      const withParams = reasonOf(yield* Effect.exit(session.query("select pg_sleep($1)", [30])))
      assert.strictEqual(withParams._tag, "TimeoutError")
      assert.strictEqual(reasonOf(yield* Effect.exit(session.simple("select pg_sleep(30)")))._tag, "TimeoutError")
      assert.strictEqual(reasonOf(yield* Effect.exit(session.batch([{ sql: "select pg_sleep(30)" }])))._tag, "TimeoutError")
      const statement = yield* session.prepare("select pg_sleep($1::float8)")
      assert.strictEqual(reasonOf(yield* Effect.exit(statement.execute([30])))._tag, "TimeoutError")
      // pg_sleep(float8) through the function call protocol, its argument as a binary float8.
      const [sleepOid] = (yield* session.query<{ oid: number }>("select 'pg_sleep(float8)'::regprocedure::oid as oid")).rows
      const seconds = new Uint8Array(8)
      new DataView(seconds.buffer).setFloat64(0, 30)
      assert.strictEqual(reasonOf(yield* Effect.exit(session.functionCall(sleepOid!.oid, [seconds])))._tag, "TimeoutError")
      assert.deepStrictEqual((yield* session.query("select 5 as n")).rows, [{ n: 5 }])
      assert.isFalse(yield* session.isClosed)
    })), { timeout: 30_000 })
})
