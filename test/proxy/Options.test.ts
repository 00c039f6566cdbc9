/**
 * The start-up `options` parameter through the proxy (libpq's `options`,
 * `PGOPTIONS`): its `-c name=value` settings are the client's parameters,
 * set on whichever upstream serves it and reset for a client without them;
 * a malformed one, or another server switch, refuses the client at start-up;
 * a value the server refuses closes the client with the server's error.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import pg from "pg"
import * as Parameters from "../../src/proxy/Parameters.ts"
import * as PgSession from "../../src/session/Session.ts"
import { ServerError } from "../../src/server/ServerError.ts"
import { psqlArgs, run, upstreamOf, withProxy } from "./Support.ts"

const connect = async (port: number) => {
  const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" })
  await c.connect()
  return c
}

const show = async (c: InstanceType<typeof pg.Client>, name: string): Promise<string> =>
  Object.values((await c.query(`show ${name}`)).rows[0] ?? {})[0] as string

/** psql through the proxy with `PGOPTIONS`, one `-c` per statement (each its own transaction, so its own loan). */
const psqlWith = (port: number, options: string, statements: ReadonlyArray<string>) =>
  run("psql", [psqlArgs(port), "-X", "-A", "-t", "-v", "VERBOSITY=verbose", ...statements.flatMap((s) => ["-c", s])], {
    PGOPTIONS: options
  })

describe("PgProxy start-up options", () => {
  it("reads options as the server does: white space separates, a backslash escapes; -c, -cname and --name", () => {
    assert.deepStrictEqual(Parameters.splitOptions("  -c a=1\t-c  b=x\\ y\\\\z  "), ["-c", "a=1", "-c", "b=x y\\z"])
    assert.deepStrictEqual(
      Parameters.parseOptions("-c search_path=a,\\ b -cDateStyle=German --statement-timeout=5s -c x.y="),
      [["search_path", "a, b"], ["datestyle", "German"], ["statement_timeout", "5s"], ["x.y", ""]]
    )
    assert.deepStrictEqual(Parameters.parseOptions(""), [])
    const refused = (options: string) => {
      const result = Parameters.parseOptions(options)
      assert.instanceOf(result, ServerError, options)
      return (result as ServerError).code
    }
    assert.strictEqual(refused("-c"), "42601")
    assert.strictEqual(refused("-c statement_timeout"), "42601")
    assert.strictEqual(refused("--=1"), "42601")
    assert.strictEqual(refused("-B 100"), "0A000")
    assert.strictEqual(refused("statement_timeout=1"), "0A000")
  })

  it("psql with PGOPTIONS: its settings follow it on a shared upstream, and another client does not inherit them", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 1 }) }, async ({ port }) => {
      const other = await connect(port)
      const options = "-c search_path=pg_catalog,\\ public -c statement_timeout=1234 --DateStyle=German"
      const first = await psqlWith(port, options, ["show search_path", "show statement_timeout", "show datestyle"])
      assert.strictEqual(first.code, 0, first.stderr)
      assert.deepStrictEqual(first.stdout.trim().split("\n"), ["pg_catalog, public", "1234ms", "German, DMY"])
      // The one upstream served psql; the other client gets the server's values back.
      assert.strictEqual(await show(other, "statement_timeout"), "0")
      assert.strictEqual(await show(other, "search_path"), "\"$user\", public")
      assert.strictEqual(await show(other, "DateStyle"), "ISO, MDY")
      // A custom (dotted) setting too.
      const custom = await psqlWith(port, "-c myapp.flag=on", ["show myapp.flag"])
      assert.strictEqual(custom.code, 0, custom.stderr)
      assert.strictEqual(custom.stdout.trim(), "on")
      const seen = (await other.query("select current_setting('myapp.flag', true) as v")).rows[0]?.v
      assert.notStrictEqual(seen, "on")
      // And a statement over the limit set through options is canceled by it.
      const slow = await psqlWith(port, "-c statement_timeout=50", ["select pg_sleep(2)"])
      assert.notStrictEqual(slow.code, 0)
      assert.match(slow.stderr, /57014/)
      assert.strictEqual(await show(other, "statement_timeout"), "0")
      await other.end()
    })
  })

  it("RESET ALL returns a client to its own start-up values, and leaves none of them to the next client, even rolled back", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 1 }) }, async ({ port }) => {
      const other = await connect(port)
      const reset = await psqlWith(port, "-c statement_timeout=1000", ["set timezone = 'Asia/Tokyo'", "reset all", "show statement_timeout"])
      assert.strictEqual(reset.code, 0, reset.stderr)
      // As on a direct connection: RESET ALL goes back to the session's start-up values.
      assert.deepStrictEqual(reset.stdout.trim().split("\n"), ["SET", "RESET", "1s"])
      assert.strictEqual(await show(other, "statement_timeout"), "0")
      // RESET ALL inside a transaction that rolls back: the value is back upstream, and still not the next client's.
      const rolledBack = await psqlWith(port, "-c statement_timeout=1000", ["show statement_timeout", "begin; reset all; rollback"])
      assert.strictEqual(rolledBack.code, 0, rolledBack.stderr)
      assert.strictEqual(await show(other, "statement_timeout"), "0")
      await other.end()
    })
  })

  it("our client's options: set on each upstream that serves it; a SET of such a parameter the server does not report pins the client", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 2 }) }, async ({ port }) => {
      const result = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const session = yield* PgSession.connect({
          host: "127.0.0.1",
          port,
          user: "postgres",
          database: "postgres",
          sslMode: "disable",
          options: "-c statement_timeout=1000 -c TimeZone=Asia/Tokyo"
        })
        const value = (name: string) =>
          Effect.map(session.simple(`show ${name}`), (sets) => String(Object.values(sets[0]!.rows[0]!)[0]))
        const pid = () => Effect.map(session.query<{ pid: number }>("select pg_backend_pid() as pid"), (r) => r.rows[0]!.pid)
        const before = [yield* value("statement_timeout"), yield* value("TimeZone")]
        // The upstream it used is taken by another client's transaction: the client moves, its settings with it.
        const first = yield* pid()
        const other = yield* Effect.promise(() => connect(port))
        yield* Effect.promise(() => other.query("begin"))
        const held = yield* Effect.promise(() => other.query("select pg_backend_pid() as pid"))
        const moved = yield* pid()
        const after = [yield* value("statement_timeout"), yield* value("TimeZone")]
        yield* Effect.promise(() => other.query("commit"))
        // statement_timeout is not reported by the server: a SET of it pins the client (the proxy cannot follow it).
        yield* session.simple("set statement_timeout = 2000")
        const pinned = yield* pid()
        yield* Effect.promise(() => other.query("begin"))
        const otherPid = (yield* Effect.promise(() => other.query("select pg_backend_pid() as pid"))).rows[0]?.pid
        const kept = [yield* pid(), yield* value("statement_timeout")]
        yield* Effect.promise(() => other.query("commit"))
        yield* Effect.promise(() => other.end())
        return { before, first, held: held.rows[0]?.pid, moved, after, pinned, otherPid, kept }
      })))
      assert.deepStrictEqual(result.before, ["1s", "Asia/Tokyo"])
      assert.strictEqual(result.held, result.first)
      assert.notStrictEqual(result.moved, result.first)
      assert.deepStrictEqual(result.after, ["1s", "Asia/Tokyo"])
      assert.notStrictEqual(result.otherPid, result.pinned)
      assert.deepStrictEqual(result.kept, [result.pinned, "2s"])
    })
  })

  it("a malformed option or another server switch refuses the client at start-up; a value the server refuses closes it with the server's error", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 1 }) }, async ({ port }) => {
      const malformed = await psqlWith(port, "-c statement_timeout", ["select 1"])
      assert.strictEqual(malformed.code, 2)
      assert.match(malformed.stderr, /FATAL: {2}-c statement_timeout requires a value/)
      const switchRefused = await psqlWith(port, "-B 100", ["select 1"])
      assert.strictEqual(switchRefused.code, 2)
      assert.match(switchRefused.stderr, /FATAL: {2}the proxy does not take the server switch "-B" in options, only -c name=value/)
      const badValue = await psqlWith(port, "-c statement_timeout=banana", ["select 1"])
      assert.notStrictEqual(badValue.code, 0)
      assert.match(badValue.stderr, /FATAL: {2}22023: the session parameters could not be set: invalid value for parameter "statement_timeout"/)
      // The proxy goes on serving others.
      const other = await connect(port)
      assert.strictEqual(await show(other, "statement_timeout"), "0")
      await other.end()
    })
  })
})
