/**
 * Protocol 2.0 errors and notices: one string each (protocol-2.0
 * "ErrorResponse", "NoticeResponse"), `<SEVERITY>:  <message>[ at character
 * N]\n` followed, for some, by more lines.
 *
 * **Details**
 *
 * - `severity` is the text before the first `":  "` (localized, so never
 *   compared with anything), `message` the rest of the first line without
 *   ` at character N`, which becomes `position`; the lines after the first are
 *   the `detail` (as libpq 13's fe-protocol2.c kept them).
 * - A string without `":  "` is kept whole as the message, under the severity
 *   its message type implies (ERROR for `E`, NOTICE for `N`).
 * - There is no SQLSTATE (it cannot be recovered from the localized text):
 *   `code` is `UNKNOWN_SQLSTATE`, which is never retryable.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import { ServerError, UNKNOWN_SQLSTATE } from "../../errors/PgError.ts"
import type { Notice } from "../Result.ts"

/** The parts of a 2.0 error or notice string. */
export interface ErrorText {
  readonly severity: string
  readonly message: string
  readonly position: number | undefined
  readonly detail: string | undefined
}

const SEPARATOR = ":  "
const POSITION = / at character (\d+)$/

/**
 * Splits a 2.0 error or notice string into its parts.
 *
 * @since 0.1.0
 */
export const parse = (text: string, defaultSeverity: string): ErrorText => {
  const body = text.endsWith("\n") ? text.slice(0, -1) : text
  const newline = body.indexOf("\n")
  let first = newline < 0 ? body : body.slice(0, newline)
  const rest = newline < 0 ? undefined : body.slice(newline + 1)
  let severity = defaultSeverity
  const at = first.indexOf(SEPARATOR)
  // A severity is one word: "ERROR", "FATAL", or its translation.
  if (at > 0 && !first.slice(0, at).includes(" ")) {
    severity = first.slice(0, at)
    first = first.slice(at + SEPARATOR.length)
  }
  let position: number | undefined
  const found = POSITION.exec(first)
  if (found !== null) {
    position = Number(found[1])
    first = first.slice(0, found.index)
  }
  return { severity, message: first, position, detail: rest === undefined || rest === "" ? undefined : rest }
}

/**
 * A 2.0 ErrorResponse string as a `ServerError` (code `UNKNOWN_SQLSTATE`).
 *
 * @since 0.1.0
 */
export const toServerError = (text: string): ServerError => {
  const p = parse(text, "ERROR")
  return new ServerError({
    severity: p.severity,
    code: UNKNOWN_SQLSTATE,
    message: p.message,
    ...(p.detail === undefined ? {} : { detail: p.detail }),
    ...(p.position === undefined ? {} : { position: p.position })
  })
}

/**
 * A 2.0 NoticeResponse string as a `Notice` (code `UNKNOWN_SQLSTATE`; `fields`
 * holds what the text gave: S, M, D, P).
 *
 * @since 0.1.0
 */
export const toNotice = (text: string): Notice => {
  const p = parse(text, "NOTICE")
  const fields: Record<string, string> = { S: p.severity, M: p.message }
  if (p.detail !== undefined) fields["D"] = p.detail
  if (p.position !== undefined) fields["P"] = String(p.position)
  return { severity: p.severity, code: UNKNOWN_SQLSTATE, message: p.message, detail: p.detail, fields }
}
