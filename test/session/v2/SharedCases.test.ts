/**
 * The session suite's shared cases, from one table, on protocol 3.0 (PostgreSQL 13), 3.2 (PostgreSQL 18) and 2.0
 * (PostgreSQL 13): the type corpus decoded and sent back typed, streams, COPY both ways, cancellation. A 2.0 gap
 * shows as a failing row.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as PgSession from "../../../src/session/Session.ts"
import { servers } from "../../support/Servers.ts"
import { arrayCases, corpusCases, decodeDiffers, exactRegistry, extraCases } from "../../types/RoundTripCases.ts"
import { connect13 } from "./Support.ts"

interface Version {
  readonly name: string
  readonly major: number
  readonly connect: () => ReturnType<typeof PgSession.connect>
  /** Protocol 3.0 on the same server. */
  readonly reference: () => ReturnType<typeof PgSession.connect>
}

/** Equal values, NaN included. */
const sameValue = (a: unknown, b: unknown): boolean => {
  try {
    assert.deepStrictEqual(a, b)
    return true
  } catch {
    return false
  }
}

const on18 = (options: Partial<PgSession.SessionOptions>) =>
  PgSession.connect({ host: servers().noTls.host, port: servers().noTls.port, user: "postgres", database: "postgres", sslMode: "disable", registry: exactRegistry, ...options })
/**
 * Values whose representation has no text encoding (money as a bigint count of cents, timestamps as bigint
 * microseconds in the exact registry): 3.x sends them in binary; protocol 2.0 has only text parameters, so they fail
 * with a typed error (a CodecError, or the server refusing the number as a timestamp), never a wrong value.
 */
const BINARY_ONLY: ReadonlyArray<string> = [
  "money",
  "money negative",
  "timestamptz[]",
  "money zero",
  "money large",
  "money[] of money",
  "timestamp[] of timestamp",
  "timestamptz[] of timestamptz"
]

const reference13 = () => connect13({ protocolVersion: "3.0", registry: exactRegistry })

const versions: ReadonlyArray<Version> = [
  { name: "3.0 on PostgreSQL 13", major: 13, connect: reference13, reference: reference13 },
  {
    name: "3.2 on PostgreSQL 18",
    major: 18,
    connect: () => on18({ protocolVersion: "3.2" }),
    reference: () => on18({ protocolVersion: "3.0" })
  },
  { name: "2.0 on PostgreSQL 13", major: 13, connect: () => connect13({ registry: exactRegistry }), reference: reference13 }
]

const encoder = new TextEncoder()
const decoder = new TextDecoder()

interface SharedCase {
  readonly name: string
  readonly run: (session: PgSession.Session, version: Version) => Effect.Effect<void, unknown, Scope.Scope>
}

const cases: ReadonlyArray<SharedCase> = [
  {
    name: "type corpus: every value decodes as on 3.0 and goes back typed as on 3.0",
    run: (session, version) =>
      Effect.gen(function*() {
        const reference = yield* version.reference()
        const valueDiffers: Array<string> = []
        const backDiffers: Array<string> = []
        let checked = 0
        for (const c of [...corpusCases, ...extraCases, ...arrayCases]) {
          // Types the round-trip suite creates for itself (public.*) are not on these servers.
          if ((c.since ?? 0) > version.major || c.extension !== undefined || c.sql.includes("public.")) continue
          const sql = `select (${c.sql}) as v, (${c.sql})::text as t, pg_typeof((${c.sql}))::text as ty`
          const result = yield* session.query(sql)
          const row = result.rows[0]!
          const expected = (yield* reference.query(sql)).rows[0]!
          checked++
          const typeName = `pg_catalog.${exactRegistry.get(result.fields[0]!.dataTypeOid)?.name ?? ""}`
          if (decodeDiffers(typeName) === undefined && !sameValue(row["v"], expected["v"])) valueDiffers.push(c.label)
          const back = (s: PgSession.Session, v: unknown) =>
            Effect.map(Effect.exit(s.query(`select ($1::${row["ty"]})::text as t`, [v])), (e) =>
              e._tag === "Success" && e.value.rows[0]!["t"] === row["t"])
          if ((yield* back(reference, expected["v"])) && !(yield* back(session, row["v"]))) backDiffers.push(c.label)
        }
        assert.isAtLeast(checked, 200)
        assert.deepStrictEqual(valueDiffers, [], "decoded values")
        assert.deepStrictEqual(backDiffers, version.major === 13 && version.name.startsWith("2.0") ? BINARY_ONLY : [], "values sent back typed")
      })
  },
  {
    name: "stream: 20,000 rows in order, then an early stop and the session answers",
    run: (session) =>
      Effect.gen(function*() {
        let expected = 1
        yield* session.stream("select g as n from generate_series(1, 20000) g").pipe(
          Stream.runForEach((row) => Effect.sync(() => assert.strictEqual(row["n"], expected++)))
        )
        assert.strictEqual(expected, 20001)
        const few = yield* session.stream("select g as n from generate_series(1, 500000) g").pipe(Stream.take(5), Stream.runCollect)
        assert.strictEqual(few.length, 5)
        assert.deepStrictEqual((yield* session.query("select 1 as one")).rows, [{ one: 1 }])
      })
  },
  {
    name: "COPY: in and out, text and CSV",
    run: (session) =>
      Effect.gen(function*() {
        yield* session.query("create temp table shared_copy (a int, b text)")
        const data = Array.from({ length: 1000 }, (_, i) => `${i}\tv${i}\\t\n`).join("")
        const into = yield* Stream.make(encoder.encode(data)).pipe(Stream.run(session.copyFrom("copy shared_copy from stdin")))
        assert.strictEqual(into.rowCount, 1000)
        const out = (yield* session.copyTo("copy shared_copy to stdout").pipe(Stream.runCollect)).map((c) => decoder.decode(c)).join("")
        assert.strictEqual(out, data)
        const csv = (yield* session.copyTo("copy (select * from shared_copy where a < 2 order by a) to stdout with (format csv)").pipe(Stream.runCollect))
          .map((c) => decoder.decode(c)).join("")
        assert.strictEqual(csv, "0,v0\t\n1,v1\t\n")
        yield* session.query("drop table shared_copy")
      })
  },
  {
    name: "cancel: an interrupted pg_sleep(10) ends within a second, the session answers",
    run: (session) =>
      Effect.gen(function*() {
        const started = Date.now()
        const fiber = yield* Effect.forkChild(session.query("select pg_sleep(10)"))
        yield* Effect.sleep(150)
        yield* Fiber.interrupt(fiber)
        assert.isBelow(Date.now() - started, 1_500)
        assert.deepStrictEqual((yield* session.query("select $1::int as n", [7])).rows, [{ n: 7 }])
      })
  }
]

describe("shared session cases on 3.0, 3.2 and 2.0", () => {
  for (const c of cases) {
    describe(c.name, () => {
      for (const version of versions) {
        it.live(version.name, () => Effect.flatMap(version.connect(), (session) => c.run(session, version)), 60_000)
      }
    })
  }
})
