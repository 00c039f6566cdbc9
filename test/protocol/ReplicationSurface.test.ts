/**
 * The public `Replication` module is the one entry point of the replication
 * payloads: the `START_REPLICATION` payloads are its own, `BASE_BACKUP`'s
 * payloads (`BaseBackup`) and the LSN, timestamp and transaction id helpers
 * (`ReplicationValues`) are re-exported from their modules. The dispatch of
 * payload families (`PayloadFamily`) stays internal.
 */
import { assert, describe, it } from "@effect/vitest"
import * as BaseBackup from "../../src/protocol/BaseBackup.ts"
import * as PayloadFamily from "../../src/protocol/PayloadFamily.ts"
import * as Replication from "../../src/protocol/Replication.ts"
import * as ReplicationValues from "../../src/protocol/ReplicationValues.ts"

/** Every runtime export of the public module, as the package has published them. */
const PUBLIC = [
  "ArchiveOrManifestData", "ArchiveOrManifestDataSchema", "BaseBackupCode", "BaseBackupMessageFromBytes",
  "BaseBackupMessageSchema", "Code", "HotStandbyFeedbackMessage", "HotStandbyFeedbackMessageSchema", "Manifest",
  "ManifestSchema", "MessageFromBytes", "NewArchive", "NewArchiveSchema", "POSTGRES_EPOCH_UNIX_MICROS",
  "PrimaryKeepaliveMessage", "PrimaryKeepaliveMessageSchema", "PrimaryStatusUpdate", "PrimaryStatusUpdateSchema",
  "ProgressReport", "ProgressReportSchema", "ReplicationMessageSchema", "RequestPrimaryStatusUpdate",
  "RequestPrimaryStatusUpdateSchema", "StandbyStatusUpdate", "StandbyStatusUpdateSchema", "XLogData", "XLogDataSchema",
  "decode", "decodeBaseBackup", "decodeBaseBackupView", "decodeView", "encode", "encodeBaseBackup", "formatLsn",
  "fromDate", "fromEpochMillis", "fromUnixMicros", "parseLsn", "readUnsafe", "toDate", "toEpochMillis",
  "toUnixMicros", "transactionEpoch", "transactionXid", "writeUnsafe"
]

const sorted = (names: Iterable<string>): Array<string> => [...names].sort()

describe("Replication public module", () => {
  it("exports exactly the names it always has", () => {
    assert.deepStrictEqual(sorted(Object.keys(Replication)), sorted(PUBLIC))
  })

  it("re-exports every export of BaseBackup and ReplicationValues as the very same value", () => {
    const modules: ReadonlyArray<Readonly<Record<string, unknown>>> = [BaseBackup, ReplicationValues]
    const published = Replication as Readonly<Record<string, unknown>>
    for (const module of modules) {
      for (const [name, value] of Object.entries(module)) {
        assert.strictEqual(published[name], value, name)
      }
    }
  })

  it("keeps the payload families' dispatch internal", () => {
    for (const name of Object.keys(PayloadFamily)) assert.notInclude(PUBLIC, name)
  })
})
