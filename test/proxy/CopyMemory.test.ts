/**
 * A COPY FROM STDIN through PgProxy faster than the server takes it: the
 * proxy must pass the server's pace back to the client (stop reading it)
 * instead of holding what the server has not read yet. The server's side is
 * a forwarder that can stop reading, so the pace is the test's.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as net from "node:net"
import pg from "pg"
import type * as Backend from "../../src/protocol/Backend.ts"
import * as Frontend from "../../src/protocol/Frontend.ts"
import { concat, encodeFrontend, startup } from "../server/Support.ts"
import { servers } from "../support/Servers.ts"
import { RawClient, upstreamOf, waitUntil, withProxy } from "./Support.ts"

const TABLE = `proxy_copy_pace_${process.pid}`

const direct = async (sql: string) => {
  const client = new pg.Client({ host: servers().main.host, port: servers().main.port, user: "postgres", database: "postgres" })
  await client.connect()
  try {
    return await client.query(sql)
  } finally {
    await client.end()
  }
}

/** A forwarder to the server whose proxy-to-server direction can stop reading. */
class SlowGate {
  server: net.Server | undefined
  readonly fromProxy: Array<net.Socket> = []
  readonly sockets: Array<net.Socket> = []
  port = 0
  async open(): Promise<void> {
    this.server = net.createServer((proxySide) => {
      const serverSide = net.connect({ host: servers().main.host, port: servers().main.port })
      this.fromProxy.push(proxySide)
      this.sockets.push(proxySide, serverSide)
      proxySide.pipe(serverSide)
      serverSide.pipe(proxySide)
      const drop = () => {
        proxySide.destroy()
        serverSide.destroy()
      }
      proxySide.on("error", drop).on("close", drop)
      serverSide.on("error", drop).on("close", drop)
    })
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve))
    this.port = (this.server.address() as net.AddressInfo).port
  }
  hold(): void {
    for (const s of this.fromProxy) s.pause()
  }
  release(): void {
    for (const s of this.fromProxy) s.resume()
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve())
  }
}

const MIB = 1024 * 1024

describe("PgProxy COPY pace", () => {
  it("COPY FROM STDIN faster than the server: the proxy stops reading the client instead of buffering 128 MB", async () => {
    const gate = new SlowGate()
    await gate.open()
    await direct(`drop table if exists ${TABLE}; create unlogged table ${TABLE} (t text)`)
    try {
      await withProxy({ upstream: upstreamOf({ host: "127.0.0.1", port: gate.port, maxSize: 1 }) }, async ({ port, proxy }) => {
        const c = await RawClient.open(port)
        c.send(startup("postgres", undefined, { database: "postgres" }))
        await c.until("ReadyForQuery")
        const from = c.messages.length
        c.send(encodeFrontend({ _tag: "Query", query: `copy ${TABLE} from stdin` }))
        await c.waitFor(() => c.messages.slice(from).some((m: Backend.BackendMessage) => m._tag === "CopyInResponse"), 10_000)
        const received = async () => (await Effect.runPromise(proxy.totals)).received
        const before = await received()
        gate.hold()
        // 128 frames of 1 MiB (1024 lines of 1 KiB), written at once: the client's socket keeps what is not read.
        const line = `${"x".repeat(1023)}\n`
        const frame = encodeFrontend({ _tag: "CopyData", data: new TextEncoder().encode(line.repeat(1024)) })
        for (let i = 0; i < 128; i++) c.socket.write(frame)
        // Let the proxy read what it will: until its count has not moved for half a second.
        let last = -1
        let still = 0
        await waitUntil(async () => {
          const now = await received()
          still = now === last ? still + 1 : 0
          last = now
          return still >= 50
        }, 20_000).catch(() => {})
        await new Promise((resolve) => setTimeout(resolve, 100))
        const held = (await received()) - before
        // The kernel's socket buffers on both sides of the proxy take some: far less than what was sent.
        assert.isBelow(held, 48 * MIB, `the proxy read ${(held / MIB).toFixed(1)} MiB the server had not taken`)
        gate.release()
        const done = await (async () => {
          const at = c.messages.length
          c.send(concat(Frontend.COPY_DONE))
          await c.waitFor(() => c.messages.slice(at).some((m) => m._tag === "ReadyForQuery"), 30_000)
          return c.messages.slice(at)
        })()
        assert.deepStrictEqual(done.filter((m) => m._tag === "CommandComplete"), [{ _tag: "CommandComplete", tag: `COPY ${128 * 1024}` }])
        c.close()
      })
    } finally {
      await gate.close()
      await direct(`drop table if exists ${TABLE}`)
    }
  }, 60_000)
})
