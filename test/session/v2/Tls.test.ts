/**
 * Protocol 2.0 over TLS: a PostgreSQL 13 started with TLS on (SSLRequest before the 2.0 StartupPacket, the
 * `sslmode` rules as for 3.x), the cancel connection encrypted too.
 */
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as PgSession from "../../../src/session/Session.ts"
import { TestServer } from "../../support/EmbeddedPostgres.ts"
import { PASSWORDS } from "../../support/Servers.ts"
import { reasonOf } from "../../support/Sessions.ts"

it.layer(TestServer.layer({ kind: "pg13", tls: true, name: "v2-tls" }), { excludeTestServices: true, timeout: 120_000 })("protocol 2.0 over TLS", (it) => {
  it.effect("sslmode require and verify-full encrypt the session; queries, md5 and cancel work", () =>
    Effect.gen(function*() {
      const server = yield* TestServer
      const base = { host: server.host, port: server.port, user: "md5user", password: PASSWORDS.md5user, database: "postgres", protocolVersion: "2.0" } as const
      const session = yield* PgSession.connect({ ...base, sslMode: "require" })
      assert.isTrue(session.encrypted)
      assert.deepStrictEqual((yield* session.query("select ssl from pg_stat_ssl where pid = pg_backend_pid()")).rows, [{ ssl: true }])
      const fiber = yield* Effect.forkChild(session.query("select pg_sleep(10)"))
      yield* Effect.sleep(150)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual((yield* session.query("select 1 as one")).rows, [{ one: 1 }])
      const verified = yield* PgSession.connect({ ...base, host: "localhost", sslMode: "verify-full", sslRootCert: server.certs!.caCert })
      assert.isTrue(verified.encrypted)
      const wrongCa = reasonOf(yield* Effect.exit(PgSession.connect({ ...base, sslMode: "verify-full", sslRootCert: server.certs!.otherCaCert })))
      assert.strictEqual(wrongCa._tag, "TlsError")
    }))
})
