/**
 * Helpers shared by the `effect/sql` suites: unique names, a `PgClient`
 * layer on the main test server, a plain session to watch the server, a
 * table per test and the typed failure of an exit.
 */
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as PgClient from "../../src/sql/PgClient.ts"
import * as PgSession from "../../src/session/Session.ts"
import { servers } from "../support/Servers.ts"

let counter = 0

/** A name no other test (of this process or another) uses. */
export const unique = (prefix: string) => `${prefix}_${process.pid}_${++counter}_${Math.floor(Math.random() * 1e6)}`

/** A client configuration for the main server, as `postgres`, with a pool of its own. */
export const config = (extra: Partial<PgClient.PgClientConfig> = {}): PgClient.PgClientConfig => ({
  host: servers().main.host,
  port: servers().main.port,
  username: "postgres",
  database: "postgres",
  name: unique("client"),
  ...extra
})

/** `PgClient.layer(config(extra))`. */
export const layer = (extra: Partial<PgClient.PgClientConfig> = {}) => PgClient.layer(config(extra))

/** A session of its own, to look at the server from outside the client. */
export const monitor = () =>
  PgSession.connect({ host: servers().main.host, port: servers().main.port, user: "postgres", database: "postgres" })

/** The `SqlError` an exit failed with (asserted). */
export const sqlErrorOf = (exit: Exit.Exit<unknown, unknown>): SqlError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const found = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(found, "expected a typed failure")
  const error = (found as unknown as { error: SqlError }).error
  assert.strictEqual(error._tag, "SqlError")
  return error
}

/** A table for one test, dropped when the test's scope closes. */
export const table = (columns: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const name = unique("t")
    yield* sql.unsafe(`create table ${name} (${columns})`)
    yield* Effect.addFinalizer(() => Effect.ignore(sql.unsafe(`drop table if exists ${name}`)))
    return name
  })
