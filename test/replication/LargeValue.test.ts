/**
 * One value of 200 MB (a `text` and a `bytea` column, each in a row of its
 * own transaction), read by a consumer process with streaming off (the server
 * holds the transaction) and on (the value is past `logical_decoding_work_mem`:
 * the server streams it and this client holds it, spilled to a file, until
 * Stream Commit): delivered exactly (the MD5 of what arrived is the server's
 * `md5` of the value), without a crash or a RangeError, in memory bounded by a
 * few copies of the value.
 *
 * `EFFECT_PGWIRE_LARGE_VALUE_MIB` sets the size. The default, 24 MiB, keeps
 * the suite's time down: most of a run is the server's (writing the values,
 * decoding their TOAST chunks); 200 MiB takes about two minutes on a loaded
 * 2-core machine and passes the same assertions (run it by hand). The server's
 * `logical_decoding_work_mem` (1MB) and the consumer's held-memory bound
 * (4 MiB) are small, so even the default size is streamed and spilled.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as PgSession from "../../src/session/Session.ts"
import { TestServer } from "../support/EmbeddedPostgres.ts"
import { logicalFixture, optionsFor } from "./Support.ts"

const server = TestServer.layer({
  name: "replication-large-value",
  settings: {
    wal_level: "logical",
    max_wal_senders: 10,
    max_replication_slots: 10,
    max_wal_size: "2GB",
    logical_decoding_work_mem: "1MB"
  }
})

/** The value's size. */
const VALUE_MIB = Number(process.env["EFFECT_PGWIRE_LARGE_VALUE_MIB"] ?? 24)
const VALUE_BYTES = VALUE_MIB * 1024 * 1024
/**
 * What a consumer run may grow by, in copies of the value, beyond `SLACK_MIB`: the frame being assembled and the
 * payload it holds, the decoded value (a string or bytes), and what the garbage collector has not yet returned.
 * The slack is what a run grows by whatever the values (the runtime warming up, the connection, the decoder): about
 * 50 to 75 MiB measured at 24 MiB values. At 200 MiB the runs grew by about one copy per value (403 MiB for two).
 */
const COPIES_ALLOWED = 3
const SLACK_MIB = 128
/** A consumer run that does not finish within this long fails the test. */
const RUN_TIMEOUT_MILLIS = 120_000

interface Report {
  readonly hashes: Record<string, { readonly md5: string; readonly length: number; readonly kind: string }>
  readonly streamGrowthMiB: number
  readonly runGrowthMiB: number
  readonly cpuMillis: number
}

const runConsumer = (args: Record<string, unknown>): Promise<Report> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(
      process.execPath,
      [Path.join(import.meta.dirname, "LargeValueConsumer.ts"), JSON.stringify(args)],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let out = ""
    let errors = ""
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MILLIS)
    child.stdout.on("data", (c: Buffer) => (out += c.toString()))
    child.stderr.on("data", (c: Buffer) => (errors += c.toString()))
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(JSON.parse(out.trim().split("\n").at(-1)!) as Report)
      else reject(new Error(`consumer exited with ${code ?? signal}: ${errors.trim()}`))
    })
  })

describe("PgReplication.logical: a value of 200 MB (EFFECT_PGWIRE_LARGE_VALUE_MIB)", () => {
  it.layer(server, { excludeTestServices: true, timeout: "180 seconds" })((it) => {
    it.effect(`a ${VALUE_MIB} MiB text and a ${VALUE_MIB} MiB bytea arrive exactly, streaming off and on, in bounded memory`, () =>
      Effect.gen(function*() {
        const info = yield* TestServer
        const session = yield* PgSession.connect(optionsFor(info))
        const f = yield* logicalFixture(session, info, "id int primary key, t text, b bytea")
        // Stored uncompressed (EXTERNAL), so the server's work is copying, not compressing.
        yield* session.query(`alter table ${f.table} alter column t set storage external, alter column b set storage external`)
        const unit = "repeat(md5(g::text), 32)"
        const blocks = VALUE_BYTES / 1024
        yield* session.query(
          `insert into ${f.table} select 1, string_agg(${unit}, '' order by g), null from generate_series(1, ${blocks}) g`
        )
        yield* session.query(
          `insert into ${f.table} select 2, null, convert_to(string_agg(${unit}, '' order by g), 'UTF8') from generate_series(1, ${blocks}) g`
        )
        const expected = yield* session.query<{ t: string; b: string; tl: number; bl: number }>(
          `select (select md5(t) from ${f.table} where id = 1) as t, (select md5(b) from ${f.table} where id = 2) as b, ` +
            `(select octet_length(t) from ${f.table} where id = 1) as tl, (select octet_length(b) from ${f.table} where id = 2) as bl`
        )
        const want = expected.rows[0]!
        assert.strictEqual(want.tl, VALUE_BYTES)
        assert.strictEqual(want.bl, VALUE_BYTES)

        const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "large-value-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
        for (const streaming of ["off", "on"] as const) {
          const t0 = Date.now()
          const report = yield* Effect.promise(() =>
            runConsumer({
              host: info.host,
              port: info.port,
              slot: f.slot,
              publication: f.publication,
              streaming,
              transactions: 2,
              spillDirectory: dir,
              spillMemoryBytes: 4 * 1024 * 1024
            })
          )
          console.log(
            `large value (${VALUE_MIB} MiB, streaming ${streaming}): RSS growth ${report.streamGrowthMiB.toFixed(0)} MiB ` +
              `until delivered, ${report.runGrowthMiB.toFixed(0)} MiB with hashing; ${Date.now() - t0} ms, consumer CPU ${report.cpuMillis.toFixed(0)} ms`
          )
          assert.deepStrictEqual(report.hashes, {
            "1.t": { md5: want.t, length: VALUE_BYTES, kind: "string" },
            "2.b": { md5: want.b, length: VALUE_BYTES, kind: "bytes" }
          }, `streaming ${streaming}`)
          assert.isTrue(
            report.streamGrowthMiB < COPIES_ALLOWED * VALUE_MIB + SLACK_MIB,
            `streaming ${streaming}: grew by ${report.streamGrowthMiB.toFixed(0)} MiB until delivered`
          )
          assert.deepStrictEqual(Fs.readdirSync(dir), [], "no spill file left")
        }
      }).pipe(Effect.scoped), 180_000)
  })
})
