/**
 * The proxy's admin console: a client connected to the admin database (as
 * PgBouncer's `pgbouncer` database) runs `SHOW POOLS`, `SHOW CLIENTS`,
 * `SHOW SERVERS` and `SHOW STATS` as simple queries; every column is text.
 *
 * Anything else is answered 0A000; the extended protocol is refused.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Backend from "../protocol/Backend.ts"
import * as ServerError from "../server/ServerError.ts"
import type { Takeover } from "../server/Options.ts"
import { Frontend as In } from "../wire/Codes.ts"
import { Writer } from "../wire/Writer.ts"
import type { Context } from "./Context.ts"

/** The admin database's name, by default. */
export const DEFAULT_ADMIN_DATABASE = "pgproxy"

const TEXT_OID = 25

/**
 * A result: column names and rows of text.
 *
 * @since 0.1.0
 */
export interface Table {
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string | number | null>>
}

const iso = (millis: number) => new Date(millis).toISOString()

/**
 * The answer to one admin command, or `undefined` when unknown.
 *
 * @since 0.1.0
 */
export const answer = (command: string, ctx: Context, database: string): Table | undefined => {
  // Trailing semicolons and white space in any number (`SHOW POOLS ;`, as psql -c sends it), keywords in any case.
  const words = command.replace(/[\s;]+$/, "").trim().toLowerCase().split(/\s+/)
  if (words[0] !== "show" || words.length !== 2) return undefined
  const pool = ctx.pool
  const clients = [...ctx.clients]
  switch (words[1]) {
    case "pools": {
      const lent = pool.all.size - pool.idle.length
      return {
        columns: ["database", "pool_mode", "cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_opening", "sv_max", "maxwait_us"],
        rows: [[
          database,
          ctx.mode,
          clients.filter((c) => c.upstream !== undefined).length,
          clients.filter((c) => c.waiting).length,
          lent,
          pool.idle.length,
          pool.opening,
          pool.settings.maxSize,
          pool.counters.waitMicros
        ]]
      }
    }
    case "clients":
      return {
        columns: ["id", "user", "database", "state", "pid", "upstream", "pinned", "statements", "transactions", "queries", "connect_time"],
        rows: clients.map((c) => [
          c.id,
          c.info.user,
          c.info.database,
          c.upstream !== undefined ? "active" : c.waiting ? "waiting" : "idle",
          c.processId,
          c.upstream?.id ?? null,
          c.pinned ?? null,
          c.statements.size,
          c.transactions,
          c.queries,
          iso(c.connectedAt)
        ])
      }
    case "servers":
      return {
        columns: ["id", "state", "pid", "status", "statements", "uses", "connect_time", "last_used"],
        rows: [...pool.all].map((u) => [
          u.id,
          u.sink !== undefined ? "active" : "idle",
          u.processId,
          u.status,
          u.statements.size,
          u.uses,
          iso(u.createdAt),
          iso(u.lastUsed)
        ])
      }
    case "stats": {
      const t = ctx.totals
      const c = pool.counters
      return {
        columns: [
          "total_xact_count",
          "total_query_count",
          "total_received",
          "total_sent",
          "total_wait_time_us",
          "loans",
          "upstreams_opened",
          "upstreams_closed",
          "connect_failures",
          "acquire_timeouts",
          "cancels_sent",
          "cancels_dropped",
          "parameter_sets"
        ],
        rows: [[
          t.transactions,
          t.queries,
          t.received,
          t.sent,
          c.waitMicros,
          c.loans,
          c.opened,
          c.closed,
          c.connectFailures,
          c.acquireTimeouts,
          t.canceled,
          t.cancelsDropped,
          t.parameterSets
        ]]
      }
    }
    default:
      return undefined
  }
}

const writeTable = (w: Writer, table: Table, tag: string): void => {
  Backend.writeUnsafe(w, {
    _tag: "RowDescription",
    fields: table.columns.map((name) => ({
      name,
      tableOid: 0,
      columnAttributeNumber: 0,
      dataTypeOid: TEXT_OID,
      dataTypeSize: -1,
      typeModifier: -1,
      formatCode: 0 as const
    }))
  })
  const encoder = new TextEncoder()
  for (const row of table.rows) {
    Backend.writeUnsafe(w, { _tag: "DataRow", values: row.map((v) => (v === null ? null : encoder.encode(String(v)))) })
  }
  Backend.writeUnsafe(w, { _tag: "CommandComplete", tag })
}

/**
 * Serves one admin-console connection until it leaves; `database` is the upstream database the pool serves.
 *
 * @since 0.1.0
 */
export const serveAdmin = (takeover: Takeover, ctx: Context, database: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    const wire = takeover.wire
    const w = new Writer()
    let discarding = false
    for (;;) {
      const frame = yield* wire.take
      if (!("type" in frame) || frame.type === In.Terminate) break
      if (frame.type === In.Query) {
        const sql = new TextDecoder().decode(frame.body.subarray(0, Math.max(0, frame.body.length - 1)))
        const table = answer(sql, ctx, database)
        if (table !== undefined) writeTable(w, table, "SHOW")
        else if (sql.trim() === "" || sql.trim() === ";") Backend.writeUnsafe(w, { _tag: "EmptyQueryResponse" })
        else {
          Backend.writeUnsafe(w, {
            _tag: "ErrorResponse",
            fields: ServerError.toFields(
              ServerError.featureNotSupported("the admin console knows SHOW POOLS, SHOW CLIENTS, SHOW SERVERS and SHOW STATS")
            )
          })
        }
        Backend.writeUnsafe(w, { _tag: "ReadyForQuery", transactionStatus: "I" })
      } else if (frame.type === In.Sync) {
        discarding = false
        Backend.writeUnsafe(w, { _tag: "ReadyForQuery", transactionStatus: "I" })
      } else if (frame.type !== In.Flush && !discarding) {
        discarding = true
        Backend.writeUnsafe(w, {
          _tag: "ErrorResponse",
          fields: ServerError.toFields(ServerError.featureNotSupported("the admin console takes simple queries only"))
        })
      }
      const bytes = w.flush()
      if (bytes.length > 0) wire.socket.write(bytes)
    }
    wire.close()
  })
