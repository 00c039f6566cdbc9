import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { PgError, ServerError } from "../../src/errors/PgError.ts"
import * as PgPool from "../../src/pool/Pool.ts"
import * as Transaction from "../../src/pool/Transaction.ts"
import * as PgSession from "../../src/session/Session.ts"
import { servers } from "../support/Servers.ts"
import { reasonOf } from "../support/Sessions.ts"

let counter = 0
const unique = (prefix: string) => `${prefix}_${process.pid}_${++counter}_${Math.floor(Math.random() * 1e6)}`

const makePool = (options: Partial<PgPool.PoolOptions> = {}) =>
  PgPool.make({
    host: servers().main.host,
    port: servers().main.port,
    user: "postgres",
    database: "postgres",
    name: unique("tx-pool"),
    ...options
  })

const monitor = () =>
  PgSession.connect({ host: servers().main.host, port: servers().main.port, user: "postgres", database: "postgres" })

/** A table for one test, dropped when the test's scope closes. */
const table = (pool: PgPool.Pool, columns: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const name = unique("tx")
      yield* pool.query(`create table ${name} (${columns})`)
      return name
    }),
    (name) => Effect.ignore(pool.query(`drop table if exists ${name}`))
  )

const count = (pool: PgPool.Pool, name: string) =>
  Effect.map(pool.query<{ n: number }>(`select count(*)::int as n from ${name}`), (r) => r.rows[0]!.n)

describe("Transaction: BEGIN statements", () => {
  it("renders the transaction modes in PostgreSQL's order", () => {
    assert.strictEqual(Transaction.beginStatement(), "BEGIN")
    assert.strictEqual(Transaction.beginStatement({}), "BEGIN")
    assert.strictEqual(
      Transaction.beginStatement({ isolationLevel: "serializable", readOnly: true, deferrable: true }),
      "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE"
    )
    assert.strictEqual(
      Transaction.beginStatement({ isolationLevel: "read committed", readOnly: false, deferrable: false }),
      "BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE, NOT DEFERRABLE"
    )
    assert.strictEqual(Transaction.beginStatement({ isolationLevel: "repeatable read" }), "BEGIN ISOLATION LEVEL REPEATABLE READ")
    assert.strictEqual(Transaction.beginStatement({ isolationLevel: "read uncommitted" }), "BEGIN ISOLATION LEVEL READ UNCOMMITTED")
    assert.strictEqual(Transaction.beginStatement({ readOnly: true }), "BEGIN READ ONLY")
  })

  it("refuses an isolation level that is not one of the four names", () => {
    const error = Transaction.validateOptions({ isolationLevel: "serializable; drop table x" as any })
    assert.strictEqual(error?.reason._tag, "ConfigError")
    assert.isUndefined(Transaction.validateOptions({ isolationLevel: "serializable" }))
    assert.isUndefined(Transaction.validateOptions(undefined))
  })

  it("classifies serialization failures and deadlocks as retryable conflicts", () => {
    const server = (code: string) =>
      new PgError({ reason: new ServerError({ severity: "ERROR", code, message: "x" }) })
    assert.isTrue(Transaction.isRetryableConflict(server("40001")))
    assert.isTrue(Transaction.isRetryableConflict(server("40P01")))
    assert.isFalse(Transaction.isRetryableConflict(server("23505")))
    assert.isFalse(Transaction.isRetryableConflict(new Error("40001")))
    assert.isTrue(Transaction.isRetryableConflict({ reason: { _tag: "SerializationError" } }))
    assert.isTrue(Transaction.isRetryableConflict({ reason: { _tag: "DeadlockError" } }))
    assert.isTrue(Transaction.isRetryableConflict({ reason: { _tag: "UnknownError", cause: server("40P01") } }))
    assert.isFalse(Transaction.isRetryableConflict({ reason: { _tag: "UnknownError", cause: server("42P01") } }))
  })
})

describe("Transaction: commit and rollback", () => {
  it.live("commits on success and rolls back on failure", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 2 })
      const t = yield* table(pool, "x int")
      yield* pool.withTransaction(pool.query(`insert into ${t} values (1)`))
      const failed = yield* Effect.exit(
        pool.withTransaction(Effect.andThen(pool.query(`insert into ${t} values (2)`), Effect.fail("boom" as const)))
      )
      assert.isTrue(Exit.isFailure(failed))
      assert.deepStrictEqual(
        (yield* pool.query<{ x: number }>(`select x from ${t} order by x`)).rows,
        [{ x: 1 }]
      )
      assert.strictEqual(yield* pool.withSession((s) => s.transactionStatus), "I")
    }))

  it.live("runs every statement of the transaction on one session, also from forked fibers", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 4 })
      const pids = yield* pool.withTransaction(
        Effect.forEach(
          [1, 2, 3, 4, 5, 6],
          () => Effect.map(pool.query<{ pid: number }>("select pg_backend_pid() as pid"), (r) => r.rows[0]!.pid),
          { concurrency: "unbounded" }
        )
      )
      assert.strictEqual(new Set(pids).size, 1)
    }))

  it.live("nested calls are savepoints: an inner failure rolls back only the inner work", () =>
    Effect.gen(function*() {
      const pool = yield* makePool()
      const t = yield* table(pool, "x int")
      yield* pool.withTransaction(Effect.gen(function*() {
        yield* pool.query(`insert into ${t} values (1)`)
        const inner = yield* Effect.exit(pool.withTransaction(Effect.gen(function*() {
          yield* pool.query(`insert into ${t} values (2)`)
          return yield* pool.query("select 1/0")
        })))
        assert.strictEqual(reasonOf(inner)._tag, "ServerError")
        yield* pool.withTransaction(Effect.gen(function*() {
          yield* pool.query(`insert into ${t} values (3)`)
          const deepest = yield* Effect.exit(
            pool.withTransaction(Effect.andThen(pool.query(`insert into ${t} values (4)`), Effect.fail("no")))
          )
          assert.isTrue(Exit.isFailure(deepest))
        }))
        const { rows } = yield* pool.query<{ name: string }>(
          "select count(*)::int as name from pg_catalog.pg_stat_activity where pid = pg_backend_pid()"
        )
        assert.strictEqual(rows.length, 1)
      }))
      assert.deepStrictEqual(
        (yield* pool.query<{ x: number }>(`select x from ${t} order by x`)).rows,
        [{ x: 1 }, { x: 3 }]
      )
    }))

  it.live("a COMMIT answered with ROLLBACK is a TransactionError, and nothing is committed", () =>
    Effect.gen(function*() {
      const pool = yield* makePool()
      const t = yield* table(pool, "x int")
      const exit = yield* Effect.exit(pool.withTransaction(Effect.gen(function*() {
        yield* pool.query(`insert into ${t} values (1)`)
        // The statement fails and the caller swallows the error: the transaction is aborted.
        yield* Effect.ignore(pool.query("select 1/0"))
        return "looks fine"
      })))
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "TransactionError")
      assert.strictEqual(reason._tag === "TransactionError" ? reason.operation : "", "commit")
      assert.strictEqual(yield* count(pool, t), 0)
      assert.strictEqual(yield* pool.withSession((s) => s.transactionStatus), "I")
    }))

  it.live("a deferred constraint failing at COMMIT fails the transaction with the server error", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 1 })
      const t = yield* table(pool, "x int unique deferrable initially deferred")
      const exit = yield* Effect.exit(pool.withTransaction(Effect.gen(function*() {
        yield* pool.query(`insert into ${t} values (1)`)
        yield* pool.query(`insert into ${t} values (1)`)
      })))
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "ServerError")
      assert.strictEqual(reason._tag === "ServerError" ? reason.code : "", "23505")
      assert.strictEqual(yield* count(pool, t), 0)
      assert.strictEqual(yield* pool.withSession((s) => s.transactionStatus), "I")
    }))

  it.live("applies isolation level, access mode and deferrability", () =>
    Effect.gen(function*() {
      const pool = yield* makePool()
      const settings = yield* pool.withTransaction(
        Effect.map(
          pool.query<{ i: string; r: string; d: string }>(
            "select current_setting('transaction_isolation') as i, current_setting('transaction_read_only') as r, " +
              "current_setting('transaction_deferrable') as d"
          ),
          (r) => r.rows[0]!
        ),
        { isolationLevel: "serializable", readOnly: true, deferrable: true }
      )
      assert.deepStrictEqual(settings, { i: "serializable", r: "on", d: "on" })
      const t = yield* table(pool, "x int")
      const exit = yield* Effect.exit(pool.withTransaction(pool.query(`insert into ${t} values (1)`), { readOnly: true }))
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag === "ServerError" ? reason.code : "", "25006")
      // Nested calls keep the outer transaction's modes.
      const nested = yield* pool.withTransaction(
        pool.withTransaction(
          Effect.map(pool.query<{ i: string }>("select current_setting('transaction_isolation') as i"), (r) => r.rows[0]!.i),
          { isolationLevel: "read committed" }
        ),
        { isolationLevel: "repeatable read" }
      )
      assert.strictEqual(nested, "repeatable read")
    }))
})

describe("Transaction: interruption", () => {
  it.live("interrupting a transaction mid-statement rolls it back and leaves no open transaction on the server", () =>
    Effect.gen(function*() {
      const watcher = yield* monitor()
      const applicationName = unique("tx-interrupt")
      const pool = yield* makePool({ maxSize: 1, applicationName })
      const t = yield* table(pool, "x int")
      const pid = (yield* pool.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid
      const fiber = yield* Effect.forkChild(pool.withTransaction(Effect.gen(function*() {
        yield* pool.query(`insert into ${t} values (1)`)
        yield* pool.query("select pg_sleep(30)")
      })))
      for (let i = 0; i < 500; i++) {
        const { rows } = yield* watcher.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where pid = $1 and state = 'active' and query like 'select pg_sleep%'",
          [pid]
        )
        if (rows[0]!.n > 0) break
        yield* Effect.sleep(10)
      }
      yield* Fiber.interrupt(fiber)
      const { rows: open } = yield* watcher.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where application_name = $1 " +
          "and (state like 'idle in transaction%' or (state = 'active' and query like 'select pg_sleep(30)%'))",
        [applicationName]
      )
      assert.strictEqual(open[0]!.n, 0)
      assert.strictEqual(yield* count(pool, t), 0)
      assert.strictEqual(yield* pool.withSession((s) => s.transactionStatus), "I")
    }))

  it.live("interrupted at any point, a transaction is all or nothing and the session comes back idle", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 1 })
      const t = yield* table(pool, "run int, x int")
      for (let run = 0; run < 40; run++) {
        const fiber = yield* Effect.forkChild(pool.withTransaction(Effect.gen(function*() {
          yield* pool.query(`insert into ${t} values ($1, 1)`, [run])
          yield* pool.withTransaction(pool.query(`insert into ${t} values ($1, 2)`, [run]))
          yield* pool.query(`insert into ${t} values ($1, 3)`, [run])
        })))
        yield* Effect.sleep(run % 10)
        yield* Fiber.interrupt(fiber)
        const { rows } = yield* pool.query<{ n: number }>(`select count(*)::int as n from ${t} where run = $1`, [run])
        assert.include([0, 3], rows[0]!.n, `run ${run}`)
        assert.strictEqual(yield* pool.withSession((s) => s.transactionStatus), "I")
      }
    }), 60_000)
})

describe("Transaction: retry", () => {
  it.live("retries serialization failures and deadlocks, and nothing else", () =>
    Effect.gen(function*() {
      let attempts = 0
      const conflict = (code: string) =>
        Effect.suspend(() => {
          attempts++
          return attempts < 3
            ? Effect.fail(new PgError({ reason: new ServerError({ severity: "ERROR", code, message: "conflict" }) }))
            : Effect.succeed("done")
        })
      assert.strictEqual(yield* Transaction.retry(conflict("40001"), { schedule: undefined }), "done")
      assert.strictEqual(attempts, 3)
      attempts = 0
      assert.strictEqual(yield* conflict("40P01").pipe(Transaction.retry()), "done")
      attempts = 0
      const other = yield* Effect.exit(Transaction.retry(conflict("23505")))
      assert.isTrue(Exit.isFailure(other))
      assert.strictEqual(attempts, 1)
      attempts = 0
      const exhausted = yield* Effect.exit(Transaction.retry(conflict("40001"), { times: 1 }))
      assert.isTrue(Exit.isFailure(exhausted))
      assert.strictEqual(attempts, 2)
    }))

  it.live("a real serialization failure is retried from BEGIN and both transactions commit", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 2 })
      const t = yield* table(pool, "v int")
      const bothRead = yield* Deferred.make<void>()
      let reads = 0
      let attempts = 0
      const writer = pool.withTransaction(Effect.gen(function*() {
        attempts++
        yield* pool.query(`select coalesce(sum(v), 0) as s from ${t}`)
        if (++reads === 2) yield* Deferred.succeed(bothRead, undefined)
        yield* Deferred.await(bothRead)
        yield* pool.query(`insert into ${t} values (1)`)
      }), { isolationLevel: "serializable" }).pipe(Transaction.retry())
      yield* Effect.all([writer, writer], { concurrency: 2 })
      assert.isAtLeast(attempts, 3)
      assert.strictEqual(yield* count(pool, t), 2)
    }))
})

describe("Transaction: many concurrent transactions", () => {
  it.live("1,000 concurrent transfers with savepoints keep every balance consistent", () =>
    Effect.gen(function*() {
      // 1,000 transactions queue for 8 sessions: on a loaded machine the last ones wait longer than the default
      // acquire timeout, which would fail them for a reason this test is not about.
      const pool = yield* makePool({ maxSize: 8, acquireTimeout: "5 minutes", parameters: { deadlock_timeout: "20ms" } })
      const accounts = 20
      const initial = 1_000
      const bank = yield* table(pool, "id int primary key, balance int not null check (balance >= 0)")
      const ledger = yield* table(pool, "src int not null, dst int not null, amount int not null, memo varchar(8) not null")
      yield* pool.query(`insert into ${bank} select n, ${initial} from generate_series(1, ${accounts}) n`)
      // mulberry32: a small deterministic generator, so every run does the same transfers.
      let seed = 42
      const random = (n: number) => {
        seed = (seed + 0x6d2b79f5) | 0
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
        return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n)
      }
      const transfers = Array.from({ length: 1_000 }, (_, i) => {
        const src = 1 + random(accounts)
        const dst = 1 + ((src - 1 + 1 + random(accounts - 1)) % accounts)
        return { i, src, dst, amount: 1 + random(150), memo: i % 10 === 0 ? "a memo that is too long" : `t${i}` }
      })
      const exits = yield* Effect.forEach(
        transfers,
        ({ amount, dst, memo, src }) =>
          pool.withTransaction(Effect.gen(function*() {
            yield* pool.query(`update ${bank} set balance = balance - $1 where id = $2`, [amount, src])
            yield* pool.query(`update ${bank} set balance = balance + $1 where id = $2`, [amount, dst])
            // The ledger line goes in a savepoint: a memo over 8 characters fails (22001) and is replaced.
            yield* pool.withTransaction(
              pool.query(`insert into ${ledger} values ($1, $2, $3, $4)`, [src, dst, amount, memo])
            ).pipe(
              Effect.catch(() =>
                pool.query(`insert into ${ledger} values ($1, $2, $3, 'long')`, [src, dst, amount])
              )
            )
          })).pipe(Transaction.retry({ times: 50 }), Effect.exit),
        { concurrency: "unbounded" }
      )
      const committed = exits.filter(Exit.isSuccess).length
      for (const exit of exits) {
        if (Exit.isFailure(exit)) {
          const reason = reasonOf(exit)
          // Only transfers that would overdraw an account may fail (23514 check_violation).
          assert.strictEqual(reason._tag === "ServerError" ? reason.code : reason._tag, "23514")
        }
      }
      assert.isAbove(committed, 500)
      const { rows: totals } = yield* pool.query<{ total: number; low: number }>(
        `select sum(balance)::int as total, min(balance) as low from ${bank}`
      )
      assert.strictEqual(totals[0]!.total, accounts * initial)
      assert.isAtLeast(totals[0]!.low, 0)
      assert.strictEqual(yield* count(pool, ledger), committed)
      const { rows: mismatched } = yield* pool.query<{ n: number }>(
        `select count(*)::int as n from ${bank} b where b.balance <> ${initial}
           - coalesce((select sum(amount) from ${ledger} l where l.src = b.id), 0)
           + coalesce((select sum(amount) from ${ledger} l where l.dst = b.id), 0)`
      )
      assert.strictEqual(mismatched[0]!.n, 0)
      const { rows: long } = yield* pool.query<{ n: number }>(`select count(*)::int as n from ${ledger} where memo = 'long'`)
      assert.isAbove(long[0]!.n, 0)
      const stats = yield* pool.stats
      assert.isAtMost(stats.created, 8)
      assert.strictEqual(stats.inUse, 0)
    }), 120_000)
})
