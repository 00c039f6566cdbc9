/**
 * What a span and a metric may say about a statement without its values: the
 * operation (`SELECT`, `INSERT`, ...), the tables it names, a low-cardinality
 * summary (`SELECT users`), and the text with its literals replaced by `?`
 * (OpenTelemetry's database conventions: `db.operation.name`,
 * `db.collection.name`, `db.query.summary`, `db.query.text`).
 *
 * **Details**
 *
 * A lexer, not a parser: it knows comments, string constants (`'...'`,
 * `E'...'` with backslash escapes, `$tag$...$tag$`), quoted identifiers and
 * numbers (PostgreSQL's "Lexical Structure"), and tracks parenthesis depth so
 * that the verb of `WITH x AS (...) INSERT ...` is `INSERT`. Tables are the
 * names after `FROM`, `JOIN`, `INTO`, `UPDATE`, `TABLE` (and `COPY`, `TRUNCATE`).
 * Results are cached per text (bounded), since the same statements recur.
 *
 * @since 0.1.0
 */

/**
 * What is known of one statement.
 *
 * @since 0.1.0
 */
export interface Summary {
  /** The first verb at the top level, upper-cased ("" when there is none). */
  readonly operation: string
  /** Tables named, in order, without duplicates. */
  readonly collections: ReadonlyArray<string>
  /** `operation` and the tables: "SELECT orders customers". At most `MAX_SUMMARY_LENGTH` characters. */
  readonly summary: string
  /** The text with string and numeric literals replaced by `?`. */
  readonly sanitized: string
}

/** The longest summary kept (the conventions ask for a low-cardinality string). */
export const MAX_SUMMARY_LENGTH = 255

/** Statements whose summaries are kept; past it the cache starts over. */
export const SUMMARY_CACHE_SIZE = 1024

const VERBS = new Set([
  "SELECT",
  "INSERT",
  "UPDATE",
  "DELETE",
  "MERGE",
  "VALUES",
  "TABLE",
  "COPY",
  "CREATE",
  "ALTER",
  "DROP",
  "TRUNCATE",
  "BEGIN",
  "START",
  "COMMIT",
  "END",
  "ROLLBACK",
  "SAVEPOINT",
  "RELEASE",
  "PREPARE",
  "EXECUTE",
  "DEALLOCATE",
  "LISTEN",
  "UNLISTEN",
  "NOTIFY",
  "SET",
  "SHOW",
  "RESET",
  "LOCK",
  "VACUUM",
  "ANALYZE",
  "EXPLAIN",
  "GRANT",
  "REVOKE",
  "CALL",
  "DO",
  "DISCARD",
  "CHECKPOINT",
  "REFRESH",
  "REINDEX",
  "CLUSTER",
  "COMMENT",
  "FETCH",
  "MOVE",
  "CLOSE",
  "DECLARE",
  "WITH"
])

/** Keywords after which a table name follows. */
const TABLE_BEFORE = new Set(["FROM", "JOIN", "INTO", "UPDATE", "TABLE", "TRUNCATE", "COPY"])

/** Words that may sit between such a keyword and the name. */
const SKIPPED_BEFORE_TABLE = new Set(["ONLY", "LATERAL", "IF", "EXISTS", "NOT", "TABLE"])

/** Words that end a `FROM a, b` list. */
const KEYWORDS_ENDING_LIST = new Set([
  "WHERE",
  "GROUP",
  "ORDER",
  "LIMIT",
  "OFFSET",
  "HAVING",
  "WINDOW",
  "UNION",
  "EXCEPT",
  "INTERSECT",
  "RETURNING",
  "ON",
  "USING",
  "SET",
  "VALUES",
  "SELECT",
  "FOR",
  "WITH",
  "TO"
])

const isIdentStart = (c: number) =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c > 127
const isIdentPart = (c: number) => isIdentStart(c) || (c >= 48 && c <= 57) || c === 36
const isDigit = (c: number) => c >= 48 && c <= 57

/** The end of a dollar-quote opening at `i` (`$tag$`), or -1 when `$` starts no quote (e.g. `$1`). */
const dollarTagEnd = (sql: string, i: number): number => {
  let j = i + 1
  if (j < sql.length && isDigit(sql.charCodeAt(j))) return -1
  while (j < sql.length && sql.charCodeAt(j) !== 36) {
    if (!isIdentPart(sql.charCodeAt(j))) return -1
    j++
  }
  return j < sql.length ? j + 1 : -1
}

/**
 * Summarizes `sql` (not cached: see `summaryOf`).
 *
 * @since 0.1.0
 */
export const summarize = (sql: string): Summary => {
  let out = ""
  let copied = 0
  let depth = 0
  let operation = ""
  let withClause = false
  let expectTable = false
  let fromList = false
  let fromDepth = 0
  let lastKeyword = ""
  const collections: Array<string> = []
  const literal = (start: number, end: number) => {
    out += sql.slice(copied, start) + "?"
    copied = end
  }
  const n = sql.length
  let i = 0
  while (i < n) {
    const c = sql.charCodeAt(i)
    if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      // -- comment to the end of the line
      const nl = sql.indexOf("\n", i)
      i = nl < 0 ? n : nl + 1
      continue
    }
    if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      // /* comment */, nested as in PostgreSQL
      let nest = 1
      let j = i + 2
      while (j < n && nest > 0) {
        if (sql.charCodeAt(j) === 47 && sql.charCodeAt(j + 1) === 42) (nest++, j += 2)
        else if (sql.charCodeAt(j) === 42 && sql.charCodeAt(j + 1) === 47) (nest--, j += 2)
        else j++
      }
      i = j
      continue
    }
    if (c === 39 || ((c === 69 || c === 101) && sql.charCodeAt(i + 1) === 39 && !isIdentPart(sql.charCodeAt(i - 1)))) {
      // 'string' or E'string'
      const escapes = c !== 39
      let j = c === 39 ? i + 1 : i + 2
      while (j < n) {
        const d = sql.charCodeAt(j)
        if (escapes && d === 92) j += 2
        else if (d === 39 && sql.charCodeAt(j + 1) === 39) j += 2
        else if (d === 39) break
        else j++
      }
      literal(i, Math.min(n, j + 1))
      i = j + 1
      expectTable = false
      continue
    }
    if (c === 36) {
      const tagEnd = dollarTagEnd(sql, i)
      if (tagEnd > 0) {
        const tag = sql.slice(i, tagEnd)
        const close = sql.indexOf(tag, tagEnd)
        const end = close < 0 ? n : close + tag.length
        literal(i, end)
        i = end
        continue
      }
      // $1: a parameter placeholder, kept.
      i++
      while (i < n && isDigit(sql.charCodeAt(i))) i++
      continue
    }
    if (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1)))) {
      let j = i
      while (j < n && (isIdentPart(sql.charCodeAt(j)) || sql.charCodeAt(j) === 46)) j++
      literal(i, j)
      i = j
      continue
    }
    if (c === 34 || isIdentStart(c)) {
      // an identifier or keyword, possibly qualified (a.b, "A"."b")
      let j = i
      let name = ""
      while (j < n) {
        if (sql.charCodeAt(j) === 34) {
          let k = j + 1
          while (k < n && !(sql.charCodeAt(k) === 34 && sql.charCodeAt(k + 1) !== 34)) k += sql.charCodeAt(k) === 34 ? 2 : 1
          name += sql.slice(j + 1, k).replace(/""/g, "\"")
          j = k + 1
        } else if (isIdentStart(sql.charCodeAt(j))) {
          let k = j
          while (k < n && isIdentPart(sql.charCodeAt(k))) k++
          name += sql.slice(j, k)
          j = k
        } else break
        if (sql.charCodeAt(j) === 46 && j + 1 < n && (sql.charCodeAt(j + 1) === 34 || isIdentStart(sql.charCodeAt(j + 1)))) {
          name += "."
          j++
        } else break
      }
      const quoted = c === 34
      const word = quoted ? "" : name.toUpperCase()
      if (expectTable && !SKIPPED_BEFORE_TABLE.has(word)) {
        if (!collections.includes(name)) collections.push(name)
        expectTable = false
        fromList = lastKeyword === "FROM" || operation === "TRUNCATE"
        fromDepth = depth
      } else if (depth === 0 && !quoted && operation === "" && VERBS.has(word)) {
        operation = word
        withClause = word === "WITH"
        if (TABLE_BEFORE.has(word)) expectTable = true
      } else if (depth === 0 && !quoted && withClause && VERBS.has(word) && word !== "WITH") {
        operation = word
        withClause = false
        if (TABLE_BEFORE.has(word)) expectTable = true
      } else if (!quoted && TABLE_BEFORE.has(word) && !(operation === "COPY" && collections.length > 0)) {
        expectTable = true
        lastKeyword = word
      } else if (!quoted && KEYWORDS_ENDING_LIST.has(word)) {
        fromList = false
      }
      i = j
      continue
    }
    if (c === 40) depth++
    else if (c === 41) depth = Math.max(0, depth - 1)
    else if (c === 44 && fromList && depth === fromDepth) expectTable = true
    else if (c === 59) fromList = false
    i++
  }
  const sanitized = copied === 0 ? sql : out + sql.slice(copied)
  // An operation that is still WITH found no verb at the top level.
  const summaryText = [operation, ...collections].filter((s) => s !== "").join(" ")
  return {
    operation,
    collections,
    summary: summaryText.length > MAX_SUMMARY_LENGTH ? summaryText.slice(0, MAX_SUMMARY_LENGTH) : summaryText,
    sanitized
  }
}

let cache = new Map<string, Summary>()

/**
 * `summarize`, cached per text (at most `SUMMARY_CACHE_SIZE` texts).
 *
 * @since 0.1.0
 */
export const summaryOf = (sql: string): Summary => {
  let summary = cache.get(sql)
  if (summary === undefined) {
    summary = summarize(sql)
    if (cache.size >= SUMMARY_CACHE_SIZE) cache = new Map()
    cache.set(sql, summary)
  }
  return summary
}
