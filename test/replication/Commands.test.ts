import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as PgReplication from "../../src/replication/PgReplication.ts"
import { servers } from "../support/Servers.ts"
import { failureTag, optionsFor, slotRow, sqlSession, uniqueName } from "./Support.ts"

describe("PgReplication.connect: replication commands on PostgreSQL 18", () => {
  it.live("a replication connection over protocol 2.0 is a ConfigError before anything is sent (2.0 has no replication mode)", () =>
    Effect.gen(function*() {
      // Port 1: nothing listens there, so only a refusal before connecting can give a ConfigError.
      const exit = yield* Effect.exit(PgReplication.connect({ ...optionsFor(servers().main), port: 1, maxProtocolVersion: "2.0" }))
      assert.strictEqual(failureTag(exit), "ConfigError")
      assert.match(String(exit), /protocol 3\.0 or later/)
    }).pipe(Effect.scoped))

  it.live("IDENTIFY_SYSTEM answers the cluster's identity, logical and physical, in clear and over TLS", () =>
    Effect.gen(function*() {
      const main = servers().main
      const db = yield* PgReplication.connect(optionsFor(main))
      const id = yield* db.identifySystem
      assert.match(id.systemId, /^\d+$/)
      assert.isAtLeast(id.timeline, 1)
      assert.isTrue(id.xlogPos > 0n)
      assert.strictEqual(id.dbName, "postgres")
      const physical = yield* PgReplication.connect({ ...optionsFor(main), mode: "physical" })
      const pid = yield* physical.identifySystem
      assert.strictEqual(pid.systemId, id.systemId)
      assert.isNull(pid.dbName)
      const tls = yield* PgReplication.connect({ ...optionsFor(main), sslMode: "require" })
      assert.strictEqual((yield* tls.identifySystem).systemId, id.systemId)
      // The walsenders are what pg_stat_activity says they are.
      const session = yield* sqlSession(main)
      const kinds = yield* session.query<{ backend_type: string }>(
        "select backend_type from pg_stat_activity where pid = any($1::int[])",
        [[db.processId, physical.processId]]
      )
      assert.deepStrictEqual(kinds.rows.map((r) => r.backend_type), ["walsender", "walsender"])
      assert.strictEqual(yield* db.show("wal_level"), "logical")
    }).pipe(Effect.scoped))

  it.live("slots: logical and physical, temporary or not, read, dropped; typed errors for missing and busy slots", () =>
    Effect.gen(function*() {
      const main = servers().main
      const rs = yield* PgReplication.connect(optionsFor(main))
      const session = yield* sqlSession(main)
      const logical = uniqueName("cmd_logical")
      const created = yield* rs.createSlot(logical, { logical: "pgoutput" })
      assert.strictEqual(created.slotName, logical)
      assert.strictEqual(created.outputPlugin, "pgoutput")
      assert.isTrue((created.consistentPoint ?? 0n) > 0n)
      assert.isNull(created.snapshotName)
      const row = yield* slotRow(session, logical)
      assert.isDefined(row)
      assert.isFalse(row!.active)

      const physical = uniqueName("cmd_physical")
      const p = yield* rs.createSlot(physical, { physical: true })
      assert.strictEqual(p.slotName, physical)
      // RESERVE_WAL (the default): WAL is reserved from now on.
      const info = yield* rs.readSlot(physical)
      assert.strictEqual(info.slotType, "physical")
      assert.isTrue((info.restartLsn ?? 0n) > 0n)
      assert.strictEqual(Result.getOrThrow(PgReplication.parseLsn((yield* slotRow(session, physical))!.restart_lsn!)), info.restartLsn)
      assert.strictEqual(info.restartTimeline, 1)

      assert.strictEqual(failureTag(yield* Effect.exit(rs.readSlot("no_such_slot_here"))), "SlotNotFound")
      assert.strictEqual(failureTag(yield* Effect.exit(rs.dropSlot("no_such_slot_here"))), "SlotNotFound")
      assert.strictEqual(failureTag(yield* Effect.exit(rs.createSlot(logical, { logical: "pgoutput" }))), "ServerError")
      // A name that is not a slot name never reaches the server.
      assert.strictEqual(failureTag(yield* Effect.exit(rs.createSlot("Bad; DROP", { physical: true }))), "ConfigError")

      // A temporary slot lives as long as its connection.
      const temporary = uniqueName("cmd_temp")
      yield* Effect.scoped(Effect.gen(function*() {
        const other = yield* PgReplication.connect(optionsFor(main))
        yield* other.createSlot(temporary, { logical: "pgoutput", temporary: true })
        assert.isDefined(yield* slotRow(session, temporary))
      }))
      let gone = false
      for (let i = 0; i < 100 && !gone; i++) {
        gone = (yield* slotRow(session, temporary)) === undefined
        if (!gone) yield* Effect.sleep(20)
      }
      assert.isTrue(gone, "the temporary slot was dropped with its connection")

      yield* rs.dropSlot(logical, { wait: true })
      yield* rs.dropSlot(physical)
      assert.isUndefined(yield* slotRow(session, logical))
      assert.isUndefined(yield* slotRow(session, physical))
    }).pipe(Effect.scoped))

  it.live("two-phase and failover slots, and ALTER_REPLICATION_SLOT", () =>
    Effect.gen(function*() {
      const main = servers().main
      const rs = yield* PgReplication.connect(optionsFor(main))
      const session = yield* sqlSession(main)
      const name = uniqueName("cmd_2pc")
      yield* rs.createSlot(name, { logical: "pgoutput", twoPhase: true, failover: true })
      const flags = (yield* session.query<{ two_phase: boolean; failover: boolean }>(
        "select two_phase, failover from pg_replication_slots where slot_name = $1",
        [name]
      )).rows[0]!
      assert.deepStrictEqual(flags, { two_phase: true, failover: true })
      yield* rs.alterSlot(name, { failover: false })
      const after = (yield* session.query<{ failover: boolean }>(
        "select failover from pg_replication_slots where slot_name = $1",
        [name]
      )).rows[0]!
      assert.isFalse(after.failover)
      yield* rs.dropSlot(name)
    }).pipe(Effect.scoped))

  it.live("TIMELINE_HISTORY of a timeline without history is the server's error; the parser reads history files", () =>
    Effect.gen(function*() {
      const rs = yield* PgReplication.connect({ ...optionsFor(servers().main), mode: "physical" })
      // Timeline 1 has no history file.
      assert.strictEqual(failureTag(yield* Effect.exit(rs.timelineHistory(1))), "ServerError")
      const parsed = PgReplication.parseTimelineHistory("1\t0/3000000\tno recovery target specified\n\n# comment\n2\t1/A0\tbefore x\n")
      assert.isTrue(Result.isSuccess(parsed))
      assert.deepStrictEqual(Result.getOrThrow(parsed), [
        { timeline: 1, switchPoint: 0x3000000n, reason: "no recovery target specified" },
        { timeline: 2, switchPoint: (1n << 32n) | 0xa0n, reason: "before x" }
      ])
      assert.isTrue(Result.isFailure(PgReplication.parseTimelineHistory("x\t0/1\n")))
    }).pipe(Effect.scoped))
})

describe("PgReplication.connect: PostgreSQL 13", () => {
  it.live("physical slots use the older syntax; what 13 lacks is UnsupportedOption before anything is sent", () =>
    Effect.gen(function*() {
      const pg13 = servers().pg13
      const rs = yield* PgReplication.connect({ ...optionsFor(pg13), mode: "physical" })
      assert.strictEqual(rs.majorVersion, 13)
      const id = yield* rs.identifySystem
      assert.isTrue(id.xlogPos > 0n)
      const name = uniqueName("cmd13")
      const created = yield* rs.createSlot(name, { physical: true, temporary: true })
      assert.strictEqual(created.slotName, name)
      const session = yield* sqlSession(pg13)
      const row = yield* slotRow(session, name)
      assert.isTrue(row !== undefined && row.restart_lsn !== null, "RESERVE_WAL reserved WAL at once")
      assert.strictEqual(failureTag(yield* Effect.exit(rs.readSlot(name))), "UnsupportedOption")
      assert.strictEqual(failureTag(yield* Effect.exit(rs.alterSlot(name, { failover: true }))), "UnsupportedOption")
      const db = yield* PgReplication.connect(optionsFor(pg13))
      assert.strictEqual(
        failureTag(yield* Effect.exit(db.createSlot(uniqueName("x"), { logical: "pgoutput", twoPhase: true }))),
        "UnsupportedOption"
      )
      yield* rs.dropSlot(name)
      assert.isUndefined(yield* slotRow(session, name))
    }).pipe(Effect.scoped))
})
