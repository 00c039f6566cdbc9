/**
 * The server engine's authentication against real clients: psql with
 * cleartext, MD5 and SCRAM-SHA-256 (and -PLUS with channel_binding=require over
 * TLS), node-postgres, postgres.js and our own session with SCRAM, and the
 * 28P01 refusal of a wrong password.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import postgres from "postgres"
import * as Scram from "../../src/auth/Scram.ts"
import * as PgServer from "../../src/server/PgServer.ts"
import * as PgSession from "../../src/session/Session.ts"
import { servers } from "../support/Servers.ts"
import { reasonOf } from "../support/Sessions.ts"
import { handler, makeProbe } from "./ScriptedHandler.ts"
import { psql, withServer } from "./Support.ts"

const PASSWORD = "s3cret pass"
const secret = Scram.formatSecret(Result.getOrThrow(Scram.makeSecret(PASSWORD)))
const lookup = (user: string) => Effect.succeed(user === "tester" ? PASSWORD : undefined)

const tlsOptions = () => ({
  key: fs.readFileSync(servers().certs.serverKey, "utf8"),
  cert: fs.readFileSync(servers().certs.serverCert, "utf8")
})

describe("PgServer authentication", () => {
  const methods: ReadonlyArray<readonly [string, PgServer.AuthMethod]> = [
    ["cleartext", PgServer.Auth.cleartext((user, password) => Effect.succeed(user === "tester" && password === PASSWORD))],
    ["md5", PgServer.Auth.md5(lookup)],
    ["scram-sha-256", PgServer.Auth.scram((user) => Effect.succeed(user === "tester" ? secret : undefined))]
  ]
  for (const [name, auth] of methods) {
    it(`lets psql in with the right password and refuses a wrong one with 28P01 (${name})`, async () => {
      await withServer({ handler: handler(makeProbe()), auth }, async ({ port }) => {
        const ok = await psql(port, ["-c", "select 1"], "", { PGPASSWORD: PASSWORD })
        assert.strictEqual(ok.code, 0, ok.stderr)
        assert.strictEqual(ok.stdout.trim(), "1")
        const wrong = await psql(port, ["-c", "select 1"], "", { PGPASSWORD: "wrong" })
        assert.strictEqual(wrong.code, 2)
        assert.match(wrong.stderr, /password authentication failed for user "tester"/)
        const unknown = await psql(port, ["-c", "select 1"], "user=nobody", { PGPASSWORD: PASSWORD })
        assert.strictEqual(unknown.code, 2)
        assert.match(unknown.stderr, /password authentication failed for user "nobody"/)
      })
    })
  }

  it("binds the channel with SCRAM-SHA-256-PLUS for psql channel_binding=require over TLS, and refuses it when only plain SCRAM is offered", async () => {
    const scram = (channelBinding: "offer" | "off") =>
      PgServer.Auth.scram((user) => Effect.succeed(user === "tester" ? secret : undefined), { channelBinding })
    await withServer({ handler: handler(makeProbe()), auth: scram("offer"), tls: tlsOptions() }, async ({ port }) => {
      const ok = await psql(port, ["-c", "select 1"], "sslmode=require channel_binding=require", { PGPASSWORD: PASSWORD })
      assert.strictEqual(ok.code, 0, ok.stderr)
      const verified = await psql(port, ["-c", "select 1"], `sslmode=verify-full sslrootcert=${servers().certs.caCert} host=localhost`, {
        PGPASSWORD: PASSWORD
      })
      assert.strictEqual(verified.code, 0, verified.stderr)
    })
    await withServer({ handler: handler(makeProbe()), auth: scram("off"), tls: tlsOptions() }, async ({ port }) => {
      const refused = await psql(port, ["-c", "select 1"], "sslmode=require channel_binding=require", { PGPASSWORD: PASSWORD })
      assert.strictEqual(refused.code, 2)
      assert.match(refused.stderr, /channel binding/)
    })
  })

  it("authenticates node-postgres, postgres.js and our own session with SCRAM", async () => {
    const auth = PgServer.Auth.scram((user) => Effect.succeed(user === "tester" ? secret : undefined))
    await withServer({ handler: handler(makeProbe()), auth }, async ({ port }) => {
      const client = new pg.Client({ host: "127.0.0.1", port, user: "tester", database: "db", password: PASSWORD })
      await client.connect()
      assert.deepStrictEqual((await client.query("select 3")).rows, [{ "?column?": 3 }])
      await client.end()
      const sql = postgres({ host: "127.0.0.1", port, user: "tester", database: "db", password: PASSWORD, fetch_types: false, max: 1 })
      assert.deepStrictEqual([...(await sql.unsafe("select 4"))], [{ "?column?": 4 }])
      await sql.end()
      const connect = (password: string) =>
        Effect.scoped(Effect.flatMap(
          PgSession.connect({ host: "127.0.0.1", port, user: "tester", database: "db", password, sslMode: "disable" }),
          (s) => s.simple("select 5")
        ))
      const rows = await Effect.runPromise(connect(PASSWORD))
      assert.deepStrictEqual(rows[0]!.rows, [{ "?column?": 5 }])
      const refused = await Effect.runPromise(Effect.exit(connect("wrong")))
      const reason = reasonOf(refused)
      assert.strictEqual(reason._tag, "ServerError")
      assert.strictEqual(reason._tag === "ServerError" ? reason.code : "", "28P01")
    })
  })

  it("lets the parameters hook refuse a database with 3D000 and override ParameterStatus values", async () => {
    await withServer({
      handler: handler(makeProbe()),
      parameters: (info) =>
        info.database === "db"
          ? Effect.succeed({ server_version: "17.2 (custom)" })
          : Effect.fail(PgServer.Errors.unknownDatabase(info.database))
    }, async ({ port }) => {
      const accepted = await psql(port, ["-c", "select 1"])
      assert.strictEqual(accepted.code, 0, accepted.stderr)
      const refused = await psql(port, ["-c", "select 1"], "dbname=other")
      assert.strictEqual(refused.code, 2)
      assert.match(refused.stderr, /database "other" does not exist/, refused.stderr)
      const sql = postgres({ host: "127.0.0.1", port, user: "tester", database: "db", fetch_types: false, max: 1 })
      await sql.unsafe("select 1")
      assert.strictEqual(sql.parameters.server_version, "17.2 (custom)")
      await sql.end()
    })
  })

  it("listens on a Unix-domain socket directory as libpq expects (.s.PGSQL.<port>)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgserver-sock-"))
    await withServer({ handler: handler(makeProbe()), listen: { unixDirectory: dir, port: 6543 } }, async ({ server }) => {
      assert.strictEqual(server.address._tag, "Unix")
      assert.isTrue(fs.existsSync(path.join(dir, ".s.PGSQL.6543")))
      const r = await psql(0, ["-c", "select 9"], `host=${dir} port=6543`)
      assert.strictEqual(r.code, 0, r.stderr)
      assert.strictEqual(r.stdout.trim(), "9")
    })
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("listens on TCP and a Unix-domain socket at once, and stops listening on both at shutdown", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgserver-sock-"))
    const listen = [{ port: 0 }, { unixDirectory: dir, port: 6544 }]
    await withServer({ handler: handler(makeProbe()), listen }, async ({ server, port }) => {
      assert.deepStrictEqual(server.addresses.map((a) => a._tag), ["Tcp", "Unix"])
      const tcp = await psql(port, ["-c", "select 1"])
      const unix = await psql(0, ["-c", "select 2"], `host=${dir} port=6544`)
      assert.deepStrictEqual([tcp.stdout.trim(), unix.stdout.trim()], ["1", "2"])
    })
    assert.isFalse(fs.existsSync(path.join(dir, ".s.PGSQL.6544")))
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
