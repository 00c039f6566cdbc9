/**
 * A pool's vocabulary: its defaults (every timeout a named constant), its
 * options, the `Pool` service and its tag, and the settings `make` derives from
 * the options.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as EffectPool from "effect/Pool"
import type * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import { ConfigError, PgError } from "../errors/PgError.ts"
import * as PgSession from "../session/Session.ts"
import type {
  BatchItem,
  CopyResult,
  Notification,
  QueryOptions,
  QueryResult,
  Row,
  Session,
  SessionOptions,
  StreamOptions
} from "../session/Session.ts"
import type { PoolStats, RetireReason } from "./Metrics.ts"
import type * as Transaction from "./Transaction.ts"

// ---------------------------------------------------------------------------
// Defaults (every timeout a named constant)
// ---------------------------------------------------------------------------

/** Sessions at most, by default. @since 0.1.0 */
export const DEFAULT_MAX_SIZE = 10
/** How long a checkout may wait for a session, by default. @since 0.1.0 */
export const DEFAULT_ACQUIRE_TIMEOUT_MILLIS = 30_000
/** How long a session above `minSize` may stay unused before it is closed, by default. @since 0.1.0 */
export const DEFAULT_IDLE_TIMEOUT_MILLIS = 60_000
/** How long a session may live, by default (minus the jitter). @since 0.1.0 */
export const DEFAULT_MAX_LIFETIME_MILLIS = 30 * 60_000
/** The default jitter, as a fraction of the lifetime. @since 0.1.0 */
export const DEFAULT_MAX_LIFETIME_JITTER_RATIO = 0.1
/** A session unused for this long is checked at checkout, by default. @since 0.1.0 */
export const DEFAULT_HEALTH_CHECK_AFTER_MILLIS = 30_000
/** How long the checkout health check may take before the session is retired. @since 0.1.0 */
export const HEALTH_CHECK_TIMEOUT_MILLIS = 5_000
/** How long a release may wait for the session to settle, and then for ROLLBACK, before retiring it. @since 0.1.0 */
export const RELEASE_TIMEOUT_MILLIS = PgSession.DRAIN_TIMEOUT_MILLIS + 1_000
/** Callers sharing one session at most on a multiplexed pool, by default. @since 0.1.0 */
export const DEFAULT_MULTIPLEX_CONCURRENCY = 32

/**
 * A multiplexing lane idle this long is returned to the pool (so the idle
 * timeout, the health check and exclusive checkouts see its session); a full
 * pool drains a lane for an exclusive checkout at once.
 */
export const LANE_LINGER_MILLIS = 1_000
/** The sweeper (idle timeout, lifetime, closed sessions) runs at least this often. @since 0.1.0 */
export const MAX_SWEEP_INTERVAL_MILLIS = 1_000
/** ... and at most this often. @since 0.1.0 */
export const MIN_SWEEP_INTERVAL_MILLIS = 20

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/**
 * Options of `make`: the options of every session, plus the pool's.
 *
 * @since 0.1.0
 */
export interface PoolOptions extends SessionOptions {
  /** The `pool.name` attribute of the pool's metrics. Default "default". */
  readonly name?: string | undefined
  /** Sessions kept open even when idle. Default 0. */
  readonly minSize?: number | undefined
  /** Sessions at most. Default 10. */
  readonly maxSize?: number | undefined
  /** How long a checkout may wait (finite, > 0). Default 30 s. */
  readonly acquireTimeout?: Duration.Input | undefined
  /** Unused sessions above `minSize` are closed after this (0: never). Default 60 s. */
  readonly idleTimeout?: Duration.Input | undefined
  /** Sessions are replaced after this (0: never). Default 30 minutes. */
  readonly maxLifetime?: Duration.Input | undefined
  /** Each session's lifetime is shortened by a random amount up to this. Default 10% of `maxLifetime`. */
  readonly maxLifetimeJitter?: Duration.Input | undefined
  /** A session unused for this long is checked before a checkout returns it (0: always). Default 30 s. */
  readonly healthCheckAfter?: Duration.Input | undefined
  /**
   * Checkouts a session serves before it is retired (at the release of the last one); 1 uses every session
   * once, as `@effect/sql-pg`'s `connectionTTL: 0` does. On a multiplexed pool each statement put on a
   * shared session counts. Default 0: no limit.
   */
  readonly maxUses?: number | undefined
  /** Let independent one-statement callers share sessions (pipelined). Default false. */
  readonly multiplex?: boolean | undefined
  /** Callers per shared session before another session is brought in. Default 32. */
  readonly multiplexConcurrency?: number | undefined
  /** Safe mode for transaction poolers (PgBouncer `pool_mode = transaction`): no statement cache, protocol 3.0 by default, no LISTEN. */
  readonly transactionPooler?: boolean | undefined
}

/**
 * Whether a checkout is for the caller alone or may be shared (multiplexed
 * pools only).
 *
 * @since 0.1.0
 */
export type LeaseKind = "exclusive" | "shared"

/**
 * The pool service.
 *
 * @since 0.1.0
 */
export interface Pool {
  readonly options: PoolOptions
  /** A session for the caller alone, until the Scope closes. */
  readonly acquire: Effect.Effect<Session, PgError, Scope.Scope>
  /** A session that may be shared with other one-statement callers (exclusive unless `multiplex`). */
  readonly acquireShared: Effect.Effect<Session, PgError, Scope.Scope>
  /** Makes a shared lease of `session` exclusive until the Scope closes (waits for the other leases to end). */
  readonly reserve: (session: Session) => Effect.Effect<void, PgError, Scope.Scope>
  /** Closes `session` now if idle, or when its last lease is returned (counted under `reason`, when given). */
  readonly retire: (session: Session, reason?: RetireReason) => Effect.Effect<void>
  /** Retires every session of the pool as `retire` does (e.g. its server changed role); returns how many. */
  readonly retireAll: (reason?: RetireReason) => Effect.Effect<number>
  /** Runs `f` with an exclusive session (the transaction's session inside `withTransaction`). */
  readonly withSession: <A, E, R>(f: (session: Session) => Effect.Effect<A, E, R>) => Effect.Effect<A, E | PgError, R>
  /** One statement (on the transaction's session inside `withTransaction`). */
  readonly query: <R = Row>(
    sql: string,
    params?: ReadonlyArray<unknown>,
    options?: QueryOptions
  ) => Effect.Effect<QueryResult<R>, PgError>
  /** A simple Query (several statements allowed). */
  readonly simple: (sql: string, options?: QueryOptions) => Effect.Effect<ReadonlyArray<QueryResult<Row>>, PgError>
  /** Several statements in one implicit transaction. */
  readonly batch: (
    items: ReadonlyArray<BatchItem>,
    options?: QueryOptions
  ) => Effect.Effect<ReadonlyArray<QueryResult<Row>>, PgError>
  /** Rows of one statement as a Stream, on an exclusive session held while the stream runs. */
  readonly stream: <R = Row>(
    sql: string,
    params?: ReadonlyArray<unknown>,
    options?: StreamOptions
  ) => Stream.Stream<R, PgError>
  /** COPY ... FROM STDIN on an exclusive session. */
  readonly copyFrom: (sql: string) => Sink.Sink<CopyResult, Uint8Array, never, PgError>
  /** COPY ... TO STDOUT on an exclusive session. */
  readonly copyTo: (sql: string) => Stream.Stream<Uint8Array, PgError>
  /** LISTEN on an exclusive session held for the Scope. */
  readonly listen: (channel: string) => Effect.Effect<Stream.Stream<Notification, PgError>, PgError, Scope.Scope>
  /** NOTIFY (pg_notify). */
  readonly notify: (channel: string, payload?: string) => Effect.Effect<void, PgError>
  /**
   * Runs `effect` in a transaction (a SAVEPOINT when already inside one of
   * this pool's transactions). See `Transaction.ts`.
   */
  readonly withTransaction: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    options?: Transaction.TransactionOptions
  ) => Effect.Effect<A, E | PgError, R>
  /** The transaction the current fiber is in, on this pool. */
  readonly currentTransaction: Effect.Effect<Option.Option<Transaction.TransactionConnection>>
  /** Current numbers (also published as metrics, see `Metrics.ts`). */
  readonly stats: Effect.Effect<PoolStats>
}

/**
 * The `PgPool` service tag.
 *
 * @since 0.1.0
 */
export class PgPool extends Context.Service<PgPool, Pool>()("effect-pgwire/pool/PgPool") {}

export interface Entry {
  readonly session: Session
  readonly retireAt: number
  lastReleased: number
  /** Checkouts served (each statement put on it, as a lane); retired at release once `maxUses` is reached. */
  uses: number
  /** The pool's record of this session, found on first need (its refCount counts the leases). */
  item: EffectPool.PoolItem<Session, PgError> | undefined
  /** Counted in `inUse`. */
  busy: boolean
  /** Exclusive checkouts waiting for the other leases of this session to end. */
  readonly releaseWaiters: Set<() => void>
}

export const configError = (message: string, parameter: string) =>
  new PgError({ reason: new ConfigError({ message, parameter }) })

const millisOf = (
  input: Duration.Input | undefined,
  fallback: number,
  parameter: string
): number | PgError => {
  if (input === undefined) return fallback
  const duration = Duration.fromInput(input)
  if (Option.isNone(duration)) return configError(`invalid duration for ${parameter}`, parameter)
  const millis = Duration.toMillis(duration.value)
  if (Number.isNaN(millis) || millis < 0) return configError(`${parameter} must not be negative`, parameter)
  return millis
}

export interface Settings {
  readonly name: string
  readonly minSize: number
  readonly maxSize: number
  readonly acquireTimeout: number
  readonly idleTimeout: number
  readonly maxLifetime: number
  readonly maxLifetimeJitter: number
  readonly healthCheckAfter: number
  readonly maxUses: number
  readonly multiplex: boolean
  readonly concurrency: number
}

export const settingsOf = (options: PoolOptions): Settings | PgError => {
  const maxSize = options.maxSize ?? DEFAULT_MAX_SIZE
  if (!Number.isInteger(maxSize) || maxSize < 1) return configError(`maxSize must be an integer >= 1, got ${maxSize}`, "maxSize")
  const minSize = options.minSize ?? 0
  if (!Number.isInteger(minSize) || minSize < 0 || minSize > maxSize) {
    return configError(`minSize must be an integer between 0 and maxSize (${maxSize}), got ${minSize}`, "minSize")
  }
  const acquireTimeout = millisOf(options.acquireTimeout, DEFAULT_ACQUIRE_TIMEOUT_MILLIS, "acquireTimeout")
  if (acquireTimeout instanceof PgError) return acquireTimeout
  if (!Number.isFinite(acquireTimeout) || acquireTimeout <= 0) {
    return configError("acquireTimeout must be finite and > 0: a checkout never waits forever", "acquireTimeout")
  }
  // 0 means "no limit" for both, as in HikariCP; it never means "retire at once", which would loop.
  const idleMillis = millisOf(options.idleTimeout, DEFAULT_IDLE_TIMEOUT_MILLIS, "idleTimeout")
  if (idleMillis instanceof PgError) return idleMillis
  const idleTimeout = idleMillis === 0 ? Infinity : idleMillis
  const lifetimeMillis = millisOf(options.maxLifetime, DEFAULT_MAX_LIFETIME_MILLIS, "maxLifetime")
  if (lifetimeMillis instanceof PgError) return lifetimeMillis
  const maxLifetime = lifetimeMillis === 0 ? Infinity : lifetimeMillis
  const maxLifetimeJitter = millisOf(
    options.maxLifetimeJitter,
    Number.isFinite(maxLifetime) ? maxLifetime * DEFAULT_MAX_LIFETIME_JITTER_RATIO : 0,
    "maxLifetimeJitter"
  )
  if (maxLifetimeJitter instanceof PgError) return maxLifetimeJitter
  const healthCheckAfter = millisOf(options.healthCheckAfter, DEFAULT_HEALTH_CHECK_AFTER_MILLIS, "healthCheckAfter")
  if (healthCheckAfter instanceof PgError) return healthCheckAfter
  const maxUses = options.maxUses ?? 0
  if (!Number.isInteger(maxUses) || maxUses < 0) {
    return configError(`maxUses must be an integer >= 0 (0: no limit), got ${maxUses}`, "maxUses")
  }
  const multiplex = options.multiplex ?? false
  const concurrency = multiplex ? options.multiplexConcurrency ?? DEFAULT_MULTIPLEX_CONCURRENCY : 1
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    return configError(`multiplexConcurrency must be an integer >= 1, got ${concurrency}`, "multiplexConcurrency")
  }
  return {
    name: options.name ?? "default",
    minSize,
    maxSize,
    acquireTimeout,
    idleTimeout,
    maxLifetime,
    maxLifetimeJitter: Math.min(maxLifetimeJitter, maxLifetime),
    healthCheckAfter,
    maxUses: maxUses === 0 ? Infinity : maxUses,
    multiplex,
    concurrency
  }
}

/**
 * The options every session of the pool is opened with: the pool's own
 * settings removed (the session refuses options it does not know); in
 * transaction-pooler safe mode the statement cache off, and protocol 3.0
 * unless `protocolVersion` says otherwise (poolers that predate protocol 3.2
 * refuse its start-up packet: PgBouncer 1.18 answers FATAL 08P01 "bad packet
 * header" instead of NegotiateProtocolVersion).
 *
 * @since 0.1.0
 */
export const sessionOptionsOf = (options: PoolOptions): SessionOptions => {
  const {
    acquireTimeout: _acquireTimeout,
    healthCheckAfter: _healthCheckAfter,
    idleTimeout: _idleTimeout,
    maxLifetime: _maxLifetime,
    maxLifetimeJitter: _maxLifetimeJitter,
    maxSize: _maxSize,
    maxUses: _maxUses,
    minSize: _minSize,
    multiplex: _multiplex,
    multiplexConcurrency: _multiplexConcurrency,
    name: _name,
    transactionPooler,
    ...session
  } = options
  return transactionPooler === true
    ? { ...session, statementCacheSize: 0, protocolVersion: session.protocolVersion ?? "3.0" }
    : session
}

export const sweepIntervalOf = (settings: Settings): number => {
  const shortest = Math.min(settings.idleTimeout, settings.maxLifetime - settings.maxLifetimeJitter)
  const half = Number.isFinite(shortest) ? shortest / 2 : MAX_SWEEP_INTERVAL_MILLIS
  return Math.min(MAX_SWEEP_INTERVAL_MILLIS, Math.max(MIN_SWEEP_INTERVAL_MILLIS, half))
}

