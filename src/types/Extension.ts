/**
 * Codecs of extension types, which have no fixed OID: they are registered by
 * name and bound to the OID the server's catalog reports (`Registry.withTypes`).
 *
 * **Details**
 *
 * - `hstore`: an object of string keys to `string | null`. Binary
 *   (`hstore_send`): int32 pair count, then per pair an int32 key length and
 *   key, an int32 value length (-1 for NULL) and value. Text: `"a"=>"1",
 *   "b"=>NULL` (`"` and `\` escaped with `\`).
 * - `citext`: a string (binary = its bytes, like `text`).
 * - `ltree`, `lquery`, `ltxtquery`: their text (binary: a version byte 1 and
 *   the text).
 * - `vector` (pgvector): an array of numbers (binary: int16 dimensions, int16
 *   unused, float4 values; text `[1,2,3]`).
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import type { Writer } from "../wire/Writer.ts"
import { textual } from "./Text.ts"
import * as TypeCodec from "./TypeCodec.ts"

/**
 * Builds the codec of an extension type once its OIDs are known.
 *
 * @since 0.1.0
 */
export type ExtensionCodec = (oid: number, arrayOid: number | undefined) => TypeCodec.TypeCodec<any>

const readString = (type: string, buf: Uint8Array, p: number, end: number, what: string): [string | null, number] => {
  if (end - p < 4) return TypeCodec.fail(type, `truncated ${what} length`)
  const n = TypeCodec.int32At(buf, p)
  p += 4
  if (n === -1) return [null, p]
  if (n < 0 || n > end - p) return TypeCodec.fail(type, `invalid ${what} length ${n}`)
  return [TypeCodec.utf8(type, buf, p, p + n), p + n]
}

const hstoreTokenEnd = /[=,\s]/

/** Parses hstore text (`"a"=>"1", b=>NULL`). */
const parseHstore = (text: string): Record<string, string | null> => {
  const out: Record<string, string | null> = {}
  let i = 0
  const skip = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++
  }
  const token = (): [string, boolean] => {
    skip()
    if (text[i] === "\"") {
      i++
      let s = ""
      while (i < text.length && text[i] !== "\"") {
        if (text[i] === "\\") i++
        if (i < text.length) s += text[i]
        i++
      }
      if (i >= text.length) return TypeCodec.fail("hstore", "unterminated quoted string")
      i++
      return [s, true]
    }
    let s = ""
    while (i < text.length && !hstoreTokenEnd.test(text[i]!)) {
      if (text[i] === "\\") i++
      if (i < text.length) s += text[i]
      i++
    }
    if (s === "") return TypeCodec.fail("hstore", "invalid hstore text")
    return [s, false]
  }
  skip()
  while (i < text.length) {
    const [key] = token()
    skip()
    if (text.slice(i, i + 2) !== "=>") return TypeCodec.fail("hstore", "expected =>")
    i += 2
    const [value, quoted] = token()
    TypeCodec.setOwn(out, key, !quoted && value.toLowerCase() === "null" ? null : value)
    skip()
    if (i < text.length) {
      if (text[i] !== ",") return TypeCodec.fail("hstore", "expected ,")
      i++
      skip()
    }
  }
  return out
}

const toPairs = (value: unknown): Array<[string, string | null]> => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return TypeCodec.unsupported("hstore", value, "an object of strings")
  }
  const pairs: Array<[string, string | null]> = []
  for (const [k, v] of Object.entries(value)) {
    if (v !== null && v !== undefined && typeof v !== "string") {
      return TypeCodec.fail("hstore", `value of ${JSON.stringify(k)} is not a string or null`)
    }
    pairs.push([TypeCodec.checkText("hstore", k), v === undefined || v === null ? null : TypeCodec.checkText("hstore", v)])
  }
  return pairs
}

const quoteHstore = (s: string): string => "\"" + s.replace(/["\\]/g, "\\$&") + "\""

/**
 * `hstore`.
 *
 * @since 0.1.0
 */
export const hstore: ExtensionCodec = (oid, arrayOid) =>
  TypeCodec.make<Record<string, string | null>>({
    name: "hstore",
    oid,
    arrayOid,
    decodeBinary: (buf, start, end) => {
      if (end - start < 4) return TypeCodec.fail("hstore", "truncated pair count")
      const count = TypeCodec.int32At(buf, start)
      if (count < 0 || count * 8 > end - start - 4) return TypeCodec.fail("hstore", `invalid pair count ${count}`)
      const out: Record<string, string | null> = {}
      let p = start + 4
      for (let i = 0; i < count; i++) {
        const [key, afterKey] = readString("hstore", buf, p, end, "key")
        if (key === null) return TypeCodec.fail("hstore", "NULL key")
        const [value, afterValue] = readString("hstore", buf, afterKey, end, "value")
        TypeCodec.setOwn(out, key, value)
        p = afterValue
      }
      if (p !== end) return TypeCodec.fail("hstore", `${end - p} trailing bytes`)
      return out
    },
    decodeText: (buf, start, end) => parseHstore(TypeCodec.utf8("hstore", buf, start, end)),
    encodeBinary: (w: Writer, value) => {
      const pairs = toPairs(value)
      w.int32(pairs.length)
      for (const [k, v] of pairs) {
        const mark = w.reserve32()
        w.string(k)
        w.patch32(mark, w.since(mark) - 4)
        if (v === null) w.int32(-1)
        else {
          const valueMark = w.reserve32()
          w.string(v)
          w.patch32(valueMark, w.since(valueMark) - 4)
        }
      }
    },
    encodeText: (value) =>
      toPairs(value).map(([k, v]) => `${quoteHstore(k)}=>${v === null ? "NULL" : quoteHstore(v)}`).join(", ")
  })

const versioned = (name: string): ExtensionCodec => (oid, arrayOid) =>
  TypeCodec.make<string>({
    name,
    oid,
    arrayOid,
    decodeBinary: (buf, start, end) => {
      if (end === start) return TypeCodec.fail(name, "missing version byte")
      if (buf[start] !== 1) return TypeCodec.fail(name, `unsupported binary version ${buf[start]}`)
      return TypeCodec.utf8(name, buf, start + 1, end)
    },
    decodeText: (buf, start, end) => TypeCodec.utf8(name, buf, start, end),
    encodeText: (value: unknown) =>
      typeof value === "string" ? TypeCodec.checkText(name, value) : TypeCodec.unsupported(name, value, "a string")
  })

const toVector = (value: unknown): ReadonlyArray<number> => {
  if (!Array.isArray(value) || !value.every((v) => typeof v === "number")) {
    return TypeCodec.unsupported("vector", value, "an array of numbers")
  }
  if (value.length > 16000) return TypeCodec.fail("vector", "more than 16000 dimensions")
  return value
}

/**
 * pgvector's `vector`.
 *
 * @since 0.1.0
 */
export const vector: ExtensionCodec = (oid, arrayOid) =>
  TypeCodec.make<ReadonlyArray<number>>({
    name: "vector",
    oid,
    arrayOid,
    decodeBinary: (buf, start, end) => {
      if (end - start < 4) return TypeCodec.fail("vector", "truncated header")
      const dim = TypeCodec.int16At(buf, start)
      if (dim < 0 || end - start !== 4 + 4 * dim) return TypeCodec.fail("vector", `${dim} dimensions do not match the length`)
      const out: Array<number> = new Array(dim)
      for (let i = 0; i < dim; i++) out[i] = TypeCodec.float32At(buf, start + 4 + 4 * i)
      return out
    },
    decodeText: (buf, start, end) => {
      const s = TypeCodec.utf8("vector", buf, start, end).trim()
      if (!s.startsWith("[") || !s.endsWith("]")) return TypeCodec.fail("vector", "invalid vector text")
      const inner = s.slice(1, -1).trim()
      return inner === "" ? [] : inner.split(",").map((x) => Math.fround(TypeCodec.parseFloatText("vector", x)))
    },
    encodeBinary: (w, value) => {
      const v = toVector(value)
      w.int16(v.length).int16(0)
      for (const x of v) w.uint32(TypeCodec.float32Bits(x))
    },
    encodeText: (value) => "[" + toVector(value).map(TypeCodec.formatFloat).join(",") + "]",
    valuesAreArrays: true
  })

/**
 * Extension codecs by type name, bound to OIDs when the catalog reports a
 * base type of that name.
 *
 * @since 0.1.0
 */
export const byName: Readonly<Record<string, ExtensionCodec>> = {
  hstore,
  citext: (oid, arrayOid) => textual("citext", oid, arrayOid),
  ltree: versioned("ltree"),
  lquery: versioned("lquery"),
  ltxtquery: versioned("ltxtquery"),
  vector
}
