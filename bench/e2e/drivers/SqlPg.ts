/**
 * The workloads written with `@effect/sql-pg` 4.x (its native wire client),
 * through its public `PgClient` (an `effect/sql` `SqlClient`): tagged-template
 * statements, `.stream` for streaming, `makeClient` for one connection and
 * `make` for a pool.
 *
 * Defaults are kept (binary format; statements prepared and cached), except
 * `multiplex: true` for the two concurrent workloads: that is its documented
 * switch for pipelining independent fibers on a connection. Its stream reads
 * the whole result through one Execute and pauses the socket when rows pile
 * up (no portal paging), so it takes no page size. It has no COPY
 * (its protocol layer rejects CopyInResponse/CopyOutResponse) and no explicit
 * prepared-statement API (its statement cache makes the parameterized loop
 * reuse one statement).
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import {
  type Context,
  JSON_TABLE,
  type Open,
  PIPELINE_BATCH,
  type Prepared,
  ROWS_TABLE,
  TLS_CHECK_SQL,
  WIDE_JSON_TABLE
} from "../Workloads.ts"

type Client = PgClient.PgClient

const config = (ctx: Context): PgClient.PgClientConfig => ({
  host: ctx.host,
  port: ctx.port,
  username: ctx.user,
  database: ctx.database
})

const scoped = async <A>(
  acquire: Effect.Effect<A, unknown, Scope.Scope | Reactivity.Reactivity>
): Promise<{ value: A; close: () => Promise<void> }> => {
  const scope = Effect.runSync(Scope.make())
  const value = await Effect.runPromise(acquire.pipe(Scope.provide(scope), Effect.provide(Reactivity.layer)))
  return { value, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const withClient = async (
  acquire: Effect.Effect<Client, unknown, Scope.Scope | Reactivity.Reactivity>,
  body: (sql: Client) => Effect.Effect<number, unknown>
): Promise<Prepared> => {
  const { value: sql, close } = await scoped(acquire)
  return { run: () => Effect.runPromise(body(sql)), close }
}

const sumIds = (rows: ReadonlyArray<Record<string, unknown>>): number => {
  let sum = 0
  for (const row of rows) sum += row["id"] as number
  return sum
}

const connectLoop = (ctx: Context, options: PgClient.PgClientConfig, check: string): Effect.Effect<number, unknown> =>
  Effect.gen(function*() {
    let count = 0
    for (let i = 0; i < ctx.ops; i++) {
      const rows = yield* Effect.scoped(
        Effect.flatMap(PgClient.makeClient(options), (sql) => sql.unsafe<Record<string, unknown>>(check))
      ).pipe(Effect.provide(Reactivity.layer))
      const value = rows[0]?.["n"]
      if (value === 1 || value === true) count++
    }
    return count
  })

const concurrentSelect1 = (sql: Client, ops: number): Effect.Effect<number, unknown> =>
  Effect.gen(function*() {
    let sum = 0
    yield* Effect.forEach(
      Array.from({ length: ops }),
      () => Effect.map(sql<{ readonly n: number }>`select 1 as n`, (rows) => void (sum += rows[0]!.n)),
      { concurrency: "unbounded", discard: true }
    )
    return sum
  })

/**
 * @since 0.1.0
 */
export const open: Open = async (workload, ctx) => {
  const one = PgClient.makeClient(config(ctx))
  switch (workload) {
    case "select1":
      return withClient(one, (sql) =>
        Effect.gen(function*() {
          let sum = 0
          for (let i = 0; i < ctx.ops; i++) sum += (yield* sql<{ readonly n: number }>`select 1 as n`)[0]!.n
          return sum
        }))
    case "params":
    case "prepared":
      return withClient(one, (sql) =>
        Effect.gen(function*() {
          let sum = 0
          for (let i = 1; i <= ctx.ops; i++) {
            sum += (yield* sql<{ readonly n: number }>`select ${i}::int4 as n, ${`s${i}`}::text as s`)[0]!.n
          }
          return sum
        }))
    case "pipeline":
      return withClient(PgClient.makeClient({ ...config(ctx), multiplex: true }), (sql) => concurrentSelect1(sql, ctx.ops))
    case "batch":
      // No batch API: a pipeline of 100 is 100 fibers on the multiplexed connection, awaited together.
      return withClient(PgClient.makeClient({ ...config(ctx), multiplex: true }), (sql) =>
        Effect.gen(function*() {
          let sum = 0
          for (let done = 0; done < ctx.ops; done += PIPELINE_BATCH) {
            sum += yield* concurrentSelect1(sql, Math.min(PIPELINE_BATCH, ctx.ops - done))
          }
          return sum
        }))
    case "pool":
      return withClient(
        PgClient.make({ ...config(ctx), maxConnections: 4, minConnections: 4, multiplex: true }),
        (sql) => concurrentSelect1(sql, ctx.ops)
      )
    case "rows":
      return withClient(one, (sql) => Effect.map(sql.unsafe<Record<string, unknown>>(`select * from ${ROWS_TABLE}`), sumIds))
    case "jsonb":
      return withClient(one, (sql) => Effect.map(sql.unsafe<Record<string, unknown>>(`select id, doc from ${JSON_TABLE}`), sumIds))
    case "wide-json":
      return withClient(one, (sql) => Effect.map(sql.unsafe<Record<string, unknown>>(`select id, doc from ${WIDE_JSON_TABLE}`), sumIds))
    case "stream":
      return withClient(one, (sql) =>
        Effect.gen(function*() {
          let sum = 0
          yield* Stream.runForEachArray(
            sql.unsafe<Record<string, unknown>>(`select * from ${ROWS_TABLE}`).stream,
            (rows) => Effect.sync(() => void (sum += sumIds(rows)))
          )
          return sum
        }))
    case "copy-in":
    case "copy-out":
      return { notApplicable: "no COPY support in @effect/sql-pg 4.0.5" }
    case "connect-scram":
      return {
        run: () =>
          Effect.runPromise(connectLoop(
            ctx,
            { ...config(ctx), username: ctx.scramUser, password: Redacted.make(ctx.scramPassword) },
            "select 1 as n"
          )),
        close: async () => {}
      }
    case "connect-tls": {
      const ca = fs.readFileSync(ctx.caFile)
      return {
        run: () =>
          Effect.runPromise(connectLoop(
            ctx,
            {
              ...config(ctx),
              username: ctx.tlsUser,
              password: Redacted.make(ctx.tlsPassword),
              ssl: { ca, rejectUnauthorized: true }
            },
            TLS_CHECK_SQL
          )),
        close: async () => {}
      }
    }
  }
}
