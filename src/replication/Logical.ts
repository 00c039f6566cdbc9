/**
 * Logical replication streams: `START_REPLICATION SLOT s LOGICAL lsn (...)`
 * with `pgoutput`, as an Effect `Stream` of typed changes whose Commits carry
 * an `ack`, and `runAcked`, the sink that acknowledges a transaction only
 * after the consumer's effect for it succeeded.
 *
 * **Details** (the delivery promise)
 *
 * - At least once, whole committed transactions, in commit order: the slot's
 *   `confirmed_flush_lsn` moves only to an acknowledged end LSN (or, while
 *   everything received is acknowledged, to a keepalive position), so a
 *   restart (`START_REPLICATION` resumes at `max(startLsn,
 *   confirmed_flush_lsn)`) redelivers exactly the unacknowledged transactions.
 * - Interruption, failure or the end of the consumer never acknowledges
 *   anything: the stream's Scope sends CopyDone and closes its connection.
 * - Each stream runs on a connection of its own (`replication=database`),
 *   opened when the stream starts and closed when it ends.
 *
 * @since 0.1.0
 */
import * as Os from "node:os"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Pull from "effect/Pull"
import type * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { type CodecError, ConfigError, PgError } from "../errors/PgError.ts"
import * as PgOutput from "../protocol/PgOutput.ts"
import * as Replication from "../protocol/Replication.ts"
import { CurrentRegistry } from "../session/Session.ts"
import * as Catalog from "../types/Catalog.ts"
import type { Registry } from "../types/Registry.ts"
import type { AckState } from "./AckState.ts"
import * as Changes from "./Changes.ts"
import { checkSlotName } from "./Commands.ts"
import * as Errors from "./Errors.ts"
import { type Batch, DEFAULT_STATUS_INTERVAL_MILLIS, Feed } from "./Feed.ts"
import { DEFAULT_SPILL_MEMORY_BYTES, type HeldOptions } from "./Held.ts"
import * as Link from "./Link.ts"

/**
 * @since 0.1.0
 */
export interface LogicalOptions {
  /** The logical slot (created beforehand, with the `pgoutput` plugin). */
  readonly slot: string
  /** Publication names. */
  readonly publications: ReadonlyArray<string>
  /** `proto_version`; "auto" (default): the highest the server takes (1 on 13, 2 on 14, 3 on 15, 4 on 16+). */
  readonly protoVersion?: "auto" | PgOutput.ProtoVersion | undefined
  /** Stream in-progress transactions (proto_version 2+); they are delivered once committed. Default "off". */
  readonly streaming?: "off" | "on" | "parallel" | undefined
  /**
   * With `streaming`: "committed" (default) delivers a streamed transaction whole once it commits; "inProgress"
   * delivers its chunks as they arrive (`StreamStart`, its changes, `StreamStop`, then `StreamAbort` or a
   * `StreamCommit` with `ack`), for a consumer that applies and undoes changes itself (`transactions` and
   * `runAcked` are for committed delivery).
   */
  readonly delivery?: "committed" | "inProgress" | undefined
  /** Decode prepared transactions at PREPARE (proto_version 3+, a TWO_PHASE slot). */
  readonly twoPhase?: boolean | undefined
  /** Values in binary format (PostgreSQL 14+). */
  readonly binary?: boolean | undefined
  /** Deliver `pg_logical_emit_message` messages. */
  readonly messages?: boolean | undefined
  /** "none": only changes without a replication origin (PostgreSQL 16+). */
  readonly origin?: "any" | "none" | undefined
  /** Where to start; the server starts at the later of this and the slot's confirmed position. Default 0/0. */
  readonly startLsn?: bigint | undefined
  /** Interval between status updates (milliseconds). Default `DEFAULT_STATUS_INTERVAL_MILLIS`. */
  readonly statusIntervalMillis?: number | undefined
  /** Acknowledge keepalive positions while everything received is acknowledged (default true). */
  readonly idleAdvance?: boolean | undefined
  /** Rows of these tables (`schema.table`) are decoded by the Schema. */
  readonly tables?: Readonly<Record<string, Schema.Decoder<unknown>>> | undefined
  /**
   * Streamed transactions are held until they commit: in memory up to `memoryBytes` (across them, default
   * `DEFAULT_SPILL_MEMORY_BYTES`), then in a file under `directory` (default the system's temporary directory).
   * `false`: never spill; a transaction past the memory bound fails the stream with `TransactionTooLarge`.
   */
  readonly spill?: false | { readonly memoryBytes?: number | undefined; readonly directory?: string | undefined } | undefined
  /** The most payload bytes held for one streamed transaction (memory and file); past it `TransactionTooLarge`. */
  readonly maxHeldBytes?: number | undefined
  /** The type registry; default the session's `CurrentRegistry`. */
  readonly registry?: Registry | undefined
}

const IDENTIFIER = /^[^\0]{1,63}$/

/** The highest `proto_version` a server major version takes. */
export const maxProtoVersion = (major: number): PgOutput.ProtoVersion =>
  major >= 16 ? 4 : major >= 15 ? 3 : major >= 14 ? 2 : 1

const configError = (message: string, parameter: string) =>
  new PgError({ reason: new ConfigError({ message, parameter }) })

/** Changes delivered by one pull while a streamed transaction is replayed. */
export const REPLAY_BATCH_CHANGES = 1024

const positiveBytes = (value: number | undefined, parameter: string): Effect.Effect<void, PgError> =>
  value === undefined || (Number.isFinite(value) && value > 0)
    ? Effect.void
    : Effect.fail(configError(`${parameter} must be a positive number of bytes (got ${value})`, parameter))

/** Where and how much of streamed transactions is held. */
const heldOptions = (options: LogicalOptions): Effect.Effect<HeldOptions, PgError> =>
  Effect.gen(function*() {
    const spill = options.spill
    const memoryBytes = spill === false || spill === undefined ? undefined : spill.memoryBytes
    yield* positiveBytes(memoryBytes, "spill.memoryBytes")
    yield* positiveBytes(options.maxHeldBytes, "maxHeldBytes")
    return {
      memoryBytes: memoryBytes ?? DEFAULT_SPILL_MEMORY_BYTES,
      directory: spill === false ? false : spill?.directory ?? Os.tmpdir(),
      maxBytes: options.maxHeldBytes
    }
  })

const quoteLiteral = (s: string): string => `'${s.replace(/'/g, "''")}'`
const quoteIdent = (s: string): string => `"${s.replace(/"/g, "\"\"")}"`

/**
 * The START_REPLICATION command for these options on a server of `major` version, and the proto_version it asks.
 *
 * @since 0.1.0
 */
export const startCommand = (
  options: LogicalOptions,
  major: number
): Effect.Effect<{ readonly sql: string; readonly protoVersion: PgOutput.ProtoVersion }, Errors.Failure> =>
  Effect.gen(function*() {
    yield* checkSlotName(options.slot)
    if (options.publications.length === 0) return yield* Effect.fail(configError("at least one publication is needed", "publications"))
    for (const p of options.publications) {
      if (!IDENTIFIER.test(p)) return yield* Effect.fail(configError(`bad publication name ${JSON.stringify(p)}`, "publications"))
    }
    const highest = maxProtoVersion(major)
    const requested = options.protoVersion ?? "auto"
    const protoVersion = requested === "auto" ? highest : requested
    if (protoVersion > highest) {
      const min = protoVersion === 4 ? 16 : protoVersion === 3 ? 15 : 14
      return yield* Effect.fail(Errors.unsupported(`proto_version ${protoVersion}`, min, major))
    }
    const streaming = options.streaming ?? "off"
    const parts = [`proto_version '${protoVersion}'`, `publication_names ${quoteLiteral(options.publications.map(quoteIdent).join(","))}`]
    if (streaming !== "off") {
      if (protoVersion < 2) return yield* Effect.fail(Errors.unsupported("streaming", 14, major))
      if (streaming === "parallel" && (protoVersion < 4 || major < 16)) {
        return yield* Effect.fail(Errors.unsupported("streaming parallel", 16, major))
      }
      parts.push(`streaming '${major >= 16 ? streaming : "on"}'`)
    }
    if (options.twoPhase === true) {
      if (protoVersion < 3) return yield* Effect.fail(Errors.unsupported("two_phase", 15, major))
      parts.push("two_phase 'on'")
    }
    if (options.binary === true) {
      if (major < 14) return yield* Effect.fail(Errors.unsupported("binary", 14, major))
      parts.push("binary 'true'")
    }
    if (options.messages === true) {
      if (major < 14) return yield* Effect.fail(Errors.unsupported("messages", 14, major))
      parts.push("messages 'true'")
    }
    if (options.origin !== undefined) {
      if (major < 16) return yield* Effect.fail(Errors.unsupported("origin", 16, major))
      parts.push(`origin '${options.origin}'`)
    }
    const lsn = Replication.formatLsn(options.startLsn ?? 0n)
    return { sql: `START_REPLICATION SLOT ${options.slot} LOGICAL ${lsn} (${parts.join(", ")})`, protoVersion }
  })

/** The pgoutput messages that begin, end, or stream a transaction, read as they arrive to keep the ack state. */
const observer = (protoVersion: PgOutput.ProtoVersion) => {
  let inStream = false
  return (buf: Uint8Array, start: number, end: number, ack: AckState): void => {
    const type = buf[start]
    switch (type) {
      case PgOutput.Code.Begin:
      case PgOutput.Code.BeginPrepare:
        return ack.onBegin()
      case PgOutput.Code.StreamStop:
        inStream = false
        return
      case PgOutput.Code.Commit:
      case PgOutput.Code.Prepare:
      case PgOutput.Code.CommitPrepared:
      case PgOutput.Code.RollbackPrepared:
      case PgOutput.Code.StreamStart:
      case PgOutput.Code.StreamCommit:
      case PgOutput.Code.StreamAbort:
      case PgOutput.Code.StreamPrepare:
        break
      default:
        return
    }
    // Inside a stream 'A', 'c' and 'p' are not sent, and the in-stream message types that share a byte
    // (none do with the ones above outside a stream) are decoded by the consumer; decode only what matters here.
    if (inStream) return
    const decoded = PgOutput.decodeView(buf, start, end, { protoVersion, inStream: false })
    if (decoded._tag === "Failure") return
    const m = decoded.success
    switch (m._tag) {
      case "Commit":
      case "Prepare":
      case "CommitPrepared":
        return ack.onEnd(m.endLsn)
      case "RollbackPrepared":
        return ack.onEnd(m.rollbackEndLsn)
      case "StreamStart":
        inStream = true
        return ack.onStreamStart(m.xid)
      case "StreamCommit":
        ack.onStreamDone(m.xid)
        return ack.onEnd(m.endLsn)
      case "StreamPrepare":
        ack.onStreamDone(m.xid)
        return ack.onEnd(m.endLsn)
      case "StreamAbort":
        if (m.xid === m.subXid) ack.onStreamDone(m.xid)
        return
      default:
        return
    }
  }
}

/** The OIDs of types created in the database (`FirstNormalObjectId`): enums, domains, composites, extensions. */
const USER_TYPES = "ARRAY(SELECT u.oid FROM pg_catalog.pg_type u WHERE u.oid >= 16384)"

/**
 * The registry extended with the database's own types, read on the replication connection before streaming
 * starts (no SQL can run during it); a type created later stays text.
 */
const userTypes = (link: Link.Link, registry: Registry): Effect.Effect<Registry, PgError> =>
  Effect.gen(function*() {
    const result = yield* Link.command(link, Catalog.typeQuery(link.serverVersionNum).replace("$1::pg_catalog.oid[]", USER_TYPES))
    if (result.rows.length === 0) return registry
    const rows = yield* Effect.try({
      try: () => result.rows.map((row) => Catalog.rowFromText(result.columns.map((c) => row[c] ?? null))),
      catch: (e) => e instanceof PgError ? e : new PgError({ reason: e as CodecError })
    })
    return registry.withTypes(rows)
  })

/**
 * A logical stream: every change of every transaction from the slot's confirmed position on, decoded.
 *
 * **Details**
 *
 * Opens its own `replication=database` connection when run and closes it when the stream ends (CopyDone
 * first): the slot is then free again. Acknowledge with each Commit's (or Prepare's) `ack` after the
 * transaction's effect is done, or use `runAcked`.
 *
 * @since 0.1.0
 */
export const logical = (
  connect: Link.ConnectOptions,
  options: LogicalOptions
): Stream.Stream<Changes.Change, Errors.Failure> =>
  Stream.unwrap(Effect.gen(function*() {
    const link = yield* Link.open(connect, "database")
    const { protoVersion, sql } = yield* startCommand(options, link.majorVersion)
    const held = yield* heldOptions(options)
    const registry = yield* userTypes(link, options.registry ?? (yield* CurrentRegistry))
    const feed = yield* Feed.start(link, sql, {
      slot: options.slot,
      statusIntervalMillis: options.statusIntervalMillis ?? DEFAULT_STATUS_INTERVAL_MILLIS,
      idleAdvance: options.idleAdvance ?? true,
      observe: observer(protoVersion),
      reuseSlabs: true
    })
    const decoder = new Changes.Decoder(
      protoVersion,
      registry,
      options.tables ?? {},
      (endLsn) => Effect.sync(() => feed.acknowledge(endLsn)),
      held,
      options.delivery === "inProgress"
    )
    yield* Effect.addFinalizer(() => Effect.sync(() => decoder.close()))
    // The batch being decoded: a streamed transaction's replay may stop in its middle.
    let batch: Batch = { bufs: [], starts: [], ends: [] }
    let index = 0
    const decode = (out: Array<Changes.Change>): void => {
      if (decoder.isReplaying) decoder.drain(out, REPLAY_BATCH_CHANGES)
      const { bufs, ends, starts } = batch
      while (index < starts.length && !decoder.isReplaying) {
        const i = index++
        decoder.push(bufs[i]!, starts[i]!, ends[i]!, out)
        if (decoder.isReplaying) decoder.drain(out, REPLAY_BATCH_CHANGES)
      }
    }
    const pull: Effect.Effect<readonly [Changes.Change, ...Array<Changes.Change>], Errors.Failure | Cause.Done> = Effect
      .suspend(() => {
        const out: Array<Changes.Change> = []
        try {
          decode(out)
        } catch (e) {
          if (e instanceof PgError || e instanceof Errors.ReplicationError) return Effect.fail(e)
          return Effect.die(e)
        }
        if (out.length > 0) return Effect.succeed(out as unknown as readonly [Changes.Change, ...Array<Changes.Change>])
        if (decoder.isReplaying || index < batch.starts.length) return pull
        return Effect.flatMap(feed.takeBatch, (next) => {
          if (next === undefined) return Cause.done()
          batch = next
          index = 0
          return pull
        })
      })
    return Stream.fromPull(Effect.succeed(pull))
  }))

/**
 * One transaction (or prepare, commit prepared, rollback prepared): its changes and the change that ends it.
 *
 * @since 0.1.0
 */
export interface Transaction {
  /** Begin or BeginPrepare (absent for CommitPrepared / RollbackPrepared, which stand alone). */
  readonly begin: Changes.Begin | Changes.BeginPrepare | undefined
  readonly changes: ReadonlyArray<Changes.Change>
  readonly end: Changes.Acknowledgeable
  /** The end LSN to store with the consumer's effect (exactly once: skip transactions at or below it). */
  readonly endLsn: bigint
  readonly ack: Effect.Effect<void>
}

/**
 * Groups a change stream into whole transactions: one element per Commit / Prepare / CommitPrepared /
 * RollbackPrepared with everything since the previous one.
 *
 * @since 0.1.0
 */
export const transactions = <E, R>(changes: Stream.Stream<Changes.Change, E, R>): Stream.Stream<Transaction, E, R> =>
  // Grouped in the pull itself: one pull of the changes gives every transaction they complete (pulling again
  // while they complete none), with no inner stream per chunk.
  Stream.transformPull(changes, (pull) =>
    Effect.sync(() => {
      let begin: Changes.Begin | Changes.BeginPrepare | undefined
      let pending: Array<Changes.Change> = []
      const group = (chunk: ReadonlyArray<Changes.Change>): Array<Transaction> => {
        const out: Array<Transaction> = []
        for (const change of chunk) {
          if (change._tag === "Begin" || change._tag === "BeginPrepare") {
            begin = change
            pending = []
          } else if (Changes.isAcknowledgeable(change)) {
            out.push({ begin, changes: pending, end: change, endLsn: change.endLsn, ack: change.ack })
            begin = undefined
            pending = []
          } else pending.push(change)
        }
        return out
      }
      const next: Pull.Pull<readonly [Transaction, ...Array<Transaction>], E, void> = Effect.flatMap(pull, (chunk) => {
        const out = group(chunk)
        return out.length > 0 ? Effect.succeed(out as unknown as readonly [Transaction, ...Array<Transaction>]) : next
      })
      return next
    }))

/**
 * The at-least-once sink: runs `f` for each transaction, in commit order, and acknowledges it only after `f`
 * succeeded. A failure of `f` ends the stream unacknowledged (the transaction is delivered again on the next
 * run).
 *
 * @since 0.1.0
 */
export const runAcked = <E, R, E2, R2>(
  changes: Stream.Stream<Changes.Change, E, R>,
  f: (transaction: Transaction) => Effect.Effect<void, E2, R2>
): Effect.Effect<void, E | E2, R | R2> =>
  Stream.runForEach(transactions(changes), (tx) => Effect.flatMap(f(tx), () => tx.ack))
