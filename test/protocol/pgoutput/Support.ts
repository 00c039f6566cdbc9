/**
 * What the pgoutput codec tests share: byte builders for writing messages by
 * hand (independent of the Writer), the decoding contexts of each
 * proto_version in and out of a stream, encoders and decoders that return the
 * message or the error, and one tuple and one key with their bytes.
 */
import { Result } from "effect"
import type { ProtocolError } from "../../../src/errors/PgError.ts"
import * as PgOutput from "../../../src/protocol/PgOutput.ts"

// Big-endian field builders written out by hand (independent of the Writer).
export const i16 = (v: number): Array<number> => [(v >> 8) & 0xff, v & 0xff]
export const i32 = (v: number): Array<number> => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]
export const i64 = (v: bigint): Array<number> => {
  const u = BigInt.asUintN(64, v)
  return [...i32(Number(u >> 32n)), ...i32(Number(u & 0xffffffffn))]
}
export const str = (s: string): Array<number> => [...s].map((c) => c.charCodeAt(0))
export const cstr = (s: string): Array<number> => [...str(s), 0]
export const bytes = (...parts: ReadonlyArray<number | ReadonlyArray<number>>): Uint8Array =>
  new Uint8Array(parts.flatMap((p) => (typeof p === "number" ? [p] : [...p])))
export const u8 = (s: string): Uint8Array => new Uint8Array(str(s))

export const v1: PgOutput.Context = { protoVersion: 1, inStream: false }
export const v2: PgOutput.Context = { protoVersion: 2, inStream: false }
export const v2s: PgOutput.Context = { protoVersion: 2, inStream: true }
export const v3: PgOutput.Context = { protoVersion: 3, inStream: false }
export const v4: PgOutput.Context = { protoVersion: 4, inStream: false }
export const v4s: PgOutput.Context = { protoVersion: 4, inStream: true }

export const encodeOk = (m: PgOutput.LogicalReplicationMessage, ctx: PgOutput.Context): Uint8Array =>
  Result.getOrThrow(PgOutput.encode(m, ctx))
export const decodeOk = (b: Uint8Array, ctx: PgOutput.Context): PgOutput.LogicalReplicationMessage =>
  Result.getOrThrow(PgOutput.decode(b, ctx))
export const decodeError = (b: Uint8Array, ctx: PgOutput.Context): ProtocolError => {
  const result = PgOutput.decode(b, ctx)
  if (Result.isSuccess(result)) throw new Error(`expected a failure, decoded ${result.success._tag}`)
  return result.failure
}
export const encodeError = (m: PgOutput.LogicalReplicationMessage, ctx: PgOutput.Context): ProtocolError => {
  const result = PgOutput.encode(m, ctx)
  if (Result.isSuccess(result)) throw new Error(`expected a failure, encoded ${m._tag}`)
  return result.failure
}

/** One tuple used by several goldens: NULL, unchanged TOAST, text "42", binary int4 42. */
export const tupleWire = [
  ...i16(4), // Int16 number of columns
  0x6e, // 'n' NULL
  0x75, // 'u' unchanged TOASTed value
  0x74, // 't' text
  ...i32(2), // Int32 length
  ...str("42"), // Byten value
  0x62, // 'b' binary
  ...i32(4), // Int32 length
  ...i32(42) // Byten value (int4 42 in binary)
]
export const tuple: PgOutput.TupleData = [
  { kind: "null" },
  { kind: "unchangedToast" },
  { kind: "text", value: u8("42") },
  { kind: "binary", value: new Uint8Array([0, 0, 0, 42]) }
]
export const keyWire = [...i16(1), 0x74, ...i32(1), ...str("7")] // one text column "7"
export const key: PgOutput.TupleData = [{ kind: "text", value: u8("7") }]
