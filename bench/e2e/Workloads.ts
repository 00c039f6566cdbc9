/**
 * The end-to-end workloads of issue 7, their sizes, the SQL they run and the
 * issue's target for each, plus the shapes shared by the drivers and the
 * runner (`Context`, `Outcome`).
 *
 * Every driver implements a workload the way that driver's users would write
 * it (its primary API and defaults); where a driver cannot do a workload, it
 * says why instead of substituting something else.
 *
 * This module runs nothing.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export type WorkloadId =
  | "select1"
  | "params"
  | "pipeline"
  | "batch"
  | "pool"
  | "rows"
  | "stream"
  | "copy-in"
  | "copy-out"
  | "jsonb"
  | "wide-json"
  | "connect-scram"
  | "connect-tls"
  | "prepared"

/**
 * @since 0.1.0
 */
export interface Workload {
  readonly id: WorkloadId
  /** The numbering. */
  readonly number: string
  readonly title: string
  /** Operations at full scale (queries, rows or connections). */
  readonly ops: number
  readonly unit: "queries" | "rows" | "connections"
  /** The target for effect-pgwire, in words. */
  readonly target: string
}

/**
 * Every workload, in the order.
 *
 * @since 0.1.0
 */
export const WORKLOADS: ReadonlyArray<Workload> = [
  {
    id: "select1",
    number: "1",
    title: "20,000 sequential `select 1`, one connection",
    ops: 20_000,
    unit: "queries",
    target: "within 1.25x of pgbench; at least as fast as the fastest peer"
  },
  {
    id: "params",
    number: "2",
    title: "20,000 sequential parameterized queries (int4, text), one connection",
    ops: 20_000,
    unit: "queries",
    target: "within 1.25x of pgbench; at least as fast as the fastest peer"
  },
  {
    id: "pipeline",
    number: "3a",
    title: "20,000 `select 1` issued concurrently on one connection (pipelining)",
    ops: 20_000,
    unit: "queries",
    target: "within 2x of pgbench `\\startpipeline`; at least 1.5x postgres.js (issue 3)"
  },
  {
    id: "pool",
    number: "3b",
    title: "20,000 `select 1` issued concurrently on a pool of 4",
    ops: 20_000,
    unit: "queries",
    target: "at least as fast as the fastest peer"
  },
  {
    id: "batch",
    number: "3c",
    title: "20,000 `select 1` in explicit pipelines of 100 on one connection (the shape of pgbench's `\\startpipeline`)",
    ops: 20_000,
    unit: "queries",
    target: "within 2x of pgbench `\\startpipeline` (the same batches of 100); at least as fast as the fastest peer"
  },
  {
    id: "rows",
    number: "4",
    title: "1,000,000 mixed-type rows fully decoded (int4, int8, text, timestamptz, float8, bool, numeric, uuid, jsonb)",
    ops: 1_000_000,
    unit: "rows",
    target: "at least as fast as postgres.js and @effect/sql-pg (issue 5)"
  },
  {
    id: "stream",
    number: "5",
    title: "the same 1,000,000 rows streamed with bounded memory",
    ops: 1_000_000,
    unit: "rows",
    target: "peak RSS under 64 MB; RSS growth while streaming under 32 MiB at any row count (issue 22); at least as fast as @effect/sql-pg's stream (issue 3)"
  },
  {
    id: "copy-in",
    number: "6a",
    title: "COPY FROM STDIN of 1,000,000 rows (text format, from a file)",
    ops: 1_000_000,
    unit: "rows",
    target: "at least as fast as the fastest peer"
  },
  {
    id: "copy-out",
    number: "6b",
    title: "COPY TO STDOUT of 1,000,000 rows (text format, bytes counted)",
    ops: 1_000_000,
    unit: "rows",
    target: "at least as fast as the fastest peer"
  },
  {
    id: "jsonb",
    number: "7a",
    title: "10,000 rows with a ~7 KB jsonb document (an array of 100 small objects), fully decoded",
    ops: 10_000,
    unit: "rows",
    target: "at least as fast as the fastest peer"
  },
  {
    id: "wide-json",
    number: "7b",
    title:
      "10,000 rows with a ~10 KB nested jsonb document (86 keys of objects with an integer, a 64-character hex string, a boolean and a decimal), stored uncompressed, fully decoded",
    ops: 10_000,
    unit: "rows",
    target: "at least as fast as the fastest peer (issue 22)"
  },
  {
    id: "connect-scram",
    number: "8a",
    title: "200 connections with SCRAM-SHA-256 (plain TCP), each running `select 1` and closing",
    ops: 200,
    unit: "connections",
    target: "no slower than the fastest peer"
  },
  {
    id: "connect-tls",
    number: "8b",
    title: "200 connections with TLS (verify-full) and SCRAM, each running one query and closing",
    ops: 200,
    unit: "connections",
    target: "no slower than the fastest peer"
  },
  {
    id: "prepared",
    number: "9",
    title: "one prepared statement (int4, text), 20,000 executions",
    ops: 20_000,
    unit: "queries",
    target: "within 1.25x of pgbench; at least as fast as the fastest peer"
  }
]

/**
 * The ids of the drivers, effect-pgwire first.
 *
 * @since 0.1.0
 */
export const DRIVERS = ["effect-pgwire", "postgres.js", "node-postgres", "@effect/sql-pg", "pgbench"] as const

/**
 * @since 0.1.0
 */
export type DriverId = (typeof DRIVERS)[number]

/**
 * The peer every ratio is taken against.
 *
 * @since 0.1.0
 */
export const REFERENCE_PEER: DriverId = "postgres.js"

/** The statement of workloads 2 and 9 (two parameters). */
export const PARAMS_SQL = "select $1::int4 as n, $2::text as s"

/** The table of the mixed rows (workloads 4, 5, 6b). */
export const ROWS_TABLE = "bench_rows"

/** The table of the jsonb documents (workload 7a). */
export const JSON_TABLE = "bench_json"

/** The table of the nested jsonb documents (workload 7b). */
export const WIDE_JSON_TABLE = "bench_wide_json"

/** The query of the TLS connect workload: it proves the connection is encrypted. */
export const TLS_CHECK_SQL = "select ssl as n from pg_stat_ssl where pid = pg_backend_pid()"

/**
 * Rows per page for the streaming workload, for the drivers that stream through
 * a cursor (postgres.js `cursor`, node-postgres `pg-cursor`); effect-pgwire and
 * @effect/sql-pg read the whole result through one Execute with socket
 * backpressure by default.
 *
 * @since 0.1.0
 */
export const STREAM_PAGE_ROWS = 2048

/**
 * Queries per explicit pipeline in workload 3c (and in pgbench's `\startpipeline` scripts).
 *
 * @since 0.1.0
 */
export const PIPELINE_BATCH = 100

/**
 * What a child process needs to run one workload with one driver.
 *
 * @since 0.1.0
 */
export interface Context {
  readonly host: string
  readonly port: number
  /** The superuser (trust). */
  readonly user: string
  readonly database: string
  /** The SCRAM role and its password (workload 8a). */
  readonly scramUser: string
  readonly scramPassword: string
  /** The SCRAM role that may only connect over TLS, and its password (workload 8b). */
  readonly tlsUser: string
  readonly tlsPassword: string
  /** Path of the CA certificate that signed the server's certificate. */
  readonly caFile: string
  /** Operations of this run (the workload's `ops`, scaled). */
  readonly ops: number
  /** Workload 6a: the table to COPY into (created empty for this run). */
  readonly copyTable: string
  /** Workload 6a: the COPY text-format file to send. */
  readonly copyFile: string
}

/**
 * What a driver's workload returns: a check value computed from what it
 * received (a row count, a sum), compared with the expected value by the
 * runner, so a driver that skips work cannot look fast.
 *
 * @since 0.1.0
 */
export type Check = number

/**
 * One workload, ready to run: `run` is timed; `close` is not.
 *
 * @since 0.1.0
 */
export interface Prepared {
  readonly run: () => Promise<Check>
  readonly close: () => Promise<void>
}

/**
 * A driver either prepares a workload or says why it does not apply.
 *
 * @since 0.1.0
 */
export type Open = (workload: WorkloadId, ctx: Context) => Promise<Prepared | { readonly notApplicable: string }>

/**
 * The check value every driver must produce for a workload of `ops`
 * operations.
 *
 * **Details**
 *
 * - queries: the sum of the first column over all results (`select 1` gives
 *   1 per query; the parameterized statement echoes `$1` = 1..ops);
 * - rows: the sum of `id` over the rows (ids are 1..ops);
 * - COPY in: the server's row count; COPY out: the byte count of the file;
 * - connections: one per connection (the TLS check counts encrypted ones).
 *
 * @since 0.1.0
 */
export const expectedCheck = (workload: WorkloadId, ops: number, copyBytes: number): Check => {
  switch (workload) {
    case "select1":
    case "pipeline":
    case "batch":
    case "pool":
    case "connect-scram":
    case "connect-tls":
      return ops
    case "params":
    case "prepared":
    case "rows":
    case "stream":
    case "jsonb":
    case "wide-json":
      return (ops * (ops + 1)) / 2
    case "copy-in":
      return ops
    case "copy-out":
      return copyBytes
  }
}
