import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scheduler from "effect/Scheduler"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as PgPool from "../../src/pool/Pool.ts"
import { servers } from "../support/Servers.ts"

// Checkouts interrupted at every step: with a yield after every operation, a checkout is interrupted at
// each step in turn, so one of the interruptions falls between any two operations of its way, in
// particular between taking something (a lease, a place on a lane, a count) and installing what gives
// it back.

let poolCounter = 0

const makePool = (options: Partial<PgPool.PoolOptions>) =>
  PgPool.make({
    host: servers().main.host,
    port: servers().main.port,
    user: "postgres",
    database: "postgres",
    name: `pool-interrupts-${++poolCounter}`,
    ...options
  })

/** Runs `effect` `steps` times, yielding after every operation, and interrupts run `n` after `n` yields. */
const interruptAtEachStep = <A, E>(effect: Effect.Effect<A, E>, steps: number) =>
  Effect.gen(function*() {
    for (let step = 0; step < steps; step++) {
      const fiber = yield* Effect.forkChild(effect.pipe(Effect.provideService(Scheduler.MaxOpsBeforeYield, 3)), {
        startImmediately: true
      })
      for (let i = 0; i < step; i++) yield* Effect.yieldNow
      yield* Fiber.interrupt(fiber)
    }
  })

/**
 * Closes `scope`, failing the test when that does not end within 5 s. Closing waits for every lease to come
 * back, so a lease never given back keeps it from ending; the close is detached so that it cannot hang the test.
 */
const assertCloses = (scope: Scope.Closeable) =>
  Effect.gen(function*() {
    const closing = yield* Effect.forkDetach(Scope.close(scope, Exit.void))
    const closed = yield* Effect.timeoutOption(Fiber.await(closing), 5000)
    assert.isTrue(Option.isSome(closed), "the pool did not close within 5 s")
  })

describe("PgPool: checkouts interrupted at any step", () => {
  for (const multiplex of [false, true]) {
    it.live(`an exclusive checkout gives its lease back (multiplex: ${multiplex}): the next one gets the session, the pool closes`, () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const pool = yield* Scope.provide(makePool({ maxSize: 1, multiplex, acquireTimeout: 3000 }), scope)
        yield* pool.query("select 1")
        yield* interruptAtEachStep(Effect.scoped(pool.acquire), 80)
        const inTx = yield* Effect.exit(pool.withTransaction(pool.query<{ t: string }>("select 'tx' as t")))
        assert.deepStrictEqual(Exit.map(inTx, (result) => result.rows), Exit.succeed([{ t: "tx" }]))
        yield* assertCloses(scope)
      }))
  }

  const operations: ReadonlyArray<readonly [string, (pool: PgPool.Pool) => Effect.Effect<unknown, unknown>]> = [
    ["query", (pool) => pool.query("select 1")],
    ["simple", (pool) => pool.simple("select 1")],
    ["withTransaction", (pool) => pool.withTransaction(pool.query("select 1"))],
    ["stream", (pool) => Stream.runDrain(pool.stream("select generate_series(1, 3)"))]
  ]
  for (const multiplex of [false, true]) {
    for (const [name, operation] of operations) {
      it.live(`${name} (multiplex: ${multiplex}) leaves the pool usable and closable`, () =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const pool = yield* Scope.provide(makePool({ maxSize: 1, multiplex, acquireTimeout: 3000 }), scope)
          yield* pool.query("select 1")
          yield* interruptAtEachStep(operation(pool), 100)
          const inTx = yield* Effect.exit(pool.withTransaction(pool.query<{ t: string }>("select 'tx' as t")))
          assert.deepStrictEqual(Exit.map(inTx, (result) => result.rows), Exit.succeed([{ t: "tx" }]))
          const { rows } = yield* pool.query<{ n: number }>("select 1 as n")
          assert.deepStrictEqual(rows, [{ n: 1 }])
          yield* assertCloses(scope)
        }))
    }
  }

  it.live("an exclusive checkout leaves no demand behind: a full pool's lane is not drained for it", () =>
    Effect.gen(function*() {
      const pool = yield* makePool({ maxSize: 1, multiplex: true })
      yield* pool.query("select 1")
      yield* interruptAtEachStep(Effect.scoped(pool.acquire), 40)
      const before = (yield* pool.stats).acquired
      // An exclusive checkout counted forever drains the only lane as soon as it opens: the query would
      // open lane after lane and never run.
      const query = yield* Effect.forkChild(pool.query<{ n: number }>("select 1 as n"))
      const done = yield* Effect.timeoutOption(Fiber.await(query), 5000)
      if (Option.isNone(done)) {
        const checkouts = (yield* pool.stats).acquired - before
        yield* Fiber.interrupt(query)
        assert.fail(`the query did not run within 5 s (${checkouts} checkouts for its lanes meanwhile)`)
      }
      assert.deepStrictEqual((yield* Fiber.join(query)).rows, [{ n: 1 }])
      assert.isAtMost((yield* pool.stats).acquired - before, 1)
    }))

  it.live("a shared checkout gives its place on the lane back: the lane is drained, the pool closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const pool = yield* Scope.provide(makePool({ maxSize: 1, multiplex: true, acquireTimeout: 3000 }), scope)
      yield* pool.query("select 1")
      // A place taken on the lane and never given back keeps the lane's session from going back to the pool.
      yield* interruptAtEachStep(Effect.scoped(pool.acquireShared), 40)
      // An exclusive checkout drains the only lane and needs its session back within acquireTimeout.
      const inTx = yield* Effect.exit(pool.withTransaction(pool.query<{ t: string }>("select 'tx' as t")))
      assert.deepStrictEqual(Exit.map(inTx, (result) => result.rows), Exit.succeed([{ t: "tx" }]))
      yield* assertCloses(scope)
    }))
})
