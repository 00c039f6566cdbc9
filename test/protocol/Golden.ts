/**
 * Helpers for protocol tests: byte builders for writing golden frames by hand,
 * hex conversion, fixture loading, and the golden/round-trip assertions every
 * message gets.
 */
import { assert } from "@effect/vitest"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { readFileSync } from "node:fs"
import { ProtocolError } from "../../src/errors/PgError.ts"
import * as Message from "../../src/protocol/Message.ts"

/** The bytes of `s` (ASCII/UTF-8) followed by the NUL terminator of a String field. */
export const cstr = (s: string): Array<number> => [...new TextEncoder().encode(s), 0]

/** The bytes of `s` without a terminator. */
export const ascii = (s: string): Array<number> => [...new TextEncoder().encode(s)]

/** An Int16 in network byte order. */
export const i16 = (n: number): Array<number> => [(n >> 8) & 0xff, n & 0xff]

/** An Int32 in network byte order. */
export const i32 = (n: number): Array<number> => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]

/** Concatenates byte groups into one array. */
export const bytes = (...parts: ReadonlyArray<ReadonlyArray<number>>): Uint8Array =>
  Uint8Array.from(parts.flat())

export const fromHex = (hex: string): Uint8Array => {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

export const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")

export const fixture = <A>(name: string): A =>
  JSON.parse(readFileSync(new URL(`../fixtures/protocol/${name}`, import.meta.url), "utf8")) as A

export const fixtureText = (name: string): string =>
  readFileSync(new URL(`../fixtures/protocol/${name}`, import.meta.url), "utf8")

/** A successful Result's value, or a failed assertion showing the error. */
export const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) assert.fail(`expected success, got ${String(r.failure)}`)
  return r.success
}

/** A failed Result's ProtocolError, or a failed assertion. */
export const err = <A, E>(r: Result.Result<A, E>): ProtocolError => {
  if (Result.isSuccess(r)) assert.fail(`expected a failure, got ${JSON.stringify(r.success, replacer)}`)
  const e = r.failure
  assert.instanceOf(e, ProtocolError)
  return e as ProtocolError
}

const replacer = (_k: string, v: unknown) => (v instanceof Uint8Array ? `<${toHex(v)}>` : v)

/**
 * The golden check of one message: the codec encodes `message` to exactly
 * `frame`, decodes `frame` to `message`, and so does its `fromBytes` Schema.
 */
export const golden = <A extends { readonly _tag: string }>(
  codec: Message.Codec<A>,
  message: NoInfer<A>,
  frame: Uint8Array
): void => {
  assert.strictEqual(toHex(ok(Message.encodeFrame(codec, message))), toHex(frame), `${codec.name} encodes`)
  assert.deepStrictEqual(ok(Message.decodeFrame(codec, frame)), message, `${codec.name} decodes`)
  const schema = Message.fromBytes(codec)
  assert.deepStrictEqual(ok(Schema.decodeUnknownResult(schema)(frame)), message)
  assert.strictEqual(toHex(ok(Schema.encodeResult(schema)(message))), toHex(frame))
}
