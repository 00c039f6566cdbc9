/**
 * Protocol 2.0 messages sent by the client (protocol-2.0 "Message Formats",
 * the messages marked (F)), one codec per message in the documentation's
 * order, with the type bytes they use.
 *
 * **Details**
 *
 * - Query, FunctionCall and Terminate use the `payload` framing (a type
 *   byte, then the body up to the end of the given bytes); the packets of the
 *   start-up exchange (CancelRequest, PasswordPacket, SSLRequest,
 *   StartupPacket) start with a length (`untyped` framing).
 * - LimStrings are read up to their first NUL; padding after it is ignored
 *   and written as zeros.
 *
 * Not here: CopyDataRows, which both directions send (`V2CopyDataRows`), and
 * the union of client messages with its stream decoder (`V2FrontendStream`).
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { StartupCode } from "../wire/Codes.ts"
import type { Reader } from "../wire/Reader.ts"
import * as Utf8 from "../wire/Utf8.ts"
import type { Writer } from "../wire/Writer.ts"
import * as Fields from "./Fields.ts"
import * as Message from "./Message.ts"
import { expectInt32, stringCodec, UnusedString } from "./V2Codec.ts"

/**
 * Type bytes of messages sent by a 2.0 client after the start-up packets.
 *
 * @since 0.1.0
 */
export const FrontendCode = {
  FunctionCall: 0x46, // 'F'
  Query: 0x51, // 'Q'
  Terminate: 0x58 // 'X'
} as const

/**
 * The fixed size of a StartupPacket, length word included.
 *
 * @since 0.1.0
 */
export const STARTUP_PACKET_LENGTH = 296

/**
 * A LimString*n*: at most `n` bytes of UTF-8, no NUL.
 *
 * @since 0.1.0
 */
export const LimString = (n: number) =>
  Fields.CString.check(
    Schema.isMaxLength(n),
    Schema.makeFilter((s: string) => Utf8.byteLength(s) <= n || `must fit in ${n} bytes of UTF-8`, {
      expected: `a string of at most ${n} UTF-8 bytes`
    })
  )

// ---------------------------------------------------------------------------
// CancelRequest (F)
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const CancelRequestSchema = Schema.TaggedStruct("CancelRequest", {
  /** The process ID of the target backend. */
  processId: Fields.Int32,
  /** The secret key for the target backend. */
  secretKey: Fields.Int32
})
/** @since 0.1.0 */
export interface CancelRequest extends Schema.Schema.Type<typeof CancelRequestSchema> {}

/**
 * Sent instead of a StartupPacket on a new connection: Int32(16),
 * Int32(80877102), the process ID and the secret key.
 *
 * @since 0.1.0
 */
export const CancelRequest: Message.Codec<CancelRequest> = Message.make({
  name: "CancelRequest",
  framing: "untyped",
  type: -1,
  schema: CancelRequestSchema,
  readBody: (r) => {
    expectInt32(r, StartupCode.CancelRequest, "request code")
    const processId = r.int32()
    const secretKey = r.int32()
    return { _tag: "CancelRequest", processId, secretKey }
  },
  writeBody: (w, m) => {
    w.int32(StartupCode.CancelRequest).int32(m.processId).int32(m.secretKey)
  }
})

// ---------------------------------------------------------------------------
// FunctionCall (F) 'F'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const FunctionCallSchema = Schema.TaggedStruct("FunctionCall", {
  /** The "Unused" string, when not empty (libpq sent `" "`). */
  unused: Schema.optionalKey(UnusedString),
  /** The object ID of the function to call. */
  functionOid: Fields.UInt32,
  /** Argument values in binary format (2.0 has no NULL arguments). */
  arguments: Schema.Array(Fields.Bytes)
})
/** @since 0.1.0 */
export interface FunctionCall extends Schema.Schema.Type<typeof FunctionCallSchema> {}

/** @since 0.1.0 */
export const FunctionCall: Message.Codec<FunctionCall> = Message.make({
  name: "FunctionCall",
  framing: "payload",
  type: FrontendCode.FunctionCall,
  schema: FunctionCallSchema,
  readBody: (r) => {
    const unused = r.cstring()
    const functionOid = r.uint32()
    const n = r.int32()
    if (n < 0) {
      r.pos -= 4
      r.fail(`argument count ${n} out of range`)
    }
    // Grown as arguments are read, so an untrusted count never sizes an allocation.
    const args: Array<Uint8Array> = []
    for (let i = 0; i < n; i++) {
      const size = r.int32()
      if (size < 0) {
        r.pos -= 4
        r.fail(`argument ${i} has negative size ${size}`)
      }
      args.push(r.bytes(size))
    }
    return unused === ""
      ? { _tag: "FunctionCall", functionOid, arguments: args }
      : { _tag: "FunctionCall", unused, functionOid, arguments: args }
  },
  writeBody: (w, m) => {
    w.cstring(m.unused ?? "").uint32(m.functionOid).int32(m.arguments.length)
    for (const a of m.arguments) w.int32(a.length).bytes(a)
  }
})

// ---------------------------------------------------------------------------
// PasswordPacket (F)
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const PasswordPacketSchema = Schema.TaggedStruct("PasswordPacket", {
  /** The password (encrypted, if requested). */
  password: Fields.CString
})
/** @since 0.1.0 */
export interface PasswordPacket extends Schema.Schema.Type<typeof PasswordPacketSchema> {}

/** Int32 size of the packet, then the password as a String. @since 0.1.0 */
export const PasswordPacket: Message.Codec<PasswordPacket> = stringCodec({
  name: "PasswordPacket",
  framing: "untyped",
  type: -1,
  schema: PasswordPacketSchema,
  field: "password"
})

// ---------------------------------------------------------------------------
// Query (F) 'Q'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const QuerySchema = Schema.TaggedStruct("Query", {
  /** The query string itself. */
  query: Fields.CString
})
/** @since 0.1.0 */
export interface Query extends Schema.Schema.Type<typeof QuerySchema> {}

/** @since 0.1.0 */
export const Query: Message.Codec<Query> = stringCodec({
  name: "Query",
  type: FrontendCode.Query,
  schema: QuerySchema,
  field: "query"
})

// ---------------------------------------------------------------------------
// SSLRequest (F)
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const SSLRequestSchema = Schema.TaggedStruct("SSLRequest", {})
/** @since 0.1.0 */
export interface SSLRequest extends Schema.Schema.Type<typeof SSLRequestSchema> {}
const sslRequest: SSLRequest = { _tag: "SSLRequest" }

/** Int32(8), Int32(80877103). @since 0.1.0 */
export const SSLRequest: Message.Codec<SSLRequest> = Message.make({
  name: "SSLRequest",
  framing: "untyped",
  type: -1,
  schema: SSLRequestSchema,
  readBody: (r) => {
    expectInt32(r, StartupCode.SSLRequest, "request code")
    return sslRequest
  },
  writeBody: (w) => {
    w.int32(StartupCode.SSLRequest)
  }
})

// ---------------------------------------------------------------------------
// StartupPacket (F)
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const StartupPacketSchema = Schema.TaggedStruct("StartupPacket", {
  /** Major version in the high 16 bits (1 or 2: the layout of this packet), minor in the low 16. */
  protocolVersion: Schema.Int.check(Schema.isBetween({ minimum: 0x10000, maximum: 0x2ffff })),
  /** The database name (LimString64); empty means the user name. */
  database: LimString(64),
  /** The user name (LimString32). */
  user: LimString(32),
  /** Extra command-line arguments for the backend process (LimString64). */
  options: LimString(64),
  /** Unused (LimString64). */
  unused: LimString(64),
  /** The tty for debugging messages, ignored by servers (LimString64). */
  tty: LimString(64)
})
/** @since 0.1.0 */
export interface StartupPacket extends Schema.Schema.Type<typeof StartupPacketSchema> {}

const readLimString = (r: Reader, n: number, what: string): string => {
  const start = r.pos
  const field = r.bytes(n)
  let length = field.indexOf(0)
  if (length < 0) length = n
  const s = Utf8.decode(field, 0, length)
  if (s === undefined) {
    r.pos = start
    r.fail(`${what} is not valid UTF-8`)
  }
  return s
}

const writeLimString = (w: Writer, s: string, n: number, what: string): void => {
  if (s.indexOf("\0") !== -1) w.fail(`${what} contains a NUL character`)
  const length = Utf8.byteLength(s)
  if (length > n) w.fail(`${what} takes ${length} bytes, more than ${n}`)
  w.string(s)
  for (let i = length; i < n; i++) w.uint8(0)
}

/**
 * The fixed 296-byte start-up packet: Int32(296), Int32 version, then
 * LimString64 database, LimString32 user, LimString64 options, LimString64
 * unused, LimString64 tty.
 *
 * @since 0.1.0
 */
export const StartupPacket: Message.Codec<StartupPacket> = Message.make({
  name: "StartupPacket",
  framing: "untyped",
  type: -1,
  schema: StartupPacketSchema,
  readBody: (r) => {
    if (r.remaining() !== STARTUP_PACKET_LENGTH - 4) {
      r.fail(`a StartupPacket is ${STARTUP_PACKET_LENGTH} bytes, not ${r.remaining() + 4}`)
    }
    const protocolVersion = r.int32()
    const major = protocolVersion >>> 16
    if (major !== 1 && major !== 2) {
      r.pos -= 4
      r.fail(`protocol version ${major}.${protocolVersion & 0xffff} does not use this packet`)
    }
    const database = readLimString(r, 64, "database")
    const user = readLimString(r, 32, "user")
    const options = readLimString(r, 64, "options")
    const unused = readLimString(r, 64, "unused")
    const tty = readLimString(r, 64, "tty")
    return { _tag: "StartupPacket", protocolVersion, database, user, options, unused, tty }
  },
  writeBody: (w, m) => {
    const major = m.protocolVersion >>> 16
    if (major !== 1 && major !== 2) w.fail(`protocol version ${major} does not use this packet`)
    w.int32(m.protocolVersion)
    writeLimString(w, m.database, 64, "database")
    writeLimString(w, m.user, 32, "user")
    writeLimString(w, m.options, 64, "options")
    writeLimString(w, m.unused, 64, "unused")
    writeLimString(w, m.tty, 64, "tty")
  }
})

// ---------------------------------------------------------------------------
// Terminate (F) 'X'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const TerminateSchema = Schema.TaggedStruct("Terminate", {})
/** @since 0.1.0 */
export interface Terminate extends Schema.Schema.Type<typeof TerminateSchema> {}

/** @since 0.1.0 */
export const Terminate: Message.Codec<Terminate> = Message.empty({
  name: "Terminate",
  framing: "payload",
  type: FrontendCode.Terminate,
  schema: TerminateSchema
})

