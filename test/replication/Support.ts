/**
 * Helpers of the replication suites: connection options for the shared
 * servers, unique slot names, and a plain session to watch the server's
 * replication views.
 */
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as PgReplication from "../../src/replication/PgReplication.ts"
import * as PgSession from "../../src/session/Session.ts"
import { PgError } from "../../src/errors/PgError.ts"
import { ReplicationError, type ReplicationErrorReason } from "../../src/replication/Errors.ts"
import type { ServerInfo } from "../support/Servers.ts"

/** Connection options for a shared server, in clear, as `postgres`. */
/**
 * A logical-replication server whose acknowledged commits survive an immediate restart (fsync, synchronous
 * commit, full pages), streaming transactions past 64 kB and dropping a silent walsender after 5 s: the restart
 * and kill tests' server.
 */
export const DURABLE_LOGICAL_SETTINGS = {
  wal_level: "logical",
  max_wal_senders: 10,
  max_replication_slots: 10,
  max_prepared_transactions: 10,
  logical_decoding_work_mem: "64kB",
  wal_sender_timeout: "5s",
  fsync: true,
  synchronous_commit: "on",
  full_page_writes: true
} as const

export const optionsFor = (server: ServerInfo) => ({
  host: server.host,
  port: server.port,
  user: "postgres",
  database: "postgres",
  sslMode: "disable" as const
})

let counter = 0
/** A slot (or publication, table) name unique to this run and file. */
export const uniqueName = (prefix: string): string =>
  `${prefix}_${process.pid}_${Date.now().toString(36)}_${(counter++).toString(36)}`

/** A plain SQL session on the server. */
export const sqlSession = (server: ServerInfo) => PgSession.connect(optionsFor(server))

/** The reason tag of a failure: a `ReplicationError`'s or a `PgError`'s. */
export const failureTag = (exit: Exit.Exit<unknown, unknown>): string => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const found = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(found, "expected a typed failure")
  const error = (found as unknown as { error: unknown }).error
  if (error instanceof ReplicationError) return (error.reason as ReplicationErrorReason)._tag
  assert.instanceOf(error, PgError)
  return (error as PgError).reason._tag
}

/** One row of pg_replication_slots, or undefined. */
export const slotRow = (session: PgSession.Session, slot: string) =>
  Effect.map(
    session.query<{ active: boolean; confirmed_flush_lsn: string | null; restart_lsn: string | null; active_pid: number | null }>(
      "select active, confirmed_flush_lsn::text, restart_lsn::text, active_pid from pg_replication_slots where slot_name = $1",
      [slot]
    ),
    (r) => r.rows[0]
  )

/** Polls `check` every 50 ms until it holds or `attempts` run out; returns whether it held. */
export const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, attempts = 200): Effect.Effect<boolean, E, R> =>
  Effect.gen(function*() {
    for (let i = 0; i < attempts; i++) {
      if (yield* check) return true
      yield* Effect.sleep(50)
    }
    return false
  })

/**
 * A table (with `columns`) in a publication of its own and a logical slot created after it, all dropped with the
 * Scope; `open` starts a logical stream on them.
 */
export const logicalFixture = (
  session: PgSession.Session,
  server: ServerInfo,
  columns = "id int primary key, v text",
  slotOptions: { readonly twoPhase?: boolean } = {}
) =>
  Effect.gen(function*() {
    const table = uniqueName("rt")
    const publication = uniqueName("rp")
    const slot = uniqueName("rs")
    const withSlots = <A, E>(f: (rs: PgReplication.ReplicationSession) => Effect.Effect<A, E>) =>
      Effect.scoped(Effect.flatMap(PgReplication.connect(optionsFor(server)), f))
    yield* session.query(`create table ${table} (${columns})`)
    yield* session.query(`create publication ${publication} for table ${table}`)
    yield* Effect.acquireRelease(
      withSlots((rs) => rs.createSlot(slot, { logical: "pgoutput", twoPhase: slotOptions.twoPhase === true })),
      () =>
        Effect.gen(function*() {
          yield* withSlots((rs) => rs.dropSlot(slot, { wait: true }))
          yield* session.query(`drop publication ${publication}`)
          yield* session.query(`drop table ${table}`)
        }).pipe(Effect.ignore)
    )
    const open = (
      options: Partial<PgReplication.LogicalOptions> = {},
      connect: Partial<PgReplication.ConnectOptions> = {}
    ) =>
      PgReplication.logical(
        { ...optionsFor(server), ...connect },
        { slot, publications: [publication], ...options }
      )
    /** The first `n` transactions of a fresh stream (which ends, unacknowledged, after them). */
    const first = (n: number, options: Partial<PgReplication.LogicalOptions> = {}) =>
      Stream.runCollect(Stream.take(PgReplication.transactions(open(options)), n))
    return { table, publication, slot, open, first }
  })

/**
 * The next `n` elements of a pulled stream: a pull hands out a whole chunk (several transactions that arrived
 * together), so collect across pulls rather than take a pull's first element.
 */
export const pullN = <A, E, R>(
  pull: Effect.Effect<ReadonlyArray<A>, E, R>,
  n: number,
  buffer: Array<A> = []
): Effect.Effect<Array<A>, E, R> =>
  Effect.gen(function*() {
    while (buffer.length < n) buffer.push(...(yield* pull))
    return buffer.splice(0, n)
  })

/** The ids of a transaction's inserts. */
export const insertedIds = (tx: PgReplication.Transaction): Array<unknown> =>
  tx.changes.flatMap((c) => (c._tag === "Insert" ? [c.new["id"]] : []))

/** An LSN column's value as a bigint (0 for null). */
export const lsn = (text: string | null | undefined): bigint =>
  text === null || text === undefined ? 0n : Result.getOrThrow(PgReplication.parseLsn(text))

/** A consumer's log line as the ledger tests write it: what was acknowledged and the ledger rows it carried. */
export interface LedgerEntry {
  readonly kind: PgReplication.Acknowledgeable["_tag"]
  readonly gid: string | undefined
  readonly ids: ReadonlyArray<number>
}

/**
 * The ledger's delivery promises against the table's contents: every row the table holds is logged as committed
 * (in a Commit, or in a Prepare whose CommitPrepared is logged), every row logged as committed is in the table, no
 * rolled-back row is in either, and every prepared transaction not committed was rolled back. Returns the ids the
 * table holds.
 */
export const assertLedger = (
  conn: ReturnType<typeof optionsFor>,
  table: string,
  log: ReadonlyArray<LedgerEntry>,
  rolledBack: ReadonlySet<number>
): Effect.Effect<ReadonlySet<number>, PgError> =>
  Effect.gen(function*() {
    const truth = yield* Effect.scoped(Effect.flatMap(
      PgSession.connect(conn),
      (s) => Effect.map(s.query<{ id: number }>(`select id from ${table}`), (r) => new Set(r.rows.map((x) => x.id)))
    ))
    const committedGids = new Set(log.filter((e) => e.kind === "CommitPrepared").map((e) => e.gid))
    const rolledBackGids = new Set(log.filter((e) => e.kind === "RollbackPrepared").map((e) => e.gid))
    const committedLogged = new Set(
      log.filter((e) => e.kind === "Commit" || (e.kind === "Prepare" && committedGids.has(e.gid))).flatMap((e) => e.ids)
    )
    for (const id of truth) assert.isTrue(committedLogged.has(id), `committed row ${id} logged`)
    for (const id of committedLogged) assert.isTrue(truth.has(id), `row ${id} logged as committed was committed`)
    for (const id of rolledBack) assert.isFalse(truth.has(id) || committedLogged.has(id), `rolled-back row ${id}`)
    for (const e of log.filter((e) => e.kind === "Prepare" && !committedGids.has(e.gid))) {
      assert.isTrue(rolledBackGids.has(e.gid), `prepared ${e.gid} was rolled back`)
    }
    return truth
  })
