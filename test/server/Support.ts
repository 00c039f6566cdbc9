/**
 * Helpers of the server engine's tests: a server for the length of a test,
 * a raw client speaking frames from the project's codecs, and the Debian
 * client programs (psql, pgbench) run against a server.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import { execFile } from "node:child_process"
import * as net from "node:net"
import * as Backend from "../../src/protocol/Backend.ts"
import * as Frontend from "../../src/protocol/Frontend.ts"
import * as Startup from "../../src/protocol/Startup.ts"
import * as PgServer from "../../src/server/PgServer.ts"
import { Framer } from "../../src/wire/Framer.ts"

export interface Running {
  readonly server: PgServer.RunningServer
  readonly port: number
  readonly close: () => Promise<void>
}

/** Starts a server on a free port; `close` shuts it down fast. */
export const startServer = async (options: PgServer.ServeOptions): Promise<Running> => {
  const scope = Effect.runSync(Scope.make())
  const server = await Effect.runPromise(Scope.provide(PgServer.serve(options), scope))
  const port = server.address._tag === "Tcp" ? server.address.port : server.address.port
  return { server, port, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/** Runs `f` with a server, closing it afterwards. */
export const withServer = async <A>(options: PgServer.ServeOptions, f: (s: Running) => Promise<A>): Promise<A> => {
  const s = await startServer(options)
  try {
    return await f(s)
  } finally {
    await s.close()
  }
}

export const encodeStartup = (message: Startup.StartupPhaseMessage): Uint8Array => Result.getOrThrow(Startup.encode(message))
export const encodeFrontend = (message: Frontend.FrontendMessage): Uint8Array => Result.getOrThrow(Frontend.encode(message))
export const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => new Uint8Array(Buffer.concat(parts))

export const startup = (user = "tester", version = Startup.PROTOCOL_3_0, extra: Record<string, string> = {}): Uint8Array =>
  encodeStartup({
    _tag: "StartupMessage",
    protocolVersion: version,
    parameters: [{ name: "user", value: user }, ...Object.entries(extra).map(([name, value]) => ({ name, value }))]
  })

/**
 * A raw client: bytes out, server frames in (decoded by `Backend`), or single
 * answer bytes while `expectByte` is set.
 */
export class RawClient {
  readonly socket: net.Socket
  readonly messages: Array<Backend.BackendMessage> = []
  readonly bytes: Array<number> = []
  private framer = new Framer()
  private raw = false
  closed = false
  private waiters: Array<() => void> = []

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on("data", (chunk: Buffer) => {
      let data = new Uint8Array(chunk)
      while (this.raw && data.length > 0) {
        this.bytes.push(data[0]!)
        this.raw = false
        data = data.subarray(1)
        if (data.length > 0) this.bytes.push(...data), data = new Uint8Array(0)
      }
      if (data.length > 0) {
        for (const f of this.framer.pushAll(data)) {
          const frame = concat(new Uint8Array([f.type, 0, 0, 0, 0]), f.body)
          new DataView(frame.buffer).setInt32(1, f.body.length + 4)
          this.messages.push(Result.getOrThrow(Backend.decode(frame)))
        }
      }
      this.wake()
    })
    socket.on("close", () => {
      this.closed = true
      this.wake()
    })
    socket.on("error", () => {})
  }

  private wake() {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: "127.0.0.1" }, () => resolve(new RawClient(socket)))
      socket.once("error", reject)
    })
  }

  /** The next bytes answer a probe (SSLRequest, GSSENCRequest): one byte, not a frame. */
  expectByte(): this {
    this.raw = true
    return this
  }

  send(...parts: ReadonlyArray<Uint8Array>): this {
    this.socket.write(concat(...parts))
    return this
  }

  /** Waits until `done()` holds, the socket closes, or `timeoutMs` passes (then fails). */
  waitFor(done: () => boolean, timeoutMs = 5_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; got ${this.messages.map((m) => m._tag).join(",")} bytes ${this.bytes}`)), timeoutMs)
      const check = () => {
        if (done() || this.closed) {
          clearTimeout(timer)
          resolve()
        } else this.waiters.push(check)
      }
      check()
    })
  }

  /** Waits for a message with `tag` (or the close); returns the messages since `from`. */
  async until(tag: Backend.BackendMessage["_tag"], from = 0): Promise<Array<Backend.BackendMessage>> {
    await this.waitFor(() => this.messages.slice(from).some((m) => m._tag === tag))
    return this.messages.slice(from)
  }

  async untilClosed(timeoutMs = 5_000): Promise<void> {
    await this.waitFor(() => this.closed, timeoutMs)
  }

  tags(from = 0): Array<string> {
    return this.messages.slice(from).map((m) => m._tag)
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Polls `done` every 10 ms until it holds; fails after `timeoutMs`. */
export const waitUntil = async (done: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error("condition not reached")
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** The SQLSTATE of an ErrorResponse. */
export const codeOf = (m: Backend.BackendMessage | undefined): string | undefined =>
  m !== undefined && (m._tag === "ErrorResponse" || m._tag === "NoticeResponse")
    ? m.fields.find((f) => f.code === "C")?.value
    : undefined

export const severityOf = (m: Backend.BackendMessage | undefined): string | undefined =>
  m !== undefined && m._tag === "ErrorResponse" ? m.fields.find((f) => f.code === "V")?.value : undefined

export interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs a client program; never rejects (the exit code is in the result). */
export const run = (file: string, args: ReadonlyArray<string>, env: Record<string, string> = {}, timeoutMs = 20_000): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { env: { ...process.env, PGCONNECT_TIMEOUT: "5", ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
        resolve({ code, stdout: String(stdout), stderr: String(stderr) })
      }
    )
  })

/** psql against `port` in clear unless `conn` says otherwise: `-X -A -t`, errors stop the script. */
export const psql = (port: number, args: ReadonlyArray<string>, conn = "", env: Record<string, string> = {}) =>
  run("psql", [`host=127.0.0.1 port=${port} user=tester dbname=db sslmode=disable ${conn}`, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", ...args], env)
