/**
 * What the session writes when things go wrong or slowly, as the scripted
 * server receives it: an interrupted queued query sends nothing and no
 * cancel, a completed COPY FROM writes nothing more, and a full pipeline is
 * refilled in order once half of it is answered.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as FakeServer from "../../support/FakeServer.ts"
import { connect, FAULT_MILLIS, parseQueries, queryHead, TEST_MILLIS } from "./Support.ts"

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
