/**
 * The pure parts of the protocol 2.0 session: error strings, literals and `$n` substitution, the COPY data
 * check, the options field, the transaction status rules, the transition function.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import * as ErrorText from "../../../src/session/v2/ErrorText.ts"
import * as Literal from "../../../src/session/v2/Literal.ts"
import { step } from "../../../src/session/v2/State.ts"
import * as Status from "../../../src/session/v2/Status.ts"
import { optionsField } from "../../../src/session/v2/Startup.ts"
import { isPre3Refusal } from "../../../src/session/v2/Connect.ts"
import { PgError, ProtocolError } from "../../../src/errors/PgError.ts"
import { Framer } from "../../../src/wire/Framer.ts"

const encoder = new TextEncoder()

describe("protocol 2.0: pure parts", () => {
  it("error strings: severity, message, position, detail; no separator kept whole", () => {
    assert.deepStrictEqual(ErrorText.parse("ERROR:  syntax error at or near \"SELEC\" at character 11\n", "ERROR"), {
      severity: "ERROR",
      message: "syntax error at or near \"SELEC\"",
      position: 11,
      detail: undefined
    })
    assert.deepStrictEqual(ErrorText.parse("FEHLER:  line1\nline2\n", "ERROR"), {
      severity: "FEHLER",
      message: "line1",
      position: undefined,
      detail: "line2"
    })
    assert.strictEqual(ErrorText.parse("odd: text:  here\n", "ERROR").message, "odd: text:  here")
    assert.strictEqual(ErrorText.toServerError("ERROR:  x\n").code, "")
    assert.isFalse(ErrorText.toServerError("ERROR:  x\n").isRetryable)
  })

  it("literals double quotes and backslashes; $n is replaced outside strings, identifiers, comments and dollar quotes", () => {
    assert.strictEqual(Literal.literal("it's a\\b"), "E'it''s a\\\\b'")
    const sql = "select $1, '$1', E'\\'$1', \"$1\", $$ $1 $$, $tag$ $2 $tag$ -- $1\n, /* $1 /* $2 */ */ $2, x$1"
    assert.strictEqual(
      Literal.substitute(sql, ["A", "B"]),
      "select A, '$1', E'\\'$1', \"$1\", $$ $1 $$, $tag$ $2 $tag$ -- $1\n, /* $1 /* $2 */ */ B, x$1"
    )
    assert.throws(() => Literal.substitute("select $3", ["a"]))
    assert.strictEqual(Literal.prepareSql("s1", "select $1; ", ["pg_catalog.\"int4\""]), "PREPARE s1(pg_catalog.\"int4\") AS select $1")
  })

  it("COPY data: \\. in text data and a \\. line in CSV are refused, across chunks", () => {
    const text = new Literal.CopyDataCheck(false)
    assert.isUndefined(text.check(encoder.encode("a\\\\.b\n1\\")))
    assert.match(text.check(encoder.encode(".\n"))!, /end marker/)
    const csv = new Literal.CopyDataCheck(true)
    assert.isUndefined(csv.check(encoder.encode("a,\\.x\n\\")))
    assert.match(csv.check(encoder.encode(".\n"))!, /end marker/)
    const last = new Literal.CopyDataCheck(true)
    assert.isUndefined(last.check(encoder.encode("1\n\\.")))
    assert.match(last.finish()!, /end marker/)
  })

  it("the options field: client_encoding last (it wins over the options'), escapes, a ConfigError past 64 bytes", () => {
    assert.deepStrictEqual(optionsField(undefined, { search_path: "a b" }), Result.succeed("-c search_path=a\\ b -c client_encoding=UTF8"))
    assert.deepStrictEqual(optionsField("-c client_encoding=LATIN1", {}), Result.succeed("-c client_encoding=LATIN1 -c client_encoding=UTF8"))
    const long = optionsField(undefined, { search_path: "x".repeat(40) })
    assert.isTrue(Result.isFailure(long))
  })

  it("transaction status rules (M5, M21)", () => {
    assert.strictEqual(Status.classify("BEGIN ISOLATION LEVEL SERIALIZABLE"), "begin")
    assert.strictEqual(Status.classify("COMMIT"), "end")
    assert.strictEqual(Status.classify("COMMIT AND CHAIN"), "unknown")
    assert.strictEqual(Status.classify("ROLLBACK TO SAVEPOINT s"), "inBlock")
    assert.strictEqual(Status.classify("RELEASE SAVEPOINT s"), "inBlock")
    assert.strictEqual(Status.classify("select 1; begin"), "unknown")
    assert.strictEqual(Status.after("I", "begin", false), "T")
    assert.strictEqual(Status.after("T", "keep", true), "E")
    assert.strictEqual(Status.after("I", "keep", true), "I")
    assert.strictEqual(Status.after("E", "end", false), "I")
    assert.strictEqual(Status.after("T", "end", true), "unknown")
    assert.strictEqual(Status.after("E", "inBlock", false), "T")
    assert.strictEqual(Status.after("T", "unknown", false), "unknown")
  })

  it("the transition function: rows only after RowDescription, ReadyForQuery only between results", () => {
    assert.strictEqual(step("Results", { _tag: "RowDescription", fields: [] }), "Rows")
    assert.deepStrictEqual(typeof step("Results", { _tag: "AsciiRow", values: [] }), "object")
    assert.deepStrictEqual(typeof step("Rows", { _tag: "ReadyForQuery" }), "object")
    assert.strictEqual(step("Auth", { _tag: "AuthenticationOk" }), "AuthOk")
    assert.deepStrictEqual(typeof step("Auth", { _tag: "ReadyForQuery" }), "object")
    assert.strictEqual(step("CopyOut", { _tag: "CopyDataRows", rows: [], end: true }), "CopyOutEnd")
  })

  it("the fallback trigger: an E whose next Int32 is below 8 or above 30000", () => {
    // What the Framer reports of a refused header, decided by its fields, never by the (English) message text.
    const refused = (type: number, length: number, limit = 1073741823): unknown => {
      try {
        const frame = new Uint8Array([type, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff])
        new Framer({ maxMessageSize: limit }).push(frame, () => {})
      } catch (e) {
        return new PgError({ reason: e as ProtocolError })
      }
      return undefined
    }
    assert.isTrue(isPre3Refusal(refused(0x45, 1178686529)), "'E' then \"FATA\": above the limit")
    assert.isTrue(isPre3Refusal(refused(0x45, -791555)), "a negative length")
    assert.isTrue(isPre3Refusal(refused(0x45, 3)), "below the smallest length a frame can have")
    assert.isFalse(isPre3Refusal(refused(0x45, 20000, 1000)), "a 3.x length over a small limit")
    assert.isFalse(isPre3Refusal(refused(0x44, 1178686529)), "not an E")
    assert.isFalse(isPre3Refusal(new PgError({ reason: new ProtocolError({ message: "message of type 'E' with length 1178686529" }) })), "text alone")
  })
})
