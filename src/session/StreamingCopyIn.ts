/**
 * COPY ... FROM STDIN (`CopyInRequest`): the request that holds the wire while the caller's chunks go out as
 * CopyData, then CopyDone, or CopyFail when the upstream fails or is interrupted (see `Streaming.ts`, which
 * re-exports it).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { ConfigError, PgError, type ServerError } from "../errors/PgError.ts"
import * as Frontend from "../protocol/Frontend.ts"
import { Frontend as Code } from "../wire/Codes.ts"
import type { Writer } from "../wire/Writer.ts"
import { type Connection, Request } from "./Connection.ts"
import { sendCopyFail } from "./Frames.ts"
import { PLAN_SIMPLE } from "./Requests.ts"
import { parseCommandTag } from "./Result.ts"

/**
 * The result of COPY FROM: the server's row count.
 *
 * @since 0.1.0
 */
export interface CopyResult {
  readonly command: string
  readonly rowCount: number | null
}

/**
 * CopyData payloads up to this size are copied into the write buffer behind their header (one write of one
 * buffer); larger ones go to the socket as they are, behind their header, in one corked writev.
 */
const COPY_INLINE_MAX_BYTES = 8 * 1024

/**
 * COPY ... FROM STDIN.
 *
 * @since 0.1.0
 */
export class CopyInRequest extends Request {
  override exclusive = true
  readonly sql: string
  private conn: Connection | undefined = undefined
  /** CopyInResponse received: data may flow. */
  started = false
  /** CopyDone or CopyFail written. */
  ended = false
  private tag = ""
  private startWaiter: (() => void) | undefined = undefined
  private doneWaiter: ((effect: Effect.Effect<CopyResult, PgError>) => void) | undefined = undefined
  private outcome: Effect.Effect<CopyResult, PgError> | undefined = undefined

  constructor(sql: string) {
    super()
    this.sql = sql
  }

  encode(w: Writer, conn: Connection): void {
    this.conn = conn
    Frontend.writeQuery(w, this.sql)
    this.begin(PLAN_SIMPLE)
  }

  override onCopyIn(): void {
    this.started = true
    this.wake()
  }

  override onCopyOut(): void {
    // Not a COPY FROM: let the server finish; the data is dropped and the request fails at the end.
  }

  override onCommandComplete(tag: string): void {
    this.tag = tag
  }

  override onServerError(conn: Connection, error: ServerError): void {
    super.onServerError(conn, error)
    // The server left COPY mode; anything we would still send is dropped, so stop sending (no stray CopyFail/CopyDone).
    this.ended = true
    this.wake()
  }

  private wake(): void {
    const w = this.startWaiter
    this.startWaiter = undefined
    w?.()
  }

  /** Waits until COPY mode started, or the request ended. */
  readonly awaitStart: Effect.Effect<void> = Effect.callback((resume) => {
    if (this.started || this.done || this.ended) return resume(Effect.void)
    this.startWaiter = () => resume(Effect.void)
  })

  /** Writes one chunk as CopyData; waits for the socket to drain when its buffer is full. */
  writeChunk(chunk: Uint8Array): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      const conn = this.conn
      if (conn === undefined || this.ended || this.done) return resume(Effect.void)
      if (chunk.length <= COPY_INLINE_MAX_BYTES) {
        conn.send((w) => {
          w.begin(Code.CopyData, "CopyData")
          w.bytes(chunk)
          w.end()
        })
        conn.flush()
      } else {
        conn.send((w) => {
          w.uint8(Code.CopyData)
          w.int32(chunk.length + 4)
        })
        conn.sendPayload(chunk)
      }
      if (!conn.writeBlocked(() => resume(Effect.void))) resume(Effect.void)
    })
  }

  /** Ends the copy with CopyDone (success) or CopyFail (the upstream failed). */
  finish(failure: string | undefined): void {
    if (this.ended || this.done) return
    this.ended = true
    const conn = this.conn
    if (conn === undefined) return
    if (failure === undefined) conn.sendBytes(Frontend.COPY_DONE)
    else sendCopyFail(conn, failure)
  }

  /** Waits for the server's answer (CommandComplete + ReadyForQuery, or the error). */
  readonly result: Effect.Effect<CopyResult, PgError> = Effect.callback((resume) => {
    if (this.outcome !== undefined) return resume(this.outcome)
    this.doneWaiter = resume
  })

  private settle(outcome: Effect.Effect<CopyResult, PgError>): void {
    this.outcome = outcome
    this.wake()
    const w = this.doneWaiter
    this.doneWaiter = undefined
    w?.(outcome)
  }

  complete(): void {
    if (this.serverError !== undefined) return this.settle(Effect.fail(new PgError({ reason: this.serverError })))
    if (!this.started) {
      return this.settle(Effect.fail(
        new PgError({
          reason: new ConfigError({ message: "copyFrom expects a COPY ... FROM STDIN statement", parameter: "sql" })
        })
      ))
    }
    const { command, rowCount } = parseCommandTag(this.tag)
    this.settle(Effect.succeed({ command, rowCount }))
  }

  fail(error: PgError): void {
    this.settle(Effect.fail(error))
  }
}
