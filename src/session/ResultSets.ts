/**
 * Requests answered by a list of result sets: `SimpleRequest` (a simple Query,
 * possibly several statements) and `BatchRequest` (several extended-protocol
 * statements and one Sync).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { PgError } from "../errors/PgError.ts"
import type * as Backend from "../protocol/Backend.ts"
import * as Frontend from "../protocol/Frontend.ts"
import type { Registry } from "../types/Registry.ts"
import type { Writer } from "../wire/Writer.ts"
import { type Connection, Request } from "./Connection.ts"
import { declaredTypes, sendCopyFail, writeBind } from "./Frames.ts"
import { PLAN_SIMPLE, type Resume } from "./Requests.ts"
import { type Field, makeResult, type QueryResult, type RowMode, type RowShape, toFields } from "./Result.ts"
import { RowReceiver } from "./Rows.ts"
import type * as State from "./State.ts"
import type { Statement } from "./Statement.ts"

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
 * Requests answered by a list of result sets: a simple Query's statements, a batch's items. Each statement's rows,
 * fields, command tag and notices become one result, in order, handed over at ReadyForQuery. Rows of types the
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
  /** The current result's columns and rows, and those of earlier results kept as bytes (see `Rows`). */
  readonly received: RowReceiver
  private noticeStart = 0

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
    this.received = new RowReceiver(rowMode)
  }

  /** The registry rows are decoded with: the owner's as it is now (it grows with type lookups). */
  protected get rowRegistry(): Registry {
    return this.owner?.registry ?? this.registry
  }

  override onRowDescription(message: Backend.RowDescription): void {
    this.received.describe(message, this.rowRegistry, this.owner?.needsTypes)
  }

  override onNoData(): void {
    this.received.noData()
  }

  override onDataRow(buf: Uint8Array, start: number, end: number): void {
    this.received.receive(buf, start, end)
  }

  /** Decodes the rows kept as bytes while their types were unknown, with `registry` (which now knows them). */
  decodeKept(registry: Registry): void {
    this.clientError ??= this.received.decodeKept(registry)
  }

  private push(tag: string): void {
    const notices = this.notices?.slice(this.noticeStart)
    this.noticeStart = this.notices?.length ?? 0
    const fields = this.received.fields
    this.results.push(makeResult(this.received.finish(), fields, tag, notices))
    this.nextResult()
  }

  /** A result was completed; the next one (`results.length`) may now be announced with `expect`. */
  protected nextResult(): void {}

  /** The next result's columns are already known (a prepared statement): no RowDescription will come. */
  protected expect(fields: ReadonlyArray<Field>, shape: RowShape | undefined): void {
    this.received.expect(fields, shape)
  }

  /** Forgets what a previous run received (before a transparent re-run). */
  reset(): void {
    this.resetResults()
  }

  /** Forgets what a previous run received (before a transparent re-run). */
  protected resetResults(): void {
    this.results.length = 0
    this.received.reset()
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
    if (this.defect !== undefined) this.resume(Effect.die(this.defect.value))
    else if (this.serverError !== undefined) this.resume(Effect.fail(new PgError({ reason: this.serverError })))
    else if (this.clientError !== undefined) this.resume(Effect.fail(this.clientError))
    else this.resume(Effect.succeed(this.results))
  }

  fail(error: PgError): void {
    this.owner?.settle(this, undefined)
    if (!this.discard) this.resume(this.defect !== undefined ? Effect.die(this.defect.value) : Effect.fail(error))
  }
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
  override reset(): void {
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
