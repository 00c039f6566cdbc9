/**
 * PgSession: Streams: portal paging, reading as the consumer takes rows, and lent reads on plain sockets.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { PgError, ServerError } from "../../src/errors/PgError.ts"
import * as PgSession from "../../src/session/Session.ts"
import * as Transport from "../../src/transport/Transport.ts"
import { servers } from "../support/Servers.ts"
import { awaitActive, connectPlain as connect, connectTraced, reasonOf } from "../support/Sessions.ts"

const main = () => servers().main


describe("PgSession: streams", () => {
  it.live("streams a result through a portal in pages", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const rows = yield* Stream.runCollect(
        session.stream<{ g: number }>("select g from generate_series(1, 10000) g", [], { pageSize: 100 })
      )
      const values = rows
      assert.strictEqual(values.length, 10000)
      assert.strictEqual(values[0]!.g, 1)
      assert.strictEqual(values[9999]!.g, 10000)
      const { rows: after } = yield* session.query("select 'next' as n")
      assert.deepStrictEqual(after, [{ n: "next" }])
    }))

  it.live("taking a few rows of a huge stream stops it and leaves the session usable", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const few = yield* Stream.runCollect(
        Stream.take(session.stream("select generate_series(1, 100000000) as g", [], { pageSize: 1000 }), 10)
      )
      assert.strictEqual(few.length, 10)
      const { rows } = yield* session.query("select 'after' as a")
      assert.deepStrictEqual(rows, [{ a: "after" }])
    }))

  it.live("an error in the middle of a stream fails it; the session recovers", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const exit = yield* Effect.exit(
        Stream.runDrain(session.stream("select 1.0 / (5000 - g) from generate_series(1, 10000) g", [], { pageSize: 64 }))
      )
      assert.strictEqual((reasonOf(exit) as ServerError).code, "22012")
      const { rows } = yield* session.query("select 'ok' as ok")
      assert.deepStrictEqual(rows, [{ ok: "ok" }])
    }))
})

describe("PgSession: streams without a page size", () => {
  it.live("one Execute and one Sync for the whole result; rows come in batches per socket read", () =>
    Effect.gen(function*() {
      const { lines, session } = yield* connectTraced()
      yield* session.query("select 1")
      lines.length = 0
      let batches = 0
      let count = 0
      let sum = 0
      yield* Stream.runForEachArray(session.stream<{ g: number }>("select g from generate_series(1, 200000) g"), (rows) =>
        Effect.sync(() => {
          batches++
          for (const row of rows) {
            count++
            sum += row.g
          }
        }))
      assert.strictEqual(count, 200_000)
      assert.strictEqual(sum, (200_000 * 200_001) / 2)
      assert.isBelow(batches, 200_000 / 100)
      const sent = lines.filter((line) => line.startsWith("F\t")).map((line) => line.split("\t")[2]!.split(" ")[0])
      assert.deepStrictEqual(sent.filter((name) => name === "Execute" || name === "Flush"), ["Execute"])
      assert.strictEqual(sent.at(-1), "Sync")
      const { rows } = yield* session.query("select 'next' as n")
      assert.deepStrictEqual(rows, [{ n: "next" }])
    }))

  it.live("a consumer that stops taking rows stops the reading: what waits for it stays bounded", () =>
    Effect.gen(function*() {
      const session = yield* connect({ sslMode: "disable" })
      let largest = 0
      let first = true
      let count = 0
      yield* Stream.runForEachArray(session.stream<{ g: number }>("select g from generate_series(1, 3000000) g"), (rows) =>
        Effect.gen(function*() {
          largest = Math.max(largest, rows.length)
          count += rows.length
          if (first) {
            first = false
            // Unpaused, the whole result (3,000,000 rows) would be waiting after this second.
            yield* Effect.sleep(1000)
          }
        }))
      assert.strictEqual(count, 3_000_000)
      // 4096 rows, plus the rest of one socket read (64 KiB of 10-byte DataRows).
      assert.isBelow(largest, 12_000)
    }), 60_000)

  it.live("taking a few rows of a huge result cancels the statement; the session stays usable", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const started = Date.now()
      const few = yield* Stream.runCollect(Stream.take(session.stream("select generate_series(1, 1000000000) as g"), 10))
      assert.deepStrictEqual(few.map((row) => row["g"]), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      assert.isBelow(Date.now() - started, 5000)
      const { rows } = yield* session.query<{ readonly n: number }>(
        "select count(*)::int as n from pg_stat_activity where state = 'active' and query like '%1000000000%' and pid <> pg_backend_pid()"
      )
      assert.deepStrictEqual(rows, [{ n: 0 }])
    }), 30_000)

  it.live("inside a transaction block the stream pages instead: stopping early keeps the transaction", () =>
    Effect.gen(function*() {
      const { lines, session } = yield* connectTraced()
      yield* session.query("create temp table streamtx (a int)")
      yield* session.query("begin")
      yield* session.query("insert into streamtx values (1)")
      const few = yield* Stream.runCollect(Stream.take(session.stream("select generate_series(1, 100000000) as g"), 5))
      assert.strictEqual(few.length, 5)
      assert.strictEqual(yield* session.transactionStatus, "T")
      assert.isTrue(lines.some((line) => /^F\t\d+\tExecute\t ?"" 2048$/.test(line)), "paged by 2048 rows")
      yield* session.query("insert into streamtx values (2)")
      yield* session.query("commit")
      const { rows } = yield* session.query<{ readonly n: number }>("select count(*)::int as n from streamtx")
      assert.deepStrictEqual(rows, [{ n: 2 }])
    }))

  it.live("an error in the middle fails the stream; a query issued while it runs waits for it and succeeds", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const exit = yield* Effect.exit(
        Stream.runDrain(session.stream("select 1.0 / (50000 - g) from generate_series(1, 100000) g"))
      )
      assert.strictEqual((reasonOf(exit) as ServerError).code, "22012")
      let side: Fiber.Fiber<PgSession.QueryResult, PgError> | undefined = undefined
      let sum = 0
      yield* Stream.runForEachArray(session.stream<{ g: number }>("select g from generate_series(1, 100000) g"), (rows) =>
        Effect.gen(function*() {
          if (side === undefined) side = yield* Effect.forkDetach(session.query("select 'side' as s"))
          for (const row of rows) sum += row.g
        }))
      assert.strictEqual(sum, (100_000 * 100_001) / 2)
      assert.deepStrictEqual((yield* Fiber.join(side!)).rows, [{ s: "side" }])
    }))
})

/** Waits until the server shows `session`'s backend running a statement containing `text` (as libpq's test_cancel does). */

describe("PgSession: lent reads (plain sockets)", () => {
  it.live("a plain socket opened with lent reads hands every byte to onBytes and emits no 'data'", () =>
    Effect.gen(function*() {
      const reads = new Transport.LentReads()
      const received: Array<number> = []
      reads.onBytes = (bytes, length) => received.push(...bytes.subarray(0, length))
      const socket = yield* Transport.openSocket({ _tag: "Tcp", host: main().host, port: main().port }, 5_000, undefined, reads)
      let dataEvents = 0
      socket.on("data", () => dataEvents++)
      // SSLRequest: the server answers with one byte ('S' here, where TLS is on).
      socket.write(Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f))
      yield* Effect.sleep(200).pipe(Effect.repeat({ until: () => received.length > 0, times: 25 }))
      socket.destroy()
      assert.deepStrictEqual(received, [0x53])
      assert.strictEqual(dataEvents, 0)
    }))

  it.live("COPY TO chunks kept while later reads reuse the buffer stay intact", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const chunks = yield* Stream.runCollect(
        session.copyTo("copy (select g, repeat(chr(65 + g % 26), g % 60) from generate_series(1, 30000) g) to stdout")
      )
      let expected = ""
      for (let g = 1; g <= 30000; g++) expected += `${g}\t${String.fromCharCode(65 + (g % 26)).repeat(g % 60)}\n`
      const decoder = new TextDecoder()
      assert.strictEqual(chunks.map((c) => decoder.decode(c)).join(""), expected)
    }))

  it.live("sslmode=prefer against a server without TLS continues in clear on lent reads: COPY TO and the cancel key intact", () =>
    Effect.gen(function*() {
      const noTls = servers().noTls
      const open = () =>
        PgSession.connect({ host: noTls.host, port: noTls.port, user: "postgres", database: "postgres", sslMode: "prefer" })
      const session = yield* open()
      const monitor = yield* open()
      const chunks = yield* Stream.runCollect(
        session.copyTo("copy (select g, md5(g::text) from generate_series(1, 20000) g) to stdout")
      )
      const text = chunks.map((c) => new TextDecoder().decode(c)).join("")
      const lines = text.split("\n")
      assert.strictEqual(lines.length, 20001)
      const { rows } = yield* session.query<{ ok: boolean }>(
        "select bool_and(md5(g::text) = ($1::text[])[g]) as ok from generate_series(1, 20000) g",
        [lines.slice(0, 20000).map((line) => line.split("\t")[1]!)]
      )
      assert.deepStrictEqual(rows, [{ ok: true }])
      const fiber = yield* Effect.forkChild(session.query("select pg_sleep(30), 'prefer'"))
      yield* awaitActive(monitor, session, "'prefer'")
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      assert.isBelow(Date.now() - started, 1000)
    }))

  it.live("rows of types looked up after the rows arrived, and a backend key used after many reads, are intact", () =>
    Effect.gen(function*() {
      const session = yield* connect()
      const monitor = yield* connect()
      const name = `mood_${Date.now().toString(36)}`
      yield* session.query(`create type ${name} as enum ('sad', 'ok', 'happy')`)
      // The enum is unknown to the session: its rows are kept as bytes until pg_type has been read.
      const { rows } = yield* session.query<{ m: string; n: number }>(
        `select (array['sad','ok','happy']::${name}[])[1 + g % 3] as m, g as n from generate_series(1, 5000) g`
      )
      assert.deepStrictEqual(rows.slice(0, 3), [{ m: "ok", n: 1 }, { m: "happy", n: 2 }, { m: "sad", n: 3 }])
      assert.strictEqual(rows[4999]!.m, ["sad", "ok", "happy"][5000 % 3])
      // The cancel key came in the first read; thousands of reads later it must still cancel.
      const fiber = yield* Effect.forkChild(session.query("select pg_sleep(30), 'lent'"))
      yield* awaitActive(monitor, session, "'lent'")
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      assert.isBelow(Date.now() - started, 1000)
      yield* session.query(`drop type ${name}`)
    }))
})
