/**
 * The metrics of sessions, as Effect metrics (`effect/Metric`), named after
 * OpenTelemetry's database client conventions where they have a name, and
 * `pgwire.*` where they do not. `@effect/opentelemetry`'s metrics layer
 * exports them as they are.
 *
 * | metric                                  | kind      | attributes                                         |
 * |-----------------------------------------|-----------|----------------------------------------------------|
 * | `db.client.operation.duration`          | histogram | `db.operation.name`, `error.type` (on failure), server |
 * | `pgwire.client.cancels_sent`            | counter   | (none: a CancelRequest knows no server name)       |
 * | `pgwire.client.statement_cache.hits`    | counter   | server                                             |
 * | `pgwire.client.statement_cache.misses`  | counter   | server                                             |
 * | `pgwire.client.bytes_sent`              | counter   | server                                             |
 * | `pgwire.client.bytes_received`          | counter   | server                                             |
 *
 * "server" is `db.system.name`, `db.namespace`, `server.address` and
 * `server.port`. Durations are in seconds (the conventions' unit).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"

/**
 * Bucket boundaries of `db.client.operation.duration`, in seconds: the
 * conventions' advice.
 *
 * @since 0.1.0
 */
export const DURATION_BOUNDARIES: ReadonlyArray<number> = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]

/**
 * Where a session is connected: the attributes every series of its metrics carries.
 *
 * @since 0.1.0
 */
export interface ServerAttributes {
  readonly "db.system.name": "postgresql"
  readonly "db.namespace": string
  readonly "server.address": string
  readonly "server.port": number
}

/**
 * CancelRequests whose exchange completed (the server closed the side connection).
 *
 * @since 0.1.0
 */
export const cancelsSent = Metric.counter("pgwire.client.cancels_sent", {
  description: "CancelRequests sent to the server",
  incremental: true
})

/**
 * Counts one cancel sent (an Effect, for the cancel sequence).
 *
 * @since 0.1.0
 */
export const countCancel: Effect.Effect<void> = Metric.update(cancelsSent, 1)

/**
 * The metrics of the sessions connected to one server, with their series
 * looked up once per combination of attributes.
 *
 * @since 0.1.0
 */
export class SessionMetrics {
  readonly attributes: Readonly<Record<string, string>>
  private readonly durations = new Map<string, Metric.Histogram<number>>()
  readonly cacheHits: Metric.Counter<number>
  readonly cacheMisses: Metric.Counter<number>
  readonly bytesSent: Metric.Counter<number>
  readonly bytesReceived: Metric.Counter<number>

  constructor(server: ServerAttributes) {
    // Metric attributes are strings.
    const attributes = { ...server, "server.port": String(server["server.port"]) }
    this.attributes = attributes
    const counter = (id: string, description: string) => Metric.counter(id, { description, attributes, incremental: true })
    this.cacheHits = counter("pgwire.client.statement_cache.hits", "Statements found in the session's cache")
    this.cacheMisses = counter("pgwire.client.statement_cache.misses", "Statements prepared because the cache had none")
    this.bytesSent = counter("pgwire.client.bytes_sent", "Bytes written to the server")
    this.bytesReceived = counter("pgwire.client.bytes_received", "Bytes read from the server")
  }

  /** The duration histogram of one operation name and outcome (`errorType` undefined: success). */
  duration(operation: string, errorType: string | undefined): Metric.Histogram<number> {
    const key = errorType === undefined ? operation : `${operation}\u0000${errorType}`
    let metric = this.durations.get(key)
    if (metric === undefined) {
      metric = Metric.histogram("db.client.operation.duration", {
        description: "Duration of database client operations",
        boundaries: DURATION_BOUNDARIES,
        attributes: {
          ...this.attributes,
          "db.operation.name": operation,
          ...(errorType === undefined ? {} : { "error.type": errorType })
        }
      })
      this.durations.set(key, metric)
    }
    return metric
  }
}
