/**
 * Streamed in-progress transactions held past the memory bound: spilled to a
 * file, replayed whole once committed, dropped when aborted (with the DDL
 * they carried), on a server of its own with the smallest
 * `logical_decoding_work_mem` so transactions are streamed at small sizes.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as PgReplication from "../../src/replication/PgReplication.ts"
import * as PgSession from "../../src/session/Session.ts"
import { TestServer } from "../support/EmbeddedPostgres.ts"
import { failureTag, insertedIds as ids, logicalFixture, lsn, optionsFor } from "./Support.ts"

const server = TestServer.layer({
  name: "replication-spill",
  settings: {
    wal_level: "logical",
    max_wal_senders: 10,
    max_replication_slots: 10,
    logical_decoding_work_mem: "64kB"
  }
})

/** Rows of the streamed transactions (about 100 bytes each: some 400 kB, streamed in several chunks). */
const ROWS = 3000
/** Held in memory before spilling, in these tests: a fraction of one transaction. */
const MEMORY_BYTES = 50_000

/** A directory of the test's own for spill files, removed with the Scope. */
const spillDirectory = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "spill-test-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Every file under `dir` (the stream makes one directory of its own inside it). */
const filesUnder = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name)

describe("PgReplication.logical: streamed transactions spilled to disk", () => {
  it.layer(server, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("a transaction past the memory bound is spilled, then delivered whole without its rolled-back savepoint; an aborted one (with DDL) never", () =>
      Effect.gen(function*() {
        const info = yield* TestServer
        const session = yield* PgSession.connect(optionsFor(info))
        const f = yield* logicalFixture(session, info)
        const dir = yield* spillDirectory
        // Committed, streamed: ROWS rows, a savepoint of 1000 rows rolled back, one more row.
        yield* session.simple(
          `begin; insert into ${f.table} select g, repeat('z', 100) from generate_series(1, ${ROWS}) g; ` +
            `savepoint s; insert into ${f.table} select g, repeat('s', 100) from generate_series(100001, 101000) g; ` +
            `rollback to savepoint s; insert into ${f.table} values (0, 'last'); commit`
        )
        // Aborted, streamed, with a schema change inside: later changes keep the old shape.
        yield* session.simple(
          `begin; alter table ${f.table} add column extra int default 1; ` +
            `insert into ${f.table} select g, repeat('y', 100) from generate_series(200001, ${200000 + ROWS}) g; rollback`
        )
        yield* session.query(`insert into ${f.table} values (-1, 'marker')`)

        const options = { streaming: "on" as const, spill: { memoryBytes: MEMORY_BYTES, directory: dir } }
        yield* Effect.scoped(Effect.gen(function*() {
          const pull = yield* Stream.toPull(f.open(options))
          const first = yield* pull
          assert.strictEqual(first[0]!._tag, "Begin")
          assert.isTrue(filesUnder(dir).length >= 1, "the transaction was spilled to a file while it streamed")
          // Delivered a batch at a time while it is read back.
          assert.isTrue(first.length <= PgReplication.REPLAY_BATCH_CHANGES + 1, `one batch (${first.length} changes)`)
          const changes = [...first]
          while (changes.filter((c) => c._tag === "Commit").length < 2) changes.push(...(yield* pull))
          const inserted = changes.flatMap((c) => (c._tag === "Insert" ? [c.new["id"] as number] : []))
          assert.strictEqual(inserted.length, ROWS + 2)
          assert.deepStrictEqual(inserted.slice(0, 3), [1, 2, 3])
          assert.deepStrictEqual(inserted.slice(-2), [0, -1])
          assert.isFalse(inserted.some((id) => id > 100000), "nothing of the rolled-back savepoint or the aborted transaction")
          assert.isUndefined(changes.find((c) => c._tag === "RelationChanged"), "the aborted ADD COLUMN left no trace")
          const marker = changes.find((c) => c._tag === "Insert" && c.new["id"] === -1)
          assert.deepStrictEqual(Object.keys((marker as PgReplication.Insert).new), ["id", "v"])
          assert.deepStrictEqual(filesUnder(dir), [], "the file is removed once its transaction is delivered")
        }))
        assert.deepStrictEqual(Fs.readdirSync(dir), [], "the stream's spill directory is removed when it ends")

        // Streaming off gives the same transactions (the server holds them instead).
        const off = yield* Stream.runCollect(Stream.take(PgReplication.transactions(f.open({ streaming: "off" })), 2))
        assert.deepStrictEqual(off.map((tx) => ids(tx).length), [ROWS + 1, 1])
      }).pipe(Effect.scoped), 60_000)

    it.effect("a stream ended in the middle of a spilled transaction leaves no file; limits fail typed", () =>
      Effect.gen(function*() {
        const info = yield* TestServer
        const session = yield* PgSession.connect(optionsFor(info))
        const f = yield* logicalFixture(session, info)
        const dir = yield* spillDirectory
        yield* session.query(`insert into ${f.table} select g, repeat('z', 100) from generate_series(1, ${ROWS}) g`)
        const options = { streaming: "on" as const, spill: { memoryBytes: MEMORY_BYTES, directory: dir } }
        const taken = yield* Stream.runCollect(Stream.take(f.open(options), 10))
        assert.strictEqual(taken[0]!._tag, "Begin")
        assert.deepStrictEqual(Fs.readdirSync(dir), [], "nothing left behind by a consumer that stopped early")
        // Without spilling, past the memory bound; with spilling, past maxHeldBytes; a directory that is not there.
        const noSpill = yield* Effect.exit(f.first(1, { streaming: "on", spill: false, maxHeldBytes: 100_000 }))
        assert.strictEqual(failureTag(noSpill), "TransactionTooLarge")
        const capped = yield* Effect.exit(f.first(1, { ...options, maxHeldBytes: 100_000 }))
        assert.strictEqual(failureTag(capped), "TransactionTooLarge")
        const missing = yield* Effect.exit(
          f.first(1, { streaming: "on", spill: { memoryBytes: MEMORY_BYTES, directory: Path.join(dir, "missing") } })
        )
        assert.strictEqual(failureTag(missing), "SpillFailed")
        const badBound = yield* Effect.exit(f.first(1, { streaming: "on", spill: { memoryBytes: 0 } }))
        assert.strictEqual(failureTag(badBound), "ConfigError")
        // Nothing was acknowledged by any of them: the transaction comes whole.
        const again = yield* f.first(1, options)
        assert.strictEqual(ids(again[0]!).length, ROWS)
      }).pipe(Effect.scoped), 60_000)

    it.effect("delivery inProgress: chunks as they stream, then StreamAbort or a StreamCommit whose ack moves the slot", () =>
      Effect.gen(function*() {
        const info = yield* TestServer
        const session = yield* PgSession.connect(optionsFor(info))
        const f = yield* logicalFixture(session, info)
        // A transaction already aborted when it is decoded is never streamed (the server checks first): this one
        // is streamed live, then rolled back.
        const changes: Array<PgReplication.Change> = []
        yield* Effect.scoped(Effect.gen(function*() {
          const pull = yield* Stream.toPull(f.open({ streaming: "on", delivery: "inProgress" }))
          const until = (done: (c: PgReplication.Change) => boolean) =>
            Effect.gen(function*() {
              for (;;) {
                const chunk = yield* pull
                changes.push(...chunk)
                if (chunk.some(done)) return
              }
            })
          const other = yield* PgSession.connect(optionsFor(info))
          yield* other.simple("begin")
          yield* other.query(`insert into ${f.table} select g, repeat('y', 100) from generate_series(1, ${ROWS}) g`)
          yield* until((c) => c._tag === "StreamStop")
          yield* other.simple("rollback")
          yield* session.query(`insert into ${f.table} select g, repeat('z', 100) from generate_series(1, ${ROWS}) g`)
          yield* until((c) => c._tag === "StreamCommit")
        }))
        const abort = changes.find((c) => c._tag === "StreamAbort") as PgReplication.StreamAbort | undefined
        const commit = changes.at(-1) as PgReplication.StreamCommit
        assert.isDefined(abort, "the rolled-back transaction was streamed, then aborted")
        assert.strictEqual(abort!.xid, abort!.subXid)
        assert.strictEqual(commit._tag, "StreamCommit")
        const starts = changes.filter((c) => c._tag === "StreamStart") as Array<PgReplication.StreamStart>
        assert.isTrue(starts.some((s) => s.xid === abort!.xid) && starts.some((s) => s.xid === commit.xid))
        assert.strictEqual(changes.filter((c) => c._tag === "StreamStop").length, starts.length, "each chunk is closed")
        // The raw chunks hold the committed transaction's rows and what was streamed of the aborted one.
        const inserted = changes.filter((c) => c._tag === "Insert").length
        assert.isTrue(inserted > ROWS && inserted <= 2 * ROWS, `${inserted} inserts`)
        // Nothing was acknowledged; acknowledging the StreamCommit moves the slot to its end.
        const again = yield* Effect.scoped(Effect.gen(function*() {
          const pull = yield* Stream.toPull(f.open({ streaming: "on", delivery: "inProgress", statusIntervalMillis: 100 }))
          for (;;) {
            const end = (yield* pull).find((c) => c._tag === "StreamCommit") as PgReplication.StreamCommit | undefined
            if (end !== undefined) {
              yield* end.ack
              return end
            }
          }
        }))
        assert.strictEqual(again.endLsn, commit.endLsn, "delivered again: nothing had been acknowledged")
        const confirmed = yield* Effect.map(
          session.query<{ c: string }>("select confirmed_flush_lsn::text as c from pg_replication_slots where slot_name = $1", [f.slot]),
          (r) => lsn(r.rows[0]?.c)
        )
        assert.strictEqual(confirmed, commit.endLsn)
      }).pipe(Effect.scoped), 60_000)
  })
})
