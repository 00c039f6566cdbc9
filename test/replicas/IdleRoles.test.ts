/**
 * Idle sessions on a server that changed role, over a real primary and its
 * streaming standby (PostgreSQL 18, and 13, which reports neither
 * `in_hot_standby` nor `default_transaction_read_only`). The server tells an
 * idle session nothing, so:
 * - the routed pool's periodic check of its hosts (`lagCheckInterval`) finds
 *   the role of each (`pg_is_in_recovery()`, `transaction_read_only`) and
 *   retires every session of a pool on the wrong role, idle ones at once,
 *   none of them used by the application first;
 * - a role change one session hears (14+) retires the other sessions of its
 *   pool too, not only the one that heard it, with no further statement.
 * Retirements are counted under the reason `role`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type { PgError } from "../../src/errors/PgError.ts"
import type { Pool } from "../../src/pool/Pool.ts"
import * as Routing from "../../src/pool/Routing.ts"
import type { ServerKind } from "../support/EmbeddedPostgres.ts"
import { streamingPair } from "../support/Standby.ts"
import { direct, eventually, promote, retiredOnceHeard, routed, turnReadOnly, turnReadWrite } from "./Support.ts"

/** How long a retirement may take to be seen (a "must not hang" bound, not a timing claim). */
const RETIRE_BOUND_MILLIS = 15_000

/** The routed pool's check interval in the periodic tests: short, so the bound above is far. */
const CHECK_MILLIS = 200

/** Opens `n` sessions of `pool` at once and returns them: they stay in the pool, idle. */
const idleSessions = (pool: Pool, n: number): Effect.Effect<void, PgError> =>
  Effect.scoped(Effect.forEach(Array.from({ length: n }), () => pool.acquire, { concurrency: "unbounded", discard: true }))

/** `n` sessions of `pool`, each used by a routed statement (so watched), then idle. */
const usedSessions = (n: number, use: Effect.Effect<unknown, PgError>) =>
  Effect.forEach(Array.from({ length: n }), () => use, { concurrency: "unbounded", discard: true })

/** Sessions of the pool named `pool` retired under `reason`, as the metric says. */
const retiredFor = (pool: string, reason: string): Effect.Effect<number> =>
  Effect.map(Metric.snapshot, (all) => {
    let n = 0
    for (const m of all) {
      if (m.id !== "pgwire.pool.retirements") continue
      const a = m.attributes ?? {}
      if (a["db.client.connection.pool.name"] === pool && a["reason"] === reason) n += Number((m.state as { count: number }).count)
    }
    return n
  })

const hostStatus = (pool: Routing.RoutedPool, port: number) =>
  Effect.map(pool.status, (all) => all.find((s) => s.port === port))

/** The periodic check: idle writer sessions on a primary turned read-only, idle reader sessions on a promoted standby. */
const periodicCheck = (kind: ServerKind): Effect.Effect<void, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const pair = yield* streamingPair({ kind })
    const name = `idle-${kind}`
    const pool = yield* routed(pair, { name, maxSize: 3, lagCheckInterval: CHECK_MILLIS })
    const reader = pool.readers[1]!
    yield* idleSessions(pool.writer, 3)
    yield* idleSessions(reader, 3)
    assert.deepInclude(yield* pool.writer.stats, { size: 3, retired: 0 })
    assert.deepInclude(yield* reader.stats, { size: 3, retired: 0 })
    yield* eventually(
      "the standby is readable",
      Effect.map(hostStatus(pool, pair.standby.port), (s) => s?.readable === true),
      RETIRE_BOUND_MILLIS
    )

    // The primary turns read-only; nothing is run through the routed pool or its writer afterwards.
    const primary = yield* direct(pair.primary)
    yield* turnReadOnly(
      primary,
      "the writer's idle sessions were retired by the check",
      Effect.map(pool.writer.stats, (s) => s.size === 0 && s.retired >= 3),
      RETIRE_BOUND_MILLIS
    )
    assert.isAtLeast(yield* retiredFor(`${name}.writer`, "role"), 3)
    // No read-write server now: a write fails typed, retryable, and never with 25006.
    const refused = yield* Effect.flip(pool.query("select 1 as one"))
    assert.strictEqual(refused.reason._tag, "ConnectionError")
    assert.isTrue(refused.isRetryable)
    yield* turnReadWrite(primary)
    const write = yield* Routing.retryWrite(pool.query<{ port: number }>("select inet_server_port() as port"), RETIRE_BOUND_MILLIS)
    assert.strictEqual(write.rows[0]!.port, pair.primary.port)

    // The standby is promoted; its three reader sessions are idle and stay unused by the application.
    const readerSize = (yield* reader.stats).size
    assert.strictEqual(readerSize, 3)
    yield* promote(yield* direct(pair.standby))
    yield* eventually(
      "the promoted server's idle reader sessions were retired by the check",
      Effect.map(reader.stats, (s) => s.size === 0 && s.retired >= 3),
      RETIRE_BOUND_MILLIS
    )
    assert.isAtLeast(yield* retiredFor(`${name}.reader.1`, "role"), 3)
    // The check's status is published once every host has answered, after the retirement.
    yield* eventually(
      "the routed pool's status shows the promotion",
      Effect.map(hostStatus(pool, pair.standby.port), (s) => s?.standby === false && !s.readable),
      RETIRE_BOUND_MILLIS
    )
    // Reads go to the writer now (prefer-standby with no standby).
    const read = yield* pool.query<{ port: number }>("select inet_server_port() as port", [], { readOnly: true })
    assert.strictEqual(read.rows[0]!.port, pair.primary.port)
  })

describe("idle sessions on a server that changed role", () => {
  it.live("PostgreSQL 18: the periodic check retires idle writer sessions of a read-only primary and idle reader sessions of a promoted standby", () =>
    periodicCheck("pg18").pipe(Effect.scoped), 120_000)

  it.live("PostgreSQL 13 (no role reported): the periodic check retires them all the same", () =>
    periodicCheck("pg13").pipe(Effect.scoped), 120_000)

  it.live("a role change one session hears retires the pool's other sessions, idle ones included", () =>
    Effect.gen(function*() {
      const pair = yield* streamingPair()
      const name = "heard"
      // Long enough that only a heard change retires anything during the test.
      const pool = yield* routed(pair, { name, maxSize: 3, lagCheckInterval: 600_000 })
      const reader = pool.readers[1]!
      // Three sessions each: used by routed statements at once (each is watched), then idle. A second each,
      // so that no statement's session is free again before the third one has its own.
      const slow = "select inet_server_port() as port from pg_sleep(1)"
      yield* usedSessions(3, pool.query(slow))
      yield* usedSessions(3, pool.query(slow, [], { readOnly: true }))
      assert.deepInclude(yield* pool.writer.stats, { size: 3, retired: 0 })
      assert.deepInclude(yield* reader.stats, { size: 3, retired: 0 })

      // The primary turns read-only: one writer session hears it with the answer of a statement run on the
      // writer pool directly (not routed), and all three go.
      const primary = yield* direct(pair.primary)
      yield* turnReadOnly(
        primary,
        "a writer session heard default_transaction_read_only=on",
        retiredOnceHeard(pool.writer),
        RETIRE_BOUND_MILLIS
      )
      // No statement from here on: the other two go because one heard it.
      yield* eventually(
        "every writer session was retired once one heard the change",
        Effect.map(pool.writer.stats, (s) => s.size === 0 && s.retired >= 3),
        RETIRE_BOUND_MILLIS
      )
      assert.isAtLeast(yield* retiredFor(`${name}.writer`, "role"), 3)
      yield* turnReadWrite(primary)

      // The standby is promoted: a statement on one reader session, run on the reader pool directly, hears
      // in_hot_standby=off.
      yield* promote(yield* direct(pair.standby))
      yield* eventually("a reader session heard in_hot_standby=off", retiredOnceHeard(reader), RETIRE_BOUND_MILLIS)
      yield* eventually(
        "every reader session was retired once one heard the change",
        Effect.map(reader.stats, (s) => s.size === 0 && s.retired >= 3),
        RETIRE_BOUND_MILLIS
      )
      assert.isAtLeast(yield* retiredFor(`${name}.reader.1`, "role"), 3)
    }).pipe(Effect.scoped), 120_000)
})
