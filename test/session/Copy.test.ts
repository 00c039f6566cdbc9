/**
 * PgSession: COPY in and out, bounded memory, and COPY amid other requests.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { ServerError } from "../../src/errors/PgError.ts"
import { connectPlain as connect, connectTraced, reasonOf } from "../support/Sessions.ts"



describe("PgSession: COPY", () => {
  const encoder = new TextEncoder()

  it.live("COPY of 1,000,000 rows in and out with exact counts", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table copied (a int, b text)")
      const rows = 1_000_000
      const perChunk = 10_000
      const chunks = Stream.range(0, rows / perChunk - 1).pipe(
        Stream.map((c) => {
          let text = ""
          for (let i = c * perChunk; i < (c + 1) * perChunk; i++) text += `${i}\tvalue ${i}\n`
          return encoder.encode(text)
        })
      )
      const result = yield* Stream.run(chunks, session.copyFrom("copy copied from stdin"))
      assert.strictEqual(result.rowCount, rows)
      const { rows: count } = yield* session.query("select count(*)::int as c, sum(a)::int8 as s from copied")
      assert.deepStrictEqual(count, [{ c: rows, s: BigInt((rows * (rows - 1)) / 2) }])
      let lines = 0
      let bytes = 0
      let batches = 0
      yield* Stream.runForEachArray(session.copyTo("copy copied to stdout"), (batch) =>
        Effect.sync(() => {
          batches++
          for (const line of batch) {
            lines++
            bytes += line.length
          }
        }))
      assert.strictEqual(lines, rows)
      assert.isAbove(bytes, rows * 8)
      // Rows come in batches of what each socket read carried, not one resumption per row.
      assert.isBelow(batches, rows / 20)
    }), 120_000)

  it.live("small chunks are copied behind their header, large ones written after it; the trace sees whole frames", () =>
    Effect.gen(function*() {
      const { lines, session } = yield* connectTraced()
      yield* session.query("create temp table copymix (a int)")
      let large = ""
      for (let i = 3; i < 30_003; i++) large += `${i}\n`
      const chunks = [encoder.encode("1\n"), encoder.encode(large), encoder.encode("2\n"), encoder.encode(large)]
      const result = yield* Stream.run(Stream.fromIterable(chunks), session.copyFrom("copy copymix from stdin"))
      assert.strictEqual(result.rowCount, 2 + 2 * 30_000)
      const { rows } = yield* session.query("select count(distinct a)::int as d, sum(a)::int8 as s from copymix")
      assert.deepStrictEqual(rows, [{ d: 30_002, s: 3n + 2n * BigInt((30_002 * 30_003) / 2 - 3) }])
      const sent = lines.filter((line) => /^F\t\d+\tCopyData/.test(line)).map((line) => Number(line.split("\t")[1]))
      assert.deepStrictEqual(sent, chunks.map((chunk) => chunk.length + 4))
      assert.isTrue(lines.some((line) => /^F\t4\tCopyDone/.test(line)))
    }))

  it.live("a COPY whose upstream fails sends CopyFail and leaves the table unchanged", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table copyfail (a int)")
      const upstream = Stream.concat(
        Stream.fromIterable([encoder.encode("1\n2\n3\n")]),
        Stream.fail("upstream broke")
      )
      const exit = yield* Effect.exit(Stream.run(upstream, session.copyFrom("copy copyfail from stdin")))
      assert.isTrue(Exit.isFailure(exit))
      const { rows } = yield* session.query("select count(*)::int as c from copyfail")
      assert.deepStrictEqual(rows, [{ c: 0 }])
    }))

  it.live("a bad row fails COPY with the server's error and the next COPY works", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      yield* session.query("create temp table copybad (a int not null)")
      const exit = yield* Effect.exit(
        Stream.run(Stream.make(encoder.encode("1\n\\N\n3\n")), session.copyFrom("copy copybad from stdin"))
      )
      assert.strictEqual((reasonOf(exit as never) as ServerError).code, "23502")
      const ok = yield* Stream.run(Stream.make(encoder.encode("4\n5\n")), session.copyFrom("copy copybad from stdin"))
      assert.strictEqual(ok.rowCount, 2)
    }))
})

describe("PgSession: bounded memory and COPY consistency", () => {
  it.live.each([
    ["paged with Execute(4096)", { pageSize: 4096 }],
    ["read as the consumer takes the rows (no page size)", {}]
  ] as const)("a 10,000,000-row stream runs in bounded memory: %s", ([, options]) =>
    Effect.gen(function*() {
      const session = yield* connect({ sslMode: "disable" })
      if (typeof globalThis.gc === "function") globalThis.gc()
      const baseline = process.memoryUsage().rss
      let peak = baseline
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss)
      }, 20)
      let count = 0
      let sum = 0
      yield* Stream.runForEach(
        session.stream<{ g: number }>("select generate_series(1, 10000000) as g", [], options),
        (row) =>
          Effect.sync(() => {
            count++
            sum += row.g
          })
      ).pipe(Effect.ensuring(Effect.sync(() => clearInterval(sampler))))
      assert.strictEqual(count, 10_000_000)
      assert.strictEqual(sum, 50000005000000)
      const growthMiB = (peak - baseline) / 1024 / 1024
      assert.isBelow(growthMiB, 64, `peak RSS grew by ${growthMiB.toFixed(1)} MiB`)
    }), 120_000)

  it.live("COPY inside a transaction rolls back with it; COPY amid pipelined queries keeps every result right", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const encoder = new TextEncoder()
      yield* session.query("create temp table copytx (a int)")
      yield* session.query("begin")
      const inTx = yield* Stream.run(Stream.make(encoder.encode("1\n2\n")), session.copyFrom("copy copytx from stdin"))
      assert.strictEqual(inTx.rowCount, 2)
      assert.strictEqual(yield* session.transactionStatus, "T")
      yield* session.query("rollback")
      assert.deepStrictEqual((yield* session.query("select count(*)::int as c from copytx")).rows, [{ c: 0 }])
      const [before, copied, after, out] = yield* Effect.all(
        [
          session.query("select 1 as one"),
          Stream.run(Stream.make(encoder.encode("7\n8\n9\n")), session.copyFrom("copy copytx from stdin")),
          session.query("select count(*)::int as c from copytx"),
          Stream.runCollect(session.copyTo("copy (select 'x') to stdout"))
        ],
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(before.rows, [{ one: 1 }])
      assert.strictEqual(copied.rowCount, 3)
      assert.strictEqual(after.rows.length, 1)
      assert.strictEqual(new TextDecoder().decode(out[0]!), "x\n")
      assert.deepStrictEqual((yield* session.query("select count(*)::int as c from copytx")).rows, [{ c: 3 }])
    }))
})
