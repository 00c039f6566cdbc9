import { assert, describe, it } from "@effect/vitest"
import * as Trace from "../../src/protocol/Trace.ts"
import { bytes, fixtureText, i32 } from "./Golden.ts"

/** Every line of the libpq traces kept as fixtures. */
const traceLines = new Set(
  ["prepared.trace", "pipeline_abort.trace", "pipeline_idle.trace", "disallowed_in_pipeline.trace"].flatMap((f) =>
    fixtureText(f).split("\n").filter((l) => l.length > 0)
  )
)

const field = (name: string, dataTypeOid: number, dataTypeSize: number) => ({
  name,
  tableOid: 0,
  columnAttributeNumber: 0,
  dataTypeOid,
  dataTypeSize,
  typeModifier: -1,
  formatCode: 0 as const
})

const utf8 = (s: string) => new TextEncoder().encode(s)

/**
 * Messages whose regress-mode rendering, with the length computed by encoding
 * them, must be exactly a line of libpq's own traces. OIDs are arbitrary: the
 * regress mode masks them, as it does in the traces.
 */
const cases: ReadonlyArray<readonly [Trace.Direction, Trace.AnyMessage, string]> = [
  ["F", {
    _tag: "Parse",
    name: "select_one",
    query: "SELECT $1, '42', $1::numeric, interval '1 sec'",
    parameterTypes: [20]
  }, "F\t68\tParse\t \"select_one\" \"SELECT $1, '42', $1::numeric, interval '1 sec'\" 1 NNNN"],
  ["F", { _tag: "Describe", target: "S", name: "select_one" }, "F\t16\tDescribe\t S \"select_one\""],
  ["F", { _tag: "Sync" }, "F\t4\tSync"],
  ["B", { _tag: "ParseComplete" }, "B\t4\tParseComplete"],
  ["B", { _tag: "ParameterDescription", parameterTypes: [20] }, "B\t10\tParameterDescription\t 1 NNNN"],
  ["B", {
    _tag: "RowDescription",
    fields: [field("?column?", 20, 4), field("?column?", 25, -1), field("numeric", 1700, -1), field("interval", 1186, 16)]
  }, "B\t113\tRowDescription\t 4 \"?column?\" NNNN 0 NNNN 4 -1 0 \"?column?\" NNNN 0 NNNN 65535 -1 0 \"numeric\" NNNN 0 NNNN 65535 -1 0 \"interval\" NNNN 0 NNNN 16 -1 0"],
  ["B", { _tag: "ReadyForQuery", transactionStatus: "I" }, "B\t5\tReadyForQuery\t I"],
  ["B", { _tag: "ReadyForQuery", transactionStatus: "E" }, "B\t5\tReadyForQuery\t E"],
  ["F", { _tag: "Close", target: "S", name: "select_one" }, "F\t16\tClose\t S \"select_one\""],
  ["B", { _tag: "CloseComplete" }, "B\t4\tCloseComplete"],
  ["B", {
    _tag: "ErrorResponse",
    fields: [
      { code: "S", value: "ERROR" },
      { code: "V", value: "ERROR" },
      { code: "C", value: "26000" },
      { code: "M", value: "prepared statement \"select_one\" does not exist" },
      { code: "F", value: "prepare.c" },
      { code: "L", value: "454" },
      { code: "R", value: "FetchPreparedStatement" }
    ]
  }, "B\tNN\tErrorResponse\t S \"ERROR\" V \"ERROR\" C \"26000\" M \"prepared statement \"select_one\" does not exist\" F \"SSSS\" L \"SSSS\" R \"SSSS\" \\x00"],
  ["B", {
    _tag: "NoticeResponse",
    fields: [
      { code: "S", value: "NOTICE" },
      { code: "V", value: "NOTICE" },
      { code: "C", value: "00000" },
      { code: "M", value: "table \"pq_pipeline_demo\" does not exist, skipping" },
      { code: "F", value: "tablecmds.c" },
      { code: "L", value: "1300" },
      { code: "R", value: "DropErrorMsgNonExistent" }
    ]
  }, "B\tNN\tNoticeResponse\t S \"NOTICE\" V \"NOTICE\" C \"00000\" M \"table \"pq_pipeline_demo\" does not exist, skipping\" F \"SSSS\" L \"SSSS\" R \"SSSS\" \\x00"],
  ["F", { _tag: "Query", query: "BEGIN" }, "F\t10\tQuery\t \"BEGIN\""],
  ["F", { _tag: "Query", query: "SET lc_messages TO \"C\"" }, "F\t27\tQuery\t \"SET lc_messages TO \"C\"\""],
  ["B", { _tag: "CommandComplete", tag: "DECLARE CURSOR" }, "B\t19\tCommandComplete\t \"DECLARE CURSOR\""],
  ["F", { _tag: "Describe", target: "P", name: "cursor_one" }, "F\t16\tDescribe\t P \"cursor_one\""],
  ["F", { _tag: "Terminate" }, "F\t4\tTerminate"],
  ["F", {
    _tag: "Parse",
    name: "",
    query: "INSERT INTO pq_pipeline_demo(itemno) VALUES ($1)",
    parameterTypes: [23]
  }, "F\t60\tParse\t \"\" \"INSERT INTO pq_pipeline_demo(itemno) VALUES ($1)\" 1 NNNN"],
  ["F", {
    _tag: "Bind",
    portal: "",
    statement: "",
    parameterFormats: [],
    parameters: [utf8("1")],
    resultFormats: [0]
  }, "F\t19\tBind\t \"\" \"\" 0 1 1 '1' 1 0"],
  ["F", { _tag: "Bind", portal: "", statement: "", parameterFormats: [], parameters: [], resultFormats: [] }, "F\t12\tBind\t \"\" \"\" 0 0 0"],
  ["F", { _tag: "Describe", target: "P", name: "" }, "F\t6\tDescribe\t P \"\""],
  ["F", { _tag: "Execute", portal: "", maxRows: 0 }, "F\t9\tExecute\t \"\" 0"],
  ["F", { _tag: "Close", target: "P", name: "" }, "F\t6\tClose\t P \"\""],
  ["F", { _tag: "Flush" }, "F\t4\tFlush"],
  ["B", { _tag: "BindComplete" }, "B\t4\tBindComplete"],
  ["B", { _tag: "NoData" }, "B\t4\tNoData"],
  ["B", { _tag: "CommandComplete", tag: "INSERT 0 1" }, "B\t15\tCommandComplete\t \"INSERT 0 1\""],
  ["B", { _tag: "DataRow", values: [utf8("1")] }, "B\t11\tDataRow\t 1 1 '1'"],
  ["B", { _tag: "RowDescription", fields: [field("?column?", 23, 4)] }, "B\t33\tRowDescription\t 1 \"?column?\" NNNN 0 NNNN 4 -1 0"]
]

describe("Trace renders exactly what libpq's PQtrace prints (regress mode)", () => {
  for (const [direction, message, line] of cases) {
    it(line.split("\t").slice(0, 3).join(" "), () => {
      assert.isTrue(traceLines.has(line), "the expected line is one of libpq's")
      assert.strictEqual(Trace.render(direction, message, undefined, { regress: true }), line)
    })
  }
})

describe("Trace outside regress mode", () => {
  it("shows OIDs signed and Int16 fields unsigned, as libpq does", () => {
    assert.strictEqual(
      Trace.render("B", {
        _tag: "RowDescription",
        fields: [{
          name: "x",
          tableOid: 3000000000,
          columnAttributeNumber: -1,
          dataTypeOid: 25,
          dataTypeSize: -1,
          typeModifier: -1,
          formatCode: 1
        }]
      }),
      "B\t26\tRowDescription\t 1 \"x\" -1294967296 65535 25 65535 -1 1"
    )
  })

  it("shows non-printable bytes as \\xNN and NULL values as -1", () => {
    assert.strictEqual(
      Trace.render("B", { _tag: "DataRow", values: [Uint8Array.of(0x41, 0x00, 0x0a, 0xff), null] }),
      "B\t18\tDataRow\t 2 4 'A\\x00\\x0a\\xff' -1"
    )
  })

  it("never shows a password", () => {
    assert.strictEqual(
      Trace.render("F", { _tag: "PasswordMessage", password: "hunter2" }),
      "F\t12\tPasswordMessage\t \"********\""
    )
  })

  it("renders authentication, startup and COPY messages", () => {
    assert.strictEqual(Trace.render("B", { _tag: "AuthenticationOk" }), "B\t8\tAuthenticationOk")
    assert.strictEqual(
      Trace.render("B", { _tag: "AuthenticationSASL", mechanisms: ["SCRAM-SHA-256"] }),
      "B\t23\tAuthenticationSASL\t \"SCRAM-SHA-256\" \"\""
    )
    assert.strictEqual(
      Trace.render("B", { _tag: "AuthenticationSASLContinue", data: utf8("r=x") }, undefined, { regress: true }),
      "B\t11\tAuthenticationSASLContinue\t 'BBBB'"
    )
    assert.strictEqual(
      Trace.render("B", { _tag: "BackendKeyData", processId: 42, secretKey: Uint8Array.of(0, 0, 1, 0) }),
      "B\t12\tBackendKeyData\t 42 256"
    )
    assert.strictEqual(
      Trace.render("F", { _tag: "StartupMessage", protocolVersion: 196610, parameters: [{ name: "user", value: "u" }] }),
      "F\t16\tStartupMessage\t 3 2 \"user\" \"u\""
    )
    assert.strictEqual(Trace.render("F", { _tag: "SSLRequest" }), "F\t8\tSSLRequest\t 1234 5679")
    assert.strictEqual(
      Trace.render("F", { _tag: "CancelRequest", processId: 7, secretKey: Uint8Array.of(0, 0, 0, 9) }),
      "F\t16\tCancelRequest\t 1234 5678 7 9"
    )
    assert.strictEqual(
      Trace.render("B", { _tag: "CopyOutResponse", format: 0, columnFormats: [0, 0] }),
      "B\t11\tCopyOutResponse\t \\x00 2 0 0"
    )
    assert.strictEqual(Trace.render("F", { _tag: "CopyData", data: utf8("1\t2\n") }), "F\t8\tCopyData\t '1\\x092\\x0a'")
    assert.strictEqual(
      Trace.render("F", { _tag: "SASLInitialResponse", mechanism: "SCRAM-SHA-256", data: null }),
      "F\t22\tSASLInitialResponse\t \"SCRAM-SHA-256\" -1"
    )
  })

  it("uses the length it is given", () => {
    assert.strictEqual(Trace.render("B", { _tag: "NoData" }, 4), "B\t4\tNoData")
  })
})

describe("Trace.renderFrame", () => {
  it("decodes then renders", () => {
    assert.strictEqual(Trace.renderFrame("B", bytes([0x5a], i32(5), [0x54])), "B\t5\tReadyForQuery\t T")
    assert.strictEqual(Trace.renderFrame("F", bytes([0x5a], i32(5), [0x54])).startsWith("F\t5\tUnknown message: "), true)
    assert.strictEqual(
      Trace.renderFrame("F", bytes(i32(8), [0x04, 0xd2, 0x16, 0x2f]), { startup: true }),
      "F\t8\tSSLRequest\t 1234 5679"
    )
    assert.strictEqual(
      Trace.renderFrame("F", bytes([0x70], i32(6), [1, 2]), { password: "SASLResponse" }),
      "F\t6\tSASLResponse\t '\\x01\\x02'"
    )
  })
})
