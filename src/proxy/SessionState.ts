/**
 * What a statement does to session state, as far as a transaction-mode pooler
 * must know: the leading keywords of each statement of a query, read without
 * a parser.
 *
 * **Details**
 *
 * - `Pin`: state that lives in the upstream backend beyond the transaction
 *   (LISTEN, SQL-level PREPARE, temporary tables and other temporary objects,
 *   cursors WITH HOLD, session advisory locks, LOAD, SET ROLE / SESSION
 *   AUTHORIZATION, and `SET` or `set_config(name, value, false)` of a
 *   parameter the proxy does not track; function names in any case). In
 *   transaction mode the client keeps its upstream for the rest of its
 *   session (the upstream is reset with DISCARD ALL when the client leaves).
 * - `Deallocate`: `DEALLOCATE [PREPARE] name | ALL` alone in a query: the
 *   proxy answers it for the client's protocol-level statements.
 * - `DiscardAll`: `DISCARD ALL` alone: run upstream, and the client's
 *   statements and pin are dropped with it.
 * - `ResetAll`: `RESET ALL`: run upstream; what the proxy set there is no
 *   longer known (set again, or reset, for the next client).
 * - `SET` or `set_config` of a tracked parameter (client_encoding, DateStyle,
 *   TimeZone, IntervalStyle, application_name, search_path, and any parameter
 *   the client sent at start-up) is neither: its value reaches the proxy as
 *   ParameterStatus and is replayed on the next upstream. So is a
 *   `set_config` whose `is_local` is written `true` (it ends with the
 *   transaction); one whose name or `is_local` is not a literal pins.
 *
 * A keyword found inside a string literal can only pin a client that did not
 * need it (the safe side); nothing here can unpin.
 *
 * Pure.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export type Effect =
  | { readonly _tag: "None" }
  | { readonly _tag: "Pin"; readonly why: string }
  | { readonly _tag: "Deallocate"; readonly name: string | undefined }
  | { readonly _tag: "DiscardAll" }
  | { readonly _tag: "ResetAll" }

const NONE: Effect = { _tag: "None" }
const RESET_ALL: Effect = { _tag: "ResetAll" }

/** Parameters replayed on every upstream a client moves to (their values come back as ParameterStatus). */
export const TRACKED_PARAMETERS: ReadonlySet<string> = new Set([
  "client_encoding",
  "datestyle",
  "timezone",
  "intervalstyle",
  "application_name",
  "search_path"
])

/** Start-up parameters that are not session settings. */
export const STARTUP_ONLY: ReadonlySet<string> = new Set(["user", "database", "replication", "options"])

const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13)
const isWord = (c: number) =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c > 127

/** Skips white space and comments from `i`. */
const skip = (sql: string, i: number): number => {
  for (;;) {
    while (i < sql.length && isSpace(sql.charCodeAt(i))) i++
    if (sql.startsWith("--", i)) {
      const end = sql.indexOf("\n", i)
      i = end < 0 ? sql.length : end + 1
    } else if (sql.startsWith("/*", i)) {
      const end = sql.indexOf("*/", i + 2)
      i = end < 0 ? sql.length : end + 2
    } else return i
  }
}

/** The words at the start of one statement, lower-cased (up to `n`). */
const words = (sql: string, from: number, n: number): Array<string> => {
  const out: Array<string> = []
  let i = from
  while (out.length < n) {
    i = skip(sql, i)
    if (i >= sql.length) break
    const c = sql.charCodeAt(i)
    if (c === 34) {
      const end = sql.indexOf("\"", i + 1)
      if (end < 0) break
      out.push(sql.slice(i + 1, end))
      i = end + 1
      continue
    }
    if (!isWord(c)) {
      out.push(sql[i]!)
      i++
      continue
    }
    const start = i
    while (i < sql.length && isWord(sql.charCodeAt(i))) i++
    out.push(sql.slice(start, i).toLowerCase())
  }
  return out
}

/** Where each statement of a query starts (split at semicolons outside quotes and comments). */
const statementStarts = (sql: string): Array<number> => {
  const starts = [0]
  let i = 0
  while (i < sql.length) {
    const c = sql.charCodeAt(i)
    if (c === 39 || c === 34) {
      const end = sql.indexOf(sql[i]!, i + 1)
      i = end < 0 ? sql.length : end + 1
    } else if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      const end = sql.indexOf("\n", i)
      i = end < 0 ? sql.length : end + 1
    } else if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      const end = sql.indexOf("*/", i + 2)
      i = end < 0 ? sql.length : end + 2
    } else if (c === 36) {
      const m = /^\$[A-Za-z_]*\$/.exec(sql.slice(i, i + 64))
      if (m === null) i++
      else {
        const end = sql.indexOf(m[0], i + m[0].length)
        i = end < 0 ? sql.length : end + m[0].length
      }
    } else if (c === 59) {
      i++
      if (skip(sql, i) < sql.length) starts.push(i)
    } else i++
  }
  return starts
}

const pin = (why: string): Effect => ({ _tag: "Pin", why })

/** Calls that change session state from inside any statement (function names are case-insensitive in SQL). */
const SESSION_CALLS = /advisory_lock|set_config/i
const SESSION_ADVISORY_LOCK = /pg_(try_)?advisory_lock/i
const SET_CONFIG_CALL = /set_config\s*\(/gi
const QUOTED = /^'((?:[^']|'')*)'$/
/** `is_local` values that keep a `set_config` to the transaction. */
const LOCAL = new Set(["true", "'true'", "'t'", "'on'", "'yes'", "'1'"])

/** The top-level arguments of a call whose `(` ends before `from`, trimmed (literals and nested calls kept whole). */
const callArguments = (sql: string, from: number): Array<string> => {
  const args: Array<string> = []
  let depth = 0
  let start = from
  let i = from
  while (i < sql.length) {
    const c = sql.charCodeAt(i)
    if (c === 39) {
      // A literal (a doubled quote inside it reads as two literals in a row).
      const end = sql.indexOf("'", i + 1)
      i = end < 0 ? sql.length : end + 1
      continue
    }
    if (c === 40) depth++
    else if (c === 41) {
      if (depth === 0) {
        args.push(sql.slice(start, i).trim())
        return args
      }
      depth--
    } else if (c === 44 && depth === 0) {
      args.push(sql.slice(start, i).trim())
      start = i + 1
    }
    i++
  }
  return args
}

/**
 * The `set_config(name, value, is_local)` calls of a query: each pins unless
 * its `is_local` is written true (the value ends with the transaction) or its
 * name is a literal naming a tracked parameter (the new value comes back as
 * ParameterStatus); a name or flag computed or bound pins.
 */
const setConfigEffect = (sql: string, tracked: (name: string) => boolean): Effect => {
  SET_CONFIG_CALL.lastIndex = 0
  for (let m = SET_CONFIG_CALL.exec(sql); m !== null; m = SET_CONFIG_CALL.exec(sql)) {
    const args = callArguments(sql, m.index + m[0].length)
    if (LOCAL.has(args[2]?.toLowerCase() ?? "")) continue
    const name = QUOTED.exec(args[0] ?? "")?.[1]?.replace(/''/g, "'").toLowerCase()
    if (name !== undefined && tracked(name)) continue
    return pin(`set_config(${name ?? "..."})`)
  }
  return NONE
}

/** One statement's effect. */
const statementEffect = (sql: string, from: number, tracked: (name: string) => boolean): Effect => {
  const w = words(sql, from, 6)
  switch (w[0]) {
    case "listen":
      return pin("LISTEN")
    case "prepare":
      return pin("PREPARE")
    case "load":
      return pin("LOAD")
    case "declare":
      return w.includes("hold") || /\bwith\s+hold\b/i.test(sql.slice(from, from + 4096)) ? pin("DECLARE ... WITH HOLD") : NONE
    case "create": {
      const rest = w.slice(1)
      if (rest[0] === "or" && rest[1] === "replace") rest.splice(0, 2)
      if (rest[0] === "global" || rest[0] === "local") rest.shift()
      return rest[0] === "temp" || rest[0] === "temporary" ? pin("a temporary object") : NONE
    }
    case "set": {
      let k = 1
      if (w[k] === "session") k++
      if (w[k] === "local") return NONE
      if (w[k] === "role" || w[k] === "authorization" || (w[k] === "session" && w[k + 1] === "authorization")) {
        return pin("SET ROLE")
      }
      if (w[k] === "transaction" || w[k] === "constraints") return NONE
      const name = w[k]
      if (name === "time" && w[k + 1] === "zone") return NONE
      if (name === "names") return NONE
      return name !== undefined && tracked(name) ? NONE : pin(`SET ${name ?? ""}`)
    }
    case "reset": {
      const name = w[1]
      if (name === "all") return RESET_ALL
      return name !== undefined && tracked(name) ? NONE : pin(`RESET ${name ?? ""}`)
    }
    case "deallocate": {
      const k = w[1] === "prepare" ? 2 : 1
      const name = w[k]
      if (name === undefined) return NONE
      return { _tag: "Deallocate", name: name === "all" ? undefined : name }
    }
    case "discard":
      return w[1] === "all" ? { _tag: "DiscardAll" } : NONE
    default:
      break
  }
  return NONE
}

/**
 * The session-state effect of a query (one or more statements). A query of
 * several statements is `Pin` if any statement pins, else `ResetAll` if one
 * is `RESET ALL`; `Deallocate` and `DiscardAll` only alone.
 *
 * @since 0.1.0
 */
export const classify = (sql: string, tracked: (name: string) => boolean): Effect => {
  const lower = sql.length < 65_536 ? sql : sql.slice(0, 65_536)
  if (SESSION_CALLS.test(lower)) {
    if (SESSION_ADVISORY_LOCK.test(lower)) return pin("a session advisory lock")
    const effect = setConfigEffect(lower, tracked)
    if (effect._tag === "Pin") return effect
  }
  const starts = statementStarts(sql)
  if (starts.length === 1) return statementEffect(sql, 0, tracked)
  let result: Effect = NONE
  for (const start of starts) {
    const effect = statementEffect(sql, start, tracked)
    if (effect._tag === "Pin") return effect
    if (effect._tag === "ResetAll") result = effect
  }
  return result
}

/** Whether a statement follows the first (a `;` with more than white space or comments after it). */
const hasAnotherStatement = (sql: string): boolean => {
  for (let i = sql.indexOf(";"); i >= 0; i = sql.indexOf(";", i + 1)) {
    if (skip(sql, i + 1) < sql.length) return true
  }
  return false
}

/**
 * Whether a query may change session state at all: a quick look at its first
 * keyword, so the common statements (one SELECT, INSERT, UPDATE, BEGIN, ...,
 * with or without a closing `;`) skip `classify`. A query of several
 * statements, or one naming an advisory lock or `set_config` (in any case), is always classified.
 *
 * @since 0.1.0
 */
export const mayAffectSession = (sql: string): boolean => {
  if (hasAnotherStatement(sql) || SESSION_CALLS.test(sql)) return true
  const i = skip(sql, 0)
  const c = sql.charCodeAt(i) | 0x20
  if (c === 115 /* s */) {
    // set, show, ...: classified; select: not.
    return (sql.charCodeAt(i + 1) | 0x20) !== 101 /* e */ || (sql.charCodeAt(i + 2) | 0x20) === 116 /* t */
  }
  // listen, load, prepare, declare, deallocate, discard, create, reset.
  return c === 108 || c === 112 || c === 100 || c === 99 || c === 114
}
