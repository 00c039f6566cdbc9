/**
 * The session against a scripted server that stops answering or ends the
 * session: a start-up that is never answered, a cancel that is ignored (the
 * drain timeout breaks the session), a secret key too long, and FATAL errors
 * alone or in a pipeline. Each ends in a typed `PgError` within a bounded
 * time, with no crash and no unhandled rejection.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type { PgError } from "../../../src/errors/PgError.ts"
import * as Backend from "../../../src/protocol/Backend.ts"
import * as PgSession from "../../../src/session/Session.ts"
import * as FakeServer from "../../support/FakeServer.ts"
import { assertBroken, connect, eventually, FAULT_MILLIS, failure, queryHead, TEST_MILLIS } from "./Support.ts"

/** The hard-cancel tests wait out the session's drain timeout. */
const HARD_CANCEL_TEST_MILLIS = PgSession.DRAIN_TIMEOUT_MILLIS + 15_000

describe("Faults: stalled servers (S24, S4, S8)", () => {
  it.live("a server that accepts and never answers the StartupMessage: connectTimeout fires", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([FakeServer.stall()])
      const started = Date.now()
      const error = yield* failure(connect(server, { connectTimeout: 300 }))
      const elapsed = Date.now() - started
      assert.strictEqual(error.reason._tag, "TimeoutError", error.message)
      if (error.reason._tag !== "TimeoutError") return
      assert.strictEqual(error.reason.operation, "connect")
      assert.strictEqual(error.reason.timeoutMillis, 300)
      assert.isAtLeast(elapsed, 290)
      // Well before any default: the connect timeout fired, not some other bound.
      assert.isBelow(elapsed, FAULT_MILLIS)
      // The StartupMessage went out and was never answered; a Terminate on the way out is all that may follow.
      const tags = (yield* server.received).map((m) => m._tag)
      assert.strictEqual(tags[0], "StartupMessage")
      assert.deepStrictEqual(tags.slice(1).filter((t) => t !== "Terminate"), [])
      yield* eventually(Effect.map(server.open, (n) => n === 0), "the client to close its socket")
    }), TEST_MILLIS)

  const hardCancel = (protocolVersion: "3.0" | "3.2", secretKey: Uint8Array) =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([
        FakeServer.handshake({ processId: 31337, secretKey }),
        FakeServer.readUntil("Sync"),
        FakeServer.waitForever
      ])
      const session = yield* connect(server, { protocolVersion })
      assert.strictEqual(session.protocolVersion.minor, protocolVersion === "3.0" ? 0 : 2)
      const fiber = yield* Effect.forkChild(session.query("select pg_sleep(3600)"))
      yield* server.waitFor("Sync")
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      const elapsed = Date.now() - started
      // The CancelRequest went out with the session's key; the fake ignored it, so the drain timed out.
      assert.deepStrictEqual(yield* server.cancelRequests, [{ processId: 31337, secretKey }])
      assert.isAtLeast(elapsed, PgSession.DRAIN_TIMEOUT_MILLIS - 100)
      assert.isBelow(elapsed, PgSession.DRAIN_TIMEOUT_MILLIS + FAULT_MILLIS)
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(fiber)))
      yield* assertBroken(session, server, "CancelError", /did not answer the cancel/)
      // Nothing was written on the session after the query: the wire was held during the cancel.
      const tagsAfterSync = (yield* server.received).map((m) => m._tag)
      assert.deepStrictEqual(tagsAfterSync.slice(tagsAfterSync.indexOf("Sync") + 1), [])
    })

  it.live(
    "an ignored cancel (protocol 3.0, 4-byte key) breaks the session after the drain timeout",
    () => hardCancel("3.0", Uint8Array.of(0xde, 0xad, 0xbe, 0xef)),
    HARD_CANCEL_TEST_MILLIS
  )

  it.live(
    "an ignored cancel (protocol 3.2, 32-byte key) breaks the session after the drain timeout",
    () => hardCancel("3.2", Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff)),
    HARD_CANCEL_TEST_MILLIS
  )

  it.live("a BackendKeyData with a 257-byte key is refused at start-up", () =>
    Effect.gen(function*() {
      // The encoder refuses such a key, so the frame is built by hand: 'K', length, process id, key.
      const key = new Uint8Array(4 + 4 + 257 + 1)
      const view = new DataView(key.buffer)
      key[0] = Backend.BackendKeyData.type
      view.setInt32(1, 4 + 4 + 257)
      view.setInt32(5, 7)
      key.fill(0xab, 9)
      const server = yield* FakeServer.make([
        FakeServer.expect("StartupMessage"),
        FakeServer.send({ _tag: "AuthenticationOk" }),
        FakeServer.sendRaw(key),
        FakeServer.send(FakeServer.readyForQuery()),
        FakeServer.waitForever
      ])
      const error = yield* failure(connect(server))
      assert.strictEqual(error.reason._tag, "ProtocolError", error.message)
      assert.match(error.message, /BackendKeyData.*secret key of 257 bytes/)
      yield* eventually(Effect.map(server.open, (n) => n === 0), "the client to close its socket")
    }), TEST_MILLIS)
})

describe("Faults: FATAL errors", () => {
  it.live("a FATAL 57P01 after CommandComplete fails the query with it, then the session is closed", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.readUntil("Sync"),
        FakeServer.send([
          ...queryHead(["x"]),
          FakeServer.dataRow(["1"]),
          FakeServer.commandComplete("SELECT 1"),
          FakeServer.errorResponse("57P01", "terminating connection due to administrator command", "FATAL")
        ]),
        FakeServer.close()
      ])
      const session = yield* connect(server)
      const exit = yield* Effect.exit(session.query("select x").pipe(Effect.timeout(FAULT_MILLIS)))
      // Either the query fails with the FATAL, or its result arrives and the session fails typed afterwards.
      if (Exit.isFailure(exit)) {
        const error = exit.cause.reasons.find((r) => r._tag === "Fail")?.error as PgError | undefined
        assert.isDefined(error, String(exit.cause))
        assert.strictEqual(error!.reason._tag, "ServerError", error!.message)
        if (error!.reason._tag !== "ServerError") return
        assert.strictEqual(error!.reason.code, "57P01")
        assert.strictEqual(error!.reason.severity, "FATAL")
      }
      yield* eventually(session.isClosed, "the session to close")
      const later = yield* failure(session.query("select 'later'"), 200)
      assert.include(["ServerError", "ConnectionError"], later.reason._tag, later.message)
    }), TEST_MILLIS)

  it.live("two FATALs in a pipeline fail both queries typed, with no crash and no unhandled rejection", () =>
    Effect.gen(function*() {
      const unhandled: Array<unknown> = []
      const onUnhandled = (reason: unknown) => {
        unhandled.push(reason)
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => process.on("unhandledRejection", onUnhandled)),
        () => Effect.sync(() => process.off("unhandledRejection", onUnhandled))
      )
      const fatal = FakeServer.errorResponse("57P01", "terminating connection due to administrator command", "FATAL")
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.readUntil("Sync"),
        FakeServer.readUntil("Sync"),
        FakeServer.send([fatal, fatal]),
        FakeServer.close()
      ])
      const session = yield* connect(server)
      const [first, second] = yield* Effect.all([failure(session.query("select 1")), failure(session.query("select 2"))], {
        concurrency: "unbounded"
      })
      assert.strictEqual(first.reason._tag, "ServerError", first.message)
      if (first.reason._tag === "ServerError") assert.strictEqual(first.reason.code, "57P01")
      assert.include(["ServerError", "ConnectionError"], second.reason._tag, second.message)
      yield* eventually(session.isClosed, "the session to close")
      yield* Effect.sleep(20)
      assert.deepStrictEqual(unhandled, [])
    }), TEST_MILLIS)
})
