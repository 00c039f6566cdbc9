/**
 * Every row-returning operation decodes the same rows: query, stream (read as
 * the consumer takes, and paged), batch, a prepared statement's execute and
 * stream, and simple, each on a fresh session (user-defined types not looked up
 * yet), with the statement cache on and off. The reference is `query` with the
 * cache on.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { inspect, isDeepStrictEqual } from "node:util"
import type * as PgSession from "../../src/session/Session.ts"
import { connectPlain } from "../support/Sessions.ts"

const SCHEMA = `rowdec_${process.pid}`

const SETUP = [
  `create schema ${SCHEMA}`,
  `create type ${SCHEMA}.pair as (a int4, b text)`,
  `create type ${SCHEMA}.mood as enum ('sad', 'happy')`,
  `create domain ${SCHEMA}.posint as int4 check (value > 0)`,
  `create type ${SCHEMA}.floatrange as range (subtype = float8)`,
  `create type ${SCHEMA}.wrapper as (p ${SCHEMA}.pair, m ${SCHEMA}.mood, ps ${SCHEMA}.pair[])`
]

/** One row of builtins and user-defined types, twice (two rows), with NULLs. */
const SQL = `select n,
  (n, 'x, "y"')::${SCHEMA}.pair as pair,
  array[(n, 'a')::${SCHEMA}.pair, null] as pairs,
  'happy'::${SCHEMA}.mood as mood,
  array['sad', 'happy']::${SCHEMA}.mood[] as moods,
  (n + 4)::${SCHEMA}.posint as posint,
  '[1.5,2.5)'::${SCHEMA}.floatrange as floatrange,
  row((n, 'w')::${SCHEMA}.pair, 'sad', array[(2, 'z')::${SCHEMA}.pair])::${SCHEMA}.wrapper as wrapper,
  9007199254740993::int8 as big, 12345.6789::numeric as num, '12.34'::money as money,
  '2024-05-31 16:08:37.123456+00'::timestamptz as ts, '0044-03-15 BC'::date as bc,
  '1 year 2 mons 3 days 04:05:06.789'::interval as iv, '\\x00ff'::bytea as bytes,
  '{"a":[1,2.5,"é"],"n":9007199254740993}'::jsonb as doc, '6ba7b810-9dad-11d1-80b4-00c04fd430c8'::uuid as id,
  array[1, null, -3]::int4[] as ints, '[1,5]'::int4range as r, '{[1,3),[5,7)}'::int4multirange as mr,
  '192.168.0.1/24'::inet as ip, 'NaN'::float8 as nan, null::text as nothing
from generate_series(1, 2) as n`

type Operation = (session: PgSession.Session) => Effect.Effect<ReadonlyArray<unknown>, unknown>

const prepared = (run: (statement: PgSession.PreparedStatement) => Effect.Effect<ReadonlyArray<unknown>, unknown>): Operation =>
  (session) => Effect.scoped(Effect.flatMap(session.prepare(SQL), run))

const OPERATIONS: ReadonlyArray<readonly [string, Operation]> = [
  ["query", (s) => Effect.map(s.query(SQL), (r) => r.rows)],
  ["query, prepare: false", (s) => Effect.map(s.query(SQL, [], { prepare: false }), (r) => r.rows)],
  ["stream", (s) => Stream.runCollect(s.stream(SQL))],
  ["stream, paged", (s) => Stream.runCollect(s.stream(SQL, [], { pageSize: 1 }))],
  ["batch", (s) => Effect.map(s.batch([{ sql: SQL }]), (r) => r[0]!.rows)],
  ["batch, prepare: false", (s) => Effect.map(s.batch([{ sql: SQL }], { prepare: false }), (r) => r[0]!.rows)],
  ["prepared execute", prepared((p) => Effect.map(p.execute(), (r) => r.rows))],
  ["prepared stream", prepared((p) => Stream.runCollect(p.stream()))],
  ["simple", (s) => Effect.map(s.simple(SQL), (r) => r[0]!.rows)]
]

/** The columns whose values differ from the reference, with both values. */
const differingColumns = (rows: ReadonlyArray<unknown>, reference: ReadonlyArray<unknown>): Array<string> => {
  if (rows.length !== reference.length) return [`${rows.length} rows instead of ${reference.length}`]
  const out: Array<string> = []
  rows.forEach((row, i) => {
    const expected = reference[i] as Record<string, unknown>
    for (const [column, value] of Object.entries(row as Record<string, unknown>)) {
      if (!isDeepStrictEqual(value, expected[column])) {
        out.push(`row ${i} ${column}: ${inspect(value)} instead of ${inspect(expected[column])}`)
      }
    }
  })
  return out
}

const schemaScope = Effect.acquireRelease(
  Effect.scoped(Effect.flatMap(connectPlain(), (s) => s.simple(SETUP.join(";\n")))),
  () => Effect.scoped(Effect.flatMap(connectPlain(), (s) => s.simple(`drop schema ${SCHEMA} cascade`))).pipe(Effect.ignore)
)

describe("PgSession: every row-returning operation decodes the same rows", () => {
  it.live("on fresh sessions, with the statement cache on and off", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* schemaScope
      const reference = yield* Effect.scoped(Effect.flatMap(connectPlain(), (s) => Effect.map(s.query(SQL), (r) => r.rows)))
      assert.deepStrictEqual((reference[0] as { pair: unknown }).pair, { a: 1, b: "x, \"y\"" })
      const differing: Array<string> = []
      for (const statementCacheSize of [256, 0]) {
        for (const [name, run] of OPERATIONS) {
          const rows = yield* Effect.scoped(Effect.flatMap(connectPlain({ statementCacheSize }), run))
          const columns = differingColumns(rows, reference)
          if (columns.length > 0) differing.push(`${name} (statementCacheSize ${statementCacheSize}): ${columns.join(", ")}`)
        }
      }
      assert.deepStrictEqual(differing, [])
    })))
})
