/**
 * The one error type of effect-pgwire: `PgError`, with a `reason` union.
 *
 * Every failure the library reports is a `PgError` whose `reason` says what went
 * wrong: the server refused (`ServerError`, every ErrorResponse field kept), the
 * socket failed (`ConnectionError`), the peer broke the protocol (`ProtocolError`,
 * `ProtocolDesync`), authentication failed (`AuthError`), TLS failed (`TlsError`),
 * a value could not be encoded or decoded (`CodecError`), the configuration is
 * invalid (`ConfigError`), a named timeout fired (`TimeoutError`), a cancel could
 * not be confirmed (`CancelError`), or a COMMIT was answered with ROLLBACK
 * (`TransactionError`).
 *
 * This module is pure: it imports `effect/Schema` only, so the wire, protocol,
 * types and auth layers can build these values without the Effect runtime.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { classify, type SqlStateClassification } from "./SqlState.ts"

/**
 * The `code` of a `ServerError` from a protocol 2.0 server: 2.0 errors are one
 * line of text with no SQLSTATE (protocol-2.0 "ErrorResponse"), and it cannot be
 * recovered from the (localized) text. Never retryable; `sqlState.known` is false.
 *
 * @since 0.1.0
 */
export const UNKNOWN_SQLSTATE = ""

/**
 * The server answered with an ErrorResponse (or a FATAL during startup).
 *
 * **Details**
 *
 * Every field of the ErrorResponse is kept under its documented name (protocol-3.2
 * "Error and Notice Message Fields"): `S` severity (localized), `V` severity (not
 * localized), `C` code, `M` message, `D` detail, `H` hint, `P` position, `p`
 * internal position, `q` internal query, `W` where, `s` schema, `t` table, `c`
 * column, `d` data type, `n` constraint, `F` file, `L` line, `R` routine.
 * On a protocol 2.0 session `code` is `UNKNOWN_SQLSTATE` and only severity,
 * message, position and detail (the text after the first line) are known.
 *
 * @since 0.1.0
 */
export class ServerError extends Schema.TaggedError<ServerError>("effect-pgwire/ServerError")("ServerError", {
  severity: Schema.String,
  severityNonLocalized: Schema.optional(Schema.String),
  code: Schema.String,
  message: Schema.String,
  detail: Schema.optional(Schema.String),
  hint: Schema.optional(Schema.String),
  position: Schema.optional(Schema.Number),
  internalPosition: Schema.optional(Schema.Number),
  internalQuery: Schema.optional(Schema.String),
  where: Schema.optional(Schema.String),
  schema: Schema.optional(Schema.String),
  table: Schema.optional(Schema.String),
  column: Schema.optional(Schema.String),
  dataType: Schema.optional(Schema.String),
  constraint: Schema.optional(Schema.String),
  file: Schema.optional(Schema.String),
  line: Schema.optional(Schema.Number),
  routine: Schema.optional(Schema.String)
}) {
  /** The SQLSTATE class, condition name and retry classification. */
  get sqlState(): SqlStateClassification {
    return classify(this.code)
  }
  /** A retry of the whole transaction is safe (serialization failure, deadlock, connection lost before commit). */
  get isRetryable(): boolean {
    return this.sqlState.retryable
  }
}

/**
 * The socket could not be opened, was closed by the peer, or failed mid-stream.
 *
 * **Details**
 *
 * `requestSent` is `false` when the failing request's bytes never reached the
 * socket, so retrying it cannot run it twice.
 *
 * @since 0.1.0
 */
export class ConnectionError extends Schema.TaggedError<ConnectionError>("effect-pgwire/ConnectionError")(
  "ConnectionError",
  {
    message: Schema.String,
    requestSent: Schema.optional(Schema.Boolean),
    cause: Schema.optional(Schema.Defect())
  }
) {
  get isRetryable(): boolean {
    return this.requestSent !== true
  }
}

/**
 * Bytes that are not a valid protocol message: a malformed length, a truncated
 * field, trailing bytes, an unknown type byte, a count out of range, invalid
 * UTF-8, or a frame over `maxMessageSize`.
 *
 * @since 0.1.0
 */
export class ProtocolError extends Schema.TaggedError<ProtocolError>("effect-pgwire/ProtocolError")(
  "ProtocolError",
  {
    message: Schema.String,
    /** The protocol name of the message being decoded, when known. */
    messageName: Schema.optional(Schema.String),
    /** The byte offset inside the frame (or stream) where decoding failed. */
    offset: Schema.optional(Schema.Number),
    /** A frame header refused for its length: the frame's type byte and the length it declared. */
    frameHeader: Schema.optional(Schema.Struct({ type: Schema.Number, length: Schema.Number }))
  }
) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * A well-formed message arrived in a session state where the protocol does not
 * allow it. The session is broken: this error is fatal.
 *
 * @since 0.1.0
 */
export class ProtocolDesync extends Schema.TaggedError<ProtocolDesync>("effect-pgwire/ProtocolDesync")(
  "ProtocolDesync",
  {
    message: Schema.String,
    messageName: Schema.String,
    state: Schema.String
  }
) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Authentication failed on the client side: unsupported method, policy refusal
 * (`require_auth`, `channel_binding`), a server that failed SCRAM verification.
 * Never contains a password.
 *
 * @since 0.1.0
 */
export class AuthError extends Schema.TaggedError<AuthError>("effect-pgwire/AuthError")("AuthError", {
  message: Schema.String,
  method: Schema.optional(Schema.String)
}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * TLS negotiation or verification failed, or the server refused TLS where the
 * configuration requires it.
 *
 * @since 0.1.0
 */
export class TlsError extends Schema.TaggedError<TlsError>("effect-pgwire/TlsError")("TlsError", {
  message: Schema.String,
  /**
   * The server answered SSLRequest with an ErrorResponse: it failed before negotiating anything (too old, or
   * failing to start), so libpq tries no other encryption method.
   */
  failedBeforeNegotiation: Schema.optional(Schema.Boolean),
  cause: Schema.optional(Schema.Defect())
}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * A value could not be encoded as a parameter or decoded from a column.
 *
 * @since 0.1.0
 */
export class CodecError extends Schema.TaggedError<CodecError>("effect-pgwire/CodecError")("CodecError", {
  message: Schema.String,
  /** The type OID involved, when known. */
  oid: Schema.optional(Schema.Number),
  /** The column name (decoding) when known. */
  column: Schema.optional(Schema.String),
  /** The 1-based parameter index (encoding) when known. */
  parameter: Schema.optional(Schema.Number)
}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The configuration (options, connection string, environment) is invalid.
 * Never contains a password.
 *
 * @since 0.1.0
 */
export class ConfigError extends Schema.TaggedError<ConfigError>("effect-pgwire/ConfigError")("ConfigError", {
  message: Schema.String,
  parameter: Schema.optional(Schema.String)
}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * A named timeout fired.
 *
 * @since 0.1.0
 */
export class TimeoutError extends Schema.TaggedError<TimeoutError>("effect-pgwire/TimeoutError")(
  "TimeoutError",
  {
    message: Schema.String,
    /** What timed out: "connect", "cancel", "drain", "acquire", "query", ... */
    operation: Schema.String,
    timeoutMillis: Schema.Number
  }
) {
  get isRetryable(): boolean {
    return this.operation === "connect" || this.operation === "acquire"
  }
}

/**
 * A cancel could not be delivered or confirmed; the session was retired.
 *
 * @since 0.1.0
 */
export class CancelError extends Schema.TaggedError<CancelError>("effect-pgwire/CancelError")("CancelError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * A transaction did not end the way the client asked: the server answered
 * COMMIT with ROLLBACK because a statement inside the transaction had failed
 * (protocol-3.2 "CommandComplete": the tag of a COMMIT in an aborted
 * transaction block is `ROLLBACK`). Nothing was committed.
 *
 * @since 0.1.0
 */
export class TransactionError extends Schema.TaggedError<TransactionError>("effect-pgwire/TransactionError")(
  "TransactionError",
  {
    message: Schema.String,
    /** The statement that did not do what was asked, e.g. "commit". */
    operation: Schema.String
  }
) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * A COMMIT was sent and no answer came (the connection broke, went silent past
 * the commit timeout, or the caller stopped waiting): the transaction may or may
 * not have been committed. The session was closed; only the server knows, so
 * check there (e.g. by a key the transaction wrote) before doing the work again.
 *
 * @since 0.1.0
 */
export class CommitOutcomeUnknown extends Schema.TaggedError<CommitOutcomeUnknown>(
  "effect-pgwire/CommitOutcomeUnknown"
)("CommitOutcomeUnknown", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Every reason a `PgError` can carry.
 *
 * @since 0.1.0
 */
export const PgErrorReason = Schema.Union([
  ServerError,
  ConnectionError,
  ProtocolError,
  ProtocolDesync,
  AuthError,
  TlsError,
  CodecError,
  ConfigError,
  TimeoutError,
  CancelError,
  TransactionError,
  CommitOutcomeUnknown
])

/**
 * @since 0.1.0
 */
export type PgErrorReason = typeof PgErrorReason.Type

/**
 * The error of every effect-pgwire operation.
 *
 * **Details**
 *
 * Match on `error.reason._tag` (or use `Effect.catchReason("PgError", "ServerError", ...)`).
 * `isRetryable` tells whether running the same operation again is safe.
 *
 * @since 0.1.0
 */
export class PgError extends Schema.TaggedError<PgError>("effect-pgwire/PgError")("PgError", {
  reason: PgErrorReason
}) {
  override get message(): string {
    return this.reason.message
  }
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
}

/**
 * Wraps a reason into a `PgError`.
 *
 * @since 0.1.0
 */
export const make = (reason: PgErrorReason): PgError => new PgError({ reason })
