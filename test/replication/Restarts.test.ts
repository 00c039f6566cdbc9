/**
 * The delivery promise across server restarts and dropped connections: a
 * seeded producer writes a ledger (rollbacks, two-phase commits and rollbacks,
 * TOAST values, transactions large enough to be streamed, one ADD COLUMN)
 * while a consumer that logs each transaction, then acknowledges it, runs its
 * stream again after every failure. Between batches the server restarts fast
 * or immediately (keeping its data directory, with fsync on) or every
 * connection through the consumer's proxy is reset.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Random from "effect/Random"
import * as PgReplication from "../../src/replication/PgReplication.ts"
import * as PgSession from "../../src/session/Session.ts"
import { TestServer } from "../support/EmbeddedPostgres.ts"
import * as ResetProxy from "./ResetProxy.ts"
import { restartable } from "../support/Restart.ts"
import { assertLedger, DURABLE_LOGICAL_SETTINGS, eventually, optionsFor, uniqueName } from "./Support.ts"

/** The seed of the producer's and the faults' choices. */
const SEED = 0x18_2e57
/** Transactions per batch; a fault follows each batch. */
const BATCH = 25
const FAULTS = ["fast", "immediate", "reset", "fast", "immediate", "reset", "fast", "immediate", "reset"] as const
/** The consumer runs its stream again this long after a failure. */
const RETRY_MILLIS = 100
/** The last transaction must be logged within this long after the last fault. */
const DRAIN_ATTEMPTS = 1200

const server = TestServer.layer({
  name: "replication-restarts",
  settings: DURABLE_LOGICAL_SETTINGS
})

/** The reason tag of a consumer run's end. */
const reasonOf = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "ended"
  const fail = exit.cause.reasons.find((r) => r._tag === "Fail") as { readonly error: unknown } | undefined
  const error = fail?.error as { readonly reason?: { readonly _tag?: string } } | undefined
  return error?.reason?._tag ?? "defect"
}

interface Entry {
  readonly run: number
  readonly kind: PgReplication.Acknowledgeable["_tag"]
  readonly endLsn: bigint
  readonly gid: string | undefined
  readonly ids: ReadonlyArray<number>
}

describe("PgReplication.logical across server restarts and connection resets", () => {
  it.layer(server, { excludeTestServices: true, timeout: "180 seconds" })((it) => {
    it.effect("every committed row is logged, no rolled-back one, each run in order and whole; duplicates counted", () =>
      Effect.gen(function*() {
        const info = yield* TestServer
        const conn = optionsFor(info)
        const restarts = yield* restartable(info)
        const proxy = yield* ResetProxy.make(info.port)
        const table = uniqueName("ledger")
        const publication = uniqueName("lp")
        const slot = uniqueName("ls")
        yield* Effect.scoped(Effect.gen(function*() {
          const s = yield* PgSession.connect(conn)
          yield* s.query(`create table ${table} (id int primary key, payload text)`)
          yield* s.query(`alter table ${table} alter column payload set storage external`)
          yield* s.query(`create publication ${publication} for table ${table}`)
          const rs = yield* PgReplication.connect(conn)
          yield* rs.createSlot(slot, { logical: "pgoutput", twoPhase: true })
        }))

        // The consumer: its log, and a stream run again after every failure.
        const log: Array<Entry> = []
        const failures: Array<string> = []
        let run = 0
        const stream = PgReplication.logical(
          { ...conn, port: proxy.port },
          { slot, publications: [publication], twoPhase: true, streaming: "on", statusIntervalMillis: 100 }
        )
        const consume = Effect.suspend(() => {
          const r = ++run
          return PgReplication.runAcked(stream, (tx) =>
            Effect.sync(() => {
              log.push({
                run: r,
                kind: tx.end._tag,
                endLsn: tx.endLsn,
                gid: "gid" in tx.end ? tx.end.gid : undefined,
                ids: tx.changes.flatMap((c) => (c._tag === "Insert" ? [c.new["id"] as number] : []))
              })
            }))
        })
        yield* Effect.forkScoped(Effect.forever(
          Effect.flatMap(Effect.exit(consume), (exit) =>
            Effect.andThen(
              Effect.sync(() => failures.push(reasonOf(exit))),
              Effect.sleep(RETRY_MILLIS)
            ))
        ))

        // The producer: transactions by seeded choice; what committed and what did not.
        const transactions = new Map<string, ReadonlyArray<number>>()
        const rolledBack = new Set<number>()
        let next = 1
        const produce = (s: PgSession.Session, batch: number) =>
          Effect.gen(function*() {
            for (let t = 0; t < BATCH; t++) {
              const roll = yield* Random.next
              const size = roll < 0.05 ? 400 : yield* Random.nextIntBetween(1, 5)
              const ids = Array.from({ length: size }, () => next++)
              const toast = roll >= 0.05 && roll < 0.12
              const payload = toast ? "(select string_agg(md5(g::text || random()::text), '') from generate_series(1, 400) g)" : "'p'"
              const insert = `insert into ${table} (id, payload) select g, ${payload} from generate_series(${ids[0]}, ${ids.at(-1)}) g`
              transactions.set(ids.join(","), ids)
              const outcome = yield* Random.next
              if (outcome < 0.1) {
                yield* s.simple(`begin; ${insert}; rollback`)
                ids.forEach((id) => rolledBack.add(id))
              } else if (outcome < 0.2) {
                const gid = uniqueName(`g${batch}`)
                yield* s.simple(`begin; ${insert}; prepare transaction '${gid}'`)
                if (outcome < 0.13) {
                  yield* s.query(`rollback prepared '${gid}'`)
                  ids.forEach((id) => rolledBack.add(id))
                } else yield* s.query(`commit prepared '${gid}'`)
              } else yield* s.simple(`begin; ${insert}; commit`)
            }
          })

        const faults = [...FAULTS]
        for (let batch = 0; batch <= faults.length; batch++) {
          yield* Effect.scoped(Effect.gen(function*() {
            const s = yield* PgSession.connect(conn)
            if (batch === 3) yield* s.query(`alter table ${table} add column note text default 'n'`)
            yield* produce(s, batch)
            if (batch === faults.length) {
              yield* s.query(`insert into ${table} (id, payload) values (-1, 'marker')`)
              transactions.set("-1", [-1])
            }
          }))
          if (batch === faults.length) break
          // The fault lands while the consumer is somewhere in the batch.
          yield* Effect.sleep(yield* Random.nextIntBetween(0, 300))
          const fault = faults[batch]!
          if (fault === "reset") yield* proxy.reset
          else yield* restarts.restart(fault)
        }
        assert.isTrue(
          yield* eventually(Effect.sync(() => log.some((e) => e.ids.includes(-1))), DRAIN_ATTEMPTS),
          `the marker is logged (failures: ${failures.slice(-3).join(" | ")})`
        )

        // (a) every committed row is logged as committed; (b) nothing else is.
        const truth = yield* assertLedger(conn, table, log, rolledBack)
        // (c) each run: strictly increasing end LSNs, whole transactions.
        let duplicates = 0
        let largestWindow = 0
        const seen = new Set<string>()
        for (let r = 1; r <= run; r++) {
          const mine = log.filter((e) => e.run === r)
          for (let i = 0; i < mine.length; i++) {
            const e = mine[i]!
            if (e.kind === "Commit" || e.kind === "Prepare") {
              assert.isTrue(transactions.has(e.ids.join(",")), `a whole transaction: ${e.ids.slice(0, 5)}...`)
            }
            if (i > 0) assert.isTrue(e.endLsn > mine[i - 1]!.endLsn, `run ${r}: end LSNs increase`)
          }
          const again = mine.filter((e) => seen.has(`${e.kind}${e.endLsn}`)).length
          duplicates += again
          largestWindow = Math.max(largestWindow, again)
          for (const e of mine) seen.add(`${e.kind}${e.endLsn}`)
        }
        assert.strictEqual(restarts.restarts(), FAULTS.filter((f) => f !== "reset").length)
        assert.isTrue(run > FAULTS.length, `the stream ran again after the faults (${run} runs)`)
        const tally = new Map<string, number>()
        for (const f of failures) tally.set(f, (tally.get(f) ?? 0) + 1)
        assert.isFalse(tally.has("defect"), "no run ended with a defect")
        console.log(
          `restart test: runs ended by ${[...tally].map(([k, n]) => `${k} x${n}`).join(", ")}`
        )
        console.log(
          `restart test: ${restarts.restarts()} restarts, ${FAULTS.length - restarts.restarts()} resets, ${run} runs, ` +
            `${log.length} deliveries of ${seen.size} transactions (${truth.size} rows), ${duplicates} duplicates, ` +
            `largest duplicate window ${largestWindow}`
        )
      }).pipe(Effect.scoped, Random.withSeed(SEED)), 180_000)
  })
})
