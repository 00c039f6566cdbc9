/**
 * The pool's sweeper: every `sweepIntervalOf(settings)` it retires the idle
 * sessions past their lifetime, those idle longer than `idleTimeout` while
 * more than `minSize` are open, and those that closed while idle. Leased
 * sessions are left alone (a lease keeps its session until it is returned).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as EffectPool from "effect/Pool"
import type { PgError } from "../errors/PgError.ts"
import type { Session } from "../session/Session.ts"
import { type Entry, type Settings, sweepIntervalOf } from "./Settings.ts"

/** One pass over the pool's idle sessions. */
const sweep = (
  pool: EffectPool.Pool<Session, PgError>,
  settings: Settings,
  entries: ReadonlyMap<Session, Entry>,
  now: number
): Effect.Effect<void> =>
  Effect.gen(function*() {
    let active = pool.state.items.size - pool.state.invalidated.size
    const retire: Array<Session> = []
    for (const item of Array.from(pool.state.items)) {
      if (item.exit._tag !== "Success" || item.refCount > 0 || pool.state.invalidated.has(item)) continue
      const session = item.exit.value
      const entry = entries.get(session)
      if (entry === undefined) continue
      const expired = now >= entry.retireAt
      const idleTooLong = now - item.idleSince >= settings.idleTimeout && active > settings.minSize
      if (expired || idleTooLong || (yield* session.isClosed)) {
        retire.push(session)
        active--
      }
    }
    for (const session of retire) yield* EffectPool.invalidate(pool, session)
  })

/**
 * The strategy given to Effect's `Pool`: the sweeper runs forever in the
 * pool's scope; acquiring and reclaiming do nothing more.
 *
 * @since 0.1.0
 */
export const strategy = (
  settings: Settings,
  entries: ReadonlyMap<Session, Entry>,
  now: () => number
): EffectPool.Strategy<Session, PgError> => {
  const interval = sweepIntervalOf(settings)
  return {
    run: (pool) => Effect.forever(Effect.delay(Effect.suspend(() => sweep(pool, settings, entries, now())), interval)),
    onAcquire: () => Effect.void,
    reclaim: () => Effect.undefined
  }
}
