/**
 * The `pgoutput` messages a transaction's changes arrive as (protocol-3.2
 * "Logical Replication Message Formats"): Insert 'I', Update 'U' and Delete
 * 'D' with their tuples, Truncate 'T', and Message 'M' (what
 * `pg_logical_emit_message` wrote, transactional or not). Inside a stream each
 * carries the transaction's xid first.
 *
 * - Update ('K' key or 'O' old tuple, or neither) and Delete (exactly one) are
 *   Schema unions whose members mark the absent fields `never`.
 * - Reading Insert, Update and Delete is the hot path of a logical replication
 *   consumer: one reader per message, no wrapper.
 *
 * Re-exported by `PgOutput`, the public module. Not here: TupleData and the
 * tuple parts (`PgOutputTuple`), the Relation the OIDs refer to
 * (`PgOutputRelation`). Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Fields from "./Fields.ts"
import { Absent, Code, readStreamXid, type Spec, StreamXid, writeStreamXid } from "./PgOutputSpec.ts"
import {
  expectPart,
  readOldParts,
  readTupleData,
  TUPLE_NEW,
  type TupleData,
  TupleDataSchema,
  writeOldParts,
  writeTupleData
} from "./PgOutputTuple.ts"

// ---------------------------------------------------------------------------
// Message 'M'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const MessageSchema = Schema.TaggedStruct("Message", {
  /** Xid of the transaction (inside a stream only). */
  xid: StreamXid,
  /** Flags: 1 when the logical decoding message is transactional, else 0. */
  flags: Fields.Byte1,
  /** The LSN of the logical decoding message. */
  lsn: Fields.UInt64,
  /** The prefix given to `pg_logical_emit_message`. */
  prefix: Fields.CString,
  /** The content (a view of the decoded buffer). */
  content: Fields.Bytes
})
/**
 * A message written by `pg_logical_emit_message` (sent with `messages = true`).
 *
 * @since 0.1.0
 */
export interface Message extends Schema.Schema.Type<typeof MessageSchema> {}

export const MessageSpec: Spec<Message> = {
  name: "Message",
  type: Code.Message,
  minVersion: 1,
  schema: MessageSchema,
  read: (r, ctx) => {
    const xid = readStreamXid(r, ctx)
    const flags = r.uint8()
    const lsn = r.uint64()
    const prefix = r.cstring()
    const length = r.int32()
    if (length < 0) {
      r.pos -= 4
      r.fail(`negative content length ${length}`)
    }
    const content = r.bytes(length)
    return xid === undefined
      ? { _tag: "Message", flags, lsn, prefix, content }
      : { _tag: "Message", xid, flags, lsn, prefix, content }
  },
  write: (w, m, ctx) => {
    writeStreamXid(w, m.xid, ctx, "Message")
    w.uint8(m.flags).uint64(m.lsn).cstring(m.prefix).int32(m.content.length).bytes(m.content)
  }
}

/**
 * Whether a logical decoding message was emitted as transactional.
 *
 * @since 0.1.0
 */
export const isTransactional = (message: Message): boolean => (message.flags & 1) !== 0

// ---------------------------------------------------------------------------
// Insert 'I'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const InsertSchema = Schema.TaggedStruct("Insert", {
  /** Xid of the transaction (inside a stream only). */
  xid: StreamXid,
  /** OID of the relation (as in the Relation message). */
  relationOid: Fields.UInt32,
  /** The new tuple ('N'). */
  newTuple: TupleDataSchema
})
/** @since 0.1.0 */
export interface Insert extends Schema.Schema.Type<typeof InsertSchema> {}

export const InsertSpec: Spec<Insert> = {
  name: "Insert",
  type: Code.Insert,
  minVersion: 1,
  schema: InsertSchema,
  read: (r, ctx) => {
    const xid = readStreamXid(r, ctx)
    const relationOid = r.uint32()
    expectPart(r, TUPLE_NEW, "new tuple")
    const newTuple = readTupleData(r)
    return xid === undefined
      ? { _tag: "Insert", relationOid, newTuple }
      : { _tag: "Insert", xid, relationOid, newTuple }
  },
  write: (w, m, ctx) => {
    writeStreamXid(w, m.xid, ctx, "Insert")
    w.uint32(m.relationOid).uint8(TUPLE_NEW)
    writeTupleData(w, m.newTuple)
  }
}

// ---------------------------------------------------------------------------
// Update 'U'
// ---------------------------------------------------------------------------

/** Update and Delete while being assembled by a reader, or inspected by a writer. */
interface LooseUpdate {
  _tag: "Update" | "Delete"
  xid?: number
  relationOid: number
  key?: TupleData
  oldTuple?: TupleData
  newTuple?: TupleData
}

const UpdateFields = {
  /** Xid of the transaction (inside a stream only). */
  xid: StreamXid,
  /** OID of the relation (as in the Relation message). */
  relationOid: Fields.UInt32,
  /** 'N': the new tuple. */
  newTuple: TupleDataSchema
}

/**
 * An Update carries at most one of `key` ('K': the old key, when the update
 * changed a replica identity column) and `oldTuple` ('O': the whole old row,
 * with REPLICA IDENTITY FULL); the union makes "both" unrepresentable.
 *
 * @since 0.1.0
 */
export const UpdateSchema = Schema.Union([
  Schema.TaggedStruct("Update", { ...UpdateFields, key: TupleDataSchema, oldTuple: Absent }),
  Schema.TaggedStruct("Update", { ...UpdateFields, key: Absent, oldTuple: TupleDataSchema }),
  Schema.TaggedStruct("Update", { ...UpdateFields, key: Absent, oldTuple: Absent })
])
/** @since 0.1.0 */
export type Update = typeof UpdateSchema.Type

export const UpdateSpec: Spec<Update> = {
  name: "Update",
  type: Code.Update,
  minVersion: 1,
  schema: UpdateSchema,
  read: (r, ctx) => {
    const xid = readStreamXid(r, ctx)
    const relationOid = r.uint32()
    const old = readOldParts(r, false)
    expectPart(r, TUPLE_NEW, "new tuple")
    const newTuple = readTupleData(r)
    const m: LooseUpdate = { _tag: "Update", relationOid, newTuple }
    if (xid !== undefined) m.xid = xid
    if (old.key !== undefined) m.key = old.key
    if (old.oldTuple !== undefined) m.oldTuple = old.oldTuple
    return m as Update
  },
  write: (w, m, ctx) => {
    writeStreamXid(w, m.xid, ctx, "Update")
    const { key, oldTuple } = m as LooseUpdate
    if (key !== undefined && oldTuple !== undefined) w.fail("Update has both a key and an old tuple")
    w.uint32(m.relationOid)
    writeOldParts(w, key, oldTuple)
    w.uint8(TUPLE_NEW)
    writeTupleData(w, m.newTuple)
  }
}

// ---------------------------------------------------------------------------
// Delete 'D'
// ---------------------------------------------------------------------------

const DeleteFields = {
  /** Xid of the transaction (inside a stream only). */
  xid: StreamXid,
  /** OID of the relation (as in the Relation message). */
  relationOid: Fields.UInt32
}

/**
 * A Delete carries exactly one of `key` ('K': the old key, when the replica
 * identity is an index or the primary key) and `oldTuple` ('O': the whole old
 * row, with REPLICA IDENTITY FULL).
 *
 * @since 0.1.0
 */
export const DeleteSchema = Schema.Union([
  Schema.TaggedStruct("Delete", { ...DeleteFields, key: TupleDataSchema, oldTuple: Absent }),
  Schema.TaggedStruct("Delete", { ...DeleteFields, key: Absent, oldTuple: TupleDataSchema })
])
/** @since 0.1.0 */
export type Delete = typeof DeleteSchema.Type

export const DeleteSpec: Spec<Delete> = {
  name: "Delete",
  type: Code.Delete,
  minVersion: 1,
  schema: DeleteSchema,
  read: (r, ctx) => {
    const xid = readStreamXid(r, ctx)
    const relationOid = r.uint32()
    const old = readOldParts(r, true)
    const m: LooseUpdate = { _tag: "Delete", relationOid }
    if (xid !== undefined) m.xid = xid
    if (old.key !== undefined) m.key = old.key
    if (old.oldTuple !== undefined) m.oldTuple = old.oldTuple
    return m as Delete
  },
  write: (w, m, ctx) => {
    writeStreamXid(w, m.xid, ctx, "Delete")
    const { key, oldTuple } = m as LooseUpdate
    if ((key === undefined) === (oldTuple === undefined)) w.fail("Delete needs exactly one of a key and an old tuple")
    w.uint32(m.relationOid)
    writeOldParts(w, key, oldTuple)
  }
}

// ---------------------------------------------------------------------------
// Truncate 'T'
// ---------------------------------------------------------------------------

/**
 * Option bits of a Truncate.
 *
 * @since 0.1.0
 */
export const TruncateOption = {
  Cascade: 1,
  RestartIdentity: 2
} as const

/** @since 0.1.0 */
export const TruncateSchema = Schema.TaggedStruct("Truncate", {
  /** Xid of the transaction (inside a stream only). */
  xid: StreamXid,
  /** Option bits: 1 CASCADE, 2 RESTART IDENTITY (`TruncateOption`). */
  options: Fields.Byte1,
  /** OIDs of the truncated relations. */
  relationOids: Schema.Array(Fields.UInt32)
})
/** @since 0.1.0 */
export interface Truncate extends Schema.Schema.Type<typeof TruncateSchema> {}

export const TruncateSpec: Spec<Truncate> = {
  name: "Truncate",
  type: Code.Truncate,
  minVersion: 1,
  schema: TruncateSchema,
  read: (r, ctx) => {
    const xid = readStreamXid(r, ctx)
    const n = r.count32("relation", 4)
    const options = r.uint8()
    const relationOids: Array<number> = new Array(n)
    for (let i = 0; i < n; i++) relationOids[i] = r.uint32()
    return xid === undefined
      ? { _tag: "Truncate", options, relationOids }
      : { _tag: "Truncate", xid, options, relationOids }
  },
  write: (w, m, ctx) => {
    writeStreamXid(w, m.xid, ctx, "Truncate")
    w.int32(m.relationOids.length).uint8(m.options)
    for (const oid of m.relationOids) w.uint32(oid)
  }
}
