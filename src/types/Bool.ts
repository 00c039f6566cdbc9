/**
 * The `bool` codec: JavaScript `boolean`.
 *
 * Binary: one byte, non-zero is true (`boolrecv`). Text: `t` / `f` (what
 * `boolout` prints; `true` / `false` are also read). It does not accept
 * numbers or strings as booleans when encoding: a string parameter is sent as
 * text and PostgreSQL's own input function decides.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import { Oid } from "./Oid.ts"
import * as TypeCodec from "./TypeCodec.ts"

const NAME = "bool"

const decodeText = (buf: Uint8Array, start: number, end: number): boolean => {
  const n = end - start
  if (n === 1) {
    if (buf[start] === 0x74) return true
    if (buf[start] === 0x66) return false
  }
  const s = TypeCodec.utf8(NAME, buf, start, end)
  if (s === "true") return true
  if (s === "false") return false
  return TypeCodec.fail(NAME, "invalid boolean text")
}

const check = (value: unknown): boolean =>
  typeof value === "boolean" ? value : TypeCodec.unsupported(NAME, value, "a boolean")

/**
 * `bool` (OID 16).
 *
 * @since 0.1.0
 */
export const bool: TypeCodec.TypeCodec<boolean> = TypeCodec.make<boolean>({
  name: NAME,
  oid: Oid.bool,
  arrayOid: Oid._bool,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength(NAME, start, end, 1)
    return buf[start] !== 0
  },
  decodeText,
  encodeBinary: (w, value) => {
    w.uint8(check(value) ? 1 : 0)
  },
  encodeText: (value) => (check(value) ? "t" : "f")
})
