/**
 * A real upstream restart under load: a PostgreSQL 18 of the test's own
 * behind the proxy (pool of 4) is stopped fast (SIGINT), started again on
 * the same data directory and port, then stopped immediately (SIGQUIT, crash
 * recovery) and started again, while node-postgres clients (single
 * statements, named statements, transactions) and our pool run statements
 * through the proxy.
 *
 * Every failed statement is a typed error with a SQLSTATE of the upstream's
 * loss (or our client's typed error), no client hangs, every kind of client
 * succeeds again after each restart through the same proxy, no acknowledged
 * commit is lost, and nothing fails before the first restart.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import pg from "pg"
import { PgError } from "../../src/errors/PgError.ts"
import * as PgPool from "../../src/pool/Pool.ts"
import * as PgProxy from "../../src/proxy/PgProxy.ts"
import * as PgSession from "../../src/session/Session.ts"
import { acquire } from "../support/EmbeddedPostgres.ts"
import { restartable } from "../support/Restart.ts"

/** "It must not hang": how long every client may take to succeed again after a restart, or to stop. */
const RECOVERY_BOUND_MILLIS = 30_000
/** Load before the first restart. */
const WARM_UP_MILLIS = 500
/** Successes of each kind of client wanted after each restart. */
const WANTED_AFTER = 5
/**
 * SQLSTATEs a statement may fail with when its upstream goes: 08006 (the proxy: its upstream was lost, or none
 * could be opened), 53300 (no upstream free within the acquire timeout), 57P01 and 57P03 (the server's own, shutting
 * down or starting).
 */
const ALLOWED = new Set(["08006", "53300", "57P01", "57P03"])

const KINDS = ["single", "named", "transaction", "ours"] as const
type Kind = typeof KINDS[number]

type Client = InstanceType<typeof pg.Client>

const sleep = (millis: number) => new Promise((r) => setTimeout(r, millis))

/** The SQLSTATE of a node-postgres error, if it has one. */
const sqlstateOf = (e: unknown): string | undefined => {
  const code = (e as { code?: unknown } | undefined)?.code
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

describe("PgProxy across real upstream restarts", () => {
  it.live("fast and immediate restarts under load: typed errors, no hang, every client succeeds again, no commit lost", () =>
    Effect.scoped(Effect.gen(function*() {
      const info = yield* acquire({ name: "proxy-restarts", settings: { synchronous_commit: true } })
      const server = yield* restartable(info)
      const proxy = yield* PgProxy.serve({
        upstream: {
          host: info.host,
          port: info.port,
          user: "postgres",
          database: "postgres",
          sslMode: "disable",
          maxSize: 4,
          connectTimeout: 2_000,
          acquireTimeout: "5 seconds"
        }
      })
      const port = proxy.address.port
      const pool = yield* PgPool.make({
        host: "127.0.0.1",
        port,
        user: "postgres",
        database: "postgres",
        sslMode: "disable",
        maxSize: 2,
        connectTimeout: 2_000,
        acquireTimeout: 5_000
      })
      yield* pool.query("create table proxy_restarts (id int4 primary key)")

      // Failures by phase: 0 before the first restart, 1 from the fast one on, 2 from the immediate one on.
      let phase = 0
      // Successes by the restarts completed when the statement began (a success counts as recovery only then).
      let completed = 0
      let stop = false
      const ok: Record<Kind, Array<number>> = { single: [0, 0, 0], named: [0, 0, 0], transaction: [0, 0, 0], ours: [0, 0, 0] }
      const failures: Array<{ readonly phase: number; readonly kind: Kind; readonly code: string }> = []
      const acknowledged: Array<number> = []
      let nextId = 0

      /** One node-postgres client after another (a client the proxy closed is replaced), running `step`. */
      const pgLoop = async (kind: Kind, step: (c: Client, k: number) => Promise<void>) => {
        let k = 0
        while (!stop) {
          const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" })
          let coded = false
          let ended = false
          // An error without a SQLSTATE is allowed only as the aftermath of a coded one (the connection it closed).
          const record = (e: unknown) => {
            const code = sqlstateOf(e)
            if (code === undefined && coded) return
            if (code !== undefined) coded = true
            failures.push({ phase, kind, code: code ?? `untyped: ${(e as Error).message}` })
          }
          const events = client as unknown as { on: (event: string, f: (e?: unknown) => void) => void }
          events.on("error", record)
          events.on("end", () => (ended = true))
          try {
            await client.connect()
          } catch (e) {
            record(e)
            await sleep(20)
            continue
          }
          while (!stop && !ended) {
            const at = completed
            try {
              await step(client, ++k)
              ok[kind][at]!++
            } catch (e) {
              record(e)
              await sleep(10)
            }
          }
          await client.end().catch(() => {})
        }
      }

      const loops = [
        pgLoop("single", async (c, k) => {
          const r = await c.query("select pg_sleep(0.005), $1::int as k", [k])
          assert.strictEqual(r.rows[0]?.k, k)
        }),
        // A named statement: after a restart the proxy prepares it again on the new upstream.
        pgLoop("named", async (c, k) => {
          const r = await c.query({ name: "restart_step", text: "select $1::int * 2 as k", values: [k] })
          assert.strictEqual(r.rows[0]?.k, k * 2)
        }),
        pgLoop("transaction", async (c) => {
          const id = ++nextId
          await c.query("begin")
          await c.query("insert into proxy_restarts values ($1)", [id])
          await c.query("select pg_sleep(0.005)")
          await c.query("commit")
          acknowledged.push(id)
        }),
        ...[0, 1].map(async (fiber) => {
          let k = 0
          while (!stop) {
            const at = completed
            const n = ++k * 10 + fiber
            const exit = await Effect.runPromiseExit(pool.query<{ k: number }>("select $1::int4 as k, pg_sleep(0.005)", [n]))
            if (Exit.isSuccess(exit)) {
              assert.strictEqual(exit.value.rows[0]?.k, n)
              ok.ours[at]!++
              continue
            }
            const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
            const error = failure?._tag === "Fail" ? failure.error : undefined
            assert.instanceOf(error, PgError, `not a typed error: ${String(exit.cause).slice(0, 300)}`)
            const reason = (error as PgError).reason
            failures.push({ phase, kind: "ours", code: reason._tag === "ServerError" ? reason.code : reason._tag })
            await sleep(10)
          }
        })
      ]

      /** Waits until every kind of client succeeded `WANTED_AFTER` times with statements begun after restart `at`. */
      const recovered = async (at: number) => {
        const deadline = Date.now() + RECOVERY_BOUND_MILLIS
        while (KINDS.some((kind) => ok[kind][at]! < WANTED_AFTER)) {
          assert.isBelow(Date.now(), deadline, `not every client succeeded again: ${JSON.stringify(ok)} ${JSON.stringify(failures.slice(-5))}`)
          await sleep(20)
        }
      }

      const scenario = async () => {
        await sleep(WARM_UP_MILLIS)
        await recovered(0)
        phase = 1
        await Effect.runPromise(server.restart("fast"))
        completed = 1
        await recovered(1)
        phase = 2
        await Effect.runPromise(server.restart("immediate"))
        completed = 2
        await recovered(2)
      }
      const outcome = yield* Effect.promise(() => scenario().then(() => undefined, (e: unknown) => e))
      stop = true
      // No client hangs: every loop ends within the bound.
      const ended = yield* Effect.promise(() =>
        Promise.race([Promise.all(loops).then(() => true), sleep(RECOVERY_BOUND_MILLIS).then(() => false)])
      )
      if (outcome !== undefined) throw outcome
      assert.isTrue(ended, "a client still waited after the load stopped")

      // Nothing failed before the first restart; each restart failed some statements, all with typed errors.
      assert.deepStrictEqual(failures.filter((f) => f.phase === 0), [])
      for (const at of [1, 2]) assert.isAbove(failures.filter((f) => f.phase === at).length, 0, `no failure in phase ${at}`)
      for (const f of failures) {
        assert.isTrue(
          ALLOWED.has(f.code) || (f.kind === "ours" && f.code === "ConnectionError"),
          `unexpected failure ${JSON.stringify(f)}`
        )
      }
      // No acknowledged commit is lost (synchronous commits survive the immediate shutdown's crash recovery).
      const stored = yield* Effect.scoped(Effect.gen(function*() {
        const s = yield* PgSession.connect({ host: info.host, port: info.port, user: "postgres", database: "postgres", sslMode: "disable" })
        return new Set((yield* s.query<{ id: number }>("select id from proxy_restarts")).rows.map((r) => r.id))
      }))
      assert.deepStrictEqual(acknowledged.filter((id) => !stored.has(id)), [])
      assert.isAtMost(yield* proxy.upstreams, 4)
      const byCode: Record<string, number> = {}
      for (const f of failures) byCode[`${f.kind}:${f.code}`] = (byCode[`${f.kind}:${f.code}`] ?? 0) + 1
      console.log(
        `proxy restarts: ${server.restarts()} restarts, successes by phase ${JSON.stringify(ok)}, ` +
          `failures ${JSON.stringify(byCode)}, ${acknowledged.length} acknowledged commits, none lost`
      )
    })), { timeout: 180_000 })
})
