import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ServerError } from "../../src/errors/PgError.ts"
import * as Backend from "../../src/protocol/Backend.ts"
import * as ErrorFields from "../../src/protocol/ErrorFields.ts"
import { fixture, fromHex, ok } from "./Golden.ts"

interface Goldens {
  readonly backend: ReadonlyArray<{ readonly message: string; readonly hex: string }>
}

const fields = (pairs: ReadonlyArray<readonly [string, string]>) => pairs.map(([code, value]) => ({ code, value }))

describe("ErrorFields", () => {
  it("maps every documented field, parsing the numeric ones", () => {
    const e = ErrorFields.toServerError(fields([
      ["S", "ERREUR"],
      ["V", "ERROR"],
      ["C", "23505"],
      ["M", "duplicate key"],
      ["D", "Key (id)=(1) already exists."],
      ["H", "hint"],
      ["P", "12"],
      ["p", "3"],
      ["q", "SELECT 1"],
      ["W", "PL/pgSQL function f()"],
      ["s", "public"],
      ["t", "t"],
      ["c", "id"],
      ["d", "int4"],
      ["n", "t_pkey"],
      ["F", "nbtinsert.c"],
      ["L", "664"],
      ["R", "_bt_check_unique"],
      ["Z", "an unknown field is ignored"]
    ]))
    assert.instanceOf(e, ServerError)
    assert.strictEqual(e.severity, "ERREUR")
    assert.strictEqual(e.severityNonLocalized, "ERROR")
    assert.strictEqual(e.code, "23505")
    assert.strictEqual(e.message, "duplicate key")
    assert.strictEqual(e.detail, "Key (id)=(1) already exists.")
    assert.strictEqual(e.hint, "hint")
    assert.strictEqual(e.position, 12)
    assert.strictEqual(e.internalPosition, 3)
    assert.strictEqual(e.internalQuery, "SELECT 1")
    assert.strictEqual(e.where, "PL/pgSQL function f()")
    assert.strictEqual(e.schema, "public")
    assert.strictEqual(e.table, "t")
    assert.strictEqual(e.column, "id")
    assert.strictEqual(e.dataType, "int4")
    assert.strictEqual(e.constraint, "t_pkey")
    assert.strictEqual(e.file, "nbtinsert.c")
    assert.strictEqual(e.line, 664)
    assert.strictEqual(e.routine, "_bt_check_unique")
  })

  it("leaves out a numeric field that is not a decimal integer", () => {
    const e = ErrorFields.toServerError(fields([["S", "ERROR"], ["C", "XX000"], ["M", "m"], ["L", "line"], ["P", "-1"]]))
    assert.isUndefined(e.line)
    assert.isUndefined(e.position)
  })

  it("falls back to V when S is missing and invents nothing else", () => {
    const e = ErrorFields.toServerError(fields([["V", "FATAL"]]))
    assert.strictEqual(e.severity, "FATAL")
    assert.strictEqual(e.code, "")
    assert.strictEqual(e.message, "")
  })

  it("get returns the last occurrence of a code, as libpq does", () => {
    const f = fields([["M", "first"], ["M", "second"]])
    assert.strictEqual(ErrorFields.get(f, "M"), "second")
    assert.isUndefined(ErrorFields.get(f, "D"))
    assert.strictEqual(ErrorFields.toServerError(f).message, "second")
  })

  it("fromServerError lists the fields in the server's order and round-trips", () => {
    const e = new ServerError({
      severity: "ERROR",
      severityNonLocalized: "ERROR",
      code: "22012",
      message: "division by zero",
      position: 8,
      file: "int.c",
      line: 870,
      routine: "int4div"
    })
    const f = ErrorFields.fromServerError(e)
    assert.deepStrictEqual(f.map((x) => x.code).join(""), "SVCMPFLR")
    assert.deepStrictEqual(ErrorFields.toServerError(f), e)
  })

  it("decodes the ErrorResponse captured from PostgreSQL 16 (SELECT 1/0)", () => {
    const golden = fixture<Goldens>("effect_sql_pg_goldens.json").backend.find((b) => b.message === "errorResponse")!
    const m = ok(Backend.decode(fromHex(golden.hex))) as Backend.ErrorResponse
    const e = ErrorFields.toServerError(m.fields)
    assert.strictEqual(e.code, "22012")
    assert.strictEqual(e.message, "division by zero")
    assert.strictEqual(e.line, 870)
    assert.strictEqual(e.routine, "int4div")
    assert.strictEqual(e.sqlState.class, "22")
  })

  it("the field code Schema accepts one ASCII character other than NUL", () => {
    const is = Schema.is(ErrorFields.FieldCode)
    assert.isTrue(is("S"))
    assert.isTrue(is("\x7f"))
    assert.isFalse(is("\0"))
    assert.isFalse(is("é"))
    assert.isFalse(is(""))
    assert.isFalse(is("SV"))
  })

  it.effect.prop("fromServerError then toServerError is the identity", [ErrorFields.ErrorFieldsSchema], ([f]) =>
    Effect.sync(() => {
      const e = ErrorFields.toServerError(f)
      assert.deepStrictEqual(ErrorFields.toServerError(ErrorFields.fromServerError(e)), e)
    }))
})
