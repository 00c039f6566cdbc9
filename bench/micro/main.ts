/**
 * The micro benchmarks (`npm run bench:micro`): no network, checked-in
 * fixtures only, every contender fed the same bytes in the same run.
 *
 * **What is measured**
 *
 * 1. Framing and message decode of whole replies (MB/s, rows/s): our Framer
 *    plus `Backend.readUnsafe` (a message object per frame, DataRow values as
 *    views), our Framer plus `readDataRowInto` (no object per row, as a row
 *    loop reads them), node-postgres's `pg-protocol` `Parser` (a message object
 *    per frame, DataRow fields as strings) and `@effect/sql-pg`'s parser. The
 *    issue's target: ours at least 1.5x pg-protocol's throughput.
 * 2. Full row materialisation (rows/s): our Framer plus `RowShape.readObject`
 *    (binary values, as the session asks for them; and the text stream, for
 *    the same bytes) against what node-postgres does per row: `pg-protocol`
 *    parse, then `Result.parseRow` with `pg-types`' text parsers.
 * 3. Encoding (ns/op): Parse, Bind with 2 and 10 parameters, and the frames of
 *    one cached-statement query (Bind, Execute, Sync), ours against
 *    `pg-protocol`'s `serialize` with node-postgres's `prepareValue`.
 * 4. Every type codec on the value corpus captured from PostgreSQL 18: decode
 *    (ns/op, and MB/s for the binary form), binary and text, with `pg-types`'
 *    text parser beside it; encode (ns/op) of the decoded value as a Bind
 *    parameter, in the format the codec picks for it.
 *
 * Results are printed and written to `bench/micro/RESULTS.md` and
 * `bench/micro/results.json`. Set `MICRO_QUICK=1` for a short run (fewer
 * samples, useful while editing), `MICRO_ONLY=<sections>` (comma-separated:
 * `decode`, `rows`, `encode`, `types`) to run only those and print them
 * without writing the results files. Nothing here asserts.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as SqlPgProtocol from "@effect/sql-pg/PgProtocol"
import { serialize } from "pg-protocol"
import { Parser } from "pg-protocol/dist/parser.js"
import { getTypeParser } from "pg-types"
import PgResult from "pg/lib/result.js"
import pgUtils from "pg/lib/utils.js"
import * as Backend from "../../src/protocol/Backend.ts"
import * as Frontend from "../../src/protocol/Frontend.ts"
import { writeBind } from "../../src/session/Requests.ts"
import { type Row, RowShape, toFields } from "../../src/session/Result.ts"
import { defaultRegistry } from "../../src/types/Registry.ts"
import { Backend as Code } from "../../src/wire/Codes.ts"
import { Framer } from "../../src/wire/Framer.ts"
import { Reader } from "../../src/wire/Reader.ts"
import { Writer } from "../../src/wire/Writer.ts"
import { describeMachine, fmt, markdownTable, textTable } from "../Machine.ts"
import { type ByteStream, loadReply, manifest, replyStream, rowStream, typeValues } from "./Fixtures.ts"
import { collectsBetweenSamples, compareOps, comparePasses, sinkValue } from "./Harness.ts"

const quick = process.env["MICRO_QUICK"] === "1"
const passOptions = quick ? { warmup: 1, minSamples: 3, maxSamples: 5, minMillis: 200 } : {}
const opOptions = quick ? { batchMillis: 3, samples: 5 } : {}
const here = path.dirname(fileURLToPath(import.meta.url))
const only = process.env["MICRO_ONLY"]?.split(",").map((s) => s.trim())
const runs = (section: "decode" | "rows" | "encode" | "types"): boolean => only === undefined || only.includes(section)

// ---------------------------------------------------------------------------
// The contenders: one full pass over a stream each, returning a checksum
// ---------------------------------------------------------------------------

const oursMessages = (stream: ByteStream): number => {
  const framer = new Framer()
  const reader = new Reader()
  let n = 0
  const onFrame = (type: number, buf: Uint8Array, start: number, end: number): void => {
    const message = Backend.readUnsafe(type, buf, start, end, reader)
    n += message._tag === "DataRow" ? message.values.length : 1
  }
  for (const chunk of stream.chunks) framer.push(chunk, onFrame)
  framer.finish()
  return n
}

const oursRowViews = (stream: ByteStream): number => {
  const framer = new Framer()
  const reader = new Reader()
  const values: Array<Uint8Array | null> = []
  let n = 0
  const onFrame = (type: number, buf: Uint8Array, start: number, end: number): void => {
    if (type === Code.DataRow) {
      n += Backend.readDataRowInto(reader.reset(buf, start, end, "DataRow"), values)
    } else {
      Backend.readUnsafe(type, buf, start, end, reader)
      n++
    }
  }
  for (const chunk of stream.chunks) framer.push(chunk, onFrame)
  framer.finish()
  return n
}

interface PgMessage {
  readonly name: string
  readonly fields?: ReadonlyArray<unknown>
}

const pgProtocolMessages = (stream: ByteStream): number => {
  const parser = new Parser()
  let n = 0
  const onMessage = (message: PgMessage): void => {
    n += message.name === "dataRow" ? message.fields!.length : 1
  }
  for (const chunk of stream.chunks) parser.parse(chunk, onMessage as never)
  return n
}

const sqlPgMessages = (stream: ByteStream): number => {
  const parser = SqlPgProtocol.makeParser()
  let n = 0
  const onMessage = (message: SqlPgProtocol.BackendMessage): void => {
    n += message._tag === "DataRow" ? message.values.length : 1
  }
  for (const chunk of stream.chunks) parser.pushEach(chunk, onMessage)
  return n
}

const oursRows = (stream: ByteStream): number => {
  const framer = new Framer()
  const reader = new Reader()
  const rows: Array<Row> = []
  let shape: RowShape | undefined
  const onFrame = (type: number, buf: Uint8Array, start: number, end: number): void => {
    if (type === Code.DataRow) {
      rows.push(shape!.readObject(buf, start, end))
      return
    }
    const message = Backend.readUnsafe(type, buf, start, end, reader)
    if (message._tag === "RowDescription") shape = new RowShape(toFields(message.fields), defaultRegistry)
  }
  for (const chunk of stream.chunks) framer.push(chunk, onFrame)
  framer.finish()
  return rows.length
}

const nodePostgresRows = (stream: ByteStream): number => {
  const parser = new Parser()
  const result = new PgResult()
  // As node-postgres's Query does: fields from RowDescription, then parseRow + addRow per DataRow.
  const onMessage = (message: PgMessage): void => {
    if (message.name === "dataRow") result.addRow(result.parseRow(message.fields as ReadonlyArray<string | null>))
    else if (message.name === "rowDescription") result.addFields(message.fields!)
  }
  for (const chunk of stream.chunks) parser.parse(chunk, onMessage as never)
  return result.rows.length
}

// ---------------------------------------------------------------------------
// 1 + 2: streams
// ---------------------------------------------------------------------------

interface StreamResult {
  readonly section: string
  readonly stream: string
  readonly contender: string
  readonly bytes: number
  readonly rows: number
  readonly millis: number
  readonly mbPerSecond: number
  readonly rowsPerSecond: number
  /** Throughput relative to the section's baseline contender (pg-protocol or node-postgres). */
  readonly ratio: number | undefined
}

const streamResults: Array<StreamResult> = []

const measureStreams = (
  section: string,
  cases: ReadonlyArray<{
    readonly stream: ByteStream
    readonly contenders: ReadonlyArray<readonly [string, (s: ByteStream) => number, ByteStream?]>
    readonly baseline: string
  }>
): void => {
  for (const { stream, contenders, baseline } of cases) {
    const inputs = contenders.map(([, , own]) => own ?? stream)
    const millis = comparePasses(contenders.map(([, run], i) => () => run(inputs[i]!)), passOptions)
    const measured = contenders.map(([name], i) => ({ name, input: inputs[i]!, millis: millis[i]! }))
    const base = measured.find((m) => m.name === baseline)
    for (const m of measured) {
      streamResults.push({
        section,
        stream: m.input.label,
        contender: m.name,
        bytes: m.input.bytes,
        rows: m.input.rows,
        millis: m.millis,
        mbPerSecond: m.input.bytes / 1e6 / (m.millis / 1000),
        rowsPerSecond: m.input.rows / (m.millis / 1000),
        ratio: base === undefined ? undefined : base.millis / m.millis
      })
    }
    console.log(`${section}: ${stream.label} done`)
  }
}

const mixedBinary = loadReply("mixed-binary")
const mixedText = loadReply("mixed-text")
const wideBinary = loadReply("wide-binary")
const wideText = loadReply("wide-text")
const smallBinary = loadReply("small-binary")
const smallText = loadReply("small-text")
const nestedJsonBinary = loadReply("nested-json-binary")
const nestedJsonText = loadReply("nested-json-text")

const ROWS = 100_000
const streams = {
  mixedText: rowStream(mixedText, ROWS),
  mixedBinary: rowStream(mixedBinary, ROWS),
  wideText: rowStream(wideText, ROWS),
  wideBinary: rowStream(wideBinary, ROWS),
  nestedJsonText: rowStream(nestedJsonText, 2_000),
  nestedJsonBinary: rowStream(nestedJsonBinary, 2_000),
  smallText: replyStream(smallText, 20_000),
  smallBinary: replyStream(smallBinary, 20_000)
}

const PG_PROTOCOL = "pg-protocol Parser"
const decodeContenders = (
  binary: ByteStream
): ReadonlyArray<readonly [string, (s: ByteStream) => number, ByteStream?]> => [
  [PG_PROTOCOL, pgProtocolMessages],
  ["effect-pgwire Framer + Backend.readUnsafe", oursMessages],
  ["effect-pgwire Framer + readDataRowInto", oursRowViews],
  ["@effect/sql-pg parser", sqlPgMessages],
  ["effect-pgwire Framer + Backend.readUnsafe (binary stream)", oursMessages, binary]
]

measureStreams("decode", !runs("decode") ? [] : [
  { stream: streams.mixedText, contenders: decodeContenders(streams.mixedBinary), baseline: PG_PROTOCOL },
  { stream: streams.wideText, contenders: decodeContenders(streams.wideBinary), baseline: PG_PROTOCOL },
  { stream: streams.smallText, contenders: decodeContenders(streams.smallBinary), baseline: PG_PROTOCOL }
])

const NODE_POSTGRES_ROWS = "node-postgres: pg-protocol + Result.parseRow (pg-types, text)"
const rowContenders = (
  binary: ByteStream
): ReadonlyArray<readonly [string, (s: ByteStream) => number, ByteStream?]> => [
  [NODE_POSTGRES_ROWS, nodePostgresRows],
  ["effect-pgwire: Framer + RowShape.readObject (binary)", oursRows, binary],
  ["effect-pgwire: Framer + RowShape.readObject (text)", oursRows]
]

measureStreams("rows", !runs("rows") ? [] : [
  { stream: streams.mixedText, contenders: rowContenders(streams.mixedBinary), baseline: NODE_POSTGRES_ROWS },
  { stream: streams.wideText, contenders: rowContenders(streams.wideBinary), baseline: NODE_POSTGRES_ROWS },
  // Issue 22's nested jsonb documents (~10 KB each): UTF-8 decode, the scan for integers beyond 2^53, JSON.parse.
  { stream: streams.nestedJsonText, contenders: rowContenders(streams.nestedJsonBinary), baseline: NODE_POSTGRES_ROWS }
])

// ---------------------------------------------------------------------------
// 3: encoding
// ---------------------------------------------------------------------------

interface EncodeResult {
  readonly operation: string
  readonly ours: number
  readonly pgProtocol: number
  readonly ratio: number
}

const encodeResults: Array<EncodeResult> = []
const w = new Writer()
const PARSE_SQL = "select id, name, created_at from accounts where id = $1 and name = $2"
const TEN_TYPES = [23, 20, 25, 701, 16, 1184, 2950, 3802, 1700, 25]
const tenValues = (): ReadonlyArray<unknown> => [
  42,
  1234567890123,
  "hello world",
  3.14159,
  true,
  new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
  "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
  { a: 1, b: [1, 2, 3], c: "text" },
  "12345.6789",
  null
]

const encodeCases: ReadonlyArray<{ readonly name: string; readonly ours: () => number; readonly pg: () => number }> = [
  {
    name: "Parse (named, 2 parameter types)",
    ours: () => {
      Frontend.writeParse(w, "s1", PARSE_SQL, [23, 25])
      return w.flush().length
    },
    pg: () => serialize.parse({ name: "s1", text: PARSE_SQL, types: [23, 25] }).length
  },
  {
    name: "Bind (int4, text)",
    ours: () => {
      writeBind(w, defaultRegistry, "", "s1", [42, "hello"], [23, 25], [])
      return w.flush().length
    },
    pg: () => serialize.bind({ statement: "s1", values: [42, "hello"], valueMapper: pgUtils.prepareValue }).length
  },
  {
    name: "Bind (10 mixed parameters)",
    ours: () => {
      writeBind(w, defaultRegistry, "", "s1", tenValues(), TEN_TYPES, [])
      return w.flush().length
    },
    pg: () => serialize.bind({ statement: "s1", values: tenValues() as Array<unknown>, valueMapper: pgUtils.prepareValue }).length
  },
  {
    name: "Bind + Execute + Sync (one cached-statement query)",
    ours: () => {
      writeBind(w, defaultRegistry, "", "s1", [42, "hello"], [23, 25], [])
      Frontend.writeExecute(w, "", 0)
      Frontend.writeSync(w)
      return w.flush().length
    },
    pg: () =>
      serialize.bind({ statement: "s1", values: [42, "hello"], valueMapper: pgUtils.prepareValue }).length +
      serialize.execute({ portal: "", rows: 0 }).length + serialize.sync().length
  }
]

for (const c of runs("encode") ? encodeCases : []) {
  const [ours, pg] = compareOps([c.ours, c.pg], opOptions) as [number, number]
  encodeResults.push({ operation: c.name, ours, pgProtocol: pg, ratio: pg / ours })
}
console.log("encode done")

// ---------------------------------------------------------------------------
// 4: type codecs
// ---------------------------------------------------------------------------

interface TypeResult {
  readonly label: string
  readonly oid: number
  readonly type: string
  readonly binaryNs: number | undefined
  readonly textNs: number | undefined
  readonly pgTypesTextNs: number | undefined
  /** Size of the binary form (the text form's when there is none). */
  readonly bytes: number
  /** Encoding the decoded value as a Bind parameter, in the format the codec picks for it. */
  readonly encodeNs: number | undefined
  readonly encodeFormat: "binary" | "text" | undefined
}

const typeResults: Array<TypeResult> = []
const skippedTypes: Array<string> = []
const typeOptions = quick ? { batchMillis: 1, samples: 3 } : { batchMillis: 4, samples: 5 }
const utf8 = new TextEncoder()

for (const value of runs("types") ? typeValues() : []) {
  const codec = defaultRegistry.get(value.oid)
  if (codec === undefined) {
    skippedTypes.push(`${value.label} (oid ${value.oid}: a user-defined or extension type, built from the catalog at run time)`)
    continue
  }
  // Each form is checked once before timing: a value its decoder rejects is shown as "—".
  const works = (decode: (b: Uint8Array, s: number, e: number) => unknown, bytes: Uint8Array): boolean => {
    try {
      decode(bytes, 0, bytes.length)
      return true
    } catch {
      return false
    }
  }
  const contenders: Array<() => number> = []
  const slot = (op: (() => number) | undefined): number | undefined => {
    if (op === undefined) return undefined
    contenders.push(op)
    return contenders.length - 1
  }
  const binaryBytes = value.binary === null ? undefined : Buffer.from(value.binary, "hex")
  const decodeBinary = codec.decodeBinary
  const binarySlot = slot(
    binaryBytes === undefined || decodeBinary === undefined || !works(decodeBinary, binaryBytes)
      ? undefined
      : () => (decodeBinary(binaryBytes, 0, binaryBytes.length) === undefined ? 0 : 1)
  )
  const textBytes = value.text === null ? undefined : utf8.encode(value.text)
  const textSlot = slot(
    textBytes === undefined || !works(codec.decodeText, textBytes)
      ? undefined
      : () => (codec.decodeText(textBytes, 0, textBytes.length) === undefined ? 0 : 1)
  )
  const pgTypesInput = value.text
  const pgTypesParse = getTypeParser(value.oid, "text") as (s: string) => unknown
  const pgTypesSlot = slot(pgTypesInput === null ? undefined : () => (pgTypesParse(pgTypesInput) === undefined ? 0 : 1))
  // Encoding starts from the decoded value (the binary form's, else the text form's) and does what a Bind
  // does with it as a parameter: the codec picks the format for the value (strings go as text), and the
  // bytes are appended to one reused Writer and dropped again (no allocation by the writer).
  const decoded: { readonly value: unknown } | undefined = binarySlot !== undefined
    ? { value: decodeBinary!(binaryBytes!, 0, binaryBytes!.length) }
    : textSlot !== undefined
    ? { value: codec.decodeText(textBytes!, 0, textBytes!.length) }
    : undefined
  const encodeBinary = codec.encodeBinary
  const asBinary = decoded !== undefined && encodeBinary !== undefined && codec.formatFor(decoded.value) === 1
  const writer = new Writer()
  const encodeOnce = (v: unknown): number => {
    const mark = writer.mark()
    if (asBinary) encodeBinary!(writer, v)
    else writer.string(codec.encodeText(v))
    const n = writer.since(mark)
    writer.truncate(mark)
    return n
  }
  let encodable = decoded !== undefined
  try {
    if (decoded !== undefined) encodeOnce(decoded.value)
  } catch {
    encodable = false
  }
  const encodeSlot = slot(encodable ? () => encodeOnce(decoded!.value) : undefined)
  const times = compareOps(contenders, typeOptions)
  const at = (i: number | undefined): number | undefined => (i === undefined ? undefined : times[i])
  typeResults.push({
    label: value.label,
    oid: value.oid,
    type: codec.name,
    binaryNs: at(binarySlot),
    textNs: at(textSlot),
    pgTypesTextNs: at(pgTypesSlot),
    bytes: binaryBytes?.length ?? textBytes?.length ?? 0,
    encodeNs: at(encodeSlot),
    encodeFormat: encodable ? (asBinary ? "binary" : "text") : undefined
  })
}
console.log("types done")

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

const machine = describeMachine()
const ratioText = (r: number | undefined): string => (r === undefined ? "" : `${fmt(r)}x`)
const streamRows = (section: string) =>
  streamResults
    .filter((r) => r.section === section)
    .map((r) => [r.stream, r.contender, fmt(r.millis), fmt(r.mbPerSecond), fmt(r.rowsPerSecond / 1e6) + "M", ratioText(r.ratio)])
const streamHeader = ["stream", "contender", "ms/pass", "MB/s", "rows/s", "vs baseline"]
const encodeRows = encodeResults.map((r) => [r.operation, fmt(r.ours), fmt(r.pgProtocol), `${fmt(r.ratio)}x`])
const encodeHeader = ["operation", "effect-pgwire ns/op", "pg-protocol ns/op", "speed-up"]
const ns = (v: number | undefined) => (v === undefined ? "—" : fmt(v))
/** Bytes per nanosecond is GB/s: times 1000 for MB/s. */
const mbPerSecond = (bytes: number, nanos: number | undefined) => (nanos === undefined ? "—" : fmt((bytes / nanos) * 1000))
const typeRows = typeResults.map((r) => [
  r.label,
  r.type,
  String(r.bytes),
  ns(r.binaryNs),
  mbPerSecond(r.bytes, r.binaryNs),
  ns(r.textNs),
  ns(r.pgTypesTextNs),
  ns(r.encodeNs),
  r.encodeFormat ?? "—"
])
const typeHeader = [
  "value",
  "type",
  "bytes",
  "decode binary ns/op",
  "decode binary MB/s",
  "decode text ns/op",
  "pg-types text ns/op",
  "encode ns/op",
  "sent as"
]

console.log("\nFraming + message decode (baseline: pg-protocol on the same text-format bytes)\n")
console.log(textTable(streamHeader, streamRows("decode")))
console.log("\nFull row materialisation (baseline: node-postgres's per-row work)\n")
console.log(textTable(streamHeader, streamRows("rows")))
console.log("\nEncoding\n")
console.log(textTable(encodeHeader, encodeRows))
console.log(`\nType codecs: ${typeResults.length} values measured, ${skippedTypes.length} skipped (see RESULTS.md)`)
console.log(`(checksum ${sinkValue()}${collectsBetweenSamples ? "" : "; run with --expose-gc to collect between samples"})`)

const fixtures = manifest()
const markdown = `# Micro benchmark results

Generated by \`npm run bench:micro\` (\`bench/micro/main.ts\`) on checked-in fixtures captured from
${fixtures.server} (\`bench/fixtures/\`, regenerated by \`node bench/micro/generate.ts\`). No network.
Every contender gets the same bytes, cut into ${65536 / 1024} KiB chunks, in the same process and run.
Contenders are sampled in turn (interleaved), after a warm-up each${collectsBetweenSamples ? ", with a full GC before every sample" : ""};
each figure is the median sample. The machine is shared: compare figures within a table, not across runs.${quick ? " **Quick run (MICRO_QUICK=1): fewer samples.**" : ""}

- Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}
- Node ${machine.node}; date ${machine.date}

## Framing + message decode

The baseline is node-postgres's \`pg-protocol\` \`Parser\` on the text-format reply (it has no binary
mode; it turns every DataRow field into a string). Ours: \`Framer\` + \`Backend.readUnsafe\` builds a
message object per frame with DataRow values as views into the chunk; \`Framer\` + \`readDataRowInto\`
reads a DataRow's values into a reused array (what a row loop needs). The last row of each group is ours
on the binary-format reply of the same query (different bytes: shown for scale, ratio against the
text baseline). Issue 2's target: **at least 1.5x pg-protocol's throughput**.

${markdownTable(streamHeader, streamRows("decode"))}

## Full row materialisation

Rows as objects keyed by column name, every value decoded. node-postgres: \`pg-protocol\` parse, then
\`Result.parseRow\` with \`pg-types\`' text parsers (int8 and numeric stay strings, timestamptz becomes a
Date, jsonb is parsed). Ours: \`RowShape.readObject\` (int8 becomes a bigint, numeric an exact string,
timestamptz a Date, jsonb parsed) on the binary reply, as the session requests it, and on the text reply.

${markdownTable(streamHeader, streamRows("rows"))}

## Encoding

node-postgres's values go through its \`prepareValue\` (as its \`Query\` does) inside the timed loop; ours
are encoded straight into the frame by the type registry (\`writeBind\`). Parameter types: int4, int8,
text, float8, bool, timestamptz, uuid, jsonb, numeric, text (NULL).

${markdownTable(encodeHeader, encodeRows)}

## Type codecs

For every value of the type corpus (captured from ${fixtures.server}, see \`bench/fixtures/README.md\`):
the size of its binary form ("bytes"; the text form's for a type without one), the time to decode one
value from its binary and text bytes (and the binary decode in MB/s), and the time to encode the decoded
value again as a Bind parameter, appended to a reused \`Writer\`, in the format the codec picks for that
value ("sent as": a value that decodes to a string, such as a date, numeric or inet, goes back as its
text, the way every string parameter is sent). "—": no such form (a type without a binary decoder, or a
value the codec rejects by design). \`pg-types\` is node-postgres's text parser for the same OID (for
an OID it does not know it returns the string unchanged); it starts from a JavaScript string that
pg-protocol has already decoded from UTF-8, while ours start from the bytes.

${markdownTable(typeHeader, typeRows)}

Skipped (${skippedTypes.length}): ${skippedTypes.join("; ") || "none"}.
`

if (only === undefined) {
  fs.writeFileSync(path.join(here, "RESULTS.md"), markdown)
  fs.writeFileSync(
    path.join(here, "results.json"),
    JSON.stringify({ machine, quick, fixtures: fixtures.server, streams: streamResults, encode: encodeResults, types: typeResults, skippedTypes }, null, 2) + "\n"
  )
  console.log(`\nwrote ${path.join("bench", "micro", "RESULTS.md")} and results.json`)
} else console.log(`\nMICRO_ONLY=${only.join(",")}: bench/micro/RESULTS.md and results.json left as they are`)
