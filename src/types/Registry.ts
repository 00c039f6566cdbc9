/**
 * The type registry: which codec decodes each column and encodes each
 * parameter, by type OID.
 *
 * **Details**
 *
 * A `Registry` is an immutable value: `with`, `withAll`, `withExtension` and
 * `withTypes` return a new registry and leave the receiver unchanged, so one
 * registry can be shared by every session of a pool and a session can extend
 * its own copy with the types it learns from the catalog. Building a registry
 * costs a copy of its table; reading from it (`decoder`, `resultFormat`) is a
 * map lookup, done once per column of a RowDescription, never per row.
 *
 * **Results.** `decoder(oid, format)` returns the codec's decoder; an unknown
 * OID falls back to a string (text format) or a copy of the bytes (binary), so
 * an unknown type never crashes a query. `resultFormat(oid)` is 1 exactly when
 * a binary decoder exists, so the session asks for binary wherever it can.
 *
 * **Parameters.** The rules, in order (they matter for correctness and for
 * transaction poolers, where every statement is prepared afresh):
 *
 * 1. `null` / `undefined` (and a typed parameter holding one) is SQL NULL: the
 *    caller writes length -1 (`isNullParameter`).
 * 2. A typed parameter (`PgTypes.int4(5)`) is declared with its own OID in
 *    Parse and sent in binary when its codec can. If the server expects a
 *    different type (a prepared statement's ParameterDescription), it is sent
 *    as text for the server to convert.
 * 3. An untyped value sent where the server has declared the type (the OID is
 *    known): encoded for that type, in binary when the codec can. A string is
 *    always the literal text of the value (as in psql), sent as text; for the
 *    string types, and for canonical UUIDs, the same bytes go in binary.
 * 4. An object decoded from the server whose kind does not say its type (an
 *    interval, a range, a point, a composite, an hstore, an int2vector, an
 *    array of those) remembers its type (`Param.remember`): sent back untyped,
 *    it is declared as that type, so it comes back as it was on every path.
 *    (json/jsonb values do not: they are the caller's JSON, see rule 5.)
 * 5. An untyped value whose type the server has not declared (OID 0): its
 *    text is sent with OID 0 and the server infers the type from the context,
 *    exactly as for a quoted literal. Strings, numbers (shortest exact text,
 *    `-0`, `NaN`, `Infinity`), booleans (`true`/`false`), arrays of such values
 *    (an array literal) and plain objects or arrays of objects (JSON text) go
 *    this way. Other objects (a Map, a Set, a Float32Array, a class instance
 *    without `toJSON`) are refused rather than serialised as `{}`. The exceptions, where inference would be lossy or wrong, are
 *    declared: `bigint` as int8 (numeric beyond the int8 range), `Uint8Array`
 *    as bytea, `Date` as timestamptz (binary, exact to the millisecond), an
 *    Effect `BigDecimal` as numeric, and an array of typed parameters of one
 *    type (decoded money amounts) as that type's array.
 * 6. A value that cannot be encoded for the type is a `CodecError` naming the
 *    1-based parameter index, thrown by `writeParameter` before the message is
 *    sent.
 *
 * Known ambiguity of rule 5: an empty JavaScript array is `{}`, which is an
 * empty array for an array column but an empty object for a json column; and a
 * polymorphic context (`jsonb_build_object('k', $1)`) cannot infer a type.
 * Typed parameters resolve both.
 *
 * The text of rule 5 is written by `InferText`. Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as BigDecimal from "effect/BigDecimal"
import * as Result from "effect/Result"
import { CodecError, ProtocolError } from "../errors/PgError.ts"
import * as Utf8 from "../wire/Utf8.ts"
import { Writer } from "../wire/Writer.ts"
import * as ArrayCodec from "./Array.ts"
import * as Builtins from "./Builtins.ts"
import * as Bytea from "./Bytea.ts"
import * as Catalog from "./Catalog.ts"
import * as Extension from "./Extension.ts"
import { inferText } from "./InferText.ts"
import { builtinTypes, Oid } from "./Oid.ts"
import * as Param from "./Param.ts"
import * as RecordCodec from "./Record.ts"
import * as TypeCodec from "./TypeCodec.ts"

type AnyCodec = TypeCodec.TypeCodec<any>

/**
 * Registry options: the value representations (see `Builtins.Options`).
 *
 * @since 0.1.0
 */
export type RegistryOptions = Builtins.Options

const INT8_MIN = -(2n ** 63n)
const INT8_MAX = 2n ** 63n - 1n

/**
 * The built-in types whose decoded values need not remember their type, and
 * their arrays: primitives (an array of them goes as an array literal the
 * server reads for any element type), values whose JavaScript kind already
 * says the type (`Uint8Array`, `BigDecimal`, a `Date`, which is declared
 * timestamptz as before), money (tagged), and json/jsonb, whose objects are the
 * caller's JSON (untyped they go as JSON text, which the server reads in any
 * JSON context; their arrays do remember). Only the other objects pay for
 * remembering (a property defined per value).
 */
const FORGETFUL: ReadonlySet<number> = (() => {
  const scalars = [
    Oid.bool, Oid.bytea, Oid.char, Oid.name, Oid.int8, Oid.int2, Oid.int4, Oid.regproc, Oid.text, Oid.oid, Oid.xid,
    Oid.cid, Oid.json, Oid.xml, Oid.xid8, Oid.float4, Oid.float8, Oid.unknown, Oid.money, Oid.macaddr, Oid.inet,
    Oid.cidr, Oid.macaddr8, Oid.bpchar, Oid.varchar, Oid.date, Oid.time, Oid.timestamp, Oid.timestamptz, Oid.timetz,
    Oid.bit, Oid.varbit, Oid.numeric, Oid.refcursor, Oid.regprocedure, Oid.regoper, Oid.regoperator, Oid.regclass,
    Oid.regtype, Oid.regrole, Oid.regnamespace, Oid.regconfig, Oid.regdictionary, Oid.regcollation, Oid.uuid,
    Oid.pg_lsn, Oid.tsvector, Oid.tsquery, Oid.jsonb, Oid.jsonpath, Oid.cstring
  ]
  const arrays = new Map(builtinTypes.map((t) => [t.oid, t.array]))
  // An array of JSON values goes as an array literal of their JSON text only when they are numbers: json[] and
  // jsonb[] remember (one-dimensional ones, see `decoder`).
  const literalArrays = scalars.filter((oid) => oid !== Oid.json && oid !== Oid.jsonb).map((oid) => arrays.get(oid) ?? 0)
  return new Set([...scalars, ...literalArrays.filter((oid) => oid !== 0)])
})()

/**
 * The dimensions of an array's text form (`array_out`) without a dimension
 * decoration: its leading `{`s (an element that starts with `{` is quoted).
 * With a decoration (`[0:1]={...}`) it decodes to a bounded array, which
 * carries its dimensions: 1 then.
 */
const textDimensions = (buf: Uint8Array, start: number, end: number): number => {
  let p = start
  while (p < end && buf[p] === 0x7b) p++
  return Math.max(1, p - start)
}

/** A copy, never a view of the frame (see `Bytea.copyOut`). */
const copyBytes: TypeCodec.FieldDecoder = Bytea.copyOut
const textFallback: TypeCodec.FieldDecoder = (buf, start, end) => {
  const s = Utf8.decode(buf, start, end)
  if (s === undefined) return TypeCodec.fail("text", "invalid UTF-8")
  return s
}

/** How one parameter is sent: the codec (if any), the value it encodes, and the format. */
interface Plan {
  codec: AnyCodec | undefined
  value: unknown
  format: TypeCodec.Format
  /** A string to send verbatim as text (bypassing the codec). */
  verbatim: boolean
}

/**
 * The one plan object `plan` fills (parameters are planned one at a time, and
 * every caller reads the fields before anything can plan again): no allocation
 * per parameter on the hot path.
 */
const scratchPlan: Plan = { codec: undefined, value: undefined, format: 0, verbatim: false }

const planned = (codec: AnyCodec | undefined, value: unknown, format: TypeCodec.Format, verbatim: boolean): Plan => {
  scratchPlan.codec = codec
  scratchPlan.value = value
  scratchPlan.format = format
  scratchPlan.verbatim = verbatim
  return scratchPlan
}

/**
 * The text sent for an untyped value when the server infers its type (rule 5;
 * in `InferText`).
 *
 * @since 0.1.0
 */
export { inferText }

/**
 * The type registry.
 *
 * @since 0.1.0
 */
export class Registry {
  /** The representation options this registry's built-in codecs were made with. */
  readonly options: RegistryOptions
  private readonly codecs: Map<number, AnyCodec>
  private readonly names: Map<string, AnyCodec>
  /** The arrays whose elements are JavaScript arrays themselves (see `decoder`). */
  private readonly nestedArrays: Set<number>
  private readonly extensions: Readonly<Record<string, Extension.ExtensionCodec>>

  private constructor(
    codecs: Map<number, AnyCodec>,
    options: RegistryOptions,
    extensions: Readonly<Record<string, Extension.ExtensionCodec>>
  ) {
    this.options = options
    this.extensions = extensions
    // The anonymous record decodes its columns through this very registry.
    const record = RecordCodec.makeRecord(this)
    codecs.set(record.oid, record)
    codecs.set(Oid._record, ArrayCodec.make(record, Oid._record))
    this.codecs = codecs
    this.names = new Map()
    this.nestedArrays = new Set()
    for (const codec of codecs.values()) {
      this.names.set(codec.name, codec)
      if (codec.valuesAreArrays && codec.arrayOid !== undefined) this.nestedArrays.add(codec.arrayOid)
    }
  }

  /**
   * A registry of every built-in type, with the given value representations.
   *
   * @since 0.1.0
   */
  static make(options: RegistryOptions = {}): Registry {
    const codecs = new Map<number, AnyCodec>()
    for (const codec of Builtins.all(options)) codecs.set(codec.oid, codec)
    return new Registry(codecs, options, Extension.byName)
  }

  /**
   * A new registry with `codec` (and an array codec for its `arrayOid`) added
   * or replacing the codec of the same OID.
   *
   * @since 0.1.0
   */
  with(codec: AnyCodec): Registry {
    return this.withAll([codec])
  }

  /**
   * A new registry with every codec of `codecs` added (see `with`).
   *
   * @since 0.1.0
   */
  withAll(codecs: Iterable<AnyCodec>): Registry {
    const next = new Map(this.codecs)
    const added = new Set<number>()
    for (const codec of codecs) {
      next.set(codec.oid, codec)
      added.add(codec.oid)
    }
    for (const codec of codecs) {
      if (codec.arrayOid !== undefined && !added.has(codec.arrayOid)) {
        next.set(codec.arrayOid, ArrayCodec.make(codec, codec.arrayOid))
      }
    }
    return new Registry(next, this.options, this.extensions)
  }

  /**
   * A new registry that builds `name`'s codec with `make` when the catalog
   * reports a base type of that name (extension types: `hstore`, `citext`, ...
   * are known already).
   *
   * @since 0.1.0
   */
  withExtension(name: string, make: Extension.ExtensionCodec): Registry {
    return new Registry(new Map(this.codecs), this.options, { ...this.extensions, [name]: make })
  }

  /**
   * A new registry with codecs for the given catalog rows (domains, enums,
   * composites, ranges, arrays, extension types; see `Catalog`).
   *
   * @since 0.1.0
   */
  withTypes(rows: ReadonlyArray<Catalog.TypeRow>): Registry {
    return this.withAll(Catalog.codecsFromRows(rows, (oid) => this.codecs.get(oid), this.extensions))
  }

  /**
   * The codec of a type OID, if known.
   *
   * @since 0.1.0
   */
  get(oid: number): AnyCodec | undefined {
    return this.codecs.get(oid)
  }

  /**
   * The codec of a type name (`pg_type.typname`), if known.
   *
   * @since 0.1.0
   */
  getByName(name: string): AnyCodec | undefined {
    return this.names.get(name)
  }

  /**
   * `true` when a codec exists for the OID.
   *
   * @since 0.1.0
   */
  has(oid: number): boolean {
    return this.codecs.has(oid)
  }

  /**
   * The OIDs of `oids` this registry has no codec for (what the session looks
   * up in the catalog).
   *
   * @since 0.1.0
   */
  unknownOids(oids: Iterable<number>): Array<number> {
    const out = new Set<number>()
    for (const oid of oids) if (oid !== 0 && !this.codecs.has(oid)) out.add(oid)
    return [...out]
  }

  /**
   * The decoder for a column of this type and format; unknown OIDs fall back
   * to text (a string) or, in binary, a copy of the bytes. Never throws.
   *
   * @since 0.1.0
   */
  decoder(oid: number, format: 0 | 1): TypeCodec.FieldDecoder {
    const codec = this.codecs.get(oid)
    const decode = format === 1 ? codec?.decodeBinary ?? copyBytes : codec?.decodeText ?? textFallback
    if (codec === undefined || FORGETFUL.has(oid)) return decode
    if (this.nestedArrays.has(oid)) {
      // An array of array-valued elements (json[], polygon[], multirange arrays...): its shape does not tell a
      // dimension from an element (TypeCodec.valuesAreArrays), so it remembers its dimensions too.
      return (buf, start, end) => {
        const dimensions = format === 1 ? TypeCodec.int32At(buf, start) : textDimensions(buf, start, end)
        return Param.rememberDimensions(Param.remember(decode(buf, start, end), oid), dimensions)
      }
    }
    // The object decoded remembers its type, so that sent back untyped it is that type again (Param.remember).
    return (buf, start, end) => Param.remember(decode(buf, start, end), oid)
  }

  /**
   * Decodes one value (`bytes` holds exactly the field) into a `Result`: the
   * non-throwing form of `decoder(oid, format)(bytes, 0, bytes.length)`, for
   * callers outside a row loop.
   *
   * @since 0.1.0
   */
  decode(oid: number, format: 0 | 1, bytes: Uint8Array): Result.Result<unknown, CodecError> {
    try {
      return Result.succeed(this.decoder(oid, format)(bytes, 0, bytes.length))
    } catch (e) {
      if (e instanceof CodecError) return Result.fail(new CodecError({ message: e.message, oid }))
      return Result.fail(new CodecError({ message: String(e), oid }))
    }
  }

  /**
   * 1 when a binary decoder exists for the OID (the session asks for binary
   * results then), else 0.
   *
   * @since 0.1.0
   */
  resultFormat(oid: number): 0 | 1 {
    return this.codecs.get(oid)?.decodeBinary === undefined ? 0 : 1
  }

  /**
   * The OID to declare for `value` in Parse when the server has not said
   * (0 = let the server infer).
   *
   * @since 0.1.0
   */
  parameterOid(value: unknown): number {
    if (Param.isTypedParam(value)) {
      if (value.oid !== 0) return value.oid
      return value.typeName === undefined ? 0 : this.names.get(value.typeName)?.oid ?? 0
    }
    if (typeof value === "object" && value !== null) {
      const remembered = Param.rememberedOid(value)
      if (remembered !== undefined) return remembered
    }
    if (typeof value === "bigint") return value >= INT8_MIN && value <= INT8_MAX ? Oid.int8 : Oid.numeric
    if (value instanceof Uint8Array || value instanceof ArrayBuffer) return Oid.bytea
    if (value instanceof Date) return Oid.timestamptz
    if (BigDecimal.isBigDecimal(value)) return Oid.numeric
    if (Array.isArray(value)) return this.typedArrayOid(value)
    if (ArrayCodec.isBoundedArray(value) && Array.isArray(value.elements)) return this.typedArrayOid(value.elements)
    return 0
  }

  /**
   * The array type of an array whose elements are all typed parameters of one
   * type with an array type (decoded money amounts, `PgTypes.int4(x)`...), at any
   * depth, NULLs allowed; else 0. The first element that is neither decides
   * at once, so an array of plain values costs one look.
   */
  private typedArrayOid(value: ReadonlyArray<unknown>): number {
    let oid = 0
    const visit = (level: ReadonlyArray<unknown>): boolean => {
      for (const item of level) {
        if (item === null || item === undefined) continue
        if (Array.isArray(item)) {
          if (!visit(item)) return false
          continue
        }
        if (!Param.isTypedParam(item)) return false
        const own = this.parameterOid(item)
        if (own === 0 || (oid !== 0 && own !== oid)) return false
        oid = own
      }
      return true
    }
    if (!visit(value) || oid === 0) return 0
    return this.codecs.get(oid)?.arrayOid ?? 0
  }

  /**
   * The wire format to send parameter `value` in, given the type OID the
   * server expects (0 = unknown: the server infers).
   *
   * @since 0.1.0
   */
  parameterFormat(value: unknown, oid: number): 0 | 1 {
    if (Param.isNull(value)) return 0
    try {
      return this.plan(value, oid).format
    } catch {
      // The error surfaces, with its parameter index, from writeParameter.
      return 0
    }
  }

  /**
   * Writes the parameter's bytes (without the int32 length: the caller
   * back-patches it) in `format`. Throws `CodecError` naming the 1-based
   * parameter index; on failure the bytes written by this call are removed.
   *
   * **Details**
   *
   * Call it only for non-NULL values (`isNullParameter`). `format` must be
   * what `parameterFormat(value, oid)` returned.
   *
   * @since 0.1.0
   */
  writeParameter(w: Writer, value: unknown, oid: number, format: 0 | 1, index: number): void {
    const mark = w.mark()
    try {
      if (Param.isNull(value)) TypeCodec.fail("parameter", "NULL has no bytes (write length -1 instead)")
      // Read the shared plan before any codec runs (an array codec plans its elements).
      const { codec, value: planValue, format: planFormat, verbatim } = this.plan(value, oid)
      if (format === 1) {
        if (planFormat !== 1) {
          TypeCodec.fail(codec?.name ?? "parameter", `${TypeCodec.describe(planValue)} cannot be sent in binary`)
        }
        // A declared type without a codec takes raw bytes as its binary form.
        if (codec === undefined) w.bytes(planValue as Uint8Array)
        else codec.encodeBinary!(w, planValue)
        return
      }
      const text = verbatim
        ? TypeCodec.checkText(codec?.name ?? "parameter", planValue as string)
        : codec === undefined
        ? inferText(planValue)
        : codec.encodeText(planValue)
      w.string(text)
    } catch (e) {
      w.pos -= w.since(mark)
      throw parameterError(e, index, oid)
    }
  }

  /**
   * Encodes one parameter as fresh bytes (`null` for SQL NULL) with its
   * format: a convenience over `parameterFormat` + `writeParameter`.
   * Throws `CodecError`.
   *
   * @since 0.1.0
   */
  encodeParameter(value: unknown, oid: number, index = 1): { readonly format: 0 | 1; readonly bytes: Uint8Array | null } {
    const format = this.parameterFormat(value, oid)
    if (Param.isNull(value)) return { format, bytes: null }
    const w = scratch
    try {
      this.writeParameter(w, value, oid, format, index)
      return { format, bytes: w.flushCopy() }
    } finally {
      w.flush()
    }
  }

  /** Decides the codec, value and format of one non-NULL parameter (rules 2-5). Throws `CodecError`. */
  private plan(value: unknown, oid: number): Plan {
    if (Param.isTypedParam(value)) {
      const codec = value.oid !== 0
        ? this.codecs.get(value.oid)
        : value.typeName === undefined
        ? undefined
        : this.names.get(value.typeName)
      const inner = Array.isArray(value.value) ? withDimensions(value.value) : value.value
      if (codec === undefined) {
        if (value.oid === 0 && value.typeName === undefined) {
          return planned(undefined, inner, 0, typeof inner === "string")
        }
        return TypeCodec.fail("parameter", `unknown type ${value.typeName ?? value.oid}`)
      }
      if (oid !== 0 && oid !== codec.oid) {
        return planned(codec, inner, 0, false)
      }
      return planned(codec, inner, codec.formatFor(inner), false)
    }
    const codec = oid === 0 ? undefined : this.codecs.get(oid)
    if (codec !== undefined && Array.isArray(value)) value = withDimensions(value)
    if (codec === undefined) {
      if (oid !== 0 && (value instanceof Uint8Array || value instanceof ArrayBuffer)) {
        return planned(undefined, value instanceof ArrayBuffer ? new Uint8Array(value) : value, 1, false)
      }
      return planned(undefined, value, 0, typeof value === "string")
    }
    const format = codec.formatFor(value)
    if (typeof value === "string") return planned(codec, value, format, format === 0)
    return planned(codec, value, format, false)
  }
}

const scratch = new Writer(1024)

/**
 * A decoded multi-dimensional array of array-valued elements as a bounded
 * array of its dimensions (lower bounds 1), so the array codec writes every
 * dimension instead of taking the nested arrays for elements.
 */
const withDimensions = (value: ReadonlyArray<unknown>): unknown => {
  const dimensions = Param.rememberedDimensions(value)
  return dimensions > 1 ? ArrayCodec.bounded(value, new Array<number>(dimensions).fill(1)) : value
}

/** Turns any failure while encoding parameter `index` into a `CodecError` naming it. */
const parameterError = (e: unknown, index: number, oid: number): CodecError => {
  const detail = e instanceof CodecError || e instanceof ProtocolError || e instanceof Error ? e.message : String(e)
  return new CodecError({ message: `parameter $${index}: ${detail}`, parameter: index, oid })
}

/**
 * `true` for a parameter that is SQL NULL (see `Param.isNull`).
 *
 * @since 0.1.0
 */
export const isNullParameter = Param.isNull

/**
 * The registry of every built-in type with the default representations
 * (int8 as bigint, numeric as string, timestamps as Date).
 *
 * @since 0.1.0
 */
export const defaultRegistry: Registry = Registry.make()

/**
 * Adds column context to a decoding `CodecError` (the session knows the
 * column; the codec does not).
 *
 * @since 0.1.0
 */
export const withColumn = (error: CodecError, column: string, oid: number): CodecError =>
  new CodecError({ message: `column ${column}: ${error.message}`, column, oid })
