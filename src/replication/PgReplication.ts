/**
 * Replication sessions: slots and replication commands (`connect`), logical
 * change streams with acknowledgement (`logical`, `transactions`,
 * `runAcked`), and physical WAL streams (`physical`).
 *
 * ```ts
 * yield* Effect.scoped(Effect.gen(function*() {
 *   const rs = yield* PgReplication.connect({ host, user, database })
 *   yield* rs.createSlot("orders", { logical: "pgoutput" })
 * }))
 * yield* PgReplication.runAcked(
 *   PgReplication.logical({ host, user, database }, { slot: "orders", publications: ["orders_pub"] }),
 *   (tx) => applyElsewhere(tx)  // acknowledged only once this succeeded
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { PgError } from "../errors/PgError.ts"
import * as Commands from "./Commands.ts"
import type * as Errors from "./Errors.ts"
import * as Link from "./Link.ts"

export {
  type Acknowledgeable,
  type Begin,
  type BeginPrepare,
  type Change,
  type Commit,
  type CommitPrepared,
  type Delete,
  type Insert,
  isAcknowledgeable,
  type Message,
  type Origin,
  type Prepare,
  type RelationChanged,
  type RelationInfo,
  type RollbackPrepared,
  type Row,
  type StreamAbort,
  type StreamCommit,
  type StreamStart,
  type StreamStop,
  type Truncate,
  Unchanged,
  type Update
} from "./Changes.ts"
export {
  type CreatedSlot,
  type CreateSlotOptions,
  parseTimelineHistory,
  type SlotInfo,
  type SystemIdentity,
  type TimelineHistory,
  type TimelineHistoryEntry
} from "./Commands.ts"
export { BACKUP_HIGH_WATER_BYTES, baseBackup, type BackupEvent, type BaseBackupOptions } from "./BaseBackup.ts"
export {
  type Failure,
  ManifestMismatch,
  ReplicationError,
  ServerDraining,
  SlotInUse,
  SlotInvalidated,
  SlotNotFound,
  SpillFailed,
  TransactionTooLarge,
  UnsupportedOption,
  WalRemoved
} from "./Errors.ts"
export { formatLsn, parseLsn } from "../protocol/Replication.ts"
export { COPY_END_TIMEOUT_MILLIS, DEFAULT_STATUS_INTERVAL_MILLIS, type StandbyFeedback } from "./Feed.ts"
export type { CommandResult, ConnectOptions, TextRow } from "./Link.ts"
export { DEFAULT_SPILL_MEMORY_BYTES, type HeldOptions } from "./Held.ts"
export { logical, type LogicalOptions, REPLAY_BATCH_CHANGES, runAcked, type Transaction, transactions } from "./Logical.ts"
export { type EndOfTimeline, physical, type PhysicalEvent, type PhysicalOptions, type XLogData } from "./Physical.ts"

/**
 * A replication connection: replication commands with typed results.
 *
 * @since 0.1.0
 */
export interface ReplicationSession {
  /** "database" (`replication=database`, logical; SQL allowed) or "physical" (`replication=true`). */
  readonly mode: Link.Mode
  /** The server's major version. */
  readonly majorVersion: number
  /** The walsender's process id. */
  readonly processId: number
  readonly identifySystem: Effect.Effect<Commands.SystemIdentity, Errors.Failure>
  readonly show: (name: string) => Effect.Effect<string, Errors.Failure>
  readonly timelineHistory: (timeline: number) => Effect.Effect<Commands.TimelineHistory, Errors.Failure>
  readonly createSlot: (name: string, options: Commands.CreateSlotOptions) => Effect.Effect<Commands.CreatedSlot, Errors.Failure>
  readonly readSlot: (name: string) => Effect.Effect<Commands.SlotInfo, Errors.Failure>
  readonly alterSlot: (
    name: string,
    options: { readonly failover?: boolean | undefined; readonly twoPhase?: boolean | undefined }
  ) => Effect.Effect<void, Errors.Failure>
  readonly dropSlot: (name: string, options?: { readonly wait?: boolean | undefined }) => Effect.Effect<void, Errors.Failure>
  /** Runs one replication command or (in "database" mode) one SQL statement; rows as text. */
  readonly command: (sql: string) => Effect.Effect<Link.CommandResult, PgError>
}

/**
 * Opens a replication connection for the Scope (`replication=database` unless `mode: "physical"`). Temporary
 * slots it creates live as long as it does.
 *
 * @since 0.1.0
 */
export const connect = Effect.fn("PgReplication.connect")(function*(
  options: Link.ConnectOptions & { readonly mode?: Link.Mode | undefined }
): Effect.fn.Return<ReplicationSession, PgError, Scope.Scope> {
  const { mode = "database", ...rest } = options
  const link = yield* Link.open(rest, mode)
  return {
    mode,
    majorVersion: link.majorVersion,
    processId: link.processId,
    identifySystem: Commands.identifySystem(link),
    show: (name) => Commands.show(link, name),
    timelineHistory: (timeline) => Commands.timelineHistory(link, timeline),
    createSlot: (name, o) => Commands.createSlot(link, name, o),
    readSlot: (name) => Commands.readSlot(link, name),
    alterSlot: (name, o) => Commands.alterSlot(link, name, o),
    dropSlot: (name, o) => Commands.dropSlot(link, name, o),
    command: (sql) => Link.command(link, sql)
  }
})
