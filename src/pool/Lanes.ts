/**
 * The lanes of a multiplexed pool: the fast path of one-statement callers.
 *
 * **Details**
 *
 * With `multiplex`, one-statement callers do not each check a session out of
 * the Effect Pool. The pool leases sessions to itself ("lanes", one shared
 * lease each) and hands callers the least loaded lane synchronously; the
 * session's own FIFO pipelines them. A new lane is opened (up to `maxSize`)
 * when every lane already carries `multiplexConcurrency` callers; once all
 * sessions are lanes, callers queue on the least loaded one. A lane whose
 * session is reserved for an exclusive checkout, broken, expired, or idle for
 * `LANE_LINGER_MILLIS` takes no new work and is returned when its callers
 * are done, so exclusive checkouts, the lifetime and the idle timeout work as
 * without lanes. While exclusive checkouts wait on a full pool, lanes are
 * drained for them (see `demandExclusive`).
 *
 * The pool gives the lanes their leases (`lease`, a shared checkout) and tells
 * them when a session is reserved (`closeOf`) and when the pool closes
 * (`close`); checkouts, release checks and retiring stay in `Pool.ts`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Clock from "effect/Clock"
import type * as EffectPool from "effect/Pool"
import * as Scope from "effect/Scope"
import type { PgError } from "../errors/PgError.ts"
import { LenderKey } from "../session/Lender.ts"
import type * as PgSession from "../session/Session.ts"
import type { QueryOptions, Session } from "../session/Session.ts"
import { closedError, expiredAt } from "./Checks.ts"
import { type Entry, LANE_LINGER_MILLIS, type Settings } from "./Settings.ts"
import type { TransactionConnection } from "./Transaction.ts"

interface Lane {
  readonly entry: Entry
  readonly scope: Scope.Closeable
  inflight: number
  /** Takes no new callers; returned to the pool when `inflight` reaches 0. */
  closed: boolean
  idleTimer: ReturnType<typeof setTimeout> | undefined
  /** Counts a query in while the session creates it, and out once it is finished (`Session.queryTracked`). */
  readonly tracker: PgSession.QueryTracker
}

/**
 * What the lanes need from their pool.
 *
 * @since 0.1.0
 */
export interface LanesOptions {
  readonly settings: Settings
  readonly pool: EffectPool.Pool<Session, PgError>
  readonly entries: ReadonlyMap<Session, Entry>
  readonly clock: Clock.Clock
  /** A Pool lease of its own for a new lane (a shared checkout), released with the Scope it is given. */
  readonly lease: Effect.Effect<Session, PgError, Scope.Scope>
  /** The pool's transaction key: `query` inside a transaction runs on the transaction's session. */
  readonly transactionKey: Context.Key<TransactionConnection, TransactionConnection>
}

/**
 * The lanes as the pool uses them.
 *
 * @since 0.1.0
 */
export interface Lanes {
  /**
   * `query` on a multiplexed pool: no checkout, no Scope, no wrapper per
   * statement; the session counts the query in and out of the lane itself
   * (`queryTracked`). With no lane free, the caller opens one or waits, holding
   * nothing, and tries again.
   */
  readonly query: <R>(
    sql: string,
    params: ReadonlyArray<unknown> | undefined,
    queryOptions: QueryOptions | undefined
  ) => Effect.Effect<PgSession.QueryResult<R>, PgError>
  /** Runs a one-statement operation on a lane (the multiplexed fast path). */
  readonly onLane: <A, E>(f: (session: Session) => Effect.Effect<A, E>) => Effect.Effect<A, E | PgError>
  /** A place on a lane for the caller's Scope: its session, shared with the lane's other callers. */
  readonly acquireShared: Effect.Effect<Session, PgError, Scope.Scope>
  /** Opens the first lanes (up to `minSize`), so the first burst of callers takes the fast path too. */
  readonly openInitial: Effect.Effect<void>
  /** `entry`'s session is reserved for an exclusive checkout: its lane takes no new work and goes back once done. */
  readonly closeOf: (entry: Entry) => void
  /** The pool is closing: lanes take no new callers, go back once done, and waiting callers fail. */
  readonly close: () => void
  /** An exclusive checkout starts waiting: lanes are drained for it while the pool is full. */
  readonly demandExclusive: () => void
  /** Ends what `demandExclusive` started, once the checkout has its session or has failed. */
  readonly exclusiveServed: Effect.Effect<void>
}

/**
 * The lanes of one pool (the module header says how they work).
 *
 * @since 0.1.0
 */
export const makeLanes = (options: LanesOptions): Lanes => {
  const { clock, entries, lease, pool, settings, transactionKey } = options
  const lanes: Array<Lane> = []
  let lanesOpening = 0
  /**
   * Exclusive checkouts waiting now. While there are more of them than lanes
   * being drained and the pool is full, lanes are drained (take no new callers,
   * go back once their callers are done), so an exclusive checkout is never
   * starved by shared traffic.
   */
  let exclusiveDemand = 0
  let closing = false

  /** Drains lanes for the exclusive checkouts waiting on a full pool (see `exclusiveDemand`). */
  const yieldLanes = (): void => {
    if (!settings.multiplex || exclusiveDemand === 0) return
    let draining = 0
    for (const lane of lanes) if (lane.closed) draining++
    while (
      exclusiveDemand > draining && pool.state.availableHead === undefined && pool.state.items.size >= settings.maxSize
    ) {
      let least: Lane | undefined
      for (const lane of lanes) {
        if (!lane.closed && (least === undefined || lane.inflight < least.inflight)) least = lane
      }
      if (least === undefined) return
      least.closed = true
      draining++
      if (least.inflight === 0) releaseLane(least)
    }
  }
  /** Callers waiting for a place on a lane, first come first served (cancelled ones stay as undefined). */
  let laneWaiters: Array<(() => void) | undefined> = []
  let laneWaitersHead = 0

  /**
   * Wakes waiting callers to try again: `count` of them (the places that just
   * became free), or all once every session is a lane and none is being opened
   * (they then queue on the least loaded lane). Waking only as many as can be
   * served keeps a burst of thousands of callers from retrying on every change.
   */
  const wakeLaneWaiters = (count = settings.concurrency): void => {
    const saturated = lanesOpening === 0 && lanes.length >= settings.maxSize
    let n = saturated || closing ? Infinity : count
    while (n > 0 && laneWaitersHead < laneWaiters.length) {
      const wake = laneWaiters[laneWaitersHead]
      laneWaiters[laneWaitersHead++] = undefined
      if (wake === undefined) continue
      n--
      wake()
    }
    if (laneWaitersHead === laneWaiters.length) {
      laneWaiters = []
      laneWaitersHead = 0
    }
  }

  const releaseLane = (lane: Lane): void => {
    lane.closed = true
    if (lane.idleTimer !== undefined) clearTimeout(lane.idleTimer)
    lane.idleTimer = undefined
    const i = lanes.indexOf(lane)
    if (i >= 0) lanes.splice(i, 1)
    Effect.runFork(Scope.close(lane.scope, Exit.void))
    wakeLaneWaiters()
  }

  const closeOf = (entry: Entry): void => {
    for (const lane of lanes) {
      if (lane.entry !== entry) continue
      lane.closed = true
      if (lane.inflight === 0) releaseLane(lane)
    }
  }

  /** The least loaded lane that may take a caller, or undefined when a new lane should be opened. */
  const pickLane = (): Lane | undefined => {
    const now = clock.currentTimeMillisUnsafe()
    let best: Lane | undefined
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i]!
      if (!lane.closed && (!lane.entry.session[LenderKey].isOpen() || expiredAt(lane.entry, now) || closing)) {
        lane.closed = true
        if (lane.inflight === 0) {
          releaseLane(lane)
          i--
          continue
        }
      }
      if (lane.closed) continue
      if (best === undefined || lane.inflight < best.inflight) best = lane
    }
    // The best lane is full: bring in another session if there is room, or wait for the
    // lanes being opened, rather than pile everyone on the first lane of a burst.
    if (
      best !== undefined && best.inflight >= settings.concurrency &&
      (lanes.length + lanesOpening < settings.maxSize || lanesOpening > 0)
    ) {
      return undefined
    }
    return best
  }

  // Opens a lane unless every session already is one or is being opened as one: the minSize
  // opener at start and the first callers race here, and one lane too many would wait on the
  // full pool (callers then trickle in one per answer, and the extra lease times out).
  const openLane: Effect.Effect<void, PgError> = Effect.uninterruptibleMask((restore) =>
    Effect.suspend(() => {
      if (lanes.length + lanesOpening >= settings.maxSize) return Effect.void
      lanesOpening++
      return Effect.flatMap(Scope.make(), (scope) =>
        restore(Scope.provide(lease, scope)).pipe(
          Effect.map((session) => {
            const entry = entries.get(session)
            if (entry === undefined || closing) {
              Effect.runFork(Scope.close(scope, Exit.void))
              return
            }
            const lane: Lane = {
              entry,
              scope,
              inflight: 0,
              closed: false,
              idleTimer: undefined,
              tracker: {
                start: () => enterLane(lane),
                finish: () => laneDone(lane)
              }
            }
            lanes.push(lane)
            yieldLanes()
          }),
          Effect.onError(() => Scope.close(scope, Exit.void)),
          Effect.ensuring(Effect.sync(() => {
            lanesOpening--
            wakeLaneWaiters()
          }))
        ))
    })
  )

  const awaitLaneChange: Effect.Effect<void> = Effect.callback<void>((resume) => {
    const wake = () => resume(Effect.void)
    const at = laneWaiters.length
    laneWaiters.push(wake)
    return Effect.sync(() => {
      if (laneWaiters[at] === wake) laneWaiters[at] = undefined
    })
  })

  const laneDone = (lane: Lane): void => {
    lane.inflight--
    if (exclusiveDemand > 0) yieldLanes()
    if (laneWaitersHead < laneWaiters.length && lane.inflight < settings.concurrency) wakeLaneWaiters(1)
    if (lane.inflight > 0) return
    if (lane.closed || closing) return releaseLane(lane)
    if (lane.idleTimer === undefined) {
      lane.idleTimer = setTimeout(() => {
        lane.idleTimer = undefined
        if (lane.inflight === 0) releaseLane(lane)
      }, LANE_LINGER_MILLIS)
    }
  }

  /**
   * A caller takes a place on `lane`: one more in flight, one more use of its
   * session (a lane whose session has served `maxUses` takes no new callers).
   */
  const enterLane = (lane: Lane): void => {
    lane.inflight++
    if (lane.idleTimer !== undefined) {
      clearTimeout(lane.idleTimer)
      lane.idleTimer = undefined
    }
    if (++lane.entry.uses >= settings.maxUses) lane.closed = true
  }

  /**
   * Takes a place on a lane (opening one, or waiting for one, when needed).
   * Run uninterruptibly, with only the opening or waiting restored: the place
   * is taken and handed to the caller with no interruptible step in between,
   * so that the caller can install its release before an interruption lands
   * (a place never given back keeps the lane's session from going back to
   * the pool, for an exclusive checkout or when the pool closes).
   */
  const acquireLane = (restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) =>
    Effect.suspend((): Effect.Effect<Lane, PgError> => {
      const lane = pickLane()
      if (lane !== undefined) {
        enterLane(lane)
        return Effect.succeed(lane)
      }
      if (closing) return Effect.fail(closedError())
      const opened = lanes.length + lanesOpening < settings.maxSize ? openLane : awaitLaneChange
      return Effect.andThen(restore(opened), acquireLane(restore))
    })

  const query = <R>(
    sql: string,
    params: ReadonlyArray<unknown> | undefined,
    queryOptions: QueryOptions | undefined
  ): Effect.Effect<PgSession.QueryResult<R>, PgError> =>
    Effect.withFiber((fiber) => {
      const tx = Context.getOrUndefined(fiber.context, transactionKey)
      if (tx !== undefined) return tx.session.query<R>(sql, params, queryOptions)
      const lane = pickLane()
      if (lane !== undefined) return lane.entry.session[LenderKey].queryTracked<R>(sql, params, queryOptions, lane.tracker)
      if (closing) return Effect.fail(closedError())
      const retry = Effect.suspend(() => query<R>(sql, params, queryOptions))
      if (lanes.length + lanesOpening < settings.maxSize) return Effect.andThen(openLane, retry)
      return Effect.andThen(awaitLaneChange, retry)
    })

  const onLane = <A, E>(f: (session: Session) => Effect.Effect<A, E>): Effect.Effect<A, E | PgError> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        // The common case: a lane is there; the place is taken and its release installed
        // without an interruptible step in between.
        const lane = pickLane()
        if (lane !== undefined) {
          enterLane(lane)
          return Effect.onExit(restore(f(lane.entry.session)), () => Effect.sync(() => laneDone(lane)))
        }
        return Effect.flatMap(
          acquireLane(restore),
          (taken) => Effect.onExit(restore(f(taken.entry.session)), () => Effect.sync(() => laneDone(taken)))
        )
      })
    )

  const acquireShared: Effect.Effect<Session, PgError, Scope.Scope> = Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(acquireLane(restore), (lane) =>
      Effect.as(Effect.flatMap(Effect.scope, (scope) => Scope.addFinalizer(scope, Effect.sync(() => laneDone(lane)))), lane.entry.session))
  )

  const openInitial: Effect.Effect<void> = Effect.forEach(
    Array.from({ length: Math.min(settings.minSize, settings.maxSize) }),
    () => Effect.ignore(openLane),
    { concurrency: "unbounded", discard: true }
  )

  const close = (): void => {
    closing = true
    for (const lane of lanes.slice()) {
      lane.closed = true
      if (lane.inflight === 0) releaseLane(lane)
    }
    wakeLaneWaiters()
  }

  const demandExclusive = (): void => {
    exclusiveDemand++
    yieldLanes()
  }

  const exclusiveServed = Effect.sync(() => {
    exclusiveDemand--
  })

  return { query, onLane, acquireShared, openInitial, closeOf, close, demandExclusive, exclusiveServed }
}
