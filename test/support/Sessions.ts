/**
 * Helpers shared by the session and pool suites: sessions in clear on the main
 * test server (their sockets lend their reads, see `Transport.LentReads`), a
 * traced variant, and the reason of a typed failure.
 */
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { PgError, type PgErrorReason } from "../../src/errors/PgError.ts"
import * as PgSession from "../../src/session/Session.ts"
import { servers } from "./Servers.ts"

/** A session in clear (`sslmode=disable`) on the main server, as `postgres`. */
export const connectPlain = (options: Partial<PgSession.SessionOptions> = {}) =>
  PgSession.connect({
    host: servers().main.host,
    port: servers().main.port,
    user: "postgres",
    database: "postgres",
    sslMode: "disable",
    ...options
  })

/** A session in clear whose PQtrace-style lines are collected in `lines`. */
export const connectTraced = (options: Partial<PgSession.SessionOptions> = {}) => {
  const lines: Array<string> = []
  return Effect.map(connectPlain({ ...options, trace: (line) => lines.push(line) }), (session) => ({ session, lines }))
}

/** The reason of the `PgError` an Exit failed with (the assertion fails for a success or another error). */
export const reasonOf = (exit: Exit.Exit<unknown, unknown>): PgErrorReason => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const found = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(found, "expected a typed failure")
  const error = (found as unknown as { error: unknown }).error
  assert.instanceOf(error, PgError)
  return (error as PgError).reason
}

/** Waits until `session`'s backend is running a statement containing `text` (seen from `monitor`). */
export const awaitActive = (monitor: PgSession.Session, session: PgSession.Session, text: string) =>
  monitor.query(
    "select 1 from pg_stat_activity where pid = $1 and state = 'active' and strpos(query, $2) > 0",
    [session.processId, text]
  ).pipe(
    Effect.flatMap(({ rows }) => (rows.length === 1 ? Effect.void : Effect.fail("not yet"))),
    Effect.retry({ times: 200, schedule: undefined }),
    Effect.delay(10)
  )
