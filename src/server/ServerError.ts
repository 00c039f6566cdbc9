/**
 * The errors a server engine sends: a handler fails with the library's
 * `ServerError` (every ErrorResponse field, the SQLSTATE classified by
 * `errors/SqlState`), and the engine turns it into an ErrorResponse frame.
 *
 * This module holds constructors per SQLSTATE the engine itself raises (and
 * handlers commonly need), the mapping of a failure `Cause` to what the client
 * sees (a defect becomes XX000 with its text withheld, an interruption by
 * CancelRequest becomes 57014), and the frame fields. It does not decide when an
 * error is sent or whether the connection survives it: that is the
 * connection's state machine (`Machine`).
 *
 * @since 0.1.0
 */
import { ServerError } from "../errors/PgError.ts"
import { Code } from "../errors/SqlState.ts"
import type * as ErrorFields from "../protocol/ErrorFields.ts"
import { fromServerError } from "../protocol/ErrorFields.ts"

export { ServerError }

/**
 * Optional fields of an error a handler reports.
 *
 * @since 0.1.0
 */
export interface ErrorDetails {
  readonly detail?: string | undefined
  readonly hint?: string | undefined
  /** 1-based character position in the query text. */
  readonly position?: number | undefined
  readonly schema?: string | undefined
  readonly table?: string | undefined
  readonly column?: string | undefined
  readonly dataType?: string | undefined
  readonly constraint?: string | undefined
}

/**
 * Severity levels of an ErrorResponse: ERROR ends the statement, FATAL the
 * connection.
 *
 * @since 0.1.0
 */
export type Severity = "ERROR" | "FATAL"

const strip = (details: ErrorDetails | undefined): ErrorDetails => {
  const out: Record<string, string | number> = {}
  if (details === undefined) return out
  for (const [key, value] of Object.entries(details)) if (value !== undefined) out[key] = value
  return out
}

/**
 * An error with SQLSTATE `code` (five characters, `errors/SqlState.Code`).
 *
 * @since 0.1.0
 */
export const make = (code: string, message: string, details?: ErrorDetails, severity: Severity = "ERROR"): ServerError =>
  new ServerError({ severity, severityNonLocalized: severity, code, message, ...strip(details) })

/**
 * The same error raised to FATAL: the engine closes the connection after it.
 *
 * @since 0.1.0
 */
export const fatal = (error: ServerError): ServerError =>
  make(error.code, error.message, {
    detail: error.detail,
    hint: error.hint,
    position: error.position,
    schema: error.schema,
    table: error.table,
    column: error.column,
    dataType: error.dataType,
    constraint: error.constraint
  }, "FATAL")

/** Whether the engine must close the connection after sending `error`. @since 0.1.0 */
export const isFatal = (error: ServerError): boolean =>
  error.severity === "FATAL" || error.severity === "PANIC" || error.severityNonLocalized === "FATAL"

/** 42601 syntax_error. @since 0.1.0 */
export const syntaxError = (message: string, details?: ErrorDetails): ServerError =>
  make(Code.SYNTAX_ERROR, message, details)

/** 0A000 feature_not_supported. @since 0.1.0 */
export const featureNotSupported = (message: string, details?: ErrorDetails): ServerError =>
  make(Code.FEATURE_NOT_SUPPORTED, message, details)

/** 42P01 undefined_table. @since 0.1.0 */
export const undefinedTable = (table: string): ServerError =>
  make(Code.UNDEFINED_TABLE, `relation "${table}" does not exist`)

/** 25P02 in_failed_sql_transaction: what a handler answers in a failed transaction block. @since 0.1.0 */
export const inFailedTransaction = (): ServerError =>
  make(
    Code.IN_FAILED_SQL_TRANSACTION,
    "current transaction is aborted, commands ignored until end of transaction block"
  )

/** 57014 query_canceled, as a CancelRequest makes it. @since 0.1.0 */
export const queryCanceled = (): ServerError => make(Code.QUERY_CANCELED, "canceling statement due to user request")

/** 57014 query_canceled, as a statement timeout makes it. @since 0.1.0 */
export const statementTimeout = (): ServerError => make(Code.QUERY_CANCELED, "canceling statement due to statement timeout")

/** FATAL 57P01 admin_shutdown. @since 0.1.0 */
export const adminShutdown = (): ServerError =>
  make(Code.ADMIN_SHUTDOWN, "terminating connection due to administrator command", undefined, "FATAL")

/** 08P01 protocol_violation (FATAL unless said otherwise). @since 0.1.0 */
export const protocolViolation = (message: string, severity: Severity = "FATAL"): ServerError =>
  make(Code.PROTOCOL_VIOLATION, message, undefined, severity)

/** FATAL 28P01 invalid_password. @since 0.1.0 */
export const passwordFailed = (user: string, method = "password"): ServerError =>
  make(Code.INVALID_PASSWORD, `${method} authentication failed for user "${user}"`, undefined, "FATAL")

/** FATAL 28000 invalid_authorization_specification. @since 0.1.0 */
export const invalidAuthorization = (message: string): ServerError =>
  make(Code.INVALID_AUTHORIZATION_SPECIFICATION, message, undefined, "FATAL")

/** FATAL 3D000 invalid_catalog_name: the database does not exist. @since 0.1.0 */
export const unknownDatabase = (database: string): ServerError =>
  make(Code.INVALID_CATALOG_NAME, `database "${database}" does not exist`, undefined, "FATAL")

/** FATAL 53300 too_many_connections. @since 0.1.0 */
export const tooManyConnections = (): ServerError =>
  make(Code.TOO_MANY_CONNECTIONS, "sorry, too many clients already", undefined, "FATAL")

/** 26000 invalid_sql_statement_name. @since 0.1.0 */
export const unknownStatement = (name: string): ServerError =>
  make(Code.INVALID_SQL_STATEMENT_NAME, `prepared statement "${name}" does not exist`)

/** 42P05 duplicate_prepared_statement. @since 0.1.0 */
export const duplicateStatement = (name: string): ServerError =>
  make(Code.DUPLICATE_PSTATEMENT, `prepared statement "${name}" already exists`)

/** 34000 invalid_cursor_name. @since 0.1.0 */
export const unknownPortal = (name: string): ServerError => make(Code.INVALID_CURSOR_NAME, `portal "${name}" does not exist`)

/** 42P03 duplicate_cursor. @since 0.1.0 */
export const duplicatePortal = (name: string): ServerError => make(Code.DUPLICATE_CURSOR, `cursor "${name}" already exists`)

/** 22P02 invalid_text_representation, 22P03 invalid_binary_representation. @since 0.1.0 */
export const invalidParameter = (message: string, binary: boolean): ServerError =>
  make(binary ? Code.INVALID_BINARY_REPRESENTATION : Code.INVALID_TEXT_REPRESENTATION, message)

/** XX000 internal_error: what a handler's defect becomes (its text is withheld from the client). @since 0.1.0 */
export const internalError = (): ServerError => make(Code.INTERNAL_ERROR, "internal error")

/**
 * The fields of an ErrorResponse or NoticeResponse for `error`.
 *
 * @since 0.1.0
 */
export const toFields = (error: ServerError): ReadonlyArray<ErrorFields.ErrorField> => fromServerError(error)
