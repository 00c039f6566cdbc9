/**
 * A client's session parameters: the values the proxy keeps for it and sets
 * on whichever upstream serves it.
 *
 * **Details**
 *
 * - A client starts with the server's values of the tracked parameters
 *   (`SessionState.TRACKED_PARAMETERS`), then its start-up parameters over
 *   them (protocol-3.2 "StartupMessage": any other name is a run-time
 *   parameter), then the settings of its `options` parameter; `_pq_.`
 *   protocol options are not parameters.
 * - `options` is read as the server reads it (libpq-connect "options",
 *   `pg_split_opts`): arguments separated by white space, a backslash taking
 *   the next character as is (`-c search_path=a,\ b`); each argument is
 *   `-c name=value`, `-cname=value` or `--name=value` (a `-` in the name is a
 *   `_`). The server's other switches (`-B`, `-d`, ...) are refused at
 *   start-up with 0A000, a malformed setting with 42601.
 * - On each upstream lent to it, the parameters whose value differs from what
 *   the upstream has are set with one `set_config` query (its replies
 *   dropped); the ParameterStatus it causes is relayed. Parameters the proxy
 *   set there for an earlier client beyond the tracked ones (a start-up
 *   `statement_timeout`, say) are RESET first for a client that lacks them,
 *   so no client inherits another's settings. An upstream remembers the
 *   client signature (all names and values) it was last brought to, until a
 *   ParameterStatus, DISCARD ALL or RESET ALL: a client with the same
 *   signature gets it without a comparison.
 * - After RESET ALL (which a ROLLBACK may undo) the values the proxy set are
 *   unknown: set again for a client that has them, reset for one that does
 *   not.
 *
 * Pure: no IO.
 *
 * @since 0.1.0
 */
import * as ServerError from "../server/ServerError.ts"
import * as SessionState from "./SessionState.ts"
import type { Upstream } from "./Upstream.ts"

/** A SQL string literal (standard_conforming_strings on, as every supported server defaults). */
export const literal = (value: string): string => `'${value.replaceAll("'", "''")}'`

/** A quoted SQL identifier. */
const identifier = (name: string): string => `"${name.replaceAll("\"", "\"\"")}"`

const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v"

/**
 * The arguments of an `options` string, split as the server splits them.
 *
 * @since 0.1.0
 */
export const splitOptions = (options: string): Array<string> => {
  const out: Array<string> = []
  let i = 0
  while (i < options.length) {
    while (i < options.length && isSpace(options[i]!)) i++
    if (i >= options.length) break
    let arg = ""
    let escaped = false
    for (; i < options.length; i++) {
      const c = options[i]!
      if (isSpace(c) && !escaped) break
      if (!escaped && c === "\\") escaped = true
      else {
        escaped = false
        arg += c
      }
    }
    out.push(arg)
  }
  return out
}

/** `name=value` of `-c` or `--`: the name lower-cased, `-` read as `_`. */
const setting = (arg: string, switchName: string): readonly [string, string] | ServerError.ServerError => {
  const eq = arg.indexOf("=")
  if (eq <= 0) {
    return ServerError.syntaxError(
      eq === 0 ? `invalid setting in options: ${switchName}${arg}` : `${switchName}${arg} requires a value (options)`
    )
  }
  return [arg.slice(0, eq).replaceAll("-", "_").toLowerCase(), arg.slice(eq + 1)]
}

/**
 * The settings of an `options` start-up parameter, in order, or the error
 * that refuses the client.
 *
 * @since 0.1.0
 */
export const parseOptions = (options: string): Array<readonly [string, string]> | ServerError.ServerError => {
  const args = splitOptions(options)
  const out: Array<readonly [string, string]> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    let parsed: readonly [string, string] | ServerError.ServerError
    if (arg === "-c") {
      const next = args[++i]
      if (next === undefined) return ServerError.syntaxError("-c requires a value (options)")
      parsed = setting(next, "-c ")
    } else if (arg.startsWith("-c")) parsed = setting(arg.slice(2), "-c")
    else if (arg.startsWith("--") && arg.length > 2) parsed = setting(arg.slice(2), "--")
    else {
      return ServerError.featureNotSupported(
        `the proxy does not take the server switch ${JSON.stringify(arg)} in options, only -c name=value and --name=value`
      )
    }
    if (parsed instanceof ServerError.ServerError) return parsed
    out.push(parsed)
  }
  return out
}

/**
 * A client's parameters at start-up, by lower-case name.
 *
 * @since 0.1.0
 */
export const initial = (
  server: ReadonlyMap<string, string> | undefined,
  startup: ReadonlyMap<string, string>
): Map<string, string> => {
  const parameters = new Map<string, string>()
  if (server !== undefined) {
    for (const [name, value] of server) {
      if (SessionState.TRACKED_PARAMETERS.has(name.toLowerCase())) parameters.set(name.toLowerCase(), value)
    }
  }
  for (const [name, value] of startup) {
    if (!SessionState.STARTUP_ONLY.has(name) && !name.startsWith("_pq_.")) parameters.set(name.toLowerCase(), value)
  }
  const options = startup.get("options")
  if (options !== undefined) {
    const settings = parseOptions(options)
    // Refused at start-up when malformed (see PgProxy's parameters hook).
    if (Array.isArray(settings)) for (const [name, value] of settings) parameters.set(name, value)
  }
  return parameters
}

/**
 * The query that brings an upstream to the client's `parameters`, or
 * undefined when it is there already. `settings`: what the upstream has (the
 * server's reports and what the proxy set); `extra`: the names the proxy set
 * there beyond the tracked ones. Both are updated as if the query had run
 * (the server's ParameterStatus then replaces what it reports).
 *
 * @since 0.1.0
 */
export const settingQuery = (
  parameters: ReadonlyMap<string, string>,
  settings: Map<string, string>,
  extra: Set<string>
): string | undefined => {
  let resets = ""
  for (const name of extra) {
    if (parameters.has(name)) continue
    resets += `RESET ${identifier(name)}; `
    extra.delete(name)
    settings.delete(name)
  }
  let sql = ""
  for (const [name, value] of parameters) {
    if (!SessionState.TRACKED_PARAMETERS.has(name)) extra.add(name)
    if (settings.get(name) === value) continue
    sql += `${sql === "" ? "SELECT " : ", "}pg_catalog.set_config(${literal(name)}, ${literal(value)}, false)`
    settings.set(name, value)
  }
  return sql === "" && resets === "" ? undefined : resets + sql
}

const decoder = new TextDecoder()

/**
 * One client's parameters: their values, which of them the proxy follows,
 * and the query that brings an upstream to them.
 *
 * @since 0.1.0
 */
export class ClientParameters {
  /** By lower-case name. */
  readonly values: Map<string, string>
  /** The parameters the server reports (lower-case). */
  readonly #reported: ReadonlySet<string>
  /** The values as one string, made again after they change (an upstream remembers the last it got). */
  #signature: string | undefined = undefined

  constructor(server: ReadonlyMap<string, string> | undefined, startup: ReadonlyMap<string, string>, reported: ReadonlySet<string>) {
    this.values = initial(server, startup)
    this.#reported = reported
  }

  /**
   * Whether the proxy follows the value of parameter `name` (a SET of it does not pin): a tracked one, or one the
   * client set at start-up that the server reports (its new value comes back as ParameterStatus).
   */
  readonly tracked = (name: string): boolean =>
    SessionState.TRACKED_PARAMETERS.has(name) || (this.values.has(name) && this.#reported.has(name))

  /** A ParameterStatus body `buf[start, end)` relayed to the client: a followed value is kept. */
  reportedBy(buf: Uint8Array, start: number, end: number): void {
    const nameEnd = buf.indexOf(0, start)
    if (nameEnd < 0 || nameEnd >= end) return
    const valueEnd = buf.indexOf(0, nameEnd + 1)
    const name = decoder.decode(buf.subarray(start, nameEnd)).toLowerCase()
    const value = decoder.decode(buf.subarray(nameEnd + 1, valueEnd < 0 || valueEnd > end ? end : valueEnd))
    if (this.tracked(name) && this.values.get(name) !== value) {
      this.values.set(name, value)
      this.#signature = undefined
    }
  }

  /** The query that brings `upstream` to these parameters (see `settingQuery`), or undefined when it is there. */
  queryFor(upstream: Upstream): string | undefined {
    if (this.#signature === undefined) {
      let signature = ""
      for (const [name, value] of this.values) signature += `${name}\0${value}\0`
      this.#signature = signature
    }
    if (upstream.alignedTo === this.#signature) return undefined
    const sql = settingQuery(this.values, upstream.settings, upstream.extraSettings)
    upstream.alignedTo = this.#signature
    return sql
  }
}
