/**
 * Opening a protocol 2.0 session: the hosts in order with the encryption
 * methods each allows (the same rules as 3.x: `Establish`), the 2.0 start-up,
 * one Query that pins the styles the text decoders read and fills
 * `parameters`, and the fallback rule of libpq up to 13.
 *
 * **Details**
 *
 * - After ReadyForQuery one Query sets DateStyle, IntervalStyle,
 *   extra_float_digits (and application_name) and reads the parameters a 3.x
 *   server would report through `current_setting` (2.0 has no ParameterStatus).
 * - Fallback (`isPre3Refusal`): when a 3.x start-up is answered by an `E` whose
 *   next Int32 cannot be a 3.x length (below 8 or above 30000), the server
 *   speaks only 2.0: the caller may start again once with the 2.0 packet, if
 *   `minProtocolVersion` allows 2.0. The text of that error is never read (it is
 *   localized).
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import type * as AuthPolicy from "../../auth/AuthPolicy.ts"
import type * as PgConfig from "../../config/Config.ts"
import { ConfigError, ConnectionError, PgError, TimeoutError } from "../../errors/PgError.ts"
import * as Transport from "../../transport/Transport.ts"
import type { Registry } from "../../types/Registry.ts"
import { DEFAULT_QUERY_TIMEOUT_MILLIS, type Notification, type Session, type SessionOptions } from "../Api.ts"
import * as Establish from "../Establish.ts"
import type { Encryption, TlsSettings } from "../Establish.ts"
import { Liveness, LISTEN_CHECK_INTERVAL_MILLIS, LIVENESS_CHECK_AFTER_MILLIS, LIVENESS_PROBE_TIMEOUT_MILLIS } from "../Liveness.ts"
import type { Notice } from "../Result.ts"
import * as Literal from "./Literal.ts"
import { outcome, ResultsRequest } from "./Requests.ts"
import { LenderKey } from "../Lender.ts"
import { makeService } from "./Service.ts"
import * as Startup from "./Startup.ts"
import { Wire } from "./Wire.ts"

/**
 * The longest ErrorResponse libpq 13 accepted from a 3.x server (MAX_ERRLEN): a longer "length" means the `E` is
 * a 2.0 error string.
 *
 * @since 0.1.0
 */
export const MAX_V3_ERROR_LENGTH = 30_000

/**
 * Settings reported by `parameters` (those a 3.x server sends as ParameterStatus at start-up).
 *
 * @since 0.1.0
 */
export const REPORTED_PARAMETERS: ReadonlyArray<string> = [
  "server_version",
  "server_encoding",
  "client_encoding",
  "DateStyle",
  "IntervalStyle",
  "TimeZone",
  "integer_datetimes",
  "standard_conforming_strings",
  "application_name",
  "is_superuser",
  "session_authorization"
]

/**
 * Everything a 2.0 connect needs from the resolved configuration.
 *
 * @since 0.1.0
 */
export interface Input {
  readonly options: SessionOptions
  readonly settings: PgConfig.SessionSettings
  readonly tls: TlsSettings
  readonly policy: AuthPolicy.AuthPolicy
  readonly connectTimeoutMillis: number
  readonly keepAlive: Transport.KeepAlive
  readonly registry: Registry
  readonly password: string | undefined
}

/**
 * Whether a failed 3.x start-up was answered by a 2.0 error string: an `E` whose next Int32 is below 8 or above
 * `MAX_V3_ERROR_LENGTH` (libpq 13, fe-connect.c).
 *
 * @since 0.1.0
 */
export const isPre3Refusal = (error: unknown): boolean => {
  if (!(error instanceof PgError) || error.reason._tag !== "ProtocolError") return false
  const header = error.reason.frameHeader
  if (header === undefined || header.type !== 0x45) return false
  return header.length < 8 || header.length > MAX_V3_ERROR_LENGTH
}

/**
 * The start-up settings of the options field, and what else the setup Query sets.
 */
const startupSettings = (input: Input): Result.Result<{ readonly field: string; readonly commandLine: string | undefined }, PgError> => {
  const given = { ...input.settings.parameters, ...input.options.parameters }
  if (given["replication"] !== undefined) {
    return Result.fail(new PgError({ reason: new ConfigError({ message: "replication connections need protocol 3.0 or later", parameter: "replication" }) }))
  }
  const commandLine = given["options"]
  const settings: Record<string, string> = {}
  for (const [name, value] of Object.entries(given)) {
    if (name !== "options" && name !== "replication") settings[name] = value
  }
  return Result.map(Startup.optionsField(commandLine, settings), (field) => ({ field, commandLine }))
}

/** The Query run after start-up: the pinned styles, application_name, and the reported parameters. */
const setupSql = (applicationName: string | undefined): string =>
  [
    "SET DateStyle TO 'ISO, MDY'",
    "SET IntervalStyle TO 'postgres'",
    "SET extra_float_digits TO 3",
    ...(applicationName === undefined ? [] : [`SET application_name TO ${Literal.literal(applicationName)}`]),
    `SELECT ${REPORTED_PARAMETERS.map((n) => `pg_catalog.current_setting(${Literal.literal(n)}, true)`).join(", ")}`
  ].join(";\n")

/**
 * One attempt: open the stream (TLS as `encryption` says), run the 2.0 start-up and the setup Query. The session
 * lives as long as the Scope.
 *
 * @since 0.1.0
 */
export const openAttempt = (
  input: Input,
  attempt: PgConfig.Attempt,
  encryption: Encryption,
  plainAfterReject: boolean
): Effect.Effect<Session, PgError, Scope.Scope> =>
  Effect.gen(function*() {
    const { field } = yield* Effect.fromResult(startupSettings(input))
    const target = Transport.endpoint(attempt.address, attempt.port)
    const timeout = input.connectTimeoutMillis
    const noticeHub = yield* PubSub.unbounded<Notice>()
    const listeners = new Map<string, Set<Queue.Queue<Notification, PgError | Cause.Done>>>()
    let wire: Wire | undefined
    const run = Effect.gen(function*() {
      const established = yield* Establish.open(target, attempt.host, encryption, input.tls, timeout, input.keepAlive, plainAfterReject, true)
      const used = established.encryption
      const openSide = Effect.map(
        Establish.open(target, attempt.host, used, input.tls, timeout, input.keepAlive, false, false),
        (e) => e.socket
      )
      const w = new Wire(established.socket, {
        maxMessageSize: input.options.maxMessageSize,
        onNotice: (notice) => PubSub.publishUnsafe(noticeHub, notice),
        onNotification: (n) => {
          const subscribers = listeners.get(n.channel)
          if (subscribers !== undefined) for (const q of subscribers) Queue.offerUnsafe(q, n)
        }
      }, established.encryption === "plain" ? established.reads : undefined)
      wire = w
      yield* Effect.callback<void, PgError>((resume) => {
        w.submit(
          new Startup.StartupRequest(
            { user: input.settings.user, database: input.settings.database, password: input.password, commandLine: undefined, settings: {}, policy: input.policy },
            field,
            resume
          )
        )
      })
      const parameters = new Map<string, string>()
      const setup = yield* Effect.callback<ReadonlyArray<unknown>, PgError>((resume) => {
        const request = new ResultsRequest(setupSql(input.settings.applicationName), input.registry, { rowMode: "array" }, (r) =>
          resume(Effect.map(outcome(r), (results) => (results[results.length - 1]?.rows[0] as ReadonlyArray<unknown>) ?? [])))
        request.statusEffect = "keep"
        w.submit(request)
      })
      REPORTED_PARAMETERS.forEach((name, i) => {
        const value = setup[i]
        if (typeof value === "string") parameters.set(name, value)
      })
      // Watched from here on (the connect timeout bounded the start-up); a listening session's check is an empty
      // Query, which the server answers in any transaction state (2.0 has no Sync).
      const registry = input.registry
      const liveness = new Liveness(w, openSide, {
        checkAfter: input.options.livenessCheckAfter ?? LIVENESS_CHECK_AFTER_MILLIS,
        probeTimeout: input.options.livenessProbeTimeout ?? LIVENESS_PROBE_TIMEOUT_MILLIS,
        listenInterval: input.options.listenCheckInterval ?? LISTEN_CHECK_INTERVAL_MILLIS
      }, () => listeners.size > 0, (onDone) => {
        const ping = new ResultsRequest("", registry, { rowMode: "array" }, (r) => onDone(r.brokenWith === undefined))
        ping.statusEffect = "keep"
        w.submit(ping)
      })
      w.onClose(() => liveness.stop())
      return makeService({
        wire: w,
        registry: input.registry,
        openSide,
        encrypted: used !== "plain",
        parameters,
        noticeHub,
        listeners,
        statementCacheSize: input.options.statementCacheSize ?? 256,
        streamPageSize: input.options.streamPageSize,
        queryTimeout: input.options.queryTimeout ?? DEFAULT_QUERY_TIMEOUT_MILLIS
      })
    })
    const timed = timeout > 0
      ? run.pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () =>
            Effect.fail(
              new PgError({
                reason: new TimeoutError({
                  message: `connecting to ${Transport.describe(target)} timed out after ${timeout} ms`,
                  operation: "connect",
                  timeoutMillis: timeout
                })
              })
            )
        })
      )
      : run
    return yield* Effect.acquireRelease(
      timed.pipe(Effect.onError(() => Effect.sync(() => wire?.breakWith(new PgError({ reason: new ConnectionError({ message: "start-up failed", requestSent: true }) }))))),
      () => Effect.sync(() => wire?.terminate())
    )
  })


/**
 * Opens a 2.0 session: every host in order, each with the encryption methods its `sslmode` allows (a server error
 * moves on to the next method, as libpq does); a ConfigError or AuthError stops at once.
 *
 * @since 0.1.0
 */
export const connect = (
  input: Input,
  attempts: ReadonlyArray<PgConfig.Attempt>,
  encryptionsFor: (attempt: PgConfig.Attempt) => Effect.Effect<ReadonlyArray<Encryption>, PgError>,
  mayFallBack: (error: PgError) => boolean,
  passwordFor: (attempt: PgConfig.Attempt) => Effect.Effect<string | undefined, PgError>,
  accept: (session: Session) => Effect.Effect<boolean, PgError> = () => Effect.succeed(true)
): Effect.Effect<{ readonly session: Session; readonly attempt: PgConfig.Attempt }, PgError, Scope.Scope> =>
  Effect.gen(function*() {
    const failures: Array<string> = []
    let last: PgError | undefined
    for (const attempt of attempts) {
      const encryptions = yield* encryptionsFor(attempt)
      const password = yield* passwordFor(attempt)
      for (let i = 0; i < encryptions.length; i++) {
        const canFallBack = i + 1 < encryptions.length
        const exit = yield* Effect.exit(openAttempt({ ...input, password }, attempt, encryptions[i]!, canFallBack))
        if (Exit.isSuccess(exit)) {
          const session = exit.value
          const ok = yield* Effect.exit(accept(session))
          if (Exit.isSuccess(ok) && ok.value) return { session, attempt }
          // Not the server asked for (target_session_attrs): the next host.
          session[LenderKey].break(
            new PgError({ reason: new ConnectionError({ message: "the server does not satisfy target_session_attrs", requestSent: false }) })
          )
          last = new PgError({
            reason: new ConnectionError({
              message: `${attempt.host}:${attempt.port}: the server does not satisfy target_session_attrs`,
              requestSent: false
            })
          })
          failures.push(last.message)
          break
        }
        const error = exit.cause.reasons.find((r) => r._tag === "Fail") as { error: unknown } | undefined
        if (error === undefined || !(error.error instanceof PgError)) return yield* Effect.failCause(exit.cause)
        last = error.error
        failures.push(`${attempt.host}:${attempt.port} (${encryptions[i]}): ${last.message}`)
        if (last.reason._tag === "ConfigError" || last.reason._tag === "AuthError") return yield* Effect.fail(last)
        if (!(canFallBack && mayFallBack(last))) break
      }
    }
    if (last !== undefined && failures.length <= 1) return yield* Effect.fail(last)
    return yield* Effect.fail(
      last !== undefined && last.reason._tag === "ServerError"
        ? last
        : new PgError({ reason: new ConnectionError({ message: `could not connect to any host:\n  ${failures.join("\n  ")}`, requestSent: false }) })
    )
  })
