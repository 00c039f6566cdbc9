/**
 * Typed logical changes: `pgoutput` messages turned into what a consumer
 * needs (decoded rows keyed by column name, the relation each change belongs
 * to, and an `ack` on every message that ends something acknowledgeable).
 *
 * **Details**
 *
 * - Values are decoded through the type registry by the Relation's column
 *   type OIDs, in the format the server sent (text, or binary with
 *   `binary: true`); a type the registry does not know stays text (or bytes).
 *   A TOASTed value the server did not send is the `Unchanged` marker, never
 *   null or undefined. With a Schema for a table, its rows are decoded by it.
 * - The relation cache is per connection. A Relation message that changes a
 *   relation already seen is delivered as `RelationChanged` (schema changes are
 *   visible); Relation and Type messages inside a streamed transaction belong
 *   to it and are applied only when it commits (REPLICATION.md fact 8).
 * - Streamed in-progress transactions (proto_version 2+, `streaming`) are held
 *   until Stream Commit and delivered as an ordinary Begin ... Commit; a Stream
 *   Abort drops them (the whole transaction, or one subtransaction's changes).
 *   They are held in bounded memory and spilled to a file beyond it
 *   (`HeldTransactions`), and replayed a batch at a time (`drain`), so a
 *   transaction of any size is delivered in bounded memory.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import { CodecError, PgError } from "../errors/PgError.ts"
import * as PgOutput from "../protocol/PgOutput.ts"
import * as Replication from "../protocol/Replication.ts"
import type { Registry } from "../types/Registry.ts"
import { HeldTransactions, type HeldOptions, REPLAY_BATCH_BYTES, type Replay } from "./Held.ts"
import { type RelationInfo, RowDecoder, type Row } from "./Rows.ts"

export { type RelationInfo, type Row, Unchanged } from "./Rows.ts"

const TUPLE_NEW = 0x4e // 'N'

/** @since 0.1.0 */
export interface Begin {
  readonly _tag: "Begin"
  readonly xid: number
  /** The commit's LSN (the transaction's final LSN). */
  readonly finalLsn: bigint
  readonly commitTime: Date
}
/** @since 0.1.0 */
export interface Insert {
  readonly _tag: "Insert"
  readonly relation: RelationInfo
  readonly table: string
  readonly new: Row
}
/** @since 0.1.0 */
export interface Update {
  readonly _tag: "Update"
  readonly relation: RelationInfo
  readonly table: string
  readonly new: Row
  /** The whole old row (REPLICA IDENTITY FULL). */
  readonly old: Row | undefined
  /** The old key, when the update changed it (DEFAULT or INDEX identity): the identity's columns only. */
  readonly key: Row | undefined
}
/** @since 0.1.0 */
export interface Delete {
  readonly _tag: "Delete"
  readonly relation: RelationInfo
  readonly table: string
  /** The whole old row (REPLICA IDENTITY FULL). */
  readonly old: Row | undefined
  /** The old key (DEFAULT or INDEX identity): the identity's columns only. */
  readonly key: Row | undefined
}
/** @since 0.1.0 */
export interface Truncate {
  readonly _tag: "Truncate"
  readonly relations: ReadonlyArray<RelationInfo>
  readonly cascade: boolean
  readonly restartIdentity: boolean
}
/** A `pg_logical_emit_message` message (`messages: true`). @since 0.1.0 */
export interface Message {
  readonly _tag: "Message"
  readonly transactional: boolean
  readonly lsn: bigint
  readonly prefix: string
  readonly content: Uint8Array
}
/** @since 0.1.0 */
export interface Origin {
  readonly _tag: "Origin"
  readonly name: string
  readonly commitLsn: bigint
}
/** A relation seen before was described anew (its columns or identity changed). @since 0.1.0 */
export interface RelationChanged {
  readonly _tag: "RelationChanged"
  readonly relation: RelationInfo
  readonly previous: RelationInfo
}
/** @since 0.1.0 */
export interface Commit {
  readonly _tag: "Commit"
  readonly xid: number
  readonly commitLsn: bigint
  /** What to acknowledge: the end of the commit record. */
  readonly endLsn: bigint
  readonly commitTime: Date
  /** Acknowledges this transaction and everything before it (call it after processing them). */
  readonly ack: Effect.Effect<void>
}
/** @since 0.1.0 */
export interface BeginPrepare {
  readonly _tag: "BeginPrepare"
  readonly xid: number
  readonly gid: string
  readonly prepareLsn: bigint
  readonly endLsn: bigint
  readonly prepareTime: Date
}
/** @since 0.1.0 */
export interface Prepare {
  readonly _tag: "Prepare"
  readonly xid: number
  readonly gid: string
  readonly prepareLsn: bigint
  readonly endLsn: bigint
  readonly prepareTime: Date
  readonly ack: Effect.Effect<void>
}
/** @since 0.1.0 */
export interface CommitPrepared {
  readonly _tag: "CommitPrepared"
  readonly xid: number
  readonly gid: string
  readonly commitLsn: bigint
  readonly endLsn: bigint
  readonly commitTime: Date
  readonly ack: Effect.Effect<void>
}
/** @since 0.1.0 */
export interface RollbackPrepared {
  readonly _tag: "RollbackPrepared"
  readonly xid: number
  readonly gid: string
  readonly prepareEndLsn: bigint
  readonly endLsn: bigint
  readonly rollbackTime: Date
  readonly ack: Effect.Effect<void>
}

/**
 * A chunk of an in-progress transaction starts (`delivery: "inProgress"` only): the changes up to the next
 * `StreamStop` belong to transaction `xid` (or its subtransactions), which may still abort.
 *
 * @since 0.1.0
 */
export interface StreamStart {
  readonly _tag: "StreamStart"
  readonly xid: number
  readonly firstSegment: boolean
}
/** The chunk started by the last `StreamStart` is over (`delivery: "inProgress"` only). @since 0.1.0 */
export interface StreamStop {
  readonly _tag: "StreamStop"
}
/**
 * An in-progress transaction (`xid === subXid`) or one of its subtransactions aborted: drop what was delivered
 * of it (`delivery: "inProgress"` only).
 *
 * @since 0.1.0
 */
export interface StreamAbort {
  readonly _tag: "StreamAbort"
  readonly xid: number
  readonly subXid: number
}
/** An in-progress transaction committed (`delivery: "inProgress"` only); acknowledge it with `ack`. @since 0.1.0 */
export interface StreamCommit {
  readonly _tag: "StreamCommit"
  readonly xid: number
  readonly commitLsn: bigint
  readonly endLsn: bigint
  readonly commitTime: Date
  readonly ack: Effect.Effect<void>
}

/**
 * Every change a logical stream delivers.
 *
 * @since 0.1.0
 */
export type Change =
  | Begin
  | Insert
  | Update
  | Delete
  | Truncate
  | Message
  | Origin
  | RelationChanged
  | Commit
  | BeginPrepare
  | Prepare
  | CommitPrepared
  | RollbackPrepared
  | StreamStart
  | StreamStop
  | StreamAbort
  | StreamCommit

/**
 * The changes that end an acknowledgeable unit.
 *
 * @since 0.1.0
 */
export type Acknowledgeable = Commit | Prepare | CommitPrepared | RollbackPrepared

/**
 * Whether a change carries an `ack`.
 *
 * @since 0.1.0
 */
export const isAcknowledgeable = (change: Change): change is Acknowledgeable =>
  change._tag === "Commit" || change._tag === "Prepare" || change._tag === "CommitPrepared" ||
  change._tag === "RollbackPrepared"

/**
 * Turns `pgoutput` messages into changes, one connection's worth of state.
 *
 * @since 0.1.0
 */
export class Decoder {
  readonly protoVersion: PgOutput.ProtoVersion
  readonly registry: Registry
  readonly tables: Readonly<Record<string, Schema.Decoder<unknown>>>
  readonly ackTo: (endLsn: bigint) => Effect.Effect<void>
  private readonly relations = new Map<number, RelationInfo>()
  /** Between Stream Start and Stream Stop. */
  private inStream = false
  private streamXid = 0
  /** Messages of streamed transactions, by top-level xid, until Stream Commit or Abort. */
  readonly held: HeldTransactions
  /** A streamed transaction being delivered (`drain`), and the change that ends it. */
  private replaying: { readonly replay: Replay; readonly end: Change } | undefined = undefined
  private xid = 0
  private readonly rows: RowDecoder
  /** Deliver streamed chunks as they come (`delivery: "inProgress"`) instead of holding them until commit. */
  readonly inProgress: boolean

  constructor(
    protoVersion: PgOutput.ProtoVersion,
    registry: Registry,
    tables: Readonly<Record<string, Schema.Decoder<unknown>>>,
    ackTo: (endLsn: bigint) => Effect.Effect<void>,
    held: HeldOptions,
    inProgress = false
  ) {
    this.inProgress = inProgress
    this.protoVersion = protoVersion
    this.registry = registry
    this.tables = tables
    this.ackTo = ackTo
    this.held = new HeldTransactions(held)
    this.rows = new RowDecoder(registry, tables)
  }

  /**
   * An Insert (`'I'`, the xid inside a stream, the relation, `'N'`, the new tuple) in `data[start, end)` decoded
   * straight from its bytes, or false for an unknown relation or bytes out of shape (the general path then
   * decodes it and reports the fault).
   */
  private insert(data: Uint8Array, start: number, end: number, inStream: boolean, out: Array<Change>): boolean {
    const p = start + (inStream ? 5 : 1)
    if (end < p + 7) return false
    const oid = ((data[p]! << 24) | (data[p + 1]! << 16) | (data[p + 2]! << 8) | data[p + 3]!) >>> 0
    const relation = this.relations.get(oid)
    if (relation === undefined || data[p + 4] !== TUPLE_NEW) return false
    const row = this.rows.tupleRow(relation, data, p + 5, end)
    if (row === undefined) return false
    out.push({ _tag: "Insert", relation, table: relation.table, new: row })
    return true
  }

  /** Whether a streamed transaction is being delivered: `drain` it before the next `push`. */
  get isReplaying(): boolean {
    return this.replaying !== undefined
  }

  /**
   * Decodes one XLogData payload, `data[start, end)`, appending the changes it yields to `out`. Throws `PgError`
   * or `ReplicationError`. After a Stream Commit or Stream Prepare, `isReplaying` holds until `drain` is done.
   */
  push(data: Uint8Array, start: number, end: number, out: Array<Change>): void {
    const type = data[start]
    if (this.inStream && !this.inProgress && type !== PgOutput.Code.StreamStop && type !== PgOutput.Code.StreamStart) {
      // Held as sent; decoded when the transaction commits.
      return this.held.add(this.streamXid, data.subarray(start, end))
    }
    if (type === PgOutput.Code.Insert && this.insert(data, start, end, false, out)) return
    const decoded = PgOutput.decodeView(data, start, end, { protoVersion: this.protoVersion, inStream: this.inStream })
    if (decoded._tag === "Failure") throw new PgError({ reason: decoded.failure })
    this.apply(decoded.success, out)
  }

  /**
   * Delivers the streamed transaction being replayed, up to `limit` changes (and `REPLAY_BATCH_BYTES` of
   * payloads) in `out`; the change that ends it comes last.
   */
  drain(out: Array<Change>, limit: number): void {
    const r = this.replaying
    if (r === undefined) return
    // A batch also ends after REPLAY_BATCH_BYTES of payloads: the changes of a batch are alive together.
    for (let bytes = 0; out.length < limit && bytes < REPLAY_BATCH_BYTES;) {
      const data = r.replay.next()
      if (data === undefined) {
        this.replaying = undefined
        out.push(r.end)
        return
      }
      bytes += data.length
      if (data[0] === PgOutput.Code.Insert && this.insert(data, 0, data.length, true, out)) continue
      const decoded = PgOutput.decode(data, { protoVersion: this.protoVersion, inStream: true })
      if (decoded._tag === "Failure") throw new PgError({ reason: decoded.failure })
      this.apply(decoded.success, out)
    }
  }

  /** Drops everything held and removes any spill file (the stream ended). */
  close(): void {
    this.replaying?.replay.close()
    this.replaying = undefined
    this.held.close()
  }

  private apply(m: PgOutput.LogicalReplicationMessage, out: Array<Change>): void {
    switch (m._tag) {
      case "Begin":
        return this.begin(m.xid, m.finalLsn, m.commitTimestamp, out)
      case "Commit":
        out.push(this.commitChange(this.xid, m.commitLsn, m.endLsn, m.commitTimestamp))
        return
      case "Relation":
        return this.relation(m, out)
      case "Type":
        return
      case "Insert": {
        const relation = this.relationOf(m.relationOid)
        out.push({ _tag: "Insert", relation, table: relation.table, new: this.rows.row(relation, m.newTuple) })
        return
      }
      case "Update": {
        const relation = this.relationOf(m.relationOid)
        const old = m.oldTuple === undefined ? undefined : this.rows.row(relation, m.oldTuple, true)
        out.push({
          _tag: "Update",
          relation,
          table: relation.table,
          new: this.rows.row(relation, m.newTuple, false, old),
          old,
          key: m.key === undefined ? undefined : this.rows.key(relation, m.key)
        })
        return
      }
      case "Delete": {
        const relation = this.relationOf(m.relationOid)
        out.push({
          _tag: "Delete",
          relation,
          table: relation.table,
          old: m.oldTuple === undefined ? undefined : this.rows.row(relation, m.oldTuple, true),
          key: m.key === undefined ? undefined : this.rows.key(relation, m.key)
        })
        return
      }
      case "Truncate":
        out.push({
          _tag: "Truncate",
          relations: m.relationOids.map((oid) => this.relationOf(oid)),
          cascade: (m.options & PgOutput.TruncateOption.Cascade) !== 0,
          restartIdentity: (m.options & PgOutput.TruncateOption.RestartIdentity) !== 0
        })
        return
      case "Message":
        out.push({
          _tag: "Message",
          transactional: PgOutput.isTransactional(m),
          lsn: m.lsn,
          prefix: m.prefix,
          content: m.content.slice()
        })
        return
      case "Origin":
        out.push({ _tag: "Origin", name: m.name, commitLsn: m.commitLsn })
        return
      case "StreamStart":
        this.inStream = true
        this.streamXid = m.xid
        if (this.inProgress) out.push({ _tag: "StreamStart", xid: m.xid, firstSegment: m.firstSegment })
        return
      case "StreamStop":
        this.inStream = false
        if (this.inProgress) out.push({ _tag: "StreamStop" })
        return
      case "StreamAbort":
        if (this.inProgress) {
          out.push({ _tag: "StreamAbort", xid: m.xid, subXid: m.subXid })
          return
        }
        if (m.xid === m.subXid) this.held.drop(m.xid)
        // Only the subtransaction's data changes go; its Relation and Type messages stay.
        else this.held.abortSub(m.xid, m.subXid)
        return
      case "StreamCommit":
        if (this.inProgress) {
          const { commitLsn, endLsn, xid } = m
          const commitTime = Replication.toDate(m.commitTimestamp)
          out.push({ _tag: "StreamCommit", xid, commitLsn, endLsn, commitTime, ack: this.ackTo(endLsn) })
          return
        }
        this.begin(m.xid, m.commitLsn, m.commitTimestamp, out)
        this.replaying = {
          replay: this.held.replay(m.xid),
          end: this.commitChange(m.xid, m.commitLsn, m.endLsn, m.commitTimestamp)
        }
        return
      case "BeginPrepare":
        return this.beginPrepare(m, out)
      case "StreamPrepare":
      case "Prepare": {
        const endLsn = m.endLsn
        const prepare: Prepare = {
          _tag: "Prepare",
          xid: m.xid,
          gid: m.gid,
          prepareLsn: m.prepareLsn,
          endLsn,
          prepareTime: Replication.toDate(m.prepareTimestamp),
          ack: this.ackTo(endLsn)
        }
        if (m._tag === "StreamPrepare" && this.inProgress) out.push(prepare)
        else if (m._tag === "StreamPrepare") {
          this.beginPrepare(m, out)
          this.replaying = { replay: this.held.replay(m.xid), end: prepare }
        } else out.push(prepare)
        return
      }
      case "CommitPrepared": {
        const endLsn = m.endLsn
        out.push({
          _tag: "CommitPrepared",
          xid: m.xid,
          gid: m.gid,
          commitLsn: m.commitLsn,
          endLsn,
          commitTime: Replication.toDate(m.commitTimestamp),
          ack: this.ackTo(endLsn)
        })
        return
      }
      case "RollbackPrepared": {
        const endLsn = m.rollbackEndLsn
        out.push({
          _tag: "RollbackPrepared",
          xid: m.xid,
          gid: m.gid,
          prepareEndLsn: m.prepareEndLsn,
          endLsn,
          rollbackTime: Replication.toDate(m.rollbackTimestamp),
          ack: this.ackTo(endLsn)
        })
        return
      }
    }
  }

  private begin(xid: number, finalLsn: bigint, timestamp: bigint, out: Array<Change>): void {
    this.xid = xid
    out.push({ _tag: "Begin", xid, finalLsn, commitTime: Replication.toDate(timestamp) })
  }

  private commitChange(xid: number, commitLsn: bigint, endLsn: bigint, timestamp: bigint): Commit {
    return { _tag: "Commit", xid, commitLsn, endLsn, commitTime: Replication.toDate(timestamp), ack: this.ackTo(endLsn) }
  }

  private beginPrepare(m: PgOutput.BeginPrepare | PgOutput.StreamPrepare, out: Array<Change>): void {
    this.xid = m.xid
    out.push({
      _tag: "BeginPrepare",
      xid: m.xid,
      gid: m.gid,
      prepareLsn: m.prepareLsn,
      endLsn: m.endLsn,
      prepareTime: Replication.toDate(m.prepareTimestamp)
    })
  }

  private relation(m: PgOutput.Relation, out: Array<Change>): void {
    const schema = m.namespace === "" ? "pg_catalog" : m.namespace
    const info: RelationInfo = {
      oid: m.relationOid,
      schema,
      name: m.relationName,
      table: `${schema}.${m.relationName}`,
      replicaIdentity: m.replicaIdentity,
      columns: m.columns.map((c) => ({
        name: c.name,
        typeOid: c.typeOid,
        typeModifier: c.typeModifier,
        key: PgOutput.isKeyColumn(c)
      }))
    }
    const previous = this.relations.get(m.relationOid)
    this.relations.set(m.relationOid, info)
    if (previous !== undefined && !sameShape(previous, info)) out.push({ _tag: "RelationChanged", relation: info, previous })
  }

  private relationOf(oid: number): RelationInfo {
    const info = this.relations.get(oid)
    if (info === undefined) {
      throw new PgError({
        reason: new CodecError({ message: `a change of relation ${oid} arrived before its Relation message`, oid })
      })
    }
    return info
  }
}

const sameShape = (a: RelationInfo, b: RelationInfo): boolean =>
  a.table === b.table && a.replicaIdentity === b.replicaIdentity && a.columns.length === b.columns.length &&
  a.columns.every((c, i) => {
    const d = b.columns[i]!
    return c.name === d.name && c.typeOid === d.typeOid && c.typeModifier === d.typeModifier && c.key === d.key
  })
