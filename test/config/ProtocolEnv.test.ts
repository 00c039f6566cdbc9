/**
 * PGMAXPROTOCOLVERSION and PGMINPROTOCOLVERSION choose protocol 2.0 as `max_protocol_version` and
 * `min_protocol_version` do (libpq-connect.sgml "Environment Variables"), below explicit options; checked on a real
 * PostgreSQL 13 session and in the resolved configuration.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Config from "../../src/config/Config.ts"
import * as ConnString from "../../src/config/ConnString.ts"
import * as Platform from "../../src/config/Platform.ts"
import * as PgSession from "../../src/session/Session.ts"
import { reasonOf } from "../support/Sessions.ts"
import { connect13 as connect13Speaking } from "../session/v2/Support.ts"

const VARIABLES = ["PGMAXPROTOCOLVERSION", "PGMINPROTOCOLVERSION"] as const

/** Runs `effect` with the two variables set as given (unset otherwise), restoring the process's own after. */
const withEnv = <A, E, R>(values: Partial<Record<(typeof VARIABLES)[number], string>>, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const saved = VARIABLES.map((name) => [name, process.env[name]] as const)
      for (const name of VARIABLES) {
        const value = values[name]
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      return saved
    }),
    () => effect,
    (saved) =>
      Effect.sync(() => {
        for (const [name, value] of saved) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      })
  )

/** A session on PostgreSQL 13 with no protocol option of its own: the environment chooses. */
const connect13 = (options: Partial<PgSession.SessionOptions> = {}) => connect13Speaking({ protocolVersion: undefined, ...options })

const resolved = (env: Record<string, string>, connectionString = "") => {
  const platform: Platform.Platform = { ...Platform.empty, user: "alice", defaultHost: "/tmp" }
  return Result.flatMap(ConnString.parse(connectionString), (params) => Config.resolve({ params, env, platform }))
}

describe("PGMAXPROTOCOLVERSION and PGMINPROTOCOLVERSION", () => {
  it("resolve to the protocol range (2.0 alone as max makes 2.0 the min too)", () => {
    const max = Result.getOrThrow(resolved({ PGMAXPROTOCOLVERSION: "2.0" }))
    assert.strictEqual(max.maxProtocolVersion, "2.0")
    assert.strictEqual(max.minProtocolVersion, "2.0")
    const min = Result.getOrThrow(resolved({ PGMINPROTOCOLVERSION: "2.0" }))
    assert.strictEqual(min.minProtocolVersion, "2.0")
    assert.strictEqual(min.maxProtocolVersion, "3.2")
    // The string wins over the environment.
    const string = Result.getOrThrow(resolved({ PGMAXPROTOCOLVERSION: "2.0" }, "max_protocol_version=3.0"))
    assert.strictEqual(string.maxProtocolVersion, "3.0")
  })

  it.live("PGMAXPROTOCOLVERSION=2.0 makes a session speak 2.0; without it the same session speaks 3.0", () =>
    Effect.gen(function*() {
      const v2 = yield* withEnv({ PGMAXPROTOCOLVERSION: "2.0" }, Effect.scoped(Effect.gen(function*() {
        const session = yield* connect13()
        assert.deepStrictEqual((yield* session.query("select 1 as n")).rows, [{ n: 1 }])
        return session.protocolVersion
      })))
      assert.deepStrictEqual(v2, { major: 2, minor: 0 })
      const v3 = yield* withEnv({}, Effect.scoped(Effect.map(connect13(), (s) => s.protocolVersion)))
      assert.strictEqual(v3.major, 3)
    }), { timeout: 30_000 })

  it.live("PGMINPROTOCOLVERSION=2.0 with PGMAXPROTOCOLVERSION=2.0 speaks 2.0; an explicit protocolVersion wins", () =>
    Effect.gen(function*() {
      const both = yield* withEnv(
        { PGMINPROTOCOLVERSION: "2.0", PGMAXPROTOCOLVERSION: "2.0" },
        Effect.scoped(Effect.map(connect13(), (s) => s.protocolVersion))
      )
      assert.deepStrictEqual(both, { major: 2, minor: 0 })
      const explicit = yield* withEnv(
        { PGMINPROTOCOLVERSION: "2.0", PGMAXPROTOCOLVERSION: "2.0" },
        Effect.scoped(Effect.map(connect13({ protocolVersion: "3.0" }), (s) => s.protocolVersion))
      )
      assert.deepStrictEqual(explicit, { major: 3, minor: 0 })
    }), { timeout: 30_000 })

  it.live("PGMINPROTOCOLVERSION above PGMAXPROTOCOLVERSION is a ConfigError, before any connection", () =>
    Effect.gen(function*() {
      const exit = yield* withEnv(
        { PGMINPROTOCOLVERSION: "3.0", PGMAXPROTOCOLVERSION: "2.0" },
        Effect.exit(Effect.scoped(connect13()))
      )
      const reason = reasonOf(exit)
      assert.strictEqual(reason._tag, "ConfigError")
      assert.include(reason.message, "protocol")
    }), { timeout: 30_000 })
})
