/**
 * The settings a protocol 2.0 session's text decoders depend on, and when to
 * check them (PROTOCOL-2.0 §1.7, §2 "Start-up settings").
 *
 * **Details**
 *
 * - Every 2.0 row is text, read in the styles the setup Query pins: dates in
 *   ISO DateStyle, intervals in the `postgres` IntervalStyle, UTF-8, and floats
 *   printed exactly (`extra_float_digits` above 0 from PostgreSQL 12, 3 before).
 *   `client_encoding` also decides how the server reads the UTF-8 literals of
 *   parameters.
 * - 3.x learns of a change from ParameterStatus and breaks the session
 *   (`Startup.checkParameter`); 2.0 has none, so after a request that may have
 *   changed one (a `SET`, `RESET` or `DISCARD` command tag, or `set_config` in
 *   its text) the session asks the server with `CHECK_SQL` before the caller
 *   sees the results. A SET inside a function body is not seen.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import { checkParameter } from "../Startup.ts"

/**
 * The query that reads the settings, in the order of `problem`'s row.
 *
 * @since 0.1.0
 */
export const CHECK_SQL =
  "SELECT pg_catalog.current_setting('DateStyle'), pg_catalog.current_setting('IntervalStyle'), " +
  "pg_catalog.current_setting('client_encoding'), pg_catalog.current_setting('extra_float_digits')"

const SET_CONFIG = /set_config/i

/**
 * Whether a request with this text and these command tags may have changed a setting.
 *
 * @since 0.1.0
 */
export const mayChange = (sql: string, tags: ReadonlyArray<string>): boolean =>
  tags.some((tag) => tag === "SET" || tag === "RESET" || tag.startsWith("DISCARD")) || SET_CONFIG.test(sql)

/**
 * Why the row of `CHECK_SQL` makes text unreadable, with the setting's name, or undefined.
 *
 * @since 0.1.0
 */
export const problem = (
  row: ReadonlyArray<unknown> | undefined,
  serverMajor: number
): { readonly parameter: string; readonly message: string } | undefined => {
  if (row === undefined) return undefined
  const names = ["DateStyle", "IntervalStyle", "client_encoding"] as const
  for (let i = 0; i < names.length; i++) {
    const value = row[i]
    if (typeof value !== "string") continue
    const message = checkParameter(names[i]!, value)
    if (message !== undefined) return { parameter: names[i]!, message }
  }
  const digits = Number(row[3])
  const least = serverMajor >= 12 ? 1 : 3
  if (Number.isFinite(digits) && digits < least) {
    return {
      parameter: "extra_float_digits",
      message: `extra_float_digits was changed to ${digits}: floats would be read rounded (the session needs ${least} or more)`
    }
  }
  return undefined
}
