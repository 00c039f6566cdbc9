/**
 * Opening a session: libpq's resolution of the options, the hosts to try in
 * order, the encryption methods each allows, start-up and authentication, and
 * `target_session_attrs`.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Redacted from "effect/Redacted"
import * as AuthPolicy from "../auth/AuthPolicy.ts"
import * as PgConfig from "../config/Config.ts"
import { ConnectionError, PgError, TimeoutError } from "../errors/PgError.ts"
import * as Transport from "../transport/Transport.ts"
import { CurrentRegistry, PgSession, type Session, type SessionOptions, type TargetSessionAttrs } from "./Api.ts"
import { Engine } from "./Engine.ts"
import * as Establish from "./Establish.ts"
import { type Encryption, encryptionOrder, type Established, type TlsSettings } from "./Establish.ts"
import type { Resume } from "./Requests.ts"
import type { Notice } from "./Result.ts"
import * as Observe from "./Observe.ts"
import * as ProtocolLog from "./ProtocolLog.ts"
import { makeService } from "./Service.ts"
import { StartupRequest, type StartupOptions } from "./Startup.ts"
import * as ConnectV2 from "./v2/Connect.ts"

/** Time to connect and authenticate, by default. libpq waits forever; a session that can hang is worse. */
export const DEFAULT_CONNECT_TIMEOUT_MILLIS = 30_000

const resolvePassword = (
  password: SessionOptions["password"]
): Effect.Effect<string | undefined, PgError> => {
  if (password === undefined) return Effect.succeed(undefined)
  if (typeof password === "string") return Effect.succeed(password)
  if (Redacted.isRedacted(password)) return Effect.succeed(Redacted.value(password))
  return Effect.map(password, (p) => (typeof p === "string" ? p : Redacted.value(p)))
}

/** One host to try (libpq's host/hostaddr/port lists, expanded), and how it is reached (`Hosts.attempt`). */
type HostAttempt = PgConfig.Attempt

/** Everything `connect` resolved: the libpq configuration and the session's own settings. */
interface Resolved {
  readonly config: PgConfig.PgConfig
  readonly settings: PgConfig.SessionSettings
  readonly options: SessionOptions
  readonly connectTimeoutMillis: number
}

const SESSION_ONLY_KEYS: ReadonlyArray<keyof SessionOptions> = [
  "password",
  "connectTimeout",
  "protocolVersion",
  "statementCacheSize",
  "maxPipelineDepth",
  "maxMessageSize",
  "registry",
  "streamPageSize",
  "scramMaxIterations",
  "trace",
  "random",
  "parameters",
  "queryTimeout",
  "livenessCheckAfter",
  "livenessProbeTimeout",
  "listenCheckInterval"
]

/**
 * The options that are libpq keywords, for `PgConfig.load` (`protocolVersion` as `maxProtocolVersion`); the
 * password is left to the caller, who may have to resolve it first.
 *
 * @since 0.1.0
 */
export const libpqOptionsOf = (given: SessionOptions): Record<string, unknown> => {
  const libpq: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(given)) {
    if (!(SESSION_ONLY_KEYS as ReadonlyArray<string>).includes(key)) libpq[key] = value
  }
  if (given.protocolVersion !== undefined) libpq["maxProtocolVersion"] = given.protocolVersion
  return libpq
}

/**
 * libpq's resolution: explicit options, then `url`, then the service file, then
 * `PG*` environment variables, then defaults (see `PgConfig.load`).
 */
const resolveOptions = (given: SessionOptions): Effect.Effect<Resolved, PgError> =>
  Effect.gen(function*() {
    const libpq = libpqOptionsOf(given)
    if (typeof given.password === "string" || Redacted.isRedacted(given.password)) libpq["password"] = given.password
    const config = yield* PgConfig.load(libpq as PgConfig.Options)
    const settings = PgConfig.toSessionOptions(config)
    const connectTimeoutMillis = given.connectTimeout ??
      (config.connectTimeout === undefined ? DEFAULT_CONNECT_TIMEOUT_MILLIS : (config.connectTimeoutMillis ?? 0))
    return { config, settings, options: given, connectTimeoutMillis }
  })

/** The hosts to try, in order (shuffled for `loadBalanceHosts: "random"`). */
const hostAttempts = (resolved: Resolved): ReadonlyArray<HostAttempt> =>
  PgConfig.attempts(resolved.config, resolved.options.random ?? Math.random)

/**
 * The encryption methods to try for one attempt: the configured order (checked even where it does not apply),
 * unless the host's own sslmode is disable (`Hosts.sslModeFor`: no TLS over Unix-domain sockets, as libpq).
 *
 * @since 0.1.0
 */
export const encryptionsFor = (
  tls: TlsSettings,
  attempt: PgConfig.Attempt
): Effect.Effect<ReadonlyArray<Encryption>, PgError> =>
  Effect.map(
    encryptionOrder(tls),
    (configured): ReadonlyArray<Encryption> => PgConfig.sslModeFor(tls, attempt) === "disable" ? ["plain"] : configured
  )

/**
 * TCP keepalive from the libpq `keepalives` and `keepalives_idle` settings.
 *
 * @since 0.1.0
 */
export const keepAliveOf = (settings: PgConfig.SessionSettings): Transport.KeepAlive =>
  settings.keepAlive === false
    ? { enabled: false, idleMillis: 0 }
    : { enabled: true, idleMillis: settings.keepAliveIdleMillis ?? Transport.DEFAULT_KEEPALIVE.idleMillis }

/**
 * The transport's TLS settings from a resolved configuration (the key's passphrase in clear, for Node's TLS).
 *
 * @since 0.1.0
 */
export const tlsSettingsOf = (settings: PgConfig.SessionSettings): TlsSettings => ({
  sslMode: settings.sslMode,
  sslNegotiation: settings.sslNegotiation,
  gssEncMode: settings.gssEncMode,
  sslRootCert: settings.sslRootCert,
  sslCert: settings.sslCert,
  sslKey: settings.sslKey,
  sslPassword: settings.sslPassword === undefined ? undefined : Redacted.value(settings.sslPassword),
  sslSni: settings.sslSni,
  sslMinProtocolVersion: settings.sslMinProtocolVersion,
  sslMaxProtocolVersion: settings.sslMaxProtocolVersion,
  sslCrl: settings.sslCrl,
  sslCrlDir: settings.sslCrlDir,
  sslCertMode: settings.sslCertMode,
  sslKeyLogFile: settings.sslKeyLogFile
})

/** The password for one attempt: the given one (a value or an Effect), else the password file's entry for that host. */
const passwordFor = (resolved: Resolved, attempt: HostAttempt): Effect.Effect<string | undefined, PgError> => {
  const given = resolved.options.password
  if (given !== undefined && !(typeof given === "string" || Redacted.isRedacted(given))) {
    return resolvePassword(given)
  }
  if (resolved.config.password !== undefined) return Effect.succeed(Redacted.value(resolved.config.password))
  return Effect.map(
    PgConfig.passwordFor(resolved.config, { host: attempt.host, hostaddr: attempt.hostaddr, port: attempt.port } as never),
    (p) => (p === undefined || Redacted.value(p) === "" ? undefined : Redacted.value(p))
  )
}

/**
 * Whether a session satisfies `target_session_attrs` (libpq-connect.sgml):
 * from the `in_hot_standby` and `default_transaction_read_only` ParameterStatus
 * reports (PostgreSQL 14+), else by asking the server, as libpq does.
 */
const satisfies = (
  session: Session,
  parameters: ReadonlyMap<string, string>,
  attrs: TargetSessionAttrs
): Effect.Effect<boolean, PgError> =>
  Effect.gen(function*() {
    if (attrs === "any") return true
    const standby = parameters.get("in_hot_standby") !== undefined
      ? parameters.get("in_hot_standby") === "on"
      : (yield* session.simple("select pg_catalog.pg_is_in_recovery()"))[0]!.rows[0]!["pg_is_in_recovery"] === true
    if (attrs === "primary") return !standby
    if (attrs === "standby" || attrs === "prefer-standby") return standby
    const readOnly = standby || (parameters.get("default_transaction_read_only") !== undefined
      ? parameters.get("default_transaction_read_only") === "on"
      : (yield* session.simple("show transaction_read_only"))[0]!.rows[0]!["transaction_read_only"] === "on")
    return attrs === "read-only" ? readOnly : !readOnly
  })

/**
 * Whether a failed attempt may be retried with the next encryption method (libpq 17's rules).
 *
 * @since 0.1.0
 */
export const mayFallBack = (error: PgError): boolean => {
  const reason = error.reason
  switch (reason._tag) {
    case "ServerError":
      // Rejected during start-up (pg_hba, authentication): `allow` retries with TLS,
      // `prefer` without.
      return true
    case "TlsError":
      // A failed TLS start-up; but an ErrorResponse answer to SSLRequest means the
      // server failed before negotiating: no retry.
      return reason.failedBeforeNegotiation !== true
    default:
      return false
  }
}

/**
 * Opens a session: connects, authenticates, and returns the service. The
 * session lives as long as the Scope: closing it sends Terminate and closes
 * the socket, and fails anything still running with a connection error.
 *
 * **Details**
 *
 * Hosts are tried in order (or shuffled with `loadBalanceHosts: "random"`),
 * each with the encryption methods `sslMode` allows, within `connectTimeout`
 * per attempt; a host that does not satisfy `targetSessionAttrs` is skipped.
 * When every attempt fails, the error lists each host's failure.
 *
 * @since 0.1.0
 */
export const connect = Effect.fn("PgSession.connect")(function*(options: SessionOptions) {
  const { log, options: given } = yield* ProtocolLog.prepare(options)
  const withRegistry: SessionOptions = given.registry === undefined
    ? { ...given, registry: yield* CurrentRegistry }
    : given
  const resolved = yield* resolveOptions(withRegistry)
  const settings = resolved.settings
  const attempts = hostAttempts(resolved)
  const tls = tlsSettingsOf(settings)
  const policy = yield* Effect.fromResult(
    AuthPolicy.make({ requireAuth: settings.requireAuth, channelBinding: settings.channelBinding })
  ).pipe(Effect.mapError((reason) => new PgError({ reason })))
  if (settings.protocolVersion === "2.0") {
    // Protocol 2.0 (PostgreSQL 13 and older) is a session of its own (v2/), over the same hosts, encryption
    // rules and authentication policy.
    const { attempt, session } = yield* ConnectV2.connect(
      v2Input(resolved, tls, policy),
      attempts,
      (a) => encryptionsFor(tls, a),
      mayFallBack,
      (a) => passwordFor(resolved, a),
      (session) => satisfies(session, new Map(), settings.targetSessionAttrs === "prefer-standby" ? "any" : settings.targetSessionAttrs)
    )
    const { host, port, address } = attempt
    return yield* Observe.opened(session, { database: settings.database, host, port, address, log, cache: undefined })
  }
  const attrs = settings.targetSessionAttrs
  const failures: Array<string> = []
  let lastError: PgError | undefined
  // prefer-standby: a first pass for standbys, then any server (libpq).
  const passes: ReadonlyArray<TargetSessionAttrs> = attrs === "prefer-standby" ? ["standby", "any"] : [attrs]
  for (const pass of passes) {
    for (const attempt of attempts) {
      const encryptions = yield* encryptionsFor(tls, attempt)
      for (let i = 0; i < encryptions.length; i++) {
        const encryption = encryptions[i]!
        const canFallBack = i + 1 < encryptions.length
        const open = (protocolMinor: number | undefined) =>
          Effect.exit(
            Effect.acquireRelease(
              openSession(resolved, attempt, encryption, canFallBack, tls, policy, protocolMinor),
              ([engine]) => Effect.sync(() => engine.conn.terminate())
            )
          )
        let exit = yield* open(undefined)
        if (Exit.isFailure(exit) && refusedProtocol32(exit, settings)) {
          // A server or pooler that cannot even answer NegotiateProtocolVersion (PgBouncer before
          // 1.22 answers a 3.2 start-up with 08P01 "bad packet header"): try 3.0, which the
          // minimum allows.
          exit = yield* open(0)
        }
        if (Exit.isFailure(exit) && settings.minProtocolVersion === "2.0" && ConnectV2.isPre3Refusal(Cause.squash(exit.cause))) {
          // The server answered with a 2.0 error string: it speaks only 2.0. Start once more with the 2.0
          // packet, as libpq up to 13 did.
          const password = yield* passwordFor(resolved, attempt)
          const session = yield* ConnectV2.openAttempt({ ...v2Input(resolved, tls, policy), password }, attempt, encryption, canFallBack)
          const { host, port, address } = attempt
          return yield* Observe.opened(session, { database: settings.database, host, port, address, log, cache: undefined })
        }
        yield* Observe.attemptEvent(attempt, encryption, exit)
        if (Exit.isSuccess(exit)) {
          const [engine, session] = exit.value
          const ok = yield* satisfies(session, engine.conn.parameters, pass).pipe(Effect.exit)
          if (Exit.isSuccess(ok) && ok.value) {
            const { host, port, address } = attempt
            return yield* Observe.opened(session, { database: settings.database, host, port, address, log, cache: engine.cache })
          }
          engine.conn.terminate()
          const why = Exit.isSuccess(ok)
            ? `the server does not satisfy target_session_attrs=${pass}`
            : `checking target_session_attrs failed: ${String(Cause.squash(ok.cause))}`
          failures.push(`${describeAttempt(attempt)}: ${why}`)
          lastError = new PgError({
            reason: new ConnectionError({ message: `${describeAttempt(attempt)}: ${why}`, requestSent: false })
          })
          break
        }
        const error = Cause.squash(exit.cause)
        if (!(error instanceof PgError)) return yield* Effect.failCause(exit.cause)
        lastError = error
        failures.push(`${describeAttempt(attempt)} (${encryption}): ${error.message}`)
        if (error.reason._tag === "ConfigError" || error.reason._tag === "AuthError") {
          // Client-side refusals do not depend on the host.
          return yield* Effect.fail(error)
        }
        if (!(canFallBack && mayFallBack(error))) break
      }
    }
  }
  if (lastError !== undefined && failures.length <= 1) return yield* Effect.fail(lastError)
  const reason = lastError!.reason
  return yield* Effect.fail(
    new PgError({
      reason: reason._tag === "ServerError"
        ? reason
        : new ConnectionError({ message: `could not connect to any host:\n  ${failures.join("\n  ")}`, requestSent: false })
    })
  )
})

/** What a protocol 2.0 connect needs of the resolved options. */
const v2Input = (resolved: Resolved, tls: TlsSettings, policy: AuthPolicy.AuthPolicy): ConnectV2.Input => ({
  options: resolved.options,
  settings: resolved.settings,
  tls,
  policy,
  connectTimeoutMillis: resolved.connectTimeoutMillis,
  keepAlive: keepAliveOf(resolved.settings),
  registry: resolved.options.registry!,
  password: undefined
})

/** Whether a start-up failed because the server refused protocol 3.2 itself (and 3.0 is allowed). */
const refusedProtocol32 = (exit: Exit.Exit<unknown, unknown>, settings: PgConfig.SessionSettings): boolean => {
  if (settings.protocolVersion !== "3.2" || settings.minProtocolVersion === "3.2") return false
  const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
  return error instanceof PgError && error.reason._tag === "ServerError" && error.reason.code === "08P01"
}

const describeAttempt = (attempt: HostAttempt): string =>
  `${attempt.host}${attempt.hostaddr === undefined ? "" : ` (${attempt.hostaddr})`}:${attempt.port}`

/** One attempt: open the stream, run start-up; fails (with everything closed) or returns the live engine. */
const openSession = (
  resolved: Resolved,
  attempt: HostAttempt,
  encryption: Encryption,
  plainAfterReject: boolean,
  tls: TlsSettings,
  policy: AuthPolicy.AuthPolicy,
  protocolMinor?: number | undefined
): Effect.Effect<readonly [Engine, Session], PgError> =>
  Effect.gen(function*() {
    const options = resolved.options
    const settings = resolved.settings
    const target = Transport.endpoint(attempt.address, attempt.port)
    const connectTimeout = resolved.connectTimeoutMillis
    const keepAlive = keepAliveOf(settings)
    const password = yield* passwordFor(resolved, attempt)
    const noticeHub = yield* PubSub.unbounded<Notice>()
    const parameterHub = yield* PubSub.unbounded<{ readonly name: string; readonly value: string }>()
    let established: Established | undefined
    const run = Effect.gen(function*() {
      established = yield* openEstablished(target, attempt.host, encryption, plainAfterReject, tls, connectTimeout, keepAlive, true)
      const used = established.encryption
      // The cancel connection uses the same transport settings as this one.
      const openSide = Effect.map(
        openEstablished(target, attempt.host, used, false, tls, connectTimeout, keepAlive),
        (e) => e.socket
      )
      const engine = new Engine(options, openSide, noticeHub, parameterHub)
      engine.conn.attach(established.socket, established.reads)
      const startup: StartupOptions = {
        user: settings.user,
        database: settings.database,
        password,
        applicationName: settings.applicationName,
        parameters: { ...settings.parameters, ...options.parameters },
        protocolMinor: protocolMinor ?? (settings.protocolVersion === "3.0" ? 0 : 2),
        minProtocolMinor: settings.minProtocolVersion === "3.2" ? 2 : 0,
        scramMaxIterations: options.scramMaxIterations,
        policy,
        tls: used !== "plain",
        peerCertificate: established.peerCertificate
      }
      const request = new StartupRequest(startup, () => {})
      yield* Effect.callback<void, PgError>((resume) => {
        ;(request as { resume: Resume<void> }).resume = resume
        engine.conn.submit(request)
      }).pipe(Effect.onError(() => Effect.sync(() => engine.conn.breakWith(
        new PgError({ reason: new ConnectionError({ message: "start-up failed", requestSent: true }) })
      ))))
      engine.encryption = used
      engine.unsupportedProtocolOptions = request.unsupportedOptions
      return [engine, makeService(engine)] as const
    })
    return yield* (connectTimeout > 0
      ? run.pipe(
        Effect.timeoutOrElse({
          duration: connectTimeout,
          orElse: () =>
            Effect.fail(
              new PgError({
                reason: new TimeoutError({
                  message: `connecting to ${Transport.describe(target)} timed out after ${connectTimeout} ms`,
                  operation: "connect",
                  timeoutMillis: connectTimeout
                })
              })
            )
        })
      )
      : run).pipe(Effect.onError(() => Effect.sync(() => established?.socket.destroy())))
  })

/** `open`, but when the server answers 'N' and plain is allowed next, continue in clear on the same socket (libpq). */
const openEstablished = (
  target: Transport.Endpoint,
  host: string,
  encryption: Encryption,
  plainAfterReject: boolean,
  tls: TlsSettings,
  timeoutMillis: number,
  keepAlive: Transport.KeepAlive,
  lendReads = false
): Effect.Effect<Established, PgError> =>
  Establish.open(target, host, encryption, tls, timeoutMillis, keepAlive, plainAfterReject, lendReads)


/**
 * A Layer that provides `PgSession` for its lifetime.
 *
 * @since 0.1.0
 */
export const layer = (options: SessionOptions): Layer.Layer<PgSession, PgError> =>
  Layer.effect(PgSession, connect(options))

