import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"

const root = Path.resolve(Path.dirname(Url.fileURLToPath(import.meta.url)), "..", "..")

// The auth layer is pure (src/README.md "Layers"): data modules of effect,
// hashing and base64 from Node, and the lower pure layers. No Effect runtime,
// no sockets, no timers.
const ALLOWED = /^(?:effect\/(?:Result|Schema|SchemaGetter|Data|Predicate|Redacted)|node:(?:crypto|buffer))$/
const PURE_DIRECTORIES = ["auth", "errors", "wire", "protocol"]
// The authentication keywords' vocabulary (`require_auth`'s grammar, the
// `channel_binding` values) is the configuration's, in one pure file.
const PURE_FILES = ["config/AuthKeywords.ts"]

const importsOf = (file: string): Array<string> => {
  const text = Fs.readFileSync(file, "utf8")
  return [...text.matchAll(/^\s*(?:import|export)\s[^"']*?from\s+["']([^"']+)["']/gm)].map((m) => m[1]!)
}

describe("auth purity", () => {
  const dir = Path.join(root, "src", "auth")
  const files = Fs.readdirSync(dir).filter((f) => f.endsWith(".ts"))

  it("covers every module of src/auth", () => {
    assert.includeMembers(files, [
      "AuthPolicy.ts",
      "ChannelBinding.ts",
      "Md5.ts",
      "SaslPrep.ts",
      "Scram.ts",
      "ScramClient.ts",
      "ScramPrimitives.ts",
      "ScramSecret.ts",
      "ScramServer.ts"
    ])
  })

  for (const file of files) {
    it(`${file} imports only pure modules`, () => {
      const imports = importsOf(Path.join(dir, file))
      assert.isAbove(imports.length, 0)
      for (const specifier of imports) {
        if (specifier.startsWith(".")) {
          const target = Path.relative(Path.join(root, "src"), Path.resolve(dir, specifier))
          if (PURE_FILES.includes(target.split(Path.sep).join("/"))) continue
          assert.include(PURE_DIRECTORIES, target.split(Path.sep)[0], `${file} imports ${specifier}`)
        } else {
          assert.match(specifier, ALLOWED, `${file} imports ${specifier}`)
        }
      }
    })
  }

  for (const file of PURE_FILES) {
    it(`${file}, which the auth layer reads, imports only pure modules`, () => {
      for (const specifier of importsOf(Path.join(root, "src", file))) {
        if (specifier.startsWith(".")) {
          const target = Path.relative(Path.join(root, "src"), Path.resolve(root, "src", Path.dirname(file), specifier))
          assert.include(PURE_DIRECTORIES, target.split(Path.sep)[0], `${file} imports ${specifier}`)
        } else {
          assert.match(specifier, ALLOWED, `${file} imports ${specifier}`)
        }
      }
    })
  }

  it("the generated SQLSTATE module imports nothing", () => {
    assert.deepStrictEqual(importsOf(Path.join(root, "src", "errors", "SqlState.ts")), [])
  })
})
