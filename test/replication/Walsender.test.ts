/**
 * Replication against a server of its own, with the settings these behaviours
 * need: a short `wal_sender_timeout`, prepared transactions, and the smallest
 * `logical_decoding_work_mem` (so transactions are streamed at small sizes).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as PgReplication from "../../src/replication/PgReplication.ts"
import * as PgSession from "../../src/session/Session.ts"
import { TestServer } from "../support/EmbeddedPostgres.ts"
import type { ServerInfo } from "../support/Servers.ts"
import { eventually, failureTag, insertedIds as ids, logicalFixture, lsn, optionsFor, slotRow, uniqueName } from "./Support.ts"

/** The walsender gives up on a client that has not replied for this long. */
const WAL_SENDER_TIMEOUT_SECONDS = 2

const server = TestServer.layer({
  name: "replication",
  settings: {
    wal_level: "logical",
    max_wal_senders: 10,
    max_replication_slots: 10,
    max_prepared_transactions: 10,
    wal_sender_timeout: `${WAL_SENDER_TIMEOUT_SECONDS}s`,
    logical_decoding_work_mem: "64kB"
  }
})

const setup = (info: ServerInfo, options: { readonly twoPhase?: boolean } = {}) =>
  Effect.gen(function*() {
    const session = yield* PgSession.connect(optionsFor(info))
    const f = yield* logicalFixture(session, info, "id int primary key, v text", options)
    return { ...f, session }
  })

describe("PgReplication.logical on a server with wal_sender_timeout=2s", () => {
  it.layer(server, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("a consumer busy for 3x wal_sender_timeout keeps its walsender: keepalives are answered meanwhile", () =>
      Effect.gen(function*() {
        const info = yield* TestServer
        const f = yield* setup(info)
        const app = uniqueName("slow")
        yield* f.session.query(`insert into ${f.table} values (1, 'a')`)
        yield* f.session.query(`insert into ${f.table} values (2, 'b')`)
        const pids: Array<number> = []
        const walsender = Effect.map(
          f.session.query<{ pid: number }>("select pid from pg_stat_replication where application_name = $1", [app]),
          (r) => r.rows[0]?.pid ?? 0
        )
        const seen: Array<unknown> = []
        // The default status interval (10 s) is far beyond the timeout: only the answers to the
        // walsender's reply-requested keepalives keep the connection alive.
        yield* PgReplication.runAcked(
          Stream.take(f.open({}, { applicationName: app }), 6),
          (tx) =>
            Effect.gen(function*() {
              pids.push(yield* walsender)
              seen.push(...ids(tx))
              if (seen.length === 1) yield* Effect.sleep(`${3 * WAL_SENDER_TIMEOUT_SECONDS} seconds`)
            })
        )
        assert.deepStrictEqual(seen, [1, 2])
        assert.strictEqual(pids.length, 2)
        assert.isTrue(pids[0]! > 0)
        assert.strictEqual(pids[1], pids[0], "the same walsender served both transactions")
      }).pipe(Effect.scoped), 60_000)

    it.effect("an idle slot advances to keepalive positions, but never past a received unacknowledged transaction", () =>
      Effect.gen(function*() {
        const info = yield* TestServer
        const f = yield* setup(info)
        const other = uniqueName("churn")
        yield* f.session.query(`create table ${other} (id int, v text)`)
        // Commits flushed at once, so the flush position says where the unrelated WAL starts.
        yield* f.session.query("set synchronous_commit = on")
        const app = uniqueName("idle")
        // Unpublished WAL; returns the flush position from before it (REPLICATION.md 2.B): the walsender decodes
        // past it for sure, while the position after it may fall inside a record not yet complete.
        const churn = Effect.gen(function*() {
          const before = lsn((yield* f.session.query<{ l: string }>("select pg_current_wal_flush_lsn()::text as l")).rows[0]!.l)
          yield* f.session.query(`insert into ${other} select g, repeat('x', 200) from generate_series(1, 2000) g`)
          return before
        })
        const confirmed = Effect.map(slotRow(f.session, f.slot), (r) => lsn(r?.confirmed_flush_lsn))
        const written = Effect.map(
          f.session.query<{ write_lsn: string | null }>(
            "select write_lsn::text from pg_stat_replication where application_name = $1",
            [app]
          ),
          (r) => lsn(r.rows[0]?.write_lsn)
        )
        yield* Effect.scoped(Effect.gen(function*() {
          const pull = yield* Stream.toPull(PgReplication.transactions(
            f.open({ statusIntervalMillis: 100 }, { applicationName: app })
          ))
          // The stream runs once the first transaction is pulled; acknowledged, nothing is left unacknowledged.
          yield* f.session.query(`insert into ${f.table} values (1, 'a')`)
          const [first] = yield* pull
          yield* first!.ack
          // Nothing published happens: the slot follows the server's WAL past the acknowledged transaction.
          const target = yield* churn
          assert.isTrue(
            yield* eventually(Effect.map(confirmed, (c) => c >= target && c > first!.endLsn), 400),
            "confirmed_flush_lsn moves past the acknowledged transaction and the start of the unrelated WAL"
          )
          // A published transaction is received and not acknowledged: unrelated WAL no longer moves the slot.
          yield* f.session.query(`insert into ${f.table} values (2, 'b')`)
          const [second] = yield* pull
          const after = yield* churn
          assert.isTrue(
            yield* eventually(Effect.map(written, (w) => w >= after && w > second!.endLsn), 400),
            "keepalives past the transaction were received (and answered)"
          )
          assert.isTrue((yield* confirmed) < second!.endLsn, "the slot stays before the unacknowledged transaction")
          yield* second!.ack
          const last = yield* churn
          assert.isTrue(
            yield* eventually(Effect.map(confirmed, (c) => c >= last && c > second!.endLsn), 400),
            "acknowledged, the slot follows the server's WAL again"
          )
        }))
      }).pipe(Effect.scoped), 60_000)

    it.effect("two-phase: Prepare then CommitPrepared/RollbackPrepared; an acknowledged Prepare is not sent again", () =>
      Effect.gen(function*() {
        const info = yield* TestServer
        const f = yield* setup(info, { twoPhase: true })
        const gid = uniqueName("g")
        yield* f.session.simple(`begin; insert into ${f.table} values (1, 'p'); prepare transaction '${gid}'`)
        const first = yield* Stream.runCollect(Stream.take(PgReplication.transactions(f.open({ twoPhase: true })), 1))
        assert.strictEqual(first[0]!.end._tag, "Prepare")
        assert.strictEqual(first[0]!.begin?._tag, "BeginPrepare")
        assert.deepStrictEqual(ids(first[0]!), [1])
        assert.strictEqual((first[0]!.end as PgReplication.Prepare).gid, gid)
        // Acknowledge the Prepare, then commit it: only CommitPrepared comes.
        yield* PgReplication.runAcked(Stream.take(f.open({ twoPhase: true }), 3), () => Effect.void)
        yield* f.session.query(`commit prepared '${gid}'`)
        yield* Effect.scoped(Effect.gen(function*() {
          const pull = yield* Stream.toPull(PgReplication.transactions(f.open({ twoPhase: true })))
          const [committed] = yield* pull
          assert.strictEqual(committed!.end._tag, "CommitPrepared")
          assert.strictEqual((committed!.end as PgReplication.CommitPrepared).gid, gid)
          assert.isUndefined(committed!.begin)
          const gid2 = uniqueName("g")
          yield* f.session.simple(`begin; insert into ${f.table} values (2, 'q'); prepare transaction '${gid2}'`)
          const [prepared] = yield* pull
          assert.strictEqual(prepared!.end._tag, "Prepare")
          assert.deepStrictEqual(ids(prepared!), [2])
          yield* f.session.query(`rollback prepared '${gid2}'`)
          const [rolledBack] = yield* pull
          assert.strictEqual(rolledBack!.end._tag, "RollbackPrepared")
          assert.strictEqual((rolledBack!.end as PgReplication.RollbackPrepared).gid, gid2)
          assert.strictEqual(
            (rolledBack!.end as PgReplication.RollbackPrepared).prepareEndLsn,
            prepared!.endLsn
          )
        }))
      }).pipe(Effect.scoped), 60_000)

    it.effect("streamed transactions (larger than logical_decoding_work_mem) arrive whole once committed; aborted ones never", () =>
      Effect.gen(function*() {
        const info = yield* TestServer
        const f = yield* setup(info)
        const rows = 3000
        yield* f.session.simple(
          `begin; insert into ${f.table} select g, repeat('y', 100) from generate_series(1, ${rows}) g; rollback`
        )
        yield* f.session.query(
          `insert into ${f.table} select g, repeat('z', 100) from generate_series(1, ${rows}) g`
        )
        yield* f.session.query(`insert into ${f.table} values (-1, 'marker')`)
        for (const streaming of ["on", "off"] as const) {
          const txs = yield* Stream.runCollect(Stream.take(PgReplication.transactions(f.open({ streaming })), 2))
          assert.strictEqual(ids(txs[0]!).length, rows, `streaming ${streaming}`)
          assert.deepStrictEqual(ids(txs[0]!).slice(0, 3), [1, 2, 3])
          assert.strictEqual(txs[0]!.changes.find((c) => c._tag === "Insert" && c.new["v"] !== "z".repeat(100)), undefined)
          assert.deepStrictEqual(ids(txs[1]!), [-1])
        }
        // What a stream holds until a commit is bounded: past the limit, a typed failure and nothing acknowledged.
        const exit = yield* Effect.exit(f.first(1, { streaming: "on", maxHeldBytes: 100_000 }))
        assert.strictEqual(failureTag(exit), "TransactionTooLarge")
        const again = yield* f.first(1, { streaming: "on" })
        assert.strictEqual(ids(again[0]!).length, rows)
        const stats = yield* f.session.query<{ stream_txns: string }>(
          "select stream_txns::text from pg_stat_replication_slots where slot_name = $1",
          [f.slot]
        )
        assert.isTrue(Number(stats.rows[0]?.stream_txns ?? 0) > 0, "the server streamed the transactions")
      }).pipe(Effect.scoped), 60_000)
  })
})
