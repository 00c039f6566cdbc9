/**
 * What a server handler produces and what the engine gives it: the contract
 * between `PgServer` and the program behind it.
 *
 * A handler answers a simple Query with a Stream of `Outcome`s (one per
 * statement), and, when it supports the extended protocol, prepares statements
 * whose `execute` yields one `Outcome` per portal. Rows are arrays of
 * JavaScript values in field order; the engine encodes them in text or binary
 * per the client's Bind result formats through `src/types` codecs. The engine
 * owns every protocol rule (ReadyForQuery accounting, discard until Sync,
 * portal suspension, the COPY sub-protocol): a handler never writes frames.
 *
 * Deliberately not here: any SQL parsing. The engine cannot know what a
 * statement means; the handler says it (`Command.transaction`).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import type * as ErrorFields from "../protocol/ErrorFields.ts"
import { builtinTypes, Oid } from "../types/Oid.ts"
import { defaultRegistry } from "../types/Registry.ts"
import type { TypeCodec } from "../types/TypeCodec.ts"
import type { ServerError } from "./ServerError.ts"

/**
 * One result column.
 *
 * @since 0.1.0
 */
export interface Field {
  readonly name: string
  /** The data type's OID (`types/Oid.Oid`). */
  readonly typeOid: number
  /** How values are encoded; default: the built-in codec of `typeOid`, else values are sent as their text. */
  readonly codec?: TypeCodec<any> | undefined
  /** The table's OID when the column is a table column, else 0. */
  readonly tableOid?: number | undefined
  /** The column's attribute number when it is a table column, else 0. */
  readonly columnAttributeNumber?: number | undefined
  readonly typeModifier?: number | undefined
}

/**
 * A field named `name` of the built-in type `type` (`"int4"`, `"text"`, ...).
 *
 * @since 0.1.0
 */
export const field = (name: string, type: keyof typeof Oid): Field => ({ name, typeOid: Oid[type] })

const lengths = new Map(builtinTypes.map((t) => [t.oid, t.length]))

/** pg_type.typlen of a built-in type (-1 when unknown: variable width). @since 0.1.0 */
export const typeSize = (oid: number): number => lengths.get(oid) ?? -1

/** The codec rows of `field` are encoded with, if any. @since 0.1.0 */
export const codecOf = (field: Field): TypeCodec<any> | undefined => field.codec ?? defaultRegistry.get(field.typeOid)

/**
 * A row: one value per field. `null` and `undefined` are SQL NULL; a string is
 * sent as the value's text when the client asked for text; a `Uint8Array` of a
 * field without a codec is sent as it is.
 *
 * @since 0.1.0
 */
export type Row = ReadonlyArray<unknown>

/**
 * The result of one statement.
 *
 * **Details**
 *
 * - `Rows`: the engine sends RowDescription (simple protocol), the rows, then
 *   CommandComplete `tag(n)` (default `SELECT n`). Rows are pulled only as the
 *   client reads them: an Execute with `max_rows` pulls about that many.
 * - `Command`: CommandComplete with `tag` (`"INSERT 0 1"`, `"BEGIN"`);
 *   `transaction` moves the status byte: `begin` to 'T', `commit` and
 *   `rollback` to 'I' (closing the transaction's portals).
 * - `Empty`: EmptyQueryResponse (an empty statement).
 * - `CopyIn`: CopyInResponse, then the client's CopyData chunks feed `sink`,
 *   whose result is the command tag (`"COPY 3"`). CopyFail fails it (57014).
 * - `CopyOut`: CopyOutResponse, every chunk of `data` as CopyData, CopyDone
 *   and `COPY n` (n chunks unless `tag` says otherwise).
 *
 * @since 0.1.0
 */
export type Outcome<R = never> =
  | {
    readonly _tag: "Rows"
    readonly fields: ReadonlyArray<Field>
    readonly rows: Stream.Stream<Row, ServerError, R>
    readonly tag?: ((rows: number) => string) | undefined
  }
  | { readonly _tag: "Command"; readonly tag: string; readonly transaction?: "begin" | "commit" | "rollback" | undefined }
  | { readonly _tag: "Empty" }
  | {
    readonly _tag: "CopyIn"
    readonly format?: 0 | 1 | undefined
    readonly columns?: ReadonlyArray<0 | 1> | undefined
    readonly sink: Sink.Sink<string, Uint8Array, never, ServerError, R>
  }
  | {
    readonly _tag: "CopyOut"
    readonly format?: 0 | 1 | undefined
    readonly columns?: ReadonlyArray<0 | 1> | undefined
    readonly data: Stream.Stream<Uint8Array, ServerError, R>
    readonly tag?: ((chunks: number) => string) | undefined
  }

/**
 * Outcome constructors.
 *
 * @since 0.1.0
 */
export const Outcome = {
  rows: <R = never>(
    fields: ReadonlyArray<Field>,
    rows: Stream.Stream<Row, ServerError, R>,
    tag?: (rows: number) => string
  ): Outcome<R> => ({ _tag: "Rows", fields, rows, tag }),
  command: (tag: string, transaction?: "begin" | "commit" | "rollback"): Outcome<never> => ({
    _tag: "Command",
    tag,
    transaction
  }),
  empty: { _tag: "Empty" } as Outcome<never>
} as const

/**
 * The parameters of a Bind, as sent and as decoded.
 *
 * **Details**
 *
 * `raw[i]` is a copy of the client's bytes (or `null`), in format `formats[i]`.
 * `values[i]` is decoded with the codec of `types[i]` when the engine knows it;
 * a text parameter of an unknown type (or OID 0) is its string, a binary one
 * its bytes.
 *
 * @since 0.1.0
 */
export interface BoundParams {
  readonly types: ReadonlyArray<number>
  readonly formats: ReadonlyArray<0 | 1>
  readonly raw: ReadonlyArray<Uint8Array | null>
  readonly values: ReadonlyArray<unknown>
}

/**
 * A prepared statement, as a handler's `prepare` describes it.
 *
 * @since 0.1.0
 */
export interface Prepared<R = never> {
  /** The parameter types (ParameterDescription); OIDs the client left 0 should be inferred here. */
  readonly paramTypes: ReadonlyArray<number>
  /** The result columns, or `null` when the statement returns no rows (NoData). */
  readonly fields: ReadonlyArray<Field> | null
  /** Runs the statement for one portal, in the portal's Scope (closed at Close, at transaction end, or with the connection). */
  readonly execute: (params: BoundParams) => Effect.Effect<Outcome<R>, ServerError, R | Session | Scope.Scope>
}

/**
 * The program behind a server.
 *
 * @since 0.1.0
 */
export interface Handler<R = never> {
  /** A simple Query: one Outcome per statement, in order. An empty query string should yield one `Empty`. */
  readonly simple: (sql: string) => Stream.Stream<Outcome<R>, ServerError, R | Session>
  /** Parse; without it the extended protocol is answered 0A000. */
  readonly prepare?:
    | ((statement: {
      readonly name: string
      readonly sql: string
      readonly paramTypes: ReadonlyArray<number>
    }) => Effect.Effect<Prepared<R>, ServerError, R | Session>)
    | undefined
  /** FunctionCall; without it the call is answered 0A000. */
  readonly functionCall?:
    | ((
      oid: number,
      args: ReadonlyArray<Uint8Array | null>,
      resultFormat: 0 | 1
    ) => Effect.Effect<Uint8Array | null, ServerError, R | Session>)
    | undefined
}

/**
 * The TLS side of a connection, when it has one.
 *
 * @since 0.1.0
 */
export interface TlsInfo {
  readonly sni: string | undefined
  readonly alpn: string | undefined
}

/**
 * The connection a handler runs for.
 *
 * **Details**
 *
 * `setParameter`, `notice` and `notify` queue their frames; they reach the
 * client with the statement's output (ParameterStatus and notices at once,
 * notifications before the next ReadyForQuery, as PostgreSQL sends them).
 *
 * @since 0.1.0
 */
export class Session extends Context.Service<Session, {
  readonly processId: number
  readonly protocol: { readonly major: 3; readonly minor: 0 | 2 }
  readonly startup: ReadonlyMap<string, string>
  readonly user: string
  readonly database: string
  readonly tls: Option.Option<TlsInfo>
  readonly transactionStatus: Effect.Effect<"I" | "T" | "E">
  readonly setParameter: (name: string, value: string) => Effect.Effect<void>
  readonly notice: (fields: ReadonlyArray<ErrorFields.ErrorField>) => Effect.Effect<void>
  readonly notify: (channel: string, payload: string, processId?: number) => Effect.Effect<void>
}>()("effect-pgwire/server/Session") {}

/** `Option.none()` re-exported for handlers building a `Session` by hand in tests. @since 0.1.0 */
export const noTls: Option.Option<TlsInfo> = Option.none()
