/**
 * The servers of the round-trip suite and their scratch databases (created
 * with the user-defined and extension types, dropped at the end), the run of
 * every case through a cached and an unnamed session, and the helpers the
 * suite's tests share.
 */
import { assert, type Vitest } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { existsSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { type CodecError, PgError } from "../../src/errors/PgError.ts"
import * as PgSession from "../../src/session/Session.ts"
import * as PgTypes from "../../src/types/PgTypes.ts"
import { PACKAGES } from "../support/EmbeddedPostgres.ts"
import { servers, type ServerInfo } from "../support/Servers.ts"
import { type Case, corpusCases, extraCases, exactRegistry, arrayCases } from "./RoundTripCases.ts"

// ---------------------------------------------------------------------------
// The servers and their scratch databases
// ---------------------------------------------------------------------------

/** The extension types the cases use. */
export const EXTENSIONS = ["hstore", "citext", "ltree"] as const

/** Whether a server's binaries ship an extension (its control file), known when the tests are collected. */
export const shipsExtension = (server: ServerInfo, name: string): boolean => {
  for (let dir = Path.dirname(fileURLToPath(import.meta.url)); ; dir = Path.dirname(dir)) {
    const native = Path.join(dir, "node_modules", PACKAGES[server.kind], "native")
    if (existsSync(native)) return existsSync(Path.join(native, "share", "postgresql", "extension", `${name}.control`))
    if (Path.dirname(dir) === dir) return false
  }
}

export interface Target {
  readonly label: string
  readonly server: ServerInfo
  readonly database: string
  /** The corpus run, once per server (memoized). */
  readonly runs: Effect.Effect<ReadonlyMap<string, CaseRun>, PgError>
}

export const serverList = (): ReadonlyArray<readonly [string, ServerInfo]> => [
  ["PostgreSQL 18", servers().main],
  ["PostgreSQL 13", servers().pg13]
]

export const connectTo = (server: ServerInfo, database: string, options: Partial<PgSession.SessionOptions> = {}) =>
  PgSession.connect({ host: server.host, port: server.port, user: "postgres", database, ...options })

export const userTypesSql = [
  "CREATE TYPE public.pair AS (a int4, dropped int4, b text)",
  "ALTER TYPE public.pair DROP ATTRIBUTE dropped",
  "CREATE TYPE public.mood AS ENUM ('sad', 'happy')",
  "CREATE DOMAIN public.posint AS int4 CHECK (VALUE > 0)",
  "CREATE DOMAIN public.label AS text CHECK (VALUE <> '')",
  "CREATE TYPE public.floatrange AS RANGE (subtype = float8)",
  "CREATE TYPE public.wrapper AS (p public.pair, m public.mood, n public.posint, l public.label, " +
  "r public.floatrange, tags text[], ps public.pair[])"
]

export const casesFor = (server: ServerInfo): ReadonlyArray<Case> =>
  [...corpusCases, ...extraCases, ...arrayCases].filter((c) =>
    (c.since ?? 0) <= server.majorVersion && (c.extension === undefined || shipsExtension(server, c.extension))
  )

/** Creates a database with the user-defined and extension types; drops it (forcing out sessions) at the end. */
export const scratchDatabase = (label: string, server: ServerInfo) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const database = `effect_pgwire_types_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
      yield* Effect.scoped(Effect.flatMap(connectTo(server, "postgres"), (s) => s.simple(`CREATE DATABASE ${database}`)))
      const extensions = EXTENSIONS.filter((name) => shipsExtension(server, name))
      yield* Effect.scoped(Effect.flatMap(
        connectTo(server, database),
        (s) => s.simple([...extensions.map((e) => `CREATE EXTENSION ${e} SCHEMA public`), ...userTypesSql].join(";\n"))
      ))
      const runs = yield* Effect.cached(runCases(server, database, casesFor(server)))
      const target: Target = { label, server, database, runs }
      return target
    }),
    (target) =>
      Effect.scoped(Effect.flatMap(
        connectTo(server, "postgres"),
        (s) => s.simple(`DROP DATABASE IF EXISTS ${target.database} WITH (FORCE)`)
      )).pipe(Effect.ignore)
  )

export class Scratch extends Context.Service<Scratch, ReadonlyMap<string, Target>>()("effect-pgwire/test/types/Scratch") {
  static readonly layer = Layer.effect(
    Scratch,
    Effect.gen(function*() {
      const targets = yield* Effect.forEach(
        serverList(),
        ([label, server]) => scratchDatabase(label, server),
        { concurrency: "unbounded" }
      )
      return new Map(targets.map((t) => [t.label, t]))
    }).pipe(Effect.orDie)
  )
}

export const targetOf = (label: string) => Effect.map(Scratch, (m) => m.get(label)!)

/** New sessions on the scratch database of the server `label`. */
export const sessionsOf = (label: string) => (options: Partial<PgSession.SessionOptions> = {}) =>
  Effect.flatMap(targetOf(label), (t) => connectTo(t.server, t.database, options))

// ---------------------------------------------------------------------------
// Running the cases
// ---------------------------------------------------------------------------

/** What a round trip printed (`null` for SQL NULL), or the error it failed with. */
export type Outcome = { readonly ok: true; readonly text: string | null } | { readonly ok: false; readonly error: string }

export interface CaseRun {
  readonly c: Case
  /** The type, schema-qualified (`pg_catalog.int4`), as the cast target. */
  readonly type: string
  readonly oid: number
  readonly serverText: string | null
  readonly fromBinary: unknown
  readonly fromText: unknown
  /** The result formats the binary session asked for (1 where a decoder exists). */
  readonly binaryFormat: 0 | 1
  /** The format the untyped value goes in with the cache on. */
  readonly parameterFormat: 0 | 1
  /** Untyped, cache on. */
  readonly untyped: Outcome
  /** Typed (`PgTypes.typedOid`), cache on. */
  readonly typed: Outcome
  /** The codec's text form as a string, cache off (OID 0). */
  readonly asText: Outcome
  /** Untyped, cache off (the unnamed statement), the value as that session decoded it. */
  readonly inferred: Outcome
}

/**
 * The text to compare for a value expression of type `oid`: its `::text` cast,
 * except json, which keeps its input text verbatim (compared through jsonb), and
 * xml, whose `::text` cast keeps an XML declaration its output function drops.
 */
export const textExpression = (expression: string, oid: number): string =>
  oid === PgTypes.Oid.json
    ? `(${expression})::pg_catalog.jsonb::text`
    : oid === PgTypes.Oid._json
    ? `(${expression})::pg_catalog.jsonb[]::text`
    : oid === PgTypes.Oid.xml
    ? `format('%s', ${expression})`
    : `(${expression})::text`

export const errorText = (error: PgError): string => `${error.reason._tag}: ${error.message}`

export const textOf = (v: unknown): string | null => (v === null ? null : String(v))

export const outcome = (effect: Effect.Effect<PgSession.QueryResult, PgError>): Effect.Effect<Outcome> =>
  Effect.match(effect, {
    onFailure: (error): Outcome => ({ ok: false, error: errorText(error) }),
    onSuccess: (result): Outcome => ({ ok: true, text: textOf(result.rows[0]!["t"]) })
  })

/** Runs every case through two sessions of `database` (see the module header); one `CaseRun` per label. */
export const runCases = (server: ServerInfo, database: string, cases: ReadonlyArray<Case>) =>
  Effect.scoped(Effect.gen(function*() {
    // Every SQL text below is unique (a comment numbers it): the statement cache keys statements by their
    // text, and the first execution's values declare the parameter types for all later ones.
    const binary = yield* connectTo(server, database, { registry: exactRegistry, statementCacheSize: 8192 })
    // One at a time: the first query of each user type completes the session's registry from pg_type (and
    // concurrent first queries would meet the known lookup race, tested below).
    const values = yield* Effect.forEach(cases, (c, i) =>
      binary.query(
        `SELECT (${c.sql}) AS v, ty.oid AS o, format('%I.%I', n.nspname, ty.typname) AS type ` +
          `FROM pg_catalog.pg_type ty JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace ` +
          `WHERE ty.oid = pg_typeof(${c.sql}) /* value ${i} */`
      ).pipe(Effect.map((r) => ({ row: r.rows[0]!, format: r.fields[0]!.format }))))
    // The text session starts from the registry the binary one completed from pg_type.
    // (With the cache off a session never looks types up: see "with the cache off, user types ..." below.)
    const text = yield* connectTo(server, database, { registry: binary.registry, statementCacheSize: 0 })
    const runs = yield* Effect.forEach(cases, (c, i) =>
      Effect.gen(function*() {
        const { row, format } = values[i]!
        const type = row["type"] as string
        const oid = row["o"] as number
        const serverText = (yield* binary.query(`SELECT ${textExpression(c.sql, oid)} AS t /* server ${i} */`))
          .rows[0]!["t"]
        const fromText = (yield* text.query(`SELECT (${c.sql}) AS v /* text ${i} */`)).rows[0]!["v"]
        const v = row["v"]
        const back = `SELECT ${textExpression(`$1::${type}`, oid)} AS t`
        const codec = binary.registry.get(oid)
        const literal = Effect.try({
          try: () => codec!.encodeText(v),
          catch: (e) => new PgError({ reason: e as CodecError })
        })
        const run: CaseRun = {
          c,
          type,
          oid,
          serverText: textOf(serverText),
          fromBinary: v,
          fromText,
          binaryFormat: format,
          parameterFormat: binary.registry.parameterFormat(v, oid),
          untyped: yield* outcome(binary.query(`${back} /* untyped ${i} */`, [v])),
          typed: yield* outcome(binary.query(`${back} /* typed ${i} */`, [PgTypes.typedOid(oid, v)])),
          asText: yield* outcome(Effect.flatMap(literal, (l) => text.query(`${back} /* as text ${i} */`, [l]))),
          inferred: yield* outcome(text.query(`${back} /* inferred ${i} */`, [fromText]))
        }
        return run
      }), { concurrency: "unbounded" })
    return new Map(runs.map((r) => [r.c.label, r]))
  }))

export const show = (v: unknown): string =>
  JSON.stringify(v, (_, x) =>
    typeof x === "bigint"
      ? `${x}n`
      : x instanceof Uint8Array
      ? `bytes:${Buffer.from(x).toString("hex")}`
      : typeof x === "number" && !Number.isFinite(x)
      ? String(x)
      : Object.is(x, -0)
      ? "-0"
      : x)

/** The round trip printed the server's own text. */
export const assertPrints = (o: Outcome, run: CaseRun, what: string): void => {
  assert.isTrue(o.ok, `${what}: ${o.ok ? "" : o.error}`)
  if (o.ok) assert.strictEqual(o.text, run.serverText, what)
}

/** The round trip is listed as failing: check that it still does (or the list is stale). */
export const assertStillFails = (o: Outcome, run: CaseRun, what: string, reason: string): void => {
  assert.isFalse(o.ok && o.text === run.serverText, `${what} is listed as not coming back (${reason}) but it does`)
}

// ---------------------------------------------------------------------------
// Targeted tests: values built in JavaScript, parameter rules, session behaviour
// ---------------------------------------------------------------------------

export type It = Vitest.MethodsNonLive<Scratch>

/** The two statement-cache modes: prepared (server-declared types, binary) and unnamed (OID 0, text results). */
export const MODES = [
  { name: "cache on", options: {} },
  { name: "cache off", options: { statementCacheSize: 0 } }
] as const

export let tableCounter = 0
/** A table name unique in the run (the scratch database goes away with everything in it). */
export const tableName = (): string => `t_${process.pid}_${++tableCounter}`

/** Fails the test unless the effect fails; returns the error's reason. */
export const failureOf = <A>(effect: Effect.Effect<A, PgError>) => Effect.map(Effect.flip(effect), (error) => error.reason)

export const assertServerError = (reason: PgError["reason"], code: string): void => {
  assert.strictEqual(reason._tag, "ServerError", reason.message)
  if (reason._tag === "ServerError") assert.strictEqual(reason.code, code, reason.message)
}

/** `SELECT <expression> AS v` with one parameter: the decoded value. */
export const valueOf = (session: PgSession.Session, expression: string, param: unknown) =>
  Effect.map(session.query(`SELECT ${expression} AS v`, [param]), (r) => r.rows[0]!["v"])
