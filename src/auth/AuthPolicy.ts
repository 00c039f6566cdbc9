/**
 * The client's authentication policy: libpq's `require_auth` and
 * `channel_binding` options as pure decisions the session asks before it
 * answers each authentication request.
 *
 * **Details**
 *
 * The rules are libpq's (libpq-connect.sgml "require_auth" and
 * "channel_binding"; `fe-connect.c` parsing, `fe-auth.c`
 * `check_expected_areq` and `pg_SASL_init`), so a connection string behaves as
 * it does with psql:
 *
 * - `require_auth` lists the methods the server may use (`password`, `md5`,
 *   `gss`, `sspi`, `scram-sha-256`, `oauth`, `none`), or, all prefixed with
 *   `!`, the methods it may not use. `none` is the server not asking at all;
 *   `!none` demands some exchange. Without `none` the server must finish an
 *   exchange before AuthenticationOk: a SCRAM server that skips its final
 *   message fails here, as does trust authentication.
 * - `channel_binding=require` only lets SASL through and refuses an
 *   AuthenticationOk that did not follow a channel-bound SCRAM exchange;
 *   `prefer` (the default) picks SCRAM-SHA-256-PLUS over TLS when offered;
 *   `disable` never binds.
 *
 * The session calls `check` for every Authentication* message before it sends
 * anything (so a password is never sent where the policy forbids it),
 * `selectMechanism` on AuthenticationSASL, and tracks `AuthProgress`.
 *
 * Error texts follow libpq's wording. Errors never contain a password; the
 * `require_auth` text they quote is not secret.
 *
 * Deliberately not here: GSSAPI/SSPI and OAUTHBEARER exchanges (the policy
 * knows the names, the client does not implement them), `sslcertmode`, and
 * GSS encryption satisfying `require_auth=gss`.
 *
 * Pure: no Effect runtime.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as AuthKeywords from "../config/AuthKeywords.ts"
import { AuthError, ConfigError } from "../errors/PgError.ts"
import { MECHANISM, MECHANISM_PLUS, type Mechanism } from "./Scram.ts"

/**
 * An authentication request from the server, by its protocol-3.2 message name
 * (`AuthenticationUnknown` for a code that page does not define).
 *
 * @since 0.1.0
 */
export type AuthRequest =
  | "AuthenticationOk"
  | "AuthenticationKerberosV5"
  | "AuthenticationCleartextPassword"
  | "AuthenticationMD5Password"
  | "AuthenticationGSS"
  | "AuthenticationGSSContinue"
  | "AuthenticationSSPI"
  | "AuthenticationSASL"
  | "AuthenticationSASLContinue"
  | "AuthenticationSASLFinal"
  | "AuthenticationUnknown"

/**
 * A method name `require_auth` accepts (besides `none`).
 *
 * @since 0.1.0
 */
export type RequireAuthMethod = Exclude<AuthKeywords.RequireAuthMethod, "none">

/** SASL mechanisms `require_auth` can name. */
type SaslMethod = "scram-sha-256" | "oauth"

/**
 * A parsed `require_auth`.
 *
 * @since 0.1.0
 */
export interface RequireAuth {
  /** The option as written, quoted in errors. */
  readonly source: string
  /** AuthenticationOk is accepted only after the client finished an exchange. */
  readonly authRequired: boolean
  /** The requests the server may send. */
  readonly allowedRequests: ReadonlySet<AuthRequest>
  /** The SASL mechanisms the server may use. */
  readonly allowedSasl: ReadonlySet<SaslMethod>
}

/**
 * libpq's `channel_binding`.
 *
 * @since 0.1.0
 */
export type ChannelBindingMode = AuthKeywords.ChannelBinding

/**
 * The policy for one connection attempt.
 *
 * @since 0.1.0
 */
export interface AuthPolicy {
  /** `undefined`: any method, and no authentication at all, is accepted (libpq's default). */
  readonly requireAuth: RequireAuth | undefined
  readonly channelBinding: ChannelBindingMode
}

/**
 * What the client has done so far in this connection's authentication.
 *
 * **Details**
 *
 * - `clientFinishedAuth`: the client sent a cleartext or MD5 password, or
 *   verified the server's SCRAM final message (`ScramClient.isComplete`).
 * - `channelBound`: that SCRAM exchange used channel binding
 *   (`ScramClient.channelBound`).
 *
 * @since 0.1.0
 */
export interface AuthProgress {
  readonly clientFinishedAuth: boolean
  readonly channelBound: boolean
}

/**
 * The progress before any request.
 *
 * @since 0.1.0
 */
export const initialProgress: AuthProgress = { clientFinishedAuth: false, channelBound: false }

/**
 * libpq's defaults: no `require_auth`, `channel_binding=prefer`.
 *
 * @since 0.1.0
 */
export const defaultPolicy: AuthPolicy = { requireAuth: undefined, channelBinding: "prefer" }

const SASL_REQUESTS: ReadonlyArray<AuthRequest> = [
  "AuthenticationSASL",
  "AuthenticationSASLContinue",
  "AuthenticationSASLFinal"
]

// The requests require_auth can allow, one group per method (fe-connect.c).
// GSSContinue is shared by gss and sspi, so, as in libpq, "!sspi" also
// refuses the continuation of a GSS exchange.
const REQUESTS_OF: Readonly<Record<Exclude<RequireAuthMethod, SaslMethod>, ReadonlyArray<AuthRequest>>> = {
  password: ["AuthenticationCleartextPassword"],
  md5: ["AuthenticationMD5Password"],
  gss: ["AuthenticationGSS", "AuthenticationGSSContinue"],
  sspi: ["AuthenticationSSPI", "AuthenticationGSSContinue"]
}

const ALL_REQUESTS: ReadonlyArray<AuthRequest> = [
  "AuthenticationCleartextPassword",
  "AuthenticationMD5Password",
  "AuthenticationGSS",
  "AuthenticationGSSContinue",
  "AuthenticationSSPI",
  ...SASL_REQUESTS
]

const configError = (parameter: string, message: string) => Result.fail(new ConfigError({ message, parameter }))

/**
 * Parses `require_auth` as libpq does.
 *
 * **Details**
 *
 * `undefined` and the empty string mean no requirement. The list's grammar
 * (and its `ConfigError`s, parameter `require_auth`: an unknown method, a mix
 * of negated and plain methods, a method given twice) is the keyword's
 * (`AuthKeywords.parseRequireAuth`); this gives each method its requests. A
 * negated list starts from everything and subtracts.
 *
 * @since 0.1.0
 */
export const parseRequireAuth = (value: string | undefined): Result.Result<RequireAuth | undefined, ConfigError> =>
  Result.map(AuthKeywords.parseRequireAuth(value), (list) => list === undefined ? undefined : requireAuthOf(list))

const requireAuthOf = (list: AuthKeywords.RequireAuthList): RequireAuth => {
  const negated = list.negated
  // "none" allows (or "!none" forbids) AuthenticationOk without an exchange.
  const authRequired = negated === list.methods.includes("none")
  const allowed = new Set<AuthRequest>(negated ? ALL_REQUESTS : [])
  const sasl = new Set<SaslMethod>(negated ? ["scram-sha-256", "oauth"] : [])
  for (const method of list.methods) {
    switch (method) {
      case "none":
        break
      case "scram-sha-256":
      case "oauth":
        if (negated) sasl.delete(method)
        else sasl.add(method)
        break
      default:
        for (const r of REQUESTS_OF[method]) {
          if (negated) allowed.delete(r)
          else allowed.add(r)
        }
    }
  }
  // SASL requests are allowed exactly when some SASL mechanism is.
  for (const r of SASL_REQUESTS) {
    if (sasl.size > 0) allowed.add(r)
    else allowed.delete(r)
  }
  return { source: list.source, authRequired, allowedRequests: allowed, allowedSasl: sasl }
}

/**
 * Parses `channel_binding`; `undefined` is the default `prefer`.
 *
 * @since 0.1.0
 */
export const parseChannelBinding = (value: string | undefined): Result.Result<ChannelBindingMode, ConfigError> => {
  if (value === undefined) return Result.succeed("prefer")
  if (Schema.is(AuthKeywords.ChannelBinding)(value)) return Result.succeed(value)
  return configError("channel_binding", `invalid channel_binding value: "${value}"`)
}

/**
 * Builds a policy from the two connection options as written.
 *
 * @since 0.1.0
 */
export const make = (options: {
  readonly requireAuth?: string | undefined
  readonly channelBinding?: string | undefined
}): Result.Result<AuthPolicy, ConfigError> =>
  Result.flatMap(parseRequireAuth(options.requireAuth), (requireAuth) =>
    Result.map(parseChannelBinding(options.channelBinding), (channelBinding) => ({ requireAuth, channelBinding })))

const describe = (request: AuthRequest): string => {
  switch (request) {
    case "AuthenticationCleartextPassword":
      return "server requested a cleartext password"
    case "AuthenticationMD5Password":
      return "server requested a hashed password"
    case "AuthenticationGSS":
    case "AuthenticationGSSContinue":
      return "server requested GSSAPI authentication"
    case "AuthenticationSSPI":
      return "server requested SSPI authentication"
    case "AuthenticationSASL":
    case "AuthenticationSASLContinue":
    case "AuthenticationSASLFinal":
      return "server requested SASL authentication"
    default:
      return "server requested an unknown authentication type"
  }
}

const methodOf = (request: AuthRequest): string | undefined => {
  switch (request) {
    case "AuthenticationCleartextPassword":
      return "password"
    case "AuthenticationMD5Password":
      return "md5"
    case "AuthenticationGSS":
    case "AuthenticationGSSContinue":
      return "gss"
    case "AuthenticationSSPI":
      return "sspi"
    case "AuthenticationSASL":
    case "AuthenticationSASLContinue":
    case "AuthenticationSASLFinal":
      return "scram-sha-256"
    default:
      return undefined
  }
}

const authError = (message: string, method?: string | undefined) =>
  Result.fail(new AuthError(method === undefined ? { message } : { message, method }))

const requirementFailed = (requireAuth: RequireAuth, reason: string, method?: string | undefined) =>
  authError(`authentication method requirement "${requireAuth.source}" failed: ${reason}`, method)

/**
 * Whether the client may answer (or, for AuthenticationOk, accept) this
 * request, before it sends anything.
 *
 * **Details**
 *
 * libpq's `check_expected_areq`: first `require_auth` (the request must be
 * allowed; AuthenticationOk needs `progress.clientFinishedAuth` unless `none`
 * is allowed), then `channel_binding=require` (only SASL requests may be
 * answered, and AuthenticationOk needs `progress.channelBound`).
 *
 * @since 0.1.0
 */
export const check = (
  policy: AuthPolicy,
  request: AuthRequest,
  progress: AuthProgress
): Result.Result<void, AuthError> => {
  const requireAuth = policy.requireAuth
  if (requireAuth !== undefined) {
    if (request === "AuthenticationOk") {
      if (requireAuth.authRequired && !progress.clientFinishedAuth) {
        return requirementFailed(requireAuth, "server did not complete authentication")
      }
    } else if (!requireAuth.allowedRequests.has(request)) {
      return requirementFailed(requireAuth, describe(request), methodOf(request))
    }
  }
  if (policy.channelBinding === "require") {
    switch (request) {
      case "AuthenticationSASL":
      case "AuthenticationSASLContinue":
      case "AuthenticationSASLFinal":
        break
      case "AuthenticationOk":
        if (!progress.channelBound) {
          return authError("channel binding required, but server authenticated client without channel binding")
        }
        break
      default:
        return authError("channel binding required but not supported by server's authentication request", methodOf(request))
    }
  }
  return Result.void
}

/**
 * The SASL mechanism to use and the channel binding it runs with.
 *
 * @since 0.1.0
 */
export interface MechanismChoice {
  readonly mechanism: Mechanism
  /**
   * The `_tag` of the `ScramClient` channel binding to start with: `None`
   * (gs2 `n`), `NotOffered` (gs2 `y`: TLS without -PLUS on offer) or
   * `TlsServerEndPoint` (SCRAM-SHA-256-PLUS).
   */
  readonly channelBinding: "None" | "NotOffered" | "TlsServerEndPoint"
}

/**
 * Picks the mechanism from AuthenticationSASL's list, as libpq's
 * `pg_SASL_init` does.
 *
 * **Details**
 *
 * - `channel_binding=require` without TLS fails before looking at the list.
 * - SCRAM-SHA-256-PLUS is chosen over TLS unless `channel_binding=disable`;
 *   offered without TLS it fails (something stripped TLS, and the server
 *   would refuse the unbound exchange anyway).
 * - Otherwise SCRAM-SHA-256; no supported mechanism fails.
 * - `require_auth` must allow SCRAM, and `channel_binding=require` must have
 *   got -PLUS.
 * - Over TLS without -PLUS the client still says it could bind (`y`), so a
 *   server that supports binding detects a downgrade.
 *
 * @since 0.1.0
 */
export const selectMechanism = (
  policy: AuthPolicy,
  offered: ReadonlyArray<string>,
  tls: boolean
): Result.Result<MechanismChoice, AuthError> => {
  if (policy.channelBinding === "require" && !tls) return authError("channel binding required, but SSL not in use")
  let selected: Mechanism | undefined = undefined
  for (const mechanism of offered) {
    if (mechanism === MECHANISM_PLUS) {
      if (!tls) {
        return authError("server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection", MECHANISM_PLUS)
      }
      if (policy.channelBinding !== "disable") selected = MECHANISM_PLUS
    } else if (mechanism === MECHANISM && selected === undefined) {
      selected = MECHANISM
    }
  }
  if (selected === undefined) return authError("none of the server's SASL authentication mechanisms are supported")
  const requireAuth = policy.requireAuth
  if (requireAuth !== undefined && !requireAuth.allowedSasl.has("scram-sha-256")) {
    return requirementFailed(requireAuth, `server requested SASL authentication (${selected})`, selected)
  }
  if (policy.channelBinding === "require" && selected !== MECHANISM_PLUS) {
    return authError(
      "channel binding is required, but server did not offer an authentication method that supports channel binding",
      selected
    )
  }
  return Result.succeed({
    mechanism: selected,
    channelBinding: selected === MECHANISM_PLUS
      ? "TlsServerEndPoint"
      : tls && policy.channelBinding !== "disable"
      ? "NotOffered"
      : "None"
  })
}
