/**
 * Protocol 2.0 session: logins against PostgreSQL 13 (trust, password, md5; SCRAM, a wrong password, an unknown
 * database and an options field over 64 bytes as typed errors), the reported parameters, and PostgreSQL 18
 * refusing 2.0.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as PgSession from "../../../src/session/Session.ts"
import { reasonOf } from "../../support/Sessions.ts"
import { PASSWORDS, servers } from "../../support/Servers.ts"

const connect13 = (options: Partial<PgSession.SessionOptions> = {}) =>
  PgSession.connect({
    host: servers().pg13.host,
    port: servers().pg13.port,
    user: "postgres",
    database: "postgres",
    sslMode: "disable",
    protocolVersion: "2.0",
    ...options
  })

describe("protocol 2.0: connect", () => {
  it.live("trust login reports version 2.0, the key and the parameters", () =>
    Effect.gen(function*() {
      const session = yield* connect13()
      assert.deepStrictEqual(session.protocolVersion, { major: 2, minor: 0 })
      assert.isAbove(session.processId, 0)
      const parameters = yield* session.parameters
      assert.match(parameters.get("server_version")!, /^13\./)
      assert.strictEqual(parameters.get("client_encoding"), "UTF8")
      assert.strictEqual(parameters.get("DateStyle"), "ISO, MDY")
      assert.strictEqual(parameters.get("IntervalStyle"), "postgres")
      assert.strictEqual(parameters.get("standard_conforming_strings"), "on")
      assert.strictEqual(parameters.get("integer_datetimes"), "on")
      assert.strictEqual(parameters.get("is_superuser"), "on")
      assert.strictEqual(parameters.get("session_authorization"), "postgres")
      const { rows } = yield* session.query("select pg_backend_pid() as pid")
      assert.strictEqual(rows[0]!["pid"], session.processId)
    }))

  it.live("max_protocol_version=2.0 in a connection string chooses 2.0", () =>
    Effect.gen(function*() {
      const { host, port } = servers().pg13
      const session = yield* PgSession.connect({
        url: `postgres://postgres@${host}:${port}/postgres?sslmode=disable&max_protocol_version=2.0`
      })
      assert.deepStrictEqual(session.protocolVersion, { major: 2, minor: 0 })
      const bad = reasonOf(
        yield* Effect.exit(PgSession.connect({ url: `postgres://postgres@${host}:${port}/postgres?max_protocol_version=2.0&min_protocol_version=3.0` }))
      )
      assert.strictEqual(bad._tag, "ConfigError")
    }))

  it.live("target_session_attrs is checked by asking the server (no ParameterStatus on 2.0)", () =>
    Effect.gen(function*() {
      const rw = yield* connect13({ targetSessionAttrs: "read-write" })
      assert.deepStrictEqual(rw.protocolVersion, { major: 2, minor: 0 })
      const standby = reasonOf(yield* Effect.exit(connect13({ targetSessionAttrs: "standby" })))
      assert.strictEqual(standby._tag, "ConnectionError")
      assert.match(standby.message, /target_session_attrs/)
    }))

  it.live("password and md5 logins", () =>
    Effect.gen(function*() {
      for (const user of ["passworduser", "md5user"] as const) {
        const session = yield* connect13({ user, password: PASSWORDS[user] })
        const { rows } = yield* session.query("select current_user as u")
        assert.strictEqual(rows[0]!["u"], user)
      }
    }))

  it.live("SCRAM is an AuthError naming 2.0; a wrong password and an unknown database are server errors", () =>
    Effect.gen(function*() {
      const scram = reasonOf(yield* Effect.exit(connect13({ user: "scramuser", password: PASSWORDS.scramuser })))
      assert.strictEqual(scram._tag, "AuthError")
      assert.match(scram.message, /protocol 2\.0 cannot do/)
      const wrong = reasonOf(yield* Effect.exit(connect13({ user: "md5user", password: "nope" })))
      assert.strictEqual(wrong._tag, "ServerError")
      assert.match(wrong.message, /password authentication failed/)
      const db = reasonOf(yield* Effect.exit(connect13({ database: "nosuchdb" })))
      assert.strictEqual(db._tag, "ServerError")
      if (db._tag === "ServerError") {
        assert.strictEqual(db.severity, "FATAL")
        assert.strictEqual(db.code, "")
        assert.isFalse(db.isRetryable)
      }
    }))

  it.live("settings go in the options field; more than 64 bytes is a ConfigError naming what did not fit", () =>
    Effect.gen(function*() {
      const session = yield* connect13({ parameters: { search_path: "public" } })
      const { rows } = yield* session.query("show search_path")
      assert.strictEqual(rows[0]!["search_path"], "public")
      const long = reasonOf(yield* Effect.exit(connect13({ parameters: { search_path: "a_rather_long_schema_name_that_will_not_fit" } })))
      assert.strictEqual(long._tag, "ConfigError")
      assert.match(long.message, /64-byte options field.*search_path=a_rather_long/)
    }))

  it.live("PostgreSQL 18 refuses 2.0 with a typed error naming the versions it supports", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        PgSession.connect({
          host: servers().noTls.host,
          port: servers().noTls.port,
          user: "postgres",
          database: "postgres",
          sslMode: "disable",
          protocolVersion: "2.0"
        })
      )
      assert.isTrue(Exit.isFailure(exit))
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "ServerError")
      assert.match(reason.message, /unsupported frontend protocol 2\.0: server supports 3\.0 to 3\.2/)
    }))
})
