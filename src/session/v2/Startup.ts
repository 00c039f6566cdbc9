/**
 * The protocol 2.0 start-up exchange (protocol-2.0 "Start-up"): the 296-byte
 * StartupPacket, authentication (trust, cleartext, MD5), BackendKeyData, the
 * first ReadyForQuery.
 *
 * **Details**
 *
 * - Settings travel in the packet's 64-byte options field as `-c k=v`
 *   (the libpq `options`, the given parameters, then `client_encoding=UTF8`
 *   always, last so that it wins as the separate start-up parameter does on
 *   3.x); what does not fit is a ConfigError naming it, never a truncation. No ParameterStatus ever comes (PROTOCOL-2.0 §1.1).
 * - A server asking for anything but a cleartext or MD5 password is refused
 *   with an AuthError; `require_auth` and `channel_binding` are checked as for
 *   3.x (`AuthPolicy`). A 2.0 server cannot ask for SCRAM: it fails the login
 *   with an error about SASL (PROTOCOL-2.0 M3), which becomes an AuthError
 *   saying that protocol 2.0 cannot do SCRAM.
 * - Runs as the first request on the wire, so the same decoder and the same
 *   `State.step` judge every start-up message.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as AuthPolicy from "../../auth/AuthPolicy.ts"
import * as Md5 from "../../auth/Md5.ts"
import { AuthError, ConfigError, PgError, type ServerError } from "../../errors/PgError.ts"
import * as V2 from "../../protocol/V2.ts"
import * as Utf8 from "../../wire/Utf8.ts"
import * as ErrorText from "./ErrorText.ts"
import { V2Request, type Wire } from "./Wire.ts"

/** The size of the StartupPacket's options field (LimString64). */
export const OPTIONS_FIELD_BYTES = 64

/** The protocol version word of a 2.0 StartupPacket. */
export const PROTOCOL_2_0 = 0x20000

/**
 * What the 2.0 start-up needs.
 *
 * @since 0.1.0
 */
export interface StartupOptions {
  readonly user: string
  readonly database: string | undefined
  readonly password: string | undefined
  /** libpq `options` (command-line switches), sent as they are. */
  readonly commandLine: string | undefined
  /** Settings, each sent as `-c name=value`. */
  readonly settings: Readonly<Record<string, string>>
  readonly policy: AuthPolicy.AuthPolicy
}

/** Escapes a `-c` value for the server's option splitting (pg_split_opts): backslash and blanks. */
const escapeOption = (s: string): string => s.replace(/[\\\s]/g, (c) => `\\${c}`)

/**
 * The options field: the rest, then `-c client_encoding=UTF8` (the server applies
 * the switches in order: the last one wins); a ConfigError naming what did not
 * fit in 64 bytes.
 *
 * @since 0.1.0
 */
export const optionsField = (
  commandLine: string | undefined,
  settings: Readonly<Record<string, string>>
): Result.Result<string, PgError> => {
  const parts: Array<string> = []
  if (commandLine !== undefined && commandLine.trim() !== "") parts.push(commandLine.trim())
  for (const [name, value] of Object.entries(settings)) {
    if (name === "client_encoding") continue
    parts.push(`-c ${escapeOption(name)}=${escapeOption(value)}`)
  }
  parts.push("-c client_encoding=UTF8")
  const field = parts.join(" ")
  const bytes = Utf8.byteLength(field)
  if (bytes <= OPTIONS_FIELD_BYTES) return Result.succeed(field)
  let fits = 0
  let used = 0
  for (const part of parts) {
    const size = Utf8.byteLength(part) + (used === 0 ? 0 : 1)
    if (used + size > OPTIONS_FIELD_BYTES) break
    used += size
    fits++
  }
  const left = parts.slice(fits).join(" ")
  return Result.fail(
    new PgError({
      reason: new ConfigError({
        message:
          `protocol 2.0 carries start-up settings in a ${OPTIONS_FIELD_BYTES}-byte options field; "${field}" takes ${bytes} bytes, and "${left}" does not fit`,
        parameter: "options"
      })
    })
  )
}

const authError = (message: string, method?: string): PgError =>
  new PgError({ reason: new AuthError({ message, ...(method === undefined ? {} : { method }) }) })

/**
 * The start-up request.
 *
 * @since 0.1.0
 */
export class StartupRequest extends V2Request {
  private readonly options: StartupOptions
  private readonly field: string
  private readonly resume: (effect: Effect.Effect<void, PgError>) => void
  private progress: AuthPolicy.AuthProgress = AuthPolicy.initialProgress
  private settled = false
  private authenticated = false

  constructor(options: StartupOptions, field: string, resume: (effect: Effect.Effect<void, PgError>) => void) {
    super()
    this.options = options
    this.field = field
    this.resume = resume
    this.phase = "Auth"
    this.statusEffect = "keep"
  }

  bytes(): Uint8Array {
    const o = this.options
    const encoded = V2.encodeFrontend({
      _tag: "StartupPacket",
      protocolVersion: PROTOCOL_2_0,
      database: o.database ?? "",
      user: o.user,
      options: this.field,
      unused: "",
      tty: ""
    })
    if (encoded._tag === "Failure") {
      throw new PgError({
        reason: new ConfigError({ message: `protocol 2.0 start-up packet: ${encoded.failure.message}`, parameter: "user" })
      })
    }
    return encoded.success
  }

  private settle(effect: Effect.Effect<void, PgError>): void {
    if (this.settled) return
    this.settled = true
    this.resume(effect)
  }

  private refuse(wire: Wire, error: PgError): void {
    this.settle(Effect.fail(error))
    wire.breakWith(error)
  }

  onMessage(wire: Wire, m: V2.BackendMessage): void {
    const o = this.options
    switch (m._tag) {
      case "AuthenticationOk":
      case "AuthenticationCleartextPassword":
      case "AuthenticationMD5Password":
      case "AuthenticationKerberosV5": {
        const allowed = AuthPolicy.check(o.policy, m._tag, this.progress)
        if (Result.isFailure(allowed)) return this.refuse(wire, new PgError({ reason: allowed.failure }))
        break
      }
    }
    switch (m._tag) {
      case "AuthenticationOk":
        this.authenticated = true
        return
      case "AuthenticationCleartextPassword":
      case "AuthenticationMD5Password": {
        const method = m._tag === "AuthenticationMD5Password" ? "md5" : "password"
        if (o.password === undefined) return this.refuse(wire, authError("the server asked for a password but none was given", method))
        this.progress = { ...this.progress, clientFinishedAuth: true }
        const password = m._tag === "AuthenticationMD5Password" ? Md5.passwordResponse(o.password, o.user, m.salt) : o.password
        return wire.send({ _tag: "PasswordPacket", password })
      }
      case "AuthenticationKerberosV4":
      case "AuthenticationKerberosV5":
        return this.refuse(wire, authError("Kerberos authentication is not supported", "krb5"))
      case "AuthenticationCryptPassword":
        return this.refuse(wire, authError("crypt(3) password authentication is not supported", "crypt"))
      case "AuthenticationSCMCredential":
        return this.refuse(wire, authError("SCM credential authentication is not supported", "scm"))
      case "BackendKeyData": {
        wire.processId = m.processId
        const key = new Uint8Array(4)
        new DataView(key.buffer).setInt32(0, m.secretKey)
        wire.secretKey = key
        return
      }
      case "ErrorResponse":
        return this.refuse(wire, this.refusal(ErrorText.toServerError(m.message)))
      default:
        return
    }
  }

  /** A start-up error: SCRAM is an AuthError of its own; a server without 2.0 says which versions it has. */
  private refusal(error: ServerError): PgError {
    if (!this.authenticated && /\bSASL\b/.test(error.message)) {
      return authError(
        `the server requires SCRAM (SASL) authentication, which protocol 2.0 cannot do; use protocol 3.0 or later (server: ${error.message})`,
        "SCRAM-SHA-256"
      )
    }
    return new PgError({ reason: error })
  }

  complete(): void {
    this.settle(Effect.void)
  }

  fail(error: PgError): void {
    this.settle(Effect.fail(error))
  }
}
