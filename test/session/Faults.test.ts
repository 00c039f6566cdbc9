/**
 * The session against a scripted server that misbehaves (truncated, oversized
 * and unexpected messages, FATAL errors, asynchronous messages anywhere,
 * dropped connections, start-up stalls): every fault ends in a typed `PgError`
 * within a bounded time, nothing hangs, and a broken session stays broken.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { PgError } from "../../src/errors/PgError.ts"
import * as Backend from "../../src/protocol/Backend.ts"
import type * as Frontend from "../../src/protocol/Frontend.ts"
import * as PgSession from "../../src/session/Session.ts"
import * as FakeServer from "../support/FakeServer.ts"

/**
 * "It must not hang": the longest any fault below may take to surface (the hard-cancel tests have their own bound).
 * A generous bound, not a measure: on a loaded machine a fake server's answer can take a second.
 */
const FAULT_MILLIS = 5_000
/** Per-test limit, below vitest's 30 s. */
const TEST_MILLIS = 20_000
/** The hard-cancel tests wait out the session's drain timeout. */
const HARD_CANCEL_TEST_MILLIS = PgSession.DRAIN_TIMEOUT_MILLIS + 15_000

const connect = (server: FakeServer.FakeServer, options: Partial<PgSession.SessionOptions> = {}) =>
  PgSession.connect({
    host: server.host,
    port: server.port,
    user: "postgres",
    // In clear from the first byte: the socket lends its reads, the path where framing works in a reused buffer.
    sslMode: "disable",
    // Unnamed statements: one Parse/Bind/Describe/Execute/Sync per query, so scripts answer one request per query.
    statementCacheSize: 0,
    connectTimeout: FAULT_MILLIS,
    ...options
  })

/** Runs `effect`, expecting a failure within `millis`; returns the PgError. A hang or a success fails the test. */
const failure = <A>(effect: Effect.Effect<A, PgError, any>, millis = FAULT_MILLIS) =>
  effect.pipe(
    Effect.flip,
    Effect.timeoutOrElse({
      duration: millis,
      orElse: () => Effect.die(new Error(`no error within ${millis} ms`))
    })
  )

/** Polls `check` until it holds, at most `millis`. */
const eventually = (check: Effect.Effect<boolean>, what: string, millis = FAULT_MILLIS) =>
  Effect.gen(function*() {
    const deadline = Date.now() + millis
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep(5)
    }
  })

/** The replies of an unnamed extended query up to its rows, for scripts that go wrong after them. */
const queryHead = (columns: ReadonlyArray<string>): ReadonlyArray<Backend.BackendMessage> => [
  { _tag: "ParseComplete" },
  { _tag: "BindComplete" },
  FakeServer.rowDescription(columns)
]

const parseQueries = (received: ReadonlyArray<FakeServer.ClientMessage>) =>
  received.filter((m): m is Frontend.Parse => m._tag === "Parse").map((m) => m.query)

const encode = (message: Backend.BackendMessage) => FakeServer.encodeAll([message])

/**
 * The session broke: it says so, later requests fail fast with the same reason, and its socket is gone. "Fast" is
 * checked by what happened, not by the clock: the later request fails without a byte written or a connection opened.
 */
const assertBroken = (
  session: PgSession.Session,
  server: FakeServer.FakeServer,
  reasonTag: PgError["reason"]["_tag"],
  message?: RegExp
) =>
  Effect.gen(function*() {
    yield* eventually(session.isClosed, "the session to close")
    // A Terminate may still go out as the socket closes; nothing else may follow the break.
    const sent = Effect.map(server.received, (messages) => messages.filter((m) => m._tag !== "Terminate").length)
    const sentBefore = yield* sent
    const connectionsBefore = yield* server.connections
    const later = yield* failure(session.query("select 'later'"))
    assert.strictEqual(later.reason._tag, reasonTag)
    if (message !== undefined) assert.match(later.message, message)
    assert.strictEqual(yield* sent, sentBefore, "the later request was written")
    assert.strictEqual(yield* server.connections, connectionsBefore, "the later request opened a connection")
    yield* eventually(Effect.map(server.open, (n) => n === 0), "the client to close its socket")
  })

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

describe("Faults: what the server receives (S3, S31)", () => {
  it.live("a query interrupted before it was written sends nothing, and no cancel", () =>
    Effect.gen(function*() {
      const answer = (value: string) => [...queryHead(["x"]), FakeServer.dataRow([value]), FakeServer.commandComplete("SELECT 1"), FakeServer.readyForQuery()]
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.readUntil("Sync"),
        FakeServer.delay(1_000),
        FakeServer.send(answer("first")),
        FakeServer.readUntil("Sync"),
        FakeServer.send(answer("third")),
        FakeServer.waitForever
      ])
      // One request in flight at most: the second query waits in the queue while the first runs.
      const session = yield* connect(server, { maxPipelineDepth: 1 })
      let firstAnswered = false
      const first = yield* Effect.forkChild(
        session.query("select 'first'").pipe(Effect.ensuring(Effect.sync(() => {
          firstAnswered = true
        })))
      )
      yield* server.waitFor("Sync")
      const second = yield* Effect.forkChild(session.query("select 'second'"))
      yield* Effect.sleep(20)
      yield* Fiber.interrupt(second)
      // The interrupt did not wait for the request ahead of it (answered a second after its Sync).
      assert.isFalse(firstAnswered, "interrupting the queued request waited for the first")
      const firstResult = yield* Fiber.join(first).pipe(Effect.timeout(FAULT_MILLIS))
      assert.deepStrictEqual(firstResult.rows, [{ x: "first" }])
      const third = yield* session.query("select 'third'").pipe(Effect.timeout(FAULT_MILLIS))
      assert.deepStrictEqual(third.rows, [{ x: "third" }])
      assert.deepStrictEqual(parseQueries(yield* server.received), ["select 'first'", "select 'third'"])
      assert.deepStrictEqual(yield* server.cancelRequests, [])
      assert.isFalse(yield* session.isClosed)
    }), TEST_MILLIS)

  it.live("a COPY FROM that completed writes nothing more: no CopyData, CopyDone or CopyFail after CommandComplete", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.respond("Query", () => [{ _tag: "CopyInResponse", format: 0, columnFormats: [0] }]),
        FakeServer.readUntil("CopyDone"),
        FakeServer.send([FakeServer.commandComplete("COPY 2"), FakeServer.readyForQuery()]),
        // Strict: a stray CopyFail or CopyDone here is recorded as an error.
        FakeServer.respond("Query", () => [
          FakeServer.rowDescription(["x"]),
          FakeServer.dataRow(["after"]),
          FakeServer.commandComplete("SELECT 1"),
          FakeServer.readyForQuery()
        ]),
        FakeServer.waitForever
      ])
      const session = yield* connect(server)
      const encoder = new TextEncoder()
      const sink = session.copyFrom("copy t from stdin")
      const result = yield* Stream.make(encoder.encode("1\n"), encoder.encode("2\n")).pipe(
        Stream.run(sink),
        Effect.timeout(FAULT_MILLIS)
      )
      assert.strictEqual(result.rowCount, 2)
      // Let any finalizer that would write late do so before looking.
      yield* Effect.sleep(50)
      const after = yield* session.simple("select 'after'").pipe(Effect.timeout(FAULT_MILLIS))
      assert.deepStrictEqual(after[0]!.rows, [{ x: "after" }])
      const tags = (yield* server.received).map((m) => m._tag)
      assert.deepStrictEqual(tags, ["StartupMessage", "Query", "CopyData", "CopyData", "CopyDone", "Query"])
      assert.deepStrictEqual(yield* server.errors, [])
    }), TEST_MILLIS)
})

describe("Faults: a slow server and a full pipeline", () => {
  it.live("a full pipeline is refilled once half of it is answered, in order", () =>
    Effect.gen(function*() {
      const answer = (value: string) => [
        ...queryHead(["x"]),
        FakeServer.dataRow([value]),
        FakeServer.commandComplete("SELECT 1"),
        FakeServer.readyForQuery()
      ]
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.readUntil("Sync"),
        FakeServer.readUntil("Sync"),
        FakeServer.readUntil("Sync"),
        FakeServer.readUntil("Sync"),
        FakeServer.send(answer("1")),
        FakeServer.delay(300),
        FakeServer.send(answer("2")),
        FakeServer.readUntil("Sync"),
        FakeServer.readUntil("Sync"),
        FakeServer.send([...answer("3"), ...answer("4"), ...answer("5"), ...answer("6")]),
        FakeServer.waitForever
      ])
      const session = yield* connect(server, { maxPipelineDepth: 4 })
      const fibers = yield* Effect.forEach(
        ["1", "2", "3", "4", "5", "6"],
        (n) => Effect.forkChild(session.query(`select '${n}'`)),
      )
      const syncs = Effect.map(server.received, (received) => received.filter((m) => m._tag === "Sync").length)
      const first = yield* Fiber.join(fibers[0]!).pipe(Effect.timeout(FAULT_MILLIS))
      assert.deepStrictEqual(first.rows, [{ x: "1" }])
      // Three still in flight, above half of the depth: the two queued queries wait.
      yield* Effect.sleep(100)
      assert.strictEqual(yield* syncs, 4)
      // The second answer leaves two in flight: both queued queries go out.
      const rows = yield* Effect.forEach(fibers.slice(1), (f) => Fiber.join(f)).pipe(Effect.timeout(FAULT_MILLIS))
      assert.deepStrictEqual(rows.map((r) => r.rows), [[{ x: "2" }], [{ x: "3" }], [{ x: "4" }], [{ x: "5" }], [{ x: "6" }]])
      assert.deepStrictEqual(parseQueries(yield* server.received), ["1", "2", "3", "4", "5", "6"].map((n) => `select '${n}'`))
      assert.deepStrictEqual(yield* server.errors, [])
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
