/**
 * A client's session parameters: the values the proxy keeps for it and sets
 * on whichever upstream serves it.
 *
 * **Details**
 *
 * - A client starts with the server's values of the tracked parameters
 *   (`SessionState.TRACKED_PARAMETERS`), then its start-up parameters over
 *   them (protocol-3.2 "StartupMessage": any other name is a run-time
 *   parameter); `_pq_.` protocol options are not parameters.
 * - On each upstream lent to it, the parameters whose value differs from what
 *   the upstream has are set with one `set_config` query (its replies
 *   dropped); the ParameterStatus it causes is relayed.
 *
 * Pure.
 *
 * @since 0.1.0
 */
import * as SessionState from "./SessionState.ts"

/** A SQL string literal (standard_conforming_strings on, as every supported server defaults). */
export const literal = (value: string): string => `'${value.replaceAll("'", "''")}'`

/**
 * A client's parameters at start-up, by lower-case name.
 *
 * @since 0.1.0
 */
export const initial = (
  server: ReadonlyMap<string, string> | undefined,
  startup: Iterable<readonly [string, string]>
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
  return parameters
}

/**
 * The query that brings an upstream's `settings` to the client's
 * `parameters`, or undefined when they agree; `settings` is updated as if it
 * had run (the server's ParameterStatus replaces what it reports).
 *
 * @since 0.1.0
 */
export const settingQuery = (parameters: ReadonlyMap<string, string>, settings: Map<string, string>): string | undefined => {
  let sql = ""
  for (const [name, value] of parameters) {
    if (settings.get(name) === value) continue
    sql += `${sql === "" ? "SELECT " : ", "}pg_catalog.set_config(${literal(name)}, ${literal(value)}, false)`
    settings.set(name, value)
  }
  return sql === "" ? undefined : sql
}
