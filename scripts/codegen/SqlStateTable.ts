/**
 * Generates `src/errors/SqlState.ts` from `test/fixtures/errcodes/pg_sqlstate_codes.json`
 * (a transcription of PostgreSQL's `src/backend/utils/errcodes.txt`).
 *
 * Run it with `node scripts/codegen/SqlStateTable.ts`. `test/errors/SqlState.test.ts`
 * renders the table again and fails when the checked-in file differs, so the
 * generated module cannot drift from its source.
 *
 * What goes in:
 * - every entry of `entries` (upstream errcodes.txt), macro-only aliases as extra
 *   constant names of the code they alias;
 * - the `newer_versions_delta.added` codes confirmed in more than one newer copy
 *   of errcodes.txt or in a released server (2203G, 25P04, 58P03), marked `newer`;
 * - `72000 snapshot_too_old`, removed upstream, kept and marked `legacy` because
 *   servers up to PostgreSQL 16 still send it.
 *
 * What stays out: entries flagged `unverified_upstream` (10608): a code seen only
 * in one fork is not put in the table; it is still classified by its class like
 * every unknown code.
 *
 * Pure: reads and writes files only when run as a script.
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"

/**
 * One errcodes.txt line as the fixture stores it.
 *
 * @since 0.1.0
 */
export interface SourceEntry {
  readonly sqlstate: string
  readonly kind: "E" | "W" | "S"
  readonly macro: string
  readonly condition_name: string | null
  readonly class: string
  readonly listed_under_section?: string
  readonly class_description?: string
  readonly unverified_upstream?: boolean
}

/**
 * The fixture file's shape.
 *
 * @since 0.1.0
 */
export interface Source {
  readonly source: { readonly repo: string; readonly path: string; readonly commit: string }
  readonly entries: ReadonlyArray<SourceEntry>
  readonly newer_versions_delta: {
    readonly added: ReadonlyArray<SourceEntry>
    readonly removed: ReadonlyArray<{
      readonly sqlstate: string
      readonly macro: string
      readonly condition_name: string
      readonly class: string
    }>
  }
}

/** The fixture path, relative to the repository root. */
export const SOURCE_PATH = "test/fixtures/errcodes/pg_sqlstate_codes.json"
/** The generated module, relative to the repository root. */
export const TARGET_PATH = "src/errors/SqlState.ts"

type Availability = "all" | "newer" | "legacy"

interface Row {
  readonly code: string
  readonly kind: "E" | "W" | "S"
  readonly condition: string
  readonly availability: Availability
}

const CODE = /^[0-9A-Z]{5}$/
const CONDITION = /^[a-z][a-z0-9_]*$/
const MACRO = /^ERRCODE_[A-Z0-9_]+$/

const fail = (message: string): never => {
  throw new Error(`SqlStateTable: ${message}`)
}

/** "Class 22 - Data Exception" -> "Data Exception"; the parenthesised remarks are dropped. */
const classNameOf = (section: string): string => {
  const m = /^Class ([0-9A-Z]{2}) - (.+)$/.exec(section)
  if (m === null) return fail(`unexpected section header ${JSON.stringify(section)}`)
  return m[2]!.replace(/\s*\(.*\)\s*$/, "")
}

/**
 * Renders the TypeScript module from the parsed fixture.
 *
 * @since 0.1.0
 */
export const render = (source: Source): string => {
  const rows = new Map<string, Row>()
  const macros = new Map<string, string>()
  const classNames = new Map<string, string>()

  const addMacro = (macro: string, code: string) => {
    if (!MACRO.test(macro)) fail(`bad macro ${macro}`)
    const name = macro.slice("ERRCODE_".length)
    const prior = macros.get(name)
    if (prior !== undefined && prior !== code) fail(`macro ${macro} names ${prior} and ${code}`)
    macros.set(name, code)
  }

  const addRow = (e: SourceEntry, availability: Availability) => {
    if (!CODE.test(e.sqlstate)) fail(`bad code ${e.sqlstate}`)
    if (e.class !== e.sqlstate.slice(0, 2)) fail(`class ${e.class} of ${e.sqlstate}`)
    addMacro(e.macro, e.sqlstate)
    // Macro-only aliases (condition_name null) add a constant name, never a row.
    if (e.condition_name === null) return
    if (!CONDITION.test(e.condition_name)) fail(`bad condition ${e.condition_name}`)
    if (rows.has(e.sqlstate)) fail(`duplicate condition for ${e.sqlstate}`)
    rows.set(e.sqlstate, { code: e.sqlstate, kind: e.kind, condition: e.condition_name, availability })
  }

  for (const e of source.entries) {
    // A section header names the class of the codes listed under it, except
    // where errcodes.txt lists an alias of another class (26000, 34000, 3D000
    // and 3F000 appear again under class 42): only a matching header counts.
    const section = e.listed_under_section
    if (section !== undefined && section.startsWith(`Class ${e.class} `)) {
      const name = classNameOf(section)
      const prior = classNames.get(e.class)
      if (prior !== undefined && prior !== name) fail(`class ${e.class} named ${prior} and ${name}`)
      classNames.set(e.class, name)
    }
    addRow(e, "all")
  }
  for (const e of source.newer_versions_delta.added) {
    if (e.unverified_upstream === true) continue
    if (!classNames.has(e.class)) fail(`added code ${e.sqlstate} has an unknown class`)
    addRow(e, "newer")
  }
  for (const r of source.newer_versions_delta.removed) {
    const row = rows.get(r.sqlstate)
    if (row === undefined) fail(`removed code ${r.sqlstate} is not in the table`)
    else rows.set(r.sqlstate, { ...row, availability: "legacy" })
  }
  for (const code of rows.keys()) {
    if (!classNames.has(code.slice(0, 2))) fail(`no class name for ${code}`)
  }

  const sortedRows = [...rows.values()]
  const conditionUnion = [...new Set(sortedRows.map((r) => r.condition))].sort()

  const rowLines = sortedRows.map((r) => {
    const tail = r.availability === "all" ? "" : `, "${r.availability}"`
    return `  ["${r.code}", "${r.kind}", "${r.condition}"${tail}]`
  })
  const classLines = [...classNames].map(([c, n]) => `  ["${c}", ${JSON.stringify(n)}]`)
  const macroLines = [...macros].map(([m, c]) => `  ${m}: "${c}"`)
  const unionLines = conditionUnion.map((c) => `  | "${c}"`)

  const src = source.source
  return `/**
 * SQLSTATE codes: the condition name and class of every code the server can
 * send, the retry classification of a code, and named constants.
 *
 * GENERATED FILE: do not edit. Generated by scripts/codegen/SqlStateTable.ts from
 * test/fixtures/errcodes/pg_sqlstate_codes.json, a transcription of
 * ${src.repo} ${src.path}
 * at ${src.commit}, plus the newer codes 2203G, 25P04 and 58P03.
 * 72000 snapshot_too_old, removed in PostgreSQL 17, is kept as a legacy code
 * because older servers still send it. 10608
 * (invalid_argument_for_xquery) is left out: it was seen in one fork only and is
 * not confirmed upstream; like any code missing here it is classified by its class.
 *
 * Deliberately not here: message texts, per-code error classes, and any guess
 * about a code this table does not know beyond its class.
 *
 * Pure: no imports at all.
 *
 * @since 0.1.0
 */

/**
 * What the table knows about one SQLSTATE.
 *
 * @since 0.1.0
 */
export interface SqlStateEntry {
  readonly code: string
  /** The condition name from errcodes.txt (the PL/pgSQL condition), e.g. "unique_violation". */
  readonly condition: ConditionName
  /** The two-character class, e.g. "23". */
  readonly class: string
  /** The class title from errcodes.txt, e.g. "Integrity Constraint Violation". */
  readonly className: string
  /** errcodes.txt's E/W/S column. */
  readonly kind: "error" | "warning" | "success"
  /**
   * "all": in every supported server; "newer": added after PostgreSQL 16;
   * "legacy": removed upstream, only older servers send it.
   */
  readonly availability: "all" | "newer" | "legacy"
}

/**
 * The classification of any SQLSTATE, known or not.
 *
 * @since 0.1.0
 */
export interface SqlStateClassification {
  readonly code: string
  /** The two-character class, e.g. "23". */
  readonly class: string
  /** The class title, or undefined when the class itself is unknown. */
  readonly className: string | undefined
  /** The condition name from errcodes.txt, e.g. "unique_violation"; undefined when unknown. */
  readonly condition: ConditionName | undefined
  /** Whether the code is in the table (an unknown code is classified by its class). */
  readonly known: boolean
  /** E/W/S of a known code; by class for an unknown one (00 success, 01 and 02 warning, else error). */
  readonly kind: "error" | "warning" | "success"
  /**
   * Running the failed transaction again, from its start, can succeed and is not
   * known to repeat work that took effect: 40001 serialization_failure,
   * 40P01 deadlock_detected, class 08 except 08P01 protocol_violation and
   * 08007 transaction_resolution_unknown, 57P01 admin_shutdown, 57P02
   * crash_shutdown, 57P03 cannot_connect_now, 57P05 idle_session_timeout and
   * 53300 too_many_connections. When \`connectionLost\` is also true the retry
   * needs a new connection.
   */
  readonly retryable: boolean
  /**
   * The server ends the session with this code (or the code reports a lost
   * connection): class 08, 57P01-57P05, 25P03, 25P04 and 53300. A pool must not
   * reuse the connection.
   */
  readonly connectionLost: boolean
  /** 57014 query_canceled: a CancelRequest or statement_timeout stopped the statement. */
  readonly canceled: boolean
}

/**
 * Every condition name of errcodes.txt.
 *
 * @since 0.1.0
 */
export type ConditionName =
${unionLines.join("\n")}

/** [code, E/W/S, condition, availability when not "all"], in errcodes.txt order. */
const ROWS: ReadonlyArray<readonly [string, "E" | "W" | "S", ConditionName, ("newer" | "legacy")?]> = [
${rowLines.join(",\n")}
]

/** [class, title] in errcodes.txt order. */
const CLASSES: ReadonlyArray<readonly [string, string]> = [
${classLines.join(",\n")}
]

/**
 * Every SQLSTATE as a named constant: errcodes.txt's ERRCODE_ macro names
 * without the prefix, including the macro-only aliases (UNDEFINED_DATABASE is
 * INVALID_CATALOG_NAME, "3D000").
 *
 * @since 0.1.0
 */
export const Code = {
${macroLines.join(",\n")}
} as const

/**
 * The class titles, keyed by the two-character class.
 *
 * @since 0.1.0
 */
export const classNames: ReadonlyMap<string, string> = new Map(CLASSES)

/**
 * The table, keyed by SQLSTATE.
 *
 * @since 0.1.0
 */
export const table: ReadonlyMap<string, SqlStateEntry> = new Map(
  ROWS.map(([code, kind, condition, availability]) => [code, {
    code,
    condition,
    class: code.slice(0, 2),
    className: classNames.get(code.slice(0, 2))!,
    kind: kind === "E" ? "error" : kind === "W" ? "warning" : "success",
    availability: availability ?? "all"
  }])
)

const RETRYABLE: ReadonlySet<string> = new Set(["40001", "40P01", "57P01", "57P02", "57P03", "57P05", "53300"])
const NOT_RETRYABLE_IN_CLASS_08: ReadonlySet<string> = new Set(["08P01", "08007"])
const CONNECTION_LOST: ReadonlySet<string> = new Set(["57P01", "57P02", "57P03", "57P04", "57P05", "25P03", "25P04", "53300"])

const kindOfClass = (cls: string): "error" | "warning" | "success" =>
  cls === "00" ? "success" : cls === "01" || cls === "02" ? "warning" : "error"

const build = (code: string): SqlStateClassification => {
  const entry = table.get(code)
  const cls = code.slice(0, 2)
  const class08 = cls === "08"
  return {
    code,
    class: cls,
    className: classNames.get(cls),
    condition: entry?.condition,
    known: entry !== undefined,
    kind: entry?.kind ?? kindOfClass(cls),
    retryable: RETRYABLE.has(code) || (class08 && !NOT_RETRYABLE_IN_CLASS_08.has(code)),
    connectionLost: class08 || CONNECTION_LOST.has(code),
    canceled: code === "57014"
  }
}

// One frozen classification per known code: classifying an ErrorResponse
// allocates nothing.
const CLASSIFIED: ReadonlyMap<string, SqlStateClassification> = new Map(
  [...table.keys()].map((code) => [code, Object.freeze(build(code))])
)

/**
 * Classifies any SQLSTATE.
 *
 * **Details**
 *
 * A code missing from the table (a newer server's, or one this table leaves
 * out such as 10608) keeps its class: \`className\`, \`kind\`, \`retryable\` and
 * \`connectionLost\` follow from the class, \`condition\` is undefined and
 * \`known\` is false. A string that is not five characters is classified the
 * same way and never throws.
 *
 * @since 0.1.0
 */
export const classify = (code: string): SqlStateClassification => CLASSIFIED.get(code) ?? build(code)

const CONDITION_CODES: ReadonlyMap<string, ReadonlyArray<string>> = (() => {
  const m = new Map<string, Array<string>>()
  for (const [code, , condition] of ROWS) {
    const codes = m.get(condition)
    if (codes === undefined) m.set(condition, [code])
    else codes.push(code)
  }
  return m
})()

/**
 * Whether \`code\` matches the condition \`name\`, the way PL/pgSQL's
 * \`EXCEPTION WHEN name\` matches.
 *
 * **Details**
 *
 * A class-level condition (its code ends in "000", e.g. integrity_constraint_violation
 * = 23000) matches every code of its class. A condition name shared by two codes
 * (string_data_right_truncation is 01004 and 22001) matches both.
 *
 * @since 0.1.0
 */
export const is = (code: string, name: ConditionName): boolean => {
  const codes = CONDITION_CODES.get(name)
  if (codes === undefined) return false
  for (const c of codes) {
    if (c === code) return true
    if (c.endsWith("000") && code.length === 5 && code.startsWith(c.slice(0, 2))) return true
  }
  return false
}
`
}

const root = Path.resolve(Path.dirname(Url.fileURLToPath(import.meta.url)), "..", "..")

/**
 * Reads the fixture and renders the module (without writing it).
 *
 * @since 0.1.0
 */
export const generate = (): string =>
  render(JSON.parse(Fs.readFileSync(Path.join(root, SOURCE_PATH), "utf8")) as Source)

if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === Url.fileURLToPath(import.meta.url)) {
  Fs.writeFileSync(Path.join(root, TARGET_PATH), generate())
  console.log(`wrote ${TARGET_PATH}`)
}
