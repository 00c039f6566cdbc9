/**
 * Sending a CancelRequest on a side connection (protocol-3.2 "Canceling
 * Requests in Progress").
 *
 * **Details**
 *
 * The side connection uses the session's transport settings (same endpoint;
 * TLS when the session uses TLS, so the key never travels in clear), sends
 * CancelRequest with the session's process id and secret key (4 bytes in 3.0,
 * up to 256 in 3.2), and waits for the server to close it: the postmaster
 * closes the connection after it has signalled the backend, so EOF means the
 * signal was sent. Callers hold the session's wire until then, so a cancel can
 * never land on a request written after it (src/README.md, "Cancellation").
 *
 * Cancellation is advisory: the server may already have finished the query.
 * Nothing here assumes the cancel succeeded.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Net from "node:net"
import { CancelError, PgError, TimeoutError } from "../errors/PgError.ts"
import * as Message from "../protocol/Message.ts"
import * as Startup from "../protocol/Startup.ts"
import { countCancel } from "./SessionMetrics.ts"

/** How long the whole cancel exchange (connect, send, wait for the server to close) may take. */
export const CANCEL_REQUEST_TIMEOUT_MILLIS = 5_000

/**
 * How the side connection is opened: the session supplies a function that
 * opens (and, if needed, encrypts) a socket exactly as the session's own was.
 *
 * @since 0.1.0
 */
export type OpenSideConnection = Effect.Effect<Net.Socket, PgError>

/**
 * Sends CancelRequest and waits until the server closes the side connection.
 *
 * @since 0.1.0
 */
export const sendCancel = (
  open: OpenSideConnection,
  processId: number,
  secretKey: Uint8Array
): Effect.Effect<void, PgError> =>
  Effect.gen(function*() {
    const frame = Message.encodeFrame(Startup.CancelRequest, { _tag: "CancelRequest", processId, secretKey })
    if (frame._tag === "Failure") {
      return yield* new PgError({ reason: new CancelError({ message: frame.failure.message }) })
    }
    const socket = yield* open
    yield* Effect.callback<void>((resume) => {
      const finish = () => {
        socket.off("close", finish)
        socket.off("end", finish)
        socket.off("error", finish)
        socket.destroy()
        resume(Effect.void)
      }
      socket.on("close", finish)
      socket.on("end", finish)
      socket.on("error", finish)
      socket.on("data", () => {})
      socket.write(frame.success)
      return Effect.sync(() => socket.destroy())
    })
    yield* countCancel
  }).pipe(
    Effect.timeoutOrElse({
      duration: CANCEL_REQUEST_TIMEOUT_MILLIS,
      orElse: () =>
        Effect.fail(
          new PgError({
            reason: new TimeoutError({
              message: `the cancel request did not complete within ${CANCEL_REQUEST_TIMEOUT_MILLIS} ms`,
              operation: "cancel",
              timeoutMillis: CANCEL_REQUEST_TIMEOUT_MILLIS
            })
          })
        )
    })
  )
