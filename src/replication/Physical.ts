/**
 * Physical replication streams: `START_REPLICATION [SLOT s] PHYSICAL lsn
 * [TIMELINE tli]` on a `replication=true` connection, as a `Stream` of WAL
 * sections with an `ack`, ending with `EndOfTimeline` when the server
 * reaches the end of an old timeline.
 *
 * **Details**
 *
 * - The WAL bytes are contiguous and delivered at least once; `ack` reports
 *   the section's last byte + 1 as flushed (with a slot, that moves its
 *   `restart_lsn`).
 * - Hot standby feedback (optional) goes with every timed status update.
 * - At the end of a timeline the server sends CopyDone, the client answers
 *   with its own, and the server sends the next timeline and where it starts;
 *   a start exactly at that point is answered the same way without any COPY.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { ConfigError, PgError } from "../errors/PgError.ts"
import * as Replication from "../protocol/Replication.ts"
import { checkSlotName, lsnOf } from "./Commands.ts"
import type * as Errors from "./Errors.ts"
import { DEFAULT_STATUS_INTERVAL_MILLIS, Feed, type StandbyFeedback } from "./Feed.ts"
import * as Link from "./Link.ts"

/**
 * @since 0.1.0
 */
export interface PhysicalOptions {
  /** A physical slot (optional). */
  readonly slot?: string | undefined
  /** Where to start (a WAL position the server still has). */
  readonly startLsn: bigint
  /** The timeline to stream (default the server's current one). */
  readonly timeline?: number | undefined
  /** Interval between status updates (milliseconds). Default `DEFAULT_STATUS_INTERVAL_MILLIS`. */
  readonly statusIntervalMillis?: number | undefined
  /**
   * Hot standby feedback: run when streaming starts and after every status update, its xmin is sent to the
   * primary, which then keeps the rows (and, with a slot, holds the slot's `xmin`) that transactions from it on
   * may still see. `undefined` stops the feedback.
   */
  readonly hotStandbyFeedback?: Effect.Effect<StandbyFeedback | undefined> | undefined
}

/**
 * A section of the WAL stream.
 *
 * @since 0.1.0
 */
export interface XLogData {
  readonly _tag: "XLogData"
  readonly walStart: bigint
  /** The server's end of WAL when it sent this. */
  readonly walEnd: bigint
  readonly serverTime: Date
  /** The WAL bytes from `walStart` (a copy, owned by the consumer). */
  readonly data: Uint8Array
  /** Reports everything up to this section's end as flushed. */
  readonly ack: Effect.Effect<void>
}

/**
 * The streamed timeline ended: continue on `nextTimeline` from `startLsn`.
 *
 * @since 0.1.0
 */
export interface EndOfTimeline {
  readonly _tag: "EndOfTimeline"
  readonly nextTimeline: number
  readonly startLsn: bigint
}

/** @since 0.1.0 */
export type PhysicalEvent = XLogData | EndOfTimeline

/**
 * The START_REPLICATION command for physical streaming.
 *
 * @since 0.1.0
 */
export const startCommand = (options: PhysicalOptions): Effect.Effect<string, PgError> =>
  Effect.gen(function*() {
    if (options.slot !== undefined) yield* checkSlotName(options.slot)
    const t = options.timeline
    if (t !== undefined && (!Number.isInteger(t) || t < 1 || t > 0xffffffff)) {
      return yield* Effect.fail(new PgError({ reason: new ConfigError({ message: `bad timeline ${t}`, parameter: "timeline" }) }))
    }
    return `START_REPLICATION${options.slot === undefined ? "" : ` SLOT ${options.slot}`} PHYSICAL ${
      Replication.formatLsn(options.startLsn)
    }${t === undefined ? "" : ` TIMELINE ${t}`}`
  })

/**
 * A physical WAL stream on its own `replication=true` connection.
 *
 * @since 0.1.0
 */
export const physical = (
  connect: Link.ConnectOptions,
  options: PhysicalOptions
): Stream.Stream<PhysicalEvent, Errors.Failure> =>
  Stream.unwrap(Effect.gen(function*() {
    const sql = yield* startCommand(options)
    const link = yield* Link.open(connect, "physical")
    const feed = yield* Feed.start(link, sql, {
      slot: options.slot,
      statusIntervalMillis: options.statusIntervalMillis ?? DEFAULT_STATUS_INTERVAL_MILLIS,
      idleAdvance: false,
      feedback: options.hotStandbyFeedback
    })
    let ended = false
    const pull: Effect.Effect<readonly [PhysicalEvent, ...Array<PhysicalEvent>], Errors.Failure | Cause.Done> = Effect
      .flatMap(feed.take, (batch): Effect.Effect<readonly [PhysicalEvent, ...Array<PhysicalEvent>], Errors.Failure | Cause.Done> => {
        if (batch !== undefined) {
          return Effect.succeed(batch.map((m): PhysicalEvent => {
            const end = m.walStart + BigInt(m.data.length)
            return {
              _tag: "XLogData",
              walStart: m.walStart,
              walEnd: m.walEnd,
              serverTime: Replication.toDate(m.serverTime),
              data: m.data,
              ack: Effect.sync(() => feed.acknowledge(end))
            }
          }) as unknown as readonly [PhysicalEvent, ...Array<PhysicalEvent>])
        }
        const row = feed.ending?.rows[0]
        if (ended || row === undefined) return Cause.done()
        ended = true
        return Effect.map(lsnOf(row["next_tli_startpos"], "next_tli_startpos"), (startLsn) =>
          [{ _tag: "EndOfTimeline", nextTimeline: Number(row["next_tli"]), startLsn: startLsn ?? 0n }] as readonly [PhysicalEvent])
      })
    return Stream.fromPull(Effect.succeed(pull))
  }))
