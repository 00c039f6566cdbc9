/**
 * The script language of the fake server (`FakeServer`): a script is a list
 * of steps run in order on one session connection (nested lists are
 * flattened): wait for a client message (`expect`, `readUntil`) and answer it
 * (`respond`), send messages or raw bytes (`send`, `sendRaw`), wait
 * (`delay`), end the connection (`close`, `destroy`) or go silent
 * (`waitForever`, `stall`); `handshake` answers a StartupMessage as a trusting
 * server does. Also what a step needs to run: how a matcher matches, and which
 * codec reads the client's next 'p' frame after an Authentication* request.
 *
 * Re-exported by `FakeServer`. Not here: running a script on a socket
 * (`FakeServer`), the message builders (`FakeServerMessages`).
 *
 * @since 0.1.0
 */
import * as Backend from "../../src/protocol/Backend.ts"
import * as Frontend from "../../src/protocol/Frontend.ts"
import * as Startup from "../../src/protocol/Startup.ts"
import { encodeAll, readyForQuery } from "./FakeServerMessages.ts"

// ---------------------------------------------------------------------------
// Scripts
// ---------------------------------------------------------------------------

/**
 * Anything a client sends: a startup-phase frame or a typed message.
 *
 * @since 0.1.0
 */
export type ClientMessage = Startup.StartupPhaseMessage | Frontend.FrontendMessage

/**
 * Which message a step waits for: its `_tag`, or a predicate.
 *
 * @since 0.1.0
 */
export type Matcher = ClientMessage["_tag"] | ((message: ClientMessage) => boolean)

/**
 * Which codec reads the client's next 'p' frame (the bytes cannot say):
 * set by the Authentication* request a script sends.
 */
export type PasswordKind = Frontend.PasswordContext["password"]

/**
 * One step of a script.
 *
 * @since 0.1.0
 */
export type Step =
  | {
    readonly _tag: "Expect"
    readonly match: Matcher
    /** Skip messages that do not match instead of failing. */
    readonly skip: boolean
    /** Replies computed from the matching message. */
    readonly reply: ((message: ClientMessage) => ReadonlyArray<Backend.BackendMessage>) | undefined
  }
  | { readonly _tag: "Send"; readonly bytes: Uint8Array; readonly password: PasswordKind | undefined }
  | { readonly _tag: "Delay"; readonly millis: number }
  | { readonly _tag: "Close" }
  | { readonly _tag: "Destroy" }
  | { readonly _tag: "WaitForever" }

/**
 * A script: steps, possibly nested.
 *
 * @since 0.1.0
 */
export type Script = ReadonlyArray<Step | ReadonlyArray<Step>>

/**
 * Waits for the next client message and fails the script unless it matches.
 *
 * @since 0.1.0
 */
export const expect = (match: Matcher): Step => ({ _tag: "Expect", match, skip: false, reply: undefined })

/**
 * Reads client messages until one matches (the skipped ones are still
 * recorded in `received`): "wait for the end of the request", whatever the
 * client's exact message sequence is.
 *
 * @since 0.1.0
 */
export const readUntil = (match: Matcher): Step => ({ _tag: "Expect", match, skip: true, reply: undefined })

/**
 * Waits for the next client message (skipping others when `skip`) and sends
 * the replies computed from it.
 *
 * @since 0.1.0
 */
export const respond = (
  match: Matcher,
  reply: (message: ClientMessage) => ReadonlyArray<Backend.BackendMessage>,
  options?: { readonly skip?: boolean | undefined }
): Step => ({ _tag: "Expect", match, skip: options?.skip === true, reply })

/**
 * Sends one or more server messages (encoded now, with the project's codecs).
 * Throws when a message cannot be encoded (a mistake in the test: use
 * `sendRaw` for bytes the codecs refuse to produce).
 *
 * @since 0.1.0
 */
export const send = (messages: Backend.BackendMessage | ReadonlyArray<Backend.BackendMessage>): Step => {
  const list: ReadonlyArray<Backend.BackendMessage> = Array.isArray(messages) ? messages : [messages as Backend.BackendMessage]
  return { _tag: "Send", bytes: encodeAll(list), password: passwordKindOf(list) }
}

/**
 * Sends bytes exactly as given: truncated frames, lengths that lie, messages
 * the encoder refuses.
 *
 * @since 0.1.0
 */
export const sendRaw = (bytes: Uint8Array): Step => ({ _tag: "Send", bytes, password: undefined })

/**
 * Waits `millis` before the next step.
 *
 * @since 0.1.0
 */
export const delay = (millis: number): Step => ({ _tag: "Delay", millis })

/**
 * Ends the connection (FIN after everything sent so far).
 *
 * @since 0.1.0
 */
export const close = (): Step => ({ _tag: "Close" })

/**
 * Destroys the connection at once, whatever is still buffered: a server that
 * died in the middle of a message.
 *
 * @since 0.1.0
 */
export const destroy = (): Step => ({ _tag: "Destroy" })

/**
 * Never answers again: the connection stays open and client messages are
 * still read and recorded (a hung backend whose kernel still accepts bytes).
 *
 * @since 0.1.0
 */
export const waitForever: Step = { _tag: "WaitForever" }

/**
 * Accepts and never answers: `waitForever` under the name that reads better
 * at the start of a script.
 *
 * @since 0.1.0
 */
export const stall = (): Step => waitForever

/**
 * @since 0.1.0
 */
export interface HandshakeOptions {
  /** Default 4242. */
  readonly processId?: number | undefined
  /** Default: 4 bytes (1, 2, 3, 4) at protocol 3.0, 32 bytes (1..32) at 3.2. */
  readonly secretKey?: Uint8Array | undefined
  /** Added to (or replacing) the default ParameterStatus values. */
  readonly parameters?: Readonly<Record<string, string>> | undefined
  /**
   * The newest protocol minor this server speaks. When the client asks for a
   * newer one, or sends `_pq_.` options, NegotiateProtocolVersion comes first
   * (listing every `_pq_.` option as unrecognized, as a server that knows
   * none does). Default: whatever the client asks for.
   */
  readonly protocolMinor?: number | undefined
}

/**
 * The ParameterStatus values a handshake reports by default.
 *
 * @since 0.1.0
 */
export const DEFAULT_PARAMETERS: Readonly<Record<string, string>> = {
  server_version: "18.0",
  server_encoding: "UTF8",
  client_encoding: "UTF8",
  DateStyle: "ISO, MDY",
  integer_datetimes: "on",
  standard_conforming_strings: "on",
  TimeZone: "UTC"
}

/**
 * Reads a StartupMessage and answers as a trusting server does:
 * [NegotiateProtocolVersion,] AuthenticationOk, ParameterStatus for each
 * parameter, BackendKeyData, ReadyForQuery('I').
 *
 * @since 0.1.0
 */
export const handshake = (options: HandshakeOptions = {}): Step =>
  respond("StartupMessage", (message) => {
    const startup = message as Startup.StartupMessage
    const requested = startup.protocolVersion & 0xffff
    const minor = Math.min(requested, options.protocolMinor ?? requested)
    const unrecognized = startup.parameters.filter((p) => p.name.startsWith("_pq_.")).map((p) => p.name)
    const out: Array<Backend.BackendMessage> = []
    if (minor < requested || unrecognized.length > 0) {
      out.push({ _tag: "NegotiateProtocolVersion", newestMinorVersion: minor, unrecognizedOptions: unrecognized })
    }
    out.push({ _tag: "AuthenticationOk" })
    for (const [name, value] of Object.entries({ ...DEFAULT_PARAMETERS, ...options.parameters })) {
      out.push({ _tag: "ParameterStatus", name, value })
    }
    out.push({
      _tag: "BackendKeyData",
      processId: options.processId ?? 4242,
      secretKey: options.secretKey ?? defaultKey(minor === 0 ? 4 : 32)
    })
    out.push(readyForQuery("I"))
    return out
  })

const defaultKey = (length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => i + 1)

// ---------------------------------------------------------------------------
// What running a step needs
// ---------------------------------------------------------------------------

/** The codec for the client's next 'p' frame, after the last Authentication request in `messages`. */
export const passwordKindOf = (messages: ReadonlyArray<Backend.BackendMessage>): PasswordKind | undefined => {
  let kind: PasswordKind | undefined = undefined
  for (const m of messages) {
    switch (m._tag) {
      case "AuthenticationCleartextPassword":
      case "AuthenticationMD5Password":
        kind = "PasswordMessage"
        break
      case "AuthenticationSASL":
        kind = "SASLInitialResponse"
        break
      case "AuthenticationSASLContinue":
        kind = "SASLResponse"
        break
      case "AuthenticationGSS":
      case "AuthenticationGSSContinue":
      case "AuthenticationSSPI":
        kind = "GSSResponse"
        break
    }
  }
  return kind
}

export const describeMatcher = (match: Matcher): string => (typeof match === "string" ? match : "a matching message")

export const matches = (match: Matcher, message: ClientMessage): boolean =>
  typeof match === "string" ? message._tag === match : match(message)
