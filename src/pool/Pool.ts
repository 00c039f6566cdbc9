/**
 * `PgPool`: PostgreSQL sessions in an Effect `Pool` (`effect/Pool`).
 *
 * **Details**
 *
 * Sessions are opened lazily up to `maxSize` and kept at least at `minSize`.
 * A checkout either gets a session or fails: with a `TimeoutError`
 * (operation "acquire") after `acquireTimeout`, with the connect error when a
 * new session cannot be opened, or with a `ConnectionError` once the pool is
 * closing. It never waits forever.
 *
 * Sessions leave the pool (are "retired": closed, and replaced when needed):
 * - when the session engine closed or broke them (the server ended the
 *   connection, a cancel could not be confirmed and the drain timed out, a
 *   protocol error): the session tells the pool when it closes, and its slot
 *   goes to a replacement at once, also under a lease (the lease keeps the
 *   closed session until it is returned);
 * - after `maxLifetime` minus a random jitter of up to `maxLifetimeJitter`
 *   (so sessions opened together are not all replaced together); an idle
 *   session is retired by the sweeper, a leased one at its next checkout (a
 *   session is handed out at least once, so a very short lifetime means one
 *   use each, never a loop of connects);
 * - at the release of its `maxUses`-th checkout (on a multiplexed pool, once
 *   its lane has taken `maxUses` statements and they are done);
 * - after `idleTimeout` without use, while the pool is above `minSize`;
 * - at release, when the session does not settle (requests still in flight,
 *   a cancel pending) within `RELEASE_TIMEOUT_MILLIS`;
 * - at release, when the session was left inside a transaction and ROLLBACK
 *   fails or is not answered within `RELEASE_TIMEOUT_MILLIS` (the session is
 *   then broken, not cancelled: a silent connection gets no CancelRequest and
 *   no drain on top). The decision: a session returned with transaction status `T` or
 *   `E` gets a ROLLBACK (one round trip, cheaper than a reconnect); only when
 *   that does not bring it back to `I` is it retired. On a multiplexed pool a
 *   shared session found inside a transaction is retired at once, since other
 *   callers' statements may already be queued on it.
 *
 * A session idle for `healthCheckAfter` or longer is checked at checkout with
 * an empty simple query (one round trip, no plan, no statement) before it is
 * handed out; a session that fails the check, or does not answer it within
 * `HEALTH_CHECK_TIMEOUT_MILLIS` (it is then broken), is retired and the
 * checkout tries the next one.
 *
 * **Exclusive and shared checkouts.** `acquire` leases a session for the
 * caller alone. With `multiplex: true`, `acquireShared` may put up to
 * `multiplexConcurrency` callers on one session, and the one-statement helpers
 * `query`, `simple`, `batch`, `notify` go through lanes (see `Lanes.ts`):
 * another session is brought in once every lane carries `multiplexConcurrency`
 * callers, and beyond `maxSize` callers queue on the least loaded session.
 * Their requests are pipelined
 * by the session engine. Transactions, streams, COPY and LISTEN always get an
 * exclusive session: on a multiplexed pool the session is reserved (no new
 * shared lease can land on it) and the checkout waits until the shared
 * leases already on it are returned and the session has settled.
 *
 * **Cancellation on a shared session.** Interrupting a caller whose statement
 * shares a session runs the session's cancellation sequence for that request
 * only: a request not yet written is withdrawn; a request queued behind
 * others is not cancelled (its replies are dropped when they come); the
 * request at the head of the pipeline gets a CancelRequest after the grace
 * period, while the session holds back new writes. A cancel that lands after
 * its target finished can only hit the next pipelined statement, which the
 * session then runs again once (it failed with 57014 outside a transaction,
 * so nothing of it was kept): another caller never sees the cancel. If the
 * session cannot confirm the cancel and drain, it breaks and is retired.
 *
 * **Closing.** When the pool's Scope closes, new checkouts fail at once,
 * leases already out keep their sessions until they are returned (in-flight
 * work finishes), and then every session is closed with Terminate.
 *
 * **Transaction-pooler safe mode.** `transactionPooler: true` (for PgBouncer
 * with `pool_mode = transaction`) turns the statement cache off (every
 * statement uses the unnamed statement, so no statement name is assumed to
 * survive between transactions), asks for protocol 3.0 unless told otherwise
 * (see `sessionOptionsOf`), and refuses LISTEN, whose notifications go to
 * whichever server connection the pooler picked. Nothing else the pool does
 * relies on session state: transaction control, the health check and the
 * release check are single statements. PgBouncer refuses start-up
 * parameters it does not track: list the session's (`extra_float_digits`,
 * and `IntervalStyle` before PgBouncer 1.20) in `ignore_startup_parameters`.
 *
 * Spans and metrics: each session's operations are observed by the session
 * (`session/Observe.ts`), transactions and savepoints by `Transaction`, the
 * pool's own figures in `Metrics`. Deliberately not here: reconnecting LISTEN
 * streams, and forcing leases back when the pool closes.
 *
 * Where each part lives: this module holds the leases (checkout, reserve,
 * release checks, retiring) and assembles the service; `Sessions` opens a
 * session and takes it off the books, `Sweep` is the sweeper, `Lanes` the
 * multiplexed fast path, `Checks` the lifetime, health and release checks,
 * `Transaction` the transactions, `Settings` the options and `Metrics` the
 * figures.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as EffectPool from "effect/Pool"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { PgError, TimeoutError } from "../errors/PgError.ts"
import { LenderKey } from "../session/Lender.ts"
import type { QueryOptions, Row, Session, StreamOptions } from "../session/Session.ts"
import { closedError, expiredAt, healthCheck, settledWithin } from "./Checks.ts"
import { makeLanes } from "./Lanes.ts"
import { PoolMetrics, type RetireReason } from "./Metrics.ts"
import { configError, type Entry, type LeaseKind, PgPool, type Pool, RELEASE_TIMEOUT_MILLIS } from "./Settings.ts"
import { type PoolOptions, sessionOptionsOf, settingsOf } from "./Settings.ts"
import * as Sessions from "./Sessions.ts"
import * as Sweep from "./Sweep.ts"
import * as Transaction from "./Transaction.ts"

export * from "./Settings.ts"
/** The pool metrics (see `Metrics.ts`). @since 0.1.0 */
export { ACQUIRE_SPAN, metricsOf, type PoolMetricDefinitions, type PoolStats, type RetireReason } from "./Metrics.ts"

let poolCounter = 0

/**
 * Builds a pool for the Scope. Sessions are opened on demand (and `minSize`
 * of them in the background right away); closing the Scope drains and closes
 * the pool (see the module header).
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: PoolOptions): Effect.fn.Return<Pool, PgError, Scope.Scope> {
  const settings = settingsOf(options)
  if (settings instanceof PgError) return yield* Effect.fail(settings)
  const clock = yield* Clock.Clock
  const metrics = new PoolMetrics(settings.name, yield* Effect.context<never>(), settings.maxSize)
  const entries = new Map<Session, Entry>()
  /** Why a session was retired, when its retirer said (`retire`'s reason); else `retireReason` decides. */
  const retiredFor = new WeakMap<Session, RetireReason>()
  const transactionKey = Context.Service<Transaction.TransactionConnection>(
    `effect-pgwire/pool/Transaction/${++poolCounter}`
  )
  let closing = false

  // -- sessions (opened and taken off the books by `Sessions.ts`) --------------

  /** Sessions that closed or broke: their slots are freed by the fiber below (started once the pool exists). */
  const closedSessions = yield* Queue.unbounded<Session>()

  const openSession = Sessions.open({
    settings,
    sessionOptions: sessionOptionsOf(options),
    metrics,
    clock,
    entries,
    retiredFor,
    onClosed: (session) => Queue.offerUnsafe(closedSessions, session),
    isClosing: () => closing
  })

  const strategy = Sweep.strategy(settings, entries, () => clock.currentTimeMillisUnsafe())

  const pool = yield* EffectPool.makeWithStrategy({
    acquire: openSession,
    min: settings.minSize,
    max: settings.maxSize,
    // Sharing happens through lanes (`Lanes.ts`): every Pool lease is a session of its own.
    concurrency: 1,
    strategy
  })
  yield* Queue.take(closedSessions).pipe(
    Effect.flatMap((session) => {
      // Only a session the pool still holds and has not invalidated yet (a release check may have done it).
      const entry = entries.get(session)
      const item = entry === undefined ? undefined : itemOf(entry)
      return item === undefined || pool.state.invalidated.has(item) ? Effect.void : EffectPool.invalidate(pool, session)
    }),
    Effect.forever,
    Effect.forkScoped
  )

  // -- leases -----------------------------------------------------------------

  const itemOf = (entry: Entry): EffectPool.PoolItem<Session, PgError> | undefined => {
    if (entry.item !== undefined) return entry.item
    for (const item of pool.state.items) {
      if (item.exit._tag === "Success" && item.exit.value === entry.session) {
        entry.item = item
        return item
      }
    }
    return undefined
  }

  const afterRelease = (entry: Entry): void => {
    entry.lastReleased = clock.currentTimeMillisUnsafe()
    const item = itemOf(entry)
    if (entry.busy && (item === undefined || item.refCount === 0)) {
      entry.busy = false
      metrics.inUse--
      metrics.publish()
    }
    for (const wake of Array.from(entry.releaseWaiters)) wake()
  }

  /** Waits until `entry`'s only lease is the caller's. */
  const awaitSoleLease = (entry: Entry): Effect.Effect<void> =>
    Effect.callback<void>((resume) => {
      const check = () => {
        const item = itemOf(entry)
        if (item === undefined || item.refCount <= 1 || !entries.has(entry.session)) {
          entry.releaseWaiters.delete(check)
          resume(Effect.void)
        }
      }
      entry.releaseWaiters.add(check)
      check()
      return Effect.sync(() => entry.releaseWaiters.delete(check))
    })

  const reserveIn = (entry: Entry, scope: Scope.Scope): Effect.Effect<void> =>
    Effect.gen(function*() {
      if (!settings.multiplex) return
      yield* Scope.provide(EffectPool.reserve(pool, entry.session), scope)
      // A lane on this session takes no new work and is returned once its callers are done.
      closeOf(entry)
      yield* awaitSoleLease(entry)
      yield* entry.session[LenderKey].settled
    })

  /** At release: retire what must not be reused, roll back what was left open. */
  const releaseCheck = (entry: Entry, exclusive: boolean): Effect.Effect<void> =>
    Effect.gen(function*() {
      const session = entry.session
      let retire = (yield* session.isClosed) || entry.uses >= settings.maxUses
      if (!retire && exclusive) {
        retire = !(yield* settledWithin(session))
        if (!retire && (yield* session.transactionStatus) !== "I") {
          // Bounded by breaking the session, not by interrupting ROLLBACK: on a silent connection an interruption
          // would run the cancel sequence (a CancelRequest, then the drain) and hold the release that much longer.
          const rolledBack = yield* Effect.exit(
            Transaction.endWithin(session, Transaction.rollback(session), "ROLLBACK at release", RELEASE_TIMEOUT_MILLIS)
          )
          retire = Exit.isFailure(rolledBack) || (yield* session.isClosed) || (yield* session.transactionStatus) !== "I"
        }
      } else if (!retire) {
        retire = (yield* session.transactionStatus) !== "I"
      }
      if (retire) yield* EffectPool.invalidate(pool, session)
    })

  // The Pool interrupts the borrowers still waiting when it shuts down: once
  // the pool is closing, that is the typed "pool is closed" failure instead.
  const getFromPool: Effect.Effect<Session, PgError, Scope.Scope> = Effect.catchCause(
    EffectPool.get(pool),
    (cause) => closing && Cause.hasInterruptsOnly(cause) ? Effect.fail(closedError()) : Effect.failCause(cause)
  )

  /**
   * One checkout attempt into a fresh lease scope. `undefined` when the
   * session it got was unusable (it is retired and the lease returned). The
   * lease scope is a child of the caller's: a lease whose result never
   * reaches the caller (interrupted on its way back, or beaten by the acquire
   * timeout once taken) is still returned when the caller's Scope closes.
   */
  const leaseOnce = (
    kind: LeaseKind,
    callerScope: Scope.Scope
  ): Effect.Effect<readonly [Session, Scope.Closeable] | undefined, PgError> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Scope.fork(callerScope), (scope) => {
        let leased: Entry | undefined
        const exclusive = kind === "exclusive" || !settings.multiplex
        const body = Effect.gen(function*() {
          // Added first, so it runs last: after the Pool has taken the lease back.
          yield* Scope.addFinalizer(scope, Effect.sync(() => leased !== undefined && afterRelease(leased)))
          const session = yield* restore(Scope.provide(getFromPool, scope))
          const entry = entries.get(session)
          const reject = Effect.andThen(
            EffectPool.invalidate(pool, session),
            Effect.as(Scope.close(scope, Exit.void), undefined)
          )
          if (entry === undefined) return yield* reject
          leased = entry
          if (!entry.busy) {
            entry.busy = true
            metrics.inUse++
            metrics.publish()
          }
          if (
            (yield* session.isClosed) || expiredAt(entry, clock.currentTimeMillisUnsafe()) ||
            entry.uses >= settings.maxUses
          ) return yield* reject
          // A lane's lease is not a use: each caller it takes is (see `Lanes.ts`).
          if (kind === "exclusive" || !settings.multiplex) entry.uses++
          if (kind === "exclusive") yield* restore(reserveIn(entry, scope))
          const idleFor = clock.currentTimeMillisUnsafe() - entry.lastReleased
          const sole = (itemOf(entry)?.refCount ?? 1) <= 1
          if (sole && idleFor >= settings.healthCheckAfter) {
            const checked = yield* Effect.exit(restore(healthCheck(session)))
            if (Exit.isFailure(checked)) {
              if (Exit.hasInterrupts(checked)) return yield* Effect.failCause(checked.cause)
              return yield* reject
            }
          }
          yield* Scope.addFinalizer(scope, releaseCheck(entry, exclusive))
          return [session, scope] as const
        })
        return body.pipe(Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))))
      })
    )

  const acquireTimeoutError = Effect.suspend(() => {
    metrics.count("timedOut")
    return Effect.fail(
      new PgError({
        reason: new TimeoutError({
          message: `no session became available within ${settings.acquireTimeout} ms`,
          operation: "acquire",
          timeoutMillis: settings.acquireTimeout
        })
      })
    )
  })

  const checkout = (kind: LeaseKind): Effect.Effect<Session, PgError, Scope.Scope> =>
    metrics.traceCheckout(Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        if (closing) return yield* Effect.fail(closedError())
        const callerScope = yield* Scope.Scope
        const waitStarted = performance.now()
        metrics.waiting++
        metrics.publish()
        const attempt: Effect.Effect<readonly [Session, Scope.Closeable], PgError> = Effect.flatMap(
          leaseOnce(kind, callerScope),
          (leased) => leased === undefined ? attempt : Effect.succeed(leased)
        )
        const timed = attempt.pipe(
          Effect.timeoutOrElse({ duration: settings.acquireTimeout, orElse: () => acquireTimeoutError })
        )
        // Fast path: a session is free and nobody queues for one, so this checkout cannot wait
        // (only the health check could, and it has its own timeout): no timer, no race.
        const free = pool.state.waiters.size === 0 && pool.state.availableHead?.exit._tag === "Success" &&
          (kind === "shared" || !settings.multiplex)
        const leased = yield* restore(
          free ? Effect.flatMap(leaseOnce(kind, callerScope), (first) => first === undefined ? timed : Effect.succeed(first)) : timed
        ).pipe(
          Effect.ensuring(Effect.sync(() => {
            metrics.waiting--
            metrics.publish()
          }))
        )
        const leasedAt = performance.now()
        metrics.waited(leasedAt - waitStarted)
        yield* Scope.addFinalizer(leased[1], Effect.sync(() => metrics.used(performance.now() - leasedAt)))
        metrics.count("acquired")
        return leased[0]
      })
    ))

  // -- lanes: the multiplexed fast path (see `Lanes.ts`) -----------------------

  const {
    acquireShared: acquireLane,
    close: closeLanes,
    closeOf,
    demandExclusive,
    exclusiveServed,
    onLane,
    openInitial,
    query: laneQuery
  } = makeLanes({
    settings,
    pool,
    entries,
    clock,
    // A Pool lease of its own for each new lane.
    lease: checkout("shared"),
    transactionKey
  })
  // Runs before the Pool's own shutdown (finalizers run in reverse order).
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      closing = true
      closeLanes()
    })
  )

  /**
   * An exclusive checkout. While exclusive checkouts wait on a full pool,
   * lanes are drained for them (see `Lanes.ts`), so an exclusive checkout is
   * never starved by shared traffic. The checkout is counted and its uncount
   * installed with no interruptible step in between: a count left behind
   * would drain every lane of a full pool as soon as it opens.
   */
  const acquire = Effect.uninterruptibleMask((restore) =>
    Effect.suspend(() => {
      demandExclusive()
      return Effect.ensuring(restore(checkout("exclusive")), exclusiveServed)
    })
  )
  /** A shared session: a lane (multiplexed), released with the caller's Scope. */
  const acquireShared: Effect.Effect<Session, PgError, Scope.Scope> = settings.multiplex
    ? acquireLane
    : checkout("shared")

  const reserve = (session: Session): Effect.Effect<void, PgError, Scope.Scope> =>
    Effect.gen(function*() {
      const entry = entries.get(session)
      if (entry === undefined || !settings.multiplex) return
      yield* reserveIn(entry, yield* Scope.Scope)
    })

  const retire = (session: Session, reason?: RetireReason): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (reason !== undefined && !retiredFor.has(session)) retiredFor.set(session, reason)
      return EffectPool.invalidate(pool, session)
    })

  const retireAll = (reason?: RetireReason): Effect.Effect<number> =>
    Effect.suspend(() => {
      const all = Array.from(entries.keys())
      return Effect.as(Effect.forEach(all, (session) => retire(session, reason), { discard: true }), all.length)
    })

  // -- helpers ----------------------------------------------------------------

  const currentTransaction = Effect.serviceOption(transactionKey)

  /** Runs `f` on the transaction's session, or on a session checked out for it. */
  const onSession = <A, E>(
    lease: Effect.Effect<Session, PgError, Scope.Scope>,
    f: (session: Session) => Effect.Effect<A, E>
  ): Effect.Effect<A, E | PgError> =>
    Effect.flatMap(
      currentTransaction,
      (tx) =>
        Option.isSome(tx)
          ? f(tx.value.session)
          : lease === acquireShared && settings.multiplex
          ? onLane(f)
          : Effect.scoped(Effect.flatMap(lease, f))
    )

  const withSession = <A, E, R>(f: (session: Session) => Effect.Effect<A, E, R>): Effect.Effect<A, E | PgError, R> =>
    Effect.flatMap(
      currentTransaction,
      (tx) => Option.isSome(tx) ? f(tx.value.session) : Effect.scoped(Effect.flatMap(acquire, f))
    )

  const streamOn = <A>(f: (session: Session) => Stream.Stream<A, PgError>): Stream.Stream<A, PgError> =>
    Stream.unwrap(
      Effect.flatMap(
        currentTransaction,
        (tx) => Option.isSome(tx) ? Effect.succeed(f(tx.value.session)) : Effect.map(acquire, f)
      )
    )

  const transactions = Transaction.makeWithTransaction({ key: transactionKey, acquire })

  const service: Pool = {
    options,
    acquire,
    acquireShared,
    reserve,
    retire,
    retireAll,
    withSession,
    query: <R = Row>(sql: string, params?: ReadonlyArray<unknown>, queryOptions?: QueryOptions) =>
      settings.multiplex
        ? laneQuery<R>(sql, params, queryOptions)
        : onSession(acquireShared, (session) => session.query<R>(sql, params, queryOptions)),
    simple: (sql, queryOptions) => onSession(acquireShared, (session) => session.simple(sql, queryOptions)),
    batch: (items, queryOptions) => onSession(acquireShared, (session) => session.batch(items, queryOptions)),
    stream: <R = Row>(sql: string, params?: ReadonlyArray<unknown>, streamOptions?: StreamOptions) =>
      streamOn((session) => session.stream<R>(sql, params, streamOptions)),
    copyFrom: (sql) =>
      Sink.unwrap(
        Effect.flatMap(
          currentTransaction,
          (tx) =>
            Option.isSome(tx)
              ? Effect.succeed(tx.value.session.copyFrom(sql))
              : Effect.map(acquire, (session) => session.copyFrom(sql))
        )
      ),
    copyTo: (sql) => streamOn((session) => session.copyTo(sql)),
    listen: (channel) =>
      options.transactionPooler === true
        ? Effect.fail(
          configError(
            "LISTEN needs a session of its own: behind a transaction pooler notifications go to whichever server " +
              "connection the pooler picked (connect this listener directly, or through a session-mode pool)",
            "transactionPooler"
          )
        )
        : Effect.flatMap(acquire, (session) => session.listen(channel)),
    notify: (channel, payload) => onSession(acquireShared, (session) => session.notify(channel, payload)),
    withTransaction: transactions,
    currentTransaction,
    stats: Effect.sync(() => metrics.snapshot())
  }
  // A multiplexed pool keeps its first minSize sessions as lanes from the start, so the
  // first burst of callers takes the fast path too.
  if (settings.multiplex && settings.minSize > 0) {
    yield* Effect.forkScoped(openInitial)
  }
  return service
})

/**
 * A Layer providing `PgPool` for its lifetime.
 *
 * @since 0.1.0
 */
export const layer = (options: PoolOptions): Layer.Layer<PgPool, PgError> => Layer.effect(PgPool, make(options))
