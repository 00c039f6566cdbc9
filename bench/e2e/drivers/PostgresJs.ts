/**
 * The workloads written with postgres.js (`postgres` 3.x), the way its README
 * shows: tagged-template queries (prepared and cached by default), `cursor`
 * for streaming, `writable`/`readable` for COPY, `max` for the pool size.
 *
 * Defaults are kept (text format; int8 and numeric as strings), except `max`,
 * which is 1 for one-connection workloads (its default is 10).
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { pipeline } from "node:stream/promises"
import postgres from "postgres"
import {
  type Context,
  JSON_TABLE,
  type Open,
  PIPELINE_BATCH,
  type Prepared,
  ROWS_TABLE,
  STREAM_PAGE_ROWS,
  TLS_CHECK_SQL,
  WIDE_JSON_TABLE
} from "../Workloads.ts"

type Sql = postgres.Sql

const make = (ctx: Context, max: number): Sql =>
  postgres({ host: ctx.host, port: ctx.port, user: ctx.user, database: ctx.database, max, onnotice: () => {} })

const withSql = (ctx: Context, max: number, body: (sql: Sql) => Promise<number>): Prepared => {
  const sql = make(ctx, max)
  return { run: () => body(sql), close: () => sql.end() }
}

const sumIds = (rows: ReadonlyArray<Record<string, unknown>>): number => {
  let sum = 0
  for (const row of rows) sum += row["id"] as number
  return sum
}

const connectLoop = async (ctx: Context, options: postgres.Options<{}>, check: string): Promise<number> => {
  let count = 0
  for (let i = 0; i < ctx.ops; i++) {
    const sql = postgres({ ...options, max: 1, onnotice: () => {} })
    const rows = await sql.unsafe(check)
    const value = rows[0]?.["n"]
    if (value === 1 || value === true) count++
    await sql.end()
  }
  return count
}

/**
 * @since 0.1.0
 */
export const open: Open = async (workload, ctx) => {
  switch (workload) {
    case "select1":
      return withSql(ctx, 1, async (sql) => {
        let sum = 0
        for (let i = 0; i < ctx.ops; i++) sum += (await sql`select 1 as n`)[0]!["n"] as number
        return sum
      })
    case "params":
    case "prepared":
      // postgres.js prepares every query and reuses the statement by its text: the
      // parameterized loop is also its "prepared statement" form (no explicit API).
      return withSql(ctx, 1, async (sql) => {
        let sum = 0
        for (let i = 1; i <= ctx.ops; i++) sum += (await sql`select ${i}::int4 as n, ${`s${i}`}::text as s`)[0]!["n"] as number
        return sum
      })
    case "pipeline":
    case "pool":
      return withSql(ctx, workload === "pool" ? 4 : 1, async (sql) => {
        const results = await Promise.all(Array.from({ length: ctx.ops }, () => sql`select 1 as n`))
        let sum = 0
        for (const rows of results) sum += rows[0]!["n"] as number
        return sum
      })
    case "batch":
      // No batch API: a pipeline of 100 is 100 queries issued together (postgres.js pipelines them), awaited together.
      return withSql(ctx, 1, async (sql) => {
        let sum = 0
        for (let done = 0; done < ctx.ops; done += PIPELINE_BATCH) {
          const n = Math.min(PIPELINE_BATCH, ctx.ops - done)
          for (const rows of await Promise.all(Array.from({ length: n }, () => sql`select 1 as n`))) sum += rows[0]!["n"] as number
        }
        return sum
      })
    case "rows":
      return withSql(ctx, 1, async (sql) => sumIds(await sql.unsafe(`select * from ${ROWS_TABLE}`)))
    case "jsonb":
      return withSql(ctx, 1, async (sql) => sumIds(await sql.unsafe(`select id, doc from ${JSON_TABLE}`)))
    case "wide-json":
      return withSql(ctx, 1, async (sql) => sumIds(await sql.unsafe(`select id, doc from ${WIDE_JSON_TABLE}`)))
    case "stream":
      return withSql(ctx, 1, async (sql) => {
        let sum = 0
        for await (const rows of sql.unsafe(`select * from ${ROWS_TABLE}`).cursor(STREAM_PAGE_ROWS)) sum += sumIds(rows)
        return sum
      })
    case "copy-in":
      return withSql(ctx, 1, async (sql) => {
        const writable = await sql.unsafe(`copy ${ctx.copyTable} from stdin`).writable()
        await pipeline(fs.createReadStream(ctx.copyFile, { highWaterMark: 65536 }), writable)
        return -1
      })
    case "copy-out":
      return withSql(ctx, 1, async (sql) => {
        const readable = await sql.unsafe(`copy ${ROWS_TABLE} to stdout`).readable()
        let bytes = 0
        for await (const chunk of readable) bytes += (chunk as Buffer).length
        return bytes
      })
    case "connect-scram":
      return {
        run: () =>
          connectLoop(
            ctx,
            { host: ctx.host, port: ctx.port, database: ctx.database, user: ctx.scramUser, password: ctx.scramPassword },
            "select 1 as n"
          ),
        close: async () => {}
      }
    case "connect-tls": {
      const ca = fs.readFileSync(ctx.caFile)
      return {
        run: () =>
          connectLoop(
            ctx,
            {
              host: ctx.host,
              port: ctx.port,
              database: ctx.database,
              user: ctx.tlsUser,
              password: ctx.tlsPassword,
              ssl: { ca, rejectUnauthorized: true }
            },
            TLS_CHECK_SQL
          ),
        close: async () => {}
      }
    }
  }
}
