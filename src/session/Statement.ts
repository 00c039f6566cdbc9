/**
 * Prepared statements and the per-session statement cache.
 *
 * **Details**
 *
 * A `Statement` is a named server-side prepared statement: its parameter types
 * (ParameterDescription), its result columns (RowDescription, or none), the
 * result formats we ask for in Bind (binary where a decoder exists), and the
 * row shapes compiled for them. Names are unique per physical connection
 * (`s1`, `s2`, ...), never reused, so a statement closed late can never be
 * confused with a new one.
 *
 * The cache is an LRU keyed by SQL text. A statement is `preparing` from the
 * moment its Parse is written until its ReadyForQuery; executions that arrive
 * meanwhile wait on it and are written right after (so ten thousand
 * concurrent executions of a new statement prepare it once). Eviction closes
 * the statement on the server (Close + Sync); the Close is written after any
 * execution already written, so the server never sees a Bind to a closed
 * statement.
 *
 * @since 0.1.0
 */
import type { PgError, ServerError } from "../errors/PgError.ts"
import type { Registry } from "../types/Registry.ts"
import { type Field, RowShape } from "./Result.ts"

/**
 * @since 0.1.0
 */
export class Statement {
  readonly name: string
  readonly sql: string
  /** The cache key (SQL text plus declared parameter types). */
  readonly key: string
  /** Parameter type OIDs declared in Parse (0 = let the server infer). */
  readonly declaredTypes: ReadonlyArray<number>
  state: "preparing" | "ready" | "failed" | "closed" = "preparing"
  /** Parameter types as the server resolved them. */
  parameterTypes: ReadonlyArray<number> = []
  /** Result columns (empty for statements that return no rows). */
  fields: ReadonlyArray<Field> = []
  /** True when the statement returns rows (RowDescription, not NoData). */
  returnsRows = false
  /** Result format per column, as sent in Bind. */
  resultFormats: ReadonlyArray<0 | 1> = []
  private objectShape: RowShape | undefined = undefined
  /** Executions waiting for the statement to be prepared. */
  waiters: Array<(error: PgError | undefined) => void> = []
  /** Executions of this statement written and not yet answered. */
  inUse = 0
  /** The cache's use counter at this statement's last use (least recently used goes first). */
  lastUsed = 0
  /** Evicted while in use: close once the last execution is answered. */
  closeWhenIdle = false

  constructor(name: string, sql: string, declaredTypes: ReadonlyArray<number>, key: string = sql) {
    this.name = name
    this.sql = sql
    this.key = key
    this.declaredTypes = declaredTypes
  }

  /** Records the server's description and chooses result formats. */
  describe(parameterTypes: ReadonlyArray<number>, fields: ReadonlyArray<Field> | undefined, registry: Registry): void {
    this.parameterTypes = parameterTypes
    if (fields === undefined) {
      this.returnsRows = false
      this.fields = []
      this.resultFormats = []
    } else {
      this.returnsRows = true
      const formats = fields.map((f) => registry.resultFormat(f.dataTypeOid))
      this.resultFormats = formats
      this.fields = fields.map((f, i) => ({ ...f, format: formats[i]! }))
    }
    this.objectShape = undefined
  }

  /** The compiled row reader for this statement's results. */
  shape(registry: Registry): RowShape {
    if (this.objectShape === undefined) this.objectShape = new RowShape(this.fields, registry)
    return this.objectShape
  }

  /** Why preparing failed. */
  failure: PgError | undefined = undefined

  /** Marks the statement prepared (or failed) and releases its waiters. */
  settle(error: PgError | undefined): void {
    this.state = error === undefined ? "ready" : "failed"
    this.failure = error
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w(error)
  }
}

/** Statements kept per session by default. */
export const DEFAULT_STATEMENT_CACHE_SIZE = 256

/**
 * Whether the server's error says a prepared statement no longer fits the schema, so preparing it again may
 * succeed: 26000 (gone: `DISCARD ALL`, a pooler's other backend), 0A000 (`RevalidateCachedQuery`: the result type
 * changed), and 42804 raised in `transformAssignedExpr` (a column's type changed under the parameter types the
 * statement was prepared with, e.g. `ALTER TABLE ... ALTER COLUMN ... TYPE`; postgres.js recreates on the same
 * routine). A statement prepared afresh with the same mistake fails again with the same error.
 *
 * @since 0.1.0
 */
export const isStaleStatementError = (error: ServerError): boolean =>
  error.code === "26000" || error.code === "0A000" ||
  (error.code === "42804" && error.routine === "transformAssignedExpr")

/**
 * An LRU of statements keyed by SQL text.
 *
 * @since 0.1.0
 */
export class StatementCache {
  readonly capacity: number
  private readonly entries = new Map<string, Statement>()
  private counter = 0

  constructor(capacity: number = DEFAULT_STATEMENT_CACHE_SIZE) {
    this.capacity = capacity
  }

  get size(): number {
    return this.entries.size
  }

  private uses = 0
  /** Lookups that found a statement, and statements added because none was (the statement cache metrics). */
  hits = 0
  misses = 0

  /**
   * The cached statement for `key`, marked as most recently used. (A use stamp,
   * not a Map reinsertion: deleting and re-adding a key on every query makes
   * the map rehash and allocate; eviction scans the few hundred entries instead.)
   */
  get(key: string): Statement | undefined {
    const statement = this.entries.get(key)
    if (statement !== undefined) {
      statement.lastUsed = ++this.uses
      this.hits++
    }
    return statement
  }

  /** A fresh, unique statement name for this connection. */
  nextName(): string {
    return `s${++this.counter}`
  }

  /**
   * Adds a statement; returns the statements evicted to make room (the caller
   * closes them on the server).
   */
  add(key: string, statement: Statement): ReadonlyArray<Statement> {
    this.misses++
    statement.lastUsed = ++this.uses
    this.entries.set(key, statement)
    const evicted: Array<Statement> = []
    while (this.entries.size > this.capacity) {
      let oldestKey: string | undefined
      let oldest: Statement | undefined
      for (const [k, s] of this.entries) {
        if (oldest === undefined || s.lastUsed < oldest.lastUsed) {
          oldest = s
          oldestKey = k
        }
      }
      this.entries.delete(oldestKey!)
      evicted.push(oldest!)
    }
    return evicted
  }

  /** Removes `statement` if it is still the cached one for `key`. */
  remove(key: string, statement: Statement): boolean {
    if (this.entries.get(key) === statement) {
      this.entries.delete(key)
      return true
    }
    return false
  }

  /** Every cached statement (for closing all of them). */
  values(): ReadonlyArray<Statement> {
    return [...this.entries.values()]
  }

  clear(): void {
    this.entries.clear()
  }
}
