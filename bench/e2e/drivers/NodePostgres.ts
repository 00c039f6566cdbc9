/**
 * The workloads written with node-postgres (`pg` 8.x) and its companions:
 * `pg-cursor` for streaming, `pg-copy-streams` for COPY, `pg.Pool` for the
 * pool, named queries for the prepared statement.
 *
 * Defaults are kept (text format; int8 and numeric as strings). node-postgres
 * sends one query at a time on a connection: the concurrent workload queues
 * 20,000 queries on the client, as its users would, and gets no pipelining.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { pipeline } from "node:stream/promises"
import pg, { type Client, type ClientConfig } from "pg"
import Cursor from "pg-cursor"
import { from as copyFrom, to as copyTo } from "pg-copy-streams"
import {
  type Context,
  JSON_TABLE,
  type Open,
  PARAMS_SQL,
  type Prepared,
  ROWS_TABLE,
  STREAM_PAGE_ROWS,
  TLS_CHECK_SQL,
  WIDE_JSON_TABLE
} from "../Workloads.ts"

const config = (ctx: Context): ClientConfig => ({ host: ctx.host, port: ctx.port, user: ctx.user, database: ctx.database })

const withClient = async (ctx: Context, body: (client: Client) => Promise<number>): Promise<Prepared> => {
  const client = new pg.Client(config(ctx))
  await client.connect()
  return { run: () => body(client), close: () => client.end() }
}

const sumIds = (rows: ReadonlyArray<Record<string, unknown>>): number => {
  let sum = 0
  for (const row of rows) sum += row["id"] as number
  return sum
}

const connectLoop = async (ctx: Context, options: ClientConfig, check: string): Promise<number> => {
  let count = 0
  for (let i = 0; i < ctx.ops; i++) {
    const client = new pg.Client(options)
    await client.connect()
    const value = (await client.query(check)).rows[0]?.["n"]
    if (value === 1 || value === true) count++
    await client.end()
  }
  return count
}

/**
 * @since 0.1.0
 */
export const open: Open = async (workload, ctx) => {
  switch (workload) {
    case "select1":
      return withClient(ctx, async (client) => {
        let sum = 0
        for (let i = 0; i < ctx.ops; i++) sum += (await client.query("select 1 as n")).rows[0]!["n"] as number
        return sum
      })
    case "params":
      return withClient(ctx, async (client) => {
        let sum = 0
        for (let i = 1; i <= ctx.ops; i++) sum += (await client.query(PARAMS_SQL, [i, `s${i}`])).rows[0]!["n"] as number
        return sum
      })
    case "prepared":
      return withClient(ctx, async (client) => {
        let sum = 0
        for (let i = 1; i <= ctx.ops; i++) {
          sum += (await client.query({ name: "bench_prepared", text: PARAMS_SQL, values: [i, `s${i}`] })).rows[0]!["n"] as number
        }
        return sum
      })
    case "pipeline":
      return withClient(ctx, async (client) => {
        const results = await Promise.all(Array.from({ length: ctx.ops }, () => client.query("select 1 as n")))
        let sum = 0
        for (const r of results) sum += r.rows[0]!["n"] as number
        return sum
      })
    case "batch":
      return { notApplicable: "no pipeline or batch mode: the queries of one client run one after another" }
    case "pool": {
      const pool = new pg.Pool({ ...config(ctx), max: 4, min: 4 })
      return {
        run: async () => {
          const results = await Promise.all(Array.from({ length: ctx.ops }, () => pool.query("select 1 as n")))
          let sum = 0
          for (const r of results) sum += r.rows[0]!["n"] as number
          return sum
        },
        close: () => pool.end()
      }
    }
    case "rows":
      return withClient(ctx, async (client) => sumIds((await client.query(`select * from ${ROWS_TABLE}`)).rows))
    case "jsonb":
      return withClient(ctx, async (client) => sumIds((await client.query(`select id, doc from ${JSON_TABLE}`)).rows))
    case "wide-json":
      return withClient(ctx, async (client) => sumIds((await client.query(`select id, doc from ${WIDE_JSON_TABLE}`)).rows))
    case "stream":
      return withClient(ctx, async (client) => {
        const cursor = client.query(new Cursor(`select * from ${ROWS_TABLE}`))
        let sum = 0
        while (true) {
          const rows = await cursor.read(STREAM_PAGE_ROWS)
          if (rows.length === 0) break
          sum += sumIds(rows)
        }
        await cursor.close()
        return sum
      })
    case "copy-in":
      return withClient(ctx, async (client) => {
        const sink = client.query(copyFrom(`copy ${ctx.copyTable} from stdin`))
        await pipeline(fs.createReadStream(ctx.copyFile, { highWaterMark: 65536 }), sink)
        return -1
      })
    case "copy-out":
      return withClient(ctx, async (client) => {
        let bytes = 0
        for await (const chunk of client.query(copyTo(`copy ${ROWS_TABLE} to stdout`))) bytes += (chunk as Buffer).length
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
