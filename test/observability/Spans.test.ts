/**
 * Spans of session and pool operations against the real server, through an
 * in-memory tracer: names and OpenTelemetry database attributes, parents,
 * failures (SQLSTATE as status code and error type), a cancelled query, a
 * retried transaction, and no parameter value anywhere.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { Buffer } from "node:buffer"
import * as PgPool from "../../src/pool/Pool.ts"
import * as Transaction from "../../src/pool/Transaction.ts"
import * as PgSession from "../../src/session/Session.ts"
import { servers } from "../support/Servers.ts"
import { awaitActive, connectPlain } from "../support/Sessions.ts"
import { attributesOf, everyString, exitOf, parentOf, recorder, traced } from "./Support.ts"

/** A value that must never show up in a span. */
const SECRET = "s3cr3t-param-7f1e"

const byName = <S extends { readonly name: string }>(spans: ReadonlyArray<S>, name: string): Array<S> =>
  spans.filter((s) => s.name === name)

describe("spans of session operations", () => {
  it.live("a query: a client span named by its summary, child of the caller's span, with the database attributes", () => {
    const rec = recorder()
    return traced(
      rec,
      Effect.gen(function*() {
        const session = yield* connectPlain()
        yield* session.simple("create temp table obs_items (id int, name text)")
        yield* session.query("insert into obs_items values (1, 'a'), (2, 'b')")
        yield* session.query("select id, name from obs_items where name <> $1", [SECRET]).pipe(
          Effect.withSpan("caller")
        )
        const caller = byName(rec.spans, "caller")[0]!
        const span = byName(rec.spans, "SELECT obs_items")[0]!
        assert.strictEqual(parentOf(span), caller)
        assert.strictEqual(span.kind, "client")
        const a = attributesOf(span)
        assert.deepInclude(a, {
          "db.system.name": "postgresql",
          "db.namespace": "postgres",
          "db.operation.name": "SELECT",
          "db.collection.name": "obs_items",
          "db.query.summary": "SELECT obs_items",
          "db.query.text": "select id, name from obs_items where name <> $1",
          "db.response.returned_rows": 2,
          "server.address": servers().main.host,
          "server.port": servers().main.port,
          "network.peer.address": servers().main.host,
          "network.peer.port": servers().main.port
        })
        assert.notProperty(a, "error.type")
        assert.isTrue(Exit.isSuccess(exitOf(span)!))
        // Literals of a query's text are replaced.
        const insert = byName(rec.spans, "INSERT obs_items")[0]!
        assert.strictEqual(attributesOf(insert)["db.query.text"], "insert into obs_items values (?, ?), (?, ?)")
        // The connect span: the server, and the host attempt and authentication as events.
        const connect = byName(rec.spans, "PgSession.connect")[0]!
        assert.deepInclude(attributesOf(connect), { "db.system.name": "postgresql", "server.port": servers().main.port })
        assert.deepStrictEqual(connect.events.map(([name]) => name), ["connect.attempt", "authenticated"])
        assert.strictEqual(connect.events[0]![2]["outcome"], "ok")
      }).pipe(Effect.scoped)
    )
  })

  it.live("connect over TLS: the attempt, TLS and authentication are events of the connect span", () => {
    const rec = recorder()
    return traced(
      rec,
      Effect.gen(function*() {
        const session = yield* connectPlain({ sslMode: "require" })
        assert.isTrue(session.encrypted)
        const connect = byName(rec.spans, "PgSession.connect")[0]!
        assert.deepStrictEqual(connect.events.map(([name]) => name), ["connect.attempt", "tls", "authenticated"])
        assert.strictEqual(connect.events[0]![2]["pgwire.encryption"], "tls")
        // A host that refuses: its failed attempt is an event too, with the error's type.
        const refused = yield* Effect.exit(
          PgSession.connect({
            hosts: [{ host: "127.0.0.1", port: 1 }, { host: servers().main.host, port: servers().main.port }],
            user: "postgres",
            database: "postgres",
            sslMode: "disable"
          })
        )
        assert.isTrue(Exit.isSuccess(refused), String(refused))
        const second = byName(rec.spans, "PgSession.connect")[1]!
        const attempts = second.events.filter(([name]) => name === "connect.attempt").map(([, , a]) => a)
        assert.strictEqual(attempts[0]!["server.port"], 1)
        assert.strictEqual(attempts[0]!["error.type"], "ConnectionError")
        assert.strictEqual(attempts[1]!["outcome"], "ok")
      }).pipe(Effect.scoped)
    )
  })

  it.live("a protocol 2.0 session on PostgreSQL 13 gets the same spans", () => {
    const rec = recorder()
    return traced(
      rec,
      Effect.gen(function*() {
        const session = yield* PgSession.connect({
          host: servers().pg13.host,
          port: servers().pg13.port,
          user: "postgres",
          database: "postgres",
          sslMode: "disable",
          protocolVersion: "2.0"
        })
        assert.strictEqual(session.protocolVersion.major, 2)
        yield* session.query("select relname from pg_class where relname = $1", [SECRET])
        yield* Effect.exit(session.query("select 1 / 0"))
        const select = byName(rec.spans, "SELECT pg_class")[0]!
        assert.deepInclude(attributesOf(select), {
          "db.system.name": "postgresql",
          "db.collection.name": "pg_class",
          "db.response.returned_rows": 0,
          "server.port": servers().pg13.port
        })
        const failed = byName(rec.spans, "SELECT").find((s) => attributesOf(s)["db.query.text"] === "select ? / ?")!
        // 2.0 errors carry no SQLSTATE: the error's type is its reason.
        assert.strictEqual(attributesOf(failed)["error.type"], "ServerError")
        assert.isFalse(everyString(rec.spans).some((s) => s.includes(SECRET)))
      }).pipe(Effect.scoped)
    )
  })

  it.live("a failed query: status code and error type are the SQLSTATE, the span fails", () => {
    const rec = recorder()
    return traced(
      rec,
      Effect.gen(function*() {
        const session = yield* connectPlain()
        const exit = yield* Effect.exit(session.query("select 1 / $1::int as x", [0]))
        assert.isTrue(Exit.isFailure(exit))
        const span = byName(rec.spans, "SELECT")[0]!
        assert.deepInclude(attributesOf(span), { "db.response.status_code": "22012", "error.type": "22012" })
        assert.isTrue(Exit.isFailure(exitOf(span)!))
        // A missing table: 42P01, on a simple query too.
        yield* Effect.exit(session.simple("select * from no_such_table_here"))
        const simple = byName(rec.spans, "SELECT no_such_table_here")[0]!
        assert.strictEqual(attributesOf(simple)["error.type"], "42P01")
      }).pipe(Effect.scoped)
    )
  })

  it.live("a cancelled query: the interrupted span says so, session.cancel has a span of its own, and cancels are counted", () => {
    const rec = recorder()
    return traced(
      rec,
      Effect.gen(function*() {
        const session = yield* connectPlain()
        const monitor = yield* connectPlain()
        const fiber = yield* Effect.forkChild(session.query("select pg_sleep(30)"))
        yield* awaitActive(monitor, session, "pg_sleep(30)")
        yield* Fiber.interrupt(fiber)
        const span = byName(rec.spans, "SELECT")
          .find((s) => attributesOf(s)["db.query.text"] === "select pg_sleep(?)")!
        assert.strictEqual(attributesOf(span)["error.type"], "interrupted")
        assert.strictEqual(span.status._tag, "Ended")
        // An explicit cancel: its own span; the query fails with 57014.
        const second = yield* Effect.forkChild(Effect.exit(session.query("select pg_sleep(31)")))
        yield* awaitActive(monitor, session, "pg_sleep(31)")
        yield* session.cancel
        const exit = yield* Fiber.join(second)
        assert.isTrue(Exit.isFailure(exit))
        assert.lengthOf(byName(rec.spans, "CANCEL"), 1)
        const cancelled = byName(rec.spans, "SELECT").filter((s) => attributesOf(s)["error.type"] === "57014")
        assert.lengthOf(cancelled, 1)
        assert.strictEqual(attributesOf(cancelled[0]!)["db.response.status_code"], "57014")
      }).pipe(Effect.scoped)
    )
  })

  it.live("streams, batches, prepared statements, COPY, LISTEN/NOTIFY and function calls each get a span", () => {
    const rec = recorder()
    return traced(
      rec,
      Effect.gen(function*() {
        const session = yield* connectPlain()
        yield* session.simple("create temp table obs_copy (id int, note text)")
        const streamed = yield* Stream.runCollect(session.stream("select g from generate_series(1, $1::int) g", [25]))
        assert.lengthOf(streamed, 25)
        const stream = byName(rec.spans, "SELECT generate_series")[0]!
        assert.strictEqual(attributesOf(stream)["db.response.returned_rows"], 25)
        yield* session.batch([
          { sql: "insert into obs_copy values ($1, $2)", params: [1, SECRET] },
          { sql: "insert into obs_copy values ($1, $2)", params: [2, SECRET] }
        ])
        const batch = byName(rec.spans, "BATCH INSERT obs_copy")[0]!
        assert.deepInclude(attributesOf(batch), { "db.operation.batch.size": 2, "db.collection.name": "obs_copy" })
        const prepared = yield* session.prepare("select note from obs_copy where id = $1")
        yield* prepared.execute([1])
        assert.lengthOf(byName(rec.spans, "PREPARE SELECT obs_copy"), 1)
        assert.lengthOf(byName(rec.spans, "SELECT obs_copy"), 1)
        const copied = yield* Stream.make(Buffer.from(`3\t${SECRET}\n`)).pipe(
          Stream.run(session.copyFrom("copy obs_copy from stdin"))
        )
        assert.strictEqual(copied.rowCount, 1)
        assert.lengthOf(byName(rec.spans, "COPY obs_copy"), 1)
        yield* Stream.runDrain(session.copyTo("copy obs_copy to stdout"))
        assert.lengthOf(byName(rec.spans, "COPY obs_copy"), 2)
        const notes = yield* session.listen("obs_channel")
        yield* session.notify("obs_channel", "hello")
        yield* Stream.runHead(notes)
        assert.lengthOf(byName(rec.spans, "LISTEN"), 1)
        assert.lengthOf(byName(rec.spans, "NOTIFY"), 1)
        // int4pl(2, 3) through the function call protocol (OID 177).
        const int4 = (n: number) => new Uint8Array([0, 0, 0, n])
        yield* session.functionCall(177, [int4(2), int4(3)], { argumentFormats: [1] })
        assert.lengthOf(byName(rec.spans, "FUNCTION CALL"), 1)
        for (const span of rec.spans) {
          if (span.kind === "client") assert.strictEqual(attributesOf(span)["db.system.name"], "postgresql")
        }
        assert.isFalse(everyString(rec.spans).some((s) => s.includes(SECRET)))
      }).pipe(Effect.scoped)
    )
  })
})

describe("spans of pool operations", () => {
  it.live("a retried transaction: one TRANSACTION span per attempt (its checkout first), the conflict on the first, COMMIT on the second", () => {
    const rec = recorder()
    return traced(
      rec,
      Effect.gen(function*() {
        const pool = yield* PgPool.make({
          host: servers().main.host,
          port: servers().main.port,
          user: "postgres",
          database: "postgres",
          sslMode: "disable",
          name: "obs-retry"
        })
        let attempts = 0
        const body = Effect.gen(function*() {
          attempts++
          yield* pool.query("select $1::text as v", [SECRET])
          if (attempts === 1) {
            // A serialization failure raised by the server, as a conflict would.
            yield* pool.simple("do $$ begin raise exception using errcode = '40001'; end $$")
          }
        })
        yield* pool.withTransaction(body, { isolationLevel: "serializable" }).pipe(
          Transaction.retry(),
          Effect.withSpan("unit of work")
        )
        assert.strictEqual(attempts, 2)
        const root = byName(rec.spans, "unit of work")[0]!
        const transactions = byName(rec.spans, "TRANSACTION")
        assert.lengthOf(transactions, 2)
        for (const t of transactions) {
          assert.strictEqual(parentOf(t), root)
          assert.strictEqual(attributesOf(t)["pgwire.transaction.isolation_level"], "serializable")
        }
        assert.isTrue(Exit.isFailure(exitOf(transactions[0]!)!))
        assert.isTrue(Exit.isSuccess(exitOf(transactions[1]!)!))
        const childrenOf = (parent: unknown) => rec.spans.filter((s) => parentOf(s) === parent).map((s) => s.name)
        assert.deepStrictEqual(childrenOf(transactions[0]), ["PgPool.acquire", "BEGIN", "SELECT", "DO", "ROLLBACK"])
        assert.deepStrictEqual(childrenOf(transactions[1]), ["PgPool.acquire", "BEGIN", "SELECT", "COMMIT"])
        const conflict = byName(rec.spans, "DO")[0]!
        assert.deepInclude(attributesOf(conflict), { "error.type": "40001", "db.response.status_code": "40001" })
        assert.isFalse(everyString(rec.spans).some((s) => s.includes(SECRET)))
      }).pipe(Effect.scoped)
    )
  })

  it.live("a nested transaction is a SAVEPOINT span inside the TRANSACTION span", () => {
    const rec = recorder()
    return traced(
      rec,
      Effect.gen(function*() {
        const pool = yield* PgPool.make({
          host: servers().main.host,
          port: servers().main.port,
          user: "postgres",
          database: "postgres",
          sslMode: "disable",
          name: "obs-savepoint"
        })
        yield* pool.withTransaction(pool.withTransaction(pool.query("select 1 as one")))
        const transaction = byName(rec.spans, "TRANSACTION")[0]!
        const savepoint = byName(rec.spans, "SAVEPOINT")[0]!
        assert.strictEqual(parentOf(savepoint), transaction)
        assert.strictEqual(attributesOf(savepoint)["pgwire.transaction.depth"], 1)
        const childrenOf = (parent: unknown) => rec.spans.filter((s) => parentOf(s) === parent).map((s) => s.name)
        assert.deepStrictEqual(childrenOf(transaction), ["PgPool.acquire", "BEGIN", "SAVEPOINT", "COMMIT"])
        assert.deepStrictEqual(childrenOf(savepoint), ["SAVEPOINT", "SELECT", "RELEASE"])
      }).pipe(Effect.scoped)
    )
  })

  it.live("a checkout is a PgPool.acquire span: a new session's connect is its child, a free one opens none, a timeout is its error", () => {
    const rec = recorder()
    return traced(
      rec,
      Effect.gen(function*() {
        const pool = yield* PgPool.make({
          host: servers().main.host,
          port: servers().main.port,
          user: "postgres",
          database: "postgres",
          sslMode: "disable",
          name: "obs-acquire",
          maxSize: 1,
          // Long enough for the first checkout's connect on a loaded machine; the starved checkout below waits it out.
          acquireTimeout: 3_000
        })
        yield* pool.query("select 1 as one").pipe(Effect.withSpan("first"))
        yield* pool.query("select 2 as two").pipe(Effect.withSpan("second"))
        const acquires = byName(rec.spans, PgPool.ACQUIRE_SPAN)
        assert.isAtLeast(acquires.length, 2)
        const [first, second] = [byName(rec.spans, "first")[0]!, byName(rec.spans, "second")[0]!]
        const firstAcquire = acquires.find((s) => parentOf(s) === first)!
        const secondAcquire = acquires.find((s) => parentOf(s) === second)!
        assert.deepInclude(attributesOf(firstAcquire), {
          "db.system.name": "postgresql",
          "db.client.connection.pool.name": "obs-acquire",
          "pgwire.pool.session_opened": true
        })
        const connects = byName(rec.spans, "PgSession.connect")
        assert.lengthOf(connects, 1)
        assert.strictEqual(parentOf(connects[0]!), firstAcquire)
        assert.isTrue(Exit.isSuccess(exitOf(firstAcquire)!))
        // The session was idle: no connect, and the statement is not under the checkout.
        assert.strictEqual(attributesOf(secondAcquire)["pgwire.pool.session_opened"], false)
        const select = byName(rec.spans, "SELECT").find((s) => parentOf(s) === second)
        assert.isDefined(select)
        // The only session held: the next checkout waits out the acquire timeout, and its span says so.
        const held = yield* Effect.scoped(Effect.gen(function*() {
          yield* pool.acquire
          return yield* Effect.exit(Effect.scoped(pool.acquire).pipe(Effect.withSpan("starved")))
        }))
        assert.isTrue(Exit.isFailure(held))
        const starved = byName(rec.spans, "starved")[0]!
        const timedOut = byName(rec.spans, PgPool.ACQUIRE_SPAN).find((s) => parentOf(s) === starved)!
        assert.isTrue(Exit.isFailure(exitOf(timedOut)!))
        assert.deepInclude(attributesOf(timedOut), { "error.type": "TimeoutError", "pgwire.pool.session_opened": false })
        assert.lengthOf(byName(rec.spans, "PgSession.connect"), 1)
      }).pipe(Effect.scoped)
    )
  })

  it.live("with no tracer installed no span is made, and the session answers as before", () =>
    Effect.gen(function*() {
      const rec = recorder()
      const session = yield* connectPlain()
      // Effect's default tracer would make a span for every Effect.withSpan: count what it is asked for.
      const made: Array<string> = []
      const native = Tracer.nativeTracer as { span: Tracer.Tracer["span"] }
      const span = native.span
      const original = span.bind(Tracer.nativeTracer)
      native.span = (options) => {
        made.push(options.name)
        return original(options)
      }
      yield* Effect.gen(function*() {
        const { rows } = yield* session.query("select 1 as one")
        assert.deepStrictEqual(rows, [{ one: 1 }])
        yield* session.simple("select 2")
        yield* session.batch([{ sql: "select 3" }])
        yield* Stream.runDrain(session.stream("select 4"))
        yield* session.notify("no_tracer", "x")
        // The control: Effect.withSpan without a tracer installed does make one.
        yield* Effect.withSpan(Effect.void, "control")
      }).pipe(Effect.ensuring(Effect.sync(() => {
        native.span = span
      })))
      assert.deepStrictEqual(made, ["control"])
      assert.lengthOf(rec.spans, 0)
      // ObserveSessions false: the session is the engine's own, without the wrapper.
      const plain = yield* connectPlain().pipe(Effect.provideService(PgSession.ObserveSessions, false))
      const traced2 = yield* traced(rec, plain.query("select 2 as two"))
      assert.deepStrictEqual(traced2.rows, [{ two: 2 }])
      assert.lengthOf(rec.spans.filter((s) => s.kind === "client"), 0)
    }).pipe(Effect.scoped))
})
