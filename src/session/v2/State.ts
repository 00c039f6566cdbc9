/**
 * The protocol 2.0 session's one transition function: which server message
 * each phase of the request at the head accepts, and the phase after it
 * (protocol-2.0 "Message Flow"; PROTOCOL-2.0 §1).
 *
 * **Details**
 *
 * - NoticeResponse and NotificationResponse may come at any point and are
 *   taken before this function is asked (inside a COPY OUT the decoder reads
 *   every byte as COPY data, so they cannot appear there).
 * - Anything else out of its place is a desync: the session is broken.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import type * as V2 from "../../protocol/V2.ts"

/**
 * Where a request is in its replies.
 *
 * @since 0.1.0
 */
export type Phase =
  /** The StartupPacket was sent: an authentication request, or an error. */
  | "Auth"
  /** AuthenticationOk came: BackendKeyData, then ReadyForQuery. */
  | "AuthOk"
  /** A start-up error came: the server closes the connection. */
  | "Refused"
  /** A Query was sent: results until ReadyForQuery. */
  | "Results"
  /** After RowDescription: rows until CompletedResponse (or an error). */
  | "Rows"
  /** After CopyOutResponse: COPY lines until the end marker. */
  | "CopyOut"
  /** After the end marker: CompletedResponse, or the error that the junk lines announced. */
  | "CopyOutEnd"
  /** After CopyInResponse: the client sends; CompletedResponse or an error. */
  | "CopyIn"
  /** A FunctionCall was sent: its response or an error. */
  | "Function"
  /** The function answered: ReadyForQuery. */
  | "FunctionDone"
  /** ReadyForQuery came: the request is answered. */
  | "Done"

/**
 * The phase after `message`, or a string saying why it is out of place.
 *
 * @since 0.1.0
 */
export const step = (phase: Phase, message: V2.BackendMessage): Phase | { readonly desync: string } => {
  const tag = message._tag
  switch (phase) {
    case "Auth":
      switch (tag) {
        case "AuthenticationOk":
          return "AuthOk"
        case "AuthenticationCleartextPassword":
        case "AuthenticationMD5Password":
        case "AuthenticationCryptPassword":
        case "AuthenticationKerberosV4":
        case "AuthenticationKerberosV5":
        case "AuthenticationSCMCredential":
          return "Auth"
        case "ErrorResponse":
          return "Refused"
      }
      break
    case "AuthOk":
      switch (tag) {
        case "BackendKeyData":
          return "AuthOk"
        case "ErrorResponse":
          return "Refused"
        case "ReadyForQuery":
          return "Done"
      }
      break
    case "Results":
      switch (tag) {
        case "CursorResponse":
        case "CompletedResponse":
        case "ErrorResponse":
          return "Results"
        case "EmptyQueryResponse":
          return message.unused === undefined ? "Results" : { desync: "EmptyQueryResponse with a non-empty string" }
        case "RowDescription":
          return "Rows"
        case "CopyInResponse":
          return "CopyIn"
        case "CopyOutResponse":
          return "CopyOut"
        case "ReadyForQuery":
          return "Done"
      }
      break
    case "Rows":
      switch (tag) {
        case "AsciiRow":
        case "BinaryRow":
          return "Rows"
        case "CompletedResponse":
        case "ErrorResponse":
          return "Results"
      }
      break
    case "CopyOut":
      if (tag === "CopyDataRows") return message.end ? "CopyOutEnd" : "CopyOut"
      break
    case "CopyOutEnd":
    case "CopyIn":
      if (tag === "CompletedResponse" || tag === "ErrorResponse") return "Results"
      break
    case "Function":
      switch (tag) {
        case "FunctionResultResponse":
        case "FunctionVoidResponse":
        case "ErrorResponse":
          return "FunctionDone"
      }
      break
    case "FunctionDone":
      if (tag === "ReadyForQuery") return "Done"
      break
    case "Refused":
    case "Done":
      break
  }
  return { desync: `${tag} is not expected in phase ${phase}` }
}
