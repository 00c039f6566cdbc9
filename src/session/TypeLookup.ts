/**
 * The types a session meets that its registry does not know (domains, enums,
 * composites, ranges, extension types): looked up in pg_type once per session,
 * joining lookups already in flight, and added to the session's registry.
 *
 * **Details**
 *
 * Lookups are queries of the session's own, written ahead of the queue
 * (`Connection.submitFirst`); they are best effort: a failed lookup leaves the
 * types unknown, and their values decode as text.
 *
 * @since 0.1.0
 */
import * as Catalog from "../types/Catalog.ts"
import * as PgTypes from "../types/PgTypes.ts"
import type { Registry } from "../types/Registry.ts"
import type { Connection } from "./Connection.ts"
import { type QueryOwner, QueryRequest } from "./Requests.ts"

/**
 * A session's registry and the lookups that extend it.
 *
 * @since 0.1.0
 */
export class TypeLookup {
  /** The registry: the configured one, extended with the types looked up so far. */
  registry: Registry
  private readonly conn: Connection

  /** OIDs looked up in pg_type (found or not): each is looked up once per session. */
  private readonly lookedUp = new Set<number>()
  /** OIDs being looked up, with who waits for them. */
  private readonly lookingUp = new Map<number, Array<() => void>>()
  /** Type names looked up (found or not). */
  private readonly namesLookedUp = new Set<string>()

  constructor(conn: Connection, registry: Registry) {
    this.conn = conn
    this.registry = registry
  }

  /** Whether some of `oids` are unknown and not looked up yet (their values would decode as text). */
  needsTypes(oids: ReadonlyArray<number>): boolean {
    for (const oid of this.registry.unknownOids(oids)) if (!this.lookedUp.has(oid)) return true
    return false
  }

  /**
   * Calls `then` once every OID of `oids` is known or has been looked up,
   * joining lookups already in flight (concurrent first uses of a type wait for
   * the same lookup).
   */
  ensureTypes(oids: ReadonlyArray<number>, then: () => void): void {
    const unknown = this.registry.unknownOids(oids).filter((oid) => !this.lookedUp.has(oid))
    if (unknown.length === 0) return then()
    const fetch = unknown.filter((oid) => !this.lookingUp.has(oid))
    const inFlight = unknown.filter((oid) => this.lookingUp.has(oid))
    let remaining = inFlight.length + (fetch.length > 0 ? 1 : 0)
    const done = () => {
      if (--remaining === 0) then()
    }
    for (const oid of inFlight) this.lookingUp.get(oid)!.push(done)
    if (fetch.length === 0) return
    for (const oid of fetch) this.lookingUp.set(oid, [])
    this.lookUpOids(fetch, () => {
      for (const oid of fetch) {
        this.lookedUp.add(oid)
        const waiters = this.lookingUp.get(oid) ?? []
        this.lookingUp.delete(oid)
        for (const w of waiters) w()
      }
      done()
    })
  }

  /** Names of typed parameters whose type the registry does not know, or undefined. */
  unknownTypeNames(params: ReadonlyArray<unknown>): Array<string> | undefined {
    let names: Array<string> | undefined
    for (const p of params) {
      if (
        PgTypes.isTypedParam(p) && p.oid === 0 && p.typeName !== undefined &&
        this.registry.getByName(p.typeName) === undefined && !this.namesLookedUp.has(p.typeName)
      ) {
        ;(names ??= []).push(p.typeName)
      }
    }
    return names
  }

  /** Resolves type names (`to_regtype`) and looks their OIDs up. */
  ensureTypeNames(names: ReadonlyArray<string>, then: () => void): void {
    for (const name of names) this.namesLookedUp.add(name)
    this.internalQuery(
      "select to_regtype(n)::oid::int8 as oid from unnest($1::text[]) as n",
      [names],
      (rows) => {
        const oids = rows.map((row) => Number(row[0])).filter((oid) => Number.isInteger(oid) && oid > 0)
        this.ensureTypes(oids, then)
      }
    )
  }

  /** Looks `oids` up in pg_type and extends this session's registry with what it finds. */
  private lookUpOids(oids: ReadonlyArray<number>, then: () => void): void {
    const version = this.conn.parameters.get("server_version") ?? "0"
    const versionNum = Number.parseInt(version, 10) * 10000
    this.internalQuery(Catalog.typeQuery(versionNum), [oids], (rows) => {
      try {
        const typeRows = rows.map((row) =>
          Catalog.rowFromText(
            row.map((v) => (v === null || v === undefined ? null : typeof v === "object" ? JSON.stringify(v) : String(v)))
          )
        )
        this.registry = this.registry.withTypes(typeRows)
      } catch {
        // Unreadable catalog rows: the types stay unknown and decode as text.
      }
      then()
    })
  }

  /**
   * A query of the session's own (catalog lookups), ahead of queued requests;
   * `then` gets the rows (empty when it failed: lookups are best effort).
   */
  internalQuery(
    sql: string,
    params: ReadonlyArray<unknown>,
    then: (rows: ReadonlyArray<ReadonlyArray<unknown>>) => void
  ): void {
    const owner: QueryOwner = {
      registry: this.registry,
      settleQuery: (request) => {
        const ok = request.serverError === undefined && request.clientError === undefined &&
          request.brokenWith === undefined
        then(ok ? (request.received.rows as ReadonlyArray<ReadonlyArray<unknown>>) : [])
      }
    }
    this.conn.submitFirst(new QueryRequest(owner, sql, params, undefined, "array", () => {}))
  }
}
