/**
 * The fields of ErrorResponse and NoticeResponse (protocol-3.2 "Error and
 * Notice Message Fields"): the raw field list as it travels on the wire, and
 * its mapping to and from `ServerError`.
 *
 * **Details**
 *
 * - A field is a one-byte code and a C string. The raw list keeps wire order
 *   and every code, known or not: the docs ask frontends to ignore unknown
 *   codes, which `toServerError` does, but the list itself loses nothing, so a
 *   frame decodes and encodes back to the same bytes.
 * - Codes are ASCII characters other than NUL (a NUL code is the list's
 *   terminator).
 *
 * Pure: imports `effect/Schema` and the error classes only. It does not decide
 * what an error means for the session (retry, break, report): that is the
 * session's job, helped by `ServerError.sqlState`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { ServerError } from "../errors/PgError.ts"
import * as Fields from "./Fields.ts"

/**
 * A field code: one ASCII character other than NUL.
 *
 * @since 0.1.0
 */
export const FieldCode = Schema.String.check(
  Schema.isBetweenLength(1, 1),
  Schema.makeFilter((s: string) => {
    const c = s.charCodeAt(0)
    return (c >= 1 && c <= 0x7f) || "must be an ASCII character other than NUL"
  }, { expected: "an ASCII character other than NUL" })
)

/**
 * One field of an ErrorResponse or NoticeResponse.
 *
 * @since 0.1.0
 */
export const ErrorFieldSchema = Schema.Struct({
  /** The field type, e.g. "S", "C", "M". */
  code: FieldCode,
  /** The field value. */
  value: Fields.CString
})

/**
 * @since 0.1.0
 */
export interface ErrorField extends Schema.Schema.Type<typeof ErrorFieldSchema> {}

/**
 * The field list of an ErrorResponse or NoticeResponse, in wire order.
 *
 * @since 0.1.0
 */
export const ErrorFieldsSchema = Schema.Array(ErrorFieldSchema)

/**
 * Field codes of protocol-3.2 "Error and Notice Message Fields".
 *
 * @since 0.1.0
 */
export const Code = {
  Severity: "S",
  SeverityNonLocalized: "V",
  Code: "C",
  Message: "M",
  Detail: "D",
  Hint: "H",
  Position: "P",
  InternalPosition: "p",
  InternalQuery: "q",
  Where: "W",
  Schema: "s",
  Table: "t",
  Column: "c",
  DataType: "d",
  Constraint: "n",
  File: "F",
  Line: "L",
  Routine: "R"
} as const

/**
 * The value of the field with `code`, or `undefined`.
 *
 * **Details**
 *
 * Any field type "should appear at most once per message"; if one appears
 * twice, the last one wins, as in libpq (which keeps the latest value).
 *
 * @since 0.1.0
 */
export const get = (fields: ReadonlyArray<ErrorField>, code: string): string | undefined => {
  for (let i = fields.length - 1; i >= 0; i--) {
    const field = fields[i]!
    if (field.code === code) return field.value
  }
  return undefined
}

/** A decimal ASCII integer (P, p, L); anything else is not a number. */
const parseDecimal = (value: string): number | undefined => {
  if (!/^[0-9]{1,15}$/.test(value)) return undefined
  return Number(value)
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * Builds a `ServerError` from the fields of an ErrorResponse (or a
 * NoticeResponse, for the same shape).
 *
 * **Details**
 *
 * - Every field of the docs' list is mapped to its `ServerError` property; P
 *   (position), p (internal position) and L (line) are parsed as decimal
 *   integers and left out when they are not one.
 * - S, C and M are "always present" per the docs; if a peer omits one anyway,
 *   severity falls back to V and the missing text is the empty string (nothing
 *   is invented).
 * - Unknown codes are ignored, as the docs require.
 *
 * @since 0.1.0
 */
export const toServerError = (fields: ReadonlyArray<ErrorField>): ServerError => {
  const props: Mutable<ConstructorParameters<typeof ServerError>[0]> = { severity: "", code: "", message: "" }
  let severitySeen = false
  for (const { code, value } of fields) {
    switch (code) {
      case "S":
        props.severity = value
        severitySeen = true
        break
      case "V":
        props.severityNonLocalized = value
        break
      case "C":
        props.code = value
        break
      case "M":
        props.message = value
        break
      case "D":
        props.detail = value
        break
      case "H":
        props.hint = value
        break
      case "P": {
        const n = parseDecimal(value)
        if (n !== undefined) props.position = n
        else delete props.position
        break
      }
      case "p": {
        const n = parseDecimal(value)
        if (n !== undefined) props.internalPosition = n
        else delete props.internalPosition
        break
      }
      case "q":
        props.internalQuery = value
        break
      case "W":
        props.where = value
        break
      case "s":
        props.schema = value
        break
      case "t":
        props.table = value
        break
      case "c":
        props.column = value
        break
      case "d":
        props.dataType = value
        break
      case "n":
        props.constraint = value
        break
      case "F":
        props.file = value
        break
      case "L": {
        const n = parseDecimal(value)
        if (n !== undefined) props.line = n
        else delete props.line
        break
      }
      case "R":
        props.routine = value
        break
    }
  }
  if (!severitySeen && props.severityNonLocalized !== undefined) props.severity = props.severityNonLocalized
  return new ServerError(props)
}

/**
 * The fields of a `ServerError`, in the order the server sends them (S, V, C,
 * M, D, H, P, p, q, W, s, t, c, d, n, F, L, R): what a server engine or a fake
 * server puts in an ErrorResponse.
 *
 * @since 0.1.0
 */
export const fromServerError = (error: ServerError): ReadonlyArray<ErrorField> => {
  const out: Array<ErrorField> = []
  const add = (code: string, value: string | number | undefined) => {
    if (value !== undefined) out.push({ code, value: String(value) })
  }
  add("S", error.severity)
  add("V", error.severityNonLocalized)
  add("C", error.code)
  add("M", error.message)
  add("D", error.detail)
  add("H", error.hint)
  add("P", error.position)
  add("p", error.internalPosition)
  add("q", error.internalQuery)
  add("W", error.where)
  add("s", error.schema)
  add("t", error.table)
  add("c", error.column)
  add("d", error.dataType)
  add("n", error.constraint)
  add("F", error.file)
  add("L", error.line)
  add("R", error.routine)
  return out
}
