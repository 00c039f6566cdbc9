/**
 * The conformance vectors written by others (node-postgres, pgx, and bytes
 * captured from PostgreSQL 16 by @effect/sql-pg): every vector decodes to the
 * documented values and encodes back to the same bytes, and every vector
 * flagged as invalid is rejected with a typed error.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import { ProtocolError } from "../../src/errors/PgError.ts"
import * as Backend from "../../src/protocol/Backend.ts"
import * as Frontend from "../../src/protocol/Frontend.ts"
import * as Message from "../../src/protocol/Message.ts"
import * as Startup from "../../src/protocol/Startup.ts"
import { Framer } from "../../src/wire/Framer.ts"
import { Reader } from "../../src/wire/Reader.ts"
import { err, fixture, fromHex, ok, toHex } from "./Golden.ts"

interface Vector {
  readonly direction: "backend" | "frontend"
  readonly message: string
  readonly hex: string
  readonly decoded?: Record<string, unknown>
  readonly note?: string
  readonly expect_error?: boolean
  readonly split_second_chunk_sizes?: ReadonlyArray<number>
  readonly chunks_hex?: ReadonlyArray<string>
}

const vectors = fixture<{ readonly vectors: ReadonlyArray<Vector> }>("protocol_message_vectors.json").vectors
const vector = (name: string): Vector => {
  const v = vectors.find((x) => x.message === name)
  if (v === undefined) throw new Error(`no vector ${name}`)
  return v
}

const utf8 = (s: string) => new TextEncoder().encode(s)

/** Vectors whose hex is a whole frame that a correct decoder accepts and re-encodes exactly. */
const isPlainFrame = (v: Vector) =>
  v.expect_error !== true && v.note?.includes("body only") !== true && !v.message.includes("stray bytes") &&
  !v.message.includes("incomplete next message") && !v.message.includes("+ ReadyForQuery") &&
  !v.message.includes("no body") && !v.message.includes("(3 columns)")

const frontendContext = (name: string): Frontend.PasswordContext | undefined =>
  name.startsWith("SASLInitialResponse")
    ? { password: "SASLInitialResponse" }
    : name.startsWith("SASLResponse")
    ? { password: "SASLResponse" }
    : undefined

const isStartupFrame = (name: string) =>
  name.startsWith("StartupMessage") || name.startsWith("SSLRequest") || name.startsWith("CancelRequest")

const decodeVector = (v: Vector): Result.Result<unknown, ProtocolError> => {
  const frame = fromHex(v.hex)
  if (v.direction === "backend") return Backend.decode(frame)
  return isStartupFrame(v.message) ? Startup.decode(frame) : Frontend.decode(frame, frontendContext(v.message))
}

const encodeMessage = (v: Vector, m: unknown): Uint8Array =>
  ok(
    v.direction === "backend"
      ? Backend.encode(m as Backend.BackendMessage)
      : isStartupFrame(v.message)
      ? Startup.encode(m as Startup.StartupPhaseMessage)
      : Frontend.encode(m as Frontend.FrontendMessage)
  )

describe("protocol_message_vectors.json (node-postgres, pgx)", () => {
  for (const v of vectors.filter(isPlainFrame)) {
    it(`${v.direction} ${v.message}: decodes and encodes back to the same bytes`, () => {
      const m = ok(decodeVector(v))
      assert.strictEqual(toHex(encodeMessage(v, m)), v.hex)
    })
  }

  it("decoded values match the sources' assertions", () => {
    const dec = (name: string) => ok(decodeVector(vector(name))) as any
    assert.deepStrictEqual(dec("AuthenticationMD5Password").salt, Uint8Array.of(1, 2, 3, 4))
    assert.deepStrictEqual(dec("AuthenticationSASL").mechanisms, ["SCRAM-SHA-256"])
    assert.deepStrictEqual(dec("AuthenticationSASLContinue").data, utf8("data"))
    assert.deepStrictEqual(dec("AuthenticationSASLFinal").data, utf8("data"))
    assert.deepStrictEqual(dec("ParameterStatus"), { _tag: "ParameterStatus", name: "client_encoding", value: "UTF8" })
    assert.deepStrictEqual(dec("BackendKeyData"), {
      _tag: "BackendKeyData",
      processId: 1,
      secretKey: Uint8Array.of(0, 0, 0, 2)
    })
    assert.strictEqual(dec("ReadyForQuery").transactionStatus, "I")
    assert.strictEqual(dec("CommandComplete").tag, "SELECT 3")
    assert.deepStrictEqual(dec("NotificationResponse"), {
      _tag: "NotificationResponse",
      processId: 4,
      channel: "hi",
      payload: "boom"
    })
    assert.deepStrictEqual(dec("RowDescription (2 fields)").fields[1], {
      name: "whoah",
      tableOid: 10,
      columnAttributeNumber: 11,
      dataTypeOid: 12,
      dataTypeSize: 13,
      typeModifier: 14,
      formatCode: 0
    })
    const big = dec("RowDescription (OIDs above 2^31)").fields[0]
    assert.strictEqual(big.tableOid, 3000000001)
    assert.strictEqual(big.dataTypeOid, 3000000003)
    assert.deepStrictEqual(dec("ParameterDescription (2)").parameterTypes, [2222, 3333])
    assert.deepStrictEqual(dec("ParameterDescription (OID above 2^31)").parameterTypes, [3000000003])
    assert.deepStrictEqual(dec("DataRow (1 column)").values, [utf8("test")])
    assert.deepStrictEqual(dec("DataRow with NULLs (split-buffer test)").values, [
      null,
      utf8("bang"),
      utf8("zug zug"),
      null,
      utf8("!")
    ])
    assert.deepStrictEqual(dec("NoticeResponse").fields, [{ code: "C", value: "code" }])
    assert.deepStrictEqual(dec("ErrorResponse (no fields)").fields, [])
    const many = dec("ErrorResponse (many fields incl. unknown 'Z')").fields
    assert.deepStrictEqual(many.map((f: { code: string }) => f.code).includes("Z"), true)
    assert.deepStrictEqual(dec("CopyInResponse (2 columns)"), {
      _tag: "CopyInResponse",
      format: 0,
      columnFormats: [0, 1]
    })
    assert.deepStrictEqual(dec("CopyData").data, Uint8Array.of(5, 6, 7))
    assert.deepStrictEqual(dec("BackendKeyData (protocol 3.2, 32-byte key)").secretKey.length, 32)
    assert.deepStrictEqual(dec("NegotiateProtocolVersion (minor 0, 2 unrecognized options)"), {
      _tag: "NegotiateProtocolVersion",
      newestMinorVersion: 0,
      unrecognizedOptions: ["opt1", "opt2"]
    })
    assert.deepStrictEqual(dec("CopyBothResponse (binary, 2 columns: text, binary)"), {
      _tag: "CopyBothResponse",
      format: 1,
      columnFormats: [0, 1]
    })
    const pgError = dec("ErrorResponse (undefined column)").fields
    assert.deepStrictEqual(pgError.find((f: { code: string }) => f.code === "C").value, "42703")

    assert.deepStrictEqual(dec("StartupMessage v3.0 (user=brian, database=bang, client_encoding=UTF8)"), {
      _tag: "StartupMessage",
      protocolVersion: 196608,
      parameters: [
        { name: "user", value: "brian" },
        { name: "database", value: "bang" },
        { name: "client_encoding", value: "UTF8" }
      ]
    })
    assert.deepStrictEqual(dec("PasswordMessage"), { _tag: "PasswordMessage", password: "!" })
    assert.deepStrictEqual(dec("SASLInitialResponse"), {
      _tag: "SASLInitialResponse",
      mechanism: "mech",
      data: utf8("data")
    })
    assert.deepStrictEqual(dec("SASLResponse").data, utf8("data"))
    assert.deepStrictEqual(dec("Bind (named portal+statement, text values incl. NULL)"), {
      _tag: "Bind",
      portal: "bang",
      statement: "woo",
      parameterFormats: [0, 0, 0, 0],
      parameters: [utf8("1"), utf8("hi"), null, utf8("zing")],
      resultFormats: [0]
    })
    assert.deepStrictEqual(dec("Bind (multi-byte UTF-8 value: length is byte count 13)").parameters, [
      utf8("héllo中🎉")
    ])
    assert.deepStrictEqual(dec("Parse (4 param type OIDs)").parameterTypes, [1, 2, 3, 4])
    assert.deepStrictEqual(dec("Execute (named portal, 100 rows)"), {
      _tag: "Execute",
      portal: "my favorite portal",
      maxRows: 100
    })
    assert.deepStrictEqual(dec("Describe statement"), { _tag: "Describe", target: "S", name: "bang" })
    assert.deepStrictEqual(dec("Close unnamed portal"), { _tag: "Close", target: "P", name: "" })
    assert.deepStrictEqual(dec("CopyFail"), { _tag: "CopyFail", message: "err!" })
    assert.deepStrictEqual(dec("CancelRequest (pid 3, key 4)"), {
      _tag: "CancelRequest",
      processId: 3,
      secretKey: Uint8Array.of(0, 0, 0, 4)
    })
    assert.deepStrictEqual(dec("CancelRequest (protocol 3.2, 32-byte key)").secretKey.length, 32)
  })

  it("the node-postgres COPY vector with format code 2 is rejected by a strict decoder", () => {
    const e = err(decodeVector(vector("CopyOutResponse (3 columns)")))
    assert.strictEqual(e.messageName, "CopyOutResponse")
    assert.strictEqual(e.offset, 7)
    assert.include(e.message, "invalid format code 2")
  })

  it("node-postgres's body-less 'W' is not a CopyBothResponse", () => {
    const e = err(decodeVector(vector("CopyBothResponse (node calls it replicationStart; no body)")))
    assert.strictEqual(e.messageName, "CopyBothResponse")
  })

  it("a frame followed by stray bytes: only the frame is taken (node-postgres #2210)", () => {
    for (const name of ["AuthenticationSASLContinue followed by 4 stray bytes of an incomplete next message", "AuthenticationSASLFinal followed by 4 stray bytes"]) {
      const framer = new Framer()
      const frames = framer.pushAll(fromHex(vector(name).hex))
      assert.strictEqual(frames.length, 1)
      const m = Backend.readUnsafe(frames[0]!.type, frames[0]!.body, 0, frames[0]!.body.length, new Reader())
      assert.deepStrictEqual((m as Backend.AuthenticationSASLContinue).data, utf8("data"))
      assert.isTrue(framer.hasPartial())
    }
  })

  it("body-only vectors: FunctionCallResponse NULL, and lengths of -2 rejected", () => {
    const r = new Reader()
    const nul = fromHex(vector("FunctionCallResponse body with NULL result (-1)").hex)
    assert.deepStrictEqual(Message.readBodyUnsafe(Backend.FunctionCallResponse, nul, 0, nul.length, r), {
      _tag: "FunctionCallResponse",
      result: null
    })
    const minus2 = fromHex(vector("FunctionCallResponse body with length -2 (decode must fail)").hex)
    assert.throws(() => Message.readBodyUnsafe(Backend.FunctionCallResponse, minus2, 0, minus2.length, r), /invalid length -2 at offset 0/)
    const bind = fromHex(vector("Bind body with parameter length -2 (decode must fail)").hex)
    assert.throws(() => Frontend.readUnsafe(0x42, bind, 0, bind.length, r), /Bind: invalid length -2 at offset 6/)
  })

  it("CancelRequest with a wrong code or a 257-byte key is rejected", () => {
    const r = new Reader()
    const wrong = fromHex(vector("CancelRequest body with invalid code (decode must fail)").hex)
    assert.throws(() => Message.readBodyUnsafe(Startup.CancelRequest, wrong, 0, wrong.length, r), /CancelRequest: code 0/)
    const long = fromHex(vector("CancelRequest decode input with 257-byte key (must fail)").hex)
    err(Startup.decode(long))
    assert.throws(() => Startup.readUnsafe(long, 4, long.length, r), /CancelRequest: secret key of 257 bytes/)
  })

  it("startup packets of length 10005 and 3 are rejected by a server-side framer", () => {
    for (const name of ["StartupMessage length 10005 (over 10000+4 limit)", "StartupMessage length 3 (too short)"]) {
      const framer = new Framer({ startup: true })
      assert.throws(() => framer.pushAll(fromHex(vector(name).hex)), ProtocolError)
      err(Startup.decode(fromHex(vector(name).hex)))
    }
  })

  it("a truncated ReadyForQuery then end of stream is an error, not a wait", () => {
    const framer = new Framer()
    assert.deepStrictEqual(framer.pushAll(fromHex(vector("Truncated ReadyForQuery then EOF").hex)), [])
    assert.throws(() => framer.finish(), /stream ended inside a message of type 'Z'/)
  })

  it("a DataRow over the client's limit fails before its body is buffered", () => {
    const framer = new Framer({ maxMessageSize: 9 })
    assert.throws(() => framer.pushAll(fromHex(vector("DataRow with declared length above client limit").hex)), /exceeds the limit/)
  })

  it("messages delivered in two reads", () => {
    for (const name of ["ReadyForQuery delivered in two reads (header, then body)", "Query delivered in two reads"]) {
      const v = vector(name)
      const framer = new Framer()
      const frames = v.chunks_hex!.flatMap((c) => framer.pushAll(fromHex(c)).map((f) => ({ type: f.type, body: f.body.slice() })))
      assert.strictEqual(frames.length, 1)
      assert.strictEqual(toHex(Uint8Array.of(frames[0]!.type)) + toHex(frames[0]!.body), toHex(fromHex(v.hex)).slice(0, 2) + toHex(fromHex(v.hex)).slice(10))
    }
  })

  it("the node-postgres split-buffer tests", () => {
    for (const name of ["DataRow with NULLs (split-buffer test)", "DataRow + ReadyForQuery in one buffer (split test)"]) {
      const v = vector(name)
      const all = fromHex(v.hex)
      const whole = new Framer().pushAll(all).map((f) => toHex(f.body))
      for (const second of v.split_second_chunk_sizes!) {
        const framer = new Framer()
        const cut = all.length - second
        const got = [...framer.pushAll(all.subarray(0, cut)), ...framer.pushAll(all.subarray(cut))].map((f) =>
          toHex(f.body)
        )
        assert.deepStrictEqual(got, whole, `${name} split ${second}`)
      }
    }
  })
})

interface Goldens {
  readonly frontend: ReadonlyArray<{ readonly message: string; readonly hex: string }>
  readonly backend: ReadonlyArray<{ readonly message: string; readonly hex: string }>
  readonly binary_datarows: ReadonlyArray<{ readonly name: string; readonly datarow_hex: string }>
}

const goldens = fixture<Goldens>("effect_sql_pg_goldens.json")

describe("effect_sql_pg_goldens.json (captured from PostgreSQL 16)", () => {
  for (const g of goldens.backend) {
    it(`backend ${g.message}: decodes and encodes back to the same bytes`, () => {
      const m = ok(Backend.decode(fromHex(g.hex)))
      assert.strictEqual(m._tag.toLowerCase(), g.message.replace(/TwoColumns|WithNull/, "").toLowerCase())
      assert.strictEqual(toHex(ok(Backend.encode(m))), g.hex)
    })
  }

  it("binary DataRows of every captured type decode to one column and re-encode exactly", () => {
    for (const row of goldens.binary_datarows) {
      const m = ok(Backend.decode(fromHex(row.datarow_hex))) as Backend.DataRow
      assert.strictEqual(m.values.length, 1, row.name)
      assert.strictEqual(toHex(ok(Backend.encode(m))), row.datarow_hex, row.name)
    }
  })

  it("the captured values that the protocol layer sees", () => {
    const hex = (name: string) => fromHex(goldens.backend.find((b) => b.message === name)!.hex)
    assert.deepStrictEqual(ok(Backend.decode(hex("backendKeyData"))), {
      _tag: "BackendKeyData",
      processId: 63,
      secretKey: fromHex("09e5e380")
    })
    assert.deepStrictEqual(ok(Backend.decode(hex("notificationResponse"))), {
      _tag: "NotificationResponse",
      processId: 63,
      channel: "effect_channel",
      payload: "payload text"
    })
    const rd = ok(Backend.decode(hex("rowDescription"))) as Backend.RowDescription
    assert.deepStrictEqual(rd.fields.map((f) => [f.name, f.dataTypeOid, f.dataTypeSize, f.formatCode]), [
      ["a", 23, 4, 1],
      ["b", 25, -1, 1]
    ])
    assert.deepStrictEqual(ok(Backend.decode(hex("parameterDescription"))), {
      _tag: "ParameterDescription",
      parameterTypes: [20]
    })
    assert.deepStrictEqual(ok(Backend.decode(hex("authenticationMD5Password"))), {
      _tag: "AuthenticationMD5Password",
      salt: fromHex("70e7d45e")
    })
  })

  it("frontend encodings from their inputs", () => {
    const expect = (name: string, bytes: Uint8Array) =>
      assert.strictEqual(toHex(bytes), goldens.frontend.find((f) => f.message === name)!.hex, name)
    expect("sslRequest", Startup.SSL_REQUEST)
    expect(
      "cancelRequest",
      ok(Startup.encode({ _tag: "CancelRequest", processId: 63, secretKey: Uint8Array.of(0x09, 0xe5, 0xe3, 0x80) }))
    )
    expect(
      "startupMessage",
      ok(Startup.encode({
        _tag: "StartupMessage",
        protocolVersion: Startup.PROTOCOL_3_0,
        parameters: [
          { name: "user", value: "effect" },
          { name: "database", value: "effect" },
          { name: "application_name", value: "effect-pg-codec" },
          { name: "client_encoding", value: "UTF8" }
        ]
      }))
    )
    expect("parse", ok(Frontend.encode({ _tag: "Parse", name: "s1", query: "SELECT $1", parameterTypes: [23] })))
    expect(
      "bind",
      ok(Frontend.encode({
        _tag: "Bind",
        portal: "p1",
        statement: "s1",
        parameterFormats: [1],
        parameters: [Uint8Array.of(0, 0, 0, 1), null],
        resultFormats: [1]
      }))
    )
    expect("execute", ok(Frontend.encode({ _tag: "Execute", portal: "p1", maxRows: 5 })))
    expect("describeStatement", ok(Frontend.encode({ _tag: "Describe", target: "S", name: "s1" })))
    expect("closePortal", ok(Frontend.encode({ _tag: "Close", target: "P", name: "p1" })))
    expect("sync", Frontend.SYNC)
    expect("flush", Frontend.FLUSH)
    expect("terminate", Frontend.TERMINATE)
    expect("passwordMessage", ok(Frontend.encode({ _tag: "PasswordMessage", password: "md5abc" })))
    expect(
      "saslInitialResponse",
      ok(Frontend.encode({ _tag: "SASLInitialResponse", mechanism: "SCRAM-SHA-256", data: utf8("n,,") }))
    )
    expect(
      "saslInitialResponseEmpty",
      ok(Frontend.encode({ _tag: "SASLInitialResponse", mechanism: "SCRAM-SHA-256", data: null }))
    )
    expect("saslResponse", ok(Frontend.encode({ _tag: "SASLResponse", data: Uint8Array.of(1, 2, 3) })))
  })
})
