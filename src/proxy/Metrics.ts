/**
 * The proxy's metrics, as Effect metrics (`effect/Metric`), each series
 * carrying the attribute `proxy.name`; written every `METRICS_INTERVAL_MILLIS`
 * from the numbers the admin console shows (no Effect per statement).
 *
 * | metric                          | kind    | meaning                                         |
 * |---------------------------------|---------|-------------------------------------------------|
 * | `pgwire.proxy.clients`          | gauge   | clients connected                               |
 * | `pgwire.proxy.clients_waiting`  | gauge   | clients waiting for an upstream                 |
 * | `pgwire.proxy.upstreams`        | gauge   | upstream connections open                       |
 * | `pgwire.proxy.upstreams_idle`   | gauge   | upstream connections open and not lent          |
 * | `pgwire.proxy.transactions`     | counter | transactions relayed (ReadyForQuery 'I')        |
 * | `pgwire.proxy.queries`          | counter | simple queries relayed                          |
 * | `pgwire.proxy.loans`            | counter | upstream loans                                  |
 * | `pgwire.proxy.acquire_timeouts` | counter | clients refused after waiting `acquireTimeout`  |
 * | `pgwire.proxy.cancels`          | counter | cancels sent upstream                           |
 * | `pgwire.proxy.cancels_dropped`  | counter | cancels dropped (nothing of the client running) |
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import type { Context } from "./Context.ts"

/** How often the metrics are written. */
export const METRICS_INTERVAL_MILLIS = 1_000

/**
 * The metric definitions of the proxy named `name`.
 *
 * @since 0.1.0
 */
export const metricsOf = (name: string) => {
  const attributes = { "proxy.name": name }
  const gauge = (id: string, description: string) => Metric.gauge(id, { description, attributes })
  const counter = (id: string, description: string) => Metric.counter(id, { description, attributes, incremental: true })
  return {
    clients: gauge("pgwire.proxy.clients", "Clients connected"),
    clientsWaiting: gauge("pgwire.proxy.clients_waiting", "Clients waiting for an upstream"),
    upstreams: gauge("pgwire.proxy.upstreams", "Upstream connections open"),
    upstreamsIdle: gauge("pgwire.proxy.upstreams_idle", "Upstream connections open and not lent"),
    transactions: counter("pgwire.proxy.transactions", "Transactions relayed"),
    queries: counter("pgwire.proxy.queries", "Simple queries relayed"),
    loans: counter("pgwire.proxy.loans", "Upstream loans"),
    acquireTimeouts: counter("pgwire.proxy.acquire_timeouts", "Clients refused after waiting for an upstream"),
    cancels: counter("pgwire.proxy.cancels", "Cancels sent upstream"),
    cancelsDropped: counter("pgwire.proxy.cancels_dropped", "Cancels dropped")
  } as const
}

/**
 * Writes the metrics once: gauges set, counters advanced by what happened
 * since the last write.
 *
 * @since 0.1.0
 */
export const recorder = (name: string, ctx: Context): Effect.Effect<void> => {
  const m = metricsOf(name)
  const last = { transactions: 0, queries: 0, loans: 0, acquireTimeouts: 0, cancels: 0, cancelsDropped: 0 }
  const advance = (metric: Metric.Metric<number, unknown>, key: keyof typeof last, now: number) => {
    const delta = now - last[key]
    last[key] = now
    return delta === 0 ? Effect.void : Metric.update(metric, delta)
  }
  return Effect.suspend(() => {
    const clients = [...ctx.clients]
    return Effect.all([
      Metric.update(m.clients, clients.length),
      Metric.update(m.clientsWaiting, clients.filter((c) => c.waiting).length),
      Metric.update(m.upstreams, ctx.pool.all.size),
      Metric.update(m.upstreamsIdle, ctx.pool.idle.length),
      advance(m.transactions, "transactions", ctx.totals.transactions),
      advance(m.queries, "queries", ctx.totals.queries),
      advance(m.loans, "loans", ctx.pool.counters.loans),
      advance(m.acquireTimeouts, "acquireTimeouts", ctx.pool.counters.acquireTimeouts),
      advance(m.cancels, "cancels", ctx.totals.canceled),
      advance(m.cancelsDropped, "cancelsDropped", ctx.totals.cancelsDropped)
    ], { discard: true })
  })
}

/**
 * Writes the metrics every `METRICS_INTERVAL_MILLIS` (run forked in the proxy's Scope).
 *
 * @since 0.1.0
 */
export const record = (name: string, ctx: Context): Effect.Effect<void> =>
  Effect.asVoid(Effect.repeat(recorder(name, ctx), Schedule.spaced(METRICS_INTERVAL_MILLIS)))
