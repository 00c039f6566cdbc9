/**
 * `PgServer`: any Effect program becomes a PostgreSQL-wire server that psql,
 * pgbench, libpq, node-postgres, postgres.js and this library's client connect
 * to.
 *
 * **Details**
 *
 * - `serve` listens on TCP and/or Unix-domain sockets (`.s.PGSQL.<port>`) for
 *   the life of its Scope; `handle` serves one already-open duplex (in-memory
 *   tests, a socket accepted elsewhere).
 * - One Scope per connection: socket, TLS, statements, portals and the
 *   handler's resources close with it. One connection's fault never reaches
 *   the listener or another connection.
 * - The engine owns the protocol (start-up, authentication, ReadyForQuery
 *   accounting, discard until Sync, portal suspension, COPY, cancellation);
 *   the `Handler` only produces outcomes (see `Handler.ts`).
 * - Over `maxConnections` a new connection is answered FATAL 53300 and closed
 *   (after its start-up; past `maxConnections` such start-ups at once, before
 *   it sends anything).
 *   `shutdown("smart")` stops accepting and waits for the sessions to end;
 *   `shutdown("fast")` sends FATAL 57P01 to each and closes them.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import type { Duplex } from "node:stream"
import * as Tls from "node:tls"
import { certificateHashForChannelBinding } from "../auth/ChannelBinding.ts"
import { ConnectionError, PgError } from "../errors/PgError.ts"
import { unixSocketPath } from "../transport/Transport.ts"
import { Registry } from "./Cancel.ts"
import * as Connection from "./Connection.ts"
import type { Session } from "./Handler.ts"
import { DEFAULT_MAX_CONNECTIONS, type Listen, type ServeOptions, type TlsOptions } from "./Options.ts"
import * as ServerError from "./ServerError.ts"

export * from "./Handler.ts"
export { Auth, type AuthMethod, type Limits, type Listen, type ServeOptions, type StartupInfo, type Takeover, type TlsOptions } from "./Options.ts"
export * as Errors from "./ServerError.ts"
export * as Rows from "./SchemaRows.ts"
export * as Catalog from "./Catalog.ts"

/**
 * Where a server listens.
 *
 * @since 0.1.0
 */
export type Address =
  | { readonly _tag: "Tcp"; readonly host: string; readonly port: number }
  | { readonly _tag: "Unix"; readonly path: string; readonly directory: string; readonly port: number }

/**
 * A listening server.
 *
 * @since 0.1.0
 */
export interface RunningServer {
  /** The first (or only) address listened on. */
  readonly address: Address
  /** Every address listened on, in the order of `listen`. */
  readonly addresses: ReadonlyArray<Address>
  /** Connections being served now (start-up included). */
  readonly connections: Effect.Effect<number>
  /** Stops accepting; "smart" waits for the sessions to end, "fast" ends them with FATAL 57P01. */
  readonly shutdown: (mode: "smart" | "fast") => Effect.Effect<void>
}

/**
 * The running server as a service (`layer`).
 *
 * @since 0.1.0
 */
export class Server extends Context.Service<Server, RunningServer>()("effect-pgwire/server/PgServer") {}

const makeShared = (tls: TlsOptions | undefined): Connection.Shared => {
  if (tls === undefined) return { registry: new Registry(), tls: undefined, certificateHash: undefined, live: new Set() }
  const pem = (v: string | Uint8Array): string | Buffer => (typeof v === "string" ? v : Buffer.from(v))
  const secureContext = Tls.createSecureContext({
    key: pem(tls.key),
    cert: pem(tls.cert),
    ca: tls.ca === undefined ? undefined : pem(tls.ca)
  })
  const der = new Crypto.X509Certificate(pem(tls.cert)).raw
  const hash = certificateHashForChannelBinding(new Uint8Array(der))
  return {
    registry: new Registry(),
    tls: {
      secureContext,
      requestCert: tls.requestClientCert === true,
      rejectUnauthorized: false,
      ALPNCallback: ({ protocols }) => (protocols.includes("postgresql") ? "postgresql" : undefined)
    },
    certificateHash: Result.isSuccess(hash) ? hash.success : undefined,
    live: new Set()
  }
}

/**
 * Serves one already-open duplex until it closes (in-memory tests, a socket
 * accepted elsewhere). Never fails.
 *
 * @since 0.1.0
 */
export const handle = <R>(socket: Duplex, options: ServeOptions<R>): Effect.Effect<void, never, Exclude<R, Session>> =>
  Connection.run(socket, options, makeShared(options.tls))

const listenError = (message: string, cause?: unknown) =>
  new PgError({ reason: new ConnectionError({ message, cause }) })

/**
 * Listens until the Scope closes (then as a fast shutdown).
 *
 * @since 0.1.0
 */
export const serve = <R>(options: ServeOptions<R>): Effect.Effect<RunningServer, PgError, Scope.Scope | Exclude<R, Session>> =>
  Effect.gen(function*() {
    const shared = makeShared(options.tls)
    const fibers = yield* FiberSet.make()
    const runFork = yield* FiberSet.runtime(fibers)<Exclude<R, Session>>()
    const maxConnections = options.limits?.maxConnections ?? DEFAULT_MAX_CONNECTIONS
    let count = 0
    let refusing = 0
    const listens: ReadonlyArray<Listen> = options.listen === undefined
      ? [{ port: 0 }]
      : Array.isArray(options.listen)
      ? options.listen
      : [options.listen as Listen]
    if (listens.length === 0) return yield* Effect.fail(listenError("nothing to listen on: listen is empty"))
    const accept = (socket: Net.Socket) => {
      socket.setKeepAlive(true, 60_000)
      socket.on("error", () => {})
      if (count >= maxConnections) {
        // Over the limit a start-up still runs (SSLRequest answered, the refusal in the client's protocol), but for
        // at most `maxConnections` connections at once: past them one is refused before it sends a byte, as by
        // PostgreSQL's postmaster with no child slot left, so silent clients cannot pile up for the start-up timeout.
        if (refusing >= maxConnections) {
          Connection.refuseAtOnce(socket, ServerError.tooManyConnections())
          return
        }
        refusing++
        runFork(Effect.ensuring(
          Connection.run(socket, options, shared, ServerError.tooManyConnections()),
          Effect.sync(() => refusing--)
        ))
        return
      }
      count++
      runFork(Effect.ensuring(Connection.run(socket, options, shared), Effect.sync(() => count--)))
    }
    const servers: Array<Net.Server> = []
    // close() waits for every connection; its callback is not what shutdown awaits.
    const stopListening = Effect.sync(() => {
      for (const server of servers) if (server.listening) server.close()
    })
    // Listening on several addresses: the ones already open close if a later one fails.
    yield* Effect.addFinalizer(() => stopListening)
    const listenOn = (listen: Listen) => Effect.callback<Address, PgError>((resume) => {
      const server = Net.createServer({ noDelay: true, pauseOnConnect: false }, accept)
      servers.push(server)
      const onError = (cause: Error) => resume(Effect.fail(listenError(`could not listen: ${cause.message}`, cause)))
      server.once("error", onError)
      if ("unixDirectory" in listen) {
        const path = unixSocketPath(listen.unixDirectory, listen.port)
        try {
          Fs.rmSync(path, { force: true })
        } catch {
          // Listening reports the real problem.
        }
        server.listen(path, () => {
          server.off("error", onError)
          resume(Effect.succeed({ _tag: "Unix", path, directory: listen.unixDirectory, port: listen.port }))
        })
      } else {
        server.listen(listen.port, listen.host ?? "127.0.0.1", () => {
          server.off("error", onError)
          const a = server.address() as Net.AddressInfo
          resume(Effect.succeed({ _tag: "Tcp", host: a.address, port: a.port }))
        })
      }
    })
    const addresses = yield* Effect.forEach(listens, listenOn)
    const shutdown = (mode: "smart" | "fast") =>
      Effect.gen(function*() {
        yield* stopListening
        if (mode === "fast") {
          for (const live of [...shared.live]) live.terminate(ServerError.adminShutdown())
        }
        yield* FiberSet.awaitEmpty(fibers)
      })
    yield* Effect.addFinalizer(() => shutdown("fast"))
    return { address: addresses[0]!, addresses, connections: Effect.sync(() => count), shutdown }
  })

/**
 * `serve` as a Layer of `Server`.
 *
 * @since 0.1.0
 */
export const layer = <R>(options: ServeOptions<R>): Layer.Layer<Server, PgError, Exclude<R, Session>> =>
  Layer.effect(Server, serve(options))
