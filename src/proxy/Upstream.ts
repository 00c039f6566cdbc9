/**
 * One upstream server connection of the proxy: opened and authenticated with
 * the proxy's own credentials, then read as raw frames and written as raw
 * bytes for whichever client it is lent to.
 *
 * **Details**
 *
 * - The upstream is resolved once as libpq would (`PgConfig`: explicit
 *   options, the URL, `PG*` variables, the password file) and opened through
 *   the session's transport (`Establish.open`: TLS per `sslmode`, direct TLS,
 *   SNI, certificates).
 * - Start-up is driven here, not by a session: AuthenticationOk, Cleartext,
 *   MD5 and SCRAM-SHA-256(-PLUS) are answered with `src/auth`, and the
 *   ParameterStatus set, BackendKeyData and protocol version are kept.
 * - After start-up every frame goes to `onFrame` (the client the upstream is
 *   lent to) without being decoded; ParameterStatus keeps `parameters`
 *   current. A frame that arrives while nobody holds the upstream other than a
 *   notice or a parameter (a FATAL at shutdown) closes it.
 * - `onClose` is called once, with the reason, when the socket ends.
 *
 * Each upstream also carries its statement table (`Statements`), since the
 * statements live in the upstream backend.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import type * as Net from "node:net"
import * as AuthPolicy from "../auth/AuthPolicy.ts"
import * as Md5 from "../auth/Md5.ts"
import * as Scram from "../auth/ScramClient.ts"
import { certificateHashForChannelBinding } from "../auth/ChannelBinding.ts"
import * as PgConfig from "../config/Config.ts"
import * as ErrorFields from "../protocol/ErrorFields.ts"
import { AuthError, ConnectionError, PgError, ProtocolError, TimeoutError } from "../errors/PgError.ts"
import * as Backend from "../protocol/Backend.ts"
import * as Frontend from "../protocol/Frontend.ts"
import * as Message from "../protocol/Message.ts"
import * as StartupCodec from "../protocol/Startup.ts"
import { sendCancel } from "../session/Cancel.ts"
import { encryptionsFor, keepAliveOf, libpqOptionsOf, tlsSettingsOf } from "../session/Connect.ts"
import * as Establish from "../session/Establish.ts"
import * as Transport from "../transport/Transport.ts"
import { Backend as Code } from "../wire/Codes.ts"
import { Framer } from "../wire/Framer.ts"
import { Reader, view } from "../wire/Reader.ts"
import { Writer } from "../wire/Writer.ts"
import { type PoolOptions, sessionOptionsOf } from "../pool/Settings.ts"
import { Statements } from "./Statements.ts"

/** Time to connect and authenticate one upstream, by default. */
export const DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MILLIS = 10_000

/**
 * The upstream, resolved once.
 *
 * @since 0.1.0
 */
export interface Target {
  readonly config: PgConfig.PgConfig
  readonly settings: PgConfig.SessionSettings
  readonly password: string | undefined
  readonly connectTimeoutMillis: number
  readonly parameters: Readonly<Record<string, string>>
}

/**
 * Resolves the upstream options (a pool's: libpq keywords, `url`, `PG*`
 * variables, the password file) as libpq would.
 *
 * @since 0.1.0
 */
export const resolve = (options: PoolOptions): Effect.Effect<Target, PgError> =>
  Effect.gen(function*() {
    // A pool's own options and the session's (queryTimeout, liveness, ...) are not libpq keywords.
    const libpq = libpqOptionsOf(sessionOptionsOf(options))
    const given = options.password
    let password: string | undefined
    if (typeof given === "string") password = given
    else if (Redacted.isRedacted(given)) password = Redacted.value(given)
    else if (given !== undefined) {
      const p = yield* given
      password = typeof p === "string" ? p : Redacted.value(p)
    }
    if (password !== undefined) libpq["password"] = password
    const config = yield* PgConfig.load(libpq as PgConfig.Options)
    const settings = PgConfig.toSessionOptions(config)
    return {
      config,
      settings,
      password,
      connectTimeoutMillis: options.connectTimeout ?? DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MILLIS,
      parameters: options.parameters ?? {}
    }
  })

const connectionError = (message: string, cause?: unknown) =>
  new PgError({ reason: new ConnectionError({ message, requestSent: true, cause }) })

const protocolError = (message: string) =>
  new PgError({ reason: new ProtocolError({ message, messageName: "startup" }) })

let nextId = 1

/**
 * Receives one frame of an upstream: `type` and the body `buf[start, end)`, a
 * view valid only during the call.
 *
 * @since 0.1.0
 */
export type FrameSink = (type: number, buf: Uint8Array, start: number, end: number) => void

/**
 * @since 0.1.0
 */
export class Upstream {
  readonly id = nextId++
  readonly socket: Net.Socket
  readonly parameters = new Map<string, string>()
  /** Session settings by lower-case name: what the server reported, and what the proxy set that it does not report. */
  readonly settings = new Map<string, string>()
  readonly statements: Statements
  /** Parameters the proxy set here for a client beyond the tracked ones (reset for a client without them). */
  readonly extraSettings = new Set<string>()
  /**
   * The parameters (a client's `Relay` signature) the upstream was last brought to, while no ParameterStatus has
   * changed it since: a client with the same signature needs no `set_config`.
   */
  alignedTo: string | undefined = undefined
  readonly createdAt = Date.now()
  readonly writer = new Writer()
  processId = 0
  secretKey: Uint8Array = new Uint8Array(0)
  protocolMinor = 0
  /** Transaction status from the last ReadyForQuery. */
  status: "I" | "T" | "E" = "I"
  lastUsed = Date.now()
  /** Loans so far. */
  uses = 0
  /** Where frames go; `undefined` while idle in the pool. */
  sink: FrameSink | undefined = undefined
  /** Called once a received chunk is handled (the holder flushes to its client). */
  chunkEnd: (() => void) | undefined = undefined
  /** Called once when the connection ends (the pool's hook). */
  onClose: ((error: PgError) => void) | undefined = undefined
  /** Called when a write finds the socket's buffer full (the holder stops reading its client until `drain`). */
  onWriteFull: (() => void) | undefined = undefined
  /** Called once when the connection fails while lent (the holder's hook). */
  onLost: ((error: PgError) => void) | undefined = undefined
  closed: PgError | undefined = undefined
  readonly #framer = new Framer()
  readonly #reads: Transport.LentReads | undefined
  readonly #openSide: Effect.Effect<Net.Socket, PgError>
  #flushScheduled = false

  constructor(
    socket: Net.Socket,
    reads: Transport.LentReads | undefined,
    openSide: Effect.Effect<Net.Socket, PgError>,
    maxPreparedStatements: number
  ) {
    this.socket = socket
    this.#reads = reads
    this.#openSide = openSide
    this.statements = new Statements(maxPreparedStatements)
  }

  /** Starts reading frames (after start-up). */
  attach(leftover: Uint8Array | undefined): void {
    const onChunk = (chunk: Uint8Array) => {
      try {
        this.#framer.push(chunk, this.#onFrame)
      } catch (e) {
        this.fail(connectionError(`upstream framing: ${e instanceof Error ? e.message : String(e)}`, e))
        return
      }
      this.chunkEnd?.()
    }
    if (this.#reads !== undefined) this.#reads.onBytes = (bytes, length) => onChunk(view(bytes, 0, length))
    else this.socket.on("data", (chunk: Buffer) => onChunk(view(chunk, 0, chunk.length)))
    this.socket.on("error", (e) => this.fail(connectionError(`upstream connection error: ${e.message}`, e)))
    this.socket.on("close", () => this.fail(connectionError("the upstream server closed the connection")))
    if (leftover !== undefined && leftover.length > 0) onChunk(leftover)
  }

  readonly #reader = new Reader()

  readonly #onFrame = (type: number, buf: Uint8Array, start: number, end: number): void => {
    if (type === Code.ParameterStatus) {
      const m = Backend.readUnsafe(type, buf, start, end, this.#reader) as Backend.ParameterStatus
      this.parameters.set(m.name, m.value)
      this.settings.set(m.name.toLowerCase(), m.value)
      this.alignedTo = undefined
    }
    const sink = this.sink
    if (sink !== undefined) return sink(type, buf, start, end)
    if (type === Code.ParameterStatus || type === Code.NoticeResponse || type === Code.NotificationResponse) return
    if (type === Code.ErrorResponse) {
      const m = Backend.readUnsafe(type, buf, start, end, this.#reader) as Backend.ErrorResponse
      this.fail(new PgError({ reason: ErrorFields.toServerError(m.fields) }))
      return
    }
    this.fail(connectionError(`unexpected message ${String.fromCharCode(type)} from an idle upstream`))
  }

  /** Appends bytes; they are written at the end of the current microtask. */
  write(bytes: Uint8Array): void {
    this.writer.bytes(bytes)
    this.scheduleFlush()
  }

  scheduleFlush(): void {
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    queueMicrotask(this.flush)
  }

  readonly flush = (): void => {
    this.#flushScheduled = false
    if (this.writer.pending() === 0) return
    const bytes = this.writer.flush()
    if (this.closed === undefined && !this.socket.destroyed && !this.socket.write(bytes)) this.onWriteFull?.()
  }

  /** Ends the connection with `error` (idempotent). */
  fail(error: PgError): void {
    if (this.closed !== undefined) return
    this.closed = error
    this.socket.destroy()
    const onClose = this.onClose
    this.onClose = undefined
    onClose?.(error)
    const onLost = this.onLost
    this.onLost = undefined
    onLost?.(error)
  }

  /** Sends Terminate and closes. */
  terminate(): void {
    if (this.closed !== undefined) return
    this.closed = connectionError("the upstream connection was closed by the proxy")
    if (!this.socket.destroyed) {
      this.socket.end(Frontend.TERMINATE)
      setTimeout(() => this.socket.destroy(), TERMINATE_GRACE_MILLIS).unref()
    }
    const onClose = this.onClose
    this.onClose = undefined
    onClose?.(this.closed)
  }

  /** Sends a CancelRequest for this upstream's running statement; completes once the server closed the side connection. */
  cancel(): Effect.Effect<void, PgError> {
    return sendCancel(this.#openSide, this.processId, this.secretKey)
  }

  get pausedReads(): boolean {
    return this.socket.isPaused()
  }
}

/** After Terminate, how long the socket may take to close before it is destroyed. */
export const TERMINATE_GRACE_MILLIS = 1_000

/**
 * Opens and authenticates one upstream connection, trying the hosts and
 * encryption methods in libpq's order.
 *
 * @since 0.1.0
 */
export const open = (target: Target, maxPreparedStatements: number): Effect.Effect<Upstream, PgError> =>
  Effect.gen(function*() {
    const settings = target.settings
    const tls = tlsSettingsOf(settings)
    const keepAlive = keepAliveOf(settings)
    const policy = yield* Effect.fromResult(
      AuthPolicy.make({ requireAuth: settings.requireAuth, channelBinding: settings.channelBinding })
    ).pipe(Effect.mapError((reason) => new PgError({ reason })))
    const failures: Array<string> = []
    let last: PgError | undefined
    for (const attempt of PgConfig.attempts(target.config, Math.random)) {
      const encryptions = yield* encryptionsFor(tls, attempt)
      for (let i = 0; i < encryptions.length; i++) {
        const encryption = encryptions[i]!
        const endpoint = Transport.endpoint(attempt.address, attempt.port)
        const password = yield* passwordOf(target, attempt)
        const opened = yield* Effect.exit(
          Effect.gen(function*() {
            const est = yield* Establish.open(
              endpoint,
              attempt.host,
              encryption,
              tls,
              target.connectTimeoutMillis,
              keepAlive,
              i + 1 < encryptions.length,
              true
            )
            const openSide = Effect.map(
              Establish.open(endpoint, attempt.host, est.encryption, tls, target.connectTimeoutMillis, keepAlive),
              (e) => e.socket
            )
            const upstream = new Upstream(est.socket, est.reads, openSide, maxPreparedStatements)
            yield* startup(upstream, est, target, password, policy).pipe(
              Effect.timeoutOrElse({
                duration: target.connectTimeoutMillis,
                orElse: () =>
                  Effect.fail(
                    new PgError({
                      reason: new TimeoutError({
                        message: `upstream start-up timed out after ${target.connectTimeoutMillis} ms`,
                        operation: "connect",
                        timeoutMillis: target.connectTimeoutMillis
                      })
                    })
                  )
              }),
              Effect.onError(() => Effect.sync(() => est.socket.destroy()))
            )
            return upstream
          })
        )
        if (opened._tag === "Success") return opened.value
        const error = opened.cause.reasons.find((r) => r._tag === "Fail")
        const pgError = error !== undefined && error._tag === "Fail" ? error.error : connectionError("upstream start-up failed")
        last = pgError
        failures.push(`${attempt.host}:${attempt.port} (${encryption}): ${pgError.message}`)
        if (pgError.reason._tag === "ServerError" || pgError.reason._tag === "AuthError") return yield* Effect.fail(pgError)
      }
    }
    if (last !== undefined && failures.length <= 1) return yield* Effect.fail(last)
    return yield* Effect.fail(connectionError(`could not connect to any upstream host:\n  ${failures.join("\n  ")}`))
  })

const passwordOf = (target: Target, attempt: PgConfig.Attempt): Effect.Effect<string | undefined, PgError> => {
  if (target.password !== undefined) return Effect.succeed(target.password)
  if (target.config.password !== undefined) return Effect.succeed(Redacted.value(target.config.password))
  return Effect.map(
    PgConfig.passwordFor(target.config, { host: attempt.host, hostaddr: attempt.hostaddr, port: attempt.port } as never),
    (p) => (p === undefined || Redacted.value(p) === "" ? undefined : Redacted.value(p))
  )
}

const STARTUP_SKIPPED = new Set(["user", "database", "replication"])

/** Runs start-up and authentication on an open stream; leaves the upstream attached and idle. */
const startup = (
  upstream: Upstream,
  est: Establish.Established,
  target: Target,
  password: string | undefined,
  policy: AuthPolicy.AuthPolicy
): Effect.Effect<void, PgError> =>
  Effect.callback<void, PgError>((resume) => {
    const settings = target.settings
    const socket = est.socket
    const reader = new Reader()
    const framer = new Framer()
    const w = new Writer()
    let progress = AuthPolicy.initialProgress
    let scram: Scram.ScramClient | undefined
    let done = false
    let fatal: PgError | undefined
    const finish = (error: PgError | undefined, leftover?: Uint8Array) => {
      if (done) return
      done = true
      detach()
      if (error !== undefined) {
        socket.destroy()
        resume(Effect.fail(error))
      } else {
        upstream.attach(leftover)
        resume(Effect.void)
      }
    }
    const refuse = (message: string, method?: string) =>
      finish(new PgError({ reason: new AuthError({ message, ...(method === undefined ? {} : { method }) }) }))
    const send = <A extends { readonly _tag: string }>(codec: Message.Codec<A>, message: NoInfer<A>) => {
      Message.writeFrame(w, codec, message)
      socket.write(w.flushCopy())
    }
    const onFrame = (type: number, buf: Uint8Array, start: number, end: number): void => {
      if (done) return
      const message = Backend.readUnsafe(type, buf, start, end, reader)
      switch (message._tag) {
        case "AuthenticationOk":
          if (scram !== undefined && !scram.isComplete) return refuse("the upstream accepted the login without completing SCRAM")
          return
        case "AuthenticationCleartextPassword":
        case "AuthenticationMD5Password": {
          const allowed = AuthPolicy.check(policy, message._tag, progress)
          if (Result.isFailure(allowed)) return refuse(allowed.failure.message, allowed.failure.method)
          if (password === undefined) return refuse("the upstream asked for a password but none was given", "password")
          progress = { ...progress, clientFinishedAuth: true }
          return send(Frontend.PasswordMessage, {
            _tag: "PasswordMessage",
            password: message._tag === "AuthenticationMD5Password"
              ? Md5.passwordResponse(password, settings.user, message.salt)
              : password
          })
        }
        case "AuthenticationSASL": {
          const allowed = AuthPolicy.check(policy, message._tag, progress)
          if (Result.isFailure(allowed)) return refuse(allowed.failure.message, allowed.failure.method)
          const choice = AuthPolicy.selectMechanism(policy, message.mechanisms, est.encryption !== "plain")
          if (Result.isFailure(choice)) return refuse(choice.failure.message, choice.failure.method)
          if (password === undefined) return refuse("the upstream asked for a password but none was given", "SCRAM-SHA-256")
          let binding: Scram.ClientChannelBinding = { _tag: choice.success.channelBinding === "NotOffered" ? "NotOffered" : "None" }
          if (choice.success.channelBinding === "TlsServerEndPoint" && est.peerCertificate !== undefined) {
            const hash = certificateHashForChannelBinding(est.peerCertificate)
            if (Result.isSuccess(hash)) binding = { _tag: "TlsServerEndPoint", certificateHash: hash.success }
          }
          const client = Scram.ScramClient.make({ password, channelBinding: binding })
          if (Result.isFailure(client)) return refuse(client.failure.message, client.failure.method)
          scram = client.success
          return send(Frontend.SASLInitialResponse, {
            _tag: "SASLInitialResponse",
            mechanism: scram.mechanism,
            data: new TextEncoder().encode(scram.clientFirstMessage)
          })
        }
        case "AuthenticationSASLContinue": {
          if (scram === undefined) return refuse("SASLContinue without a SASL exchange", "SASL")
          const final = scram.receiveServerFirst(message.data)
          if (Result.isFailure(final)) return refuse(final.failure.message, final.failure.method)
          progress = { ...progress, clientFinishedAuth: true }
          return send(Frontend.SASLResponse, { _tag: "SASLResponse", data: new TextEncoder().encode(final.success) })
        }
        case "AuthenticationSASLFinal": {
          if (scram === undefined) return refuse("SASLFinal without a SASL exchange", "SASL")
          const verified = scram.receiveServerFinal(message.data)
          if (Result.isFailure(verified)) return refuse(verified.failure.message, verified.failure.method)
          return
        }
        case "ParameterStatus":
          upstream.parameters.set(message.name, message.value)
          upstream.settings.set(message.name.toLowerCase(), message.value)
          return
        case "BackendKeyData":
          upstream.processId = message.processId
          upstream.secretKey = message.secretKey.slice()
          return
        case "NegotiateProtocolVersion": {
          const offered = message.newestMinorVersion
          upstream.protocolMinor = offered >= 0x10000 ? offered & 0xffff : offered
          return
        }
        case "NoticeResponse":
          return
        case "ErrorResponse":
          fatal = new PgError({ reason: ErrorFields.toServerError(message.fields) })
          return finish(fatal)
        case "ReadyForQuery":
          upstream.status = message.transactionStatus
          return
        default:
          return refuse(`unexpected ${message._tag} during upstream authentication`)
      }
    }
    let ready = false
    const onChunk = (chunk: Uint8Array) => {
      if (done) return
      let consumed = 0
      try {
        consumed = framer.push(chunk, (type, buf, start, end) => {
          onFrame(type, buf, start, end)
          if (type === Code.ReadyForQuery) {
            ready = true
            framer.stop()
          }
        })
      } catch (e) {
        return finish(protocolError(`upstream start-up: ${e instanceof Error ? e.message : String(e)}`))
      }
      // ReadyForQuery ends start-up: what follows it belongs to the attached reader.
      if (ready) finish(undefined, chunk.slice(consumed))
    }
    const onData = (chunk: Buffer) => onChunk(view(chunk, 0, chunk.length))
    const onLent = (bytes: Uint8Array, length: number) => onChunk(view(bytes, 0, length))
    const onClose = () => finish(fatal ?? connectionError("the upstream server closed the connection during start-up"))
    const onError = (e: Error) => finish(connectionError(`upstream connection error: ${e.message}`, e))
    const detach = () => {
      if (est.reads !== undefined) est.reads.onBytes = undefined
      else socket.off("data", onData)
      socket.off("close", onClose)
      socket.off("error", onError)
    }
    if (est.reads !== undefined) est.reads.onBytes = onLent
    else socket.on("data", onData)
    socket.on("close", onClose)
    socket.on("error", onError)
    const parameters: Array<{ readonly name: string; readonly value: string }> = [{ name: "user", value: settings.user }]
    if (settings.database !== "") parameters.push({ name: "database", value: settings.database })
    if (settings.applicationName !== undefined) parameters.push({ name: "application_name", value: settings.applicationName })
    for (const [name, value] of Object.entries({ ...settings.parameters, ...target.parameters })) {
      if (!STARTUP_SKIPPED.has(name)) parameters.push({ name, value })
    }
    const version = settings.protocolVersion === "3.0" ? StartupCodec.PROTOCOL_3_0 : StartupCodec.PROTOCOL_3_2
    upstream.protocolMinor = settings.protocolVersion === "3.0" ? 0 : 2
    StartupCodec.writeStartupMessage(w, version, parameters)
    socket.write(w.flushCopy())
    return Effect.sync(() => {
      if (!done) {
        done = true
        detach()
        socket.destroy()
      }
    })
  })
