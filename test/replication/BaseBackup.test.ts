import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Buffer } from "node:buffer"
import { TarDigest, verify } from "../../src/replication/Manifest.ts"
import * as PgReplication from "../../src/replication/PgReplication.ts"
import { servers } from "../support/Servers.ts"
import { failureTag, optionsFor } from "./Support.ts"

describe("PgReplication.baseBackup", () => {
  it.live("streams the archives and a manifest whose sizes and SHA-256 checksums match every file", () =>
    Effect.gen(function*() {
      const main = servers().main
      const events = yield* Stream.runCollect(PgReplication.baseBackup(optionsFor(main), { label: "test" }))
      const start = events[0]!
      assert.strictEqual(start._tag, "Start")
      const end = events[events.length - 1]!
      assert.strictEqual(end._tag, "End")
      if (start._tag !== "Start" || end._tag !== "End") return
      assert.isTrue(end.manifestVerified)
      assert.isTrue(start.startLsn > 0n && start.startLsn <= end.endLsn)
      assert.strictEqual(start.timeline, 1)
      const archives = events.filter((e) => e._tag === "Archive")
      assert.deepStrictEqual(archives.map((a) => a.name), ["base.tar"])
      assert.isTrue(events.some((e) => e._tag === "Progress"))
      const tar = Buffer.concat(events.flatMap((e) => (e._tag === "ArchiveData" ? [e.data] : [])))
      const manifest = Buffer.concat(events.flatMap((e) => (e._tag === "ManifestData" ? [e.data] : []))).toString()
      assert.match(manifest, /"PostgreSQL-Backup-Manifest-Version"/)

      // The same bytes check out again; one flipped byte in a file, or an edited manifest, does not.
      const check = (archive: Uint8Array, text: string) => {
        const digest = new TarDigest()
        digest.newArchive()
        digest.push(archive)
        return verify(text, digest)
      }
      assert.isUndefined(check(tar, manifest))
      const versionFile = tar.indexOf("PG_VERSION")
      assert.isAtLeast(versionFile, 0)
      const tampered = Uint8Array.from(tar)
      const firstDataByte = versionFile - (versionFile % 512) + 512
      tampered[firstDataByte] = tampered[firstDataByte]! ^ 1
      assert.match(check(tampered, manifest) ?? "", /PG_VERSION: SHA-256 differs/)
      assert.match(check(tar, manifest.replace("\"Size\": 3,", "\"Size\": 4,")) ?? "", /checksum does not match/)
    }).pipe(Effect.scoped), 120_000)

  it.live("is UnsupportedOption before PostgreSQL 15", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Stream.runDrain(PgReplication.baseBackup(optionsFor(servers().pg13))))
      assert.strictEqual(failureTag(exit), "UnsupportedOption")
    }).pipe(Effect.scoped))
})
