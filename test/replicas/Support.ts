/**
 * What the role-change suites do to a primary and its streaming standby: a
 * session straight to one server, a routed pool over both, the primary turned
 * read-only (ALTER SYSTEM, reload, wait until the sessions see it) and back,
 * the standby promoted with pg_promote(), and waiting for a condition within
 * a "must not hang" bound.
 */
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { Pool } from "../../src/pool/Pool.ts"
import * as Routing from "../../src/pool/Routing.ts"
import * as PgSession from "../../src/session/Session.ts"
import type { Pair } from "../support/Standby.ts"

/** How long pg_promote() may wait for the promotion to finish before it returns false (its `wait_seconds`). */
export const PROMOTE_WAIT_SECONDS = 60

/** A session straight to one server of the pair, outside any pool. */
export const direct = (server: Pair["primary"]) =>
  PgSession.connect({ host: server.host, port: server.port, user: "postgres", database: "postgres", sslMode: "disable" })

/** Routing options over the pair, the primary first, with `options` on top. */
export const pairOptions = (pair: Pair, options: Partial<Routing.RoutingOptions>): Routing.RoutingOptions => ({
  hosts: [
    { host: pair.primary.host, port: pair.primary.port },
    { host: pair.standby.host, port: pair.standby.port }
  ],
  user: "postgres",
  database: "postgres",
  sslMode: "disable",
  ...options
})

/** A routed pool over the pair, the primary first, with `options` on top. */
export const routed = (pair: Pair, options: Partial<Routing.RoutingOptions>) => Routing.make(pairOptions(pair, options))

/** Polls `condition` every 20 ms until it holds; fails the test past `boundMillis`. */
export const eventually = <E>(what: string, condition: Effect.Effect<boolean, E>, boundMillis: number) =>
  Effect.gen(function*() {
    const started = performance.now()
    while (!(yield* condition)) {
      if (performance.now() - started > boundMillis) return assert.fail(`${what} within ${boundMillis} ms`)
      yield* Effect.sleep(20)
    }
  })

/**
 * Turns the primary read-only (`default_transaction_read_only = on` by ALTER SYSTEM, then a reload), then waits
 * until `seen` holds. A session takes the new setting when it next reads a statement, and reports it with that
 * statement's answer: an idle session hears nothing. `primary` is a session straight to the primary.
 */
export const turnReadOnly = <E>(
  primary: PgSession.Session,
  what: string,
  seen: Effect.Effect<boolean, E>,
  boundMillis: number
) =>
  Effect.gen(function*() {
    yield* primary.simple("alter system set default_transaction_read_only = on")
    yield* primary.simple("select pg_reload_conf()")
    yield* eventually(what, seen, boundMillis)
  })

/** Turns the primary read-write again: the setting reset by ALTER SYSTEM, then a reload. */
export const turnReadWrite = (primary: PgSession.Session) =>
  Effect.gen(function*() {
    yield* primary.simple("alter system reset default_transaction_read_only")
    yield* primary.simple("select pg_reload_conf()")
  })

/**
 * Whether `pool` has retired a session; until it has, runs a statement on the pool directly (not routed), so that
 * one of its sessions reads a statement and hears the change its server reports. The statement's own outcome is not
 * the point: once a session is retired, the pool may have no server of its role to open another on.
 */
export const retiredOnceHeard = (pool: Pool) =>
  Effect.gen(function*() {
    if ((yield* pool.stats).retired >= 1) return true
    yield* Effect.exit(pool.query("select 1 as one"))
    return false
  })

/** Promotes the standby: pg_promote() returns once the promotion is done. `standby` is a session straight to it. */
export const promote = (standby: PgSession.Session) =>
  standby.query(`select pg_promote(true, ${PROMOTE_WAIT_SECONDS})`)
