/**
 * Parameters PostgreSQL would refuse are refused before they are encoded: a
 * value over the field limit (1 GB - 1) with a CodecError naming the
 * parameter, and a Bind over the message limit; nothing is sent and the session
 * stays usable (before, the server reset the connection mid-write).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { MAX_FIELD_BYTES } from "../../src/session/Frames.ts"
import { connectTraced, reasonOf } from "../support/Sessions.ts"

describe("PgSession: parameters over PostgreSQL's limits", () => {
  it.live("a value over 1 GB - 1 and two values over the message limit are CodecErrors; nothing is sent", () =>
    Effect.scoped(Effect.gen(function*() {
      const { lines, session } = yield* connectTraced()
      const before = lines.length
      // Zero-filled memory the test never touches: the pages are not committed.
      const huge = new Uint8Array(MAX_FIELD_BYTES + 1)
      const one = reasonOf(yield* Effect.exit(session.query("select length($1::bytea)", [huge])))
      assert.strictEqual(one._tag, "CodecError")
      assert.strictEqual(one._tag === "CodecError" ? one.parameter : undefined, 1)
      assert.include(one.message, `parameter $1 is ${MAX_FIELD_BYTES + 1} bytes`)
      const half = new Uint8Array(2 ** 29)
      const two = reasonOf(yield* Effect.exit(session.query("select $1::bytea, $2::bytea", [half, half])))
      assert.strictEqual(two._tag, "CodecError")
      assert.include(two.message, `the parameters are ${2 ** 30} bytes`)
      assert.strictEqual(lines.slice(before).filter((l) => l.includes("Bind")).length, 0, "no Bind was sent")
      const { rows } = yield* session.query("select length($1::bytea) as n", [new Uint8Array(1000)])
      assert.deepStrictEqual(rows, [{ n: 1000 }])
    })))
})
