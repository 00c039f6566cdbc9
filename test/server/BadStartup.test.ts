/**
 * Start-up under bad or unusual bytes, answered as PostgreSQL 18 answers the
 * same bytes (each case was sent to a real PostgreSQL 18 first).
 */
import { assert, describe, it } from "@effect/vitest"
import { handler, makeProbe } from "./ScriptedHandler.ts"
import * as Effect from "effect/Effect"
import { codeOf, concat, RawClient, severityOf, startup, waitUntil, withServer } from "./Support.ts"
import { cstring, errorIn, exchange, GSSENC_REQUEST, int32, SSL_REQUEST } from "./RawBytes.ts"

describe("PgServer start-up under bad input", () => {
  it("refuses a second SSLRequest or GSSENCRequest, and protocols 4.0, 2.0 and 1.0, with FATAL 0A000 as an unsupported protocol", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      for (const [second, version] of [[SSL_REQUEST, "1234.5679"], [GSSENC_REQUEST, "1234.5680"]] as const) {
        const got = await exchange(port, [second, second])
        assert.strictEqual(got[0], 0x4e, "the first request is answered 'N'")
        const error = errorIn(got.subarray(1))
        assert.strictEqual(error.code, "0A000", `after ${Buffer.from(got).toString("hex")}`)
        assert.strictEqual(error.severity, "FATAL")
        assert.include(error.message, version)
      }
      // SSLRequest then GSSENCRequest (each refused once) is allowed: 'N', 'N', then the session.
      const c = await RawClient.open(port)
      c.expectByte().send(SSL_REQUEST)
      await c.waitFor(() => c.bytes.length === 1)
      c.expectByte().send(GSSENC_REQUEST)
      await c.waitFor(() => c.bytes.length === 2)
      assert.deepStrictEqual(c.bytes, [0x4e, 0x4e])
      c.send(startup())
      await c.until("ReadyForQuery")
      assert.isFalse(c.closed)
      c.close()

      const v4 = errorIn(await exchange(port, [startup("tester", 4 << 16)]))
      assert.deepStrictEqual([v4.severity, v4.code], ["FATAL", "0A000"])
      // A 2.0 client is answered in the 2.0 error format ('E', a text, NUL), byte for byte as PostgreSQL 18.
      for (const major of [1, 2]) {
        const v2 = await exchange(port, [concat(int32(21), int32(major << 16), cstring("user"), cstring("tester"), new Uint8Array([0]))])
        assert.strictEqual(
          Buffer.from(v2).toString("latin1"),
          `EFATAL:  unsupported frontend protocol ${major}.0: server supports 3.0 to 3.2\n\0`
        )
      }
    })
  })

  it("holds at most maxConnections start-ups over the limit: past them a connection is refused FATAL 53300 before it sends a byte", async () => {
    await withServer({ handler: handler(makeProbe()), limits: { maxConnections: 1 } }, async ({ server, port }) => {
      const a = await RawClient.open(port)
      a.send(startup())
      await a.until("ReadyForQuery")
      // B is over the limit and says nothing yet: like PostgreSQL, the server waits for its start-up to refuse it.
      const b = await RawClient.open(port)
      // C would be one more silent connection held for the whole start-up timeout: refused at once.
      const c = await RawClient.open(port)
      await c.untilClosed(10_000)
      assert.deepStrictEqual(c.tags(), ["ErrorResponse"])
      assert.strictEqual(codeOf(c.messages[0]), "53300")
      assert.strictEqual(severityOf(c.messages[0]), "FATAL")
      assert.isFalse(b.closed)
      b.send(startup())
      await b.untilClosed()
      assert.strictEqual(codeOf(b.messages[0]), "53300")
      a.close()
      // The slots come back: a new client is served.
      await waitUntil(async () => (await Effect.runPromise(server.connections)) === 0)
      const d = await RawClient.open(port)
      d.send(startup())
      await d.until("ReadyForQuery")
      assert.isFalse(d.closed)
      d.close()
    })
  })
})
