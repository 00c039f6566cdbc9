/**
 * The COPY sub-protocol on the server side: COPY FROM STDIN feeding a
 * handler's Sink, COPY TO STDOUT sending a handler's Stream.
 *
 * **Details**
 *
 * - COPY FROM STDIN: CopyInResponse, then every CopyData chunk is offered to a
 *   bounded queue the Sink reads (`COPY_IN_QUEUE_CHUNKS`): a slow Sink stops
 *   the connection reading, so the socket is paused, not memory filled.
 *   CopyDone ends the input and the Sink's result is the command tag; CopyFail
 *   fails with 57014 "COPY from stdin failed: ..."; a Sink that fails ends the
 *   COPY at once (the chunks still coming are ignored by the state machine);
 *   Flush and Sync are ignored; any other message is an error 08P01.
 * - COPY TO STDOUT: CopyOutResponse, one CopyData per chunk, CopyDone.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as Frontend from "../protocol/Frontend.ts"
import { Frontend as Code } from "../wire/Codes.ts"
import { Reader } from "../wire/Reader.ts"
import type { Outcome } from "./Handler.ts"
import * as Machine from "./Machine.ts"
import * as ServerError from "./ServerError.ts"
import type { Wire } from "./Wire.ts"

/** CopyData chunks buffered between the socket and a handler's Sink. */
export const COPY_IN_QUEUE_CHUNKS = 64

const reader = new Reader()

/**
 * How a COPY FROM STDIN ended: its tag, an error, or the client left
 * (Terminate, a closed socket, a malformed frame).
 *
 * @since 0.1.0
 */
export type CopyInResult =
  | { readonly _tag: "Done"; readonly tag: string }
  | { readonly _tag: "Failed"; readonly error: ServerError.ServerError }
  | { readonly _tag: "Gone"; readonly fatal: ServerError.ServerError | undefined }

const columnFormats = (format: 0 | 1, columns: ReadonlyArray<0 | 1> | undefined): Array<0 | 1> =>
  columns === undefined ? [] : format === 0 ? columns.map(() => 0) : [...columns]

/**
 * Runs COPY FROM STDIN for `outcome` (the state machine is in `CopyIn`).
 *
 * @since 0.1.0
 */
export const copyIn = <R>(
  wire: Wire,
  outcome: Extract<Outcome<R>, { _tag: "CopyIn" }>,
  state: Machine.State
): Effect.Effect<CopyInResult, never, R> =>
  Effect.gen(function*() {
    const format = outcome.format ?? 0
    wire.send({ _tag: "CopyInResponse", format, columnFormats: columnFormats(format, outcome.columns) })
    yield* wire.flush
    const queue = yield* Queue.bounded<Uint8Array, Cause.Done>(COPY_IN_QUEUE_CHUNKS)
    const sink = yield* Effect.forkChild(Stream.run(Stream.fromQueue(queue), outcome.sink))
    const sinkFailed = (exit: Exit.Exit<string, ServerError.ServerError>): CopyInResult =>
      Exit.isSuccess(exit)
        ? { _tag: "Failed", error: ServerError.protocolViolation("COPY ended before the client's CopyDone", "ERROR") }
        : { _tag: "Failed", error: failureOf(exit.cause) }
    while (true) {
      const finished = sink.pollUnsafe()
      if (finished !== undefined) return sinkFailed(finished)
      const frame = yield* wire.take
      if (!("type" in frame)) {
        yield* Fiber.interrupt(sink)
        return {
          _tag: "Gone",
          fatal: frame._tag === "Malformed" ? ServerError.protocolViolation(frame.message) : undefined
        } as CopyInResult
      }
      let message: Frontend.FrontendMessage
      try {
        message = Frontend.readUnsafe(frame.type, frame.body, 0, frame.body.length, reader)
      } catch (e) {
        // As PostgreSQL's CopyGetData: the bodies of CopyDone, Flush and Sync are not read, a CopyFail that does
        // not decode fails the COPY (an ERROR, the session goes on); only an unknown type loses the stream.
        if (frame.type === Code.CopyDone) message = { _tag: "CopyDone" }
        else if (frame.type === Code.Flush || frame.type === Code.Sync) continue
        else if (frame.type === Code.CopyFail) {
          yield* Fiber.interrupt(sink)
          return {
            _tag: "Failed",
            error: ServerError.protocolViolation(`invalid message format: ${(e as Error).message}`, "ERROR")
          } as CopyInResult
        } else {
          yield* Fiber.interrupt(sink)
          return { _tag: "Gone", fatal: ServerError.protocolViolation((e as Error).message) } as CopyInResult
        }
      }
      const action = Machine.step(state, message).action
      switch (action._tag) {
        case "CopyData": {
          const offered = yield* Effect.raceFirst(
            Effect.as(Queue.offer(queue, action.data.slice()), undefined),
            Fiber.await(sink)
          )
          if (offered !== undefined) return sinkFailed(offered)
          break
        }
        case "CopyDone": {
          yield* Queue.end(queue)
          const exit = yield* Fiber.await(sink)
          return Exit.isSuccess(exit)
            ? { _tag: "Done", tag: exit.value } as CopyInResult
            : { _tag: "Failed", error: failureOf(exit.cause) } as CopyInResult
        }
        case "CopyFail":
          yield* Fiber.interrupt(sink)
          return {
            _tag: "Failed",
            error: ServerError.make("57014", `COPY from stdin failed: ${action.message}`)
          } as CopyInResult
        case "Ignore":
          break
        case "Terminate":
          yield* Fiber.interrupt(sink)
          return { _tag: "Gone", fatal: undefined } as CopyInResult
        default:
          yield* Fiber.interrupt(sink)
          return {
            _tag: "Failed",
            error: ServerError.protocolViolation(
              action._tag === "CopyViolation" ? action.message : "unexpected message during COPY from stdin",
              "ERROR"
            )
          } as CopyInResult
      }
    }
  })

/**
 * Runs COPY TO STDOUT for `outcome`; succeeds with the command tag.
 *
 * @since 0.1.0
 */
export const copyOut = <R>(
  wire: Wire,
  outcome: Extract<Outcome<R>, { _tag: "CopyOut" }>
): Effect.Effect<string, ServerError.ServerError, R> =>
  Effect.gen(function*() {
    const format = outcome.format ?? 0
    wire.send({ _tag: "CopyOutResponse", format, columnFormats: columnFormats(format, outcome.columns) })
    let chunks = 0
    yield* Stream.runForEach(outcome.data, (data) => {
      wire.send({ _tag: "CopyData", data })
      chunks++
      return wire.flushIfFull
    })
    wire.send({ _tag: "CopyDone" })
    return outcome.tag?.(chunks) ?? `COPY ${chunks}`
  })

/**
 * What a failed handler Cause shows the client: its ServerError, or XX000 for
 * a defect (its text withheld).
 *
 * @since 0.1.0
 */
export const failureOf = (cause: Cause.Cause<ServerError.ServerError>): ServerError.ServerError => {
  const found = Cause.findError(cause)
  if (found._tag === "Success") return found.success
  if (Cause.hasInterrupts(cause) && !Cause.hasDies(cause)) return ServerError.queryCanceled()
  return ServerError.internalError()
}
