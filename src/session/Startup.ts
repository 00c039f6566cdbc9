/**
 * The start-up exchange (protocol-3.2 "Start-up"): StartupMessage, the
 * authentication loop, NegotiateProtocolVersion, ParameterStatus,
 * BackendKeyData, and the first ReadyForQuery.
 *
 * **Details**
 *
 * Runs as the first request in the FIFO, so the same reader and the same
 * `State.step` check every start-up message. Supported authentication:
 * trust (AuthenticationOk at once), cleartext password, MD5, and SASL
 * SCRAM-SHA-256 (with -PLUS channel binding when the connection layer
 * provides the server certificate hash). GSSAPI, SSPI and Kerberos are
 * refused with a clear `AuthError`: there is no GSSAPI library here.
 *
 * A server that answers with an older protocol minor version
 * (NegotiateProtocolVersion) is followed down to it when it is not below the
 * configured minimum; unrecognised `_pq_.` options are recorded.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as AuthPolicy from "../auth/AuthPolicy.ts"
import * as Md5 from "../auth/Md5.ts"
import * as Scram from "../auth/Scram.ts"
import { AuthError, PgError, ProtocolError, type ServerError } from "../errors/PgError.ts"
import type * as Backend from "../protocol/Backend.ts"
import * as Frontend from "../protocol/Frontend.ts"
import * as Message from "../protocol/Message.ts"
import * as StartupCodec from "../protocol/Startup.ts"
import type { Writer } from "../wire/Writer.ts"
import { type Connection, Request } from "./Connection.ts"
import type { Resume } from "./Requests.ts"
import type * as State from "./State.ts"

const PLAN_STARTUP: ReadonlyArray<State.Phase> = ["Startup"]

/**
 * SCRAM keys derived in this process, shared by every connection: a reconnect with the same password to the same
 * server secret skips PBKDF2 (about 1 ms of CPU at 4096 iterations, more where administrators raised them).
 */
export const SCRAM_KEYS = new Scram.KeyCache()

/**
 * What the start-up exchange needs.
 *
 * @since 0.1.0
 */
export interface StartupOptions {
  readonly user: string
  readonly database: string | undefined
  readonly password: string | undefined
  readonly applicationName: string | undefined
  readonly parameters: Readonly<Record<string, string>> | undefined
  /** Minor version asked for (0 or 2). */
  readonly protocolMinor: number
  /** Lowest minor version accepted. */
  readonly minProtocolMinor: number
  readonly scramMaxIterations: number | undefined
  /** `require_auth` and `channel_binding`, checked before every answer to the server. */
  readonly policy: AuthPolicy.AuthPolicy
  /** Whether the connection is encrypted. */
  readonly tls: boolean
  /** DER of the server certificate (TLS only), for SCRAM-SHA-256-PLUS. */
  readonly peerCertificate: Uint8Array | undefined
}

/**
 * Run-time parameters the session always sends (unless given): results must be
 * UTF-8 (every string decoder assumes it), text-format floats must round-trip
 * exactly on servers older than 12 (S46; harmless on newer ones), and text
 * dates and intervals must be in the styles the decoders read.
 */
const FIXED_PARAMETERS: ReadonlyArray<readonly [string, string]> = [
  ["client_encoding", "UTF8"],
  ["extra_float_digits", "3"],
  // Text-format dates, times and intervals are read in these styles (results of
  // the simple protocol and of unnamed statements come as text).
  ["DateStyle", "ISO, MDY"],
  ["IntervalStyle", "postgres"]
]

/**
 * Parameters the session pins whatever the options say: text-format temporal
 * values would otherwise decode wrongly (as pgjdbc and Npgsql do, a later SET
 * to another style breaks the session rather than return wrong values: see
 * `checkParameter`).
 */
const PINNED_PARAMETERS: ReadonlySet<string> = new Set(["DateStyle", "IntervalStyle"])

/**
 * Why a reported parameter value cannot be used by this session, or undefined.
 *
 * @since 0.1.0
 */
export const checkParameter = (name: string, value: string): string | undefined => {
  if (name === "DateStyle" && !value.startsWith("ISO")) {
    return `DateStyle was changed to "${value}": the session reads dates in the ISO style only`
  }
  if (name === "IntervalStyle" && value !== "postgres") {
    return `IntervalStyle was changed to "${value}": the session reads intervals in the postgres style only`
  }
  if (name === "client_encoding" && value !== "UTF8") {
    return `client_encoding was changed to "${value}": the session reads and writes UTF-8 only`
  }
  return undefined
}

/**
 * The start-up request.
 *
 * @since 0.1.0
 */
export class StartupRequest extends Request {
  readonly options: StartupOptions
  readonly resume: Resume<void>
  private settled = false
  private scram: Scram.ScramClient | undefined = undefined
  private progress: AuthPolicy.AuthProgress = AuthPolicy.initialProgress
  /** `_pq_.` options the server did not recognise. */
  unsupportedOptions: ReadonlyArray<string> = []

  constructor(options: StartupOptions, resume: Resume<void>) {
    super()
    this.options = options
    this.resume = resume
  }

  encode(w: Writer): void {
    const o = this.options
    const parameters: Array<{ readonly name: string; readonly value: string }> = [{ name: "user", value: o.user }]
    if (o.database !== undefined && o.database !== "") parameters.push({ name: "database", value: o.database })
    if (o.applicationName !== undefined) parameters.push({ name: "application_name", value: o.applicationName })
    for (const [name, value] of FIXED_PARAMETERS) {
      if (o.parameters?.[name] === undefined || PINNED_PARAMETERS.has(name)) parameters.push({ name, value })
    }
    for (const [name, value] of Object.entries(o.parameters ?? {})) {
      if (!PINNED_PARAMETERS.has(name)) parameters.push({ name, value })
    }
    const version = o.protocolMinor === 2 ? StartupCodec.PROTOCOL_3_2 : StartupCodec.PROTOCOL_3_0
    StartupCodec.writeStartupMessage(w, version, parameters)
    this.begin(PLAN_STARTUP)
  }

  private settle(effect: Effect.Effect<void, PgError>): void {
    if (this.settled) return
    this.settled = true
    this.resume(effect)
  }

  private refuse(conn: Connection, message: string, method?: string): void {
    const error = new PgError({ reason: new AuthError({ message, ...(method === undefined ? {} : { method }) }) })
    this.settle(Effect.fail(error))
    conn.breakWith(error)
  }

  private send<A extends { readonly _tag: string }>(conn: Connection, codec: Message.Codec<A>, message: NoInfer<A>): void {
    conn.send((w) => Message.writeFrame(w, codec, message))
  }

  override onAuthentication(conn: Connection, message: Backend.BackendMessage): void {
    const o = this.options
    // libpq's require_auth / channel_binding checks come before any answer (the password
    // is never sent to a server the policy does not allow).
    const allowed = AuthPolicy.check(o.policy, message._tag as AuthPolicy.AuthRequest, this.progress)
    if (Result.isFailure(allowed)) return this.refuse(conn, allowed.failure.message, allowed.failure.method)
    switch (message._tag) {
      case "AuthenticationOk":
        if (this.scram !== undefined && !this.scram.isComplete) {
          return this.refuse(conn, "the server accepted the login without completing SCRAM authentication", "SCRAM-SHA-256")
        }
        return
      case "AuthenticationCleartextPassword":
        if (o.password === undefined) return this.refuse(conn, "the server asked for a password but none was given", "password")
        this.progress = { ...this.progress, clientFinishedAuth: true }
        return this.send(conn, Frontend.PasswordMessage, { _tag: "PasswordMessage", password: o.password })
      case "AuthenticationMD5Password":
        if (o.password === undefined) return this.refuse(conn, "the server asked for a password but none was given", "md5")
        this.progress = { ...this.progress, clientFinishedAuth: true }
        return this.send(conn, Frontend.PasswordMessage, {
          _tag: "PasswordMessage",
          password: Md5.passwordResponse(o.password, o.user, message.salt)
        })
      case "AuthenticationSASL": {
        const choice = AuthPolicy.selectMechanism(o.policy, message.mechanisms, o.tls)
        if (Result.isFailure(choice)) return this.refuse(conn, choice.failure.message, choice.failure.method)
        if (o.password === undefined) {
          return this.refuse(conn, "the server asked for a password but none was given", choice.success.mechanism)
        }
        let binding: Scram.ClientChannelBinding = { _tag: choice.success.channelBinding === "NotOffered" ? "NotOffered" : "None" }
        if (choice.success.channelBinding === "TlsServerEndPoint") {
          const hash = o.peerCertificate === undefined
            ? undefined
            : Scram.certificateHashForChannelBinding(o.peerCertificate)
          if (hash === undefined || Result.isFailure(hash)) {
            if (o.policy.channelBinding === "require") {
              return this.refuse(
                conn,
                `channel binding required, but the server certificate cannot be hashed${
                  hash !== undefined && Result.isFailure(hash) ? `: ${hash.failure.message}` : ""
                }`,
                Scram.MECHANISM_PLUS
              )
            }
            // Without a hash the client cannot bind: say so with "n" (not "y", which a
            // server that offered -PLUS would treat as a downgrade attack).
            binding = { _tag: "None" }
          } else binding = { _tag: "TlsServerEndPoint", certificateHash: hash.success }
        }
        const client = Scram.ScramClient.make({
          password: o.password,
          channelBinding: binding,
          maxIterations: o.scramMaxIterations,
          keyCache: SCRAM_KEYS
        })
        if (Result.isFailure(client)) return this.refuse(conn, client.failure.message, client.failure.method)
        this.scram = client.success
        return this.send(conn, Frontend.SASLInitialResponse, {
          _tag: "SASLInitialResponse",
          mechanism: client.success.mechanism,
          data: new TextEncoder().encode(client.success.clientFirstMessage)
        })
      }
      case "AuthenticationSASLContinue": {
        if (this.scram === undefined) return this.refuse(conn, "SASLContinue without a SASL exchange", "SASL")
        const final = this.scram.receiveServerFirst(message.data)
        if (Result.isFailure(final)) return this.refuse(conn, final.failure.message, final.failure.method)
        this.progress = { ...this.progress, clientFinishedAuth: true }
        return this.send(conn, Frontend.SASLResponse, {
          _tag: "SASLResponse",
          data: new TextEncoder().encode(final.success)
        })
      }
      case "AuthenticationSASLFinal": {
        if (this.scram === undefined) return this.refuse(conn, "SASLFinal without a SASL exchange", "SASL")
        const verified = this.scram.receiveServerFinal(message.data)
        if (Result.isFailure(verified)) return this.refuse(conn, verified.failure.message, verified.failure.method)
        this.progress = { ...this.progress, channelBound: this.scram.channelBound }
        return
      }
      case "AuthenticationKerberosV5":
        return this.refuse(conn, "Kerberos V5 authentication is not supported", "krb5")
      case "AuthenticationGSS":
      case "AuthenticationGSSContinue":
        return this.refuse(conn, "GSSAPI authentication is not supported (no GSSAPI library)", "gss")
      case "AuthenticationSSPI":
        return this.refuse(conn, "SSPI authentication is not supported", "sspi")
      default:
        return
    }
  }

  override onBackendKeyData(conn: Connection, message: Backend.BackendKeyData): void {
    conn.processId = message.processId
    conn.secretKey = message.secretKey.slice()
  }

  override onNegotiateProtocolVersion(conn: Connection, message: Backend.NegotiateProtocolVersion): void {
    this.unsupportedOptions = message.unrecognizedOptions
    // The documentation calls the field the newest minor version, but servers send the
    // whole version number (major << 16 | minor), and libpq reads it so: accept both.
    const offered = message.newestMinorVersion
    const minor = offered >= 0x10000 ? offered & 0xffff : offered
    if (offered >= 0x10000 && offered >>> 16 !== 3) {
      const error = new PgError({
        reason: new ProtocolError({
          message: `the server offered protocol ${offered >>> 16}.${minor}, not 3.x`,
          messageName: "NegotiateProtocolVersion"
        })
      })
      this.settle(Effect.fail(error))
      conn.breakWith(error)
      return
    }
    if (minor < this.options.minProtocolMinor || minor > this.options.protocolMinor) {
      const error = new PgError({
        reason: new ProtocolError({
          message: `the server supports protocol 3.${minor} at most, below the required minimum 3.${this.options.minProtocolMinor}`,
          messageName: "NegotiateProtocolVersion"
        })
      })
      this.settle(Effect.fail(error))
      conn.breakWith(error)
      return
    }
    conn.protocolMinor = minor
  }

  override onServerError(conn: Connection, error: ServerError): void {
    super.onServerError(conn, error)
    // A start-up error is always FATAL: the server closes the connection next.
    this.settle(Effect.fail(new PgError({ reason: error })))
  }

  complete(conn: Connection): void {
    if (this.serverError !== undefined) return this.settle(Effect.fail(new PgError({ reason: this.serverError })))
    conn.protocolMinor = Math.min(conn.protocolMinor, this.options.protocolMinor)
    this.settle(Effect.void)
  }

  fail(error: PgError): void {
    this.settle(Effect.fail(error))
  }
}
