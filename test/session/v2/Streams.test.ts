/**
 * Protocol 2.0 session on PostgreSQL 13: cancellation (an interrupted query, a timeout, a stream stopped early),
 * 100,000-row streams inside and outside a transaction block, binary cursors.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { reasonOf } from "../../support/Sessions.ts"
import { connect13 } from "./Support.ts"

describe("protocol 2.0: cancellation and streams", () => {
  it.live("an interrupted pg_sleep(10) is cancelled within a second and the session is usable", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      const started = Date.now()
      const fiber = yield* Effect.forkChild(session.query("select pg_sleep(10)"))
      yield* Effect.sleep(200)
      yield* Fiber.interrupt(fiber)
      assert.isBelow(Date.now() - started, 1_500)
      assert.deepStrictEqual((yield* session.query("select 1 as one")).rows, [{ one: 1 }])
      const timedOut = yield* Effect.exit(session.query("select pg_sleep(10)").pipe(Effect.timeout(200)))
      assert.isTrue(timedOut._tag === "Failure")
      assert.deepStrictEqual((yield* session.query("select $1::int as two", [2])).rows, [{ two: 2 }])
      assert.strictEqual(yield* session.transactionStatus, "I")
    }))

  it.live("session.cancel stops a running query with a server error", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      const fiber = yield* Effect.forkChild(Effect.exit(session.query("select pg_sleep(10)")))
      yield* Effect.sleep(200)
      yield* session.cancel
      const reason = reasonOf(yield* Fiber.join(fiber))
      assert.strictEqual(reason._tag, "ServerError")
      assert.match(reason.message, /cancel/)
    }))

  it.live("a 100,000-row stream outside a transaction; an early stop cancels and drains", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      let sum = 0
      yield* session.stream("select g as n from generate_series(1, 100000) g").pipe(
        Stream.runForEach((row) => Effect.sync(() => (sum += row["n"] as number)))
      )
      assert.strictEqual(sum, 5_000_050_000)
      const first = yield* session.stream("select g as n, repeat('x', 100) as pad from generate_series(1, 1000000) g").pipe(
        Stream.take(10),
        Stream.runCollect
      )
      assert.deepStrictEqual(first.map((r) => r["n"]), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      assert.deepStrictEqual((yield* session.query("select 3 as three")).rows, [{ three: 3 }])
      const withParams = yield* session.stream("select g as n from generate_series(1, $1::int) g", [5]).pipe(Stream.runCollect)
      assert.strictEqual(withParams.length, 5)
    }))

  it.live("a stream whose consumer stops taking rows stops reading the socket: the server waits on ClientWrite", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      const monitor = yield* connect13({ protocolVersion: "3.0" })
      yield* Effect.scoped(Effect.gen(function*() {
        const pull = yield* Stream.toPull(session.stream("select g, repeat('x', 1000) as pad from generate_series(1, 300000) g"))
        const first = yield* pull
        assert.isAbove(first.length, 0)
        yield* monitor.query("select wait_event from pg_stat_activity where pid = $1", [session.processId]).pipe(
          Effect.flatMap((r) => (r.rows[0]?.["wait_event"] === "ClientWrite" ? Effect.void : Effect.fail("still sending"))),
          Effect.retry({ times: 200 }),
          Effect.delay(25)
        )
      }))
      assert.deepStrictEqual((yield* session.query("select 1 as one")).rows, [{ one: 1 }])
    }))

  it.live("inside a transaction block: a cursor paged with FETCH; an early stop leaves the transaction usable", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      yield* session.simple("begin")
      assert.strictEqual(yield* session.transactionStatus, "T")
      yield* session.simple("create temp table st (a int)")
      yield* session.simple("insert into st select g from generate_series(1, 100000) g")
      let count = 0
      yield* session.stream("select a from st where a > $1", [0], { pageSize: 5000 }).pipe(
        Stream.runForEach(() => Effect.sync(() => count++))
      )
      assert.strictEqual(count, 100000)
      const some = yield* session.stream("select a from st order by a").pipe(Stream.take(3), Stream.runCollect)
      assert.deepStrictEqual(some.map((r) => r["a"]), [1, 2, 3])
      assert.strictEqual(yield* session.transactionStatus, "T")
      assert.deepStrictEqual((yield* session.query("select count(*)::int as n from st")).rows, [{ n: 100000 }])
      assert.deepStrictEqual((yield* session.query("select count(*)::int as n from pg_cursors")).rows, [{ n: 0 }])
      yield* session.simple("commit")
      assert.strictEqual(yield* session.transactionStatus, "I")
    }))

  it.live("binary cursors decode BinaryRow through the binary codecs", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      yield* session.simple("begin")
      const rows = yield* session.stream(
        "select 1::int4 as i, 'hé'::text as t, null::int as n, 1.5::float8 as f, '2000-01-01 00:00:01+00'::timestamptz as ts, '{1,2}'::int[] as arr",
        [],
        { binary: true }
      ).pipe(Stream.runCollect)
      assert.strictEqual(rows.length, 1)
      const row = rows[0]!
      assert.strictEqual(row["i"], 1)
      assert.strictEqual(row["t"], "hé")
      assert.strictEqual(row["n"], null)
      assert.strictEqual(row["f"], 1.5)
      assert.strictEqual((row["ts"] as Date).toISOString(), "2000-01-01T00:00:01.000Z")
      assert.deepStrictEqual(row["arr"], [1, 2])
      yield* session.simple("rollback")
      const outside = reasonOf(yield* Effect.exit(session.stream("select 1", [], { binary: true }).pipe(Stream.runCollect)))
      assert.strictEqual(outside._tag, "ConfigError")
    }))
})
