/**
 * The session's protocol state: a closed union of states and one pure
 * transition function that checks every move.
 *
 * **Details**
 *
 * The server answers requests strictly in order, so the reader only ever needs
 * to know what the request at the head of the in-flight FIFO may receive next.
 * That is its `Phase`. A request carries a plan (the phases its messages walk
 * through, built when it is written: e.g. extended query =
 * `BindComplete, Rows, ReadyForQuery`), and `step(phase, message)` says what a
 * backend message does to it:
 *
 * - `Stay`: valid here, the phase does not change (a DataRow in `Rows`);
 * - `Advance`: valid here and this phase is finished (ParseComplete);
 * - `Skip`: an ErrorResponse: the server skips to the next Sync, so the only
 *   valid next message is ReadyForQuery (protocol-3.2 "Extended Query": "the
 *   backend ... reads and discards messages until a Sync is reached");
 * - `Complete`: ReadyForQuery: the request is done;
 * - `Desync`: not allowed here; the session is broken.
 *
 * Asynchronous messages (NoticeResponse, NotificationResponse,
 * ParameterStatus, protocol-3.2 "Asynchronous Operations") never reach `step`:
 * they are valid in every state and go to side channels.
 *
 * Pure: no Effect, no IO, no allocation per call (the outcomes are constants).
 *
 * @since 0.1.0
 */
import { Backend as Code } from "../wire/Codes.ts"

/**
 * What the head request expects next.
 *
 * @since 0.1.0
 */
export type Phase =
  /** Authentication, then ParameterStatus/BackendKeyData/NegotiateProtocolVersion, then ReadyForQuery. */
  | "Startup"
  /** ParseComplete (after Parse). */
  | "ParseComplete"
  /** BindComplete (after Bind). */
  | "BindComplete"
  /** ParameterDescription (after Describe of a statement). */
  | "ParameterDescription"
  /** RowDescription or NoData (after Describe). */
  | "RowDescription"
  /** Execute's results: DataRow*, then CommandComplete, EmptyQueryResponse or PortalSuspended; or a COPY start. */
  | "Rows"
  /** A simple Query's next result: RowDescription, CommandComplete, EmptyQueryResponse, a COPY start, or ReadyForQuery. */
  | "SimpleResult"
  /** Inside a simple-query result set: DataRow* then CommandComplete. */
  | "SimpleRows"
  /** CloseComplete (after Close). */
  | "CloseComplete"
  /** FunctionCallResponse (after FunctionCall). */
  | "FunctionCallResponse"
  /** COPY FROM STDIN in progress: the server sends nothing but the final CommandComplete or an error. */
  | "CopyIn"
  /** COPY TO STDOUT in progress: CopyData* then CopyDone. */
  | "CopyOut"
  /** After CopyDone of a COPY TO: CommandComplete. */
  | "CopyOutDone"
  /** Replication: CopyData in both directions until CopyDone. */
  | "CopyBoth"
  /** Only ReadyForQuery is valid (after a Sync, or after an error). */
  | "ReadyForQuery"

/**
 * The backend messages `step` judges (every non-asynchronous backend message).
 *
 * @since 0.1.0
 */
export type Event =
  | "AuthenticationRequest"
  | "BackendKeyData"
  | "NegotiateProtocolVersion"
  | "ParseComplete"
  | "BindComplete"
  | "CloseComplete"
  | "ParameterDescription"
  | "RowDescription"
  | "NoData"
  | "DataRow"
  | "CommandComplete"
  | "EmptyQueryResponse"
  | "PortalSuspended"
  | "CopyInResponse"
  | "CopyOutResponse"
  | "CopyBothResponse"
  | "CopyData"
  | "CopyDone"
  | "FunctionCallResponse"
  | "ErrorResponse"
  | "ReadyForQuery"

/**
 * The outcome of a message in a phase.
 *
 * @since 0.1.0
 */
export type Outcome =
  | "Stay"
  | "Advance"
  | "Skip"
  | "Complete"
  | "Desync"
  /** A COPY started: the phase becomes CopyIn/CopyOut/CopyBoth (see `copyPhase`). */
  | "Copy"

/**
 * The one transition function.
 *
 * @since 0.1.0
 */
export const step = (phase: Phase, event: Event): Outcome => {
  // An ErrorResponse is valid in every phase: even after CommandComplete, the
  // implicit COMMIT at Sync can fail (a deferred constraint), and the error then
  // arrives just before ReadyForQuery (rust-postgres #832, pgx #570).
  if (event === "ErrorResponse") return "Skip"
  switch (phase) {
    case "Rows":
      switch (event) {
        case "DataRow":
          return "Stay"
        case "CommandComplete":
        case "EmptyQueryResponse":
        case "PortalSuspended":
          return "Advance"
        case "CopyInResponse":
        case "CopyOutResponse":
        case "CopyBothResponse":
          return "Copy"
        default:
          return "Desync"
      }
    case "ReadyForQuery":
      return event === "ReadyForQuery" ? "Complete" : "Desync"
    case "BindComplete":
      return event === "BindComplete" ? "Advance" : "Desync"
    case "ParseComplete":
      return event === "ParseComplete" ? "Advance" : "Desync"
    case "ParameterDescription":
      return event === "ParameterDescription" ? "Advance" : "Desync"
    case "RowDescription":
      return event === "RowDescription" || event === "NoData" ? "Advance" : "Desync"
    case "SimpleResult":
      switch (event) {
        case "RowDescription":
          return "Advance"
        case "CommandComplete":
        case "EmptyQueryResponse":
          return "Stay"
        case "CopyInResponse":
        case "CopyOutResponse":
        case "CopyBothResponse":
          return "Copy"
        case "ReadyForQuery":
          return "Complete"
        default:
          return "Desync"
      }
    case "SimpleRows":
      return event === "DataRow" ? "Stay" : event === "CommandComplete" ? "Advance" : "Desync"
    case "CloseComplete":
      return event === "CloseComplete" ? "Advance" : "Desync"
    case "FunctionCallResponse":
      return event === "FunctionCallResponse" ? "Advance" : "Desync"
    case "CopyIn":
      // The server answers the client's CopyDone with CommandComplete (or CopyFail with an ErrorResponse).
      return event === "CommandComplete" ? "Advance" : "Desync"
    case "CopyOut":
      return event === "CopyData" ? "Stay" : event === "CopyDone" ? "Advance" : "Desync"
    case "CopyOutDone":
      return event === "CommandComplete" ? "Advance" : "Desync"
    case "CopyBoth":
      return event === "CopyData" ? "Stay" : event === "CopyDone" ? "Advance" : "Desync"
    case "Startup":
      switch (event) {
        case "AuthenticationRequest":
        case "BackendKeyData":
        case "NegotiateProtocolVersion":
          return "Stay"
        case "ReadyForQuery":
          return "Complete"
        default:
          return "Desync"
      }
  }
}

/**
 * The phase a COPY start message enters.
 *
 * @since 0.1.0
 */
export const copyPhase = (event: "CopyInResponse" | "CopyOutResponse" | "CopyBothResponse"): Phase =>
  event === "CopyInResponse" ? "CopyIn" : event === "CopyOutResponse" ? "CopyOut" : "CopyBoth"

/**
 * Where a request is in its replies: the phase it expects, the plan of phases
 * its frames asked for, and where a COPY returns to. `Request` is one.
 *
 * @since 0.1.0
 */
export interface Cursor {
  phase: Phase
  plan: ReadonlyArray<Phase>
  index: number
  afterCopy: Phase
  /** Whether a PortalSuspended keeps the request in `Rows` (a portal being paged, not yet synced). */
  continuePortal(): boolean
}

/**
 * Starts a plan: the phases the request's frames will be answered in, ending
 * in ReadyForQuery.
 *
 * @since 0.1.0
 */
export const begin = (cursor: Cursor, plan: ReadonlyArray<Phase>): void => {
  cursor.plan = plan
  cursor.index = 0
  cursor.phase = plan[0]!
}

/**
 * The phase after a message `step` answered with `Advance` (once the message
 * was handed to the request): a simple query's result set opens and closes, a
 * COPY returns where it started, a paged portal stays in `Rows`, anything else
 * moves to the plan's next phase.
 *
 * @since 0.1.0
 */
export const advance = (cursor: Cursor, event: Event): void => {
  switch (cursor.phase) {
    case "SimpleResult":
      cursor.phase = "SimpleRows"
      return
    case "SimpleRows":
      cursor.phase = "SimpleResult"
      return
    case "CopyOut":
      cursor.phase = cursor.afterCopy === "SimpleResult" ? "SimpleResult" : "CopyOutDone"
      return
    case "CopyBoth":
    case "CopyIn":
    case "CopyOutDone":
      cursor.phase = cursor.afterCopy
      return
    default:
      if (event === "PortalSuspended" && cursor.continuePortal()) return
      cursor.index++
      cursor.phase = cursor.plan[cursor.index] ?? "ReadyForQuery"
  }
}

/**
 * After `step` answered `Copy`: the COPY's phase, and where the request goes
 * once the COPY is over (the next result of a simple query, else the plan's
 * next phase).
 *
 * @since 0.1.0
 */
export const enterCopy = (cursor: Cursor, event: "CopyInResponse" | "CopyOutResponse" | "CopyBothResponse"): void => {
  if (cursor.phase === "SimpleResult") {
    cursor.afterCopy = "SimpleResult"
  } else {
    cursor.afterCopy = cursor.plan[cursor.index + 1] ?? "ReadyForQuery"
    cursor.index++
  }
  cursor.phase = copyPhase(event)
}

/**
 * After `step` answered `Skip` (an ErrorResponse): the server discards
 * everything up to the next Sync, so only ReadyForQuery is expected (during
 * start-up, the server closes the connection after it instead).
 *
 * @since 0.1.0
 */
export const skip = (cursor: Cursor): void => {
  if (cursor.phase !== "Startup") cursor.phase = "ReadyForQuery"
}

/**
 * The connection-level state: a closed union.
 *
 * **Details**
 *
 * `Connecting` until the transport is open; `Startup` during authentication;
 * `Ready` with no request in flight; `Busy` with requests in flight (the head's
 * phase is tracked by `step`); `Closing` after Terminate; `Closed`; `Broken`
 * after a fatal error (the one break path: every pending request fails with
 * the reason, the socket is destroyed, and the session is never reused).
 *
 * @since 0.1.0
 */
export type SessionState =
  | { readonly _tag: "Connecting" }
  | { readonly _tag: "Startup" }
  | { readonly _tag: "Ready" }
  | { readonly _tag: "Busy" }
  | { readonly _tag: "Closing" }
  | { readonly _tag: "Closed" }
  | { readonly _tag: "Broken"; readonly reason: string }

/** @since 0.1.0 */
export const Connecting: SessionState = { _tag: "Connecting" }
/** @since 0.1.0 */
export const Startup: SessionState = { _tag: "Startup" }
/** @since 0.1.0 */
export const Ready: SessionState = { _tag: "Ready" }
/** @since 0.1.0 */
export const Busy: SessionState = { _tag: "Busy" }
/** @since 0.1.0 */
export const Closing: SessionState = { _tag: "Closing" }
/** @since 0.1.0 */
export const Closed: SessionState = { _tag: "Closed" }

/**
 * Whether the session may accept a new request in this state.
 *
 * @since 0.1.0
 */
export const acceptsRequests = (state: SessionState): boolean =>
  state._tag === "Ready" || state._tag === "Busy" || state._tag === "Startup"

/**
 * Backend type byte -> the event `step` judges (undefined: asynchronous or unknown).
 *
 * @since 0.1.0
 */
export const EVENTS: Array<Event | undefined> = (() => {
  const table = new Array<Event | undefined>(256).fill(undefined)
  table[Code.Authentication] = "AuthenticationRequest"
  table[Code.BackendKeyData] = "BackendKeyData"
  table[Code.NegotiateProtocolVersion] = "NegotiateProtocolVersion"
  table[Code.ParseComplete] = "ParseComplete"
  table[Code.BindComplete] = "BindComplete"
  table[Code.CloseComplete] = "CloseComplete"
  table[Code.ParameterDescription] = "ParameterDescription"
  table[Code.RowDescription] = "RowDescription"
  table[Code.NoData] = "NoData"
  table[Code.DataRow] = "DataRow"
  table[Code.CommandComplete] = "CommandComplete"
  table[Code.EmptyQueryResponse] = "EmptyQueryResponse"
  table[Code.PortalSuspended] = "PortalSuspended"
  table[Code.CopyInResponse] = "CopyInResponse"
  table[Code.CopyOutResponse] = "CopyOutResponse"
  table[Code.CopyBothResponse] = "CopyBothResponse"
  table[Code.CopyData] = "CopyData"
  table[Code.CopyDone] = "CopyDone"
  table[Code.FunctionCallResponse] = "FunctionCallResponse"
  table[Code.ErrorResponse] = "ErrorResponse"
  table[Code.ReadyForQuery] = "ReadyForQuery"
  return table
})()

/**
 * The name of a backend message type, for errors (a printable byte for an unknown one).
 *
 * @since 0.1.0
 */
export const messageName = (type: number): string => {
  const event = EVENTS[type]
  if (event !== undefined) return event === "AuthenticationRequest" ? "Authentication" : event
  switch (type) {
    case Code.NoticeResponse:
      return "NoticeResponse"
    case Code.NotificationResponse:
      return "NotificationResponse"
    case Code.ParameterStatus:
      return "ParameterStatus"
    default:
      return type >= 0x20 && type < 0x7f ? `'${String.fromCharCode(type)}'` : `0x${type.toString(16)}`
  }
}
