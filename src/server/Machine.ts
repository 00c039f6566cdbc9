/**
 * The per-connection protocol state machine of the server engine, after
 * start-up: one pure transition function, `step(state, message)`, that says
 * what the connection does with each client message, and the few events the
 * effectful shell reports back (`failed`, `completed`, `synced`).
 *
 * **Details**
 *
 * The rules are PostgreSQL 18's backend (protocol-3.2 "Message Flow",
 * `postgres.c`): after an error in an extended-protocol message every message
 * but Sync is discarded; exactly one ReadyForQuery answers each Sync and each
 * Query; CopyData, CopyDone and CopyFail outside COPY are ignored (a COPY that
 * failed leaves the client still sending); Flush and Sync inside COPY FROM
 * STDIN are ignored; any other message there ends the COPY with 08P01. The
 * transaction status byte moves only through `completed` (a handler's
 * begin/commit/rollback) and `failed` (an error in a transaction block).
 *
 * Pure: no Effect runtime, no IO. Frames are decoded before `step` sees them.
 *
 * @since 0.1.0
 */
import type { FrontendMessage } from "../protocol/Frontend.ts"

/**
 * The ReadyForQuery status byte: idle, in a transaction block, in a failed one.
 *
 * @since 0.1.0
 */
export type TransactionStatus = "I" | "T" | "E"

/**
 * Where the connection is.
 *
 * - `Ready`: messages are carried out.
 * - `Discarding`: an extended-protocol message failed; everything up to Sync
 *   is dropped.
 * - `CopyIn`: COPY FROM STDIN runs; `extended` when it started from Execute
 *   (an error then discards until Sync; from a Query it ends with
 *   ReadyForQuery).
 *
 * @since 0.1.0
 */
export type Phase =
  | { readonly _tag: "Ready" }
  | { readonly _tag: "Discarding" }
  | { readonly _tag: "CopyIn"; readonly extended: boolean }

/**
 * @since 0.1.0
 */
export interface State {
  readonly phase: Phase
  readonly transaction: TransactionStatus
}

/**
 * What the shell does with one message.
 *
 * @since 0.1.0
 */
export type Action =
  | { readonly _tag: "Run"; readonly message: Extract<FrontendMessage, { _tag: "Query" | "Parse" | "Bind" | "Describe" | "Execute" | "Close" | "FunctionCall" }> }
  | { readonly _tag: "Sync" }
  | { readonly _tag: "Flush" }
  | { readonly _tag: "Terminate" }
  | { readonly _tag: "Ignore" }
  | { readonly _tag: "CopyData"; readonly data: Uint8Array }
  | { readonly _tag: "CopyDone" }
  | { readonly _tag: "CopyFail"; readonly message: string }
  /** The COPY ends with an error (08P01), the connection stays. */
  | { readonly _tag: "CopyViolation"; readonly message: string }
  /** FATAL 08P01 and close. */
  | { readonly _tag: "Fatal"; readonly message: string }

/**
 * @since 0.1.0
 */
export interface Transition {
  readonly state: State
  readonly action: Action
}

const READY: Phase = { _tag: "Ready" }
const DISCARDING: Phase = { _tag: "Discarding" }

/** The state after start-up: ready, idle. @since 0.1.0 */
export const initial: State = { phase: READY, transaction: "I" }

const same = (state: State, action: Action): Transition => ({ state, action })

const typeName = (message: FrontendMessage): string => message._tag

/**
 * The transition for one client message.
 *
 * @since 0.1.0
 */
export const step = (state: State, message: FrontendMessage): Transition => {
  const phase = state.phase
  if (phase._tag === "CopyIn") {
    switch (message._tag) {
      case "CopyData":
        return same(state, { _tag: "CopyData", data: message.data })
      case "CopyDone":
        return same(state, { _tag: "CopyDone" })
      case "CopyFail":
        return same(state, { _tag: "CopyFail", message: message.message })
      case "Flush":
      case "Sync":
        // protocol-3.2 "COPY Operations": Flush and Sync during COPY FROM STDIN are ignored.
        return same(state, { _tag: "Ignore" })
      case "Terminate":
        return same(state, { _tag: "Terminate" })
      default:
        return same(state, {
          _tag: "CopyViolation",
          message: `unexpected message type ${typeName(message)} during COPY from stdin`
        })
    }
  }
  switch (message._tag) {
    case "Sync":
      return { state: { ...state, phase: READY }, action: { _tag: "Sync" } }
    case "Terminate":
      return same(state, { _tag: "Terminate" })
    case "CopyData":
    case "CopyDone":
    case "CopyFail":
      // postgres.c: "Accept but ignore these messages, per protocol spec".
      return same(state, { _tag: "Ignore" })
    case "PasswordMessage":
    case "SASLInitialResponse":
    case "SASLResponse":
    case "GSSResponse":
      return same(state, { _tag: "Fatal", message: `invalid frontend message type 'p' after authentication` })
  }
  if (phase._tag === "Discarding") return same(state, { _tag: "Ignore" })
  switch (message._tag) {
    case "Flush":
      return same(state, { _tag: "Flush" })
    case "Query":
    case "Parse":
    case "Bind":
    case "Describe":
    case "Execute":
    case "Close":
    case "FunctionCall":
      return same(state, { _tag: "Run", message })
  }
}

/**
 * An error answered a message: in an extended-protocol message the rest of the
 * batch is discarded until Sync; in a transaction block the block fails ('E').
 *
 * @since 0.1.0
 */
export const failed = (state: State, extended: boolean): State => ({
  phase: extended ? DISCARDING : READY,
  transaction: state.transaction === "I" ? "I" : "E"
})

/**
 * A statement completed with a transaction effect (or none).
 *
 * @since 0.1.0
 */
export const completed = (
  state: State,
  transaction: "begin" | "commit" | "rollback" | undefined
): State => {
  switch (transaction) {
    case undefined:
      return state
    case "begin":
      return state.transaction === "I" ? { ...state, transaction: "T" } : state
    case "commit":
    case "rollback":
      return { ...state, transaction: "I" }
  }
}

/** COPY FROM STDIN started (`extended`: from Execute). @since 0.1.0 */
export const copyIn = (state: State, extended: boolean): State => ({ ...state, phase: { _tag: "CopyIn", extended } })

/** COPY FROM STDIN ended successfully. @since 0.1.0 */
export const copyEnded = (state: State): State => ({ ...state, phase: READY })
