/**
 * The engine's own CPU per query, with few system calls: one client writes
 * 20,000 queries (a simple Query, or Parse/Bind/Describe/Execute/Sync) in
 * batches of 1,000 and reads the answers; the
 * process's CPU (user + system) over the run, divided by the queries, is
 * reported beside the same loop against a bare Node server that only frames
 * the queries and writes canned answers (the floor of any Node server: mostly
 * the system calls), once per query as PostgreSQL does, and once per chunk
 * read as the engine does when a client pipelines (it defers its answers while
 * the client's next message is already queued).
 *
 *   npm exec -- node bench/server/engine.ts
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as net from "node:net"
import * as PgServer from "../../src/server/PgServer.ts"

const QUERIES = Number(process.env.QUERIES ?? 20_000)
const BATCH = 1_000
const enc = new TextEncoder()

const frame = (type: number, body: Uint8Array) => {
  const out = new Uint8Array(5 + body.length)
  out[0] = type
  new DataView(out.buffer).setInt32(1, body.length + 4)
  out.set(body, 5)
  return out
}
const startup = (() => {
  const body = enc.encode("\0\0\0\0user\0bench\0\0")
  const out = new Uint8Array(4 + body.length)
  new DataView(out.buffer).setInt32(0, out.length)
  out.set(body, 4)
  new DataView(out.buffer).setInt32(4, 196608)
  return out
})()
const simpleQuery = frame(0x51, enc.encode("select 1\0"))
// Parse, Bind, Describe (portal), Execute, Sync of an unnamed statement: what pgbench -M extended sends.
const extendedQuery = new Uint8Array(Buffer.concat([
  frame(0x50, enc.encode("\0select 1\0\0\0")),
  frame(0x42, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0])),
  frame(0x44, enc.encode("P\0")),
  frame(0x45, new Uint8Array([0, 0, 0, 0, 0])),
  frame(0x53, new Uint8Array(0))
]))
const batchOf = (query: Uint8Array) => {
  const batch = new Uint8Array(query.length * BATCH)
  for (let i = 0; i < BATCH; i++) batch.set(query, i * query.length)
  return batch
}
let batch = batchOf(simpleQuery)

/** Sends every batch and counts ReadyForQuery ('Z') frames until all arrived. */
const drive = (port: number): Promise<void> =>
  new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1", noDelay: true })
    let ready = -1
    let sent = 0
    let pending = new Uint8Array(0)
    socket.on("data", (chunk: Buffer) => {
      const data = pending.length === 0 ? new Uint8Array(chunk) : Buffer.concat([pending, chunk])
      let at = 0
      while (data.length - at >= 5) {
        const length = new DataView(data.buffer, data.byteOffset).getInt32(at + 1)
        if (data.length - at < 1 + length) break
        if (data[at] === 0x5a) ready++
        at += 1 + length
      }
      pending = data.subarray(at)
      if (ready >= 0 && ready === sent && sent < QUERIES) {
        socket.write(batch)
        sent += BATCH
      }
      if (ready === QUERIES) {
        socket.destroy()
        resolve()
      }
    })
    socket.write(startup)
  })

const measure = async (name: string, port: number) => {
  await drive(port)
  const before = process.cpuUsage()
  const t0 = performance.now()
  await drive(port)
  const cpu = process.cpuUsage(before)
  const ms = performance.now() - t0
  console.log(`${name}: ${((cpu.user + cpu.system) / QUERIES).toFixed(1)} µs CPU per query (client included), ${ms.toFixed(0)} ms`)
}

// A bare server: frames the client's bytes and answers each Query with canned frames.
const canned = new Uint8Array([
  ...frame(0x54, new Uint8Array([0, 1, ...enc.encode("n\0"), 0, 0, 0, 0, 0, 0, 0, 0, 0, 23, 0, 4, 255, 255, 255, 255, 0, 0])),
  ...frame(0x44, new Uint8Array([0, 1, 0, 0, 0, 1, 0x31])),
  ...frame(0x43, enc.encode("SELECT 1\0")),
  ...frame(0x5a, enc.encode("I"))
])
const bareServer = (coalesce: boolean) => net.createServer({ noDelay: true }, (socket) => {
  let started = false
  let pending = new Uint8Array(0)
  socket.on("data", (chunk: Buffer) => {
    const data = pending.length === 0 ? new Uint8Array(chunk) : Buffer.concat([pending, chunk])
    let at = 0
    const out: Array<Uint8Array> = []
    if (!started) {
      at = new DataView(data.buffer, data.byteOffset).getInt32(0)
      started = true
      out.push(frame(0x52, new Uint8Array(4)), frame(0x5a, enc.encode("I")))
    }
    while (data.length - at >= 5) {
      const length = new DataView(data.buffer, data.byteOffset).getInt32(at + 1)
      if (data.length - at < 1 + length) break
      // One write per answered query, as PostgreSQL and the engine flush at every ReadyForQuery.
      if (data[at] === 0x51) out.push(canned)
      at += 1 + length
    }
    pending = data.subarray(at)
    if (coalesce) socket.write(Buffer.concat(out))
    else for (const bytes of out) socket.write(bytes)
  })
})
for (const coalesce of [false, true]) {
  const bare = bareServer(coalesce)
  await new Promise<void>((r) => bare.listen(0, "127.0.0.1", () => r()))
  await measure(`bare Node server, one write per ${coalesce ? "chunk read" : "query"}`, (bare.address() as net.AddressInfo).port)
  bare.close()
}

const one = [PgServer.field("n", "int4")]
const scope = Effect.runSync(Scope.make())
const server = await Effect.runPromise(Scope.provide(PgServer.serve({
  handler: {
    simple: () => Stream.make(PgServer.Outcome.rows(one, Stream.make([1]))),
    prepare: () =>
      Effect.succeed({
        paramTypes: [],
        fields: one,
        execute: () => Effect.succeed(PgServer.Outcome.rows(one, Stream.make([1])))
      })
  }
}), scope))
const port = server.address._tag === "Tcp" ? server.address.port : 0
await measure("PgServer, simple Query", port)
batch = batchOf(extendedQuery)
await measure("PgServer, Parse/Bind/Describe/Execute/Sync", port)
await Effect.runPromise(Scope.close(scope, Exit.void))
