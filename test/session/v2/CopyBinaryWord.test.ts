/**
 * Protocol 2.0 COPY on PostgreSQL 13: a server error of a COPY that is not binary is the server's error, even when
 * the word binary is in a table's or column's name (a binary COPY is reported as a limit of 2.0, by its statement,
 * since 2.0 errors carry no SQLSTATE).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { reasonOf } from "../../support/Sessions.ts"
import { connect13 } from "./Support.ts"

describe("protocol 2.0: COPY and the word binary", () => {
  it.live("a missing table named binary is the server's error; a binary COPY is still a ConfigError", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      const out = reasonOf(yield* Effect.exit(Stream.runCollect(session.copyTo("copy \"binary\" (a) to stdout"))))
      assert.strictEqual(out._tag, "ServerError", out.message)
      const into = reasonOf(yield* Effect.exit(Stream.make(new Uint8Array([49, 10])).pipe(Stream.run(session.copyFrom("copy public.binary from stdin")))))
      assert.strictEqual(into._tag, "ServerError", into.message)
      for (const sql of ["copy (select 1) to stdout with (format binary)", "copy binary pg_catalog.pg_am to stdout", "copy pg_catalog.pg_am to stdout binary"]) {
        const binary = reasonOf(yield* Effect.exit(Stream.runCollect(session.copyTo(sql))))
        assert.strictEqual(binary._tag, "ConfigError", `${sql}: ${binary.message}`)
      }
    }), 20_000)
})
