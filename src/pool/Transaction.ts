/**
 * Transactions on pooled sessions: `BEGIN` with isolation level, access mode
 * and deferrability, nested calls as SAVEPOINTs, a checked COMMIT, rollback on
 * failure and interruption, and a retry helper for serialization failures and
 * deadlocks.
 *
 * **Details**
 *
 * A top-level transaction takes an exclusive session from its pool for its
 * whole life and provides it to the wrapped effect through a context key of
 * that pool, so every statement the effect runs through the pool (in any
 * fiber it forks) goes to the same session. A nested call on the same pool
 * becomes `SAVEPOINT pgwire_sp_<depth>`: released when it succeeds, rolled
 * back to (and released) when it fails. Sibling nested calls in concurrent
 * fibers take turns, since savepoints are a stack on the server.
 *
 * The end of a transaction is never silent:
 * - COMMIT answered with the command tag `ROLLBACK` (the server does this when
 *   a statement inside the block had failed, protocol-3.2 "CommandComplete")
 *   fails with `TransactionError` (operation "commit");
 * - a COMMIT that fails (for example a deferred constraint, checked at COMMIT)
 *   fails with that server error; the server has then ended the transaction;
 * - on failure or interruption of the body, ROLLBACK runs (uninterruptibly,
 *   within the `commitTimeout`); if it cannot run, or is not answered in time,
 *   the session is broken and retired, and closing the connection ends the
 *   transaction on the server. The caller gets its body's own outcome;
 * - RELEASE SAVEPOINT and ROLLBACK TO SAVEPOINT are bounded by the same
 *   `commitTimeout` (`endWithin`): a connection that went silent never holds
 *   a caller beyond it, whatever the caller's own timeout; BEGIN and
 *   SAVEPOINT can be interrupted by the caller.
 *
 * Control statements go through the simple query protocol: one round trip,
 * no prepared statement, so they are safe behind transaction poolers.
 *
 * Deliberately not here: retrying inside a transaction (a serialization
 * failure aborts the whole transaction, so `retry` wraps the top-level call),
 * two-phase commit, and transaction-scoped settings other than the BEGIN
 * modes.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import { CommitOutcomeUnknown, ConfigError, ConnectionError, PgError, TransactionError } from "../errors/PgError.ts"
import { LenderKey } from "../session/Lender.ts"
import * as Observe from "../session/Observe.ts"
import type { Session } from "../session/Session.ts"

/**
 * A transaction isolation level (PostgreSQL "SET TRANSACTION").
 *
 * @since 0.1.0
 */
export type IsolationLevel = "read uncommitted" | "read committed" | "repeatable read" | "serializable"

/**
 * How a top-level transaction begins. Nested calls (savepoints) ignore these.
 *
 * @since 0.1.0
 */
export interface TransactionOptions {
  /**
   * How long COMMIT may take before its outcome is given up as unknown (`CommitOutcomeUnknown`; the session is
   * closed). Default `COMMIT_TIMEOUT_MILLIS`.
   */
  readonly commitTimeout?: Duration.Input | undefined
  readonly isolationLevel?: IsolationLevel | undefined
  /** `READ ONLY` when true, `READ WRITE` when false, the server default when absent. */
  readonly readOnly?: boolean | undefined
  /** `DEFERRABLE` when true, `NOT DEFERRABLE` when false (only meaningful for serializable read-only transactions). */
  readonly deferrable?: boolean | undefined
}

const ISOLATION_SQL: Readonly<Record<IsolationLevel, string>> = {
  "read uncommitted": "ISOLATION LEVEL READ UNCOMMITTED",
  "read committed": "ISOLATION LEVEL READ COMMITTED",
  "repeatable read": "ISOLATION LEVEL REPEATABLE READ",
  "serializable": "ISOLATION LEVEL SERIALIZABLE"
}

/**
 * The BEGIN statement for `options`: `BEGIN`, or `BEGIN` followed by the
 * transaction modes, comma-separated, in the order PostgreSQL documents them
 * (isolation level, access mode, deferrability).
 *
 * **Details**
 *
 * Only fixed keywords reach the statement: an isolation level that is not one
 * of the four names is refused by `validateOptions` before this runs.
 *
 * @since 0.1.0
 */
export const beginStatement = (options?: TransactionOptions | undefined): string => {
  if (options === undefined) return "BEGIN"
  const modes: Array<string> = []
  if (options.isolationLevel !== undefined) modes.push(ISOLATION_SQL[options.isolationLevel])
  if (options.readOnly !== undefined) modes.push(options.readOnly ? "READ ONLY" : "READ WRITE")
  if (options.deferrable !== undefined) modes.push(options.deferrable ? "DEFERRABLE" : "NOT DEFERRABLE")
  return modes.length === 0 ? "BEGIN" : `BEGIN ${modes.join(", ")}`
}

/**
 * Checks transaction options given at run time (for example from
 * configuration): an isolation level that is not one of the four names is
 * refused before anything is sent.
 *
 * @since 0.1.0
 */
export const validateOptions = (options: TransactionOptions | undefined): PgError | undefined => {
  const commitTimeout = options?.commitTimeout
  if (commitTimeout !== undefined && Option.isNone(Duration.fromInput(commitTimeout))) {
    return new PgError({
      reason: new ConfigError({ message: `invalid commit timeout ${String(commitTimeout)}`, parameter: "commitTimeout" })
    })
  }
  if (options?.isolationLevel === undefined) return undefined
  if (Object.prototype.hasOwnProperty.call(ISOLATION_SQL, options.isolationLevel)) return undefined
  return new PgError({
    reason: new ConfigError({
      message: `unknown isolation level ${JSON.stringify(options.isolationLevel)}`,
      parameter: "isolationLevel"
    })
  })
}

/**
 * The savepoint name of a nesting depth (1 for the first nested call).
 *
 * @since 0.1.0
 */
export const savepointName = (depth: number): string => `pgwire_sp_${depth}`

/**
 * The transaction a fiber is in: its session and its nesting depth (0 for the
 * top level).
 *
 * @since 0.1.0
 */
export interface TransactionConnection {
  readonly session: Session
  readonly depth: number
  /** Serialises nested calls made at this level from concurrent fibers. */
  readonly nested: Semaphore.Semaphore
  /** The top-level transaction's `commitTimeout`: the bound of its savepoint statements too. */
  readonly commitTimeout: Duration.Input
}

/**
 * The SQLSTATEs after which running the whole transaction again can succeed:
 * 40001 serialization_failure and 40P01 deadlock_detected.
 *
 * @since 0.1.0
 */
export const RETRYABLE_TRANSACTION_CODES: ReadonlySet<string> = new Set(["40001", "40P01"])

const codeOf = (u: unknown): string | undefined => {
  if (u instanceof PgError) return u.reason._tag === "ServerError" ? u.reason.code : undefined
  return undefined
}

/**
 * Whether `error` is a serialization failure (40001) or a deadlock (40P01):
 * a `PgError` carrying that server error, or an `effect/sql` `SqlError` whose
 * reason is `SerializationError` / `DeadlockError` (or whose cause is such a
 * `PgError`).
 *
 * @since 0.1.0
 */
export const isRetryableConflict = (error: unknown): boolean => {
  const code = codeOf(error)
  if (code !== undefined) return RETRYABLE_TRANSACTION_CODES.has(code)
  if (Predicate.hasProperty(error, "reason") && Predicate.hasProperty(error.reason, "_tag")) {
    const tag = error.reason._tag
    if (tag === "SerializationError" || tag === "DeadlockError") return true
    if (Predicate.hasProperty(error.reason, "cause")) {
      const inner = codeOf(error.reason.cause)
      return inner !== undefined && RETRYABLE_TRANSACTION_CODES.has(inner)
    }
  }
  return false
}

/**
 * Retries after a conflict at most this many times by default.
 *
 * @since 0.1.0
 */
export const DEFAULT_RETRY_TIMES = 5

/**
 * The first pause before a retry, by default; it doubles after each attempt,
 * with jitter so that the transactions that collided do not collide again.
 *
 * @since 0.1.0
 */
export const DEFAULT_RETRY_BASE_MILLIS = 10

/**
 * Options of `retry`.
 *
 * @since 0.1.0
 */
export interface RetryOptions {
  /** The pauses between attempts. Default: exponential from 10 ms, jittered. */
  readonly schedule?: Schedule.Schedule<unknown, unknown> | undefined
  /** Retries at most. Default 5. */
  readonly times?: number | undefined
}

const defaultSchedule = Schedule.jittered(Schedule.exponential(DEFAULT_RETRY_BASE_MILLIS))

/**
 * Runs `self` again when it fails with a serialization failure (40001) or a
 * deadlock (40P01), following the schedule; any other failure, and the last
 * conflict once the retries are used up, is returned as is.
 *
 * **Details**
 *
 * Wrap the top-level transaction, never a statement inside one: after a
 * conflict the server has aborted the whole transaction, so only running it
 * again from BEGIN can succeed.
 *
 * ```ts
 * pool.withTransaction(transfer, { isolationLevel: "serializable" }).pipe(Transaction.retry())
 * ```
 *
 * @since 0.1.0
 */
export const retry: {
  (options?: RetryOptions): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, options?: RetryOptions): Effect.Effect<A, E, R>
} = function(this: unknown, ...args: ReadonlyArray<unknown>): any {
  if (Effect.isEffect(args[0])) return retryImpl(args[0], args[1] as RetryOptions | undefined)
  return (self: Effect.Effect<unknown, unknown, unknown>) => retryImpl(self, args[0] as RetryOptions | undefined)
} as any

const retryImpl = <A, E, R>(self: Effect.Effect<A, E, R>, options: RetryOptions | undefined): Effect.Effect<A, E, R> =>
  Effect.retry(self, {
    schedule: options?.schedule ?? defaultSchedule,
    times: options?.times ?? DEFAULT_RETRY_TIMES,
    while: isRetryableConflict
  }) as Effect.Effect<A, E, R>

// ---------------------------------------------------------------------------
// The transaction runner
// ---------------------------------------------------------------------------

/**
 * Runs one control statement (simple query protocol) and returns its command tag.
 *
 * @since 0.1.0
 */
export const control = (session: Session, sql: string): Effect.Effect<string, PgError> =>
  Effect.map(session.simple(sql), (results) => results[results.length - 1]?.command ?? "")

/**
 * COMMIT, checked: the tag `ROLLBACK` means the transaction had failed and
 * nothing was committed, which is a `TransactionError`, never a success.
 *
 * @since 0.1.0
 */
export const commit = (session: Session): Effect.Effect<void, PgError> =>
  Effect.flatMap(control(session, "COMMIT"), (tag) =>
    tag === "COMMIT"
      ? Effect.void
      : Effect.fail(
        new PgError({
          reason: new TransactionError({
            message: tag === "ROLLBACK"
              ? "COMMIT was answered with ROLLBACK: a statement in the transaction had failed, nothing was committed"
              : `COMMIT was answered with ${JSON.stringify(tag)}`,
            operation: "commit"
          })
        })
      ))

/**
 * How long COMMIT may take by default before its outcome is given up as unknown: long enough for a commit that
 * waits on synchronous replication, short enough that a silent connection cannot hold a caller forever.
 *
 * @since 0.1.0
 */
export const COMMIT_TIMEOUT_MILLIS = 30_000

/** Whether a failed COMMIT may still have been committed: its answer was lost with the connection. */
const answerLost = (error: PgError): boolean => {
  const reason = error.reason
  switch (reason._tag) {
    case "ConnectionError":
      return reason.requestSent !== false
    case "ServerError":
      return reason.severity === "FATAL" || reason.severity === "PANIC"
    case "ProtocolError":
    case "ProtocolDesync":
    case "CancelError":
    case "CommitOutcomeUnknown":
      return true
    default:
      return false
  }
}

/**
 * COMMIT within `timeout`: when no answer comes in time, or the connection is lost before it does, the session is
 * broken and the failure is `CommitOutcomeUnknown` (the transaction may or may not have been committed).
 *
 * @since 0.1.0
 */
export const commitWithin = (session: Session, timeout: Duration.Input = COMMIT_TIMEOUT_MILLIS): Effect.Effect<void, PgError> => {
  const unknown = (message: string, cause?: PgError) =>
    new PgError({ reason: new CommitOutcomeUnknown({ message, ...(cause === undefined ? {} : { cause }) }) })
  const millis = Duration.toMillis(Duration.fromInputUnsafe(timeout))
  const silent = Effect.sleep(millis).pipe(
    Effect.andThen(Effect.suspend(() => {
      const error = unknown(`COMMIT was not answered within ${millis} ms; the transaction may or may not be committed`)
      session[LenderKey].break(error)
      return Effect.fail(error)
    }))
  )
  // A COMMIT failed by the break above already says what happened: it is not wrapped again.
  const answered = commit(session).pipe(Effect.mapError((error) =>
    error.reason._tag === "CommitOutcomeUnknown"
      ? error
      : answerLost(error)
      ? unknown(`the connection was lost before COMMIT was answered (${error.message}); the transaction may or may not be committed`, error)
      : error
  ))
  return Effect.raceFirst(answered, silent)
}

/**
 * A statement that ends a transaction or a savepoint (ROLLBACK, RELEASE / ROLLBACK TO SAVEPOINT; SAVEPOINT too),
 * within `timeout`: when no answer comes in time the session is broken (everything waiting on it fails at once, so
 * nothing is left to cancel on a silent connection) and the failure, a `ConnectionError`, says so. These statements
 * run where the caller cannot interrupt them (after a failed or interrupted body); without the bound a connection
 * that went silent would hold the caller until the liveness check or TCP gives up.
 *
 * @since 0.1.0
 */
export const endWithin = (
  session: Session,
  statement: Effect.Effect<void, PgError>,
  what: string,
  timeout: Duration.Input = COMMIT_TIMEOUT_MILLIS
): Effect.Effect<void, PgError> => {
  const millis = Duration.toMillis(Duration.fromInputUnsafe(timeout))
  const silent = Effect.sleep(millis).pipe(
    Effect.andThen(Effect.suspend(() => {
      const error = new PgError({
        reason: new ConnectionError({ message: `${what} was not answered within ${millis} ms`, requestSent: true })
      })
      session[LenderKey].break(error)
      return Effect.fail(error)
    }))
  )
  return Effect.raceFirst(statement, silent)
}

/**
 * ROLLBACK unless the session is closed (a closed connection has no
 * transaction left on the server) or already idle.
 *
 * @since 0.1.0
 */
export const rollback = (session: Session): Effect.Effect<void, PgError> =>
  Effect.flatMap(session.isClosed, (closed) =>
    closed
      ? Effect.void
      : Effect.flatMap(session.transactionStatus, (status) =>
        status === "I" ? Effect.void : Effect.asVoid(control(session, "ROLLBACK"))))

/** The span attributes of a transaction: its BEGIN modes. */
const transactionAttributes = (options: TransactionOptions | undefined): Record<string, unknown> => ({
  ...(options?.isolationLevel === undefined ? {} : { "pgwire.transaction.isolation_level": options.isolationLevel }),
  ...(options?.readOnly === undefined ? {} : { "pgwire.transaction.read_only": options.readOnly })
})

/**
 * Builds `withTransaction` for a pool: `acquire` checks out an exclusive
 * session (into the Scope it is given), `key` is the pool's own context key
 * for the current transaction.
 *
 * @since 0.1.0
 */
export const makeWithTransaction = (options: {
  readonly key: Context.Key<TransactionConnection, TransactionConnection>
  readonly acquire: Effect.Effect<Session, PgError, Scope.Scope>
}) => {
  const key = options.key
  const provideConnection = <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    connection: TransactionConnection
  ): Effect.Effect<A, E, R> => Effect.provideService(effect, key, connection) as Effect.Effect<A, E, R>

  const topLevel = <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    txOptions: TransactionOptions | undefined
  ): Effect.Effect<A, E | PgError, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const invalid = validateOptions(txOptions)
        if (invalid !== undefined) return yield* Effect.fail(invalid)
        const scope = yield* Scope.make()
        const leased = yield* Effect.exit(restore(Scope.provide(options.acquire, scope)))
        if (Exit.isFailure(leased)) {
          yield* Scope.close(scope, leased)
          return yield* Effect.failCause(leased.cause)
        }
        const session = leased.value
        const commitTimeout = txOptions?.commitTimeout ?? COMMIT_TIMEOUT_MILLIS
        const connection: TransactionConnection = { session, depth: 0, nested: Semaphore.makeUnsafe(1), commitTimeout }
        const begun = yield* Effect.exit(restore(control(session, beginStatement(txOptions))))
        let result: Exit.Exit<A, E | PgError>
        if (Exit.isFailure(begun)) {
          result = Exit.failCause(begun.cause)
        } else {
          const body = yield* Effect.exit(restore(provideConnection(effect, connection)))
          if (Exit.isSuccess(body)) {
            const committed = yield* Effect.exit(restore(commitWithin(session, commitTimeout)))
            result = Exit.isSuccess(committed) ? body : Exit.failCause(committed.cause)
          } else {
            result = body
          }
        }
        if (Exit.isFailure(result)) {
          // Best effort, bounded: a ROLLBACK that fails or is not answered in time leaves the session closed or
          // broken, and the release check retires it.
          yield* Effect.ignore(endWithin(session, rollback(session), "ROLLBACK", commitTimeout))
        }
        yield* Scope.close(scope, result)
        return yield* result
      })
    )

  const nested = <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    parent: TransactionConnection
  ): Effect.Effect<A, E | PgError, R> =>
    parent.nested.withPermit(
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const depth = parent.depth + 1
          const name = savepointName(depth)
          const session = parent.session
          const timeout = parent.commitTimeout
          const bounded = (sql: string) => endWithin(session, Effect.asVoid(control(session, sql)), sql, timeout)
          // Like BEGIN, SAVEPOINT starts something: the caller may interrupt it (nothing to undo but a savepoint
          // the enclosing transaction's end discards). It is not raced against the timeout: it may queue behind
          // a concurrent statement of the enclosing body that rightly takes longer.
          yield* restore(control(session, `SAVEPOINT ${name}`))
          const connection: TransactionConnection = { session, depth, nested: Semaphore.makeUnsafe(1), commitTimeout: timeout }
          const body = yield* Effect.exit(restore(provideConnection(effect, connection)))
          const end = Exit.isSuccess(body)
            ? bounded(`RELEASE SAVEPOINT ${name}`)
            : Effect.andThen(bounded(`ROLLBACK TO SAVEPOINT ${name}`), bounded(`RELEASE SAVEPOINT ${name}`))
          const ended = yield* Effect.exit(end)
          if (Exit.isFailure(ended)) {
            return yield* Effect.failCause(
              Exit.isFailure(body) ? Cause.combine(body.cause, ended.cause) : ended.cause
            )
          }
          return yield* body
        })
      )
    )

  return <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    txOptions?: TransactionOptions | undefined
  ): Effect.Effect<A, E | PgError, R> =>
    Effect.flatMap(
      Effect.serviceOption(key),
      (current) =>
        Option.isSome(current)
          ? Observe.grouped("SAVEPOINT", nested(effect, current.value), { "pgwire.transaction.depth": current.value.depth + 1 })
          : Observe.grouped("TRANSACTION", topLevel(effect, txOptions), transactionAttributes(txOptions))
    )
}
