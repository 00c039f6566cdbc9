/**
 * The request kinds: what each one writes, the phases its replies walk
 * through, and what it makes of them.
 *
 * **Details**
 *
 * - `QueryRequest`: one statement through the extended protocol. With a
 *   cached statement: Bind, Execute, Sync (one round trip, binary results
 *   where a decoder exists). Without (statement cache off, e.g. behind a
 *   transaction pooler): Parse, Bind, Describe, Execute, Sync of the unnamed
 *   statement in one write.
 * - `PrepareRequest`: Parse + Describe(statement) + Sync of a named statement.
 * - `CloseRequest`: Close + Sync.
 * - `SimpleRequest`: a simple Query, possibly several statements: every
 *   result set in order.
 * - `BatchRequest`: several extended-protocol statements and one Sync, so
 *   they run in one implicit transaction and an error stops the rest.
 * - `FunctionCallRequest`: FunctionCall.
 *
 * Streaming kinds (portal paging, COPY) live in `Streaming`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { CodecError, PgError, ServerError } from "../errors/PgError.ts"
import type * as Backend from "../protocol/Backend.ts"
import * as Frontend from "../protocol/Frontend.ts"
import * as Message from "../protocol/Message.ts"
import { isNullParameter, type Registry } from "../types/Registry.ts"
import { Frontend as Code } from "../wire/Codes.ts"
import type { Writer } from "../wire/Writer.ts"
import { Connection, Request } from "./Connection.ts"
import {
  type Field,
  type Notice,
  parseCommandTag,
  type QueryResult,
  type RowMode,
  RowShape,
  selectCount,
  toFields
} from "./Result.ts"
import type * as State from "./State.ts"
import type { Statement } from "./Statement.ts"

/**
 * Completes the Effect waiting for a request.
 *
 * @since 0.1.0
 */
export type Resume<A> = (effect: Effect.Effect<A, PgError>) => void

/** @since 0.1.0 */
export const PLAN_BOUND: ReadonlyArray<State.Phase> = ["BindComplete", "Rows", "ReadyForQuery"]
/** @since 0.1.0 */
export const PLAN_UNNAMED: ReadonlyArray<State.Phase> = [
  "ParseComplete",
  "BindComplete",
  "RowDescription",
  "Rows",
  "ReadyForQuery"
]
/** @since 0.1.0 */
export const PLAN_PREPARE: ReadonlyArray<State.Phase> = [
  "ParseComplete",
  "ParameterDescription",
  "RowDescription",
  "ReadyForQuery"
]
/** @since 0.1.0 */
export const PLAN_CLOSE: ReadonlyArray<State.Phase> = ["CloseComplete", "ReadyForQuery"]
/** @since 0.1.0 */
export const PLAN_SIMPLE: ReadonlyArray<State.Phase> = ["SimpleResult"]
/** @since 0.1.0 */
export const PLAN_FUNCTION_CALL: ReadonlyArray<State.Phase> = ["FunctionCallResponse", "ReadyForQuery"]

/**
 * The parameters of a query given none: shared (a default `[]` would be an array per call).
 *
 * @since 0.1.0
 */
export const NO_PARAMS: ReadonlyArray<unknown> = Object.freeze([])

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
  const formats = scratchFormats
  formats.length = n
  try {
    for (let i = 0; i < n; i++) {
      const v = params[i]
      const f = isNullParameter(v) ? 0 : registry.parameterFormat(v, types[i] ?? 0)
      formats[i] = f
      binary += f
    }
  } catch (e) {
    throw toParameterError(e, -1)
  }
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
 * Decodes DataRow bodies kept as bytes (while their types were looked up) into `into`; the error that stopped it,
 * if any.
 */
const readRows = (
  shape: RowShape,
  rowMode: RowMode,
  raw: ReadonlyArray<Uint8Array>,
  into: Array<unknown>
): PgError | undefined => {
  try {
    for (const row of raw) into.push(rowMode === "array" ? shape.readArray(row, 0, row.length) : shape.readObject(row, 0, row.length))
    return undefined
  } catch (e) {
    return e instanceof PgError ? e : new PgError({ reason: new CodecError({ message: String(e) }) })
  }
}

const EMPTY_NOTICES: ReadonlyArray<Notice> = []

/** The rows of a request that has none yet: shared, never written to (the first row replaces it). */
const NO_ROWS: Array<unknown> = []
/** The fields of a request before its description: shared and frozen, like a statement's fields it is handed out. */
const NO_FIELDS: ReadonlyArray<Field> = Object.freeze([])

/**
 * Builds a result from what a statement received.
 *
 * @since 0.1.0
 */
export const makeResult = <R>(
  rows: ReadonlyArray<R>,
  fields: ReadonlyArray<Field>,
  tag: string,
  notices: ReadonlyArray<Notice> | undefined
): QueryResult<R> => {
  const selected = selectCount(tag)
  if (selected >= 0) return { rows, fields, command: "SELECT", rowCount: selected, notices: notices ?? EMPTY_NOTICES }
  const { command, rowCount } = parseCommandTag(tag)
  return { rows, fields, command, rowCount, notices: notices ?? EMPTY_NOTICES }
}

/**
 * Hooks for whoever lends the session (a pool's lane): `start` when the
 * request is created, `finish` once it no longer occupies the session.
 *
 * @since 0.1.0
 */
export interface QueryTracker {
  readonly start: () => void
  readonly finish: () => void
}

/**
 * What a `QueryRequest` needs from the session around it.
 *
 * @since 0.1.0
 */
export interface QueryOwner {
  readonly registry: Registry
  /** Whether result types are unknown and not looked up yet (then rows are kept raw until they are). */
  readonly needsTypes?: ((oids: ReadonlyArray<number>) => boolean) | undefined
  /** Called on ReadyForQuery or failure; decides about re-running (stale statement, stray cancel). */
  readonly settleQuery: (request: QueryRequest, status: Backend.TransactionStatus | undefined) => void
  /** Called once the request is finished for good, if a fiber was registered as waiting on it (`waiter`). */
  readonly release?: ((request: QueryRequest) => void) | undefined
}

/**
 * One statement through the extended protocol.
 *
 * @since 0.1.0
 */
export class QueryRequest extends Request {
  readonly owner: QueryOwner
  readonly sql: string
  readonly params: ReadonlyArray<unknown>
  statement: Statement | undefined
  readonly rowMode: RowMode
  readonly resume: Resume<QueryResult<unknown>>
  /** The rows so far: the shared `NO_ROWS` until the first one (many requests wait in a pipeline; each array is memory). */
  rows: Array<unknown> = NO_ROWS
  fields: ReadonlyArray<Field> = NO_FIELDS
  shape: RowShape | undefined = undefined
  tag = ""
  /** Whether a cancel sent for another request may have hit this one (see `Session`). */
  atRiskOfStrayCancel = false
  /** Run as an unnamed statement even with the statement cache on (`prepare: false`). */
  unnamed = false
  /** Told when the request starts and when it is finished for good (a pool's lane bookkeeping). */
  tracker: QueryTracker | undefined = undefined
  /** The fiber waiting on this request, as registered with the session (interruption finds the request by it). */
  waiter: Fiber.Fiber<unknown, unknown> | undefined = undefined
  private finished = false

  /**
   * The request is finished for good (answered, failed, or dropped after an interruption): tell the tracker and
   * the owner once.
   */
  finish(): void {
    if (this.finished) return
    this.finished = true
    this.tracker?.finish()
    if (this.waiter !== undefined) this.owner.release?.(this)
  }

  constructor(
    owner: QueryOwner,
    sql: string,
    params: ReadonlyArray<unknown>,
    statement: Statement | undefined,
    rowMode: RowMode,
    resume: Resume<QueryResult<unknown>>
  ) {
    super()
    this.owner = owner
    this.sql = sql
    this.params = params
    this.statement = statement
    this.rowMode = rowMode
    this.resume = resume
  }

  /** Clears what a previous run received (before a transparent re-run). */
  reset(statement: Statement | undefined): void {
    this.statement = statement
    this.rows = NO_ROWS
    this.fields = NO_FIELDS
    this.shape = undefined
    this.raw = undefined
    this.tag = ""
    this.serverError = undefined
    this.clientError = undefined
    this.brokenWith = undefined
    this.notices = undefined
    this.written = false
    this.done = false
  }

  encode(w: Writer): void {
    const registry = this.owner.registry
    const statement = this.statement
    if (statement !== undefined) {
      writeBind(w, registry, "", statement.name, this.params, statement.parameterTypes, statement.resultFormats)
      w.bytes(Frontend.EXECUTE_UNNAMED_ALL)
      w.bytes(Frontend.SYNC)
      this.fields = statement.fields
      this.shape = statement.returnsRows ? statement.shape(registry) : undefined
      statement.inUse++
      this.begin(PLAN_BOUND)
      return
    }
    const types = declaredTypes(registry, this.params)
    Frontend.writeParse(w, "", this.sql, types)
    writeBind(w, registry, "", "", this.params, types, [])
    w.bytes(Frontend.DESCRIBE_UNNAMED_PORTAL)
    w.bytes(Frontend.EXECUTE_UNNAMED_ALL)
    w.bytes(Frontend.SYNC)
    this.begin(PLAN_UNNAMED)
  }

  override onRowDescription(message: Backend.RowDescription): void {
    this.fields = toFields(message.fields)
    if (this.owner.needsTypes?.(this.fields.map((f) => f.dataTypeOid)) === true) {
      // Types not looked up yet: keep the rows' bytes and decode them once the
      // session has looked the types up (before the result is handed out).
      this.raw = []
      return
    }
    this.shape = new RowShape(this.fields, this.owner.registry)
  }

  /** Rows kept as bytes while their types are being looked up. */
  raw: Array<Uint8Array> | undefined = undefined

  override onDataRow(buf: Uint8Array, start: number, end: number): void {
    if (this.raw !== undefined) {
      this.raw.push(buf.slice(start, end))
      return
    }
    const shape = this.shape!
    const row = this.rowMode === "array" ? shape.readArray(buf, start, end) : shape.readObject(buf, start, end)
    // A first row makes an array of exactly one (a push onto [] reserves room for 17): most results of small
    // queries have one row.
    if (this.rows.length === 0) this.rows = [row]
    else this.rows.push(row)
  }

  /** Decodes the rows kept raw, with `registry` (which now knows their types). */
  decodeRaw(registry: Registry): void {
    const raw = this.raw
    if (raw === undefined) return
    this.raw = undefined
    const shape = new RowShape(this.fields, registry)
    this.shape = shape
    if (this.rows === NO_ROWS) this.rows = []
    this.clientError ??= readRows(shape, this.rowMode, raw, this.rows)
  }

  override onCommandComplete(tag: string): void {
    this.tag = tag
  }

  complete(_conn: Connection, status: Backend.TransactionStatus): void {
    if (this.statement !== undefined && this.written) this.statement.inUse--
    this.owner.settleQuery(this, status)
  }

  fail(error: PgError): void {
    if (this.statement !== undefined && this.written) this.statement.inUse--
    this.brokenWith = error
    this.owner.settleQuery(this, undefined)
  }

  /** The session broke (or closed) before this request completed: that, not an earlier ErrorResponse, is the outcome. */
  brokenWith: PgError | undefined = undefined

  /** The outcome to hand to the caller. */
  outcome(): Effect.Effect<QueryResult<unknown>, PgError> {
    if (this.brokenWith !== undefined) return Effect.fail(this.brokenWith)
    if (this.serverError !== undefined) return Effect.fail(new PgError({ reason: this.serverError }))
    if (this.clientError !== undefined) return Effect.fail(this.clientError)
    // The shared empty array never leaves: a caller may push onto the rows it gets.
    return Effect.succeed(makeResult(this.rows === NO_ROWS ? [] : this.rows, this.fields, this.tag, this.notices))
  }
}

/**
 * Parse + Describe(statement) + Sync of a named statement.
 *
 * @since 0.1.0
 */
export class PrepareRequest extends Request {
  readonly statement: Statement
  /**
   * Called with the server's description (or the error); the owner records it in
   * the statement (after resolving unknown types, if any) and settles it.
   */
  readonly onDone: (
    error: PgError | undefined,
    parameterTypes: ReadonlyArray<number>,
    fields: ReadonlyArray<Field> | undefined
  ) => void
  private parameterTypes: ReadonlyArray<number> = []
  private fields: ReadonlyArray<Field> | undefined = undefined

  constructor(
    statement: Statement,
    onDone: (
      error: PgError | undefined,
      parameterTypes: ReadonlyArray<number>,
      fields: ReadonlyArray<Field> | undefined
    ) => void
  ) {
    super()
    this.statement = statement
    this.onDone = onDone
  }

  encode(w: Writer): void {
    Frontend.writeParse(w, this.statement.name, this.statement.sql, this.statement.declaredTypes)
    Frontend.writeDescribe(w, "S", this.statement.name)
    w.bytes(Frontend.SYNC)
    this.begin(PLAN_PREPARE)
  }

  override onParameterDescription(message: Backend.ParameterDescription): void {
    this.parameterTypes = message.parameterTypes
  }

  override onRowDescription(message: Backend.RowDescription): void {
    this.fields = toFields(message.fields)
  }

  override onNoData(): void {
    this.fields = undefined
  }

  complete(): void {
    this.onDone(
      this.serverError === undefined ? undefined : new PgError({ reason: this.serverError }),
      this.parameterTypes,
      this.fields
    )
  }

  fail(error: PgError): void {
    this.onDone(error, [], undefined)
  }
}

/**
 * Close (statement or portal) + Sync.
 *
 * @since 0.1.0
 */
export class CloseRequest extends Request {
  readonly target: "S" | "P"
  readonly name: string
  readonly onDone: ((error: PgError | undefined) => void) | undefined

  constructor(target: "S" | "P", name: string, onDone?: (error: PgError | undefined) => void) {
    super()
    this.target = target
    this.name = name
    this.onDone = onDone
  }

  encode(w: Writer): void {
    Frontend.writeClose(w, this.target, this.name)
    w.bytes(Frontend.SYNC)
    this.begin(PLAN_CLOSE)
  }

  complete(): void {
    this.onDone?.(this.serverError === undefined ? undefined : new PgError({ reason: this.serverError }))
  }

  fail(error: PgError): void {
    this.onDone?.(error)
  }
}

/**
 * What a request returning several result sets shares: it collects each
 * statement's rows, fields, command tag and notices into one result, in order,
 * and hands the list over at ReadyForQuery.
 *
 * @since 0.1.0
 */
/**
 * What a request with result sets (`SimpleRequest`, `BatchRequest`) needs from the session around it.
 *
 * @since 0.1.0
 */
export interface ResultSetsOwner {
  /** Read when the request is encoded and its rows decoded: the session's registry as it is then. */
  readonly registry: Registry
  /** Whether result types are unknown and not looked up yet (then rows are kept as bytes until they are). */
  readonly needsTypes: (oids: ReadonlyArray<number>) => boolean
  /**
   * Called when the request is answered (`status`) or failed (`undefined`), before the caller hears of it; true when
   * the session takes the request over (it looks types up before answering, or runs a batch again after a stale
   * cached statement).
   */
  readonly settle: (request: ResultSetsRequest, status: Backend.TransactionStatus | undefined) => boolean
}

/**
 * Requests answered by a list of result sets: a simple Query's statements, a batch's items. Rows of types the
 * session has not looked up yet are kept as bytes and decoded once the owner has looked them up (`decodeRaw`).
 *
 * @since 0.1.0
 */
export abstract class ResultSetsRequest extends Request {
  readonly registry: Registry
  readonly owner: ResultSetsOwner | undefined
  readonly rowMode: RowMode
  readonly resume: Resume<ReadonlyArray<QueryResult<unknown>>>
  readonly results: Array<QueryResult<unknown>> = []
  private rows: Array<unknown> = []
  private fields: ReadonlyArray<Field> = []
  private shape: RowShape | undefined = undefined
  private noticeStart = 0
  /** The current result's rows as bytes, while its types are unknown (see `typesUnknown`). */
  private raw: Array<Uint8Array> | undefined = undefined
  /** Results whose rows were kept as bytes: decoded (`decodeRaw`) once the session has looked their types up. */
  readonly rawResults: Array<{ readonly rows: Array<unknown>; readonly fields: ReadonlyArray<Field>; readonly raw: Array<Uint8Array> }> = []

  constructor(
    registry: Registry,
    rowMode: RowMode,
    resume: Resume<ReadonlyArray<QueryResult<unknown>>>,
    owner?: ResultSetsOwner
  ) {
    super()
    this.registry = registry
    this.rowMode = rowMode
    this.resume = resume
    this.owner = owner
  }

  /** The registry rows are decoded with: the owner's as it is now (it grows with type lookups). */
  protected get rowRegistry(): Registry {
    return this.owner?.registry ?? this.registry
  }

  /** Whether these result types are unknown and not looked up yet: then the rows are kept as bytes. */
  private typesUnknown(oids: ReadonlyArray<number>): boolean {
    return this.owner?.needsTypes(oids) === true
  }

  override onRowDescription(message: Backend.RowDescription): void {
    this.fields = toFields(message.fields)
    this.rows = []
    if (this.typesUnknown(this.fields.map((f) => f.dataTypeOid))) {
      this.raw = []
      this.shape = undefined
      return
    }
    this.shape = new RowShape(this.fields, this.rowRegistry)
  }

  override onNoData(): void {
    this.fields = []
    this.shape = undefined
  }

  override onDataRow(buf: Uint8Array, start: number, end: number): void {
    if (this.raw !== undefined) {
      this.raw.push(buf.slice(start, end))
      return
    }
    const shape = this.shape!
    this.rows.push(this.rowMode === "array" ? shape.readArray(buf, start, end) : shape.readObject(buf, start, end))
  }

  /** Decodes the rows kept as bytes with `registry` (which now knows their types), into their results. */
  decodeRaw(registry: Registry): void {
    for (const { fields, raw, rows } of this.rawResults) {
      this.clientError ??= readRows(new RowShape(fields, registry), this.rowMode, raw, rows)
    }
    this.rawResults.length = 0
  }

  private push(tag: string): void {
    const notices = this.notices?.slice(this.noticeStart)
    this.noticeStart = this.notices?.length ?? 0
    this.results.push(makeResult(this.rows, this.fields, tag, notices))
    if (this.raw !== undefined) {
      this.rawResults.push({ rows: this.rows, fields: this.fields, raw: this.raw })
      this.raw = undefined
    }
    this.rows = []
    this.fields = []
    this.shape = undefined
    this.nextResult()
  }

  /** A result was completed; the next one (`results.length`) may now be announced with `expect`. */
  protected nextResult(): void {}

  /** The next result's columns are already known (a prepared statement): no RowDescription will come. */
  protected expect(fields: ReadonlyArray<Field>, shape: RowShape | undefined): void {
    this.fields = fields
    this.shape = shape
    this.rows = []
  }

  /** Forgets what a previous run received (before a transparent re-run). */
  protected resetResults(): void {
    this.results.length = 0
    this.raw = undefined
    this.rawResults.length = 0
    this.rows = []
    this.fields = []
    this.shape = undefined
    this.noticeStart = 0
    this.notices = undefined
    this.serverError = undefined
    this.clientError = undefined
    this.written = false
    this.done = false
  }

  override onCommandComplete(tag: string): void {
    this.push(tag)
  }

  override onEmptyQuery(): void {
    this.push("")
  }

  complete(_conn: Connection, status: Backend.TransactionStatus): void {
    if (this.owner?.settle(this, status) === true) return
    this.answer()
  }

  /** Hands the results (or the error) to the caller. */
  answer(): void {
    if (this.discard) return
    if (this.serverError !== undefined) this.resume(Effect.fail(new PgError({ reason: this.serverError })))
    else if (this.clientError !== undefined) this.resume(Effect.fail(this.clientError))
    else this.resume(Effect.succeed(this.results))
  }

  fail(error: PgError): void {
    this.owner?.settle(this, undefined)
    if (!this.discard) this.resume(Effect.fail(error))
  }
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

/**
 * A simple Query: every statement of the string, every result in order.
 *
 * **Details**
 *
 * Results come in the text format (the simple protocol has no format
 * choice). An error stops the string: statements after it do not run
 * (protocol-3.2 "Simple Query"), and the request fails with that error.
 * A COPY inside the string is refused with CopyFail (COPY FROM) or its data
 * is dropped (COPY TO): use `copyFrom`/`copyTo` for COPY.
 *
 * @since 0.1.0
 */
export class SimpleRequest extends ResultSetsRequest {
  readonly sql: string

  constructor(
    sql: string,
    registry: Registry,
    rowMode: RowMode,
    resume: Resume<ReadonlyArray<QueryResult<unknown>>>,
    owner?: ResultSetsOwner
  ) {
    super(registry, rowMode, resume, owner)
    this.sql = sql
  }

  encode(w: Writer): void {
    Frontend.writeQuery(w, this.sql)
    this.begin(PLAN_SIMPLE)
  }

  override onCopyIn(conn: Connection): void {
    sendCopyFail(conn, "COPY FROM STDIN is not supported by simple(); use copyFrom")
  }
}

/**
 * One statement of a batch.
 *
 * @since 0.1.0
 */
export interface BatchItem {
  readonly sql: string
  readonly params?: ReadonlyArray<unknown> | undefined
}

/**
 * A statement a batch parses under its own name (the first time the batch meets its SQL), and what the server
 * said of it: the session adds it to its cache once the batch is answered, if it was described.
 *
 * @since 0.1.0
 */
export class BatchStatement {
  readonly statement: Statement
  /** ParseComplete arrived: the statement exists on the server. */
  parsed = false
  /** ParameterDescription and RowDescription (or NoData) arrived. */
  described = false
  parameterTypes: ReadonlyArray<number> = []
  fields: ReadonlyArray<Field> | undefined = undefined

  constructor(statement: Statement) {
    this.statement = statement
  }
}

/**
 * Several statements in one write and one Sync at the end.
 *
 * **Details**
 *
 * One Sync makes the batch one implicit transaction (protocol-3.2 "Extended
 * Query": the statements between two Syncs run in one transaction unless
 * they contain transaction control): either every statement takes effect or
 * none does, and after an error the server skips the rest. The result has one
 * entry per statement.
 *
 * With the session's statement cache, an item whose statement is cached runs
 * as Bind/Execute of it (binary results; the server neither parses nor plans
 * it again); the first item with SQL the cache does not know yet is parsed
 * under a new name and described in the same write (Parse/Describe/Bind/Execute,
 * text results), so the next batch finds it cached; any other item runs as
 * Parse/Bind/Describe/Execute of the unnamed statement. Without a cache every
 * item is unnamed.
 *
 * @since 0.1.0
 */
export class BatchRequest extends ResultSetsRequest {
  readonly items: ReadonlyArray<BatchItem>
  /**
   * Per item: a cached, ready statement to bind, a `BatchStatement` to parse under its name, or `undefined` for
   * the unnamed statement. Set before the batch is submitted.
   */
  statements: ReadonlyArray<Statement | BatchStatement | undefined> = []

  constructor(
    items: ReadonlyArray<BatchItem>,
    registry: Registry,
    rowMode: RowMode,
    resume: Resume<ReadonlyArray<QueryResult<unknown>>>,
    owner?: ResultSetsOwner
  ) {
    super(registry, rowMode, resume, owner)
    this.items = items
  }

  encode(w: Writer): void {
    const registry = this.rowRegistry
    const plan: Array<State.Phase> = []
    for (let i = 0; i < this.items.length; i++) {
      const item = this.items[i]!
      const params = item.params ?? []
      const target = this.statements[i]
      if (target instanceof BatchStatement) {
        const statement = target.statement
        Frontend.writeParse(w, statement.name, item.sql, statement.declaredTypes)
        Frontend.writeDescribe(w, "S", statement.name)
        writeBind(w, registry, "", statement.name, params, statement.declaredTypes, [])
        w.bytes(Frontend.EXECUTE_UNNAMED_ALL)
        plan.push("ParseComplete", "ParameterDescription", "RowDescription", "BindComplete", "Rows")
      } else if (target !== undefined) {
        writeBind(w, registry, "", target.name, params, target.parameterTypes, target.resultFormats)
        w.bytes(Frontend.EXECUTE_UNNAMED_ALL)
        plan.push("BindComplete", "Rows")
      } else {
        const types = declaredTypes(registry, params)
        Frontend.writeParse(w, "", item.sql, types)
        writeBind(w, registry, "", "", params, types, [])
        w.bytes(Frontend.DESCRIBE_UNNAMED_PORTAL)
        w.bytes(Frontend.EXECUTE_UNNAMED_ALL)
        plan.push("ParseComplete", "BindComplete", "RowDescription", "Rows")
      }
    }
    w.bytes(Frontend.SYNC)
    plan.push("ReadyForQuery")
    // Only once every frame is written (a parameter that fails to encode throws above).
    for (const target of this.statements) if (target !== undefined && !(target instanceof BatchStatement)) target.inUse++
    this.begin(plan)
    this.nextResult()
  }

  /** The item the server is answering: every earlier item has its result. */
  private get current(): Statement | BatchStatement | undefined {
    return this.statements[this.results.length]
  }

  protected override nextResult(): void {
    const target = this.current
    if (target === undefined || target instanceof BatchStatement) return
    this.expect(target.fields, target.returnsRows ? target.shape(this.rowRegistry) : undefined)
  }

  override onParseComplete(): void {
    const target = this.current
    if (target instanceof BatchStatement) target.parsed = true
  }

  override onParameterDescription(message: Backend.ParameterDescription): void {
    const target = this.current
    if (target instanceof BatchStatement) target.parameterTypes = message.parameterTypes
  }

  override onRowDescription(message: Backend.RowDescription): void {
    super.onRowDescription(message)
    const target = this.current
    if (target instanceof BatchStatement && !target.described) {
      // Describe of a statement reports text for every column; the Bind that follows asks for text too.
      target.fields = toFields(message.fields)
      target.described = true
    }
  }

  override onNoData(): void {
    super.onNoData()
    const target = this.current
    if (target instanceof BatchStatement && !target.described) target.described = true
  }

  /** Forgets what a previous run received and which statements it used (before a transparent re-run). */
  reset(): void {
    this.resetResults()
    this.statements = []
  }

  private releaseStatements(): void {
    if (!this.written) return
    for (const target of this.statements) if (target !== undefined && !(target instanceof BatchStatement)) target.inUse--
  }

  override complete(conn: Connection, status: Backend.TransactionStatus): void {
    this.releaseStatements()
    super.complete(conn, status)
  }

  override fail(error: PgError): void {
    this.releaseStatements()
    super.fail(error)
  }
}

/**
 * The result of a function call: the value's bytes (or null), in the format asked for.
 *
 * @since 0.1.0
 */
export interface FunctionCallResult {
  readonly result: Uint8Array | null
  readonly notices: ReadonlyArray<Notice>
}

/**
 * FunctionCall (protocol-3.2 "Function Call" flow): the server answers with
 * FunctionCallResponse (or an error) and ReadyForQuery.
 *
 * @since 0.1.0
 */
export class FunctionCallRequest extends Request {
  readonly functionOid: number
  readonly args: ReadonlyArray<Uint8Array | null>
  readonly argumentFormats: ReadonlyArray<0 | 1>
  readonly resultFormat: 0 | 1
  readonly resume: Resume<FunctionCallResult>
  private result: Uint8Array | null = null

  constructor(
    functionOid: number,
    args: ReadonlyArray<Uint8Array | null>,
    argumentFormats: ReadonlyArray<0 | 1>,
    resultFormat: 0 | 1,
    resume: Resume<FunctionCallResult>
  ) {
    super()
    this.functionOid = functionOid
    this.args = args
    this.argumentFormats = argumentFormats
    this.resultFormat = resultFormat
    this.resume = resume
  }

  encode(w: Writer): void {
    Message.writeFrame(w, Frontend.FunctionCall, {
      _tag: "FunctionCall",
      functionOid: this.functionOid,
      argumentFormats: this.argumentFormats,
      arguments: this.args,
      resultFormat: this.resultFormat
    })
    this.begin(PLAN_FUNCTION_CALL)
  }

  override onFunctionCallResponse(message: Backend.FunctionCallResponse): void {
    this.result = message.result === null ? null : message.result.slice()
  }

  complete(): void {
    if (this.discard) return
    if (this.serverError !== undefined) this.resume(Effect.fail(new PgError({ reason: this.serverError })))
    else this.resume(Effect.succeed({ result: this.result, notices: this.notices ?? [] }))
  }

  fail(error: PgError): void {
    if (!this.discard) this.resume(Effect.fail(error))
  }
}

/** @since 0.1.0 */
export const isServerError = (error: PgError, code: string): boolean =>
  error.reason instanceof ServerError && error.reason.code === code
