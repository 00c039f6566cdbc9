/**
 * `BASE_BACKUP` (PostgreSQL 15+ format) on a `replication=true` connection as
 * a `Stream`: the start position and tablespaces, each archive's name and tar
 * bytes, progress reports, the manifest, and the end position, with every file
 * of the main archive checked against the manifest's sizes and SHA-256
 * checksums as it streams.
 *
 * **Details**
 *
 * - The server answers with a result set (start LSN and timeline), a result
 *   set of tablespaces, CopyOut carrying `NewArchive` / data / `ProgressReport`
 *   / `Manifest` / data payloads, then a result set with the end position.
 * - Data chunks are copies the consumer owns. Reading pauses while more than
 *   `BACKUP_HIGH_WATER_BYTES` wait for the consumer.
 * - A manifest that does not match the archives fails the stream (at its end)
 *   with `ManifestMismatch`; with `manifest: false` nothing is checked.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Buffer } from "node:buffer"
import { PgError, ProtocolError, type ServerError } from "../errors/PgError.ts"
import type * as Backend from "../protocol/Backend.ts"
import * as Frontend from "../protocol/Frontend.ts"
import * as Replication from "../protocol/Replication.ts"
import type { Connection } from "../session/Connection.ts"
import { PLAN_SIMPLE } from "../session/Requests.ts"
import type { Writer } from "../wire/Writer.ts"
import { lsnOf } from "./Commands.ts"
import * as Errors from "./Errors.ts"
import * as Link from "./Link.ts"
import { TarDigest, verify } from "./Manifest.ts"

/** Bytes of backup data waiting for the consumer before reading pauses. */
export const BACKUP_HIGH_WATER_BYTES = 8 * 1024 * 1024

/**
 * @since 0.1.0
 */
export interface BaseBackupOptions {
  readonly label?: string | undefined
  /** "fast" (default): an immediate checkpoint; "spread": the server's paced one. */
  readonly checkpoint?: "fast" | "spread" | undefined
  /** Include the WAL the backup needs (an archive `pg_wal.tar`). Default false. */
  readonly wal?: boolean | undefined
  /** Ask for a manifest with SHA-256 file checksums and check the archives against it (default true). */
  readonly manifest?: boolean | undefined
  /** Progress reports (default true). */
  readonly progress?: boolean | undefined
}

/** @since 0.1.0 */
export type BackupEvent =
  | {
    readonly _tag: "Start"
    readonly startLsn: bigint
    readonly timeline: number
    readonly tablespaces: ReadonlyArray<{ readonly oid: number | null; readonly location: string | null }>
  }
  | { readonly _tag: "Archive"; readonly name: string; readonly tablespacePath: string }
  | { readonly _tag: "ArchiveData"; readonly data: Uint8Array }
  | { readonly _tag: "Progress"; readonly completedBytes: bigint }
  | { readonly _tag: "ManifestData"; readonly data: Uint8Array }
  | { readonly _tag: "End"; readonly endLsn: bigint; readonly timeline: number; readonly manifestVerified: boolean }

interface ResultSet {
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<Link.TextRow>
}

class BaseBackupRequest extends Link.TextRowsRequest {
  override exclusive = true
  readonly sql: string
  readonly sets: Array<ResultSet> = []
  readonly events: Array<BackupEvent> = []
  bytes = 0
  paused = false
  conn: Connection | undefined = undefined
  waiter: (() => void) | undefined = undefined
  ending: { readonly error: PgError | ServerError | undefined } | undefined = undefined
  /** In the manifest (after 'm'), not in an archive. */
  inManifest = false
  readonly digest = new TarDigest()
  /** Only the main archive's files are in the manifest with paths relative to the data directory. */
  inMainArchive = false
  readonly manifest: Array<Uint8Array> = []

  constructor(sql: string) {
    super()
    this.sql = sql
  }

  encode(w: Writer, conn: Connection): void {
    this.conn = conn
    Frontend.writeQuery(w, this.sql)
    this.begin(PLAN_SIMPLE)
  }

  override onRowDescription(message: Backend.RowDescription): void {
    super.onRowDescription(message)
    this.sets.push({ columns: this.columns, rows: this.rows })
  }

  private push(event: BackupEvent, size = 0): void {
    this.events.push(event)
    this.bytes += size
    if (this.bytes > BACKUP_HIGH_WATER_BYTES && !this.paused && this.conn !== undefined) {
      this.paused = true
      this.conn.pauseReading(this)
    }
    this.wake()
  }

  wake(): void {
    const w = this.waiter
    this.waiter = undefined
    w?.()
  }

  override onCopyOut(): void {
    const start = this.sets[0]?.rows[0]
    const tablespaces = (this.sets[1]?.rows ?? []).map((r) => ({
      oid: r["spcoid"] === null || r["spcoid"] === undefined ? null : Number(r["spcoid"]),
      location: r["spclocation"] ?? null
    }))
    const startLsn = Replication.parseLsn(start?.["recptr"] ?? "")
    if (startLsn._tag === "Failure") {
      this.clientError ??= new PgError({ reason: startLsn.failure })
      return
    }
    this.push({ _tag: "Start", startLsn: startLsn.success, timeline: Number(start?.["tli"] ?? 0), tablespaces })
  }

  override onCopyData(buf: Uint8Array, start: number, end: number): void {
    const decoded = Replication.decodeBaseBackupView(buf, start, end)
    if (decoded._tag === "Failure") {
      this.conn?.breakWith(new PgError({ reason: decoded.failure }))
      return
    }
    const m = decoded.success
    switch (m._tag) {
      case "NewArchive":
        this.inManifest = false
        this.inMainArchive = m.tablespacePath === ""
        this.digest.newArchive()
        return this.push({ _tag: "Archive", name: m.fileName, tablespacePath: m.tablespacePath })
      case "Manifest":
        this.inManifest = true
        return
      case "ProgressReport":
        return this.push({ _tag: "Progress", completedBytes: m.completedBytes })
      case "ArchiveOrManifestData": {
        const data = m.data.slice()
        if (this.inManifest) {
          this.manifest.push(data)
          return this.push({ _tag: "ManifestData", data }, data.length)
        }
        if (this.inMainArchive) {
          try {
            this.digest.push(data)
          } catch (e) {
            this.clientError ??= new PgError({ reason: new ProtocolError({ message: String(e instanceof Error ? e.message : e) }) })
          }
        }
        return this.push({ _tag: "ArchiveData", data }, data.length)
      }
    }
  }

  complete(): void {
    this.ending = { error: this.serverError ?? this.clientError }
    this.wake()
  }

  fail(error: PgError): void {
    this.ending = { error }
    this.wake()
  }

  /** The buffered events, waiting for some; undefined at the end. */
  readonly take: Effect.Effect<ReadonlyArray<BackupEvent> | undefined, PgError | ServerError> = Effect.suspend(() => {
    if (this.events.length > 0) {
      const out = this.events.splice(0)
      this.bytes = 0
      if (this.paused) {
        this.paused = false
        this.conn?.resumeReading(this)
      }
      return Effect.succeed(out)
    }
    if (this.ending !== undefined) return this.ending.error === undefined ? Effect.succeed(undefined) : Effect.fail(this.ending.error)
    return Effect.flatMap(
      Effect.callback<void>((resume) => {
        this.waiter = () => resume(Effect.void)
      }),
      () => this.take
    )
  })
}

const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`

/**
 * A base backup of the server as a stream (PostgreSQL 15+).
 *
 * @since 0.1.0
 */
export const baseBackup = (
  connect: Link.ConnectOptions,
  options: BaseBackupOptions = {}
): Stream.Stream<BackupEvent, Errors.Failure> =>
  Stream.unwrap(Effect.gen(function*() {
    const link = yield* Link.open(connect, "physical")
    if (link.majorVersion < 15) return yield* Effect.fail(Errors.unsupported("BASE_BACKUP stream format", 15, link.majorVersion))
    const withManifest = options.manifest ?? true
    const parts = [
      `LABEL ${quote(options.label ?? "effect-pgwire base backup")}`,
      `CHECKPOINT '${options.checkpoint ?? "fast"}'`,
      `WAL ${options.wal === true}`,
      `PROGRESS ${options.progress ?? true}`,
      `MANIFEST '${withManifest ? "yes" : "no"}'`
    ]
    if (withManifest) parts.push("MANIFEST_CHECKSUMS 'SHA256'")
    const request = new BaseBackupRequest(`BASE_BACKUP (${parts.join(", ")})`)
    link.conn.submit(request)
    let ended = false
    const pull: Effect.Effect<readonly [BackupEvent, ...Array<BackupEvent>], Errors.Failure | Cause.Done> = Effect.flatMap(
      Effect.mapError(request.take, (e) => (e instanceof PgError ? e : new PgError({ reason: e }))),
      (events): Effect.Effect<readonly [BackupEvent, ...Array<BackupEvent>], Errors.Failure | Cause.Done> => {
        if (events !== undefined) return Effect.succeed(events as unknown as readonly [BackupEvent, ...Array<BackupEvent>])
        if (ended) return Cause.done()
        ended = true
        return Effect.gen(function*() {
          const last = request.sets[request.sets.length - 1]?.rows[0]
          const endLsn = (yield* lsnOf(last?.["recptr"], "recptr")) ?? 0n
          if (withManifest) {
            const text = new TextDecoder().decode(Buffer.concat(request.manifest))
            const problem = verify(text, request.digest)
            if (problem !== undefined) {
              return yield* Effect.fail(
                new Errors.ReplicationError({ reason: new Errors.ManifestMismatch({ message: problem }) })
              )
            }
          }
          return [{ _tag: "End", endLsn, timeline: Number(last?.["tli"] ?? 0), manifestVerified: withManifest }] as const
        })
      }
    )
    return Stream.fromPull(Effect.succeed(pull))
  }))
