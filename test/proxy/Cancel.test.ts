/**
 * Cancellation through the proxy: each client has its own key, and a cancel
 * reaches only the statement that client is running at that moment.
 */
import { assert, describe, it } from "@effect/vitest"
import * as net from "node:net"
import pg from "pg"
import { upstreamOf, withProxy } from "./Support.ts"

/** Sends a CancelRequest (protocol 3.0 key) and waits for the proxy to close the connection. */
const sendCancel = (port: number, processId: number, secretKey: number): Promise<void> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => {
      const frame = Buffer.alloc(16)
      frame.writeInt32BE(16, 0)
      frame.writeInt32BE(80877102, 4)
      frame.writeInt32BE(processId, 8)
      frame.writeInt32BE(secretKey, 12)
      socket.end(frame)
    })
    socket.on("close", () => resolve())
    socket.on("error", () => resolve())
  })

const connect = async (port: number) => {
  const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" })
  await c.connect()
  return c as InstanceType<typeof pg.Client> & { processID: number; secretKey: number }
}

describe("PgProxy cancellation", () => {
  it("100 concurrent cancels from one client while another runs statements on the same upstream: none hits the other", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 1 }) }, async ({ port, proxy }) => {
      const a = await connect(port)
      const b = await connect(port)
      let aCanceled = 0
      let bErrors = 0
      let bDone = 0
      let stop = false
      const aLoop = (async () => {
        while (!stop) {
          await a.query("select pg_sleep(0.02)").catch((e: { code?: string }) => {
            if (e.code === "57014") aCanceled++
            else throw e
          })
        }
      })()
      const bLoop = (async () => {
        for (let i = 0; i < 150; i++) {
          const r = await b.query("select pg_sleep(0.002), $1::int as i", [i]).catch((e: { code?: string }) => {
            bErrors++
            return { rows: [{ i: -1, code: e.code }] }
          })
          if (r.rows[0]?.i === i) bDone++
        }
      })()
      await Promise.all(Array.from({ length: 100 }, (_, k) =>
        new Promise<void>((resolve) => setTimeout(() => resolve(sendCancel(port, a.processID, a.secretKey)), k * 5))
      ))
      await bLoop
      stop = true
      await aLoop
      assert.strictEqual(bErrors, 0)
      assert.strictEqual(bDone, 150)
      // The cancels did reach A's own statements.
      assert.isAbove(aCanceled, 0)
      const totals = await import("effect/Effect").then((Effect) => Effect.runPromise(proxy.totals))
      assert.strictEqual(totals.canceled + totals.cancelsDropped, 100)
      await a.end()
      await b.end()
    })
  }, 60_000)

  it("a cancel with a wrong key, or for a client with nothing running, does nothing", async () => {
    await withProxy({ upstream: upstreamOf({ maxSize: 1 }) }, async ({ port }) => {
      const a = await connect(port)
      await sendCancel(port, a.processID, a.secretKey ^ 1)
      await sendCancel(port, a.processID, a.secretKey)
      const r = await a.query("select pg_sleep(0.2), 1 as n")
      assert.strictEqual(r.rows[0]?.n, 1)
      await a.end()
    })
  })
})
