/**
 * Protocol 2.0, client messages: the golden bytes of each message in both
 * directions (the LimString fields of the StartupPacket among them) and the
 * stream decoder, whose mode the server sets between messages.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import * as V2 from "../../../src/protocol/V2.ts"
import { bytes, chunk, concat, cstr, encodeFrontendOk, failure, frontendGolden, i32, lim, startupPacket, str, u8 } from "./Support.ts"

describe("V2", () => {
  describe("golden bytes, client messages (protocol-2.0 Message Formats)", () => {
    frontendGolden(
      "CancelRequest",
      bytes(
        i32(16), // Int32(16) packet size
        i32(80877102), // Int32(80877102) cancel request code: 1234 << 16 | 5678
        i32(4242), // Int32 process ID
        i32(-559038737) // Int32 secret key
      ),
      { _tag: "CancelRequest", processId: 4242, secretKey: -559038737 },
      "startup"
    )

    frontendGolden(
      "CopyDataRows (client side)",
      bytes(str("a\n"), str("\n"), str("\\.\n")), // two rows (one empty), then the end marker
      { _tag: "CopyDataRows", rows: [u8("a"), new Uint8Array(0)], end: true },
      "copy"
    )

    frontendGolden(
      "FunctionCall",
      bytes(
        0x46, // Byte1('F')
        cstr(""), // String("") unused
        i32(1598), // Int32 function OID
        i32(2), // Int32 number of arguments
        i32(4), // Int32 size of argument 0
        i32(10), // Byten
        i32(0) // Int32 size of argument 1 (empty)
      ),
      { _tag: "FunctionCall", functionOid: 1598, arguments: [new Uint8Array([0, 0, 0, 10]), new Uint8Array(0)] },
      "normal"
    )

    frontendGolden(
      "FunctionCall as libpq sent it (unused string \" \")",
      bytes(0x46, cstr(" "), i32(1598), i32(0)),
      { _tag: "FunctionCall", unused: " ", functionOid: 1598, arguments: [] },
      "normal"
    )

    frontendGolden(
      "PasswordPacket",
      bytes(
        i32(11), // Int32 packet size: 4 + "secret" + NUL
        cstr("secret") // String password
      ),
      { _tag: "PasswordPacket", password: "secret" },
      "password"
    )

    frontendGolden(
      "Query",
      bytes(0x51, cstr("select 1")), // Byte1('Q'), String query
      { _tag: "Query", query: "select 1" },
      "normal"
    )

    frontendGolden(
      "SSLRequest",
      bytes(
        i32(8), // Int32(8) packet size
        i32(80877103) // Int32(80877103) SSL request code: 1234 << 16 | 5679
      ),
      { _tag: "SSLRequest" },
      "startup"
    )

    frontendGolden(
      "StartupPacket",
      bytes(
        i32(296), // Int32(296) packet size
        i32(0x20000), // Int32 protocol version 2.0
        lim("shop", 64), // LimString64 database
        lim("alice", 32), // LimString32 user
        lim("", 64), // LimString64 options
        lim("", 64), // LimString64 unused
        lim("", 64) // LimString64 tty
      ),
      startupPacket,
      "startup"
    )

    frontendGolden("Terminate", bytes(0x58), { _tag: "Terminate" }, "normal") // Byte1('X')

    it("a LimString that fills its field has no NUL", () => {
      const user = "u".repeat(32)
      const wire = encodeFrontendOk({ ...startupPacket, user })
      assert.strictEqual(wire.length, 296)
      assert.deepStrictEqual([...wire.subarray(72, 104)], str(user))
      assert.strictEqual(wire[104], 0) // options starts right after, no terminator in between
      const back = Result.getOrThrow(V2.decodeFrontend(wire, "startup"))
      assert.deepStrictEqual(back, { ...startupPacket, user })
    })

    it("bytes after a LimString's NUL are ignored", () => {
      const wire = encodeFrontendOk(startupPacket)
      wire[8 + 5] = 0x7a // inside database's padding
      assert.deepStrictEqual(Result.getOrThrow(V2.decodeFrontend(wire, "startup")), startupPacket)
    })

    it("refuses to write a LimString longer than its field", () => {
      const e = failure(V2.encodeFrontend({ ...startupPacket, user: "é".repeat(17) }))
      assert.include(e.message, "user takes 34 bytes, more than 32")
    })

    it("refuses a StartupPacket for protocol 3", () => {
      const wire = encodeFrontendOk(startupPacket)
      wire[5] = 3
      assert.include(failure(V2.decodeFrontend(wire, "startup")).message, "protocol version 3.0")
    })
  })

  describe("FrontendDecoder", () => {
    const client: ReadonlyArray<V2.FrontendMessage> = [
      startupPacket,
      { _tag: "PasswordPacket", password: "md5abc" },
      { _tag: "Query", query: "COPY t FROM STDIN" },
      { _tag: "CopyDataRows", rows: [u8("1\tx")], end: false },
      { _tag: "CopyDataRows", rows: [], end: true },
      { _tag: "FunctionCall", unused: " ", functionOid: 1598, arguments: [new Uint8Array([1, 2])] },
      { _tag: "Query", query: "select 1" },
      { _tag: "Terminate" }
    ]
    const stream = concat(client.map(encodeFrontendOk))

    /** A fake server: it tells the decoder what comes next, as a real one knows from what it sent. */
    const serve = (chunks: ReadonlyArray<Uint8Array>): Array<V2.FrontendMessage> => {
      const decoder = new V2.FrontendDecoder()
      const got: Array<V2.FrontendMessage> = []
      for (const c of chunks) {
        decoder.pushUnsafe(c, (m) => {
          got.push(m)
          const next = client[got.length]
          if (next?._tag === "PasswordPacket") decoder.expectPasswordPacket()
          if (next?._tag === "CopyDataRows" && decoder.mode === "normal") decoder.expectCopyDataRows()
        })
      }
      Result.getOrThrow(decoder.finish())
      assert.strictEqual(decoder.mode, "closed")
      return got
    }

    it("decodes a client session, with mode changes made between messages", () => {
      assert.deepStrictEqual(serve([stream]), client)
    })

    it.effect.prop("decodes the same messages however the stream is chunked", [
      Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 })))
    ], ([sizes]) =>
      Effect.gen(function*() {
        assert.deepStrictEqual(serve(chunk(stream, sizes)), client)
      }))

    it("SSLRequest keeps the start-up mode, CancelRequest closes", () => {
      const decoder = new V2.FrontendDecoder()
      Result.getOrThrow(decoder.push(encodeFrontendOk({ _tag: "SSLRequest" })))
      assert.strictEqual(decoder.mode, "startup")
      Result.getOrThrow(decoder.push(encodeFrontendOk({ _tag: "CancelRequest", processId: 1, secretKey: 2 })))
      assert.strictEqual(decoder.mode, "closed")
      assert.include(failure(decoder.push(bytes(0x51))).message, "bytes after Terminate or CancelRequest")
    })

    it("an unknown start-up packet is refused before its length is trusted", () => {
      const decoder = new V2.FrontendDecoder()
      const e = failure(decoder.push(bytes(i32(0x7fffffff), i32(0x30000))))
      assert.include(e.message, "not a protocol 2.0 start-up packet")
      assert.strictEqual(decoder.buffered, 0)
    })

    it("a 3.0 StartupMessage is not a 2.0 start-up packet", () => {
      const e = failure(V2.decodeFrontend(bytes(i32(23), i32(0x30000), cstr("user"), cstr("bob"), 0), "startup"))
      assert.include(e.message, "length 23, code 196608")
    })

    it("a PasswordPacket length out of range is malformed", () => {
      assert.include(failure(V2.decodeFrontend(bytes(i32(4)), "password")).message, "packet length 4 out of range")
      const huge = new V2.FrontendDecoder({ mode: "password", maxMessageSize: 64 })
      assert.include(failure(huge.push(bytes(i32(65)))).message, "packet length 65 out of range")
    })

    it("a PasswordPacket whose string ends before its length is malformed", () => {
      const e = failure(V2.decodeFrontend(bytes(i32(8), cstr("ab"), 0), "password"))
      assert.strictEqual(e.messageName, "PasswordPacket")
      assert.include(e.message, "trailing bytes")
    })

    it("a negative FunctionCall argument count or size is malformed", () => {
      assert.include(failure(V2.decodeFrontend(bytes(0x46, 0, i32(1), i32(-1)))).message, "argument count -1")
      assert.include(
        failure(V2.decodeFrontend(bytes(0x46, 0, i32(1), i32(1), i32(-2)))).message,
        "argument 0 has negative size"
      )
    })

    it("a huge FunctionCall argument count is truncated, not allocated", () => {
      assert.include(failure(V2.decodeFrontend(bytes(0x46, 0, i32(1), i32(0x7fffffff)))).message, "truncated")
    })

    it("an unknown client message type is malformed", () => {
      assert.include(failure(V2.decodeFrontend(bytes(0x50))).message, "unknown message type 0x50")
    })
  })
})
