/**
 * The base of every request kind: the position in its replies (a `State.Cursor`)
 * and the hooks the connection calls with each reply.
 *
 * @since 0.1.0
 */
import type * as Backend from "../protocol/Backend.ts"
import type { PgError, ServerError } from "../errors/PgError.ts"
import type { Connection } from "./Connection.ts"
import type { Notice } from "./Result.ts"
import * as State from "./State.ts"
import type { Writer } from "../wire/Writer.ts"

const PLAN_READY: ReadonlyArray<State.Phase> = ["ReadyForQuery"]

/**
 * A request in the FIFO: it writes its frames once and receives exactly its
 * own replies, up to its ReadyForQuery.
 *
 * **Details**
 *
 * Subclasses override the hooks for the messages their plan allows; `State.step`
 * has already checked a message against the phase before a hook runs, so hooks
 * never see a message out of order.
 *
 * @since 0.1.0
 */
export abstract class Request implements State.Cursor {
  /** The phases this request's replies walk through (see `State`). */
  plan: ReadonlyArray<State.Phase> = PLAN_READY
  index = 0
  phase: State.Phase = "ReadyForQuery"
  /** Where a COPY returns to once it is finished. */
  afterCopy: State.Phase = "ReadyForQuery"
  /** The frames have been handed to the writer. */
  written = false
  /** ReadyForQuery received, or the request failed. */
  done = false
  /** The caller went away (interrupted): replies are read and dropped. */
  discard = false
  /** Holds the wire while written and not released (portal paging, COPY). */
  exclusive = false
  /** The first error the server reported for this request. */
  serverError: ServerError | undefined = undefined
  /** A client-side error (decoding) that fails the request once it is synced. */
  clientError: PgError | undefined = undefined
  /** Notices that arrived while this request was at the head. */
  notices: Array<Notice> | undefined = undefined
  /**
   * A bug of ours met while encoding or decoding for this request (anything thrown that is not a typed failure,
   * see `Result.isTypedFailure`): the caller's Effect dies with it instead of failing with a made-up protocol error.
   * Request kinds answered through an Effect honour it; the others fail with `asPgError`'s internal error.
   */
  defect: { readonly value: unknown } | undefined = undefined
  /** Whether a cancel sent for an earlier request may have hit this one (see `Interruption`). */
  atRiskOfStrayCancel = false
  /** Times this request was re-run after a stray cancel or a stale statement. */
  retries = 0
  /** Called once the request leaves the FIFO (or fails), so waiters can proceed. */
  onSettled: (() => void) | undefined = undefined

  /** Writes every frame of the request. May throw `PgError` before anything is flushed (the writer is rolled back). */
  abstract encode(w: Writer, conn: Connection): void
  /** ReadyForQuery arrived: the request is complete. */
  abstract complete(conn: Connection, status: Backend.TransactionStatus): void
  /** The request failed without completing (not sent, or the session broke). */
  abstract fail(error: PgError): void

  /** Starts the plan; called when the request is written (see `State.begin`). */
  begin(plan: ReadonlyArray<State.Phase>): void {
    State.begin(this, plan)
  }

  /** Whether a PortalSuspended keeps the request in `Rows` (a portal being paged). */
  continuePortal(): boolean {
    return false
  }

  onParseComplete(): void {}
  onBindComplete(): void {}
  onParameterDescription(_message: Backend.ParameterDescription): void {}
  onRowDescription(_message: Backend.RowDescription): void {}
  onNoData(): void {}
  onDataRow(_buf: Uint8Array, _start: number, _end: number): void {}
  onCommandComplete(_tag: string): void {}
  onEmptyQuery(): void {}
  onPortalSuspended(_conn: Connection): void {}
  onCloseComplete(): void {}
  onCopyIn(_conn: Connection, _message: Backend.CopyInResponse): void {}
  onCopyOut(_message: Backend.CopyOutResponse): void {}
  onCopyBoth(_conn: Connection, _message: Backend.CopyBothResponse): void {}
  onCopyData(_buf: Uint8Array, _start: number, _end: number): void {}
  onCopyDone(): void {}
  /** After every message of a received chunk was handled (see `Connection.atChunkEnd`). */
  onChunkEnd(): void {}
  onFunctionCallResponse(_message: Backend.FunctionCallResponse): void {}
  onAuthentication(_conn: Connection, _message: Backend.BackendMessage): void {}
  onBackendKeyData(_conn: Connection, _message: Backend.BackendKeyData): void {}
  onNegotiateProtocolVersion(_conn: Connection, _message: Backend.NegotiateProtocolVersion): void {}
  /** An ErrorResponse: the server now skips to the next Sync. */
  onServerError(_conn: Connection, error: ServerError): void {
    if (this.serverError === undefined) this.serverError = error
  }
}
