/**
 * Opening and closing the byte stream a session runs over: TCP or a Unix-domain
 * socket, optionally upgraded to TLS.
 *
 * This module knows nothing of PostgreSQL messages beyond the one-byte answer
 * to SSLRequest/GSSENCRequest: it opens a `node:net` socket (or `node:tls` for
 * direct TLS), hands it over, and closes it. It wraps Node's sockets directly
 * (rather than through a generic socket abstraction) because libpq's TLS
 * modes need full control of the handshake: verification without host-name
 * checks (`verify-ca`), SNI on or off, ALPN, the peer certificate for channel
 * binding, and detection of bytes sent before the handshake.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { ConnectionError, PgError, TimeoutError, TlsError } from "../errors/PgError.ts"

/**
 * Where to connect: a TCP host and port, or a Unix-domain socket path.
 *
 * @since 0.1.0
 */
export type Endpoint =
  | { readonly _tag: "Tcp"; readonly host: string; readonly port: number }
  | { readonly _tag: "Unix"; readonly path: string; readonly port: number }

/**
 * The Unix-domain socket path libpq derives from a socket directory and a port
 * (`<dir>/.s.PGSQL.<port>`).
 *
 * @since 0.1.0
 */
export const unixSocketPath = (directory: string, port: number): string =>
  `${directory.replace(/\/+$/, "")}/.s.PGSQL.${port}`

/**
 * libpq treats a host that starts with a slash (or `@` for an abstract socket) as a
 * Unix socket directory.
 *
 * @since 0.1.0
 */
export const isUnixHost = (host: string): boolean => host.startsWith("/") || host.startsWith("@")

/**
 * Builds the endpoint for a host (name, address, or socket directory) and port.
 *
 * @since 0.1.0
 */
export const endpoint = (host: string, port: number): Endpoint =>
  isUnixHost(host)
    ? { _tag: "Unix", path: host.startsWith("@") ? `\0${host.slice(1)}/.s.PGSQL.${port}` : unixSocketPath(host, port), port }
    : { _tag: "Tcp", host, port }

/**
 * A human-readable form of an endpoint, for errors and traces.
 *
 * @since 0.1.0
 */
export const describe = (e: Endpoint): string =>
  e._tag === "Tcp" ? (e.host.includes(":") ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`) : e.path

/**
 * TCP keepalive settings (libpq `keepalives`, `keepalives_idle`).
 *
 * @since 0.1.0
 */
export interface KeepAlive {
  readonly enabled: boolean
  readonly idleMillis: number
}

/** Node's default when the configuration says nothing: libpq leaves the OS default; we enable keepalive after 60 s idle. */
export const DEFAULT_KEEPALIVE: KeepAlive = { enabled: true, idleMillis: 60_000 }

/** Size of the buffer a socket with lent reads reads into (Node's own read size). */
export const LENT_READ_BUFFER_BYTES = 65_536

/**
 * Reads of a socket in clear into one buffer that every read reuses (`net.connect`'s `onread`): no Readable-stream
 * machinery and no allocation per read. Whoever takes the bytes (`onBytes`) must not keep views of them once it
 * returns: the next read overwrites them.
 *
 * @since 0.1.0
 */
export class LentReads {
  /** A plain Uint8Array, not a Buffer: `slice` of what is lent must copy (`Buffer#slice` makes a view). */
  readonly buffer: Uint8Array = new Uint8Array(LENT_READ_BUFFER_BYTES)
  onBytes: ((bytes: Uint8Array, length: number) => void) | undefined = undefined
  /** Node's `onread.callback` (false would pause the socket). */
  readonly callback = (length: number, bytes: Uint8Array): boolean => {
    this.onBytes?.(bytes, length)
    return true
  }
}

/**
 * Opens a plain socket to the endpoint within `timeoutMillis` (0 = no limit).
 *
 * **Details**
 *
 * The returned socket is paused-free and has no listeners but the ones Node
 * installs; the caller owns it (and must destroy it). `noDelay` is set: the
 * protocol writes whole requests at once, so Nagle's algorithm only adds latency.
 * Given `reads`, the socket reads into `reads.buffer` and hands the bytes to
 * `reads.onBytes` (it emits no 'data'). TLS can still be started over it: the
 * TLS socket made over it reads the raw bytes itself and emits 'data' as usual.
 *
 * @since 0.1.0
 */
export const openSocket = (
  target: Endpoint,
  timeoutMillis: number,
  keepAlive: KeepAlive = DEFAULT_KEEPALIVE,
  reads?: LentReads
): Effect.Effect<Net.Socket, PgError> =>
  Effect.callback<Net.Socket, PgError>((resume) => {
    const onread: Net.OnReadOpts | undefined = reads === undefined
      ? undefined
      : { buffer: reads.buffer, callback: reads.callback }
    const options: Net.NetConnectOpts = target._tag === "Tcp"
      ? { host: target.host, port: target.port, noDelay: true }
      : { path: target.path }
    const socket = Net.createConnection(onread === undefined ? options : { ...options, onread })
    let timer: ReturnType<typeof setTimeout> | undefined
    const cleanup = () => {
      if (timer !== undefined) clearTimeout(timer)
      socket.off("connect", onConnect)
      socket.off("error", onError)
    }
    const onConnect = () => {
      cleanup()
      if (keepAlive.enabled) socket.setKeepAlive(true, keepAlive.idleMillis)
      resume(Effect.succeed(socket))
    }
    const onError = (cause: Error) => {
      cleanup()
      socket.destroy()
      resume(Effect.fail(
        new PgError({
          reason: new ConnectionError({ message: `could not connect to ${describe(target)}: ${cause.message}`, cause })
        })
      ))
    }
    socket.once("connect", onConnect)
    socket.once("error", onError)
    if (timeoutMillis > 0) {
      timer = setTimeout(() => {
        cleanup()
        socket.destroy()
        resume(Effect.fail(
          new PgError({
            reason: new TimeoutError({
              message: `connecting to ${describe(target)} timed out after ${timeoutMillis} ms`,
              operation: "connect",
              timeoutMillis
            })
          })
        ))
      }, timeoutMillis)
    }
    return Effect.sync(() => {
      cleanup()
      socket.destroy()
    })
  })

/**
 * Writes `request` and reads the server's one-byte answer (SSLRequest,
 * GSSENCRequest: 'S', 'N', or 'G'), refusing any byte that follows it before
 * the handshake starts (CVE-2021-23222: a man in the middle could inject data
 * that would be read as if it came over TLS).
 *
 * @since 0.1.0
 */
export const exchangeEncryptionRequest = (
  socket: Net.Socket,
  request: Uint8Array,
  timeoutMillis: number,
  reads?: LentReads
): Effect.Effect<number, PgError> =>
  Effect.callback<number, PgError>((resume) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const cleanup = () => {
      if (timer !== undefined) clearTimeout(timer)
      if (reads !== undefined) reads.onBytes = undefined
      else socket.off("data", onData)
      socket.off("error", onError)
      socket.off("close", onClose)
    }
    const onData = (chunk: Uint8Array) => {
      cleanup()
      socket.pause()
      if (chunk.length !== 1) {
        resume(Effect.fail(
          new PgError({
            reason: new TlsError({
              message: chunk.length === 0
                ? "empty answer to the encryption request"
                : `received ${chunk.length - 1} unexpected bytes after the server's answer to the encryption request`
            })
          })
        ))
        return
      }
      resume(Effect.succeed(chunk[0]!))
    }
    const onError = (cause: Error) => {
      cleanup()
      resume(Effect.fail(
        new PgError({ reason: new ConnectionError({ message: `encryption request failed: ${cause.message}`, cause }) })
      ))
    }
    const onClose = () => {
      cleanup()
      resume(Effect.fail(
        new PgError({ reason: new ConnectionError({ message: "server closed the connection during the encryption request" }) })
      ))
    }
    if (reads !== undefined) reads.onBytes = (bytes, length) => onData(bytes.subarray(0, length))
    else socket.on("data", onData)
    socket.on("error", onError)
    socket.on("close", onClose)
    if (timeoutMillis > 0) {
      timer = setTimeout(() => {
        cleanup()
        resume(Effect.fail(
          new PgError({
            reason: new TimeoutError({
              message: `no answer to the encryption request within ${timeoutMillis} ms`,
              operation: "connect",
              timeoutMillis
            })
          })
        ))
      }, timeoutMillis)
    }
    socket.resume()
    socket.write(request)
    return Effect.sync(cleanup)
  })

/**
 * Starts a TLS client handshake over an open socket (or, for direct TLS, over
 * a fresh one) and waits for it to finish.
 *
 * **Details**
 *
 * `options` are passed to `tls.connect` as they are (certificate verification
 * policy is decided by the caller: see the config module for libpq's sslmode
 * semantics). The handshake error, if any, is a `TlsError`.
 *
 * @since 0.1.0
 */
export const upgradeTls = (
  socket: Net.Socket,
  options: Tls.ConnectionOptions,
  timeoutMillis: number,
  onKeylog?: (line: Buffer) => void
): Effect.Effect<Tls.TLSSocket, PgError> =>
  Effect.callback<Tls.TLSSocket, PgError>((resume) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const tls = Tls.connect({ ...options, socket })
    // Key material is emitted during the handshake: listen before it starts.
    if (onKeylog !== undefined) tls.on("keylog", onKeylog)
    const cleanup = () => {
      if (timer !== undefined) clearTimeout(timer)
      tls.off("secureConnect", onSecure)
      tls.off("error", onError)
    }
    const onSecure = () => {
      cleanup()
      resume(Effect.succeed(tls))
    }
    const onError = (cause: Error) => {
      cleanup()
      tls.destroy()
      resume(Effect.fail(new PgError({ reason: new TlsError({ message: `TLS handshake failed: ${cause.message}`, cause }) })))
    }
    tls.once("secureConnect", onSecure)
    tls.once("error", onError)
    if (timeoutMillis > 0) {
      timer = setTimeout(() => {
        cleanup()
        tls.destroy()
        resume(Effect.fail(
          new PgError({
            reason: new TimeoutError({
              message: `TLS handshake did not finish within ${timeoutMillis} ms`,
              operation: "connect",
              timeoutMillis
            })
          })
        ))
      }, timeoutMillis)
    }
    return Effect.sync(() => {
      cleanup()
      tls.destroy()
    })
  })
