import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import * as Backend from "../../src/protocol/Backend.ts"
import * as Message from "../../src/protocol/Message.ts"

describe("sample", () => {
  it("golden", () => {
    const bytes = Message.encodeFrame(Backend.ReadyForQuery, { _tag: "ReadyForQuery", transactionStatus: "I" })
    assert.deepStrictEqual(Result.getOrThrow(bytes), new Uint8Array([0x5a, 0, 0, 0, 5, 0x49]))
    const s = Message.fromBytes(Backend.DataRow)
    const dec = Schema.decodeUnknownResult(s)(new Uint8Array([0x44, 0, 0, 0, 14, 0, 2, 255, 255, 255, 255, 0, 0, 0, 0]))
    assert.isTrue(Result.isSuccess(dec))
    const bad = Schema.decodeUnknownResult(s)(new Uint8Array([0x44, 0, 0, 0, 14, 0, 2, 255, 255, 255, 254, 0, 0, 0, 0]))
    assert.isTrue(Result.isFailure(bad))
    console.log(String(Result.isFailure(bad) ? bad.failure : ""))
  })
  it.effect.prop("round trip", [Backend.DataRowSchema], ([m]) => Effect.gen(function*() {
    const bytes = yield* Schema.encodeEffect(Message.fromBytes(Backend.DataRow))(m)
    const back = yield* Schema.decodeUnknownEffect(Message.fromBytes(Backend.DataRow))(bytes)
    assert.deepStrictEqual(back, m)
  }))
})
