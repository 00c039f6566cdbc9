/**
 * A loopback TCP proxy between a client and a real server that misbehaves on
 * demand, as a network or a middlebox would: the faults a scripted server
 * cannot show on a real PostgreSQL.
 *
 * - `latency`: every chunk is held this long, per direction.
 * - `pieces`: every chunk is cut into pieces of this many bytes, each written
 *   on its own turn of the event loop.
 * - `blackhole`: from now on nothing is forwarded in either direction, new
 *   connections included; the sockets stay open (a stalled path, a dead NAT
 *   entry). `restore` forwards again (what was swallowed stays lost).
 * - `fault`: one scripted fault on the next connections: reset or close at
 *   byte N of a direction, or at the k-th message of a type (optionally only a
 *   message whose body matches); flip one byte inside the k-th message of a
 *   type; add to the length of the k-th message of a type (the bytes it
 *   promises never come); or black-hole that connection from the k-th
 *   message of a type on (the other connections go on).
 * - `counters`: connections accepted, frames by direction and type, CancelRequests.
 *
 * Frames are followed in clear only: after an SSLRequest answered 'S', a
 * connection is forwarded as raw bytes (byte-count faults still apply).
 */
import * as Effect from "effect/Effect"
import { Buffer } from "node:buffer"
import * as Net from "node:net"
import type * as Scope from "effect/Scope"

/** Client to server ("in") or server to client ("out"). */
export type Direction = "toServer" | "toClient"

/** A message kind: its type byte as a character ("D" for DataRow), or "startup" for the untyped first frames. */
export type MessageType = string

/** One scripted fault. `k` counts from 1, per connection. */
export type Fault =
  | { readonly _tag: "AtByte"; readonly direction: Direction; readonly byte: number; readonly how: "reset" | "close" }
  | {
    readonly _tag: "AtMessage"
    readonly direction: Direction
    readonly type: MessageType
    readonly k: number
    readonly how: "reset" | "close" | "blackhole"
    /** Only messages whose body contains this text count. */
    readonly matching?: string | undefined
  }
  | {
    readonly _tag: "Corrupt"
    readonly direction: Direction
    readonly type: MessageType
    readonly k: number
    /** The byte of the body to flip (all bits), counted from the body's first byte. */
    readonly offset: number
  }
  | { readonly _tag: "GrowLength"; readonly direction: Direction; readonly type: MessageType; readonly k: number; readonly by: number }

/** What the proxy saw. */
export interface Counters {
  readonly accepted: number
  /** Frames per direction and type ("startup" for untyped frames other than CancelRequest). */
  readonly frames: Record<Direction, Record<string, number>>
  readonly cancelRequests: number
  /** Faults that fired. */
  readonly faultsFired: number
}

/** Options of `make`. */
export interface ProxyOptions {
  readonly latency?: { readonly toServer?: number; readonly toClient?: number } | undefined
  readonly pieces?: number | undefined
  /** Where to forward. Default 127.0.0.1. */
  readonly host?: string | undefined
  /** Forward raw bytes without following frames (protocol 2.0 messages carry no length); byte faults still apply. */
  readonly raw?: boolean | undefined
}

/** A running proxy. */
export interface FaultProxy {
  readonly port: number
  /** From now on nothing is forwarded in either direction; the sockets stay open. */
  readonly blackhole: Effect.Effect<void>
  /** Forwards again. */
  readonly restore: Effect.Effect<void>
  /** Arms a fault for every connection from now on (counting from each connection's start). */
  readonly fault: (fault: Fault | undefined) => Effect.Effect<void>
  /** Resets every open connection now. */
  readonly resetAll: Effect.Effect<void>
  /** New connections go to this port from now on (a server restarted elsewhere). */
  readonly retarget: (port: number) => Effect.Effect<void>
  /** Connections accepted so far. */
  readonly accepted: () => number
  readonly counters: () => Counters
}

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102

/** One direction of one connection: follows frames and applies the fault. */
class Pipe {
  private buffer: Buffer = Buffer.alloc(0)
  /** Untyped frames expected next (the client's start-up), single answer bytes expected (the server's S/N/G). */
  untyped = 0
  singleBytes = 0
  raw = false
  bytes = 0
  private readonly seen = new Map<string, number>()
  private chain: Promise<void> = Promise.resolve()

  readonly direction: Direction
  readonly out: Net.Socket
  readonly state: ProxyState
  readonly conn: ConnState

  constructor(direction: Direction, out: Net.Socket, state: ProxyState, conn: ConnState) {
    this.direction = direction
    this.out = out
    this.state = state
    this.conn = conn
  }

  push(chunk: Buffer): void {
    this.take(chunk)
    this.flush()
  }

  private take(chunk: Buffer): void {
    if (this.state.holes || this.conn.holed || this.conn.dead) return
    const fault = this.state.currentFault
    if (fault?._tag === "AtByte" && fault.direction === this.direction) {
      const left = fault.byte - this.bytes
      if (left <= chunk.length) {
        this.emit(chunk.subarray(0, Math.max(0, left)))
        this.bytes += Math.max(0, left)
        this.state.fired++
        this.flush()
        return this.conn.kill(fault.how)
      }
    }
    this.bytes += chunk.length
    if (this.raw) return this.emit(chunk)
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    while (!this.raw && !this.conn.dead && !this.state.holes && !this.conn.holed) {
      const frame = this.nextFrame()
      if (frame === undefined) break
      this.onFrame(frame.type, frame.bytes)
    }
    if (this.raw && this.buffer.length > 0) {
      const rest = this.buffer
      this.buffer = Buffer.alloc(0)
      this.emit(rest)
    }
  }

  private nextFrame(): { type: string; bytes: Buffer } | undefined {
    const b = this.buffer
    if (this.singleBytes > 0) {
      if (b.length < 1) return undefined
      this.singleBytes--
      const answer = String.fromCharCode(b[0]!)
      this.buffer = b.subarray(1)
      // TLS (or GSSAPI) follows: frames can no longer be read.
      if (answer === "S" || answer === "G") {
        this.raw = true
        this.conn.other(this).raw = true
      }
      return { type: `answer:${answer}`, bytes: b.subarray(0, 1) }
    }
    if (this.untyped > 0) {
      if (b.length < 8) return undefined
      const length = b.readInt32BE(0)
      if (b.length < length) return undefined
      const code = b.readInt32BE(4)
      this.untyped--
      this.buffer = b.subarray(length)
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        this.untyped++
        this.conn.other(this).singleBytes++
      }
      return { type: code === CANCEL_REQUEST ? "cancel" : "startup", bytes: b.subarray(0, length) }
    }
    if (b.length < 5) return undefined
    const length = b.readInt32BE(1)
    if (b.length < 1 + length) return undefined
    this.buffer = b.subarray(1 + length)
    return { type: String.fromCharCode(b[0]!), bytes: Buffer.from(b.subarray(0, 1 + length)) }
  }

  private onFrame(type: string, bytes: Buffer): void {
    if (type === "cancel") this.state.cancels++
    const counts = this.state.frames[this.direction]
    counts[type] = (counts[type] ?? 0) + 1
    const fault = this.state.currentFault
    if (fault !== undefined && fault._tag !== "AtByte" && fault.direction === this.direction && fault.type === type) {
      const bodyStart = type === "startup" || type === "cancel" ? 4 : 5
      const matching = fault._tag === "AtMessage" ? fault.matching : undefined
      if (matching === undefined || bytes.subarray(bodyStart).toString("latin1").includes(matching)) {
        const k = (this.seen.get(type) ?? 0) + 1
        this.seen.set(type, k)
        if (k === fault.k) {
          this.state.fired++
          switch (fault._tag) {
            case "AtMessage":
              if (fault.how === "blackhole") {
                this.flush()
                this.conn.holed = true
                return
              }
              this.flush()
              return this.conn.kill(fault.how)
            case "Corrupt": {
              const at = bodyStart + fault.offset
              if (at < bytes.length) bytes[at] = bytes[at]! ^ 0xff
              break
            }
            case "GrowLength":
              bytes.writeInt32BE(bytes.readInt32BE(1) + fault.by, 1)
              break
          }
        }
      }
    }
    this.emit(bytes)
  }

  /** Frames of the chunk being handled, written together once it is done. */
  private outgoing: Array<Buffer> = []

  private emit(bytes: Buffer): void {
    if (bytes.length > 0) this.outgoing.push(Buffer.from(bytes))
  }

  /** Writes what the chunk produced: at once, or `latency` after it arrived (in order), in pieces if asked. */
  private flush(): void {
    if (this.outgoing.length === 0) return
    const copy = this.outgoing.length === 1 ? this.outgoing[0]! : Buffer.concat(this.outgoing)
    this.outgoing = []
    const latency = (this.direction === "toServer" ? this.state.options.latency?.toServer : this.state.options.latency?.toClient) ?? 0
    const pieces = this.state.options.pieces
    if (latency === 0 && pieces === undefined) {
      if (!this.state.holes && !this.conn.holed && !this.conn.dead) this.out.write(copy)
      return
    }
    const due = Date.now() + latency
    this.chain = this.chain.then(async () => {
      const wait = due - Date.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      const size = pieces ?? copy.length
      for (let i = 0; i < copy.length; i += size) {
        if (this.state.holes || this.conn.holed || this.conn.dead) return
        this.out.write(copy.subarray(i, i + size))
        if (pieces !== undefined) await new Promise((r) => setImmediate(r))
      }
    })
  }
}

interface ProxyState {
  holes: boolean
  currentFault: Fault | undefined
  readonly options: ProxyOptions
  readonly frames: Record<Direction, Record<string, number>>
  cancels: number
  fired: number
}

class ConnState {
  dead = false
  /** Black-holed by an `AtMessage` fault: this connection alone forwards nothing from then on. */
  holed = false
  toServer!: Pipe
  toClient!: Pipe
  readonly client: Net.Socket
  readonly upstream: Net.Socket
  constructor(client: Net.Socket, upstream: Net.Socket) {
    this.client = client
    this.upstream = upstream
  }
  other(pipe: Pipe): Pipe {
    return pipe === this.toServer ? this.toClient : this.toServer
  }
  kill(how: "reset" | "close"): void {
    if (this.dead) return
    this.dead = true
    if (how === "reset") {
      this.client.resetAndDestroy()
      this.upstream.resetAndDestroy()
    } else {
      this.client.end()
      this.upstream.end()
    }
  }
}

/** A proxy to `host:port` for the Scope. */
export const make = (port: number, options: ProxyOptions = {}): Effect.Effect<FaultProxy, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ readonly proxy: FaultProxy; readonly close: () => void }>((resume) => {
      const state: ProxyState = {
        holes: false,
        currentFault: undefined,
        options,
        frames: { toServer: {}, toClient: {} },
        cancels: 0,
        fired: 0
      }
      let accepted = 0
      let target = port
      const conns = new Set<ConnState>()
      const server = Net.createServer((client) => {
        accepted++
        client.setNoDelay(true)
        const upstream = Net.connect(target, options.host ?? "127.0.0.1")
        upstream.setNoDelay(true)
        const conn = new ConnState(client, upstream)
        conn.toServer = new Pipe("toServer", upstream, state, conn)
        conn.toClient = new Pipe("toClient", client, state, conn)
        conn.toServer.untyped = 1
        conn.toServer.raw = conn.toClient.raw = options.raw === true
        conns.add(conn)
        client.on("data", (chunk: Buffer) => conn.toServer.push(chunk))
        upstream.on("data", (chunk: Buffer) => conn.toClient.push(chunk))
        const closeBoth = () => {
          client.destroy()
          upstream.destroy()
        }
        client.on("error", closeBoth).on("close", () => {
          conns.delete(conn)
          if (!state.holes && !conn.holed) upstream.end()
        })
        upstream.on("error", closeBoth).on("close", () => !state.holes && !conn.holed && client.end())
      })
      server.listen(0, "127.0.0.1", () => {
        const proxy: FaultProxy = {
          port: (server.address() as Net.AddressInfo).port,
          blackhole: Effect.sync(() => {
            state.holes = true
          }),
          restore: Effect.sync(() => {
            state.holes = false
          }),
          fault: (fault) =>
            Effect.sync(() => {
              state.currentFault = fault
            }),
          resetAll: Effect.sync(() => {
            for (const c of conns) c.kill("reset")
          }),
          retarget: (next) =>
            Effect.sync(() => {
              target = next
            }),
          accepted: () => accepted,
          counters: () => ({
            accepted,
            frames: { toServer: { ...state.frames.toServer }, toClient: { ...state.frames.toClient } },
            cancelRequests: state.cancels,
            faultsFired: state.fired
          })
        }
        resume(Effect.succeed({
          proxy,
          close: () => {
            for (const c of conns) {
              c.client.destroy()
              c.upstream.destroy()
            }
            server.close()
          }
        }))
      })
    }),
    ({ close }) => Effect.sync(close)
  ).pipe(Effect.map(({ proxy }) => proxy))
