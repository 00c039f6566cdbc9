/**
 * The metrics of sessions and pools against the real server, read as a
 * snapshot of a registry of their own: operation durations by operation and
 * outcome, connection counts and times, timeouts, cancels, retirements by
 * reason, statement cache hits and misses, bytes each way.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import * as PgPool from "../../src/pool/Pool.ts"
import * as PgSession from "../../src/session/Session.ts"
import { servers } from "../support/Servers.ts"
import { awaitActive, connectPlain } from "../support/Sessions.ts"
import { attributesOf, recorder, traced } from "./Support.ts"

/** One line per series: id, attributes (without the server's), and what does not depend on timing. */
const render = (snapshots: ReadonlyArray<Metric.Metric.Snapshot>, keep: (s: Metric.Metric.Snapshot) => boolean) =>
  snapshots.filter(keep).map((s) => {
    const attributes = Object.entries(s.attributes ?? {})
      .filter(([k]) => !["db.system.name", "db.namespace", "server.address", "server.port", "db.client.connection.pool.name"].includes(k))
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(",")
    const state = s.state as unknown as Record<string, unknown>
    const value = s.type === "Histogram" ? `count=${state["count"]}` : s.type === "Counter" ? `count=${state["count"]}` : `value=${state["value"]}`
    return `${s.id}{${attributes}} ${value}`
  }).sort()

describe("metrics", () => {
  it.live("a pool's and its sessions' metrics, as a snapshot", () => {
    const registry: Metric.MetricRegistry = new Map()
    return Effect.gen(function*() {
      const name = "obs-metrics"
      yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* PgPool.make({
          host: servers().main.host,
          port: servers().main.port,
          user: "postgres",
          database: "postgres",
          sslMode: "disable",
          name,
          maxSize: 1,
          // Room for the first connect on a loaded machine; the held checkout below waits it out once.
          acquireTimeout: 3_000
        })
        for (let i = 0; i < 3; i++) yield* pool.query("select $1::int as n", [i])
        yield* Effect.exit(pool.query("select 1 / $1::int", [0]))
        const holder = yield* Effect.forkChild(pool.withSession(() => Effect.never))
        while ((yield* pool.stats).inUse === 0) yield* Effect.sleep(5)
        yield* Effect.exit(pool.query("select 2"))
        yield* Fiber.interrupt(holder)
      }))
      // An interrupted query on a session of its own: a cancel is sent.
      yield* Effect.scoped(Effect.gen(function*() {
        const session = yield* connectPlain()
        const monitor = yield* connectPlain()
        const fiber = yield* Effect.forkChild(session.query("select pg_sleep(30)"))
        yield* awaitActive(monitor, session, "pg_sleep(30)")
        yield* Fiber.interrupt(fiber)
      }))
      const snapshots = yield* Metric.snapshot
      const lines = render(snapshots, (s) =>
        (s.id.startsWith("db.client.connection.") || s.id === "pgwire.pool.retirements") &&
        s.attributes?.["db.client.connection.pool.name"] === name)
      assert.deepStrictEqual(lines, [
        "db.client.connection.count{db.client.connection.state=idle} value=0",
        "db.client.connection.count{db.client.connection.state=used} value=0",
        "db.client.connection.create_time{} count=1",
        "db.client.connection.max{} value=1",
        "db.client.connection.pending_requests{} value=0",
        "db.client.connection.timeouts{} count=1",
        // 3 + 1 queries and the holder's checkout; the timed-out one got no session.
        "db.client.connection.use_time{} count=5",
        "db.client.connection.wait_time{} count=5",
        "pgwire.pool.retirements{reason=pool_closed} count=1"
      ])
      const operations = render(snapshots, (s) =>
        s.id === "db.client.operation.duration" && s.attributes?.["server.port"] === String(servers().main.port))
      // Other suites' sessions share no registry with this one: the counts are this test's.
      assert.includeMembers(operations, [
        "db.client.operation.duration{db.operation.name=SELECT,error.type=22012} count=1",
        "db.client.operation.duration{db.operation.name=SELECT,error.type=interrupted} count=1"
      ])
      const selects = operations.find((l) => l.startsWith("db.client.operation.duration{db.operation.name=SELECT}"))
      // 3 queries of the pool, and the monitor's polls of pg_stat_activity.
      assert.isDefined(selects)
      assert.isAtLeast(Number(selects!.split("count=")[1]), 3)
      const counter = (id: string) =>
        snapshots.filter((s) => s.id === id).reduce((n, s) => n + Number((s.state as { count: number }).count), 0)
      assert.strictEqual(counter("pgwire.client.cancels_sent"), 1)
      assert.isAtLeast(counter("pgwire.client.statement_cache.hits"), 2)
      assert.isAtLeast(counter("pgwire.client.statement_cache.misses"), 2)
      assert.isAbove(counter("pgwire.client.bytes_sent"), 100)
      assert.isAbove(counter("pgwire.client.bytes_received"), 100)
      // The pool's own gauges agree with the OpenTelemetry ones.
      const legacy = render(snapshots, (s) => s.id.startsWith("pgwire.pool.") && s.attributes?.["pool.name"] === name)
      assert.include(legacy, "pgwire.pool.timed_out{pool.name=obs-metrics} count=1")
    }).pipe(Effect.provideService(Metric.MetricRegistry, registry))
  })

  it.live("a session the server ended is retired as broken, one past its uses as max_uses", () => {
    const registry: Metric.MetricRegistry = new Map()
    return Effect.gen(function*() {
      const name = "obs-retire"
      yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* PgPool.make({
          host: servers().main.host,
          port: servers().main.port,
          user: "postgres",
          database: "postgres",
          sslMode: "disable",
          name,
          maxSize: 1,
          maxUses: 2
        })
        const monitor = yield* connectPlain()
        const { rows } = yield* pool.query<{ pid: number }>("select pg_backend_pid() as pid")
        yield* monitor.query("select pg_terminate_backend($1)", [rows[0]!.pid])
        while ((yield* pool.stats).retired === 0) yield* Effect.sleep(10)
        // A new session: its second checkout is its last.
        yield* pool.query("select 1")
        yield* pool.query("select 1")
        while ((yield* pool.stats).retired < 2) yield* Effect.sleep(10)
      }))
      const lines = render(yield* Metric.snapshot, (s) =>
        s.id === "pgwire.pool.retirements" && s.attributes?.["db.client.connection.pool.name"] === name)
      assert.deepStrictEqual(lines, [
        "pgwire.pool.retirements{reason=broken} count=1",
        "pgwire.pool.retirements{reason=max_uses} count=1"
      ])
    }).pipe(Effect.provideService(Metric.MetricRegistry, registry))
  })

  it.live("ObserveSessions \"spans\": spans under a tracer, no metric recorded with or without one", () => {
    const registry: Metric.MetricRegistry = new Map()
    return Effect.gen(function*() {
      const rec = recorder()
      const table = yield* Effect.scoped(Effect.gen(function*() {
        const spansOnly = yield* connectPlain().pipe(Effect.provideService(PgSession.ObserveSessions, "spans"))
        yield* spansOnly.query("select $1::int as spans_only", [1])
        yield* Effect.exit(spansOnly.query("select 1 / $1::int as spans_only", [0]))
        yield* Stream.runDrain(spansOnly.stream("select 2 as spans_only"))
        yield* traced(rec, spansOnly.query("select 3 as spans_only_traced"))
        const operations = render(yield* Metric.snapshot, (s) => s.id.startsWith("db.client.operation") || s.id.startsWith("pgwire.client."))
        // The control: a session observed in full, in the same registry, records its operation.
        const full = yield* connectPlain()
        yield* full.query("select 4 as observed")
        return { spansOnly: operations, full: render(yield* Metric.snapshot, (s) => s.id === "db.client.operation.duration") }
      }))
      assert.deepStrictEqual(table.spansOnly, [])
      assert.deepStrictEqual(table.full, ["db.client.operation.duration{db.operation.name=SELECT} count=1"])
      const span = rec.spans.find((s) => s.name === "SELECT")
      assert.isDefined(span)
      assert.strictEqual(span!.kind, "client")
      assert.strictEqual(attributesOf(span!)["db.query.text"], "select ? as spans_only_traced")
    }).pipe(Effect.provideService(Metric.MetricRegistry, registry))
  })
})
