/**
 * The one place a request's rows are received: query, stream (both modes), batch, a prepared statement's execute
 * and stream, simple, and the session's own catalog queries all take their RowDescription and DataRows here.
 *
 * **Details**
 *
 * A result's columns come from a RowDescription (`describe`) or, for a cached statement, from the statement's own
 * description (`expect`). Rows are decoded as they arrive with the shape built from those columns, unless the
 * columns have types the session has not looked up yet: then the row bodies are kept as bytes and decoded once
 * the session has looked the types up (`decodeKept`), before the result is handed out. A stream cannot wait for
 * the end of its rows, so its types are looked up before it starts and it only uses `read`.
 *
 * @since 0.1.0
 */
import { PgError } from "../errors/PgError.ts"
import { CodecError, ProtocolError } from "../errors/PgError.ts"
import type * as Backend from "../protocol/Backend.ts"
import type { Registry } from "../types/Registry.ts"
import { type Field, type RowMode, RowShape, toFields } from "./Result.ts"

/** The rows of a result not received yet: shared until the first row (many requests wait in a pipeline). */
const NO_ROWS: Array<unknown> = []

/** No columns (a statement that returns no rows, or nothing received yet). */
export const NO_FIELDS: ReadonlyArray<Field> = Object.freeze([])

const malformedRow = (message: string, offset: number): PgError =>
  new PgError({ reason: new ProtocolError({ message, messageName: "DataRow", offset }) })

/** A finished result whose rows were kept as bytes: decoded into `into` once their types are known. */
interface KeptRows {
  readonly fields: ReadonlyArray<Field>
  readonly raw: ReadonlyArray<Uint8Array>
  readonly into: Array<unknown>
}

/**
 * Receives the rows of one result at a time (`finish` closes a result and starts the next).
 *
 * @since 0.1.0
 */
export class RowReceiver {
  readonly rowMode: RowMode
  /** The current result's columns. */
  fields: ReadonlyArray<Field> = NO_FIELDS
  /** The current result's rows so far (the shared empty array until the first one: see `rows`). */
  private received: Array<unknown> = NO_ROWS
  private shape: RowShape | undefined = undefined
  /** The current result's row bodies, while its types are unknown. */
  private raw: Array<Uint8Array> | undefined = undefined
  /** Finished results whose row bodies wait for their types. */
  private kept: Array<KeptRows> | undefined = undefined

  constructor(rowMode: RowMode) {
    this.rowMode = rowMode
  }

  /**
   * A RowDescription: rows are decoded with `registry`, or kept as bytes when `needsTypes` says the session has
   * not looked their types up yet.
   */
  describe(
    message: Backend.RowDescription,
    registry: Registry,
    needsTypes?: ((oids: ReadonlyArray<number>) => boolean) | undefined
  ): void {
    const fields = toFields(message.fields)
    this.fields = fields
    if (needsTypes?.(fields.map((f) => f.dataTypeOid)) === true) {
      this.raw = []
      this.shape = undefined
      return
    }
    this.raw = undefined
    this.shape = new RowShape(fields, registry)
  }

  /** The columns are known without a RowDescription (a prepared statement's; `shape` undefined: no rows). */
  expect(fields: ReadonlyArray<Field>, shape: RowShape | undefined): void {
    this.fields = fields
    this.shape = shape
    this.raw = undefined
  }

  /** NoData: the statement returns no rows. */
  noData(): void {
    this.fields = NO_FIELDS
    this.shape = undefined
    this.raw = undefined
  }

  /** Decodes one DataRow body with the current shape. Throws `PgError` (CodecError or ProtocolError). */
  read(buf: Uint8Array, start: number, end: number): unknown {
    const shape = this.shape!
    return this.rowMode === "array" ? shape.readArray(buf, start, end) : shape.readObject(buf, start, end)
  }

  /**
   * Checks one DataRow body's framing without decoding it (its column count, every value's length inside the
   * body), for a row decoded later (a stream's, see `StreamRows`): a malformed row then breaks the session when it
   * arrives, as a row decoded at once does (`RowShape.readObject` throws the same errors). Throws `PgError`.
   */
  check(buf: Uint8Array, start: number, end: number): void {
    const n = this.shape!.count
    let p = start + 2
    if (p > end || ((buf[start]! << 8) | buf[start + 1]!) !== n) {
      const got = end - start >= 2 ? (buf[start]! << 8) | buf[start + 1]! : -1
      throw malformedRow(`DataRow has ${got} columns but the RowDescription has ${n}`, 0)
    }
    let i = 0
    for (; i < n; i++) {
      if (p + 4 > end) break
      const len = (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!
      p += 4
      if (len === -1) continue
      if (len < 0 || p + len > end) break
      p += len
    }
    if (i !== n || p !== end) throw malformedRow(`DataRow: malformed value at offset ${p - start}`, p - start)
  }

  /** One DataRow body of the current result: decoded, or kept as bytes while its types are unknown. */
  receive(buf: Uint8Array, start: number, end: number): void {
    if (this.raw !== undefined) {
      this.raw.push(buf.slice(start, end))
      return
    }
    const row = this.read(buf, start, end)
    // A first row makes an array of exactly one (a push onto [] reserves room for 17): most results of small
    // queries have one row.
    if (this.received === NO_ROWS) this.received = [row]
    else this.received.push(row)
  }

  /** The current result's rows so far, as an array of the caller's own. */
  get rows(): Array<unknown> {
    if (this.received === NO_ROWS) this.received = []
    return this.received
  }

  /** Closes the current result: its rows (decoded later if kept as bytes); the next result starts empty. */
  finish(): Array<unknown> {
    const rows = this.rows
    if (this.raw !== undefined) {
      ;(this.kept ??= []).push({ fields: this.fields, raw: this.raw, into: rows })
      this.raw = undefined
    }
    this.received = NO_ROWS
    this.fields = NO_FIELDS
    this.shape = undefined
    return rows
  }

  /** Whether rows wait for types the session has not looked up yet. */
  get waitsForTypes(): boolean {
    return this.raw !== undefined || this.kept !== undefined
  }

  /** The types of the columns whose rows wait (see `waitsForTypes`). */
  waitingTypes(): Array<number> {
    const oids: Array<number> = []
    if (this.raw !== undefined) for (const f of this.fields) oids.push(f.dataTypeOid)
    if (this.kept !== undefined) for (const kept of this.kept) for (const f of kept.fields) oids.push(f.dataTypeOid)
    return oids
  }

  /** Decodes the rows kept as bytes with `registry` (which now knows their types); the error that stopped it. */
  decodeKept(registry: Registry): PgError | undefined {
    let failure: PgError | undefined = undefined
    if (this.raw !== undefined) {
      const raw = this.raw
      this.raw = undefined
      this.shape = new RowShape(this.fields, registry)
      failure = this.readAll(this.shape, raw, this.rows)
    }
    if (this.kept !== undefined) {
      for (const { fields, into, raw } of this.kept) failure ??= this.readAll(new RowShape(fields, registry), raw, into)
      this.kept = undefined
    }
    return failure
  }

  private readAll(shape: RowShape, raw: ReadonlyArray<Uint8Array>, into: Array<unknown>): PgError | undefined {
    try {
      for (const row of raw) {
        into.push(this.rowMode === "array" ? shape.readArray(row, 0, row.length) : shape.readObject(row, 0, row.length))
      }
      return undefined
    } catch (e) {
      return e instanceof PgError ? e : new PgError({ reason: new CodecError({ message: String(e) }) })
    }
  }

  /** Forgets everything received (before a transparent re-run). */
  reset(): void {
    this.fields = NO_FIELDS
    this.received = NO_ROWS
    this.shape = undefined
    this.raw = undefined
    this.kept = undefined
  }
}
