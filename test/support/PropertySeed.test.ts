/**
 * The property seed of a run (test/support/PropertySeed.ts, a vitest setup
 * file): property checks that name no seed draw the same inputs every time in
 * a run, and a failure's report carries the seed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { resolveSeed, seed, seedOfDay } from "./PropertySeed.ts"

const inputsOfOneCheck = Effect.gen(function*() {
  const seen: Array<string> = []
  yield* Arbitrary.checkEffect(Arbitrary.schema(Schema.String), (s) => {
    seen.push(s)
    return true
  }, { runs: 20 })
  return seen
})

describe("the property seed", () => {
  it("is the UTC date as YYYYMMDD unless PROPERTY_SEED names one", () => {
    const day = new Date(Date.UTC(2026, 11, 6, 23, 59))
    assert.strictEqual(seedOfDay(day), 20261206)
    assert.strictEqual(resolveSeed(undefined, day), 20261206)
    assert.strictEqual(resolveSeed("", day), 20261206)
    assert.strictEqual(resolveSeed(" 42 ", day), 42)
    assert.strictEqual(resolveSeed("-7", day), -7)
    assert.throws(() => resolveSeed("tomorrow", day), /PROPERTY_SEED must be an integer/)
    assert.throws(() => resolveSeed("1.5", day), /PROPERTY_SEED must be an integer/)
  })

  it("is this run's seed", () => {
    assert.strictEqual(seed, resolveSeed(process.env["PROPERTY_SEED"], new Date()))
  })

  it.effect("makes a check that names no seed draw the same inputs every time", () =>
    Effect.gen(function*() {
      const first = yield* inputsOfOneCheck
      const second = yield* inputsOfOneCheck
      assert.strictEqual(first.length, 20)
      assert.deepStrictEqual(second, first)
      // The seed decides: another one draws other inputs.
      const other: Array<string> = []
      yield* Arbitrary.checkEffect(Arbitrary.schema(Schema.String), (s) => {
        other.push(s)
        return true
      }, { runs: 20, seed: seed + 1 })
      assert.notDeepEqual(other, first)
    }))

  it.effect("makes a sample that names no seed the same every time", () =>
    Effect.gen(function*() {
      const sample = Arbitrary.sampleEffect(Arbitrary.schema(Schema.String), { count: 10 })
      assert.deepStrictEqual(yield* sample, yield* sample)
    }))

  it.effect("is in the report of a falsified property", () =>
    Effect.gen(function*() {
      const result = yield* Arbitrary.checkEffect(Arbitrary.schema(Schema.Int), (n) => n < 10)
      const report = Arbitrary.formatCheckFailure(result)
      assert.isDefined(report)
      assert.match(report!, /^Property falsified/)
      assert.include(report!, `Replay: [0,"${seed}",`)
    }))
})
