/**
 * The session against a scripted server whose bytes are wrong: unexpected
 * messages (an extra ReadyForQuery, a message the state does not allow),
 * frames cut off, overrunning or oversized, and connections dropped mid-frame.
 * Each ends in a typed `PgError` within a bounded time, and the session stays
 * broken.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Backend from "../../../src/protocol/Backend.ts"
import * as PgSession from "../../../src/session/Session.ts"
import * as FakeServer from "../../support/FakeServer.ts"
import { assertBroken, connect, eventually, FAULT_MILLIS, failure, parseQueries, queryHead, TEST_MILLIS } from "./Support.ts"

const encode = (message: Backend.BackendMessage) => FakeServer.encodeAll([message])

describe("Faults: unexpected messages", () => {
  // The extra ReadyForQuery follows the handshake's (or a query's) in the byte stream with no delay: whether it
  // arrives in the same read or later, and whether `connect` has returned by then, the outcome must be the same.
  const extraReadyForQuery = (
    what: string,
    script: FakeServer.Script,
    before: (session: PgSession.Session) => Effect.Effect<void, unknown>
  ) =>
    it.live(`an extra ReadyForQuery with no request in flight ${what} breaks the session`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make(script)
        const session = yield* connect(server)
        yield* before(session)
        yield* extraReadyForQueryBroke(session, server)
      }), TEST_MILLIS)

  const extraReadyForQueryBroke = (session: PgSession.Session, server: FakeServer.FakeServer) =>
    Effect.gen(function*() {
      yield* eventually(session.isClosed, "the session to break")
      const error = yield* failure(session.query("select 1"))
      assert.strictEqual(error.reason._tag, "ProtocolDesync")
      if (error.reason._tag !== "ProtocolDesync") return
      assert.strictEqual(error.reason.messageName, "ReadyForQuery")
      assert.strictEqual(error.reason.state, "no request in flight")
      assert.match(error.message, /unexpected ReadyForQuery.*no request is in flight/)
      yield* assertBroken(session, server, "ProtocolDesync", /unexpected ReadyForQuery/)
      assert.deepStrictEqual(yield* server.errors, [])
    })

  extraReadyForQuery(
    "after the handshake",
    [FakeServer.handshake(), FakeServer.send(FakeServer.readyForQuery())],
    () => Effect.void
  )

  extraReadyForQuery(
    "after a query's answer",
    [
      FakeServer.handshake(),
      FakeServer.readUntil("Sync"),
      FakeServer.send([
        ...queryHead(["x"]),
        FakeServer.dataRow(["1"]),
        FakeServer.commandComplete("SELECT 1"),
        FakeServer.readyForQuery(),
        FakeServer.readyForQuery()
      ])
    ],
    // The query's own answer ends before the extra ReadyForQuery: it gets its row whatever breaks after it.
    (session) =>
      Effect.map(session.query("select x").pipe(Effect.timeout(FAULT_MILLIS)), ({ rows }) =>
        assert.deepStrictEqual(rows, [{ x: "1" }]))
  )

  const cases: ReadonlyArray<{
    readonly name: string
    readonly replies: ReadonlyArray<Backend.BackendMessage>
    readonly messageName: RegExp
    readonly state: string
  }> = [
    {
      name: "a DataRow with no RowDescription during an unnamed query",
      replies: [{ _tag: "ParseComplete" }, { _tag: "BindComplete" }, FakeServer.dataRow(["1"])],
      messageName: /^DataRow$/,
      state: "RowDescription"
    },
    {
      name: "a CloseComplete between ErrorResponse and ReadyForQuery",
      replies: [FakeServer.errorResponse("42P01", "relation does not exist"), { _tag: "CloseComplete" }, FakeServer.readyForQuery()],
      messageName: /^CloseComplete$/,
      state: "ReadyForQuery"
    },
    {
      name: "a BindComplete where ParseComplete was expected",
      replies: [{ _tag: "BindComplete" }],
      messageName: /^BindComplete$/,
      state: "ParseComplete"
    },
    {
      name: "a CopyData outside COPY",
      replies: [...queryHead(["x"]), { _tag: "CopyData", data: new Uint8Array([1, 2, 3]) }],
      messageName: /^CopyData$/,
      state: "Rows"
    },
    {
      name: "an Authentication request after start-up",
      replies: [...queryHead(["x"]), { _tag: "AuthenticationCleartextPassword" }],
      messageName: /^Authentication/,
      state: "Rows"
    }
  ]

  for (const c of cases) {
    it.live(`${c.name} is a ProtocolDesync naming the message and the state; the session is closed`, () =>
      Effect.gen(function*() {
        const server = yield* FakeServer.make([
          FakeServer.handshake(),
          FakeServer.readUntil("Sync"),
          FakeServer.send(c.replies),
          FakeServer.waitForever
        ])
        const session = yield* connect(server)
        const error = yield* failure(session.query("select x from t"))
        assert.strictEqual(error.reason._tag, "ProtocolDesync", error.message)
        if (error.reason._tag !== "ProtocolDesync") return
        assert.match(error.reason.messageName, c.messageName)
        assert.strictEqual(error.reason.state, c.state)
        assert.include(error.message, error.reason.messageName)
        assert.include(error.message, c.state)
        yield* assertBroken(session, server, "ProtocolDesync")
      }), TEST_MILLIS)
  }
})

describe("Faults: broken frames and connections (S27, S21)", () => {
  it.live("a frame cut off by EOF is a typed error, never a hang", () =>
    Effect.gen(function*() {
      const row = FakeServer.encodeAll([...queryHead(["x"]), FakeServer.dataRow(["a value long enough to cut"])])
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.readUntil("Sync"),
        FakeServer.sendRaw(row.subarray(0, row.length - 10)),
        FakeServer.close()
      ])
      const session = yield* connect(server)
      const error = yield* failure(session.query("select x"))
      assert.include(["ConnectionError", "ProtocolError"], error.reason._tag, error.message)
      assert.match(error.message, /closed the connection|stream ended inside a message/)
      yield* assertBroken(session, server, error.reason._tag)
    }), TEST_MILLIS)

  it.live("a DataRow whose column length runs past its frame breaks the session: the next query fails fast", () =>
    Effect.gen(function*() {
      // One column whose length says 100 bytes in a frame that holds 3 (a flipped byte in a length).
      const row = Uint8Array.of(Backend.DataRow.type, 0, 0, 0, 13, 0, 1, 0, 0, 0, 100, 0x61, 0x62, 0x63)
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.readUntil("Sync"),
        FakeServer.send(queryHead(["x"])),
        FakeServer.sendRaw(row),
        FakeServer.send([FakeServer.commandComplete("SELECT 1"), FakeServer.readyForQuery()]),
        FakeServer.waitForever
      ])
      const session = yield* connect(server)
      const error = yield* failure(session.query("select x"))
      assert.strictEqual(error.reason._tag, "ProtocolError", error.message)
      yield* assertBroken(session, server, "ProtocolError")
    }), TEST_MILLIS)

  it.live("a frame over maxMessageSize is a ProtocolError as soon as its header arrives", () =>
    Effect.gen(function*() {
      // Only the header and a few body bytes are sent: an error that waited for the body would hang here.
      const header = Uint8Array.of(Backend.DataRow.type, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00)
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.readUntil("Sync"),
        FakeServer.send(queryHead(["x"])),
        FakeServer.sendRaw(header),
        FakeServer.waitForever
      ])
      const session = yield* connect(server, { maxMessageSize: 4096 })
      const error = yield* failure(session.query("select x"))
      assert.strictEqual(error.reason._tag, "ProtocolError", error.message)
      assert.match(error.message, /'D'.*1048576.*exceeds the limit of 4096/)
      yield* assertBroken(session, server, "ProtocolError")
    }), TEST_MILLIS)

  it.live("a connection dropped mid-DataRow fails the in-flight and the queued requests", () =>
    Effect.gen(function*() {
      const row = encode(FakeServer.dataRow(["half of this row is lost"]))
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.readUntil("Sync"),
        FakeServer.readUntil("Sync"),
        FakeServer.send(queryHead(["x"])),
        FakeServer.sendRaw(row.subarray(0, row.length >> 1)),
        FakeServer.destroy()
      ])
      // Two requests in flight at most: two are written, two wait in the queue.
      const session = yield* connect(server, { maxPipelineDepth: 2 })
      const errors = yield* Effect.all(
        ["select 1", "select 2", "select 3", "select 4"].map((sql) => failure(session.query(sql))),
        { concurrency: "unbounded" }
      )
      for (const error of errors) {
        assert.strictEqual(error.reason._tag, "ConnectionError", error.message)
        assert.match(error.message, /closed the connection|ECONNRESET/)
      }
      const sent = errors.map((e) => (e.reason._tag === "ConnectionError" ? e.reason.requestSent : undefined))
      assert.deepStrictEqual(sent, [true, true, false, false])
      assert.deepStrictEqual(parseQueries(yield* server.received), ["select 1", "select 2"])
      yield* assertBroken(session, server, "ConnectionError")
    }), TEST_MILLIS)
})
