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
 * The pool keeps these numbers itself and writes them with the unsafe metric
 * updates in the context it was built in: no Effect is allocated for them per
 * checkout. Deliberately not here: histograms of wait or use times (spans of
 * `PgClient` carry `db.client.connection.wait_time_ms` already).
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import * as Metric from "effect/Metric"

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
    timedOut: counter("pgwire.pool.timed_out", "Checkouts that timed out")
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

  constructor(name: string, context: Context.Context<never>) {
    this.context = context
    this.metrics = metricsOf(name)
    this.publish()
  }

  /** Writes the gauges from the counters. */
  publish(): void {
    const m = this.metrics
    m.size.updateUnsafe(this.size, this.context)
    m.idle.updateUnsafe(Math.max(0, this.size - this.inUse), this.context)
    m.inUse.updateUnsafe(this.inUse, this.context)
    m.waiting.updateUnsafe(this.waiting, this.context)
  }

  count(counter: "acquired" | "created" | "retired" | "timedOut"): void {
    this[counter]++
    this.metrics[counter].updateUnsafe(1, this.context)
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
