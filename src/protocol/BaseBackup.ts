/**
 * `BASE_BACKUP` payloads: the messages carried inside CopyData by the CopyOut
 * stream of a base backup (protocol-3.2 "Streaming Replication Protocol",
 * `BASE_BACKUP`): `NewArchive`, `Manifest`, `ArchiveOrManifestData`,
 * `ProgressReport`, the documentation's headings in PascalCase.
 *
 * **Details**
 *
 * - Each message starts with a one-byte type and runs to the end of the
 *   CopyData body, so the codecs use the `payload` framing of `Message`.
 * - The 'p' of a progress report is also the client's 'p' during
 *   `START_REPLICATION` (request primary status update), and 'd' belongs to a
 *   different stream, so these payloads are a family of their own
 *   (`PayloadFamily`), decoded by `decodeBaseBackup`.
 * - `ArchiveOrManifestData.data` is a view of the decoded buffer, never a copy.
 *
 * Re-exported by `Replication`, the public module. Not here: the
 * `BASE_BACKUP` command and its result sets (ordinary simple-query results),
 * the tar archives' contents. Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import type * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type { ProtocolError } from "../errors/PgError.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"
import { decodeWith, encodeWith, type Family, makeTable } from "./PayloadFamily.ts"

/**
 * Type bytes of the `BASE_BACKUP` CopyOut payloads.
 *
 * @since 0.1.0
 */
export const BaseBackupCode = {
  NewArchive: 0x6e, // 'n'
  Manifest: 0x6d, // 'm'
  ArchiveOrManifestData: 0x64, // 'd'
  ProgressReport: 0x70 // 'p'
} as const

/** @since 0.1.0 */
export const NewArchiveSchema = Schema.TaggedStruct("NewArchive", {
  /** The file name for this archive. */
  fileName: Fields.CString,
  /** Empty for the main data directory; else the tablespace directory the archive was made from. */
  tablespacePath: Fields.CString
})
/** @since 0.1.0 */
export interface NewArchive extends Schema.Schema.Type<typeof NewArchiveSchema> {}

/**
 * Starts a new tar archive (one for the data directory, one per tablespace).
 *
 * @since 0.1.0
 */
export const NewArchive: Message.Codec<NewArchive> = Message.make({
  name: "NewArchive",
  framing: "payload",
  type: BaseBackupCode.NewArchive,
  schema: NewArchiveSchema,
  readBody: (r) => {
    const fileName = r.cstring()
    const tablespacePath = r.cstring()
    return { _tag: "NewArchive", fileName, tablespacePath }
  },
  writeBody: (w, m) => {
    w.cstring(m.fileName).cstring(m.tablespacePath)
  }
})

/** @since 0.1.0 */
export const ManifestSchema = Schema.TaggedStruct("Manifest", {})
/** @since 0.1.0 */
export interface Manifest extends Schema.Schema.Type<typeof ManifestSchema> {}

const manifest: Manifest = { _tag: "Manifest" }

/**
 * Starts the backup manifest; the following `ArchiveOrManifestData` belong to it.
 *
 * @since 0.1.0
 */
export const Manifest: Message.Codec<Manifest> = Message.make({
  name: "Manifest",
  framing: "payload",
  type: BaseBackupCode.Manifest,
  schema: ManifestSchema,
  readBody: () => manifest,
  writeBody: () => {}
})

/** @since 0.1.0 */
export const ArchiveOrManifestDataSchema = Schema.TaggedStruct("ArchiveOrManifestData", {
  /** Data bytes (a view of the decoded buffer). */
  data: Fields.Bytes
})
/** @since 0.1.0 */
export interface ArchiveOrManifestData extends Schema.Schema.Type<typeof ArchiveOrManifestDataSchema> {}

/** @since 0.1.0 */
export const ArchiveOrManifestData: Message.Codec<ArchiveOrManifestData> = Message.make({
  name: "ArchiveOrManifestData",
  framing: "payload",
  type: BaseBackupCode.ArchiveOrManifestData,
  schema: ArchiveOrManifestDataSchema,
  readBody: (r) => ({ _tag: "ArchiveOrManifestData", data: r.rest() }),
  writeBody: (w, m) => {
    w.bytes(m.data)
  }
})

/** @since 0.1.0 */
export const ProgressReportSchema = Schema.TaggedStruct("ProgressReport", {
  /** Bytes of the current tablespace whose processing has completed. */
  completedBytes: Fields.Int64
})
/** @since 0.1.0 */
export interface ProgressReport extends Schema.Schema.Type<typeof ProgressReportSchema> {}

/** @since 0.1.0 */
export const ProgressReport: Message.Codec<ProgressReport> = Message.make({
  name: "ProgressReport",
  framing: "payload",
  type: BaseBackupCode.ProgressReport,
  schema: ProgressReportSchema,
  readBody: (r) => ({ _tag: "ProgressReport", completedBytes: r.int64() }),
  writeBody: (w, m) => {
    w.int64(m.completedBytes)
  }
})

/**
 * Every `BASE_BACKUP` CopyOut payload.
 *
 * @since 0.1.0
 */
export type BaseBackupMessage = NewArchive | Manifest | ArchiveOrManifestData | ProgressReport

/** @since 0.1.0 */
export const BaseBackupMessageSchema: Schema.Codec<BaseBackupMessage, BaseBackupMessage> = Schema.Union([
  NewArchiveSchema,
  ManifestSchema,
  ArchiveOrManifestDataSchema,
  ProgressReportSchema
])

const baseBackupCodecs = [NewArchive, Manifest, ArchiveOrManifestData, ProgressReport] as const
const baseBackup: Family = {
  byType: makeTable(baseBackupCodecs),
  byTag: Object.fromEntries(baseBackupCodecs.map((c) => [c.name, c])),
  name: "BaseBackupMessage",
  description: "base backup"
}

/**
 * Decodes one `BASE_BACKUP` payload (the body of a CopyData).
 *
 * @since 0.1.0
 */
export const decodeBaseBackup = (bytes: Uint8Array): Result.Result<BaseBackupMessage, ProtocolError> =>
  decodeWith(bytes, 0, bytes.length, baseBackup)

/**
 * Decodes the `BASE_BACKUP` payload in `buf[start, end)` without copying it.
 *
 * @since 0.1.0
 */
export const decodeBaseBackupView = (
  buf: Uint8Array,
  start: number,
  end: number
): Result.Result<BaseBackupMessage, ProtocolError> => decodeWith(buf, start, end, baseBackup)

/**
 * Encodes one `BASE_BACKUP` payload as fresh bytes.
 *
 * @since 0.1.0
 */
export const encodeBaseBackup = (message: BaseBackupMessage): Result.Result<Uint8Array, ProtocolError> =>
  encodeWith(message, baseBackup)

/**
 * The Schema transformation between a CopyData body and a `BASE_BACKUP` payload.
 *
 * @since 0.1.0
 */
export const BaseBackupMessageFromBytes = Message.fromBytesWith({
  expected: "a base backup payload",
  schema: BaseBackupMessageSchema,
  decode: decodeBaseBackup,
  encode: encodeBaseBackup
})
