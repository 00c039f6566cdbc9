/**
 * A primary and a real streaming standby of it, for the replica suites: the
 * primary is started fresh, backed up over the replication protocol
 * (BASE_BACKUP with its WAL), and the copy started as a hot standby with
 * `primary_conninfo`, so it replays the primary's writes. Both stop with the
 * Scope. Optionally the standby is synchronous (`synchronous_standby_names`,
 * `synchronous_commit = on` on the primary).
 *
 * Before PostgreSQL 15 the BASE_BACKUP stream has another format (the
 * replication module reads 15's): there the standby starts from a copy of the
 * data directory the primary started from (the harness's template of that
 * version, shut down cleanly: the same system and timeline), and streams
 * everything the primary wrote since, which the primary keeps
 * (`wal_keep_size`).
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Buffer } from "node:buffer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as PgReplication from "../../src/replication/PgReplication.ts"
import { acquire, EmbeddedPostgresError, type ServerInfo, type ServerKind, type StartOptions } from "./EmbeddedPostgres.ts"

/** The standby's `application_name` on the primary (what `synchronous_standby_names` names). */
export const STANDBY_NAME = "standby1"

export interface Pair {
  readonly primary: ServerInfo
  readonly standby: ServerInfo
}

export interface PairOptions {
  /** The standby is synchronous: a commit on the primary waits for the standby to flush it. */
  readonly synchronous?: boolean | undefined
  /** Extra settings of both servers. */
  readonly settings?: StartOptions["settings"]
  /** The PostgreSQL version of both. Default "pg18". */
  readonly kind?: ServerKind | undefined
}

/** The versions whose standby is started from the template instead of a BASE_BACKUP (see the header). */
const FROM_TEMPLATE: ReadonlySet<ServerKind> = new Set(["pg13", "pg14"])

/** Writes the directories, regular files and symbolic links of a tar archive under `dir`. */
const untar = (archive: Uint8Array, dir: string): void => {
  const field = (h: Uint8Array, start: number, length: number) => {
    const raw = h.subarray(start, start + length)
    const nul = raw.indexOf(0)
    return Buffer.from(nul < 0 ? raw : raw.subarray(0, nul)).toString()
  }
  let at = 0
  while (at + 512 <= archive.length) {
    const header = archive.subarray(at, at + 512)
    if (header.every((b) => b === 0)) return
    const prefix = field(header, 345, 155)
    const name = prefix === "" ? field(header, 0, 100) : `${prefix}/${field(header, 0, 100)}`
    const size = Number.parseInt(field(header, 124, 12).trim() || "0", 8)
    const kind = header[156]
    const target = Path.join(dir, name)
    if (kind === 0x35) Fs.mkdirSync(target, { recursive: true, mode: 0o700 })
    else if (kind === 0x32) Fs.symlinkSync(field(header, 157, 100), target)
    else if (kind === 0x30 || kind === 0) {
      Fs.mkdirSync(Path.dirname(target), { recursive: true, mode: 0o700 })
      Fs.writeFileSync(target, archive.subarray(at + 512, at + 512 + size))
    }
    at += 512 + Math.ceil(size / 512) * 512
  }
}

/** Starts a primary and a streaming standby of it for the Scope. */
export const streamingPair = (options: PairOptions = {}) =>
  Effect.gen(function*() {
    const kind = options.kind ?? "pg18"
    const fromTemplate = FROM_TEMPLATE.has(kind)
    const primary = yield* acquire({
      name: "primary",
      kind,
      settings: {
        ...options.settings,
        ...(fromTemplate ? { wal_keep_size: "256MB" } : {}),
        ...(options.synchronous === true
          ? { synchronous_standby_names: `"${STANDBY_NAME}"`, synchronous_commit: "on" }
          : {})
      }
    })
    const standbySettings = {
      ...options.settings,
      primary_conninfo:
        `host=${primary.host} port=${primary.port} user=postgres sslmode=disable application_name=${STANDBY_NAME}`,
      // Hot standby answers while replaying; replies quickly so the primary sees it streaming.
      wal_receiver_status_interval: "1s"
    }
    if (fromTemplate) {
      const standby = yield* acquire({ name: "standby", kind, standby: true, settings: standbySettings })
      return { primary, standby } satisfies Pair
    }
    const connect = { host: primary.host, port: primary.port, user: "postgres", database: "postgres", sslMode: "disable" as const }
    const events = yield* Stream.runCollect(PgReplication.baseBackup(connect, { wal: true, progress: false })).pipe(
      Effect.mapError((e) => new EmbeddedPostgresError({ message: `base backup of the primary failed: ${String(e)}` }))
    )
    const parts: Array<Uint8Array> = []
    let main = false
    for (const e of events) {
      if (e._tag === "Archive") main = e.name === "base.tar"
      if (e._tag === "ArchiveData" && main) parts.push(e.data)
    }
    // Named as the harness names its directories (`effect-pgwire-<name>-<owner pid>-`), so a run killed before its
    // finalizer is swept by the next one.
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), `effect-pgwire-replica-${process.pid}-`))
    yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
    const data = Path.join(dir, "data")
    untar(Buffer.concat(parts), data)
    const standby = yield* acquire({ name: "standby", kind, standby: true, dataFrom: data, settings: standbySettings })
    return { primary, standby } satisfies Pair
  })
