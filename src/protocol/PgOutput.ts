/**
 * Logical replication messages of the built-in `pgoutput` plugin, protocol
 * versions 1 to 4 (protocol-3.2 "Logical Replication Message Formats" and
 * "Logical Streaming Replication Parameters"). Each message is the `data` of
 * one `Replication.XLogData`.
 *
 * **Details**
 *
 * - `_tag`s are the documentation's headings without spaces: `Begin`,
 *   `Message`, `Commit`, `Origin`, `Relation`, `Type`, `Insert`, `Update`,
 *   `Delete`, `Truncate`, `StreamStart`, `StreamStop`, `StreamCommit`,
 *   `StreamAbort`, `BeginPrepare`, `Prepare`, `CommitPrepared`,
 *   `RollbackPrepared`, `StreamPrepare`. Fields are the documented
 *   descriptions in camelCase (`finalLsn`, `commitTimestamp`, `xid`, ...).
 * - The layout of some messages depends on state the bytes do not carry, so
 *   every read and write takes a `Context`: `protoVersion` (the `proto_version`
 *   option given to `START_REPLICATION`) and `inStream` (the caller tracks
 *   StreamStart / StreamStop). Inside a stream, Message, Relation, Type,
 *   Insert, Update, Delete and Truncate carry the transaction's `xid` first;
 *   outside they do not. Stream messages need `protoVersion >= 2`, the
 *   two-phase messages `>= 3`, and Stream Abort's abort LSN and timestamp
 *   (sent only with `streaming = parallel`) `>= 4`; whether they are present
 *   is read from the message length, which the enclosing XLogData fixes.
 * - Encoding is symmetric: a message whose optional fields do not match the
 *   context (an `xid` outside a stream, none inside) is refused, never written
 *   in a shape the reader would take for something else.
 * - Update ('K' key or 'O' old tuple, or neither), Delete (exactly one) and
 *   Stream Abort (abort LSN and timestamp together, or neither) are Schema
 *   unions whose members mark the absent fields `never`, so impossible
 *   combinations cannot be built and arbitraries generate only valid ones.
 * - TupleData columns are `null`, `unchangedToast` (the value was not sent),
 *   `text` or `binary`; values are views of the decoded buffer, in the format
 *   the column kind says (text in the connection's client encoding). Turning
 *   them into JavaScript values is the types layer's job, using the Relation
 *   message's column type OIDs.
 * - "Flags" fields are kept as the raw byte (`flags`), so bits added by later
 *   servers survive a round trip; `isKeyColumn` and `isTransactional` read the
 *   documented bit.
 *
 * This module is the public one: the union of every message and the dispatch
 * by type byte under a context (`readUnsafe`, `writeUnsafe`, `decode`,
 * `encode`, `MessageFromBytes`, `codecs`). The messages live by concept and
 * are re-exported here under their names: `PgOutputSpec` (the `Context`, the
 * type bytes, each message's spec), `PgOutputTuple` (TupleData and the 'N',
 * 'K', 'O' parts), `PgOutputRelation` (Relation, Type), `PgOutputChanges`
 * (Insert, Update, Delete, Truncate, Message), `PgOutputTransaction` (Begin,
 * Commit, Origin), `PgOutputStream` (Stream Start, Stop, Commit, Abort) and
 * `PgOutputTwoPhase` (Begin Prepare, Prepare, Commit Prepared, Rollback
 * Prepared, Stream Prepare).
 *
 * Not here: the message flow (which message may follow which), the relation
 * and type caches the protocol expects the client to keep, and the
 * `START_REPLICATION` options. Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { ProtocolError } from "../errors/PgError.ts"
import { Reader } from "../wire/Reader.ts"
import { Writer } from "../wire/Writer.ts"
import * as MessageCodec from "./Message.ts"
import {
  type Delete,
  DeleteSpec,
  type Insert,
  InsertSpec,
  type Message,
  MessageSpec,
  type Truncate,
  TruncateSpec,
  type Update,
  UpdateSpec
} from "./PgOutputChanges.ts"
import { type Relation, RelationSpec, type Type, TypeSpec } from "./PgOutputRelation.ts"
import { type Context, type Spec } from "./PgOutputSpec.ts"
import {
  type StreamAbort,
  StreamAbortSpec,
  type StreamCommit,
  StreamCommitSpec,
  type StreamStart,
  StreamStartSpec,
  type StreamStop,
  StreamStopSpec
} from "./PgOutputStream.ts"
import {
  type Begin,
  BeginSpec,
  type Commit,
  CommitSpec,
  type Origin,
  OriginSpec
} from "./PgOutputTransaction.ts"
import {
  type BeginPrepare,
  BeginPrepareSpec,
  type CommitPrepared,
  CommitPreparedSpec,
  type Prepare,
  PrepareSpec,
  type RollbackPrepared,
  RollbackPreparedSpec,
  type StreamPrepare,
  StreamPrepareSpec
} from "./PgOutputTwoPhase.ts"

// ---------------------------------------------------------------------------
// Context and type bytes (in PgOutputSpec.ts)
// ---------------------------------------------------------------------------

export {
  /** @since 0.1.0 */
  Code,
  /** @since 0.1.0 */
  type Context,
  /** @since 0.1.0 */
  ContextSchema,
  /** @since 0.1.0 */
  ProtoVersion
} from "./PgOutputSpec.ts"

// ---------------------------------------------------------------------------
// TupleData (in PgOutputTuple.ts)
// ---------------------------------------------------------------------------

export {
  /** @since 0.1.0 */
  type TupleColumn,
  /** @since 0.1.0 */
  TupleColumnSchema,
  /** @since 0.1.0 */
  type TupleData,
  /** @since 0.1.0 */
  TupleDataSchema
} from "./PgOutputTuple.ts"

// ---------------------------------------------------------------------------
// Relation 'R' and Type 'Y' (in PgOutputRelation.ts)
// ---------------------------------------------------------------------------

export {
  /** @since 0.1.0 */
  isKeyColumn,
  /** @since 0.1.0 */
  type Relation,
  /** @since 0.1.0 */
  type RelationColumn,
  /** @since 0.1.0 */
  RelationColumnSchema,
  /** @since 0.1.0 */
  RelationSchema,
  /** @since 0.1.0 */
  ReplicaIdentity,
  /** @since 0.1.0 */
  type Type,
  /** @since 0.1.0 */
  TypeSchema
} from "./PgOutputRelation.ts"

// ---------------------------------------------------------------------------
// Row changes and logical decoding messages (in PgOutputChanges.ts)
// ---------------------------------------------------------------------------

export {
  /** @since 0.1.0 */
  type Delete,
  /** @since 0.1.0 */
  DeleteSchema,
  /** @since 0.1.0 */
  type Insert,
  /** @since 0.1.0 */
  InsertSchema,
  /** @since 0.1.0 */
  isTransactional,
  /** @since 0.1.0 */
  type Message,
  /** @since 0.1.0 */
  MessageSchema,
  /** @since 0.1.0 */
  type Truncate,
  /** @since 0.1.0 */
  TruncateOption,
  /** @since 0.1.0 */
  TruncateSchema,
  /** @since 0.1.0 */
  type Update,
  /** @since 0.1.0 */
  UpdateSchema
} from "./PgOutputChanges.ts"

// ---------------------------------------------------------------------------
// Begin 'B', Commit 'C', Origin 'O' (in PgOutputTransaction.ts)
// ---------------------------------------------------------------------------

export {
  /** @since 0.1.0 */
  type Begin,
  /** @since 0.1.0 */
  BeginSchema,
  /** @since 0.1.0 */
  type Commit,
  /** @since 0.1.0 */
  CommitSchema,
  /** @since 0.1.0 */
  type Origin,
  /** @since 0.1.0 */
  OriginSchema
} from "./PgOutputTransaction.ts"

// ---------------------------------------------------------------------------
// Streamed transactions (in PgOutputStream.ts)
// ---------------------------------------------------------------------------

export {
  /** @since 0.1.0 */
  type StreamAbort,
  /** @since 0.1.0 */
  StreamAbortSchema,
  /** @since 0.1.0 */
  type StreamCommit,
  /** @since 0.1.0 */
  StreamCommitSchema,
  /** @since 0.1.0 */
  type StreamStart,
  /** @since 0.1.0 */
  StreamStartSchema,
  /** @since 0.1.0 */
  type StreamStop,
  /** @since 0.1.0 */
  StreamStopSchema
} from "./PgOutputStream.ts"

// ---------------------------------------------------------------------------
// Two-phase transactions (in PgOutputTwoPhase.ts)
// ---------------------------------------------------------------------------

export {
  /** @since 0.1.0 */
  type BeginPrepare,
  /** @since 0.1.0 */
  BeginPrepareSchema,
  /** @since 0.1.0 */
  type CommitPrepared,
  /** @since 0.1.0 */
  CommitPreparedSchema,
  /** @since 0.1.0 */
  type Prepare,
  /** @since 0.1.0 */
  PrepareSchema,
  /** @since 0.1.0 */
  type RollbackPrepared,
  /** @since 0.1.0 */
  RollbackPreparedSchema,
  /** @since 0.1.0 */
  type StreamPrepare,
  /** @since 0.1.0 */
  StreamPrepareSchema
} from "./PgOutputTwoPhase.ts"

// ---------------------------------------------------------------------------
// The union
// ---------------------------------------------------------------------------

/**
 * Every `pgoutput` message.
 *
 * @since 0.1.0
 */
export type LogicalReplicationMessage =
  | Begin
  | Message
  | Commit
  | Origin
  | Relation
  | Type
  | Insert
  | Update
  | Delete
  | Truncate
  | StreamStart
  | StreamStop
  | StreamCommit
  | StreamAbort
  | BeginPrepare
  | Prepare
  | CommitPrepared
  | RollbackPrepared
  | StreamPrepare

type AnySpec = Spec<any>

const specs: ReadonlyArray<AnySpec> = [
  BeginSpec,
  MessageSpec,
  CommitSpec,
  OriginSpec,
  RelationSpec,
  TypeSpec,
  InsertSpec,
  UpdateSpec,
  DeleteSpec,
  TruncateSpec,
  StreamStartSpec,
  StreamStopSpec,
  StreamCommitSpec,
  StreamAbortSpec,
  BeginPrepareSpec,
  PrepareSpec,
  CommitPreparedSpec,
  RollbackPreparedSpec,
  StreamPrepareSpec
]

/**
 * The Schema of every message: each message's own Schema, in the order of the
 * union above.
 *
 * @since 0.1.0
 */
export const LogicalReplicationMessageSchema: Schema.Codec<LogicalReplicationMessage, LogicalReplicationMessage> =
  Schema.Union(specs.map((spec) => spec.schema))

const specByType: Array<AnySpec | undefined> = new Array(256).fill(undefined)
for (const spec of specs) specByType[spec.type] = spec
const specByTag: Record<string, AnySpec> = Object.fromEntries(specs.map((s) => [s.name, s]))

/** Returns why `ctx` is not a valid context, or `undefined`. */
const contextProblem = (ctx: Context): string | undefined => {
  const v = ctx.protoVersion
  if (v !== 1 && v !== 2 && v !== 3 && v !== 4) return `proto_version ${String(v)} is not 1, 2, 3 or 4`
  if (ctx.inStream && v < 2) return "streamed transactions need proto_version 2 or later"
  return undefined
}

const versionProblem = (spec: AnySpec, ctx: Context): string | undefined =>
  ctx.protoVersion < spec.minVersion
    ? `${spec.name} needs proto_version ${spec.minVersion} or later (the context says ${ctx.protoVersion})`
    : undefined

/**
 * Reads one message that fills the rest of `r` (an XLogData's `data`),
 * dispatching on its type byte. Offsets in errors count from the byte after
 * the type. Throws `ProtocolError` ("Unsafe").
 *
 * @since 0.1.0
 */
export const readUnsafe = (r: Reader, ctx: Context): LogicalReplicationMessage => {
  const start = r.pos
  const contextError = contextProblem(ctx)
  if (contextError !== undefined) r.fail(contextError)
  const type = r.uint8()
  const spec = specByType[type]
  if (spec === undefined) {
    r.pos = start
    r.fail(`unknown logical replication message type 0x${type.toString(16).padStart(2, "0")}`)
  }
  const versionError = versionProblem(spec, ctx)
  r.reset(r.buf, r.pos, r.end, spec.name)
  if (versionError !== undefined) r.fail(versionError)
  const message = spec.read(r, ctx)
  r.done()
  return message
}

/**
 * Writes one message (type byte and body) into `w`. Throws `ProtocolError`
 * ("Unsafe") when the message cannot be written under `ctx`.
 *
 * @since 0.1.0
 */
export const writeUnsafe = (w: Writer, message: LogicalReplicationMessage, ctx: Context): void => {
  const spec = specByTag[message._tag]
  if (spec === undefined) w.fail(`${(message as { _tag: string })._tag} is not a logical replication message`)
  const problem = contextProblem(ctx) ?? versionProblem(spec, ctx)
  if (problem !== undefined) w.fail(problem)
  w.uint8(spec.type)
  spec.write(w, message, ctx)
}

const sharedReader = new Reader()
const scratchWriter = new Writer()

/**
 * Decodes the message in `buf[start, end)` (e.g. an XLogData's `data`)
 * without copying it.
 *
 * @since 0.1.0
 */
export const decodeView = (
  buf: Uint8Array,
  start: number,
  end: number,
  ctx: Context
): Result.Result<LogicalReplicationMessage, ProtocolError> => {
  const r = sharedReader.reset(buf, start, end, "LogicalReplicationMessage")
  try {
    return Result.succeed(readUnsafe(r, ctx))
  } catch (e) {
    if (e instanceof ProtocolError) return Result.fail(e)
    return Result.fail(new ProtocolError({ message: `${r.messageName}: ${String(e)}`, messageName: r.messageName }))
  }
}

/**
 * Decodes one `pgoutput` message under `ctx`.
 *
 * **Details**
 *
 * Byte fields of the result (TupleData values, Message content) are views of
 * `bytes`.
 *
 * @since 0.1.0
 */
export const decode = (bytes: Uint8Array, ctx: Context): Result.Result<LogicalReplicationMessage, ProtocolError> =>
  decodeView(bytes, 0, bytes.length, ctx)

/**
 * Encodes one `pgoutput` message under `ctx` as fresh bytes (the `data` of an
 * XLogData).
 *
 * @since 0.1.0
 */
export const encode = (
  message: LogicalReplicationMessage,
  ctx: Context
): Result.Result<Uint8Array, ProtocolError> => {
  try {
    writeUnsafe(scratchWriter, message, ctx)
    return Result.succeed(scratchWriter.flushCopy())
  } catch (e) {
    // Drop the half-written message so it never leaks into a later one.
    scratchWriter.flush()
    if (e instanceof ProtocolError) return Result.fail(e)
    return Result.fail(new ProtocolError({ message: `${message._tag}: ${String(e)}`, messageName: message._tag }))
  }
}

const contextKey = (ctx: Context): string => `${ctx.protoVersion}:${ctx.inStream}`

const fromBytesCache = new Map<string, ReturnType<typeof makeFromBytes>>()

const makeFromBytes = (ctx: Context) =>
  MessageCodec.fromBytesWith({
    expected: `a pgoutput message (proto_version ${ctx.protoVersion}${ctx.inStream ? ", in a stream" : ""})`,
    schema: LogicalReplicationMessageSchema,
    decode: (bytes) => decode(bytes, ctx),
    encode: (message) => encode(message, ctx)
  })

/**
 * The Schema transformation between an XLogData's `data` and a `pgoutput`
 * message under `ctx` (one Schema per context, cached).
 *
 * @since 0.1.0
 */
export const MessageFromBytes = (ctx: Context) => {
  const key = contextKey(ctx)
  let schema = fromBytesCache.get(key)
  if (schema === undefined) {
    schema = makeFromBytes({ protoVersion: ctx.protoVersion, inStream: ctx.inStream })
    fromBytesCache.set(key, schema)
  }
  return schema
}

/**
 * Every message as a `Message.Codec` under `ctx` (payload framing), keyed by
 * `_tag`, for per-message use (`Message.fromBytes(PgOutput.codecs(ctx).Insert)`).
 * One record per context, cached.
 *
 * @since 0.1.0
 */
export const codecs = (ctx: Context): Codecs => {
  const key = contextKey(ctx)
  let record = codecsCache.get(key)
  if (record === undefined) {
    const fixed: Context = { protoVersion: ctx.protoVersion, inStream: ctx.inStream }
    const problem = contextProblem(fixed)
    const entries = specs.map((spec) => [
      spec.name,
      MessageCodec.make({
        name: spec.name,
        framing: "payload",
        type: spec.type,
        schema: spec.schema,
        readBody: (r) => {
          const p = problem ?? versionProblem(spec, fixed)
          if (p !== undefined) r.fail(p)
          return spec.read(r, fixed)
        },
        writeBody: (w, m) => {
          const p = problem ?? versionProblem(spec, fixed)
          if (p !== undefined) w.fail(p)
          spec.write(w, m, fixed)
        }
      })
    ])
    record = Object.fromEntries(entries) as Codecs
    codecsCache.set(key, record)
  }
  return record
}

/**
 * The per-message codecs under one context.
 *
 * @since 0.1.0
 */
export type Codecs = {
  readonly [M in LogicalReplicationMessage as M["_tag"]]: MessageCodec.Codec<M>
}

const codecsCache = new Map<string, Codecs>()
