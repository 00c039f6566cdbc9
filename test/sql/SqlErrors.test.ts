import { assert, describe, it } from "@effect/vitest"
import {
  AuthError,
  CancelError,
  CodecError,
  ConnectionError,
  PgError,
  type PgErrorReason,
  ProtocolDesync,
  ServerError,
  TimeoutError,
  TlsError,
  TransactionError
} from "../../src/errors/PgError.ts"
import { reasonOf, toSqlError } from "../../src/sql/SqlErrors.ts"

const server = (code: string, constraint?: string) =>
  new PgError({
    reason: new ServerError({
      severity: "ERROR",
      code,
      message: `server said ${code}`,
      ...(constraint === undefined ? {} : { constraint })
    })
  })

const wrap = (reason: PgErrorReason) => new PgError({ reason })

describe("SqlErrors: SQLSTATE to effect/sql reasons", () => {
  const table: ReadonlyArray<readonly [string, string]> = [
    ["08006", "ConnectionError"],
    ["08P01", "ConnectionError"],
    ["57P01", "ConnectionError"],
    ["57P03", "ConnectionError"],
    ["53300", "ConnectionError"],
    ["28P01", "AuthenticationError"],
    ["28000", "AuthenticationError"],
    ["42501", "AuthorizationError"],
    ["42601", "SqlSyntaxError"],
    ["42P01", "SqlSyntaxError"],
    ["23505", "UniqueViolation"],
    ["23503", "ConstraintError"],
    ["23514", "ConstraintError"],
    ["23502", "ConstraintError"],
    ["40P01", "DeadlockError"],
    ["40001", "SerializationError"],
    ["55P03", "LockTimeoutError"],
    ["57014", "StatementTimeoutError"],
    ["22012", "UnknownError"],
    ["XX000", "UnknownError"],
    ["P0001", "UnknownError"],
    ["ZZ999", "UnknownError"]
  ]
  for (const [code, tag] of table) {
    it(`${code} -> ${tag}`, () => {
      const error = server(code)
      const sqlError = toSqlError(error, "execute")
      assert.strictEqual(sqlError._tag, "SqlError")
      assert.strictEqual(sqlError.reason._tag, tag)
      assert.strictEqual(sqlError.reason.cause, error)
      assert.strictEqual(sqlError.reason.operation, "execute")
      assert.strictEqual(sqlError.message, `server said ${code}`)
    })
  }

  it("a FATAL or PANIC server error is a lost connection whatever its code", () => {
    for (const severity of ["FATAL", "PANIC"]) {
      const error = wrap(new ServerError({ severity, code: "XX000", message: "the backend ended" }))
      assert.strictEqual(reasonOf(error, "execute")._tag, "ConnectionError")
    }
    assert.strictEqual(reasonOf(server("XX000"), "execute")._tag, "UnknownError")
  })

  it("keeps the constraint name of a unique violation", () => {
    const reason = reasonOf(server("23505", "users_email_key"), "execute")
    assert.strictEqual(reason._tag, "UniqueViolation")
    assert.strictEqual(reason._tag === "UniqueViolation" ? reason.constraint : "", "users_email_key")
    const unnamed = reasonOf(server("23505", "  "), "execute")
    assert.strictEqual(unnamed._tag === "UniqueViolation" ? unnamed.constraint : "", "unknown")
  })

  it("marks conflicts, connection loss and timeouts retryable, the rest not", () => {
    assert.isTrue(toSqlError(server("40001"), "x").isRetryable)
    assert.isTrue(toSqlError(server("40P01"), "x").isRetryable)
    assert.isTrue(toSqlError(server("08006"), "x").isRetryable)
    assert.isFalse(toSqlError(server("23505"), "x").isRetryable)
    assert.isFalse(toSqlError(server("42601"), "x").isRetryable)
  })
})

describe("SqlErrors: client failures", () => {
  const cases: ReadonlyArray<readonly [PgErrorReason, string]> = [
    [new ConnectionError({ message: "reset" }), "ConnectionError"],
    [new TlsError({ message: "bad cert" }), "ConnectionError"],
    [new CancelError({ message: "no answer" }), "ConnectionError"],
    [new AuthError({ message: "refused" }), "AuthenticationError"],
    [new TimeoutError({ message: "t", operation: "connect", timeoutMillis: 1 }), "ConnectionError"],
    [new TimeoutError({ message: "t", operation: "acquire", timeoutMillis: 1 }), "ConnectionError"],
    [new TimeoutError({ message: "t", operation: "query", timeoutMillis: 1 }), "StatementTimeoutError"],
    [new TransactionError({ message: "COMMIT was answered with ROLLBACK", operation: "commit" }), "UnknownError"],
    [new CodecError({ message: "bad value" }), "UnknownError"],
    [new ProtocolDesync({ message: "odd", messageName: "DataRow", state: "Idle" }), "UnknownError"]
  ]
  for (const [reason, tag] of cases) {
    it(`${reason._tag}${reason._tag === "TimeoutError" ? ` (${reason.operation})` : ""} -> ${tag}`, () => {
      const error = wrap(reason)
      const sqlError = toSqlError(error, "commit")
      assert.strictEqual(sqlError.reason._tag, tag)
      assert.strictEqual(sqlError.reason.cause, error)
      assert.strictEqual(sqlError.message, reason.message)
    })
  }
})
