/**
 * The proxy's pool of upstream connections: lent to one client at a time (for
 * a transaction in transaction mode, for the session in session mode),
 * opened lazily up to `maxSize`, queued with a timeout beyond it.
 *
 * **Details**
 *
 * - `acquire` hands out the most recently returned idle upstream (its caches
 *   are warm), else opens one if below `maxSize`, else queues the caller; a
 *   queued caller gets a `TimeoutError` after `acquireTimeout`, a connect
 *   failure gets the connect error. Callbacks, not Effects: a loan per
 *   transaction is the proxy's hot path.
 * - An upstream that ends (server restart, FATAL) leaves the pool at once;
 *   its holder is told through `Upstream.onClose`.
 * - The sweeper closes idle upstreams above `minSize` after `idleTimeout` and
 *   any upstream past `maxLifetime` (an idle one at once, a lent one when it
 *   comes back).
 * - Closing the pool fails the queued callers, terminates idle upstreams and
 *   terminates lent ones as they come back.
 *
 * @since 0.1.0
 */
import { ConnectionError, PgError, TimeoutError } from "../errors/PgError.ts"
import type { Upstream } from "./Upstream.ts"

/** Upstream connections at most, by default (PgBouncer's `default_pool_size`). */
export const DEFAULT_POOL_SIZE = 20
/** How long a client may wait for an upstream, by default. */
export const DEFAULT_ACQUIRE_TIMEOUT_MILLIS = 30_000
/** Idle upstreams above `minSize` are closed after this, by default. */
export const DEFAULT_IDLE_TIMEOUT_MILLIS = 60_000
/** Upstreams are replaced after this, by default. */
export const DEFAULT_MAX_LIFETIME_MILLIS = 30 * 60_000
/** How often the sweeper looks at idle upstreams. */
export const SWEEP_INTERVAL_MILLIS = 1_000

/**
 * @since 0.1.0
 */
export interface PoolSettings {
  readonly minSize: number
  readonly maxSize: number
  readonly acquireTimeoutMillis: number
  readonly idleTimeoutMillis: number
  readonly maxLifetimeMillis: number
}

/** A queued caller. */
interface Waiter {
  readonly callback: (result: Upstream | PgError) => void
  /** When it gives up (`Date.now()` milliseconds). */
  readonly deadline: number
  done: boolean
}

/**
 * Counters for the admin console and the metrics.
 *
 * @since 0.1.0
 */
export interface PoolCounters {
  loans: number
  opened: number
  closed: number
  connectFailures: number
  acquireTimeouts: number
  /** Total microseconds callers waited for an upstream. */
  waitMicros: number
}

/**
 * @since 0.1.0
 */
export class UpstreamPool {
  readonly settings: PoolSettings
  readonly #open: (callback: (result: Upstream | PgError) => void) => void
  readonly idle: Array<Upstream> = []
  readonly all = new Set<Upstream>()
  readonly #waiters: Array<Waiter> = []
  #opening = 0
  #closing = false
  readonly #sweeper: ReturnType<typeof setInterval>
  readonly counters: PoolCounters = { loans: 0, opened: 0, closed: 0, connectFailures: 0, acquireTimeouts: 0, waitMicros: 0 }
  /** The ParameterStatus set of the first upstream opened (what clients are told at start-up). */
  serverParameters: ReadonlyMap<string, string> | undefined = undefined
  /** The names of `serverParameters`, lower-cased: the parameters the server reports. */
  reportedParameters: ReadonlySet<string> = new Set()

  constructor(settings: PoolSettings, open: (callback: (result: Upstream | PgError) => void) => void) {
    this.settings = settings
    this.#open = open
    this.#sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MILLIS)
    this.#sweeper.unref()
  }

  /** Whether `acquire` would lend at once (an idle upstream, or room for one more). */
  get canLendNow(): boolean {
    return this.idle.length > 0 || this.all.size + this.#opening < this.settings.maxSize
  }

  get waiting(): number {
    return this.#waiters.length
  }

  get opening(): number {
    return this.#opening
  }

  /** Lends an upstream to `callback`, or fails it. Returns a function that withdraws a queued request. */
  acquire(callback: (result: Upstream | PgError) => void): () => void {
    if (this.#closing) {
      callback(closingError())
      return noop
    }
    const upstream = this.#takeIdle()
    if (upstream !== undefined) {
      this.#lend(upstream)
      callback(upstream)
      return noop
    }
    const started = performance.now()
    const waiter: Waiter = {
      callback: (result) => {
        this.counters.waitMicros += Math.round((performance.now() - started) * 1000)
        callback(result)
      },
      deadline: Date.now() + this.settings.acquireTimeoutMillis,
      done: false
    }
    this.#waiters.push(waiter)
    this.#armTimer()
    this.#grow()
    return () => {
      if (waiter.done) return
      waiter.done = true
      this.#remove(waiter)
    }
  }

  /**
   * One timer for the queue: waiters share one timeout, so the first in line
   * gives up first; the timer is set for it and moves on when it fires (a
   * timer per checkout would cost more than the checkout).
   */
  #timer: ReturnType<typeof setTimeout> | undefined = undefined

  #armTimer(): void {
    if (this.#timer !== undefined) return
    const first = this.#waiters.find((w) => !w.done)
    if (first === undefined) return
    this.#timer = setTimeout(this.#expire, Math.max(0, first.deadline - Date.now()))
  }

  readonly #expire = (): void => {
    this.#timer = undefined
    const now = Date.now()
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters[0]!
      if (!waiter.done && waiter.deadline > now) break
      this.#waiters.shift()
      if (waiter.done) continue
      waiter.done = true
      this.counters.acquireTimeouts++
      waiter.callback(
        new PgError({
          reason: new TimeoutError({
            message: `no upstream connection became free within ${this.settings.acquireTimeoutMillis} ms`,
            operation: "acquire",
            timeoutMillis: this.settings.acquireTimeoutMillis
          })
        })
      )
    }
    this.#armTimer()
  }

  /** Returns a clean upstream (idle, nothing outstanding). */
  release(upstream: Upstream): void {
    upstream.sink = undefined
    upstream.chunkEnd = undefined
    upstream.statements.endLoan()
    upstream.lastUsed = Date.now()
    if (upstream.closed !== undefined) return
    if (this.#closing || this.#expired(upstream, upstream.lastUsed)) {
      this.#close(upstream)
      this.#grow()
      return
    }
    if (upstream.socket.isPaused()) upstream.socket.resume()
    const waiter = this.#nextWaiter()
    if (waiter !== undefined) {
      this.#lend(upstream)
      waiter.callback(upstream)
      // What the waiter had queued goes to the server now, not at the end of the microtask: before the reply
      // of the client that returned the upstream (see `Relay`).
      upstream.flush()
      return
    }
    this.idle.push(upstream)
  }

  /** Closes an upstream whose state cannot be trusted (lent in a transaction, a desync, a pinned session). */
  discard(upstream: Upstream): void {
    upstream.sink = undefined
    upstream.chunkEnd = undefined
    this.#close(upstream)
    this.#grow()
  }

  /** Stops lending; idle upstreams are terminated, lent ones as they come back. */
  close(): void {
    this.#closing = true
    clearInterval(this.#sweeper)
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    for (const waiter of this.#waiters.splice(0)) {
      if (waiter.done) continue
      waiter.done = true
      waiter.callback(closingError())
    }
    for (const upstream of this.idle.splice(0)) this.#close(upstream)
  }

  /** Closes every upstream now, lent or not. */
  closeAll(): void {
    this.close()
    for (const upstream of [...this.all]) this.#close(upstream)
  }

  sweep(): void {
    const now = Date.now()
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const upstream = this.idle[i]!
      const idleTooLong = this.settings.idleTimeoutMillis > 0 && now - upstream.lastUsed >= this.settings.idleTimeoutMillis &&
        this.all.size > this.settings.minSize
      if (idleTooLong || this.#expired(upstream, now)) {
        this.idle.splice(i, 1)
        this.#close(upstream)
      }
    }
    this.#grow()
  }

  #expired(upstream: Upstream, now: number): boolean {
    return this.settings.maxLifetimeMillis > 0 && now - upstream.createdAt >= this.settings.maxLifetimeMillis
  }

  #takeIdle(): Upstream | undefined {
    while (this.idle.length > 0) {
      const upstream = this.idle.pop()!
      if (upstream.closed === undefined) return upstream
    }
    return undefined
  }

  #lend(upstream: Upstream): void {
    upstream.uses++
    this.counters.loans++
  }

  #nextWaiter(): Waiter | undefined {
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters.shift()!
      if (waiter.done) continue
      waiter.done = true
      return waiter
    }
    return undefined
  }

  #remove(waiter: Waiter): void {
    const i = this.#waiters.indexOf(waiter)
    if (i >= 0) this.#waiters.splice(i, 1)
  }

  #close(upstream: Upstream): void {
    if (!this.all.delete(upstream)) return
    const i = this.idle.indexOf(upstream)
    if (i >= 0) this.idle.splice(i, 1)
    this.counters.closed++
    upstream.onClose = undefined
    upstream.terminate()
  }

  /** Opens upstreams for queued callers (and up to `minSize`), within `maxSize`. */
  #grow(): void {
    if (this.#closing) return
    const forWaiters = this.#waiters.length - this.#opening
    const forMinimum = this.settings.minSize - this.all.size - this.#opening
    let toOpen = Math.min(Math.max(forWaiters, forMinimum), this.settings.maxSize - this.all.size - this.#opening)
    for (; toOpen > 0; toOpen--) {
      this.#opening++
      this.#open((result) => {
        this.#opening--
        if (result instanceof PgError) {
          this.counters.connectFailures++
          // The first queued caller learns why; the others keep waiting for a retry or their timeout.
          const waiter = this.#nextWaiter()
          if (waiter !== undefined) waiter.callback(result)
          return
        }
        this.counters.opened++
        if (this.#closing) {
          result.terminate()
          return
        }
        this.all.add(result)
        if (this.serverParameters === undefined) {
          this.serverParameters = new Map(result.parameters)
          this.reportedParameters = new Set([...result.parameters.keys()].map((name) => name.toLowerCase()))
        }
        result.onClose = () => {
          this.all.delete(result)
          const i = this.idle.indexOf(result)
          if (i >= 0) this.idle.splice(i, 1)
          this.counters.closed++
          this.#grow()
        }
        this.release(result)
      })
    }
  }
}

const noop = () => {}

const closingError = () =>
  new PgError({ reason: new ConnectionError({ message: "the proxy is shutting down", requestSent: false }) })
