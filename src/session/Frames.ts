/**
 * Frames the requests write that carry values: Bind, with each parameter
 * encoded straight into the frame by the registry, and CopyFail.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import { CodecError, PgError } from "../errors/PgError.ts"
import { isNullParameter, type Registry } from "../types/Registry.ts"
import { Frontend as Code } from "../wire/Codes.ts"
import type { Writer } from "../wire/Writer.ts"
import type { Connection } from "./Connection.ts"

/**
 * The parameters of a query given none: shared (a default `[]` would be an array per call).
 *
 * @since 0.1.0
 */
export const NO_PARAMS: ReadonlyArray<unknown> = Object.freeze([])

/** The largest value PostgreSQL accepts in a field: 1 GB - 1 (`MaxAllocSize`). @since 0.1.0 */
export const MAX_FIELD_BYTES = 0x3fffffff

/** The largest message PostgreSQL reads (`PQ_LARGE_MESSAGE_LIMIT`, 1 GB - 2 with its length word). @since 0.1.0 */
export const MAX_MESSAGE_BYTES = 0x3fffffff - 1

/** Strings longer than this are measured in UTF-8 before encoding (a third of the field limit could exceed it). */
const LONG_STRING_CHARS = Math.floor(MAX_FIELD_BYTES / 3)

const tooLarge = (what: string, limit: number, parameter?: number): PgError =>
  new PgError({
    reason: new CodecError({
      message: `${what}: PostgreSQL accepts at most ${limit} bytes`,
      ...(parameter === undefined ? {} : { parameter })
    })
  })

/** Bind accepts at most this many parameters (the count is an Int16 the server reads as unsigned). */
export const MAX_PARAMETERS = 65535

const scratchFormats: Array<0 | 1> = []

/**
 * Writes a Bind whose parameter values are encoded straight into the frame by
 * the registry (no intermediate byte arrays).
 *
 * **Details**
 *
 * `types` are the parameter type OIDs the server expects (0 = unknown). Format
 * codes are compressed as the protocol allows: none when every parameter is
 * text, one when all share a format. Throws `PgError` (CodecError naming the
 * parameter) before the frame is complete; the connection rolls the writer
 * back, so nothing partial is ever sent.
 *
 * @since 0.1.0
 */
export const writeBind = (
  w: Writer,
  registry: Registry,
  portal: string,
  statement: string,
  params: ReadonlyArray<unknown>,
  types: ReadonlyArray<number>,
  resultFormats: ReadonlyArray<0 | 1>
): void => {
  const n = params.length
  if (n > MAX_PARAMETERS) {
    throw new PgError({ reason: new CodecError({ message: `${n} parameters exceed the protocol limit of ${MAX_PARAMETERS}` }) })
  }
  if (types.length !== 0 && types.length !== n) {
    throw new PgError({
      reason: new CodecError({ message: `the statement takes ${types.length} parameters but ${n} were given` })
    })
  }
  w.begin(Code.Bind, "Bind")
  w.cstring(portal)
  w.cstring(statement)
  let binary = 0
  let knownBytes = 0
  const formats = scratchFormats
  formats.length = n
  try {
    for (let i = 0; i < n; i++) {
      const v = params[i]
      // Sizes known without encoding (bytes, long strings): a value or a message the server would refuse is
      // refused here, before gigabytes are copied into the frame.
      const size = v instanceof Uint8Array
        ? v.byteLength
        : typeof v === "string" && v.length > LONG_STRING_CHARS
        ? Buffer.byteLength(v)
        : 0
      if (size > MAX_FIELD_BYTES) throw tooLarge(`parameter $${i + 1} is ${size} bytes`, MAX_FIELD_BYTES, i + 1)
      knownBytes += size
      const f = isNullParameter(v) ? 0 : registry.parameterFormat(v, types[i] ?? 0)
      formats[i] = f
      binary += f
    }
  } catch (e) {
    throw toParameterError(e, -1)
  }
  if (knownBytes > MAX_MESSAGE_BYTES) throw tooLarge(`the parameters are ${knownBytes} bytes`, MAX_MESSAGE_BYTES)
  if (binary === 0) {
    w.int16(0)
  } else if (binary === n) {
    w.int16(1)
    w.int16(1)
  } else {
    w.int16(n)
    for (let i = 0; i < n; i++) w.int16(formats[i]!)
  }
  w.int16(n)
  for (let i = 0; i < n; i++) {
    const v = params[i]
    if (isNullParameter(v)) {
      // A typed NULL (`PgTypes.int4(null)`) still declares its type in Parse.
      w.int32(-1)
      continue
    }
    const mark = w.reserve32()
    try {
      registry.writeParameter(w, v, types[i] ?? 0, formats[i]!, i + 1)
    } catch (e) {
      throw toParameterError(e, i + 1)
    }
    w.patch32(mark, w.since(mark) - 4)
  }
  writeFormats(w, resultFormats)
  w.end()
}

const writeFormats = (w: Writer, formats: ReadonlyArray<0 | 1>): void => {
  const n = formats.length
  if (n === 0) {
    w.int16(0)
    return
  }
  const first = formats[0]!
  let same = true
  for (let i = 1; i < n; i++) {
    if (formats[i] !== first) {
      same = false
      break
    }
  }
  if (same) {
    if (first === 0) w.int16(0)
    else w.int16(1).int16(1)
    return
  }
  w.int16(n)
  for (let i = 0; i < n; i++) w.int16(formats[i]!)
}

const toParameterError = (e: unknown, index: number): PgError => {
  if (e instanceof PgError) return e
  if (e instanceof CodecError) return new PgError({ reason: e })
  return new PgError({
    reason: new CodecError({
      message: `${index > 0 ? `parameter $${index}: ` : ""}${e instanceof Error ? e.message : String(e)}`,
      ...(index > 0 ? { parameter: index } : {})
    })
  })
}

/**
 * The OIDs declared in Parse for parameters the server has not described.
 *
 * @since 0.1.0
 */
export const declaredTypes = (registry: Registry, params: ReadonlyArray<unknown>): Array<number> => {
  const out = new Array<number>(params.length)
  for (let i = 0; i < params.length; i++) {
    const v = params[i]
    out[i] = v === null || v === undefined ? 0 : registry.parameterOid(v)
  }
  return out
}

/**
 * Writes CopyFail: ends a COPY FROM the request did not mean to feed.
 *
 * @since 0.1.0
 */
export const sendCopyFail = (conn: Connection, message: string): void => {
  conn.send((w) => {
    w.begin(Code.CopyFail, "CopyFail")
    w.cstring(message.replace(/\0/g, " "))
    w.end()
  })
}
