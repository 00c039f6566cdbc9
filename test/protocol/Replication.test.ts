import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import { ProtocolError } from "../../src/errors/PgError.ts"
import * as Message from "../../src/protocol/Message.ts"
import * as Replication from "../../src/protocol/Replication.ts"
import { prng } from "../support/Prng.ts"

const bytes = (...parts: ReadonlyArray<number | ReadonlyArray<number>>): Uint8Array =>
  new Uint8Array(parts.flatMap((p) => (typeof p === "number" ? [p] : [...p])))

const ascii = (s: string): Array<number> => [...s].map((c) => c.charCodeAt(0))

const encodeOk = (message: Replication.ReplicationMessage): Uint8Array => Result.getOrThrow(Replication.encode(message))
const decodeOk = (b: Uint8Array): Replication.ReplicationMessage => Result.getOrThrow(Replication.decode(b))

const decodeError = (b: Uint8Array): ProtocolError => {
  const result = Replication.decode(b)
  if (Result.isSuccess(result)) throw new Error(`expected a failure, decoded ${result.success._tag}`)
  return result.failure
}

describe("Replication", () => {
  describe("golden bytes (protocol-3.2 Streaming Replication Protocol)", () => {
    it("XLogData", () => {
      const golden = bytes(
        0x77, // Byte1('w')
        [0, 0, 0, 1, 0, 0, 0, 0x20], // Int64 walStart = 0x1_00000020
        [0, 0, 0, 1, 0, 0, 0, 0x40], // Int64 walEnd = 0x1_00000040
        [0, 0, 0, 0, 0, 0, 0x03, 0xe8], // Int64 serverTime = 1000 us after 2000-01-01
        [0xde, 0xad, 0xbe, 0xef] // Byten WAL data
      )
      const message: Replication.XLogData = {
        _tag: "XLogData",
        walStart: 0x1_00000020n,
        walEnd: 0x1_00000040n,
        serverTime: 1000n,
        data: new Uint8Array([0xde, 0xad, 0xbe, 0xef])
      }
      assert.deepStrictEqual(encodeOk(message), golden)
      assert.deepStrictEqual(decodeOk(golden), message)
    })

    it("XLogData data is a view of the input, not a copy", () => {
      const golden = bytes(0x77, new Array(24).fill(0), [1, 2, 3])
      const m = decodeOk(golden)
      assert.strictEqual(m._tag, "XLogData")
      if (m._tag === "XLogData") {
        assert.strictEqual(m.data.buffer, golden.buffer)
        assert.deepStrictEqual(m.data, new Uint8Array([1, 2, 3]))
      }
    })

    it("XLogData with an empty WAL section", () => {
      const golden = bytes(0x77, new Array(24).fill(0))
      assert.deepStrictEqual(decodeOk(golden), {
        _tag: "XLogData",
        walStart: 0n,
        walEnd: 0n,
        serverTime: 0n,
        data: new Uint8Array(0)
      })
    })

    it("PrimaryKeepaliveMessage", () => {
      const golden = bytes(
        0x6b, // Byte1('k')
        [0, 0, 0, 0x16, 0xb3, 0x74, 0xd8, 0x48], // Int64 walEnd = 16/B374D848
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // Int64 serverTime = -1 (1 us before 2000-01-01)
        1 // Byte1 reply requested
      )
      const message: Replication.PrimaryKeepaliveMessage = {
        _tag: "PrimaryKeepaliveMessage",
        walEnd: 0x16_b374d848n,
        serverTime: -1n,
        replyRequested: true
      }
      assert.deepStrictEqual(encodeOk(message), golden)
      assert.deepStrictEqual(decodeOk(golden), message)
    })

    it("PrimaryStatusUpdate", () => {
      const golden = bytes(
        0x73, // Byte1('s')
        [0, 0, 0, 0, 0x01, 0x00, 0x00, 0x00], // Int64 latest WAL write position = 0/1000000
        [0, 0, 0, 2, 0, 0, 0x02, 0xdc], // Int64 oldest xid in commit: epoch 2, xid 732
        [0, 0, 0, 2, 0, 0, 0x02, 0xe0], // Int64 next xid: epoch 2, xid 736
        [0, 0, 0, 0, 0, 0, 0, 5] // Int64 serverTime = 5
      )
      const message: Replication.PrimaryStatusUpdate = {
        _tag: "PrimaryStatusUpdate",
        walWritePosition: 0x1000000n,
        oldestXidInCommit: (2n << 32n) | 732n,
        nextXid: (2n << 32n) | 736n,
        serverTime: 5n
      }
      assert.deepStrictEqual(encodeOk(message), golden)
      assert.deepStrictEqual(decodeOk(golden), message)
      assert.strictEqual(Replication.transactionEpoch(message.oldestXidInCommit), 2)
      assert.strictEqual(Replication.transactionXid(message.oldestXidInCommit), 732)
    })

    it("StandbyStatusUpdate", () => {
      const golden = bytes(
        0x72, // Byte1('r')
        [0, 0, 0, 0, 0, 0, 0x10, 0x00], // Int64 written = 0x1000
        [0, 0, 0, 0, 0, 0, 0x0f, 0x00], // Int64 flushed = 0xF00
        [0, 0, 0, 0, 0, 0, 0x0e, 0x00], // Int64 applied = 0xE00
        [0, 0, 0, 0, 0, 0x01, 0x00, 0x00], // Int64 clientTime = 65536
        0 // Byte1 no reply requested
      )
      const message: Replication.StandbyStatusUpdate = {
        _tag: "StandbyStatusUpdate",
        written: 0x1000n,
        flushed: 0xf00n,
        applied: 0xe00n,
        clientTime: 65536n,
        replyRequested: false
      }
      assert.deepStrictEqual(encodeOk(message), golden)
      assert.deepStrictEqual(decodeOk(golden), message)
    })

    it("HotStandbyFeedbackMessage", () => {
      const golden = bytes(
        0x68, // Byte1('h')
        [0, 0, 0, 0, 0, 0, 0, 9], // Int64 clientTime = 9
        [0xff, 0xff, 0xff, 0xfe], // Int32 xmin = 4294967294 (unsigned)
        [0, 0, 0, 1], // Int32 xmin epoch = 1
        [0, 0, 0x02, 0x00], // Int32 catalog_xmin = 512
        [0, 0, 0, 0] // Int32 catalog_xmin epoch = 0
      )
      const message: Replication.HotStandbyFeedbackMessage = {
        _tag: "HotStandbyFeedbackMessage",
        clientTime: 9n,
        xmin: 4294967294,
        xminEpoch: 1,
        catalogXmin: 512,
        catalogXminEpoch: 0
      }
      assert.deepStrictEqual(encodeOk(message), golden)
      assert.deepStrictEqual(decodeOk(golden), message)
    })

    it("RequestPrimaryStatusUpdate", () => {
      const golden = bytes(
        0x70, // Byte1('p')
        [0, 0, 0, 0, 0, 0, 0, 0x2a] // Int64 clientTime = 42
      )
      const message: Replication.RequestPrimaryStatusUpdate = { _tag: "RequestPrimaryStatusUpdate", clientTime: 42n }
      assert.deepStrictEqual(encodeOk(message), golden)
      assert.deepStrictEqual(decodeOk(golden), message)
    })
  })

  describe("golden bytes (BASE_BACKUP CopyOut payloads)", () => {
    const cases: ReadonlyArray<[string, Uint8Array, Replication.BaseBackupMessage]> = [
      [
        "NewArchive",
        bytes(
          0x6e, // Byte1('n')
          ascii("base.tar"),
          0, // String file name
          0 // String "" (main data directory)
        ),
        { _tag: "NewArchive", fileName: "base.tar", tablespacePath: "" }
      ],
      ["Manifest", bytes(0x6d), { _tag: "Manifest" }], // Byte1('m')
      [
        "ArchiveOrManifestData",
        bytes(0x64, [0x75, 0x73, 0x74, 0x61, 0x72]), // Byte1('d'), Byten data
        { _tag: "ArchiveOrManifestData", data: new Uint8Array([0x75, 0x73, 0x74, 0x61, 0x72]) }
      ],
      [
        "ProgressReport",
        bytes(0x70, [0, 0, 0, 0, 0, 0x10, 0, 0]), // Byte1('p'), Int64 bytes done = 1048576
        { _tag: "ProgressReport", completedBytes: 1048576n }
      ]
    ]
    for (const [name, golden, message] of cases) {
      it(name, () => {
        assert.deepStrictEqual(Result.getOrThrow(Replication.encodeBaseBackup(message)), golden)
        assert.deepStrictEqual(Result.getOrThrow(Replication.decodeBaseBackup(golden)), message)
      })
    }

    it("'p' is a progress report in a base backup and a status request in START_REPLICATION", () => {
      const golden = bytes(0x70, [0, 0, 0, 0, 0, 0, 0, 7])
      assert.strictEqual(Result.getOrThrow(Replication.decodeBaseBackup(golden))._tag, "ProgressReport")
      assert.strictEqual(decodeOk(golden)._tag, "RequestPrimaryStatusUpdate")
    })
  })

  describe("malformed payloads", () => {
    it("an unknown type byte names the byte and offset 0", () => {
      const e = decodeError(bytes(0x78, 1, 2))
      assert.include(e.message, "unknown replication message type 0x78")
      assert.strictEqual(e.messageName, "ReplicationMessage")
      assert.strictEqual(e.offset, 0)
    })

    it("an empty payload is truncated", () => {
      assert.include(decodeError(new Uint8Array(0)).message, "truncated")
    })

    it("a truncated keepalive names the message and the offset", () => {
      const e = decodeError(bytes(0x6b, new Array(10).fill(0)))
      assert.strictEqual(e.messageName, "PrimaryKeepaliveMessage")
      assert.strictEqual(e.offset, 8)
      assert.include(e.message, "truncated")
    })

    it("trailing bytes after a fixed-size message are rejected", () => {
      const e = decodeError(bytes(0x70, new Array(9).fill(0)))
      assert.strictEqual(e.messageName, "RequestPrimaryStatusUpdate")
      assert.include(e.message, "1 trailing bytes")
    })

    it("a reply flag other than 0 or 1 is rejected, not read as true", () => {
      const e = decodeError(bytes(0x6b, new Array(16).fill(0), 2))
      assert.strictEqual(e.offset, 16)
      assert.include(e.message, "must be 0 or 1")
    })

    it("a base backup decoder refuses replication payloads and vice versa", () => {
      assert.isTrue(Result.isFailure(Replication.decodeBaseBackup(bytes(0x77, new Array(24).fill(0)))))
      assert.isTrue(Result.isFailure(Replication.decode(bytes(0x6d))))
    })

    it("encode refuses a message of the other family", () => {
      const result = Replication.encode({ _tag: "Manifest" } as unknown as Replication.ReplicationMessage)
      assert.isTrue(Result.isFailure(result))
    })

    it("decodeView reads a range of a larger buffer", () => {
      const frame = bytes(0x64, [0, 0, 0, 13], 0x70, [0, 0, 0, 0, 0, 0, 0, 1], 0xff)
      const m = Result.getOrThrow(Replication.decodeView(frame, 5, 14))
      assert.deepStrictEqual(m, { _tag: "RequestPrimaryStatusUpdate", clientTime: 1n })
    })
  })

  describe("Schema round trips", () => {
    const cases = [
      [Replication.XLogDataSchema, Replication.XLogData],
      [Replication.PrimaryKeepaliveMessageSchema, Replication.PrimaryKeepaliveMessage],
      [Replication.PrimaryStatusUpdateSchema, Replication.PrimaryStatusUpdate],
      [Replication.StandbyStatusUpdateSchema, Replication.StandbyStatusUpdate],
      [Replication.HotStandbyFeedbackMessageSchema, Replication.HotStandbyFeedbackMessage],
      [Replication.RequestPrimaryStatusUpdateSchema, Replication.RequestPrimaryStatusUpdate],
      [Replication.NewArchiveSchema, Replication.NewArchive],
      [Replication.ManifestSchema, Replication.Manifest],
      [Replication.ArchiveOrManifestDataSchema, Replication.ArchiveOrManifestData],
      [Replication.ProgressReportSchema, Replication.ProgressReport]
    ] as const
    for (const [schema, codec] of cases) {
      const fromBytes = Message.fromBytes(codec as Message.Codec<any>)
      it.effect.prop(`${codec.name}: encode then decode is the identity, and so is decode then encode`, [schema], ([m]) =>
        Effect.gen(function*() {
          const encoded = yield* Schema.encodeEffect(fromBytes)(m)
          const decoded = yield* Schema.decodeUnknownEffect(fromBytes)(encoded)
          assert.deepStrictEqual(decoded, m)
          const again = yield* Schema.encodeEffect(fromBytes)(decoded)
          assert.deepStrictEqual(again, encoded)
        }))
    }

    it.effect.prop("the union Schema round-trips every START_REPLICATION payload", [
      Replication.ReplicationMessageSchema
    ], ([m]) =>
      Effect.gen(function*() {
        const encoded = yield* Schema.encodeEffect(Replication.MessageFromBytes)(m)
        const decoded = yield* Schema.decodeUnknownEffect(Replication.MessageFromBytes)(encoded)
        assert.deepStrictEqual(decoded, m)
        assert.deepStrictEqual(encodeOk(decoded), encoded)
      }))

    it.effect.prop("the union Schema round-trips every BASE_BACKUP payload", [
      Replication.BaseBackupMessageSchema
    ], ([m]) =>
      Effect.gen(function*() {
        const encoded = yield* Schema.encodeEffect(Replication.BaseBackupMessageFromBytes)(m)
        const decoded = yield* Schema.decodeUnknownEffect(Replication.BaseBackupMessageFromBytes)(encoded)
        assert.deepStrictEqual(decoded, m)
      }))

    it("the byte Schema reports a malformed payload as a typed issue", () => {
      const result = Schema.decodeUnknownResult(Replication.MessageFromBytes)(bytes(0x6b, 0, 0))
      assert.isTrue(Result.isFailure(result))
      if (Result.isFailure(result)) assert.include(String(result.failure), "PrimaryKeepaliveMessage")
    })
  })

  describe("time helpers", () => {
    it("0 is 2000-01-01T00:00:00Z", () => {
      assert.strictEqual(Replication.toDate(0n).toISOString(), "2000-01-01T00:00:00.000Z")
      assert.strictEqual(Replication.fromDate(new Date("2000-01-01T00:00:00Z")), 0n)
      assert.strictEqual(Replication.toUnixMicros(0n), 946684800000000n)
    })

    it("the Unix epoch is -946684800000000", () => {
      assert.strictEqual(Replication.fromUnixMicros(0n), -946684800000000n)
      assert.strictEqual(Replication.fromEpochMillis(0), -946684800000000n)
    })

    it("microseconds are kept exactly through the Unix conversion", () => {
      const t = 789_012_345_678_901n
      assert.strictEqual(Replication.fromUnixMicros(Replication.toUnixMicros(t)), t)
      assert.strictEqual(Replication.toUnixMicros(t), 1_735_697_145_678_901n)
    })

    it("milliseconds round toward the past, also before 2000 and before 1970", () => {
      assert.strictEqual(Replication.toEpochMillis(1999n), 946684800001)
      assert.strictEqual(Replication.toEpochMillis(-1n), 946684799999)
      assert.strictEqual(Replication.toEpochMillis(-946684800000001n), -1)
      assert.strictEqual(Replication.toDate(-1n).toISOString(), "1999-12-31T23:59:59.999Z")
    })

    it("a fractional millisecond is dropped", () => {
      assert.strictEqual(Replication.fromEpochMillis(946684800001.9), 1000n)
    })
  })

  describe("LSN helpers", () => {
    it("formats the high half, a slash, and the low half padded to 8 digits", () => {
      assert.strictEqual(Replication.formatLsn(0x16_b374d848n), "16/B374D848")
      assert.strictEqual(Replication.formatLsn(0n), "0/00000000")
      assert.strictEqual(Replication.formatLsn(0x1_00000001n), "1/00000001")
      assert.strictEqual(Replication.formatLsn(2n ** 64n - 1n), "FFFFFFFF/FFFFFFFF")
    })

    it("parses both padded and unpadded halves", () => {
      assert.strictEqual(Result.getOrThrow(Replication.parseLsn("16/B374D848")), 0x16_b374d848n)
      assert.strictEqual(Result.getOrThrow(Replication.parseLsn("0/0")), 0n)
      assert.strictEqual(Result.getOrThrow(Replication.parseLsn("1/1")), 0x1_00000001n)
      assert.strictEqual(Result.getOrThrow(Replication.parseLsn("ffffffff/ffffffff")), 2n ** 64n - 1n)
    })

    it("rejects text that is not an LSN", () => {
      for (const text of ["", "16", "16/", "/1", "123456789/0", "0/123456789", "G/0", "1/2/3", " 1/2"]) {
        assert.isTrue(Result.isFailure(Replication.parseLsn(text)), text)
      }
    })

    it.effect.prop("format then parse is the identity", [Schema.BigInt.check(
      Schema.isBetweenBigInt({ minimum: 0n, maximum: 2n ** 64n - 1n })
    )], ([lsn]) =>
      Effect.gen(function*() {
        assert.strictEqual(Result.getOrThrow(Replication.parseLsn(Replication.formatLsn(lsn))), lsn)
      }))
  })

  describe("fuzz", () => {
    const samples: ReadonlyArray<Uint8Array> = [
      bytes(0x77, new Array(24).fill(7), [1, 2, 3]),
      bytes(0x6b, new Array(16).fill(1), 1),
      bytes(0x73, new Array(32).fill(3)),
      bytes(0x72, new Array(32).fill(2), 0),
      bytes(0x68, new Array(24).fill(9)),
      bytes(0x70, new Array(8).fill(4)),
      bytes(0x6e, ascii("a.tar"), 0, ascii("/ts"), 0),
      bytes(0x6d),
      bytes(0x64, 1, 2)
    ]
    const types = [0x77, 0x6b, 0x73, 0x72, 0x68, 0x70, 0x6e, 0x6d, 0x64]

    const check = (input: Uint8Array): void => {
      const results: ReadonlyArray<
        Result.Result<Replication.ReplicationMessage | Replication.BaseBackupMessage, ProtocolError>
      > = [Replication.decode(input), Replication.decodeBaseBackup(input)]
      for (const result of results) {
        if (Result.isFailure(result)) {
          assert.instanceOf(result.failure, ProtocolError)
          assert.isString(result.failure.message)
        } else {
          // Whatever decodes must encode back to the very same bytes.
          const m = result.success
          const again = m._tag === "NewArchive" || m._tag === "Manifest" || m._tag === "ArchiveOrManifestData" ||
              m._tag === "ProgressReport"
            ? Replication.encodeBaseBackup(m)
            : Replication.encode(m)
          assert.deepStrictEqual(Result.getOrThrow(again), input)
        }
      }
    }

    it("random payloads give a message or a typed ProtocolError, never an exception", () => {
      const random = prng(0x5eed)
      for (let i = 0; i < 3000; i++) {
        const length = Math.floor(random() * 48)
        const input = new Uint8Array(length)
        for (let j = 0; j < length; j++) input[j] = Math.floor(random() * 256)
        if (length > 0 && random() < 0.7) input[0] = types[Math.floor(random() * types.length)]!
        check(input)
      }
    })

    it("mutated valid payloads give a message or a typed ProtocolError, never an exception", () => {
      const random = prng(42)
      for (let i = 0; i < 3000; i++) {
        const sample = samples[i % samples.length]!
        const input = sample.slice()
        const mutations = 1 + Math.floor(random() * 3)
        let mutated: Uint8Array = input
        for (let k = 0; k < mutations; k++) {
          const choice = random()
          if (choice < 0.5 && mutated.length > 0) {
            mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256)
          } else if (choice < 0.75) {
            mutated = mutated.subarray(0, Math.floor(random() * mutated.length))
          } else {
            const extended = new Uint8Array(mutated.length + 1)
            extended.set(mutated)
            extended[mutated.length] = Math.floor(random() * 256)
            mutated = extended
          }
        }
        check(mutated.slice())
      }
    })
  })
})
