import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as PgReplication from "../../src/replication/PgReplication.ts"
import type * as PgSession from "../../src/session/Session.ts"
import { servers } from "../support/Servers.ts"
import { failureTag, logicalFixture, sqlSession, uniqueName } from "./Support.ts"

/** A fixture on the main server; `changes(n)` reads the first n transactions with the fixture's options. */
const fixture = (session: PgSession.Session, columns: string) =>
  Effect.map(logicalFixture(session, servers().main, columns), (f) => ({ ...f, changes: f.first }))

const COLUMNS = "id int8 primary key, n numeric, t timestamptz, j jsonb, a int4[], b bool, by bytea, u uuid, " +
  "txt text, d date, f float8, iv interval, ts timestamp, ta text[], nul int4"

const VALUES = "1, 12345.678901234567890, '2024-02-29 12:34:56.789012+00', '{\"k\": [1, 2, {\"x\": null}]}', " +
  "'{1,2,NULL,4}', true, '\\xdeadbeef', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'héllo \"wörld\"', '2024-01-02', " +
  "1.5e300, '1 year 2 mons 3 days 04:05:06.7', 'infinity', '{\"a,b\",c,NULL}', NULL"

describe("PgReplication.logical: values", () => {
  it.live("every value decodes equal to a SELECT of the same row, in text and in binary", () =>
    Effect.gen(function*() {
      const session = yield* sqlSession(servers().main)
      const f = yield* fixture(session, COLUMNS)
      yield* session.query(`insert into ${f.table} values (${VALUES})`)
      const selected = (yield* session.query(`select * from ${f.table}`)).rows[0]!
      for (const binary of [false, true]) {
        const [tx] = yield* f.changes(1, { binary })
        const insert = tx!.changes.find((c) => c._tag === "Insert") as PgReplication.Insert
        assert.deepStrictEqual(insert.new, selected, `binary: ${binary}`)
        assert.strictEqual(insert.table, `public.${f.table}`)
        assert.deepStrictEqual(insert.relation.columns.filter((c) => c.key).map((c) => c.name), ["id"])
      }
    }).pipe(Effect.scoped), 60_000)

  it.live("enums, domains, composites and arrays of them decode equal to a SELECT, in text and in binary", () =>
    Effect.gen(function*() {
      const session = yield* sqlSession(servers().main)
      const mood = uniqueName("mood")
      const positive = uniqueName("positive")
      const pair = uniqueName("pair")
      yield* session.query(`create type ${mood} as enum ('sad', 'ok', 'happy')`)
      yield* session.query(`create domain ${positive} as int4 check (value > 0)`)
      yield* session.query(`create type ${pair} as (a int4, b text)`)
      yield* Effect.addFinalizer(() =>
        session.simple(`drop type if exists ${pair}; drop domain if exists ${positive}; drop type if exists ${mood}`).pipe(Effect.ignore)
      )
      const f = yield* fixture(
        session,
        `id int primary key, m ${mood}, ms ${mood}[], p ${positive}, c ${pair}, cs ${pair}[]`
      )
      yield* session.query(
        `insert into ${f.table} values (1, 'happy', '{sad,ok}', 7, row(1, 'x y'), array[row(2, 'z')::${pair}, null])`
      )
      const selected = (yield* session.query(`select * from ${f.table}`)).rows[0]!
      assert.deepStrictEqual(selected["ms"], ["sad", "ok"])
      for (const binary of [false, true]) {
        const [tx] = yield* f.changes(1, { binary })
        const insert = tx!.changes.find((c) => c._tag === "Insert") as PgReplication.Insert
        assert.deepStrictEqual(insert.new, selected, `binary: ${binary}`)
      }
    }).pipe(Effect.scoped), 60_000)

  it.live("a column named __proto__ is an own property of the row, not its prototype (inserts and updates)", () =>
    Effect.gen(function*() {
      const session = yield* sqlSession(servers().main)
      const f = yield* fixture(session, "id int primary key, \"__proto__\" text")
      yield* session.query(`insert into ${f.table} values (1, 'a')`)
      yield* session.query(`update ${f.table} set "__proto__" = 'b'`)
      const txs = yield* f.changes(2)
      // The Insert is decoded straight from its bytes, the Update through the message decoder.
      const insert = txs[0]!.changes.find((c) => c._tag === "Insert") as PgReplication.Insert
      const update = txs[1]!.changes.find((c) => c._tag === "Update") as PgReplication.Update
      for (const [row, value] of [[insert.new, "a"], [update.new, "b"]] as const) {
        assert.deepStrictEqual(Object.keys(row), ["id", "__proto__"])
        assert.strictEqual(Object.getOwnPropertyDescriptor(row, "__proto__")?.value, value)
        assert.strictEqual(row["id"], 1)
      }
    }).pipe(Effect.scoped), 60_000)

  it.live("TOAST: an unchanged out-of-line value is Unchanged under REPLICA IDENTITY DEFAULT, the old value under FULL", () =>
    Effect.gen(function*() {
      const session = yield* sqlSession(servers().main)
      const f = yield* fixture(session, "id int primary key, big text, small int")
      yield* session.query(`alter table ${f.table} alter column big set storage external`)
      yield* session.query(
        `insert into ${f.table} select 1, string_agg(md5(g::text), ''), 0 from generate_series(1, 400) g`
      )
      const big = (yield* session.query<{ big: string }>(`select big from ${f.table}`)).rows[0]!.big
      assert.strictEqual(big.length, 12800)
      yield* session.query(`update ${f.table} set small = 1`)
      yield* session.query(`alter table ${f.table} replica identity full`)
      yield* session.query(`update ${f.table} set small = 2`)
      yield* session.query(`delete from ${f.table}`)
      const txs = yield* f.changes(4)
      const [insert, update, updateFull, del] = txs.map((tx) => tx.changes.find((c) => c._tag !== "RelationChanged")!)
      assert.strictEqual((insert as PgReplication.Insert).new["big"], big)
      const u = update as PgReplication.Update
      assert.strictEqual(u.new["big"], PgReplication.Unchanged)
      assert.strictEqual(u.new["small"], 1)
      assert.isUndefined(u.old)
      const full = updateFull as PgReplication.Update
      assert.strictEqual(full.new["big"], big, "merged from the old row")
      assert.strictEqual(full.new["small"], 2)
      assert.deepStrictEqual(full.old, { id: 1, big, small: 1 })
      const d = del as PgReplication.Delete
      assert.deepStrictEqual(d.old, { id: 1, big, small: 2 })
      // The identity change is visible as a RelationChanged before the first change under FULL.
      const changed = txs[2]!.changes.find((c) => c._tag === "RelationChanged") as PgReplication.RelationChanged
      assert.strictEqual(changed.previous.replicaIdentity, "d")
      assert.strictEqual(changed.relation.replicaIdentity, "f")
    }).pipe(Effect.scoped), 60_000)

  it.live("schema changes between transactions: RelationChanged, then changes in the new shape", () =>
    Effect.gen(function*() {
      const session = yield* sqlSession(servers().main)
      const f = yield* fixture(session, "id int primary key, v text")
      yield* session.query(`insert into ${f.table} values (1, 'a')`)
      yield* session.query(`alter table ${f.table} add column w int8 default 7`)
      yield* session.query(`insert into ${f.table} values (2, 'b', 9)`)
      yield* session.query(`alter table ${f.table} alter column v type int using length(v)`)
      yield* session.query(`update ${f.table} set w = 10 where id = 1`)
      const txs = yield* f.changes(3)
      assert.deepStrictEqual((txs[0]!.changes[0] as PgReplication.Insert).new, { id: 1, v: "a" })
      const [changed, insert] = txs[1]!.changes
      assert.strictEqual(changed!._tag, "RelationChanged")
      assert.deepStrictEqual((changed as PgReplication.RelationChanged).relation.columns.map((c) => c.name), ["id", "v", "w"])
      assert.deepStrictEqual((insert as PgReplication.Insert).new, { id: 2, v: "b", w: 9n })
      const update = txs[2]!.changes.find((c) => c._tag === "Update") as PgReplication.Update
      assert.deepStrictEqual(update.new, { id: 1, v: 1, w: 10n })
    }).pipe(Effect.scoped), 60_000)

  it.live("truncate, logical decoding messages, deletes by key, and rows decoded by a table's Schema", () =>
    Effect.gen(function*() {
      const session = yield* sqlSession(servers().main)
      const f = yield* fixture(session, "id int primary key, v text")
      yield* session.query(`insert into ${f.table} values (1, 'a'), (2, 'b')`)
      yield* session.simple(`begin; select pg_logical_emit_message(true, 'audit', 'hello'); delete from ${f.table} where id = 1; commit`)
      yield* session.query(`truncate ${f.table}`)
      const Row = Schema.Struct({ id: Schema.Number, v: Schema.String })
      const txs = yield* f.changes(3, { messages: true, tables: { [`public.${f.table}`]: Row } })
      assert.deepStrictEqual(txs[0]!.changes.map((c) => (c as PgReplication.Insert).new), [{ id: 1, v: "a" }, { id: 2, v: "b" }])
      const [message, del] = txs[1]!.changes
      assert.strictEqual(message!._tag, "Message")
      assert.strictEqual((message as PgReplication.Message).prefix, "audit")
      assert.strictEqual(new TextDecoder().decode((message as PgReplication.Message).content), "hello")
      assert.isTrue((message as PgReplication.Message).transactional)
      // The key holds the identity's columns only (the server sends the others as nulls).
      assert.deepStrictEqual((del as PgReplication.Delete).key, { id: 1 })
      const truncate = txs[2]!.changes[0] as PgReplication.Truncate
      assert.strictEqual(truncate._tag, "Truncate")
      assert.deepStrictEqual(truncate.relations.map((r) => r.name), [f.table])
      assert.isFalse(truncate.cascade)
      // A row that does not match the table's Schema fails the stream with a CodecError.
      const Wrong = Schema.Struct({ id: Schema.String, v: Schema.String })
      assert.strictEqual(
        failureTag(yield* Effect.exit(f.changes(1, { tables: { [`public.${f.table}`]: Wrong } }))),
        "CodecError"
      )
    }).pipe(Effect.scoped), 60_000)
})
