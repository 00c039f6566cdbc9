/**
 * The types layer is pure (src/README.md "Layers"): it may import the wire,
 * protocol and errors layers and Effect's data modules, never the Effect
 * runtime, the `effect` barrel, a Node built-in, or a layer above it.
 */
import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"

/** The only Effect modules the types layer needs: data, not runtime. */
const ALLOWED_EFFECT = new Set(["effect/Schema", "effect/BigDecimal", "effect/Result", "effect/Data", "effect/Predicate"])
const ALLOWED_RELATIVE = /^\.\/[A-Z]\w*\.ts$|^\.\.\/(wire|protocol|errors)\/[A-Z]\w*\.ts$/

const violations = (): Array<string> => {
  const dir = new URL("../../src/types/", import.meta.url)
  const out: Array<string> = []
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts"))
  assert.isAbove(files.length, 10)
  for (const file of files) {
    const source = readFileSync(new URL(file, dir), "utf8")
    for (const match of source.matchAll(/^\s*(?:import|export)\b[^"'`]*?from\s+["']([^"']+)["']/gm)) {
      const spec = match[1]!
      if (!ALLOWED_EFFECT.has(spec) && !ALLOWED_RELATIVE.test(spec)) out.push(`src/types/${file} imports "${spec}"`)
    }
  }
  return out
}

describe("types layer purity", () => {
  it("imports only Effect data modules and the layers below it", () => {
    assert.deepStrictEqual(violations(), [])
  })
})
