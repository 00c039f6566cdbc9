/**
 * PgSession: Asynchronous messages (notifications, notices, parameter changes), function calls and termination.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { ServerError } from "../../src/errors/PgError.ts"
import { connectPlain as connect, reasonOf } from "../support/Sessions.ts"



describe("PgSession: asynchronous messages", () => {
  it.live("LISTEN/NOTIFY reaches every subscriber; UNLISTEN when the last one leaves", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const other = yield* connect()
      const channels = session.query<{ c: string }>("select pg_listening_channels() as c")
      yield* Effect.scoped(
        Effect.gen(function*() {
          const a = yield* session.listen("news")
          const b = yield* session.listen("news")
          assert.deepStrictEqual((yield* channels).rows, [{ c: "news" }])
          const fa = yield* Effect.forkChild(Stream.runCollect(Stream.take(a, 2)))
          const fb = yield* Effect.forkChild(Stream.runCollect(Stream.take(b, 2)))
          yield* other.notify("news", "one")
          yield* other.notify("news", "two")
          const ra = yield* Fiber.join(fa)
          const rb = yield* Fiber.join(fb)
          assert.deepStrictEqual(ra.map((n) => n.payload), ["one", "two"])
          assert.deepStrictEqual(rb.map((n) => n.payload), ["one", "two"])
          assert.strictEqual(ra[0]!.processId, other.processId)
        })
      )
      assert.deepStrictEqual((yield* channels).rows, [])
    }))

  it.live("notices are attached to their query and published", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const fiber = yield* Effect.forkChild(Stream.runCollect(Stream.take(session.notices, 1)))
      yield* Effect.sleep(10)
      const result = yield* session.query("do $$ begin raise notice 'hello %', 42; end $$")
      assert.strictEqual(result.notices.length, 1)
      assert.strictEqual(result.notices[0]!.message, "hello 42")
      const published = yield* Fiber.join(fiber)
      assert.strictEqual(published[0]!.message, "hello 42")
    }))

  it.live("parameter changes are observable", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const fiber = yield* Effect.forkChild(Stream.runCollect(Stream.take(session.parameterChanges, 1)))
      yield* Effect.sleep(10)
      yield* session.query("set application_name = 'observed'")
      const changes = yield* Fiber.join(fiber)
      assert.deepStrictEqual(changes, [{ name: "application_name", value: "observed" }])
      assert.strictEqual((yield* session.parameters).get("application_name"), "observed")
    }))
})

describe("PgSession: function call and termination", () => {
  it.live("FunctionCall calls a function by OID", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const { rows } = yield* session.query<{ oid: number }>("select 'int4pl'::regproc::oid::int as oid")
      const int4 = (n: number) => {
        const b = new Uint8Array(4)
        new DataView(b.buffer).setInt32(0, n)
        return b
      }
      const { result } = yield* session.functionCall(rows[0]!.oid, [int4(40), int4(2)], {
        argumentFormats: [1],
        resultFormat: 1
      })
      assert.strictEqual(new DataView(result!.buffer, result!.byteOffset).getInt32(0), 42)
    }))

  it.live("a backend killed mid-stream fails the stream with a typed error and nothing hangs", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const killer = yield* connect()
      const fiber = yield* Effect.forkChild(
        Stream.runDrain(session.stream("select g, pg_sleep(0.001) from generate_series(1, 100000) g", [], { pageSize: 10 }))
      )
      yield* Effect.sleep(200)
      yield* killer.query("select pg_terminate_backend($1)", [session.processId])
      const exit = yield* Fiber.await(fiber)
      const reason = reasonOf(exit as never)
      assert.isTrue(reason._tag === "ServerError" || reason._tag === "ConnectionError")
      if (reason._tag === "ServerError") assert.strictEqual((reason as ServerError).code, "57P01")
      assert.isTrue(yield* session.isClosed)
      const next = yield* Effect.exit(session.query("select 1"))
      assert.isTrue(Exit.isFailure(next))
    }))

  it.live("a backend killed while a stream's reading is paused fails the stream once the consumer pulls again", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const killer = yield* connect()
      let batches = 0
      const exit = yield* Effect.exit(
        Stream.runForEachArray(session.stream("select g from generate_series(1, 5000000) g"), () =>
          Effect.gen(function*() {
            if (batches++ > 0) return
            // Reading is paused now (the result is far larger than what may wait); the backend dies meanwhile.
            yield* killer.query("select pg_terminate_backend($1)", [session.processId])
            yield* Effect.sleep(300)
          }))
      )
      const reason = reasonOf(exit as never)
      assert.isTrue(reason._tag === "ServerError" || reason._tag === "ConnectionError", reason._tag)
      assert.isTrue(yield* session.isClosed)
    }), 30_000)

  it.live("closing the scope sends Terminate: the backend goes away", () =>
    Effect.gen(function*() {
      const monitor = yield* connect()
      const pid = yield* Effect.scoped(Effect.map(connect(), (s) => s.processId))
      yield* Effect.sleep(100)
      const { rows } = yield* monitor.query("select count(*)::int as c from pg_stat_activity where pid = $1", [pid])
      assert.deepStrictEqual(rows, [{ c: 0 }])
    }))
})
