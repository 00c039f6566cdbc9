import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { ServerError } from "../../src/errors/PgError.ts"
import type * as PgSession from "../../src/session/Session.ts"
import { connectPlain as connect, connectTraced, reasonOf } from "../support/Sessions.ts"

/** The frames the client sent, as `Name args`. */
const sent = (lines: ReadonlyArray<string>) =>
  lines.filter((line) => line.startsWith("F\t")).map((line) => line.split("\t").slice(2).join(" ").replace(/ +/g, " ").trim())

const named = (frames: ReadonlyArray<string>, type: string) =>
  frames.filter((f) => new RegExp(`^${type} ("" )?"s\\d+"`).test(f)).length
const unnamed = (frames: ReadonlyArray<string>, type: string) =>
  frames.filter((f) => new RegExp(`^${type} ""( "")?( |$)`).test(f)).length

const preparedCount = (session: PgSession.Session, text: string) =>
  Effect.map(
    session.query<{ c: number }>(
      "select count(*)::int as c from pg_prepared_statements where not from_sql and statement = $1",
      [text]
    ),
    (r) => r.rows[0]!.c
  )

const SQL = "select $1::int8 as n, $2::text as t, $1::int8 * 2 as d"

describe("PgSession: batches through the statement cache", () => {
  it.live("new SQL is parsed once under a name within the batch; the next batch only binds it", () =>
    Effect.gen(function*() {
      const { lines, session } = yield* connectTraced()
      const items = [1, 2, 3].map((i) => ({ sql: SQL, params: [i, `v${i}`] }))
      lines.length = 0
      const first = yield* session.batch(items)
      const firstFrames = sent(lines)
      // The first item parses and describes the statement under its name; the others still go unnamed.
      assert.strictEqual(named(firstFrames, "Parse"), 1)
      assert.strictEqual(unnamed(firstFrames, "Parse"), 2)
      assert.isTrue(firstFrames.some((f) => /^Describe S "s\d+"$/.test(f)))
      lines.length = 0
      const second = yield* session.batch(items)
      const secondFrames = sent(lines)
      assert.strictEqual(secondFrames.filter((f) => f.startsWith("Parse")).length, 0)
      assert.strictEqual(named(secondFrames, "Bind"), 3)
      // Text results the first time, binary the second: the same values.
      const expected = [1, 2, 3].map((i) => [{ n: BigInt(i), t: `v${i}`, d: BigInt(i * 2) }])
      assert.deepStrictEqual(first.map((r) => r.rows), expected)
      assert.deepStrictEqual(second.map((r) => r.rows), expected)
      assert.deepStrictEqual(second.map((r) => r.fields.map((f) => f.format)), [[1, 1, 1], [1, 1, 1], [1, 1, 1]])
      assert.deepStrictEqual(second.map((r) => r.command), ["SELECT", "SELECT", "SELECT"])
      assert.strictEqual(yield* preparedCount(session, SQL), 1)
      // `query` finds the statement the batch left in the cache.
      lines.length = 0
      const single = yield* session.query(SQL, [4, "v4"])
      assert.deepStrictEqual(single.rows, [{ n: 4n, t: "v4", d: 8n }])
      assert.strictEqual(sent(lines).filter((f) => f.startsWith("Parse")).length, 0)
    }))

  it.live("a batch that creates a table and fills it runs again after the table is dropped", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const items = [
        { sql: "create temp table made_here (x int8)" },
        { sql: "insert into made_here values ($1), ($2)", params: [5, 6] },
        { sql: "select sum(x)::int8 as s from made_here" }
      ]
      for (let round = 0; round < 3; round++) {
        const results = yield* session.batch(items)
        assert.deepStrictEqual(results.map((r) => r.command), ["CREATE TABLE", "INSERT", "SELECT"])
        assert.strictEqual(results[1]!.rowCount, 2)
        assert.deepStrictEqual(results[2]!.rows, [{ s: 11n }])
        yield* session.query("drop table made_here")
      }
    }))

  it.live("a stale cached statement runs the batch again, once, outside a transaction block", () =>
    Effect.gen(function*() {
      const { lines, session } = yield* connectTraced()
      yield* session.query("create temp table grows (a int)")
      yield* session.query("insert into grows values (1)")
      const items = [{ sql: "insert into grows values (2)" }, { sql: "select * from grows order by a" }]
      yield* session.batch(items)
      yield* session.query("delete from grows where a = 2")
      yield* session.query("alter table grows add column b int default 7")
      lines.length = 0
      const results = yield* session.batch(items)
      assert.deepStrictEqual(results[1]!.rows, [{ a: 1, b: 7 }, { a: 2, b: 7 }])
      // The first run failed (0A000) and rolled back its insert; the second run parsed the select afresh.
      assert.isTrue(lines.some((l) => l.startsWith("B\t") && l.includes("0A000")))
      const count = yield* session.query<{ c: number }>("select count(*)::int as c from grows")
      assert.deepStrictEqual(count.rows, [{ c: 2 }])
    }))

  it.live("a batch whose COMMIT ran before the stale statement is not run again (the insert stays single)", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table committed_once (a int)")
      const items = [
        { sql: "insert into committed_once values (1)" },
        { sql: "commit" },
        { sql: "select * from committed_once" }
      ]
      yield* session.batch(items)
      yield* session.batch(items)
      yield* session.query("alter table committed_once add column b int")
      const exit = yield* Effect.exit(session.batch(items))
      assert.strictEqual((reasonOf(exit) as ServerError).code, "0A000")
      const count = yield* session.query<{ c: number }>("select count(*)::int as c from committed_once")
      assert.deepStrictEqual(count.rows, [{ c: 3 }])
      // The stale statement was evicted: the next batch prepares it afresh.
      const results = yield* session.batch(items)
      assert.deepStrictEqual(results[2]!.fields.map((f) => f.name), ["a", "b"])
    }))

  it.live("inside a transaction block a stale statement fails the batch; after ROLLBACK it is prepared afresh", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table stale_tx (a int)")
      const items = [{ sql: "select * from stale_tx" }]
      yield* session.batch(items)
      yield* session.batch(items)
      yield* session.query("begin")
      yield* session.query("alter table stale_tx add column b int")
      const exit = yield* Effect.exit(session.batch(items))
      assert.strictEqual((reasonOf(exit) as ServerError).code, "0A000")
      yield* session.query("rollback")
      yield* session.query("alter table stale_tx add column c int")
      const results = yield* session.batch(items)
      assert.deepStrictEqual(results[0]!.fields.map((f) => f.name), ["a", "c"])
    }))

  it.live("a batch that stops before a new statement leaves nothing of it; a failed Parse caches nothing", () =>
    Effect.gen(function*() {
      const { lines, session } = yield* connectTraced()
      const later = "select 42 as never_reached"
      const exit = yield* Effect.exit(session.batch([{ sql: "select 1/0 as z" }, { sql: later }]))
      assert.strictEqual((reasonOf(exit) as ServerError).code, "22012")
      assert.strictEqual(yield* preparedCount(session, later), 0)
      // The statement that failed at execution was parsed and described: it is cached and still fails the same way.
      assert.strictEqual(yield* preparedCount(session, "select 1/0 as z"), 1)
      const again = yield* Effect.exit(session.batch([{ sql: "select 1/0 as z" }]))
      assert.strictEqual((reasonOf(again) as ServerError).code, "22012")
      const syntax = yield* Effect.exit(session.batch([{ sql: "selec 1" }]))
      assert.strictEqual((reasonOf(syntax) as ServerError).code, "42601")
      assert.strictEqual(yield* preparedCount(session, "selec 1"), 0)
      const results = yield* session.batch([{ sql: later }, { sql: later }])
      assert.deepStrictEqual(results.map((r) => r.rows), [[{ never_reached: 42 }], [{ never_reached: 42 }]])
      assert.strictEqual(yield* preparedCount(session, later), 1)
      // Nothing was bound by a name the server does not know.
      assert.isFalse(lines.some((l) => l.startsWith("B\t") && l.includes("26000")))
    }))

  it.live("without the cache, or with prepare: false, every item is unnamed", () =>
    Effect.gen(function*() {
      for (const [options, batchOptions] of [[{ statementCacheSize: 0 }, undefined], [{}, { prepare: false }]] as const) {
        const { lines, session } = yield* connectTraced(options)
        const items = [{ sql: SQL, params: [1, "a"] }, { sql: SQL, params: [2, "b"] }]
        yield* session.batch(items, batchOptions)
        const results = yield* session.batch(items, batchOptions)
        assert.deepStrictEqual(results.map((r) => r.rows), [[{ n: 1n, t: "a", d: 2n }], [{ n: 2n, t: "b", d: 4n }]])
        const frames = sent(lines)
        assert.strictEqual(named(frames, "Parse"), 0)
        assert.strictEqual(unnamed(frames, "Parse"), 4)
        assert.strictEqual(yield* preparedCount(session, SQL), 0)
      }
    }))
})

describe("PgSession: batches and types the session has not met", () => {
  it.live("rows of a type not looked up yet are decoded once it is (as query decodes them), in every batch", () =>
    Effect.gen(function*() {
      const type = `batch_pair_${process.pid}_${Date.now() % 100000}`
      const admin = yield* connect()
      yield* admin.query(`create type ${type} as (a int4, b text)`)
      yield* Effect.addFinalizer(() => Effect.ignore(Effect.scoped(Effect.flatMap(connect(), (s) => s.query(`drop type ${type}`)))))
      const sql = `select row($1::int4, 'x')::${type} as p, array[row(2, 'y')::${type}] as ps`
      const expected = (yield* admin.query(sql, [1])).rows
      assert.notStrictEqual(typeof expected[0]!["p"], "string")
      // Fresh sessions: the first batch meets the type before anything has looked it up.
      for (const options of [{}, { statementCacheSize: 0 }]) {
        const session = yield* connect(options)
        const items = [{ sql, params: [1] }, { sql, params: [1] }]
        const first = yield* session.batch(items)
        const second = yield* session.batch(items)
        assert.deepStrictEqual(first.map((r) => r.rows), [expected, expected])
        assert.deepStrictEqual(second.map((r) => r.rows), [expected, expected])
      }
    }))
})
