/**
 * The delivery promise under consumer crashes: a seeded producer writes
 * transactions (some rolled back) into a ledger table; a consumer process
 * (`KillConsumer.ts`) appends each transaction to a log, fsyncs, then
 * acknowledges; it is killed with SIGKILL again and again, between append and
 * ack or just after an ack, then runs to the end.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { servers } from "../support/Servers.ts"
import { eventually, logicalFixture, lsn, slotRow, sqlSession } from "./Support.ts"

/** The seed of the producer's and the killer's choices: the same run every time. */
const SEED = 0x5eed18
const TRANSACTIONS = 150
const KILLS = 6
/** A consumer run that neither finishes nor reaches its kill point within this long fails the test. */
const RUN_TIMEOUT_MILLIS = 60_000

interface Run {
  readonly pid: number
  readonly killed: boolean
}

/** Runs the consumer; kills it (SIGKILL) at the `killAt`-th line starting with `killOn`, if given. */
const runConsumer = (
  args: Record<string, unknown>,
  kill: { readonly on: "appended" | "acked"; readonly at: number } | undefined
): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(
      process.execPath,
      [Path.join(import.meta.dirname, "KillConsumer.ts"), JSON.stringify(args)],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let seen = 0
    let killed = false
    let buffered = ""
    let errors = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`consumer run timed out: ${errors}`))
    }, RUN_TIMEOUT_MILLIS)
    child.stderr.on("data", (chunk: Buffer) => {
      errors += chunk.toString()
    })
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split("\n")
      buffered = lines.pop() ?? ""
      for (const line of lines) {
        if (kill !== undefined && !killed && line.startsWith(kill.on) && ++seen === kill.at) {
          killed = true
          child.kill("SIGKILL")
        }
      }
    })
    child.on("exit", (code) => {
      clearTimeout(timer)
      if (!killed && code !== 0) reject(new Error(`consumer exited with ${code}: ${errors}`))
      else resolve({ pid: child.pid!, killed })
    })
  })

describe("PgReplication.logical: consumers killed with SIGKILL", () => {
  it.live("every committed row is logged, no rolled-back row is, runs see whole transactions in order, nothing confirmed comes again", () =>
    Effect.gen(function*() {
      const main = servers().main
      const session = yield* sqlSession(main)
      const f = yield* logicalFixture(session, main, "id int primary key, payload text")
      // The producer: transactions of 1 to 5 rows, one in ten rolled back, then the marker row -1.
      const committed = new Map<string, Array<number>>()
      const rolledBack = new Set<number>()
      let next = 1
      for (let t = 0; t < TRANSACTIONS; t++) {
        const ids = Array.from({ length: yield* Random.nextIntBetween(1, 5) }, () => next++)
        const rollback = (yield* Random.next) < 0.1
        yield* session.simple(
          `begin; insert into ${f.table} values ${ids.map((id) => `(${id}, 'p${id}')`).join(", ")}; ${rollback ? "rollback" : "commit"}`
        )
        if (rollback) ids.forEach((id) => rolledBack.add(id))
        else committed.set(ids.join(","), ids)
      }
      yield* session.query(`insert into ${f.table} values (-1, 'marker')`)
      committed.set("-1", [-1])

      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-pgwire-kill-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const log = Path.join(dir, "log.jsonl")
      const args = { host: main.host, port: main.port, slot: f.slot, publication: f.publication, log }
      const runs: Array<Run & { readonly confirmedBefore: bigint }> = []
      for (let k = 0; k <= KILLS; k++) {
        const confirmedBefore = lsn((yield* slotRow(session, f.slot))?.confirmed_flush_lsn)
        const kill = k < KILLS
          ? { on: (yield* Random.nextBoolean) ? "appended" as const : "acked" as const, at: yield* Random.nextIntBetween(1, 20) }
          : undefined
        const run = yield* Effect.promise(() => runConsumer(args, kill))
        runs.push({ ...run, confirmedBefore })
        assert.isTrue(yield* eventually(Effect.map(slotRow(session, f.slot), (r) => r?.active === false)))
        if (!run.killed) break
      }
      assert.isFalse(runs[runs.length - 1]!.killed, "the last run reached the marker")

      const entries = Fs.readFileSync(log, "utf8").trim().split("\n").map((line) =>
        JSON.parse(line) as { pid: number; endLsn: string; ids: Array<number> }
      )
      const loggedIds = new Set(entries.flatMap((e) => e.ids))
      // (a) every committed row is logged at least once; (b) no rolled-back row is.
      for (const ids of committed.values()) for (const id of ids) assert.isTrue(loggedIds.has(id), `row ${id} logged`)
      for (const id of rolledBack) assert.isFalse(loggedIds.has(id), `rolled-back row ${id} not logged`)
      let duplicates = 0
      let largestWindow = 0
      const seen = new Set<string>()
      for (const run of runs) {
        const mine = entries.filter((e) => e.pid === run.pid)
        // (c) whole transactions in strictly increasing end LSN within a run.
        for (let i = 0; i < mine.length; i++) {
          assert.isTrue(committed.has(mine[i]!.ids.join(",")), `a whole committed transaction: ${mine[i]!.ids}`)
          if (i > 0) assert.isTrue(BigInt(mine[i]!.endLsn) > BigInt(mine[i - 1]!.endLsn))
        }
        // (d) nothing at or below the position confirmed before the run is delivered again.
        for (const e of mine) assert.isTrue(BigInt(e.endLsn) > run.confirmedBefore, "nothing confirmed is redelivered")
        const again = mine.filter((e) => seen.has(e.endLsn)).length
        duplicates += again
        largestWindow = Math.max(largestWindow, again)
        for (const e of mine) seen.add(e.endLsn)
      }
      console.log(
        `kill test: ${runs.length} runs (${runs.filter((r) => r.killed).length} killed), ${entries.length} deliveries of ` +
          `${committed.size} transactions, ${duplicates} duplicates, largest duplicate window ${largestWindow}`
      )
      // Duplicates are the transactions received and not acknowledged, plus acknowledgements the kill cut off
      // before the server read them: (d) above holds them to what the server had not confirmed.
      assert.strictEqual(seen.size, committed.size, "every committed transaction was delivered")
    }).pipe(Effect.scoped, Random.withSeed(SEED)), 120_000)
})
