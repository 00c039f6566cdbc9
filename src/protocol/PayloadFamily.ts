/**
 * Families of CopyData payloads that start with a one-byte type and run to
 * the end of the CopyData body: a family's dispatch table by type byte and by
 * tag, and reading, decoding and encoding one payload of a family, with the
 * family's name in errors. `START_REPLICATION`'s payloads (`Replication`) and
 * `BASE_BACKUP`'s (`BaseBackup`) are the two families; they are kept apart
 * because 'p' means something else in each.
 *
 * Not here: the payloads themselves. Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import { ProtocolError } from "../errors/PgError.ts"
import { Reader } from "../wire/Reader.ts"
import * as Message from "./Message.ts"

/** Any payload codec. */
export type AnyCodec = Message.Codec<any>

/** A dispatch table by type byte (256 entries). */
export const makeTable = (codecs: ReadonlyArray<AnyCodec>): ReadonlyArray<AnyCodec | undefined> => {
  const table: Array<AnyCodec | undefined> = new Array(256).fill(undefined)
  for (const codec of codecs) table[codec.type] = codec
  return table
}

/** A family of payloads: its dispatch table, its name in errors, and how to describe it. */
export interface Family {
  readonly byType: ReadonlyArray<AnyCodec | undefined>
  readonly byTag: Record<string, AnyCodec>
  readonly name: string
  readonly description: string
}

/**
 * Reads one payload from `r` (the whole rest of the reader) of `family`.
 * Throws `ProtocolError`; offsets are counted from the byte after the type.
 */
export const readWith = (r: Reader, family: Family): any => {
  const start = r.pos
  r.messageName = family.name
  const type = r.uint8()
  const codec = family.byType[type]
  if (codec === undefined) {
    r.pos = start
    r.fail(`unknown ${family.description} message type 0x${type.toString(16).padStart(2, "0")}`)
  }
  r.reset(r.buf, r.pos, r.end, codec.name)
  const message = codec.readBody(r)
  r.done()
  return message
}

const sharedReader = new Reader()

/**
 * Decodes the payload of `family` in `buf[start, end)` into a `Result`, reading
 * through one shared reader (byte fields are views of `buf`).
 */
export const decodeWith = <A>(
  buf: Uint8Array,
  start: number,
  end: number,
  family: Family
): Result.Result<A, ProtocolError> => {
  const r = sharedReader.reset(buf, start, end, family.name)
  try {
    return Result.succeed(readWith(r, family))
  } catch (e) {
    if (e instanceof ProtocolError) return Result.fail(e)
    return Result.fail(new ProtocolError({ message: `${r.messageName}: ${String(e)}`, messageName: r.messageName }))
  }
}

/** Encodes one payload of `family` as fresh bytes, or fails when its tag is not of the family. */
export const encodeWith = (
  message: { readonly _tag: string },
  family: Family
): Result.Result<Uint8Array, ProtocolError> => {
  const codec = family.byTag[message._tag]
  if (codec === undefined) {
    return Result.fail(
      new ProtocolError({
        message: `${message._tag} is not a ${family.description} message`,
        messageName: message._tag
      })
    )
  }
  return Message.encodeFrame(codec, message)
}
