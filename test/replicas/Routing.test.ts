/**
 * Routing by intent over a real primary and its streaming standby: writes
 * never reach the standby (25006 is never seen), reads marked read-only go to
 * the standby, a lagging standby is skipped until it catches up, and reads
 * inside `readYourWrites` see the writes before them. On PostgreSQL 18, and
 * on 13, which reports neither `in_hot_standby` nor
 * `default_transaction_read_only`: there roles are found by the host check
 * (`pg_is_in_recovery()`, `transaction_read_only`), by connecting
 * (`target_session_attrs` asks the server) and by a 25006 refusal.
 */
import { assert, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type { PgError } from "../../src/errors/PgError.ts"
import * as Routing from "../../src/pool/Routing.ts"
import * as PgClient from "../../src/sql/PgClient.ts"
import type { ServerKind } from "../support/EmbeddedPostgres.ts"
import { type Pair, streamingPair } from "../support/Standby.ts"
import { direct, pairOptions, turnReadWrite } from "./Support.ts"

class PairService extends Context.Service<PairService, Pair>()("effect-pgwire/test/replicas/Pair") {}

const pairLayer = (kind: ServerKind) => Layer.effect(PairService, streamingPair({ kind }))

const routingOptions = (pair: Pair, extra: Partial<Routing.RoutingOptions> = {}): Routing.RoutingOptions =>
  pairOptions(pair, { name: "routing", lagCheckInterval: 100, ...extra })

/** The port of the server that ran the statement (inet_server_port()). */
const portOf = (r: { readonly rows: ReadonlyArray<{ readonly port: number }> }) => r.rows[0]!.port

/** Whether a failure is read_only_sql_transaction. */
const is25006 = (exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isSuccess(exit)) return false
  const error = Cause.squash(exit.cause) as { readonly reason?: { readonly code?: string } }
  return error.reason?.code === "25006" || String(exit.cause).includes("25006")
}

/**
 * Waits until the standby has replayed everything the primary has inserted into its WAL. The insert
 * position, not the write position: with the harness's `synchronous_commit = off` a commit's record may
 * not be written yet when the statement returns, and `pg_current_wal_lsn()` (the write position) would
 * be before it.
 */
const caughtUp = (pair: Pair) =>
  Effect.gen(function*() {
    const primary = yield* direct(pair.primary)
    const standby = yield* direct(pair.standby)
    const { rows } = yield* primary.query<{ lsn: string }>("select pg_current_wal_insert_lsn()::text as lsn")
    for (let i = 0; i < 500; i++) {
      const r = yield* standby.query<{ ok: boolean }>("select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok", [rows[0]!.lsn])
      if (r.rows[0]!.ok) return
      yield* Effect.sleep(10)
    }
    assert.fail("the standby did not catch up within 5 s")
  }).pipe(Effect.scoped)

for (const kind of ["pg18", "pg13"] as const) layer(pairLayer(kind), { excludeTestServices: true, timeout: "120 seconds" })(`routing over a primary and a streaming standby (${kind})`, (it) => {
  it.effect("the harness's standby streams from the primary and replays its writes", () =>
    Effect.gen(function*() {
      const pair = yield* PairService
      const primary = yield* direct(pair.primary)
      const standby = yield* direct(pair.standby)
      yield* primary.simple("create table replayed (id int primary key, note text)")
      yield* primary.query("insert into replayed values (1, 'from the primary')")
      yield* caughtUp(pair)
      const { rows } = yield* standby.query<{ note: string }>("select note from replayed where id = 1")
      assert.deepStrictEqual(rows, [{ note: "from the primary" }])
      const streaming = yield* primary.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_replication where state = 'streaming'"
      )
      assert.strictEqual(streaming.rows[0]!.n, 1)
      // PostgreSQL 14 and later report the standby's role; 13 does not (nor default_transaction_read_only).
      const reported = yield* standby.parameters
      assert.strictEqual(reported.get("in_hot_standby"), kind === "pg13" ? undefined : "on")
      if (kind === "pg13") assert.isFalse(reported.has("default_transaction_read_only"))
    }).pipe(Effect.scoped))

  it.effect("writes go to the primary and read-only statements to the standby; 25006 is never seen", () =>
    Effect.gen(function*() {
      const pair = yield* PairService
      // The standby listed first: read-write must still find the primary.
      const pool = yield* Routing.make(routingOptions(pair, {
        hosts: [
          { host: pair.standby.host, port: pair.standby.port },
          { host: pair.primary.host, port: pair.primary.port }
        ]
      }))
      yield* pool.query("create table if not exists routed (id serial primary key, note text)")
      const exits: Array<Exit.Exit<unknown, unknown>> = []
      for (let i = 0; i < 20; i++) {
        const write = yield* Effect.exit(pool.query<{ port: number }>(
          "insert into routed (note) values ($1) returning inet_server_port() as port",
          [`w${i}`]
        ))
        exits.push(write)
        assert.isTrue(Exit.isSuccess(write))
        if (Exit.isSuccess(write)) assert.strictEqual(portOf(write.value), pair.primary.port)
      }
      const read = yield* pool.query<{ port: number }>("select inet_server_port() as port", [], { readOnly: true })
      assert.strictEqual(portOf(read), pair.standby.port)
      const inScope = yield* Routing.withReadOnly(pool.query<{ port: number }>("select inet_server_port() as port"))
      assert.strictEqual(portOf(inScope), pair.standby.port)
      // A read-only transaction on the standby, a read-write one on the primary.
      const ro = yield* pool.withTransaction(pool.query<{ port: number }>("select inet_server_port() as port"), { readOnly: true })
      assert.strictEqual(portOf(ro), pair.standby.port)
      const rw = yield* pool.withTransaction(
        pool.query<{ port: number }>("insert into routed (note) values ('tx') returning inet_server_port() as port")
      )
      assert.strictEqual(portOf(rw), pair.primary.port)
      assert.isFalse(exits.some(is25006))
      const status = yield* pool.status
      assert.deepStrictEqual(status.map((s) => [s.port, s.standby, s.readable]), [
        [pair.standby.port, true, true],
        [pair.primary.port, false, false]
      ])
    }).pipe(Effect.scoped))

  it.effect("a standby behind by more than maxLagBytes is skipped until it catches up", () =>
    Effect.gen(function*() {
      const pair = yield* PairService
      const pool = yield* Routing.make(routingOptions(pair, { maxLagBytes: 64 * 1024, name: "lagging" }))
      const standby = yield* direct(pair.standby)
      yield* caughtUp(pair)
      yield* pool.checkNow
      assert.strictEqual(portOf(yield* pool.query<{ port: number }>("select inet_server_port() as port", [], { readOnly: true })), pair.standby.port)
      // Replay paused: the primary writes a few MB the standby keeps but does not replay.
      yield* standby.query("select pg_wal_replay_pause()")
      yield* pool.query("create table if not exists lag_filler (b text)")
      yield* pool.query("insert into lag_filler select repeat('x', 1000) from generate_series(1, 4000)")
      yield* pool.checkNow
      const lagging = (yield* pool.status).find((s) => s.port === pair.standby.port)!
      assert.isFalse(lagging.readable)
      assert.isAbove(lagging.lagBytes!, 64 * 1024)
      const read = yield* pool.query<{ port: number }>("select inet_server_port() as port", [], { readOnly: true })
      assert.strictEqual(portOf(read), pair.primary.port)
      // Replay resumed: once caught up, reads go back to the standby.
      yield* standby.query("select pg_wal_replay_resume()")
      yield* caughtUp(pair)
      yield* pool.checkNow
      assert.isTrue((yield* pool.status).find((s) => s.port === pair.standby.port)!.readable)
      const back = yield* pool.query<{ port: number }>("select inet_server_port() as port", [], { readOnly: true })
      assert.strictEqual(portOf(back), pair.standby.port)
    }).pipe(Effect.scoped))

  it.effect("a standby whose replay is older than maxLagMillis, with WAL still to replay, is skipped", () =>
    Effect.gen(function*() {
      const pair = yield* PairService
      const pool = yield* Routing.make(routingOptions(pair, { maxLagMillis: 300, name: "lag-time" }))
      const standby = yield* direct(pair.standby)
      yield* pool.query("create table if not exists lag_time (n int)")
      yield* pool.query("insert into lag_time values (1)")
      yield* caughtUp(pair)
      yield* pool.checkNow
      assert.isTrue((yield* pool.status).find((s) => s.port === pair.standby.port)!.readable)
      yield* standby.query("select pg_wal_replay_pause()")
      yield* pool.query("insert into lag_time values (2)")
      yield* Effect.sleep(600)
      yield* pool.query("insert into lag_time values (3)")
      yield* pool.checkNow
      const behind = (yield* pool.status).find((s) => s.port === pair.standby.port)!
      assert.isFalse(behind.readable)
      assert.isAbove(behind.lagMillis!, 300)
      yield* standby.query("select pg_wal_replay_resume()")
      yield* caughtUp(pair)
      yield* pool.checkNow
      assert.isTrue((yield* pool.status).find((s) => s.port === pair.standby.port)!.readable)
    }).pipe(Effect.scoped))

  it.effect("read-your-writes: after a write, reads go to the primary, or wait for the standby to replay it", () =>
    Effect.gen(function*() {
      const pair = yield* PairService
      const standby = yield* direct(pair.standby)
      for (const mode of ["primary", "wait"] as const) {
        const pool = yield* Routing.make(routingOptions(pair, { readYourWrites: mode, name: `ryw-${mode}` }))
        yield* pool.query("create table if not exists ryw (id int, mode text)")
        // Replay paused for "primary": only the primary can answer with the row.
        if (mode === "primary") yield* standby.query("select pg_wal_replay_pause()")
        const seen = yield* Routing.readYourWrites(Effect.gen(function*() {
          const before = yield* pool.query<{ port: number }>("select inet_server_port() as port", [], { readOnly: true })
          assert.strictEqual(portOf(before), pair.standby.port)
          yield* pool.query("insert into ryw values (1, $1)", [mode])
          return yield* pool.query<{ port: number; n: number }>(
            "select inet_server_port() as port, count(*)::int as n from ryw where mode = $1",
            [mode],
            { readOnly: true }
          )
        }))
        assert.strictEqual(seen.rows[0]!.n, 1)
        assert.strictEqual(portOf(seen), mode === "primary" ? pair.primary.port : pair.standby.port)
        if (mode === "primary") yield* standby.query("select pg_wal_replay_resume()")
        // Outside the scope, reads go to the standby again.
        const outside = yield* pool.query<{ port: number }>("select inet_server_port() as port", [], { readOnly: true })
        assert.strictEqual(portOf(outside), pair.standby.port)
      }
    }).pipe(Effect.scoped))

  it.effect("a writer session whose server turned read-only is retired, and the write fails typed, never with 25006", () =>
    Effect.gen(function*() {
      const pair = yield* PairService
      const pool = yield* Routing.make(routingOptions(pair, { name: "turned-read-only", maxSize: 2 }))
      yield* pool.query("create table if not exists ro_probe (pid int)")
      const before = yield* pool.query<{ pid: number }>("insert into ro_probe values (pg_backend_pid()) returning pid")
      const admin = yield* direct(pair.primary)
      yield* admin.simple("alter system set default_transaction_read_only = on")
      yield* admin.simple("select pg_reload_conf()")
      yield* Effect.ensuring(
        Effect.gen(function*() {
          // The writer's idle session hears default_transaction_read_only=on (ParameterStatus) at its next statement.
          let exit: Exit.Exit<unknown, unknown> = Exit.void
          for (let i = 0; i < 50; i++) {
            exit = yield* Effect.exit(pool.query("insert into ro_probe values (pg_backend_pid())"))
            if (Exit.isFailure(exit)) break
            yield* Effect.sleep(20)
          }
          assert.isTrue(Exit.isFailure(exit), "writes kept going to a read-only server")
          assert.isFalse(is25006(exit))
          const reason = (Cause.squash((exit as Exit.Failure<unknown, unknown>).cause) as PgError).reason
          assert.strictEqual(reason._tag, "ConnectionError")
          // The session that was on it is gone from the server.
          const { rows } = yield* admin.query<{ n: number }>(
            "select count(*)::int as n from pg_stat_activity where pid = $1",
            [before.rows[0]!.pid]
          )
          assert.strictEqual(rows[0]!.n, 0)
        }),
        Effect.ignore(turnReadWrite(admin))
      )
      // Writable again: writes resume.
      yield* Routing.retryWrite(pool.query("insert into ro_probe values (0)"), 10_000)
    }).pipe(Effect.scoped))

  it.effect("PgClient with readReplicas: sql.withReadOnly and read-only transactions read from the standby, everything else writes", () =>
    Effect.gen(function*() {
      const pair = yield* PairService
      const program = Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        const write = yield* sql<{ port: number }>`select inet_server_port() as port`
        const read = yield* sql.withReadOnly(sql<{ port: number }>`select inet_server_port() as port`)
        const tx = yield* sql.withTransaction(sql<{ port: number }>`select inet_server_port() as port`)
        const roTx = yield* sql.withTransaction(sql<{ port: number }>`select inet_server_port() as port`, { readOnly: true })
        return [write[0]!.port, read[0]!.port, tx[0]!.port, roTx[0]!.port]
      })
      const ports = yield* program.pipe(Effect.provide(PgClient.layer({
        hosts: routingOptions(pair).hosts,
        user: "postgres",
        database: "postgres",
        sslMode: "disable",
        name: "client-routing",
        readReplicas: { lagCheckInterval: 100 }
      })))
      assert.deepStrictEqual(ports, [pair.primary.port, pair.standby.port, pair.primary.port, pair.standby.port])
    }))
})
