/**
 * Loads the checked-in micro benchmark fixtures (`bench/fixtures/`) and builds
 * the byte streams the benchmarks feed to each parser.
 *
 * A fixture is one reply captured from PostgreSQL 18 (see `generate.ts`). To
 * reach a realistic volume without checking in megabytes, a stream repeats
 * the fixture's DataRows between its header frames (ParseComplete,
 * BindComplete, RowDescription) and its trailer (CommandComplete,
 * ReadyForQuery), or repeats a whole small reply. The stream is then cut into
 * chunks of a socket read's size, identical for every parser.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const fixturesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures")

/** The size of the chunks a stream is cut into: what a TCP socket read typically yields on Linux. */
export const CHUNK_SIZE = 65536

/**
 * One captured reply, split into frames.
 *
 * @since 0.1.0
 */
export interface Reply {
  readonly name: string
  readonly sql: string
  readonly format: 0 | 1
  /** Whole frames (type byte, length, body) before the first DataRow. */
  readonly header: ReadonlyArray<Buffer>
  readonly dataRows: ReadonlyArray<Buffer>
  /** Whole frames after the last DataRow. */
  readonly trailer: ReadonlyArray<Buffer>
}

/**
 * A stream built from a reply.
 *
 * @since 0.1.0
 */
export interface ByteStream {
  readonly label: string
  readonly bytes: number
  readonly rows: number
  readonly chunks: ReadonlyArray<Buffer>
}

interface ManifestEntry {
  readonly name: string
  readonly sql: string
  readonly format: 0 | 1
  readonly rows: number
  readonly bytes: number
}

/**
 * The fixtures' manifest (server version and the queries).
 *
 * @since 0.1.0
 */
export const manifest = (): { readonly server: string; readonly streams: ReadonlyArray<ManifestEntry> } =>
  JSON.parse(fs.readFileSync(path.join(fixturesDir, "manifest.json"), "utf8"))

const splitFrames = (bytes: Buffer): Array<Buffer> => {
  const frames: Array<Buffer> = []
  let pos = 0
  while (pos < bytes.length) {
    const length = bytes.readInt32BE(pos + 1)
    frames.push(bytes.subarray(pos, pos + 1 + length))
    pos += 1 + length
  }
  return frames
}

/**
 * Loads one reply by fixture name (`mixed-binary`, `wide-text`, ...).
 *
 * @since 0.1.0
 */
export const loadReply = (name: string): Reply => {
  const entry = manifest().streams.find((s) => s.name === name)
  if (entry === undefined) throw new Error(`no fixture named ${name}`)
  const frames = splitFrames(fs.readFileSync(path.join(fixturesDir, `${name}.bin`)))
  const first = frames.findIndex((f) => f[0] === 0x44)
  const last = frames.length - 1 - [...frames].reverse().findIndex((f) => f[0] === 0x44)
  return {
    name,
    sql: entry.sql,
    format: entry.format,
    header: frames.slice(0, first),
    dataRows: frames.slice(first, last + 1),
    trailer: frames.slice(last + 1)
  }
}

const chunk = (all: Buffer): Array<Buffer> => {
  const out: Array<Buffer> = []
  for (let pos = 0; pos < all.length; pos += CHUNK_SIZE) out.push(all.subarray(pos, Math.min(all.length, pos + CHUNK_SIZE)))
  return out
}

/**
 * One result of `rows` rows: the reply's header, its DataRows repeated, its trailer.
 *
 * @since 0.1.0
 */
export const rowStream = (reply: Reply, rows: number): ByteStream => {
  const frames: Array<Buffer> = [...reply.header]
  for (let i = 0; i < rows; i++) frames.push(reply.dataRows[i % reply.dataRows.length]!)
  frames.push(...reply.trailer)
  const all = Buffer.concat(frames)
  return { label: `${reply.name} × ${rows} rows`, bytes: all.length, rows, chunks: chunk(all) }
}

/**
 * `times` whole replies back to back (many small results, as pipelined small
 * queries produce).
 *
 * @since 0.1.0
 */
export const replyStream = (reply: Reply, times: number): ByteStream => {
  const one = Buffer.concat([...reply.header, ...reply.dataRows, ...reply.trailer])
  const all = Buffer.concat(Array.from({ length: times }, () => one))
  return {
    label: `${reply.name} × ${times} replies`,
    bytes: all.length,
    rows: times * reply.dataRows.length,
    chunks: chunk(all)
  }
}

/**
 * One value of the type corpus.
 *
 * @since 0.1.0
 */
export interface TypeValue {
  readonly label: string
  readonly oid: number
  readonly binary: string | null
  readonly text: string | null
}

/**
 * The type corpus: binary and text forms of values of every built-in type.
 *
 * @since 0.1.0
 */
export const typeValues = (): ReadonlyArray<TypeValue> =>
  JSON.parse(fs.readFileSync(path.join(fixturesDir, "types.json"), "utf8"))
