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
 * The script steps live in `FakeServerScript` and the message builders in
 * `FakeServerMessages`; both are re-exported here, so a test imports only this
 * module. This file holds the server: accepting connections, recording what
 * clients send, running each connection's script.
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
import * as Frontend from "../../src/protocol/Frontend.ts"
import * as Startup from "../../src/protocol/Startup.ts"
import { Framer } from "../../src/wire/Framer.ts"
import { Reader } from "../../src/wire/Reader.ts"
import { encodeAll } from "./FakeServerMessages.ts"
import {
  type ClientMessage,
  describeMatcher,
  type Matcher,
  matches,
  type PasswordKind,
  passwordKindOf,
  type Script,
  type Step
} from "./FakeServerScript.ts"

// ---------------------------------------------------------------------------
// Scripts (in FakeServerScript.ts)
// ---------------------------------------------------------------------------

export {
  /** @since 0.1.0 */
  type ClientMessage,
  /** @since 0.1.0 */
  close,
  /** @since 0.1.0 */
  DEFAULT_PARAMETERS,
  /** @since 0.1.0 */
  delay,
  /** @since 0.1.0 */
  destroy,
  /** @since 0.1.0 */
  expect,
  /** @since 0.1.0 */
  handshake,
  /** @since 0.1.0 */
  type HandshakeOptions,
  /** @since 0.1.0 */
  type Matcher,
  /** @since 0.1.0 */
  readUntil,
  /** @since 0.1.0 */
  respond,
  /** @since 0.1.0 */
  type Script,
  /** @since 0.1.0 */
  send,
  /** @since 0.1.0 */
  sendRaw,
  /** @since 0.1.0 */
  stall,
  /** @since 0.1.0 */
  type Step,
  /** @since 0.1.0 */
  waitForever
} from "./FakeServerScript.ts"

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
