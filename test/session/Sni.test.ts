/**
 * TLS Server Name Indication as libpq sends it (`fe-secure-openssl.c`): the host
 * name, never a host that is an address literal (digits and dots, or a colon),
 * even one that only `inet_aton` reads as an address (`127.1`). A relay in front
 * of the real server keeps what the client sent before the server's answers, so
 * the test reads the ClientHello the session sent.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Buffer } from "node:buffer"
import * as Net from "node:net"
import * as PgSession from "../../src/session/Session.ts"
import { servers } from "../support/Servers.ts"

/** A TCP relay to `port` that keeps every byte the client sent. */
const relay = (port: number) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly port: number; readonly sent: () => Buffer; readonly server: Net.Server }>((resume) => {
      const chunks: Array<Buffer> = []
      const server = Net.createServer((client) => {
        const upstream = Net.connect(port, "127.0.0.1")
        client.on("data", (chunk: Buffer) => chunks.push(chunk))
        client.pipe(upstream).pipe(client)
        client.on("error", () => upstream.destroy())
        upstream.on("error", () => client.destroy())
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address() as Net.AddressInfo
        resume(Effect.succeed({ port: address.port, sent: () => Buffer.concat(chunks), server }))
      })
    }),
    ({ server }) => Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
  )

const sentByTls = (host: string, sslSni?: boolean) =>
  Effect.gen(function*() {
    const main = servers().main
    const through = yield* relay(main.port)
    yield* Effect.scoped(
      Effect.gen(function*() {
        const session = yield* PgSession.connect({
          host,
          port: through.port,
          user: "postgres",
          database: "postgres",
          sslMode: "require",
          ...(sslSni === undefined ? {} : { sslSni })
        })
        assert.isTrue(session.encrypted)
        yield* session.query("select 1")
      })
    )
    return through.sent().toString("latin1")
  })

/** Whether the client's bytes carry `name` (in clear: the ClientHello's server_name). */
const carries = (sent: string, name: string): boolean => sent.includes(name)

describe("TLS SNI", () => {
  it.live("sends the host name", () =>
    Effect.gen(function*() {
      assert.isTrue(carries(yield* sentByTls("localhost"), "localhost"))
    }))

  it.live("sends none for a host that libpq reads as an address (127.1, 127.0.0.1)", () =>
    Effect.gen(function*() {
      assert.isFalse(carries(yield* sentByTls("127.1"), "127.1"))
      assert.isFalse(carries(yield* sentByTls("127.0.0.1"), "127.0.0.1"))
    }))

  it.live("sends none with sslsni=0", () =>
    Effect.gen(function*() {
      assert.isFalse(carries(yield* sentByTls("localhost", false), "localhost"))
    }))
})
