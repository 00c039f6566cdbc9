/**
 * `json`, `jsonb` and `jsonpath` codecs.
 *
 * **Details**
 *
 * - `json` and `jsonb` decode to the parsed JavaScript value. Parsing is
 *   lossless for integers: an integer literal beyond ±(2^53 - 1), which
 *   `JSON.parse` would round (`json_build_object('id', 9007199254740993)`),
 *   becomes a `bigint`. The exact path (a `JSON.parse` reviver, several times
 *   slower) runs only when the text holds a run of 16 or more digits standing
 *   where a value can (after `[`, `,`, `:`, whitespace or a `-`, and before
 *   `,`, `]`, `}`, whitespace or the end; see `JsonScan`). Integers of at most
 *   15 digits are always exact as numbers, and digits inside strings (hex
 *   digests, long identifiers) touch letters or quotes, so such documents go
 *   straight to `JSON.parse`. A registry option replaces the parser.
 * - Binary `jsonb` is a version byte (1) and the text; `json`'s binary form is
 *   the text. Any other jsonb version is a `CodecError` (a future format must not
 *   be misread).
 * - Encoding serialises any JSON-compatible value, `bigint`s as exact integer
 *   literals. A JavaScript string parameter for a json type is, like every
 *   untyped string parameter, the literal text (so `'{"a":1}'` is an object);
 *   `PgTypes.json("a")` sends the JSON string `"a"`.
 * - `jsonpath` decodes to its text (binary: version byte 1 and the text).
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import type { Writer } from "../wire/Writer.ts"
import { mayHoldUnsafeInteger } from "./JsonScan.ts"
import { Oid } from "./Oid.ts"
import * as TypeCodec from "./TypeCodec.ts"

export {
  /** @since 0.1.0 */
  hasLongDigitRun,
  /** @since 0.1.0 */
  mayHoldUnsafeInteger
} from "./JsonScan.ts"

const integerSource = /^-?\d+$/

/** `JSON.parse` reviver: an integer that a number cannot hold exactly becomes a bigint. */
const exactIntegers = (_key: string, value: unknown, context?: { source?: string }): unknown => {
  if (typeof value === "number" && !Number.isSafeInteger(value) && context?.source !== undefined) {
    if (integerSource.test(context.source)) return BigInt(context.source)
  }
  return value
}

/**
 * Parses JSON text, keeping integers beyond 2^53 exact as `bigint`s.
 *
 * @since 0.1.0
 */
export const parse = (text: string): unknown =>
  mayHoldUnsafeInteger(text)
    ? JSON.parse(text, exactIntegers as (this: unknown, key: string, value: unknown) => unknown)
    : JSON.parse(text)

/** `JSON.rawJSON` (ES2025; in Node since 21), not yet in the TypeScript library this project targets. */
const rawJSON = (JSON as unknown as { readonly rawJSON: (text: string) => unknown }).rawJSON

const bigintReplacer = (_key: string, value: unknown): unknown =>
  typeof value === "bigint" ? rawJSON(value.toString()) : value

/**
 * Serialises a value as JSON text, `bigint`s as exact integer literals. Throws
 * `CodecError` for values JSON cannot represent (`undefined`, functions,
 * symbols, cycles).
 *
 * @since 0.1.0
 */
export const stringify = (type: string, value: unknown): string => {
  let text: string | undefined
  try {
    // Without a replacer first: a replacer makes JSON.stringify several times slower, and
    // only bigints need it (they throw a TypeError without one).
    text = JSON.stringify(value)
  } catch {
    try {
      text = JSON.stringify(value, bigintReplacer)
    } catch (e) {
      return TypeCodec.fail(type, `cannot serialise the value as JSON (${e instanceof Error ? e.message : String(e)})`)
    }
  }
  if (text === undefined) return TypeCodec.unsupported(type, value, "a JSON-compatible value")
  return TypeCodec.checkText(type, text)
}

/**
 * A parser of JSON text into JavaScript values.
 *
 * @since 0.1.0
 */
export type JsonParser = (text: string) => unknown

const parseWith = (type: string, parser: JsonParser, text: string): unknown => {
  try {
    return parser(text)
  } catch (e) {
    return TypeCodec.fail(type, `invalid JSON (${e instanceof Error ? e.message : String(e)})`)
  }
}

/**
 * `json` (OID 114) with a given parser.
 *
 * @since 0.1.0
 */
export const makeJson = (parser: JsonParser = parse): TypeCodec.TypeCodec<unknown> => {
  const decode = (buf: Uint8Array, start: number, end: number): unknown =>
    parseWith("json", parser, TypeCodec.utf8("json", buf, start, end))
  return TypeCodec.make<unknown>({
    name: "json",
    oid: Oid.json,
    arrayOid: Oid._json,
    decodeBinary: decode,
    decodeText: decode,
    encodeBinary: (w: Writer, value: unknown) => {
      w.string(stringify("json", value))
    },
    encodeText: (value) => stringify("json", value),
    valuesAreArrays: true
  })
}

/**
 * `jsonb` (OID 3802) with a given parser.
 *
 * @since 0.1.0
 */
export const makeJsonb = (parser: JsonParser = parse): TypeCodec.TypeCodec<unknown> =>
  TypeCodec.make<unknown>({
    name: "jsonb",
    oid: Oid.jsonb,
    arrayOid: Oid._jsonb,
    decodeBinary: (buf, start, end) => {
      if (end === start) return TypeCodec.fail("jsonb", "missing version byte")
      if (buf[start] !== 1) return TypeCodec.fail("jsonb", `unsupported binary version ${buf[start]}`)
      return parseWith("jsonb", parser, TypeCodec.utf8("jsonb", buf, start + 1, end))
    },
    decodeText: (buf, start, end) => parseWith("jsonb", parser, TypeCodec.utf8("jsonb", buf, start, end)),
    encodeBinary: (w: Writer, value: unknown) => {
      const text = stringify("jsonb", value)
      w.uint8(1).string(text)
    },
    encodeText: (value) => stringify("jsonb", value),
    valuesAreArrays: true
  })

/** @since 0.1.0 */
export const json = makeJson()
/** @since 0.1.0 */
export const jsonb = makeJsonb()

/**
 * `jsonpath` (OID 4072) as its text.
 *
 * @since 0.1.0
 */
export const jsonpath: TypeCodec.TypeCodec<string> = TypeCodec.make<string>({
  name: "jsonpath",
  oid: Oid.jsonpath,
  arrayOid: Oid._jsonpath,
  decodeBinary: (buf, start, end) => {
    if (end === start) return TypeCodec.fail("jsonpath", "missing version byte")
    if (buf[start] !== 1) return TypeCodec.fail("jsonpath", `unsupported binary version ${buf[start]}`)
    return TypeCodec.utf8("jsonpath", buf, start + 1, end)
  },
  decodeText: (buf, start, end) => TypeCodec.utf8("jsonpath", buf, start, end),
  encodeText: (value: unknown) =>
    typeof value === "string" ? TypeCodec.checkText("jsonpath", value) : TypeCodec.unsupported("jsonpath", value, "a string")
})
