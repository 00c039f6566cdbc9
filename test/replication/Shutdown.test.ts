/**
 * A server's fast shutdown with a logical consumer connected: it waits for its
 * walsenders until their client has confirmed everything sent
 * (`walsender.c WalSndDone`), so a client that never confirms keeps it from
 * stopping until `wal_sender_timeout` (pgjdbc#1490, patroni#3022).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Stream from "effect/Stream"
import * as PgReplication from "../../src/replication/PgReplication.ts"
import * as PgSession from "../../src/session/Session.ts"
import { startServer } from "../support/EmbeddedPostgres.ts"
import { eventually, failureTag, insertedIds, logicalFixture, lsn, optionsFor, slotRow } from "./Support.ts"

describe("PgReplication.logical and server shutdown", () => {
  it.live("everything acknowledged: a fast shutdown completes and the stream fails with ServerDraining", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.promise(() =>
          startServer({
            name: "shutdown",
            // Far beyond the polling below: a walsender waiting for its client would hold the shutdown this long.
            settings: { wal_level: "logical", max_wal_senders: 4, max_replication_slots: 4, wal_sender_timeout: "60s" }
          })
        ),
        (s) => Effect.promise(() => s.stop())
      )
      const session = yield* PgSession.connect(optionsFor(server.info))
      const f = yield* logicalFixture(session, server.info)
      yield* session.query(`insert into ${f.table} values (1, 'a')`)
      const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
        const pull = yield* Stream.toPull(PgReplication.transactions(f.open({ statusIntervalMillis: 100 })))
        const [tx] = yield* pull
        assert.deepStrictEqual(insertedIds(tx!), [1])
        yield* tx!.ack
        assert.isTrue(
          yield* eventually(Effect.map(slotRow(session, f.slot), (r) => lsn(r?.confirmed_flush_lsn) === tx!.endLsn))
        )
        process.kill(server.info.pid, "SIGINT")
        while (true) yield* pull
      })))
      assert.strictEqual(failureTag(exit), "ServerDraining")
      assert.isTrue(yield* eventually(Effect.sync(() => !server.isRunning()), 400), "the server stopped")
      const log = Fs.readFileSync(server.info.logFile, "utf8")
      assert.include(log, "database system is shut down")
      assert.notInclude(log, "immediate shutdown")
      assert.notInclude(log, "replication timeout")
    }).pipe(Effect.scoped), 60_000)
})
