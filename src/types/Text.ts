/**
 * String codecs: `text`, `varchar`, `bpchar`, `name`, `"char"`, `xml`,
 * `unknown`, `cstring`, `refcursor`, and the text-only types (`aclitem`,
 * `pg_node_tree`, ...), all as JavaScript `string`.
 *
 * **Details**
 *
 * - The binary form of these types is the string's bytes in the client
 *   encoding, which the session sets to UTF-8; invalid UTF-8 is a `CodecError`,
 *   never replaced. `bpchar` keeps the server's blank padding (exact).
 * - `"char"` (the one-byte internal type) decodes as `charout` prints it: the
 *   character, `""` for the zero byte, `\ooo` (octal) for bytes above 127.
 * - Strings are sent in binary (the same bytes as the text form), so arrays of
 *   text go without quoting. A number, bigint or boolean given for a string type
 *   is sent as its text (`5` -> `"5"`), as a psql literal would be.
 * - A string with a NUL character or a lone surrogate cannot be sent: a
 *   `CodecError`, not a silently altered value.
 * - Text-only types have no binary decoder: the session asks for them in text.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import type { Writer } from "../wire/Writer.ts"
import { Oid } from "./Oid.ts"
import * as TypeCodec from "./TypeCodec.ts"

const toText = (type: string, value: unknown): string => {
  if (typeof value === "string") return TypeCodec.checkText(type, value)
  if (typeof value === "number") return TypeCodec.formatFloat(value)
  if (typeof value === "bigint" || typeof value === "boolean") return String(value)
  return TypeCodec.unsupported(type, value, "a string")
}

/**
 * A codec for a type whose values are strings sent as their UTF-8 bytes in
 * both formats (`text`, `varchar`, enums, `citext`, ...).
 *
 * @since 0.1.0
 */
export const textual = (name: string, oid: number, arrayOid: number | undefined): TypeCodec.TypeCodec<string> => {
  const decode = (buf: Uint8Array, start: number, end: number): string => TypeCodec.utf8(name, buf, start, end)
  return TypeCodec.make<string>({
    name,
    oid,
    arrayOid,
    decodeBinary: decode,
    decodeText: decode,
    encodeBinary: (w: Writer, value: unknown) => {
      w.string(toText(name, value))
    },
    encodeText: (value: unknown) => toText(name, value),
    formatFor: TypeCodec.binaryFormat
  })
}

/**
 * A codec for a type understood only in its text form (decoded as a string;
 * parameters sent as text).
 *
 * @since 0.1.0
 */
export const textOnly = (name: string, oid: number, arrayOid: number | undefined): TypeCodec.TypeCodec<string> =>
  TypeCodec.make<string>({
    name,
    oid,
    arrayOid,
    decodeText: (buf, start, end) => TypeCodec.utf8(name, buf, start, end),
    encodeText: (value: unknown) => toText(name, value)
  })

/** @since 0.1.0 */
export const text = textual("text", Oid.text, Oid._text)
/** @since 0.1.0 */
export const varchar = textual("varchar", Oid.varchar, Oid._varchar)
/** @since 0.1.0 */
export const bpchar = textual("bpchar", Oid.bpchar, Oid._bpchar)
/** @since 0.1.0 */
export const name = textual("name", Oid.name, Oid._name)
/** @since 0.1.0 */
export const unknown = textual("unknown", Oid.unknown, undefined)
/** @since 0.1.0 */
export const cstring = textual("cstring", Oid.cstring, Oid._cstring)
/** @since 0.1.0 */
export const refcursor = textual("refcursor", Oid.refcursor, Oid._refcursor)

/**
 * `xml` (OID 142): the document text. Decoded from both formats; sent as text
 * so the server parses it with its own XML options.
 *
 * @since 0.1.0
 */
export const xml: TypeCodec.TypeCodec<string> = {
  ...textual("xml", Oid.xml, Oid._xml),
  formatFor: () => 0
}

const decodeChar = (buf: Uint8Array, start: number, end: number): string => {
  if (end - start > 1) return TypeCodec.fail("char", `expected 1 byte, got ${end - start}`)
  if (end === start) return ""
  const b = buf[start]!
  if (b === 0) return ""
  if (b < 0x80) return String.fromCharCode(b)
  return "\\" + b.toString(8).padStart(3, "0")
}

/**
 * `"char"` (OID 18), the single-byte internal type.
 *
 * @since 0.1.0
 */
export const char: TypeCodec.TypeCodec<string> = TypeCodec.make<string>({
  name: "char",
  oid: Oid.char,
  arrayOid: Oid._char,
  decodeBinary: decodeChar,
  decodeText: (buf, start, end) => TypeCodec.utf8("char", buf, start, end),
  encodeText: (value: unknown) => toText("char", value)
})

/**
 * The built-in types understood only as text: `aclitem`, `pg_node_tree`,
 * `pg_ndistinct`, `pg_dependencies`, `pg_mcv_list`, `gtsvector`,
 * `pg_brin_bloom_summary`, `pg_brin_minmax_multi_summary`, `pg_ddl_command`.
 *
 * @since 0.1.0
 */
export const textOnlyBuiltins: ReadonlyArray<TypeCodec.TypeCodec<string>> = [
  textOnly("aclitem", Oid.aclitem, Oid._aclitem),
  textOnly("pg_node_tree", Oid.pg_node_tree, undefined),
  textOnly("pg_ndistinct", Oid.pg_ndistinct, undefined),
  textOnly("pg_dependencies", Oid.pg_dependencies, undefined),
  textOnly("pg_mcv_list", Oid.pg_mcv_list, undefined),
  textOnly("gtsvector", Oid.gtsvector, Oid._gtsvector),
  textOnly("pg_brin_bloom_summary", Oid.pg_brin_bloom_summary, undefined),
  textOnly("pg_brin_minmax_multi_summary", Oid.pg_brin_minmax_multi_summary, undefined),
  textOnly("pg_ddl_command", Oid.pg_ddl_command, undefined)
]
