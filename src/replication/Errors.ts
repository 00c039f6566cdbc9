/**
 * The errors of replication sessions: `ReplicationError`, with a `reason`
 * union for what a replication consumer must tell apart (a missing slot, a
 * slot another consumer holds, a slot the server invalidated, WAL that is
 * gone, an option the server version lacks). Everything else (sockets,
 * authentication, protocol violations, other server errors) stays a
 * `PgError`.
 *
 * Pure: `effect/Schema` only.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type { PgError, ServerError } from "../errors/PgError.ts"

/**
 * The slot does not exist (SQLSTATE 42704 undefined_object).
 *
 * @since 0.1.0
 */
export class SlotNotFound extends Schema.TaggedError<SlotNotFound>("effect-pgwire/replication/SlotNotFound")(
  "SlotNotFound",
  { message: Schema.String, slot: Schema.optional(Schema.String) }
) {}

/**
 * Another walsender is using the slot (SQLSTATE 55006 object_in_use).
 *
 * @since 0.1.0
 */
export class SlotInUse extends Schema.TaggedError<SlotInUse>("effect-pgwire/replication/SlotInUse")(
  "SlotInUse",
  { message: Schema.String, slot: Schema.optional(Schema.String) }
) {}

/**
 * The server invalidated the slot (`max_slot_wal_keep_size`, `idle_replication_slot_timeout`, conflicting
 * row removal): it can no longer be used, and silently recreating it would skip changes (SQLSTATE 55000
 * object_not_in_prerequisite_state, "... has been invalidated" / "... cannot be advanced").
 *
 * @since 0.1.0
 */
export class SlotInvalidated extends Schema.TaggedError<SlotInvalidated>("effect-pgwire/replication/SlotInvalidated")(
  "SlotInvalidated",
  { message: Schema.String, slot: Schema.optional(Schema.String) }
) {}

/**
 * The WAL the stream would start from has been removed (SQLSTATE 58P01 undefined_file, "requested WAL segment
 * ... has already been removed").
 *
 * @since 0.1.0
 */
export class WalRemoved extends Schema.TaggedError<WalRemoved>("effect-pgwire/replication/WalRemoved")(
  "WalRemoved",
  { message: Schema.String }
) {}

/**
 * An option or command the connected server version does not have (refused before anything is sent, never a
 * server syntax error).
 *
 * @since 0.1.0
 */
export class UnsupportedOption extends Schema.TaggedError<UnsupportedOption>(
  "effect-pgwire/replication/UnsupportedOption"
)("UnsupportedOption", {
  message: Schema.String,
  option: Schema.String,
  /** The first major version that has it. */
  minVersion: Schema.Number,
  /** The server's major version. */
  serverVersion: Schema.Number
}) {}

/**
 * A streamed in-progress transaction grew past the bytes a stream may hold until its Stream Commit
 * (`maxHeldBytes`): nothing of it was delivered or acknowledged, so it comes again on the next run (with a larger
 * limit, or `streaming: "off"`).
 *
 * @since 0.1.0
 */
export class TransactionTooLarge extends Schema.TaggedError<TransactionTooLarge>(
  "effect-pgwire/replication/TransactionTooLarge"
)("TransactionTooLarge", { message: Schema.String, xid: Schema.Number, limit: Schema.Number }) {}

/**
 * A streamed transaction could not be spilled to (or read back from) its file: the directory is missing, not
 * writable, or full. Nothing of the transaction was delivered or acknowledged.
 *
 * @since 0.1.0
 */
export class SpillFailed extends Schema.TaggedError<SpillFailed>("effect-pgwire/replication/SpillFailed")(
  "SpillFailed",
  { message: Schema.String, path: Schema.String }
) {}

/**
 * A base backup's archives do not match its manifest (a size, a checksum, a missing file, or the manifest's own
 * checksum).
 *
 * @since 0.1.0
 */
export class ManifestMismatch extends Schema.TaggedError<ManifestMismatch>("effect-pgwire/replication/ManifestMismatch")(
  "ManifestMismatch",
  { message: Schema.String }
) {}

/**
 * The server ended streaming on its own: a walsender of a server shutting down ends with CommandComplete once
 * the client has confirmed everything it sent (`walsender.c WalSndDone`). Run the stream again once the server
 * is back.
 *
 * @since 0.1.0
 */
export class ServerDraining extends Schema.TaggedError<ServerDraining>("effect-pgwire/replication/ServerDraining")(
  "ServerDraining",
  { message: Schema.String }
) {}

/**
 * Every reason a `ReplicationError` can carry.
 *
 * @since 0.1.0
 */
export const ReplicationErrorReason = Schema.Union([
  SlotNotFound,
  SlotInUse,
  SlotInvalidated,
  WalRemoved,
  UnsupportedOption,
  TransactionTooLarge,
  SpillFailed,
  ManifestMismatch,
  ServerDraining
])

/** @since 0.1.0 */
export type ReplicationErrorReason = typeof ReplicationErrorReason.Type

/**
 * @since 0.1.0
 */
export class ReplicationError extends Schema.TaggedError<ReplicationError>("effect-pgwire/replication/ReplicationError")(
  "ReplicationError",
  { reason: ReplicationErrorReason }
) {
  override get message(): string {
    return this.reason.message
  }
}

/**
 * Replication operations fail with one of these.
 *
 * @since 0.1.0
 */
export type Failure = PgError | ReplicationError

/**
 * The replication reason of a server error, or undefined when it is none of them.
 *
 * @since 0.1.0
 */
export const reasonOf = (error: ServerError, slot: string | undefined): ReplicationErrorReason | undefined => {
  const base = { message: error.message, ...(slot === undefined ? {} : { slot }) }
  switch (error.code) {
    case "42704":
      return /replication slot/.test(error.message) ? new SlotNotFound(base) : undefined
    case "55006":
      return new SlotInUse(base)
    case "55000":
      return /invalidated|cannot be advanced|can no longer/.test(error.message + (error.detail ?? ""))
        ? new SlotInvalidated(base)
        : undefined
    case "58P01":
      return /has already been removed/.test(error.message) ? new WalRemoved({ message: error.message }) : undefined
    default:
      return undefined
  }
}

/**
 * A `PgError` carrying one of the replication conditions becomes a `ReplicationError`; any other stays as it is.
 *
 * @since 0.1.0
 */
export const classify = (error: PgError, slot?: string): Failure => {
  const reason = error.reason
  if (reason._tag === "ProtocolDesync" && reason.messageName === "CommandComplete" && reason.state === "CopyBoth") {
    return new ReplicationError({
      reason: new ServerDraining({ message: "the server ended streaming (it is shutting down)" })
    })
  }
  if (error.reason._tag !== "ServerError") return error
  const mapped = reasonOf(error.reason, slot)
  return mapped === undefined ? error : new ReplicationError({ reason: mapped })
}

/**
 * A `ReplicationError` for an option the server version lacks.
 *
 * @since 0.1.0
 */
export const unsupported = (option: string, minVersion: number, serverVersion: number): ReplicationError =>
  new ReplicationError({
    reason: new UnsupportedOption({
      message: `${option} needs PostgreSQL ${minVersion} or later (the server is ${serverVersion})`,
      option,
      minVersion,
      serverVersion
    })
  })
