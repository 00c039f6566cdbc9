/**
 * Prepared statements across pooled upstreams: the client's names mapped to
 * upstream names derived from the statement's text and parameter types, and
 * each upstream's table of what it has prepared, least recently used first.
 *
 * **Details**
 *
 * - A client's `Parse "P_0"` becomes `Parse "px_<hash>"`, the hash taken over
 *   the query text and the parameter type OIDs (SHA-256, 96 bits kept): two
 *   clients using the same name for different SQL get different upstream
 *   statements, two clients preparing the same SQL share one (PgBouncer 1.21's
 *   scheme, SERVER.md G8).
 * - The client keeps, per name, the Parse body to replay: an upstream lacking
 *   the statement gets that Parse before the Bind or Describe that needs it.
 * - Each upstream holds at most `max` statements; past that the least recently
 *   used one is closed (Close is written before the Parse that needs room),
 *   never one used by the loan in progress.
 *
 * Pure bookkeeping: no IO.
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"

/** Statements kept prepared per upstream, by default. */
export const DEFAULT_MAX_PREPARED_STATEMENTS = 200

/** Prefix of the upstream statement names the proxy makes. */
export const UPSTREAM_NAME_PREFIX = "px_"

/**
 * A statement a client prepared under a name.
 *
 * @since 0.1.0
 */
export interface ClientStatement {
  /** The upstream name (`px_` + hash). */
  readonly upstreamName: string
  /** The Parse body after the statement name: query, parameter count and types. */
  readonly rest: Uint8Array
  readonly sql: string
}

/**
 * The upstream name of a statement, from its Parse body after the name
 * (query text and parameter types).
 *
 * @since 0.1.0
 */
export const upstreamNameOf = (rest: Uint8Array): string =>
  UPSTREAM_NAME_PREFIX + Crypto.createHash("sha256").update(rest).digest("base64url").slice(0, 16)

/**
 * One upstream's prepared statements, in use order (a Set keeps insertion
 * order: a use re-inserts the name at the end).
 *
 * @since 0.1.0
 */
export class Statements {
  readonly max: number
  readonly #names = new Set<string>()
  /** Names used by the current loan (never evicted while it lasts). */
  readonly #inUse = new Set<string>()

  constructor(max: number) {
    this.max = Math.max(1, max)
  }

  get size(): number {
    return this.#names.size
  }

  has(name: string): boolean {
    return this.#names.has(name)
  }

  /** Marks `name` used now (most recently used). */
  touch(name: string): void {
    if (this.#names.delete(name)) this.#names.add(name)
    this.#inUse.add(name)
  }

  /**
   * Records `name` as prepared (a Parse is being written); returns the names
   * to close first to stay within `max`.
   */
  add(name: string): ReadonlyArray<string> {
    const evicted: Array<string> = []
    if (!this.#names.has(name)) {
      for (const old of this.#names) {
        if (this.#names.size - evicted.length < this.max) break
        if (!this.#inUse.has(old)) evicted.push(old)
      }
      for (const old of evicted) this.#names.delete(old)
    }
    this.#names.delete(name)
    this.#names.add(name)
    this.#inUse.add(name)
    return evicted
  }

  /** The Parse failed or was discarded: the upstream does not have it. */
  remove(name: string): void {
    this.#names.delete(name)
  }

  /** `DISCARD ALL` or `DEALLOCATE ALL` ran upstream. */
  clear(): void {
    this.#names.clear()
  }

  /** The loan ended. */
  endLoan(): void {
    if (this.#inUse.size > 0) this.#inUse.clear()
  }
}
