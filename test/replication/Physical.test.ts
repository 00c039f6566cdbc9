import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as PgReplication from "../../src/replication/PgReplication.ts"
import { servers } from "../support/Servers.ts"
import { eventually, failureTag, optionsFor, slotRow, sqlSession, uniqueName } from "./Support.ts"

const lsn = (text: string | null | undefined): bigint =>
  text === null || text === undefined ? 0n : Result.getOrThrow(PgReplication.parseLsn(text))

/** XLOG_PAGE_MAGIC of PostgreSQL 18's WAL page headers (xlog_internal.h). */
const XLOG_PAGE_MAGIC_18 = 0xd118
/** WAL pages are 8 kB by default. */
const XLOG_BLCKSZ = 8192

describe("PgReplication.physical", () => {
  it.live("streams contiguous WAL from a slot; ack moves the slot's restart_lsn; nothing active after the scope", () =>
    Effect.gen(function*() {
      const main = servers().main
      const session = yield* sqlSession(main)
      const slot = uniqueName("phys")
      const rs = yield* PgReplication.connect({ ...optionsFor(main), mode: "physical" })
      yield* rs.createSlot(slot, { physical: true })
      const start = (yield* rs.readSlot(slot)).restartLsn!
      const identity = yield* rs.identifySystem
      // Start at the beginning of the page, where a page header with the version's magic number is.
      const startLsn = start - (start % BigInt(XLOG_BLCKSZ))
      yield* session.query("select pg_switch_wal()")
      const sections = yield* Effect.scoped(Effect.gen(function*() {
        const pull = yield* Stream.toPull(
          PgReplication.physical({ ...optionsFor(main) }, { slot, startLsn, timeline: identity.timeline, statusIntervalMillis: 100 })
        )
        const got: Array<PgReplication.XLogData> = []
        let bytes = 0
        while (bytes < 2 * XLOG_BLCKSZ) {
          for (const event of yield* pull) {
            assert.strictEqual(event._tag, "XLogData")
            got.push(event as PgReplication.XLogData)
            bytes += (event as PgReplication.XLogData).data.length
          }
        }
        const last = got[got.length - 1]!
        yield* last.ack
        const acked = last.walStart + BigInt(last.data.length)
        assert.isTrue(
          yield* eventually(Effect.map(slotRow(session, slot), (r) => lsn(r?.restart_lsn) === acked)),
          "the slot's restart_lsn follows the acknowledged position"
        )
        return got
      }))
      assert.strictEqual(sections[0]!.walStart, startLsn)
      for (let i = 1; i < sections.length; i++) {
        const previous = sections[i - 1]!
        assert.strictEqual(sections[i]!.walStart, previous.walStart + BigInt(previous.data.length), "contiguous")
      }
      const first = sections[0]!.data
      assert.strictEqual(first[0]! | (first[1]! << 8), XLOG_PAGE_MAGIC_18, "a WAL page header")
      assert.isTrue(yield* eventually(Effect.map(slotRow(session, slot), (r) => r?.active === false)))
      yield* rs.dropSlot(slot)
    }).pipe(Effect.scoped), 60_000)

  it.live("a bad slot name, timeline or status interval is a ConfigError; streaming from a logical slot is the server's error", () =>
    Effect.gen(function*() {
      const main = servers().main
      assert.strictEqual(
        failureTag(yield* Effect.exit(Stream.runDrain(PgReplication.physical(optionsFor(main), { slot: "X", startLsn: 0n })))),
        "ConfigError"
      )
      assert.strictEqual(
        failureTag(yield* Effect.exit(Stream.runDrain(PgReplication.physical(optionsFor(main), { startLsn: 0n, timeline: 0 })))),
        "ConfigError"
      )
      assert.strictEqual(
        failureTag(yield* Effect.exit(Stream.runDrain(
          PgReplication.physical(optionsFor(main), { startLsn: 0n, statusIntervalMillis: 0 })
        ))),
        "ConfigError"
      )
      const slot = uniqueName("notphys")
      const rs = yield* PgReplication.connect(optionsFor(main))
      yield* rs.createSlot(slot, { logical: "pgoutput" })
      const identity = yield* rs.identifySystem
      const exit = yield* Effect.exit(Stream.runDrain(
        PgReplication.physical(optionsFor(main), { slot, startLsn: identity.xlogPos })
      ))
      yield* rs.dropSlot(slot, { wait: true })
      assert.strictEqual(failureTag(exit), "ServerError")
    }).pipe(Effect.scoped), 60_000)

  it.live("hot standby feedback: the slot holds the xmin the stream sends, and lets it go when the feedback stops", () =>
    Effect.gen(function*() {
      const main = servers().main
      const session = yield* sqlSession(main)
      const slot = uniqueName("hsf")
      const rs = yield* PgReplication.connect({ ...optionsFor(main), mode: "physical" })
      yield* rs.createSlot(slot, { physical: true })
      yield* Effect.addFinalizer(() => Effect.ignore(rs.dropSlot(slot, { wait: true })))
      const identity = yield* rs.identifySystem
      const full = BigInt((yield* session.query<{ x: string }>("select pg_current_xact_id()::text as x")).rows[0]!.x)
      const xmin = yield* Ref.make<PgReplication.StandbyFeedback | undefined>({ xmin: full })
      const slotXmin = Effect.map(
        session.query<{ xmin: string | null }>("select xmin::text from pg_replication_slots where slot_name = $1", [slot]),
        (r) => r.rows[0]?.xmin ?? null
      )
      assert.isNull(yield* slotXmin)
      yield* Effect.scoped(Effect.gen(function*() {
        const pull = yield* Stream.toPull(PgReplication.physical(optionsFor(main), {
          slot,
          startLsn: identity.xlogPos - (identity.xlogPos % BigInt(XLOG_BLCKSZ)),
          statusIntervalMillis: 100,
          hotStandbyFeedback: Ref.get(xmin)
        }))
        yield* pull
        const low = String(full & 0xffffffffn)
        assert.isTrue(yield* eventually(Effect.map(slotXmin, (x) => x === low)), "the slot's xmin is the feedback's")
        yield* Ref.set(xmin, undefined)
        assert.isTrue(yield* eventually(Effect.map(slotXmin, (x) => x === null)), "no feedback: no xmin held")
      }))
    }).pipe(Effect.scoped), 60_000)
})
