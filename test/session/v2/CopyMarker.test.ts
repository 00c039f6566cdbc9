/**
 * Protocol 2.0 COPY IN on PostgreSQL 13: data that holds what the server reads as the end marker must be refused
 * before it is sent (the server would end the copy there, commit the rows before it and read the rest as
 * messages), whatever words the statement holds and whatever line endings the data uses.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { reasonOf } from "../../support/Sessions.ts"
import { connect13 } from "./Support.ts"

const encoder = new TextEncoder()

describe("protocol 2.0: COPY IN end markers in the data", () => {
  it.live("a text COPY into a table named csv, and CSV data with CR line endings, are refused; nothing is stored", () =>
    Effect.gen(function*() {
      const schema = `v2_marker_${process.pid}_${Date.now()}`
      const admin = yield* connect13()
      yield* admin.simple(`create schema ${schema}; create table ${schema}.csv (a text)`)
      const cases: ReadonlyArray<readonly [string, string]> = [
        // Text format: `\.` ends the data anywhere in a line; the word csv is only the table's name.
        [`copy ${schema}.csv (a) from stdin`, "1\n2\\.\n3\n4\n"],
        // CSV with CR line endings: a line `\.` ends the data.
        [`copy ${schema}.csv (a) from stdin with (format csv)`, "1\r\\.\r3\r4\r"]
      ]
      for (const [sql, data] of cases) {
        const session = yield* connect13()
        const exit = yield* Effect.exit(Stream.make(encoder.encode(data)).pipe(Stream.run(session.copyFrom(sql))))
        const reason = reasonOf(exit)
        assert.strictEqual(reason._tag, "CodecError", `${sql}: ${reason.message}`)
        const count = (yield* admin.query<{ n: number }>(`select count(*)::int as n from ${schema}.csv`)).rows[0]!.n
        assert.strictEqual(count, 0, sql)
      }
      yield* admin.simple(`drop schema ${schema} cascade`)
    }), 30_000)
})

describe("protocol 2.0: COPY IN line endings", () => {
  it.live("data with CRLF or CR line endings is stored as 3.0 stores it, with and without a final line ending", () =>
    Effect.gen(function*() {
      const v2 = yield* connect13()
      const v3 = yield* connect13({ protocolVersion: "3.0" })
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["", "1\tone\r\n2\ttwo\r\n"],
        ["", "1\tone\r\n2\ttwo"],
        ["", "1\tone\r2\ttwo\r"],
        ["with (format csv)", "1,one\r\n2,\"t\r\nwo\"\r\n"],
        ["with (format csv)", "1,one\r2,two\r"],
        ["with (format csv)", "1,one\r2,two"],
        // A quoted LF in the first row of CRLF data (a multi-line cell): the line ending is the first unquoted one.
        ["with (format csv)", "1,\"o\nne\"\r\n2,two\r\n"],
        ["with (format csv)", "1,\"o\"\"\nne\"\r\n2,two"]
      ]
      for (const [options, data] of cases) {
        const stored: Array<unknown> = []
        for (const session of [v2, v3]) {
          yield* session.simple("create temp table crlf (a int, b text)")
          const result = yield* Stream.make(encoder.encode(data)).pipe(
            Stream.run(session.copyFrom(`copy crlf from stdin ${options}`)),
            Effect.timeout("10 seconds")
          )
          assert.strictEqual(result.rowCount, 2, JSON.stringify(data))
          stored.push((yield* session.query("select a, b from crlf order by a")).rows)
          yield* session.simple("drop table crlf")
        }
        assert.deepStrictEqual(stored[0], stored[1], JSON.stringify(data))
      }
    }), 30_000)
})
