/**
 * What the client sends to run statements (protocol-3.2 "Message Formats",
 * "Simple Query" and "Extended Query"): the simple Query, and Parse, Bind,
 * Describe, Execute, Close, Flush and Sync, each with its Schema, reader and
 * writer, and the hot-path writers (`writeParse`, `writeBind`, ...) the
 * session uses without message objects.
 *
 * **Details**
 *
 * - Query text that is not valid Unicode (a lone UTF-16 surrogate) is
 *   refused by `writeQuery`, `writeParse` and the Parse codec.
 * - Counts the docs write as Int16 are written and read as unsigned 16-bit
 *   (the server reads them so, and accepts 65535 parameters).
 * - Decoded parameter values are views into the frame.
 *
 * Re-exported by `Frontend` under the same names. Pure: no Effect runtime, no
 * IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { CodecError } from "../errors/PgError.ts"
import { Frontend as Code } from "../wire/Codes.ts"
import type { Reader } from "../wire/Reader.ts"
import type { Writer } from "../wire/Writer.ts"
import { Array16, readFormatCodes, readValues, writeCount16, writeFormatCodes, writeValues } from "./CodecParts.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"

/**
 * 'S' (a prepared statement) or 'P' (a portal), the target of Close and
 * Describe.
 *
 * @since 0.1.0
 */
export const Target = Schema.Literals(["S", "P"])
/** @since 0.1.0 */
export type Target = typeof Target.Type

const readTarget = (r: Reader): Target => {
  const b = r.uint8()
  if (b === 0x53) return "S"
  if (b === 0x50) return "P"
  r.pos -= 1
  return r.fail(`invalid target 0x${b.toString(16)} (expected 'S' or 'P')`)
}

// ---------------------------------------------------------------------------
// Bind (F) 'B'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const BindSchema = Schema.TaggedStruct("Bind", {
  /** The destination portal ("" is the unnamed portal). */
  portal: Fields.CString,
  /** The source prepared statement ("" is the unnamed statement). */
  statement: Fields.CString,
  /** None (all text), one (applies to all) or one per parameter. */
  parameterFormats: Array16(Fields.FormatCode),
  /** Parameter values; `null` is SQL NULL (length -1). */
  parameters: Array16(Fields.NullableBytes),
  /** None (all text), one (applies to all) or one per result column. */
  resultFormats: Array16(Fields.FormatCode)
})
/** @since 0.1.0 */
export interface Bind extends Schema.Schema.Type<typeof BindSchema> {}

const writeBindBody = (
  w: Writer,
  portal: string,
  statement: string,
  parameterFormats: ReadonlyArray<0 | 1>,
  parameters: ReadonlyArray<Uint8Array | null>,
  resultFormats: ReadonlyArray<0 | 1>
): void => {
  w.cstring(portal)
  w.cstring(statement)
  writeFormatCodes(w, parameterFormats, "parameter format")
  writeValues(w, parameters, "parameter")
  writeFormatCodes(w, resultFormats, "result format")
}

/**
 * Writes a whole Bind frame into `w` without a message object. Throws
 * `ProtocolError` (a NUL in a name, more than 65535 items).
 *
 * @since 0.1.0
 */
export const writeBind = (
  w: Writer,
  portal: string,
  statement: string,
  parameterFormats: ReadonlyArray<0 | 1>,
  parameters: ReadonlyArray<Uint8Array | null>,
  resultFormats: ReadonlyArray<0 | 1>
): void => {
  w.begin(Code.Bind, "Bind")
  writeBindBody(w, portal, statement, parameterFormats, parameters, resultFormats)
  w.end()
}

/**
 * Binds parameters to a prepared statement, creating a portal. Decoded
 * parameter values are views into the frame.
 *
 * @since 0.1.0
 */
export const Bind: Message.Codec<Bind> = Message.make({
  name: "Bind",
  type: Code.Bind,
  schema: BindSchema,
  readBody: (r) => {
    const portal = r.cstring()
    const statement = r.cstring()
    const parameterFormats = readFormatCodes(r, "parameter format")
    const parameters = readValues(r, "parameter")
    const resultFormats = readFormatCodes(r, "result format")
    return { _tag: "Bind", portal, statement, parameterFormats, parameters, resultFormats }
  },
  writeBody: (w, m) =>
    writeBindBody(w, m.portal, m.statement, m.parameterFormats, m.parameters, m.resultFormats)
})

// ---------------------------------------------------------------------------
// Close (F) 'C'
// ---------------------------------------------------------------------------

/** The body of Close and Describe: which kind of object, and its name. */
const targetFields = {
  /** 'S' a prepared statement, 'P' a portal. */
  target: Target,
  /** Its name ("" is the unnamed one). */
  name: Fields.CString
}

const writeTargetBody = (w: Writer, target: Target, name: string): void => {
  w.uint8(target === "S" ? 0x53 : 0x50)
  w.cstring(name)
}

/** The codec of Close or Describe, whose bodies have the same layout. */
const targetCodec = <A extends { readonly _tag: string; readonly target: Target; readonly name: string }>(
  name: A["_tag"],
  type: number,
  schema: Schema.Codec<A, A>
): Message.Codec<A> =>
  Message.make({
    name,
    type,
    schema,
    readBody: (r) => {
      const target = readTarget(r)
      return { _tag: name, target, name: r.cstring() } as A
    },
    writeBody: (w, m) => writeTargetBody(w, m.target, m.name)
  })

/** @since 0.1.0 */
export const CloseSchema = Schema.TaggedStruct("Close", targetFields)
/** @since 0.1.0 */
export interface Close extends Schema.Schema.Type<typeof CloseSchema> {}

/**
 * Writes a whole Close frame into `w`. Throws `ProtocolError` (a NUL in `name`).
 *
 * @since 0.1.0
 */
export const writeClose = (w: Writer, target: Target, name: string): void => {
  w.begin(Code.Close, "Close")
  writeTargetBody(w, target, name)
  w.end()
}

/** @since 0.1.0 */
export const Close: Message.Codec<Close> = targetCodec("Close", Code.Close, CloseSchema)

// ---------------------------------------------------------------------------
// Describe (F) 'D'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const DescribeSchema = Schema.TaggedStruct("Describe", targetFields)
/** @since 0.1.0 */
export interface Describe extends Schema.Schema.Type<typeof DescribeSchema> {}

/**
 * Writes a whole Describe frame into `w`. Throws `ProtocolError` (a NUL in
 * `name`).
 *
 * @since 0.1.0
 */
export const writeDescribe = (w: Writer, target: Target, name: string): void => {
  w.begin(Code.Describe, "Describe")
  writeTargetBody(w, target, name)
  w.end()
}

/** @since 0.1.0 */
export const Describe: Message.Codec<Describe> = targetCodec("Describe", Code.Describe, DescribeSchema)

// ---------------------------------------------------------------------------
// Execute (F) 'E'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const ExecuteSchema = Schema.TaggedStruct("Execute", {
  /** The portal ("" is the unnamed portal). */
  portal: Fields.CString,
  /** The most rows to return; 0 is no limit (the server also treats a negative value so). */
  maxRows: Fields.Int32
})
/** @since 0.1.0 */
export interface Execute extends Schema.Schema.Type<typeof ExecuteSchema> {}

const writeExecuteBody = (w: Writer, portal: string, maxRows: number): void => {
  w.cstring(portal)
  w.int32(maxRows)
}

/**
 * Writes a whole Execute frame into `w`. Throws `ProtocolError` (a NUL in
 * `portal`).
 *
 * @since 0.1.0
 */
export const writeExecute = (w: Writer, portal: string, maxRows: number): void => {
  w.begin(Code.Execute, "Execute")
  writeExecuteBody(w, portal, maxRows)
  w.end()
}

/** @since 0.1.0 */
export const Execute: Message.Codec<Execute> = Message.make({
  name: "Execute",
  type: Code.Execute,
  schema: ExecuteSchema,
  readBody: (r) => {
    const portal = r.cstring()
    return { _tag: "Execute", portal, maxRows: r.int32() }
  },
  writeBody: (w, m) => writeExecuteBody(w, m.portal, m.maxRows)
})

// ---------------------------------------------------------------------------
// Flush (F) 'H'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const FlushSchema = Schema.TaggedStruct("Flush", {})
/** @since 0.1.0 */
export interface Flush extends Schema.Schema.Type<typeof FlushSchema> {}
/**
 * Asks the server to send what it has buffered, without ending the
 * extended-query cycle (no ReadyForQuery).
 *
 * @since 0.1.0
 */
export const Flush: Message.Codec<Flush> = Message.empty({ name: "Flush", type: Code.Flush, schema: FlushSchema })

/**
 * Writes a Flush frame into `w`.
 *
 * @since 0.1.0
 */
export const writeFlush = (w: Writer): void => {
  w.begin(Code.Flush, "Flush").end()
}

// ---------------------------------------------------------------------------
// Parse (F) 'P'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const ParseSchema = Schema.TaggedStruct("Parse", {
  /** The destination prepared statement ("" is the unnamed statement). */
  name: Fields.CString,
  /** The query string. */
  query: Fields.CString,
  /** Type OIDs the client prespecifies (0 leaves one unspecified). */
  parameterTypes: Array16(Fields.UInt32)
})
/** @since 0.1.0 */
export interface Parse extends Schema.Schema.Type<typeof ParseSchema> {}

/**
 * Refuses query text that is not valid Unicode: a lone UTF-16 surrogate would go out as U+FFFD (UTF-8 has no form
 * for it), so the server would run another statement than the one written. Throws `CodecError` naming the
 * character's position (1-based, as the server's error positions).
 */
const checkQueryText = (query: string): void => {
  if (query.isWellFormed()) return
  for (let i = 0; i < query.length; i++) {
    const c = query.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = query.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++
        continue
      }
    } else if (c < 0xdc00 || c > 0xdfff) continue
    throw new CodecError({
      message: `the query text holds a lone UTF-16 surrogate (0x${c.toString(16)}) at position ${i + 1}: ` +
        `it is not valid Unicode and cannot be sent as UTF-8`
    })
  }
}

const writeParseBody = (w: Writer, name: string, query: string, parameterTypes: ReadonlyArray<number>): void => {
  checkQueryText(query)
  w.cstring(name)
  w.cstring(query)
  writeCount16(w, parameterTypes.length, "parameter type")
  for (let i = 0; i < parameterTypes.length; i++) w.uint32(parameterTypes[i]!)
}

/**
 * Writes a whole Parse frame into `w`. Throws `ProtocolError` (a NUL in the
 * name or query, more than 65535 types).
 *
 * @since 0.1.0
 */
export const writeParse = (w: Writer, name: string, query: string, parameterTypes: ReadonlyArray<number>): void => {
  w.begin(Code.Parse, "Parse")
  writeParseBody(w, name, query, parameterTypes)
  w.end()
}

/** @since 0.1.0 */
export const Parse: Message.Codec<Parse> = Message.make({
  name: "Parse",
  type: Code.Parse,
  schema: ParseSchema,
  readBody: (r) => {
    const name = r.cstring()
    const query = r.cstring()
    const n = r.countU16("parameter type", 4)
    const parameterTypes: Array<number> = new Array(n)
    for (let i = 0; i < n; i++) parameterTypes[i] = r.uint32()
    return { _tag: "Parse", name, query, parameterTypes }
  },
  writeBody: (w, m) => writeParseBody(w, m.name, m.query, m.parameterTypes)
})

// ---------------------------------------------------------------------------
// Query (F) 'Q'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const QuerySchema = Schema.TaggedStruct("Query", {
  /** The query string (one or more statements). */
  query: Fields.CString
})
/** @since 0.1.0 */
export interface Query extends Schema.Schema.Type<typeof QuerySchema> {}

/**
 * Writes a whole Query frame into `w`. Throws `ProtocolError` (a NUL in
 * `query`).
 *
 * @since 0.1.0
 */
export const writeQuery = (w: Writer, query: string): void => {
  checkQueryText(query)
  w.begin(Code.Query, "Query")
  w.cstring(query)
  w.end()
}

/**
 * A simple query.
 *
 * @since 0.1.0
 */
export const Query: Message.Codec<Query> = Message.make({
  name: "Query",
  type: Code.Query,
  schema: QuerySchema,
  readBody: (r) => ({ _tag: "Query", query: r.cstring() }),
  writeBody: (w, m) => {
    w.cstring(m.query)
  }
})

// ---------------------------------------------------------------------------
// Sync (F) 'S', Terminate (F) 'X'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const SyncSchema = Schema.TaggedStruct("Sync", {})
/** @since 0.1.0 */
export interface Sync extends Schema.Schema.Type<typeof SyncSchema> {}
/**
 * Ends an extended-query cycle: the server answers ReadyForQuery (after
 * skipping to here on an error).
 *
 * @since 0.1.0
 */
export const Sync: Message.Codec<Sync> = Message.empty({ name: "Sync", type: Code.Sync, schema: SyncSchema })

/**
 * Writes a Sync frame into `w`.
 *
 * @since 0.1.0
 */
export const writeSync = (w: Writer): void => {
  w.begin(Code.Sync, "Sync").end()
}
