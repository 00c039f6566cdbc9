/**
 * Minimal type declarations for the node-postgres packages the benchmarks
 * drive (`pg`, `pg-cursor`, `pg-copy-streams` and two of `pg`'s internal
 * modules). They ship JavaScript only; these declarations cover exactly the
 * calls the benchmarks make and nothing more.
 *
 * @since 0.1.0
 */

declare module "pg" {
  export interface FieldDef {
    readonly name: string
    readonly dataTypeID: number
  }
  export interface QueryResult<R = Record<string, unknown>> {
    readonly rows: Array<R>
    readonly rowCount: number | null
    readonly fields: Array<FieldDef>
  }
  export interface QueryConfig {
    readonly text: string
    readonly values?: ReadonlyArray<unknown>
    readonly name?: string
    readonly rowMode?: "array"
  }
  export interface ClientConfig {
    readonly host?: string
    readonly port?: number
    readonly user?: string
    readonly password?: string
    readonly database?: string
    readonly ssl?: boolean | import("node:tls").ConnectionOptions
  }
  export interface PoolConfig extends ClientConfig {
    readonly max?: number
    readonly min?: number
  }
  export class Client {
    constructor(config?: ClientConfig)
    connect(): Promise<void>
    query<R = Record<string, unknown>>(text: string | QueryConfig, values?: ReadonlyArray<unknown>): Promise<QueryResult<R>>
    query<T>(submittable: T): T
    end(): Promise<void>
  }
  export class Pool {
    constructor(config?: PoolConfig)
    query<R = Record<string, unknown>>(text: string | QueryConfig, values?: ReadonlyArray<unknown>): Promise<QueryResult<R>>
    end(): Promise<void>
  }
  export type Connection = unknown
  export interface Submittable {
    submit(connection: Connection): void
  }
  const pg: { Client: typeof Client; Pool: typeof Pool }
  export default pg
}

declare module "pg-cursor" {
  class Cursor<R = Record<string, unknown>> {
    constructor(text: string, values?: ReadonlyArray<unknown>, config?: { readonly rowMode?: "array" })
    read(rows: number): Promise<Array<R>>
    close(): Promise<void>
  }
  export default Cursor
}

declare module "pg-copy-streams" {
  import type { Readable, Writable } from "node:stream"
  export function from(sql: string): Writable
  export function to(sql: string): Readable
}

declare module "pg/lib/result.js" {
  class Result {
    constructor(rowMode?: "array", types?: unknown)
    rows: Array<unknown>
    addFields(fields: ReadonlyArray<unknown>): void
    parseRow(values: ReadonlyArray<string | null>): Record<string, unknown>
    addRow(row: unknown): void
  }
  export default Result
}

declare module "pg/lib/utils.js" {
  const utils: { prepareValue(value: unknown): unknown }
  export default utils
}
