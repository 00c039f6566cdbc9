/**
 * Protocol 2.0 COPY IN against a scripted server that ends the copy (CompletedResponse, ReadyForQuery) while the
 * client still has data to send: the server took something in the data for the end marker and reads the rest as
 * messages. The copy must fail with a typed error and the session close, never report the rows before as a
 * success.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as PgSession from "../../../src/session/Session.ts"
import { reasonOf } from "../../support/Sessions.ts"
import * as Fake from "./FakeServerV2.ts"

const encoder = new TextEncoder()

describe("protocol 2.0: a COPY IN the server ends before the client", () => {
  it.live("fails with a typed error and closes the session", () =>
    Effect.gen(function*() {
      const server = yield* Fake.make(async (c) => {
        await Fake.handshake(c)
        await c.next()
        c.raw_("G")
        c.expectCopy()
        await c.next()
        c.raw_("CCOPY 1\0Z")
        await c.untilClosed()
      })
      const session = yield* PgSession.connect({
        host: "127.0.0.1",
        port: server.port,
        user: "u",
        database: "d",
        sslMode: "disable",
        protocolVersion: "2.0",
        connectTimeout: 3_000
      })
      const data = Stream.concat(
        Stream.make(encoder.encode("1\n")),
        Stream.fromEffect(Effect.as(Effect.sleep("300 millis"), encoder.encode("2\n3\n")))
      )
      const exit = yield* Effect.exit(data.pipe(Stream.run(session.copyFrom("copy t from stdin")), Effect.timeout("10 seconds")))
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "ProtocolDesync", reason.message)
      assert.isTrue(yield* session.isClosed)
    }), 20_000)
})
