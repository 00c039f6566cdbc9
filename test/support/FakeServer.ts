/**
 * A scripted PostgreSQL backend for the faults a real server will not produce
 * on demand: wrong messages in a state, truncated frames, dropped connections,
 * stalls, ignored cancels (in the spirit of pgx's pgmock and Npgsql's
 * PgServerMock).
 *
 * **Details**
 *
 * - Built only from the project's own codecs, in the server direction: client
 *   bytes are cut by `Framer` (startup mode, `expectUntyped()` after an
 *   SSLRequest or GSSENCRequest) and decoded by `Startup` and `Frontend`;
 *   replies are encoded by `Backend`. A codec bug therefore shows up here too.
 * - `make(...scripts)` listens on 127.0.0.1 on a free port for the life of the
 *   Scope. The first frame of each connection decides what it is, as in the
 *   postmaster: an SSLRequest or GSSENCRequest is answered 'N' (this server
 *   speaks no TLS) and the real first frame is awaited; a CancelRequest is
 *   recorded and the connection closed; anything else makes it a session
 *   connection, which runs the next script (the n-th session connection runs
 *   `scripts[n]`; connections beyond the scripts are closed at once).
 * - A script is a list of steps run in order (nested lists are flattened, so
 *   `handshake()` can be spread or nested). Client messages are read and
 *   recorded all the time, whatever the script is doing; `expect` consumes
 *   them in order. When the script ends the connection stays open, still
 *   recording, until the client closes it or the Scope ends: closing is
 *   always an explicit `close()` or `destroy()`.
 * - A script that sees a message it did not expect, or bytes no codec can
 *   decode, records the problem in `errors` and destroys the connection, so
 *   the client notices at once instead of waiting.
 *
 * What it does not do: TLS, real authentication (a script may send any
 * Authentication* message, and reads the client's 'p' answer with the right
 * codec, but checks nothing), or any SQL. It is test support, not the server
 * engine.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Net from "node:net"
import * as Backend from "../../src/protocol/Backend.ts"
import * as Frontend from "../../src/protocol/Frontend.ts"
import * as Startup from "../../src/protocol/Startup.ts"
import { Framer } from "../../src/wire/Framer.ts"
import { Reader } from "../../src/wire/Reader.ts"
import { encodeAll, readyForQuery } from "./FakeServerMessages.ts"

// ---------------------------------------------------------------------------
// Message builders (in FakeServerMessages.ts)
// ---------------------------------------------------------------------------

export {
  /** @since 0.1.0 */
  commandComplete,
  /** @since 0.1.0 */
  dataRow,
  /** @since 0.1.0 */
  encodeAll,
  /** @since 0.1.0 */
  errorResponse,
  /** @since 0.1.0 */
  noticeResponse,
  /** @since 0.1.0 */
  readyForQuery,
  /** @since 0.1.0 */
  rowDescription
} from "./FakeServerMessages.ts"

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
type PasswordKind = Frontend.PasswordContext["password"]

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

/** The codec for the client's next 'p' frame, after the last Authentication request in `messages`. */
const passwordKindOf = (messages: ReadonlyArray<Backend.BackendMessage>): PasswordKind | undefined => {
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

const describeMatcher = (match: Matcher): string => (typeof match === "string" ? match : "a matching message")

const matches = (match: Matcher, message: ClientMessage): boolean =>
  typeof match === "string" ? message._tag === match : match(message)

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/**
 * A CancelRequest as received (the key copied out of the frame).
 *
 * @since 0.1.0
 */
export interface ReceivedCancel {
  readonly processId: number
  readonly secretKey: Uint8Array
}

/**
 * A running fake server.
 *
 * @since 0.1.0
 */
export interface FakeServer {
  readonly host: string
  readonly port: number
  /** Every message received on session connections, in arrival order (startup frames included). */
  readonly received: Effect.Effect<ReadonlyArray<ClientMessage>>
  /** TCP connections accepted so far (session and cancel connections alike). */
  readonly connections: Effect.Effect<number>
  /** Connections currently open. */
  readonly open: Effect.Effect<number>
  /** Every CancelRequest received, in order. */
  readonly cancelRequests: Effect.Effect<ReadonlyArray<ReceivedCancel>>
  /** Script mismatches and undecodable client bytes; empty when every script ran as written. */
  readonly errors: Effect.Effect<ReadonlyArray<string>>
  /** Waits until `count` received messages match (already received ones count). */
  readonly waitFor: (match: Matcher, count?: number) => Effect.Effect<void>
}

/** Messages of one connection waiting for the script; `undefined` from `take` once the client is gone. */
class Inbox {
  private readonly items: Array<ClientMessage> = []
  private closed = false
  private waiter: ((message: ClientMessage | undefined) => void) | undefined = undefined

  push(message: ClientMessage): void {
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w(message)
    } else this.items.push(message)
  }

  end(): void {
    this.closed = true
    const w = this.waiter
    this.waiter = undefined
    w?.(undefined)
  }

  readonly take: Effect.Effect<ClientMessage | undefined> = Effect.callback((resume) => {
    if (this.items.length > 0) return resume(Effect.succeed(this.items.shift()))
    if (this.closed) return resume(Effect.succeed(undefined))
    this.waiter = (message) => resume(Effect.succeed(message))
    return Effect.sync(() => {
      this.waiter = undefined
    })
  })
}

interface ServerState {
  readonly received: Array<ClientMessage>
  readonly cancels: Array<ReceivedCancel>
  readonly errors: Array<string>
  readonly sockets: Set<Net.Socket>
  readonly watchers: Set<() => void>
  connections: number
  sessions: number
}

const ENCRYPTION_REFUSED = Uint8Array.of(0x4e) // 'N'

/**
 * Starts a fake server for the Scope; the n-th session connection runs
 * `scripts[n]`.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(...scripts: ReadonlyArray<Script>) {
  const runFork = yield* FiberSet.makeRuntime<never, void, never>()
  const state: ServerState = {
    received: [],
    cancels: [],
    errors: [],
    sockets: new Set(),
    watchers: new Set(),
    connections: 0,
    sessions: 0
  }
  const flat = scripts.map((s) => s.flat() as ReadonlyArray<Step>)

  const server = yield* Effect.acquireRelease(
    Effect.callback<Net.Server>((resume) => {
      const s = Net.createServer((socket) => accept(socket, state, flat, runFork))
      s.once("error", (e) => resume(Effect.die(e)))
      s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
    }),
    (s) =>
      Effect.callback<void>((resume) => {
        for (const socket of state.sockets) socket.destroy()
        s.close(() => resume(Effect.void))
      })
  )
  const address = server.address() as Net.AddressInfo

  const waitFor = (match: Matcher, count = 1): Effect.Effect<void> =>
    Effect.callback<void>((resume) => {
      const check = (): boolean => {
        let n = 0
        for (const m of state.received) if (matches(match, m)) n++
        return n >= count
      }
      if (check()) return resume(Effect.void)
      const watcher = () => {
        if (check()) {
          state.watchers.delete(watcher)
          resume(Effect.void)
        }
      }
      state.watchers.add(watcher)
      return Effect.sync(() => state.watchers.delete(watcher))
    })

  const fake: FakeServer = {
    host: "127.0.0.1",
    port: address.port,
    received: Effect.sync(() => state.received.slice()),
    connections: Effect.sync(() => state.connections),
    open: Effect.sync(() => state.sockets.size),
    cancelRequests: Effect.sync(() => state.cancels.slice()),
    errors: Effect.sync(() => state.errors.slice()),
    waitFor
  }
  return fake
})

/** Handles one accepted connection: frames in, script out. */
const accept = (
  socket: Net.Socket,
  state: ServerState,
  scripts: ReadonlyArray<ReadonlyArray<Step>>,
  runFork: (effect: Effect.Effect<void>) => unknown
): void => {
  state.connections++
  state.sockets.add(socket)
  const framer = new Framer({ startup: true })
  const reader = new Reader()
  const inbox = new Inbox()
  const conn: ConnState = { password: undefined }

  const fail = (problem: string) => {
    state.errors.push(problem)
    socket.destroy()
  }

  const record = (message: ClientMessage) => {
    state.received.push(message)
    for (const w of state.watchers) w()
    inbox.push(message)
  }

  const onFrame = (type: number, buf: Uint8Array, start: number, end: number): void => {
    if (type !== -1) {
      const context = conn.password === undefined ? undefined : { password: conn.password }
      return record(Frontend.readUnsafe(type, buf, start, end, reader, context))
    }
    const message = Startup.readUnsafe(buf, start, end, reader)
    switch (message._tag) {
      case "SSLRequest":
      case "GSSENCRequest":
        // protocol-3.2 "SSL Session Encryption": 'N', then the client sends its StartupMessage in clear.
        socket.write(ENCRYPTION_REFUSED)
        framer.expectUntyped()
        return
      case "CancelRequest":
        // The postmaster signals the backend and closes the connection without a reply.
        state.cancels.push({ processId: message.processId, secretKey: message.secretKey.slice() })
        socket.end()
        return
      case "StartupMessage": {
        const index = state.sessions++
        const script = scripts[index]
        if (script === undefined) {
          socket.destroy()
          return
        }
        record(message)
        runFork(runScript(script, socket, inbox, conn, fail))
        return
      }
    }
  }

  socket.on("data", (chunk: Buffer) => {
    try {
      framer.push(chunk, onFrame)
    } catch (e) {
      fail(`undecodable client bytes: ${e instanceof Error ? e.message : String(e)}`)
    }
  })
  socket.on("error", () => {})
  socket.on("close", () => {
    state.sockets.delete(socket)
    inbox.end()
  })
}

interface ConnState {
  /** How to read the client's next 'p' frame. */
  password: PasswordKind | undefined
}

const runScript = (
  steps: ReadonlyArray<Step>,
  socket: Net.Socket,
  inbox: Inbox,
  conn: ConnState,
  fail: (problem: string) => void
): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (const step of steps) {
      switch (step._tag) {
        case "Expect": {
          let message = yield* inbox.take
          while (message !== undefined && step.skip && !matches(step.match, message)) message = yield* inbox.take
          // The client went away: nothing left to answer.
          if (message === undefined) return
          if (!matches(step.match, message)) {
            return fail(`expected ${describeMatcher(step.match)}, received ${message._tag}`)
          }
          if (step.reply !== undefined) {
            const replies = step.reply(message)
            const kind = passwordKindOf(replies)
            if (kind !== undefined) conn.password = kind
            yield* write(socket, encodeAll(replies))
          }
          break
        }
        case "Send":
          if (step.password !== undefined) conn.password = step.password
          yield* write(socket, step.bytes)
          break
        case "Delay":
          yield* Effect.sleep(step.millis)
          break
        case "Close":
          socket.end()
          return
        case "Destroy":
          socket.destroy()
          return
        case "WaitForever":
          return yield* Effect.never
      }
    }
  })

/** Writes and waits until the bytes are handed to the kernel, so a `destroy()` after it cannot drop them. */
const write = (socket: Net.Socket, bytes: Uint8Array): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (socket.destroyed || !socket.writable) return resume(Effect.void)
    socket.write(bytes, () => resume(Effect.void))
  })
