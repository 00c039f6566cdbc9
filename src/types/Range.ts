/**
 * Range and multirange codecs for any subtype (`int4range`, `numrange`,
 * `tsrange`, `tstzrange`, `daterange`, `int8range`, their multiranges, and
 * ranges created with `CREATE TYPE ... AS RANGE`).
 *
 * **Details**
 *
 * - A range is `{ lower, upper, lowerInclusive, upperInclusive, empty }`;
 *   `null` for a bound means unbounded (a range bound can never be SQL NULL,
 *   and an infinite *value* such as timestamp `infinity` is a bound, not
 *   `null`). The empty range is `{ empty: true, lower: null, upper: null, ... }`.
 *   A multirange is an array of ranges.
 * - Bounds decode with the subtype's codec and keep what the server sent
 *   (discrete ranges come back canonical, `[1,6)` for `[1,5]`).
 * - Binary layout (`range_send`): a flags byte (0x01 empty, 0x02 lower
 *   inclusive, 0x04 upper inclusive, 0x08 lower infinite, 0x10 upper infinite),
 *   then each present bound as an int32 length and its bytes. A multirange
 *   (`multirange_send`) is an int32 count and each range as an int32 length and
 *   its bytes.
 * - Text layout (`range_out`): `empty`, or `[`/`(` lower `,` upper `]`/`)`,
 *   bounds double-quoted when needed (`\` escapes and `""` inside quotes);
 *   multiranges `{[1,3),[5,7)}`.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type { Writer } from "../wire/Writer.ts"
import * as TypeCodec from "./TypeCodec.ts"

/**
 * A range of `A`.
 *
 * @since 0.1.0
 */
export interface Range<A> {
  readonly lower: A | null
  readonly upper: A | null
  readonly lowerInclusive: boolean
  readonly upperInclusive: boolean
  readonly empty: boolean
}

/**
 * The empty range.
 *
 * @since 0.1.0
 */
export const empty: Range<never> = Object.freeze(emptyRange())

/** A fresh empty range (what the decoders return: a decoded value remembers its type, see `Param.remember`). */
function emptyRange(): Range<never> {
  return { lower: null, upper: null, lowerInclusive: false, upperInclusive: false, empty: true }
}

/**
 * Builds a non-empty range; `bounds` as in SQL's range constructors (`"[)"` by
 * default). A `null` bound is unbounded, and always exclusive.
 *
 * @since 0.1.0
 */
export const make = <A>(lower: A | null, upper: A | null, bounds: "[)" | "[]" | "()" | "(]" = "[)"): Range<A> => ({
  lower,
  upper,
  lowerInclusive: lower !== null && bounds[0] === "[",
  upperInclusive: upper !== null && bounds[1] === "]",
  empty: false
})

/**
 * The Schema of ranges of `element` values (for validation and arbitraries):
 * the empty range, or bounds where an unbounded side is exclusive.
 *
 * @since 0.1.0
 */
export const RangeSchema = <S extends Schema.Top>(element: S) =>
  Schema.Union([
    Schema.Struct({
      lower: Schema.Null,
      upper: Schema.Null,
      lowerInclusive: Schema.Literal(false),
      upperInclusive: Schema.Literal(false),
      empty: Schema.Literal(true)
    }),
    Schema.Struct({
      lower: Schema.NullOr(element),
      upper: Schema.NullOr(element),
      lowerInclusive: Schema.Boolean,
      upperInclusive: Schema.Boolean,
      empty: Schema.Literal(false)
    }).check(
      Schema.makeFilter((r) =>
        (r.lower !== null || !r.lowerInclusive) && (r.upper !== null || !r.upperInclusive) ||
        "an unbounded side is exclusive"
      )
    )
  ])

const EMPTY = 0x01
const LB_INC = 0x02
const UB_INC = 0x04
const LB_INF = 0x08
const UB_INF = 0x10
const LB_NULL = 0x20
const UB_NULL = 0x40

const decodeBinaryRange = <A>(
  type: string,
  sub: TypeCodec.TypeCodec<A>,
  buf: Uint8Array,
  start: number,
  end: number
): Range<A> => {
  const decode = sub.decodeBinary!
  if (end - start < 1) return TypeCodec.fail(type, "missing flags")
  const flags = buf[start]!
  if (flags & EMPTY) {
    if (end - start !== 1) return TypeCodec.fail(type, "trailing bytes after an empty range")
    return emptyRange()
  }
  let p = start + 1
  let lower: A | null = null
  let upper: A | null = null
  if (!(flags & (LB_INF | LB_NULL))) {
    if (end - p < 4) return TypeCodec.fail(type, "truncated lower bound")
    const n = TypeCodec.int32At(buf, p)
    p += 4
    if (n < 0 || n > end - p) return TypeCodec.fail(type, `invalid lower bound length ${n}`)
    lower = decode(buf, p, p + n)
    p += n
  }
  if (!(flags & (UB_INF | UB_NULL))) {
    if (end - p < 4) return TypeCodec.fail(type, "truncated upper bound")
    const n = TypeCodec.int32At(buf, p)
    p += 4
    if (n < 0 || n > end - p) return TypeCodec.fail(type, `invalid upper bound length ${n}`)
    upper = decode(buf, p, p + n)
    p += n
  }
  if (p !== end) return TypeCodec.fail(type, `${end - p} trailing bytes`)
  return {
    lower,
    upper,
    lowerInclusive: (flags & LB_INC) !== 0,
    upperInclusive: (flags & UB_INC) !== 0,
    empty: false
  }
}

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d)

/** A cursor over range text (one per value decoded). */
class RangeTextParser<A> {
  buf: Uint8Array
  p: number
  end: number
  type: string
  sub: TypeCodec.TypeCodec<A>
  constructor(type: string, sub: TypeCodec.TypeCodec<A>, buf: Uint8Array, start: number, end: number) {
    this.type = type
    this.sub = sub
    this.buf = buf
    this.p = start
    this.end = end
  }

  fail(message: string): never {
    return TypeCodec.fail(this.type, `${message} at byte ${this.p}`)
  }

  skipSpace(): void {
    while (this.p < this.end && isSpace(this.buf[this.p]!)) this.p++
  }

  range(): Range<A> {
    this.skipSpace()
    const buf = this.buf
    if (this.end - this.p >= 5 && (buf[this.p]! | 0x20) === 0x65) {
      const word = String.fromCharCode(...buf.subarray(this.p, this.p + 5)).toLowerCase()
      if (word !== "empty") this.fail("invalid range")
      this.p += 5
      return emptyRange()
    }
    const open = buf[this.p]
    if (open !== 0x5b && open !== 0x28) this.fail("expected [ or (")
    this.p++
    const lower = this.bound(0x2c, 0x2c)
    if (buf[this.p] !== 0x2c) this.fail("expected ,")
    this.p++
    const upper = this.bound(0x5d, 0x29)
    const close = buf[this.p]
    if (close !== 0x5d && close !== 0x29) this.fail("expected ] or )")
    this.p++
    return {
      lower,
      upper,
      lowerInclusive: open === 0x5b,
      upperInclusive: close === 0x5d,
      empty: false
    }
  }

  /** One bound up to (not including) `stopA` / `stopB` outside quotes; `null` when empty (unbounded). */
  bound(stopA: number, stopB: number): A | null {
    const buf = this.buf
    const start = this.p
    let plain = true
    let inQuote = false
    while (this.p < this.end) {
      const c = buf[this.p]!
      if (c === 0x5c) {
        plain = false
        this.p += 2
        continue
      }
      if (c === 0x22) {
        plain = false
        inQuote = !inQuote
      } else if (!inQuote && (c === stopA || c === stopB)) break
      this.p++
    }
    if (this.p >= this.end) this.fail("unterminated range")
    if (this.p === start) return null
    if (plain) return this.sub.decodeText(buf, start, this.p)
    const out = new Uint8Array(this.p - start)
    let n = 0
    inQuote = false
    for (let i = start; i < this.p; i++) {
      const c = buf[i]!
      if (c === 0x5c && i + 1 < this.p) out[n++] = buf[++i]!
      else if (c === 0x22) {
        if (inQuote && buf[i + 1] === 0x22) out[n++] = buf[++i]!
        else inQuote = !inQuote
      } else out[n++] = c
    }
    return this.sub.decodeText(out, 0, n)
  }
}

const isRange = (v: unknown): v is Range<unknown> =>
  typeof v === "object" && v !== null && "lower" in v && "upper" in v

const toRange = (type: string, value: unknown): Range<unknown> => {
  if (!isRange(value)) return TypeCodec.unsupported(type, value, "a range { lower, upper, lowerInclusive, upperInclusive, empty }")
  return value
}

const writeRange = <A>(type: string, sub: TypeCodec.TypeCodec<A>, w: Writer, value: unknown): void => {
  const r = toRange(type, value)
  if (r.empty === true) {
    w.uint8(EMPTY)
    return
  }
  const encode = sub.encodeBinary!
  let flags = 0
  if (r.lower === null || r.lower === undefined) flags |= LB_INF
  else if (r.lowerInclusive) flags |= LB_INC
  if (r.upper === null || r.upper === undefined) flags |= UB_INF
  else if (r.upperInclusive) flags |= UB_INC
  w.uint8(flags)
  for (const bound of [r.lower, r.upper]) {
    if (bound === null || bound === undefined) continue
    const mark = w.reserve32()
    encode(w, bound as A)
    w.patch32(mark, w.since(mark) - 4)
  }
}

const quoteBound = (s: string): string => "\"" + s.replace(/[\\"]/g, "\\$&") + "\""

const rangeText = <A>(type: string, sub: TypeCodec.TypeCodec<A>, value: unknown): string => {
  const r = toRange(type, value)
  if (r.empty === true) return "empty"
  const text = (b: unknown): string =>
    b === null || b === undefined
      ? ""
      : quoteBound(typeof b === "string" ? TypeCodec.checkText(type, b) : sub.encodeText(b as A))
  return (r.lowerInclusive && r.lower !== null ? "[" : "(") + text(r.lower) + "," + text(r.upper) +
    (r.upperInclusive && r.upper !== null ? "]" : ")")
}

const rangeFormat = <A>(sub: TypeCodec.TypeCodec<A>, value: unknown): TypeCodec.Format => {
  if (sub.encodeBinary === undefined || !isRange(value)) return 0
  if (value.empty === true) return 1
  for (const b of [value.lower, value.upper]) {
    if (b !== null && b !== undefined && sub.formatFor(b) !== 1) return 0
  }
  return 1
}

/**
 * The codec of ranges of `sub`.
 *
 * @since 0.1.0
 */
export const makeRange = <A>(
  sub: TypeCodec.TypeCodec<A>,
  name: string,
  oid: number,
  arrayOid: number | undefined
): TypeCodec.TypeCodec<Range<A>> =>
  TypeCodec.make<Range<A>>({
    name,
    oid,
    arrayOid,
    decodeBinary: sub.decodeBinary === undefined
      ? undefined
      : (buf, start, end) => decodeBinaryRange(name, sub, buf, start, end),
    decodeText: (buf, start, end) => {
      const parser = new RangeTextParser(name, sub, buf, start, end)
      const r = parser.range()
      parser.skipSpace()
      if (parser.p !== end) return parser.fail("trailing characters")
      return r
    },
    encodeBinary: sub.encodeBinary === undefined ? undefined : (w, value) => writeRange(name, sub, w, value),
    encodeText: (value) => rangeText(name, sub, value),
    formatFor: (value) => rangeFormat(sub, value)
  })

/**
 * The codec of multiranges of `sub` (values: arrays of ranges).
 *
 * @since 0.1.0
 */
export const makeMultirange = <A>(
  sub: TypeCodec.TypeCodec<A>,
  name: string,
  oid: number,
  arrayOid: number | undefined
): TypeCodec.TypeCodec<ReadonlyArray<Range<A>>> =>
  TypeCodec.make<ReadonlyArray<Range<A>>>({
    name,
    oid,
    arrayOid,
    decodeBinary: sub.decodeBinary === undefined ? undefined : (buf, start, end) => {
      if (end - start < 4) return TypeCodec.fail(name, "truncated range count")
      const count = TypeCodec.int32At(buf, start)
      if (count < 0 || count * 5 > end - start - 4) return TypeCodec.fail(name, `invalid range count ${count}`)
      const out: Array<Range<A>> = new Array(count)
      let p = start + 4
      for (let i = 0; i < count; i++) {
        if (end - p < 4) return TypeCodec.fail(name, `truncated range ${i + 1}`)
        const n = TypeCodec.int32At(buf, p)
        p += 4
        if (n < 1 || n > end - p) return TypeCodec.fail(name, `invalid length ${n} of range ${i + 1}`)
        out[i] = decodeBinaryRange(name, sub, buf, p, p + n)
        p += n
      }
      if (p !== end) return TypeCodec.fail(name, `${end - p} trailing bytes`)
      return out
    },
    decodeText: (buf, start, end) => {
      const parser = new RangeTextParser(name, sub, buf, start, end)
      parser.skipSpace()
      if (buf[parser.p] !== 0x7b) return parser.fail("expected {")
      parser.p++
      const out: Array<Range<A>> = []
      parser.skipSpace()
      if (buf[parser.p] === 0x7d) parser.p++
      else {
        for (;;) {
          out.push(parser.range())
          parser.skipSpace()
          const c = buf[parser.p]
          parser.p++
          if (c === 0x7d) break
          if (c !== 0x2c) return parser.fail("expected , or }")
        }
      }
      parser.skipSpace()
      if (parser.p !== end) return parser.fail("trailing characters")
      return out
    },
    encodeBinary: sub.encodeBinary === undefined ? undefined : (w, value) => {
      if (!Array.isArray(value)) return TypeCodec.unsupported(name, value, "an array of ranges")
      w.int32(value.length)
      for (const r of value) {
        const mark = w.reserve32()
        writeRange(name, sub, w, r)
        w.patch32(mark, w.since(mark) - 4)
      }
    },
    encodeText: (value) => {
      if (!Array.isArray(value)) return TypeCodec.unsupported(name, value, "an array of ranges")
      return "{" + value.map((r) => rangeText(name, sub, r)).join(",") + "}"
    },
    formatFor: (value) => {
      if (!Array.isArray(value)) return 0
      for (const r of value) if (rangeFormat(sub, r) !== 1) return 0
      return 1
    },
    valuesAreArrays: true
  })
