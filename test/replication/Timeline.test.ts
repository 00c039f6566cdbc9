/**
 * A standby made from this library's base backup, promoted: its timeline
 * history, and a physical stream on the old timeline that ends with
 * EndOfTimeline at the switch point.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Buffer } from "node:buffer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as PgReplication from "../../src/replication/PgReplication.ts"
import { acquire } from "../support/EmbeddedPostgres.ts"
import { servers } from "../support/Servers.ts"
import { eventually, optionsFor, sqlSession } from "./Support.ts"

/** Writes the directories, regular files and symbolic links of a tar archive under `dir`. */
const extract = (archive: Uint8Array, dir: string): void => {
  const text = (h: Uint8Array, start: number, length: number) => {
    const end = h.subarray(start, start + length).indexOf(0)
    return Buffer.from(h.subarray(start, end < 0 ? start + length : start + end)).toString()
  }
  for (let p = 0; p + 512 <= archive.length;) {
    const header = archive.subarray(p, p + 512)
    if (header.every((b) => b === 0)) break
    const prefix = text(header, 345, 155)
    const name = (prefix === "" ? "" : `${prefix}/`) + text(header, 0, 100)
    const size = Number.parseInt(text(header, 124, 12).trim() || "0", 8)
    const type = String.fromCharCode(header[156]!)
    const target = Path.join(dir, name)
    if (type === "5") Fs.mkdirSync(target, { recursive: true, mode: 0o700 })
    else if (type === "2") Fs.symlinkSync(text(header, 157, 100), target)
    else if (type === "0" || type === "\0") {
      Fs.mkdirSync(Path.dirname(target), { recursive: true, mode: 0o700 })
      Fs.writeFileSync(target, archive.subarray(p + 512, p + 512 + size))
    }
    p += 512 + Math.ceil(size / 512) * 512
  }
}

describe("PgReplication: timelines", () => {
  it.live("a standby from baseBackup, promoted: TIMELINE_HISTORY 2, and timeline 1 streamed up to EndOfTimeline", () =>
    Effect.gen(function*() {
      const main = servers().main
      const events = yield* Stream.runCollect(PgReplication.baseBackup(optionsFor(main), { wal: true, progress: false }))
      const archives = new Map<string, Array<Uint8Array>>()
      let current = ""
      for (const e of events) {
        if (e._tag === "Archive") archives.set(current = e.name, [])
        if (e._tag === "ArchiveData") archives.get(current)!.push(e.data)
      }
      // With WAL the segments the backup needs are in the main archive, under pg_wal/.
      assert.deepStrictEqual([...archives.keys()], ["base.tar"])
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-pgwire-standby-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const data = Path.join(dir, "data")
      extract(Buffer.concat(archives.get("base.tar")!), data)
      assert.isNotEmpty(Fs.readdirSync(Path.join(data, "pg_wal")).filter((f) => /^[0-9A-F]{24}$/.test(f)))

      const standby = yield* acquire({
        name: "standby",
        standby: true,
        dataFrom: data,
        settings: { primary_conninfo: `host=127.0.0.1 port=${main.port} user=postgres sslmode=disable` }
      })
      const session = yield* sqlSession(standby)
      yield* session.query("select pg_promote(true, 60)")
      assert.isTrue(
        yield* eventually(Effect.map(session.query<{ r: boolean }>("select pg_is_in_recovery() as r"), (r) => !r.rows[0]!.r))
      )

      const rs = yield* PgReplication.connect({ ...optionsFor(standby), mode: "physical" })
      assert.strictEqual((yield* rs.identifySystem).timeline, 2)
      const history = yield* rs.timelineHistory(2)
      assert.strictEqual(history.fileName, "00000002.history")
      assert.strictEqual(history.entries.length, 1)
      const { switchPoint, timeline } = history.entries[0]!
      assert.strictEqual(timeline, 1)

      // From the start of the page holding the switch point: the old timeline's WAL up to it, then its end.
      const start = switchPoint - (switchPoint % 8192n)
      const streamed = yield* Stream.runCollect(PgReplication.physical(optionsFor(standby), { startLsn: start, timeline: 1 }))
      const last = streamed[streamed.length - 1]!
      assert.deepStrictEqual(last, { _tag: "EndOfTimeline", nextTimeline: 2, startLsn: switchPoint })
      const bytes = streamed.reduce((n, e) => n + (e._tag === "XLogData" ? e.data.length : 0), 0)
      assert.strictEqual(BigInt(bytes), switchPoint - start)
      // Exactly at the switch point: the server answers with the next timeline and no COPY.
      const atSwitch = yield* Stream.runCollect(
        PgReplication.physical(optionsFor(standby), { startLsn: switchPoint, timeline: 1 })
      )
      assert.deepStrictEqual(atSwitch, [{ _tag: "EndOfTimeline", nextTimeline: 2, startLsn: switchPoint }])
    }).pipe(Effect.scoped), 120_000)
})
