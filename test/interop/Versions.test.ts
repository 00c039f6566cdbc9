/**
 * Interop: the session's core cases on every PostgreSQL major version the project supports, 13 to 18. The shared
 * servers of the run serve 13 and 18; 14, 15, 16 and 17 are started here, one server per version, once, when their
 * block begins (and stopped when it ends, so at most one extra server runs at a time).
 *
 * Per version: the protocol version agreed, queries with parameters of the common types (statement cache on and
 * off), a stream in both modes, COPY in and out, a cancel, LISTEN/NOTIFY, and the captured types corpus (binary
 * and text results agree, and every decoded value sent back untyped prints as the server's own text, but the
 * documented exceptions).
 */
import { assert, describe, it, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as PgSession from "../../src/session/Session.ts"
import { acquire, type ServerKind } from "../support/EmbeddedPostgres.ts"
import { servers, type ServerInfo } from "../support/Servers.ts"
import { reasonOf } from "../support/Sessions.ts"
import { decodeDiffers, inferenceFails, untypedFails } from "../types/RoundTripCases.ts"
import { type CaseRun, scratchDatabase, show } from "../types/RoundTripScratch.ts"

class Version extends Context.Service<Version, ServerInfo>()("effect-pgwire/test/interop/Version") {}

const VERSIONS: ReadonlyArray<readonly [number, Layer.Layer<Version>]> = [
  [13, Layer.sync(Version, () => servers().pg13)],
  [14, Layer.effect(Version, acquire({ kind: "pg14" as ServerKind, name: "interop14" })).pipe(Layer.orDie)],
  [15, Layer.effect(Version, acquire({ kind: "pg15" as ServerKind, name: "interop15" })).pipe(Layer.orDie)],
  [16, Layer.effect(Version, acquire({ kind: "pg16" as ServerKind, name: "interop16" })).pipe(Layer.orDie)],
  [17, Layer.effect(Version, acquire({ kind: "pg17" as ServerKind, name: "interop17" })).pipe(Layer.orDie)],
  [18, Layer.sync(Version, () => servers().noTls)]
]

const connect = (options: Partial<PgSession.SessionOptions> = {}) =>
  Effect.flatMap(Version, (server) =>
    PgSession.connect({ host: server.host, port: server.port, user: "postgres", database: "postgres", sslMode: "disable", ...options }))

const encoder = new TextEncoder()
const decoder = new TextDecoder()

for (const [major, serverLayer] of VERSIONS) {
  layer(serverLayer, { excludeTestServices: true, timeout: 120_000 })(`PostgreSQL ${major}`, (it) => {
    // 13 and 18 run the whole round-trip suite (test/types/RoundTrip.test.ts); the corpus here is for the others.
    const corpus = major !== 13 && major !== 18
    it.effect("the server is the version named, and the protocol version agreed is the highest it speaks", () =>
      Effect.scoped(Effect.gen(function*() {
        const server = yield* Version
        assert.strictEqual(server.majorVersion, major)
        const session = yield* connect()
        assert.deepStrictEqual(session.protocolVersion, { major: 3, minor: major >= 18 ? 2 : 0 })
      })))

    for (const statementCacheSize of [256, 0]) {
      it.effect(`query with parameters of the common types (statement cache ${statementCacheSize === 0 ? "off" : "on"})`, () =>
        Effect.scoped(Effect.gen(function*() {
          const session = yield* connect({ statementCacheSize })
          const params = [
            42,
            9007199254740993n,
            "text with 'quotes' and ü",
            new Uint8Array([0, 1, 254, 255]),
            true,
            null,
            [1, 2, 3],
            { a: [1, "b"] }
          ]
          const { rows } = yield* session.query(
            "select $1::int4 as i, $2::int8 as b, $3::text as t, $4::bytea as y, $5::bool as o, $6::text as n, " +
              "$7::int4[] as a, $8::jsonb as j, '1.50'::numeric as d",
            params
          )
          assert.deepStrictEqual(rows, [{
            i: 42,
            b: 9007199254740993n,
            t: "text with 'quotes' and ü",
            y: new Uint8Array([0, 1, 254, 255]),
            o: true,
            n: null,
            a: [1, 2, 3],
            j: { a: [1, "b"] },
            d: "1.50"
          }])
          const failed = reasonOf(yield* Effect.exit(session.query("select 1/0")))
          assert.strictEqual(failed._tag, "ServerError")
          assert.deepStrictEqual((yield* session.query("select 2 as after")).rows, [{ after: 2 }])
        })))
    }

    for (const pageSize of [0, 100]) {
      it.effect(`stream of 5,000 rows (pageSize ${pageSize})`, () =>
        Effect.scoped(Effect.gen(function*() {
          const session = yield* connect()
          const rows = yield* Stream.runCollect(
            session.stream<{ n: number }>("select n from generate_series(1, 5000) as n", [], { pageSize })
          )
          const all = Chunk.toReadonlyArray(Chunk.fromIterable(rows))
          assert.strictEqual(all.length, 5000)
          assert.strictEqual(all.reduce((s, r) => s + r.n, 0), 5000 * 5001 / 2)
          // Taking a few and stopping leaves the session usable.
          yield* Stream.runCollect(Stream.take(session.stream("select n from generate_series(1, 100000) as n", [], { pageSize }), 3))
          assert.deepStrictEqual((yield* session.query("select 3 as after")).rows, [{ after: 3 }])
        })))
    }

    it.effect("COPY in and out", () =>
      Effect.scoped(Effect.gen(function*() {
        const session = yield* connect()
        yield* session.simple("create temp table interop_copy (n int4, t text)")
        const lines = Array.from({ length: 1000 }, (_, i) => `${i}\tvalue ${i}\n`)
        const result = yield* Stream.run(
          Stream.fromIterable([lines.slice(0, 500).join(""), lines.slice(500).join("")].map((s) => encoder.encode(s))),
          session.copyFrom("copy interop_copy from stdin")
        )
        assert.strictEqual(result.rowCount, 1000)
        const out = yield* Stream.runCollect(session.copyTo("copy (select * from interop_copy order by n) to stdout"))
        assert.strictEqual(Chunk.toReadonlyArray(Chunk.fromIterable(out)).map((b) => decoder.decode(b)).join(""), lines.join(""))
      })))

    it.effect("a cancelled query fails with 57014 and the session goes on", () =>
      Effect.scoped(Effect.gen(function*() {
        const session = yield* connect()
        const monitor = yield* connect()
        const exit = yield* Effect.exit(session.query("select pg_sleep(30) as interop_cancel").pipe(Effect.timeout(300)))
        assert.strictEqual(exit._tag, "Failure")
        assert.deepStrictEqual((yield* session.query("select 4 as after")).rows, [{ after: 4 }])
        const { rows } = yield* monitor.query(
          "select count(*)::int4 as n from pg_stat_activity where state = 'active' and strpos(query, 'interop_cancel') > 0 and pid <> pg_backend_pid()"
        )
        assert.deepStrictEqual(rows, [{ n: 0 }])
        // session.cancel while a query runs: the query fails with 57014.
        const running = yield* Effect.forkChild(Effect.exit(session.query("select pg_sleep(30)")))
        yield* Effect.sleep(200)
        yield* session.cancel
        const cancelled = reasonOf(yield* Fiber.join(running))
        assert.strictEqual((cancelled as { code?: string }).code, "57014")
      })))

    it.effect("LISTEN and NOTIFY", () =>
      Effect.scoped(Effect.gen(function*() {
        const listener = yield* connect()
        const notifier = yield* connect()
        const channel = `interop_${major}`
        const notifications = yield* listener.listen(channel)
        const received = yield* Effect.forkChild(Stream.runCollect(Stream.take(notifications, 2)))
        yield* notifier.notify(channel, "first")
        yield* notifier.notify(channel, "second ü")
        const got = Chunk.toReadonlyArray(Chunk.fromIterable(yield* Fiber.join(received)))
        assert.deepStrictEqual(got.map((n) => n.payload), ["first", "second ü"])
        assert.deepStrictEqual(got.map((n) => n.processId), [notifier.processId, notifier.processId])
      })))

    // Not defined at all on 13 and 18, which run the whole round-trip suite instead (see `corpus`).
    if (corpus) it.effect("the types corpus: binary and text agree, decoded values go back untyped, but the listed", () =>
      Effect.scoped(Effect.gen(function*() {
        const server = yield* Version
        const target = yield* scratchDatabase(`PostgreSQL ${major}`, server)
        const runs: ReadonlyArray<CaseRun> = [...(yield* target.runs).values()]
        const disagree = runs.filter((r) => decodeDiffers(r.type) === undefined && show(r.fromBinary) !== show(r.fromText))
        assert.deepStrictEqual(disagree.map((r) => r.c.label), [], "binary and text decodings")
        const differs = (path: "untyped" | "inferred") =>
          runs.filter((r) => !(r[path].ok && r[path].text === r.serverText)).map((r) => r.c.label)
        const listed = (list: Readonly<Record<string, string>>) => runs.map((r) => r.c.label).filter((l) => list[l] !== undefined)
        assert.deepStrictEqual(differs("untyped"), listed(untypedFails), "untyped, cache on")
        assert.deepStrictEqual(differs("inferred"), listed(inferenceFails), "untyped, cache off")
        console.log(`PostgreSQL ${major}: ${runs.length} corpus values through the session`)
        assert.isAtLeast(runs.length, 250)
      })))
  })
}

describe("interop", () => {
  it("every supported major version is in the list", () => {
    assert.deepStrictEqual(VERSIONS.map(([m]) => m), [13, 14, 15, 16, 17, 18])
  })
})
