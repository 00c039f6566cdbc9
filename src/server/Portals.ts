/**
 * Prepared statements, portals and rows of one server connection: the
 * extended protocol's objects, parameter decoding (Bind) and row encoding
 * (RowDescription, DataRow) through `src/types` codecs.
 *
 * **Details**
 *
 * - A portal owns a Scope: the handler's `execute` runs in it, and it closes at
 *   Close, when a Bind replaces the unnamed portal, at the end of the
 *   transaction (the Sync ending an implicit one, or a commit/rollback
 *   outcome), or with the connection.
 * - Rows are pulled from the handler's Stream chunk by chunk and only while
 *   the client asks: an Execute with `max_rows` stops after that many rows
 *   (PortalSuspended) and keeps the rest of the chunk for the next Execute.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Pull from "effect/Pull"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Backend from "../protocol/Backend.ts"
import type * as Frontend from "../protocol/Frontend.ts"
import { CodecError, ServerError as PgServerError } from "../errors/PgError.ts"
import { defaultRegistry } from "../types/Registry.ts"
import type { TypeCodec } from "../types/TypeCodec.ts"
import * as Utf8 from "../wire/Utf8.ts"
import type { Writer } from "../wire/Writer.ts"
import { type BoundParams, codecOf, type Field, type Outcome, type Prepared, type Row, typeSize } from "./Handler.ts"
import * as ServerError from "./ServerError.ts"
import type { Wire } from "./Wire.ts"

/**
 * A prepared statement.
 *
 * @since 0.1.0
 */
export interface Statement<R> {
  readonly name: string
  readonly sql: string
  readonly prepared: Prepared<R>
}

/** Writes one value (without its length word). Throws `CodecError` or `ServerError`. */
type ValueEncoder = (w: Writer, value: unknown) => void

/**
 * A result being sent: the pull over the handler's rows and what is left of
 * the last chunk.
 *
 * @since 0.1.0
 */
export interface RowsRun<R> {
  readonly encoders: ReadonlyArray<ValueEncoder>
  readonly pull: Pull.Pull<ReadonlyArray<Row>, PgServerError, void, R>
  chunk: ReadonlyArray<Row>
  index: number
  sent: number
  readonly tag: (rows: number) => string
}

/**
 * A portal.
 *
 * @since 0.1.0
 */
export interface Portal<R> {
  readonly name: string
  readonly statement: Statement<R>
  readonly params: BoundParams
  readonly formats: ReadonlyArray<0 | 1>
  readonly scope: Scope.Closeable
  /** The handler's outcome, once the first Execute ran it. */
  outcome: Outcome<R> | undefined
  rows: RowsRun<R> | undefined
  /** The command tag once the portal ran to completion (a later Execute repeats an empty completion). */
  completedTag: string | undefined
}

/** The command tag of a row result when the handler gives none. @since 0.1.0 */
export const selectTag = (n: number): string => `SELECT ${n}`

/**
 * The format of each result column from Bind's result format codes (none: all
 * text; one: all of it; else one per column).
 *
 * @since 0.1.0
 */
export const resultFormats = (
  fields: ReadonlyArray<Field> | null,
  codes: ReadonlyArray<0 | 1>
): ReadonlyArray<0 | 1> | ServerError.ServerError => {
  const n = fields?.length ?? 0
  if (codes.length === 0) return new Array(n).fill(0)
  if (codes.length === 1) return new Array(n).fill(codes[0])
  if (codes.length !== n) {
    return ServerError.protocolViolation(`bind message has ${codes.length} result formats but query has ${n} columns`, "ERROR")
  }
  return codes
}

/**
 * The RowDescription of `fields` sent in `formats`.
 *
 * @since 0.1.0
 */
export const rowDescription = (fields: ReadonlyArray<Field>, formats: ReadonlyArray<0 | 1>): Backend.RowDescription => ({
  _tag: "RowDescription",
  fields: fields.map((f, i) => ({
    name: f.name,
    tableOid: f.tableOid ?? 0,
    columnAttributeNumber: f.columnAttributeNumber ?? 0,
    dataTypeOid: f.typeOid,
    dataTypeSize: typeSize(f.typeOid),
    typeModifier: f.typeModifier ?? -1,
    formatCode: formats[i] ?? 0
  }))
})

const textOf = (codec: TypeCodec<any> | undefined, value: unknown): string => {
  if (typeof value === "string") return value
  if (codec !== undefined) return codec.encodeText(value)
  if (typeof value === "object") return JSON.stringify(value)
  return String(value)
}

/**
 * The value encoders of `fields` in `formats`: a ServerError (0A000) when a
 * binary column has no binary encoder.
 *
 * @since 0.1.0
 */
export const encoders = (
  fields: ReadonlyArray<Field>,
  formats: ReadonlyArray<0 | 1>
): ReadonlyArray<ValueEncoder> | ServerError.ServerError => {
  const out: Array<ValueEncoder> = []
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!
    const codec = codecOf(field)
    if (formats[i] === 1) {
      const binary = codec?.encodeBinary
      if (binary === undefined) {
        out.push((w, v) => {
          if (v instanceof Uint8Array) w.bytes(v)
          else throw ServerError.featureNotSupported(`no binary output function available for type ${field.typeOid}`)
        })
      } else {
        out.push((w, v) => (v instanceof Uint8Array && codec!.oid !== 17 ? w.bytes(v) : binary(w, v)))
      }
    } else {
      out.push((w, v) => {
        if (v instanceof Uint8Array && codec === undefined) w.bytes(v)
        else w.string(textOf(codec, v))
      })
    }
  }
  return out
}

/** Encoding failures as the client sees them: a codec's message as 22P02-like data exceptions. */
const encodeFailure = (e: unknown): ServerError.ServerError => {
  if (e instanceof PgServerError) return e
  if (e instanceof CodecError) return ServerError.make("22000", e.message)
  return ServerError.internalError()
}

/**
 * Appends one DataRow. Returns a ServerError (and leaves no partial frame) when
 * a value cannot be encoded.
 *
 * @since 0.1.0
 */
export const writeDataRow = (
  w: Writer,
  row: Row,
  encode: ReadonlyArray<ValueEncoder>
): ServerError.ServerError | undefined => {
  const start = w.mark()
  try {
    if (row.length !== encode.length) {
      return ServerError.internalError()
    }
    w.begin(0x44, "DataRow")
    w.int16(encode.length)
    for (let i = 0; i < encode.length; i++) {
      const v = row[i]
      if (v === null || v === undefined) {
        w.int32(-1)
        continue
      }
      const mark = w.reserve32()
      encode[i]!(w, v)
      w.patch32(mark, w.since(mark) - 4)
    }
    w.end()
    return undefined
  } catch (e) {
    w.truncate(start)
    return encodeFailure(e)
  }
}

/**
 * Sends every row of `rows` as DataRows (no pull kept between messages: a
 * simple query, or an Execute asking for all rows of a fresh portal), pulling
 * a chunk only while the socket takes it. Succeeds with the count sent.
 *
 * @since 0.1.0
 */
export const sendAllRows = <R>(
  wire: Wire,
  rows: Stream.Stream<Row, PgServerError, R>,
  encode: ReadonlyArray<ValueEncoder>
): Effect.Effect<number, ServerError.ServerError, R> => {
  let sent = 0
  return Stream.runForEachArray(rows, (chunk) => {
    for (const row of chunk) {
      const failure = writeDataRow(wire.writer, row, encode)
      if (failure !== undefined) return Effect.fail(failure)
      sent++
    }
    return wire.flushIfFull
  }).pipe(Effect.map(() => sent))
}

/**
 * Starts sending a Rows outcome: its pull lives in `scope`.
 *
 * @since 0.1.0
 */
export const startRows: <R>(
  outcome: Extract<Outcome<R>, { _tag: "Rows" }>,
  formats: ReadonlyArray<0 | 1>,
  scope: Scope.Scope
) => Effect.Effect<RowsRun<R>, ServerError.ServerError, R> = Effect.fnUntraced(
  function*(outcome: Extract<Outcome<any>, { _tag: "Rows" }>, formats: ReadonlyArray<0 | 1>, scope: Scope.Scope) {
    const encode = encoders(outcome.fields, formats)
    if (encode instanceof PgServerError) return yield* Effect.fail(encode)
    const pull = yield* Scope.provide(Stream.toPull(outcome.rows), scope)
    return { encoders: encode, pull, chunk: [], index: 0, sent: 0, tag: outcome.tag ?? selectTag }
  }
)

/**
 * Sends rows of `run` until `maxRows` were sent by this call (0: all of them).
 * Succeeds with `true` when it stopped at `maxRows` (PortalSuspended), `false`
 * at the end of the rows.
 *
 * @since 0.1.0
 */
export const pumpRows: <R>(
  wire: Wire,
  run: RowsRun<R>,
  maxRows: number
) => Effect.Effect<boolean, ServerError.ServerError, R> = Effect.fnUntraced(
  function*(wire: Wire, run: RowsRun<any>, maxRows: number) {
    let n = 0
    while (maxRows <= 0 || n < maxRows) {
      if (run.index >= run.chunk.length) {
        const next = yield* Pull.catchDone(run.pull, () => Effect.succeed(undefined))
        if (next === undefined) return false
        run.chunk = next
        run.index = 0
        continue
      }
      const failure = writeDataRow(wire.writer, run.chunk[run.index++]!, run.encoders)
      if (failure !== undefined) return yield* Effect.fail(failure)
      run.sent++
      n++
      yield* wire.flushIfFull
    }
    return true
  }
)

/**
 * Decodes Bind's parameters for a statement with `types`: a ServerError for a
 * count mismatch (08P01) or a value its codec refuses (22P02/22P03).
 *
 * @since 0.1.0
 */
export const bindParams = (
  bind: Frontend.Bind,
  types: ReadonlyArray<number>
): BoundParams | ServerError.ServerError => {
  const n = bind.parameters.length
  if (n !== types.length) {
    return ServerError.protocolViolation(
      `bind message supplies ${n} parameters, but prepared statement requires ${types.length}`,
      "ERROR"
    )
  }
  const fc = bind.parameterFormats
  if (fc.length > 1 && fc.length !== n) {
    return ServerError.protocolViolation(`bind message has ${fc.length} parameter formats but ${n} parameters`, "ERROR")
  }
  const formats: Array<0 | 1> = []
  const raw: Array<Uint8Array | null> = []
  const values: Array<unknown> = []
  for (let i = 0; i < n; i++) {
    const format = (fc.length === 0 ? 0 : fc.length === 1 ? fc[0]! : fc[i]!) as 0 | 1
    const bytes = bind.parameters[i]!
    formats.push(format)
    const copy = bytes === null ? null : bytes.slice()
    raw.push(copy)
    if (copy === null) {
      values.push(null)
      continue
    }
    const codec = defaultRegistry.get(types[i]!)
    try {
      if (format === 1) {
        values.push(codec?.decodeBinary === undefined ? copy : codec.decodeBinary(copy, 0, copy.length))
      } else {
        const text = Utf8.decode(copy, 0, copy.length)
        if (text === undefined) return ServerError.make("22021", "invalid byte sequence for encoding \"UTF8\"")
        values.push(codec === undefined ? text : codec.decodeText(copy, 0, copy.length))
      }
    } catch (e) {
      return ServerError.invalidParameter(
        `invalid input for parameter $${i + 1}: ${e instanceof Error ? e.message : String(e)}`,
        format === 1
      )
    }
  }
  return { types, formats, raw, values }
}

/**
 * Closes a portal's Scope (its rows pull, the handler's resources).
 *
 * @since 0.1.0
 */
export const closePortal = <R>(portal: Portal<R>): Effect.Effect<void> => Scope.close(portal.scope, Exit.void)
