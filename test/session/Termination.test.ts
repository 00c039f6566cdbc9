/**
 * The server ends an idle session (protocol-3.2 "Termination": an ErrorResponse
 * with severity FATAL may come at any time): `pg_terminate_backend` (57P01) and
 * `idle_session_timeout` (57P05). What waits gets the server's error with its
 * SQLSTATE, the session closes, and `effect/sql` sees a lost connection.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { reasonOf as sqlReasonOf } from "../../src/sql/SqlErrors.ts"
import { PgError } from "../../src/errors/PgError.ts"
import { connectPlain, reasonOf } from "../support/Sessions.ts"

const serverCode = (exit: Exit.Exit<unknown, unknown>): { code: string; severity: string } => {
  const reason = reasonOf(exit)
  assert.strictEqual(reason._tag, "ServerError", `expected the server's error, got ${reason._tag}: ${reason.message}`)
  return reason._tag === "ServerError" ? { code: reason.code, severity: reason.severity } : { code: "", severity: "" }
}

describe("PgSession: the server ends an idle session", () => {
  it.live("pg_terminate_backend: a listener fails with 57P01, the next query too, and effect/sql sees a lost connection", () =>
    Effect.scoped(Effect.gen(function*() {
      const session = yield* connectPlain()
      const killer = yield* connectPlain()
      const notifications = yield* session.listen("termination_test")
      const waiting = yield* Effect.forkChild(Effect.exit(Stream.runDrain(notifications)))
      yield* killer.query("select pg_terminate_backend($1)", [session.processId])
      const streamed = yield* Fiber.join(waiting)
      assert.deepStrictEqual(serverCode(streamed), { code: "57P01", severity: "FATAL" })
      const next = yield* Effect.exit(session.query("select 1"))
      assert.deepStrictEqual(serverCode(next), { code: "57P01", severity: "FATAL" })
      const reason = reasonOf(next)
      assert.strictEqual(sqlReasonOf(new PgError({ reason }), "execute")._tag, "ConnectionError")
    })))

  it.live("idle_session_timeout: a listener fails with 57P05", () =>
    Effect.scoped(Effect.gen(function*() {
      const session = yield* connectPlain()
      const notifications = yield* session.listen("idle_timeout_test")
      yield* session.query("set idle_session_timeout = 200")
      const streamed = yield* Effect.exit(Stream.runDrain(notifications))
      assert.deepStrictEqual(serverCode(streamed), { code: "57P05", severity: "FATAL" })
    })))
})
