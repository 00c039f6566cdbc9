/**
 * A connection's admission: start-up (`Negotiate.ts`), authentication
 * (`Auth.ts`) and the server's `parameters` hook, all under one time limit
 * (`limits.startupTimeout`, `DEFAULT_STARTUP_TIMEOUT_MILLIS`).
 *
 * **Details**
 *
 * - Every refusal is sent here as FATAL: a failed authentication, a failing
 *   `parameters` hook, and the `refusal` the listener gives a connection over
 *   its limit (53300), which is sent after start-up so that an SSLRequest is
 *   answered as usual.
 * - A client still in start-up at the time limit has its socket destroyed.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Tls from "node:tls"
import { authenticate } from "./Auth.ts"
import type * as Cancel from "./Cancel.ts"
import * as Copy from "./Copy.ts"
import type { Session } from "./Handler.ts"
import { negotiate, type Negotiated } from "./Negotiate.ts"
import { DEFAULT_STARTUP_TIMEOUT_MILLIS, defaultParameters, type ServeOptions, type StartupInfo } from "./Options.ts"
import * as ServerError from "./ServerError.ts"
import type { Wire } from "./Wire.ts"

/**
 * What start-up and authentication settled.
 *
 * @since 0.1.0
 */
export interface Admitted {
  readonly negotiated: Negotiated
  readonly info: StartupInfo
  readonly values: Record<string, string>
}

/**
 * What admission needs of the server.
 *
 * @since 0.1.0
 */
export interface Gate {
  readonly registry: Cancel.Registry
  readonly tls: Tls.TlsOptions | undefined
  /** tls-server-end-point hash of the server certificate (SCRAM-SHA-256-PLUS). */
  readonly certificateHash: Uint8Array | undefined
}

const refuse = (wire: Wire, error: ServerError.ServerError): void => {
  wire.send({ _tag: "ErrorResponse", fields: ServerError.toFields(error) })
}

/**
 * Runs start-up and authentication on `wire`: what was settled, or undefined
 * when the connection is not admitted (refused, a CancelRequest, or out of
 * time).
 *
 * @since 0.1.0
 */
export const admit = <R>(
  wire: Wire,
  options: ServeOptions<R>,
  gate: Gate,
  refusal: ServerError.ServerError | undefined
): Effect.Effect<Admitted | undefined, never, Exclude<R, Session>> => {
  const startupMillis = options.limits?.startupTimeout === undefined
    ? DEFAULT_STARTUP_TIMEOUT_MILLIS
    : Duration.toMillis(Duration.fromInputUnsafe(options.limits.startupTimeout))
  const steps = Effect.gen(function*() {
    const outcome = yield* negotiate(wire, options, gate.tls, gate.registry)
    if (outcome._tag === "Done") return undefined
    const n = outcome.negotiated
    if (refusal !== undefined) {
      refuse(wire, refusal)
      return undefined
    }
    const certificateHash = n.tls === undefined ? undefined : gate.certificateHash
    const auth = yield* Effect.exit(authenticate(wire, options.auth ?? { _tag: "Trust" }, n.user, certificateHash))
    if (Exit.isFailure(auth)) {
      refuse(wire, ServerError.fatal(Copy.failureOf(auth.cause)))
      return undefined
    }
    wire.authenticated()
    const info = {
      user: n.user,
      database: n.database,
      parameters: n.parameters,
      protocol: { major: 3 as const, minor: n.minor },
      tls: n.tls !== undefined
    }
    let extra: Readonly<Record<string, string>> = {}
    if (options.parameters !== undefined) {
      const hook = yield* Effect.exit(options.parameters(info))
      if (Exit.isFailure(hook)) {
        refuse(wire, ServerError.fatal(Copy.failureOf(hook.cause)))
        return undefined
      }
      extra = hook.value
    }
    const values = { ...defaultParameters(n.user, n.parameters), ...extra }
    return { negotiated: n, info, values }
  }) as Effect.Effect<Admitted | undefined, never, Exclude<R, Session>>
  return Effect.map(Effect.timeoutOption(steps, Duration.millis(startupMillis)), (started) => {
    if (Option.isSome(started)) return started.value
    wire.destroy()
    return undefined
  })
}
