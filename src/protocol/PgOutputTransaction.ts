/**
 * The `pgoutput` messages that frame a transaction (protocol-3.2 "Logical
 * Replication Message Formats"): Begin 'B' (final LSN, commit timestamp,
 * xid), Commit 'C' (commit and end LSNs, commit timestamp) and Origin 'O' (the
 * origin a replicated transaction came from, sent after Begin).
 *
 * Re-exported by `PgOutput`, the public module. Not here: streamed
 * transactions (`PgOutputStream`) and two-phase ones (`PgOutputTwoPhase`).
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type { Writer } from "../wire/Writer.ts"
import * as Fields from "./Fields.ts"
import { Code, type Spec } from "./PgOutputSpec.ts"

// ---------------------------------------------------------------------------
// Begin 'B'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const BeginSchema = Schema.TaggedStruct("Begin", {
  /** The final LSN of the transaction. */
  finalLsn: Fields.UInt64,
  /** Commit timestamp (microseconds since 2000-01-01). */
  commitTimestamp: Fields.Int64,
  /** Xid of the transaction. */
  xid: Fields.UInt32
})
/** @since 0.1.0 */
export interface Begin extends Schema.Schema.Type<typeof BeginSchema> {}

export const BeginSpec: Spec<Begin> = {
  name: "Begin",
  type: Code.Begin,
  minVersion: 1,
  schema: BeginSchema,
  read: (r) => {
    const finalLsn = r.uint64()
    const commitTimestamp = r.int64()
    const xid = r.uint32()
    return { _tag: "Begin", finalLsn, commitTimestamp, xid }
  },
  write: (w, m) => {
    w.uint64(m.finalLsn).int64(m.commitTimestamp).uint32(m.xid)
  }
}

// ---------------------------------------------------------------------------
// Commit 'C'
// ---------------------------------------------------------------------------

/**
 * The commit data, in this order on the wire: Commit is just these; Stream
 * Commit sends the xid before them, Commit Prepared the xid and GID after
 * them (PostgreSQL's `proto.c` writes all three the same way).
 */
export const CommitFields = {
  /** Flags; currently unused (0). */
  flags: Fields.Byte1,
  /** The LSN of the commit. */
  commitLsn: Fields.UInt64,
  /** The end LSN of the transaction. */
  endLsn: Fields.UInt64,
  /** Commit timestamp (microseconds since 2000-01-01). */
  commitTimestamp: Fields.Int64
}

/** @since 0.1.0 */
export const CommitSchema = Schema.TaggedStruct("Commit", CommitFields)
/** @since 0.1.0 */
export interface Commit extends Schema.Schema.Type<typeof CommitSchema> {}

/** Writes the commit data (`CommitFields`) of Commit, Stream Commit or Commit Prepared. */
export const writeCommitFields = (w: Writer, m: Omit<Commit, "_tag">): void => {
  w.uint8(m.flags).uint64(m.commitLsn).uint64(m.endLsn).int64(m.commitTimestamp)
}

export const CommitSpec: Spec<Commit> = {
  name: "Commit",
  type: Code.Commit,
  minVersion: 1,
  schema: CommitSchema,
  read: (r) => {
    const flags = r.uint8()
    const commitLsn = r.uint64()
    const endLsn = r.uint64()
    const commitTimestamp = r.int64()
    return { _tag: "Commit", flags, commitLsn, endLsn, commitTimestamp }
  },
  write: writeCommitFields
}

// ---------------------------------------------------------------------------
// Origin 'O'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const OriginSchema = Schema.TaggedStruct("Origin", {
  /** The LSN of the commit on the origin server. */
  commitLsn: Fields.UInt64,
  /** Name of the origin. */
  name: Fields.CString
})
/** @since 0.1.0 */
export interface Origin extends Schema.Schema.Type<typeof OriginSchema> {}

export const OriginSpec: Spec<Origin> = {
  name: "Origin",
  type: Code.Origin,
  minVersion: 1,
  schema: OriginSchema,
  read: (r) => {
    const commitLsn = r.uint64()
    const name = r.cstring()
    return { _tag: "Origin", commitLsn, name }
  },
  write: (w, m) => {
    w.uint64(m.commitLsn).cstring(m.name)
  }
}
