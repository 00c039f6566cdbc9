/**
 * Fuzzing of every decoder: random bytes and mutated valid frames (bit flips,
 * overwritten, inserted and deleted bytes, truncation, huge counts, negative
 * lengths other than -1) must give either a message that encodes back to the
 * same bytes or a typed `ProtocolError` naming where it failed: never another
 * exception, never a hang. The PRNG is seeded, so a failure names a case that
 * replays.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import { ProtocolError } from "../../src/errors/PgError.ts"
import * as Backend from "../../src/protocol/Backend.ts"
import * as Frontend from "../../src/protocol/Frontend.ts"
import * as Startup from "../../src/protocol/Startup.ts"
import { Framer } from "../../src/wire/Framer.ts"
import { prng } from "../support/Prng.ts"
import { fixture, fromHex, toHex } from "./Golden.ts"

/** The shared seeded generator, with a draw of an integer in [0, n). */
const makeRng = (seed: number) => {
  const next = prng(seed)
  return { next, int: (n: number): number => Math.floor(next() * n) }
}
type Rng = ReturnType<typeof makeRng>

const CASES = 3000

interface Vector {
  readonly direction: string
  readonly message: string
  readonly hex: string
  readonly note?: string
}
const vectors = fixture<{ readonly vectors: ReadonlyArray<Vector> }>("protocol_message_vectors.json").vectors
  .filter((v) => v.note?.includes("body only") !== true)

const isStartup = (v: Vector) =>
  v.message.startsWith("StartupMessage") || v.message.startsWith("SSLRequest") || v.message.startsWith("CancelRequest")

const backendSeeds = vectors.filter((v) => v.direction === "backend").map((v) => fromHex(v.hex))
const frontendSeeds = vectors.filter((v) => v.direction === "frontend" && !isStartup(v)).map((v) => fromHex(v.hex))
const startupSeeds = vectors.filter((v) => v.direction === "frontend" && isStartup(v)).map((v) => fromHex(v.hex))

const BACKEND_TYPES = Array.from("RK23CdcGHWDIEVvnNAtS1sZT", (c) => c.charCodeAt(0))
const FRONTEND_TYPES = Array.from("BCdcfDEHFpPQSX", (c) => c.charCodeAt(0))

const setInt32 = (b: Uint8Array, at: number, v: number) => {
  b[at] = (v >>> 24) & 0xff
  b[at + 1] = (v >>> 16) & 0xff
  b[at + 2] = (v >>> 8) & 0xff
  b[at + 3] = v & 0xff
}

/** Makes the length word agree with the bytes (so the body parser is reached). */
const fixLength = (b: Uint8Array, typed: boolean): Uint8Array => {
  if (typed && b.length >= 5) setInt32(b, 1, b.length - 1)
  if (!typed && b.length >= 4) setInt32(b, 0, b.length)
  return b
}

const randomBytes = (rng: Rng, types: ReadonlyArray<number>, typed: boolean): Uint8Array => {
  const b = new Uint8Array(rng.int(48))
  for (let i = 0; i < b.length; i++) b[i] = rng.int(256)
  if (typed && b.length > 0 && rng.next() < 0.7) b[0] = types[rng.int(types.length)]!
  return rng.next() < 0.7 ? fixLength(b, typed) : b
}

const mutate = (rng: Rng, seed: Uint8Array, typed: boolean): Uint8Array => {
  let b = seed.slice()
  const rounds = 1 + rng.int(3)
  for (let k = 0; k < rounds; k++) {
    const at = b.length === 0 ? 0 : rng.int(b.length)
    switch (rng.int(8)) {
      case 0: // flip a bit
        if (b.length > 0) b[at] = b[at]! ^ (1 << rng.int(8))
        break
      case 1: // overwrite a byte
        if (b.length > 0) b[at] = rng.int(256)
        break
      case 2: { // insert a byte
        const n = new Uint8Array(b.length + 1)
        n.set(b.subarray(0, at))
        n[at] = rng.int(256)
        n.set(b.subarray(at), at + 1)
        b = n
        break
      }
      case 3: // delete a byte
        if (b.length > 0) b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1)])
        break
      case 4: // truncate
        b = b.slice(0, at)
        break
      case 5: // a huge 16-bit count
        if (b.length >= 2) {
          const p = rng.int(b.length - 1)
          b[p] = 0xff
          b[p + 1] = rng.next() < 0.5 ? 0xff : 0x7f
        }
        break
      case 6: // a huge or negative 32-bit count or length
        if (b.length >= 4) setInt32(b, rng.int(b.length - 3), [0x7fffffff, -2, -3, -0x80000000, 0xffff][rng.int(5)]!)
        break
      case 7: // a negative length other than -1 at a plausible length position
        if (b.length >= 9) setInt32(b, 5 + rng.int(b.length - 8), -2 - rng.int(1000))
        break
    }
  }
  return rng.next() < 0.6 ? fixLength(b, typed) : b
}

/** How many inputs each target accepted, so a fuzz run that never reaches a decoder's success path fails. */
let accepted = 0

/** The contract: a typed error naming where, or a message that encodes back to the same bytes. */
const check = <A>(
  input: Uint8Array,
  decoded: Result.Result<A, ProtocolError>,
  encode: (a: A) => Result.Result<Uint8Array, ProtocolError>,
  label: string
): void => {
  if (Result.isFailure(decoded)) {
    const e = decoded.failure
    if (!(e instanceof ProtocolError)) assert.fail(`${label}: not a ProtocolError for ${toHex(input)}`)
    if (e.message.includes("unexpected decoder failure")) assert.fail(`${label}: ${e.message} for ${toHex(input)}`)
    if (e.offset === undefined) assert.fail(`${label}: no offset in "${e.message}" for ${toHex(input)}`)
    return
  }
  accepted++
  const again = encode(decoded.success)
  if (Result.isFailure(again)) assert.fail(`${label}: accepted ${toHex(input)} but cannot encode it back`)
  if (toHex(again.success) !== toHex(input)) {
    assert.fail(`${label}: ${toHex(input)} decoded then encoded to ${toHex(again.success)}`)
  }
}

const CONTEXTS: ReadonlyArray<Frontend.PasswordContext | undefined> = [
  undefined,
  { password: "SASLInitialResponse" },
  { password: "SASLResponse" },
  { password: "GSSResponse" }
]

describe("fuzzing the decoders (seeded)", () => {
  it("Backend.decode: random bytes and mutated frames", () => {
    accepted = 0
    const rng = makeRng(0xb4c)
    for (let i = 0; i < CASES; i++) {
      const input = i % 3 === 0
        ? randomBytes(rng, BACKEND_TYPES, true)
        : mutate(rng, backendSeeds[rng.int(backendSeeds.length)]!, true)
      check(input, Backend.decode(input), Backend.encode, `case ${i}`)
    }
    assert.isAbove(accepted, CASES / 20)
    assert.isBelow(accepted, CASES)
  })

  it("Frontend.decode: random bytes and mutated frames, under every 'p' context", () => {
    accepted = 0
    const rng = makeRng(0xf20)
    for (let i = 0; i < CASES; i++) {
      const input = i % 3 === 0
        ? randomBytes(rng, FRONTEND_TYPES, true)
        : mutate(rng, frontendSeeds[rng.int(frontendSeeds.length)]!, true)
      const context = CONTEXTS[rng.int(CONTEXTS.length)]
      check(input, Frontend.decode(input, context), Frontend.encode, `case ${i}`)
    }
    assert.isAbove(accepted, CASES / 20)
    assert.isBelow(accepted, CASES)
  })

  it("Startup.decode: random bytes and mutated frames", () => {
    accepted = 0
    const rng = makeRng(0x5a7)
    for (let i = 0; i < CASES; i++) {
      let input: Uint8Array
      if (i % 3 === 0) {
        input = randomBytes(rng, [], false)
        if (input.length >= 8 && rng.next() < 0.5) setInt32(input, 4, 80877100 + rng.int(6))
      } else {
        input = mutate(rng, startupSeeds[rng.int(startupSeeds.length)]!, false)
      }
      check(input, Startup.decode(input), Startup.encode, `case ${i}`)
    }
    assert.isAbove(accepted, CASES / 20)
    assert.isBelow(accepted, CASES)
  })

  it("Framer: mutated streams in random chunks throw only ProtocolError and deliver in-bounds frames", () => {
    const rng = makeRng(0xf4a)
    for (let i = 0; i < CASES; i++) {
      const startup = rng.next() < 0.2
      const parts: Array<Uint8Array> = []
      if (startup) parts.push(mutate(rng, startupSeeds[rng.int(startupSeeds.length)]!, false))
      const n = 1 + rng.int(4)
      for (let k = 0; k < n; k++) parts.push(mutate(rng, backendSeeds[rng.int(backendSeeds.length)]!, true))
      const all = Uint8Array.from(parts.flatMap((p) => [...p]))
      const framer = new Framer({ maxMessageSize: 256, startup })
      let pos = 0
      try {
        while (pos < all.length) {
          const size = 1 + rng.int(16)
          const chunk = all.subarray(pos, pos + size)
          framer.push(chunk, (type, buf, start, end) => {
            if (start < 0 || end > buf.length || start > end) assert.fail(`case ${i}: frame out of bounds`)
            if (end - start > (type === -1 ? 10000 : 252)) assert.fail(`case ${i}: frame over the limit`)
            if (type < -1 || type > 255) assert.fail(`case ${i}: bad type ${type}`)
          })
          pos += size
        }
        framer.finish()
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e
        assert.isDefined(e.offset)
      }
    }
  })
})
