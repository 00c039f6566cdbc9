/**
 * PgSession: Start-up: protocol negotiation, transports, passwords and start-up failures.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { ServerError } from "../../src/errors/PgError.ts"
import * as PgSession from "../../src/session/Session.ts"
import { PASSWORDS, servers } from "../support/Servers.ts"
import { connectPlain as connect, reasonOf } from "../support/Sessions.ts"

const main = () => servers().main


describe("PgSession: start-up", () => {
  it.live("asks for protocol 3.2 and gets it from PostgreSQL 18", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      assert.strictEqual(session.protocolVersion.minor, 2)
      assert.isAbove(session.processId, 0)
      const params = yield* session.parameters
      assert.strictEqual(params.get("client_encoding"), "UTF8")
      assert.isTrue(params.has("server_version"))
      const { rows } = yield* session.query("select pg_backend_pid() as pid")
      assert.strictEqual(rows[0]!["pid"], session.processId)
    }))

  it.live("speaks 3.0 when asked", () =>
    Effect.gen(function*() {
      const session = yield* connect({ protocolVersion: "3.0" })
      assert.strictEqual(session.protocolVersion.minor, 0)
      const { rows } = yield* session.query("select 1 as one")
      assert.deepStrictEqual(rows, [{ one: 1 }])
    }))

  it.live("negotiates down to 3.0 with PostgreSQL 13", () =>
    Effect.gen(function*() {
      const pg13 = servers().pg13
      const session = yield* PgSession.connect({ host: pg13.host, port: pg13.port, user: "postgres" })
      assert.strictEqual(session.protocolVersion.minor, 0)
      const { rows } = yield* session.query("select current_setting('server_version_num')::int / 10000 as major")
      assert.deepStrictEqual(rows, [{ major: 13 }])
    }))

  it.live("refuses a server below the minimum protocol version", () =>
    Effect.gen(function*() {
      const pg13 = servers().pg13
      const exit = yield* Effect.exit(
        PgSession.connect({ host: pg13.host, port: pg13.port, user: "postgres", minProtocolVersion: "3.2" })
      )
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "ProtocolError")
      assert.match(reason.message, /3\.0 at most/)
    }))

  it.live("connects over the Unix socket", () =>
    Effect.gen(function*() {
      const session = yield* PgSession.connect({ host: main().socketDir, port: main().port, user: "postgres" })
      const { rows } = yield* session.query("select inet_client_addr() is null as local")
      assert.deepStrictEqual(rows, [{ local: true }])
    }))

  it.live.each([
    ["md5user", PASSWORDS.md5user],
    ["passworduser", PASSWORDS.passworduser],
    ["scramuser", PASSWORDS.scramuser]
  ] as const)("authenticates %s with its method", ([user, password]) =>
    Effect.gen(function*() {
      const session = yield* connect({ user, password })
      const { rows } = yield* session.query("select current_user as u")
      assert.deepStrictEqual(rows, [{ u: user }])
    }))

  it.live("evaluates a password Effect per connection attempt", () =>
    Effect.gen(function*() {
      let calls = 0
      const password = Effect.sync(() => {
        calls++
        return PASSWORDS.scramuser
      })
      yield* Effect.scoped(connect({ user: "scramuser", password }))
      yield* Effect.scoped(connect({ user: "scramuser", password }))
      assert.strictEqual(calls, 2)
    }))

  it.live("a wrong password is a ServerError 28P01 that does not contain the password", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(connect({ user: "scramuser", password: "not-the-password" }))
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "ServerError")
      assert.strictEqual((reason as ServerError).code, "28P01")
      assert.notInclude(JSON.stringify(reason), "not-the-password")
    }))

  it.live("a missing database is a typed start-up error", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(connect({ database: "no_such_database_here" }))
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "ServerError")
      assert.strictEqual((reason as ServerError).code, "3D000")
    }))

  it.live("a password the server asks for but nobody gave is an AuthError", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(connect({ user: "scramuser" }))
      assert.strictEqual(reasonOf(exit)._tag, "AuthError")
    }))

  it.live("a closed port is a ConnectionError", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(PgSession.connect({ host: "127.0.0.1", port: 1, user: "postgres" }))
      assert.strictEqual(reasonOf(exit)._tag, "ConnectionError")
    }))
})
