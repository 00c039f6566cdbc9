/**
 * Array codecs for any element type: multi-dimensional, NULL elements, lower
 * bounds other than 1, empty arrays; plus `int2vector` and `oidvector`.
 *
 * **Details**
 *
 * - An array decodes to nested JavaScript arrays (one level per dimension)
 *   with `null` for NULL elements; an empty array is `[]`.
 * - When any dimension's lower bound is not 1 (`'[0:2]={1,2,3}'`), the value is
 *   a `BoundedArray` `{ _tag: "BoundedArray", lowerBounds, elements }` instead:
 *   the bounds are part of the value, and dropping them would silently change
 *   what `a[1]` means.
 * - Binary layout (`array_send`): int32 ndim (0..6), int32 has-nulls flag,
 *   uint32 element type OID, ndim x (int32 length, int32 lower bound), then each
 *   element as an int32 length (-1 for NULL) and its bytes. The element OID must
 *   be the codec's element type (a `CodecError` otherwise).
 * - Text layout (`array_out`): `{1,2,NULL}`, nested braces per dimension, an
 *   optional `[l:u]...=` bounds prefix, elements double-quoted with `\`
 *   escapes when they contain special characters, the element type's delimiter
 *   (`;` for box).
 * - Encoding: a JavaScript array is one dimension per nesting level (ragged
 *   arrays are a `CodecError`), except for element types whose values are
 *   themselves arrays (json, polygon, ...), where it is one-dimensional. A
 *   `BoundedArray` carries explicit lower bounds. The array goes in binary when
 *   every element can; a string element for a non-string element type makes the
 *   whole array go as text, the string being that element's literal text.
 * - Counts read from the wire are checked against the bytes available before
 *   anything is allocated.
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
 * PostgreSQL's MAXDIM.
 *
 * @since 0.1.0
 */
export const MAX_DIMENSIONS = 6

/**
 * An array whose lower bounds are not all 1.
 *
 * @since 0.1.0
 */
export interface BoundedArray<A = unknown> {
  readonly _tag: "BoundedArray"
  /** One lower bound per dimension. */
  readonly lowerBounds: ReadonlyArray<number>
  /** The elements, nested one level per dimension. */
  readonly elements: ReadonlyArray<A | null | ReadonlyArray<unknown>>
}

/**
 * Builds a `BoundedArray`.
 *
 * @since 0.1.0
 */
export const bounded = <A>(
  elements: ReadonlyArray<A | null | ReadonlyArray<unknown>>,
  lowerBounds: ReadonlyArray<number>
): BoundedArray<A> => ({ _tag: "BoundedArray", lowerBounds, elements })

/**
 * @since 0.1.0
 */
export const isBoundedArray = (u: unknown): u is BoundedArray =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "BoundedArray"

/** Builds nested arrays from a flat row-major list. */
const nest = (flat: Array<unknown>, dims: ReadonlyArray<number>): Array<unknown> => {
  if (dims.length <= 1) return flat
  let level: Array<unknown> = flat
  for (let d = dims.length - 1; d >= 1; d--) {
    const size = dims[d]!
    const next: Array<unknown> = new Array(level.length / size)
    for (let i = 0; i < next.length; i++) next[i] = level.slice(i * size, (i + 1) * size)
    level = next
  }
  return level
}

const withBounds = (elements: Array<unknown>, lowerBounds: ReadonlyArray<number>): unknown => {
  for (const lb of lowerBounds) if (lb !== 1) return bounded(elements, lowerBounds)
  return elements
}

/**
 * Decodes a binary array with `elem` (`checkElement`: fail unless the element
 * OID in the data is `elem.oid`). Returns nested arrays, or a `BoundedArray`
 * when `keepBounds` and a lower bound is not 1. Throws `CodecError`.
 *
 * @since 0.1.0
 */
export const decodeBinary = (
  type: string,
  elem: TypeCodec.TypeCodec<any>,
  checkElement: boolean,
  keepBounds: boolean,
  buf: Uint8Array,
  start: number,
  end: number
): unknown => {
  const decodeElement = elem.decodeBinary
  if (decodeElement === undefined) return TypeCodec.fail(type, "the element type has no binary form")
  if (end - start < 12) return TypeCodec.fail(type, "truncated array header")
  const ndim = TypeCodec.int32At(buf, start)
  const flags = TypeCodec.int32At(buf, start + 4)
  const elemOid = TypeCodec.int32At(buf, start + 8) >>> 0
  if (ndim < 0 || ndim > MAX_DIMENSIONS) return TypeCodec.fail(type, `invalid number of dimensions ${ndim}`)
  if (flags !== 0 && flags !== 1) return TypeCodec.fail(type, `invalid flags ${flags}`)
  if (checkElement && elemOid !== elem.oid) {
    return TypeCodec.fail(type, `element type ${elemOid} is not ${elem.name} (${elem.oid})`)
  }
  let p = start + 12
  if (end - p < ndim * 8) return TypeCodec.fail(type, "truncated dimensions")
  const dims: Array<number> = new Array(ndim)
  const lowerBounds: Array<number> = new Array(ndim)
  let total = ndim === 0 ? 0 : 1
  for (let d = 0; d < ndim; d++, p += 8) {
    const size = TypeCodec.int32At(buf, p)
    if (size < 0) return TypeCodec.fail(type, `invalid dimension length ${size}`)
    dims[d] = size
    lowerBounds[d] = TypeCodec.int32At(buf, p + 4)
    total *= size
  }
  if (total * 4 > end - p) return TypeCodec.fail(type, `${total} elements cannot fit in ${end - p} bytes`)
  const flat: Array<unknown> = new Array(total)
  for (let i = 0; i < total; i++) {
    if (end - p < 4) return TypeCodec.fail(type, `truncated element ${i + 1}`)
    const length = TypeCodec.int32At(buf, p)
    p += 4
    if (length === -1) {
      flat[i] = null
      continue
    }
    if (length < 0 || length > end - p) return TypeCodec.fail(type, `invalid length ${length} of element ${i + 1}`)
    flat[i] = decodeElement(buf, p, p + length)
    p += length
  }
  if (p !== end) return TypeCodec.fail(type, `${end - p} trailing bytes`)
  if (total === 0) return []
  const nested = nest(flat, dims)
  return keepBounds ? withBounds(nested, lowerBounds) : nested
}

// ---------------------------------------------------------------------------
// Text parsing
// ---------------------------------------------------------------------------

const LBRACE = 0x7b
const RBRACE = 0x7d
const QUOTE = 0x22
const BACKSLASH = 0x5c

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d)

/** The cursor of one text-array parse (one instance per array value decoded). */
class TextArrayParser {
  buf: Uint8Array
  p: number
  end: number
  delimiter: number
  type: string
  elem: TypeCodec.TypeCodec<any>
  constructor(
    type: string,
    elem: TypeCodec.TypeCodec<any>,
    buf: Uint8Array,
    start: number,
    end: number
  ) {
    this.type = type
    this.elem = elem
    this.buf = buf
    this.p = start
    this.end = end
    this.delimiter = elem.delimiter.charCodeAt(0)
  }

  fail(message: string): never {
    return TypeCodec.fail(this.type, `${message} at byte ${this.p}`)
  }

  skipSpace(): void {
    while (this.p < this.end && isSpace(this.buf[this.p]!)) this.p++
  }

  /** Parses `{...}` at the current position; returns its items (values or nested arrays). */
  level(depth: number): Array<unknown> {
    if (depth > MAX_DIMENSIONS) this.fail("too many dimensions")
    if (this.buf[this.p] !== LBRACE) this.fail("expected {")
    this.p++
    const items: Array<unknown> = []
    this.skipSpace()
    if (this.buf[this.p] === RBRACE) {
      this.p++
      return items
    }
    for (;;) {
      this.skipSpace()
      if (this.p >= this.end) this.fail("unterminated array")
      if (this.buf[this.p] === LBRACE) items.push(new Nested(this.level(depth + 1)))
      else items.push(this.element())
      this.skipSpace()
      const c = this.buf[this.p]
      if (c === this.delimiter) {
        this.p++
        continue
      }
      if (c === RBRACE) {
        this.p++
        return items
      }
      this.fail("expected a delimiter or }")
    }
  }

  /** Parses one element (quoted or not) and decodes it with the element codec. */
  element(): unknown {
    const buf = this.buf
    if (buf[this.p] === QUOTE) {
      const start = ++this.p
      let escapes = false
      while (this.p < this.end && buf[this.p] !== QUOTE) {
        if (buf[this.p] === BACKSLASH) {
          escapes = true
          this.p++
        }
        this.p++
      }
      if (this.p >= this.end) this.fail("unterminated quoted element")
      const stop = this.p++
      return escapes ? this.decodeUnescaped(start, stop) : this.elem.decodeText(buf, start, stop)
    }
    const start = this.p
    let escapes = false
    while (this.p < this.end) {
      const c = buf[this.p]!
      if (c === this.delimiter || c === RBRACE || c === LBRACE || c === QUOTE) break
      if (c === BACKSLASH) {
        escapes = true
        this.p++
      }
      this.p++
    }
    let stop = Math.min(this.p, this.end)
    while (stop > start && isSpace(buf[stop - 1]!)) stop--
    if (stop === start) this.fail("empty unquoted element")
    if (!escapes && stop - start === 4 && isNull(buf, start)) return null
    return escapes ? this.decodeUnescaped(start, stop) : this.elem.decodeText(buf, start, stop)
  }

  decodeUnescaped(start: number, stop: number): unknown {
    const out = new Uint8Array(stop - start)
    let n = 0
    for (let i = start; i < stop; i++) {
      if (this.buf[i] === BACKSLASH && i + 1 < stop) i++
      out[n++] = this.buf[i]!
    }
    return this.elem.decodeText(out, 0, n)
  }
}

/** A nested `{...}` level while parsing (told apart from element values that are arrays). */
class Nested {
  items: Array<unknown>
  constructor(items: Array<unknown>) {
    this.items = items
  }
}

const isNull = (buf: Uint8Array, p: number): boolean =>
  (buf[p]! | 0x20) === 0x6e && (buf[p + 1]! | 0x20) === 0x75 && (buf[p + 2]! | 0x20) === 0x6c &&
  (buf[p + 3]! | 0x20) === 0x6c

/** Converts parsed levels to nested arrays, checking that they are rectangular. */
const materialize = (type: string, items: Array<unknown>, dims: Array<number>, depth: number): Array<unknown> => {
  if (dims.length === depth) dims.push(items.length)
  else if (dims[depth] !== items.length) return TypeCodec.fail(type, "sub-arrays have different lengths")
  const out: Array<unknown> = new Array(items.length)
  let nested: boolean | undefined
  for (let i = 0; i < items.length; i++) {
    const item = items[i]
    const isNested = item instanceof Nested
    if (nested === undefined) nested = isNested
    else if (nested !== isNested) return TypeCodec.fail(type, "mixed elements and sub-arrays")
    out[i] = isNested ? materialize(type, (item as Nested).items, dims, depth + 1) : item
  }
  if (nested === false && dims.length !== depth + 1) return TypeCodec.fail(type, "sub-arrays have different depths")
  return out
}

const boundsPattern = /^\s*((?:\[[-+]?\d+:[-+]?\d+\])+)\s*=/

/**
 * Decodes an array literal with `elem`. Throws `CodecError`.
 *
 * @since 0.1.0
 */
export const decodeText = (
  type: string,
  elem: TypeCodec.TypeCodec<any>,
  keepBounds: boolean,
  buf: Uint8Array,
  start: number,
  end: number
): unknown => {
  const parser = new TextArrayParser(type, elem, buf, start, end)
  parser.skipSpace()
  let lowerBounds: Array<number> | undefined
  let boundDims: Array<number> | undefined
  if (buf[parser.p] === 0x5b) {
    const head = Utf8.decode(buf, parser.p, Math.min(end, parser.p + 200)) ?? ""
    const m = boundsPattern.exec(head)
    if (m === null) return parser.fail("invalid dimension bounds")
    lowerBounds = []
    boundDims = []
    for (const b of m[1]!.matchAll(/\[([-+]?\d+):([-+]?\d+)\]/g)) {
      const lower = Number(b[1])
      const upper = Number(b[2])
      if (upper < lower - 1) return parser.fail("invalid dimension bounds")
      lowerBounds.push(lower)
      boundDims.push(upper - lower + 1)
    }
    parser.p += Utf8.byteLength(m[0])
    parser.skipSpace()
  }
  const items = parser.level(1)
  parser.skipSpace()
  if (parser.p !== end) return parser.fail("trailing characters")
  const dims: Array<number> = []
  const nested = materialize(type, items, dims, 0)
  if (boundDims !== undefined) {
    if (boundDims.length !== dims.length || boundDims.some((d, i) => d !== dims[i])) {
      return TypeCodec.fail(type, "dimension bounds do not match the elements")
    }
  }
  // Any zero-length dimension means no elements: the server's empty array ({{},{}} is {}).
  if (dims.some((d) => d === 0)) return []
  return keepBounds && lowerBounds !== undefined ? withBounds(nested, lowerBounds) : nested
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

/** The dimensions and flat elements of a JavaScript array parameter. */
interface Shape {
  readonly dims: Array<number>
  readonly lowerBounds: ReadonlyArray<number> | undefined
  readonly flat: Array<unknown>
}

const shapeOf = (type: string, elem: TypeCodec.TypeCodec<any>, value: unknown): Shape => {
  let elements: unknown = value
  let lowerBounds: ReadonlyArray<number> | undefined
  if (isBoundedArray(value)) {
    elements = value.elements
    lowerBounds = value.lowerBounds
  }
  if (!Array.isArray(elements)) return TypeCodec.unsupported(type, value, "an array")
  let ndim: number
  if (lowerBounds !== undefined) ndim = lowerBounds.length
  else if (elem.valuesAreArrays) ndim = 1
  else {
    ndim = 1
    let probe: unknown = elements[0]
    while (Array.isArray(probe)) {
      ndim++
      probe = probe[0]
    }
  }
  if (ndim < 1 || ndim > MAX_DIMENSIONS) return TypeCodec.fail(type, `invalid number of dimensions ${ndim}`)
  const dims: Array<number> = []
  const flat: Array<unknown> = []
  const walk = (level: ReadonlyArray<unknown>, depth: number): void => {
    if (dims.length === depth) dims.push(level.length)
    else if (dims[depth] !== level.length) TypeCodec.fail(type, "ragged array: sub-arrays have different lengths")
    for (const item of level) {
      if (depth + 1 < ndim) {
        if (!Array.isArray(item)) TypeCodec.fail(type, "ragged array: mixed elements and sub-arrays")
        walk(item as ReadonlyArray<unknown>, depth + 1)
      } else {
        if (Array.isArray(item) && !elem.valuesAreArrays) {
          TypeCodec.fail(type, "ragged array: mixed elements and sub-arrays")
        }
        flat.push(item === undefined ? null : item)
      }
    }
  }
  walk(elements as ReadonlyArray<unknown>, 0)
  while (dims.length < ndim) dims.push(0)
  return { dims, lowerBounds, flat }
}

/**
 * Writes the binary form of an array parameter. Throws `CodecError`.
 *
 * @since 0.1.0
 */
export const encodeBinary = (type: string, elem: TypeCodec.TypeCodec<any>, w: Writer, value: unknown): void => {
  const encodeElement = elem.encodeBinary
  if (encodeElement === undefined) return TypeCodec.fail(type, "the element type has no binary form")
  const shape = shapeOf(type, elem, value)
  const total = shape.flat.length
  if (total === 0) {
    w.int32(0).int32(0).uint32(elem.oid)
    return
  }
  let hasNull = 0
  for (const v of shape.flat) {
    if (v === null) hasNull = 1
    else if (elem.formatFor(v) !== 1) {
      return TypeCodec.fail(type, `element ${TypeCodec.describe(v)} cannot be sent in binary`)
    }
  }
  w.int32(shape.dims.length).int32(hasNull).uint32(elem.oid)
  for (let d = 0; d < shape.dims.length; d++) w.int32(shape.dims[d]!).int32(shape.lowerBounds?.[d] ?? 1)
  for (const v of shape.flat) {
    if (v === null) {
      w.int32(-1)
      continue
    }
    const mark = w.reserve32()
    encodeElement(w, v)
    w.patch32(mark, w.since(mark) - 4)
  }
}

const quote = (s: string): string => "\"" + s.replace(/[\\"]/g, "\\$&") + "\""

/**
 * The text form of an array parameter: every non-NULL element double-quoted;
 * a string element is taken as that element's literal text. Throws
 * `CodecError`.
 *
 * @since 0.1.0
 */
export const encodeText = (type: string, elem: TypeCodec.TypeCodec<any>, value: unknown): string => {
  const shape = shapeOf(type, elem, value)
  if (shape.flat.length === 0) return "{}"
  const delimiter = elem.delimiter
  let index = 0
  const render = (depth: number): string => {
    const size = shape.dims[depth]!
    const parts: Array<string> = new Array(size)
    for (let i = 0; i < size; i++) {
      if (depth + 1 < shape.dims.length) parts[i] = render(depth + 1)
      else {
        const v = shape.flat[index++]
        parts[i] = v === null
          ? "NULL"
          : quote(typeof v === "string" ? TypeCodec.checkText(type, v) : elem.encodeText(v))
      }
    }
    return "{" + parts.join(delimiter) + "}"
  }
  let prefix = ""
  if (shape.lowerBounds !== undefined) {
    prefix = shape.dims.map((d, i) => `[${shape.lowerBounds![i]}:${shape.lowerBounds![i]! + d - 1}]`).join("") + "="
  }
  return prefix + render(0)
}

/**
 * The format of an array parameter: binary when the element type has a binary
 * encoder and every element goes in binary.
 *
 * @since 0.1.0
 */
export const formatFor = (elem: TypeCodec.TypeCodec<any>, value: unknown): TypeCodec.Format => {
  if (elem.encodeBinary === undefined) return 0
  const elements = isBoundedArray(value) ? value.elements : value
  if (!Array.isArray(elements)) return 0
  const visit = (level: ReadonlyArray<unknown>, depth: number): boolean => {
    for (const item of level) {
      if (item === null || item === undefined) continue
      if (Array.isArray(item) && !elem.valuesAreArrays && depth < MAX_DIMENSIONS) {
        if (!visit(item, depth + 1)) return false
      } else if (elem.formatFor(item) !== 1) return false
    }
    return true
  }
  return visit(elements, 1) ? 1 : 0
}

/**
 * The codec of arrays of `elem`.
 *
 * @since 0.1.0
 */
export const make = (
  elem: TypeCodec.TypeCodec<any>,
  oid: number,
  name = `_${elem.name}`
): TypeCodec.TypeCodec<unknown> => {
  const checkElement = elem.oid !== Oid.record
  const decodeElement = elem.decodeBinary
  return TypeCodec.make<unknown>({
    name,
    oid,
    arrayOid: undefined,
    decodeBinary: decodeElement === undefined
      ? undefined
      : (buf, start, end) => decodeBinary(name, elem, checkElement, true, buf, start, end),
    decodeText: (buf, start, end) => decodeText(name, elem, true, buf, start, end),
    encodeBinary: elem.encodeBinary === undefined ? undefined : (w, value) => encodeBinary(name, elem, w, value),
    encodeText: (value) => encodeText(name, elem, value),
    formatFor: (value) => formatFor(elem, value),
    valuesAreArrays: true
  })
}

/**
 * The codec of `int2vector` / `oidvector`: one-dimensional arrays with lower
 * bound 0 in binary and space-separated numbers in text (`1 2 3`), as a
 * JavaScript array of numbers.
 *
 * @since 0.1.0
 */
export const vector = (
  elem: TypeCodec.TypeCodec<any>,
  oid: number,
  name: string,
  arrayOid: number
): TypeCodec.TypeCodec<unknown> =>
  TypeCodec.make<unknown>({
    name,
    oid,
    arrayOid,
    decodeBinary: (buf, start, end) => decodeBinary(name, elem, true, false, buf, start, end),
    decodeText: (buf, start, end) => {
      const s = TypeCodec.utf8(name, buf, start, end).trim()
      if (s === "") return []
      return s.split(/\s+/).map((part) => {
        const bytes = Utf8.encode(part)
        return elem.decodeText(bytes, 0, bytes.length)
      })
    },
    encodeBinary: (w, value) => {
      if (!Array.isArray(value)) return TypeCodec.unsupported(name, value, "an array of numbers")
      w.int32(1).int32(0).uint32(elem.oid).int32(value.length).int32(0)
      for (const v of value) {
        if (v === null || v === undefined) return TypeCodec.fail(name, "NULL elements are not allowed")
        const mark = w.reserve32()
        elem.encodeBinary!(w, v)
        w.patch32(mark, w.since(mark) - 4)
      }
    },
    encodeText: (value) => {
      if (!Array.isArray(value)) return TypeCodec.unsupported(name, value, "an array of numbers")
      return value.map((v) => elem.encodeText(v)).join(" ")
    },
    formatFor: (value) => (Array.isArray(value) ? 1 : 0),
    valuesAreArrays: true
  })
