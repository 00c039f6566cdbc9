/**
 * What every `pgoutput` message's layout is built from: the `Context` a
 * reader or writer needs (the bytes do not say it), the type bytes (`Code`),
 * the `Spec` each message gives (minimum protocol version, Schema, reader and
 * writer after the type byte), and the field helpers several messages share
 * (the Xid sent first inside a stream, a field a Schema union marks absent).
 *
 * Re-exported by `PgOutput`, the public module (`Context`, `ContextSchema`,
 * `ProtoVersion`, `Code`); the rest is internal to the `PgOutput*` files.
 * Not here: the messages themselves and the dispatch by type byte
 * (`PgOutput`). Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type { Reader } from "../wire/Reader.ts"
import type { Writer } from "../wire/Writer.ts"
import * as Fields from "./Fields.ts"

// ---------------------------------------------------------------------------
// Context
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const ProtoVersion = Schema.Literals([1, 2, 3, 4])
/** @since 0.1.0 */
export type ProtoVersion = typeof ProtoVersion.Type

/** @since 0.1.0 */
export const ContextSchema = Schema.Struct({
  /** The `proto_version` option given to `START_REPLICATION`. */
  protoVersion: ProtoVersion,
  /** Between a StreamStart and the next StreamStop (protocol version 2 and later). */
  inStream: Schema.Boolean
})

/**
 * What a reader or writer must know that the bytes do not say.
 *
 * @since 0.1.0
 */
export interface Context extends Schema.Schema.Type<typeof ContextSchema> {}

/**
 * Type bytes of the logical replication messages.
 *
 * @since 0.1.0
 */
export const Code = {
  Begin: 0x42, // 'B'
  Message: 0x4d, // 'M'
  Commit: 0x43, // 'C'
  Origin: 0x4f, // 'O'
  Relation: 0x52, // 'R'
  Type: 0x59, // 'Y'
  Insert: 0x49, // 'I'
  Update: 0x55, // 'U'
  Delete: 0x44, // 'D'
  Truncate: 0x54, // 'T'
  StreamStart: 0x53, // 'S'
  StreamStop: 0x45, // 'E'
  StreamCommit: 0x63, // 'c'
  StreamAbort: 0x41, // 'A'
  BeginPrepare: 0x62, // 'b'
  Prepare: 0x50, // 'P'
  CommitPrepared: 0x4b, // 'K'
  RollbackPrepared: 0x72, // 'r'
  StreamPrepare: 0x70 // 'p'
} as const

// ---------------------------------------------------------------------------
// Shared field helpers
// ---------------------------------------------------------------------------

/** The Xid sent first by messages inside a stream (protocol version 2 and later). */
export const readStreamXid = (r: Reader, ctx: Context): number | undefined => (ctx.inStream ? r.uint32() : undefined)

export const writeStreamXid = (w: Writer, xid: number | undefined, ctx: Context, name: string): void => {
  if (ctx.inStream) {
    if (xid === undefined) w.fail(`${name} inside a stream needs the transaction's xid`)
    w.uint32(xid)
  } else if (xid !== undefined) {
    w.fail(`${name} carries an xid only inside a stream`)
  }
}

export const StreamXid = Schema.optionalKey(Fields.UInt32)

/** A field a member of a Schema union does not have. */
export const Absent = Schema.optionalKey(Schema.Never)

/**
 * One message's layout: the minimum protocol version, its reader and its
 * writer (after the type byte).
 */
export interface Spec<A extends { readonly _tag: string }> {
  readonly name: A["_tag"]
  readonly type: number
  readonly minVersion: ProtoVersion
  readonly schema: Schema.Codec<A, A>
  readonly read: (r: Reader, ctx: Context) => A
  readonly write: (w: Writer, m: A, ctx: Context) => void
}
