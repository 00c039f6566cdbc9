/**
 * Protocol 2.0 codec properties: every message's Schema round-trips through
 * bytes (rows with the codec for their field count, the unions under the
 * matching context or mode), arbitrary server streams decode under any
 * chunking, and random or mutated bytes give messages or a typed
 * `ProtocolError`, never an exception or a hang. The fuzz PRNG is seeded, so
 * a failure replays.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import { ProtocolError } from "../../../src/errors/PgError.ts"
import * as Message from "../../../src/protocol/Message.ts"
import * as V2 from "../../../src/protocol/V2.ts"
import { bytes, chunk, concat, cstr, encodeBackendOk, encodeFrontendOk, i16, i32, startupPacket, str } from "./Support.ts"
import { prng } from "../../support/Prng.ts"

describe("V2", () => {
  describe("Schema round trips", () => {
    const backend = [
      ["AuthenticationOk", V2.AuthenticationOkSchema, V2.AuthenticationOk],
      ["AuthenticationKerberosV4", V2.AuthenticationKerberosV4Schema, V2.AuthenticationKerberosV4],
      ["AuthenticationKerberosV5", V2.AuthenticationKerberosV5Schema, V2.AuthenticationKerberosV5],
      ["AuthenticationCleartextPassword", V2.AuthenticationCleartextPasswordSchema, V2.AuthenticationCleartextPassword],
      ["AuthenticationCryptPassword", V2.AuthenticationCryptPasswordSchema, V2.AuthenticationCryptPassword],
      ["AuthenticationMD5Password", V2.AuthenticationMD5PasswordSchema, V2.AuthenticationMD5Password],
      ["AuthenticationSCMCredential", V2.AuthenticationSCMCredentialSchema, V2.AuthenticationSCMCredential],
      ["BackendKeyData", V2.BackendKeyDataSchema, V2.BackendKeyData],
      ["CompletedResponse", V2.CompletedResponseSchema, V2.CompletedResponse],
      ["CopyInResponse", V2.CopyInResponseSchema, V2.CopyInResponse],
      ["CopyOutResponse", V2.CopyOutResponseSchema, V2.CopyOutResponse],
      ["CursorResponse", V2.CursorResponseSchema, V2.CursorResponse],
      ["EmptyQueryResponse", V2.EmptyQueryResponseSchema, V2.EmptyQueryResponse],
      ["ErrorResponse", V2.ErrorResponseSchema, V2.ErrorResponse],
      ["FunctionResultResponse", V2.FunctionResultResponseSchema, V2.FunctionResultResponse],
      ["FunctionVoidResponse", V2.FunctionVoidResponseSchema, V2.FunctionVoidResponse],
      ["NoticeResponse", V2.NoticeResponseSchema, V2.NoticeResponse],
      ["NotificationResponse", V2.NotificationResponseSchema, V2.NotificationResponse],
      ["ReadyForQuery", V2.ReadyForQuerySchema, V2.ReadyForQuery],
      ["RowDescription", V2.RowDescriptionSchema, V2.RowDescription],
      ["CancelRequest", V2.CancelRequestSchema, V2.CancelRequest],
      ["FunctionCall", V2.FunctionCallSchema, V2.FunctionCall],
      ["PasswordPacket", V2.PasswordPacketSchema, V2.PasswordPacket],
      ["Query", V2.QuerySchema, V2.Query],
      ["SSLRequest", V2.SSLRequestSchema, V2.SSLRequest],
      ["StartupPacket", V2.StartupPacketSchema, V2.StartupPacket],
      ["Terminate", V2.TerminateSchema, V2.Terminate]
    ] as const

    for (const [name, schema, codec] of backend) {
      const fromBytes = Message.fromBytes(codec as Message.Codec<any>)
      it.effect.prop(`${name}: encode then decode is the identity, and so is decode then encode`, [schema], ([m]) =>
        Effect.gen(function*() {
          const encoded = yield* Schema.encodeEffect(fromBytes)(m)
          const decoded = yield* Schema.decodeUnknownEffect(fromBytes)(encoded)
          assert.deepStrictEqual(decoded, m)
          assert.deepStrictEqual(yield* Schema.encodeEffect(fromBytes)(decoded), encoded)
        }))
    }

    it.effect.prop("AsciiRow round-trips with the codec for its field count", [V2.AsciiRowSchema], ([m]) =>
      Effect.gen(function*() {
        const fromBytes = Message.fromBytes(V2.asciiRow(m.values.length))
        const encoded = yield* Schema.encodeEffect(fromBytes)(m)
        assert.deepStrictEqual(yield* Schema.decodeUnknownEffect(fromBytes)(encoded), m)
      }))

    it.effect.prop("BinaryRow round-trips with the codec for its field count", [V2.BinaryRowSchema], ([m]) =>
      Effect.gen(function*() {
        const fromBytes = Message.fromBytes(V2.binaryRow(m.values.length))
        const encoded = yield* Schema.encodeEffect(fromBytes)(m)
        assert.deepStrictEqual(yield* Schema.decodeUnknownEffect(fromBytes)(encoded), m)
      }))

    it.effect.prop("CopyDataRows round-trips", [V2.CopyDataRowsSchema], ([m]) =>
      Effect.gen(function*() {
        const encoded = yield* Schema.encodeEffect(V2.CopyDataRowsFromBytes)(m)
        assert.deepStrictEqual(yield* Schema.decodeUnknownEffect(V2.CopyDataRowsFromBytes)(encoded), m)
      }))

    it.effect.prop("the server union round-trips under the matching context", [V2.BackendMessageSchema], ([m]) =>
      Effect.gen(function*() {
        const context: V2.BackendContext = m._tag === "AsciiRow" || m._tag === "BinaryRow"
          ? { fieldCount: m.values.length }
          : { inCopy: m._tag === "CopyDataRows" }
        const fromBytes = V2.BackendMessageFromBytes(context)
        const encoded = yield* Schema.encodeEffect(fromBytes)(m)
        assert.deepStrictEqual(yield* Schema.decodeUnknownEffect(fromBytes)(encoded), m)
      }))

    it.effect.prop("the client union round-trips in the matching mode", [V2.FrontendMessageSchema], ([m]) =>
      Effect.gen(function*() {
        const mode: V2.FrontendMode = m._tag === "StartupPacket" || m._tag === "CancelRequest" ||
            m._tag === "SSLRequest"
          ? "startup"
          : m._tag === "PasswordPacket"
          ? "password"
          : m._tag === "CopyDataRows"
          ? "copy"
          : "normal"
        const fromBytes = V2.FrontendMessageFromBytes(mode)
        const encoded = yield* Schema.encodeEffect(fromBytes)(m)
        assert.deepStrictEqual(yield* Schema.decodeUnknownEffect(fromBytes)(encoded), m)
      }))

    // A plan for a server stream built from arbitrary messages: each row block's
    // rows are cut or padded to its RowDescription's field count.
    const Plan = Schema.Array(Schema.Union([
      Schema.Struct({ simple: V2.BackendMessageSchema }),
      Schema.Struct({ description: V2.RowDescriptionSchema, rows: Schema.Array(V2.AsciiRowSchema) }),
      Schema.Struct({ copy: V2.CopyDataRowsSchema })
    ]))
    const expand = (plan: typeof Plan.Type): Array<V2.BackendMessage> => {
      const out: Array<V2.BackendMessage> = []
      let fields = -1
      for (const step of plan) {
        if ("simple" in step) {
          const m = step.simple
          // Rows and COPY data need their context: those come from the other steps.
          if (m._tag === "AsciiRow" || m._tag === "BinaryRow" || m._tag === "CopyDataRows") continue
          if (m._tag === "CopyOutResponse") continue
          if (m._tag === "RowDescription") fields = m.fields.length
          out.push(m)
        } else if ("description" in step) {
          out.push(step.description)
          fields = step.description.fields.length
          step.rows.forEach((row, i) => {
            const values = Array.from({ length: fields }, (_, k) => row.values[k] ?? null)
            out.push(i % 2 === 0 ? { _tag: "AsciiRow", values } : { _tag: "BinaryRow", values })
          })
        } else {
          out.push({ _tag: "CopyOutResponse" })
          for (const row of step.copy.rows) out.push({ _tag: "CopyDataRows", rows: [row], end: false })
          out.push({ _tag: "CopyDataRows", rows: [], end: true })
        }
      }
      return out
    }

    it.effect.prop("arbitrary server streams decode to their messages under any chunking", [
      Plan,
      Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 32 })))
    ], ([plan, sizes]) =>
      Effect.gen(function*() {
        const messages = expand(plan)
        const stream = concat(messages.map(encodeBackendOk))
        const decoder = new V2.BackendDecoder()
        const out: Array<V2.BackendMessage> = []
        for (const c of chunk(stream, sizes)) decoder.pushUnsafe(c, (m) => out.push(m))
        Result.getOrThrow(decoder.finish())
        assert.deepStrictEqual(out, messages)
      }))
  })

  describe("fuzz", () => {
    const backendSample = concat([
      bytes(0x52, i32(5), 1, 2, 3, 4),
      bytes(0x52, i32(0)),
      bytes(0x4b, i32(1), i32(2)),
      bytes(0x5a),
      bytes(0x54, i16(2), cstr("a"), i32(23), i16(4), i32(-1), cstr("b"), i32(25), i16(-1), i32(-1)),
      bytes(0x44, 0xc0, i32(5), 0x31, i32(6), 0x61, 0x62),
      bytes(0x42, 0x40, i32(1), 9),
      bytes(0x43, cstr("SELECT")),
      bytes(0x48, str("a\tb\n"), str("\\.\n")),
      bytes(0x56, 0x47, i32(1), 7, 0x30),
      bytes(0x56, 0x30),
      bytes(0x41, i32(3), cstr("c")),
      bytes(0x49, 0)
    ])
    const frontendSample = concat([
      encodeFrontendOk(startupPacket),
      bytes(0x51, cstr("select 1")),
      bytes(0x46, cstr(" "), i32(1), i32(1), i32(2), 1, 2),
      bytes(0x58)
    ])

    /** Runs `input` through a decoder in random chunks; anything but a ProtocolError is a failure. */
    const run = (
      decoder: V2.BackendDecoder | V2.FrontendDecoder,
      input: Uint8Array,
      random: () => number
    ): void => {
      let at = 0
      let count = 0
      while (at < input.length) {
        const n = 1 + Math.floor(random() * 16)
        try {
          decoder.pushUnsafe(input.subarray(at, at + n), () => count++)
        } catch (e) {
          assert.instanceOf(e, ProtocolError)
          return
        }
        at += n
      }
      const end = decoder.finish()
      if (Result.isFailure(end)) assert.instanceOf(end.failure, ProtocolError)
      assert.isAtMost(count, input.length)
    }

    const mutate = (sample: Uint8Array, random: () => number): Uint8Array => {
      let input: Uint8Array = sample.slice()
      const mutations = 1 + Math.floor(random() * 4)
      for (let k = 0; k < mutations; k++) {
        const choice = random()
        const at = Math.floor(random() * input.length)
        if (choice < 0.6) input[at] = Math.floor(random() * 256)
        else if (choice < 0.8) input = concat([input.subarray(0, at), input.subarray(at + 1)])
        else input = concat([input.subarray(0, at), new Uint8Array([Math.floor(random() * 256)]), input.subarray(at)])
      }
      return input
    }

    it("random bytes give messages or a typed ProtocolError, never an exception or a hang", () => {
      const random = prng(2024)
      for (let i = 0; i < 1500; i++) {
        const input = new Uint8Array(Math.floor(random() * 80))
        for (let j = 0; j < input.length; j++) input[j] = Math.floor(random() * 256)
        run(new V2.BackendDecoder({ fieldCount: i % 4 === 0 ? -1 : i % 5 }), input, random)
        const modes: ReadonlyArray<V2.FrontendMode> = ["startup", "password", "normal", "copy", "closed"]
        run(new V2.FrontendDecoder({ mode: modes[i % modes.length]! }), input, random)
      }
    })

    it("mutated valid streams give messages or a typed ProtocolError, never an exception or a hang", () => {
      const random = prng(99)
      for (let i = 0; i < 1500; i++) {
        run(new V2.BackendDecoder({ maxMessageSize: 256 }), mutate(backendSample, random), random)
        run(new V2.FrontendDecoder({ maxMessageSize: 512 }), mutate(frontendSample, random), random)
      }
    })

    it("single-message decoders give a message or a typed ProtocolError on random input", () => {
      const random = prng(5)
      for (let i = 0; i < 2000; i++) {
        const input = mutate(i % 2 === 0 ? backendSample.subarray(0, 20) : frontendSample.subarray(0, 40), random)
        for (
          const result of [
            V2.decodeBackend(input, { fieldCount: i % 3 }),
            V2.decodeBackend(input, { inCopy: true }),
            V2.decodeFrontend(input, "startup"),
            V2.decodeFrontend(input, "normal")
          ] as ReadonlyArray<Result.Result<unknown, ProtocolError>>
        ) {
          if (Result.isFailure(result)) assert.instanceOf(result.failure, ProtocolError)
        }
      }
    })
  })
})
