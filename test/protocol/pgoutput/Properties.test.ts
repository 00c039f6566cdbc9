/**
 * pgoutput codec properties: every message kind's Schema round-trips through
 * bytes in the smallest context it is valid in and in proto_version 4, and
 * random or mutated messages give a message that encodes back to the same
 * bytes or a typed `ProtocolError`, never an exception. The fuzz PRNG is
 * seeded, so a failure replays.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import { ProtocolError } from "../../../src/errors/PgError.ts"
import * as PgOutput from "../../../src/protocol/PgOutput.ts"
import { bytes, cstr, encodeOk, i16, i32, i64, keyWire, tupleWire, v1, v2, v2s, v3, v4, v4s } from "./Support.ts"
import { prng } from "../../support/Prng.ts"

describe("PgOutput", () => {
  describe("Schema round trips", () => {
    const streamXidTags = new Set(["Message", "Relation", "Type", "Insert", "Update", "Delete", "Truncate"])
    const minVersion = (m: PgOutput.LogicalReplicationMessage): PgOutput.ProtoVersion => {
      switch (m._tag) {
        case "StreamAbort":
          return m.abortLsn !== undefined ? 4 : 2
        case "StreamStart":
        case "StreamStop":
        case "StreamCommit":
          return 2
        case "BeginPrepare":
        case "Prepare":
        case "CommitPrepared":
        case "RollbackPrepared":
        case "StreamPrepare":
          return 3
        default:
          return streamXidTags.has(m._tag) && "xid" in m && m.xid !== undefined ? 2 : 1
      }
    }
    /** The smallest context the message is valid in, and proto_version 4 with the same stream state. */
    const contextsFor = (m: PgOutput.LogicalReplicationMessage): ReadonlyArray<PgOutput.Context> => {
      const inStream = streamXidTags.has(m._tag) && "xid" in m && m.xid !== undefined
      return [{ protoVersion: minVersion(m), inStream }, { protoVersion: 4, inStream }]
    }

    const schemas = [
      ["Begin", PgOutput.BeginSchema],
      ["Message", PgOutput.MessageSchema],
      ["Commit", PgOutput.CommitSchema],
      ["Origin", PgOutput.OriginSchema],
      ["Relation", PgOutput.RelationSchema],
      ["Type", PgOutput.TypeSchema],
      ["Insert", PgOutput.InsertSchema],
      ["Update", PgOutput.UpdateSchema],
      ["Delete", PgOutput.DeleteSchema],
      ["Truncate", PgOutput.TruncateSchema],
      ["StreamStart", PgOutput.StreamStartSchema],
      ["StreamStop", PgOutput.StreamStopSchema],
      ["StreamCommit", PgOutput.StreamCommitSchema],
      ["StreamAbort", PgOutput.StreamAbortSchema],
      ["BeginPrepare", PgOutput.BeginPrepareSchema],
      ["Prepare", PgOutput.PrepareSchema],
      ["CommitPrepared", PgOutput.CommitPreparedSchema],
      ["RollbackPrepared", PgOutput.RollbackPreparedSchema],
      ["StreamPrepare", PgOutput.StreamPrepareSchema]
    ] as const

    for (const [tag, schema] of schemas) {
      it.effect.prop(`${tag}: encode then decode is the identity, and so is decode then encode`, [
        schema as Schema.Codec<PgOutput.LogicalReplicationMessage>
      ], ([m]) =>
        Effect.gen(function*() {
          assert.strictEqual(m._tag, tag)
          for (const ctx of contextsFor(m)) {
            const fromBytes = PgOutput.MessageFromBytes(ctx)
            const encoded = yield* Schema.encodeEffect(fromBytes)(m)
            const decoded = yield* Schema.decodeUnknownEffect(fromBytes)(encoded)
            assert.deepStrictEqual(decoded, m)
            assert.deepStrictEqual(encodeOk(decoded, ctx), encoded)
          }
        }))
    }
  })

  describe("fuzz", () => {
    const contexts: ReadonlyArray<PgOutput.Context> = [v1, v2, v2s, v3, v4, v4s]
    const samples: ReadonlyArray<[Uint8Array, PgOutput.Context]> = [
      [bytes(0x42, i64(1n), i64(2n), i32(3)), v1],
      [bytes(0x4d, i32(1), 1, i64(2n), cstr("p"), i32(2), 1, 2), v2s],
      [bytes(0x52, i32(1), cstr("s"), cstr("t"), 0x64, i16(1), 1, cstr("c"), i32(23), i32(-1)), v1],
      [bytes(0x49, i32(1), 0x4e, tupleWire), v1],
      [bytes(0x55, i32(1), i32(1), 0x4b, keyWire, 0x4e, tupleWire), v4s],
      [bytes(0x44, i32(1), 0x4f, tupleWire), v1],
      [bytes(0x54, i32(2), 1, i32(1), i32(2)), v1],
      [bytes(0x41, i32(1), i32(1), i64(2n), i64(3n)), v4],
      [bytes(0x72, 0, i64(1n), i64(2n), i64(3n), i64(4n), i32(5), cstr("g")), v3]
    ]

    const check = (input: Uint8Array, ctx: PgOutput.Context): void => {
      const result = PgOutput.decode(input, ctx)
      if (Result.isFailure(result)) {
        assert.instanceOf(result.failure, ProtocolError)
      } else {
        // Whatever decodes must encode back to the very same bytes.
        assert.deepStrictEqual(encodeOk(result.success, ctx), input)
      }
    }

    it("random messages give a message or a typed ProtocolError, never an exception", () => {
      const random = prng(7)
      const types = Object.values(PgOutput.Code)
      for (let i = 0; i < 4000; i++) {
        const length = Math.floor(random() * 64)
        const input = new Uint8Array(length)
        for (let j = 0; j < length; j++) input[j] = random() < 0.3 ? 0 : Math.floor(random() * 256)
        if (length > 0) input[0] = types[Math.floor(random() * types.length)]!
        check(input, contexts[i % contexts.length]!)
      }
    })

    it("mutated valid messages give a message or a typed ProtocolError, never an exception", () => {
      const random = prng(1234)
      for (let i = 0; i < 4000; i++) {
        const [sample, ctx] = samples[i % samples.length]!
        let input = sample.slice()
        const mutations = 1 + Math.floor(random() * 3)
        for (let k = 0; k < mutations; k++) {
          const choice = random()
          if (choice < 0.6 && input.length > 0) {
            input[Math.floor(random() * input.length)] = Math.floor(random() * 256)
          } else if (choice < 0.8) {
            input = input.slice(0, Math.floor(random() * input.length))
          } else {
            const extended = new Uint8Array(input.length + 1)
            extended.set(input)
            extended[input.length] = Math.floor(random() * 256)
            input = extended
          }
        }
        check(input, random() < 0.8 ? ctx : contexts[Math.floor(random() * contexts.length)]!)
      }
    })
  })
})
