/**
 * LISTEN/NOTIFY channel names: PostgreSQL keeps an identifier of at most
 * NAMEDATALEN - 1 (63) bytes. LISTEN truncates a longer one (the listener would
 * wait on another name forever) and pg_notify refuses it, so both are refused
 * before anything is sent.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { connectPlain, reasonOf } from "../support/Sessions.ts"

describe("PgSession: channel names", () => {
  it.live("a name of 63 bytes (multi-byte characters included) is heard", () =>
    Effect.scoped(Effect.gen(function*() {
      const session = yield* connectPlain()
      const channel = "é".repeat(31) + "x" // 63 bytes in UTF-8
      const notifications = yield* session.listen(channel)
      yield* session.notify(channel, "hi")
      const got = yield* notifications.pipe(Stream.take(1), Stream.runCollect)
      assert.deepStrictEqual(got.map((n) => [n.channel, n.payload]), [[channel, "hi"]])
    })))

  it.live("a name over 63 bytes is a CodecError for listen and notify, and nothing reaches the server", () =>
    Effect.scoped(Effect.gen(function*() {
      const lines: Array<string> = []
      const session = yield* connectPlain({ trace: (line) => lines.push(line) })
      const channel = "é".repeat(32) // 64 bytes, 32 characters
      const before = lines.length
      const listened = reasonOf(yield* Effect.exit(session.listen(channel)))
      const notified = reasonOf(yield* Effect.exit(session.notify(channel, "hi")))
      assert.strictEqual(listened._tag, "CodecError")
      assert.strictEqual(notified._tag, "CodecError")
      assert.include(listened.message, "64 bytes")
      assert.strictEqual(lines.length, before, "nothing was sent")
      const { rows } = yield* session.query("select count(*)::int as n from pg_listening_channels()")
      assert.deepStrictEqual(rows, [{ n: 0 }])
    })))
})
