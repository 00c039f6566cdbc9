/**
 * Upstream failures under load: the server's connections are dropped and new
 * ones refused for a while (a restart, seen through a gate between the proxy
 * and the server), then accepted again. Statements that were running fail
 * with typed errors, no client hangs, and later statements succeed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as net from "node:net"
import pg from "pg"
import { servers } from "../support/Servers.ts"
import { upstreamOf, withProxy } from "./Support.ts"

/** A TCP forwarder to the server that can be shut (every connection dropped, new ones refused) and opened again. */
class Gate {
  server: net.Server | undefined
  readonly sockets = new Set<net.Socket>()
  port = 0
  async open(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect({ host: servers().main.host, port: servers().main.port })
      this.sockets.add(client)
      this.sockets.add(upstream)
      client.pipe(upstream)
      upstream.pipe(client)
      const drop = () => {
        client.destroy()
        upstream.destroy()
        this.sockets.delete(client)
        this.sockets.delete(upstream)
      }
      client.on("error", drop).on("close", drop)
      upstream.on("error", drop).on("close", drop)
    })
    await new Promise<void>((resolve) => this.server!.listen(this.port, "127.0.0.1", resolve))
    this.port = (this.server.address() as net.AddressInfo).port
  }
  async shut(): Promise<void> {
    const server = this.server
    this.server = undefined
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
    await new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve())
  }
}

describe("PgProxy upstream failures", () => {
  it("an upstream restart under load: typed errors, no hang, recovery", async () => {
    const gate = new Gate()
    await gate.open()
    try {
      await withProxy({ upstream: upstreamOf({ host: "127.0.0.1", port: gate.port, maxSize: 3, acquireTimeout: "5 seconds", connectTimeout: 2000 }) }, async ({ port }) => {
        const clients = await Promise.all(Array.from({ length: 6 }, async () => {
          const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" })
          ;(c as unknown as { on: (event: string, f: () => void) => void }).on("error", () => {})
          await c.connect()
          return c
        }))
        const codes = new Map<string, number>()
        let ok = 0
        let stop = false
        const loops = clients.map(async (c, k) => {
          while (!stop) {
            await c.query("select pg_sleep(0.01), $1::int as k", [k]).then(
              (r) => {
                assert.strictEqual(r.rows[0]?.k, k)
                ok++
              },
              (e: { code?: string }) => codes.set(e.code ?? "none", (codes.get(e.code ?? "none") ?? 0) + 1)
            )
          }
        })
        await new Promise((r) => setTimeout(r, 500))
        const before = ok
        await gate.shut()
        await new Promise((r) => setTimeout(r, 1000))
        await gate.open()
        await new Promise((r) => setTimeout(r, 1500))
        const after = ok
        stop = true
        const started = Date.now()
        await Promise.all(loops)
        // No client hangs: every loop ended within a statement's time.
        assert.isBelow(Date.now() - started, 5_000)
        assert.isAbove(before, 0)
        // Failures were the typed connection errors, nothing else.
        for (const code of codes.keys()) assert.include(["08006", "53300"], code, JSON.stringify([...codes]))
        assert.isAbove([...codes.values()].reduce((a, b) => a + b, 0), 0)
        // After the gate opened again, statements succeed.
        const recovered = await Promise.all(clients.map((c, k) => c.query("select $1::int as k", [k])))
        recovered.forEach((r, k) => assert.strictEqual(r.rows[0]?.k, k))
        assert.isAbove(after, before)
        await Promise.all(clients.map((c) => c.end()))
      })
    } finally {
      await gate.shut()
    }
  }, 60_000)

  it("a client that waits longer than acquireTimeout for an upstream gets 53300 and goes on", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 1, acquireTimeout: "300 millis" }) }, async ({ port }) => {
      const connect = async () => {
        const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" })
        await c.connect()
        return c
      }
      const a = await connect()
      const b = await connect()
      await a.query("begin")
      const started = Date.now()
      const code = await b.query("select 1").then(() => "", (e: { code?: string }) => e.code)
      assert.strictEqual(code, "53300")
      assert.isBelow(Date.now() - started, 5_000)
      await a.query("commit")
      assert.strictEqual((await b.query("select 2 as n")).rows[0]?.n, 2)
      await a.end()
      await b.end()
    })
  })

  it("an upstream terminated under a client's transaction closes that client with FATAL, under a statement fails it with 08006; an idle one is replaced unseen", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 2 }) }, async ({ port }) => {
      const errors: Array<{ code?: string; message?: string }> = []
      const connect = async () => {
        const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" })
        ;(c as unknown as { on: (event: string, f: (e: { code?: string; message?: string }) => void) => void })
          .on("error", (e) => errors.push(e))
        await c.connect()
        return c
      }
      const direct = new pg.Client({ host: servers().main.host, port: servers().main.port, user: "postgres", database: "postgres" })
      await direct.connect()
      const a = await connect()
      const b = await connect()
      await a.query("begin")
      const pid = (await a.query("select pg_backend_pid() as pid")).rows[0]?.pid
      await direct.query("select pg_terminate_backend($1)", [pid])
      await new Promise((r) => setTimeout(r, 300))
      // FATAL 08006 naming the server's reason, sent to the client whose transaction it was.
      assert.strictEqual(errors[0]?.code, "08006", JSON.stringify(errors))
      assert.match(errors[0]?.message ?? "", /terminating connection due to administrator command/)
      // The transaction is gone with its backend: the client cannot go on as if it were open.
      const again = await a.query("select 1").then(() => "ok", () => "refused")
      assert.strictEqual(again, "refused")
      // B's statement whose upstream is terminated under it fails with 08006 naming the reason; B goes on.
      const running = b.query("select pg_sleep(5)").then(() => undefined, (e: { code?: string; message?: string }) => e)
      await new Promise((r) => setTimeout(r, 300))
      const busy = await direct.query("select pid from pg_stat_activity where query = 'select pg_sleep(5)' and state = 'active'")
      assert.strictEqual(busy.rows.length, 1)
      await direct.query("select pg_terminate_backend($1)", [busy.rows[0]?.pid])
      const killed = await running
      assert.strictEqual(killed?.code, "08006")
      assert.match(killed?.message ?? "", /terminating connection due to administrator command/)
      // B, between statements, never notices that an idle upstream died.
      const idlePid = (await b.query("select pg_backend_pid() as pid")).rows[0]?.pid
      await direct.query("select pg_terminate_backend($1)", [idlePid])
      await new Promise((r) => setTimeout(r, 200))
      assert.strictEqual((await b.query("select 5 as n")).rows[0]?.n, 5)
      await b.end()
      await direct.end()
    })
  })
})
