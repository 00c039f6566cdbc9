/**
 * Regenerates the micro benchmark fixtures in `bench/fixtures/`.
 *
 * **What it does**
 *
 * - Starts the embedded PostgreSQL 18, opens one raw TCP connection and, for
 *   each fixture query, sends Parse, Bind (result format all-binary or
 *   all-text), Describe (portal), Execute and Sync. The exact bytes the server
 *   answers (ParseComplete, BindComplete, RowDescription, DataRow...,
 *   CommandComplete, ReadyForQuery) are written to `<name>.bin`.
 * - Copies the binary and text forms of every value of the value-type corpus
 *   (`test/fixtures/types/pg_values.json`, itself captured from PostgreSQL 18.4)
 *   into `types.json`.
 * - Writes `manifest.json`: for each stream its query, format, row count and
 *   byte size, and the server version.
 *
 * The queries are deterministic (see `bench/Data.ts`) and the session runs with
 * TimeZone UTC and DateStyle ISO, so the same server version produces the same
 * bytes. Run: `node bench/micro/generate.ts`.
 *
 * **What it does not do**
 *
 * No timing, and it does not go through the session engine: frames are written
 * with the protocol layer's writers and the reply is kept as raw bytes.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Frontend from "../../src/protocol/Frontend.ts"
import * as Startup from "../../src/protocol/Startup.ts"
import { Backend as Code } from "../../src/wire/Codes.ts"
import { Framer } from "../../src/wire/Framer.ts"
import { Writer } from "../../src/wire/Writer.ts"
import { startServer } from "../../test/support/EmbeddedPostgres.ts"
import { mixedRowsSql, wideJsonDocsSql, wideRowsSql } from "../Data.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const fixturesDir = path.join(here, "..", "fixtures")
const repoRoot = path.join(here, "..", "..")

/**
 * One captured reply stream.
 *
 * @since 0.1.0
 */
export interface StreamSpec {
  readonly name: string
  readonly sql: string
  readonly format: 0 | 1
  readonly rows: number
}

const STREAMS: ReadonlyArray<StreamSpec> = [
  { name: "mixed-binary", sql: mixedRowsSql(1000), format: 1, rows: 1000 },
  { name: "mixed-text", sql: mixedRowsSql(1000), format: 0, rows: 1000 },
  { name: "wide-binary", sql: wideRowsSql(200), format: 1, rows: 200 },
  { name: "wide-text", sql: wideRowsSql(200), format: 0, rows: 200 },
  { name: "nested-json-binary", sql: wideJsonDocsSql(20), format: 1, rows: 20 },
  { name: "nested-json-text", sql: wideJsonDocsSql(20), format: 0, rows: 20 },
  { name: "small-binary", sql: "select 1::int4 as n", format: 1, rows: 1 },
  { name: "small-text", sql: "select 1::int4 as n", format: 0, rows: 1 }
]

/** A raw protocol connection that collects everything up to the next ReadyForQuery. */
class Capture {
  private readonly socket: net.Socket
  private readonly framer = new Framer()
  private collected: Array<Uint8Array> = []
  private waiter: ((bytes: Uint8Array) => void) | undefined = undefined
  private failure: ((error: Error) => void) | undefined = undefined

  constructor(socket: net.Socket) {
    this.socket = socket
    socket.on("data", (chunk: Buffer) => {
      let ready = false
      let error: string | undefined
      this.framer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength), (type, buf, start, end) => {
        const frame = new Uint8Array(end - start + 5)
        frame[0] = type
        new DataView(frame.buffer).setInt32(1, end - start + 4)
        frame.set(buf.subarray(start, end), 5)
        this.collected.push(frame)
        if (type === Code.ErrorResponse) error = new TextDecoder().decode(buf.subarray(start, end))
        if (type === Code.ReadyForQuery) ready = true
      })
      if (error !== undefined) this.failure?.(new Error(`server error: ${error}`))
      else if (ready) {
        const all = Buffer.concat(this.collected)
        this.collected = []
        this.waiter?.(new Uint8Array(all.buffer, all.byteOffset, all.byteLength))
      }
    })
  }

  send(bytes: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.waiter = resolve
      this.failure = reject
      this.socket.write(bytes)
    })
  }

  close(): void {
    this.socket.end()
  }
}

const connect = (host: string, port: number): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ host, port }, () => resolve(socket))
    socket.once("error", reject)
  })

const main = async (): Promise<void> => {
  const server = await startServer({ name: "bench-fixtures", settings: { jit: false } })
  try {
    const { host, port, user, database, version } = server.info
    const capture = new Capture(await connect(host, port))
    const w = new Writer()
    Startup.writeStartupMessage(w, Startup.PROTOCOL_3_0, [
      { name: "user", value: user },
      { name: "database", value: database },
      { name: "client_encoding", value: "UTF8" },
      { name: "TimeZone", value: "UTC" },
      { name: "DateStyle", value: "ISO, MDY" }
    ])
    await capture.send(w.flushCopy())
    fs.mkdirSync(fixturesDir, { recursive: true })
    const manifest: Array<StreamSpec & { readonly bytes: number }> = []
    for (const spec of STREAMS) {
      Frontend.writeParse(w, "", spec.sql, [])
      Frontend.writeBind(w, "", "", [], [], [spec.format])
      Frontend.writeDescribe(w, "P", "")
      Frontend.writeExecute(w, "", 0)
      Frontend.writeSync(w)
      const reply = await capture.send(w.flushCopy())
      fs.writeFileSync(path.join(fixturesDir, `${spec.name}.bin`), reply)
      manifest.push({ ...spec, bytes: reply.length })
      console.log(`${spec.name}: ${reply.length} bytes`)
    }
    capture.close()

    const corpus = JSON.parse(
      fs.readFileSync(path.join(repoRoot, "test", "fixtures", "types", "pg_values.json"), "utf8")
    ) as { readonly cases: ReadonlyArray<{ label: string; oid: number; binary: string | null; text: string | null }> }
    const types = corpus.cases.map((c) => ({ label: c.label, oid: c.oid, binary: c.binary, text: c.text }))
    fs.writeFileSync(path.join(fixturesDir, "types.json"), JSON.stringify(types, null, 1) + "\n")
    console.log(`types.json: ${types.length} values`)

    fs.writeFileSync(
      path.join(fixturesDir, "manifest.json"),
      JSON.stringify({ server: `PostgreSQL ${version}`, streams: manifest }, null, 2) + "\n"
    )
  } finally {
    await server.stop()
  }
}

await main()
