/**
 * The options of a server: where it listens, TLS, protocol versions, the
 * authentication method, the ParameterStatus hook, the handler and the limits,
 * with their defaults as named constants.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ScramSecret } from "../auth/Scram.ts"
import type { Handler, Session } from "./Handler.ts"
import type { ServerError } from "./ServerError.ts"
import type { Wire } from "./Wire.ts"

/** Start-up and authentication must finish within this (PostgreSQL's `authentication_timeout`). */
export const DEFAULT_STARTUP_TIMEOUT_MILLIS = 60_000

/** Largest client message accepted after start-up (PostgreSQL's limit is 1 GiB - 1). */
export const DEFAULT_MAX_MESSAGE_BYTES = 0x3fffffff

/** Connections served at once (PostgreSQL's default `max_connections`). */
export const DEFAULT_MAX_CONNECTIONS = 100

/** The `server_version` reported by default: digits first, as clients parse it. */
export const DEFAULT_SERVER_VERSION = "18.0 (effect-pgwire)"

/**
 * PostgreSQL 18's ParameterStatus set at start-up (protocol-3.2
 * "ParameterStatus"), with the values this engine runs under.
 *
 * @since 0.1.0
 */
export const defaultParameters = (user: string, parameters: ReadonlyMap<string, string>): Record<string, string> => ({
  application_name: parameters.get("application_name") ?? "",
  client_encoding: parameters.get("client_encoding") ?? "UTF8",
  DateStyle: "ISO, MDY",
  default_transaction_read_only: "off",
  in_hot_standby: "off",
  integer_datetimes: "on",
  IntervalStyle: "postgres",
  is_superuser: "off",
  scram_iterations: "4096",
  search_path: "\"$user\", public",
  server_encoding: "UTF8",
  server_version: DEFAULT_SERVER_VERSION,
  session_authorization: user,
  standard_conforming_strings: "on",
  TimeZone: "UTC"
})

/**
 * Where to listen: TCP (`host` default 127.0.0.1, port 0 picks a free one) or a
 * Unix-domain socket `<unixDirectory>/.s.PGSQL.<port>`.
 *
 * @since 0.1.0
 */
export type Listen =
  | { readonly host?: string | undefined; readonly port: number }
  | { readonly unixDirectory: string; readonly port: number }

/**
 * The server's certificate (PEM). With it SSLRequest is answered 'S';
 * `required` refuses sessions in clear (FATAL 28000).
 *
 * @since 0.1.0
 */
export interface TlsOptions {
  readonly key: string | Uint8Array
  readonly cert: string | Uint8Array
  readonly ca?: string | Uint8Array | undefined
  readonly requestClientCert?: boolean | undefined
  readonly required?: boolean | undefined
}

/**
 * What start-up told the server, for the `parameters` hook and auth lookups.
 *
 * @since 0.1.0
 */
export interface StartupInfo {
  readonly user: string
  readonly database: string
  readonly parameters: ReadonlyMap<string, string>
  readonly protocol: { readonly major: 3; readonly minor: 0 | 2 }
  readonly tls: boolean
}

/**
 * How a connection proves its role.
 *
 * - `trust`: no password.
 * - `cleartext`: AuthenticationCleartextPassword; `verify` decides.
 * - `md5`: AuthenticationMD5Password; `lookup` gives the role's password, or
 *   its stored form (`md5` + 32 hex digits), or `undefined` (unknown role).
 * - `scram`: SCRAM-SHA-256 (and -PLUS over TLS unless `channelBinding` is
 *   "off"; "require" offers only -PLUS); `lookup` gives the stored secret
 *   (`SCRAM-SHA-256$...`, or parsed), a plain password, or `undefined`.
 *
 * A wrong password is FATAL 28P01.
 *
 * @since 0.1.0
 */
export type AuthMethod<R = never> =
  | { readonly _tag: "Trust" }
  | { readonly _tag: "Cleartext"; readonly verify: (user: string, password: string) => Effect.Effect<boolean, never, R> }
  | { readonly _tag: "Md5"; readonly lookup: (user: string) => Effect.Effect<string | undefined, never, R> }
  | {
    readonly _tag: "Scram"
    readonly lookup: (user: string) => Effect.Effect<string | ScramSecret | undefined, never, R>
    readonly channelBinding: "off" | "offer" | "require"
  }

/**
 * Authentication method constructors.
 *
 * @since 0.1.0
 */
export const Auth = {
  trust: { _tag: "Trust" } as AuthMethod<never>,
  cleartext: <R = never>(verify: (user: string, password: string) => Effect.Effect<boolean, never, R>): AuthMethod<R> => ({
    _tag: "Cleartext",
    verify
  }),
  md5: <R = never>(lookup: (user: string) => Effect.Effect<string | undefined, never, R>): AuthMethod<R> => ({
    _tag: "Md5",
    lookup
  }),
  scram: <R = never>(
    lookup: (user: string) => Effect.Effect<string | ScramSecret | undefined, never, R>,
    options?: { readonly channelBinding?: "off" | "offer" | "require" | undefined }
  ): AuthMethod<R> => ({ _tag: "Scram", lookup, channelBinding: options?.channelBinding ?? "offer" })
} as const

/**
 * Limits; every one has a default.
 *
 * @since 0.1.0
 */
export interface Limits {
  /** Default `DEFAULT_MAX_CONNECTIONS`; one more is answered FATAL 53300. */
  readonly maxConnections?: number | undefined
  /** Default `DEFAULT_STARTUP_TIMEOUT_MILLIS`; a silent or slow start-up is closed after it. */
  readonly startupTimeout?: Duration.Input | undefined
  /** Default `DEFAULT_MAX_MESSAGE_BYTES`; a longer message is FATAL 08P01. */
  readonly maxMessageBytes?: number | undefined
  /** A statement running longer is interrupted (57014); default none. */
  readonly statementTimeout?: Duration.Input | undefined
}

/**
 * @since 0.1.0
 */
export interface ServeOptions<R = never> {
  /** One address or several (TCP and a Unix socket directory, as PostgreSQL); default TCP 127.0.0.1 on a free port. */
  readonly listen?: Listen | ReadonlyArray<Listen> | undefined
  readonly tls?: TlsOptions | undefined
  /** The newest protocol offered (default "3.2"). */
  readonly protocol?: { readonly max?: "3.0" | "3.2" | undefined } | undefined
  /** Default `Auth.trust`. */
  readonly auth?: AuthMethod<R> | undefined
  /**
   * After authentication: ParameterStatus values to add or override, or a
   * refusal (a `ServerError`, sent FATAL: e.g. `ServerError.unknownDatabase`).
   */
  readonly parameters?: ((info: StartupInfo) => Effect.Effect<Readonly<Record<string, string>>, ServerError, R>) | undefined
  /**
   * The program behind the server: one handler for every connection, or a
   * function making one per connection after authentication, in the
   * connection's Scope (a relay opens its upstream session there).
   */
  readonly handler: Handler<R> | ((info: StartupInfo) => Effect.Effect<Handler<R>, ServerError, R | Scope.Scope>)
  readonly limits?: Limits | undefined
  /**
   * Takes each connection over once it is authenticated and has been sent its
   * ParameterStatus set, BackendKeyData and the first ReadyForQuery: the
   * command loop and `handler` are skipped, and the connection lasts until the
   * returned Effect ends (a proxy relaying frames, see `src/proxy`).
   */
  readonly takeover?: ((connection: Takeover) => Effect.Effect<void, never, R | Scope.Scope>) | undefined
}

/**
 * A connection handed over after start-up (`ServeOptions.takeover`).
 *
 * @since 0.1.0
 */
export interface Takeover {
  readonly info: StartupInfo
  /** The connection's byte side: `take` the client's frames, write with `socket` (TLS when negotiated). */
  readonly wire: Wire
  readonly processId: number
  /** The ParameterStatus values the client was sent. */
  readonly parameters: ReadonlyMap<string, string>
  /** What a CancelRequest with this connection's key does from now on (default: nothing). */
  readonly onCancel: (cancel: () => void) => void
}

/** The services a server's handler may need from the caller (the engine provides `Session`). @since 0.1.0 */
export type Requirements<R> = Exclude<R, Session>
