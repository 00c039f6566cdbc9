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
import { PgError, ServerError } from "../errors/PgError.ts"
import type * as Backend from "../protocol/Backend.ts"
import * as Frontend from "../protocol/Frontend.ts"
import * as Message from "../protocol/Message.ts"
import type { Registry } from "../types/Registry.ts"
import type { Writer } from "../wire/Writer.ts"
import { Connection, Request } from "./Connection.ts"
import { declaredTypes, writeBind } from "./Frames.ts"
import { type Field, makeResult, type Notice, type QueryResult, type RowMode, toFields } from "./Result.ts"
import { RowReceiver } from "./Rows.ts"
import type * as State from "./State.ts"
import type { Statement } from "./Statement.ts"

export { writeBind } from "./Frames.ts"

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
  /** Its columns and rows (see `Rows`). */
  readonly received: RowReceiver
  tag = ""
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
    this.received = new RowReceiver(rowMode)
  }

  /** Clears what a previous run received (before a transparent re-run). */
  reset(statement: Statement | undefined): void {
    this.statement = statement
    this.received.reset()
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
      this.received.expect(statement.fields, statement.returnsRows ? statement.shape(registry) : undefined)
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
    this.received.describe(message, this.owner.registry, this.owner.needsTypes)
  }

  override onDataRow(buf: Uint8Array, start: number, end: number): void {
    this.received.receive(buf, start, end)
  }

  /** Decodes the rows kept as bytes while their types were unknown, with `registry` (which now knows them). */
  decodeKept(registry: Registry): void {
    this.clientError ??= this.received.decodeKept(registry)
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
    if (this.defect !== undefined) return Effect.die(this.defect.value)
    if (this.brokenWith !== undefined) return Effect.fail(this.brokenWith)
    if (this.serverError !== undefined) return Effect.fail(new PgError({ reason: this.serverError }))
    if (this.clientError !== undefined) return Effect.fail(this.clientError)
    // The shared empty array never leaves: a caller may push onto the rows it gets.
    return Effect.succeed(makeResult(this.received.rows, this.received.fields, this.tag, this.notices))
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
    if (!this.discard) this.resume(this.defect !== undefined ? Effect.die(this.defect.value) : Effect.fail(error))
  }
}

/** @since 0.1.0 */
export const isServerError = (error: PgError, code: string): boolean =>
  error.reason instanceof ServerError && error.reason.code === code
