/**
 * Geometric codecs: `point`, `line`, `lseg`, `box`, `path`, `polygon`,
 * `circle`, as small plain objects of float8 coordinates.
 *
 * **Details**
 *
 * - `point` `{ x, y }`; `line` `{ a, b, c }` (the line ax + by + c = 0);
 *   `lseg` `{ start, end }`; `box` `{ upperRight, lowerLeft }` (the server
 *   stores the corners normalised, upper right first); `path`
 *   `{ closed, points }`; `polygon` an array of points; `circle`
 *   `{ center, radius }`.
 * - Binary layouts (`point_send` and friends) are float8 sequences in those
 *   orders; `path` starts with a closed flag byte and an int32 point count,
 *   `polygon` with the int32 count.
 * - Text: `(1,2)`, `{1,2,3}`, `[(1,2),(3,4)]`, `(3,4),(1,2)`, `((1,2),(3,4))`
 *   (closed path, polygon) or `[(1,2),(3,4)]` (open path), `<(1,2),3>`.
 *   Coordinates keep NaN, ±Infinity and -0.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type { Writer } from "../wire/Writer.ts"
import { Oid } from "./Oid.ts"
import * as TypeCodec from "./TypeCodec.ts"

/** @since 0.1.0 */
export const PointSchema = Schema.Struct({ x: Schema.Number, y: Schema.Number })
/** @since 0.1.0 */
export interface Point extends Schema.Schema.Type<typeof PointSchema> {}
/** @since 0.1.0 */
export const LineSchema = Schema.Struct({ a: Schema.Number, b: Schema.Number, c: Schema.Number })
/** @since 0.1.0 */
export interface Line extends Schema.Schema.Type<typeof LineSchema> {}
/** @since 0.1.0 */
export const LineSegmentSchema = Schema.Struct({ start: PointSchema, end: PointSchema })
/** @since 0.1.0 */
export interface LineSegment extends Schema.Schema.Type<typeof LineSegmentSchema> {}
/** @since 0.1.0 */
export const BoxSchema = Schema.Struct({ upperRight: PointSchema, lowerLeft: PointSchema })
/** @since 0.1.0 */
export interface Box extends Schema.Schema.Type<typeof BoxSchema> {}
/** @since 0.1.0 */
export const PathSchema = Schema.Struct({ closed: Schema.Boolean, points: Schema.NonEmptyArray(PointSchema) })
/** @since 0.1.0 */
export interface Path extends Schema.Schema.Type<typeof PathSchema> {}
/** @since 0.1.0 */
export const PolygonSchema = Schema.NonEmptyArray(PointSchema)
/** @since 0.1.0 */
export type Polygon = typeof PolygonSchema.Type
/** @since 0.1.0 */
export const CircleSchema = Schema.Struct({ center: PointSchema, radius: Schema.Number })
/** @since 0.1.0 */
export interface Circle extends Schema.Schema.Type<typeof CircleSchema> {}

const numberPattern = /[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|Infinity|inf|NaN)/gi

/** The coordinates of a geometric text, checked against the expected count. */
const numbersOf = (type: string, text: string, expected: number | "even"): Array<number> => {
  const out: Array<number> = []
  for (const m of text.matchAll(numberPattern)) out.push(TypeCodec.parseFloatText(type, m[0]))
  const residue = text.replace(numberPattern, "").replace(/[\s(),[\]{}<>]/g, "")
  if (residue.length > 0) return TypeCodec.fail(type, "invalid text")
  if (expected === "even" ? out.length === 0 || out.length % 2 !== 0 : out.length !== expected) {
    return TypeCodec.fail(type, "wrong number of coordinates")
  }
  return out
}

const pointsOf = (numbers: Array<number>): Array<Point> => {
  const points: Array<Point> = []
  for (let i = 0; i < numbers.length; i += 2) points.push({ x: numbers[i]!, y: numbers[i + 1]! })
  return points
}

const f = TypeCodec.formatFloat
const pointText = (p: Point): string => `(${f(p.x)},${f(p.y)})`

const num = (type: string, v: unknown): number =>
  typeof v === "number" ? v : TypeCodec.fail(type, "coordinates must be numbers")

const toPoint = (type: string, v: unknown): Point => {
  if (typeof v !== "object" || v === null) return TypeCodec.unsupported(type, v, "{ x, y }")
  const p = v as { x?: unknown; y?: unknown }
  return { x: num(type, p.x), y: num(type, p.y) }
}

const toPoints = (type: string, v: unknown): ReadonlyArray<Point> => {
  if (!Array.isArray(v) || v.length === 0) return TypeCodec.fail(type, "expected a non-empty array of points")
  return v.map((p) => toPoint(type, p))
}

const field = (type: string, v: unknown, key: string): unknown => {
  if (typeof v !== "object" || v === null || !(key in v)) return TypeCodec.fail(type, `missing field ${key}`)
  return (v as Record<string, unknown>)[key]
}

const writePoint = (w: Writer, p: Point): void => {
  w.float64(p.x).float64(p.y)
}

const readPoints = (buf: Uint8Array, p: number, n: number): Array<Point> => {
  const points: Array<Point> = new Array(n)
  for (let i = 0; i < n; i++, p += 16) points[i] = { x: TypeCodec.float64At(buf, p), y: TypeCodec.float64At(buf, p + 8) }
  return points
}

const utf8 = TypeCodec.utf8

/** @since 0.1.0 */
export const point: TypeCodec.TypeCodec<Point> = TypeCodec.make<Point>({
  name: "point",
  oid: Oid.point,
  arrayOid: Oid._point,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("point", start, end, 16)
    return { x: TypeCodec.float64At(buf, start), y: TypeCodec.float64At(buf, start + 8) }
  },
  decodeText: (buf, start, end) => pointsOf(numbersOf("point", utf8("point", buf, start, end), 2))[0]!,
  encodeBinary: (w, value) => writePoint(w, toPoint("point", value)),
  encodeText: (value) => pointText(toPoint("point", value))
})

const toLine = (v: unknown): Line => ({
  a: num("line", field("line", v, "a")),
  b: num("line", field("line", v, "b")),
  c: num("line", field("line", v, "c"))
})

/** @since 0.1.0 */
export const line: TypeCodec.TypeCodec<Line> = TypeCodec.make<Line>({
  name: "line",
  oid: Oid.line,
  arrayOid: Oid._line,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("line", start, end, 24)
    return {
      a: TypeCodec.float64At(buf, start),
      b: TypeCodec.float64At(buf, start + 8),
      c: TypeCodec.float64At(buf, start + 16)
    }
  },
  decodeText: (buf, start, end) => {
    const [a, b, c] = numbersOf("line", utf8("line", buf, start, end), 3)
    return { a: a!, b: b!, c: c! }
  },
  encodeBinary: (w, value) => {
    const l = toLine(value)
    w.float64(l.a).float64(l.b).float64(l.c)
  },
  encodeText: (value) => {
    const l = toLine(value)
    return `{${f(l.a)},${f(l.b)},${f(l.c)}}`
  }
})

const toLseg = (v: unknown): LineSegment => ({
  start: toPoint("lseg", field("lseg", v, "start")),
  end: toPoint("lseg", field("lseg", v, "end"))
})

/** @since 0.1.0 */
export const lseg: TypeCodec.TypeCodec<LineSegment> = TypeCodec.make<LineSegment>({
  name: "lseg",
  oid: Oid.lseg,
  arrayOid: Oid._lseg,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("lseg", start, end, 32)
    const [a, b] = readPoints(buf, start, 2)
    return { start: a!, end: b! }
  },
  decodeText: (buf, start, end) => {
    const [a, b] = pointsOf(numbersOf("lseg", utf8("lseg", buf, start, end), 4))
    return { start: a!, end: b! }
  },
  encodeBinary: (w, value) => {
    const s = toLseg(value)
    writePoint(w, s.start)
    writePoint(w, s.end)
  },
  encodeText: (value) => {
    const s = toLseg(value)
    return `[${pointText(s.start)},${pointText(s.end)}]`
  }
})

const toBox = (v: unknown): Box => ({
  upperRight: toPoint("box", field("box", v, "upperRight")),
  lowerLeft: toPoint("box", field("box", v, "lowerLeft"))
})

/** @since 0.1.0 */
export const box: TypeCodec.TypeCodec<Box> = TypeCodec.make<Box>({
  name: "box",
  oid: Oid.box,
  arrayOid: Oid._box,
  delimiter: ";",
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("box", start, end, 32)
    const [a, b] = readPoints(buf, start, 2)
    return { upperRight: a!, lowerLeft: b! }
  },
  decodeText: (buf, start, end) => {
    const [a, b] = pointsOf(numbersOf("box", utf8("box", buf, start, end), 4))
    return { upperRight: a!, lowerLeft: b! }
  },
  encodeBinary: (w, value) => {
    const b = toBox(value)
    writePoint(w, b.upperRight)
    writePoint(w, b.lowerLeft)
  },
  encodeText: (value) => {
    const b = toBox(value)
    return `${pointText(b.upperRight)},${pointText(b.lowerLeft)}`
  }
})

/** Reads an int32 point count followed by exactly that many points. */
const readCountedPoints = (type: string, buf: Uint8Array, p: number, end: number): Array<Point> => {
  if (end - p < 4) return TypeCodec.fail(type, "truncated point count")
  const n = TypeCodec.int32At(buf, p)
  if (n < 0 || (end - p - 4) !== n * 16) return TypeCodec.fail(type, `point count ${n} does not match the length`)
  return readPoints(buf, p + 4, n)
}

const toPath = (v: unknown): Path => {
  const closed = field("path", v, "closed")
  if (typeof closed !== "boolean") return TypeCodec.fail("path", "closed must be a boolean")
  return { closed, points: toPoints("path", field("path", v, "points")) as Path["points"] }
}

/** @since 0.1.0 */
export const path: TypeCodec.TypeCodec<Path> = TypeCodec.make<Path>({
  name: "path",
  oid: Oid.path,
  arrayOid: Oid._path,
  decodeBinary: (buf, start, end) => {
    if (end - start < 1) return TypeCodec.fail("path", "missing closed flag")
    const closed = buf[start]!
    if (closed > 1) return TypeCodec.fail("path", `invalid closed flag ${closed}`)
    return { closed: closed === 1, points: readCountedPoints("path", buf, start + 1, end) as unknown as Path["points"] }
  },
  decodeText: (buf, start, end) => {
    const s = utf8("path", buf, start, end).trim()
    return { closed: !s.startsWith("["), points: pointsOf(numbersOf("path", s, "even")) as unknown as Path["points"] }
  },
  encodeBinary: (w, value) => {
    const p = toPath(value)
    w.uint8(p.closed ? 1 : 0).int32(p.points.length)
    for (const pt of p.points) writePoint(w, pt)
  },
  encodeText: (value) => {
    const p = toPath(value)
    const inner = p.points.map(pointText).join(",")
    return p.closed ? `(${inner})` : `[${inner}]`
  },
  valuesAreArrays: false
})

/** @since 0.1.0 */
export const polygon: TypeCodec.TypeCodec<Polygon> = TypeCodec.make<Polygon>({
  name: "polygon",
  oid: Oid.polygon,
  arrayOid: Oid._polygon,
  decodeBinary: (buf, start, end) => readCountedPoints("polygon", buf, start, end) as unknown as Polygon,
  decodeText: (buf, start, end) =>
    pointsOf(numbersOf("polygon", utf8("polygon", buf, start, end), "even")) as unknown as Polygon,
  encodeBinary: (w, value) => {
    const points = toPoints("polygon", value)
    w.int32(points.length)
    for (const pt of points) writePoint(w, pt)
  },
  encodeText: (value) => `(${toPoints("polygon", value).map(pointText).join(",")})`,
  valuesAreArrays: true
})

const toCircle = (v: unknown): Circle => ({
  center: toPoint("circle", field("circle", v, "center")),
  radius: num("circle", field("circle", v, "radius"))
})

/** @since 0.1.0 */
export const circle: TypeCodec.TypeCodec<Circle> = TypeCodec.make<Circle>({
  name: "circle",
  oid: Oid.circle,
  arrayOid: Oid._circle,
  decodeBinary: (buf, start, end) => {
    TypeCodec.expectLength("circle", start, end, 24)
    return {
      center: { x: TypeCodec.float64At(buf, start), y: TypeCodec.float64At(buf, start + 8) },
      radius: TypeCodec.float64At(buf, start + 16)
    }
  },
  decodeText: (buf, start, end) => {
    const [x, y, r] = numbersOf("circle", utf8("circle", buf, start, end), 3)
    return { center: { x: x!, y: y! }, radius: r! }
  },
  encodeBinary: (w, value) => {
    const c = toCircle(value)
    writePoint(w, c.center)
    w.float64(c.radius)
  },
  encodeText: (value) => {
    const c = toCircle(value)
    return `<${pointText(c.center)},${f(c.radius)}>`
  }
})
