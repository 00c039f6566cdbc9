/**
 * A loopback TCP proxy between a client and a real server that can stop
 * forwarding while keeping both sockets open (a stalled network path, a dead
 * NAT entry): the faults a scripted server cannot show on a real PostgreSQL.
 */
import * as Effect from "effect/Effect"
import type { Buffer } from "node:buffer"
import * as Net from "node:net"
import type * as Scope from "effect/Scope"

/** A running proxy. */
export interface FaultProxy {
  readonly port: number
  /** From now on nothing is forwarded in either direction; the sockets stay open. */
  readonly blackhole: Effect.Effect<void>
  /** Connections accepted so far. */
  readonly accepted: () => number
}

/** A proxy to `127.0.0.1:port` for the Scope. */
export const make = (port: number): Effect.Effect<FaultProxy, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ readonly proxy: FaultProxy; readonly close: () => void }>((resume) => {
      let holes = false
      let accepted = 0
      const sockets = new Set<Net.Socket>()
      const forward = (from: Net.Socket, to: Net.Socket) =>
        from.on("data", (chunk: Buffer) => {
          if (!holes) to.write(chunk)
        })
      const server = Net.createServer((client) => {
        accepted++
        const upstream = Net.connect(port, "127.0.0.1")
        sockets.add(client).add(upstream)
        forward(client, upstream)
        forward(upstream, client)
        const closeBoth = () => {
          client.destroy()
          upstream.destroy()
        }
        client.on("error", closeBoth).on("close", () => !holes && upstream.end())
        upstream.on("error", closeBoth).on("close", () => !holes && client.end())
      })
      server.listen(0, "127.0.0.1", () => {
        const proxy: FaultProxy = {
          port: (server.address() as Net.AddressInfo).port,
          blackhole: Effect.sync(() => {
            holes = true
          }),
          accepted: () => accepted
        }
        resume(Effect.succeed({
          proxy,
          close: () => {
            for (const s of sockets) s.destroy()
            server.close()
          }
        }))
      })
    }),
    ({ close }) => Effect.sync(close)
  ).pipe(Effect.map(({ proxy }) => proxy))
