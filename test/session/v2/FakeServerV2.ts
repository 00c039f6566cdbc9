/**
 * A scripted protocol 2.0 server for the faults a real one will not produce on demand, built from the project's
 * own 2.0 codecs in the server direction (`V2.FrontendDecoder` reads the client, `V2.encodeBackend` writes).
 *
 * Each connection runs the next script, an async function over a `FakeConnection`; connections beyond the
 * scripts are closed at once. The server listens on 127.0.0.1 for the life of the Scope.
 */
import * as Effect from "effect/Effect"
import * as Net from "node:net"
import * as V2 from "../../../src/protocol/V2.ts"

/** One client connection as a script sees it. */
export class FakeConnection {
  readonly socket: Net.Socket
  private raw = new Uint8Array(0)
  private decoder: V2.FrontendDecoder | undefined = undefined
  private readonly messages: Array<V2.FrontendMessage> = []
  private wake: (() => void) | undefined = undefined
  closed = false

  constructor(socket: Net.Socket) {
    this.socket = socket
    socket.on("data", (chunk: Uint8Array) => {
      if (this.decoder === undefined) {
        const joined = new Uint8Array(this.raw.length + chunk.length)
        joined.set(this.raw)
        joined.set(chunk, this.raw.length)
        this.raw = joined
      } else {
        try {
          this.decoder.pushUnsafe(Uint8Array.from(chunk), (m) => this.messages.push(m))
        } catch {
          socket.destroy()
        }
      }
      this.notify()
    })
    socket.on("close", () => {
      this.closed = true
      this.notify()
    })
    socket.on("error", () => {})
  }

  private notify(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve))
  }

  /** The first packet (length-prefixed): its protocol version word and bytes. Then client messages are decoded. */
  async startupPacket(): Promise<{ readonly version: number; readonly length: number }> {
    while (this.raw.length < 8 || this.raw.length < new DataView(this.raw.buffer).getInt32(0)) {
      if (this.closed) throw new Error("closed before the start-up packet")
      await this.wait()
    }
    const view = new DataView(this.raw.buffer)
    const length = view.getInt32(0)
    const version = view.getInt32(4)
    const rest = this.raw.slice(length)
    this.raw = new Uint8Array(0)
    this.decoder = new V2.FrontendDecoder({ mode: "normal" })
    if (rest.length > 0) this.decoder.pushUnsafe(rest, (m) => this.messages.push(m))
    return { version, length }
  }

  /** The next client message. */
  async next(): Promise<V2.FrontendMessage> {
    while (this.messages.length === 0) {
      if (this.closed) throw new Error("closed")
      await this.wait()
    }
    return this.messages.shift()!
  }

  expectPassword(): void {
    this.decoder!.expectPasswordPacket()
  }

  expectCopy(): void {
    this.decoder!.expectCopyDataRows()
  }

  send(...messages: ReadonlyArray<V2.BackendMessage>): void {
    for (const m of messages) {
      const bytes = V2.encodeBackend(m)
      if (bytes._tag === "Failure") throw bytes.failure
      this.socket.write(bytes.success)
    }
  }

  raw_(bytes: Uint8Array | string): void {
    this.socket.write(typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes)
  }

  close(): void {
    this.socket.end()
  }

  /** Waits until the client closes the connection. */
  async untilClosed(): Promise<void> {
    while (!this.closed) await this.wait()
  }
}

export type Script = (connection: FakeConnection) => Promise<void>

/** A running fake server. */
export interface FakeServerV2 {
  readonly port: number
  /** Connections accepted so far. */
  readonly connections: () => number
  /** Errors thrown by scripts. */
  readonly errors: Array<unknown>
}

/** Starts the server for the Scope. */
export const make = (...scripts: ReadonlyArray<Script>) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: Net.Server; readonly fake: FakeServerV2; readonly sockets: Set<Net.Socket> }>((resume) => {
      let count = 0
      const errors: Array<unknown> = []
      const sockets = new Set<Net.Socket>()
      const server = Net.createServer((socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        const script = scripts[count++]
        if (script === undefined) return socket.destroy()
        const connection = new FakeConnection(socket)
        script(connection).catch((e) => {
          if (!connection.closed) errors.push(e)
          socket.destroy()
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as Net.AddressInfo).port
        resume(Effect.succeed({ server, sockets, fake: { port, connections: () => count, errors } }))
      })
    }),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        for (const s of sockets) s.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ fake }) => fake))

/** The text columns the session's setup Query reads. */
const SETUP_VALUES = ["13.23", "UTF8", "UTF8", "ISO, MDY", "postgres", "UTC", "on", "on", "", "on", "postgres"]

const textField = (name: string): V2.RowDescriptionField => ({ name, dataTypeOid: 25, dataTypeSize: -1, typeModifier: -1 })

const encoder = new TextEncoder()

/** A RowDescription of text columns. */
export const rowDescription = (...names: ReadonlyArray<string>): V2.RowDescription => ({
  _tag: "RowDescription",
  fields: names.map(textField)
})

/** An AsciiRow of text values (null: SQL NULL). */
export const asciiRow = (...values: ReadonlyArray<string | null>): V2.AsciiRow => ({
  _tag: "AsciiRow",
  values: values.map((v) => (v === null ? null : encoder.encode(v)))
})

export const completed = (tag: string): V2.CompletedResponse => ({ _tag: "CompletedResponse", tag })
export const ready: V2.ReadyForQuery = { _tag: "ReadyForQuery" }
export const error = (message: string): V2.ErrorResponse => ({ _tag: "ErrorResponse", message })

/** The start-up packet, AuthenticationOk, BackendKeyData (unless `key: false`), ReadyForQuery, and the setup Query. */
export const handshake = async (c: FakeConnection, options: { readonly key?: boolean } = {}): Promise<void> => {
  await c.startupPacket()
  c.send({ _tag: "AuthenticationOk" })
  if (options.key !== false) c.send({ _tag: "BackendKeyData", processId: 4242, secretKey: 99 })
  c.send(ready)
  await c.next()
  c.send(
    completed("SET"),
    completed("SET"),
    completed("SET"),
    { _tag: "CursorResponse", name: "blank" },
    rowDescription(...SETUP_VALUES.map((_, i) => `c${i}`)),
    asciiRow(...SETUP_VALUES),
    completed("SELECT 1"),
    ready
  )
}
