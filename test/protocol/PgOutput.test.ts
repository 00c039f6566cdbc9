import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import { ProtocolError } from "../../src/errors/PgError.ts"
import * as Message from "../../src/protocol/Message.ts"
import * as PgOutput from "../../src/protocol/PgOutput.ts"
import * as Replication from "../../src/protocol/Replication.ts"

// Big-endian field builders written out by hand (independent of the Writer).
const i16 = (v: number): Array<number> => [(v >> 8) & 0xff, v & 0xff]
const i32 = (v: number): Array<number> => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]
const i64 = (v: bigint): Array<number> => {
  const u = BigInt.asUintN(64, v)
  return [...i32(Number(u >> 32n)), ...i32(Number(u & 0xffffffffn))]
}
const str = (s: string): Array<number> => [...s].map((c) => c.charCodeAt(0))
const cstr = (s: string): Array<number> => [...str(s), 0]
const bytes = (...parts: ReadonlyArray<number | ReadonlyArray<number>>): Uint8Array =>
  new Uint8Array(parts.flatMap((p) => (typeof p === "number" ? [p] : [...p])))
const u8 = (s: string): Uint8Array => new Uint8Array(str(s))

const v1: PgOutput.Context = { protoVersion: 1, inStream: false }
const v2: PgOutput.Context = { protoVersion: 2, inStream: false }
const v2s: PgOutput.Context = { protoVersion: 2, inStream: true }
const v3: PgOutput.Context = { protoVersion: 3, inStream: false }
const v4: PgOutput.Context = { protoVersion: 4, inStream: false }
const v4s: PgOutput.Context = { protoVersion: 4, inStream: true }

const encodeOk = (m: PgOutput.LogicalReplicationMessage, ctx: PgOutput.Context): Uint8Array =>
  Result.getOrThrow(PgOutput.encode(m, ctx))
const decodeOk = (b: Uint8Array, ctx: PgOutput.Context): PgOutput.LogicalReplicationMessage =>
  Result.getOrThrow(PgOutput.decode(b, ctx))
const decodeError = (b: Uint8Array, ctx: PgOutput.Context): ProtocolError => {
  const result = PgOutput.decode(b, ctx)
  if (Result.isSuccess(result)) throw new Error(`expected a failure, decoded ${result.success._tag}`)
  return result.failure
}
const encodeError = (m: PgOutput.LogicalReplicationMessage, ctx: PgOutput.Context): ProtocolError => {
  const result = PgOutput.encode(m, ctx)
  if (Result.isSuccess(result)) throw new Error(`expected a failure, encoded ${m._tag}`)
  return result.failure
}

const golden = (
  name: string,
  ctx: PgOutput.Context,
  wire: Uint8Array,
  message: PgOutput.LogicalReplicationMessage
) =>
  it(name, () => {
    assert.deepStrictEqual(encodeOk(message, ctx), wire)
    assert.deepStrictEqual(decodeOk(wire, ctx), message)
  })

/** A small seeded PRNG (mulberry32), so fuzz runs are reproducible. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** One tuple used by several goldens: NULL, unchanged TOAST, text "42", binary int4 42. */
const tupleWire = [
  ...i16(4), // Int16 number of columns
  0x6e, // 'n' NULL
  0x75, // 'u' unchanged TOASTed value
  0x74, // 't' text
  ...i32(2), // Int32 length
  ...str("42"), // Byten value
  0x62, // 'b' binary
  ...i32(4), // Int32 length
  ...i32(42) // Byten value (int4 42 in binary)
]
const tuple: PgOutput.TupleData = [
  { kind: "null" },
  { kind: "unchangedToast" },
  { kind: "text", value: u8("42") },
  { kind: "binary", value: new Uint8Array([0, 0, 0, 42]) }
]
const keyWire = [...i16(1), 0x74, ...i32(1), ...str("7")] // one text column "7"
const key: PgOutput.TupleData = [{ kind: "text", value: u8("7") }]

describe("PgOutput", () => {
  describe("golden bytes (protocol-3.2 Logical Replication Message Formats)", () => {
    golden(
      "Begin",
      v1,
      bytes(
        0x42, // Byte1('B')
        i64(0x1_00000100n), // Int64 final LSN
        i64(737_000_000_000_000n), // Int64 commit timestamp
        i32(5001) // Int32 xid
      ),
      { _tag: "Begin", finalLsn: 0x1_00000100n, commitTimestamp: 737_000_000_000_000n, xid: 5001 }
    )

    golden(
      "Message (outside a stream)",
      v1,
      bytes(
        0x4d, // Byte1('M')
        1, // Int8 flags: transactional
        i64(0x2000n), // Int64 LSN
        cstr("audit"), // String prefix
        i32(3), // Int32 content length
        str("hey") // Byten content
      ),
      { _tag: "Message", flags: 1, lsn: 0x2000n, prefix: "audit", content: u8("hey") }
    )

    golden(
      "Message (inside a stream: xid first)",
      v2s,
      bytes(
        0x4d, // Byte1('M')
        i32(700), // Int32 xid
        0, // Int8 flags: not transactional
        i64(0x2000n), // Int64 LSN
        cstr(""), // String prefix
        i32(0) // Int32 content length, no content
      ),
      { _tag: "Message", xid: 700, flags: 0, lsn: 0x2000n, prefix: "", content: new Uint8Array(0) }
    )

    golden(
      "Commit",
      v1,
      bytes(
        0x43, // Byte1('C')
        0, // Int8 flags (unused)
        i64(0x3000n), // Int64 commit LSN
        i64(0x3010n), // Int64 end LSN
        i64(-5n) // Int64 commit timestamp (before 2000-01-01)
      ),
      { _tag: "Commit", flags: 0, commitLsn: 0x3000n, endLsn: 0x3010n, commitTimestamp: -5n }
    )

    golden(
      "Origin",
      v1,
      bytes(
        0x4f, // Byte1('O')
        i64(0x4000n), // Int64 commit LSN on the origin
        cstr("node_a") // String origin name
      ),
      { _tag: "Origin", commitLsn: 0x4000n, name: "node_a" }
    )

    golden(
      "Relation",
      v1,
      bytes(
        0x52, // Byte1('R')
        i32(16384), // Int32 relation OID
        cstr("public"), // String namespace
        cstr("users"), // String relation name
        0x64, // Int8 replica identity 'd'
        i16(2), // Int16 number of columns
        1, // Int8 flags: key column
        cstr("id"), // String column name
        i32(23), // Int32 type OID (int4)
        i32(-1), // Int32 type modifier
        0, // Int8 flags
        cstr("name"), // String column name
        i32(1043), // Int32 type OID (varchar)
        i32(68) // Int32 type modifier (varchar(64))
      ),
      {
        _tag: "Relation",
        relationOid: 16384,
        namespace: "public",
        relationName: "users",
        replicaIdentity: "d",
        columns: [
          { flags: 1, name: "id", typeOid: 23, typeModifier: -1 },
          { flags: 0, name: "name", typeOid: 1043, typeModifier: 68 }
        ]
      }
    )

    golden(
      "Relation (inside a stream, pg_catalog, REPLICA IDENTITY FULL, no columns)",
      v2s,
      bytes(0x52, i32(9), i32(1259), cstr(""), cstr("pg_class"), 0x66, i16(0)),
      {
        _tag: "Relation",
        xid: 9,
        relationOid: 1259,
        namespace: "",
        relationName: "pg_class",
        replicaIdentity: "f",
        columns: []
      }
    )

    golden(
      "Type",
      v1,
      bytes(
        0x59, // Byte1('Y')
        i32(16390), // Int32 type OID
        cstr("public"), // String namespace
        cstr("mood") // String type name
      ),
      { _tag: "Type", typeOid: 16390, namespace: "public", typeName: "mood" }
    )

    golden(
      "Insert with every TupleData column kind",
      v1,
      bytes(
        0x49, // Byte1('I')
        i32(16384), // Int32 relation OID
        0x4e, // Byte1('N') new tuple
        tupleWire // TupleData
      ),
      { _tag: "Insert", relationOid: 16384, newTuple: tuple }
    )

    golden(
      "Insert (inside a stream)",
      v4s,
      bytes(0x49, i32(800), i32(16384), 0x4e, i16(0)),
      { _tag: "Insert", xid: 800, relationOid: 16384, newTuple: [] }
    )

    golden(
      "Update with only a new tuple",
      v1,
      bytes(
        0x55, // Byte1('U')
        i32(16384), // Int32 relation OID
        0x4e, // Byte1('N')
        tupleWire // TupleData new tuple
      ),
      { _tag: "Update", relationOid: 16384, newTuple: tuple }
    )

    golden(
      "Update with a key",
      v1,
      bytes(
        0x55, // Byte1('U')
        i32(16384), // Int32 relation OID
        0x4b, // Byte1('K')
        keyWire, // TupleData key
        0x4e, // Byte1('N')
        tupleWire // TupleData new tuple
      ),
      { _tag: "Update", relationOid: 16384, key, newTuple: tuple }
    )

    golden(
      "Update with an old tuple (inside a stream)",
      v2s,
      bytes(
        0x55, // Byte1('U')
        i32(801), // Int32 xid
        i32(16384), // Int32 relation OID
        0x4f, // Byte1('O')
        tupleWire, // TupleData old tuple
        0x4e, // Byte1('N')
        keyWire // TupleData new tuple
      ),
      { _tag: "Update", xid: 801, relationOid: 16384, oldTuple: tuple, newTuple: key }
    )

    golden(
      "Delete with a key",
      v1,
      bytes(
        0x44, // Byte1('D')
        i32(16384), // Int32 relation OID
        0x4b, // Byte1('K')
        keyWire // TupleData key
      ),
      { _tag: "Delete", relationOid: 16384, key }
    )

    golden(
      "Delete with an old tuple",
      v1,
      bytes(0x44, i32(16384), 0x4f, tupleWire),
      { _tag: "Delete", relationOid: 16384, oldTuple: tuple }
    )

    golden(
      "Truncate",
      v1,
      bytes(
        0x54, // Byte1('T')
        i32(2), // Int32 number of relations
        3, // Int8 options: CASCADE | RESTART IDENTITY
        i32(16384), // Int32 relation OID
        i32(16390) // Int32 relation OID
      ),
      { _tag: "Truncate", options: 3, relationOids: [16384, 16390] }
    )

    golden(
      "Truncate (inside a stream)",
      v2s,
      bytes(0x54, i32(77), i32(1), 0, i32(16384)),
      { _tag: "Truncate", xid: 77, options: 0, relationOids: [16384] }
    )

    golden(
      "StreamStart",
      v2,
      bytes(
        0x53, // Byte1('S')
        i32(900), // Int32 xid
        1 // Int8 first segment
      ),
      { _tag: "StreamStart", xid: 900, firstSegment: true }
    )

    golden("StreamStop", v2s, bytes(0x45), { _tag: "StreamStop" }) // Byte1('E')

    golden(
      "StreamCommit",
      v2,
      bytes(
        0x63, // Byte1('c')
        i32(900), // Int32 xid
        0, // Int8 flags
        i64(0x5000n), // Int64 commit LSN
        i64(0x5040n), // Int64 end LSN
        i64(123n) // Int64 commit timestamp
      ),
      { _tag: "StreamCommit", xid: 900, flags: 0, commitLsn: 0x5000n, endLsn: 0x5040n, commitTimestamp: 123n }
    )

    golden(
      "StreamAbort",
      v2,
      bytes(
        0x41, // Byte1('A')
        i32(900), // Int32 xid
        i32(901) // Int32 subtransaction xid
      ),
      { _tag: "StreamAbort", xid: 900, subXid: 901 }
    )

    golden(
      "StreamAbort with parallel streaming (proto_version 4)",
      v4,
      bytes(
        0x41, // Byte1('A')
        i32(900), // Int32 xid
        i32(900), // Int32 subtransaction xid (top level)
        i64(0x6000n), // Int64 abort LSN
        i64(456n) // Int64 abort timestamp
      ),
      { _tag: "StreamAbort", xid: 900, subXid: 900, abortLsn: 0x6000n, abortTimestamp: 456n }
    )

    golden(
      "BeginPrepare",
      v3,
      bytes(
        0x62, // Byte1('b')
        i64(0x7000n), // Int64 prepare LSN
        i64(0x7100n), // Int64 end LSN
        i64(1n), // Int64 prepare timestamp
        i32(1000), // Int32 xid
        cstr("tx-1") // String GID
      ),
      { _tag: "BeginPrepare", prepareLsn: 0x7000n, endLsn: 0x7100n, prepareTimestamp: 1n, xid: 1000, gid: "tx-1" }
    )

    golden(
      "Prepare",
      v3,
      bytes(
        0x50, // Byte1('P')
        0, // Int8 flags
        i64(0x7000n), // Int64 prepare LSN
        i64(0x7100n), // Int64 end LSN
        i64(2n), // Int64 prepare timestamp
        i32(1000), // Int32 xid
        cstr("tx-1") // String GID
      ),
      {
        _tag: "Prepare",
        flags: 0,
        prepareLsn: 0x7000n,
        endLsn: 0x7100n,
        prepareTimestamp: 2n,
        xid: 1000,
        gid: "tx-1"
      }
    )

    golden(
      "CommitPrepared",
      v3,
      bytes(
        0x4b, // Byte1('K')
        0, // Int8 flags
        i64(0x8000n), // Int64 commit LSN
        i64(0x8100n), // Int64 end LSN
        i64(3n), // Int64 commit timestamp
        i32(1000), // Int32 xid
        cstr("tx-1") // String GID
      ),
      {
        _tag: "CommitPrepared",
        flags: 0,
        commitLsn: 0x8000n,
        endLsn: 0x8100n,
        commitTimestamp: 3n,
        xid: 1000,
        gid: "tx-1"
      }
    )

    golden(
      "RollbackPrepared",
      v3,
      bytes(
        0x72, // Byte1('r')
        0, // Int8 flags
        i64(0x7100n), // Int64 end LSN of the prepared transaction
        i64(0x9000n), // Int64 end LSN of the rollback
        i64(2n), // Int64 prepare timestamp
        i64(4n), // Int64 rollback timestamp
        i32(1000), // Int32 xid
        cstr("tx-1") // String GID
      ),
      {
        _tag: "RollbackPrepared",
        flags: 0,
        prepareEndLsn: 0x7100n,
        rollbackEndLsn: 0x9000n,
        prepareTimestamp: 2n,
        rollbackTimestamp: 4n,
        xid: 1000,
        gid: "tx-1"
      }
    )

    golden(
      "StreamPrepare",
      v3,
      bytes(
        0x70, // Byte1('p')
        0, // Int8 flags
        i64(0x7000n), // Int64 prepare LSN
        i64(0x7100n), // Int64 end LSN
        i64(5n), // Int64 prepare timestamp
        i32(1001), // Int32 xid
        cstr("tx-2") // String GID
      ),
      {
        _tag: "StreamPrepare",
        flags: 0,
        prepareLsn: 0x7000n,
        endLsn: 0x7100n,
        prepareTimestamp: 5n,
        xid: 1001,
        gid: "tx-2"
      }
    )
  })

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

  describe("helpers", () => {
    it("isKeyColumn and isTransactional read bit 0 of the flags", () => {
      assert.isTrue(PgOutput.isKeyColumn({ flags: 1, name: "a", typeOid: 23, typeModifier: -1 }))
      assert.isFalse(PgOutput.isKeyColumn({ flags: 0, name: "a", typeOid: 23, typeModifier: -1 }))
      assert.isTrue(PgOutput.isTransactional({ _tag: "Message", flags: 1, lsn: 0n, prefix: "", content: u8("") }))
    })

    it("decodes the data of an XLogData without copying", () => {
      const payload = bytes(0x77, i64(1n), i64(2n), i64(3n), 0x49, i32(5), 0x4e, i16(1), 0x74, i32(1), str("x"))
      const xlog = Result.getOrThrow(Replication.decode(payload))
      assert.strictEqual(xlog._tag, "XLogData")
      if (xlog._tag !== "XLogData") return
      const insert = decodeOk(xlog.data, v1)
      assert.strictEqual(insert._tag, "Insert")
      if (insert._tag === "Insert") {
        const column = insert.newTuple[0]!
        assert.strictEqual(column.kind, "text")
        if (column.kind === "text") assert.strictEqual(column.value.buffer, payload.buffer)
      }
    })

    it("per-message codecs work with Message.fromBytes", () => {
      const codec = PgOutput.codecs(v2s).Insert
      const m: PgOutput.Insert = { _tag: "Insert", xid: 1, relationOid: 2, newTuple: [{ kind: "null" }] }
      const wire = Result.getOrThrow(Message.encodeFrame(codec, m))
      assert.deepStrictEqual(wire, bytes(0x49, i32(1), i32(2), 0x4e, i16(1), 0x6e))
      assert.deepStrictEqual(Result.getOrThrow(Message.decodeFrame(codec, wire)), m)
      assert.strictEqual(PgOutput.codecs(v2s), PgOutput.codecs({ protoVersion: 2, inStream: true }))
      assert.isTrue(Result.isFailure(Message.decodeFrame(PgOutput.codecs(v1).StreamStop, bytes(0x45))))
    })
  })

  describe("Schema round trips", () => {
    const streamXidTags = new Set(["Message", "Relation", "Type", "Insert", "Update", "Delete", "Truncate"])
    const minVersion = (m: PgOutput.LogicalReplicationMessage): PgOutput.ProtoVersion => {
      switch (m._tag) {
        case "StreamAbort":
          return m.abortLsn !== undefined ? 4 : 2
        case "StreamStart":
        case "StreamStop":
        case "StreamCommit":
          return 2
        case "BeginPrepare":
        case "Prepare":
        case "CommitPrepared":
        case "RollbackPrepared":
        case "StreamPrepare":
          return 3
        default:
          return streamXidTags.has(m._tag) && "xid" in m && m.xid !== undefined ? 2 : 1
      }
    }
    /** The smallest context the message is valid in, and proto_version 4 with the same stream state. */
    const contextsFor = (m: PgOutput.LogicalReplicationMessage): ReadonlyArray<PgOutput.Context> => {
      const inStream = streamXidTags.has(m._tag) && "xid" in m && m.xid !== undefined
      return [{ protoVersion: minVersion(m), inStream }, { protoVersion: 4, inStream }]
    }

    const schemas = [
      ["Begin", PgOutput.BeginSchema],
      ["Message", PgOutput.MessageSchema],
      ["Commit", PgOutput.CommitSchema],
      ["Origin", PgOutput.OriginSchema],
      ["Relation", PgOutput.RelationSchema],
      ["Type", PgOutput.TypeSchema],
      ["Insert", PgOutput.InsertSchema],
      ["Update", PgOutput.UpdateSchema],
      ["Delete", PgOutput.DeleteSchema],
      ["Truncate", PgOutput.TruncateSchema],
      ["StreamStart", PgOutput.StreamStartSchema],
      ["StreamStop", PgOutput.StreamStopSchema],
      ["StreamCommit", PgOutput.StreamCommitSchema],
      ["StreamAbort", PgOutput.StreamAbortSchema],
      ["BeginPrepare", PgOutput.BeginPrepareSchema],
      ["Prepare", PgOutput.PrepareSchema],
      ["CommitPrepared", PgOutput.CommitPreparedSchema],
      ["RollbackPrepared", PgOutput.RollbackPreparedSchema],
      ["StreamPrepare", PgOutput.StreamPrepareSchema]
    ] as const

    for (const [tag, schema] of schemas) {
      it.effect.prop(`${tag}: encode then decode is the identity, and so is decode then encode`, [
        schema as Schema.Codec<PgOutput.LogicalReplicationMessage>
      ], ([m]) =>
        Effect.gen(function*() {
          assert.strictEqual(m._tag, tag)
          for (const ctx of contextsFor(m)) {
            const fromBytes = PgOutput.MessageFromBytes(ctx)
            const encoded = yield* Schema.encodeEffect(fromBytes)(m)
            const decoded = yield* Schema.decodeUnknownEffect(fromBytes)(encoded)
            assert.deepStrictEqual(decoded, m)
            assert.deepStrictEqual(encodeOk(decoded, ctx), encoded)
          }
        }))
    }
  })

  describe("fuzz", () => {
    const contexts: ReadonlyArray<PgOutput.Context> = [v1, v2, v2s, v3, v4, v4s]
    const samples: ReadonlyArray<[Uint8Array, PgOutput.Context]> = [
      [bytes(0x42, i64(1n), i64(2n), i32(3)), v1],
      [bytes(0x4d, i32(1), 1, i64(2n), cstr("p"), i32(2), 1, 2), v2s],
      [bytes(0x52, i32(1), cstr("s"), cstr("t"), 0x64, i16(1), 1, cstr("c"), i32(23), i32(-1)), v1],
      [bytes(0x49, i32(1), 0x4e, tupleWire), v1],
      [bytes(0x55, i32(1), i32(1), 0x4b, keyWire, 0x4e, tupleWire), v4s],
      [bytes(0x44, i32(1), 0x4f, tupleWire), v1],
      [bytes(0x54, i32(2), 1, i32(1), i32(2)), v1],
      [bytes(0x41, i32(1), i32(1), i64(2n), i64(3n)), v4],
      [bytes(0x72, 0, i64(1n), i64(2n), i64(3n), i64(4n), i32(5), cstr("g")), v3]
    ]

    const check = (input: Uint8Array, ctx: PgOutput.Context): void => {
      const result = PgOutput.decode(input, ctx)
      if (Result.isFailure(result)) {
        assert.instanceOf(result.failure, ProtocolError)
      } else {
        // Whatever decodes must encode back to the very same bytes.
        assert.deepStrictEqual(encodeOk(result.success, ctx), input)
      }
    }

    it("random messages give a message or a typed ProtocolError, never an exception", () => {
      const random = prng(7)
      const types = Object.values(PgOutput.Code)
      for (let i = 0; i < 4000; i++) {
        const length = Math.floor(random() * 64)
        const input = new Uint8Array(length)
        for (let j = 0; j < length; j++) input[j] = random() < 0.3 ? 0 : Math.floor(random() * 256)
        if (length > 0) input[0] = types[Math.floor(random() * types.length)]!
        check(input, contexts[i % contexts.length]!)
      }
    })

    it("mutated valid messages give a message or a typed ProtocolError, never an exception", () => {
      const random = prng(1234)
      for (let i = 0; i < 4000; i++) {
        const [sample, ctx] = samples[i % samples.length]!
        let input = sample.slice()
        const mutations = 1 + Math.floor(random() * 3)
        for (let k = 0; k < mutations; k++) {
          const choice = random()
          if (choice < 0.6 && input.length > 0) {
            input[Math.floor(random() * input.length)] = Math.floor(random() * 256)
          } else if (choice < 0.8) {
            input = input.slice(0, Math.floor(random() * input.length))
          } else {
            const extended = new Uint8Array(input.length + 1)
            extended.set(input)
            extended[input.length] = Math.floor(random() * 256)
            input = extended
          }
        }
        check(input, random() < 0.8 ? ctx : contexts[Math.floor(random() * contexts.length)]!)
      }
    })
  })
})
