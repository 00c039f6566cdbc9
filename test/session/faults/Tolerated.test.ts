/**
 * The session against a scripted server that does unusual but legal things:
 * asynchronous messages (Notice, ParameterStatus, Notification) anywhere,
 * including inside a row stream and during start-up, a LISTEN scope closed
 * while the server stops answering, NegotiateProtocolVersion, and COPY BOTH.
 * None of it disturbs the requests around it, and nothing hangs.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Frontend from "../../../src/protocol/Frontend.ts"
import * as PgSession from "../../../src/session/Session.ts"
import * as FakeServer from "../../support/FakeServer.ts"
import { connect, FAULT_MILLIS, queryHead, TEST_MILLIS } from "./Support.ts"

describe("Faults: asynchronous messages anywhere", () => {
  it.live("Notice, ParameterStatus and Notification inside a row stream reach their side channels; rows are intact", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.respond("Query", () => [FakeServer.commandComplete("LISTEN"), FakeServer.readyForQuery()]),
        FakeServer.readUntil("Sync"),
        FakeServer.send([
          { _tag: "ParseComplete" },
          FakeServer.noticeResponse("before the rows"),
          { _tag: "BindComplete" },
          FakeServer.rowDescription(["x"]),
          { _tag: "ParameterStatus", name: "application_name", value: "changed mid-stream" },
          FakeServer.dataRow(["a"]),
          { _tag: "NotificationResponse", processId: 99, channel: "events", payload: "hello" },
          FakeServer.noticeResponse("between the rows", "01000"),
          FakeServer.dataRow(["b"]),
          FakeServer.commandComplete("SELECT 2"),
          FakeServer.readyForQuery()
        ]),
        // UNLISTEN when the subscription's scope closes.
        FakeServer.respond("Query", () => [FakeServer.commandComplete("UNLISTEN"), FakeServer.readyForQuery()]),
        FakeServer.waitForever
      ])
      const session = yield* connect(server)
      const notifications = yield* session.listen("events")
      const result = yield* session.query("select x").pipe(Effect.timeout(FAULT_MILLIS))
      assert.deepStrictEqual(result.rows, [{ x: "a" }, { x: "b" }])
      assert.strictEqual(result.command, "SELECT")
      assert.strictEqual(result.rowCount, 2)
      assert.deepStrictEqual(result.notices.map((n) => [n.code, n.message]), [
        ["00000", "before the rows"],
        ["01000", "between the rows"]
      ])
      assert.strictEqual((yield* session.parameters).get("application_name"), "changed mid-stream")
      const received = yield* notifications.pipe(Stream.take(1), Stream.runCollect, Effect.timeout(FAULT_MILLIS))
      assert.deepStrictEqual([...received], [{ processId: 99, channel: "events", payload: "hello" }])
      assert.isFalse(yield* session.isClosed)
    }), TEST_MILLIS)

  it.live("closing a LISTEN scope does not hang when the server stops answering", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.respond("Query", () => [FakeServer.commandComplete("LISTEN"), FakeServer.readyForQuery()]),
        FakeServer.waitForever
      ])
      const session = yield* connect(server)
      // Detached, so a finalizer that never ends fails this test instead of hanging its scope.
      const fiber = yield* Effect.forkDetach(Effect.scoped(session.listen("events")))
      const bound = PgSession.DRAIN_TIMEOUT_MILLIS + 1_000
      const exit = yield* Fiber.await(fiber).pipe(Effect.timeout(bound), Effect.option)
      assert.isTrue(Option.isSome(exit), `closing the LISTEN scope took more than ${bound} ms`)
      // UNLISTEN is written, not awaited: wait for it to arrive.
      yield* server.waitFor((m) => m._tag === "Query" && (m as Frontend.Query).query.startsWith("UNLISTEN"))
      const received = (yield* server.received).filter((m) => m._tag === "Query")
      assert.deepStrictEqual(received.map((m) => (m as Frontend.Query).query), ['LISTEN "events"', 'UNLISTEN "events"'])
    }), PgSession.DRAIN_TIMEOUT_MILLIS + 4_000)

  it.live("Notice, ParameterStatus and Notification during start-up do not disturb it", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([
        FakeServer.expect("StartupMessage"),
        FakeServer.send([
          FakeServer.noticeResponse("welcome"),
          { _tag: "AuthenticationOk" },
          { _tag: "ParameterStatus", name: "server_version", value: "18.0" },
          FakeServer.noticeResponse("still starting"),
          { _tag: "NotificationResponse", processId: 5, channel: "early", payload: "nobody listens yet" },
          { _tag: "BackendKeyData", processId: 4321, secretKey: Uint8Array.of(1, 2, 3, 4) },
          { _tag: "ParameterStatus", name: "TimeZone", value: "Europe/Paris" },
          FakeServer.readyForQuery()
        ]),
        FakeServer.readUntil("Sync"),
        FakeServer.send([
          ...queryHead(["x"]),
          FakeServer.dataRow(["only row"]),
          FakeServer.commandComplete("SELECT 1"),
          FakeServer.readyForQuery()
        ]),
        FakeServer.waitForever
      ])
      const session = yield* connect(server)
      assert.strictEqual(session.processId, 4321)
      const parameters = yield* session.parameters
      assert.strictEqual(parameters.get("server_version"), "18.0")
      assert.strictEqual(parameters.get("TimeZone"), "Europe/Paris")
      const { rows } = yield* session.query("select x").pipe(Effect.timeout(FAULT_MILLIS))
      assert.deepStrictEqual(rows, [{ x: "only row" }])
    }), TEST_MILLIS)
})

describe("Faults: protocol negotiation", () => {
  it.live("NegotiateProtocolVersion with a lower minor and unrecognized _pq_ options: the session continues at 3.0", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([
        FakeServer.handshake({ protocolMinor: 0, processId: 8 }),
        FakeServer.readUntil("Sync"),
        FakeServer.send([
          ...queryHead(["x"]),
          FakeServer.dataRow(["ok"]),
          FakeServer.commandComplete("SELECT 1"),
          FakeServer.readyForQuery()
        ]),
        FakeServer.waitForever
      ])
      const session = yield* connect(server, { parameters: { "_pq_.test_option": "on" } })
      const startup = (yield* server.received)[0] as FakeServer.ClientMessage
      assert.strictEqual(startup._tag, "StartupMessage")
      if (startup._tag === "StartupMessage") assert.strictEqual(startup.protocolVersion & 0xffff, 2)
      assert.deepStrictEqual(session.protocolVersion, { major: 3, minor: 0 })
      assert.deepStrictEqual(session.unsupportedProtocolOptions, ["_pq_.test_option"])
      const { rows } = yield* session.query("select x").pipe(Effect.timeout(FAULT_MILLIS))
      assert.deepStrictEqual(rows, [{ x: "ok" }])
    }), TEST_MILLIS)
})

describe("Faults: COPY BOTH", () => {
  it.live("CopyBothResponse is recognised: its CopyData is read and the query ends at ReadyForQuery", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.respond("Query", () => [
          { _tag: "CopyBothResponse", format: 0, columnFormats: [] },
          { _tag: "CopyData", data: Uint8Array.of(0x6b, 1, 2, 3) },
          { _tag: "CopyData", data: Uint8Array.of(0x6b, 4, 5, 6) },
          { _tag: "CopyDone" },
          FakeServer.commandComplete("START_REPLICATION"),
          FakeServer.readyForQuery()
        ]),
        FakeServer.readUntil("Sync"),
        FakeServer.send([
          ...queryHead(["x"]),
          FakeServer.dataRow(["after"]),
          FakeServer.commandComplete("SELECT 1"),
          FakeServer.readyForQuery()
        ]),
        FakeServer.waitForever
      ])
      const session = yield* connect(server)
      const results = yield* session.simple("START_REPLICATION SLOT s LOGICAL 0/0")
      assert.strictEqual(results[0]!.command, "START_REPLICATION")
      const { rows } = yield* session.query("select 'after' as x")
      assert.deepStrictEqual(rows, [{ x: "after" }])
    }))
})
