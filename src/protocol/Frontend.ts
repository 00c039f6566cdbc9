/**
 * Messages sent by the client after startup (protocol-3.2 "Message Formats",
 * every typed message marked "(F)" or "(F & B)"), each with its Schema, reader
 * and writer, in the order of the documentation; the hot-path writers the
 * session uses without message objects; frames that never change, encoded
 * once; and the dispatch over all of them (for the server engine and the fake
 * server, which read what a client sends).
 *
 * **Details**
 *
 * - The 'p' type byte is shared by GSSResponse, PasswordMessage,
 *   SASLInitialResponse and SASLResponse: "the exact message type can be
 *   deduced from the context", never from the bytes. A reader that does not
 *   say which one it expects (`PasswordContext`) gets a PasswordMessage, the
 *   answer to the most common request (AuthenticationCleartextPassword or
 *   AuthenticationMD5Password).
 * - Counts the docs write as Int16 are written and read as unsigned 16-bit
 *   (the server reads them so, and accepts 65535 parameters).
 * - Decoding errors name the message and the offset counted from the first
 *   byte of the body (after the length word). Byte fields are views into the
 *   frame.
 * - Startup-phase frames (StartupMessage, SSLRequest, GSSENCRequest,
 *   CancelRequest) have no type byte and live in `Startup`.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { CodecError, ProtocolError } from "../errors/PgError.ts"
import { Frontend as Code } from "../wire/Codes.ts"
import { Reader } from "../wire/Reader.ts"
import type { Writer } from "../wire/Writer.ts"
import * as Backend from "./Backend.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

/** The most items an unsigned 16-bit count can announce. */
const MAX_COUNT16 = 65535

/** An array whose length must fit in an unsigned 16-bit count. */
const Array16 = <S extends Schema.Top>(item: S) => Schema.Array(item).check(Schema.isMaxLength(MAX_COUNT16))

const writeCount16 = (w: Writer, n: number, what: string): void => {
  if (n > MAX_COUNT16) w.fail(`${n} ${what}s exceed the limit of ${MAX_COUNT16}`)
  w.uint16(n)
}

const readFormatCode = (r: Reader): 0 | 1 => {
  const v = r.int16()
  if (v !== 0 && v !== 1) {
    r.pos -= 2
    r.fail(`invalid format code ${v}`)
  }
  return v
}

const readFormatCodes = (r: Reader, what: string): Array<0 | 1> => {
  const n = r.countU16(what, 2)
  const out: Array<0 | 1> = new Array(n)
  for (let i = 0; i < n; i++) out[i] = readFormatCode(r)
  return out
}

const writeFormatCodes = (w: Writer, codes: ReadonlyArray<0 | 1>, what: string): void => {
  writeCount16(w, codes.length, what)
  for (let i = 0; i < codes.length; i++) w.int16(codes[i]!)
}

const readValues = (r: Reader, what: string): Array<Uint8Array | null> => {
  const n = r.countU16(what, 4)
  const out: Array<Uint8Array | null> = new Array(n)
  for (let i = 0; i < n; i++) out[i] = r.nullableBytes()
  return out
}

const writeValues = (w: Writer, values: ReadonlyArray<Uint8Array | null>, what: string): void => {
  writeCount16(w, values.length, what)
  for (let i = 0; i < values.length; i++) w.nullableBytes(values[i]!)
}

/** A body-less message: one frozen instance, shared by every decode. */
const emptyCodec = <A extends { readonly _tag: string }>(
  name: A["_tag"],
  type: number,
  schema: Schema.Codec<A, A>
): Message.Codec<A> => {
  const instance = Object.freeze({ _tag: name }) as A
  return Message.make({ name, type, schema, readBody: () => instance, writeBody: () => {} })
}

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

/** @since 0.1.0 */
export const CloseSchema = Schema.TaggedStruct("Close", {
  /** 'S' a prepared statement, 'P' a portal. */
  target: Target,
  /** Its name ("" is the unnamed one). */
  name: Fields.CString
})
/** @since 0.1.0 */
export interface Close extends Schema.Schema.Type<typeof CloseSchema> {}

const writeCloseBody = (w: Writer, target: Target, name: string): void => {
  w.uint8(target === "S" ? 0x53 : 0x50)
  w.cstring(name)
}

/**
 * Writes a whole Close frame into `w`. Throws `ProtocolError` (a NUL in `name`).
 *
 * @since 0.1.0
 */
export const writeClose = (w: Writer, target: Target, name: string): void => {
  w.begin(Code.Close, "Close")
  writeCloseBody(w, target, name)
  w.end()
}

/** @since 0.1.0 */
export const Close: Message.Codec<Close> = Message.make({
  name: "Close",
  type: Code.Close,
  schema: CloseSchema,
  readBody: (r) => {
    const target = readTarget(r)
    return { _tag: "Close", target, name: r.cstring() }
  },
  writeBody: (w, m) => writeCloseBody(w, m.target, m.name)
})

// ---------------------------------------------------------------------------
// CopyData (F & B) 'd', CopyDone (F & B) 'c', CopyFail (F) 'f'
// ---------------------------------------------------------------------------

/**
 * The same message in both directions: `Frontend.CopyData` is
 * `Backend.CopyData`.
 *
 * @since 0.1.0
 */
export const CopyDataSchema = Backend.CopyDataSchema
/** @since 0.1.0 */
export type CopyData = Backend.CopyData
/** @since 0.1.0 */
export const CopyData: Message.Codec<CopyData> = Backend.CopyData

/** @since 0.1.0 */
export const CopyDoneSchema = Backend.CopyDoneSchema
/** @since 0.1.0 */
export type CopyDone = Backend.CopyDone
/** @since 0.1.0 */
export const CopyDone: Message.Codec<CopyDone> = Backend.CopyDone

/** @since 0.1.0 */
export const CopyFailSchema = Schema.TaggedStruct("CopyFail", {
  /** The error message to report as the cause of failure. */
  message: Fields.CString
})
/** @since 0.1.0 */
export interface CopyFail extends Schema.Schema.Type<typeof CopyFailSchema> {}
/**
 * Aborts a COPY FROM STDIN; the server answers with an ErrorResponse.
 *
 * @since 0.1.0
 */
export const CopyFail: Message.Codec<CopyFail> = Message.make({
  name: "CopyFail",
  type: Code.CopyFail,
  schema: CopyFailSchema,
  readBody: (r) => ({ _tag: "CopyFail", message: r.cstring() }),
  writeBody: (w, m) => {
    w.cstring(m.message)
  }
})

// ---------------------------------------------------------------------------
// Describe (F) 'D'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const DescribeSchema = Schema.TaggedStruct("Describe", {
  /** 'S' a prepared statement, 'P' a portal. */
  target: Target,
  /** Its name ("" is the unnamed one). */
  name: Fields.CString
})
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
  writeCloseBody(w, target, name)
  w.end()
}

/** @since 0.1.0 */
export const Describe: Message.Codec<Describe> = Message.make({
  name: "Describe",
  type: Code.Describe,
  schema: DescribeSchema,
  readBody: (r) => {
    const target = readTarget(r)
    return { _tag: "Describe", target, name: r.cstring() }
  },
  writeBody: (w, m) => writeCloseBody(w, m.target, m.name)
})

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
export const Flush: Message.Codec<Flush> = emptyCodec("Flush", Code.Flush, FlushSchema)

/**
 * Writes a Flush frame into `w`.
 *
 * @since 0.1.0
 */
export const writeFlush = (w: Writer): void => {
  w.begin(Code.Flush, "Flush").end()
}

// ---------------------------------------------------------------------------
// FunctionCall (F) 'F'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const FunctionCallSchema = Schema.TaggedStruct("FunctionCall", {
  /** The OID of the function to call. */
  functionOid: Fields.UInt32,
  /** None (all text), one (applies to all) or one per argument. */
  argumentFormats: Array16(Fields.FormatCode),
  /** Argument values; `null` is SQL NULL (length -1). */
  arguments: Array16(Fields.NullableBytes),
  /** The format of the result: 0 text, 1 binary. */
  resultFormat: Fields.FormatCode
})
/** @since 0.1.0 */
export interface FunctionCall extends Schema.Schema.Type<typeof FunctionCallSchema> {}
/**
 * Calls a function by OID (the legacy fast-path interface). Decoded argument
 * values are views into the frame.
 *
 * @since 0.1.0
 */
export const FunctionCall: Message.Codec<FunctionCall> = Message.make({
  name: "FunctionCall",
  type: Code.FunctionCall,
  schema: FunctionCallSchema,
  readBody: (r) => {
    const functionOid = r.uint32()
    const argumentFormats = readFormatCodes(r, "argument format")
    const args = readValues(r, "argument")
    const resultFormat = readFormatCode(r)
    return { _tag: "FunctionCall", functionOid, argumentFormats, arguments: args, resultFormat }
  },
  writeBody: (w, m) => {
    w.uint32(m.functionOid)
    writeFormatCodes(w, m.argumentFormats, "argument format")
    writeValues(w, m.arguments, "argument")
    w.int16(m.resultFormat)
  }
})

// ---------------------------------------------------------------------------
// GSSResponse (F) 'p'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const GSSResponseSchema = Schema.TaggedStruct("GSSResponse", {
  /** GSSAPI/SSPI specific message data. */
  data: Fields.Bytes
})
/** @since 0.1.0 */
export interface GSSResponse extends Schema.Schema.Type<typeof GSSResponseSchema> {}
/**
 * A GSSAPI or SSPI response ('p': see the module notes). `data` is a view.
 *
 * @since 0.1.0
 */
export const GSSResponse: Message.Codec<GSSResponse> = Message.make({
  name: "GSSResponse",
  type: Code.PasswordFamily,
  schema: GSSResponseSchema,
  readBody: (r) => ({ _tag: "GSSResponse", data: r.rest() }),
  writeBody: (w, m) => {
    w.bytes(m.data)
  }
})

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
// PasswordMessage (F) 'p'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const PasswordMessageSchema = Schema.TaggedStruct("PasswordMessage", {
  /** The password (hashed, if MD5 was requested). */
  password: Fields.CString
})
/** @since 0.1.0 */
export interface PasswordMessage extends Schema.Schema.Type<typeof PasswordMessageSchema> {}
/**
 * A password response ('p': see the module notes).
 *
 * @since 0.1.0
 */
export const PasswordMessage: Message.Codec<PasswordMessage> = Message.make({
  name: "PasswordMessage",
  type: Code.PasswordFamily,
  schema: PasswordMessageSchema,
  readBody: (r) => ({ _tag: "PasswordMessage", password: r.cstring() }),
  writeBody: (w, m) => {
    w.cstring(m.password)
  }
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
// SASLInitialResponse (F) 'p'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const SASLInitialResponseSchema = Schema.TaggedStruct("SASLInitialResponse", {
  /** The SASL mechanism the client selected. */
  mechanism: Fields.CString,
  /** The mechanism's "Initial Client Response", or `null` for none (length -1). */
  data: Fields.NullableBytes
})
/** @since 0.1.0 */
export interface SASLInitialResponse extends Schema.Schema.Type<typeof SASLInitialResponseSchema> {}
/**
 * The first SASL message ('p': see the module notes). `data` is a view.
 *
 * @since 0.1.0
 */
export const SASLInitialResponse: Message.Codec<SASLInitialResponse> = Message.make({
  name: "SASLInitialResponse",
  type: Code.PasswordFamily,
  schema: SASLInitialResponseSchema,
  readBody: (r) => {
    const mechanism = r.cstring()
    return { _tag: "SASLInitialResponse", mechanism, data: r.nullableBytes() }
  },
  writeBody: (w, m) => {
    w.cstring(m.mechanism)
    w.nullableBytes(m.data)
  }
})

// ---------------------------------------------------------------------------
// SASLResponse (F) 'p'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const SASLResponseSchema = Schema.TaggedStruct("SASLResponse", {
  /** Mechanism-specific data (SCRAM's client-final-message). */
  data: Fields.Bytes
})
/** @since 0.1.0 */
export interface SASLResponse extends Schema.Schema.Type<typeof SASLResponseSchema> {}
/**
 * A later SASL message ('p': see the module notes). `data` is a view.
 *
 * @since 0.1.0
 */
export const SASLResponse: Message.Codec<SASLResponse> = Message.make({
  name: "SASLResponse",
  type: Code.PasswordFamily,
  schema: SASLResponseSchema,
  readBody: (r) => ({ _tag: "SASLResponse", data: r.rest() }),
  writeBody: (w, m) => {
    w.bytes(m.data)
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
export const Sync: Message.Codec<Sync> = emptyCodec("Sync", Code.Sync, SyncSchema)

/**
 * Writes a Sync frame into `w`.
 *
 * @since 0.1.0
 */
export const writeSync = (w: Writer): void => {
  w.begin(Code.Sync, "Sync").end()
}

/** @since 0.1.0 */
export const TerminateSchema = Schema.TaggedStruct("Terminate", {})
/** @since 0.1.0 */
export interface Terminate extends Schema.Schema.Type<typeof TerminateSchema> {}
/**
 * Ends the session; the client then closes the connection.
 *
 * @since 0.1.0
 */
export const Terminate: Message.Codec<Terminate> = emptyCodec("Terminate", Code.Terminate, TerminateSchema)

// ---------------------------------------------------------------------------
// Frames encoded once
// ---------------------------------------------------------------------------

const constant = <A extends { readonly _tag: string }>(codec: Message.Codec<A>, message: NoInfer<A>): Uint8Array =>
  Result.getOrThrow(Message.encodeFrame(codec, message))

/**
 * The Sync frame. Shared by every user: never mutate it.
 *
 * @since 0.1.0
 */
export const SYNC: Uint8Array = constant(Sync, { _tag: "Sync" })

/**
 * The Flush frame. Shared by every user: never mutate it.
 *
 * @since 0.1.0
 */
export const FLUSH: Uint8Array = constant(Flush, { _tag: "Flush" })

/**
 * The Terminate frame. Shared by every user: never mutate it.
 *
 * @since 0.1.0
 */
export const TERMINATE: Uint8Array = constant(Terminate, { _tag: "Terminate" })

/**
 * The CopyDone frame. Shared by every user: never mutate it.
 *
 * @since 0.1.0
 */
export const COPY_DONE: Uint8Array = constant(CopyDone, { _tag: "CopyDone" })

/**
 * Describe of the unnamed portal (`Describe P ""`). Shared by every user:
 * never mutate it.
 *
 * @since 0.1.0
 */
export const DESCRIBE_UNNAMED_PORTAL: Uint8Array = constant(Describe, { _tag: "Describe", target: "P", name: "" })

/**
 * Execute of the unnamed portal with no row limit (`Execute "" 0`). Shared by
 * every user: never mutate it.
 *
 * @since 0.1.0
 */
export const EXECUTE_UNNAMED_ALL: Uint8Array = constant(Execute, { _tag: "Execute", portal: "", maxRows: 0 })

// ---------------------------------------------------------------------------
// The union and its dispatch
// ---------------------------------------------------------------------------

/**
 * Every typed message the client sends.
 *
 * @since 0.1.0
 */
export type FrontendMessage =
  | Bind
  | Close
  | CopyData
  | CopyDone
  | CopyFail
  | Describe
  | Execute
  | Flush
  | FunctionCall
  | GSSResponse
  | Parse
  | PasswordMessage
  | Query
  | SASLInitialResponse
  | SASLResponse
  | Sync
  | Terminate

/**
 * The Schema of every typed client message (a union of the message Schemas).
 *
 * @since 0.1.0
 */
export const MessageSchema = Schema.Union([
  BindSchema,
  CloseSchema,
  CopyDataSchema,
  CopyDoneSchema,
  CopyFailSchema,
  DescribeSchema,
  ExecuteSchema,
  FlushSchema,
  FunctionCallSchema,
  GSSResponseSchema,
  ParseSchema,
  PasswordMessageSchema,
  QuerySchema,
  SASLInitialResponseSchema,
  SASLResponseSchema,
  SyncSchema,
  TerminateSchema
])

/**
 * The codec of each typed client message, by `_tag`.
 *
 * @since 0.1.0
 */
export const codecs: {
  readonly [K in FrontendMessage["_tag"]]: Message.Codec<Extract<FrontendMessage, { _tag: K }>>
} = {
  Bind,
  Close,
  CopyData,
  CopyDone,
  CopyFail,
  Describe,
  Execute,
  Flush,
  FunctionCall,
  GSSResponse,
  Parse,
  PasswordMessage,
  Query,
  SASLInitialResponse,
  SASLResponse,
  Sync,
  Terminate
}

/**
 * Which message a 'p' frame is: the server knows, because it asked for it
 * (AuthenticationCleartextPassword or AuthenticationMD5Password: a
 * PasswordMessage; AuthenticationSASL: a SASLInitialResponse;
 * AuthenticationSASLContinue: a SASLResponse; AuthenticationGSS/SSPI: a
 * GSSResponse).
 *
 * @since 0.1.0
 */
export interface PasswordContext {
  readonly password: "PasswordMessage" | "SASLInitialResponse" | "SASLResponse" | "GSSResponse"
}

interface BodyReader {
  readonly name: string
  readonly readBody: (r: Reader) => FrontendMessage
}

const passwordFamily = (context: PasswordContext | undefined): BodyReader => {
  switch (context?.password) {
    case undefined:
    case "PasswordMessage":
      return PasswordMessage
    case "SASLInitialResponse":
      return SASLInitialResponse
    case "SASLResponse":
      return SASLResponse
    case "GSSResponse":
      return GSSResponse
  }
}

const describeType = (type: number): string =>
  type >= 0x20 && type < 0x7f
    ? `'${String.fromCharCode(type)}' (0x${type.toString(16).padStart(2, "0")})`
    : `0x${type.toString(16).padStart(2, "0")}`

/**
 * Decodes the body `buf[start, end)` of a client message of type `type`.
 *
 * **Details**
 *
 * The server engine's hot path: one switch ordered by frequency (Bind first).
 * A 'p' frame is read as `context.password` says (PasswordMessage by
 * default). `reader` is reset and reused. Byte fields of the result are views
 * into `buf`. Throws `ProtocolError`: an unknown type byte is named in the
 * error; a malformed body names the message and the offset inside the body.
 *
 * @since 0.1.0
 */
export const readUnsafe = (
  type: number,
  buf: Uint8Array,
  start: number,
  end: number,
  reader: Reader,
  context?: PasswordContext
): FrontendMessage => {
  let codec: BodyReader
  switch (type) {
    case Code.Bind:
      codec = Bind
      break
    case Code.Execute:
      codec = Execute
      break
    case Code.Sync:
      codec = Sync
      break
    case Code.Parse:
      codec = Parse
      break
    case Code.Describe:
      codec = Describe
      break
    case Code.Query:
      codec = Query
      break
    case Code.CopyData:
      codec = CopyData
      break
    case Code.Close:
      codec = Close
      break
    case Code.Flush:
      codec = Flush
      break
    case Code.CopyDone:
      codec = CopyDone
      break
    case Code.CopyFail:
      codec = CopyFail
      break
    case Code.Terminate:
      codec = Terminate
      break
    case Code.FunctionCall:
      codec = FunctionCall
      break
    case Code.PasswordFamily:
      codec = passwordFamily(context)
      break
    default:
      throw new ProtocolError({ message: `unknown frontend message type ${describeType(type)}`, offset: 0 })
  }
  reader.reset(buf, start, end, codec.name)
  const message = codec.readBody(reader)
  reader.done()
  return message
}

const decodeReader = new Reader()

/**
 * Decodes one whole typed frame (type byte, length, body); a 'p' frame as
 * `context` says (PasswordMessage by default).
 *
 * @since 0.1.0
 */
export const decode = (
  bytes: Uint8Array,
  context?: PasswordContext
): Result.Result<FrontendMessage, ProtocolError> => {
  try {
    const type = Backend.checkFrameUnsafe(bytes, "frontend")
    return Result.succeed(readUnsafe(type, bytes, 5, bytes.length, decodeReader, context))
  } catch (e) {
    return Result.fail(
      e instanceof ProtocolError
        ? e
        : new ProtocolError({ message: `unexpected decoder failure: ${String(e)}`, offset: 0 })
    )
  }
}

/**
 * Writes one whole frame of `message` into `w`. Throws `ProtocolError` (and
 * leaves nothing of the failed message in `w`).
 *
 * @since 0.1.0
 */
export const writeUnsafe = (w: Writer, message: FrontendMessage): void => {
  try {
    Message.writeFrame(w, codecs[message._tag] as Message.Codec<FrontendMessage>, message)
  } catch (e) {
    w.abort()
    throw e
  }
}

/**
 * Encodes one message as a fresh byte array.
 *
 * @since 0.1.0
 */
export const encode = (message: FrontendMessage): Result.Result<Uint8Array, ProtocolError> =>
  Message.encodeFrame(codecs[message._tag] as Message.Codec<FrontendMessage>, message)

/**
 * The Schema transformation from one whole frame's bytes to a client message,
 * reading 'p' frames as `context` says.
 *
 * @since 0.1.0
 */
export const messageFromBytes = (context?: PasswordContext) =>
  Message.fromBytesWith<FrontendMessage>({
    expected: "a frontend message frame",
    schema: MessageSchema as Schema.Codec<FrontendMessage, FrontendMessage>,
    decode: (bytes) => decode(bytes, context),
    encode
  })

/**
 * The Schema transformation from one whole frame's bytes to a client message:
 * `Schema.decodeUnknownResult(Frontend.MessageFromBytes)(bytes)`.
 *
 * **Details**
 *
 * A 'p' frame decodes as a PasswordMessage (the bytes alone cannot say which
 * 'p' message they are); use `messageFromBytes(context)`, or the codec's own
 * `Message.fromBytes(Frontend.SASLResponse)`, for the others. Encoding is
 * exact for every message.
 *
 * @since 0.1.0
 */
export const MessageFromBytes = messageFromBytes()
