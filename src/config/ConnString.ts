/**
 * libpq connection strings, both forms, to and from the keywords they set:
 * what `PQconninfoParse` does, without defaults.
 *
 * **Details**
 *
 * The parsers follow libpq's `fe-connect.c` step by step (libpq-connect.sgml
 * "Connection Strings"):
 *
 * - Keyword/value (`conninfo_parse`): blanks are the C `isspace` set; a keyword
 *   runs to `=` or a blank, and only blanks may separate it from its `=`; the
 *   blanks after `=` are skipped, so `host= port=5432` sets `host` to
 *   `port=5432`, as in libpq; an unquoted value runs to the next blank, a
 *   quoted one to the closing quote; a backslash escapes the next character in
 *   both (a trailing one is dropped); a later setting overrides an earlier one.
 * - URI (`conninfo_uri_parse_options`): `postgresql://` or `postgres://`, then
 *   `user[:password]@` (the first `@` before any `/`), comma-separated
 *   `host[:port]` items (IPv6 literals in brackets), `/dbname` (everything up to
 *   `?`, slashes included), and `?name=value&...`. Every component is
 *   percent-decoded; `%00` is refused, and a raw space inside a component is
 *   refused (leading and trailing ones are trimmed), as libpq 17+ does. Empty
 *   user, password, host, port and dbname components set nothing. The host and
 *   port lists are decoded as a whole, so `%2C` splits hosts. Query parameters
 *   must be keywords libpq knows, except `ssl=true`, the JDBC alias of
 *   `sslmode=require`.
 * - In both forms `requiressl=1` means `sslmode=require` and any other
 *   `requiressl` value `sslmode=prefer`.
 *
 * Where this differs from libpq, on purpose:
 *
 * - A NUL character anywhere is an error naming the parameter (C strings end
 *   at a NUL, which silently truncates).
 * - Errors never quote a secret: libpq quotes the offending input, so a
 *   malformed password, or a whole URI holding one, would land in logs. Here a
 *   bad password component says which component failed, syntax errors give an
 *   offset, and a token that follows a secret value (an unquoted password with
 *   a space in it) is not quoted. URI structure errors do not quote the URI.
 * - Percent-decoded bytes must be valid UTF-8 (libpq passes raw bytes on).
 *
 * Pure: no Effect runtime. Errors are `ConfigError` values with the parameter
 * they concern.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import { ConfigError } from "../errors/PgError.ts"
import * as Keywords from "./Keywords.ts"

/**
 * Keyword settings in the order they were first set (later settings of the
 * same keyword replace the value in place).
 *
 * @since 0.1.0
 */
export type Params = ReadonlyMap<string, string>

const URI_DESIGNATOR = "postgresql://"
const SHORT_URI_DESIGNATOR = "postgres://"

/**
 * The length of the URI designator the string starts with, 0 for a
 * keyword/value string (libpq's `uri_prefix_length`).
 *
 * @since 0.1.0
 */
export const uriPrefixLength = (connectionString: string): number =>
  connectionString.startsWith(URI_DESIGNATOR)
    ? URI_DESIGNATOR.length
    : connectionString.startsWith(SHORT_URI_DESIGNATOR)
    ? SHORT_URI_DESIGNATOR.length
    : 0

// The internal failure: thrown by the helpers below, caught once in `parse`.
class Failure {
  readonly error: ConfigError
  constructor(message: string, parameter?: string | undefined) {
    this.error = new ConfigError(parameter === undefined ? { message } : { message, parameter })
  }
}

const fail = (message: string, parameter?: string | undefined): never => {
  throw new Failure(message, parameter)
}

// C isspace in the "C" locale.
const isSpace = (c: string | undefined): boolean =>
  c === " " || c === "\t" || c === "\n" || c === "\v" || c === "\f" || c === "\r"

const NUL = "\u0000"

// Stores a value as conninfo_storeval does: requiressl is translated, an
// unknown keyword is reported by the caller, a NUL is refused.
const store = (params: Map<string, string>, keyword: string, value: string): boolean => {
  if (keyword === "requiressl") {
    keyword = "sslmode"
    value = value.startsWith("1") ? "require" : "prefer"
  }
  if (Keywords.byKeyword(keyword) === undefined) return false
  if (value.includes(NUL)) fail(`${keyword} must not contain a NUL character`, keyword)
  params.set(keyword, value)
  return true
}

const describeToken = (token: string, afterSecret: string | undefined, offset: number): string =>
  afterSecret !== undefined
    ? `at offset ${offset} (after the value of ${afterSecret}; quote values that contain spaces)`
    : token.includes(NUL)
    ? `at offset ${offset}`
    : `"${token}"`

// ---------------------------------------------------------------------------
// keyword/value
// ---------------------------------------------------------------------------

const parseKeywordValue = (s: string): Map<string, string> => {
  const params = new Map<string, string>()
  const n = s.length
  let i = 0
  // The keyword of the previous setting when it was a secret: a stray token
  // right after it is probably the rest of an unquoted password.
  let afterSecret: string | undefined = undefined
  while (i < n) {
    if (isSpace(s[i])) {
      i++
      continue
    }
    const nameStart = i
    while (i < n && s[i] !== "=" && !isSpace(s[i])) i++
    const name = s.slice(nameStart, i)
    while (i < n && isSpace(s[i])) i++
    if (s[i] !== "=") {
      fail(`missing "=" after ${describeToken(name, afterSecret, nameStart)} in connection info string`)
    }
    i++
    while (i < n && isSpace(s[i])) i++
    let value = ""
    if (s[i] !== "'") {
      while (i < n && !isSpace(s[i])) {
        if (s[i] === "\\") {
          i++
          if (i < n) value += s[i++]
        } else {
          value += s[i++]
        }
      }
    } else {
      i++
      for (;;) {
        if (i >= n) {
          fail("unterminated quoted string in connection info string", Keywords.byKeyword(name)?.keyword)
        }
        if (s[i] === "\\") {
          i++
          if (i < n) value += s[i++]
          continue
        }
        if (s[i] === "'") {
          i++
          break
        }
        value += s[i++]
      }
    }
    if (!store(params, name, value)) {
      fail(`invalid connection option ${describeToken(name, afterSecret, nameStart)}`)
    }
    afterSecret = Keywords.isSecret(name) ? name : undefined
  }
  return params
}

// ---------------------------------------------------------------------------
// URI
// ---------------------------------------------------------------------------

const UTF8 = new TextDecoder("utf-8", { fatal: true })

const hexValue = (c: string | undefined): number => {
  if (c === undefined) return -1
  const code = c.charCodeAt(0)
  if (code >= 48 && code <= 57) return code - 48
  if (code >= 65 && code <= 70) return code - 55
  if (code >= 97 && code <= 102) return code - 87
  return -1
}

/**
 * Percent-decodes one URI component as libpq's `conninfo_uri_decode` does.
 *
 * **Details**
 *
 * Leading and trailing spaces are trimmed; a space inside is an error, so is a
 * `%` not followed by two hex digits, and `%00`. `+` is kept (it is not form
 * encoding). Decoded bytes are read as UTF-8 (a lone byte that is not UTF-8
 * becomes U+FFFD). `what` names the component in errors; when `secret` is set
 * the component itself is never quoted.
 *
 * @since 0.1.0
 */
export const decodeComponent = (
  raw: string,
  what: string,
  secret = false
): Result.Result<string, ConfigError> => {
  try {
    return Result.succeed(decodeUnsafe(raw, what, secret))
  } catch (e) {
    if (e instanceof Failure) return Result.fail(e.error)
    throw e
  }
}

const decodeUnsafe = (raw: string, what: string, secret: boolean): string => {
  const quoted = secret ? ` in ${what}` : `: "${raw}"`
  const n = raw.length
  let i = 0
  while (i < n && raw[i] === " ") i++
  const bytes: Array<number> = []
  let plain = ""
  const flush = () => {
    if (bytes.length > 0) {
      try {
        plain += UTF8.decode(Uint8Array.from(bytes))
      } catch {
        fail(`percent-encoded bytes are not valid UTF-8${quoted}`, secret ? what : undefined)
      }
      bytes.length = 0
    }
  }
  for (;;) {
    const c = raw[i]
    if (c === undefined || c === " ") break
    if (c !== "%") {
      flush()
      plain += c
      i++
      continue
    }
    const hi = hexValue(raw[i + 1])
    const lo = hi < 0 ? -1 : hexValue(raw[i + 2])
    if (lo < 0) fail(`invalid percent-encoded token${quoted}`, secret ? what : undefined)
    const byte = (hi << 4) | lo
    if (byte === 0) fail(`forbidden value %00 in percent-encoded value${quoted}`, secret ? what : undefined)
    bytes.push(byte)
    i += 3
  }
  flush()
  while (i < n && raw[i] === " ") i++
  if (i < n) {
    fail(
      secret
        ? `unexpected spaces found in ${what}, use percent-encoded spaces (%20) instead`
        : `unexpected spaces found in "${raw}", use percent-encoded spaces (%20) instead`,
      secret ? what : undefined
    )
  }
  return plain
}

const decode = (raw: string, keyword: string): string => decodeUnsafe(raw, keyword, Keywords.isSecret(keyword))

const storeDecoded = (params: Map<string, string>, keyword: string, raw: string): void => {
  store(params, keyword, decode(raw, keyword))
}

const parseUri = (uri: string): Map<string, string> => {
  const params = new Map<string, string>()
  const n = uri.length
  let p = uriPrefixLength(uri)
  const start = p

  // Look ahead for the user credentials designator.
  let q = p
  while (q < n && uri[q] !== "@" && uri[q] !== "/") q++
  if (uri[q] === "@") {
    let u = start
    while (uri[u] !== ":" && uri[u] !== "@") u++
    const user = uri.slice(start, u)
    if (user !== "") storeDecoded(params, "user", user)
    if (uri[u] === ":") {
      const password = uri.slice(u + 1, q)
      if (password !== "") storeDecoded(params, "password", password)
    }
    p = q + 1
  }

  // host[:port] items separated by commas.
  let hosts = ""
  let ports = ""
  let terminator = ""
  for (;;) {
    let host: string
    if (uri[p] === "[") {
      const hostStart = ++p
      while (p < n && uri[p] !== "]") p++
      if (p >= n) {
        fail(`end of string reached when looking for matching "]" in IPv6 host address in URI`, "host")
      }
      if (p === hostStart) fail(`IPv6 host address may not be empty in URI`, "host")
      host = uri.slice(hostStart, p)
      p++
      const next = uri[p]
      if (next !== undefined && next !== ":" && next !== "/" && next !== "?" && next !== ",") {
        fail(`unexpected character "${next}" at position ${p + 1} in URI (expected ":" or "/")`, "host")
      }
    } else {
      const hostStart = p
      while (p < n && uri[p] !== ":" && uri[p] !== "/" && uri[p] !== "?" && uri[p] !== ",") p++
      host = uri.slice(hostStart, p)
    }
    terminator = uri[p] ?? ""
    hosts += host
    if (terminator === ":") {
      const portStart = ++p
      while (p < n && uri[p] !== "/" && uri[p] !== "?" && uri[p] !== ",") p++
      terminator = uri[p] ?? ""
      ports += uri.slice(portStart, p)
    }
    if (terminator !== ",") break
    p++
    hosts += ","
    ports += ","
  }
  if (hosts !== "") storeDecoded(params, "host", hosts)
  if (ports !== "") storeDecoded(params, "port", ports)

  if (terminator === "/") {
    const dbStart = ++p
    while (p < n && uri[p] !== "?") p++
    terminator = uri[p] ?? ""
    const dbname = uri.slice(dbStart, p)
    // An empty dbname is not stored: it would hide PGDATABASE.
    if (dbname !== "") storeDecoded(params, "dbname", dbname)
  }
  if (terminator === "?") parseQuery(uri, p + 1, params)
  return params
}

const parseQuery = (uri: string, from: number, params: Map<string, string>): void => {
  const n = uri.length
  let p = from
  let afterSecret: string | undefined = undefined
  while (p < n) {
    const keywordStart = p
    let valueStart = -1
    let keywordEnd = -1
    for (;;) {
      const c = uri[p]
      if (c === "=") {
        if (valueStart >= 0) {
          fail(`extra key/value separator "=" in URI query parameter: ${quoteKeyword(uri.slice(keywordStart, keywordEnd))}`)
        }
        keywordEnd = p
        valueStart = ++p
      } else if (c === "&" || c === undefined) {
        if (valueStart < 0) {
          fail(
            `missing key/value separator "=" in URI query parameter: ${
              describeToken(uri.slice(keywordStart, p), afterSecret, keywordStart)
            }`
          )
        }
        break
      } else {
        p++
      }
    }
    const rawValue = uri.slice(valueStart, p)
    if (p < n) p++
    let keyword = decodeUnsafe(uri.slice(keywordStart, keywordEnd), "URI query parameter name", false)
    let value = decode(rawValue, keyword)
    // JDBC compatibility (libpq-connect.sgml "Connection URIs").
    if (keyword === "ssl" && value === "true") {
      keyword = "sslmode"
      value = "require"
    }
    if (!store(params, keyword, value)) fail(`invalid URI query parameter: ${quoteKeyword(keyword)}`)
    afterSecret = Keywords.isSecret(keyword) ? keyword : undefined
  }
}

const quoteKeyword = (keyword: string): string => (keyword.includes(NUL) ? "(contains a NUL character)" : `"${keyword}"`)

/**
 * Parses a connection string, URI or keyword/value, into the keywords it
 * sets (`PQconninfoParse`: no defaults, no environment).
 *
 * @since 0.1.0
 */
export const parse = (connectionString: string): Result.Result<Params, ConfigError> => {
  try {
    return Result.succeed(
      uriPrefixLength(connectionString) > 0 ? parseUri(connectionString) : parseKeywordValue(connectionString)
    )
  } catch (e) {
    if (e instanceof Failure) return Result.fail(e.error)
    throw e
  }
}

// ---------------------------------------------------------------------------
// formatting
// ---------------------------------------------------------------------------

const quoteValue = (value: string): string => `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`

/**
 * Writes settings as a keyword/value string, every value quoted, so that
 * `parse` gives exactly the same settings back.
 *
 * @since 0.1.0
 */
export const formatKeywordValue = (params: Iterable<readonly [string, string]>): string => {
  const parts: Array<string> = []
  for (const [keyword, value] of params) parts.push(`${keyword}=${quoteValue(value)}`)
  return parts.join(" ")
}

// RFC 3986 unreserved characters pass through; everything else is escaped,
// including the space (libpq trims and rejects raw spaces) and "+".
const encodeComponent = (value: string): string => {
  let out = ""
  for (const byte of new TextEncoder().encode(value)) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
  }
  return out
}

/**
 * Writes settings as a `postgresql://` URI that `parse` reads back as the same
 * settings.
 *
 * **Details**
 *
 * `user`, `password`, the `host`/`port` lists and `dbname` go in their URI
 * positions (an IPv6 address in brackets); everything else becomes a query
 * parameter. Every component is percent-encoded. A setting the URI positions
 * cannot express exactly (an empty `user`, `password`, `port` or `dbname`, or
 * `host` and `port` lists of different lengths) becomes a query parameter
 * instead: `port=''` is a setting of its own (the default port, not `PGPORT`,
 * as libpq reads it), so it goes as `?port=`.
 *
 * @since 0.1.0
 */
export const formatUri = (params: Params): string => {
  const query: Array<string> = []
  const user = params.get("user")
  const password = params.get("password")
  const host = params.get("host")
  const port = params.get("port")
  const dbname = params.get("dbname")

  let userinfo = ""
  if (user !== undefined && user !== "") {
    userinfo = encodeComponent(user)
    if (password !== undefined && password !== "") userinfo += `:${encodeComponent(password)}`
    userinfo += "@"
  } else if (password !== undefined && password !== "") {
    userinfo = `:${encodeComponent(password)}@`
  }

  let hostspec = ""
  const hostItems = host === undefined || host === "" ? [] : host.split(",")
  const portItems = port === undefined || port === "" ? [] : port.split(",")
  const inline = hostItems.length > 0 && (portItems.length === 0 || portItems.length === hostItems.length)
  if (inline) {
    hostspec = hostItems
      .map((h, k) => {
        const name = h.includes(":") ? `[${encodeComponent(h)}]` : encodeComponent(h)
        const p = portItems[k]
        return p === undefined || p === "" ? name : `${name}:${encodeComponent(p)}`
      })
      .join(",")
  }

  for (const [keyword, value] of params) {
    const positional = keyword === "user" ? user !== ""
      : keyword === "password" ? password !== ""
      : keyword === "host" ? inline
      // An empty port (the default port) has no place in the authority, where an empty item sets nothing.
      : keyword === "port" ? inline && port !== ""
      : keyword === "dbname" ? dbname !== ""
      : false
    if (!positional) query.push(`${encodeComponent(keyword)}=${encodeComponent(value)}`)
  }

  const path = dbname !== undefined && dbname !== "" ? `/${encodeComponent(dbname)}` : query.length > 0 ? "/" : ""
  return `${URI_DESIGNATOR}${userinfo}${hostspec}${path}${query.length > 0 ? `?${query.join("&")}` : ""}`
}
