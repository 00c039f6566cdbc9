/**
 * QuerySummary: the operation, tables, summary and literal-free text of statements.
 */
import { assert, describe, it } from "@effect/vitest"
import { summarize } from "../../src/session/QuerySummary.ts"

const cases: ReadonlyArray<readonly [string, string, string]> = [
  ["select * from users where id = $1", "SELECT users", "select * from users where id = $1"],
  ["SELECT a, b FROM t1, t2 x WHERE x.a = 'it''s' AND b > 10.5", "SELECT t1 t2", "SELECT a, b FROM t1, t2 x WHERE x.a = ? AND b > ?"],
  ["with x as (select 1 from a) insert into b select * from x", "INSERT a b x", "with x as (select ? from a) insert into b select * from x"],
  ["INSERT INTO public.\"Orders\"(a) VALUES (E'\\\\x', $$body$$, 3)", "INSERT public.Orders", "INSERT INTO public.\"Orders\"(a) VALUES (?, ?, ?)"],
  ["update accounts set balance = balance - 100 where id = 7", "UPDATE accounts", "update accounts set balance = balance - ? where id = ?"],
  ["copy t from stdin", "COPY t", "copy t from stdin"],
  ["truncate table a, b", "TRUNCATE a b", "truncate table a, b"],
  ["select g from generate_series(1, $1::int) g", "SELECT generate_series", "select g from generate_series(?, $1::int) g"],
  ["-- note 'x'\n/* a /* nested */ 'y' */ select $tag$ secret $tag$", "SELECT", "-- note 'x'\n/* a /* nested */ 'y' */ select ?"],
  ["begin", "BEGIN", "begin"],
  ["", "", ""]
]

describe("QuerySummary", () => {
  it("summarizes statements and replaces every literal", () => {
    for (const [sql, summary, sanitized] of cases) {
      const s = summarize(sql)
      assert.strictEqual(s.summary, summary, sql)
      assert.strictEqual(s.sanitized, sanitized, sql)
    }
  })

  it("names the one table as the collection, and none for several", () => {
    assert.deepStrictEqual(summarize("delete from only items using x where a = 1").collections, ["items"])
    assert.deepStrictEqual(summarize("select * from a join b on a.id = b.id").collections, ["a", "b"])
  })
})
