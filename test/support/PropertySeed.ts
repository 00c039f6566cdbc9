/**
 * One seed for every property test of a run (vitest `setupFiles`): the
 * property checks of `it.prop` / `it.effect.prop` (effect's `Arbitrary`) and
 * `Arbitrary.sample` draw their inputs from it, so a run is reproducible, and a
 * new day explores new inputs.
 *
 * **Details**
 *
 * - `PROPERTY_SEED=<integer>` fixes the seed (to re-run a failure).
 * - Unset, the seed is the UTC date as `YYYYMMDD`: every run of a day, on any
 *   machine, checks the same inputs; the next day checks others.
 * - A failed property prints `Property falsified ...`, the shrunk input and a
 *   `Replay:` token whose second item is the seed; this module adds a line
 *   naming the seed and the command that re-runs it.
 *
 * A test that passes its own `seed` (or `replay`) to a check keeps it: only the
 * defaults are set here.
 */
import * as Arbitrary from "effect/Arbitrary"
import { beforeEach } from "vitest"

/** The environment variable that fixes the seed. */
export const SEED_VARIABLE = "PROPERTY_SEED"

/** The seed of a day: its UTC date as the integer `YYYYMMDD`. */
export const seedOfDay = (date: Date): number =>
  date.getUTCFullYear() * 10_000 + (date.getUTCMonth() + 1) * 100 + date.getUTCDate()

/** The seed named by the variable's value, or the seed of `today` when it is unset or empty. */
export const resolveSeed = (value: string | undefined, today: Date): number => {
  if (value === undefined || value.trim() === "") return seedOfDay(today)
  const seed = Number(value.trim())
  if (!Number.isSafeInteger(seed)) {
    throw new Error(`${SEED_VARIABLE} must be an integer, got ${JSON.stringify(value)}`)
  }
  return seed
}

/** This run's seed. */
export const seed = resolveSeed(process.env[SEED_VARIABLE], new Date())

Arbitrary.configureGlobal({ check: { seed }, sample: { seed } })

const PROPERTY_FAILURE = /Property (falsified|exhausted|replay failed)/

beforeEach(({ onTestFailed }) => {
  onTestFailed(({ task }) => {
    if (task.result?.errors?.some((e) => PROPERTY_FAILURE.test(e.message)) === true) {
      console.error(`property seed ${seed}: re-run with ${SEED_VARIABLE}=${seed} npx vitest run ${task.file.name}`)
    }
  })
})
