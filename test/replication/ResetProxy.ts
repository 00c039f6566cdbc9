/**
 * A loopback TCP proxy in front of a real server that can reset every
 * connection through it at once (RST to both ends, as a dropped NAT entry or
 * a restarted load balancer does), for the replication fault tests.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"

/** A running proxy. */
export interface ResetProxy {
  readonly port: number
  /** Resets every open connection through the proxy (both sockets); new connections are accepted as before. */
  readonly reset: Effect.Effect<number>
}

/** A proxy to `127.0.0.1:target` for the Scope. */
export const make = (target: number): Effect.Effect<ResetProxy, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ readonly proxy: ResetProxy; readonly server: Net.Server; readonly sockets: Set<Net.Socket> }>(
      (resume) => {
        const sockets = new Set<Net.Socket>()
        const server = Net.createServer((client) => {
          const upstream = Net.connect(target, "127.0.0.1")
          sockets.add(client).add(upstream)
          client.pipe(upstream)
          upstream.pipe(client)
          const both = () => {
            sockets.delete(client)
            sockets.delete(upstream)
            client.destroy()
            upstream.destroy()
          }
          client.on("error", both).on("close", both)
          upstream.on("error", both).on("close", both)
        })
        server.listen(0, "127.0.0.1", () => {
          const reset = Effect.sync(() => {
            const n = sockets.size / 2
            for (const s of [...sockets]) s.resetAndDestroy()
            sockets.clear()
            return n
          })
          resume(Effect.succeed({ proxy: { port: (server.address() as Net.AddressInfo).port, reset }, server, sockets }))
        })
      }
    ),
    ({ server, sockets }) =>
      Effect.sync(() => {
        for (const s of sockets) s.destroy()
        server.close()
      })
  ).pipe(Effect.map(({ proxy }) => proxy))
