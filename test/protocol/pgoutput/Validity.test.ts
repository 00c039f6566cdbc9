/**
 * Which pgoutput bytes are valid where: the layout that depends on the
 * context (the xid inside a stream, the proto_version each message kind
 * needs), and malformed messages, each refused with a typed `ProtocolError`
 * naming what is wrong and where.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as PgOutput from "../../../src/protocol/PgOutput.ts"
import { bytes, cstr, decodeError, decodeOk, encodeError, i16, i32, i64, v1, v2, v2s, v3, v4 } from "./Support.ts"

describe("PgOutput", () => {
  describe("layout depends on the context", () => {
    it("the same Insert bytes mean different things in and out of a stream", () => {
      const wire = bytes(0x49, i32(16384), 0x4e, i16(2), 0x6e, 0x6e)
      assert.deepStrictEqual(decodeOk(wire, v2), {
        _tag: "Insert",
        relationOid: 16384,
        newTuple: [{ kind: "null" }, { kind: "null" }]
      })
      // Read as streamed, the relation OID becomes the xid and 'N' is not where it should be.
      const e = decodeError(wire, v2s)
      assert.include(e.message, "expected new tuple")
      assert.strictEqual(e.offset, 8)
    })

    it("a streamed message needs its xid, an unstreamed one must not have it", () => {
      const insert: PgOutput.Insert = { _tag: "Insert", relationOid: 1, newTuple: [] }
      assert.include(encodeError(insert, v2s).message, "needs the transaction's xid")
      assert.include(encodeError({ ...insert, xid: 5 }, v2).message, "only inside a stream")
    })

    it("stream messages need proto_version 2", () => {
      const e = decodeError(bytes(0x53, i32(1), 1), v1)
      assert.strictEqual(e.messageName, "StreamStart")
      assert.include(e.message, "proto_version 2")
      assert.include(encodeError({ _tag: "StreamStop" }, v1).message, "proto_version 2")
    })

    it("two-phase messages need proto_version 3", () => {
      const wire = bytes(0x62, i64(1n), i64(2n), i64(3n), i32(4), cstr("g"))
      assert.include(decodeError(wire, v2).message, "BeginPrepare needs proto_version 3")
      assert.strictEqual(decodeOk(wire, v3)._tag, "BeginPrepare")
    })

    it("a streamed context needs proto_version 2", () => {
      const e = decodeError(bytes(0x45), { protoVersion: 1, inStream: true })
      assert.include(e.message, "proto_version 2")
    })

    it("an invalid proto_version is refused", () => {
      const ctx = { protoVersion: 5, inStream: false } as unknown as PgOutput.Context
      assert.include(decodeError(bytes(0x45), ctx).message, "proto_version 5")
    })

    it("the abort LSN and timestamp need proto_version 4", () => {
      const wire = bytes(0x41, i32(1), i32(1), i64(2n), i64(3n))
      assert.include(decodeError(wire, v3).message, "proto_version 4")
      assert.include(
        encodeError({ _tag: "StreamAbort", xid: 1, subXid: 1, abortLsn: 2n, abortTimestamp: 3n }, v3).message,
        "proto_version 4"
      )
    })

    it("a StreamAbort of any other length is malformed", () => {
      assert.isTrue(Result.isFailure(PgOutput.decode(bytes(0x41, i32(1), i32(1), i64(2n)), v4)))
      assert.isTrue(Result.isFailure(PgOutput.decode(bytes(0x41, i32(1), i32(1), 0), v4)))
    })

    it("protocol version 4 decodes a StreamAbort without abort information (streaming = on)", () => {
      assert.deepStrictEqual(decodeOk(bytes(0x41, i32(3), i32(4)), v4), { _tag: "StreamAbort", xid: 3, subXid: 4 })
    })
  })

  describe("malformed messages", () => {
    it("an unknown type byte", () => {
      const e = decodeError(bytes(0x5a), v4)
      assert.include(e.message, "unknown logical replication message type 0x5a")
      assert.strictEqual(e.offset, 0)
    })

    it("an unknown TupleData column kind names the column and offset", () => {
      const e = decodeError(bytes(0x49, i32(1), 0x4e, i16(2), 0x6e, 0x78), v1)
      assert.strictEqual(e.messageName, "Insert")
      assert.include(e.message, "column 1 has unknown kind 0x78")
      // Offsets count from the byte after the type: OID 0-3, 'N' 4, count 5-6, 'n' 7.
      assert.strictEqual(e.offset, 8)
    })

    it("a negative column length", () => {
      const e = decodeError(bytes(0x49, i32(1), 0x4e, i16(1), 0x74, i32(-1)), v1)
      assert.include(e.message, "negative length")
    })

    it("a column count beyond the bytes present is truncated, never a huge allocation", () => {
      const e = decodeError(bytes(0x49, i32(1), 0x4e, i16(32767)), v1)
      assert.include(e.message, "truncated")
    })

    it("a negative column count", () => {
      assert.include(decodeError(bytes(0x49, i32(1), 0x4e, i16(-1)), v1).message, "count -1 out of range")
    })

    it("a Truncate relation count larger than the message", () => {
      assert.include(decodeError(bytes(0x54, i32(1000), 0, i32(1)), v1).message, "relation count 1000 out of range")
    })

    it("a Delete without 'K' or 'O'", () => {
      assert.include(decodeError(bytes(0x44, i32(1), 0x4e, i16(0)), v1).message, "expected a key ('K') or old tuple")
    })

    it("an Update with 'K' but no 'N'", () => {
      assert.include(decodeError(bytes(0x55, i32(1), 0x4b, i16(0)), v1).message, "truncated")
      assert.include(decodeError(bytes(0x55, i32(1), 0x4b, i16(0), 0x4b, i16(0)), v1).message, "expected new tuple")
    })

    it("an unknown replica identity", () => {
      assert.include(
        decodeError(bytes(0x52, i32(1), cstr("s"), cstr("t"), 0x78, i16(0)), v1).message,
        "unknown replica identity"
      )
    })

    it("a first-segment flag other than 0 or 1", () => {
      assert.include(decodeError(bytes(0x53, i32(1), 2), v2).message, "must be 0 or 1")
    })

    it("trailing bytes after the message", () => {
      assert.include(decodeError(bytes(0x45, 0), v2).message, "1 trailing bytes")
    })

    it("encoding refuses an Update with both a key and an old tuple", () => {
      const m = { _tag: "Update", relationOid: 1, key: [], oldTuple: [], newTuple: [] } as unknown as PgOutput.Update
      assert.include(encodeError(m, v1).message, "both a key and an old tuple")
    })

    it("encoding refuses a Delete with neither a key nor an old tuple", () => {
      assert.include(
        encodeError({ _tag: "Delete", relationOid: 1 } as unknown as PgOutput.Delete, v1).message,
        "exactly one of a key and an old tuple"
      )
    })
  })
})
