/**
 * COPY on a protocol 2.0 session (protocol-2.0 "COPY"; PROTOCOL-2.0 §1.4):
 * the requests and the Sink and Stream over them.
 *
 * **Details**
 *
 * - COPY OUT lines are emitted with their `\n`, holding the last two back
 *   until what follows the end marker is known: an error sends two junk lines
 *   before it (PROTOCOL-2.0 M10).
 * - COPY IN sends the raw bytes, a final `\n` when missing, then `\.\n`. Data
 *   that would end the copy early is refused before it is sent (`Literal.CopyDataCheck`).
 *   2.0 has no CopyFail: a failing or interrupted upstream closes the
 *   connection (the server rolls the copy back), and so does an error of the
 *   server (it loses protocol synchronization, M11).
 *
 * @since 0.1.0
 */
import * as Channel from "effect/Channel"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Pull from "effect/Pull"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { Buffer } from "node:buffer"
import { CodecError, ConfigError, ConnectionError, PgError, ProtocolDesync, type ServerError } from "../../errors/PgError.ts"
import type * as V2 from "../../protocol/V2.ts"
import { makeResult } from "../Result.ts"
import type { CopyResult } from "../Streaming.ts"
import * as ErrorText from "./ErrorText.ts"
import * as Literal from "./Literal.ts"
import { copyMisuse, PullBuffer, queryBytes } from "./Requests.ts"
import { V2Request, type Wire } from "./Wire.ts"

/** Lines a COPY OUT buffers before the socket is paused. */
export const COPY_HIGH_WATER_LINES = 4096

const encoder = new TextEncoder()

/**
 * Whether a COPY statement asks for the binary format: `COPY BINARY table` (the old syntax), or `BINARY` or
 * `FORMAT binary` among the options after `STDIN`/`STDOUT` (not a table or column named binary).
 */
const isBinaryCopy = (sql: string): boolean =>
  /^\s*copy\s+binary\b/i.test(sql) || /\bstd(in|out)\b[\s\S]*\bbinary\b/i.test(sql)

/**
 * A COPY statement sent as a Query; the transaction status stays as it is.
 *
 * @since 0.1.0
 */
export abstract class CopyRequest extends V2Request {
  readonly sql: string
  /** The CopyInResponse or CopyOutResponse came. */
  started = false
  protected serverError: ServerError | undefined = undefined

  constructor(sql: string) {
    super()
    this.sql = sql
    this.statusEffect = "keep"
  }

  bytes(): Uint8Array {
    return queryBytes(this.sql)
  }

  /**
   * The server's error. A binary COPY refused before it started is a limit of protocol 2.0, which carries COPY
   * data as text lines only (the server refuses it under 2.0: copy.c, "COPY BINARY is not supported to stdout or
   * from stdin"); 2.0 errors carry no SQLSTATE, so the statement is what tells.
   */
  protected serverFailure(error: ServerError): PgError {
    if (this.started || !isBinaryCopy(this.sql)) return new PgError({ reason: error })
    return new PgError({
      reason: new ConfigError({
        message: `binary COPY needs protocol 3.0: protocol 2.0 carries COPY data as text lines only (the server said: ${error.message})`,
        parameter: "protocolVersion"
      })
    })
  }
}

/**
 * COPY ... TO STDOUT: lines as they come, the last two held back until the end is known.
 *
 * @since 0.1.0
 */
export class CopyOutRequest extends CopyRequest {
  readonly buffer = new PullBuffer<Uint8Array>(COPY_HIGH_WATER_LINES)
  private held: Array<Uint8Array> = []

  onMessage(wire: Wire, m: V2.BackendMessage): void {
    switch (m._tag) {
      case "CopyOutResponse":
        this.started = true
        return
      case "CopyDataRows": {
        for (const row of m.rows) {
          const line = new Uint8Array(row.length + 1)
          line.set(row)
          line[row.length] = 10
          this.held.push(line)
          if (this.held.length > 2) this.buffer.push(this.held.shift()!, wire)
        }
        return
      }
      case "CompletedResponse":
        for (const line of this.held) this.buffer.push(line, wire)
        this.held = []
        return
      case "ErrorResponse":
        this.held = []
        this.serverError ??= ErrorText.toServerError(m.message)
        return
      case "CopyInResponse":
        wire.write(encoder.encode("\\.\n"))
        return
      default:
        return
    }
  }

  complete(): void {
    if (this.serverError !== undefined) return this.buffer.end(this.serverFailure(this.serverError))
    if (!this.started) return this.buffer.end(copyMisuse("copyTo"))
    this.buffer.end(undefined)
  }

  fail(error: PgError): void {
    this.held = []
    this.buffer.end(error)
  }
}

/**
 * COPY ... FROM STDIN: the Sink writes the data once CopyInResponse came.
 *
 * @since 0.1.0
 */
export class CopyInRequest extends CopyRequest {
  private startWaiter: ((ok: PgError | undefined) => void) | undefined = undefined
  private resultWaiter: ((result: PgError | CopyResult) => void) | undefined = undefined
  private outcome: PgError | CopyResult | undefined = undefined
  private tag: string | undefined = undefined

  onMessage(_wire: Wire, m: V2.BackendMessage): void {
    switch (m._tag) {
      case "CopyInResponse":
        this.started = true
        this.startWaiter?.(undefined)
        this.startWaiter = undefined
        return
      case "CompletedResponse":
        this.tag ??= m.tag
        return
      case "ErrorResponse":
        this.serverError ??= ErrorText.toServerError(m.message)
        return
      default:
        return
    }
  }

  /** Waits for CopyInResponse: undefined, or why the copy did not start. */
  awaitStart(): Effect.Effect<void, PgError> {
    return Effect.callback<void, PgError>((resume) => {
      if (this.started) return resume(Effect.void)
      if (this.outcome !== undefined) return resume(Effect.fail(this.failure()))
      this.startWaiter = (error) => resume(error === undefined ? Effect.void : Effect.fail(error))
    })
  }

  awaitResult(): Effect.Effect<CopyResult, PgError> {
    return Effect.callback<CopyResult, PgError>((resume) => {
      const done = (o: PgError | CopyResult) => resume(o instanceof PgError ? Effect.fail(o) : Effect.succeed(o))
      if (this.outcome !== undefined) return done(this.outcome)
      this.resultWaiter = done
    })
  }

  private failure(): PgError {
    return this.outcome instanceof PgError ? this.outcome : copyMisuse("COPY FROM STDIN")
  }

  private settle(o: PgError | CopyResult): void {
    this.outcome = o
    if (this.startWaiter !== undefined) {
      const w = this.startWaiter
      this.startWaiter = undefined
      w(o instanceof PgError ? o : copyMisuse("copyFrom"))
    }
    this.resultWaiter?.(o)
    this.resultWaiter = undefined
  }

  complete(): void {
    if (this.serverError !== undefined) return this.settle(this.serverFailure(this.serverError))
    if (!this.started || this.tag === undefined) return this.settle(copyMisuse("copyFrom"))
    const parsed = makeResult([], [], this.tag, undefined)
    this.settle({ command: parsed.command, rowCount: parsed.rowCount })
  }

  fail(error: PgError): void {
    this.settle(this.serverError !== undefined ? this.serverFailure(this.serverError) : error)
  }
}

/**
 * COPY ... FROM STDIN as a Sink of raw data.
 *
 * @since 0.1.0
 */
export const copyFrom = (
  wire: Wire,
  sql: string,
  abandon: (request: V2Request, onDrop?: () => void) => Effect.Effect<void>
): Sink.Sink<CopyResult, Uint8Array, never, PgError> =>
  Sink.fromTransform<Uint8Array, CopyResult, PgError, never>((upstream, scope) =>
    Effect.gen(function*() {
      const request = new CopyInRequest(sql)
      const check = new Literal.CopyDataCheck(Literal.isCsvCopy(sql))
      let ended = false
      wire.submit(request)
      yield* Scope.addFinalizerExit(scope, (exit) =>
        Effect.suspend(() => {
          if (request.done || (Exit.isSuccess(exit) && ended)) return Effect.void
          // The upstream failed or the consumer was interrupted: 2.0 has no CopyFail, closing the
          // connection is the only abort (the server rolls the copy back).
          if (request.started) {
            wire.breakWith(
              new PgError({
                reason: new ConnectionError({
                  message:
                    "COPY FROM STDIN was aborted by the client: protocol 2.0 has no CopyFail, so the connection was closed and the server rolled the copy back",
                  requestSent: true
                })
              })
            )
            return Effect.void
          }
          return abandon(request)
        }))
      yield* request.awaitStart()
      const refuse = (why: string) =>
        Effect.suspend(() => {
          const error = new PgError({ reason: new CodecError({ message: why }) })
          wire.breakWith(error)
          return Effect.fail(error)
        })
      while (true) {
        const chunk = yield* upstream.pipe(Pull.catchDone(() => Effect.succeed(undefined)))
        if (chunk === undefined) break
        for (const piece of chunk) {
          if (request.done) break
          const why = check.check(piece)
          if (why !== undefined) return yield* refuse(why)
          yield* writeWithBackpressure(wire, piece)
        }
        if (request.done) break
      }
      if (request.done && !request.failedOnServer) {
        // The server ended the copy at something it read as the end marker, and reads the rest of the data as
        // messages: what was stored is not what was sent, and the connection cannot be trusted.
        const error = new PgError({
          reason: new ProtocolDesync({
            message: `the server ended COPY FROM STDIN before the data did (after ${check.offset} bytes were written): it read an end marker in the data`,
            messageName: "CompletedResponse",
            state: "CopyIn"
          })
        })
        wire.breakWith(error)
        return yield* Effect.fail(error)
      }
      const why = check.finish()
      if (why !== undefined) return yield* refuse(why)
      wire.write(Buffer.from(check.ending(), "latin1"))
      ended = true
      const result = yield* request.awaitResult()
      return [result] as const
    })
  )

/**
 * COPY ... TO STDOUT as a Stream of lines.
 *
 * @since 0.1.0
 */
export const copyTo = (
  wire: Wire,
  sql: string,
  abandon: (request: V2Request, onDrop?: () => void) => Effect.Effect<void>
): Stream.Stream<Uint8Array, PgError> =>
  Stream.fromChannel(
    Channel.fromTransform((_, scope) =>
      Effect.suspend(() => {
        const request = new CopyOutRequest(sql)
        wire.submit(request)
        return Effect.as(Scope.addFinalizer(scope, abandon(request, () => request.buffer.drop())), request.buffer.pull)
      })
    )
  )


/** Writes COPY data, waiting for the socket to drain when its buffer is full. */
const writeWithBackpressure = (wire: Wire, bytes: Uint8Array): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (wire.isClosed) return resume(Effect.void)
    if (wire.socket.write(bytes)) return resume(Effect.void)
    const done = () => {
      wire.socket.off("drain", done)
      wire.socket.off("close", done)
      resume(Effect.void)
    }
    wire.socket.on("drain", done)
    wire.socket.on("close", done)
  })
