/**
 * Composite codecs: the anonymous `record` type (decoded positionally) and
 * named composite types (decoded into objects keyed by attribute name, from
 * `pg_attribute` rows the session looks up).
 *
 * **Details**
 *
 * - Binary layout (`record_send`): int32 column count, then per column its
 *   uint32 type OID, an int32 length (-1 for NULL) and the bytes. An anonymous
 *   record decodes each column by the OID it carries, through the registry
 *   (unknown OIDs give the raw bytes, copied), into an array.
 * - Text layout (`record_out`): `(1,"a b",,"")`: empty for NULL, double quotes
 *   around values with special characters (`""` and `\` escape inside). The
 *   text of an anonymous record carries no types, so its columns decode as
 *   strings (or null); named composites decode each column with its type.
 * - A named composite's value is an object with one property per attribute
 *   (a JavaScript array, positional, is also accepted when encoding).
 * - The anonymous `record` type cannot be sent as a parameter (the server has
 *   no input function for it); its text form is still produced for casts such
 *   as `$1::my_type` with an unspecified parameter type.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Utf8 from "../wire/Utf8.ts"
import type { Writer } from "../wire/Writer.ts"
import { Oid } from "./Oid.ts"
import * as TypeCodec from "./TypeCodec.ts"

/**
 * What a record codec needs from the registry: a decoder per column type.
 *
 * @since 0.1.0
 */
export interface Resolver {
  readonly decoder: (oid: number, format: TypeCodec.Format) => TypeCodec.FieldDecoder
}

/** Reads the column headers of a binary record, calling `visit` for each column. */
const readBinary = (
  type: string,
  buf: Uint8Array,
  start: number,
  end: number,
  visit: (index: number, oid: number, p: number, length: number) => void
): number => {
  if (end - start < 4) return TypeCodec.fail(type, "truncated column count")
  const count = TypeCodec.int32At(buf, start)
  if (count < 0 || count * 8 > end - start - 4) return TypeCodec.fail(type, `invalid column count ${count}`)
  let p = start + 4
  for (let i = 0; i < count; i++) {
    if (end - p < 8) return TypeCodec.fail(type, `truncated column ${i + 1}`)
    const oid = TypeCodec.int32At(buf, p) >>> 0
    const length = TypeCodec.int32At(buf, p + 4)
    p += 8
    if (length < -1 || length > end - p) return TypeCodec.fail(type, `invalid length ${length} of column ${i + 1}`)
    visit(i, oid, p, length)
    if (length > 0) p += length
  }
  if (p !== end) return TypeCodec.fail(type, `${end - p} trailing bytes`)
  return count
}

/**
 * Splits record text into its column texts (`null` for NULL), unescaped.
 *
 * @since 0.1.0
 */
export const parseText = (type: string, buf: Uint8Array, start: number, end: number): Array<string | null> => {
  const text = TypeCodec.utf8(type, buf, start, end).trim()
  if (text.length < 2 || text[0] !== "(" || text[text.length - 1] !== ")") {
    return TypeCodec.fail(type, "invalid record text")
  }
  const out: Array<string | null> = []
  let i = 1
  const last = text.length - 1
  for (;;) {
    let value = ""
    let quoted = false
    let inQuote = false
    while (i < last) {
      const c = text[i]!
      if (c === "\\") {
        if (i + 1 >= last) return TypeCodec.fail(type, "dangling escape")
        value += text[i + 1]
        i += 2
        continue
      }
      if (c === "\"") {
        quoted = true
        if (inQuote && text[i + 1] === "\"") {
          value += "\""
          i += 2
          continue
        }
        inQuote = !inQuote
        i++
        continue
      }
      if (c === "," && !inQuote) break
      value += c
      i++
    }
    if (inQuote) return TypeCodec.fail(type, "unterminated quoted column")
    out.push(quoted || value.length > 0 ? value : null)
    if (i >= last) break
    i++
  }
  return out
}

const quoteField = (s: string): string => "\"" + s.replace(/["\\]/g, "$&$&") + "\""

const simpleText = (type: string, v: unknown): string => {
  if (typeof v === "string") return TypeCodec.checkText(type, v)
  if (typeof v === "number") return TypeCodec.formatFloat(v)
  if (typeof v === "bigint") return String(v)
  if (typeof v === "boolean") return v ? "t" : "f"
  return TypeCodec.unsupported(type, v, "strings, numbers, bigints, booleans or null")
}

/**
 * The anonymous `record` type (OID 2249), decoded positionally through
 * `resolver`.
 *
 * @since 0.1.0
 */
export const makeRecord = (resolver: Resolver): TypeCodec.TypeCodec<ReadonlyArray<unknown>> =>
  TypeCodec.make<ReadonlyArray<unknown>>({
    name: "record",
    oid: Oid.record,
    arrayOid: Oid._record,
    decodeBinary: (buf, start, end) => {
      const values: Array<unknown> = []
      readBinary("record", buf, start, end, (_i, oid, p, length) => {
        values.push(length === -1 ? null : resolver.decoder(oid, 1)(buf, p, p + length))
      })
      return values
    },
    decodeText: (buf, start, end) => parseText("record", buf, start, end),
    encodeText: (value) => {
      if (!Array.isArray(value)) return TypeCodec.unsupported("record", value, "an array of column values")
      return "(" + value.map((v) => (v === null || v === undefined ? "" : quoteField(simpleText("record", v)))).join(",") +
        ")"
    },
    valuesAreArrays: true
  })

/**
 * One attribute of a named composite type.
 *
 * @since 0.1.0
 */
export interface Attribute {
  readonly name: string
  readonly codec: TypeCodec.TypeCodec<any>
}

const fieldValues = (type: string, attributes: ReadonlyArray<Attribute>, value: unknown): Array<unknown> => {
  if (Array.isArray(value)) {
    if (value.length !== attributes.length) {
      return TypeCodec.fail(type, `expected ${attributes.length} columns, got ${value.length}`)
    }
    return value
  }
  if (typeof value !== "object" || value === null) {
    return TypeCodec.unsupported(type, value, "an object with one property per attribute")
  }
  const record = value as Record<string, unknown>
  return attributes.map((a) => (Object.hasOwn(record, a.name) ? record[a.name] : null))
}

/**
 * A named composite type with the given attributes (in `attnum` order, dropped
 * columns excluded).
 *
 * @since 0.1.0
 */
export const makeComposite = (
  name: string,
  oid: number,
  arrayOid: number | undefined,
  attributes: ReadonlyArray<Attribute>
): TypeCodec.TypeCodec<Record<string, unknown>> => {
  const binary = attributes.every((a) => a.codec.decodeBinary !== undefined)
  const binaryEncode = attributes.every((a) => a.codec.encodeBinary !== undefined)
  return TypeCodec.make<Record<string, unknown>>({
    name,
    oid,
    arrayOid,
    decodeBinary: binary
      ? (buf, start, end) => {
        const out: Record<string, unknown> = {}
        const count = readBinary(name, buf, start, end, (i, columnOid, p, length) => {
          const attribute = attributes[i]
          if (attribute === undefined) return
          if (columnOid !== attribute.codec.oid) {
            TypeCodec.fail(name, `column ${attribute.name} has type ${columnOid}, expected ${attribute.codec.oid}`)
          }
          TypeCodec.setOwn(out, attribute.name, length === -1 ? null : attribute.codec.decodeBinary!(buf, p, p + length))
        })
        if (count !== attributes.length) {
          return TypeCodec.fail(name, `expected ${attributes.length} columns, got ${count} (the type changed?)`)
        }
        return out
      }
      : undefined,
    decodeText: (buf, start, end) => {
      const fields = parseText(name, buf, start, end)
      if (fields.length !== attributes.length) {
        return TypeCodec.fail(name, `expected ${attributes.length} columns, got ${fields.length} (the type changed?)`)
      }
      const out: Record<string, unknown> = {}
      for (let i = 0; i < attributes.length; i++) {
        const field = fields[i]!
        const attribute = attributes[i]!
        if (field === null) TypeCodec.setOwn(out, attribute.name, null)
        else {
          const bytes = Utf8.encode(field)
          TypeCodec.setOwn(out, attribute.name, attribute.codec.decodeText(bytes, 0, bytes.length))
        }
      }
      return out
    },
    encodeBinary: binaryEncode
      ? (w: Writer, value: unknown) => {
        const values = fieldValues(name, attributes, value)
        w.int32(attributes.length)
        for (let i = 0; i < attributes.length; i++) {
          const codec = attributes[i]!.codec
          const v = values[i]
          w.uint32(codec.oid)
          if (v === null || v === undefined) {
            w.int32(-1)
            continue
          }
          const mark = w.reserve32()
          codec.encodeBinary!(w, v)
          w.patch32(mark, w.since(mark) - 4)
        }
      }
      : undefined,
    encodeText: (value) => {
      const values = fieldValues(name, attributes, value)
      return "(" + values.map((v, i) =>
        v === null || v === undefined
          ? ""
          : quoteField(typeof v === "string" ? TypeCodec.checkText(name, v) : attributes[i]!.codec.encodeText(v))
      ).join(",") + ")"
    },
    formatFor: (value) => {
      if (!binaryEncode || typeof value !== "object" || value === null) return 0
      const values = Array.isArray(value) ? value : attributes.map((a) => (value as Record<string, unknown>)[a.name])
      for (let i = 0; i < attributes.length; i++) {
        const v = values[i]
        if (v !== null && v !== undefined && attributes[i]?.codec.formatFor(v) !== 1) return 0
      }
      return 1
    }
  })
}
