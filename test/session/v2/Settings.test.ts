/**
 * Protocol 2.0 session on PostgreSQL 13: the settings its text decoders depend on (DateStyle, IntervalStyle,
 * client_encoding, extra_float_digits). 2.0 has no ParameterStatus, so a change is only seen by asking the server;
 * a value the session cannot read must break it with a ConfigError, as a 3.x session breaks on ParameterStatus,
 * never give dates in another style, rounded floats or text stored in another encoding.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { reasonOf } from "../../support/Sessions.ts"
import { connect13 } from "./Support.ts"

describe("protocol 2.0: settings the text decoders depend on", () => {
  it.live("a SET the decoders cannot read fails its request with a ConfigError and closes the session", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, (s: Effect.Success<ReturnType<typeof connect13>>) => Effect.Effect<unknown, unknown>]> = [
        ["DateStyle", (s) => s.simple("SET DateStyle TO 'German'; select '2024-03-04'::date as d")],
        ["DateStyle", (s) => s.query("select pg_catalog.set_config('DateStyle', $1, false) as v", ["SQL, DMY"])],
        ["IntervalStyle", (s) => s.query("SET IntervalStyle TO 'sql_standard'")],
        ["client_encoding", (s) => s.query("SET client_encoding TO 'LATIN1'")],
        ["extra_float_digits", (s) => s.batch([{ sql: "SET extra_float_digits TO 0" }, { sql: "select 0.1::float8 + 0.2::float8 as f" }])],
        ["DateStyle", (s) => Stream.runCollect(s.stream("select pg_catalog.set_config('DateStyle', 'Postgres', false) as v"))]
      ]
      for (const [parameter, run] of cases) {
        const session = yield* connect13()
        const reason = reasonOf(yield* Effect.exit(run(session)))
        assert.strictEqual(reason._tag, "ConfigError", `${parameter}: ${reason.message}`)
        if (reason._tag === "ConfigError") assert.strictEqual(reason.parameter, parameter)
        assert.isTrue(yield* session.isClosed, parameter)
      }
    }), 30_000)

  it.live("settings that keep the text readable, and RESET ALL or DISCARD ALL, leave the session as it was", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      yield* session.simple("SET DateStyle TO 'ISO, DMY'; SET TimeZone TO 'Asia/Kolkata'")
      yield* session.query("RESET ALL")
      yield* session.query("DISCARD ALL")
      yield* session.query("select pg_catalog.set_config('application_name', 'x', false)")
      const rows = (yield* session.query("select '2024-03-04'::date as d, 0.1::float8 + 0.2::float8 as f")).rows
      assert.deepStrictEqual(rows, [{ d: "2024-03-04", f: 0.30000000000000004 }])
      assert.isFalse(yield* session.isClosed)
    }), 30_000)
})

describe("protocol 2.0: settings at start-up", () => {
  it.live("client_encoding in the start-up options gives way to UTF8, as on 3.x", () =>
    Effect.gen(function*() {
      for (const protocolVersion of ["3.0", "2.0"] as const) {
        const session = yield* connect13({ protocolVersion, options: "-c client_encoding=LATIN1" })
        const rows = (yield* session.query("select current_setting('client_encoding') as e, length($1::text) as n, $1::text as t", ["héllo"])).rows
        assert.deepStrictEqual(rows, [{ e: "UTF8", n: 5, t: "héllo" }], protocolVersion)
      }
    }), 20_000)
})
