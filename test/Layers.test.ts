/**
 * The layer table of the architecture, checked against every import of every
 * module under `src/`: which layer may import which, nothing below the session
 * imports the session, and the pure layers import no Effect runtime.
 *
 * **Details**
 *
 * The table is written once, as data (`TABLE`), in the architecture's words:
 *
 * ```
 * wire  <-  protocol  <-  { types, auth }
 * transport, config        (independent: effect + their own errors)
 * errors    <- { wire, protocol, types, auth, transport }
 * session   <- { protocol, types, auth, transport, config, errors }
 * { query, copy, notify, replication, pool, v2 } <- session
 * sql       <- { pool, query }          server <- { protocol, types, auth, transport, errors }
 * proxy     <- { server, pool }
 * index     <- every public module
 * ```
 *
 * A layer may import what it names and, since the table is a stack, what
 * those may import (the session reads the wire's `Reader` through the
 * protocol it builds on). Every import counts: `import type`, `export ... from`
 * and `import("...")` in a type.
 *
 * Purity is followed through imports: a module that a pure layer imports,
 * whatever its folder, is held to the same rule, so no runtime reaches the
 * pure layers through a module in between.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

interface Rule {
  /** The layers this one names as its imports. */
  readonly imports: ReadonlyArray<string>
  /** Bytes in, data out: no Effect runtime, no IO. */
  readonly pure?: boolean
}

const FEATURE: Rule = { imports: ["session"] }

const TABLE: Readonly<Record<string, Rule>> = {
  errors: { imports: [] },
  wire: { imports: ["errors"], pure: true },
  protocol: { imports: ["wire", "errors"], pure: true },
  types: { imports: ["protocol", "errors"], pure: true },
  auth: { imports: ["protocol", "errors"], pure: true },
  transport: { imports: ["errors"] },
  config: { imports: ["errors"] },
  session: { imports: ["protocol", "types", "auth", "transport", "config", "errors"] },
  query: FEATURE,
  copy: FEATURE,
  notify: FEATURE,
  replication: FEATURE,
  pool: FEATURE,
  v2: FEATURE,
  sql: { imports: ["pool", "query"] },
  server: { imports: ["protocol", "types", "auth", "transport", "errors"] },
  proxy: { imports: ["server", "pool"] },
  index: { imports: ["*"] }
}

/**
 * Imports the table does not give, each one a design decision: `from` and `to`
 * name a layer or one module (a path under `src/`).
 */
const EXCEPTIONS: ReadonlyArray<{ readonly from: string; readonly to: string }> = [
  // The authentication keywords' vocabulary (`channel_binding` values, the
  // `require_auth` grammar) is the configuration's: the policy builds on that
  // one grammar instead of a copy. The module is pure (checked below).
  { from: "auth", to: "config/AuthKeywords.ts" }
]

/** What a pure module may import from outside `src/`: data modules, hashing and bytes. */
const PURE_PACKAGES = new Set([
  "effect/BigDecimal",
  "effect/Data",
  "effect/Predicate",
  "effect/Redacted",
  "effect/Result",
  "effect/Schema",
  "effect/SchemaGetter",
  "node:buffer",
  "node:crypto"
])

const reach = (layer: string): ReadonlySet<string> => {
  const seen = new Set<string>()
  const visit = (name: string) => {
    for (const next of TABLE[name]?.imports ?? []) {
      if (next === "*") for (const any of Object.keys(TABLE)) seen.add(any)
      else if (!seen.has(next)) {
        seen.add(next)
        visit(next)
      }
    }
  }
  visit(layer)
  return seen
}

const ALLOWED: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  Object.keys(TABLE).map((layer) => [layer, reach(layer)])
)

// ---------------------------------------------------------------------------
// Reading imports
// ---------------------------------------------------------------------------

const KEYWORDS_BEFORE_EXPRESSION = new Set([
  "return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw", "instanceof", "yield", "await"
])

type Token = { readonly kind: "word" | "string" | "punct"; readonly text: string }

/**
 * The tokens of a TypeScript source that matter for its imports: words,
 * string literals (their value) and punctuation; comments, template text and
 * regular expression literals are skipped.
 */
const tokenize = (source: string): Array<Token> => {
  const tokens: Array<Token> = []
  let i = 0
  // Brace depths at which a template literal's `${` resumes its text.
  const templates: Array<number> = []
  let depth = 0
  const template = () => {
    // In template text, up to the closing backtick or a `${`.
    while (i < source.length) {
      const c = source[i]!
      if (c === "\\") i += 2
      else if (c === "`") {
        i++
        tokens.push({ kind: "string", text: "" })
        return
      } else if (c === "$" && source[i + 1] === "{") {
        i += 2
        templates.push(depth)
        depth++
        tokens.push({ kind: "punct", text: "(" })
        return
      } else i++
    }
  }
  while (i < source.length) {
    const c = source[i]!
    const next = source[i + 1]
    if (/\s/.test(c)) i++
    else if (c === "/" && next === "/") {
      while (i < source.length && source[i] !== "\n") i++
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2)
      i = end < 0 ? source.length : end + 2
    } else if (c === "\"" || c === "'") {
      let value = ""
      i++
      while (i < source.length && source[i] !== c && source[i] !== "\n") {
        if (source[i] === "\\") i++
        value += source[i]
        i++
      }
      i++
      tokens.push({ kind: "string", text: value })
    } else if (c === "`") {
      i++
      template()
    } else if (/[A-Za-z_$]/.test(c)) {
      const start = i
      while (i < source.length && /[\w$]/.test(source[i]!)) i++
      tokens.push({ kind: "word", text: source.slice(start, i) })
    } else if (/[0-9]/.test(c)) {
      while (i < source.length && /[\w.]/.test(source[i]!)) i++
      tokens.push({ kind: "word", text: "0" })
    } else if (c === "/") {
      const last = tokens.at(-1)
      const regex = last === undefined ||
        (last.kind === "punct" && !")]}".includes(last.text)) ||
        (last.kind === "word" && KEYWORDS_BEFORE_EXPRESSION.has(last.text))
      i++
      if (regex) {
        let inClass = false
        while (i < source.length && source[i] !== "\n") {
          const r = source[i]!
          if (r === "\\") i++
          else if (r === "[") inClass = true
          else if (r === "]") inClass = false
          else if (r === "/" && !inClass) break
          i++
        }
        i++
        while (i < source.length && /\w/.test(source[i]!)) i++
        tokens.push({ kind: "word", text: "0" })
      } else tokens.push({ kind: "punct", text: "/" })
    } else if (c === "{") {
      depth++
      i++
      tokens.push({ kind: "punct", text: c })
    } else if (c === "}") {
      depth--
      i++
      if (templates.at(-1) === depth) {
        templates.pop()
        tokens.push({ kind: "punct", text: ")" })
        template()
      } else tokens.push({ kind: "punct", text: c })
    } else {
      i++
      tokens.push({ kind: "punct", text: c })
    }
  }
  return tokens
}

/**
 * The module specifiers a source imports: `import ... from`, `export ... from`,
 * `import "..."` and `import("...")`.
 */
const importsOf = (source: string): Array<string> => {
  const tokens = tokenize(source)
  const out: Array<string> = []
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!
    const after = tokens[k + 1]
    const before = tokens[k - 1]
    if (t.kind !== "word" || (before?.kind === "punct" && before.text === ".")) continue
    if (t.text === "from" && after?.kind === "string") out.push(after.text)
    else if (t.text === "import" && after?.kind === "string") out.push(after.text)
    else if (t.text === "import" && after?.text === "(" && tokens[k + 2]?.kind === "string") out.push(tokens[k + 2]!.text)
  }
  return out
}

// ---------------------------------------------------------------------------
// Checking
// ---------------------------------------------------------------------------

/** The layer of a module, by its path under `src/` (`session/Api.ts`; `index.ts` is `index`). */
const layerOf = (module: string): string => {
  const parts = module.split("/")
  return parts.length === 1 ? Path.basename(module, ".ts") : parts[0]!
}

/** The module a relative specifier names, as a path under `src/`. */
const resolve = (module: string, specifier: string): string =>
  Path.posix.normalize(Path.posix.join(Path.posix.dirname(module), specifier))

/**
 * Every import of the modules (paths under `src/` to their text) that the
 * table does not allow, as `file -> import (why)`.
 */
const violations = (modules: ReadonlyMap<string, string>): Array<string> => {
  const out: Array<string> = []
  const importsByModule = new Map([...modules].map(([module, text]) => [module, importsOf(text)]))

  for (const [module, specifiers] of importsByModule) {
    const layer = layerOf(module)
    const allowed = ALLOWED.get(layer)
    if (allowed === undefined) {
      out.push(`src/${module} (layer ${layer} is not in the table)`)
      continue
    }
    for (const specifier of specifiers) {
      if (!specifier.startsWith(".")) continue
      const target = resolve(module, specifier)
      const where = `src/${module} -> ${specifier}`
      if (target.startsWith("../")) {
        out.push(`${where} (a module may only import within src)`)
        continue
      }
      const other = layerOf(target)
      if (other === layer || allowed.has(other)) continue
      if (EXCEPTIONS.some((e) => (e.from === layer || e.from === module) && (e.to === other || e.to === target))) continue
      out.push(`${where} (layer ${layer} may not import layer ${other})`)
    }
  }

  // Purity: every module of a pure layer, and every module they import, transitively.
  const pureBecause = new Map<string, string>()
  const queue: Array<string> = []
  for (const module of modules.keys()) {
    const layer = layerOf(module)
    if (TABLE[layer]?.pure === true) {
      pureBecause.set(module, layer)
      queue.push(module)
    }
  }
  while (queue.length > 0) {
    const module = queue.shift()!
    const why = pureBecause.get(module)!
    for (const specifier of importsByModule.get(module) ?? []) {
      if (specifier.startsWith(".")) {
        const target = resolve(module, specifier)
        if (modules.has(target) && !pureBecause.has(target)) {
          pureBecause.set(target, why)
          queue.push(target)
        }
      } else if (!PURE_PACKAGES.has(specifier)) {
        const layer = layerOf(module)
        const rule = layer === why
          ? `layer ${layer} is pure and may not import ${specifier}`
          : `the pure layer ${why} imports this module, so it may not import ${specifier}`
        out.push(`src/${module} -> ${specifier} (${rule})`)
      }
    }
  }
  return out
}

/**
 * The import circles among the modules of one layer (type imports count: a
 * circle of types is still two modules that cannot be read one before the
 * other), each as `a -> b -> a`.
 */
const circles = (modules: ReadonlyMap<string, string>, layer: string): Array<string> => {
  const inLayer = [...modules.keys()].filter((module) => layerOf(module) === layer)
  const next = new Map(inLayer.map((module) => [
    module,
    importsOf(modules.get(module)!)
      .filter((specifier) => specifier.startsWith("."))
      .map((specifier) => resolve(module, specifier))
      .filter((target) => layerOf(target) === layer && modules.has(target))
  ]))
  const out: Array<string> = []
  const done = new Set<string>()
  const visit = (module: string, path: ReadonlyArray<string>) => {
    const at = path.indexOf(module)
    if (at >= 0) {
      out.push([...path.slice(at), module].join(" -> "))
      return
    }
    if (done.has(module)) return
    for (const target of next.get(module) ?? []) visit(target, [...path, module])
    done.add(module)
  }
  for (const module of inLayer) visit(module, [])
  return out
}

const SRC = Path.join(Path.dirname(Url.fileURLToPath(import.meta.url)), "..", "src")

const readSources = (): Map<string, string> => {
  const modules = new Map<string, string>()
  const walk = (dir: string) => {
    for (const entry of Fs.readdirSync(dir, { withFileTypes: true })) {
      const full = Path.join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.name.endsWith(".ts")) {
        modules.set(Path.relative(SRC, full).split(Path.sep).join("/"), Fs.readFileSync(full, "utf8"))
      }
    }
  }
  walk(SRC)
  return modules
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

describe("layers", () => {
  it("every import of every module under src/ follows the layer table", () => {
    const found = violations(readSources())
    assert.deepStrictEqual(found, [], `\n${found.join("\n")}\n`)
  })

  it("the configuration's modules import one another without a circle", () => {
    assert.deepStrictEqual(circles(readSources(), "config"), [])
    // The circle there was: Config re-exported Hosts, Hosts took its types from Config.
    const before = new Map([
      ["config/Config.ts", `export { attempts } from "./Hosts.ts"`],
      ["config/Hosts.ts", `import type { HostSpec } from "./Config.ts"`]
    ])
    assert.deepStrictEqual(circles(before, "config"), ["config/Config.ts -> config/Hosts.ts -> config/Config.ts"])
  })

  it("reads every import form, and none in comments, strings, templates or regular expressions", () => {
    const source = [
      `import * as A from "./a.ts"`,
      `import type { B } from "./b.ts"`,
      `import {`,
      `  C,`,
      `  type D`,
      `} from "../c/d.ts"`,
      `import "./side-effect.ts"`,
      `export * as E from "./e.ts"`,
      `export { type F } from './f.ts'`,
      `type G = import("./g.ts").G`,
      `const h = () => import("./h.ts")`,
      `// import X from "./comment.ts"`,
      `/* import Y from "./block.ts" */`,
      `const s = 'import Z from "./string.ts"'`,
      "const t = `import W from \"./template.ts\" ${`nested ${1}`} from \"./template2.ts\"`",
      `const r = /"from "/.test(s) ? 1 : 2 / 3`,
      `const o = { from: "./property.ts" }, p = Array.from("./call.ts")`,
      `export const last = 1`
    ].join("\n")
    assert.deepStrictEqual(importsOf(source), [
      "./a.ts",
      "./b.ts",
      "../c/d.ts",
      "./side-effect.ts",
      "./e.ts",
      "./f.ts",
      "./g.ts",
      "./h.ts"
    ])
  })

  it("finds at least the one-line imports a plain pattern finds in every module", () => {
    for (const [module, text] of readSources()) {
      const lines = [...text.matchAll(/^(?:import|export)\b[^\n]*?\bfrom\s+"([^"]+)"/gm)].map((m) => m[1]!)
      assert.includeMembers(importsOf(text), lines, module)
    }
  })

  it("names the file, the import and the rule: config may not import auth", () => {
    const modules = new Map([
      ["config/Config.ts", `import * as AuthPolicy from "../auth/AuthPolicy.ts"\nimport { PgError } from "../errors/PgError.ts"`],
      ["auth/AuthPolicy.ts", `import * as Result from "effect/Result"`]
    ])
    assert.deepStrictEqual(violations(modules), [
      "src/config/Config.ts -> ../auth/AuthPolicy.ts (layer config may not import layer auth)"
    ])
  })

  it("reads the table as the architecture draws it", () => {
    // [importer, imported, allowed]: the arrows of the table, and what they leave out.
    const cases: ReadonlyArray<readonly [string, string, boolean]> = [
      ["protocol", "wire", true],
      ["wire", "protocol", false],
      ["types", "protocol", true],
      ["auth", "protocol", true],
      ["auth", "wire", true],
      ["protocol", "types", false],
      ["types", "auth", false],
      ["auth", "config", false],
      ["config", "auth", false],
      ["config", "errors", true],
      ["config", "transport", false],
      ["transport", "config", false],
      ["transport", "protocol", false],
      ["errors", "wire", false],
      ["wire", "errors", true],
      ["session", "config", true],
      ["session", "transport", true],
      ["session", "wire", true],
      ["session", "pool", false],
      ["types", "session", false],
      ["auth", "session", false],
      ["config", "session", false],
      ["transport", "session", false],
      ["pool", "session", true],
      ["replication", "session", true],
      ["replication", "pool", false],
      ["pool", "replication", false],
      ["sql", "pool", true],
      ["sql", "session", true],
      ["pool", "sql", false],
      ["server", "protocol", true],
      ["server", "auth", true],
      ["server", "session", false],
      ["server", "config", false],
      ["server", "pool", false],
      ["proxy", "server", true],
      ["proxy", "pool", true],
      ["server", "proxy", false],
      ["index", "sql", true]
    ]
    for (const [from, to, allowed] of cases) {
      const modules = new Map([[`${from}/A.ts`, `import type { B } from "../${to}/B.ts"`], [`${to}/B.ts`, ""]])
      assert.strictEqual(violations(modules).length === 0, allowed, `${from} -> ${to}`)
    }
  })

  it("holds every module a pure layer imports to the pure rule, and refuses folders the table does not know", () => {
    const modules = new Map([
      ["wire/Reader.ts", `import * as Effect from "effect/Effect"\nimport * as Schema from "effect/Schema"`],
      ["auth/AuthPolicy.ts", `import * as AuthKeywords from "../config/AuthKeywords.ts"`],
      ["config/AuthKeywords.ts", `import * as Stream from "effect/Stream"\nimport * as Fs from "node:fs"`],
      ["config/Config.ts", `import * as Effect from "effect/Effect"`],
      ["cache/Lru.ts", `import * as Effect from "effect/Effect"`],
      ["Main.ts", `export * from "./wire/Reader.ts"`]
    ])
    assert.deepStrictEqual(violations(modules), [
      "src/cache/Lru.ts (layer cache is not in the table)",
      "src/Main.ts (layer Main is not in the table)",
      "src/wire/Reader.ts -> effect/Effect (layer wire is pure and may not import effect/Effect)",
      "src/config/AuthKeywords.ts -> effect/Stream (the pure layer auth imports this module, so it may not import effect/Stream)",
      "src/config/AuthKeywords.ts -> node:fs (the pure layer auth imports this module, so it may not import node:fs)"
    ])
  })
})
