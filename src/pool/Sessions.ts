/**
 * A pooled session's entry into and exit from the pool's books: what the
 * Effect `Pool` acquires. Opening connects a session, gives it its `Entry`
 * (its lifetime, minus a random jitter of up to `maxLifetimeJitter` so
 * sessions opened together are not all replaced together) and counts it;
 * a session that closes or breaks on its own is reported at once, leased or
 * not. When the Pool lets the session go, its finalizer takes it off the
 * books: size and in-use counts, the reason it was retired, and the exclusive
 * checkouts waiting on it are woken.
 *
 * @since 0.1.0
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import type { PgError } from "../errors/PgError.ts"
import { LenderKey } from "../session/Lender.ts"
import * as PgSession from "../session/Session.ts"
import type { Session, SessionOptions } from "../session/Session.ts"
import { type PoolMetrics, type RetireReason, retireReason } from "./Metrics.ts"
import type { Entry, Settings } from "./Settings.ts"

/**
 * What opening a session needs from its pool.
 *
 * @since 0.1.0
 */
export interface OpenOptions {
  readonly settings: Settings
  readonly sessionOptions: SessionOptions
  readonly metrics: PoolMetrics
  readonly clock: Clock.Clock
  /** The pool's sessions: an opened session is added, a retired one removed. */
  readonly entries: Map<Session, Entry>
  /** Why a session was retired, when its retirer said; else `retireReason` decides. */
  readonly retiredFor: WeakMap<Session, RetireReason>
  /** Called once when the session closes or breaks (the pool then frees its slot). */
  readonly onClosed: (session: Session) => void
  /** Whether the pool is closing (a session retired then was retired for that). */
  readonly isClosing: () => boolean
}

/**
 * Opens a session into the pool's books; the Scope it is given (the Pool's
 * for this item) takes it off them when it closes.
 *
 * @since 0.1.0
 */
export const open = (options: OpenOptions): Effect.Effect<Session, PgError, Scope.Scope> => {
  const { clock, entries, isClosing, metrics, onClosed, retiredFor, sessionOptions, settings } = options
  return Effect.gen(function*() {
    const connectStarted = performance.now()
    const session = yield* metrics.traceOpen(PgSession.connect(sessionOptions))
    const now = clock.currentTimeMillisUnsafe()
    const jitter = (yield* Random.next) * settings.maxLifetimeJitter
    const entry: Entry = {
      session,
      retireAt: now + settings.maxLifetime - jitter,
      lastReleased: now,
      uses: 0,
      item: undefined,
      busy: false,
      releaseWaiters: new Set()
    }
    entries.set(session, entry)
    // A session that closes or breaks, leased or not, gives its slot up at once: whoever waits gets a
    // replacement, while a lease keeps the closed session until it is returned.
    session[LenderKey].onClose(() => onClosed(session))
    metrics.size++
    metrics.opened(performance.now() - connectStarted)
    metrics.publish()
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        entries.delete(session)
        metrics.size--
        if (entry.busy) {
          entry.busy = false
          metrics.inUse--
        }
        metrics.retire(retiredFor.get(session) ?? retireReason({
          closing: isClosing(),
          open: session[LenderKey].isOpen(),
          now: clock.currentTimeMillisUnsafe(),
          retireAt: entry.retireAt,
          uses: entry.uses,
          maxUses: settings.maxUses,
          idleSince: entry.lastReleased,
          idleTimeout: settings.idleTimeout
        }))
        metrics.publish()
        for (const wake of Array.from(entry.releaseWaiters)) wake()
      })
    )
    return session
  })
}
