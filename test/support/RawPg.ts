/**
 * A deliberately tiny PostgreSQL client for the test harness: protocol 3.0
 * startup (trust, cleartext password, MD5), optional TLS after SSLRequest, the
 * simple query protocol with text results, and an SSLRequest probe.
 *
 * **Why it exists**
 *
 * The harness must be able to tell "the server is up and configured as asked"
 * without depending on the code under test: a broken codec in `src/` must make
 * the product's tests fail, never the harness that runs them. So this module
 * hand-builds its few frames with `node:net`/`node:tls` and imports nothing
 * from `src/`.
 *
 * **What it does not do**
 *
 * SASL/SCRAM, the extended query protocol, COPY, binary results, protocol
 * 3.2 or 2.0, cancellation, or any error recovery: a connection that sees an
 * unexpected message fails and is closed. Every operation has a timeout, so a
 * wedged server gives an error instead of a hang.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as net from "node:net"
import * as tls from "node:tls"

/**
 * Where to connect: TCP, or the directory holding the server's Unix socket
 * (the socket file is `<socketDir>/.s.PGSQL.<port>`, as in libpq).
 *
 * @since 0.1.0
 */
export type RawTarget =
  | { readonly host: string; readonly port: number }
  | { readonly socketDir: string; readonly port: number }

/**
 * @since 0.1.0
 */
export interface RawConnectOptions {
  readonly user: string
  readonly database?: string | undefined
  readonly password?: string | undefined
  /** Send SSLRequest first and upgrade to TLS; fails if the server answers 'N'. */
  readonly tls?: tls.ConnectionOptions | undefined
  /** Extra StartupMessage parameters (e.g. `application_name`). */
  readonly parameters?: Readonly<Record<string, string>> | undefined
  /** Whole-connect timeout in milliseconds. Default 10 s. */
  readonly timeoutMs?: number | undefined
}

/**
 * An ErrorResponse from the server, with its fields by their one-letter codes
 * (protocol-3.2 "Error and Notice Message Fields").
 *
 * @since 0.1.0
 */
export class RawServerError extends Error {
  readonly fields: Readonly<Record<string, string>>
  constructor(fields: Readonly<Record<string, string>>) {
    super(`${fields["S"] ?? "ERROR"} ${fields["C"] ?? "?????"}: ${fields["M"] ?? "(no message)"}`)
    this.name = "RawServerError"
    this.fields = fields
  }
  /** The SQLSTATE code. */
  get code(): string {
    return this.fields["C"] ?? ""
  }
}

/**
 * The server asked for an authentication method this client does not speak.
 *
 * @since 0.1.0
 */
export class RawAuthUnsupported extends Error {
  /** The Authentication* request code (protocol-3.2 "Message Formats"): 10 = SASL, 7 = GSS, ... */
  readonly authCode: number
  constructor(authCode: number, detail: string) {
    super(`the server asked for authentication code ${authCode}${detail}; the harness client cannot answer it`)
    this.name = "RawAuthUnsupported"
    this.authCode = authCode
  }
}

/**
 * The result of one statement of a simple query.
 *
 * @since 0.1.0
 */
export interface RawResult {
  readonly command: string
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string | null>>
}

interface Frame {
  readonly type: number
  readonly body: Buffer
}

const PROTOCOL_3_0 = 196608
const SSL_REQUEST_CODE = 80877103
const DEFAULT_TIMEOUT_MS = 10_000

const startupFrame = (parameters: Record<string, string>): Buffer => {
  const parts: Array<Buffer> = []
  for (const [k, v] of Object.entries(parameters)) parts.push(Buffer.from(`${k}\0${v}\0`, "utf8"))
  parts.push(Buffer.from([0]))
  const body = Buffer.concat(parts)
  const head = Buffer.alloc(8)
  head.writeInt32BE(8 + body.length, 0)
  head.writeInt32BE(PROTOCOL_3_0, 4)
  return Buffer.concat([head, body])
}

const typedFrame = (type: string, body: Buffer): Buffer => {
  const head = Buffer.alloc(5)
  head.write(type, 0, "latin1")
  head.writeInt32BE(4 + body.length, 1)
  return Buffer.concat([head, body])
}

const sslRequestFrame = (): Buffer => {
  const b = Buffer.alloc(8)
  b.writeInt32BE(8, 0)
  b.writeInt32BE(SSL_REQUEST_CODE, 4)
  return b
}

const parseErrorFields = (body: Buffer): Record<string, string> => {
  const fields: Record<string, string> = {}
  let pos = 0
  while (pos < body.length && body[pos] !== 0) {
    const code = String.fromCharCode(body[pos]!)
    const end = body.indexOf(0, pos + 1)
    if (end < 0) break
    fields[code] = body.toString("utf8", pos + 1, end)
    pos = end + 1
  }
  return fields
}

const openSocket = (target: RawTarget, timeoutMs: number): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = "host" in target
      ? net.connect({ host: target.host, port: target.port })
      : net.connect({ path: `${target.socketDir}/.s.PGSQL.${target.port}` })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`connect to ${describeTarget(target)} timed out after ${timeoutMs} ms`))
    }, timeoutMs)
    socket.once("connect", () => {
      clearTimeout(timer)
      socket.removeAllListeners("error")
      resolve(socket)
    })
    socket.once("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
  })

/**
 * Human-readable form of a target, for messages.
 *
 * @since 0.1.0
 */
export const describeTarget = (target: RawTarget): string =>
  "host" in target ? `${target.host}:${target.port}` : `${target.socketDir}/.s.PGSQL.${target.port}`

/** Reads exactly one byte (the SSLRequest answer), leaving nothing buffered. */
const readOneByte = (socket: net.Socket, timeoutMs: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no answer to SSLRequest within ${timeoutMs} ms`)), timeoutMs)
    const onData = (chunk: Buffer) => {
      if (chunk.length !== 1) {
        done(new Error(`SSLRequest answered with ${chunk.length} bytes (expected exactly 1)`))
        return
      }
      done(undefined, chunk[0]!)
    }
    const onError = (e: Error) => done(e)
    const onClose = () => done(new Error("connection closed before the SSLRequest answer"))
    const done = (error: Error | undefined, value?: number) => {
      clearTimeout(timer)
      socket.off("data", onData)
      socket.off("error", onError)
      socket.off("close", onClose)
      socket.pause()
      if (error !== undefined) reject(error)
      else resolve(value!)
    }
    socket.on("data", onData)
    socket.on("error", onError)
    socket.on("close", onClose)
    socket.resume()
  })

/**
 * Sends an SSLRequest and returns the server's one-byte answer: `"S"` (TLS
 * accepted), `"N"` (refused), or another character (a broken server), then
 * closes the connection.
 *
 * @since 0.1.0
 */
export const sslProbe = async (target: RawTarget, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> => {
  const socket = await openSocket(target, timeoutMs)
  try {
    socket.write(sslRequestFrame())
    return String.fromCharCode(await readOneByte(socket, timeoutMs))
  } finally {
    socket.destroy()
  }
}

/**
 * One open connection after a successful startup.
 *
 * @since 0.1.0
 */
export class RawConnection {
  /** ParameterStatus values reported so far (`server_version`, ...). */
  readonly parameters = new Map<string, string>()
  /** Authentication request codes seen during startup, in order (0 = AuthenticationOk). */
  readonly authCodes: Array<number> = []
  processId = 0
  /** Whether the connection runs over TLS. */
  readonly encrypted: boolean

  private readonly socket: net.Socket
  private readonly timeoutMs: number
  private buffered: Buffer = Buffer.alloc(0)
  private readonly frames: Array<Frame> = []
  private waiter: ((error: Error | undefined) => void) | undefined = undefined
  private failure: Error | undefined = undefined

  private constructor(socket: net.Socket, encrypted: boolean, timeoutMs: number) {
    this.socket = socket
    this.encrypted = encrypted
    this.timeoutMs = timeoutMs
    socket.on("data", (chunk: Buffer) => this.onData(chunk))
    socket.on("error", (e) => this.fail(e))
    socket.on("close", () => this.fail(new Error("connection closed by the server")))
    socket.resume()
  }

  /**
   * Connects and completes the startup exchange up to ReadyForQuery.
   * Rejects with `RawServerError` (e.g. 28000 no pg_hba.conf entry, 57P03 the
   * database system is starting up), `RawAuthUnsupported`, or a socket error.
   */
  static async connect(target: RawTarget, options: RawConnectOptions): Promise<RawConnection> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    let socket: net.Socket = await openSocket(target, timeoutMs)
    let encrypted = false
    try {
      if (options.tls !== undefined) {
        socket.write(sslRequestFrame())
        const answer = await readOneByte(socket, timeoutMs)
        if (answer !== 0x53) {
          throw new Error(`the server refused TLS: SSLRequest answered '${String.fromCharCode(answer)}'`)
        }
        socket = await upgrade(socket, options.tls, timeoutMs)
        encrypted = true
      }
    } catch (e) {
      socket.destroy()
      throw e
    }
    const conn = new RawConnection(socket, encrypted, timeoutMs)
    try {
      await conn.startup(options)
      return conn
    } catch (e) {
      socket.destroy()
      throw e
    }
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk])
    while (this.buffered.length >= 5) {
      const length = this.buffered.readInt32BE(1)
      if (length < 4) {
        this.fail(new Error(`invalid frame length ${length}`))
        return
      }
      if (this.buffered.length < length + 1) break
      this.frames.push({ type: this.buffered[0]!, body: this.buffered.subarray(5, length + 1) })
      this.buffered = this.buffered.subarray(length + 1)
    }
    this.wake(undefined)
  }

  private fail(e: Error): void {
    if (this.failure === undefined) this.failure = e
    this.wake(e)
  }

  private wake(e: Error | undefined): void {
    const w = this.waiter
    this.waiter = undefined
    if (w !== undefined) w(e)
  }

  private async next(): Promise<Frame> {
    const deadline = Date.now() + this.timeoutMs
    while (true) {
      const frame = this.frames.shift()
      if (frame !== undefined) return frame
      if (this.failure !== undefined) throw this.failure
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no message from the server within ${this.timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.waiter = undefined
          resolve()
        }, left)
        this.waiter = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }

  private async startup(options: RawConnectOptions): Promise<void> {
    this.socket.write(startupFrame({
      user: options.user,
      database: options.database ?? options.user,
      ...options.parameters
    }))
    while (true) {
      const frame = await this.next()
      switch (frame.type) {
        case 0x52: { // 'R' Authentication*
          const code = frame.body.readInt32BE(0)
          this.authCodes.push(code)
          if (code === 0) break
          if (code === 3) {
            this.socket.write(typedFrame("p", Buffer.from(`${this.requirePassword(options, code)}\0`, "utf8")))
            break
          }
          if (code === 5) {
            // md5(md5(password || user) || salt), hex, prefixed "md5" (protocol-3.2 "Password Authentication").
            const password = this.requirePassword(options, code)
            const inner = createHash("md5").update(password + options.user, "utf8").digest("hex")
            const salt = frame.body.subarray(4, 8)
            const outer = createHash("md5").update(Buffer.concat([Buffer.from(inner, "latin1"), salt])).digest("hex")
            this.socket.write(typedFrame("p", Buffer.from(`md5${outer}\0`, "latin1")))
            break
          }
          const detail = code === 10
            ? ` (SASL: ${frame.body.toString("utf8", 4).split("\0").filter((s) => s.length > 0).join(", ")})`
            : ""
          throw new RawAuthUnsupported(code, detail)
        }
        case 0x53: { // 'S' ParameterStatus
          const [name = "", value = ""] = frame.body.toString("utf8").split("\0")
          this.parameters.set(name, value)
          break
        }
        case 0x4b: // 'K' BackendKeyData
          this.processId = frame.body.readInt32BE(0)
          break
        case 0x4e: // 'N' NoticeResponse
          break
        case 0x45: // 'E' ErrorResponse
          throw new RawServerError(parseErrorFields(frame.body))
        case 0x5a: // 'Z' ReadyForQuery
          return
        default:
          throw new Error(`unexpected message '${String.fromCharCode(frame.type)}' during startup`)
      }
    }
  }

  private requirePassword(options: RawConnectOptions, code: number): string {
    if (options.password === undefined) {
      throw new Error(`the server asked for a password (authentication code ${code}) but none was given`)
    }
    return options.password
  }

  /**
   * Runs `sql` with the simple query protocol and returns one result per
   * statement. Rejects with the first `RawServerError` (after the server's
   * ReadyForQuery, so the connection stays usable).
   */
  async query(sql: string): Promise<Array<RawResult>> {
    this.socket.write(typedFrame("Q", Buffer.from(`${sql}\0`, "utf8")))
    const results: Array<RawResult> = []
    let columns: Array<string> = []
    let rows: Array<Array<string | null>> = []
    let error: RawServerError | undefined = undefined
    while (true) {
      const frame = await this.next()
      const body = frame.body
      switch (frame.type) {
        case 0x54: { // 'T' RowDescription
          const count = body.readInt16BE(0)
          columns = []
          rows = []
          let pos = 2
          for (let i = 0; i < count; i++) {
            const end = body.indexOf(0, pos)
            columns.push(body.toString("utf8", pos, end))
            pos = end + 1 + 18
          }
          break
        }
        case 0x44: { // 'D' DataRow
          const count = body.readInt16BE(0)
          const row: Array<string | null> = []
          let pos = 2
          for (let i = 0; i < count; i++) {
            const length = body.readInt32BE(pos)
            pos += 4
            if (length < 0) {
              row.push(null)
            } else {
              row.push(body.toString("utf8", pos, pos + length))
              pos += length
            }
          }
          rows.push(row)
          break
        }
        case 0x43: // 'C' CommandComplete
          results.push({ command: body.toString("utf8", 0, body.length - 1), columns, rows })
          columns = []
          rows = []
          break
        case 0x49: // 'I' EmptyQueryResponse
        case 0x4e: // 'N' NoticeResponse
          break
        case 0x53: { // 'S' ParameterStatus (e.g. after SET)
          const [name = "", value = ""] = body.toString("utf8").split("\0")
          this.parameters.set(name, value)
          break
        }
        case 0x45: // 'E' ErrorResponse
          error ??= new RawServerError(parseErrorFields(body))
          break
        case 0x5a: // 'Z' ReadyForQuery
          if (error !== undefined) throw error
          return results
        default:
          throw new Error(`unexpected message '${String.fromCharCode(frame.type)}' during a simple query`)
      }
    }
  }

  /** The single value of a one-row, one-column query. */
  async scalar(sql: string): Promise<string | null> {
    const results = await this.query(sql)
    const row = results[results.length - 1]?.rows[0]
    if (row === undefined || row.length !== 1) throw new Error(`expected one value from: ${sql}`)
    return row[0] ?? null
  }

  /** Sends Terminate and closes the socket. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) {
        resolve()
        return
      }
      this.socket.once("close", () => resolve())
      this.socket.end(typedFrame("X", Buffer.alloc(0)))
      setTimeout(() => this.socket.destroy(), 1_000).unref()
    })
  }
}

const upgrade = (socket: net.Socket, options: tls.ConnectionOptions, timeoutMs: number): Promise<tls.TLSSocket> =>
  new Promise((resolve, reject) => {
    const secure = tls.connect({ ...options, socket })
    const timer = setTimeout(() => {
      secure.destroy()
      reject(new Error(`TLS handshake timed out after ${timeoutMs} ms`))
    }, timeoutMs)
    secure.once("secureConnect", () => {
      clearTimeout(timer)
      secure.removeAllListeners("error")
      secure.pause()
      resolve(secure)
    })
    secure.once("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
  })
