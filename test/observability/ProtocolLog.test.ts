/**
 * The protocol trace as Effect log lines against the real server: at the
 * chosen level from start-up, switched off and on per session while it runs,
 * passwords and parameter values never shown.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as PgSession from "../../src/session/Session.ts"
import { PASSWORDS } from "../support/Servers.ts"
import { connectPlain } from "../support/Sessions.ts"

const SECRET = "s3cr3t-param-91c2"

interface Logged {
  readonly level: string
  readonly message: string
  readonly processId: unknown
}

/** `effect` with a logger that keeps every entry, at every level. */
const capture = <A, E, R>(effect: (logged: Array<Logged>) => Effect.Effect<A, E, R>) => {
  const logged: Array<Logged> = []
  const logger = Logger.make(({ fiber, logLevel, message }) => {
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    const annotations = fiber.getRef(References.CurrentLogAnnotations)
    logged.push({ level: logLevel, message: text, processId: annotations["pgwire.process_id"] })
  })
  return effect(logged).pipe(
    Effect.provide(Logger.layer([logger])),
    Effect.provideService(References.MinimumLogLevel, "All")
  )
}

describe("protocol trace as logs", () => {
  it.live("ProtocolTraceLevel traces from start-up at that level; the password and parameters are masked", () =>
    capture((logged) =>
      Effect.gen(function*() {
        const session = yield* connectPlain({ user: "md5user", password: PASSWORDS.md5user }).pipe(
          Effect.provideService(PgSession.ProtocolTraceLevel, "Debug")
        )
        // The result is the parameter's length, so that only Bind could show the value.
        yield* session.query("select length($1::text) as n", [SECRET])
        const lines = logged.map((l) => l.message)
        assert.isTrue(logged.every((l) => l.level === "Debug"))
        assert.match(lines[0]!, /^F\t\d+\tStartupMessage\t/)
        assert.isTrue(lines.some((l) => /^F\t\d+\tPasswordMessage\t "\*{8}"$/.test(l)))
        const bind = lines.find((l) => /^F\t\d+\tBind\t/.test(l))!
        assert.include(bind, ` ${SECRET.length} '********'`)
        assert.isFalse(lines.some((l) => l.includes(SECRET) || l.includes(PASSWORDS.md5user)))
        assert.isTrue(lines.some((l) => /^B\t\d+\tDataRow\t/.test(l)))
        // Lines after start-up carry the backend's process id.
        assert.strictEqual(logged[logged.length - 1]!.processId, session.processId)
      }).pipe(Effect.scoped)
    ))

  it.live("setProtocolTrace turns one session's trace on and off while it runs", () =>
    capture((logged) =>
      Effect.gen(function*() {
        const session = yield* connectPlain()
        const other = yield* connectPlain()
        yield* session.query("select 1")
        assert.lengthOf(logged, 0)
        yield* PgSession.setProtocolTrace(session, "Info")
        yield* session.query("select 'traced' as t")
        yield* other.query("select 'not traced' as t")
        const on = logged.map((l) => l.message)
        assert.isNotEmpty(on)
        assert.isTrue(logged.every((l) => l.level === "Info" && l.processId === session.processId))
        // The first frame after the switch is read as a regular message, not as a start-up packet.
        assert.isFalse(on.some((l) => l.includes("Unknown message") || l.includes("StartupMessage")))
        assert.isTrue(on.some((l) => l.includes("select 'traced' as t")))
        assert.isFalse(on.some((l) => l.includes("not traced")))
        yield* PgSession.setProtocolTrace(session, undefined)
        const before = logged.length
        yield* session.query("select 2")
        assert.strictEqual(logged.length, before)
      }).pipe(Effect.scoped)
    ))
})
