/**
 * What the fault suites share: the session against a scripted fake server,
 * the bounds within which a fault must surface, waiting for a failure or a
 * condition without hanging, the head of an unnamed query's answer, and the
 * check that a broken session stays broken.
 */
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { PgError } from "../../../src/errors/PgError.ts"
import type * as Backend from "../../../src/protocol/Backend.ts"
import type * as Frontend from "../../../src/protocol/Frontend.ts"
import * as PgSession from "../../../src/session/Session.ts"
import * as FakeServer from "../../support/FakeServer.ts"

/**
 * "It must not hang": the longest any fault may take to surface (the hard-cancel tests have their own bound).
 * A generous bound, not a measure: on a loaded machine a fake server's answer can take a second.
 */
export const FAULT_MILLIS = 5_000
/** Per-test limit, below vitest's 30 s. */
export const TEST_MILLIS = 20_000

export const connect = (server: FakeServer.FakeServer, options: Partial<PgSession.SessionOptions> = {}) =>
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
export const failure = <A>(effect: Effect.Effect<A, PgError, any>, millis = FAULT_MILLIS) =>
  effect.pipe(
    Effect.flip,
    Effect.timeoutOrElse({
      duration: millis,
      orElse: () => Effect.die(new Error(`no error within ${millis} ms`))
    })
  )

/** Polls `check` until it holds, at most `millis`. */
export const eventually = (check: Effect.Effect<boolean>, what: string, millis = FAULT_MILLIS) =>
  Effect.gen(function*() {
    const deadline = Date.now() + millis
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep(5)
    }
  })

/** The replies of an unnamed extended query up to its rows, for scripts that go wrong after them. */
export const queryHead = (columns: ReadonlyArray<string>): ReadonlyArray<Backend.BackendMessage> => [
  { _tag: "ParseComplete" },
  { _tag: "BindComplete" },
  FakeServer.rowDescription(columns)
]

export const parseQueries = (received: ReadonlyArray<FakeServer.ClientMessage>) =>
  received.filter((m): m is Frontend.Parse => m._tag === "Parse").map((m) => m.query)

/**
 * The session broke: it says so, later requests fail fast with the same reason, and its socket is gone. "Fast" is
 * checked by what happened, not by the clock: the later request fails without a byte written or a connection opened.
 */
export const assertBroken = (
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
