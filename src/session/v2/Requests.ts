/**
 * The requests of a protocol 2.0 session: a Query and its results (simple,
 * query, batch, the status probe), a Query whose rows are streamed with socket
 * backpressure, and FunctionCall (COPY: `Copy`).
 *
 * **Details**
 *
 * - Rows come as AsciiRow (text) or, from a binary cursor, BinaryRow (the
 *   binary `send` format): each value is decoded by the registry's codec for
 *   its type, in that format.
 * - CursorResponse is ignored; EmptyQueryResponse is a result with command ""
 *   and no rows; an ErrorResponse ends the Query string (protocol-2.0 "Simple
 *   Query"), and the first one is the request's error.
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { CodecError, ConfigError, PgError, type ServerError } from "../../errors/PgError.ts"
import * as V2 from "../../protocol/V2.ts"
import type { Registry } from "../../types/Registry.ts"
import type { FieldDecoder } from "../../types/TypeCodec.ts"
import type { FunctionCallResult } from "../Requests.ts"
import { type Field, makeResult, type Notice, type QueryResult, type RowMode } from "../Result.ts"
import * as ErrorText from "./ErrorText.ts"
import { V2Request, type Wire } from "./Wire.ts"

/** Rows a stream buffers before the socket is paused (the consumer is behind). */
export const STREAM_HIGH_WATER_ROWS = 4096

const encoder = new TextEncoder()

/**
 * A Query message.
 *
 * @since 0.1.0
 */
export const queryBytes = (sql: string): Uint8Array => {
  const encoded = V2.encodeFrontend({ _tag: "Query", query: sql })
  if (encoded._tag === "Failure") throw new PgError({ reason: encoded.failure })
  return encoded.success
}

/** A row's values as copies (kept while their types are looked up). */
const rowValues = (buf: Uint8Array, start: number, end: number, n: number, ascii: boolean): Array<Uint8Array | null> => {
  const values: Array<Uint8Array | null> = new Array(n)
  let p = start + ((n + 7) >> 3)
  for (let i = 0; i < n; i++) {
    if ((buf[start + (i >> 3)]! & (0x80 >> (i & 7))) === 0) {
      values[i] = null
      continue
    }
    const size = (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!
    const from = p + 4
    p = ascii ? p + size : from + size
    values[i] = buf.slice(from, Math.min(p, end))
  }
  return values
}

/** A constructor of plain objects (prototype `Object.prototype`), one per result shape. */
const plainObjectConstructor = (): new() => Record<string, unknown> => {
  function PlainRow() {}
  PlainRow.prototype = Object.prototype
  return PlainRow as unknown as new() => Record<string, unknown>
}

/**
 * The shape of one result: its fields and the decoders of its values.
 *
 * @since 0.1.0
 */
export class RowReader {
  fields: ReadonlyArray<Field>
  private readonly description: ReadonlyArray<V2.RowDescriptionField>
  private readonly registry: Registry
  private readonly rowMode: RowMode
  private readonly names: ReadonlyArray<string>
  private readonly protoColumn: boolean
  /** One constructor per shape: its objects share a hidden class sized to the columns (see `Result.RowShape`). */
  private readonly PlainRow = plainObjectConstructor()
  private decoders: ReadonlyArray<FieldDecoder> | undefined = undefined
  private format: 0 | 1 = 0

  constructor(description: ReadonlyArray<V2.RowDescriptionField>, registry: Registry, rowMode: RowMode) {
    this.description = description
    this.registry = registry
    this.rowMode = rowMode
    // Internalized property names: every row object shares one hidden class.
    this.names = description.map((f) => Object.keys({ [f.name]: 0 })[0] ?? f.name)
    this.protoColumn = this.names.includes("__proto__")
    this.fields = this.makeFields(0)
  }

  private makeFields(format: 0 | 1): ReadonlyArray<Field> {
    return this.description.map((f) => ({
      name: f.name,
      tableOid: 0,
      columnAttributeNumber: 0,
      dataTypeOid: f.dataTypeOid,
      dataTypeSize: f.dataTypeSize,
      typeModifier: f.typeModifier,
      format
    }))
  }

  /** The decoders of the columns in `format` (the field list follows a change of format). */
  private decodersFor(format: 0 | 1): ReadonlyArray<FieldDecoder> {
    if (this.decoders !== undefined && format === this.format) return this.decoders
    if (format !== this.format) {
      this.format = format
      this.fields = this.makeFields(format)
    }
    const decoders = this.description.map((f) => this.registry.decoder(f.dataTypeOid, format))
    this.decoders = decoders
    return decoders
  }

  /** A decoder's failure on column `i`, as a CodecError naming the column. */
  private columnError(i: number, e: unknown): PgError {
    const field = this.description[i]!
    return new PgError({
      reason: new CodecError({
        message: `column "${field.name}": ${e instanceof Error ? e.message : String(e)}`,
        oid: field.dataTypeOid,
        column: field.name
      })
    })
  }

  /**
   * Decodes one row body in place (`start`: the null bitmap; the framing has checked the sizes). Throws `PgError`
   * (a CodecError naming the column).
   */
  readAt(buf: Uint8Array, start: number, _end: number, format: 0 | 1): unknown {
    const decoders = this.decodersFor(format)
    const n = decoders.length
    const ascii = format === 0
    let p = start + ((n + 7) >> 3)
    let i = 0
    try {
      if (this.rowMode === "array") {
        const row = new Array<unknown>(n)
        for (; i < n; i++) {
          if ((buf[start + (i >> 3)]! & (0x80 >> (i & 7))) === 0) {
            row[i] = null
            continue
          }
          const size = (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!
          const from = p + 4
          p = ascii ? p + size : from + size
          row[i] = decoders[i]!(buf, from, p)
        }
        return row
      }
      const names = this.names
      const row: Record<string, unknown> = this.protoColumn ? Object.create(null) : new this.PlainRow()
      for (; i < n; i++) {
        if ((buf[start + (i >> 3)]! & (0x80 >> (i & 7))) === 0) {
          row[names[i]!] = null
          continue
        }
        const size = (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!
        const from = p + 4
        p = ascii ? p + size : from + size
        row[names[i]!] = decoders[i]!(buf, from, p)
      }
      return row
    } catch (e) {
      throw this.columnError(i, e)
    }
  }

  /** Decodes one row. Throws `PgError` (a CodecError naming the column). */
  read(values: ReadonlyArray<Uint8Array | null>, format: 0 | 1): unknown {
    const decoders = this.decodersFor(format)
    const n = decoders.length
    let i = 0
    try {
      if (this.rowMode === "array") {
        const row = new Array<unknown>(n)
        for (; i < n; i++) {
          const v = values[i]
          row[i] = v === null || v === undefined ? null : decoders[i]!(v, 0, v.length)
        }
        return row
      }
      const names = this.names
      // A column named __proto__ must be an own property, not the row's prototype.
      const row: Record<string, unknown> = this.protoColumn ? Object.create(null) : new this.PlainRow()
      for (; i < n; i++) {
        const v = values[i]
        row[names[i]!] = v === null || v === undefined ? null : decoders[i]!(v, 0, v.length)
      }
      return row
    } catch (e) {
      throw this.columnError(i, e)
    }
  }
}

/**
 * COPY run by the wrong operation.
 *
 * @since 0.1.0
 */
export const copyMisuse = (what: string): PgError =>
  new PgError({ reason: new ConfigError({ message: `${what} runs through ${what === "COPY FROM STDIN" ? "copyFrom" : "copyTo"}`, parameter: "sql" }) })

/**
 * Options of a Query with results.
 *
 * @since 0.1.0
 */
export interface ResultsOptions {
  readonly rowMode: RowMode
  /** Whether the result of the statement at this index (in completion order) is left out (PREPARE, DEALLOCATE). */
  readonly hidden?: ((index: number) => boolean) | undefined
  /**
   * Whether some of these type OIDs are unknown and not looked up yet: the rows are then kept as bytes
   * (`undecoded`) until the session has looked the types up.
   */
  readonly needsTypes?: ((oids: ReadonlyArray<number>) => boolean) | undefined
  /**
   * Runs when ReadyForQuery came, before the caller is answered (`answer`): the session may first check what the
   * request did (it may set `brokenWith`).
   */
  readonly settle?: ((request: ResultsRequest, answer: () => void) => void) | undefined
}

/**
 * Rows kept as bytes while their types are looked up, and the rows array of the result they belong to.
 *
 * @since 0.1.0
 */
export interface Undecoded {
  readonly description: ReadonlyArray<V2.RowDescriptionField>
  readonly rows: Array<unknown>
  readonly raw: Array<{ readonly values: ReadonlyArray<Uint8Array | null>; readonly format: 0 | 1 }>
}

/**
 * A Query and every result it gives.
 *
 * @since 0.1.0
 */
export class ResultsRequest extends V2Request {
  readonly sql: string
  readonly registry: Registry
  readonly options: ResultsOptions
  readonly resume: (request: ResultsRequest) => void
  readonly results: Array<QueryResult<unknown>> = []
  /** Every command tag, hidden ones included, in order ("" for an empty query). */
  readonly tags: Array<string> = []
  /** The first ErrorResponse, and how many statements had completed before it. */
  serverError: ServerError | undefined = undefined
  completedBeforeError = 0
  /** The first failure of the client (a value a codec refused, COPY misuse). */
  clientError: PgError | undefined = undefined
  /** The session broke. */
  brokenWith: PgError | undefined = undefined
  private reader: RowReader | undefined = undefined
  private rows: Array<unknown> = []
  private notices: Array<Notice> = []
  /** Results whose rows wait for a type lookup. */
  readonly undecoded: Array<Undecoded> = []
  private keeping: Undecoded | undefined = undefined

  constructor(sql: string, registry: Registry, options: ResultsOptions, resume: (request: ResultsRequest) => void) {
    super()
    this.sql = sql
    this.registry = registry
    this.options = options
    this.resume = resume
  }

  bytes(): Uint8Array {
    return queryBytes(this.sql)
  }

  override onNotice(notice: Notice): void {
    this.notices.push(notice)
  }

  /** A row read in place from the receive buffer. */
  override onRowBytes(buf: Uint8Array, start: number, end: number, format: 0 | 1, fieldCount: number): void {
    if (this.clientError !== undefined) return
    if (this.keeping !== undefined) {
      this.keeping.raw.push({ values: rowValues(buf, start, end, fieldCount, format === 0), format })
      return
    }
    try {
      this.onRow(this.reader!.readAt(buf, start, end, format))
    } catch (e) {
      this.clientError = e instanceof PgError ? e : new PgError({ reason: new CodecError({ message: String(e) }) })
    }
  }

  /** A row, decoded (a stream takes it instead of keeping it). */
  protected onRow(row: unknown): void {
    this.rows.push(row)
  }

  onMessage(wire: Wire, m: V2.BackendMessage): void {
    switch (m._tag) {
      case "RowDescription":
        this.reader = new RowReader(m.fields, this.registry, this.options.rowMode)
        this.rows = []
        this.keeping = this.options.needsTypes?.(m.fields.map((f) => f.dataTypeOid)) === true
          ? { description: m.fields, rows: this.rows, raw: [] }
          : undefined
        if (this.keeping !== undefined) this.undecoded.push(this.keeping)
        return
      case "AsciiRow":
      case "BinaryRow": {
        if (this.clientError !== undefined) return
        if (this.keeping !== undefined) {
          this.keeping.raw.push({ values: m.values.map((v) => (v === null ? null : v.slice())), format: m._tag === "AsciiRow" ? 0 : 1 })
          return
        }
        try {
          this.onRow(this.reader!.read(m.values, m._tag === "AsciiRow" ? 0 : 1))
        } catch (e) {
          this.clientError = e instanceof PgError ? e : new PgError({ reason: new CodecError({ message: String(e) }) })
        }
        return
      }
      case "CompletedResponse":
      case "EmptyQueryResponse": {
        const tag = m._tag === "CompletedResponse" ? m.tag : ""
        const index = this.tags.length
        this.tags.push(tag)
        if (this.options.hidden?.(index) !== true) {
          this.results.push(makeResult(this.rows, this.reader?.fields ?? [], tag, this.notices.length === 0 ? undefined : this.notices))
        }
        this.reader = undefined
        this.keeping = undefined
        this.rows = []
        this.notices = []
        return
      }
      case "ErrorResponse":
        if (this.serverError === undefined) {
          this.serverError = ErrorText.toServerError(m.message)
          this.completedBeforeError = this.tags.length
        }
        return
      case "CopyInResponse":
        // 2.0 has no CopyFail: end the copy with no rows.
        this.clientError ??= copyMisuse("COPY FROM STDIN")
        wire.write(encoder.encode("\\.\n"))
        return
      case "CopyOutResponse":
        this.clientError ??= copyMisuse("COPY TO STDOUT")
        return
      default:
        return
    }
  }

  complete(): void {
    const settle = this.options.settle
    if (settle === undefined) this.resume(this)
    else settle(this, () => this.resume(this))
  }

  fail(error: PgError): void {
    this.brokenWith = error
    this.resume(this)
  }
}

/**
 * A result set's outcome as an Effect: the session's break, else the server's error, else the client's, else the
 * results.
 *
 * @since 0.1.0
 */
export const outcome = (request: ResultsRequest): Effect.Effect<ReadonlyArray<QueryResult<unknown>>, PgError> => {
  const failure = failureOf(request)
  return failure === undefined ? Effect.succeed(request.results) : Effect.fail(failure)
}

/**
 * Why a result set failed, or undefined.
 *
 * @since 0.1.0
 */
export const failureOf = (request: ResultsRequest): PgError | undefined => {
  if (request.serverError !== undefined) return new PgError({ reason: request.serverError })
  if (request.brokenWith !== undefined) return request.brokenWith
  return request.clientError
}

/**
 * What a pulled stream waits on: items in a buffer, the socket paused above a high-water mark.
 *
 * @since 0.1.0
 */
export class PullBuffer<A> {
  private items: Array<A> = []
  private ended = false
  private error: PgError | undefined = undefined
  private waiter: ((effect: Effect.Effect<Arr.NonEmptyReadonlyArray<A>, PgError | Cause.Done>) => void) | undefined =
    undefined
  private paused = false
  private readonly highWater: number
  wire: Wire | undefined = undefined

  constructor(highWater: number) {
    this.highWater = highWater
  }

  push(item: A, wire: Wire): void {
    this.items.push(item)
    if (this.waiter !== undefined) return this.deliver()
    if (!this.paused && this.items.length >= this.highWater) {
      this.paused = true
      this.wire = wire
      wire.pause()
    }
  }

  end(error: PgError | undefined): void {
    if (this.ended) return
    this.ended = true
    this.error = error
    if (this.paused) {
      this.paused = false
      this.wire?.resume()
    }
    if (this.waiter !== undefined) this.deliver()
  }

  /** Unpauses the socket (the consumer is gone: what is left is read and dropped). */
  drop(): void {
    this.items = []
    if (this.paused) {
      this.paused = false
      this.wire?.resume()
    }
  }

  private deliver(): void {
    const resume = this.waiter!
    this.waiter = undefined
    resume(this.take())
  }

  private take(): Effect.Effect<Arr.NonEmptyReadonlyArray<A>, PgError | Cause.Done> {
    if (this.items.length > 0) {
      const chunk = this.items as unknown as Arr.NonEmptyReadonlyArray<A>
      this.items = []
      if (this.paused) {
        this.paused = false
        this.wire?.resume()
      }
      return Effect.succeed(chunk)
    }
    if (this.error !== undefined) return Effect.fail(this.error)
    return Cause.done()
  }

  readonly pull: Effect.Effect<Arr.NonEmptyReadonlyArray<A>, PgError | Cause.Done> = Effect.suspend(() => {
    if (this.items.length > 0 || this.ended) return this.take()
    return Effect.callback<Arr.NonEmptyReadonlyArray<A>, PgError | Cause.Done>((resume) => {
      this.waiter = resume
    })
  })
}

/**
 * A stream whose SQL gave more than one result with rows.
 *
 * @since 0.1.0
 */
export const severalStatements = (): PgError =>
  new PgError({
    reason: new ConfigError({
      message: "a stream reads the rows of one statement: this SQL returned several result sets (protocol 2.0 runs every statement of a string)",
      parameter: "sql"
    })
  })

/**
 * A Query whose rows are streamed as they come (socket backpressure).
 *
 * @since 0.1.0
 */
export class StreamRequest extends ResultsRequest {
  readonly buffer = new PullBuffer<unknown>(STREAM_HIGH_WATER_ROWS)
  private wire: Wire | undefined = undefined
  /** A RowDescription came. */
  private described = false

  constructor(sql: string, registry: Registry, options: ResultsOptions) {
    super(sql, registry, options, (request) => (request as StreamRequest).finish())
  }

  override onMessage(wire: Wire, m: V2.BackendMessage): void {
    this.wire = wire
    if (m._tag === "RowDescription") {
      // A stream gives one statement's rows: a second shape is not mixed in (3.x refuses several commands).
      if (this.described) this.clientError ??= severalStatements()
      this.described = true
    }
    super.onMessage(wire, m)
  }

  protected override onRow(row: unknown): void {
    this.buffer.push(row, this.wire!)
  }

  private finish(): void {
    this.buffer.end(failureOf(this))
  }
}

/**
 * FunctionCall: binary arguments, a binary result (`V G`), or NULL (`V 0`).
 *
 * @since 0.1.0
 */
export class FunctionCallRequest extends V2Request {
  readonly functionOid: number
  readonly args: ReadonlyArray<Uint8Array>
  readonly resume: (effect: Effect.Effect<FunctionCallResult, PgError>) => void
  private result: Uint8Array | null = null
  private serverError: ServerError | undefined = undefined
  private notices: Array<Notice> = []

  constructor(
    functionOid: number,
    args: ReadonlyArray<Uint8Array>,
    resume: (effect: Effect.Effect<FunctionCallResult, PgError>) => void
  ) {
    super()
    this.functionOid = functionOid
    this.args = args
    this.resume = resume
    this.phase = "Function"
    this.statusEffect = "keep"
  }

  bytes(): Uint8Array {
    const encoded = V2.encodeFrontend({ _tag: "FunctionCall", functionOid: this.functionOid, arguments: this.args })
    if (encoded._tag === "Failure") throw new PgError({ reason: encoded.failure })
    return encoded.success
  }

  override onNotice(notice: Notice): void {
    this.notices.push(notice)
  }

  onMessage(_wire: Wire, m: V2.BackendMessage): void {
    if (m._tag === "FunctionResultResponse") this.result = m.result.slice()
    else if (m._tag === "ErrorResponse") this.serverError ??= ErrorText.toServerError(m.message)
  }

  complete(): void {
    this.resume(
      this.serverError !== undefined
        ? Effect.fail(new PgError({ reason: this.serverError }))
        : Effect.succeed({ result: this.result, notices: this.notices })
    )
  }

  fail(error: PgError): void {
    this.resume(Effect.fail(error))
  }
}

