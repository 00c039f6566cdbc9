/**
 * How a connection ends, as its requests see it: the error each way of
 * breaking is reported with (a socket error or TLS alert, the server closing,
 * a message out of order, a bug of ours while reading), and the failing of
 * every request a broken or closed connection leaves behind.
 *
 * **Details**
 *
 * A request that was written learns the break reason itself, or that the
 * session was closed (`requestSent: true`: it may have run). A request that
 * was never written gets a `ConnectionError` with `requestSent: false` (safe
 * to run elsewhere), unless the reason is the server's own error (a FATAL
 * ErrorResponse, a desync), which it gets as it is.
 *
 * @since 0.1.0
 */
import { ConnectionError, PgError, ProtocolDesync, type ServerError, TlsError } from "../errors/PgError.ts"
import type { Request } from "./Request.ts"

/**
 * A bug of ours while reading (not a typed failure): the session cannot go on.
 *
 * @since 0.1.0
 */
export const internalError = (cause: unknown): PgError =>
  new PgError({
    reason: new ConnectionError({ message: "the session stopped on an internal error", requestSent: true, cause })
  })

/**
 * The socket failed. With TLS 1.3 the server checks a client certificate after the client's side of the
 * handshake is done, so its refusal arrives as an alert on the open socket: a `TlsError`.
 *
 * @since 0.1.0
 */
export const socketError = (cause: Error): PgError => {
  const code = (cause as { code?: unknown }).code
  return new PgError({
    reason: typeof code === "string" && code.startsWith("ERR_SSL")
      ? new TlsError({ message: `TLS error: ${cause.message.trim()}`, cause })
      : new ConnectionError({ message: `connection error: ${cause.message}`, requestSent: true, cause })
  })
}

/**
 * The server closed the socket while the session was open: with the FATAL error it sent before, if any.
 *
 * @since 0.1.0
 */
export const closedByServer = (fatal: ServerError | undefined): PgError =>
  fatal !== undefined
    ? new PgError({ reason: fatal })
    : new PgError({
      reason: new ConnectionError({ message: "the server closed the connection unexpectedly", requestSent: true })
    })

/**
 * A message the request at the head of the pipeline (or an idle session) does not accept in its phase.
 *
 * @since 0.1.0
 */
export const desyncError = (messageName: string, request: Request | undefined): PgError => {
  const state = request === undefined ? "no request in flight" : request.phase
  return new PgError({
    reason: new ProtocolDesync({
      message: `unexpected ${messageName} from the server while ${
        request === undefined ? "no request is in flight" : `expecting ${request.phase}`
      }`,
      messageName,
      state
    })
  })
}

/**
 * What a request submitted to a broken or closed session fails with: the break reason, or that it is closed.
 *
 * @since 0.1.0
 */
export const closedError = (closedWith: PgError | undefined | null): PgError => {
  if (closedWith instanceof PgError) return closedWith
  return new PgError({ reason: new ConnectionError({ message: "the session is closed", requestSent: false }) })
}

/**
 * Fails every request left in flight or queued when the session ends (`error` undefined: a clean close). Errors
 * are built only for requests still waiting (a clean close usually has none).
 *
 * @since 0.1.0
 */
export const failLeft = (
  inflight: ReadonlyArray<Request>,
  pending: ReadonlyArray<Request>,
  error: PgError | undefined
): void => {
  let failure: PgError | undefined = error
  for (const request of inflight) {
    if (request.done) continue
    request.done = true
    failure ??= new PgError({ reason: new ConnectionError({ message: "the session was closed", requestSent: true }) })
    request.fail(failure)
    request.onSettled?.()
  }
  for (const request of pending) {
    if (request.done) continue
    request.done = true
    request.fail(
      error === undefined || error.reason._tag === "ConnectionError"
        ? new PgError({
          reason: new ConnectionError({ message: error?.reason.message ?? "the session was closed", requestSent: false })
        })
        : error
    )
    request.onSettled?.()
  }
}
