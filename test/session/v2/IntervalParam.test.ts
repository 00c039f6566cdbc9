/**
 * Protocol 2.0 parameters on PostgreSQL 13 whose type the client cannot infer travel as literals the server reads
 * by the statement's type. An interval object (the shape intervals decode to) went as its JSON text, which the
 * server's lenient interval input read as another interval: it must store what 3.0 stores.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { connect13 } from "./Support.ts"

describe("protocol 2.0: interval parameters", () => {
  it.live("an interval object, and an interval read back and written again, store what 3.0 stores", () =>
    Effect.gen(function*() {
      const v2 = yield* connect13()
      const v3 = yield* connect13({ protocolVersion: "3.0" })
      const value = { months: 1, days: -2, microseconds: 3_000_001n }
      const sql = "select $1::interval as v, ($1::interval)::text as t"
      const a = (yield* v2.query(sql, [value])).rows
      const b = (yield* v3.query(sql, [value])).rows
      assert.deepStrictEqual(a, b)
      assert.deepStrictEqual(b, [{ v: value, t: "1 mon -2 days +00:00:03.000001" }])
      const read = (yield* v2.query<{ v: unknown }>("select interval '-3 years 4 days -05:06:07.000008' as v")).rows[0]!.v
      const back = (yield* v2.query("select $1::interval = interval '-3 years 4 days -05:06:07.000008' as same", [read])).rows
      assert.deepStrictEqual(back, [{ same: true }])
    }), 20_000)
})
