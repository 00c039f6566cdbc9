/**
 * `PgClient` on a protocol 2.0 pool (PostgreSQL 13): what 2.0 can carry works as on 3.x (parameters as literals,
 * transactions and savepoints, streams, text COPY, LISTEN/NOTIFY); what it cannot carry fails with a typed error
 * that names protocol 2.0 (binary COPY, a binary stream outside a transaction, text-format function calls).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type { SqlError } from "effect/sql/SqlError"
import { PgError } from "../../src/errors/PgError.ts"
import * as PgClient from "../../src/sql/PgClient.ts"
import { servers } from "../support/Servers.ts"
import { unique } from "./Clients.ts"

const layer13 = () =>
  PgClient.layer({
    host: servers().pg13.host,
    port: servers().pg13.port,
    username: "postgres",
    database: "postgres",
    sslMode: "disable",
    protocolVersion: "2.0",
    name: unique("client"),
    maxConnections: 2
  })

/** The PgError behind a failed client call. */
const pgErrorOf = (exit: Exit.Exit<unknown, unknown>): PgError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const found = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(found, "expected a typed failure")
  const error = (found as unknown as { error: SqlError }).error
  assert.strictEqual(error._tag, "SqlError")
  const cause = (error.reason as { cause?: unknown }).cause
  assert.instanceOf(cause, PgError)
  return cause as PgError
}

describe("PgClient on a protocol 2.0 pool", () => {
  it.live("statements with parameters, transactions with savepoints, streams, text COPY and LISTEN/NOTIFY work", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const t = unique("v2")
      yield* Effect.addFinalizer(() => Effect.ignore(sql.unsafe(`drop table if exists ${t}`).unprepared))
      const [version] = yield* sql<{ v: string }>`select current_setting('server_version_num') as v`
      assert.isTrue(version!.v.startsWith("13"))
      const session = yield* Effect.scoped(Effect.map(sql.pool.acquire, (s) => s.protocolVersion))
      assert.deepStrictEqual(session, { major: 2, minor: 0 })
      yield* sql`create table ${sql(t)} (id int primary key, name text, tags text[])`
      yield* sql`insert into ${sql(t)} ${sql.insert([{ id: 1, name: "o'hara", tags: ["a", "b"] }, { id: 2, name: null, tags: [] }])}`
      assert.deepStrictEqual(
        yield* sql`select id, name, tags from ${sql(t)} where id in ${sql.in([1, 2])} order by id`,
        [{ id: 1, name: "o'hara", tags: ["a", "b"] }, { id: 2, name: null, tags: [] }]
      )
      assert.deepStrictEqual(yield* sql`select ${"x"}::text || ${3}::int as s`.values, [["x3"]])
      assert.deepStrictEqual(yield* sql.unsafe("select $1::int + 1 as n", [41]).unprepared, [{ n: 42 }])

      // A transaction with a savepoint rolled back inside it.
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`insert into ${sql(t)} (id) values (3)`
        const inner = yield* Effect.exit(sql.withTransaction(Effect.gen(function*() {
          yield* sql`insert into ${sql(t)} (id) values (4)`
          return yield* Effect.fail("undo")
        })))
        assert.isTrue(Exit.isFailure(inner))
      }))
      assert.deepStrictEqual(yield* sql`select id from ${sql(t)} where id > 2 order by id`, [{ id: 3 }])

      // Streams: one Query outside a transaction, a cursor inside one.
      const streamed = yield* Stream.runCollect(sql.stream<{ n: number }>("select generate_series(1, 5) as n"))
      assert.deepStrictEqual(streamed.map((r) => r.n), [1, 2, 3, 4, 5])
      const inTx = yield* sql.withTransaction(
        Stream.runCollect(sql.stream<{ n: number }>("select generate_series(1, 3) as n", { pageSize: 2 }))
      )
      assert.deepStrictEqual(inTx.map((r) => r.n), [1, 2, 3])

      // Text COPY both ways.
      const copied = yield* Stream.run(
        Stream.make(new TextEncoder().encode("10\tten\t{x}\n11\televen\t{}\n")),
        sql.copyFrom(`copy ${t} from stdin`)
      )
      assert.strictEqual(copied.rowCount, 2)
      const out = yield* Stream.runCollect(sql.copyTo(`copy (select id, name from ${t} where id >= 10 order by id) to stdout`))
      assert.strictEqual(new TextDecoder().decode(Buffer.concat(out)), "10\tten\n11\televen\n")

      // LISTEN and NOTIFY: the channel and the sender arrive; 2.0 carries no payload, so it is "".
      const channel = unique("ch")
      const notifications = yield* sql.listen(channel)
      yield* sql.notify(channel)
      const got = yield* Queue.take(notifications).pipe(Effect.timeout(10_000))
      assert.strictEqual(got.channel, channel)
      assert.strictEqual(got.payload, "")
    }).pipe(Effect.scoped, Effect.provide(layer13())), { timeout: 60_000 })

  it.live("what 2.0 cannot carry fails with a typed error naming protocol 2.0", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const copyOut = pgErrorOf(yield* Effect.exit(Stream.runDrain(sql.copyTo("copy (select 1) to stdout (format binary)"))))
      assert.include(copyOut.message, "protocol 2.0")
      const copyIn = pgErrorOf(
        yield* Effect.exit(Stream.run(Stream.make(new Uint8Array([1])), sql.copyFrom("copy pg_temp.nothing from stdin with binary")))
      )
      assert.include(copyIn.message, "protocol 2.0")
      const binaryStream = pgErrorOf(yield* Effect.exit(Stream.runDrain(sql.stream("select 1", { binary: true }))))
      assert.include(binaryStream.message, "protocol 2.0")
      // The pool goes on.
      assert.deepStrictEqual(yield* sql`select 1 as n`, [{ n: 1 }])
    }).pipe(Effect.scoped, Effect.provide(layer13())), { timeout: 60_000 })
})
