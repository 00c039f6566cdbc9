/**
 * Text-search codecs: `tsvector` and `tsquery`, as the text the server prints
 * (`'a':1A,2 'b'`, `'a' & 'b' | !'c'`).
 *
 * **Details**
 *
 * - `tsvector` is also read in binary (`tsvectorsend`: int32 lexeme count;
 *   per lexeme a NUL-terminated string, a uint16 position count and uint16
 *   positions whose top two bits are the weight, 3 = A ... 0 = D) and turned
 *   into the same text `tsvectorout` prints: each lexeme single-quoted with `'`
 *   and `\` doubled, positions after `:` with their weight letter (D is
 *   implicit).
 * - `tsquery` is read only as text: rebuilding the server's infix text from its
 *   binary operator tree is not worth the risk of a different rendering.
 * - Parameters are strings, sent as text.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import { Oid } from "./Oid.ts"
import * as TypeCodec from "./TypeCodec.ts"

const WEIGHTS = ["", "C", "B", "A"]

const decodeTsvector = (buf: Uint8Array, start: number, end: number): string => {
  if (end - start < 4) return TypeCodec.fail("tsvector", "truncated lexeme count")
  const count = TypeCodec.int32At(buf, start)
  if (count < 0 || count * 3 > end - start - 4) return TypeCodec.fail("tsvector", `invalid lexeme count ${count}`)
  let p = start + 4
  let out = ""
  for (let i = 0; i < count; i++) {
    let q = p
    while (q < end && buf[q] !== 0) q++
    if (q + 3 > end) return TypeCodec.fail("tsvector", `truncated lexeme ${i + 1}`)
    const lexeme = TypeCodec.utf8("tsvector", buf, p, q)
    const npos = TypeCodec.uint16At(buf, q + 1)
    p = q + 3
    if (end - p < npos * 2) return TypeCodec.fail("tsvector", `truncated positions of lexeme ${i + 1}`)
    if (i > 0) out += " "
    out += "'" + lexeme.replace(/['\\]/g, "$&$&") + "'"
    for (let j = 0; j < npos; j++, p += 2) {
      const pos = TypeCodec.uint16At(buf, p)
      out += (j === 0 ? ":" : ",") + (pos & 0x3fff) + WEIGHTS[pos >> 14]
    }
  }
  if (p !== end) return TypeCodec.fail("tsvector", `${end - p} trailing bytes`)
  return out
}

const stringOnly = (type: string) => (value: unknown): string =>
  typeof value === "string" ? TypeCodec.checkText(type, value) : TypeCodec.unsupported(type, value, "a string")

/** @since 0.1.0 */
export const tsvector: TypeCodec.TypeCodec<string> = TypeCodec.make<string>({
  name: "tsvector",
  oid: Oid.tsvector,
  arrayOid: Oid._tsvector,
  decodeBinary: decodeTsvector,
  decodeText: (buf, start, end) => TypeCodec.utf8("tsvector", buf, start, end),
  encodeText: stringOnly("tsvector")
})

/** @since 0.1.0 */
export const tsquery: TypeCodec.TypeCodec<string> = TypeCodec.make<string>({
  name: "tsquery",
  oid: Oid.tsquery,
  arrayOid: Oid._tsquery,
  decodeText: (buf, start, end) => TypeCodec.utf8("tsquery", buf, start, end),
  encodeText: stringOnly("tsquery")
})
