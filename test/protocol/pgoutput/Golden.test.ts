/**
 * pgoutput messages as they are on the wire: the golden bytes of every
 * message kind in both directions (in and out of a stream, per
 * proto_version), and the helpers around them: the flag readers, decoding an
 * XLogData's data without copying, the per-message codecs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as Message from "../../../src/protocol/Message.ts"
import * as PgOutput from "../../../src/protocol/PgOutput.ts"
import * as Replication from "../../../src/protocol/Replication.ts"
import { bytes, cstr, decodeOk, encodeOk, i16, i32, i64, key, keyWire, str, tuple, tupleWire, u8, v1, v2, v2s, v3, v4, v4s } from "./Support.ts"


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
})
