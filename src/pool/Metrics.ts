/**
 * The metrics of a session pool, as Effect metrics (`effect/Metric`), every
 * series carrying the attribute `pool.name`.
 *
 * | metric                      | kind    | meaning                                                  |
 * |-----------------------------|---------|----------------------------------------------------------|
 * | `pgwire.pool.size`          | gauge   | sessions open (idle + in use)                             |
 * | `pgwire.pool.idle`          | gauge   | sessions open and not leased                              |
 * | `pgwire.pool.in_use`        | gauge   | sessions leased by at least one caller                    |
 * | `pgwire.pool.waiting`       | gauge   | callers waiting for a session                             |
 * | `pgwire.pool.acquired`      | counter | successful checkouts                                      |
 * | `pgwire.pool.created`       | counter | sessions opened                                           |
 * | `pgwire.pool.retired`       | counter | sessions closed (idle, lifetime, broken, pool closing)    |
 * | `pgwire.pool.timed_out`     | counter | checkouts that failed with the acquire timeout            |
 *
 * And under OpenTelemetry's names for connection pools (attribute
 * `db.client.connection.pool.name`; times in seconds):
 *
 * | metric                                  | kind      | meaning                                          |
 * |-----------------------------------------|-----------|--------------------------------------------------|
 * | `db.client.connection.count`            | gauge     | sessions by `db.client.connection.state` (idle, used) |
 * | `db.client.connection.max`              | gauge     | `maxSize`                                        |
 * | `db.client.connection.pending_requests` | gauge     | callers waiting for a session                    |
 * | `db.client.connection.timeouts`         | counter   | checkouts that timed out                         |
 * | `db.client.connection.create_time`      | histogram | time to open a session (connect and start-up)    |
 * | `db.client.connection.wait_time`        | histogram | time a checkout waited for its session           |
 * | `db.client.connection.use_time`         | histogram | time from checkout to release                    |
 * | `pgwire.pool.retirements`               | counter   | sessions retired, by `reason` (see `RetireReason`) |
 *
 * The pool keeps these numbers itself and writes them with the unsafe metric
 * updates in the context it was built in: no Effect is allocated for them per
 * checkout.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Tracer from "effect/Tracer"
import { errorTypeOf, isTraced } from "../session/Observe.ts"
import { DURATION_BOUNDARIES } from "../session/SessionMetrics.ts"

/**
 * The name of a checkout's span. The OpenTelemetry database conventions name
 * no span for it; its attributes use their connection-pool vocabulary.
 *
 * @since 0.1.0
 */
export const ACQUIRE_SPAN = "PgPool.acquire"

/** A checkout in a span, waiting for its session. */
interface PendingCheckout {
  readonly span: Tracer.Span
  readonly tracer: Tracer.Tracer
  opened: boolean
}

/**
 * Why a session left the pool: it closed or broke (`broken`), reached its
 * lifetime (`lifetime`), its `maxUses` (`max_uses`), sat idle past
 * `idleTimeout` (`idle`), the pool is closing (`pool_closed`), a check at
 * checkout or release refused it (`check`), or its server changed role
 * (`role`: a routed pool retired it, see `Routing.ts`).
 *
 * @since 0.1.0
 */
export type RetireReason = "broken" | "lifetime" | "max_uses" | "idle" | "pool_closed" | "check" | "role"

/**
 * The reason a session is retired, from what the pool knows of it at that moment.
 *
 * @since 0.1.0
 */
export const retireReason = (state: {
  readonly closing: boolean
  readonly open: boolean
  readonly now: number
  readonly retireAt: number
  readonly uses: number
  readonly maxUses: number
  readonly idleSince: number
  readonly idleTimeout: number
}): RetireReason =>
  state.closing
    ? "pool_closed"
    : !state.open
    ? "broken"
    : state.now >= state.retireAt
    ? "lifetime"
    : state.uses >= state.maxUses
    ? "max_uses"
    : state.now - state.idleSince >= state.idleTimeout
    ? "idle"
    : "check"

/**
 * The pool's numbers at one instant.
 *
 * @since 0.1.0
 */
export interface PoolStats {
  readonly size: number
  readonly idle: number
  readonly inUse: number
  readonly waiting: number
  readonly acquired: number
  readonly created: number
  readonly retired: number
  readonly timedOut: number
}

/**
 * The metric definitions of the pool named `name` (the same id, description
 * and attributes the pool updates, so `Metric.value` of one of them reads the
 * pool's series).
 *
 * @since 0.1.0
 */
export const metricsOf = (name: string) => {
  const attributes = { "pool.name": name }
  const gauge = (id: string, description: string) => Metric.gauge(id, { description, attributes })
  const counter = (id: string, description: string) => Metric.counter(id, { description, attributes, incremental: true })
  return {
    size: gauge("pgwire.pool.size", "Sessions open"),
    idle: gauge("pgwire.pool.idle", "Sessions open and not leased"),
    inUse: gauge("pgwire.pool.in_use", "Sessions leased"),
    waiting: gauge("pgwire.pool.waiting", "Callers waiting for a session"),
    acquired: counter("pgwire.pool.acquired", "Successful checkouts"),
    created: counter("pgwire.pool.created", "Sessions opened"),
    retired: counter("pgwire.pool.retired", "Sessions closed"),
    timedOut: counter("pgwire.pool.timed_out", "Checkouts that timed out"),
    ...connectionMetricsOf(name)
  } as const
}

/** The OpenTelemetry-named metrics of the pool `name`. */
const connectionMetricsOf = (name: string) => {
  const pool = { "db.client.connection.pool.name": name }
  const histogram = (id: string, description: string) =>
    Metric.histogram(id, { description, attributes: pool, boundaries: DURATION_BOUNDARIES })
  return {
    connectionsIdle: Metric.gauge("db.client.connection.count", {
      description: "Connections by state",
      attributes: { ...pool, "db.client.connection.state": "idle" }
    }),
    connectionsUsed: Metric.gauge("db.client.connection.count", {
      description: "Connections by state",
      attributes: { ...pool, "db.client.connection.state": "used" }
    }),
    connectionsMax: Metric.gauge("db.client.connection.max", { description: "Connections allowed", attributes: pool }),
    pendingRequests: Metric.gauge("db.client.connection.pending_requests", {
      description: "Requests waiting for a connection",
      attributes: pool
    }),
    timeouts: Metric.counter("db.client.connection.timeouts", {
      description: "Checkouts that timed out",
      attributes: pool,
      incremental: true
    }),
    createTime: histogram("db.client.connection.create_time", "Time to open a connection"),
    waitTime: histogram("db.client.connection.wait_time", "Time a checkout waited for a connection"),
    useTime: histogram("db.client.connection.use_time", "Time from checkout to release"),
    retirements: (reason: RetireReason) =>
      Metric.counter("pgwire.pool.retirements", {
        description: "Sessions retired, by reason",
        attributes: { ...pool, reason },
        incremental: true
      })
  } as const
}

/**
 * @since 0.1.0
 */
export type PoolMetricDefinitions = ReturnType<typeof metricsOf>

/**
 * The mutable counters behind `PoolStats` and the metrics that mirror them.
 *
 * @since 0.1.0
 */
export class PoolMetrics {
  size = 0
  inUse = 0
  waiting = 0
  acquired = 0
  created = 0
  retired = 0
  timedOut = 0
  readonly context: Context.Context<never>
  readonly metrics: PoolMetricDefinitions

  private readonly retirements = new Map<RetireReason, Metric.Counter<number>>()
  /** Traced checkouts waiting, oldest first: a session opened now is connected under the first. */
  private readonly pending: Array<PendingCheckout> = []
  private readonly name: string

  constructor(name: string, context: Context.Context<never>, maxSize?: number) {
    this.name = name
    this.context = context
    this.metrics = metricsOf(name)
    if (maxSize !== undefined) this.metrics.connectionsMax.updateUnsafe(maxSize, context)
    this.publish()
  }

  /** Writes the gauges from the counters. */
  publish(): void {
    const m = this.metrics
    const idle = Math.max(0, this.size - this.inUse)
    m.size.updateUnsafe(this.size, this.context)
    m.idle.updateUnsafe(idle, this.context)
    m.inUse.updateUnsafe(this.inUse, this.context)
    m.waiting.updateUnsafe(this.waiting, this.context)
    m.connectionsIdle.updateUnsafe(idle, this.context)
    m.connectionsUsed.updateUnsafe(this.inUse, this.context)
    m.pendingRequests.updateUnsafe(this.waiting, this.context)
  }

  count(counter: "acquired" | "created" | "retired" | "timedOut"): void {
    this[counter]++
    this.metrics[counter].updateUnsafe(1, this.context)
    if (counter === "timedOut") this.metrics.timeouts.updateUnsafe(1, this.context)
  }

  /** A session opened after `millis`. */
  opened(millis: number): void {
    this.count("created")
    this.metrics.createTime.updateUnsafe(millis / 1000, this.context)
  }

  /** A session retired, and why. */
  retire(reason: RetireReason): void {
    this.count("retired")
    let counter = this.retirements.get(reason)
    if (counter === undefined) {
      counter = this.metrics.retirements(reason)
      this.retirements.set(reason, counter)
    }
    counter.updateUnsafe(1, this.context)
  }

  /** A checkout that waited `millis` for its session. */
  waited(millis: number): void {
    this.metrics.waitTime.updateUnsafe(millis / 1000, this.context)
  }

  /** A lease held for `millis`. */
  used(millis: number): void {
    this.metrics.useTime.updateUnsafe(millis / 1000, this.context)
  }

  /**
   * `checkout` in a span of its own (`ACQUIRE_SPAN`, kind internal, a child of
   * the caller's span) when a tracer is installed, else `checkout` as it is.
   * The span lasts from the request to the lease (waiting, and the health
   * check when one runs); it carries `db.client.connection.pool.name`,
   * `pgwire.pool.session_opened` (whether a session was connected for it) and,
   * on failure, `error.type` (`TimeoutError` for the acquire timeout).
   */
  traceCheckout<A, E, R>(checkout: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.withFiber((fiber) => {
      if (!isTraced(fiber)) return checkout
      const tracer = fiber.getRef(Tracer.Tracer)
      return Effect.useSpan(ACQUIRE_SPAN, {
        kind: "internal",
        attributes: { "db.system.name": "postgresql", "db.client.connection.pool.name": this.name }
      }, (span) => {
        const entry: PendingCheckout = { span, tracer, opened: false }
        this.pending.push(entry)
        return Effect.onExit(Effect.withParentSpan(checkout, span), (exit) =>
          Effect.sync(() => {
            const at = this.pending.indexOf(entry)
            if (at >= 0) this.pending.splice(at, 1)
            span.attribute("pgwire.pool.session_opened", entry.opened)
            if (Exit.isFailure(exit)) span.attribute("error.type", errorTypeOf(exit.cause).type)
          }))
      })
    })
  }

  /**
   * `connect` (a new session for the pool) as a child of the oldest traced
   * checkout still waiting that has none yet, with that checkout's tracer; as
   * it is when no traced checkout waits (`minSize`, a replacement). The
   * session may go to another waiter in the end: the span says which
   * checkout's wait started the connect.
   */
  traceOpen<A, E, R>(connect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.suspend(() => {
      const waiter = this.pending.find((p) => !p.opened)
      if (waiter === undefined) return connect
      waiter.opened = true
      return Effect.withTracer(Effect.withParentSpan(connect, waiter.span), waiter.tracer)
    })
  }

  snapshot(): PoolStats {
    return {
      size: this.size,
      idle: Math.max(0, this.size - this.inUse),
      inUse: this.inUse,
      waiting: this.waiting,
      acquired: this.acquired,
      created: this.created,
      retired: this.retired,
      timedOut: this.timedOut
    }
  }
}
