/**
 * Connection resets against the real server, through the fault proxy: a COPY FROM reset at every point of its
 * bytes commits nothing, and transfers between accounts with savepoints under repeated resets keep the bank's
 * invariant (the total never changes) and lose no acknowledged commit. Rows are counted from a fresh connection.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { PgError } from "../../src/errors/PgError.ts"
import * as PgPool from "../../src/pool/Pool.ts"
import * as FaultProxy from "../support/FaultProxy.ts"
import { servers } from "../support/Servers.ts"
import { connectPlain } from "../support/Sessions.ts"

/** "It must not hang". */
const BOUND_MILLIS = 10_000
const encoder = new TextEncoder()
/**
 * Transfers and resets of the bank test, the size of the original report: about 7 s on a loaded machine, so it always
 * runs, in CI as anywhere (no soak flag).
 */
const TRANSFERS = 1_000
const RESETS = 7

describe("resets through the fault proxy", () => {
  it.live("a COPY FROM reset at every point of its bytes commits nothing", () =>
    Effect.scoped(Effect.gen(function*() {
      const monitor = yield* connectPlain()
      const table = `copy_reset_${process.pid}`
      yield* monitor.simple(`create table ${table} (n int4, t text)`)
      yield* Effect.addFinalizer(() => monitor.simple(`drop table if exists ${table}`).pipe(Effect.ignore))
      const chunks = Array.from({ length: 8 }, (_, c) =>
        encoder.encode(Array.from({ length: 250 }, (_, i) => `${c * 250 + i}\trow ${c * 250 + i}\n`).join("")))
      const total = chunks.reduce((n, c) => n + c.length, 0)
      const proxy = yield* FaultProxy.make(servers().main.port)
      // From the client's start-up through the Query and every part of the data, to past its end (CopyDone).
      const points = [10, 100, 200, 300, ...Array.from({ length: 12 }, (_, i) => 400 + Math.floor((total * i) / 10))]
      const results: Array<string> = []
      for (const byte of points) {
        yield* proxy.fault(undefined)
        const session = yield* connectPlain({ port: proxy.port }).pipe(Effect.option)
        yield* proxy.fault({ _tag: "AtByte", direction: "toServer", byte, how: "reset" })
        const exit = Option.isNone(session) ? undefined : yield* Effect.exit(
          Stream.run(Stream.fromIterable(chunks), session.value.copyFrom(`copy ${table} from stdin`))
        ).pipe(Effect.timeoutOption(BOUND_MILLIS))
        if (exit !== undefined) assert.isTrue(Option.isSome(exit), `a reset at byte ${byte} left the COPY waiting`)
        results.push(exit === undefined ? "connect failed" : Option.getOrThrow(exit)._tag)
        const { rows } = yield* monitor.query<{ c: number }>(`select count(*)::int4 as c from ${table}`)
        // All or nothing: a COPY that completed wrote every row; one that was reset, none.
        const completed = exit !== undefined && Option.getOrThrow(exit)._tag === "Success"
        assert.strictEqual(rows[0]!.c, completed ? 2000 : 0, `reset at byte ${byte}`)
        if (completed) yield* monitor.simple(`truncate ${table}`)
      }
      console.log(`COPY reset at ${points.length} points of ${total} bytes: ${results.join(", ")}`)
      assert.isTrue(results.some((r) => r === "Failure"))
    })), { timeout: 60_000 })

  it.live("transfers with savepoints under connection resets keep the total, and no acknowledged commit is lost", () =>
    Effect.scoped(Effect.gen(function*() {
      const monitor = yield* connectPlain()
      const accounts = `bank_${process.pid}`
      const ledger = `bank_ledger_${process.pid}`
      yield* monitor.simple(
        `create table ${accounts} (id int4 primary key, balance int8 not null); ` +
          `insert into ${accounts} select n, 1000 from generate_series(1, 20) as n; ` +
          `create table ${ledger} (id int4 primary key)`
      )
      yield* Effect.addFinalizer(() => monitor.simple(`drop table if exists ${accounts}, ${ledger}`).pipe(Effect.ignore))
      const proxy = yield* FaultProxy.make(servers().main.port)
      const pool = yield* PgPool.make({
        host: "127.0.0.1",
        port: proxy.port,
        user: "postgres",
        database: "postgres",
        sslMode: "disable",
        maxSize: 4,
        connectTimeout: 2_000
      })
      const acknowledged: Array<number> = []
      let settled = 0
      const transfer = (id: number) =>
        pool.withTransaction(Effect.gen(function*() {
          const from = 1 + (id * 7) % 20
          const to = 1 + (id * 13 + 5) % 20
          // Both accounts locked in id order first: transfers never deadlock, so a failure is a reset's doing (each
          // deadlock also cost the server's deadlock_timeout of 1 s, most of a soak's time).
          yield* pool.query(`select id from ${accounts} where id in ($1, $2) order by id for update`, [from, to])
          yield* pool.query(`update ${accounts} set balance = balance - 10 where id = $1`, [from])
          yield* pool.query("savepoint s")
          // Half the transfers change their mind inside the savepoint.
          yield* pool.query(`update ${accounts} set balance = balance - 1000000 where id = $1`, [to])
          if (id % 2 === 0) yield* pool.query("rollback to savepoint s")
          else yield* pool.query(`update ${accounts} set balance = balance + 1000000 where id = $1`, [to])
          yield* pool.query(`update ${accounts} set balance = balance + 10 where id = $1`, [to])
          yield* pool.query(`insert into ${ledger} values ($1)`, [id])
        })).pipe(
          Effect.tap(() => Effect.sync(() => acknowledged.push(id))),
          Effect.exit,
          Effect.tap(() => Effect.sync(() => settled++))
        )
      // Spread over the whole run (the i-th once i / (RESETS + 1) of the transfers have settled), so every reset
      // lands among transfers in flight, in a soak of 1,000 as in a run of 100 (a fixed 50 ms apart, they all hit the
      // first second of a 40 s soak).
      const resets = Effect.gen(function*() {
        for (let i = 1; i <= RESETS; i++) {
          while (settled < Math.floor((i * TRANSFERS) / (RESETS + 1))) yield* Effect.sleep(5)
          yield* proxy.resetAll
        }
      })
      const started = Date.now()
      const [exits] = yield* Effect.all([
        Effect.forEach(Array.from({ length: TRANSFERS }, (_, i) => i), transfer, { concurrency: 8 }),
        resets
      ], { concurrency: "unbounded" }).pipe(Effect.timeout(50_000))
      const failed = exits.filter((e) => e._tag === "Failure").length
      // Every failure is a typed error, and none is the server's (a deadlock, a constraint): the resets' doing.
      const reasons: Record<string, number> = {}
      for (const exit of exits) {
        if (exit._tag === "Success") continue
        const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
        const error = failure !== undefined ? (failure as unknown as { error: unknown }).error : undefined
        assert.instanceOf(error, PgError, String(exit.cause).slice(0, 300))
        const reason = (error as PgError).reason
        assert.notStrictEqual(reason._tag, "ServerError", (error as PgError).message)
        reasons[reason._tag] = (reasons[reason._tag] ?? 0) + 1
      }
      const { rows } = yield* monitor.query<{ total: bigint }>(`select sum(balance)::int8 as total from ${accounts}`)
      const ledgerRows = (yield* monitor.query<{ id: number }>(`select id from ${ledger}`)).rows.map((r) => r.id)
      console.log(
        `bank: ${TRANSFERS} transfers, ${RESETS} resets: ${acknowledged.length} acknowledged, ${failed} failed, ` +
          `${ledgerRows.length} committed (from a fresh connection), in ${Date.now() - started} ms; ` +
          `failures ${JSON.stringify(reasons)}`
      )
      assert.strictEqual(rows[0]!.total, 20000n, "the total changed")
      const committed = new Set(ledgerRows)
      assert.deepStrictEqual(acknowledged.filter((id) => !committed.has(id)), [], "acknowledged commits lost")
      assert.isAbove(failed, 0, "no reset hit a transaction")
    })), { timeout: 60_000 })
})
