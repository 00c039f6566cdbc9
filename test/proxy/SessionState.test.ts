/**
 * Session state through the proxy in transaction mode: tracked parameters
 * follow the client to whichever upstream serves it (and ParameterStatus
 * tells it), and statements that leave state in the backend pin the client
 * to its upstream.
 */
import { assert, describe, it } from "@effect/vitest"
import pg from "pg"
import * as SessionState from "../../src/proxy/SessionState.ts"
import { upstreamOf, withProxy } from "./Support.ts"

type Client = InstanceType<typeof pg.Client>

const connect = async (port: number, extra: Record<string, unknown> = {}) => {
  const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres", ...extra } as ConstructorParameters<typeof pg.Client>[0])
  await c.connect()
  return c
}

const show = async (c: Client, name: string): Promise<string> => Object.values((await c.query(`show ${name}`)).rows[0] ?? {})[0] as string

describe("PgProxy session state", () => {
  it("tracked SETs and start-up parameters follow each client across a shared upstream", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 1 }) }, async ({ port }) => {
      const a = await connect(port, { application_name: "client-a" })
      const b = await connect(port, { application_name: "client-b" })
      const reported: Array<string> = []
      ;(a as unknown as { connection: { on: (e: string, f: (m: { parameterName: string; parameterValue: string }) => void) => void } })
        .connection.on("parameterStatus", (m) => reported.push(`${m.parameterName}=${m.parameterValue}`))
      await a.query("set timezone = 'Asia/Tokyo'")
      await a.query("set search_path = pg_catalog, public")
      await b.query("set datestyle = 'German, DMY'")
      for (let i = 0; i < 3; i++) {
        assert.strictEqual(await show(a, "TimeZone"), "Asia/Tokyo")
        assert.strictEqual(await show(b, "TimeZone"), "UTC")
        assert.strictEqual(await show(a, "search_path"), "pg_catalog, public")
        assert.strictEqual(await show(b, "DateStyle"), "German, DMY")
        assert.strictEqual(await show(a, "DateStyle"), "ISO, MDY")
        assert.strictEqual(await show(a, "application_name"), "client-a")
        assert.strictEqual(await show(b, "application_name"), "client-b")
      }
      assert.include(reported, "TimeZone=Asia/Tokyo")
      await a.query("reset timezone")
      assert.strictEqual(await show(a, "TimeZone"), "UTC")
      await a.end()
      await b.end()
    })
  })

  it("SET of an untracked parameter, SQL PREPARE, a temporary table and a session advisory lock pin the client to its upstream", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 2 }) }, async ({ port }) => {
      const a = await connect(port)
      const b = await connect(port)
      await a.query("set statement_timeout = 1234")
      await a.query("create temp table proxy_pinned (n int)")
      await a.query("insert into proxy_pinned values (7)")
      await a.query("prepare pinned_stmt as select 42 as n")
      const pid = (await a.query("select pg_backend_pid() as pid")).rows[0]?.pid
      // While A keeps its upstream, B runs on the other one and sees none of A's state.
      for (let i = 0; i < 3; i++) {
        assert.strictEqual(await show(b, "statement_timeout"), "0")
        assert.notStrictEqual((await b.query("select pg_backend_pid() as pid")).rows[0]?.pid, pid)
        assert.strictEqual((await a.query("select n from proxy_pinned")).rows[0]?.n, 7)
        assert.strictEqual((await a.query("execute pinned_stmt")).rows[0]?.n, 42)
        assert.strictEqual(await show(a, "statement_timeout"), "1234ms")
        assert.strictEqual((await a.query("select pg_backend_pid() as pid")).rows[0]?.pid, pid)
      }
      // DISCARD ALL drops the state, and the pin with it.
      await a.query("discard all")
      await a.end()
      await b.end()
    })
  })

  it("set_config of an untracked parameter and an advisory lock named in capitals pin the client (one upstream: the other client waits)", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 1, acquireTimeout: "300 millis" }) }, async ({ port }) => {
      const code = (p: Promise<unknown>) => p.then(() => "", (e: { code?: string }) => e.code ?? String(e))
      for (const sql of ["select set_config('statement_timeout', '1234', false)", "SELECT PG_ADVISORY_LOCK(4242)"]) {
        const a = await connect(port)
        const b = await connect(port)
        await a.query(sql)
        // A keeps the only upstream: B cannot have it (without the pin B would run there, under A's state).
        assert.strictEqual(await code(b.query("show statement_timeout")), "53300", sql)
        assert.strictEqual(await code(b.query("select pg_try_advisory_lock(4242)")), "53300", sql)
        await a.query("discard all")
        await a.query("select pg_advisory_unlock_all()")
        assert.strictEqual(await show(b, "statement_timeout"), "0", sql)
        assert.strictEqual((await b.query("select pg_try_advisory_lock(4242) as ok")).rows[0]?.ok, true, sql)
        await b.query("select pg_advisory_unlock_all()")
        await a.end()
        await b.end()
      }
      // A local set_config ends with its transaction: no pin, the next client shares the upstream.
      const a = await connect(port)
      const b = await connect(port)
      await a.query("begin")
      await a.query("select set_config('statement_timeout', '4321', true)")
      assert.strictEqual(await show(a, "statement_timeout"), "4321ms")
      await a.query("commit")
      assert.strictEqual(await show(b, "statement_timeout"), "0")
      assert.strictEqual(await show(a, "statement_timeout"), "0")
      await a.end()
      await b.end()
    })
  })

  it("classifies statements without a parser", () => {
    const tracked = (name: string) => SessionState.TRACKED_PARAMETERS.has(name)
    const tag = (sql: string) => SessionState.classify(sql, tracked)._tag
    assert.strictEqual(tag("select 1"), "None")
    assert.strictEqual(tag("SET TimeZone = 'UTC'"), "None")
    assert.strictEqual(tag("set local statement_timeout = 5"), "None")
    assert.strictEqual(tag("set statement_timeout = 5"), "Pin")
    assert.strictEqual(tag("SET SESSION AUTHORIZATION bob"), "Pin")
    assert.strictEqual(tag("/* c */ LISTEN x"), "Pin")
    assert.strictEqual(tag("select 1; listen x"), "Pin")
    assert.strictEqual(tag("select 'listen; x'"), "None")
    assert.strictEqual(tag("create temporary table t (n int)"), "Pin")
    assert.strictEqual(tag("create table t (n int)"), "None")
    assert.strictEqual(tag("select pg_advisory_lock(1)"), "Pin")
    assert.strictEqual(tag("select pg_advisory_xact_lock(1)"), "None")
    assert.strictEqual(tag("SELECT PG_ADVISORY_LOCK(1)"), "Pin")
    assert.strictEqual(tag("select pg_catalog.Pg_Try_Advisory_Lock_Shared(1)"), "Pin")
    assert.strictEqual(tag("select set_config('statement_timeout', '5s', false)"), "Pin")
    assert.strictEqual(tag("SELECT SET_CONFIG('app.user', '42', FALSE)"), "Pin")
    assert.strictEqual(tag("select set_config('app.user', $1, true)"), "None")
    assert.strictEqual(tag("select set_config('app.user', 'a,b(c)', 'on')"), "None")
    assert.strictEqual(tag("select set_config('search_path', 'x', false)"), "None")
    assert.strictEqual(tag("select set_config('It''s', 'x', false)"), "Pin")
    assert.strictEqual(tag("select set_config($1, $2, false)"), "Pin")
    assert.strictEqual(tag("select set_config('app.user', lower('X'), $3)"), "Pin")
    assert.strictEqual(tag("select n, set_config('application_name', 'a', false), set_config('work_mem', '1MB', true) from t"), "None")
    assert.strictEqual(tag("select set_config('application_name', 'a', false), set_config('work_mem', '1MB', false)"), "Pin")
    assert.strictEqual(tag("declare c cursor with hold for select 1"), "Pin")
    assert.strictEqual(tag("prepare p as select 1"), "Pin")
    assert.deepStrictEqual(SessionState.classify("DEALLOCATE PREPARE p", tracked), { _tag: "Deallocate", name: "p" })
    assert.deepStrictEqual(SessionState.classify("deallocate all", tracked), { _tag: "Deallocate", name: undefined })
    assert.strictEqual(tag("discard all"), "DiscardAll")
    assert.strictEqual(tag("RESET ALL"), "ResetAll")
    assert.strictEqual(tag("begin; reset all; rollback"), "ResetAll")
    assert.strictEqual(tag("reset all; listen x"), "Pin")
  })

  it("skips the classification only for single statements that cannot change session state", () => {
    const may = SessionState.mayAffectSession
    for (const sql of ["SELECT abalance FROM pgbench_accounts WHERE aid = 7;", "select 1 ; -- done\n", "UPDATE t SET n = 1;", "BEGIN;", "END;", "insert into t values (1)"]) {
      assert.isFalse(may(sql), sql)
    }
    for (const sql of ["select 1; listen x", "SET statement_timeout = 5", "set search_path = a;", "/* c */ LISTEN x", "prepare p as select 1", "select pg_advisory_lock(1);", "SELECT PG_ADVISORY_LOCK(1)", "select Set_Config('a.b', '1', false)", "reset all", "create temp table t (n int)", "DISCARD ALL", "deallocate p"]) {
      assert.isTrue(may(sql), sql)
    }
  })
})
