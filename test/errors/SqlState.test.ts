import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"
import { ServerError } from "../../src/errors/PgError.ts"
import * as SqlState from "../../src/errors/SqlState.ts"
import fixture from "../fixtures/errcodes/pg_sqlstate_codes.json" with { type: "json" }
import * as SqlStateTable from "../../scripts/codegen/SqlStateTable.ts"

const root = Path.resolve(Path.dirname(Url.fileURLToPath(import.meta.url)), "..", "..")

/** The named entry of each code (aliases carry a null condition). */
const namedCondition = new Map<string, string>()
for (const e of fixture.entries) if (e.condition_name !== null) namedCondition.set(e.sqlstate, e.condition_name)

describe("SqlState", () => {
  it("the checked-in module is what the generator renders from the fixture", () => {
    const onDisk = Fs.readFileSync(Path.join(root, SqlStateTable.TARGET_PATH), "utf8")
    assert.strictEqual(onDisk, SqlStateTable.generate())
  })

  it("exposes code, class, class name and condition for every upstream entry", () => {
    assert.strictEqual(fixture.entries.length, 265)
    for (const e of fixture.entries) {
      const c = SqlState.classify(e.sqlstate)
      assert.strictEqual(c.code, e.sqlstate)
      assert.strictEqual(c.class, e.class, e.sqlstate)
      assert.isTrue(c.known, e.sqlstate)
      assert.strictEqual(c.condition, namedCondition.get(e.sqlstate), e.sqlstate)
      assert.isString(c.className, e.sqlstate)
      assert.strictEqual(c.kind, e.kind === "E" ? "error" : e.kind === "W" ? "warning" : "success", e.sqlstate)
      // Every macro, aliases included, is a constant naming the same code.
      const constant = e.macro.slice("ERRCODE_".length) as keyof typeof SqlState.Code
      assert.strictEqual(SqlState.Code[constant], e.sqlstate, e.macro)
    }
    assert.strictEqual(SqlState.table.size, 259 + 3)
  })

  it("takes the confirmed newer codes and leaves the unverified 10608 out", () => {
    for (const e of fixture.newer_versions_delta.added) {
      const c = SqlState.classify(e.sqlstate)
      assert.strictEqual(c.class, e.class)
      if (e.sqlstate === "10608") {
        assert.isFalse(c.known)
        assert.isUndefined(c.condition)
        assert.isUndefined(c.className)
        assert.strictEqual(c.kind, "error")
        assert.isFalse(c.retryable)
        assert.isFalse(SqlState.table.has("10608"))
      } else {
        assert.isTrue(c.known, e.sqlstate)
        assert.strictEqual(c.condition, e.condition_name)
        assert.strictEqual(SqlState.table.get(e.sqlstate)?.availability, "newer")
      }
    }
  })

  it("keeps 72000 snapshot_too_old as a legacy code", () => {
    const entry = SqlState.table.get("72000")
    assert.strictEqual(entry?.condition, "snapshot_too_old")
    assert.strictEqual(entry?.className, "Snapshot Failure")
    assert.strictEqual(entry?.availability, "legacy")
    assert.strictEqual(SqlState.Code.SNAPSHOT_TOO_OLD, "72000")
  })

  it("classifies cancel, serialization failure, deadlock and connection loss", () => {
    const cancel = SqlState.classify("57014")
    assert.isTrue(cancel.canceled)
    assert.isFalse(cancel.retryable)
    assert.isFalse(cancel.connectionLost)
    assert.strictEqual(cancel.condition, "query_canceled")

    for (const code of ["40001", "40P01"]) {
      const c = SqlState.classify(code)
      assert.isTrue(c.retryable, code)
      assert.isFalse(c.connectionLost, code)
      assert.isFalse(c.canceled, code)
    }
    assert.isFalse(SqlState.classify("40003").retryable, "statement_completion_unknown is not retryable")

    const class08 = fixture.entries.filter((e) => e.class === "08")
    assert.isAtLeast(class08.length, 7)
    for (const e of class08) {
      const c = SqlState.classify(e.sqlstate)
      assert.isTrue(c.connectionLost, e.sqlstate)
      assert.strictEqual(c.retryable, e.sqlstate !== "08P01" && e.sqlstate !== "08007", e.sqlstate)
    }
    // An 08 code this table does not know is still a lost connection.
    assert.isTrue(SqlState.classify("08Z99").connectionLost)
    assert.isTrue(SqlState.classify("08Z99").retryable)

    for (const code of ["57P01", "57P02", "57P03"]) {
      const c = SqlState.classify(code)
      assert.isTrue(c.retryable && c.connectionLost, code)
    }
    assert.isFalse(SqlState.classify("57P04").retryable, "database_dropped")
    assert.isTrue(SqlState.classify("57P04").connectionLost)
    assert.isFalse(SqlState.classify("25P03").retryable, "idle_in_transaction_session_timeout loses the transaction")
    assert.isTrue(SqlState.classify("25P03").connectionLost)
    assert.isFalse(SqlState.classify("23505").retryable)
    assert.isFalse(SqlState.classify("23505").connectionLost)
  })

  it("classifies unknown codes by their class and never throws", () => {
    const inKnownClass = SqlState.classify("23P99")
    assert.isFalse(inKnownClass.known)
    assert.strictEqual(inKnownClass.class, "23")
    assert.strictEqual(inKnownClass.className, "Integrity Constraint Violation")
    assert.isUndefined(inKnownClass.condition)

    assert.strictEqual(SqlState.classify("01P99").kind, "warning")
    assert.strictEqual(SqlState.classify("00P99").kind, "success")
    assert.strictEqual(SqlState.classify("ZZ000").kind, "error")
    assert.isUndefined(SqlState.classify("ZZ000").className)

    for (const garbage of ["", "4", "400010", "\u0000\u0000", "\u{1F4A5}\u{1F4A5}", "constructor", "__proto__"]) {
      const c = SqlState.classify(garbage)
      assert.strictEqual(c.code, garbage)
      assert.isFalse(c.known)
      assert.isFalse(c.retryable)
    }
  })

  it("returns the same frozen classification for a known code", () => {
    const a = SqlState.classify("40001")
    assert.strictEqual(a, SqlState.classify("40001"))
    assert.isTrue(Object.isFrozen(a))
  })

  it("matches condition names the way PL/pgSQL does", () => {
    assert.isTrue(SqlState.is("23505", "unique_violation"))
    assert.isFalse(SqlState.is("23503", "unique_violation"))
    assert.isTrue(SqlState.is("23505", "integrity_constraint_violation"), "a class condition matches its class")
    assert.isTrue(SqlState.is("23P99", "integrity_constraint_violation"))
    assert.isFalse(SqlState.is("22001", "integrity_constraint_violation"))
    assert.isTrue(SqlState.is("22001", "string_data_right_truncation"))
    assert.isTrue(SqlState.is("01004", "string_data_right_truncation"))
    assert.isFalse(SqlState.is("2300", "integrity_constraint_violation"))
    assert.strictEqual(SqlState.Code.UNIQUE_VIOLATION, "23505")
    assert.strictEqual(SqlState.Code.UNDEFINED_DATABASE, SqlState.Code.INVALID_CATALOG_NAME)
  })

  it("feeds ServerError's retry classification", () => {
    const make = (code: string) => new ServerError({ severity: "ERROR", code, message: "m" })
    assert.isTrue(make("40001").isRetryable)
    assert.isFalse(make("23505").isRetryable)
    assert.strictEqual(make("23505").sqlState.condition, "unique_violation")
    assert.strictEqual(make("10608").sqlState.class, "10")
  })
})
