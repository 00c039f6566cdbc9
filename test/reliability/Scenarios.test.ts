/**
 * RELIABILITY.md's scenarios that a proxy between the client and the real server makes testable: a TLS start-up
 * and its results cut into 1-byte pieces, a silent path during start-up, a reset in the middle of SCRAM, a byte
 * flipped in a row, a FATAL while idle, a reset inside a pipeline of 200 queries with statement-cache misses, and
 * results through pieces and latency byte for byte the same as direct. Every wait is bounded; figures are printed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as PgSession from "../../src/session/Session.ts"
import * as FaultProxy from "../support/FaultProxy.ts"
import { PASSWORDS, servers } from "../support/Servers.ts"
import { connectPlain, reasonOf } from "../support/Sessions.ts"

/** "It must not hang": generous for every wait below. */
const BOUND_MILLIS = 10_000

/** A query whose result mixes types, lengths and NULLs. */
const MIXED = "select n, repeat(chr(65 + n % 26), n * 7) as s, case when n % 3 = 0 then null else n * 1.5 end as x, " +
  "now() - now() as d, array[n, n + 1] as a from generate_series(1, 30) as n"

// Each test has its own proxy and sessions (and its own statement text to find on the server): they run side by side.
describe.concurrent("reliability scenarios through the fault proxy", () => {
  it.live("TLS cut into 1-byte pieces: the start-up and the results are the same as direct", () =>
    Effect.scoped(Effect.gen(function*() {
      const { main } = servers()
      const proxy = yield* FaultProxy.make(main.port, { pieces: 1 })
      const tls = { host: "127.0.0.1", user: "postgres", database: "postgres", sslMode: "require" as const }
      const direct = yield* PgSession.connect({ ...tls, port: main.port })
      const started = Date.now()
      const cut = yield* PgSession.connect({ ...tls, port: proxy.port })
      assert.isTrue(cut.encrypted)
      const query = "select n, repeat('x', 300) as s from generate_series(1, 20) as n"
      const [a, b] = [yield* direct.query(query), yield* cut.query(query)]
      console.log(`TLS in 1-byte pieces: connected and answered in ${Date.now() - started} ms`)
      assert.deepStrictEqual(b.rows, a.rows)
    })), { timeout: 30_000 })

  it.live("1-byte pieces and 3 ms of latency each way in clear: results are the same as direct", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port, { pieces: 1, latency: { toServer: 3, toClient: 3 } })
      const direct = yield* connectPlain()
      const slow = yield* connectPlain({ port: proxy.port })
      for (const statementCacheSize of [256, 0]) {
        const through = yield* connectPlain({ port: proxy.port, statementCacheSize })
        assert.deepStrictEqual((yield* through.query(MIXED)).rows, (yield* direct.query(MIXED)).rows)
      }
      assert.deepStrictEqual(yield* slow.simple(MIXED), yield* direct.simple(MIXED))
      const frames = proxy.counters().frames
      console.log(`pieces and latency: ${frames.toClient["D"]} DataRows forwarded one byte at a time`)
      assert.isAtLeast(frames.toClient["D"] ?? 0, 90)
    })), { timeout: 30_000 })

  it.live("a silent path during start-up: connect fails with a TimeoutError within its connect timeout", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      yield* proxy.blackhole
      const started = Date.now()
      const exit = yield* Effect.exit(connectPlain({ port: proxy.port, connectTimeout: 500 })).pipe(
        Effect.timeoutOption(BOUND_MILLIS)
      )
      console.log(`half-open start-up: failed after ${Date.now() - started} ms`)
      assert.isTrue(Option.isSome(exit))
      const reason = reasonOf(Option.getOrThrow(exit))
      assert.strictEqual(reason._tag, "TimeoutError")
    })), { timeout: 30_000 })

  it.live("a reset in the middle of SCRAM: a typed connection error without the password", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      // The second Authentication message is SASLContinue (the first is AuthenticationSASL).
      yield* proxy.fault({ _tag: "AtMessage", direction: "toClient", type: "R", k: 2, how: "reset" })
      const exit = yield* Effect.exit(
        connectPlain({ port: proxy.port, user: "scramuser", password: PASSWORDS.scramuser, connectTimeout: 5_000 })
      ).pipe(Effect.timeoutOption(BOUND_MILLIS))
      assert.isTrue(Option.isSome(exit))
      const reason = reasonOf(Option.getOrThrow(exit))
      assert.strictEqual(reason._tag, "ConnectionError", reason.message)
      assert.notInclude(reason.message, PASSWORDS.scramuser)
      assert.strictEqual(proxy.counters().faultsFired, 1)
    })), { timeout: 30_000 })

  it.live("a byte flipped in a DataRow's column count breaks the session with a ProtocolError", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      const session = yield* connectPlain({ port: proxy.port })
      yield* proxy.fault({ _tag: "Corrupt", direction: "toClient", type: "D", k: 1, offset: 1 })
      const reason = reasonOf(yield* Effect.exit(session.query("select 1 as a, 2 as b")))
      assert.strictEqual(reason._tag, "ProtocolError", reason.message)
      assert.isTrue(yield* session.isClosed)
      const next = reasonOf(yield* Effect.exit(session.query("select 1")))
      assert.strictEqual(next._tag, "ProtocolError")
    })), { timeout: 30_000 })

  it.live("a FATAL while idle (pg_terminate_backend) ends the session with 57P01", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      const session = yield* connectPlain({ port: proxy.port })
      const monitor = yield* connectPlain()
      yield* monitor.query("select pg_terminate_backend($1)", [session.processId])
      const started = Date.now()
      while (!(yield* session.isClosed) && Date.now() - started < BOUND_MILLIS) yield* Effect.sleep(20)
      console.log(`FATAL while idle: the session knew after ${Date.now() - started} ms`)
      const reason = reasonOf(yield* Effect.exit(session.query("select 1")))
      assert.strictEqual(reason._tag, "ServerError")
      assert.strictEqual((reason as { code?: string }).code, "57P01")
    })), { timeout: 30_000 })

  it.live("a reset inside a pipeline of 200 queries with statement-cache misses: every caller is answered, none with another's row", () =>
    Effect.scoped(Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      const session = yield* connectPlain({ port: proxy.port })
      const monitor = yield* connectPlain()
      const pid = session.processId
      yield* proxy.fault({ _tag: "AtMessage", direction: "toClient", type: "D", k: 80, how: "reset" })
      const started = Date.now()
      const outcomes = yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) =>
          // Each SQL text is new: a Parse (a cache miss) before its Bind.
          Effect.exit(session.query(`select $1::int4 as i /* miss ${i} */`, [i])),
        { concurrency: "unbounded" }
      ).pipe(Effect.timeoutOption(BOUND_MILLIS))
      assert.isTrue(Option.isSome(outcomes), "callers still waiting")
      const exits = Option.getOrThrow(outcomes)
      let ok = 0
      let failed = 0
      exits.forEach((exit, i) => {
        if (exit._tag === "Success") {
          ok++
          assert.deepStrictEqual(exit.value.rows, [{ i }])
        } else {
          failed++
          assert.strictEqual(reasonOf(exit)._tag, "ConnectionError")
        }
      })
      console.log(`reset in a pipeline of 200: ${ok} answered, ${failed} failed with ConnectionError, in ${Date.now() - started} ms`)
      assert.isAbove(failed, 0)
      assert.isTrue(yield* session.isClosed)
      // Nothing stays running or in a transaction on the server.
      const { rows } = yield* monitor.query(
        "select count(*)::int4 as n from pg_stat_activity where pid = $1 and state <> 'idle'",
        [pid]
      )
      assert.deepStrictEqual(rows, [{ n: 0 }])
    })), { timeout: 30_000 })
})
