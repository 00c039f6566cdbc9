/**
 * The `pgoutput` messages of two-phase transactions, protocol version 3 and
 * later (protocol-3.2 "Logical Replication Message Formats"; sent with
 * `two_phase = on`): Begin Prepare 'b', Prepare 'P', Commit Prepared 'K',
 * Rollback Prepared 'r', and Stream Prepare 'p' (a streamed transaction's
 * PREPARE TRANSACTION). Each names the transaction by its xid and its
 * user-defined GID.
 *
 * Re-exported by `PgOutput`, the public module. Pure: no Effect runtime, no
 * IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type { Reader } from "../wire/Reader.ts"
import type { Writer } from "../wire/Writer.ts"
import * as Fields from "./Fields.ts"
import { Code, type Spec } from "./PgOutputSpec.ts"
import { CommitFields, writeCommitFields } from "./PgOutputTransaction.ts"

// ---------------------------------------------------------------------------
// Two-phase messages (protocol version 3)
// ---------------------------------------------------------------------------

/** The transaction's xid and GID, which every two-phase message ends with. */
const PreparedTransactionFields = {
  /** Xid of the transaction. */
  xid: Fields.UInt32,
  /** The user-defined GID of the prepared transaction. */
  gid: Fields.CString
}

/** Begin Prepare's fields, which Prepare and Stream Prepare send after their flags. */
const BeginPrepareFields = {
  /** The LSN of the prepare. */
  prepareLsn: Fields.UInt64,
  /** The end LSN of the prepared transaction. */
  endLsn: Fields.UInt64,
  /** Prepare timestamp (microseconds since 2000-01-01). */
  prepareTimestamp: Fields.Int64,
  ...PreparedTransactionFields
}

/** @since 0.1.0 */
export const BeginPrepareSchema = Schema.TaggedStruct("BeginPrepare", BeginPrepareFields)
/** @since 0.1.0 */
export interface BeginPrepare extends Schema.Schema.Type<typeof BeginPrepareSchema> {}

/** Writes Begin Prepare's fields (Begin Prepare, and Prepare or Stream Prepare after the flags). */
const writeBeginPrepareFields = (w: Writer, m: Omit<BeginPrepare, "_tag">): void => {
  w.uint64(m.prepareLsn).uint64(m.endLsn).int64(m.prepareTimestamp).uint32(m.xid).cstring(m.gid)
}

export const BeginPrepareSpec: Spec<BeginPrepare> = {
  name: "BeginPrepare",
  type: Code.BeginPrepare,
  minVersion: 3,
  schema: BeginPrepareSchema,
  read: (r) => {
    const prepareLsn = r.uint64()
    const endLsn = r.uint64()
    const prepareTimestamp = r.int64()
    const xid = r.uint32()
    const gid = r.cstring()
    return { _tag: "BeginPrepare", prepareLsn, endLsn, prepareTimestamp, xid, gid }
  },
  write: writeBeginPrepareFields
}

/** Prepare and Stream Prepare share one layout: flags, then Begin Prepare's fields. */
const PrepareFields = {
  /** Flags; currently unused (0). */
  flags: Fields.Byte1,
  ...BeginPrepareFields
}

/** @since 0.1.0 */
export const PrepareSchema = Schema.TaggedStruct("Prepare", PrepareFields)
/** @since 0.1.0 */
export interface Prepare extends Schema.Schema.Type<typeof PrepareSchema> {}

/** @since 0.1.0 */
export const StreamPrepareSchema = Schema.TaggedStruct("StreamPrepare", PrepareFields)
/** @since 0.1.0 */
export interface StreamPrepare extends Schema.Schema.Type<typeof StreamPrepareSchema> {}

const readPrepareFields = (r: Reader) => {
  const flags = r.uint8()
  const prepareLsn = r.uint64()
  const endLsn = r.uint64()
  const prepareTimestamp = r.int64()
  const xid = r.uint32()
  const gid = r.cstring()
  return { flags, prepareLsn, endLsn, prepareTimestamp, xid, gid }
}

const writePrepareFields = (w: Writer, m: Prepare | StreamPrepare): void => {
  w.uint8(m.flags)
  writeBeginPrepareFields(w, m)
}

export const PrepareSpec: Spec<Prepare> = {
  name: "Prepare",
  type: Code.Prepare,
  minVersion: 3,
  schema: PrepareSchema,
  read: (r) => ({ _tag: "Prepare", ...readPrepareFields(r) }),
  write: writePrepareFields
}

export const StreamPrepareSpec: Spec<StreamPrepare> = {
  name: "StreamPrepare",
  type: Code.StreamPrepare,
  minVersion: 3,
  schema: StreamPrepareSchema,
  read: (r) => ({ _tag: "StreamPrepare", ...readPrepareFields(r) }),
  write: writePrepareFields
}

/**
 * The commit of a prepared transaction: the commit data of a Commit
 * (`CommitFields`: the LSN and end LSN of the COMMIT PREPARED, its
 * timestamp), then the xid and GID.
 *
 * @since 0.1.0
 */
export const CommitPreparedSchema = Schema.TaggedStruct("CommitPrepared", {
  ...CommitFields,
  ...PreparedTransactionFields
})
/** @since 0.1.0 */
export interface CommitPrepared extends Schema.Schema.Type<typeof CommitPreparedSchema> {}

export const CommitPreparedSpec: Spec<CommitPrepared> = {
  name: "CommitPrepared",
  type: Code.CommitPrepared,
  minVersion: 3,
  schema: CommitPreparedSchema,
  read: (r) => {
    const flags = r.uint8()
    const commitLsn = r.uint64()
    const endLsn = r.uint64()
    const commitTimestamp = r.int64()
    const xid = r.uint32()
    const gid = r.cstring()
    return { _tag: "CommitPrepared", flags, commitLsn, endLsn, commitTimestamp, xid, gid }
  },
  write: (w, m) => {
    writeCommitFields(w, m)
    w.uint32(m.xid).cstring(m.gid)
  }
}

/** @since 0.1.0 */
export const RollbackPreparedSchema = Schema.TaggedStruct("RollbackPrepared", {
  /** Flags; currently unused (0). */
  flags: Fields.Byte1,
  /** The end LSN of the prepared transaction. */
  prepareEndLsn: Fields.UInt64,
  /** The end LSN of the rollback of the prepared transaction. */
  rollbackEndLsn: Fields.UInt64,
  /** Prepare timestamp (microseconds since 2000-01-01). */
  prepareTimestamp: Fields.Int64,
  /** Rollback timestamp (microseconds since 2000-01-01). */
  rollbackTimestamp: Fields.Int64,
  ...PreparedTransactionFields
})
/** @since 0.1.0 */
export interface RollbackPrepared extends Schema.Schema.Type<typeof RollbackPreparedSchema> {}

export const RollbackPreparedSpec: Spec<RollbackPrepared> = {
  name: "RollbackPrepared",
  type: Code.RollbackPrepared,
  minVersion: 3,
  schema: RollbackPreparedSchema,
  read: (r) => {
    const flags = r.uint8()
    const prepareEndLsn = r.uint64()
    const rollbackEndLsn = r.uint64()
    const prepareTimestamp = r.int64()
    const rollbackTimestamp = r.int64()
    const xid = r.uint32()
    const gid = r.cstring()
    return {
      _tag: "RollbackPrepared",
      flags,
      prepareEndLsn,
      rollbackEndLsn,
      prepareTimestamp,
      rollbackTimestamp,
      xid,
      gid
    }
  },
  write: (w, m) => {
    w.uint8(m.flags).uint64(m.prepareEndLsn).uint64(m.rollbackEndLsn)
    w.int64(m.prepareTimestamp).int64(m.rollbackTimestamp).uint32(m.xid).cstring(m.gid)
  }
}
