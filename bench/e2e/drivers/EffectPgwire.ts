/**
 * The workloads written with effect-pgwire, as its users would write them: a
 * `PgSession` (or a `PgPool`) opened in a Scope, each workload one Effect run
 * with `Effect.runPromise`, loops inside the Effect.
 *
 * `stream` keeps its default: one Execute for the whole result, the socket read
 * as the rows are taken (no page size, like @effect/sql-pg's; the cursor-based
 * drivers page by `STREAM_PAGE_ROWS`).
 *
 * Every connection that is not meant to use TLS says `sslMode: "disable"`:
 * the benchmark server has TLS on and libpq's default (`prefer`) would
 * otherwise encrypt every workload.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as PgPool from "../../../src/pool/Pool.ts"
import * as PgSession from "../../../src/session/Session.ts"
import {
  type Context,
  JSON_TABLE,
  type Open,
  PARAMS_SQL,
  PIPELINE_BATCH,
  type Prepared,
  ROWS_TABLE,
  TLS_CHECK_SQL,
  WIDE_JSON_TABLE
} from "../Workloads.ts"

type Session = PgSession.Session

const plain = (ctx: Context): PgSession.SessionOptions => ({
  host: ctx.host,
  port: ctx.port,
  user: ctx.user,
  database: ctx.database,
  sslMode: "disable"
})

/** Opens `acquire` in a fresh Scope; the Scope closes at `close`. */
const scoped = async <A>(acquire: Effect.Effect<A, unknown, Scope.Scope>): Promise<{ value: A; close: () => Promise<void> }> => {
  const scope = Effect.runSync(Scope.make())
  const value = await Effect.runPromise(Scope.provide(scope)(acquire))
  return { value, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const withSession = async (
  ctx: Context,
  body: (session: Session) => Effect.Effect<number, unknown>
): Promise<Prepared> => {
  const { value: session, close } = await scoped(PgSession.connect(plain(ctx)))
  return { run: () => Effect.runPromise(body(session)), close }
}

const sumFirst = (rows: ReadonlyArray<{ readonly n: number }>): number => {
  let sum = 0
  for (const row of rows) sum += row.n
  return sum
}

const sumIds = (rows: ReadonlyArray<{ readonly id: number }>): number => {
  let sum = 0
  for (const row of rows) sum += row.id
  return sum
}

const connectLoop = (ctx: Context, options: PgSession.SessionOptions, sql: string): Effect.Effect<number, unknown> =>
  Effect.gen(function*() {
    let count = 0
    for (let i = 0; i < ctx.ops; i++) {
      const ok = yield* Effect.scoped(
        Effect.flatMap(PgSession.connect(options), (s) => s.query<{ readonly n: unknown }>(sql))
      )
      const value = ok.rows[0]?.n
      if (value === 1 || value === true) count++
    }
    return count
  })

/**
 * @since 0.1.0
 */
export const open: Open = async (workload, ctx) => {
  switch (workload) {
    case "select1":
      return withSession(ctx, (s) =>
        Effect.gen(function*() {
          let sum = 0
          for (let i = 0; i < ctx.ops; i++) sum += sumFirst((yield* s.query<{ readonly n: number }>("select 1 as n")).rows)
          return sum
        }))
    case "params":
      return withSession(ctx, (s) =>
        Effect.gen(function*() {
          let sum = 0
          for (let i = 1; i <= ctx.ops; i++) {
            sum += sumFirst((yield* s.query<{ readonly n: number }>(PARAMS_SQL, [i, `s${i}`])).rows)
          }
          return sum
        }))
    case "pipeline":
      return withSession(ctx, (s) =>
        Effect.gen(function*() {
          let sum = 0
          yield* Effect.forEach(
            Array.from({ length: ctx.ops }),
            () => Effect.map(s.query<{ readonly n: number }>("select 1 as n"), (r) => void (sum += sumFirst(r.rows))),
            { concurrency: "unbounded", discard: true }
          )
          return sum
        }))
    case "batch":
      return withSession(ctx, (s) =>
        Effect.gen(function*() {
          const items = Array.from({ length: PIPELINE_BATCH }, () => ({ sql: "select 1 as n" }))
          let sum = 0
          for (let done = 0; done < ctx.ops; done += PIPELINE_BATCH) {
            for (const result of yield* s.batch(items.slice(0, Math.min(PIPELINE_BATCH, ctx.ops - done)))) {
              sum += sumFirst(result.rows as ReadonlyArray<{ readonly n: number }>)
            }
          }
          return sum
        }))
    case "pool": {
      const { value: pool, close } = await scoped(PgPool.make({ ...plain(ctx), maxSize: 4, minSize: 4, multiplex: true }))
      return {
        run: () =>
          Effect.runPromise(Effect.gen(function*() {
            let sum = 0
            yield* Effect.forEach(
              Array.from({ length: ctx.ops }),
              () => Effect.map(pool.query<{ readonly n: number }>("select 1 as n"), (r) => void (sum += sumFirst(r.rows))),
              { concurrency: "unbounded", discard: true }
            )
            return sum
          })),
        close
      }
    }
    case "rows":
      return withSession(ctx, (s) =>
        Effect.map(s.query<{ readonly id: number }>(`select * from ${ROWS_TABLE}`), (r) => sumIds(r.rows)))
    case "jsonb":
      return withSession(ctx, (s) =>
        Effect.map(s.query<{ readonly id: number }>(`select id, doc from ${JSON_TABLE}`), (r) => sumIds(r.rows)))
    case "wide-json":
      return withSession(ctx, (s) =>
        Effect.map(s.query<{ readonly id: number }>(`select id, doc from ${WIDE_JSON_TABLE}`), (r) => sumIds(r.rows)))
    case "stream":
      return withSession(ctx, (s) =>
        Effect.gen(function*() {
          let sum = 0
          yield* Stream.runForEachArray(
            s.stream<{ readonly id: number }>(`select * from ${ROWS_TABLE}`),
            (rows) => Effect.sync(() => void (sum += sumIds(rows)))
          )
          return sum
        }))
    case "copy-in":
      return withSession(ctx, (s) =>
        Effect.gen(function*() {
          const file = Stream.fromAsyncIterable(
            fs.createReadStream(ctx.copyFile, { highWaterMark: 65536 }) as AsyncIterable<Uint8Array>,
            (e) => e
          )
          const result = yield* Stream.run(file, s.copyFrom(`copy ${ctx.copyTable} from stdin`))
          return result.rowCount ?? -1
        }))
    case "copy-out":
      return withSession(ctx, (s) =>
        Stream.runFold(s.copyTo(`copy ${ROWS_TABLE} to stdout`), () => 0, (n, chunk) => n + chunk.length))
    case "connect-scram":
      return {
        run: () =>
          Effect.runPromise(
            connectLoop(ctx, { ...plain(ctx), user: ctx.scramUser, password: ctx.scramPassword }, "select 1 as n")
          ),
        close: async () => {}
      }
    case "connect-tls":
      return {
        run: () =>
          Effect.runPromise(
            connectLoop(
              ctx,
              {
                ...plain(ctx),
                user: ctx.tlsUser,
                password: ctx.tlsPassword,
                sslMode: "verify-full",
                sslRootCert: ctx.caFile
              },
              TLS_CHECK_SQL
            )
          ),
        close: async () => {}
      }
    case "prepared":
      return withSession(ctx, (s) =>
        Effect.scoped(Effect.gen(function*() {
          const statement = yield* s.prepare(PARAMS_SQL)
          let sum = 0
          for (let i = 1; i <= ctx.ops; i++) {
            sum += sumFirst((yield* statement.execute<{ readonly n: number }>([i, `s${i}`])).rows)
          }
          return sum
        })))
  }
}
