/**
 * Replication streams against a scripted server: the CopyBoth endings and the
 * malformed payloads a real server does not produce on demand.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import type * as Backend from "../../src/protocol/Backend.ts"
import * as Replication from "../../src/protocol/Replication.ts"
import * as PgReplication from "../../src/replication/PgReplication.ts"
import * as FakeServer from "../support/FakeServer.ts"
import { failureTag } from "./Support.ts"

const copyBoth: Backend.CopyBothResponse = { _tag: "CopyBothResponse", format: 0, columnFormats: [] }

const payload = (message: Replication.ReplicationMessage): Backend.CopyData => ({
  _tag: "CopyData",
  data: Result.getOrThrow(Replication.encode(message))
})

const xlog = (walStart: bigint, data: ReadonlyArray<number>) =>
  payload({ _tag: "XLogData", walStart, walEnd: walStart + 0x100n, serverTime: 0n, data: Uint8Array.from(data) })

const endOfTimeline = [
  FakeServer.rowDescription(["next_tli", "next_tli_startpos"]),
  FakeServer.dataRow(["2", "0/5000060"]),
  FakeServer.commandComplete("START_STREAMING")
]

const isQuery = (m: FakeServer.ClientMessage) => m._tag === "Query" && m.query.startsWith("START_REPLICATION")

const options = (server: FakeServer.FakeServer) => ({
  host: server.host,
  port: server.port,
  user: "postgres",
  database: "postgres",
  sslMode: "disable" as const
})

const isStatusUpdate = (reply: boolean) => (m: FakeServer.ClientMessage) => {
  if (m._tag !== "CopyData") return false
  const decoded = Replication.decode(m.data)
  return Result.isSuccess(decoded) && decoded.success._tag === "StandbyStatusUpdate" &&
    (!reply || decoded.success.written === 0x3000000n)
}

describe("PgReplication streams against a scripted server", () => {
  it.live("the end of a timeline: server CopyDone, the client's CopyDone, then the next timeline as EndOfTimeline", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.expect(isQuery),
        FakeServer.send([copyBoth, xlog(0x4000000n, [1, 2, 3]), { _tag: "CopyDone" }]),
        FakeServer.expect("CopyDone"),
        FakeServer.send([...endOfTimeline, FakeServer.readyForQuery()])
      ])
      const events = yield* Stream.runCollect(
        PgReplication.physical(options(server), { startLsn: 0x4000000n, timeline: 1 })
      )
      assert.deepStrictEqual(events.map((e) => e._tag), ["XLogData", "EndOfTimeline"])
      assert.deepStrictEqual(Array.from((events[0] as PgReplication.XLogData).data), [1, 2, 3])
      assert.deepStrictEqual(events[1], { _tag: "EndOfTimeline", nextTimeline: 2, startLsn: 0x5000060n })
      const query = (yield* server.received).find(isQuery) as Backend.BackendMessage & { query: string }
      assert.strictEqual(query.query, "START_REPLICATION PHYSICAL 0/04000000 TIMELINE 1")
      assert.deepStrictEqual(yield* server.errors, [])
    }).pipe(Effect.scoped))

  it.live("a start exactly at the end of a timeline is answered without COPY: only EndOfTimeline", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([
        FakeServer.handshake(),
        FakeServer.expect(isQuery),
        FakeServer.send([...endOfTimeline, FakeServer.readyForQuery()])
      ])
      const events = yield* Stream.runCollect(
        PgReplication.physical(options(server), { startLsn: 0x5000060n, timeline: 1 })
      )
      assert.deepStrictEqual(events, [{ _tag: "EndOfTimeline", nextTimeline: 2, startLsn: 0x5000060n }])
    }).pipe(Effect.scoped))

  it.live("malformed payloads fail the stream with a ProtocolError: a truncated XLogData, an unknown type byte", () =>
    Effect.gen(function*() {
      for (const bad of [Uint8Array.of(0x77, 0, 0, 0, 1), Uint8Array.of(0x7a, 1, 2, 3)]) {
        const server = yield* FakeServer.make([
          FakeServer.handshake(),
          FakeServer.expect(isQuery),
          FakeServer.send([copyBoth, { _tag: "CopyData", data: bad }]),
          FakeServer.waitForever
        ])
        const exit = yield* Effect.exit(Stream.runDrain(PgReplication.physical(options(server), { startLsn: 0n })))
        assert.strictEqual(failureTag(exit), "ProtocolError")
      }
    }).pipe(Effect.scoped))

  it.live("a keepalive asking for a reply is answered while the consumer is still busy with a change", () =>
    Effect.gen(function*() {
      const server = yield* FakeServer.make([
        FakeServer.handshake({ parameters: { server_version: "18.0" } }),
        FakeServer.expect(isQuery),
        FakeServer.send([
          copyBoth,
          xlog(0x2000000n, [9]),
          payload({ _tag: "PrimaryKeepaliveMessage", walEnd: 0x3000000n, serverTime: 0n, replyRequested: true })
        ]),
        FakeServer.readUntil("CopyDone"),
        FakeServer.send({ _tag: "CopyDone" }),
        FakeServer.expect("Terminate")
      ])
      const release = yield* Deferred.make<void>()
      const consumer = yield* Effect.forkScoped(Stream.runForEach(
        PgReplication.physical(options(server), { startLsn: 0x2000000n }),
        () => Deferred.await(release)
      ))
      // The default status interval is 10 s: only the keepalive's request makes the client answer now.
      yield* server.waitFor(isStatusUpdate(true))
      assert.isFalse(yield* Deferred.isDone(release), "the consumer is still blocked")
      const update = (yield* server.received).filter(isStatusUpdate(true))[0] as Backend.CopyData
      const decoded = Result.getOrThrow(Replication.decode(update.data)) as Replication.StandbyStatusUpdate
      assert.strictEqual(decoded.flushed, 0n, "nothing was acknowledged")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.interrupt(consumer)
      // Interrupted: CopyDone both ways, then Terminate; the client never reported a flush.
      yield* server.waitFor("Terminate")
      assert.isFalse((yield* server.received).some((m) => isStatusUpdate(false)(m) &&
        (Result.getOrThrow(Replication.decode((m as Backend.CopyData).data)) as Replication.StandbyStatusUpdate).flushed > 0n))
      assert.deepStrictEqual(yield* server.errors, [])
    }).pipe(Effect.scoped))
})
