import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import type { PgError } from "../../src/errors/PgError.ts"
import * as StartupCodec from "../../src/protocol/Startup.ts"
import * as PgSession from "../../src/session/Session.ts"
import { SCRAM_KEYS } from "../../src/session/Startup.ts"
import * as Transport from "../../src/transport/Transport.ts"
import { acquire, type ServerInfo } from "../support/EmbeddedPostgres.ts"
import { PASSWORDS, servers } from "../support/Servers.ts"

interface Matrix {
  readonly server_ssl_off: ReadonlyArray<Row>
  readonly server_ssl_on: ReadonlyArray<Row>
}
interface Row {
  readonly user: string
  readonly gssencmode: string
  readonly sslmode: string
  readonly sslnegotiation: string
  readonly events: ReadonlyArray<string>
  readonly outcome: "plain" | "ssl" | "fail"
}
const matrix: Matrix = JSON.parse(
  Fs.readFileSync(Path.join(import.meta.dirname, "../fixtures/connect/libpq_ssl_negotiation_matrix.json"), "utf8")
)

const failureOf = (exit: Exit.Exit<unknown, PgError>): PgError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const fail = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(fail)
  return (fail as unknown as { error: PgError }).error
}

/** Expands '*' rows into concrete cases. */
const expand = (rows: ReadonlyArray<Row>): Array<Row> =>
  rows.flatMap((row) => {
    const users = row.user === "*" ? ["testuser"] : [row.user]
    const gss = row.gssencmode === "*" ? ["disable", "prefer"] : [row.gssencmode]
    const modes = row.sslmode === "*" ? ["disable", "allow", "prefer", "require"] : [row.sslmode]
    const negotiations = row.sslnegotiation === "*" ? ["postgres", "direct"] : [row.sslnegotiation]
    return users.flatMap((user) =>
      gss.flatMap((gssencmode) =>
        modes.flatMap((sslmode) =>
          negotiations.map((sslnegotiation) => ({ ...row, user, gssencmode, sslmode, sslnegotiation }))
        )
      )
    )
  })

const runCase = (server: ServerInfo, row: Row) =>
  Effect.scoped(
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        PgSession.connect({
          host: server.host,
          port: server.port,
          user: row.user,
          database: "postgres",
          password: row.user === "ssluser" ? PASSWORDS.ssluser : undefined,
          sslMode: row.sslmode as PgSession.SessionOptions["sslMode"],
          sslNegotiation: row.sslnegotiation as PgSession.SessionOptions["sslNegotiation"],
          gssEncMode: row.gssencmode as PgSession.SessionOptions["gssEncMode"]
        })
      )
      const label = `${row.user} gss=${row.gssencmode} ssl=${row.sslmode} neg=${row.sslnegotiation}`
      if (row.outcome === "fail") {
        const error = failureOf(exit)
        // Refused before connecting: an invalid combination is a ConfigError.
        if (row.events.length === 0) assert.strictEqual(error.reason._tag, "ConfigError", label)
        return
      }
      assert.isTrue(Exit.isSuccess(exit), `${label}: ${Exit.isFailure(exit) ? String(exit.cause) : ""}`)
      if (Exit.isSuccess(exit)) {
        assert.strictEqual(exit.value.encrypted, row.outcome === "ssl", label)
        const { rows } = yield* exit.value.query<{ ssl: boolean }>(
          "select coalesce((select ssl from pg_stat_ssl where pid = pg_backend_pid()), false) as ssl"
        )
        assert.strictEqual(rows[0]!.ssl, row.outcome === "ssl", label)
      }
    })
  )

describe("connect: libpq's sslmode x sslnegotiation matrix", () => {
  it.live("server with TLS off", () =>
    Effect.forEach(expand(matrix.server_ssl_off), (row) => runCase(servers().noTls, row), { discard: true }))

  it.live("server with TLS on", () =>
    Effect.forEach(expand(matrix.server_ssl_on), (row) => runCase(servers().main, row), { discard: true }))
})

const base = () => ({ host: servers().main.host, port: servers().main.port, database: "postgres" })

describe("connect: certificate verification", () => {
  it.live("verify-full succeeds with the right CA for localhost and 127.0.0.1", () =>
    Effect.gen(function*() {
      const certs = servers().certs
      for (const host of ["localhost", "127.0.0.1"]) {
        const session = yield* PgSession.connect({
          ...base(),
          host,
          user: "postgres",
          sslMode: "verify-full",
          sslRootCert: certs.caCert
        })
        assert.isTrue(session.encrypted)
      }
    }))

  it.live("a wrong CA fails verify-ca, verify-full, and require with a root certificate", () =>
    Effect.gen(function*() {
      const certs = servers().certs
      for (const sslMode of ["verify-ca", "verify-full", "require"] as const) {
        const error = failureOf(
          yield* Effect.exit(PgSession.connect({ ...base(), user: "postgres", sslMode, sslRootCert: certs.otherCaCert }))
        )
        assert.strictEqual(error.reason._tag, "TlsError", sslMode)
      }
    }))

  it.live("the root certificate file is read at every connect: a replaced file takes effect (no stale TLS context)", () =>
    Effect.gen(function*() {
      const certs = servers().certs
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "pgwire-rootcert-"))
      const rootCert = Path.join(dir, "root.crt")
      const connectWith = (pem: string) =>
        Effect.gen(function*() {
          Fs.writeFileSync(rootCert, pem)
          return yield* Effect.exit(Effect.scoped(Effect.flatMap(
            PgSession.connect({ ...base(), user: "postgres", sslMode: "verify-full", sslRootCert: rootCert }),
            (session) => Effect.succeed(session.encrypted)
          )))
        })
      try {
        const right = Fs.readFileSync(certs.caCert, "utf8")
        const wrong = Fs.readFileSync(certs.otherCaCert, "utf8")
        assert.deepStrictEqual(yield* connectWith(right), Exit.succeed(true))
        assert.deepStrictEqual(yield* connectWith(right), Exit.succeed(true))
        assert.strictEqual(failureOf(yield* connectWith(wrong)).reason._tag, "TlsError")
        assert.deepStrictEqual(yield* connectWith(right), Exit.succeed(true))
        // Unparsable contents are a TlsError, not a defect.
        const broken = failureOf(yield* connectWith("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"))
        assert.strictEqual(broken.reason._tag, "TlsError")
      } finally {
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    }))

  it.live("require without a root certificate does not verify", () =>
    Effect.gen(function*() {
      const session = yield* PgSession.connect({ ...base(), user: "postgres", sslMode: "require" })
      assert.isTrue(session.encrypted)
    }))

  it.live("a server that answers 'N' under require is a TlsError, never a silent downgrade", () =>
    Effect.gen(function*() {
      const noTls = servers().noTls
      const error = failureOf(
        yield* Effect.exit(PgSession.connect({ host: noTls.host, port: noTls.port, user: "postgres", sslMode: "require" }))
      )
      assert.strictEqual(error.reason._tag, "TlsError")
    }))

  it.live("verify-full refuses a certificate for another host name; verify-ca accepts it", () =>
    Effect.gen(function*() {
      const server = yield* acquire({ name: "wrong-host", tls: true, serverCert: "wrongHost" })
      const certs = servers().certs
      const options = { host: server.host, port: server.port, user: "postgres", sslRootCert: certs.caCert }
      const error = failureOf(yield* Effect.exit(PgSession.connect({ ...options, sslMode: "verify-full" })))
      assert.strictEqual(error.reason._tag, "TlsError")
      assert.match(error.message, /wrong\.example|altnames|Hostname/i)
      const session = yield* PgSession.connect({ ...options, sslMode: "verify-ca" })
      assert.isTrue(session.encrypted)
    }), 60_000)

  it.live("an expired server certificate fails verification", () =>
    Effect.gen(function*() {
      const server = yield* acquire({ name: "expired", tls: true, serverCert: "expired" })
      const error = failureOf(
        yield* Effect.exit(
          PgSession.connect({
            host: server.host,
            port: server.port,
            user: "postgres",
            sslMode: "verify-ca",
            sslRootCert: servers().certs.caCert
          })
        )
      )
      assert.strictEqual(error.reason._tag, "TlsError")
      assert.match(error.message, /expired/i)
    }), 60_000)

  it.live("a client certificate authenticates certuser; without one it is refused", () =>
    Effect.gen(function*() {
      const certs = servers().certs
      const session = yield* PgSession.connect({
        ...base(),
        user: "certuser",
        sslMode: "verify-full",
        sslRootCert: certs.caCert,
        sslCert: certs.clientCert,
        sslKey: certs.clientKey
      })
      const { rows } = yield* session.query("select current_user as u")
      assert.deepStrictEqual(rows, [{ u: "certuser" }])
      const error = failureOf(
        yield* Effect.exit(
          PgSession.connect({ ...base(), user: "certuser", sslMode: "require", sslCert: certs.otherClientCert, sslKey: certs.otherClientKey })
        )
      )
      assert.isTrue(error.reason._tag === "ServerError" || error.reason._tag === "TlsError", error.message)
    }))

  it.live("direct TLS works with sslmode=require", () =>
    Effect.gen(function*() {
      const session = yield* PgSession.connect({ ...base(), user: "postgres", sslMode: "require", sslNegotiation: "direct" })
      assert.isTrue(session.encrypted)
    }))

  it.live("a cancel travels over TLS and works", () =>
    Effect.gen(function*() {
      const session = yield* PgSession.connect({ ...base(), user: "postgres", sslMode: "require" })
      assert.isTrue(session.encrypted)
      const fiber = yield* Effect.forkChild(session.query("select pg_sleep(30)"))
      yield* Effect.sleep(200)
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      assert.isBelow(Date.now() - started, 1000)
      const { rows } = yield* session.query("select 1 as one")
      assert.deepStrictEqual(rows, [{ one: 1 }])
    }))
})

describe("connect: SCRAM keys derived once per password and server secret", () => {
  it.live("a reconnect skips PBKDF2; a new password or a new secret derives again, a stale password fails", () =>
    Effect.gen(function*() {
      const server = yield* acquire({
        name: "scram-keys",
        hba: ["127.0.0.1/32", "::1/128"].map((a) => `host all rotator ${a} scram-sha-256`)
      })
      const target = { host: server.host, port: server.port, database: "postgres", sslMode: "disable" as const }
      const admin = yield* PgSession.connect({ ...target, user: "postgres" })
      yield* admin.query("create role rotator login password 'first secret'")
      const login = (password: string) =>
        Effect.scoped(
          Effect.flatMap(
            PgSession.connect({ ...target, user: "rotator", password }),
            (s) => s.query<{ readonly u: string }>("select current_user as u")
          )
        )
      const before = SCRAM_KEYS.misses
      for (let i = 0; i < 3; i++) assert.deepStrictEqual((yield* login("first secret")).rows, [{ u: "rotator" }])
      assert.strictEqual(SCRAM_KEYS.misses - before, 1)
      // ALTER ROLE makes a new secret with a new salt: the cached keys no longer apply.
      yield* admin.query("alter role rotator password 'second secret'")
      const stale = failureOf(yield* Effect.exit(login("first secret")))
      assert.strictEqual(stale.reason._tag, "ServerError")
      assert.strictEqual((stale.reason as { readonly code?: string }).code, "28P01")
      assert.deepStrictEqual((yield* login("second secret")).rows, [{ u: "rotator" }])
      assert.deepStrictEqual((yield* login("second secret")).rows, [{ u: "rotator" }])
      assert.strictEqual(SCRAM_KEYS.misses - before, 3)
    }), 60_000)
})

describe("connect: channel binding and require_auth", () => {
  it.live("channel_binding=require uses SCRAM-SHA-256-PLUS over TLS", () =>
    Effect.gen(function*() {
      const session = yield* PgSession.connect({
        ...base(),
        user: "scramuser",
        password: PASSWORDS.scramuser,
        sslMode: "require",
        channelBinding: "require"
      })
      assert.isTrue(session.encrypted)
    }))

  it.live("channel_binding=require refuses a plain connection, an MD5 role and cert authentication", () =>
    Effect.gen(function*() {
      const certs = servers().certs
      const cases = [
        { user: "scramuser", password: PASSWORDS.scramuser, sslMode: "disable" as const },
        { user: "md5user", password: PASSWORDS.md5user, sslMode: "require" as const },
        { user: "certuser", sslMode: "require" as const, sslCert: certs.clientCert, sslKey: certs.clientKey }
      ]
      for (const options of cases) {
        const error = failureOf(yield* Effect.exit(PgSession.connect({ ...base(), ...options, channelBinding: "require" })))
        assert.strictEqual(error.reason._tag, "AuthError", options.user)
        assert.match(error.message, /channel binding/)
      }
    }))

  it.live("require_auth refuses a method before sending the password", () =>
    Effect.gen(function*() {
      const refused = failureOf(
        yield* Effect.exit(
          PgSession.connect({ ...base(), user: "scramuser", password: PASSWORDS.scramuser, requireAuth: "md5" })
        )
      )
      assert.strictEqual(refused.reason._tag, "AuthError")
      assert.notInclude(refused.message, PASSWORDS.scramuser)
      const cleartext = failureOf(
        yield* Effect.exit(
          PgSession.connect({ ...base(), user: "passworduser", password: PASSWORDS.passworduser, requireAuth: "!password" })
        )
      )
      assert.strictEqual(cleartext.reason._tag, "AuthError")
      const ok = yield* PgSession.connect({
        ...base(),
        user: "scramuser",
        password: PASSWORDS.scramuser,
        requireAuth: "scram-sha-256"
      })
      assert.isAbove(ok.processId, 0)
      const none = failureOf(yield* Effect.exit(PgSession.connect({ ...base(), user: "postgres", requireAuth: "scram-sha-256" })))
      assert.strictEqual(none.reason._tag, "AuthError")
    }))

  it.live("invalid combinations are refused before connecting", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<Partial<PgSession.SessionOptions>> = [
        // The type refuses "require" (no GSSAPI); a connection string can still ask for it.
        { url: "gssencmode=require" },
        { sslMode: "prefer", sslNegotiation: "direct" },
        { sslMode: "require", sslRootCert: "system" },
        { requireAuth: "md5,!password" }
      ]
      for (const options of cases) {
        const error = failureOf(yield* Effect.exit(PgSession.connect({ ...base(), user: "postgres", ...options })))
        assert.strictEqual(error.reason._tag, "ConfigError", JSON.stringify(options))
      }
    }))
})

describe("connect: multiple hosts", () => {
  it.live("tries hosts in order and skips one that is down", () =>
    Effect.gen(function*() {
      const main = servers().main
      const session = yield* PgSession.connect({
        hosts: [{ host: "127.0.0.1", port: 1 }, { host: main.host, port: main.port }],
        user: "postgres",
        connectTimeout: 2000
      })
      const { rows } = yield* session.query("select inet_server_port() as port")
      assert.deepStrictEqual(rows, [{ port: main.port }])
    }))

  it.live("reports every host's failure when none connects", () =>
    Effect.gen(function*() {
      const error = failureOf(
        yield* Effect.exit(
          PgSession.connect({ hosts: [{ host: "127.0.0.1", port: 1 }, { host: "127.0.0.1", port: 2 }], user: "postgres" })
        )
      )
      assert.strictEqual(error.reason._tag, "ConnectionError")
      assert.include(error.message, ":1")
      assert.include(error.message, ":2")
    }))

  it.live("target_session_attrs picks the right server; load_balance_hosts=random shuffles", () =>
    Effect.gen(function*() {
      const [standby, readOnly] = yield* Effect.all([
        acquire({ name: "standby", standby: true }),
        acquire({ name: "read-only", settings: { default_transaction_read_only: true } })
      ], { concurrency: 2 })
      const portOf = (session: PgSession.Session) =>
        Effect.map(session.query<{ port: number }>("select inet_server_port() as port"), (r) => r.rows[0]!.port)
      const main = servers().main
      const hosts = [standby, readOnly, main].map((s) => ({ host: s.host, port: s.port }))
      const pick = (targetSessionAttrs: PgSession.TargetSessionAttrs) =>
        Effect.scoped(Effect.flatMap(PgSession.connect({ hosts, user: "postgres", targetSessionAttrs }), portOf))
      assert.strictEqual(yield* pick("any"), standby.port)
      assert.strictEqual(yield* pick("read-write"), main.port)
      assert.strictEqual(yield* pick("read-only"), standby.port)
      assert.strictEqual(yield* pick("primary"), readOnly.port)
      assert.strictEqual(yield* pick("standby"), standby.port)
      assert.strictEqual(yield* pick("prefer-standby"), standby.port)
      const noStandby = [readOnly, main].map((s) => ({ host: s.host, port: s.port }))
      const fallback = yield* Effect.scoped(
        Effect.flatMap(PgSession.connect({ hosts: noStandby, user: "postgres", targetSessionAttrs: "prefer-standby" }), portOf)
      )
      assert.strictEqual(fallback, readOnly.port)
      const error = failureOf(
        yield* Effect.exit(PgSession.connect({ hosts: noStandby, user: "postgres", targetSessionAttrs: "standby" }))
      )
      assert.match(error.message, /target_session_attrs/)
      const pair = [standby, readOnly].map((s) => ({ host: s.host, port: s.port }))
      const shuffled = yield* Effect.scoped(
        Effect.flatMap(PgSession.connect({ hosts: pair, user: "postgres", loadBalanceHosts: "random", random: () => 0 }), portOf)
      )
      assert.strictEqual(shuffled, readOnly.port)
    }), 120_000)
})

describe("connect: connection strings and the password file", () => {
  it.live("connects with a libpq URI; explicit options win over it", () =>
    Effect.gen(function*() {
      const main = servers().main
      const url = `postgres://scramuser:${encodeURIComponent(PASSWORDS.scramuser)}@${main.host}:${main.port}/no_such_db?sslmode=require&application_name=from-url`
      const session = yield* PgSession.connect({ url, database: "postgres" })
      assert.isTrue(session.encrypted)
      const { rows } = yield* session.query("select current_user as u, current_database() as d, current_setting('application_name') as a")
      assert.deepStrictEqual(rows, [{ u: "scramuser", d: "postgres", a: "from-url" }])
    }))

  it.live("connects with a keyword/value string and a multi-host URI", () =>
    Effect.gen(function*() {
      const main = servers().main
      const kv = yield* PgSession.connect({ url: `host=${main.host} port=${main.port} user=postgres dbname=postgres sslmode=disable` })
      assert.isFalse(kv.encrypted)
      const multi = yield* PgSession.connect({
        url: `postgresql://postgres@127.0.0.1:1,${main.host}:${main.port}/postgres?connect_timeout=2`
      })
      const { rows } = yield* multi.query("select inet_server_port() as port")
      assert.deepStrictEqual(rows, [{ port: main.port }])
    }))

  it.live("reads the password from the password file for the host it connects to", () =>
    Effect.gen(function*() {
      const main = servers().main
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "pgpass-"))
      const passfile = Path.join(dir, "pgpass")
      Fs.writeFileSync(passfile, `# comment\n${main.host}:${main.port}:*:scramuser:${PASSWORDS.scramuser}\n`, { mode: 0o600 })
      try {
        const session = yield* PgSession.connect({ host: main.host, port: main.port, user: "scramuser", database: "postgres", passfile })
        const { rows } = yield* session.query("select current_user as u")
        assert.deepStrictEqual(rows, [{ u: "scramuser" }])
      } finally {
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    }))

  it.live("an invalid connection string is a ConfigError naming the parameter, without the password", () =>
    Effect.gen(function*() {
      const error = failureOf(yield* Effect.exit(PgSession.connect({ url: "postgres://u:sekrit@localhost/db?sslmode=sometimes" })))
      assert.strictEqual(error.reason._tag, "ConfigError")
      assert.strictEqual((error.reason as { parameter?: string }).parameter, "sslmode")
      assert.notInclude(error.message, "sekrit")
    }))
})

describe("connect: revocation, certificate mode, key log", () => {
  const openssl = (args: ReadonlyArray<string>, cwd: string) =>
    ChildProcess.execFileSync("openssl", args as Array<string>, { cwd, stdio: "pipe" })

  it.live("a CRL that revokes the server certificate fails verification; sslcertmode=disable sends no certificate; sslkeylogfile gets the keys", () =>
    Effect.gen(function*() {
      const certs = servers().certs
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "crl-"))
      try {
        Fs.writeFileSync(Path.join(dir, "index.txt"), "")
        Fs.writeFileSync(Path.join(dir, "crlnumber"), "01\n")
        Fs.writeFileSync(
          Path.join(dir, "ca.cnf"),
          [
            "[ca]",
            "default_ca = test_ca",
            "[test_ca]",
            `database = ${Path.join(dir, "index.txt")}`,
            `crlnumber = ${Path.join(dir, "crlnumber")}`,
            `certificate = ${certs.caCert}`,
            `private_key = ${certs.caKey}`,
            "default_md = sha256",
            "default_crl_days = 30",
            ""
          ].join("\n")
        )
        openssl(["ca", "-config", "ca.cnf", "-revoke", certs.serverCert], dir)
        openssl(["ca", "-config", "ca.cnf", "-gencrl", "-out", "revoked.crl"], dir)
        const options = { ...base(), user: "postgres", sslMode: "verify-ca" as const, sslRootCert: certs.caCert }
        const revoked = failureOf(
          yield* Effect.exit(PgSession.connect({ ...options, sslCrl: Path.join(dir, "revoked.crl") }))
        )
        assert.strictEqual(revoked.reason._tag, "TlsError")
        assert.match(revoked.message, /revoked/i)
        Fs.mkdirSync(Path.join(dir, "crls"))
        Fs.copyFileSync(Path.join(dir, "revoked.crl"), Path.join(dir, "crls", "one.crl"))
        const revokedDir = failureOf(
          yield* Effect.exit(PgSession.connect({ ...options, sslCrlDir: Path.join(dir, "crls") }))
        )
        assert.strictEqual(revokedDir.reason._tag, "TlsError")

        const noCert = failureOf(
          yield* Effect.exit(
            PgSession.connect({
              ...base(),
              user: "certuser",
              sslMode: "require",
              sslCert: certs.clientCert,
              sslKey: certs.clientKey,
              sslCertMode: "disable"
            })
          )
        )
        assert.isTrue(noCert.reason._tag === "ServerError" || noCert.reason._tag === "TlsError", noCert.message)

        const keyLog = Path.join(dir, "keys.log")
        yield* Effect.scoped(PgSession.connect({ ...base(), user: "postgres", sslMode: "require", sslKeyLogFile: keyLog }))
        assert.match(Fs.readFileSync(keyLog, "utf8"), /^(CLIENT|SERVER)_[A-Z_]+ [0-9a-f]+ [0-9a-f]+$/m)
      } finally {
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    }))
})

describe("connect: bytes before the TLS handshake (CVE-2021-23222)", () => {
  /** A server that answers anything with 'S' and injected bytes; its port. */
  const injectingServer = Effect.gen(function*() {
    const server = Net.createServer((socket) => {
      socket.once("data", () => socket.write(Buffer.from("Sinjected")))
    })
    yield* Effect.acquireRelease(
      Effect.callback<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () => Effect.sync(() => server.close())
    )
    return (server.address() as Net.AddressInfo).port
  })

  it.live("an 'S' followed by more bytes is refused through lent reads too (the socket sslmode=prefer opens)", () =>
    Effect.gen(function*() {
      const port = yield* injectingServer
      const reads = new Transport.LentReads()
      const socket = yield* Transport.openSocket({ _tag: "Tcp", host: "127.0.0.1", port }, 2000, undefined, reads)
      const exit = yield* Effect.exit(Transport.exchangeEncryptionRequest(socket, StartupCodec.SSL_REQUEST, 2000, reads))
      socket.destroy()
      const error = failureOf(exit)
      assert.strictEqual(error.reason._tag, "TlsError")
      assert.match(error.message, /received 8 unexpected bytes/)
    }))

  it.live("an 'S' followed by more bytes is refused, never read as if it came over TLS", () =>
    Effect.gen(function*() {
      const port = yield* injectingServer
      const error = failureOf(
        yield* Effect.exit(PgSession.connect({ host: "127.0.0.1", port, user: "postgres", sslMode: "require", connectTimeout: 2000 }))
      )
      assert.strictEqual(error.reason._tag, "TlsError")
      assert.match(error.message, /unexpected bytes/)
    }))
})
