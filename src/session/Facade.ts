/**
 * The `Session` object both sessions (3.x and 2.0) build the same way around
 * their own connection: the operations each defines, plus the members that
 * only read the connection (closed or not, a copy of its parameters) and the
 * pool's view of it (`Lender`).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { PgError } from "../errors/PgError.ts"
import type { Registry } from "../types/Registry.ts"
import type { Session } from "./Api.ts"
import { type Lender, LenderKey } from "./Lender.ts"

/**
 * What the facade reads from a connection (the 3.x `Connection` and the 2.0 wire both have it).
 *
 * @since 0.1.0
 */
export interface Connection {
  readonly isClosed: boolean
  /** Nothing queued, in flight or holding the wire. */
  readonly idle: boolean
  breakWith(error: PgError): void
}

/**
 * What each session defines itself.
 *
 * @since 0.1.0
 */
export type Own = Omit<Session, "parameters" | "isClosed" | typeof LenderKey | "registry">

/**
 * The session object over `conn`.
 *
 * @since 0.1.0
 */
export const make = (
  conn: Connection,
  own: Own,
  facts: {
    /** The server's parameters as they are now (copied for each caller). */
    readonly parameters: () => ReadonlyMap<string, string>
    /** The registry as it is now (it grows as types are looked up). */
    readonly registry: () => Registry
  } & Pick<Lender, "settled" | "onClose" | "queryTracked">
): Session => ({
  ...own,
  parameters: Effect.sync(() => new Map(facts.parameters()) as ReadonlyMap<string, string>),
  isClosed: Effect.sync(() => conn.isClosed),
  [LenderKey]: {
    settled: facts.settled,
    isSettled: () => conn.idle || conn.isClosed,
    isOpen: () => !conn.isClosed,
    onClose: facts.onClose,
    break: (error) => conn.breakWith(error),
    queryTracked: facts.queryTracked
  },
  get registry() {
    return facts.registry()
  }
})
