/**
 * Read/write routing over a primary and its standbys: writes and
 * transactions go to a session satisfying `target_session_attrs=read-write`,
 * reads marked read-only go to a standby that is not too far behind, and the
 * pool follows a failover.
 *
 * **Details**
 *
 * `make(options)` builds one writer pool over every host (`read-write`: libpq
 * tries the hosts in order, or shuffled with `loadBalanceHosts: "random"`) and
 * one reader pool per host (`standby`, that host only).
 *
 * - Intent: `query(sql, params, { readOnly: true })`, anything inside
 *   `withReadOnly(effect)`, and `withTransaction(effect, { readOnly: true })`
 *   read from a standby; everything else writes. With no standby fit to read
 *   from, reads go to the writer (libpq's `prefer-standby`).
 * - Lag and roles: every `lagCheckInterval` (default
 *   `LAG_CHECK_INTERVAL_MILLIS`) each host is asked `pg_is_in_recovery()` and
 *   `pg_last_wal_replay_lsn()`, the writer its role (`pg_is_in_recovery()`,
 *   `transaction_read_only`) and `pg_current_wal_lsn()`. A standby behind by
 *   more than `maxLagBytes` of WAL, or whose last replayed transaction is
 *   older than `maxLagMillis` while WAL is still to replay, is skipped until
 *   it catches up; so is a host that is not (or no longer) a standby, or does
 *   not answer.
 * - Idle sessions: the server tells an idle session nothing of a role change.
 *   The check above retires every session of a reader pool whose host answered
 *   as no standby, and every writer session when the writer's server answered
 *   as a standby or read-only (idle ones at once, leased ones when returned;
 *   counted under the retirement reason `role`). On PostgreSQL 13, which
 *   reports neither `in_hot_standby` nor `default_transaction_read_only`, this
 *   check, a 25006 refusal and connection errors are how a change is seen.
 * - Roles: before a session runs a write, its `in_hot_standby` and
 *   `default_transaction_read_only` (ParameterStatus, PostgreSQL 14+) are
 *   looked at; a writer session found on a standby, or a reader session found
 *   on a primary, is retired and the statement runs on another session, so a
 *   write never reaches a standby. A server turned read-only between two
 *   statements says so with the answer of the first write it refuses (25006,
 *   nothing run): outside a transaction block that write is retried on
 *   another session; inside one the 25006 is the caller's.
 * - Role changes pushed: once a statement has run on a session, the routed
 *   pool listens to its ParameterStatus messages (`parameterChanges`). A
 *   writer session that hears `in_hot_standby=on` or
 *   `default_transaction_read_only=on`, or a reader session that hears
 *   `in_hot_standby=off` (its standby was promoted), is retired at once (when
 *   its lease ends, if leased) with every other session of its pool (they are
 *   on the same server, or for the writer, on the server writes went to), and
 *   the hosts are checked again. The server
 *   sends these with the answer of a statement (it reports changed
 *   parameters before ReadyForQuery, protocol-3.2 "Asynchronous Operations"),
 *   not to an idle session, so the check at use above stays.
 * - Failover: sessions of a primary that went away break and are retired;
 *   new writer sessions skip hosts that refuse or are read-only until one is
 *   promoted. Writes that cannot get a session fail with a `ConnectionError`
 *   whose `requestSent` is false (retryable); a write in flight when the
 *   primary went away fails with `requestSent: true` (not retryable: it may
 *   have committed). `retryWrite` retries the first kind within a bound.
 * - Read-your-writes: inside `readYourWrites(effect)`, once a write
 *   succeeded, reads go to the writer (`mode: "primary"`, the default), or
 *   (`mode: "wait"`) to a standby once it has replayed the write's WAL
 *   position, waiting at most `readYourWritesTimeout` before reading from the
 *   writer.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { ConnectionError, PgError } from "../errors/PgError.ts"
import { LenderKey } from "../session/Lender.ts"
import type { QueryOptions, QueryResult, Row, Session } from "../session/Session.ts"
import * as PgPool from "./Pool.ts"
import type { Pool, PoolOptions } from "./Settings.ts"
import type { TransactionOptions } from "./Transaction.ts"

/** How often standbys' lag is checked, by default. */
export const LAG_CHECK_INTERVAL_MILLIS = 1_000

/** What the check of a host says of one that is not (or no longer) a standby. */
const NOT_A_STANDBY = "not a standby"

/**
 * The writer's check: its role (a standby, or read-only: `transaction_read_only` takes
 * `default_transaction_read_only`, which PostgreSQL 13 does not report) and, on a primary, its WAL
 * position (`pg_current_wal_lsn()` fails during recovery, so it is asked only outside it).
 */
const WRITER_CHECK = "select pg_is_in_recovery() as standby, current_setting('transaction_read_only') = 'on' as \"readOnly\", " +
  "case when pg_is_in_recovery() then null else pg_current_wal_lsn()::text end as lsn"

/** How long a read waits, by default, for a standby to replay a write it must see (`mode: "wait"`). */
export const READ_YOUR_WRITES_TIMEOUT_MILLIS = 2_000

/** How often a waiting read asks the standby how far it has replayed. */
export const REPLAY_POLL_MILLIS = 20

/** How long `retryWrite` keeps trying, by default. */
export const WRITE_RETRY_TIMEOUT_MILLIS = 30_000

/** The pause between `retryWrite`'s attempts. */
export const WRITE_RETRY_PAUSE_MILLIS = 50

/**
 * @since 0.1.0
 */
export interface RoutingOptions extends PoolOptions {
  /** A standby behind the primary by more WAL than this is not read from. Default: no limit. */
  readonly maxLagBytes?: number | undefined
  /** A standby whose last replayed transaction is older than this, with WAL still to replay, is not read from. */
  readonly maxLagMillis?: number | undefined
  /** Default `LAG_CHECK_INTERVAL_MILLIS`. */
  readonly lagCheckInterval?: number | undefined
  /** What a read does after a write in `readYourWrites`: "primary" (default) or "wait" for a standby. */
  readonly readYourWrites?: "primary" | "wait" | undefined
  /** Default `READ_YOUR_WRITES_TIMEOUT_MILLIS`. */
  readonly readYourWritesTimeout?: number | undefined
}

/**
 * What the last check saw of one host.
 *
 * @since 0.1.0
 */
export interface StandbyStatus {
  readonly host: string
  readonly port: number
  /** Answered as a standby (`pg_is_in_recovery()`). */
  readonly standby: boolean
  /** WAL position replayed (`pg_last_wal_replay_lsn()`), when a standby. */
  readonly replayLsn: bigint | undefined
  /** Bytes of WAL the primary has that the standby has not replayed (undefined: the primary is unknown). */
  readonly lagBytes: number | undefined
  /** Age of the last replayed transaction while WAL is still to replay; 0 when caught up. */
  readonly lagMillis: number | undefined
  /** Whether reads may go there now. */
  readonly readable: boolean
  /** Why not, when not. */
  readonly reason?: string | undefined
}

/**
 * A pool that routes by intent.
 *
 * @since 0.1.0
 */
export interface RoutedPool {
  readonly writer: Pool
  readonly readers: ReadonlyArray<Pool>
  /** Runs a statement: on a standby with `readOnly: true` (or inside `withReadOnly`), else on the writer. */
  readonly query: <R = Row>(
    sql: string,
    params?: ReadonlyArray<unknown>,
    options?: QueryOptions & { readonly readOnly?: boolean | undefined }
  ) => Effect.Effect<QueryResult<R>, PgError>
  /** A transaction: on a standby when `readOnly`, else on the writer. */
  readonly withTransaction: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    options?: TransactionOptions
  ) => Effect.Effect<A, E | PgError, R>
  /** The pool a read goes to now: a standby fit to read from (after `readYourWrites`' rule), else the writer. */
  readonly readPool: Effect.Effect<Pool>
  /** The last check of every host, in the configured order. */
  readonly status: Effect.Effect<ReadonlyArray<StandbyStatus>>
  /** Checks every host now (as the periodic check does). */
  readonly checkNow: Effect.Effect<void>
}

/**
 * The routing settings of `RoutingOptions` (what a `PgClient` takes as `readReplicas`).
 *
 * @since 0.1.0
 */
export type RoutingSettings = Pick<
  RoutingOptions,
  "maxLagBytes" | "maxLagMillis" | "lagCheckInterval" | "readYourWrites" | "readYourWritesTimeout"
>

/**
 * Statements inside `effect` are reads (routed to a standby), unless they run
 * in a transaction that is not read-only.
 *
 * @since 0.1.0
 */
export const withReadOnly = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(effect, ReadOnlyIntent, true)

/**
 * Whether statements of the current fiber are reads (`withReadOnly`).
 *
 * @since 0.1.0
 */
export const ReadOnlyIntent = Context.Reference<boolean>("effect-pgwire/pool/Routing/ReadOnlyIntent", {
  defaultValue: () => false
})

/** The highest WAL position written inside a `readYourWrites` scope. */
interface Fence {
  lsn: bigint | undefined
}

const FenceKey = Context.Service<Fence>("effect-pgwire/pool/Routing/Fence")

/** The pool of the routed transaction the fiber is in: its statements go there. */
const RouteKey = Context.Service<Pool>("effect-pgwire/pool/Routing/Route")

/**
 * Reads inside `effect` see the writes made before them inside it (see the
 * module header for where they go).
 *
 * @since 0.1.0
 */
export const readYourWrites = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => Effect.provideService(effect, FenceKey, { lsn: undefined }))

/**
 * Runs `write` again while it fails with a retryable connection failure
 * (nothing was sent: no session could be had, the primary is away), pausing
 * `WRITE_RETRY_PAUSE_MILLIS` between attempts, for at most `timeoutMillis`.
 *
 * @since 0.1.0
 */
export const retryWrite = <A, R>(
  write: Effect.Effect<A, PgError, R>,
  timeoutMillis: number = WRITE_RETRY_TIMEOUT_MILLIS
): Effect.Effect<A, PgError, R> =>
  Effect.retry(write, {
    schedule: Schedule.spaced(WRITE_RETRY_PAUSE_MILLIS).pipe(Schedule.upTo({ duration: timeoutMillis })),
    while: (error) => (error.isRetryable && error.reason._tag !== "ServerError") || isStartingUp(error)
  })

/** 57P03 cannot_connect_now (the server is starting up or shutting down): worth another try. */
const isStartingUp = (error: PgError): boolean => error.reason._tag === "ServerError" && error.reason.code === "57P03"

/** Parses a WAL position `X/Y`. */
export const parseLsn = (text: string): bigint => {
  const slash = text.indexOf("/")
  return (BigInt(`0x${text.slice(0, slash)}`) << 32n) | BigInt(`0x${text.slice(slash + 1)}`)
}

/** Which role a session's reported parameters say it has, when they say (PostgreSQL 14+). */
const roleOf = (parameters: ReadonlyMap<string, string>): "standby" | "read-only" | "read-write" | undefined => {
  const hot = parameters.get("in_hot_standby")
  if (hot === "on") return "standby"
  if (parameters.get("default_transaction_read_only") === "on") return "read-only"
  return hot === "off" ? "read-write" : undefined
}

/** 25006 read_only_sql_transaction: the server refused a write before running it. */
const isReadOnlyRefusal = (error: unknown): boolean =>
  error instanceof PgError && error.reason._tag === "ServerError" && error.reason.code === "25006"

/** What a statement's place holds when its session was on the wrong role and was retired. */
const RETIRED: unique symbol = Symbol("effect-pgwire/pool/Routing/Retired")

const wrongRole = (message: string) =>
  new PgError({ reason: new ConnectionError({ message, requestSent: false }) })

/**
 * Builds a routed pool for the Scope.
 *
 * @since 0.1.0
 */
export const make = (options: RoutingOptions): Effect.Effect<RoutedPool, PgError, Scope.Scope> =>
  Effect.gen(function*() {
    const name = options.name ?? "default"
    const hosts = options.hosts ?? [{ host: options.host ?? "localhost", port: options.port }]
    const { lagCheckInterval: _i, maxLagBytes: _b, maxLagMillis: _m, readYourWrites: _r, readYourWritesTimeout: _t, ...poolOptions } =
      options
    const writer = yield* PgPool.make({ ...poolOptions, name: `${name}.writer`, targetSessionAttrs: "read-write" })
    const readers: Array<Pool> = []
    for (let i = 0; i < hosts.length; i++) {
      readers.push(
        yield* PgPool.make({
          ...poolOptions,
          hosts: [hosts[i]!],
          name: `${name}.reader.${i}`,
          minSize: 0,
          targetSessionAttrs: "standby",
          loadBalanceHosts: "disable"
        })
      )
    }
    const interval = options.lagCheckInterval ?? LAG_CHECK_INTERVAL_MILLIS
    let statuses: ReadonlyArray<StandbyStatus> = hosts.map((h) => ({
      host: h.host,
      port: h.port ?? options.port ?? 5432,
      standby: false,
      replayLsn: undefined,
      lagBytes: undefined,
      lagMillis: undefined,
      readable: false,
      reason: "not checked yet"
    }))

    const checkOne = (pool: Pool, at: number, primaryLsn: bigint | undefined): Effect.Effect<StandbyStatus> => {
      const where = statuses[at]!
      return pool.query<{ standby: boolean; replay: string | null; age: number | null }>(
        "select pg_is_in_recovery() as standby, pg_last_wal_replay_lsn()::text as replay, " +
          "(extract(epoch from clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8 as age"
      ).pipe(
        Effect.map(({ rows }): StandbyStatus => {
          const row = rows[0]!
          if (!row.standby || row.replay === null) {
            return { ...where, standby: false, replayLsn: undefined, lagBytes: undefined, lagMillis: undefined, readable: false, reason: NOT_A_STANDBY }
          }
          const replayLsn = parseLsn(row.replay)
          const lagBytes = primaryLsn === undefined ? undefined : Math.max(0, Number(primaryLsn - replayLsn))
          const lagMillis = lagBytes === 0 ? 0 : (row.age ?? undefined)
          const tooFar = options.maxLagBytes !== undefined && (lagBytes === undefined || lagBytes > options.maxLagBytes)
          const tooOld = options.maxLagMillis !== undefined && lagMillis !== undefined && lagMillis > options.maxLagMillis
          return {
            ...where,
            standby: true,
            replayLsn,
            lagBytes,
            lagMillis,
            readable: !tooFar && !tooOld,
            reason: tooFar ? `behind by ${lagBytes ?? "an unknown number of"} bytes` : tooOld ? `behind by ${lagMillis} ms` : undefined
          }
        }),
        // A host that answered as no standby (promoted): its reader sessions, idle ones too, are on the wrong
        // role; the server tells an idle session nothing, so they are retired here.
        Effect.tap((status) => (status.reason === NOT_A_STANDBY ? pool.retireAll("role") : Effect.void)),
        Effect.catch((error) =>
          Effect.succeed({ ...where, standby: false, readable: false, reason: error.message } as StandbyStatus)
        )
      )
    }

    const checkNow: Effect.Effect<void> = Effect.gen(function*() {
      // The writer's role too: a server turned standby or read-only (PostgreSQL 13 reports neither) has its
      // writer sessions retired, idle ones at once, so none waits for a write to find out.
      const primary = yield* Effect.option(
        writer.query<{ standby: boolean; readOnly: boolean; lsn: string | null }>(WRITER_CHECK).pipe(
          Effect.flatMap(({ rows }) => {
            const row = rows[0]!
            if (row.standby || row.readOnly || row.lsn === null) {
              return Effect.andThen(writer.retireAll("role"), Effect.succeed(undefined))
            }
            return Effect.succeed(parseLsn(row.lsn))
          })
        )
      )
      const primaryLsn = Option.getOrUndefined(primary)
      statuses = yield* Effect.forEach(readers, (pool, i) => checkOne(pool, i, primaryLsn), { concurrency: "unbounded" })
    })
    yield* checkNow
    yield* Effect.forkScoped(Effect.forever(Effect.delay(checkNow, interval)))

    let next = 0
    const pickReader = (): number | undefined => {
      const readable: Array<number> = []
      for (let i = 0; i < statuses.length; i++) if (statuses[i]!.readable) readable.push(i)
      if (readable.length === 0) return undefined
      if (options.loadBalanceHosts === "random") return readable[Math.floor((options.random ?? Math.random)() * readable.length)]
      // Round robin over the readable standbys.
      return readable[next++ % readable.length]
    }

    // Role changes pushed by the server: each session seen here is watched until it closes.
    const scope = yield* Effect.scope
    const watched = new WeakSet<Session>()
    const watch = (
      pool: Pool,
      session: Session,
      wrong: (parameters: ReadonlyMap<string, string>) => boolean
    ): Effect.Effect<void> =>
      Effect.suspend((): Effect.Effect<void> => {
        if (watched.has(session)) return Effect.void
        watched.add(session)
        const watcher = session.parameterChanges.pipe(
          Stream.filter((change) => change.name === "in_hot_standby" || change.name === "default_transaction_read_only"),
          Stream.runForEach(() =>
            Effect.flatMap(session.parameters, (parameters) =>
              wrong(parameters)
                ? Effect.andThen(pool.retireAll("role"), Effect.forkIn(checkNow, scope))
                : Effect.void)
          )
        )
        return Effect.map(Effect.forkIn(watcher, scope, { startImmediately: true }), (fiber) => {
          session[LenderKey].onClose(() => fiber.interruptUnsafe())
        })
      })
    const wrongForWriter = (parameters: ReadonlyMap<string, string>) => {
      const role = roleOf(parameters)
      return role === "standby" || role === "read-only"
    }
    const wrongForReader = (parameters: ReadonlyMap<string, string>) => parameters.get("in_hot_standby") === "off"

    /** Runs `f` on a writer session whose role is read-write (a session on another role is retired, and the next tried). */
    const onWriter = <A, E, R>(f: (session: Session) => Effect.Effect<A, E, R>): Effect.Effect<A, E | PgError, R> => {
      const attempt = (triesLeft: number): Effect.Effect<A, E | PgError, R> =>
        Effect.flatMap(
          writer.withSession((session): Effect.Effect<A | typeof RETIRED, E | PgError, R> =>
            Effect.flatMap(session.parameters, (parameters): Effect.Effect<A | typeof RETIRED, E | PgError, R> => {
              if (wrongForWriter(parameters)) return Effect.as(writer.retireAll("role"), RETIRED)
              // The server may turn read-only between two statements: the ParameterStatus saying so comes with
              // the answer of the first statement it refuses (25006, before running anything). Outside a
              // transaction block that statement is retried on another session.
              const run: Effect.Effect<A | typeof RETIRED, E | PgError, R> = Effect.catchIf(
                f(session),
                (error): error is E => isReadOnlyRefusal(error),
                (error) =>
                  Effect.flatMap(session.transactionStatus, (status) =>
                    status === "I" ? Effect.as(writer.retireAll("role"), RETIRED) : Effect.fail(error))
              )
              return Effect.andThen(watch(writer, session, wrongForWriter), run)
            })
          ),
          (result): Effect.Effect<A, E | PgError, R> =>
            result !== RETIRED
              ? Effect.succeed(result as A)
              : triesLeft > 0
              ? attempt(triesLeft - 1)
              : Effect.fail(wrongRole("no writer session is on a read-write server"))
        )
      return attempt(writerMaxSize(options))
    }

    /** Runs `f` on a reader session still on a standby; a session on a promoted server is retired. */
    const onReader = <A, E, R>(
      at: number,
      f: (session: Session) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | PgError, R> =>
      readers[at]!.withSession((session): Effect.Effect<A, E | PgError, R> =>
        Effect.flatMap(session.parameters, (parameters): Effect.Effect<A, E | PgError, R> => {
          // A standby promoted since: the statement reads from the writer instead.
          if (roleOf(parameters) === "read-write") return Effect.andThen(readers[at]!.retireAll("role"), onWriter(f))
          return Effect.andThen(watch(readers[at]!, session, wrongForReader), f(session))
        })
      )

    /** After a write inside `readYourWrites`: the WAL position the reads must see. */
    const fenceAfterWrite = (session: Session): Effect.Effect<void, PgError> =>
      Effect.flatMap(Effect.serviceOption(FenceKey), (fence) =>
        Option.isNone(fence) ? Effect.void : Effect.map(
          session.query<{ lsn: string }>("select pg_current_wal_insert_lsn()::text as lsn"),
          ({ rows }) => {
            const lsn = parseLsn(rows[0]!.lsn)
            if (fence.value.lsn === undefined || lsn > fence.value.lsn) fence.value.lsn = lsn
          }
        ))

    /** Waits until reader `at` has replayed `lsn`; false when it has not within the timeout. */
    const replayed = (at: number, lsn: bigint): Effect.Effect<boolean> =>
      readers[at]!.query<{ done: boolean }>("select pg_last_wal_replay_lsn() >= $1::pg_lsn as done", [lsnText(lsn)]).pipe(
        Effect.map(({ rows }) => rows[0]?.done === true),
        Effect.catch(() => Effect.succeed(false)),
        Effect.repeat({ until: (done) => done, schedule: Schedule.spaced(REPLAY_POLL_MILLIS) }),
        Effect.timeoutOption(options.readYourWritesTimeout ?? READ_YOUR_WRITES_TIMEOUT_MILLIS),
        Effect.map(Option.isSome)
      )

    /** Where a read goes: a reader's index, or undefined for the writer. */
    const readTarget: Effect.Effect<number | undefined> = Effect.flatMap(Effect.serviceOption(FenceKey), (fence) => {
      const at = pickReader()
      if (at === undefined || Option.isNone(fence) || fence.value.lsn === undefined) return Effect.succeed(at)
      if ((options.readYourWrites ?? "primary") === "primary") return Effect.succeed(undefined)
      const lsn = fence.value.lsn
      const known = statuses[at]!.replayLsn
      if (known !== undefined && known >= lsn) return Effect.succeed(at)
      return Effect.map(replayed(at, lsn), (ok) => (ok ? at : undefined))
    })

    const query = <R = Row>(
      sql: string,
      params?: ReadonlyArray<unknown>,
      queryOptions?: QueryOptions & { readonly readOnly?: boolean | undefined }
    ): Effect.Effect<QueryResult<R>, PgError> =>
      Effect.withFiber((fiber) => {
        const route = Context.getOrUndefined(fiber.context, RouteKey)
        if (route !== undefined) return route.query<R>(sql, params, queryOptions)
        const read = queryOptions?.readOnly ?? fiber.getRef(ReadOnlyIntent)
        const run = (session: Session) => session.query<R>(sql, params, queryOptions)
        if (!read) return onWriter((session) => Effect.tap(run(session), () => fenceAfterWrite(session)))
        return Effect.flatMap(readTarget, (at) => (at === undefined ? onWriter(run) : onReader(at, run)))
      })

    const withTransaction = <A, E, R>(
      effect: Effect.Effect<A, E, R>,
      txOptions?: TransactionOptions
    ): Effect.Effect<A, E | PgError, R> => {
      if (txOptions?.readOnly === true) {
        return Effect.flatMap(readTarget, (at) => {
          const pool = at === undefined ? writer : readers[at]!
          return pool.withTransaction(Effect.provideService(effect, RouteKey, pool), txOptions)
        })
      }
      return Effect.tap(
        writer.withTransaction(Effect.provideService(effect, RouteKey, writer), txOptions),
        () => onWriter(fenceAfterWrite)
      )
    }

    return {
      writer,
      readers,
      readPool: Effect.map(readTarget, (at) => (at === undefined ? writer : readers[at]!)),
      query,
      withTransaction,
      status: Effect.sync(() => statuses),
      checkNow
    }
  })

const writerMaxSize = (options: PoolOptions): number => options.maxSize ?? 10

const lsnText = (lsn: bigint): string => `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`
