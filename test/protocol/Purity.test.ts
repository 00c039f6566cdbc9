/**
 * The wire and protocol layers are pure (src/README.md "Layers"): bytes in,
 * data out. This test reads their imports and fails on the Effect runtime, the
 * `effect` barrel, any Node built-in, and any layer above them.
 */
import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"

const RUNTIME_MODULES = new Set([
  "Effect",
  "Stream",
  "Layer",
  "Scope",
  "Fiber",
  "FiberRef",
  "Schedule",
  "Clock",
  "Queue",
  "Deferred",
  "Runtime",
  "ManagedRuntime",
  "Ref",
  "Pool",
  "Sink",
  "Channel",
  "PubSub",
  "Semaphore",
  "Latch"
])

const ABOVE = ["session", "transport", "config", "types", "auth", "query", "copy", "notify", "replication", "pool", "sql", "server", "v2"]

/** Node modules that do no IO: byte functions only (`isUtf8`, native string slicing). */
const PURE_NODE_MODULES = new Set(["node:buffer"])

const violations = (folder: string): Array<string> => {
  const dir = new URL(`../../src/${folder}/`, import.meta.url)
  const out: Array<string> = []
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    const text = readFileSync(new URL(file, dir), "utf8")
    for (const match of text.matchAll(/^\s*(?:import|export)\b[^"']*?from\s+["']([^"']+)["']/gm)) {
      const spec = match[1]!
      const where = `src/${folder}/${file} imports "${spec}"`
      if (spec === "effect") out.push(`${where}: the barrel`)
      else if (spec.startsWith("effect/") && RUNTIME_MODULES.has(spec.slice("effect/".length))) {
        out.push(`${where}: the Effect runtime`)
      } else if ((spec.startsWith("node:") && !PURE_NODE_MODULES.has(spec)) || spec.startsWith("@effect/")) {
        out.push(`${where}: not pure`)
      }
      else if (ABOVE.some((layer) => spec.includes(`../${layer}/`))) out.push(`${where}: a layer above`)
    }
  }
  return out
}

describe("layer purity", () => {
  it("src/wire imports no runtime, no IO and no layer above it", () => {
    assert.deepStrictEqual(violations("wire"), [])
  })

  it("src/protocol imports no runtime, no IO and no layer above it", () => {
    assert.deepStrictEqual(violations("protocol"), [])
  })

  it("reads every module of src/protocol, the protocol 2.0 modules included", () => {
    const files = readdirSync(new URL("../../src/protocol/", import.meta.url)).filter((f) => f.endsWith(".ts"))
    assert.includeMembers(files, [
      "Backend.ts",
      "Frontend.ts",
      "Message.ts",
      "PgOutput.ts",
      "V2.ts",
      "V2Backend.ts",
      "V2BackendStream.ts",
      "V2Codec.ts",
      "V2CopyDataRows.ts",
      "V2Decoder.ts",
      "V2Frontend.ts",
      "V2FrontendStream.ts",
      "V2Rows.ts"
    ])
  })
})
