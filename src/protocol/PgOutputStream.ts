/**
 * The `pgoutput` messages of streamed transactions, protocol version 2 and
 * later (protocol-3.2 "Logical Replication Message Formats"; sent with
 * `streaming = on` or `parallel` once a transaction outgrows
 * `logical_decoding_work_mem`): Stream Start 'S' and Stream Stop 'E' around
 * each segment, then Stream Commit 'c' or Stream Abort 'A'. Stream Abort's
 * abort LSN and timestamp (protocol version 4, `streaming = parallel`) are
 * there or not as the message length says.
 *
 * Re-exported by `PgOutput`, the public module. Not here: Stream Prepare
 * (`PgOutputTwoPhase`), and tracking whether a message is inside a stream
 * (the caller's `Context`). Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type { Reader } from "../wire/Reader.ts"
import * as Fields from "./Fields.ts"
import { Absent, Code, type Context, type Spec } from "./PgOutputSpec.ts"
import { CommitFields, writeCommitFields } from "./PgOutputTransaction.ts"

// ---------------------------------------------------------------------------
// Stream Start 'S' / Stream Stop 'E' (protocol version 2)
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const StreamStartSchema = Schema.TaggedStruct("StreamStart", {
  /** Xid of the transaction. */
  xid: Fields.UInt32,
  /** The first stream segment for this xid. */
  firstSegment: Schema.Boolean
})
/** @since 0.1.0 */
export interface StreamStart extends Schema.Schema.Type<typeof StreamStartSchema> {}

/** A byte that must be 0 or 1. */
const readBoolean = (r: Reader, what: string): boolean => {
  const b = r.uint8()
  if (b > 1) {
    r.pos--
    r.fail(`${what} must be 0 or 1, got ${b}`)
  }
  return b === 1
}

export const StreamStartSpec: Spec<StreamStart> = {
  name: "StreamStart",
  type: Code.StreamStart,
  minVersion: 2,
  schema: StreamStartSchema,
  read: (r) => {
    const xid = r.uint32()
    const firstSegment = readBoolean(r, "first segment flag")
    return { _tag: "StreamStart", xid, firstSegment }
  },
  write: (w, m) => {
    w.uint32(m.xid).uint8(m.firstSegment ? 1 : 0)
  }
}

/** @since 0.1.0 */
export const StreamStopSchema = Schema.TaggedStruct("StreamStop", {})
/** @since 0.1.0 */
export interface StreamStop extends Schema.Schema.Type<typeof StreamStopSchema> {}

const streamStop: StreamStop = { _tag: "StreamStop" }

export const StreamStopSpec: Spec<StreamStop> = {
  name: "StreamStop",
  type: Code.StreamStop,
  minVersion: 2,
  schema: StreamStopSchema,
  read: () => streamStop,
  write: () => {}
}

// ---------------------------------------------------------------------------
// Stream Commit 'c' / Stream Abort 'A' (protocol version 2)
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const StreamCommitSchema = Schema.TaggedStruct("StreamCommit", {
  /** Xid of the transaction. */
  xid: Fields.UInt32,
  ...CommitFields
})
/** @since 0.1.0 */
export interface StreamCommit extends Schema.Schema.Type<typeof StreamCommitSchema> {}

export const StreamCommitSpec: Spec<StreamCommit> = {
  name: "StreamCommit",
  type: Code.StreamCommit,
  minVersion: 2,
  schema: StreamCommitSchema,
  read: (r) => {
    const xid = r.uint32()
    const flags = r.uint8()
    const commitLsn = r.uint64()
    const endLsn = r.uint64()
    const commitTimestamp = r.int64()
    return { _tag: "StreamCommit", xid, flags, commitLsn, endLsn, commitTimestamp }
  },
  write: (w, m) => {
    w.uint32(m.xid)
    writeCommitFields(w, m)
  }
}

const StreamAbortFields = {
  /** Xid of the transaction. */
  xid: Fields.UInt32,
  /** Xid of the subtransaction (equal to `xid` for a top-level transaction). */
  subXid: Fields.UInt32
}

/**
 * The abort LSN and timestamp come together, with protocol version 4 and
 * `streaming = parallel` only.
 *
 * @since 0.1.0
 */
export const StreamAbortSchema = Schema.Union([
  Schema.TaggedStruct("StreamAbort", {
    ...StreamAbortFields,
    /** The LSN of the abort. */
    abortLsn: Fields.UInt64,
    /** Abort timestamp (microseconds since 2000-01-01). */
    abortTimestamp: Fields.Int64
  }),
  Schema.TaggedStruct("StreamAbort", { ...StreamAbortFields, abortLsn: Absent, abortTimestamp: Absent })
])
/** @since 0.1.0 */
export type StreamAbort = typeof StreamAbortSchema.Type

/** Why the abort LSN and timestamp cannot be read or written under `ctx`. */
const abortNeedsVersion4 = (ctx: Context): string =>
  `abort LSN and timestamp need proto_version 4 (the context says ${ctx.protoVersion})`

export const StreamAbortSpec: Spec<StreamAbort> = {
  name: "StreamAbort",
  type: Code.StreamAbort,
  minVersion: 2,
  schema: StreamAbortSchema,
  read: (r, ctx) => {
    const xid = r.uint32()
    const subXid = r.uint32()
    // The abort LSN and timestamp follow only with `streaming = parallel`, an
    // option the bytes do not carry; the XLogData length decides.
    const rest = r.remaining()
    if (rest === 0) return { _tag: "StreamAbort", xid, subXid }
    if (ctx.protoVersion < 4) r.fail(abortNeedsVersion4(ctx))
    const abortLsn = r.uint64()
    const abortTimestamp = r.int64()
    return { _tag: "StreamAbort", xid, subXid, abortLsn, abortTimestamp }
  },
  write: (w, m, ctx) => {
    const { abortLsn, abortTimestamp } = m as { abortLsn?: bigint; abortTimestamp?: bigint }
    if (abortLsn === undefined && abortTimestamp === undefined) {
      w.uint32(m.xid).uint32(m.subXid)
      return
    }
    if (abortLsn === undefined || abortTimestamp === undefined) {
      return w.fail("StreamAbort needs both or neither of abortLsn and abortTimestamp")
    }
    if (ctx.protoVersion < 4) {
      return w.fail(abortNeedsVersion4(ctx))
    }
    w.uint32(m.xid).uint32(m.subXid).uint64(abortLsn).int64(abortTimestamp)
  }
}
