/**
 * Protocol 2.0 session on PostgreSQL 13: COPY both ways (text and CSV equal to 3.0's output, errors with no junk
 * lines, binary refused, early stop), COPY IN (10k rows, no final newline, bad data and failed upstreams store
 * nothing and close the session, a stray end marker refused), LISTEN/NOTIFY with payload "".
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { reasonOf } from "../../support/Sessions.ts"
import { connect13 } from "./Support.ts"

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const text = (chunks: ReadonlyArray<Uint8Array>) => chunks.map((c) => decoder.decode(c)).join("")

describe("protocol 2.0: COPY and LISTEN", () => {
  it.live("copyTo: text and CSV equal 3.0's output; an error emits no junk lines; binary refused; early stop", () =>
    Effect.gen(function*() {
      const v2 = yield* connect13()
      const v3 = yield* connect13({ protocolVersion: "3.0" })
      for (const sql of [
        "copy (select g, 'x\ty' || g, null::text, E'a\\\\.b' from generate_series(1, 2000) g) to stdout",
        "copy (select g, 'x,\"y' || g, null::text, '\\.' from generate_series(1, 2000) g) to stdout with (format csv)"
      ]) {
        const a = text(yield* v2.copyTo(sql).pipe(Stream.runCollect))
        const b = text(yield* v3.copyTo(sql).pipe(Stream.runCollect))
        assert.strictEqual(a, b)
        assert.strictEqual(a.split("\n").length, 2001)
      }
      const lines: Array<string> = []
      const failed = yield* Effect.exit(
        v2.copyTo("copy (select 1 / (3 - g) from generate_series(1, 5) g) to stdout").pipe(
          Stream.runForEach((l) => Effect.sync(() => lines.push(decoder.decode(l))))
        )
      )
      const reason = reasonOf(failed)
      assert.strictEqual(reason.message, "division by zero")
      // The rows before the error are data; the two junk lines the server sends before the error are not emitted.
      assert.deepStrictEqual(lines, ["0\n", "1\n"])
      const binary = reasonOf(yield* Effect.exit(v2.copyTo("copy (select 1) to stdout with (format binary)").pipe(Stream.runCollect)))
      // Refused by the server under 2.0; said to be a limit of protocol 2.0.
      assert.strictEqual(binary._tag, "ConfigError")
      assert.include(binary.message, "protocol 2.0")
      const few = yield* v2.copyTo("copy (select g from generate_series(1, 3000000) g) to stdout").pipe(Stream.take(2), Stream.runCollect)
      assert.strictEqual(text(few), "1\n2\n")
      assert.deepStrictEqual((yield* v2.query("select 1 as ok")).rows, [{ ok: 1 }])
    }))

  it.live("copyFrom: 10k rows, no final newline, CSV", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      yield* session.simple("create temp table ci (a int, b text)")
      const rows = Array.from({ length: 10_000 }, (_, i) => `${i}\trow ${i}\n`).join("")
      const result = yield* Stream.make(encoder.encode(rows)).pipe(Stream.run(session.copyFrom("copy ci from stdin")))
      assert.deepStrictEqual(result, { command: "COPY", rowCount: 10_000 })
      const last = yield* Stream.make(encoder.encode("1"), encoder.encode("0001\tno newline")).pipe(Stream.run(session.copyFrom("copy ci from stdin")))
      assert.strictEqual(last.rowCount, 1)
      const csv = yield* Stream.make(encoder.encode("7,\"a,b\"\n8,\n")).pipe(Stream.run(session.copyFrom("copy ci from stdin with (format csv)")))
      assert.strictEqual(csv.rowCount, 2)
      assert.deepStrictEqual((yield* session.query("select count(*)::int as n, max(a) as m from ci")).rows, [{ n: 10_003, m: 10_001 }])
      assert.deepStrictEqual((yield* session.query("select a from ci where b = 'a,b'")).rows, [{ a: 7 }])
    }))

  it.live("copyFrom: bad data or a failed upstream stores nothing and closes the session; a stray \\. is refused", () =>
    Effect.gen(function*() {
      const monitor = yield* connect13()
      yield* monitor.simple("create table if not exists v2_copy_abort (a int); truncate v2_copy_abort")
      const bad = yield* connect13()
      const badExit = yield* Effect.exit(Stream.make(encoder.encode("1\n2\nx\n")).pipe(Stream.run(bad.copyFrom("copy v2_copy_abort from stdin"))))
      assert.strictEqual(reasonOf(badExit)._tag, "ServerError")
      assert.isTrue(yield* bad.isClosed)

      const failing = yield* connect13()
      const upstream = Stream.concat(Stream.make(encoder.encode("1\n2\n")), Stream.fail("upstream broke"))
      const failExit = yield* Effect.exit(upstream.pipe(Stream.run(failing.copyFrom("copy v2_copy_abort from stdin"))))
      assert.isTrue(failExit._tag === "Failure")
      assert.isTrue(yield* failing.isClosed)

      const interrupted = yield* connect13()
      const endless = Stream.concat(Stream.make(encoder.encode("1\n2\n")), Stream.never)
      const timedOut = yield* Effect.exit(endless.pipe(Stream.run(interrupted.copyFrom("copy v2_copy_abort from stdin")), Effect.timeout(300)))
      assert.isTrue(timedOut._tag === "Failure")
      assert.isTrue(yield* interrupted.isClosed)
      assert.match(reasonOf(yield* Effect.exit(interrupted.query("select 1"))).message, /no CopyFail|closing the connection/)

      const stray = yield* connect13()
      const strayExit = yield* Effect.exit(Stream.make(encoder.encode("1\n2\\.\n3\n")).pipe(Stream.run(stray.copyFrom("copy v2_copy_abort from stdin"))))
      const strayReason = reasonOf(strayExit)
      assert.strictEqual(strayReason._tag, "CodecError")
      assert.match(strayReason.message, /end marker/)

      // The server rolls back what a closed connection left: wait until the backends are gone.
      yield* monitor.query("select 1 from pg_stat_activity where query like 'copy v2_copy_abort%' and pid <> pg_backend_pid()").pipe(
        Effect.flatMap((r) => (r.rows.length === 0 ? Effect.void : Effect.fail("busy"))),
        Effect.retry({ times: 100 }),
        Effect.delay(20)
      )
      assert.deepStrictEqual((yield* monitor.query("select count(*)::int as n from v2_copy_abort")).rows, [{ n: 0 }])
      yield* monitor.simple("drop table v2_copy_abort")
    }))

  it.live("listen: payload \"\" from 2.0 and 3.x senders and on self-notify; a notification inside a transaction arrives after COMMIT", () =>
    Effect.gen(function*() {
      const listener = yield* connect13()
      const v3 = yield* connect13({ protocolVersion: "3.0" })
      const notifications = yield* listener.listen("v2chan")
      const got: Array<{ readonly processId: number; readonly channel: string; readonly payload: string }> = []
      const fiber = yield* notifications.pipe(Stream.take(4), Stream.runForEach((n) => Effect.sync(() => got.push(n))), Effect.forkChild)
      yield* v3.notify("v2chan", "ignored payload")
      yield* listener.notify("v2chan", "self")
      yield* v3.simple("begin; select pg_notify('v2chan', 'tx'); commit")
      const waitFor = (n: number) =>
        Effect.suspend(() => (got.length >= n ? Effect.void : Effect.fail("not yet"))).pipe(Effect.retry({ times: 250 }), Effect.delay(20))
      yield* waitFor(3)
      // While the listener is in a transaction block, notifications wait until it ends.
      yield* listener.simple("begin")
      yield* v3.notify("v2chan", "later")
      yield* Effect.sleep(200)
      yield* listener.query("select 1")
      assert.strictEqual(got.length, 3)
      yield* listener.simple("commit")
      yield* Fiber.join(fiber).pipe(Effect.timeout(5_000))
      assert.deepStrictEqual(got.map((n) => n.payload), ["", "", "", ""])
      assert.deepStrictEqual(got.map((n) => n.channel), ["v2chan", "v2chan", "v2chan", "v2chan"])
      assert.strictEqual(got[1]!.processId, listener.processId)
      assert.strictEqual(got[0]!.processId, v3.processId)
    }))
})
