/**
 * `withTransaction`, savepoints and leased connections of the `effect/sql`
 * client, against the real server: what a caller sees when a transaction's
 * connection outlives it, when a savepoint's statement fails inside it, and
 * how the connection comes back to the next user.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Reactivity from "effect/reactivity/Reactivity"
import { SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { PgError } from "../../src/errors/PgError.ts"
import * as PgClient from "../../src/sql/PgClient.ts"
import * as FaultProxy from "../support/FaultProxy.ts"
import { servers } from "../support/Servers.ts"
import { config, layer, monitor, sqlErrorOf, table, unique } from "./Clients.ts"

describe("PgClient: savepoints", () => {
  it.live("a savepoint whose failed statement was caught fails with a SqlError, and the outer transaction goes on", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const t = yield* table("x int")
      const outcome = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`insert into ${sql(t)} values (1)`
        // The body swallows its statement's failure: the server has aborted the savepoint all the same.
        const inner = yield* Effect.exit(sql.withTransaction(Effect.gen(function*() {
          yield* sql`insert into ${sql(t)} values (2)`
          yield* Effect.ignore(sql`select 1/0`)
          return "inner done"
        })))
        yield* sql`insert into ${sql(t)} values (3)`
        return inner
      }))
      const error = sqlErrorOf(outcome)
      assert.strictEqual(error.reason._tag, "UnknownError")
      assert.strictEqual(error.reason.operation, "savepoint")
      // The savepoint's row is gone, the outer transaction's rows are committed.
      assert.deepStrictEqual(yield* sql`select x from ${sql(t)} order by x`, [{ x: 1 }, { x: 3 }])
    }).pipe(Effect.scoped, Effect.provide(layer({ maxConnections: 1 }))))
})

describe("PgClient: a transaction ended by a statement in its body", () => {
  it.live("a ROLLBACK statement in the body fails withTransaction with a SqlError, and afterCommit callbacks do not run", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const t = yield* table("x int")
      let callbacks = 0
      const exit = yield* Effect.exit(sql.withTransaction(Effect.gen(function*() {
        yield* sql`insert into ${sql(t)} values (1)`
        yield* sql.afterCommit(Effect.sync(() => callbacks++))
        yield* sql`rollback`
      })))
      const error = sqlErrorOf(exit)
      assert.strictEqual(error.reason._tag, "UnknownError")
      assert.strictEqual((error.reason.cause as PgError).reason._tag, "TransactionError")
      assert.strictEqual(callbacks, 0)
      assert.deepStrictEqual(yield* sql`select count(*)::int as n from ${sql(t)}`, [{ n: 0 }])
    }).pipe(Effect.scoped, Effect.provide(layer({ maxConnections: 1 }))))

  it.live("a COMMIT statement in a savepoint's body fails it with a SqlError, not a defect", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      let inner: Exit.Exit<unknown, SqlError> | undefined
      const outer = yield* Effect.exit(sql.withTransaction(Effect.gen(function*() {
        inner = yield* Effect.exit(sql.withTransaction(sql`commit`))
      })))
      assert.strictEqual(sqlErrorOf(inner!).reason.operation, "savepoint")
      // The outer level has no transaction left either.
      assert.strictEqual(sqlErrorOf(outer).reason.operation, "commit")
      assert.deepStrictEqual(yield* sql`select pg_current_xact_id_if_assigned()::text as x`, [{ x: null }])
    }).pipe(Effect.provide(layer({ maxConnections: 1 }))))
})

describe("PgClient: a transaction's connection after the transaction", () => {
  it.live("a fiber that outlives its transaction cannot run statements in the next user's transaction", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const t = yield* table("x int")
      const go = yield* Deferred.make<void>()
      // The first transaction forks a fiber that still holds the transaction's connection in its context.
      const leaked = yield* sql.withTransaction(Effect.forkDetach(Effect.andThen(
        Deferred.await(go),
        Effect.all([
          Effect.exit(sql`insert into ${sql(t)} values (1)`),
          Effect.exit(sql.stream(sql`select 1 as one`).pipe(Stream.runCollect))
        ])
      )))
      // With one connection in the pool, the next transaction gets the same session.
      const other = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`insert into ${sql(t)} values (2)`
        yield* Deferred.succeed(go, undefined)
        const exits = yield* Fiber.join(leaked)
        const xid = yield* sql<{ x: string | null }>`select pg_current_xact_id_if_assigned()::text as x`
        return { exits, xid: xid[0]!.x }
      }))
      const [statement, stream] = other.exits
      assert.strictEqual(sqlErrorOf(statement).reason._tag, "ConnectionError")
      assert.strictEqual(sqlErrorOf(stream).reason._tag, "ConnectionError")
      assert.isNotNull(other.xid)
      // Only the second transaction's row was written.
      assert.deepStrictEqual(yield* sql`select x from ${sql(t)} order by x`, [{ x: 2 }])
    }).pipe(Effect.scoped, Effect.provide(layer({ maxConnections: 1 }))))

  it.live("a reserved connection refuses statements once its scope has closed", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const conn = yield* Effect.scoped(sql.reserve)
      const exit = yield* Effect.exit(conn.execute("select 1 as one", [], undefined))
      assert.strictEqual(sqlErrorOf(exit).reason._tag, "ConnectionError")
      const streamed = yield* Effect.exit(Stream.runCollect(conn.executeStream("select 1 as one", [], undefined)))
      assert.strictEqual(sqlErrorOf(streamed).reason._tag, "ConnectionError")
      // The pool still serves.
      assert.deepStrictEqual(yield* sql`select 1 as one`, [{ one: 1 }])
    }).pipe(Effect.provide(layer({ maxConnections: 1 }))))
})

describe("PgClient: the end of a transaction is bounded", () => {
  it.live("a COMMIT nobody answers fails with CommitOutcomeUnknown after commitTimeout, and the pool goes on", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      // From the COMMIT on, the path forwards nothing.
      yield* proxy.fault({ _tag: "AtMessage", direction: "toServer", type: "Q", k: 1, how: "blackhole", matching: "COMMIT" })
      const client = yield* PgClient.make(
        config({ host: "127.0.0.1", port: proxy.port, sslMode: "disable", maxConnections: 1, connectTimeout: 2_000 })
      )
      const exit = yield* Effect.exit(client.withTransaction(
        // A temporary table: the backend keeps its transaction open until the proxy closes.
        Effect.andThen(client`create temp table commit_outcome (n int)`, client`insert into commit_outcome values (1)`),
        { commitTimeout: "300 millis" }
      ).pipe(Effect.timeout("10 seconds")))
      const error = sqlErrorOf(exit)
      assert.strictEqual(error.reason.operation, "commit")
      assert.strictEqual((error.reason.cause as PgError).reason._tag, "CommitOutcomeUnknown")
      // The session was retired; once the path forwards again, the pool serves with a new one.
      yield* proxy.fault(undefined)
      yield* proxy.restore
      assert.deepStrictEqual(yield* client`select 1 as one`.pipe(Effect.timeout("10 seconds")), [{ one: 1 }])
    }).pipe(Effect.scoped, Effect.provide(Reactivity.layer)), { timeout: 30_000 })
})

describe("PgClient: the ROLLBACK after a failed body is bounded", () => {
  it.live("a ROLLBACK nobody answers ends within commitTimeout: the body's error is returned and the session retired", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      const client = yield* PgClient.make(
        config({
          host: "127.0.0.1",
          port: proxy.port,
          sslMode: "disable",
          maxConnections: 1,
          connectTimeout: 2_000,
          // The session's own liveness check would notice the silence only after this long.
          livenessCheckAfter: 20_000
        })
      )
      const exit = yield* Effect.exit(client.withTransaction(
        Effect.gen(function*() {
          yield* client`select 1`
          // From here on the path forwards nothing: ROLLBACK goes out and no answer comes back.
          yield* proxy.blackhole
          return yield* Effect.fail("the body failed" as const)
        }),
        { commitTimeout: "300 millis" }
      ).pipe(Effect.timeout("10 seconds")))
      assert.deepStrictEqual(exit, Exit.fail("the body failed" as const))
      yield* proxy.restore
      assert.deepStrictEqual(yield* client`select 1 as one`.pipe(Effect.timeout("10 seconds")), [{ one: 1 }])
    }).pipe(Effect.scoped, Effect.provide(Reactivity.layer)), { timeout: 40_000 })
})

describe("PgClient: the ROLLBACK TO SAVEPOINT after a failed savepoint is bounded", () => {
  it.live("one nobody answers ends within commitTimeout: the savepoint's error is returned, never a defect", () =>
    Effect.gen(function*() {
      const proxy = yield* FaultProxy.make(servers().main.port)
      const client = yield* PgClient.make(
        config({ host: "127.0.0.1", port: proxy.port, sslMode: "disable", maxConnections: 1, connectTimeout: 2_000, livenessCheckAfter: 20_000 })
      )
      const exit = yield* Effect.exit(client.withTransaction(
        client.withTransaction(Effect.gen(function*() {
          yield* client`select 1`
          // From here on the path forwards nothing: ROLLBACK TO SAVEPOINT goes out and no answer comes back.
          yield* proxy.blackhole
          return yield* Effect.fail("the savepoint failed" as const)
        })),
        { commitTimeout: "300 millis" }
      ).pipe(Effect.timeout("10 seconds")))
      assert.deepStrictEqual(exit, Exit.fail("the savepoint failed" as const))
      yield* proxy.restore
      assert.deepStrictEqual(yield* client`select 1 as one`.pipe(Effect.timeout("10 seconds")), [{ one: 1 }])
    }).pipe(Effect.scoped, Effect.provide(Reactivity.layer)), { timeout: 40_000 })
})

describe("PgClient: interrupted at any moment", () => {
  for (const multiplex of [false, true]) {
    it.live(`transactions, streams and reserved connections give a clean session back (multiplex: ${multiplex})`, () =>
      Effect.gen(function*() {
        const applicationName = unique("interrupted")
        const scope = yield* Scope.make()
        const sql = yield* Scope.provide(
          PgClient.make(config({ maxConnections: 1, multiplex, applicationName, acquireTimeout: 5_000 })),
          scope
        )
        const t = unique("t")
        yield* sql.unsafe(`create table ${t} (x int)`)
        // A transaction writes 1, and 2 in a savepoint: committed together or not at all.
        const pair = sql.withTransaction(
          Effect.andThen(sql.unsafe(`insert into ${t} values (1)`), sql.withTransaction(sql.unsafe(`insert into ${t} values (2)`)))
        )
        // Interrupted after 0 to 11 ms: before the lease, waiting on BEGIN, in the body, in the savepoint, at COMMIT.
        for (let i = 0; i < 72; i++) {
          const fiber = yield* Effect.forkChild(pair, { startImmediately: true })
          yield* Effect.sleep(i % 12)
          yield* Fiber.interrupt(fiber)
        }
        for (let i = 0; i < 24; i++) {
          const streamed = sql`select n from generate_series(1, 100000) n`.stream.pipe(Stream.runDrain)
          const reserved = Effect.scoped(Effect.flatMap(sql.reserve, (conn) => conn.execute("select pg_sleep(0.005)", [], undefined)))
          const fiber = yield* Effect.forkChild(i % 2 === 0 ? streamed : reserved, { startImmediately: true })
          yield* Effect.sleep(i % 6)
          yield* Fiber.interrupt(fiber)
        }
        // The session is back, outside any transaction, and serves a transaction.
        assert.deepStrictEqual(yield* sql`select pg_current_xact_id_if_assigned()::text as x`, [{ x: null }])
        assert.deepStrictEqual(yield* sql.withTransaction(sql`select 'tx' as t`), [{ t: "tx" }])
        const counts = yield* sql<{ x: number; n: number }>`select x, count(*)::int as n from ${sql(t)} group by x order by x`
        assert.isTrue(counts.length === 0 || (counts.length === 2 && counts[0]!.n === counts[1]!.n), JSON.stringify(counts))
        const watcher = yield* monitor()
        const { rows } = yield* watcher.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where application_name = $1 and state like 'idle in transaction%'",
          [applicationName]
        )
        assert.strictEqual(rows[0]!.n, 0)
        yield* sql.unsafe(`drop table ${t}`)
        const closing = yield* Effect.forkDetach(Scope.close(scope, Exit.void))
        assert.isTrue(Option.isSome(yield* Effect.timeoutOption(Fiber.await(closing), 5000)), "the client did not close within 5 s")
      }).pipe(Effect.scoped, Effect.provide(Reactivity.layer)), { timeout: 30_000 })
  }
})
