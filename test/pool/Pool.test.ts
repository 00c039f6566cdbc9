import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as PgPool from "../../src/pool/Pool.ts"
import * as PgSession from "../../src/session/Session.ts"
import { servers } from "../support/Servers.ts"
import { LenderKey } from "../../src/session/Lender.ts"
import { reasonOf } from "../support/Sessions.ts"

let poolCounter = 0

const makePool = (options: Partial<PgPool.PoolOptions> = {}) =>
  PgPool.make({
    host: servers().main.host,
    port: servers().main.port,
    user: "postgres",
    database: "postgres",
    name: `pool-test-${++poolCounter}`,
    ...options
  })

const monitor = () =>
  PgSession.connect({ host: servers().main.host, port: servers().main.port, user: "postgres", database: "postgres" })

const pidOf = (pool: PgPool.Pool) =>
  Effect.map(pool.query<{ pid: number }>("select pg_backend_pid() as pid"), (r) => r.rows[0]!.pid)

/** Waits until backend `pid` runs a statement containing `fragment` (as libpq's test_cancel does). */
const awaitActive = (watcher: PgSession.Session, pid: number, fragment: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      const { rows } = yield* watcher.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where pid = $1 and state = 'active' and position($2 in query) > 0",
        [pid, fragment]
      )
      if (rows[0]!.n > 0) return
      yield* Effect.sleep(10)
    }
    assert.fail(`backend ${pid} never ran ${fragment}`)
  })

const awaitGone = (watcher: PgSession.Session, pid: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      const { rows } = yield* watcher.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where pid = $1",
        [pid]
      )
      if (rows[0]!.n === 0) return
      yield* Effect.sleep(10)
    }
    assert.fail(`backend ${pid} is still there`)
  })

describe("PgPool: limits and timeouts", () => {
  it.live("never opens more sessions than maxSize", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 3 })
      let peak = 0
      const pids = yield* Effect.forEach(
        Array.from({ length: 24 }, (_, i) => i),
        () =>
          Effect.gen(function*() {
            const stats = yield* pool.stats
            peak = Math.max(peak, stats.inUse)
            const { rows } = yield* pool.query<{ pid: number }>("select pg_backend_pid() as pid, pg_sleep(0.02)")
            peak = Math.max(peak, (yield* pool.stats).inUse)
            return rows[0]!.pid
          }),
        { concurrency: "unbounded" }
      )
      const stats = yield* pool.stats
      assert.isAtMost(new Set(pids).size, 3)
      assert.isAtMost(stats.created, 3)
      assert.isAtMost(stats.size, 3)
      assert.isAtMost(peak, 3)
      assert.strictEqual(stats.acquired, 24)
      assert.strictEqual(stats.waiting, 0)
      assert.strictEqual(stats.inUse, 0)
    }))

  it.live("an acquire that cannot be served fails with TimeoutError acquire, never waits forever", () =>
    Effect.gen(function*() {
      const name = `pool-timeout-${++poolCounter}`
      // The one session is opened in the background first (minSize), so the holder's own acquire never waits for a
      // connect, which may take longer than the acquire timeout on a loaded machine.
      const pool = yield* makePool({ name, maxSize: 1, minSize: 1, acquireTimeout: 200 })
      while ((yield* pool.stats).idle === 0) yield* Effect.sleep(5)
      const holder = yield* Effect.forkChild(pool.withSession(() => Effect.sleep(2_000)))
      while ((yield* pool.stats).inUse === 0) yield* Effect.sleep(5)
      const started = Date.now()
      const exit = yield* Effect.exit(pool.query("select 1"))
      const elapsed = Date.now() - started
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "TimeoutError")
      assert.strictEqual(reason._tag === "TimeoutError" ? reason.operation : "", "acquire")
      assert.isTrue(exit._tag === "Failure" && (exit.cause.reasons[0] as any).error.isRetryable)
      assert.isAtLeast(elapsed, 180)
      assert.isBelow(elapsed, 1_500)
      const stats = yield* pool.stats
      assert.strictEqual(stats.timedOut, 1)
      assert.strictEqual(stats.waiting, 0)
      const timedOut = yield* Metric.value(PgPool.metricsOf(name).timedOut)
      assert.strictEqual(timedOut.count, 1)
      yield* Fiber.interrupt(holder)
      const { rows } = yield* pool.query("select 1 as one")
      assert.deepStrictEqual(rows, [{ one: 1 }])
    }))

  it.live("publishes size, idle, in use and waiting as gauges", () =>
    Effect.gen(function*() {
      const name = `pool-gauges-${++poolCounter}`
      const pool = yield* makePool({ name, maxSize: 2 })
      const metrics = PgPool.metricsOf(name)
      const gauge = (id: "size" | "idle" | "inUse" | "waiting") => Effect.map(Metric.value(metrics[id]), (s) => s.value)
      const held = yield* Effect.forkChild(pool.withSession(() => Effect.sleep(300)))
      while ((yield* pool.stats).inUse === 0) yield* Effect.sleep(5)
      assert.strictEqual(yield* gauge("inUse"), 1)
      assert.strictEqual(yield* gauge("size"), 1)
      yield* Fiber.join(held)
      assert.strictEqual(yield* gauge("inUse"), 0)
      assert.strictEqual(yield* gauge("idle"), 1)
      assert.strictEqual(yield* gauge("waiting"), 0)
      const created = yield* Metric.value(metrics.created)
      assert.strictEqual(created.count, 1)
    }))

  it.live("keeps minSize sessions open and closes idle ones above it", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ minSize: 1, maxSize: 4, idleTimeout: 150 })
      yield* Effect.forEach([1, 2, 3, 4], () => pool.query("select pg_sleep(0.05)"), { concurrency: 4 })
      assert.isAtLeast((yield* pool.stats).size, 2)
      yield* Effect.sleep(800)
      const stats = yield* pool.stats
      assert.strictEqual(stats.size, 1)
      assert.isAtLeast(stats.retired, 1)
    }))

  it.live("a lifetime or idle timeout of 0 means no limit", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 1, maxLifetime: 0, idleTimeout: 0 })
      const first = yield* pidOf(pool)
      yield* Effect.sleep(100)
      assert.strictEqual(yield* pidOf(pool), first)
      assert.strictEqual((yield* pool.stats).retired, 0)
    }))

  it.live("rejects settings that could hang or make no sense", () =>
    Effect.gen(function*() {
      for (
        const options of [
          { maxSize: 0 },
          { minSize: 3, maxSize: 2 },
          { acquireTimeout: 0 },
          { acquireTimeout: Infinity },
          { multiplex: true, multiplexConcurrency: 0 }
        ]
      ) {
        const reason = reasonOf(yield* Effect.exit(Effect.scoped(makePool(options))))
        assert.strictEqual(reason._tag, "ConfigError")
      }
    }))
})

describe("PgPool: as a service", () => {
  it.live("PgPool.layer provides the PgPool service", () =>
    Effect.gen(function*() {
      const pool = yield* PgPool.PgPool
      const { rows } = yield* pool.query<{ one: number }>("select 1 as one")
      assert.deepStrictEqual(rows, [{ one: 1 }])
    }).pipe(Effect.provide(PgPool.layer({
      host: servers().main.host,
      port: servers().main.port,
      user: "postgres",
      database: "postgres",
      name: `pool-layer-${++poolCounter}`
    }))))
})

describe("PgPool: retirement", () => {
  it.live("rotates sessions after their lifetime", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 1, maxLifetime: 250, maxLifetimeJitter: 50 })
      const pids = new Set<number>()
      for (let i = 0; i < 12; i++) {
        pids.add(yield* pidOf(pool))
        yield* Effect.sleep(60)
      }
      assert.isAtLeast(pids.size, 2)
      assert.isAtLeast((yield* pool.stats).retired, 1)
    }))

  it.live("maxUses: a session serves that many checkouts, then is retired (lanes count each statement)", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 1, maxUses: 2 })
      const pids = yield* Effect.forEach([1, 2, 3, 4, 5], () => pidOf(pool))
      assert.strictEqual(pids[0], pids[1])
      assert.notStrictEqual(pids[1], pids[2])
      assert.strictEqual(pids[2], pids[3])
      assert.notStrictEqual(pids[3], pids[4])
      const shared = yield* makePool({ maxSize: 1, maxUses: 1, multiplex: true })
      const sharedPids = yield* Effect.forEach([1, 2, 3], () => pidOf(shared))
      assert.strictEqual(new Set(sharedPids).size, 3)
      for (const maxUses of [-1, 1.5]) {
        assert.strictEqual(reasonOf(yield* Effect.exit(makePool({ maxUses })))._tag, "ConfigError")
      }
    }))

  it.live("a lifetime shorter than the way from connect to checkout uses each session once, never loops", () =>
    Effect.gen(function*() {
      // Every reading of the pool's clock is a minute later than the one before: each session is past
      // its one-second lifetime by the time a checkout looks at it.
      const real = yield* Clock.Clock
      let skew = 0
      const late: Clock.Clock = Object.assign(Object.create(real) as Clock.Clock, {
        currentTimeMillisUnsafe: () => real.currentTimeMillisUnsafe() + (skew += 60_000)
      })
      for (const multiplex of [false, true]) {
        const pool = yield* makePool({ maxSize: 1, maxLifetime: "1 second", maxLifetimeJitter: 0, acquireTimeout: "5 seconds", multiplex }).pipe(
          Effect.provideService(Clock.Clock, late)
        )
        const pids = yield* Effect.forEach([1, 2, 3], () => pidOf(pool))
        assert.strictEqual(new Set(pids).size, 3)
      }
    }))

  it.live("retires a session the server killed instead of handing it out again", () =>
    Effect.gen(function*() {
      const watcher = yield* monitor()
      const pool = yield* makePool({ maxSize: 1 })
      const first = yield* pidOf(pool)
      yield* watcher.query("select pg_terminate_backend($1)", [first])
      yield* awaitGone(watcher, first)
      yield* Effect.sleep(50)
      const second = yield* pidOf(pool)
      assert.notStrictEqual(second, first)
      const stats = yield* pool.stats
      assert.strictEqual(stats.retired, 1)
      assert.strictEqual(stats.created, 2)
    }))

  /** The backend of a session checked out of `pool` (exclusively). */
  const pidOfCheckout = (pool: PgPool.Pool) =>
    Effect.scoped(Effect.flatMap(pool.acquire, (session) =>
      Effect.map(session.query<{ pid: number }>("select pg_backend_pid() as pid"), (r) => r.rows[0]!.pid)))

  /** Has the server end `session`'s backend, and the session notice it (a query fails). */
  const breakSession = (session: PgSession.Session, watcher: PgSession.Session) =>
    Effect.gen(function*() {
      yield* watcher.query("select pg_terminate_backend($1)", [session.processId])
      yield* awaitGone(watcher, session.processId)
      assert.isTrue(Exit.isFailure(yield* Effect.exit(session.query("select 1"))))
      assert.isFalse(session[LenderKey].isOpen())
    })

  it.live("a broken session frees its slot while its lease is held: the next checkout gets a new session", () =>
    Effect.gen(function*() {
      const watcher = yield* monitor()
      const pool = yield* makePool({ maxSize: 1, acquireTimeout: "20 seconds" })
      // Held until the test's scope closes (before the pool's).
      const leased = yield* pool.acquire
      yield* breakSession(leased, watcher)
      const pid = yield* pidOfCheckout(pool)
      assert.notStrictEqual(pid, leased.processId)
    }).pipe(Effect.scoped))

  it.live("a checkout already waiting gets a new session once the leased one breaks", () =>
    Effect.gen(function*() {
      const watcher = yield* monitor()
      const pool = yield* makePool({ maxSize: 1, acquireTimeout: "20 seconds" })
      // Held until the test's scope closes (before the pool's).
      const leased = yield* pool.acquire
      const waiting = yield* Effect.forkChild(pidOfCheckout(pool))
      while ((yield* pool.stats).waiting === 0) yield* Effect.sleep(5)
      yield* breakSession(leased, watcher)
      const pid = yield* Fiber.join(waiting)
      assert.notStrictEqual(pid, leased.processId)
    }).pipe(Effect.scoped))

  it.live("checks a session idle for healthCheckAfter before handing it out", () =>
    Effect.gen(function*() {
      const watcher = yield* monitor()
      const pool = yield* makePool({ maxSize: 1, healthCheckAfter: 0 })
      const first = yield* pidOf(pool)
      yield* watcher.query("select pg_terminate_backend($1)", [first])
      yield* awaitGone(watcher, first)
      // Whether or not the session noticed the FIN yet, the checkout must not return it.
      const second = yield* pidOf(pool)
      assert.notStrictEqual(second, first)
    }))

  it.live("a cancelled query's session is settled before reuse: the next caller gets its own answer", () =>
    Effect.gen(function*() {
      const watcher = yield* monitor()
      const pool = yield* makePool({ maxSize: 1 })
      const pid = yield* pidOf(pool)
      const sleeper = yield* Effect.forkChild(pool.query("select pg_sleep(30)"))
      yield* awaitActive(watcher, pid, "pg_sleep(30)")
      yield* Fiber.interrupt(sleeper)
      const { rows } = yield* pool.query<{ n: number }>("select 2 as n")
      assert.deepStrictEqual(rows, [{ n: 2 }])
      const { rows: active } = yield* watcher.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where pid = $1 and query like 'select pg_sleep(30)%' and state = 'active'",
        [pid]
      )
      assert.strictEqual(active[0]!.n, 0)
      const stats = yield* pool.stats
      // Either the same session, verified, or a new one after retirement.
      assert.strictEqual(stats.size, 1)
    }))

  it.live("a stray cancel never reaches the next caller (interrupts at random offsets, max 1 session)", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 1 })
      for (let i = 0; i < 150; i++) {
        const fiber = yield* Effect.forkChild(pool.query("select 1"))
        if (i % 3 !== 0) yield* Effect.sleep(i % 7)
        yield* Fiber.interrupt(fiber)
        const { rows } = yield* pool.query<{ n: number }>("select 2 as n")
        assert.deepStrictEqual(rows, [{ n: 2 }])
      }
    }), 60_000)

  it.live("rolls back a transaction left open at release and keeps the session", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 1 })
      const pid = yield* pool.withSession((session) =>
        Effect.gen(function*() {
          yield* session.query("begin")
          yield* session.query("create temp table left_open (x int)")
          assert.strictEqual(yield* session.transactionStatus, "T")
          return session.processId
        })
      )
      const status = yield* pool.withSession((session) => session.transactionStatus)
      assert.strictEqual(status, "I")
      assert.strictEqual(yield* pidOf(pool), pid)
      const { rows } = yield* pool.query<{ r: string | null }>("select to_regclass('pg_temp.left_open')::text as r")
      assert.deepStrictEqual(rows, [{ r: null }])
    }))
})

describe("PgPool: closing", () => {
  it.live("lets in-flight work finish and refuses new checkouts", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const pool = yield* Scope.provide(makePool({ maxSize: 2 }), scope)
      const inFlight = yield* Effect.forkChild(pool.query<{ n: number }>("select 7 as n, pg_sleep(0.3)"))
      while ((yield* pool.stats).inUse === 0) yield* Effect.sleep(5)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* Effect.sleep(20)
      const refused = yield* Effect.exit(pool.query("select 1"))
      const reason = reasonOf(refused)
      assert.strictEqual(reason._tag, "ConnectionError")
      assert.match(reason.message, /pool is closed/)
      const done = yield* Fiber.join(inFlight)
      assert.strictEqual(done.rows[0]!.n, 7)
      yield* Fiber.join(closing)
      assert.strictEqual((yield* pool.stats).size, 0)
    }))
})

describe("PgPool: closing, with callers waiting", () => {
  it.live("a caller still waiting when the pool closes gets the typed closed error", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const pool = yield* Scope.provide(makePool({ maxSize: 1, acquireTimeout: 5_000 }), scope)
      yield* pool.query("select 1")
      const holder = yield* Effect.forkChild(pool.query<{ n: number }>("select 1 as n, pg_sleep(0.3)"))
      while ((yield* pool.stats).inUse === 0) yield* Effect.sleep(5)
      const waiter = yield* Effect.forkChild(Effect.exit(pool.query("select 2")))
      while ((yield* pool.stats).waiting === 0) yield* Effect.sleep(5)
      assert.strictEqual((yield* pool.stats).waiting, 1)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      const waited = yield* Fiber.join(waiter)
      const reason = reasonOf(waited)
      assert.strictEqual(reason._tag, "ConnectionError")
      assert.strictEqual((yield* Fiber.join(holder)).rows[0]!.n, 1)
      yield* Fiber.join(closing)
    }))
})

describe("PgPool: multiplexing", () => {
  it.live("pipelines independent short queries on shared sessions", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 1, multiplex: true })
      const results = yield* Effect.forEach(
        Array.from({ length: 64 }, (_, i) => i),
        (i) => Effect.map(pool.query<{ n: number; pid: number }>("select $1::int as n, pg_backend_pid() as pid", [i]), (r) => r.rows[0]!),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(results.map((r) => r.n), Array.from({ length: 64 }, (_, i) => i))
      assert.strictEqual(new Set(results.map((r) => r.pid)).size, 1)
    }))

  it.live("lanes: a caller racing the minSize opener opens no lane past maxSize; nothing waits on the full pool", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 2, minSize: 2, multiplex: true, multiplexConcurrency: 4, acquireTimeout: 1000 })
      // Called before the forked minSize opener has run: both open lanes.
      const first = yield* pool.query<{ n: number }>("select 1 as n")
      assert.deepStrictEqual(first.rows, [{ n: 1 }])
      yield* Effect.sleep(50)
      // A third lane would be a lease queued on the full pool, waiting until it times out.
      assert.strictEqual((yield* pool.stats).waiting, 0)
      const results = yield* Effect.forEach(
        Array.from({ length: 500 }, (_, i) => i),
        (i) => Effect.map(pool.query<{ n: number }>("select $1::int as n", [i]), (r) => r.rows[0]!.n),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(results, Array.from({ length: 500 }, (_, i) => i))
      yield* Effect.sleep(1200)
      const stats = yield* pool.stats
      assert.strictEqual(stats.timedOut, 0)
      assert.strictEqual(stats.waiting, 0)
    }))

  it.live("lanes: a burst spreads over every session, an exclusive checkout is served while the burst runs, idle lanes go back", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 2, minSize: 2, multiplex: true, multiplexConcurrency: 4 })
      const burst = yield* Effect.forkChild(
        Effect.forEach(
          Array.from({ length: 2000 }, (_, i) => i),
          (i) => Effect.map(pool.query<{ n: number; pid: number }>("select $1::int as n, pg_backend_pid() as pid", [i]), (r) => r.rows[0]!),
          { concurrency: "unbounded" }
        )
      )
      yield* Effect.sleep(5)
      // An exclusive checkout in the middle of the burst: one lane is drained and handed over.
      const inTx = yield* pool.withTransaction(Effect.map(pool.query<{ t: string }>("select 'tx' as t"), (r) => r.rows[0]!.t))
      assert.strictEqual(inTx, "tx")
      const results = yield* Fiber.join(burst)
      assert.deepStrictEqual(results.map((r) => r.n), Array.from({ length: 2000 }, (_, i) => i))
      assert.strictEqual(new Set(results.map((r) => r.pid)).size, 2)
      yield* Effect.sleep(PgPool.LANE_LINGER_MILLIS * 4)
      const stats = yield* pool.stats
      assert.strictEqual(stats.inUse, 0)
      assert.strictEqual(stats.idle, 2)
    }))

  it.live("lanes: an interrupted shared query gives its place back once the session has drained it", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 1, multiplex: true })
      const sleeper = yield* Effect.forkChild(pool.query("select pg_sleep(5)"))
      yield* Effect.sleep(100)
      yield* Fiber.interrupt(sleeper)
      const { rows } = yield* pool.query<{ n: number }>("select 1 as n")
      assert.deepStrictEqual(rows, [{ n: 1 }])
      // An exclusive checkout needs every lane place back: it would wait forever on a leaked one.
      const inTx = yield* pool.withTransaction(pool.query<{ t: string }>("select 'tx' as t")).pipe(Effect.timeout(3000))
      assert.deepStrictEqual(inTx.rows, [{ t: "tx" }])
      yield* Effect.sleep(PgPool.LANE_LINGER_MILLIS * 4)
      assert.strictEqual((yield* pool.stats).inUse, 0)
    }))

  it.live("transactions get an exclusive session: shared queries never run inside them", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 1, multiplex: true })
      const tx = yield* Effect.forkChild(pool.withTransaction(Effect.gen(function*() {
        yield* pool.query("set local application_name = 'inside-tx'")
        yield* Effect.sleep(200)
        return (yield* pool.query<{ a: string }>("select current_setting('application_name') as a")).rows[0]!.a
      })))
      yield* Effect.sleep(20)
      const seen = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        () => Effect.map(pool.query<{ a: string }>("select current_setting('application_name') as a"), (r) => r.rows[0]!.a),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(yield* Fiber.join(tx), "inside-tx")
      assert.isFalse(seen.includes("inside-tx"))
    }))

  it.live("streams get an exclusive session", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 2, multiplex: true })
      const rows = yield* pool.stream<{ n: number }>("select n from generate_series(1, 5000) n", [], { pageSize: 100 }).pipe(
        Stream.runCollect
      )
      assert.strictEqual(rows.length, 5000)
      assert.strictEqual(rows[4999]!.n, 5000)
    }))

  it.live("a cancel on a shared session never hits another caller's query", () =>
    Effect.gen(function*() {
      const watcher = yield* monitor()
      const pool = yield* makePool({ maxSize: 1, multiplex: true })
      const pid = yield* pidOf(pool)
      const sleeper = yield* Effect.forkChild(pool.query("select pg_sleep(30)"))
      yield* awaitActive(watcher, pid, "pg_sleep(30)")
      const others = yield* Effect.forkChild(
        Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (i) => Effect.map(pool.query<{ n: number }>("select $1::int as n", [i]), (r) => r.rows[0]!.n),
          { concurrency: "unbounded" }
        )
      )
      yield* Effect.sleep(20)
      yield* Fiber.interrupt(sleeper)
      const values = yield* Fiber.join(others)
      assert.deepStrictEqual(values, Array.from({ length: 50 }, (_, i) => i))
      // Short queries interrupted at random points among others: nobody else fails.
      for (let round = 0; round < 30; round++) {
        const victims = yield* Effect.forEach([0, 1, 2], () => Effect.forkChild(pool.query("select pg_sleep(0.001)")))
        const bystanders = yield* Effect.forkChild(
          Effect.forEach(
            [10, 11, 12, 13],
            (n) => Effect.map(pool.query<{ n: number }>("select $1::int as n", [n]), (r) => r.rows[0]!.n),
            { concurrency: "unbounded" }
          )
        )
        yield* Effect.sleep(round % 4)
        yield* Effect.forEach(victims, Fiber.interrupt)
        assert.deepStrictEqual(yield* Fiber.join(bystanders), [10, 11, 12, 13])
      }
    }), 60_000)
})
