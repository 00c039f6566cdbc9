/**
 * `PgError` to `effect/sql`'s `SqlError`: the reason is chosen from the
 * SQLSTATE of a server error, or from the kind of client failure.
 *
 * | PgError reason                              | SqlError reason          |
 * |---------------------------------------------|--------------------------|
 * | ServerError class 08, or one that ends the session (57P01-57P05, 25P03, 25P04, 53300) | ConnectionError |
 * | ServerError class 28                        | AuthenticationError      |
 * | ServerError 42501 insufficient_privilege    | AuthorizationError       |
 * | ServerError other class 42                  | SqlSyntaxError           |
 * | ServerError 23505 unique_violation          | UniqueViolation (with the constraint name) |
 * | ServerError other class 23                  | ConstraintError          |
 * | ServerError 40P01 deadlock_detected         | DeadlockError            |
 * | ServerError 40001 serialization_failure     | SerializationError       |
 * | ServerError 55P03 lock_not_available        | LockTimeoutError         |
 * | ServerError 57014 query_canceled            | StatementTimeoutError    |
 * | ConnectionError, TlsError, CancelError      | ConnectionError          |
 * | AuthError                                   | AuthenticationError      |
 * | TimeoutError "connect" / "acquire"          | ConnectionError          |
 * | TimeoutError (other operations)             | StatementTimeoutError    |
 * | anything else                               | UnknownError             |
 *
 * The SQLSTATE rows are the same as `@effect/sql-pg`'s, so code matching on
 * `SqlError` reasons behaves the same with either driver. The `PgError` is
 * kept as the reason's `cause`: every ErrorResponse field stays reachable.
 *
 * Pure: no Effect runtime.
 *
 * @since 0.1.0
 */
import {
  AuthenticationError,
  AuthorizationError,
  ConnectionError,
  ConstraintError,
  DeadlockError,
  LockTimeoutError,
  SerializationError,
  SqlError,
  type SqlErrorReason,
  SqlSyntaxError,
  StatementTimeoutError,
  UniqueViolation,
  UnknownError
} from "effect/sql/SqlError"
import type { PgError } from "../errors/PgError.ts"
import { classify } from "../errors/SqlState.ts"

interface ReasonProps {
  readonly cause: unknown
  readonly message: string
  readonly operation: string
}

const byCode = (code: string, constraint: string | undefined, props: ReasonProps): SqlErrorReason => {
  if (code.startsWith("08") || classify(code).connectionLost) return new ConnectionError(props)
  if (code.startsWith("28")) return new AuthenticationError(props)
  if (code === "42501") return new AuthorizationError(props)
  if (code.startsWith("42")) return new SqlSyntaxError(props)
  if (code === "23505") {
    const name = constraint?.trim()
    return new UniqueViolation({ ...props, constraint: name === undefined || name === "" ? "unknown" : name })
  }
  if (code.startsWith("23")) return new ConstraintError(props)
  if (code === "40P01") return new DeadlockError(props)
  if (code === "40001") return new SerializationError(props)
  if (code === "55P03") return new LockTimeoutError(props)
  if (code === "57014") return new StatementTimeoutError(props)
  return new UnknownError(props)
}

/**
 * The `effect/sql` reason for a `PgError`.
 *
 * @since 0.1.0
 */
export const reasonOf = (error: PgError, operation: string): SqlErrorReason => {
  const reason = error.reason
  const props: ReasonProps = { cause: error, message: reason.message, operation }
  switch (reason._tag) {
    case "ServerError":
      // A FATAL or PANIC error ends the server's session, whatever its code: the connection is lost.
      return reason.severity === "FATAL" || reason.severity === "PANIC"
        ? new ConnectionError(props)
        : byCode(reason.code, reason.constraint, props)
    case "ConnectionError":
    case "TlsError":
    case "CancelError":
      return new ConnectionError(props)
    case "AuthError":
      return new AuthenticationError(props)
    case "TimeoutError":
      return reason.operation === "connect" || reason.operation === "acquire"
        ? new ConnectionError(props)
        : new StatementTimeoutError(props)
    default:
      return new UnknownError(props)
  }
}

/**
 * Wraps a `PgError` into a `SqlError` (see the module table).
 *
 * @since 0.1.0
 */
export const toSqlError = (error: PgError, operation: string): SqlError =>
  new SqlError({ reason: reasonOf(error, operation) })
