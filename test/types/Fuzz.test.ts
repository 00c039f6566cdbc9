/**
 * Bad input never escapes as anything but a CodecError: random bytes and
 * mutated real values into every decoder, odd JavaScript values into every
 * encoder. Seeded, so a failure reproduces.
 */
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { CodecError } from "../../src/errors/PgError.ts"
import * as Extension from "../../src/types/Extension.ts"
import { builtinTypes, Oid } from "../../src/types/Oid.ts"
import { Registry } from "../../src/types/Registry.ts"
import type * as TypeCodec from "../../src/types/TypeCodec.ts"
import { Writer } from "../../src/wire/Writer.ts"
import { prng } from "../support/Prng.ts"


const registries = [Registry.make(), Registry.make({ timestamp: "micros", numeric: "BigDecimal", int8: "number" })]

const codecs: Array<TypeCodec.TypeCodec<any>> = []
for (const r of registries) {
  for (const t of builtinTypes) {
    const c = r.get(t.oid)
    if (c !== undefined) codecs.push(c)
  }
}
for (const make of Object.values(Extension.byName)) codecs.push(make(990001, 990002))

const fixture = JSON.parse(readFileSync(new URL("../fixtures/types/pg_values.json", import.meta.url), "utf8")) as {
  readonly cases: ReadonlyArray<{ readonly oid: number; readonly binary: string | null; readonly text: string }>
}

/** Runs `f`; anything thrown must be a CodecError. */
const only = (what: string, f: () => unknown): void => {
  try {
    f()
  } catch (e) {
    if (!(e instanceof CodecError)) {
      assert.fail(`${what} threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`)
    }
  }
}

const randomBytes = (next: () => number, max: number): Uint8Array => {
  const n = Math.floor(next() * max)
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    // Bias towards the bytes that matter in headers: 0, 0xff, small counts, ASCII punctuation.
    const r = next()
    out[i] = r < 0.3 ? 0 : r < 0.4 ? 0xff : r < 0.55 ? Math.floor(next() * 8) : r < 0.75 ? 0x20 + Math.floor(next() * 95) : Math.floor(next() * 256)
  }
  return out
}

const TEXT_ALPHABET = "{}[](),\"\\ :;-+.0123456789eEaNnIiLlUuTtFf=>\n\txyz'/"
const randomText = (next: () => number, max: number): Uint8Array => {
  const n = Math.floor(next() * max)
  let s = ""
  for (let i = 0; i < n; i++) s += TEXT_ALPHABET[Math.floor(next() * TEXT_ALPHABET.length)]
  return new TextEncoder().encode(s)
}

describe("fuzz", () => {
  it("random bytes into every binary and text decoder", () => {
    const next = prng(20240229)
    for (const codec of codecs) {
      for (let i = 0; i < 150; i++) {
        const b = randomBytes(next, 48)
        if (codec.decodeBinary !== undefined) only(`${codec.name} binary`, () => codec.decodeBinary!(b, 0, b.length))
        only(`${codec.name} text`, () => codec.decodeText(b, 0, b.length))
        const t = randomText(next, 40)
        only(`${codec.name} text`, () => codec.decodeText(t, 0, t.length))
      }
    }
  })

  it("mutated and truncated real values into their decoders", () => {
    const next = prng(7)
    const r = registries[0]!
    for (const c of fixture.cases) {
      const codec = r.get(c.oid)
      if (codec === undefined) continue
      const sources: Array<[Uint8Array, TypeCodec.Decoder<unknown> | undefined]> = [
        [new TextEncoder().encode(c.text), codec.decodeText]
      ]
      if (c.binary !== null) sources.push([new Uint8Array(Buffer.from(c.binary, "hex")), codec.decodeBinary])
      for (const [original, decode] of sources) {
        if (decode === undefined) continue
        for (let cut = 0; cut < original.length; cut++) only(`${codec.name} truncated`, () => decode(original, 0, cut))
        for (let i = 0; i < 60; i++) {
          const b = original.slice()
          const flips = 1 + Math.floor(next() * 3)
          for (let f = 0; f < flips && b.length > 0; f++) b[Math.floor(next() * b.length)] = Math.floor(next() * 256)
          only(`${codec.name} mutated`, () => decode(b, 0, b.length))
        }
      }
    }
  })

  it("huge counts fail before allocating", () => {
    const r = registries[0]!
    const header = (...words: Array<number>) => {
      const w = new Writer(64)
      for (const x of words) w.int32(x)
      return w.flush()
    }
    const cases: Array<[number, Uint8Array]> = [
      [Oid._int4, header(1, 0, 23, 0x7fffffff, 1)],
      [Oid._int4, header(6, 0, 23, 65536, 1, 65536, 1, 65536, 1, 65536, 1, 65536, 1, 65536, 1)],
      [Oid._int4, header(7, 0, 23)],
      [Oid.polygon, header(0x7fffffff)],
      [Oid.tsvector, header(0x7fffffff)],
      [Oid.record, header(0x7fffffff)],
      [Oid.int4multirange, header(0x7fffffff)],
      [Oid.pg_snapshot, header(0x7fffffff, 0, 0, 0, 0)],
      [Oid.numeric, header(0x7fff0000, 0)]
    ]
    for (const [oid, bytes] of cases) {
      const started = Date.now()
      assert.throws(() => r.decoder(oid, 1)(bytes, 0, bytes.length), CodecError)
      assert.isBelow(Date.now() - started, 100)
    }
  })

  it("odd JavaScript values into every encoder and the parameter path", () => {
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    const values: Array<unknown> = [
      undefined,
      Number.NaN,
      -0,
      Number.POSITIVE_INFINITY,
      1.5,
      2 ** 60,
      -(2n ** 200n),
      "",
      "x\0y",
      "\ud800",
      "NULL",
      true,
      Symbol("s"),
      () => 1,
      {},
      cycle,
      [],
      [[1], 2],
      [[]],
      [null, undefined],
      new Date(Number.NaN),
      new Date(8.64e15),
      new Uint8Array([1, 2]),
      { lower: 1 },
      { months: 1.5, days: 0, microseconds: 0n },
      { x: "1", y: 2 },
      { closed: true, points: [] },
      Object.create(null)
    ]
    for (const r of registries) {
      for (const codec of codecs) {
        for (const v of values) {
          if (codec.encodeBinary !== undefined) only(`${codec.name} encodeBinary`, () => codec.encodeBinary!(new Writer(16), v))
          only(`${codec.name} encodeText`, () => codec.encodeText(v))
          only(`${codec.name} formatFor`, () => codec.formatFor(v))
          only(`${codec.name} parameter`, () => r.encodeParameter(v, codec.oid))
        }
      }
      for (const v of values) only("untyped parameter", () => r.encodeParameter(v, 0))
    }
  })
})
