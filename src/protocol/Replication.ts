/**
 * Streaming replication payloads: the messages carried inside CopyData once
 * `START_REPLICATION` (physical or logical) has put the connection in CopyBoth
 * mode (protocol-3.2 "Streaming Replication Protocol"). The public module of
 * replication payloads: it also re-exports `BASE_BACKUP`'s CopyOut payloads
 * (`BaseBackup`) and the LSN, timestamp and transaction id helpers
 * (`ReplicationValues`).
 *
 * **Details**
 *
 * - Each message starts with a one-byte type and runs to the end of the
 *   CopyData body, so the codecs use the `payload` framing of `Message`.
 * - Names are the documentation's headings in PascalCase: `XLogData`,
 *   `PrimaryKeepaliveMessage`, `PrimaryStatusUpdate` (server to client),
 *   `StandbyStatusUpdate`, `HotStandbyFeedbackMessage`,
 *   `RequestPrimaryStatusUpdate` (client to server).
 * - The six `START_REPLICATION` type bytes are distinct across both
 *   directions, so `decode` accepts any of them. `BASE_BACKUP`'s 'p' (progress
 *   report) collides with the client's 'p' (request primary status update)
 *   and its 'd' belongs to a different stream, so base backup payloads are a
 *   family of their own (`PayloadFamily`) with their own `decodeBaseBackup`.
 * - WAL locations (LSNs) are unsigned 64-bit bigints; timestamps are signed
 *   64-bit bigints counting microseconds since 2000-01-01 00:00:00 UTC (the
 *   PostgreSQL epoch). Helpers convert both exactly, to and from text and the
 *   Unix epoch (`ReplicationValues`).
 * - Byte fields (`XLogData.data`, `ArchiveOrManifestData.data`) are views of
 *   the decoded buffer, never copies.
 *
 * Not here: the replication commands themselves (`IDENTIFY_SYSTEM`,
 * `START_REPLICATION`, ...) and their replies, which are ordinary simple-query
 * results; the contents of the WAL stream; logical decoding output
 * (`PgOutput`); timers for status updates (the replication feature owns them).
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { ProtocolError } from "../errors/PgError.ts"
import { Reader } from "../wire/Reader.ts"
import { Writer } from "../wire/Writer.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"
import { decodeWith, encodeWith, type Family, makeTable, readWith } from "./PayloadFamily.ts"

/**
 * Type bytes of the streaming replication payloads.
 *
 * @since 0.1.0
 */
export const Code = {
  XLogData: 0x77, // 'w'
  PrimaryKeepaliveMessage: 0x6b, // 'k'
  PrimaryStatusUpdate: 0x73, // 's'
  StandbyStatusUpdate: 0x72, // 'r'
  HotStandbyFeedbackMessage: 0x68, // 'h'
  RequestPrimaryStatusUpdate: 0x70 // 'p'
} as const

/** A Byte1 that must be 0 or 1 ("1 means that the client should reply"). */
const readFlag = (r: Reader, what: string): boolean => {
  const b = r.uint8()
  if (b > 1) {
    r.pos--
    r.fail(`${what} must be 0 or 1, got ${b}`)
  }
  return b === 1
}

// ---------------------------------------------------------------------------
// XLogData (B) 'w'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const XLogDataSchema = Schema.TaggedStruct("XLogData", {
  /** The starting point of the WAL data in this message. */
  walStart: Fields.UInt64,
  /** The current end of WAL on the server. */
  walEnd: Fields.UInt64,
  /** The server's clock at the time of transmission (microseconds since 2000-01-01). */
  serverTime: Fields.Int64,
  /** A section of the WAL data stream (a view of the decoded buffer). */
  data: Fields.Bytes
})
/** @since 0.1.0 */
export interface XLogData extends Schema.Schema.Type<typeof XLogDataSchema> {}

/**
 * WAL data, or for logical replication one output plugin message (for
 * `pgoutput`, decode `data` with `PgOutput.decode`).
 *
 * @since 0.1.0
 */
export const XLogData: Message.Codec<XLogData> = Message.make({
  name: "XLogData",
  framing: "payload",
  type: Code.XLogData,
  schema: XLogDataSchema,
  readBody: (r) => {
    const walStart = r.uint64()
    const walEnd = r.uint64()
    const serverTime = r.int64()
    return { _tag: "XLogData", walStart, walEnd, serverTime, data: r.rest() }
  },
  writeBody: (w, m) => {
    w.uint64(m.walStart).uint64(m.walEnd).int64(m.serverTime).bytes(m.data)
  }
})

// ---------------------------------------------------------------------------
// Primary keepalive message (B) 'k'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const PrimaryKeepaliveMessageSchema = Schema.TaggedStruct("PrimaryKeepaliveMessage", {
  /** The current end of WAL on the server. */
  walEnd: Fields.UInt64,
  /** The server's clock at the time of transmission (microseconds since 2000-01-01). */
  serverTime: Fields.Int64,
  /** The client should reply as soon as possible, to avoid a timeout disconnect. */
  replyRequested: Schema.Boolean
})
/** @since 0.1.0 */
export interface PrimaryKeepaliveMessage extends Schema.Schema.Type<typeof PrimaryKeepaliveMessageSchema> {}

/** @since 0.1.0 */
export const PrimaryKeepaliveMessage: Message.Codec<PrimaryKeepaliveMessage> = Message.make({
  name: "PrimaryKeepaliveMessage",
  framing: "payload",
  type: Code.PrimaryKeepaliveMessage,
  schema: PrimaryKeepaliveMessageSchema,
  readBody: (r) => {
    const walEnd = r.uint64()
    const serverTime = r.int64()
    const replyRequested = readFlag(r, "reply flag")
    return { _tag: "PrimaryKeepaliveMessage", walEnd, serverTime, replyRequested }
  },
  writeBody: (w, m) => {
    w.uint64(m.walEnd).int64(m.serverTime).uint8(m.replyRequested ? 1 : 0)
  }
})

// ---------------------------------------------------------------------------
// Primary status update (B) 's'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const PrimaryStatusUpdateSchema = Schema.TaggedStruct("PrimaryStatusUpdate", {
  /** The latest WAL write position on the server. */
  walWritePosition: Fields.UInt64,
  /**
   * The oldest transaction id in the commit phase on the server (or the next
   * one to be assigned when none is active), with its epoch in the high 32
   * bits (`transactionEpoch` / `transactionXid` split it).
   */
  oldestXidInCommit: Fields.UInt64,
  /** The next transaction id to be assigned, with its epoch in the high 32 bits. */
  nextXid: Fields.UInt64,
  /** The server's clock at the time of transmission (microseconds since 2000-01-01). */
  serverTime: Fields.Int64
})
/** @since 0.1.0 */
export interface PrimaryStatusUpdate extends Schema.Schema.Type<typeof PrimaryStatusUpdateSchema> {}

/**
 * The server's answer to `RequestPrimaryStatusUpdate` (servers that support
 * it: the message is newer than the rest of this module).
 *
 * @since 0.1.0
 */
export const PrimaryStatusUpdate: Message.Codec<PrimaryStatusUpdate> = Message.make({
  name: "PrimaryStatusUpdate",
  framing: "payload",
  type: Code.PrimaryStatusUpdate,
  schema: PrimaryStatusUpdateSchema,
  readBody: (r) => {
    const walWritePosition = r.uint64()
    const oldestXidInCommit = r.uint64()
    const nextXid = r.uint64()
    const serverTime = r.int64()
    return { _tag: "PrimaryStatusUpdate", walWritePosition, oldestXidInCommit, nextXid, serverTime }
  },
  writeBody: (w, m) => {
    w.uint64(m.walWritePosition).uint64(m.oldestXidInCommit).uint64(m.nextXid).int64(m.serverTime)
  }
})

// ---------------------------------------------------------------------------
// Standby status update (F) 'r'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const StandbyStatusUpdateSchema = Schema.TaggedStruct("StandbyStatusUpdate", {
  /** The last WAL byte + 1 received and written to disk by the standby. */
  written: Fields.UInt64,
  /** The last WAL byte + 1 flushed to disk by the standby. */
  flushed: Fields.UInt64,
  /** The last WAL byte + 1 applied by the standby. */
  applied: Fields.UInt64,
  /** The client's clock at the time of transmission (microseconds since 2000-01-01). */
  clientTime: Fields.Int64,
  /** Ask the server to reply immediately (a ping). */
  replyRequested: Schema.Boolean
})
/** @since 0.1.0 */
export interface StandbyStatusUpdate extends Schema.Schema.Type<typeof StandbyStatusUpdateSchema> {}

/**
 * The client's progress report. For logical replication, `flushed` is the
 * position the slot's `confirmed_flush_lsn` advances to.
 *
 * @since 0.1.0
 */
export const StandbyStatusUpdate: Message.Codec<StandbyStatusUpdate> = Message.make({
  name: "StandbyStatusUpdate",
  framing: "payload",
  type: Code.StandbyStatusUpdate,
  schema: StandbyStatusUpdateSchema,
  readBody: (r) => {
    const written = r.uint64()
    const flushed = r.uint64()
    const applied = r.uint64()
    const clientTime = r.int64()
    const replyRequested = readFlag(r, "reply flag")
    return { _tag: "StandbyStatusUpdate", written, flushed, applied, clientTime, replyRequested }
  },
  writeBody: (w, m) => {
    w.uint64(m.written).uint64(m.flushed).uint64(m.applied).int64(m.clientTime).uint8(m.replyRequested ? 1 : 0)
  }
})

// ---------------------------------------------------------------------------
// Hot standby feedback message (F) 'h'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const HotStandbyFeedbackMessageSchema = Schema.TaggedStruct("HotStandbyFeedbackMessage", {
  /** The client's clock at the time of transmission (microseconds since 2000-01-01). */
  clientTime: Fields.Int64,
  /** The standby's global xmin (0 together with `catalogXmin` 0: feedback stops). */
  xmin: Fields.UInt32,
  /** The epoch of `xmin`. */
  xminEpoch: Fields.UInt32,
  /** The lowest catalog_xmin of any replication slot on the standby (0 if none). */
  catalogXmin: Fields.UInt32,
  /** The epoch of `catalogXmin`. */
  catalogXminEpoch: Fields.UInt32
})
/** @since 0.1.0 */
export interface HotStandbyFeedbackMessage extends Schema.Schema.Type<typeof HotStandbyFeedbackMessageSchema> {}

/** @since 0.1.0 */
export const HotStandbyFeedbackMessage: Message.Codec<HotStandbyFeedbackMessage> = Message.make({
  name: "HotStandbyFeedbackMessage",
  framing: "payload",
  type: Code.HotStandbyFeedbackMessage,
  schema: HotStandbyFeedbackMessageSchema,
  readBody: (r) => {
    const clientTime = r.int64()
    const xmin = r.uint32()
    const xminEpoch = r.uint32()
    const catalogXmin = r.uint32()
    const catalogXminEpoch = r.uint32()
    return { _tag: "HotStandbyFeedbackMessage", clientTime, xmin, xminEpoch, catalogXmin, catalogXminEpoch }
  },
  writeBody: (w, m) => {
    w.int64(m.clientTime).uint32(m.xmin).uint32(m.xminEpoch).uint32(m.catalogXmin).uint32(m.catalogXminEpoch)
  }
})

// ---------------------------------------------------------------------------
// Request primary status update (F) 'p'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const RequestPrimaryStatusUpdateSchema = Schema.TaggedStruct("RequestPrimaryStatusUpdate", {
  /** The client's clock at the time of transmission (microseconds since 2000-01-01). */
  clientTime: Fields.Int64
})
/** @since 0.1.0 */
export interface RequestPrimaryStatusUpdate extends Schema.Schema.Type<typeof RequestPrimaryStatusUpdateSchema> {}

/** @since 0.1.0 */
export const RequestPrimaryStatusUpdate: Message.Codec<RequestPrimaryStatusUpdate> = Message.make({
  name: "RequestPrimaryStatusUpdate",
  framing: "payload",
  type: Code.RequestPrimaryStatusUpdate,
  schema: RequestPrimaryStatusUpdateSchema,
  readBody: (r) => ({ _tag: "RequestPrimaryStatusUpdate", clientTime: r.int64() }),
  writeBody: (w, m) => {
    w.int64(m.clientTime)
  }
})

// ---------------------------------------------------------------------------
// START_REPLICATION payloads as a union
// ---------------------------------------------------------------------------

/**
 * The payloads the server sends during `START_REPLICATION`.
 *
 * @since 0.1.0
 */
export type BackendMessage = XLogData | PrimaryKeepaliveMessage | PrimaryStatusUpdate

/**
 * The payloads the client sends during `START_REPLICATION`.
 *
 * @since 0.1.0
 */
export type FrontendMessage = StandbyStatusUpdate | HotStandbyFeedbackMessage | RequestPrimaryStatusUpdate

/**
 * Every `START_REPLICATION` payload, both directions.
 *
 * @since 0.1.0
 */
export type ReplicationMessage = BackendMessage | FrontendMessage

/** @since 0.1.0 */
export const ReplicationMessageSchema: Schema.Codec<ReplicationMessage, ReplicationMessage> = Schema.Union([
  XLogDataSchema,
  PrimaryKeepaliveMessageSchema,
  PrimaryStatusUpdateSchema,
  StandbyStatusUpdateSchema,
  HotStandbyFeedbackMessageSchema,
  RequestPrimaryStatusUpdateSchema
])

const streamingCodecs = [
  XLogData,
  PrimaryKeepaliveMessage,
  PrimaryStatusUpdate,
  StandbyStatusUpdate,
  HotStandbyFeedbackMessage,
  RequestPrimaryStatusUpdate
] as const
const streaming: Family = {
  byType: makeTable(streamingCodecs),
  byTag: Object.fromEntries(streamingCodecs.map((c) => [c.name, c])),
  name: "ReplicationMessage",
  description: "replication"
}

/**
 * Reads one `START_REPLICATION` payload that fills the rest of `r` (a CopyData
 * body), dispatching on its type byte. Throws `ProtocolError` ("Unsafe").
 *
 * @since 0.1.0
 */
export const readUnsafe = (r: Reader): ReplicationMessage => readWith(r, streaming)

/**
 * Writes one `START_REPLICATION` payload (type byte and body, no CopyData
 * header) into `w`. Throws `ProtocolError` ("Unsafe").
 *
 * @since 0.1.0
 */
export const writeUnsafe = (w: Writer, message: ReplicationMessage): void => {
  const codec = streaming.byTag[message._tag]
  if (codec === undefined) w.fail(`${(message as { _tag: string })._tag} is not a replication message`)
  Message.writeFrame(w, codec, message)
}

/**
 * Decodes one `START_REPLICATION` payload (the body of a CopyData), either
 * direction.
 *
 * **Details**
 *
 * Byte fields of the result are views of `bytes`.
 *
 * @since 0.1.0
 */
export const decode = (bytes: Uint8Array): Result.Result<ReplicationMessage, ProtocolError> =>
  decodeWith(bytes, 0, bytes.length, streaming)

/**
 * Decodes the payload in `buf[start, end)`, e.g. the body range of a CopyData
 * frame delivered by the Framer, without copying it.
 *
 * @since 0.1.0
 */
export const decodeView = (
  buf: Uint8Array,
  start: number,
  end: number
): Result.Result<ReplicationMessage, ProtocolError> => decodeWith(buf, start, end, streaming)

/**
 * Encodes one `START_REPLICATION` payload as fresh bytes (to be wrapped in a
 * CopyData message).
 *
 * @since 0.1.0
 */
export const encode = (message: ReplicationMessage): Result.Result<Uint8Array, ProtocolError> =>
  encodeWith(message, streaming)

/**
 * The Schema transformation between a CopyData body and a
 * `START_REPLICATION` payload of either direction.
 *
 * @since 0.1.0
 */
export const MessageFromBytes = Message.fromBytesWith({
  expected: "a streaming replication payload",
  schema: ReplicationMessageSchema,
  decode,
  encode
})

// ---------------------------------------------------------------------------
// BASE_BACKUP payloads (in BaseBackup.ts)
// ---------------------------------------------------------------------------

export {
  /** @since 0.1.0 */
  ArchiveOrManifestData,
  /** @since 0.1.0 */
  ArchiveOrManifestDataSchema,
  /** @since 0.1.0 */
  BaseBackupCode,
  /** @since 0.1.0 */
  type BaseBackupMessage,
  /** @since 0.1.0 */
  BaseBackupMessageFromBytes,
  /** @since 0.1.0 */
  BaseBackupMessageSchema,
  /** @since 0.1.0 */
  decodeBaseBackup,
  /** @since 0.1.0 */
  decodeBaseBackupView,
  /** @since 0.1.0 */
  encodeBaseBackup,
  /** @since 0.1.0 */
  Manifest,
  /** @since 0.1.0 */
  ManifestSchema,
  /** @since 0.1.0 */
  NewArchive,
  /** @since 0.1.0 */
  NewArchiveSchema,
  /** @since 0.1.0 */
  ProgressReport,
  /** @since 0.1.0 */
  ProgressReportSchema
} from "./BaseBackup.ts"

// ---------------------------------------------------------------------------
// Time, LSN and transaction id helpers (in ReplicationValues.ts)
// ---------------------------------------------------------------------------

export {
  /** @since 0.1.0 */
  formatLsn,
  /** @since 0.1.0 */
  fromDate,
  /** @since 0.1.0 */
  fromEpochMillis,
  /** @since 0.1.0 */
  fromUnixMicros,
  /** @since 0.1.0 */
  parseLsn,
  /** @since 0.1.0 */
  POSTGRES_EPOCH_UNIX_MICROS,
  /** @since 0.1.0 */
  toDate,
  /** @since 0.1.0 */
  toEpochMillis,
  /** @since 0.1.0 */
  toUnixMicros,
  /** @since 0.1.0 */
  transactionEpoch,
  /** @since 0.1.0 */
  transactionXid
} from "./ReplicationValues.ts"
