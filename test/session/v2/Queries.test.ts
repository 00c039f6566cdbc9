/**
 * Protocol 2.0 session on PostgreSQL 13: simple queries (several results, an empty string, an error mid-string,
 * 0 and 9+ columns with NULLs), queries with parameters through PREPARE/EXECUTE equal to 3.0's results, the
 * statement cache, errors without SQLSTATE, batches, function calls, notices.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as PgTypes from "../../../src/types/PgTypes.ts"
import { reasonOf } from "../../support/Sessions.ts"
import { connect13 } from "./Support.ts"

describe("protocol 2.0: queries", () => {
  it.live("simple: every result in order, an empty string, 0 columns, 9+ columns with NULLs", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      const results = yield* session.simple(
        "create temp table t2 (a int, b text); insert into t2 values (1, 'x'), (2, null); select * from t2 order by a; select"
      )
      assert.deepStrictEqual(results.map((r) => r.command), ["CREATE TABLE", "INSERT", "SELECT", "SELECT"])
      assert.strictEqual(results[1]!.rowCount, 2)
      assert.deepStrictEqual(results[2]!.rows, [{ a: 1, b: "x" }, { a: 2, b: null }])
      assert.deepStrictEqual(results[3]!.rows, [{}])
      assert.strictEqual(results[3]!.fields.length, 0)
      const empty = yield* session.simple("")
      assert.deepStrictEqual(empty.map((r) => r.command), [""])
      const nine = yield* session.simple(
        "select 1 as c1, 2 as c2, 3 as c3, 4 as c4, 5 as c5, 6 as c6, 7 as c7, null::int as c8, 'nine' as c9, null as c10"
      )
      assert.deepStrictEqual(nine[0]!.rows[0], { c1: 1, c2: 2, c3: 3, c4: 4, c5: 5, c6: 6, c7: 7, c8: null, c9: "nine", c10: null })
    }))

  it.live("an error mid-string fails the call without SQLSTATE, keeps position and detail; the session stays usable", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      const reason = reasonOf(yield* Effect.exit(session.simple("select 1; selec 2; select 3")))
      assert.strictEqual(reason._tag, "ServerError")
      if (reason._tag === "ServerError") {
        assert.strictEqual(reason.severity, "ERROR")
        assert.strictEqual(reason.code, "")
        assert.isFalse(reason.isRetryable)
        assert.strictEqual(reason.message, "syntax error at or near \"selec\"")
        assert.strictEqual(reason.position, 11)
      }
      const multi = reasonOf(yield* Effect.exit(session.simple("do $$ begin raise exception E'line1\\nline2'; end $$")))
      assert.strictEqual(multi._tag === "ServerError" ? multi.detail : undefined, "line2")
      assert.deepStrictEqual((yield* session.query("select 42 as n")).rows, [{ n: 42 }])
      assert.isFalse(yield* session.isClosed)
    }))

  it.live("parameters (quotes, backslashes, NULL, unicode, bytea, timestamptz, typed) give what 3.0 gives", () =>
    Effect.gen(function*() {
      const v2 = yield* connect13()
      const v3 = yield* connect13({ protocolVersion: "3.0" })
      const sql = "select $1::text as q, $2::text as b, $3::text as n, $4::text as u, $5::bytea as by, $6::timestamptz as ts, $7 as typed, $8::int + 1 as i"
      const params = ["it's", "a\\b\\\\c", null, "héllo ☃ 😀", new Uint8Array([0, 1, 0xde, 0xff]), new Date("2024-02-29T12:34:56.789Z"), PgTypes.int8(5n), 41]
      const a = yield* v2.query(sql, params)
      const b = yield* v3.query(sql, params)
      assert.deepStrictEqual(a.rows, b.rows)
      assert.strictEqual(a.rows[0]!["q"], "it's")
      assert.strictEqual(a.rows[0]!["b"], "a\\b\\\\c")
      assert.strictEqual(a.rows[0]!["typed"], 5n)
      assert.strictEqual(a.rows[0]!["i"], 42)
      assert.deepStrictEqual(a.fields.map((f) => f.dataTypeOid), b.fields.map((f) => f.dataTypeOid))
      assert.strictEqual(a.command, "SELECT")
      assert.strictEqual(a.rowCount, 1)
    }))

  it.live("the statement cache prepares once and deallocates what it evicts; statementCacheSize 0 leaves nothing", () =>
    Effect.gen(function*() {
      const session = yield* connect13({ statementCacheSize: 2 })
      const count = Effect.map(session.query("select count(*)::int as n from pg_prepared_statements"), (r) => r.rows[0]!["n"])
      for (let i = 0; i < 3; i++) yield* session.query("select $1::int as a", [i])
      assert.strictEqual(yield* count, 1)
      yield* session.query("select $1::int as b", [1])
      yield* session.query("select $1::int as c", [1])
      assert.strictEqual(yield* count, 2)
      const none = yield* connect13({ statementCacheSize: 0 })
      yield* none.query("select $1::int as a", [1])
      assert.strictEqual((yield* none.query("select count(*)::int as n from pg_prepared_statements")).rows[0]!["n"], 0)
    }))

  it.live("a statement PREPARE cannot take is a typed error naming why; a failed EXECUTE leaves the session usable", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      const reason = reasonOf(yield* Effect.exit(session.query("create temp table p2(a int default $1)", [1])))
      assert.strictEqual(reason._tag, "ServerError")
      assert.match(reason.message, /PREPARE failed: .*protocol 2\.0 runs statements with parameters through PREPARE/)
      const zero = reasonOf(yield* Effect.exit(session.query("select 1 / $1::int as x", [0])))
      assert.match(zero.message, /^division by zero$/)
      assert.deepStrictEqual((yield* session.query("select 1 / $1::int as x", [1])).rows, [{ x: 1 }])
    }))

  it.live("batch: one implicit transaction, parameters through PREPARE, one result per statement", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      yield* session.simple("create temp table bt (a int)")
      const results = yield* session.batch([
        { sql: "insert into bt values ($1), ($2)", params: [1, 2] },
        { sql: "select sum(a)::int as s from bt" },
        { sql: "select $1::text as t", params: ["x'y"] }
      ])
      assert.deepStrictEqual(results.map((r) => r.command), ["INSERT", "SELECT", "SELECT"])
      assert.deepStrictEqual(results[1]!.rows, [{ s: 3 }])
      assert.deepStrictEqual(results[2]!.rows, [{ t: "x'y" }])
      const failed = yield* Effect.exit(session.batch([{ sql: "insert into bt values ($1)", params: [3] }, { sql: "select 1/0" }]))
      assert.strictEqual(reasonOf(failed)._tag, "ServerError")
      assert.deepStrictEqual((yield* session.query("select count(*)::int as n from bt")).rows, [{ n: 2 }])
      assert.strictEqual((yield* session.query("select count(*)::int as n from pg_prepared_statements")).rows[0]!["n"], 0)
    }))

  it.live("functionCall: int4pl is 42, NULL and void results, an argument error, text formats refused", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      const int4 = (n: number) => {
        const b = new Uint8Array(4)
        new DataView(b.buffer).setInt32(0, n)
        return b
      }
      const oid = (name: string) =>
        Effect.map(session.query("select $1::regprocedure::oid::int as o", [name]), (r) => r.rows[0]!["o"] as number)
      const sum = yield* session.functionCall(yield* oid("int4pl(int4,int4)"), [int4(40), int4(2)])
      assert.deepStrictEqual(sum.result, int4(42))
      yield* session.simple("create or replace function pg_temp.nullfn(int) returns int language sql as 'select null::int'")
      const nullOid = (yield* session.query("select 'pg_temp.nullfn(int)'::regprocedure::oid::int as o")).rows[0]!["o"] as number
      assert.strictEqual((yield* session.functionCall(nullOid, [int4(1)])).result, null)
      const sleep = yield* session.functionCall(yield* oid("pg_sleep(float8)"), [new Uint8Array(8)])
      assert.deepStrictEqual(sleep.result, new Uint8Array(0))
      const wrong = reasonOf(yield* Effect.exit(session.functionCall(yield* oid("int4pl(int4,int4)"), [int4(1)])))
      assert.strictEqual(wrong._tag, "ServerError")
      const text = reasonOf(yield* Effect.exit(session.functionCall(1, [], { resultFormat: 0 })))
      assert.strictEqual(text._tag, "ConfigError")
      assert.deepStrictEqual((yield* session.query("select 1 as one")).rows, [{ one: 1 }])
    }))

  it.live("types the registry does not know (enums, their arrays, composite types) are looked up once and decoded as 3.0 decodes them", () =>
    Effect.gen(function*() {
      const v2 = yield* connect13()
      const v3 = yield* connect13({ protocolVersion: "3.0" })
      const suffix = `${process.pid}_${Date.now()}`
      yield* v3.simple(`create type mood_${suffix} as enum ('sad', 'ok', 'happy'); create type pair_${suffix} as (a int, b text)`)
      const sql = `select 'ok'::mood_${suffix} as m, array['sad', 'happy']::mood_${suffix}[] as ms, row(1, 'x')::pair_${suffix} as p, array[row(2, 'y')::pair_${suffix}] as ps`
      const a = yield* v2.query(sql)
      const b = yield* v3.query(sql)
      assert.deepStrictEqual(a.rows, b.rows)
      assert.deepStrictEqual(a.rows[0]!["ms"], ["sad", "happy"])
      const again = yield* v2.simple(sql)
      assert.deepStrictEqual(again[0]!.rows, b.rows)
      yield* v3.simple(`drop type pair_${suffix}; drop type mood_${suffix}`)
    }))

  it.live("notices reach the result and the notices stream", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      const results = yield* session.simple("do $$ begin raise notice 'ntc %', 7; end $$")
      assert.strictEqual(results[0]!.notices[0]!.message, "ntc 7")
      assert.strictEqual(results[0]!.notices[0]!.severity, "NOTICE")
      // 2.0 has no ParameterStatus: nothing is ever emitted.
      yield* session.simple("set application_name to 'changed'")
      assert.isTrue(Option.isNone(yield* session.parameterChanges.pipe(Stream.take(1), Stream.runCollect, Effect.timeoutOption(50))))
    }))
})
