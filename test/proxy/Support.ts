/**
 * Helpers of the proxy's tests: a proxy in front of the shared PostgreSQL 18
 * for the length of a test, and the client programs run through it.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as PgProxy from "../../src/proxy/PgProxy.ts"
import { servers } from "../support/Servers.ts"

export { codeOf, psql, RawClient, run, waitUntil } from "../server/Support.ts"

/** The shared PostgreSQL 18 as the proxy's upstream, as the superuser (trust over TCP). */
export const upstreamOf = (extra: Partial<PgProxy.ProxyOptions["upstream"]> = {}): PgProxy.ProxyOptions["upstream"] => ({
  host: servers().main.host,
  port: servers().main.port,
  user: "postgres",
  database: "postgres",
  sslMode: "disable",
  maxSize: 4,
  ...extra
})

export interface RunningProxy {
  readonly proxy: PgProxy.RunningProxy
  readonly port: number
  readonly close: () => Promise<void>
}

/** Starts a proxy on a free port; `close` shuts it down. */
export const startProxy = async (options: Partial<PgProxy.ProxyOptions> = {}): Promise<RunningProxy> => {
  const scope = Effect.runSync(Scope.make())
  const proxy = await Effect.runPromise(
    Scope.provide(PgProxy.serve({ upstream: upstreamOf(), ...options }), scope)
  )
  const port = proxy.address.port
  return { proxy, port, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/** Runs `f` with a proxy, closing it afterwards. */
export const withProxy = async <A>(options: Partial<PgProxy.ProxyOptions>, f: (p: RunningProxy) => Promise<A>): Promise<A> => {
  const p = await startProxy(options)
  try {
    return await f(p)
  } finally {
    await p.close()
  }
}

/** psql through the proxy as `postgres` on database `postgres`. */
export const psqlArgs = (port: number, extra = ""): string =>
  `host=127.0.0.1 port=${port} user=postgres dbname=postgres sslmode=disable ${extra}`
