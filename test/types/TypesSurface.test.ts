/**
 * `Temporal` and `Registry` keep every export they had when parts of them
 * moved to their own modules: `Temporal` re-exports the interval codec
 * (`Interval`), `Registry` the text of untyped parameters (`InferText`), as the
 * very same values.
 */
import { assert, describe, it } from "@effect/vitest"
import * as InferText from "../../src/types/InferText.ts"
import * as Interval from "../../src/types/Interval.ts"
import * as Registry from "../../src/types/Registry.ts"
import * as Temporal from "../../src/types/Temporal.ts"

const sorted = (names: Iterable<string>): Array<string> => [...names].sort()

const sameValues = (from: Readonly<Record<string, unknown>>, to: Readonly<Record<string, unknown>>): void => {
  for (const [name, value] of Object.entries(from)) assert.strictEqual(to[name], value, name)
}

describe("types modules after their splits", () => {
  it("Temporal exports exactly the names it always has, the interval codec's among them", () => {
    assert.deepStrictEqual(
      sorted(Object.keys(Temporal)),
      sorted([
        "IntervalSchema", "date", "dateToMicros", "formatDate", "formatInterval", "formatTimestamp", "interval",
        "makeInterval", "microsToDate", "parseDate", "time", "timestamp", "timestampMicros", "timestamptz",
        "timestamptzMicros", "timetz"
      ])
    )
    sameValues(Interval, Temporal)
  })

  it("Registry exports exactly the names it always has, inferText among them", () => {
    assert.deepStrictEqual(
      sorted(Object.keys(Registry)),
      sorted(["Registry", "defaultRegistry", "inferText", "isNullParameter", "withColumn"])
    )
    sameValues(InferText, Registry)
  })
})
