/**
 * The replies a client is owed by its upstream, in order: one entry per
 * message written upstream that the server answers, and the replies the proxy
 * makes itself; `judge` says what one upstream frame does to the head entry.
 *
 * **Details**
 *
 * - Parse: ParseComplete; Bind: BindComplete; Describe of a statement:
 *   ParameterDescription then RowDescription or NoData; of a portal:
 *   RowDescription or NoData; Close: CloseComplete; Execute: rows up to
 *   CommandComplete, EmptyQueryResponse or PortalSuspended (a COPY inside);
 *   Sync, Query and FunctionCall: everything up to ReadyForQuery (judged by
 *   the relay, with ErrorResponse and the asynchronous messages).
 * - `Hidden` kinds answer messages the proxy added (a Parse replayed on
 *   another upstream, the Close of an evicted statement, the `set_config` of
 *   tracked parameters): their replies are dropped.
 * - `Synthetic` entries carry the proxy's own replies (a ParseComplete for a
 *   statement the upstream already has, a CloseComplete, its errors), sent
 *   when they reach the head so the client sees every reply in the order of
 *   its messages.
 *
 * Pure: the frame constants are built once at load.
 *
 * @since 0.1.0
 */
import type { PgError } from "../errors/PgError.ts"
import * as Backend from "../protocol/Backend.ts"
import * as ServerError from "../server/ServerError.ts"
import { Backend as Code } from "../wire/Codes.ts"
import { Reader } from "../wire/Reader.ts"
import { Writer } from "../wire/Writer.ts"

/**
 * What a written message is owed.
 *
 * @since 0.1.0
 */
export const Kind = {
  Parse: 0,
  ParseHidden: 1,
  Bind: 2,
  DescribeStatement: 3,
  DescribePortal: 4,
  Close: 5,
  CloseHidden: 6,
  Execute: 7,
  Sync: 8,
  Query: 9,
  QueryHidden: 10,
  FunctionCall: 11,
  Synthetic: 12,
} as const
export type Kind = typeof Kind[keyof typeof Kind]

/**
 * One expected reply.
 *
 * @since 0.1.0
 */
export interface Entry {
  readonly kind: Kind
  /** Upstream statement name a Parse records (forgotten if the Parse is skipped). */
  readonly upstreamName?: string | undefined
  /** Client statement name a Parse creates (forgotten if the Parse is skipped). */
  readonly clientName?: string | undefined
  /** A Sync the client sent after ending a COPY whose CopyInResponse had not come yet (see `Relay`). */
  readonly afterCopy?: boolean | undefined
  /** A Parse of the unnamed statement (the client's, or the proxy's replay of it). */
  readonly unnamed?: boolean | undefined
  /** A synthetic entry's frames. */
  readonly bytes?: Uint8Array | undefined
  /** A synthetic entry that ends with ReadyForQuery. */
  readonly ready?: boolean | undefined
  /** A DISCARD ALL query: on success the client's statements and pin go. */
  readonly discardAll?: boolean | undefined
  /** A query with RESET ALL: once it ran, the upstream's settings the proxy made are no longer known. */
  readonly resetAll?: boolean | undefined
  /** A Describe of a statement got its ParameterDescription. */
  described?: boolean
}

/**
 * Entries without a field of their own, shared by every message of their
 * kind (a Describe of a statement marks its entry, so it is never shared).
 *
 * @since 0.1.0
 */
export const SHARED: { readonly [K in "Parse" | "Bind" | "DescribePortal" | "Close" | "CloseHidden" | "Execute" | "Sync" | "Query" | "QueryHidden" | "FunctionCall"]: Entry } = {
  Parse: Object.freeze({ kind: Kind.Parse }),
  Bind: Object.freeze({ kind: Kind.Bind }),
  DescribePortal: Object.freeze({ kind: Kind.DescribePortal }),
  Close: Object.freeze({ kind: Kind.Close }),
  CloseHidden: Object.freeze({ kind: Kind.CloseHidden }),
  Execute: Object.freeze({ kind: Kind.Execute }),
  Sync: Object.freeze({ kind: Kind.Sync }),
  Query: Object.freeze({ kind: Kind.Query }),
  QueryHidden: Object.freeze({ kind: Kind.QueryHidden }),
  FunctionCall: Object.freeze({ kind: Kind.FunctionCall })
}

/**
 * What an upstream frame does to the head entry: relayed and the entry stays
 * (a row), relayed and the entry is done, dropped and done (a hidden reply),
 * dropped, or not allowed (a desync).
 *
 * @since 0.1.0
 */
export const Verdict = { Relay: 0, RelayLast: 1, DropLast: 2, Drop: 3, Desync: 4 } as const
/** @since 0.1.0 */
export type Verdict = typeof Verdict[keyof typeof Verdict]

/**
 * The verdict for a frame of `type` (not ErrorResponse, ReadyForQuery or an
 * asynchronous message) against the head entry.
 *
 * @since 0.1.0
 */
export const judge = (entry: Entry, type: number): Verdict => {
  switch (entry.kind) {
    case Kind.Parse:
      return type === Code.ParseComplete ? Verdict.RelayLast : Verdict.Desync
    case Kind.ParseHidden:
      return type === Code.ParseComplete ? Verdict.DropLast : Verdict.Desync
    case Kind.Bind:
      return type === Code.BindComplete ? Verdict.RelayLast : Verdict.Desync
    case Kind.DescribeStatement:
      if (type === Code.ParameterDescription && entry.described !== true) {
        entry.described = true
        return Verdict.Relay
      }
      return type === Code.RowDescription || type === Code.NoData ? Verdict.RelayLast : Verdict.Desync
    case Kind.DescribePortal:
      return type === Code.RowDescription || type === Code.NoData ? Verdict.RelayLast : Verdict.Desync
    case Kind.Close:
      return type === Code.CloseComplete ? Verdict.RelayLast : Verdict.Desync
    case Kind.CloseHidden:
      return type === Code.CloseComplete ? Verdict.DropLast : Verdict.Desync
    case Kind.Execute:
      return type === Code.CommandComplete || type === Code.EmptyQueryResponse || type === Code.PortalSuspended
        ? Verdict.RelayLast
        : Verdict.Relay
    case Kind.Query:
    case Kind.FunctionCall:
      return Verdict.Relay
    case Kind.QueryHidden:
      return Verdict.Drop
    case Kind.Sync:
    case Kind.Synthetic:
      return Verdict.Desync
  }
}

/**
 * What a client is owed when its upstream is lost with entries from `from` on
 * outstanding: the proxy's own replies up to the first failure, the failure
 * once per batch, and a ReadyForQuery for each Sync, Query and FunctionCall.
 * `open`: a batch without its Sync yet failed (its messages are dropped until
 * the Sync, answered then).
 *
 * @since 0.1.0
 */
export const owedOnLoss = (
  entries: ReadonlyArray<Entry>,
  from: number,
  failure: Uint8Array
): { readonly frames: Array<Uint8Array>; readonly open: boolean } => {
  const frames: Array<Uint8Array> = []
  let failed = false
  for (let i = from; i < entries.length; i++) {
    const entry = entries[i]!
    if (entry.kind === Kind.QueryHidden) continue
    if (entry.kind === Kind.Synthetic) {
      if (!failed) frames.push(entry.bytes!)
      continue
    }
    if (entry.kind === Kind.Sync || entry.kind === Kind.Query || entry.kind === Kind.FunctionCall) {
      if (!failed) frames.push(failure)
      frames.push(READY_IDLE)
      failed = false
    } else if (!failed) {
      frames.push(failure)
      failed = true
    }
  }
  return { frames, open: failed }
}

const frame = (write: (w: Writer) => void): Uint8Array => {
  const w = new Writer(64)
  write(w)
  return w.flushCopy()
}
/** Frames of backend messages, encoded once. @since 0.1.0 */
export const backend = (...messages: ReadonlyArray<Backend.BackendMessage>): Uint8Array =>
  frame((w) => {
    for (const m of messages) Backend.writeUnsafe(w, m)
  })
/** @since 0.1.0 */
export const PARSE_COMPLETE = backend({ _tag: "ParseComplete" })
/** @since 0.1.0 */
export const CLOSE_COMPLETE = backend({ _tag: "CloseComplete" })
/** @since 0.1.0 */
export const errorFrame = (error: ServerError.ServerError): Uint8Array =>
  backend({ _tag: "ErrorResponse", fields: ServerError.toFields(error) })
/** @since 0.1.0 */
export const readyFrame = (status: "I" | "T" | "E"): Uint8Array => backend({ _tag: "ReadyForQuery", transactionStatus: status })
const READY_IDLE = readyFrame("I")

export const decoder = new TextDecoder()
export const reader = new Reader()
/** Where a NUL-terminated string in a frame body ends. @since 0.1.0 */
export const cstringEnd = (body: Uint8Array, from: number): number => {
  const end = body.indexOf(0, from)
  return end < 0 ? body.length : end
}
/** @since 0.1.0 */
export const text = (body: Uint8Array, from: number, to: number): string => decoder.decode(body.subarray(from, to))

/** The non-localized severity (field 'V') of an ErrorResponse body, read without decoding the rest. @since 0.1.0 */
export const severityOf = (buf: Uint8Array, start: number, end: number): string | undefined => {
  let i = start
  while (i < end && buf[i] !== 0) {
    const code = buf[i]!
    const valueEnd = buf.indexOf(0, i + 1)
    if (valueEnd < 0 || valueEnd >= end) return undefined
    if (code === 0x56) return decoder.decode(buf.subarray(i + 1, valueEnd))
    i = valueEnd + 1
  }
  return undefined
}

/** The error a client gets for a statement its lost upstream owed it. @since 0.1.0 */
export const lostError = (error: PgError): ServerError.ServerError =>
  ServerError.make("08006", `the upstream connection was lost: ${error.reason.message}`)
