/**
 * What the clients of one proxy share: the upstream pool, the mode, the live
 * clients and the counters the admin console reports.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type { Relay } from "./Relay.ts"
import type { UpstreamPool } from "./UpstreamPool.ts"

/**
 * Counters shared by the clients of one proxy (admin `SHOW STATS`).
 *
 * @since 0.1.0
 */
export interface Totals {
  transactions: number
  queries: number
  received: number
  sent: number
  canceled: number
  cancelsDropped: number
  /** `set_config` queries sent to bring an upstream to a client's parameters. */
  parameterSets: number
}

/**
 * What a client relay needs from its proxy.
 *
 * @since 0.1.0
 */
export interface Context {
  readonly pool: UpstreamPool
  readonly mode: "session" | "transaction"
  readonly totals: Totals
  /** Runs a background Effect (cancel requests). */
  readonly fork: (effect: Effect.Effect<void>) => void
  /** Live clients (admin `SHOW CLIENTS`). */
  readonly clients: Set<Relay>
}
