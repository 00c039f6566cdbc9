/**
 * The protocol 2.0 session's statement cache: SQL with parameters runs as
 * `PREPARE name AS sql` then `EXECUTE name(literals)`, so the server parses
 * `$n` and infers their types as Parse does in 3.x (PROTOCOL-2.0 §2, M16). The
 * cache owns the names: a statement is kept once its PREPARE succeeded
 * (whatever became of the EXECUTE), and DEALLOCATEd when evicted.
 *
 * Pure bookkeeping: the session sends what it returns.
 *
 * @since 0.1.0
 */
import { PgError, ServerError } from "../../errors/PgError.ts"
import type { Registry } from "../../types/Registry.ts"
import * as Literal from "./Literal.ts"

/**
 * What one statement with parameters sends, and how its results read.
 *
 * @since 0.1.0
 */
export interface Plan {
  /** The Query text. */
  readonly sql: string
  /** Whether the result at this index is the library's own (PREPARE, DEALLOCATE). */
  readonly hidden: (index: number) => boolean
  /** The statement name, and whether this Query prepares it. */
  readonly name: string
  readonly prepares: boolean
  readonly key: string
  /** Characters before the user's SQL in the PREPARE statement (to map an error position back). */
  readonly prefixLength: number
  /** The statement is deallocated in the same Query (no cache). */
  readonly oneShot: boolean
}

/**
 * What goes between the statements of one Query: the semicolon on a line of its own, so a statement ending in a
 * line comment (`select $1 -- why`) does not comment it out.
 *
 * @since 0.1.0
 */
export const STATEMENT_SEPARATOR = "\n;\n"

/**
 * The cache.
 *
 * @since 0.1.0
 */
export class StatementCache {
  private readonly capacity: number
  private readonly entries = new Map<string, string>()
  private counter = 0

  constructor(capacity: number) {
    this.capacity = capacity
  }

  nextName(prefix = "pgwire_s"): string {
    return `${prefix}${++this.counter}`
  }

  /**
   * The Query for `sql` with `params`; `unnamed` (the caller's `prepare: false`) leaves nothing on the server:
   * PREPARE, EXECUTE and DEALLOCATE in one Query, whatever the cache holds. Throws `PgError` (a parameter a codec
   * refuses).
   */
  plan(registry: Registry, sql: string, params: ReadonlyArray<unknown>, unnamed = false): Plan {
    const literals = params.map((value, i) => Literal.parameterSql(registry, value, i + 1))
    const types = Literal.declaredTypes(registry, params)
    const key = `${sql}\u0000${types?.join(",") ?? ""}`
    const cached = this.capacity > 0 && !unnamed ? this.entries.get(key) : undefined
    if (cached !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, cached)
      return { sql: Literal.executeSql(cached, literals), hidden: () => false, name: cached, prepares: false, key, prefixLength: 0, oneShot: false }
    }
    const name = this.nextName()
    const prepare = Literal.prepareSql(name, sql, types)
    const prefixLength = prepare.length - Literal.trimStatement(sql).length
    const oneShot = this.capacity === 0 || unnamed
    const text = `${prepare}${STATEMENT_SEPARATOR}${Literal.executeSql(name, literals)}${oneShot ? `${STATEMENT_SEPARATOR}DEALLOCATE ${name}` : ""}`
    return { sql: text, hidden: (i) => i !== 1, name, prepares: true, key, prefixLength, oneShot }
  }

  /**
   * After the Query of `plan`: its tags. Returns the names to DEALLOCATE (evicted, or prepared and left behind).
   */
  settle(plan: Plan, tags: ReadonlyArray<string>): ReadonlyArray<string> {
    if (!plan.prepares || tags[0] !== "PREPARE") return []
    if (plan.oneShot) return tags[2] === "DEALLOCATE" ? [] : [plan.name]
    const out: Array<string> = []
    const previous = this.entries.get(plan.key)
    if (previous !== undefined) {
      // Another caller prepared the same statement meanwhile: keep the first.
      return [plan.name]
    }
    this.entries.set(plan.key, plan.name)
    while (this.entries.size > this.capacity) {
      const [oldest, name] = this.entries.entries().next().value as [string, string]
      this.entries.delete(oldest)
      out.push(name)
    }
    return out
  }

  /**
   * After a cached statement's EXECUTE failed: forgets it and returns its name to DEALLOCATE. The statement may be
   * gone (DEALLOCATE ALL) or no longer runnable as prepared (a table changed under `select *`), and 2.0 errors carry
   * no SQLSTATE to tell; the next call prepares it again.
   */
  evict(plan: Plan): ReadonlyArray<string> {
    if (plan.prepares || this.entries.get(plan.key) !== plan.name) return []
    this.entries.delete(plan.key)
    return [plan.name]
  }

  /** Forgets every entry (the session is gone, or the server dropped every statement). */
  clear(): void {
    this.entries.clear()
  }
}

/**
 * An error of a Query that prepared its statement: when PREPARE itself failed, say that 2.0 runs statements with
 * parameters through it, and map the position back to the caller's SQL.
 *
 * @since 0.1.0
 */
export const explain = (plan: Plan, error: ServerError, completedBefore: number): PgError => {
  if (!plan.prepares || completedBefore > 0) return new PgError({ reason: error })
  const position = error.position === undefined
    ? undefined
    : error.position > plan.prefixLength
    ? error.position - plan.prefixLength
    : undefined
  return new PgError({
    reason: new ServerError({
      severity: error.severity,
      code: error.code,
      ...(error.detail === undefined ? {} : { detail: error.detail }),
      message:
        `PREPARE failed: ${error.message} (protocol 2.0 runs statements with parameters through PREPARE, which takes SELECT, INSERT, UPDATE, DELETE and VALUES only)`,
      ...(position === undefined ? {} : { position })
    })
  })
}
