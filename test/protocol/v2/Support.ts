/**
 * What the protocol 2.0 codec tests share: byte builders for writing frames by
 * hand (independent of the Writer), chunking a stream, the encoders and the
 * failure of a `Result`, the golden check in both directions, and the
 * StartupPacket several suites use.
 */
import { assert, it } from "@effect/vitest"
import { Result } from "effect"
import type { ProtocolError } from "../../../src/errors/PgError.ts"
import type * as Message from "../../../src/protocol/Message.ts"
import * as V2 from "../../../src/protocol/V2.ts"
import { golden } from "../Golden.ts"

// Big-endian field builders written out by hand (independent of the Writer).
export const i16 = (v: number): Array<number> => [(v >> 8) & 0xff, v & 0xff]
export const i32 = (v: number): Array<number> => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]
export const str = (s: string): Array<number> => [...new TextEncoder().encode(s)]
export const cstr = (s: string): Array<number> => [...str(s), 0]
export const lim = (s: string, n: number): Array<number> => [...str(s), ...new Array(n - str(s).length).fill(0)]
export const bytes = (...parts: ReadonlyArray<number | ReadonlyArray<number>>): Uint8Array =>
  new Uint8Array(parts.flatMap((p) => (typeof p === "number" ? [p] : [...p])))
export const u8 = (s: string): Uint8Array => new Uint8Array(str(s))

export const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Cuts `stream` into chunks whose sizes cycle through `sizes`. */
export const chunk = (stream: Uint8Array, sizes: ReadonlyArray<number>): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let at = 0
  let k = 0
  while (at < stream.length) {
    const n = sizes.length === 0 ? stream.length : sizes[k++ % sizes.length]!
    out.push(stream.slice(at, at + n))
    at += n
  }
  return out
}

export const encodeBackendOk = (m: V2.BackendMessage): Uint8Array => Result.getOrThrow(V2.encodeBackend(m))
export const encodeFrontendOk = (m: V2.FrontendMessage): Uint8Array => Result.getOrThrow(V2.encodeFrontend(m))

export const failure = <A>(result: Result.Result<A, ProtocolError>): ProtocolError => {
  if (Result.isSuccess(result)) throw new Error("expected a failure")
  return result.failure
}

/**
 * The message's own codec (rows: the codec for their field count), or
 * undefined for CopyDataRows, which has none.
 */
const codecOf = (message: { readonly _tag: string }, fieldCount = 0): Message.Codec<any> | undefined => {
  if (message._tag === "AsciiRow") return V2.asciiRow(fieldCount)
  if (message._tag === "BinaryRow") return V2.binaryRow(fieldCount)
  const codec: unknown = (V2 as Record<string, unknown>)[message._tag]
  return typeof codec === "object" && codec !== null && "readBody" in codec ? codec as Message.Codec<any> : undefined
}

/** The golden check of the stream functions, then of the message's own codec and its Schema. */
const goldenBothWays = (
  wire: Uint8Array,
  message: V2.BackendMessage | V2.FrontendMessage,
  encoded: Uint8Array,
  decoded: V2.BackendMessage | V2.FrontendMessage,
  fieldCount?: number
) => {
  assert.deepStrictEqual(encoded, wire)
  assert.deepStrictEqual(decoded, message)
  const codec = codecOf(message, fieldCount)
  if (codec !== undefined) golden(codec, message, wire)
  else assert.strictEqual(message._tag, "CopyDataRows")
}

/** Golden check in both directions for a server message. */
export const backendGolden = (name: string, wire: Uint8Array, message: V2.BackendMessage, context: V2.BackendContext = {}) =>
  it(name, () =>
    goldenBothWays(
      wire,
      message,
      encodeBackendOk(message),
      Result.getOrThrow(V2.decodeBackend(wire, context)),
      context.fieldCount
    ))

/** Golden check in both directions for a client message. */
export const frontendGolden = (name: string, wire: Uint8Array, message: V2.FrontendMessage, mode: V2.FrontendMode) =>
  it(name, () =>
    goldenBothWays(wire, message, encodeFrontendOk(message), Result.getOrThrow(V2.decodeFrontend(wire, mode))))

export const startupPacket: V2.StartupPacket = {
  _tag: "StartupPacket",
  protocolVersion: 0x20000,
  database: "shop",
  user: "alice",
  options: "",
  unused: "",
  tty: ""
}
