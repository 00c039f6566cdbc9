/**
 * A replication connection: the session layer's connection core (`Establish`
 * for TLS and libpq's `sslmode` order, `Connection` for framing, the FIFO and
 * the one break path, `StartupRequest` for start-up and authentication) opened
 * with `replication=database` (logical, SQL allowed) or `replication=true`
 * (physical), plus the two requests a walsender takes: a replication command
 * (simple Query, text rows) and `START_REPLICATION` (CopyBoth).
 *
 * **Details**
 *
 * - Replication commands answer with ordinary simple-query results in text
 *   format; they are returned as strings keyed by column name and decoded by
 *   `Commands`.
 * - `CopyBothRequest` hands every CopyData payload to a `CopyBothHandler`
 *   synchronously, from the socket's read callback: the handler must decode or
 *   copy what it keeps (the bytes may be lent, see `Transport.LentReads`).
 *   Either side may end CopyBoth with CopyDone: a server CopyDone is answered
 *   with one at once; `finish` sends the client's. After both, the server may
 *   send a result set (the next timeline, at the end of a physical timeline)
 *   before CommandComplete and ReadyForQuery.
 * - Closing the Scope sends Terminate and closes the socket.
 *
 * Not here: what the payloads mean (`Feed`), the commands' syntax (`Commands`).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as AuthPolicy from "../auth/AuthPolicy.ts"
import * as PgConfig from "../config/Config.ts"
import { ConfigError, ConnectionError, PgError, ProtocolError, type ServerError, TimeoutError } from "../errors/PgError.ts"
import type * as Backend from "../protocol/Backend.ts"
import * as Frontend from "../protocol/Frontend.ts"
import { encryptionsFor, keepAliveOf, mayFallBack, tlsSettingsOf } from "../session/Connect.ts"
import { Connection, Request } from "../session/Connection.ts"
import * as Establish from "../session/Establish.ts"
import { PLAN_SIMPLE } from "../session/Requests.ts"
import { StartupRequest, type StartupOptions } from "../session/Startup.ts"
import * as Transport from "../transport/Transport.ts"
import type { Writer } from "../wire/Writer.ts"

/**
 * How to reach the server: every libpq keyword `PgConfig` takes (`url`, `host`,
 * `port`, `user`, `password`, `database`, `sslMode`, ...). `replication` is set
 * by the caller of `open`.
 *
 * @since 0.1.0
 */
export type ConnectOptions = Omit<PgConfig.Options, "replication"> & {
  /** Receives a PQtrace-style line for every message sent and received (see `Trace`). */
  readonly trace?: ((line: string) => void) | undefined
}

/**
 * The kind of walsender: `database` for logical replication (SQL allowed, a
 * database named), `physical` for `replication=true`.
 *
 * @since 0.1.0
 */
export type Mode = "database" | "physical"

/** How long connecting may take when the configuration names no `connect_timeout`. */
export const DEFAULT_CONNECT_TIMEOUT_MILLIS = 30_000

/**
 * One text row of a replication command's result.
 *
 * @since 0.1.0
 */
export type TextRow = Readonly<Record<string, string | null>>

/**
 * A replication command's result.
 *
 * @since 0.1.0
 */
export interface CommandResult {
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<TextRow>
  readonly command: string
}

/**
 * An open replication connection.
 *
 * @since 0.1.0
 */
export interface Link {
  readonly conn: Connection
  /** `server_version_num` as a number (from `server_version`), e.g. 180001. */
  readonly serverVersionNum: number
  /** The server's major version, e.g. 18. */
  readonly majorVersion: number
  readonly processId: number
  readonly mode: Mode
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Reads DataRow fields as text. */
const textFields = (buf: Uint8Array, start: number, end: number): Array<string | null> => {
  const count = (buf[start]! << 8) | buf[start + 1]!
  const out: Array<string | null> = new Array(count)
  let p = start + 2
  for (let i = 0; i < count; i++) {
    if (p + 4 > end) throw new PgError({ reason: new ProtocolError({ message: "DataRow: truncated field", messageName: "DataRow" }) })
    const length = (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!
    p += 4
    if (length < 0) {
      out[i] = null
      continue
    }
    if (p + length > end) throw new PgError({ reason: new ProtocolError({ message: "DataRow: truncated field", messageName: "DataRow" }) })
    out[i] = utf8.decode(buf.subarray(p, p + length))
    p += length
  }
  return out
}

/**
 * Collects the rows of a simple-query result set as text (the last one, when there are several).
 *
 * @since 0.1.0
 */
export abstract class TextRowsRequest extends Request {
  columns: ReadonlyArray<string> = []
  rows: Array<TextRow> = []
  command = ""

  override onRowDescription(message: Backend.RowDescription): void {
    this.columns = message.fields.map((f) => f.name)
    this.rows = []
  }

  override onDataRow(buf: Uint8Array, start: number, end: number): void {
    const values = textFields(buf, start, end)
    const row: Record<string, string | null> = {}
    for (let i = 0; i < this.columns.length; i++) row[this.columns[i]!] = values[i] ?? null
    this.rows.push(row)
  }

  override onCommandComplete(tag: string): void {
    this.command = tag
  }

  result(): CommandResult {
    return { columns: this.columns, rows: this.rows, command: this.command }
  }
}

/** A replication command (or SQL on a `database` walsender): one simple Query, its text rows. */
class CommandRequest extends TextRowsRequest {
  readonly sql: string
  readonly resume: (exit: Exit.Exit<CommandResult, PgError>) => void

  constructor(sql: string, resume: (exit: Exit.Exit<CommandResult, PgError>) => void) {
    super()
    this.sql = sql
    this.resume = resume
  }

  encode(w: Writer): void {
    Frontend.writeQuery(w, this.sql)
    this.begin(PLAN_SIMPLE)
  }

  override onCopyIn(conn: Connection): void {
    conn.send((w) => {
      w.begin(0x66, "CopyFail").cstring("COPY FROM STDIN is not a replication command").end()
    })
  }

  override onCopyBoth(conn: Connection): void {
    // Streaming is `CopyBothRequest`'s: end it at once.
    conn.sendBytes(Frontend.COPY_DONE)
    this.clientError ??= new PgError({
      reason: new ProtocolError({ message: `${this.sql.split(/\s/)[0]} started streaming; use a replication stream` })
    })
  }

  complete(): void {
    if (this.serverError !== undefined) return this.resume(Exit.fail(new PgError({ reason: this.serverError })))
    if (this.clientError !== undefined) return this.resume(Exit.fail(this.clientError))
    this.resume(Exit.succeed(this.result()))
  }

  fail(error: PgError): void {
    this.resume(Exit.fail(error))
  }
}

/**
 * What a CopyBoth stream tells its owner, from the socket's read callback.
 *
 * @since 0.1.0
 */
export interface CopyBothHandler {
  /** CopyBothResponse: streaming started. */
  readonly onStart: () => void
  /** One CopyData payload, `buf[start, end)`: decode or copy it before returning. */
  readonly onData: (buf: Uint8Array, start: number, end: number) => void
  /** The server sent CopyDone (it has answered with the client's CopyDone already). */
  readonly onServerDone: () => void
  /** ReadyForQuery (`error` undefined, `rows` the result set after the copy, if any), or the failure. */
  readonly onEnd: (error: PgError | ServerError | undefined, rows: ReadonlyArray<TextRow>) => void
}

/**
 * `START_REPLICATION` (or any command answered with CopyBoth).
 *
 * @since 0.1.0
 */
export class CopyBothRequest extends TextRowsRequest {
  override exclusive = true
  readonly sql: string
  readonly handler: CopyBothHandler
  conn: Connection | undefined = undefined
  started = false
  /** The client sent CopyDone. */
  clientDone = false
  /** The server sent CopyDone. */
  serverDone = false

  constructor(sql: string, handler: CopyBothHandler) {
    super()
    this.sql = sql
    this.handler = handler
  }

  encode(w: Writer, conn: Connection): void {
    this.conn = conn
    Frontend.writeQuery(w, this.sql)
    this.begin(PLAN_SIMPLE)
  }

  override onCopyBoth(): void {
    this.started = true
    this.handler.onStart()
  }

  override onCopyData(buf: Uint8Array, start: number, end: number): void {
    this.handler.onData(buf, start, end)
  }

  override onCopyDone(): void {
    this.serverDone = true
    this.finish()
    this.handler.onServerDone()
  }

  /** Sends the client's CopyDone (once; only while streaming). */
  finish(): void {
    if (this.clientDone || !this.started || this.done) return
    this.clientDone = true
    this.conn?.sendBytes(Frontend.COPY_DONE)
  }

  /** Writes one CopyData frame whose payload `encode` writes. */
  sendCopyData(encode: (w: Writer) => void): void {
    if (!this.started || this.clientDone || this.done) return
    this.conn?.send((w) => {
      w.begin(0x64, "CopyData")
      encode(w)
      w.end()
    })
  }

  complete(): void {
    if (this.conn !== undefined) this.conn.release(this)
    this.handler.onEnd(this.serverError ?? this.clientError, this.rows)
  }

  fail(error: PgError): void {
    this.handler.onEnd(error, this.rows)
  }
}

/**
 * Runs one replication command (or, on a `database` walsender, one SQL statement) and returns its text rows.
 *
 * @since 0.1.0
 */
export const command = (link: Link, sql: string): Effect.Effect<CommandResult, PgError> =>
  Effect.callback<CommandResult, PgError>((resume) => {
    link.conn.submit(new CommandRequest(sql, (exit) => resume(exit)))
  })

/** `server_version` ("18.1", "13.22 (Debian ...)", "19devel") as a number like server_version_num. */
export const versionNum = (serverVersion: string): number => {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(serverVersion)
  if (m === null) return 0
  const major = Number(m[1])
  return major >= 10 ? major * 10000 + Number(m[2] ?? 0) : major * 10000 + Number(m[2] ?? 0) * 100 + Number(m[3] ?? 0)
}

const connectionError = (message: string) => new PgError({ reason: new ConnectionError({ message, requestSent: false }) })

/**
 * Opens a replication connection for the Scope: every host of the configuration in order, each with the
 * encryption methods `sslMode` allows (as `PgSession.connect`); closing the Scope sends Terminate.
 *
 * @since 0.1.0
 */
export const open = (options: ConnectOptions, mode: Mode): Effect.Effect<Link, PgError, Scope.Scope> =>
  Effect.gen(function*() {
    const { trace, ...libpq } = options
    const config = yield* PgConfig.load({ ...libpq, replication: mode === "database" ? "database" : "true" })
    const settings = PgConfig.toSessionOptions(config)
    if (settings.protocolVersion === "2.0") {
      // Protocol 2.0 has no replication mode (no CopyBoth): refuse before connecting rather than ask for 3.x.
      return yield* Effect.fail(
        new PgError({
          reason: new ConfigError({
            message: "a replication connection needs protocol 3.0 or later; max_protocol_version is 2.0",
            parameter: "max_protocol_version"
          })
        })
      )
    }
    const policy = yield* Effect.fromResult(
      AuthPolicy.make({ requireAuth: settings.requireAuth, channelBinding: settings.channelBinding })
    ).pipe(Effect.mapError((reason) => new PgError({ reason })))
    const tls = tlsSettingsOf(settings)
    const timeoutMillis = config.connectTimeout === undefined
      ? DEFAULT_CONNECT_TIMEOUT_MILLIS
      : (config.connectTimeoutMillis ?? 0)
    const failures: Array<string> = []
    let last: PgError | undefined
    for (const attempt of PgConfig.attempts(config)) {
      const encryptions = yield* encryptionsFor(tls, attempt)
      const password = yield* Effect.map(
        PgConfig.passwordFor(config, { host: attempt.host, hostaddr: attempt.hostaddr, port: attempt.port } as never),
        (p) => (p === undefined || Redacted.value(p) === "" ? undefined : Redacted.value(p))
      )
      for (let i = 0; i < encryptions.length; i++) {
        const encryption = encryptions[i]!
        const canFallBack = i + 1 < encryptions.length
        const exit = yield* Effect.exit(Effect.acquireRelease(
          openOnce({
            target: Transport.endpoint(attempt.address, attempt.port),
            host: attempt.host,
            encryption,
            canFallBack,
            tls,
            timeoutMillis,
            keepAlive: keepAliveOf(settings),
            startup: {
              user: settings.user,
              database: settings.database,
              password,
              applicationName: settings.applicationName,
              parameters: settings.parameters,
              protocolMinor: settings.protocolVersion === "3.0" ? 0 : 2,
              minProtocolMinor: settings.minProtocolVersion === "3.2" ? 2 : 0,
              scramMaxIterations: undefined,
              policy,
              tls: false,
              peerCertificate: undefined
            },
            mode,
            trace
          }),
          (link) => Effect.sync(() => link.conn.terminate())
        ))
        if (Exit.isSuccess(exit)) return exit.value
        const error = Cause.squash(exit.cause)
        if (!(error instanceof PgError)) return yield* Effect.failCause(exit.cause)
        last = error
        failures.push(`${attempt.host}:${attempt.port} (${encryption}): ${error.message}`)
        if (error.reason._tag === "ConfigError" || error.reason._tag === "AuthError") return yield* Effect.fail(error)
        if (!(canFallBack && mayFallBack(error))) break
      }
    }
    if (last !== undefined && failures.length <= 1) return yield* Effect.fail(last)
    return yield* Effect.fail(connectionError(`could not connect to any host:\n  ${failures.join("\n  ")}`))
  })

interface Attempt {
  readonly target: Transport.Endpoint
  readonly host: string
  readonly encryption: Establish.Encryption
  readonly canFallBack: boolean
  readonly tls: Establish.TlsSettings
  readonly timeoutMillis: number
  readonly keepAlive: Transport.KeepAlive
  readonly startup: StartupOptions
  readonly mode: Mode
  readonly trace: ((line: string) => void) | undefined
}

/**
 * A walsender sends no notifications and the stream reports its own end, so the connection's hooks do nothing
 * (a plain object, so hooks the connection core gains later are no excess properties here).
 */
const NOOP = (): void => {}
const NO_HOOKS = {
  onNotice: NOOP,
  onNotification: NOOP,
  onParameterStatus: NOOP,
  onClose: NOOP,
  onIdle: NOOP
}

const openOnce = (a: Attempt): Effect.Effect<Link, PgError> => {
  let established: Establish.Established | undefined
  const run = Effect.gen(function*() {
    established = yield* Establish.open(a.target, a.host, a.encryption, a.tls, a.timeoutMillis, a.keepAlive, a.canFallBack, true)
    const conn = new Connection(NO_HOOKS, { trace: a.trace })
    conn.attach(established.socket, established.reads)
    const startup: StartupOptions = {
      ...a.startup,
      tls: established.encryption !== "plain",
      peerCertificate: established.peerCertificate
    }
    yield* Effect.callback<void, PgError>((resume) => {
      conn.submit(new StartupRequest(startup, resume))
    }).pipe(Effect.onError(() =>
      Effect.sync(() => conn.breakWith(connectionError("start-up failed")))
    ))
    const serverVersionNum = versionNum(conn.parameters.get("server_version") ?? "")
    return {
      conn,
      serverVersionNum,
      majorVersion: Math.floor(serverVersionNum / 10000),
      processId: conn.processId,
      mode: a.mode
    } satisfies Link
  })
  const bounded = a.timeoutMillis > 0
    ? run.pipe(Effect.timeoutOrElse({
      duration: a.timeoutMillis,
      orElse: () =>
        Effect.fail(
          new PgError({
            reason: new TimeoutError({
              message: `connecting to ${Transport.describe(a.target)} timed out after ${a.timeoutMillis} ms`,
              operation: "connect",
              timeoutMillis: a.timeoutMillis
            })
          })
        )
    }))
    : run
  return bounded.pipe(Effect.onError(() => Effect.sync(() => established?.socket.destroy())))
}
