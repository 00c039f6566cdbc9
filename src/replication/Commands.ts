/**
 * The replication commands of protocol-3.2 "Streaming Replication Protocol"
 * with typed results: IDENTIFY_SYSTEM, SHOW, TIMELINE_HISTORY,
 * CREATE_REPLICATION_SLOT, READ_REPLICATION_SLOT, ALTER_REPLICATION_SLOT,
 * DROP_REPLICATION_SLOT.
 *
 * **Details**
 *
 * - Slot names are checked on the client against the server's rule (lower-case
 *   letters, digits and underscores, at most 63 bytes), so a name can never
 *   change the command's meaning.
 * - Options a server version lacks are refused before anything is sent with
 *   `UnsupportedOption` (READ_REPLICATION_SLOT and the parenthesised
 *   CREATE_REPLICATION_SLOT options need 15, TWO_PHASE 15, FAILOVER and
 *   ALTER_REPLICATION_SLOT 17, ALTER's TWO_PHASE 18). Servers before 15 get
 *   the older CREATE_REPLICATION_SLOT syntax.
 * - Server errors about slots become `ReplicationError`s (`SlotNotFound`,
 *   `SlotInUse`, ...; see `Errors`).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { ConfigError, PgError, ProtocolError } from "../errors/PgError.ts"
import * as Replication from "../protocol/Replication.ts"
import * as Errors from "./Errors.ts"
import * as Link from "./Link.ts"

/**
 * IDENTIFY_SYSTEM's answer.
 *
 * @since 0.1.0
 */
export interface SystemIdentity {
  /** The cluster's unique system identifier (a 64-bit number, as text). */
  readonly systemId: string
  readonly timeline: number
  /** The current WAL flush location. */
  readonly xlogPos: bigint
  /** The database connected to (`replication=database`), else null. */
  readonly dbName: string | null
}

/**
 * One line of a timeline history file.
 *
 * @since 0.1.0
 */
export interface TimelineHistoryEntry {
  /** The timeline that ended. */
  readonly timeline: number
  /** Where the next timeline branched off. */
  readonly switchPoint: bigint
  readonly reason: string
}

/**
 * TIMELINE_HISTORY's answer: the file and its parsed lines.
 *
 * @since 0.1.0
 */
export interface TimelineHistory {
  readonly fileName: string
  readonly content: string
  readonly entries: ReadonlyArray<TimelineHistoryEntry>
}

/**
 * CREATE_REPLICATION_SLOT options.
 *
 * @since 0.1.0
 */
export type CreateSlotOptions =
  | {
    /** A logical slot with this output plugin (e.g. "pgoutput"). */
    readonly logical: string
    readonly temporary?: boolean | undefined
    /** Decode prepared transactions at PREPARE (PostgreSQL 15+). */
    readonly twoPhase?: boolean | undefined
    /** Synchronise the slot to standbys (PostgreSQL 17+). */
    readonly failover?: boolean | undefined
    /** What to do with the slot's snapshot; default "nothing". */
    readonly snapshot?: "export" | "use" | "nothing" | undefined
  }
  | {
    readonly physical: true
    readonly temporary?: boolean | undefined
    /** Reserve WAL at once rather than at the first connection (default true). */
    readonly reserveWal?: boolean | undefined
  }

/**
 * CREATE_REPLICATION_SLOT's answer.
 *
 * @since 0.1.0
 */
export interface CreatedSlot {
  readonly slotName: string
  /** Where the slot became consistent (logical) or where WAL is reserved from (physical); null when none is. */
  readonly consistentPoint: bigint | null
  /** The exported snapshot's name (`snapshot: "export"`). */
  readonly snapshotName: string | null
  readonly outputPlugin: string | null
}

/**
 * READ_REPLICATION_SLOT's answer (physical slots).
 *
 * @since 0.1.0
 */
export interface SlotInfo {
  readonly slotType: "physical" | "logical"
  readonly restartLsn: bigint | null
  readonly restartTimeline: number | null
}

const SLOT_NAME = /^[a-z0-9_]{1,63}$/

/**
 * Checks a slot name against the server's rule (`ReplicationSlotValidateName`).
 *
 * @since 0.1.0
 */
export const checkSlotName = (name: string): Effect.Effect<string, PgError> =>
  SLOT_NAME.test(name)
    ? Effect.succeed(name)
    : Effect.fail(
      new PgError({
        reason: new ConfigError({
          message: `replication slot name ${JSON.stringify(name)} may contain only lower case letters, numbers and ` +
            `the underscore character, at most 63 of them`,
          parameter: "slot"
        })
      })
    )

/**
 * Parses an LSN column.
 *
 * @since 0.1.0
 */
export const lsnOf = (text: string | null | undefined, column: string): Effect.Effect<bigint | null, PgError> => {
  if (text === null || text === undefined) return Effect.succeed(null)
  const parsed = Replication.parseLsn(text)
  return Result.isSuccess(parsed)
    ? Effect.succeed(parsed.success)
    : Effect.fail(new PgError({ reason: new ProtocolError({ message: `${column}: ${parsed.failure.message}` }) }))
}

const protocolError = (message: string) => new PgError({ reason: new ProtocolError({ message }) })

const firstRow = (result: Link.CommandResult, what: string): Effect.Effect<Link.TextRow, PgError> =>
  result.rows[0] === undefined ? Effect.fail(protocolError(`${what} returned no row`)) : Effect.succeed(result.rows[0])

/** Runs a command; slot conditions become `ReplicationError`s. */
const run = (link: Link.Link, sql: string, slot?: string): Effect.Effect<Link.CommandResult, Errors.Failure> =>
  Effect.mapError(Link.command(link, sql), (e) => Errors.classify(e, slot))

const needs = (link: Link.Link, option: string, minVersion: number): Effect.Effect<void, Errors.ReplicationError> =>
  link.majorVersion >= minVersion ? Effect.void : Effect.fail(Errors.unsupported(option, minVersion, link.majorVersion))

/**
 * IDENTIFY_SYSTEM.
 *
 * @since 0.1.0
 */
export const identifySystem = (link: Link.Link): Effect.Effect<SystemIdentity, Errors.Failure> =>
  Effect.gen(function*() {
    const row = yield* firstRow(yield* run(link, "IDENTIFY_SYSTEM"), "IDENTIFY_SYSTEM")
    return {
      systemId: row["systemid"] ?? "",
      timeline: Number(row["timeline"]),
      xlogPos: (yield* lsnOf(row["xlogpos"], "xlogpos")) ?? 0n,
      dbName: row["dbname"] ?? null
    }
  })

/**
 * SHOW name: a run-time parameter's value as text.
 *
 * @since 0.1.0
 */
export const show = (link: Link.Link, name: string): Effect.Effect<string, Errors.Failure> =>
  Effect.gen(function*() {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) {
      return yield* Effect.fail(new PgError({ reason: new ConfigError({ message: `not a parameter name: ${JSON.stringify(name)}`, parameter: "name" }) }))
    }
    const result = yield* run(link, `SHOW ${name}`)
    const row = yield* firstRow(result, "SHOW")
    return row[result.columns[0] ?? name] ?? ""
  })

/**
 * Parses the content of a timeline history file: `timeline<TAB>switchpoint<TAB>reason` lines; blank lines and
 * `#` comments are skipped (as the server's `readTimeLineHistory`).
 *
 * @since 0.1.0
 */
export const parseTimelineHistory = (content: string): Result.Result<ReadonlyArray<TimelineHistoryEntry>, ProtocolError> => {
  const entries: Array<TimelineHistoryEntry> = []
  for (const raw of content.split("\n")) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) continue
    const m = /^(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)\s*(.*)$/.exec(line)
    if (m === null) return Result.fail(new ProtocolError({ message: `timeline history: bad line ${JSON.stringify(line)}` }))
    const lsn = Replication.parseLsn(m[2]!)
    if (Result.isFailure(lsn)) return Result.fail(lsn.failure)
    entries.push({ timeline: Number(m[1]), switchPoint: lsn.success, reason: m[3] ?? "" })
  }
  return Result.succeed(entries)
}

/**
 * TIMELINE_HISTORY tli.
 *
 * @since 0.1.0
 */
export const timelineHistory = (link: Link.Link, timeline: number): Effect.Effect<TimelineHistory, Errors.Failure> =>
  Effect.gen(function*() {
    if (!Number.isInteger(timeline) || timeline < 1 || timeline > 0xffffffff) {
      return yield* Effect.fail(new PgError({ reason: new ConfigError({ message: `bad timeline ${timeline}`, parameter: "timeline" }) }))
    }
    const row = yield* firstRow(yield* run(link, `TIMELINE_HISTORY ${timeline}`), "TIMELINE_HISTORY")
    const content = row["content"] ?? ""
    const entries = yield* Effect.mapError(
      Effect.fromResult(parseTimelineHistory(content)),
      (e) => new PgError({ reason: e })
    )
    return { fileName: row["filename"] ?? "", content, entries }
  })

/**
 * CREATE_REPLICATION_SLOT.
 *
 * @since 0.1.0
 */
export const createSlot = (
  link: Link.Link,
  name: string,
  options: CreateSlotOptions
): Effect.Effect<CreatedSlot, Errors.Failure> =>
  Effect.gen(function*() {
    yield* checkSlotName(name)
    const modern = link.majorVersion >= 15
    let sql = `CREATE_REPLICATION_SLOT ${name}${options.temporary === true ? " TEMPORARY" : ""}`
    if ("physical" in options) {
      const reserve = options.reserveWal ?? true
      sql += modern ? ` PHYSICAL${reserve ? " (RESERVE_WAL)" : ""}` : ` PHYSICAL${reserve ? " RESERVE_WAL" : ""}`
    } else {
      if (!/^[A-Za-z0-9_]+$/.test(options.logical)) {
        return yield* Effect.fail(new PgError({ reason: new ConfigError({ message: `bad output plugin name ${JSON.stringify(options.logical)}`, parameter: "logical" }) }))
      }
      if (options.twoPhase === true) yield* needs(link, "TWO_PHASE", 15)
      if (options.failover === true) yield* needs(link, "FAILOVER", 17)
      const snapshot = options.snapshot ?? "nothing"
      if (modern) {
        const parts = [`SNAPSHOT '${snapshot}'`]
        if (options.twoPhase === true) parts.push("TWO_PHASE")
        if (options.failover === true) parts.push("FAILOVER")
        sql += ` LOGICAL ${options.logical} (${parts.join(", ")})`
      } else {
        const word = snapshot === "export" ? "EXPORT_SNAPSHOT" : snapshot === "use" ? "USE_SNAPSHOT" : "NOEXPORT_SNAPSHOT"
        sql += ` LOGICAL ${options.logical} ${word}`
      }
    }
    const row = yield* firstRow(yield* run(link, sql, name), "CREATE_REPLICATION_SLOT")
    return {
      slotName: row["slot_name"] ?? name,
      consistentPoint: yield* lsnOf(row["consistent_point"], "consistent_point"),
      snapshotName: row["snapshot_name"] ?? null,
      outputPlugin: row["output_plugin"] ?? null
    }
  })

/**
 * READ_REPLICATION_SLOT (PostgreSQL 15+; physical slots). A slot that does not exist is `SlotNotFound`.
 *
 * @since 0.1.0
 */
export const readSlot = (link: Link.Link, name: string): Effect.Effect<SlotInfo, Errors.Failure> =>
  Effect.gen(function*() {
    yield* checkSlotName(name)
    yield* needs(link, "READ_REPLICATION_SLOT", 15)
    const row = yield* firstRow(yield* run(link, `READ_REPLICATION_SLOT ${name}`, name), "READ_REPLICATION_SLOT")
    const slotType = row["slot_type"] ?? null
    if (slotType === null) {
      return yield* Effect.fail(
        new Errors.ReplicationError({
          reason: new Errors.SlotNotFound({ message: `replication slot "${name}" does not exist`, slot: name })
        })
      )
    }
    return {
      slotType: slotType === "logical" ? "logical" : "physical",
      restartLsn: yield* lsnOf(row["restart_lsn"], "restart_lsn"),
      restartTimeline: row["restart_tli"] === null || row["restart_tli"] === undefined ? null : Number(row["restart_tli"])
    }
  })

/**
 * ALTER_REPLICATION_SLOT (PostgreSQL 17+; `twoPhase` 18+).
 *
 * @since 0.1.0
 */
export const alterSlot = (
  link: Link.Link,
  name: string,
  options: { readonly failover?: boolean | undefined; readonly twoPhase?: boolean | undefined }
): Effect.Effect<void, Errors.Failure> =>
  Effect.gen(function*() {
    yield* checkSlotName(name)
    yield* needs(link, "ALTER_REPLICATION_SLOT", 17)
    const parts: Array<string> = []
    if (options.failover !== undefined) parts.push(`FAILOVER ${options.failover}`)
    if (options.twoPhase !== undefined) {
      yield* needs(link, "ALTER_REPLICATION_SLOT TWO_PHASE", 18)
      parts.push(`TWO_PHASE ${options.twoPhase}`)
    }
    if (parts.length === 0) return
    yield* run(link, `ALTER_REPLICATION_SLOT ${name} (${parts.join(", ")})`, name)
  })

/**
 * DROP_REPLICATION_SLOT; with `wait`, waits until a walsender using the slot lets go instead of failing with
 * `SlotInUse`.
 *
 * @since 0.1.0
 */
export const dropSlot = (
  link: Link.Link,
  name: string,
  options?: { readonly wait?: boolean | undefined }
): Effect.Effect<void, Errors.Failure> =>
  Effect.gen(function*() {
    yield* checkSlotName(name)
    yield* run(link, `DROP_REPLICATION_SLOT ${name}${options?.wait === true ? " WAIT" : ""}`, name)
  })
