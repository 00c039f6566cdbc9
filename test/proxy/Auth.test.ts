/**
 * Authentication through the proxy: clients authenticate against the proxy
 * (md5, SCRAM-SHA-256), the upstream is authenticated with the proxy's own
 * credentials (SCRAM and MD5 roles of the shared server); and the admin
 * console.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as PgProxy from "../../src/proxy/PgProxy.ts"
import * as PgServer from "../../src/server/PgServer.ts"
import * as fs from "node:fs"
import { PASSWORDS, servers } from "../support/Servers.ts"
import { psqlArgs, run, upstreamOf, withProxy } from "./Support.ts"

const users: Record<string, string> = { alice: "alice-secret", postgres: "pw" }
const lookup = (user: string) => Effect.succeed(users[user])

describe("PgProxy authentication", () => {
  it("clients log in with md5 or SCRAM at the proxy; wrong passwords are refused", async () => {
    for (const auth of [PgServer.Auth.md5(lookup), PgServer.Auth.scram(lookup)]) {
      await withProxy({ auth }, async ({ port }) => {
        const ok = await run("psql", [psqlArgs(port, "user=alice"), "-X", "-A", "-t", "-c", "select current_user"], { PGPASSWORD: "alice-secret" })
        assert.strictEqual(ok.code, 0, ok.stderr)
        // The upstream session is the proxy's own role.
        assert.strictEqual(ok.stdout.trim(), "postgres")
        const bad = await run("psql", [psqlArgs(port, "user=alice"), "-X", "-v", "VERBOSITY=verbose", "-c", "select 1"], { PGPASSWORD: "wrong" })
        assert.strictEqual(bad.code, 2)
        assert.match(bad.stderr, /password authentication failed/)
      })
    }
  })

  it("the upstream is opened with the proxy's SCRAM or MD5 credentials", async () => {
    for (const user of ["scramuser", "md5user"] as const) {
      await withProxy({ upstream: upstreamOf({ user, password: PASSWORDS[user] }) }, async ({ port }) => {
        const r = await run("psql", [psqlArgs(port), "-X", "-A", "-t", "-c", "select current_user"])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(r.stdout.trim(), user)
      })
    }
    // A wrong upstream password: the client is refused at start-up with the reason, the proxy stays up.
    await withProxy({ upstream: upstreamOf({ user: "scramuser", password: "wrong" }) }, async ({ port }) => {
      const r = await run("psql", [psqlArgs(port), "-X", "-c", "select 1"])
      assert.strictEqual(r.code, 2)
      assert.match(r.stderr, /upstream/)
    })
  })

  it("the admin console answers SHOW POOLS, CLIENTS, SERVERS and STATS", async () => {
    await withProxy({}, async ({ port }) => {
      const work = await run("psql", [psqlArgs(port), "-X", "-c", "select 1", "-c", "select 2"])
      assert.strictEqual(work.code, 0, work.stderr)
      const admin = (command: string) => run("psql", [psqlArgs(port, "dbname=pgproxy"), "-X", "-A", "-c", command])
      const pools = await admin("show pools")
      assert.strictEqual(pools.code, 0, pools.stderr)
      assert.match(pools.stdout, /^database\|pool_mode\|cl_active/m)
      assert.match(pools.stdout, /postgres\|transaction\|/)
      const stats = await admin("show stats")
      const [header, values] = stats.stdout.split("\n")
      const row = Object.fromEntries(header!.split("|").map((k, i) => [k, values!.split("|")[i]]))
      assert.isAtLeast(Number(row["total_xact_count"]), 2)
      assert.match((await admin("show servers")).stdout, /^id\|state\|pid/m)
      assert.match((await admin("show clients")).stdout, /^id\|user\|database\|state/m)
      const unknown = await admin("drop table x")
      assert.strictEqual(unknown.code, 1)
      assert.match(unknown.stderr, /admin console/)
    })
  })

  it("writes its numbers as Effect metrics", async () => {
    await withProxy({ name: "proxy-metrics-test" }, async ({ port }) => {
      const work = await run("psql", [psqlArgs(port), "-X", "-c", "select 1", "-c", "select 2", "-c", "select 3"])
      assert.strictEqual(work.code, 0, work.stderr)
      const metrics = PgProxy.metricsOf("proxy-metrics-test")
      const read = () => Effect.runPromise(Effect.all([Metric.value(metrics.transactions), Metric.value(metrics.upstreams)]))
      const deadline = Date.now() + 5_000
      let [transactions, upstreams] = await read()
      while (transactions.count < 3 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100))
        ;[transactions, upstreams] = await read()
      }
      assert.isAtLeast(transactions.count, 3)
      assert.isAtLeast(upstreams.value, 1)
    })
  })

  it("SCRAM-SHA-256-PLUS over the proxy's TLS: channel binding required by the client succeeds", async () => {
    const tls = { key: fs.readFileSync(servers().certs.serverKey, "utf8"), cert: fs.readFileSync(servers().certs.serverCert, "utf8") }
    await withProxy({ auth: PgServer.Auth.scram(lookup), tls }, async ({ port }) => {
      const r = await run(
        "psql",
        [`host=127.0.0.1 port=${port} user=alice dbname=postgres sslmode=require channel_binding=require`, "-X", "-A", "-t", "-c", "select 7"],
        { PGPASSWORD: "alice-secret" }
      )
      assert.strictEqual(r.code, 0, r.stderr)
      assert.strictEqual(r.stdout.trim(), "7")
      // In clear there is nothing to bind to: the same client refuses.
      const clear = await run(
        "psql",
        [`host=127.0.0.1 port=${port} user=alice dbname=postgres sslmode=disable channel_binding=require`, "-X", "-c", "select 7"],
        { PGPASSWORD: "alice-secret" }
      )
      assert.strictEqual(clear.code, 2)
    })
  })
})
