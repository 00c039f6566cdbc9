import * as SqlPg from "@effect/sql-pg/PgClient"
import { assert, describe, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as Deferred from "effect/Deferred"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { Model } from "effect/schema"
import * as Sink from "effect/Sink"
import { SqlClient, SqlModel, SqlResolver, SqlSchema } from "effect/sql"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { PgError } from "../../src/errors/PgError.ts"
import * as Transaction from "../../src/pool/Transaction.ts"
import * as PgClient from "../../src/sql/PgClient.ts"
import * as PgMigrator from "../../src/sql/PgMigrator.ts"
import { servers } from "../support/Servers.ts"
import { layer, monitor, sqlErrorOf, table, unique } from "./Clients.ts"

describe("PgClient: the effect/sql getting-started flow", () => {
  it.live("migrations, a Model repository, a typed schema query, a batching resolver and a stream", () =>
    Effect.gen(function*() {
      const groups = unique("groups")
      const migrations = unique("migrations")

      class Group extends Model.Class<Group>("Group")({
        id: Model.Field({ select: Schema.Int, update: Schema.Int, json: Schema.Int }),
        name: Schema.NonEmptyString,
        slug: Schema.NonEmptyString.pipe(Model.FieldExcept(["update", "jsonUpdate"])),
        notes: Schema.NullOr(Schema.String).pipe(Model.FieldOnly(["select", "insert"])),
        createdAt: Model.DateTimeInsertFromDate,
        updatedAt: Model.DateTimeUpdateFromDate
      }) {}

      const loader = PgMigrator.fromRecord({
        "1_create_groups": Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`create table ${sql(groups)} (
            id serial primary key,
            name text not null,
            slug text not null unique,
            created_at timestamptz not null,
            updated_at timestamptz not null
          )`
        }),
        "2_add_notes": Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`alter table ${sql(groups)} add column notes text`
        })
      })

      const program = Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* Effect.addFinalizer(() =>
          Effect.ignore(sql.unsafe(`drop table if exists ${groups}; drop table if exists ${migrations}`).unprepared)
        )
        const ran = yield* PgMigrator.run({ loader, table: migrations })
        assert.deepStrictEqual(ran, [[1, "create_groups"], [2, "add_notes"]])
        assert.deepStrictEqual(yield* PgMigrator.run({ loader, table: migrations }), [])

        const repo = yield* SqlModel.makeRepository(Group, { tableName: groups, spanPrefix: "Groups", idColumn: "id" })
        const engineering = yield* repo.insert(yield* Group.insert.makeEffect({ name: "Engineering", slug: "eng", notes: null }))
        assert.strictEqual(engineering.name, "Engineering")
        assert.isAbove(engineering.id, 0)
        const design = yield* repo.insert(yield* Group.insert.makeEffect({ name: "Design", slug: "design", notes: "n" }))
        const renamed = yield* repo.update(yield* Group.update.makeEffect({ id: design.id, name: "Product Design" }))
        assert.strictEqual(renamed.name, "Product Design")
        assert.strictEqual(renamed.slug, "design")
        const found = yield* repo.findById(engineering.id)
        assert.strictEqual(found.slug, "eng")
        yield* repo.delete(engineering.id)
        const missing = yield* Effect.exit(repo.findById(engineering.id))
        assert.isTrue(Exit.isFailure(missing))

        // SqlSchema: typed rows, decoded.
        const listAll = SqlSchema.findAll({
          Request: Schema.Void,
          Result: Group,
          execute: () => sql`select * from ${sql(groups)} order by id`
        })
        const all = yield* listAll()
        assert.deepStrictEqual(all.map((g) => g.name), ["Product Design"])
        assert.instanceOf(all[0]!, Group)
        const bySlug = SqlSchema.findOneOption({
          Request: Schema.String,
          Result: Schema.Struct({ id: Schema.Int, name: Schema.String }),
          execute: (slug) => sql`select id, name from ${sql(groups)} where slug = ${slug}`
        })
        assert.deepStrictEqual(Option.map(yield* bySlug("design"), (g) => g.name), Option.some("Product Design"))
        assert.isTrue(Option.isNone(yield* bySlug("nope")))

        // A resolver: 100 concurrent lookups become one query.
        const many = Array.from({ length: 150 }, (_, i) => ({
          name: `g${i}`,
          slug: `slug-${i}`,
          created_at: new Date(),
          updated_at: new Date()
        }))
        yield* sql`insert into ${sql(groups)} ${sql.insert([many[0]!, ...many.slice(1)])}`
        let executions = 0
        const byId = SqlResolver.findById({
          Id: Schema.Int,
          Result: Schema.Struct({ id: Schema.Int, name: Schema.String }),
          ResultId: (row) => row.id,
          execute: (ids) =>
            Effect.suspend(() => {
              executions++
              return sql`select id, name from ${sql(groups)} where ${sql.in("id", ids)}`
            })
        })
        const ids = (yield* sql<{ id: number }>`select id from ${sql(groups)} where name like 'g%' order by id limit 100`)
          .map((r) => r.id)
        assert.strictEqual(ids.length, 100)
        const looked = yield* Effect.forEach(ids, (id) => SqlResolver.request(id, byId), { concurrency: "unbounded" })
        assert.strictEqual(executions, 1)
        assert.deepStrictEqual(looked.map((g) => g.id), ids)

        // Streaming.
        const streamed = yield* sql<{ n: number }>`select n from generate_series(1, 10000) n`.stream.pipe(
          Stream.runFold(() => 0, (sum, row) => sum + row.n)
        )
        assert.strictEqual(streamed, 50_005_000)
        const firstFive = yield* sql<{ n: number }>`select n from generate_series(1, 1000000) n`.stream.pipe(
          Stream.take(5),
          Stream.runCollect
        )
        assert.deepStrictEqual(firstFive.map((r) => r.n), [1, 2, 3, 4, 5])
        const after = yield* sql<{ ok: number }>`select 1 as ok`
        assert.deepStrictEqual(after, [{ ok: 1 }])
      })
      yield* Effect.scoped(program).pipe(Effect.provide(layer({
        maxConnections: 4,
        transformQueryNames: (s) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
        transformResultNames: (s) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
      })))
    }), 60_000)
})

describe("PgClient: statements", () => {
  it.live("compiles helpers to placeholders and round-trips arrays and JSON", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const t = yield* table("id int primary key, tags text[], doc jsonb, flag bool")
      yield* sql`insert into ${sql(t)} ${
        sql.insert([
          { id: 1, tags: ["a", "b"], doc: sql.json({ k: [1, 2] }), flag: true },
          { id: 2, tags: [], doc: sql.json({ k: null }), flag: false }
        ])
      }`
      const rows = yield* sql`select * from ${sql(t)} where ${sql.in("id", [1, 2])} and ${sql.or([sql`flag`, sql`not flag`])} order by id`
      assert.deepStrictEqual(rows, [
        { id: 1, tags: ["a", "b"], doc: { k: [1, 2] }, flag: true },
        { id: 2, tags: [], doc: { k: null }, flag: false }
      ])
      const none = yield* sql`select * from ${sql(t)} where id in ${sql.in([])}`
      assert.deepStrictEqual(none, [])
      yield* sql`update ${sql(t)} set ${sql.update({ flag: false })} where id = ${1}`
      const values = yield* sql`select id, flag from ${sql(t)} order by id`.values
      assert.deepStrictEqual(values, [[1, false], [2, false]])
      const raw = (yield* sql`delete from ${sql(t)} where id = ${2}`.raw) as { command: string; rowCount: number }
      assert.strictEqual(raw.command, "DELETE")
      assert.strictEqual(raw.rowCount, 1)
      const many = yield* sql`select 1 as a; select 2 as b`.unprepared
      assert.deepStrictEqual(many, [{ b: 2 }])
      const ids = yield* sql<{ id: number }>`select id from ${sql(t)} where id = any(${[1, 5]})`
      assert.deepStrictEqual(ids, [{ id: 1 }])
    }).pipe(Effect.scoped, Effect.provide(layer())))

  it.live(".unprepared and .valuesUnprepared with parameters leave no named statement on the server", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const column = unique("unprepared")
      // Without parameters: the simple query protocol, which never names a statement.
      const named = Effect.map(
        sql.unsafe<{ statement: string }>("select statement from pg_prepared_statements").unprepared,
        (rows) => rows.filter((row) => row.statement.includes(column)).length
      )
      const rows = yield* sql`select ${1}::int as ${sql(column)}`.unprepared
      assert.deepStrictEqual(rows, [{ [column]: 1 }])
      const values = yield* sql`select ${2}::int as ${sql(column)}, ${"x"}::text as v`.valuesUnprepared
      assert.deepStrictEqual(values, [[2, "x"]])
      assert.strictEqual(yield* named, 0)
      // The same statement through the cache is a named statement on the same (only) session.
      yield* sql`select ${1}::int as ${sql(column)}`
      assert.strictEqual(yield* named, 1)
    }).pipe(Effect.provide(layer({ maxConnections: 1 }))))

  it.live("renames columns both ways with transformQueryNames / transformResultNames", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const t = yield* table("user_id int, display_name text")
      yield* sql`insert into ${sql(t)} ${sql.insert({ userId: 1, displayName: "Ann" })}`
      assert.deepStrictEqual(yield* sql`select * from ${sql(t)}`, [{ userId: 1, displayName: "Ann" }])
    }).pipe(
      Effect.scoped,
      Effect.provide(layer({
        transformQueryNames: (s) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
        transformResultNames: (s) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
      }))
    ))

  it.live("maps SQLSTATEs to SqlError reasons, with the PgError as the cause", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const t = yield* table("id int primary key, n int check (n > 0)")
      yield* sql`insert into ${sql(t)} values (1, 1)`
      const unique = sqlErrorOf(yield* Effect.exit(sql`insert into ${sql(t)} values (1, 1)`))
      assert.strictEqual(unique.reason._tag, "UniqueViolation")
      assert.strictEqual(unique.reason._tag === "UniqueViolation" ? unique.reason.constraint : "", `${t}_pkey`)
      assert.instanceOf(unique.reason.cause, PgError)
      const check = sqlErrorOf(yield* Effect.exit(sql`insert into ${sql(t)} values (2, -1)`))
      assert.strictEqual(check.reason._tag, "ConstraintError")
      const syntax = sqlErrorOf(yield* Effect.exit(sql`selec 1`))
      assert.strictEqual(syntax.reason._tag, "SqlSyntaxError")
      const timeout = sqlErrorOf(
        yield* Effect.exit(sql.withTransaction(Effect.andThen(
          sql`set local statement_timeout = 50`,
          sql`select pg_sleep(2)`
        )))
      )
      assert.strictEqual(timeout.reason._tag, "StatementTimeoutError")
    }).pipe(Effect.scoped, Effect.provide(layer())))

  it.live("puts OpenTelemetry attributes on every statement span, never the parameter values", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.NativeSpan> = []
      const tracer = Tracer.make({
        span(options) {
          const span = new Tracer.NativeSpan(options)
          spans.push(span)
          return span
        }
      })
      const sql = yield* SqlClient.SqlClient
      yield* sql`select ${"secret-value"}::text as s, ${42}::int as n`.pipe(Effect.withTracer(tracer))
      const span = spans.find((s) => s._attributes?.get("db.query.text") !== undefined)
      assert.isDefined(span)
      const attributes = span!._attributes!
      assert.strictEqual(span!.kind, "client")
      assert.strictEqual(attributes.get("db.system.name"), "postgresql")
      assert.strictEqual(attributes.get("db.namespace"), "postgres")
      assert.strictEqual(attributes.get("server.address"), servers().main.host)
      assert.strictEqual(attributes.get("server.port"), servers().main.port)
      assert.strictEqual(attributes.get("db.query.text"), "select $1::text as s, $2::int as n")
      assert.strictEqual(attributes.get("app"), "billing")
      for (const value of attributes.values()) assert.notInclude(String(value), "secret-value")
      const client = yield* PgClient.PgClient
      spans.length = 0
      yield* client.stream(client`select ${"another-secret"}::text as s`).pipe(Stream.runCollect, Effect.withTracer(tracer))
      const streamSpan = spans.find((s) => s._attributes?.get("db.operation.name") === "stream")
      assert.isDefined(streamSpan)
      assert.strictEqual(streamSpan!._attributes!.get("db.query.text"), "select $1::text as s")
      assert.strictEqual(streamSpan!._attributes!.get("db.system.name"), "postgresql")
    }).pipe(Effect.provide(layer({ spanAttributes: { app: "billing" } }))))
})

describe("PgClient: transactions", () => {
  it.live("commits, rolls back, and nests as savepoints", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const t = yield* table("x int")
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`insert into ${sql(t)} values (1)`
        const inner = yield* Effect.exit(
          sql.withTransaction(Effect.andThen(sql`insert into ${sql(t)} values (2)`, Effect.fail("inner")))
        )
        assert.isTrue(Exit.isFailure(inner))
        yield* sql.withTransaction(sql`insert into ${sql(t)} values (3)`)
      }))
      yield* Effect.exit(sql.withTransaction(Effect.andThen(sql`insert into ${sql(t)} values (4)`, Effect.fail("outer"))))
      assert.deepStrictEqual(yield* sql`select x from ${sql(t)} order by x`, [{ x: 1 }, { x: 3 }])
    }).pipe(Effect.scoped, Effect.provide(layer())))

  it.live("a COMMIT answered with ROLLBACK fails with a SqlError, and afterCommit callbacks do not run", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const t = yield* table("x int")
      let callbacks = 0
      const exit = yield* Effect.exit(sql.withTransaction(Effect.gen(function*() {
        yield* sql`insert into ${sql(t)} values (1)`
        yield* sql.afterCommit(Effect.sync(() => callbacks++))
        yield* Effect.ignore(sql`select 1/0`)
      })))
      const error = sqlErrorOf(exit)
      assert.strictEqual(error.reason._tag, "UnknownError")
      assert.strictEqual(error.reason.operation, "commit")
      const cause = error.reason.cause as PgError
      assert.strictEqual(cause.reason._tag, "TransactionError")
      assert.strictEqual(callbacks, 0)
      assert.deepStrictEqual(yield* sql`select count(*)::int as n from ${sql(t)}`, [{ n: 0 }])
      yield* sql.withTransaction(sql.afterCommit(Effect.sync(() => callbacks++)))
      assert.strictEqual(callbacks, 1)
    }).pipe(Effect.scoped, Effect.provide(layer())))

  it.live("withTransaction options set the isolation level of the top-level transaction only", () =>
    Effect.gen(function*() {
      const client = yield* PgClient.PgClient
      const level = client`select current_setting('transaction_isolation') as i`
      const [serializable] = yield* client.withTransaction(level, { isolationLevel: "serializable", readOnly: true })
      assert.strictEqual(serializable!["i"], "serializable")
      const [plain] = yield* client.withTransaction(level)
      assert.strictEqual(plain!["i"], "read committed")
      const nested = yield* client.withTransaction(
        client.withTransaction(level, { isolationLevel: "serializable" }),
        { isolationLevel: "repeatable read" }
      )
      assert.strictEqual(nested[0]!["i"], "repeatable read")
      // The option does not leak into a later transaction started inside the effect's fibers.
      const [after] = yield* client.withTransaction(level)
      assert.strictEqual(after!["i"], "read committed")
    }).pipe(Effect.provide(layer())))

  it.live("a serialization failure surfaces as SerializationError and PgTransaction.retry runs it again", () =>
    Effect.gen(function*() {
      const client = yield* PgClient.PgClient
      const t = yield* table("v int")
      const bothRead = yield* Deferred.make<void>()
      let reads = 0
      let attempts = 0
      const writer = client.withTransaction(Effect.gen(function*() {
        attempts++
        yield* client`select coalesce(sum(v), 0) as s from ${client(t)}`
        if (++reads === 2) yield* Deferred.succeed(bothRead, undefined)
        yield* Deferred.await(bothRead)
        yield* client`insert into ${client(t)} values (1)`
      }), { isolationLevel: "serializable" })
      const exits = yield* Effect.all([Effect.exit(writer), Effect.exit(writer)], { concurrency: 2 })
      const failed = exits.filter(Exit.isFailure)
      assert.strictEqual(failed.length, 1)
      assert.strictEqual(sqlErrorOf(failed[0]!).reason._tag, "SerializationError")
      reads = 0
      attempts = 0
      const again = yield* Deferred.make<void>()
      const retried = client.withTransaction(Effect.gen(function*() {
        attempts++
        yield* client`select coalesce(sum(v), 0) as s from ${client(t)}`
        if (++reads === 2) yield* Deferred.succeed(again, undefined)
        yield* Deferred.await(again)
        yield* client`insert into ${client(t)} values (1)`
      }), { isolationLevel: "serializable" }).pipe(Transaction.retry())
      yield* Effect.all([retried, retried], { concurrency: 2 })
      assert.isAtLeast(attempts, 3)
      assert.deepStrictEqual(yield* client`select count(*)::int as n from ${client(t)}`, [{ n: 3 }])
    }).pipe(Effect.scoped, Effect.provide(layer({ maxConnections: 2 }))))

  it.live("interruption mid-transaction leaves no open transaction on the server", () => {
    const applicationName = unique("interrupt")
    return Effect.gen(function*() {
      const watcher = yield* monitor()
      const sql = yield* SqlClient.SqlClient
      const t = yield* table("x int")
      const fiber = yield* Effect.forkChild(sql.withTransaction(Effect.gen(function*() {
        yield* sql`insert into ${sql(t)} values (1)`
        yield* sql`select pg_sleep(30)`
      })))
      for (let i = 0; i < 500; i++) {
        const { rows } = yield* watcher.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where application_name = $1 and state = 'active' " +
            "and query like 'select pg_sleep%'",
          [applicationName]
        )
        if (rows[0]!.n > 0) break
        yield* Effect.sleep(10)
      }
      yield* Fiber.interrupt(fiber)
      const { rows } = yield* watcher.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where application_name = $1 " +
          "and (state like 'idle in transaction%' or (state = 'active' and query like 'select pg_sleep%'))",
        [applicationName]
      )
      assert.strictEqual(rows[0]!.n, 0)
      assert.deepStrictEqual(yield* sql`select count(*)::int as n from ${sql(t)}`, [{ n: 0 }])
    }).pipe(Effect.scoped, Effect.provide(layer({ maxConnections: 1, applicationName })))
  })
})

describe("PgClient: PostgreSQL extras", () => {
  it.live("listen and notify", () =>
    Effect.gen(function*() {
      const client = yield* PgClient.PgClient
      const channel = unique("chan")
      const queue = yield* client.listen(channel)
      yield* client.notify(channel, "hello")
      yield* client`select pg_notify(${channel}, ${"world"})`
      const first = yield* Queue.take(queue)
      const second = yield* Queue.take(queue)
      assert.deepStrictEqual([first.channel, first.payload], [channel, "hello"])
      assert.strictEqual(second.payload, "world")
      const stream = yield* Effect.forkChild(client.listenStream(channel).pipe(Stream.take(1), Stream.runCollect))
      // The stream's LISTEN is confirmed at some point after the fork: notify until it has seen one.
      const notifier = yield* Effect.forkChild(Effect.forever(Effect.delay(client.notify(channel, "streamed"), 50)))
      const streamed = yield* Fiber.join(stream)
      yield* Fiber.interrupt(notifier)
      assert.strictEqual(streamed[0]!.payload, "streamed")
    }).pipe(Effect.scoped, Effect.provide(layer())))

  it.live("COPY in and out, also inside a transaction", () =>
    Effect.gen(function*() {
      const client = yield* PgClient.PgClient
      const t = yield* table("id int, name text")
      const encoder = new TextEncoder()
      const result = yield* Stream.make(encoder.encode("1\tone\n"), encoder.encode("2\ttwo\n")).pipe(
        Stream.run(client.copyFrom(`copy ${t} from stdin`))
      )
      assert.strictEqual(result.rowCount, 2)
      const rolledBack = yield* Effect.exit(client.withTransaction(Effect.gen(function*() {
        yield* Stream.make(encoder.encode("3\tthree\n")).pipe(Stream.run(client.copyFrom(`copy ${t} from stdin`)))
        return yield* Effect.fail("undo")
      })))
      assert.isTrue(Exit.isFailure(rolledBack))
      const out = yield* client.copyTo(client`copy (select * from ${client(t)} order by id) to stdout`).pipe(
        Stream.run(Sink.collect<Uint8Array>())
      )
      const text = new TextDecoder().decode(Buffer.concat(out.map((chunk) => Buffer.from(chunk))))
      assert.strictEqual(text, "1\tone\n2\ttwo\n")
      const rows = yield* client.stream<ReadonlyArray<unknown>>(client`select id from ${client(t)} order by id`, {
        rowMode: "array",
        pageSize: 1
      }).pipe(Stream.runCollect)
      assert.deepStrictEqual(rows, [[1], [2]])
    }).pipe(Effect.scoped, Effect.provide(layer())))
})

describe("PgClient: multiplexing", () => {
  it.live("shares sessions between statements, and streams and transactions still get their own", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const streamed = yield* Effect.forkChild(
        sql<{ n: number; a: string }>`select n, current_setting('application_name') as a from generate_series(1, 3000) n`
          .stream.pipe(Stream.runCollect)
      )
      const tx = yield* Effect.forkChild(sql.withTransaction(Effect.gen(function*() {
        yield* sql`set local application_name = 'in-tx'`
        yield* Effect.sleep(100)
        return yield* sql<{ a: string }>`select current_setting('application_name') as a`
      })))
      const shared = yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) => sql<{ n: number; a: string }>`select ${i}::int as n, current_setting('application_name') as a`,
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(shared.map((rows) => rows[0]!.n), Array.from({ length: 40 }, (_, i) => i))
      assert.isTrue(shared.every((rows) => rows[0]!.a !== "in-tx"))
      assert.deepStrictEqual(yield* Fiber.join(tx), [{ a: "in-tx" }])
      const rows = yield* Fiber.join(streamed)
      assert.strictEqual(rows.length, 3000)
      assert.isTrue(rows.every((r) => r.a !== "in-tx"))
    }).pipe(Effect.provide(layer({ multiplex: true, maxConnections: 2 }))))
})

describe("PgClient: configuration", () => {
  it.live("accepts a connection string", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql`select current_user as u, current_database() as d`
      assert.deepStrictEqual(row, { u: "postgres", d: "postgres" })
    }).pipe(
      Effect.provide(PgClient.layer({
        url: Redacted.make(`postgresql://postgres@${servers().main.host}:${servers().main.port}/postgres?sslmode=disable`)
      }))
    ))

  it.live("reads its settings through effect/Config (layerConfig)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql`select current_setting('application_name') as a`
      assert.deepStrictEqual(row, { a: "from-config" })
    }).pipe(
      Effect.provide(
        PgClient.layerConfig({
          url: Config.Redacted("DATABASE_URL"),
          applicationName: Config.String("APP_NAME"),
          maxConnections: Config.succeed(2)
        }).pipe(
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({
            DATABASE_URL: `postgres://postgres@${servers().main.host}:${servers().main.port}/postgres?sslmode=disable`,
            APP_NAME: "from-config"
          })))
        )
      )
    ))

  it.live("connectionTTL: 0 uses each connection once, as in @effect/sql-pg; by default connections are reused", () =>
    Effect.gen(function*() {
      const pids = Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const pid = sql<{ pid: number }>`select pg_backend_pid() as pid`.pipe(Effect.map((rows) => rows[0]!.pid))
        return [yield* pid, yield* pid, yield* pid] as const
      })
      const once = yield* pids.pipe(Effect.provide(layer({ connectionTTL: 0, maxConnections: 1 })))
      assert.strictEqual(new Set(once).size, 3)
      const shared = yield* pids.pipe(Effect.provide(layer({ connectionTTL: "0 millis", multiplex: true })))
      assert.strictEqual(new Set(shared).size, 3)
      const reused = yield* pids.pipe(Effect.provide(layer({ maxConnections: 1 })))
      assert.strictEqual(new Set(reused).size, 1)
      const options = yield* PgClient.poolOptions({ connectionTTL: 0 })
      assert.strictEqual(options.maxUses, 1)
      assert.isUndefined(options.maxLifetime)
    }))

  it.live("maps @effect/sql-pg's option names onto the pool", () =>
    Effect.gen(function*() {
      const options = yield* PgClient.poolOptions({
        url: "postgres://u@h:1/d",
        username: "postgres",
        host: "db.example",
        maxConnections: 7,
        minConnections: 1,
        connectionTTL: "5 minutes",
        connectTimeout: "2 seconds",
        prepare: false,
        startupParameters: { search_path: "app" },
        ssl: true,
        keepAlive: "30 seconds"
      })
      assert.strictEqual(options.user, "postgres")
      assert.strictEqual(options.host, "db.example")
      assert.isUndefined(options.hosts)
      assert.strictEqual(options.database, "d")
      assert.strictEqual(options.maxSize, 7)
      assert.strictEqual(options.minSize, 1)
      assert.strictEqual(options.maxLifetime, "5 minutes")
      assert.strictEqual(options.connectTimeout, 2000)
      assert.strictEqual(options.statementCacheSize, 0)
      assert.deepStrictEqual(options.parameters, { search_path: "app" })
      assert.strictEqual(options.sslMode, "verify-full")
      assert.strictEqual(options.sslRootCert, "system")
      assert.strictEqual(options.keepalives, true)
      assert.strictEqual(options.keepalivesIdle, 30)
      const socket = yield* PgClient.poolOptions({ path: "/run/postgresql/.s.PGSQL.5433" })
      assert.deepStrictEqual([socket.host, socket.port], ["/run/postgresql", 5433])
      const bad = yield* Effect.exit(PgClient.poolOptions({ path: "/run/postgresql" }))
      assert.isTrue(Exit.isFailure(bad))
    }))
})

describe("PgClient: drop-in for @effect/sql-pg", () => {
  const program = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t = unique("swap")
    yield* sql`create table ${sql(t)} (id int primary key, name text not null, doc jsonb, flag bool)`
    yield* Effect.addFinalizer(() => Effect.ignore(sql`drop table ${sql(t)}`))
    yield* sql`insert into ${sql(t)} ${sql.insert([{ id: 1, name: "a", doc: null, flag: true }, { id: 2, name: "b", doc: null, flag: false }])}`
    yield* sql.withTransaction(sql`update ${sql(t)} set ${sql.update({ name: "c" })} where id = ${2}`)
    const rows = yield* sql`select id, name, flag from ${sql(t)} where ${sql.in("id", [1, 2, 3])} order by id`
    const count = yield* sql`select count(*)::int as n from ${sql(t)}`
    const failed = yield* Effect.exit(sql`insert into ${sql(t)} values (1, 'dup', null, null)`)
    const reason = Exit.isFailure(failed) ? (failed.cause.reasons[0] as any)?.error?.reason?._tag : undefined
    return { rows, count, reason }
  }).pipe(Effect.scoped)

  it.live("the same program gives the same results with either layer", () =>
    Effect.gen(function*() {
      const ours = yield* program.pipe(Effect.provide(layer()))
      const theirs = yield* program.pipe(
        Effect.provide(SqlPg.layer({
          host: servers().main.host,
          port: servers().main.port,
          username: "postgres",
          database: "postgres"
        }))
      )
      assert.deepStrictEqual(ours, theirs)
      assert.deepStrictEqual(ours.rows, [{ id: 1, name: "a", flag: true }, { id: 2, name: "c", flag: false }])
      assert.strictEqual(ours.reason, "UniqueViolation")
    }))
})
