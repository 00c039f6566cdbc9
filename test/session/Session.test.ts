import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { PgError, ServerError } from "../../src/errors/PgError.ts"
import * as PgSession from "../../src/session/Session.ts"
import * as Transport from "../../src/transport/Transport.ts"
import * as PgTypes from "../../src/types/PgTypes.ts"
import * as PgRegistry from "../../src/types/Registry.ts"
import { PASSWORDS, servers } from "../support/Servers.ts"
import { connectPlain as connect, connectTraced, reasonOf } from "../support/Sessions.ts"

const main = () => servers().main

describe("PgSession: start-up", () => {
  it.live("asks for protocol 3.2 and gets it from PostgreSQL 18", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      assert.strictEqual(session.protocolVersion.minor, 2)
      assert.isAbove(session.processId, 0)
      const params = yield* session.parameters
      assert.strictEqual(params.get("client_encoding"), "UTF8")
      assert.isTrue(params.has("server_version"))
      const { rows } = yield* session.query("select pg_backend_pid() as pid")
      assert.strictEqual(rows[0]!["pid"], session.processId)
    }))

  it.live("speaks 3.0 when asked", () =>
    Effect.gen(function*() {
      const session = yield* connect({ protocolVersion: "3.0" })
      assert.strictEqual(session.protocolVersion.minor, 0)
      const { rows } = yield* session.query("select 1 as one")
      assert.deepStrictEqual(rows, [{ one: 1 }])
    }))

  it.live("negotiates down to 3.0 with PostgreSQL 13", () =>
    Effect.gen(function*() {
      const pg13 = servers().pg13
      const session = yield* PgSession.connect({ host: pg13.host, port: pg13.port, user: "postgres" })
      assert.strictEqual(session.protocolVersion.minor, 0)
      const { rows } = yield* session.query("select current_setting('server_version_num')::int / 10000 as major")
      assert.deepStrictEqual(rows, [{ major: 13 }])
    }))

  it.live("refuses a server below the minimum protocol version", () =>
    Effect.gen(function*() {
      const pg13 = servers().pg13
      const exit = yield* Effect.exit(
        PgSession.connect({ host: pg13.host, port: pg13.port, user: "postgres", minProtocolVersion: "3.2" })
      )
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "ProtocolError")
      assert.match(reason.message, /3\.0 at most/)
    }))

  it.live("connects over the Unix socket", () =>
    Effect.gen(function*() {
      const session = yield* PgSession.connect({ host: main().socketDir, port: main().port, user: "postgres" })
      const { rows } = yield* session.query("select inet_client_addr() is null as local")
      assert.deepStrictEqual(rows, [{ local: true }])
    }))

  it.live.each([
    ["md5user", PASSWORDS.md5user],
    ["passworduser", PASSWORDS.passworduser],
    ["scramuser", PASSWORDS.scramuser]
  ] as const)("authenticates %s with its method", ([user, password]) =>
    Effect.gen(function*() {
      const session = yield* connect({ user, password })
      const { rows } = yield* session.query("select current_user as u")
      assert.deepStrictEqual(rows, [{ u: user }])
    }))

  it.live("evaluates a password Effect per connection attempt", () =>
    Effect.gen(function*() {
      let calls = 0
      const password = Effect.sync(() => {
        calls++
        return PASSWORDS.scramuser
      })
      yield* Effect.scoped(connect({ user: "scramuser", password }))
      yield* Effect.scoped(connect({ user: "scramuser", password }))
      assert.strictEqual(calls, 2)
    }))

  it.live("a wrong password is a ServerError 28P01 that does not contain the password", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(connect({ user: "scramuser", password: "not-the-password" }))
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "ServerError")
      assert.strictEqual((reason as ServerError).code, "28P01")
      assert.notInclude(JSON.stringify(reason), "not-the-password")
    }))

  it.live("a missing database is a typed start-up error", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(connect({ database: "no_such_database_here" }))
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "ServerError")
      assert.strictEqual((reason as ServerError).code, "3D000")
    }))

  it.live("a password the server asks for but nobody gave is an AuthError", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(connect({ user: "scramuser" }))
      assert.strictEqual(reasonOf(exit)._tag, "AuthError")
    }))

  it.live("a closed port is a ConnectionError", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(PgSession.connect({ host: "127.0.0.1", port: 1, user: "postgres" }))
      assert.strictEqual(reasonOf(exit)._tag, "ConnectionError")
    }))
})

describe("PgSession: queries", () => {
  it.live("hands every result its own rows array, also when it has no rows", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const sql = "select 1 as n where $1::bool"
      const [a, b] = yield* Effect.all([session.query(sql, [false]), session.query(sql, [false])], {
        concurrency: "unbounded"
      })
      assert.strictEqual(a.rows.length, 0)
      assert.notStrictEqual(a.rows, b.rows)
      ;(a.rows as Array<unknown>).push({ n: 0 })
      const unnamed = yield* session.query(sql, [false], { prepare: false })
      const raw = yield* session.query("update pg_class set relname = relname where false")
      assert.deepStrictEqual([b.rows, unnamed.rows, raw.rows], [[], [], []])
      assert.deepStrictEqual((yield* session.query(sql, [true])).rows, [{ n: 1 }])
    }))

  it.live("decodes the common builtins in binary and takes parameters", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const { rows, fields, command, rowCount } = yield* session.query(
        `select $1::int4 as i4, $2::int8 as i8, $3::text as t, true as b, 1.5::float8 as f8, 2.5::float4 as f4,
                32767::int2 as i2, '\\xdeadbeef'::bytea as by, '{"a":[1,2]}'::json as j, 'v'::varchar as v, null::int as n`,
        [42, 9007199254740993n, "héllo"]
      )
      assert.strictEqual(command, "SELECT")
      assert.strictEqual(rowCount, 1)
      assert.strictEqual(fields.length, 11)
      const row = rows[0]!
      assert.strictEqual(row["i4"], 42)
      assert.strictEqual(row["i8"], 9007199254740993n)
      assert.strictEqual(row["t"], "héllo")
      assert.strictEqual(row["b"], true)
      assert.strictEqual(row["f8"], 1.5)
      assert.strictEqual(row["f4"], 2.5)
      assert.strictEqual(row["i2"], 32767)
      assert.deepStrictEqual(row["by"], new Uint8Array([0xde, 0xad, 0xbe, 0xef]))
      assert.deepStrictEqual(row["j"], { a: [1, 2] })
      assert.strictEqual(row["v"], "v")
      assert.strictEqual(row["n"], null)
    }))

  it.live("rows are plain objects with the columns in order; a column named __proto__ is an own property", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const columns = Array.from({ length: 20 }, (_, i) => `${i} as c${i}`).join(", ")
      const { rows } = yield* session.query(`select ${columns} from generate_series(1, 3)`)
      for (const row of rows) {
        assert.strictEqual(Object.getPrototypeOf(row), Object.prototype)
        assert.strictEqual(row.constructor, Object)
        assert.deepStrictEqual(Object.keys(row), Array.from({ length: 20 }, (_, i) => `c${i}`))
        assert.deepStrictEqual(row, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`c${i}`, i])))
      }
      const { rows: [odd] } = yield* session.query(`select 1 as a, 2 as "__proto__", 3 as b`)
      assert.deepStrictEqual(Object.keys(odd!), ["a", "__proto__", "b"])
      assert.strictEqual(Object.getOwnPropertyDescriptor(odd!, "__proto__")?.value, 2)
      assert.strictEqual(Object.getPrototypeOf(odd!), null)
    }))

  it.live("returns rows by position when asked", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const { rows } = yield* session.query<ReadonlyArray<unknown>>("select 1 as a, 'x' as a", [], { rowMode: "array" })
      assert.deepStrictEqual(rows, [[1, "x"]])
    }))

  it.live("works with the statement cache off (unnamed statements)", () =>
    Effect.gen(function*() {
      const session = yield* connect({ statementCacheSize: 0 })
      const { rows } = yield* session.query("select $1::int + 1 as n", [41])
      assert.deepStrictEqual(rows, [{ n: 42 }])
      const prepared = yield* session.query("select count(*)::int as c from pg_prepared_statements")
      assert.deepStrictEqual(prepared.rows, [{ c: 0 }])
    }))

  it.live("reports INSERT/UPDATE/DELETE counts", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table counts (x int)")
      const inserted = yield* session.query("insert into counts select generate_series(1, 5)")
      assert.strictEqual(inserted.command, "INSERT")
      assert.strictEqual(inserted.rowCount, 5)
      const updated = yield* session.query("update counts set x = x + 1 where x > 2")
      assert.strictEqual(updated.command, "UPDATE")
      assert.strictEqual(updated.rowCount, 3)
      const created = yield* session.query("create temp table other (y int)")
      assert.strictEqual(created.command, "CREATE TABLE")
      assert.strictEqual(created.rowCount, null)
    }))

  it.live("a server error is a ServerError with every field, and the session stays usable", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const exit = yield* Effect.exit(session.query("select 1 from no_such_table_anywhere"))
      const reason = reasonOf(exit) as ServerError
      assert.strictEqual(reason._tag, "ServerError")
      assert.strictEqual(reason.code, "42P01")
      assert.strictEqual(reason.severity, "ERROR")
      assert.isNumber(reason.position)
      assert.isString(reason.file)
      assert.isString(reason.routine)
      assert.strictEqual(reason.sqlState.condition, "undefined_table")
      const { rows } = yield* session.query("select 2 as two")
      assert.deepStrictEqual(rows, [{ two: 2 }])
    }))

  it.live("an error in the middle of the rows fails the query; the next query gets only its own rows", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const exit = yield* Effect.exit(session.query("select 1.0 / g as r from generate_series(3, -1, -1) g"))
      assert.strictEqual((reasonOf(exit) as ServerError).code, "22012")
      const { rows } = yield* session.query("select g from generate_series(1, 2) g")
      assert.deepStrictEqual(rows, [{ g: 1 }, { g: 2 }])
    }))

  it.live("exposes the transaction status", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      assert.strictEqual(yield* session.transactionStatus, "I")
      yield* session.query("begin")
      assert.strictEqual(yield* session.transactionStatus, "T")
      yield* Effect.exit(session.query("select 1/0"))
      assert.strictEqual(yield* session.transactionStatus, "E")
      yield* session.query("rollback")
      assert.strictEqual(yield* session.transactionStatus, "I")
    }))

  it.live("waits for ReadyForQuery, so a deferred constraint error reaches its query", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query(
        "create temp table deferred (id int unique deferrable initially deferred)"
      )
      yield* session.query("insert into deferred values (1)")
      const exit = yield* Effect.exit(session.query("insert into deferred values (1)"))
      assert.strictEqual((reasonOf(exit) as ServerError).code, "23505")
    }))
})

describe("PgSession: simple query", () => {
  it.live("returns every result set of a multi-statement string in order", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const results = yield* session.simple("select 1 as a; select 'x' as b, 'y' as c; create temp table st (x int);")
      assert.strictEqual(results.length, 3)
      assert.deepStrictEqual(results[0]!.rows, [{ a: 1 }])
      assert.deepStrictEqual(results[1]!.rows, [{ b: "x", c: "y" }])
      assert.strictEqual(results[2]!.command, "CREATE TABLE")
    }))

  it.live("stops at an error in the middle: later statements do not run", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.simple("create temp table mid (x int)")
      const exit = yield* Effect.exit(
        session.simple("insert into mid values (1); select 1/0; insert into mid values (2)")
      )
      assert.strictEqual((reasonOf(exit) as ServerError).code, "22012")
      const { rows } = yield* session.query("select count(*)::int as c from mid")
      // The string ran in one implicit transaction: the first insert was rolled back too.
      assert.deepStrictEqual(rows, [{ c: 0 }])
    }))

  it.live("an empty query string gives an empty result", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const results = yield* session.simple("")
      assert.strictEqual(results.length, 1)
      assert.strictEqual(results[0]!.command, "")
    }))
})

describe("PgSession: pipelining", () => {
  it.live("10,000 concurrent queries on one session each get their own rows", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const n = 10_000
      const results = yield* Effect.forEach(
        Array.from({ length: n }, (_, i) => i),
        (i) => session.query("select $1::int as i, $2::text as s", [i, `v${i}`]),
        { concurrency: "unbounded" }
      )
      for (let i = 0; i < n; i++) assert.deepStrictEqual(results[i]!.rows, [{ i, s: `v${i}` }])
    }), 60_000)

  it.live("an error inside a pipeline fails only its own request", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table pipe (x int)")
      const [a, b, c] = yield* Effect.all(
        [
          Effect.exit(session.query("insert into pipe values (1)")),
          Effect.exit(session.query("select no_such_function(1)")),
          Effect.exit(session.query("insert into pipe values (3)"))
        ],
        { concurrency: "unbounded" }
      )
      assert.isTrue(Exit.isSuccess(a!))
      assert.strictEqual((reasonOf(b!) as ServerError).code, "42883")
      assert.isTrue(Exit.isSuccess(c!))
      const { rows } = yield* session.query("select x from pipe order by x")
      assert.deepStrictEqual(rows, [{ x: 1 }, { x: 3 }])
    }))

  it.live("a batch runs in one implicit transaction and returns every result", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table batched (x int)")
      const results = yield* session.batch([
        { sql: "insert into batched values ($1)", params: [1] },
        { sql: "insert into batched values ($1)", params: [2] },
        { sql: "select count(*)::int as c from batched" }
      ])
      assert.strictEqual(results.length, 3)
      assert.deepStrictEqual(results[2]!.rows, [{ c: 2 }])
      const exit = yield* Effect.exit(
        session.batch([
          { sql: "insert into batched values (3)" },
          { sql: "select 1/0" },
          { sql: "insert into batched values (4)" }
        ])
      )
      assert.strictEqual((reasonOf(exit) as ServerError).code, "22012")
      const after = yield* session.query("select count(*)::int as c from batched")
      assert.deepStrictEqual(after.rows, [{ c: 2 }])
    }))
})

describe("PgSession: prepared statements", () => {
  it.live("prepare is scoped: Close on release", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const count = session.query<{ c: number }>(
        "select count(*)::int as c from pg_prepared_statements where not from_sql and statement = 'select $1::int * 2 as d'"
      )
      yield* Effect.scoped(
        Effect.gen(function*() {
          const statement = yield* session.prepare("select $1::int * 2 as d")
          assert.deepStrictEqual(statement.parameterTypes, [23])
          assert.strictEqual(statement.fields[0]!.name, "d")
          const { rows } = yield* statement.execute([21])
          assert.deepStrictEqual(rows, [{ d: 42 }])
          assert.deepStrictEqual((yield* count).rows, [{ c: 1 }])
        })
      )
      assert.deepStrictEqual((yield* count).rows, [{ c: 0 }])
    }))

  it.live("the statement cache re-prepares after a schema change and after DISCARD ALL", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table reprep (a int)")
      yield* session.query("insert into reprep values (1)")
      const first = yield* session.query("select * from reprep")
      assert.deepStrictEqual(first.rows, [{ a: 1 }])
      yield* session.query("alter table reprep add column b int default 7")
      const second = yield* session.query("select * from reprep")
      assert.deepStrictEqual(second.rows, [{ a: 1, b: 7 }])
      yield* session.simple("discard all")
      yield* session.query("create temp table reprep (a int)")
      const third = yield* session.query("select * from reprep")
      assert.deepStrictEqual(third.rows, [])
    }))

  it.live("a stale statement inside a transaction fails once, then works after rollback", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table stale (a int)")
      yield* session.query("select * from stale")
      yield* session.query("begin")
      yield* session.query("alter table stale add column b int")
      const exit = yield* Effect.exit(session.query("select * from stale"))
      assert.strictEqual((reasonOf(exit) as ServerError).code, "0A000")
      yield* session.query("rollback")
      const { fields } = yield* session.query("select * from stale")
      assert.deepStrictEqual(fields.map((f) => f.name), ["a"])
    }))
})

describe("PgSession: streams", () => {
  it.live("streams a result through a portal in pages", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const rows = yield* Stream.runCollect(
        session.stream<{ g: number }>("select g from generate_series(1, 10000) g", [], { pageSize: 100 })
      )
      const values = rows
      assert.strictEqual(values.length, 10000)
      assert.strictEqual(values[0]!.g, 1)
      assert.strictEqual(values[9999]!.g, 10000)
      const { rows: after } = yield* session.query("select 'next' as n")
      assert.deepStrictEqual(after, [{ n: "next" }])
    }))

  it.live("taking a few rows of a huge stream stops it and leaves the session usable", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const few = yield* Stream.runCollect(
        Stream.take(session.stream("select generate_series(1, 100000000) as g", [], { pageSize: 1000 }), 10)
      )
      assert.strictEqual(few.length, 10)
      const { rows } = yield* session.query("select 'after' as a")
      assert.deepStrictEqual(rows, [{ a: "after" }])
    }))

  it.live("an error in the middle of a stream fails it; the session recovers", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const exit = yield* Effect.exit(
        Stream.runDrain(session.stream("select 1.0 / (5000 - g) from generate_series(1, 10000) g", [], { pageSize: 64 }))
      )
      assert.strictEqual((reasonOf(exit) as ServerError).code, "22012")
      const { rows } = yield* session.query("select 'ok' as ok")
      assert.deepStrictEqual(rows, [{ ok: "ok" }])
    }))
})

describe("PgSession: streams without a page size", () => {
  it.live("one Execute and one Sync for the whole result; rows come in batches per socket read", () =>
    Effect.gen(function*() {
      const { lines, session } = yield* connectTraced()
      yield* session.query("select 1")
      lines.length = 0
      let batches = 0
      let count = 0
      let sum = 0
      yield* Stream.runForEachArray(session.stream<{ g: number }>("select g from generate_series(1, 200000) g"), (rows) =>
        Effect.sync(() => {
          batches++
          for (const row of rows) {
            count++
            sum += row.g
          }
        }))
      assert.strictEqual(count, 200_000)
      assert.strictEqual(sum, (200_000 * 200_001) / 2)
      assert.isBelow(batches, 200_000 / 100)
      const sent = lines.filter((line) => line.startsWith("F\t")).map((line) => line.split("\t")[2]!.split(" ")[0])
      assert.deepStrictEqual(sent.filter((name) => name === "Execute" || name === "Flush"), ["Execute"])
      assert.strictEqual(sent.at(-1), "Sync")
      const { rows } = yield* session.query("select 'next' as n")
      assert.deepStrictEqual(rows, [{ n: "next" }])
    }))

  it.live("a consumer that stops taking rows stops the reading: what waits for it stays bounded", () =>
    Effect.gen(function*() {
      const session = yield* connect({ sslMode: "disable" })
      let largest = 0
      let first = true
      let count = 0
      yield* Stream.runForEachArray(session.stream<{ g: number }>("select g from generate_series(1, 3000000) g"), (rows) =>
        Effect.gen(function*() {
          largest = Math.max(largest, rows.length)
          count += rows.length
          if (first) {
            first = false
            // Unpaused, the whole result (3,000,000 rows) would be waiting after this second.
            yield* Effect.sleep(1000)
          }
        }))
      assert.strictEqual(count, 3_000_000)
      // 4096 rows, plus the rest of one socket read (64 KiB of 10-byte DataRows).
      assert.isBelow(largest, 12_000)
    }), 60_000)

  it.live("taking a few rows of a huge result cancels the statement; the session stays usable", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const started = Date.now()
      const few = yield* Stream.runCollect(Stream.take(session.stream("select generate_series(1, 1000000000) as g"), 10))
      assert.deepStrictEqual(few.map((row) => row["g"]), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      assert.isBelow(Date.now() - started, 5000)
      const { rows } = yield* session.query<{ readonly n: number }>(
        "select count(*)::int as n from pg_stat_activity where state = 'active' and query like '%1000000000%' and pid <> pg_backend_pid()"
      )
      assert.deepStrictEqual(rows, [{ n: 0 }])
    }), 30_000)

  it.live("inside a transaction block the stream pages instead: stopping early keeps the transaction", () =>
    Effect.gen(function*() {
      const { lines, session } = yield* connectTraced()
      yield* session.query("create temp table streamtx (a int)")
      yield* session.query("begin")
      yield* session.query("insert into streamtx values (1)")
      const few = yield* Stream.runCollect(Stream.take(session.stream("select generate_series(1, 100000000) as g"), 5))
      assert.strictEqual(few.length, 5)
      assert.strictEqual(yield* session.transactionStatus, "T")
      assert.isTrue(lines.some((line) => /^F\t\d+\tExecute\t ?"" 2048$/.test(line)), "paged by 2048 rows")
      yield* session.query("insert into streamtx values (2)")
      yield* session.query("commit")
      const { rows } = yield* session.query<{ readonly n: number }>("select count(*)::int as n from streamtx")
      assert.deepStrictEqual(rows, [{ n: 2 }])
    }))

  it.live("an error in the middle fails the stream; a query issued while it runs waits for it and succeeds", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const exit = yield* Effect.exit(
        Stream.runDrain(session.stream("select 1.0 / (50000 - g) from generate_series(1, 100000) g"))
      )
      assert.strictEqual((reasonOf(exit) as ServerError).code, "22012")
      let side: Fiber.Fiber<PgSession.QueryResult, PgError> | undefined = undefined
      let sum = 0
      yield* Stream.runForEachArray(session.stream<{ g: number }>("select g from generate_series(1, 100000) g"), (rows) =>
        Effect.gen(function*() {
          if (side === undefined) side = yield* Effect.forkDetach(session.query("select 'side' as s"))
          for (const row of rows) sum += row.g
        }))
      assert.strictEqual(sum, (100_000 * 100_001) / 2)
      assert.deepStrictEqual((yield* Fiber.join(side!)).rows, [{ s: "side" }])
    }))
})

/** Waits until the server shows `session`'s backend running a statement containing `text` (as libpq's test_cancel does). */
const awaitActive = (monitor: PgSession.Session, session: PgSession.Session, text: string) =>
  monitor.query(
    "select 1 from pg_stat_activity where pid = $1 and state = 'active' and strpos(query, $2) > 0",
    [session.processId, text]
  ).pipe(
    Effect.flatMap(({ rows }) => (rows.length === 1 ? Effect.void : Effect.fail("not yet"))),
    Effect.retry({ times: 200, schedule: undefined }),
    Effect.delay(10)
  )

describe("PgSession: cancellation", () => {
  it.live("interrupting pg_sleep(30) returns within a second, the query is gone, the session works", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const monitor = yield* connect()
      const fiber = yield* Effect.forkChild(session.query("select pg_sleep(30)"))
      yield* awaitActive(monitor, session, "pg_sleep(30)")
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      const elapsed = Date.now() - started
      assert.isBelow(elapsed, 1000)
      const { rows } = yield* monitor.query(
        "select count(*)::int as c from pg_stat_activity where pid = $1 and state = 'active' and query like '%pg_sleep(30)%'",
        [session.processId]
      )
      assert.deepStrictEqual(rows, [{ c: 0 }])
      const after = yield* session.query("select 'usable' as u")
      assert.deepStrictEqual(after.rows, [{ u: "usable" }])
    }))

  it.live("Effect.timeout cancels a slow query", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const exit = yield* Effect.exit(session.query("select pg_sleep(10)").pipe(Effect.timeout(100)))
      assert.isTrue(Exit.isFailure(exit))
      const { rows } = yield* session.query("select 1 as one")
      assert.deepStrictEqual(rows, [{ one: 1 }])
    }))

  it.live("a cancel racing a query that just finished never cancels the next one", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      for (let i = 0; i < 300; i++) {
        const fiber = yield* Effect.forkChild(session.query("select 1"))
        if (i % 3 === 1) yield* Effect.yieldNow
        if (i % 3 === 2) yield* Effect.sleep(0)
        yield* Fiber.interrupt(fiber)
        const exit = yield* Effect.exit(session.query("select 2 as two"))
        assert.isTrue(Exit.isSuccess(exit), `iteration ${i}: ${Exit.isFailure(exit) ? String(exit.cause) : ""}`)
      }
    }), 60_000)

  it.live("interrupting one of many fibers waiting on one session cancels that fiber's query and no other", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const monitor = yield* connect()
      const value = (i: number) => Effect.map(session.query<{ n: number }>("select $1::int as n", [i]), (r) => r.rows[0]!.n)
      const before = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) => Effect.forkChild(value(i)))
      const sleeper = yield* Effect.forkChild(session.query("select pg_sleep(30), 'sleeper'"))
      const after = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => 100 + i), (i) => Effect.forkChild(value(i)))
      yield* awaitActive(monitor, session, "'sleeper'")
      // One queued behind the sleeper goes too: it is dropped without a cancel.
      yield* Fiber.interrupt(after[7]!)
      const started = Date.now()
      yield* Fiber.interrupt(sleeper)
      assert.isBelow(Date.now() - started, 1000)
      assert.deepStrictEqual(yield* Fiber.joinAll(before), Array.from({ length: 20 }, (_, i) => i))
      const rest = after.filter((_, i) => i !== 7)
      assert.deepStrictEqual(yield* Fiber.joinAll(rest), Array.from({ length: 20 }, (_, i) => 100 + i).filter((n) => n !== 107))
      assert.deepStrictEqual((yield* session.query("select 'usable' as u")).rows, [{ u: "usable" }])
    }))

  it.live("an interrupted fiber's finalizer can query, and interrupting a prepared statement's execution cancels it", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const monitor = yield* connect()
      let cleanup: unknown = undefined
      const fiber = yield* Effect.forkChild(
        session.query("select pg_sleep(30), 'finalized'").pipe(
          Effect.onInterrupt(() => Effect.map(session.query("select 'cleaned up' as c"), (r) => void (cleanup = r.rows)))
        )
      )
      yield* awaitActive(monitor, session, "'finalized'")
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(cleanup, [{ c: "cleaned up" }])

      const statement = yield* session.prepare("select pg_sleep($1::float8), 'prepared'")
      const execution = yield* Effect.forkChild(statement.execute([30]))
      yield* awaitActive(monitor, session, "'prepared'")
      const started = Date.now()
      yield* Fiber.interrupt(execution)
      assert.isBelow(Date.now() - started, 1000)
      assert.strictEqual((yield* statement.execute([0])).rowCount, 1)
    }))

  it.live("interrupting before anything is written sends nothing", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const fiber = yield* Effect.forkChild(session.query("select pg_sleep(5)"), { startImmediately: false })
      yield* Fiber.interrupt(fiber)
      const { rows } = yield* session.query("select 3 as three")
      assert.deepStrictEqual(rows, [{ three: 3 }])
    }))
})

describe("PgSession: lent reads (plain sockets)", () => {
  it.live("a plain socket opened with lent reads hands every byte to onBytes and emits no 'data'", () =>
    Effect.gen(function*() {
      const reads = new Transport.LentReads()
      const received: Array<number> = []
      reads.onBytes = (bytes, length) => received.push(...bytes.subarray(0, length))
      const socket = yield* Transport.openSocket({ _tag: "Tcp", host: main().host, port: main().port }, 5_000, undefined, reads)
      let dataEvents = 0
      socket.on("data", () => dataEvents++)
      // SSLRequest: the server answers with one byte ('S' here, where TLS is on).
      socket.write(Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f))
      yield* Effect.sleep(200).pipe(Effect.repeat({ until: () => received.length > 0, times: 25 }))
      socket.destroy()
      assert.deepStrictEqual(received, [0x53])
      assert.strictEqual(dataEvents, 0)
    }))

  it.live("COPY TO chunks kept while later reads reuse the buffer stay intact", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const chunks = yield* Stream.runCollect(
        session.copyTo("copy (select g, repeat(chr(65 + g % 26), g % 60) from generate_series(1, 30000) g) to stdout")
      )
      let expected = ""
      for (let g = 1; g <= 30000; g++) expected += `${g}\t${String.fromCharCode(65 + (g % 26)).repeat(g % 60)}\n`
      const decoder = new TextDecoder()
      assert.strictEqual(chunks.map((c) => decoder.decode(c)).join(""), expected)
    }))

  it.live("sslmode=prefer against a server without TLS continues in clear on lent reads: COPY TO and the cancel key intact", () =>
    Effect.gen(function*() {
      const noTls = servers().noTls
      const open = () =>
        PgSession.connect({ host: noTls.host, port: noTls.port, user: "postgres", database: "postgres", sslMode: "prefer" })
      const session = yield* open()
      const monitor = yield* open()
      const chunks = yield* Stream.runCollect(
        session.copyTo("copy (select g, md5(g::text) from generate_series(1, 20000) g) to stdout")
      )
      const text = chunks.map((c) => new TextDecoder().decode(c)).join("")
      const lines = text.split("\n")
      assert.strictEqual(lines.length, 20001)
      const { rows } = yield* session.query<{ ok: boolean }>(
        "select bool_and(md5(g::text) = ($1::text[])[g]) as ok from generate_series(1, 20000) g",
        [lines.slice(0, 20000).map((line) => line.split("\t")[1]!)]
      )
      assert.deepStrictEqual(rows, [{ ok: true }])
      const fiber = yield* Effect.forkChild(session.query("select pg_sleep(30), 'prefer'"))
      yield* awaitActive(monitor, session, "'prefer'")
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      assert.isBelow(Date.now() - started, 1000)
    }))

  it.live("rows of types looked up after the rows arrived, and a backend key used after many reads, are intact", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const monitor = yield* connect()
      const name = `mood_${Date.now().toString(36)}`
      yield* session.query(`create type ${name} as enum ('sad', 'ok', 'happy')`)
      // The enum is unknown to the session: its rows are kept as bytes until pg_type has been read.
      const { rows } = yield* session.query<{ m: string; n: number }>(
        `select (array['sad','ok','happy']::${name}[])[1 + g % 3] as m, g as n from generate_series(1, 5000) g`
      )
      assert.deepStrictEqual(rows.slice(0, 3), [{ m: "ok", n: 1 }, { m: "happy", n: 2 }, { m: "sad", n: 3 }])
      assert.strictEqual(rows[4999]!.m, ["sad", "ok", "happy"][5000 % 3])
      // The cancel key came in the first read; thousands of reads later it must still cancel.
      const fiber = yield* Effect.forkChild(session.query("select pg_sleep(30), 'lent'"))
      yield* awaitActive(monitor, session, "'lent'")
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      assert.isBelow(Date.now() - started, 1000)
      yield* session.query(`drop type ${name}`)
    }))
})

describe("PgSession: COPY", () => {
  const encoder = new TextEncoder()

  it.live("COPY of 1,000,000 rows in and out with exact counts", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table copied (a int, b text)")
      const rows = 1_000_000
      const perChunk = 10_000
      const chunks = Stream.range(0, rows / perChunk - 1).pipe(
        Stream.map((c) => {
          let text = ""
          for (let i = c * perChunk; i < (c + 1) * perChunk; i++) text += `${i}\tvalue ${i}\n`
          return encoder.encode(text)
        })
      )
      const result = yield* Stream.run(chunks, session.copyFrom("copy copied from stdin"))
      assert.strictEqual(result.rowCount, rows)
      const { rows: count } = yield* session.query("select count(*)::int as c, sum(a)::int8 as s from copied")
      assert.deepStrictEqual(count, [{ c: rows, s: BigInt((rows * (rows - 1)) / 2) }])
      let lines = 0
      let bytes = 0
      let batches = 0
      yield* Stream.runForEachArray(session.copyTo("copy copied to stdout"), (batch) =>
        Effect.sync(() => {
          batches++
          for (const line of batch) {
            lines++
            bytes += line.length
          }
        }))
      assert.strictEqual(lines, rows)
      assert.isAbove(bytes, rows * 8)
      // Rows come in batches of what each socket read carried, not one resumption per row.
      assert.isBelow(batches, rows / 20)
    }), 120_000)

  it.live("small chunks are copied behind their header, large ones written after it; the trace sees whole frames", () =>
    Effect.gen(function*() {
      const { lines, session } = yield* connectTraced()
      yield* session.query("create temp table copymix (a int)")
      let large = ""
      for (let i = 3; i < 30_003; i++) large += `${i}\n`
      const chunks = [encoder.encode("1\n"), encoder.encode(large), encoder.encode("2\n"), encoder.encode(large)]
      const result = yield* Stream.run(Stream.fromIterable(chunks), session.copyFrom("copy copymix from stdin"))
      assert.strictEqual(result.rowCount, 2 + 2 * 30_000)
      const { rows } = yield* session.query("select count(distinct a)::int as d, sum(a)::int8 as s from copymix")
      assert.deepStrictEqual(rows, [{ d: 30_002, s: 3n + 2n * BigInt((30_002 * 30_003) / 2 - 3) }])
      const sent = lines.filter((line) => /^F\t\d+\tCopyData/.test(line)).map((line) => Number(line.split("\t")[1]))
      assert.deepStrictEqual(sent, chunks.map((chunk) => chunk.length + 4))
      assert.isTrue(lines.some((line) => /^F\t4\tCopyDone/.test(line)))
    }))

  it.live("a COPY whose upstream fails sends CopyFail and leaves the table unchanged", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table copyfail (a int)")
      const upstream = Stream.concat(
        Stream.fromIterable([encoder.encode("1\n2\n3\n")]),
        Stream.fail("upstream broke")
      )
      const exit = yield* Effect.exit(Stream.run(upstream, session.copyFrom("copy copyfail from stdin")))
      assert.isTrue(Exit.isFailure(exit))
      const { rows } = yield* session.query("select count(*)::int as c from copyfail")
      assert.deepStrictEqual(rows, [{ c: 0 }])
    }))

  it.live("a bad row fails COPY with the server's error and the next COPY works", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table copybad (a int not null)")
      const exit = yield* Effect.exit(
        Stream.run(Stream.make(encoder.encode("1\n\\N\n3\n")), session.copyFrom("copy copybad from stdin"))
      )
      assert.strictEqual((reasonOf(exit as never) as ServerError).code, "23502")
      const ok = yield* Stream.run(Stream.make(encoder.encode("4\n5\n")), session.copyFrom("copy copybad from stdin"))
      assert.strictEqual(ok.rowCount, 2)
    }))
})

describe("PgSession: asynchronous messages", () => {
  it.live("LISTEN/NOTIFY reaches every subscriber; UNLISTEN when the last one leaves", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const other = yield* connect()
      const channels = session.query<{ c: string }>("select pg_listening_channels() as c")
      yield* Effect.scoped(
        Effect.gen(function*() {
          const a = yield* session.listen("news")
          const b = yield* session.listen("news")
          assert.deepStrictEqual((yield* channels).rows, [{ c: "news" }])
          const fa = yield* Effect.forkChild(Stream.runCollect(Stream.take(a, 2)))
          const fb = yield* Effect.forkChild(Stream.runCollect(Stream.take(b, 2)))
          yield* other.notify("news", "one")
          yield* other.notify("news", "two")
          const ra = yield* Fiber.join(fa)
          const rb = yield* Fiber.join(fb)
          assert.deepStrictEqual(ra.map((n) => n.payload), ["one", "two"])
          assert.deepStrictEqual(rb.map((n) => n.payload), ["one", "two"])
          assert.strictEqual(ra[0]!.processId, other.processId)
        })
      )
      assert.deepStrictEqual((yield* channels).rows, [])
    }))

  it.live("notices are attached to their query and published", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const fiber = yield* Effect.forkChild(Stream.runCollect(Stream.take(session.notices, 1)))
      yield* Effect.sleep(10)
      const result = yield* session.query("do $$ begin raise notice 'hello %', 42; end $$")
      assert.strictEqual(result.notices.length, 1)
      assert.strictEqual(result.notices[0]!.message, "hello 42")
      const published = yield* Fiber.join(fiber)
      assert.strictEqual(published[0]!.message, "hello 42")
    }))

  it.live("parameter changes are observable", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const fiber = yield* Effect.forkChild(Stream.runCollect(Stream.take(session.parameterChanges, 1)))
      yield* Effect.sleep(10)
      yield* session.query("set application_name = 'observed'")
      const changes = yield* Fiber.join(fiber)
      assert.deepStrictEqual(changes, [{ name: "application_name", value: "observed" }])
      assert.strictEqual((yield* session.parameters).get("application_name"), "observed")
    }))
})

describe("PgSession: function call and termination", () => {
  it.live("FunctionCall calls a function by OID", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const { rows } = yield* session.query<{ oid: number }>("select 'int4pl'::regproc::oid::int as oid")
      const int4 = (n: number) => {
        const b = new Uint8Array(4)
        new DataView(b.buffer).setInt32(0, n)
        return b
      }
      const { result } = yield* session.functionCall(rows[0]!.oid, [int4(40), int4(2)], {
        argumentFormats: [1],
        resultFormat: 1
      })
      assert.strictEqual(new DataView(result!.buffer, result!.byteOffset).getInt32(0), 42)
    }))

  it.live("a backend killed mid-stream fails the stream with a typed error and nothing hangs", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const killer = yield* connect()
      const fiber = yield* Effect.forkChild(
        Stream.runDrain(session.stream("select g, pg_sleep(0.001) from generate_series(1, 100000) g", [], { pageSize: 10 }))
      )
      yield* Effect.sleep(200)
      yield* killer.query("select pg_terminate_backend($1)", [session.processId])
      const exit = yield* Fiber.await(fiber)
      const reason = reasonOf(exit as never)
      assert.isTrue(reason._tag === "ServerError" || reason._tag === "ConnectionError")
      if (reason._tag === "ServerError") assert.strictEqual((reason as ServerError).code, "57P01")
      assert.isTrue(yield* session.isClosed)
      const next = yield* Effect.exit(session.query("select 1"))
      assert.isTrue(Exit.isFailure(next))
    }))

  it.live("a backend killed while a stream's reading is paused fails the stream once the consumer pulls again", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const killer = yield* connect()
      let batches = 0
      const exit = yield* Effect.exit(
        Stream.runForEachArray(session.stream("select g from generate_series(1, 5000000) g"), () =>
          Effect.gen(function*() {
            if (batches++ > 0) return
            // Reading is paused now (the result is far larger than what may wait); the backend dies meanwhile.
            yield* killer.query("select pg_terminate_backend($1)", [session.processId])
            yield* Effect.sleep(300)
          }))
      )
      const reason = reasonOf(exit as never)
      assert.isTrue(reason._tag === "ServerError" || reason._tag === "ConnectionError", reason._tag)
      assert.isTrue(yield* session.isClosed)
    }), 30_000)

  it.live("closing the scope sends Terminate: the backend goes away", () =>
    Effect.gen(function*() {
      const monitor = yield* connect()
      const pid = yield* Effect.scoped(Effect.map(connect(), (s) => s.processId))
      yield* Effect.sleep(100)
      const { rows } = yield* monitor.query("select count(*)::int as c from pg_stat_activity where pid = $1", [pid])
      assert.deepStrictEqual(rows, [{ c: 0 }])
    }))
})

describe("PgSession: types at the session boundary", () => {
  it.live("a typed NULL declares its type and sends NULL", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const { rows } = yield* session.query("select pg_typeof($1)::text as t, $1 is null as n", [PgTypes.int4(null)])
      assert.deepStrictEqual(rows, [{ t: "integer", n: true }])
    }))

  it.live("rows typed by a Schema; a mismatch is a CodecError naming the column", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const Person = Schema.Struct({ id: Schema.Number, name: Schema.String })
      const { rows } = yield* session.query("select 1 as id, 'ada' as name", [], { schema: Person })
      assert.deepStrictEqual(rows, [{ id: 1, name: "ada" }])
      const error = yield* Effect.flip(session.query("select 'x' as id, 'ada' as name", [], { schema: Person }))
      assert.strictEqual(error.reason._tag, "CodecError")
      assert.strictEqual((error.reason as { column?: string }).column, "id")
      const streamed = yield* Stream.runCollect(
        session.stream("select g as id, 'n' || g as name from generate_series(1, 3) g", [], { schema: Person })
      )
      assert.deepStrictEqual(streamed.map((p) => p.name), ["n1", "n2", "n3"])
    }))

  it.live("resolves enums, domains and composites from pg_type once per session", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const suffix = `${process.pid}_${Date.now()}`
      yield* session.simple(`
        create type mood_${suffix} as enum ('sad', 'happy');
        create domain posint_${suffix} as int check (value > 0);
        create type pair_${suffix} as (a int, b text);
      `)
      const { rows } = yield* session.query(
        `select 'happy'::mood_${suffix} as m, 5::posint_${suffix} as d, row(1, 'x')::pair_${suffix} as p,
                array['sad', 'happy']::mood_${suffix}[] as ms`
      )
      assert.deepStrictEqual(rows[0], { m: "happy", d: 5, p: { a: 1, b: "x" }, ms: ["sad", "happy"] })
      yield* session.simple(`drop type pair_${suffix}; drop domain posint_${suffix}; drop type mood_${suffix}`)
    }))

  it.live("the registry comes from CurrentRegistry when the options name none", () =>
    Effect.gen(function*() {
      const registry = PgRegistry.Registry.make({ int8: "string" })
      const session = yield* connect().pipe(Effect.provideService(PgSession.CurrentRegistry, registry))
      const { rows } = yield* session.query("select 9007199254740993::int8 as n")
      assert.deepStrictEqual(rows, [{ n: "9007199254740993" }])
    }))
})

describe("PgSession: bounded memory and COPY consistency", () => {
  it.live.each([
    ["paged with Execute(4096)", { pageSize: 4096 }],
    ["read as the consumer takes the rows (no page size)", {}]
  ] as const)("a 10,000,000-row stream runs in bounded memory: %s", ([, options]) =>
    Effect.gen(function*() {
      const session = yield* connect({ sslMode: "disable" })
      if (typeof globalThis.gc === "function") globalThis.gc()
      const baseline = process.memoryUsage().rss
      let peak = baseline
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss)
      }, 20)
      let count = 0
      let sum = 0
      yield* Stream.runForEach(
        session.stream<{ g: number }>("select generate_series(1, 10000000) as g", [], options),
        (row) =>
          Effect.sync(() => {
            count++
            sum += row.g
          })
      ).pipe(Effect.ensuring(Effect.sync(() => clearInterval(sampler))))
      assert.strictEqual(count, 10_000_000)
      assert.strictEqual(sum, 50000005000000)
      const growthMiB = (peak - baseline) / 1024 / 1024
      assert.isBelow(growthMiB, 64, `peak RSS grew by ${growthMiB.toFixed(1)} MiB`)
    }), 120_000)

  it.live("COPY inside a transaction rolls back with it; COPY amid pipelined queries keeps every result right", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const encoder = new TextEncoder()
      yield* session.query("create temp table copytx (a int)")
      yield* session.query("begin")
      const inTx = yield* Stream.run(Stream.make(encoder.encode("1\n2\n")), session.copyFrom("copy copytx from stdin"))
      assert.strictEqual(inTx.rowCount, 2)
      assert.strictEqual(yield* session.transactionStatus, "T")
      yield* session.query("rollback")
      assert.deepStrictEqual((yield* session.query("select count(*)::int as c from copytx")).rows, [{ c: 0 }])
      const [before, copied, after, out] = yield* Effect.all(
        [
          session.query("select 1 as one"),
          Stream.run(Stream.make(encoder.encode("7\n8\n9\n")), session.copyFrom("copy copytx from stdin")),
          session.query("select count(*)::int as c from copytx"),
          Stream.runCollect(session.copyTo("copy (select 'x') to stdout"))
        ],
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(before.rows, [{ one: 1 }])
      assert.strictEqual(copied.rowCount, 3)
      assert.strictEqual(after.rows.length, 1)
      assert.strictEqual(new TextDecoder().decode(out[0]!), "x\n")
      assert.deepStrictEqual((yield* session.query("select count(*)::int as c from copytx")).rows, [{ c: 3 }])
    }))
})

describe("PgSession: per-query options", () => {
  it.live("prepare: false runs an unnamed statement even with the cache on", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const sql = "select $1::int * 3 as n /* unnamed */"
      const { rows } = yield* session.query(sql, [14], { prepare: false })
      assert.deepStrictEqual(rows, [{ n: 42 }])
      const prepared = yield* session.query<{ c: number }>(
        "select count(*)::int as c from pg_prepared_statements where statement = $1",
        [sql]
      )
      assert.deepStrictEqual(prepared.rows, [{ c: 0 }])
      assert.isTrue(session.isSettled())
    }))
})

describe("PgSession: cancel", () => {
  it.live("session.cancel cancels the running query (57014) and the session stays usable", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const monitor = yield* connect()
      const fiber = yield* Effect.forkChild(Effect.exit(session.query("select pg_sleep(30)")))
      for (let i = 0; i < 200; i++) {
        const { rows } = yield* monitor.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where pid = $1 and state = 'active' and query like '%pg_sleep(30)%'",
          [session.processId]
        )
        if (rows[0]!.n === 1) break
        yield* Effect.sleep(10)
      }
      yield* session.cancel
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual((reasonOf(exit) as ServerError).code, "57014")
      assert.isTrue((reasonOf(exit) as ServerError).sqlState.canceled)
      const { rows } = yield* session.query("select 1 as one")
      assert.deepStrictEqual(rows, [{ one: 1 }])
    }))
})
