import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import type * as tls from "node:tls"
import { RawAuthUnsupported, RawConnection, RawServerError, type RawTarget, sslProbe } from "./RawPg.ts"
import { PASSWORDS, servers } from "./Servers.ts"

/** The outcome of a startup attempt: the auth request codes seen, or the error's SQLSTATE / auth code / TLS code. */
const attempt = async (
  target: RawTarget,
  user: string,
  options: { password?: string; tls?: tls.ConnectionOptions; parameters?: Record<string, string> } = {}
): Promise<string> => {
  try {
    const c = await RawConnection.connect(target, { user, database: "postgres", ...options })
    const codes = c.authCodes.join(",")
    const encrypted = c.encrypted
    await c.close()
    return `ok ${codes}${encrypted ? " tls" : ""}`
  } catch (e) {
    if (e instanceof RawServerError) return `error ${e.code}`
    if (e instanceof RawAuthUnsupported) return `auth ${e.authCode}: ${e.message}`
    const code = (e as NodeJS.ErrnoException).code
    return `failed ${code ?? (e as Error).message}`
  }
}

const tcp = (s: { host: string; port: number }): RawTarget => ({ host: s.host, port: s.port })

describe("shared servers", () => {
  it("each kind starts and answers with the version it reports", async () => {
    const { main, noTls, pg13 } = servers()
    for (const [server, major] of [[main, 18], [noTls, 18], [pg13, 13]] as const) {
      assert.strictEqual(server.host, "127.0.0.1")
      assert.strictEqual(server.majorVersion, major)
      assert.match(server.version, new RegExp(`^${major}\\.`))
      const c = await RawConnection.connect(tcp(server), { user: server.user, database: server.database })
      try {
        assert.strictEqual(c.parameters.get("server_version"), server.version)
        const version = await c.scalar("SELECT version()")
        assert.include(version ?? "", `PostgreSQL ${server.version}`)
        assert.strictEqual(await c.scalar("SELECT pg_backend_pid() > 0"), "t")
      } finally {
        await c.close()
      }
    }
    assert.strictEqual(new Set([main.port, noTls.port, pg13.port]).size, 3)
  })

  it("listens on a Unix socket in its own directory", async () => {
    const { main, noTls, pg13 } = servers()
    for (const server of [main, noTls, pg13]) {
      const socket = path.join(server.socketDir, `.s.PGSQL.${server.port}`)
      assert.isTrue(fs.statSync(socket).isSocket(), socket)
      const target = { socketDir: server.socketDir, port: server.port }
      assert.strictEqual(await attempt(target, "postgres"), "ok 0")
      assert.strictEqual(await attempt(target, "md5user", { password: PASSWORDS.md5user }), "ok 5,0")
    }
  })

  it("answers SSLRequest with 'S' only where TLS is on", async () => {
    const { main, noTls, pg13, certs } = servers()
    assert.isTrue(main.tls)
    assert.isFalse(noTls.tls)
    assert.isFalse(pg13.tls)
    assert.deepStrictEqual([main.certs, noTls.certs, pg13.certs], [certs, certs, certs])
    assert.strictEqual(await sslProbe(tcp(main)), "S")
    assert.strictEqual(await sslProbe(tcp(noTls)), "N")
    assert.strictEqual(await sslProbe(tcp(pg13)), "N")
  })

  it("main: one role per authentication method over plain TCP", async () => {
    const t = tcp(servers().main)
    assert.strictEqual(await attempt(t, "postgres"), "ok 0")
    assert.strictEqual(await attempt(t, "testuser"), "ok 0")
    assert.strictEqual(await attempt(t, "nossluser"), "ok 0")
    // AuthenticationMD5Password = 5, AuthenticationCleartextPassword = 3 (protocol-3.2 "Message Formats").
    assert.strictEqual(await attempt(t, "md5user", { password: PASSWORDS.md5user }), "ok 5,0")
    assert.strictEqual(await attempt(t, "passworduser", { password: PASSWORDS.passworduser }), "ok 3,0")
    // 28P01 invalid_password: the stored password really is checked.
    assert.strictEqual(await attempt(t, "md5user", { password: "wrong" }), "error 28P01")
    assert.strictEqual(await attempt(t, "passworduser", { password: "wrong" }), "error 28P01")
    // AuthenticationSASL = 10, offering SCRAM-SHA-256 (no -PLUS without TLS).
    const scram = await attempt(t, "scramuser")
    assert.match(scram, /^auth 10: .*SASL: SCRAM-SHA-256\)/)
    // hostssl-only roles have no line for a plain connection: 28000 invalid_authorization_specification.
    assert.strictEqual(await attempt(t, "ssluser", { password: PASSWORDS.ssluser }), "error 28000")
    assert.strictEqual(await attempt(t, "certuser"), "error 28000")
    assert.strictEqual(await attempt(t, "nosuchuser"), "error 28000")
  })

  it("main: TLS with the run's CA, certificate auth for certuser, hostnossl refused", async () => {
    const { main, certs } = servers()
    const t = tcp(main)
    const ca = fs.readFileSync(certs.caCert)
    const verified = { ca, servername: "localhost" }
    assert.strictEqual(await attempt(t, "postgres", { tls: verified }), "ok 0 tls")
    const client = { ...verified, cert: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) }
    assert.strictEqual(await attempt(t, "certuser", { tls: client }), "ok 0 tls")
    // Without a client certificate the cert method refuses (28000).
    assert.strictEqual(await attempt(t, "certuser", { tls: verified }), "error 28000")
    // A client certificate from an unrelated CA fails the handshake or the authentication.
    const foreign = {
      ...verified,
      cert: fs.readFileSync(certs.otherClientCert),
      key: fs.readFileSync(certs.otherClientKey)
    }
    assert.notMatch(await attempt(t, "certuser", { tls: foreign }), /^ok/)
    const ssl = await attempt(t, "ssluser", { tls: verified })
    assert.match(ssl, /^auth 10: .*SCRAM-SHA-256-PLUS/)
    assert.strictEqual(await attempt(t, "nossluser", { tls: verified }), "error 28000")
    assert.strictEqual(await attempt(t, "md5user", { password: PASSWORDS.md5user, tls: verified }), "ok 5,0 tls")
    // The server certificate does not name 127.0.0.1's wrong twin.
    const wrongName = await attempt(t, "postgres", { tls: { ca, servername: "wrong.example" } })
    assert.strictEqual(wrongName, "failed ERR_TLS_CERT_ALTNAME_INVALID")
    const otherCa = await attempt(t, "postgres", { tls: { ca: fs.readFileSync(certs.otherCaCert), servername: "localhost" } })
    // The server sends its CA along (OpenSSL builds the chain from ssl_ca_file), hence "self-signed in chain".
    assert.strictEqual(otherCa, "failed SELF_SIGNED_CERT_IN_CHAIN")
  })

  it("main: logical WAL and a replication connection for postgres", async () => {
    const { main } = servers()
    const c = await RawConnection.connect(tcp(main), { user: "postgres", database: "postgres" })
    try {
      assert.strictEqual(await c.scalar("SHOW wal_level"), "logical")
      assert.strictEqual(await c.scalar("SHOW ssl"), "on")
    } finally {
      await c.close()
    }
    const repl = await RawConnection.connect(tcp(main), {
      user: "postgres",
      database: "postgres",
      parameters: { replication: "database" }
    })
    try {
      const [system] = await repl.query("IDENTIFY_SYSTEM")
      assert.deepStrictEqual(system?.columns, ["systemid", "timeline", "xlogpos", "dbname"])
      assert.strictEqual(system?.rows[0]?.[3], "postgres")
    } finally {
      await repl.close()
    }
    // The replication line is for postgres only.
    assert.strictEqual(await attempt(tcp(main), "testuser", { parameters: { replication: "true" } }), "error 28000")
  })

  it("noTls and pg13 serve the password roles without TLS", async () => {
    const { noTls, pg13 } = servers()
    for (const server of [noTls, pg13]) {
      const t = tcp(server)
      assert.strictEqual(await attempt(t, "md5user", { password: PASSWORDS.md5user }), "ok 5,0")
      assert.strictEqual(await attempt(t, "passworduser", { password: PASSWORDS.passworduser }), "ok 3,0")
      assert.match(await attempt(t, "scramuser"), /^auth 10: /)
      assert.strictEqual(await attempt(t, "nossluser"), "ok 0")
      assert.strictEqual(await attempt(t, "ssluser", { password: PASSWORDS.ssluser }), "error 28000")
    }
  })

  it("gives every role the right to create tables in schema public", async () => {
    for (const server of [servers().main, servers().pg13]) {
      const c = await RawConnection.connect(tcp(server), {
        user: "md5user",
        database: "postgres",
        password: PASSWORDS.md5user
      })
      try {
        await c.query("CREATE TEMP TABLE t (x int); CREATE TABLE IF NOT EXISTS harness_probe_md5user (x int)")
        await c.query("DROP TABLE harness_probe_md5user")
      } finally {
        await c.close()
      }
    }
  })
})
