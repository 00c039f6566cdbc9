/**
 * Our own client against our own server: the session's core operations run
 * against PostgreSQL 18 directly and against PgServer (the example relay in
 * front of the same PostgreSQL), and must give the same results through both.
 * Every byte between the client and PgServer goes through the project's codecs
 * in both directions.
 *
 * Cases: typed parameters and results (text and binary), a multi-statement
 * simple query, a batch and a batch failing in the middle, a prepared
 * statement executed twice, a stream paged through a portal, COPY in and out,
 * CopyFail from a failing source, transaction status bytes, and cancellation
 * by interruption. LISTEN goes through a handler of its own (the relay does not
 * forward notifications).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as PgServer from "../../src/server/PgServer.ts"
import * as Relay from "../../src/proxy/examples/Relay.ts"
import * as PgSession from "../../src/session/Session.ts"
import type { PgError } from "../../src/errors/PgError.ts"
import { servers } from "../support/Servers.ts"
import { withServer } from "./Support.ts"

const upstream = () => ({ host: servers().main.host, port: servers().main.port, user: "postgres", database: "postgres", sslMode: "disable" as const })

const codeOf = (exit: Exit.Exit<unknown, PgError>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")?.error as PgError | undefined
  return (error?.reason as { code?: string } | undefined)?.code
}

const summary = (r: PgSession.QueryResult<unknown>) => ({
  rows: r.rows,
  command: r.command,
  rowCount: r.rowCount,
  fields: r.fields.map((f) => [f.name, f.dataTypeOid])
})

const TYPED = "select $1::int4 as i, $2::int8 as l, $3::text as t, $4::bool as b, $5::numeric as n, $6::float8 as f, " +
  "$7::bytea as y, $8::timestamptz as ts, $9::jsonb as j, $10::uuid as u, $11::int4[] as a, $12::text as z"
const TYPED_PARAMS: ReadonlyArray<unknown> = [
  7,
  9007199254740993n,
  "héllo",
  true,
  "12.50",
  1.25,
  new Uint8Array([0, 1, 255]),
  new Date("2026-01-02T03:04:05.678Z"),
  { k: [1, "x"] },
  "6f1c2a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6",
  [1, null, 3],
  null
]

/** The session's core operations; what each gave, for comparing two servers. */
const cases = (session: PgSession.Session) =>
  Effect.gen(function*() {
    const table = `session_cases_${session.processId}`
    // Twice: the first is parsed and described, the second binds a cached statement (binary results).
    const typed1 = summary(yield* session.query(TYPED, TYPED_PARAMS))
    const typed2 = summary(yield* session.query(TYPED, TYPED_PARAMS))
    const uncached = summary(yield* session.query("select $1::int4 + 1 as n", [1], { prepare: false }))
    const simple = (yield* session.simple("select 1 as a; select 'x' as b, null as c; ")).map(summary)
    const batch = (yield* session.batch([
      { sql: "select $1::int4 * 2 as d", params: [21] },
      { sql: "select generate_series(1, 3) as g" }
    ])).map(summary)
    const failedBatch = codeOf(yield* Effect.exit(session.batch([
      { sql: "select 1" },
      { sql: "select 1/0" },
      { sql: "select 3" }
    ])))
    const afterBatch = summary(yield* session.query("select 4 as after"))
    const prepared = yield* Effect.scoped(Effect.gen(function*() {
      const statement = yield* session.prepare("select $1::text || $2::text as joined")
      const one = yield* statement.execute(["a", "b"])
      const two = yield* statement.execute(["c", "d"])
      return { parameterTypes: statement.parameterTypes, rows: [...one.rows, ...two.rows] }
    }))
    const streamed = (yield* Stream.runCollect(
      session.stream<{ n: number }>("select generate_series(1, 1000) as n", [], { pageSize: 64 })
    )).map((r) => r.n)

    yield* session.query(`create temp table ${table} (id int4, name text)`)
    const lines = Array.from({ length: 10_000 }, (_, i) => `${i}\tname ${i}\n`).join("")
    const copiedIn = yield* Stream.run(
      Stream.make(new TextEncoder().encode(lines.slice(0, 5000)), new TextEncoder().encode(lines.slice(5000))),
      session.copyFrom(`copy ${table} from stdin`)
    )
    const copiedOut = new TextDecoder().decode(Buffer.concat(
      yield* Stream.runCollect(session.copyTo(`copy (select * from ${table} order by id) to stdout`))
    ))
    const copyFailed = yield* Effect.exit(Stream.run(
      Stream.concat(Stream.make(new TextEncoder().encode("1\tone\n")), Stream.fail("source broke")),
      session.copyFrom(`copy ${table} from stdin`) as Sink.Sink<unknown, Uint8Array, never, PgError | string>
    ))
    const countAfterCopyFail = (yield* session.query<{ n: bigint }>(`select count(*) as n from ${table}`)).rows[0]!.n

    const statuses: Array<string> = [yield* session.transactionStatus]
    yield* session.query("begin")
    statuses.push(yield* session.transactionStatus)
    yield* session.query(`insert into ${table} values (-1, 'in transaction')`)
    const inTransactionError = codeOf(yield* Effect.exit(session.query("select 1/0")))
    statuses.push(yield* session.transactionStatus)
    const inFailed = codeOf(yield* Effect.exit(session.query("select 1")))
    yield* session.query("rollback")
    statuses.push(yield* session.transactionStatus)
    const rolledBack = (yield* session.query<{ n: bigint }>(`select count(*) as n from ${table} where id = -1`)).rows[0]!.n

    const sleeper = yield* Effect.forkChild(session.query("select pg_sleep(30)"))
    yield* Effect.sleep("300 millis")
    yield* Fiber.interrupt(sleeper)
    const afterCancel = summary(yield* session.query("select 5 as after_cancel"))
    yield* session.query(`drop table ${table}`)

    return {
      typed1,
      typed2,
      uncached,
      simple,
      batch,
      failedBatch,
      afterBatch,
      prepared,
      streamed,
      copiedIn,
      copiedOutMatches: copiedOut === lines,
      copyFailed: Exit.isFailure(copyFailed),
      countAfterCopyFail,
      statuses,
      inTransactionError,
      inFailed,
      rolledBack,
      afterCancel
    }
  })

const connect = (port: number, host = "127.0.0.1") =>
  PgSession.connect({ host, port, user: "postgres", database: "postgres", sslMode: "disable" })

describe("our client against PgServer and against PostgreSQL", () => {
  it("gives the same results for query, simple, batch, prepare, stream, COPY, transactions and cancellation", async () => {
    const direct = await Effect.runPromise(Effect.scoped(Effect.flatMap(connect(servers().main.port, servers().main.host), cases)))
    const relayed = await withServer(
      { handler: Relay.handler(upstream()) },
      ({ port }) => Effect.runPromise(Effect.scoped(Effect.flatMap(connect(port), cases)))
    )
    assert.deepStrictEqual(relayed, direct)
    // What both gave, checked once.
    assert.deepStrictEqual(direct.typed1.rows, direct.typed2.rows)
    assert.deepStrictEqual((direct.typed2.rows[0] as Record<string, unknown>)["l"], 9007199254740993n)
    assert.deepStrictEqual(direct.streamed, Array.from({ length: 1000 }, (_, i) => i + 1))
    assert.strictEqual(direct.failedBatch, "22012")
    assert.deepStrictEqual(direct.copiedIn.rowCount, 10_000)
    assert.isTrue(direct.copiedOutMatches)
    assert.isTrue(direct.copyFailed)
    assert.strictEqual(direct.countAfterCopyFail, 10_000n)
    assert.deepStrictEqual(direct.statuses, ["I", "T", "E", "I"])
    assert.strictEqual(direct.inTransactionError, "22012")
    assert.strictEqual(direct.inFailed, "25P02")
    assert.strictEqual(direct.rolledBack, 0n)
    assert.deepStrictEqual(direct.afterCancel.rows, [{ after_cancel: 5 }])
  })

  it("delivers notifications to a LISTEN through a handler that sends them", async () => {
    const handler: PgServer.Handler = {
      simple: (sql) => {
        const listen = /^listen "?(\w+)"?$/i.exec(sql.trim())
        if (listen !== null) return Stream.make(PgServer.Outcome.command("LISTEN"))
        const notify = /^select pg_notify\('(\w+)', '(\w*)'\)$/i.exec(sql.trim())
        if (notify !== null) {
          return Stream.fromEffect(Effect.gen(function*() {
            const session = yield* PgServer.Session
            yield* session.notify(notify[1]!, notify[2]!)
            return PgServer.Outcome.rows([PgServer.field("pg_notify", "void")], Stream.make([""]))
          }))
        }
        return Stream.make(PgServer.Outcome.command("UNLISTEN"))
      }
    }
    const got = await withServer({ handler }, ({ port }) =>
      Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const session = yield* connect(port)
        const notifications = yield* session.listen("news")
        yield* session.simple("select pg_notify('news', 'hello')")
        const first = yield* Stream.runHead(notifications)
        return { first: Option.getOrUndefined(first), processId: session.processId }
      }))))
    assert.strictEqual(got.first?.channel, "news")
    assert.strictEqual(got.first?.payload, "hello")
    assert.strictEqual(got.first?.processId, got.processId)
  })
})
