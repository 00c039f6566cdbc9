import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as PgReplication from "../../src/replication/PgReplication.ts"
import type * as PgSession from "../../src/session/Session.ts"
import { servers } from "../support/Servers.ts"
import {
  eventually,
  failureTag,
  insertedIds,
  logicalFixture,
  lsn,
  optionsFor,
  pullN,
  slotRow,
  sqlSession,
  uniqueName
} from "./Support.ts"

/** A fixture on the main server, with short status intervals and a stream whose connection options may vary. */
const fixture = (session: PgSession.Session) =>
  Effect.map(logicalFixture(session, servers().main), (f) => ({
    ...f,
    stream: (options: Partial<PgReplication.LogicalOptions> = {}, connect: Partial<PgReplication.ConnectOptions> = {}) =>
      f.open({ statusIntervalMillis: 100, ...options }, connect)
  }))

describe("PgReplication.logical: the delivery promise", () => {
  it.live("unacknowledged transactions come again after a reconnect; acknowledged ones never do", () =>
    Effect.gen(function*() {
      const session = yield* sqlSession(servers().main)
      const f = yield* fixture(session)
      for (const id of [1, 2, 3]) yield* session.query(`insert into ${f.table} values ($1, 'v${id}')`, [id])

      // A consumer that "crashes" after receiving everything, before acknowledging anything.
      const first = yield* f.first(3)
      assert.deepStrictEqual(first.map(insertedIds), [[1], [2], [3]])
      for (const tx of first) {
        assert.isTrue(tx.endLsn > (tx.end as PgReplication.Commit).commitLsn, "endLsn is past the commit record's start")
        assert.strictEqual(tx.begin?._tag, "Begin")
      }
      assert.isTrue(first[0]!.endLsn < first[1]!.endLsn && first[1]!.endLsn < first[2]!.endLsn)
      assert.isTrue(yield* eventually(Effect.map(slotRow(session, f.slot), (r) => r?.active === false)))
      const before = yield* slotRow(session, f.slot)

      // Everything comes again, the same transactions at the same positions.
      const second = yield* f.first(3)
      assert.deepStrictEqual(second.map((tx) => tx.endLsn), first.map((tx) => tx.endLsn))
      assert.deepStrictEqual(second.map(insertedIds), [[1], [2], [3]])
      assert.strictEqual((yield* slotRow(session, f.slot))?.confirmed_flush_lsn, before?.confirmed_flush_lsn)

      // Acknowledge the first two through runAcked, then stop.
      const seen: Array<bigint> = []
      yield* PgReplication.runAcked(
        Stream.take(f.stream(), 6),
        (tx) => Effect.sync(() => seen.push(tx.endLsn))
      )
      assert.deepStrictEqual(seen, [first[0]!.endLsn, first[1]!.endLsn])
      assert.isTrue(yield* eventually(Effect.map(slotRow(session, f.slot), (r) => r?.active === false)))
      assert.strictEqual(lsn((yield* slotRow(session, f.slot))?.confirmed_flush_lsn), first[1]!.endLsn)

      // Only the third comes again.
      const third = yield* f.first(1)
      assert.strictEqual(third[0]!.endLsn, first[2]!.endLsn)
      assert.deepStrictEqual(insertedIds(third[0]!), [3])
    }).pipe(Effect.scoped), 60_000)

  it.live("a failing consumer acknowledges nothing: the transaction it failed on is delivered again", () =>
    Effect.gen(function*() {
      const session = yield* sqlSession(servers().main)
      const f = yield* fixture(session)
      yield* session.query(`insert into ${f.table} values (1, 'a')`)
      yield* session.query(`insert into ${f.table} values (2, 'b')`)
      const exit = yield* Effect.exit(PgReplication.runAcked(f.stream(), (tx) =>
        insertedIds(tx)[0] === 2 ? Effect.fail("consumer failed" as const) : Effect.void))
      assert.isTrue(exit._tag === "Failure")
      const again = yield* f.first(1)
      assert.deepStrictEqual(insertedIds(again[0]!), [2])
    }).pipe(Effect.scoped), 60_000)

  it.live("before ack the server sees the transaction written but not flushed; after ack, flushed and confirmed", () =>
    Effect.gen(function*() {
      const session = yield* sqlSession(servers().main)
      const f = yield* fixture(session)
      const app = uniqueName("app")
      yield* session.query(`insert into ${f.table} values (1, 'a')`)
      const txs = yield* Effect.scoped(Effect.gen(function*() {
        const pull = yield* Stream.toPull(PgReplication.transactions(f.stream({}, { applicationName: app })))
        const [tx] = yield* pull
        const positions = session.query<{ write_lsn: string | null; flush_lsn: string | null }>(
          "select write_lsn::text, flush_lsn::text from pg_stat_replication where application_name = $1",
          [app]
        )
        assert.isTrue(
          yield* eventually(Effect.map(positions, (r) => lsn(r.rows[0]?.write_lsn) >= tx!.endLsn)),
          "write_lsn reaches the received transaction"
        )
        const unacked = (yield* positions).rows[0]!
        assert.isTrue(lsn(unacked.flush_lsn) < tx!.endLsn, "flush_lsn stays behind the unacknowledged transaction")
        assert.isTrue(lsn((yield* slotRow(session, f.slot))?.confirmed_flush_lsn) < tx!.endLsn)
        yield* tx!.ack
        assert.isTrue(yield* eventually(Effect.map(positions, (r) => lsn(r.rows[0]?.flush_lsn) === tx!.endLsn)))
        assert.isTrue(
          yield* eventually(Effect.map(slotRow(session, f.slot), (r) => lsn(r?.confirmed_flush_lsn) === tx!.endLsn))
        )
        return [tx!]
      }))
      assert.strictEqual(txs.length, 1)
    }).pipe(Effect.scoped), 60_000)
})

describe("PgReplication.logical: ending the stream", () => {
  it.live("interrupting a consumer waiting for changes ends CopyBoth and leaves nothing active on the server", () =>
    Effect.gen(function*() {
      const session = yield* sqlSession(servers().main)
      const f = yield* fixture(session)
      const app = uniqueName("app")
      // Scoped: interrupted before the fixture drops the slot (dropping WAITs for the slot to be free).
      const fiber = yield* Effect.forkScoped(Stream.runDrain(f.stream({}, { applicationName: app })))
      const walsenders = Effect.map(
        session.query<{ n: number }>("select count(*)::int as n from pg_stat_replication where application_name = $1", [app]),
        (r) => r.rows[0]!.n
      )
      assert.isTrue(yield* eventually(Effect.map(walsenders, (n) => n === 1)))
      // The walsender is listed before it has acquired the slot.
      assert.isTrue(yield* eventually(Effect.map(slotRow(session, f.slot), (r) => r?.active === true)))
      yield* Fiber.interrupt(fiber)
      assert.isTrue(yield* eventually(Effect.map(walsenders, (n) => n === 0)))
      assert.isTrue(yield* eventually(Effect.map(slotRow(session, f.slot), (r) => r?.active === false)))
      // The slot is free for the next consumer at once.
      yield* session.query(`insert into ${f.table} values (7, 'x')`)
      const next = yield* f.first(1)
      assert.deepStrictEqual(insertedIds(next[0]!), [7])
    }).pipe(Effect.scoped), 60_000)

  it.live("a slot another consumer holds is SlotInUse; a missing slot is SlotNotFound", () =>
    Effect.gen(function*() {
      const session = yield* sqlSession(servers().main)
      const f = yield* fixture(session)
      const fiber = yield* Effect.forkScoped(Stream.runDrain(f.stream()))
      assert.isTrue(yield* eventually(Effect.map(slotRow(session, f.slot), (r) => r?.active === true)))
      assert.strictEqual(failureTag(yield* Effect.exit(Stream.runDrain(f.stream()))), "SlotInUse")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(
        failureTag(yield* Effect.exit(Stream.runDrain(PgReplication.logical(optionsFor(servers().main), { slot: "no_such_slot_x", publications: [f.publication] })))),
        "SlotNotFound"
      )
    }).pipe(Effect.scoped), 60_000)
})

describe("PgReplication.logical: how CopyBoth ends", () => {
  it.live("the end of the consumer is CopyDone both ways, then Terminate", () =>
    Effect.gen(function*() {
      const session = yield* sqlSession(servers().main)
      const f = yield* fixture(session)
      yield* session.query(`insert into ${f.table} values (1, 'a')`)
      const lines: Array<string> = []
      const txs = yield* Stream.runCollect(Stream.take(
        PgReplication.transactions(f.stream({}, { trace: (line) => lines.push(line) })),
        1
      ))
      assert.deepStrictEqual(insertedIds(txs[0]!), [1])
      const frames = lines.map((line) => {
        const [direction, , rest] = line.split("\t")
        return `${direction} ${(rest ?? "").split(" ")[0]}`
      })
      const clientDone = frames.indexOf("F CopyDone")
      assert.isAtLeast(clientDone, 0, "the client sent CopyDone")
      const after = frames.slice(clientDone + 1)
      assert.notInclude(after, "F CopyData", "nothing is sent after CopyDone")
      const serverDone = after.indexOf("B CopyDone")
      assert.isAtLeast(serverDone, 0, "the server answered with CopyDone")
      assert.strictEqual(frames[frames.length - 1], "F Terminate", "then Terminate, the walsender's clean exit")
    }).pipe(Effect.scoped), 60_000)
})

describe("PgReplication.logical: a connection lost mid-stream", () => {
  it.live("the walsender terminated after one transaction was acknowledged and one received: a typed failure, then only the second again", () =>
    Effect.gen(function*() {
      const session = yield* sqlSession(servers().main)
      const f = yield* fixture(session)
      const app = uniqueName("killed")
      yield* session.query(`insert into ${f.table} values (1, 'a')`)
      yield* session.query(`insert into ${f.table} values (2, 'b')`)
      const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
        const pull = yield* Stream.toPull(PgReplication.transactions(f.stream({}, { applicationName: app })))
        // Both arrive together; the second stays unacknowledged.
        const [first, second] = yield* pullN(pull, 2)
        yield* first!.ack
        assert.isTrue(
          yield* eventually(Effect.map(slotRow(session, f.slot), (r) => lsn(r?.confirmed_flush_lsn) === first!.endLsn))
        )
        assert.deepStrictEqual(insertedIds(second!), [2])
        yield* session.query("select pg_terminate_backend(pid) from pg_stat_replication where application_name = $1", [app])
        // The stream fails once the connection is gone; nothing more is delivered.
        while (true) yield* pull
      })))
      assert.include(["ServerError", "ConnectionError"], failureTag(exit))
      assert.isTrue(yield* eventually(Effect.map(slotRow(session, f.slot), (r) => r?.active === false)))
      const again = yield* f.first(1)
      assert.deepStrictEqual(insertedIds(again[0]!), [2])
    }).pipe(Effect.scoped), 60_000)
})
