/**
 * The protocol codecs against real servers, with no session in between: a raw
 * `node:net` socket, frames built with `Startup`/`Frontend`/`V2`, the received
 * byte stream cut by `Framer` (3.x) or `V2.BackendDecoder` (2.0), and every
 * frame decoded. A frame that does not decode fails the test.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import * as net from "node:net"
import * as Md5 from "../../src/auth/Md5.ts"
import * as Backend from "../../src/protocol/Backend.ts"
import * as ErrorFields from "../../src/protocol/ErrorFields.ts"
import * as Frontend from "../../src/protocol/Frontend.ts"
import * as Message from "../../src/protocol/Message.ts"
import * as Startup from "../../src/protocol/Startup.ts"
import * as V2 from "../../src/protocol/V2.ts"
import { Framer } from "../../src/wire/Framer.ts"
import { Reader } from "../../src/wire/Reader.ts"
import { PASSWORDS, type ServerInfo, servers } from "../support/Servers.ts"

const TIMEOUT_MS = 10_000
const utf8 = new TextDecoder("utf-8", { fatal: true })
const text = (bytes: Uint8Array | null | undefined): string | null => (bytes == null ? null : utf8.decode(bytes))
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

const encode = <A extends { readonly _tag: string }>(codec: Message.Codec<A>, message: NoInfer<A>): Uint8Array =>
  Result.getOrThrow(Message.encodeFrame(codec, message))

/**
 * A socket whose incoming bytes go through a decoder; `until(tag)` collects
 * the decoded messages up to and including the first with that tag.
 */
class Wire<M extends { readonly _tag: string }> {
  private readonly queue: Array<M> = []
  private failure: unknown = undefined
  private wake: (() => void) | undefined = undefined
  readonly socket: net.Socket

  private constructor(socket: net.Socket, decode: (chunk: Uint8Array, out: (m: M) => void) => void) {
    this.socket = socket
    socket.on("data", (chunk: Buffer) => {
      try {
        decode(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength), (m) => this.queue.push(m))
      } catch (e) {
        this.failure ??= e
        socket.destroy()
      }
      this.notify()
    })
    socket.on("error", (e) => {
      this.failure ??= e
      this.notify()
    })
    socket.on("close", () => {
      this.failure ??= new Error("the server closed the connection")
      this.notify()
    })
  }

  static open<M extends { readonly _tag: string }>(
    server: ServerInfo,
    decode: (chunk: Uint8Array, out: (m: M) => void) => void
  ): Promise<Wire<M>> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: server.host, port: server.port })
      socket.once("connect", () => {
        socket.removeAllListeners("error")
        resolve(new Wire(socket, decode))
      })
      socket.once("error", reject)
    })
  }

  private notify(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  send(...frames: ReadonlyArray<Uint8Array>): void {
    for (const f of frames) this.socket.write(f)
  }

  async until(tag: M["_tag"]): Promise<Array<M>> {
    const out: Array<M> = []
    const deadline = Date.now() + TIMEOUT_MS
    while (true) {
      while (this.queue.length > 0) {
        const m = this.queue.shift()!
        out.push(m)
        if (m._tag === tag) return out
      }
      if (this.failure !== undefined) throw this.failure
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no ${tag} within ${TIMEOUT_MS} ms; got ${out.map((m) => m._tag).join(", ")}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }

  /** Resolves when the server has closed the connection (after Terminate). */
  closed(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed || this.socket.readableEnded) resolve()
      else this.socket.once("close", () => resolve())
      setTimeout(() => {
        this.socket.destroy()
        resolve()
      }, TIMEOUT_MS).unref()
    })
  }
}

/**
 * Protocol 3.x: `Framer` cuts the stream; each frame is rebuilt whole and
 * decoded with `Backend.decode`, and also read in place with
 * `Backend.readUnsafe` (the session's path): both must agree.
 */
const openV3 = (server: ServerInfo): Promise<Wire<Backend.BackendMessage>> => {
  const framer = new Framer()
  const reader = new Reader()
  return Wire.open<Backend.BackendMessage>(server, (chunk, out) => {
    framer.push(chunk, (type, buf, start, end) => {
      const frame = new Uint8Array(5 + end - start)
      frame[0] = type
      new DataView(frame.buffer).setInt32(1, 4 + end - start)
      frame.set(buf.subarray(start, end), 5)
      const decoded = Backend.decode(frame)
      if (Result.isFailure(decoded)) throw decoded.failure
      assert.deepStrictEqual(Backend.readUnsafe(type, buf, start, end, reader), decoded.success)
      out(decoded.success)
    })
  })
}

const startupMessage = (protocolVersion: number, extra: ReadonlyArray<Startup.StartupParameter> = []) =>
  encode(Startup.StartupMessage, {
    _tag: "StartupMessage",
    protocolVersion,
    parameters: [
      { name: "user", value: "postgres" },
      { name: "database", value: "postgres" },
      { name: "application_name", value: "effect-pgwire raw protocol test" },
      { name: "client_encoding", value: "UTF8" },
      ...extra
    ]
  })

const tags = (messages: ReadonlyArray<{ readonly _tag: string }>) => messages.map((m) => m._tag)

const only = <T extends Backend.BackendMessage["_tag"]>(
  messages: ReadonlyArray<Backend.BackendMessage>,
  tag: T
): Array<Extract<Backend.BackendMessage, { _tag: T }>> =>
  messages.filter((m): m is Extract<Backend.BackendMessage, { _tag: T }> => m._tag === tag)

/** Startup over 3.x with trust auth: returns the wire and the startup messages. */
const startV3 = async (server: ServerInfo, protocolVersion: number, extra?: ReadonlyArray<Startup.StartupParameter>) => {
  const wire = await openV3(server)
  wire.send(startupMessage(protocolVersion, extra))
  const messages = await wire.until("ReadyForQuery")
  return { wire, messages }
}

/** Checks a complete trust startup and returns its BackendKeyData. */
const checkStartup = (server: ServerInfo, messages: ReadonlyArray<Backend.BackendMessage>) => {
  const auth = messages.findIndex((m) => m._tag === "AuthenticationOk")
  assert.isTrue(auth >= 0, `AuthenticationOk in ${tags(messages)}`)
  const after = messages.slice(auth + 1)
  const allowed = new Set(["ParameterStatus", "BackendKeyData", "ReadyForQuery", "NoticeResponse"])
  assert.deepStrictEqual(tags(after).filter((t) => !allowed.has(t)), [])
  const parameters = new Map(only(after, "ParameterStatus").map((p) => [p.name, p.value]))
  assert.strictEqual(parameters.get("server_version"), server.version)
  assert.strictEqual(parameters.get("client_encoding"), "UTF8")
  assert.strictEqual(parameters.get("application_name"), "effect-pgwire raw protocol test")
  assert.strictEqual(parameters.get("integer_datetimes"), "on")
  const keys = only(after, "BackendKeyData")
  assert.strictEqual(keys.length, 1)
  assert.isTrue(keys[0]!.processId > 0)
  assert.deepStrictEqual(messages.at(-1), { _tag: "ReadyForQuery", transactionStatus: "I" })
  return keys[0]!
}

const terminate = async (wire: Wire<Backend.BackendMessage>) => {
  wire.send(Frontend.TERMINATE)
  await wire.closed()
}

describe("raw protocol 3.x against PostgreSQL", () => {
  it("3.0 on PostgreSQL 18: the startup exchange and a simple query decode completely", async () => {
    const { main } = servers()
    const { wire, messages } = await startV3(main, Startup.PROTOCOL_3_0)
    try {
      assert.strictEqual(messages[0]?._tag, "AuthenticationOk")
      // Before 3.2 the key is always 4 bytes (protocol-3.2 "BackendKeyData").
      assert.strictEqual(checkStartup(main, messages).secretKey.length, 4)

      wire.send(encode(Frontend.Query, { _tag: "Query", query: "SELECT 1::int4 AS one, 'é'::text AS two, NULL::int8 AS three" }))
      const reply = await wire.until("ReadyForQuery")
      assert.deepStrictEqual(tags(reply), ["RowDescription", "DataRow", "CommandComplete", "ReadyForQuery"])
      const [description] = only(reply, "RowDescription")
      assert.deepStrictEqual(description!.fields.map((f) => [f.name, f.dataTypeOid, f.formatCode]), [
        ["one", 23, 0],
        ["two", 25, 0],
        ["three", 20, 0]
      ])
      assert.deepStrictEqual(only(reply, "DataRow")[0]!.values.map(text), ["1", "é", null])
      assert.deepStrictEqual(only(reply, "CommandComplete")[0], { _tag: "CommandComplete", tag: "SELECT 1" })

      // Several statements, an empty one and an error: one ReadyForQuery at the end.
      wire.send(encode(Frontend.Query, { _tag: "Query", query: "SELECT 'a' UNION ALL SELECT 'b'; ; SELECT 1/0" }))
      const multi = await wire.until("ReadyForQuery")
      assert.deepStrictEqual(tags(multi), [
        "RowDescription",
        "DataRow",
        "DataRow",
        "CommandComplete",
        "ErrorResponse",
        "ReadyForQuery"
      ])
      const [error] = only(multi, "ErrorResponse")
      assert.strictEqual(ErrorFields.get(error!.fields, "C"), "22012") // division_by_zero
      assert.strictEqual(ErrorFields.toServerError(error!.fields).code, "22012")

      wire.send(encode(Frontend.Query, { _tag: "Query", query: "" }))
      assert.deepStrictEqual(tags(await wire.until("ReadyForQuery")), ["EmptyQueryResponse", "ReadyForQuery"])
    } finally {
      await terminate(wire)
    }
  })

  it("3.2 on PostgreSQL 18: BackendKeyData carries a 32-byte key, no negotiation", async () => {
    const { main } = servers()
    const { wire, messages } = await startV3(main, Startup.PROTOCOL_3_2)
    try {
      assert.strictEqual(messages[0]?._tag, "AuthenticationOk")
      assert.strictEqual(checkStartup(main, messages).secretKey.length, 32)
      assert.deepStrictEqual(only(messages, "NegotiateProtocolVersion"), [])
    } finally {
      await terminate(wire)
    }
  })

  it("3.99 on PostgreSQL 18: NegotiateProtocolVersion offers 3.2, and 3.2 it is", async () => {
    const { main } = servers()
    const { wire, messages } = await startV3(main, (3 << 16) | 99)
    try {
      // The docs call the field the "newest minor protocol version", but servers send the whole
      // version number, major << 16 | minor (as libpq expects): 3.2 here, not 2.
      assert.deepStrictEqual(messages[0], {
        _tag: "NegotiateProtocolVersion",
        newestMinorVersion: Startup.PROTOCOL_3_2,
        unrecognizedOptions: []
      })
      assert.strictEqual(checkStartup(main, messages).secretKey.length, 32)
    } finally {
      await terminate(wire)
    }
  })

  it("an unknown _pq_ option is named back in NegotiateProtocolVersion", async () => {
    const { main } = servers()
    const { wire, messages } = await startV3(main, Startup.PROTOCOL_3_0, [
      { name: "_pq_.effect_pgwire_unknown", value: "1" }
    ])
    try {
      assert.deepStrictEqual(messages[0], {
        _tag: "NegotiateProtocolVersion",
        newestMinorVersion: Startup.PROTOCOL_3_0, // major << 16 | minor, see the 3.99 case
        unrecognizedOptions: ["_pq_.effect_pgwire_unknown"]
      })
      assert.strictEqual(checkStartup(main, messages).secretKey.length, 4)
    } finally {
      await terminate(wire)
    }
  })

  it("3.2 asked of PostgreSQL 13: negotiated down to 3.0, 4-byte key", async () => {
    const { pg13 } = servers()
    const { wire, messages } = await startV3(pg13, Startup.PROTOCOL_3_2)
    try {
      assert.deepStrictEqual(messages[0], {
        _tag: "NegotiateProtocolVersion",
        newestMinorVersion: Startup.PROTOCOL_3_0, // major << 16 | minor, see the 3.99 case
        unrecognizedOptions: []
      })
      assert.strictEqual(checkStartup(pg13, messages).secretKey.length, 4)
    } finally {
      await terminate(wire)
    }
  })

  it("the extended query protocol: Parse, Describe, Bind, Execute, Sync", async () => {
    const { main } = servers()
    const { wire } = await startV3(main, Startup.PROTOCOL_3_2)
    try {
      wire.send(
        encode(Frontend.Parse, {
          _tag: "Parse",
          name: "",
          query: "SELECT $1::int4 + 1 AS n, $2 AS t",
          parameterTypes: [23, 0]
        }),
        encode(Frontend.Describe, { _tag: "Describe", target: "S", name: "" }),
        encode(Frontend.Bind, {
          _tag: "Bind",
          portal: "",
          statement: "",
          parameterFormats: [0],
          parameters: [bytes("41"), bytes("hé")],
          resultFormats: [1, 0]
        }),
        Frontend.DESCRIBE_UNNAMED_PORTAL,
        Frontend.EXECUTE_UNNAMED_ALL,
        Frontend.SYNC
      )
      const reply = await wire.until("ReadyForQuery")
      assert.deepStrictEqual(tags(reply), [
        "ParseComplete",
        "ParameterDescription",
        "RowDescription",
        "BindComplete",
        "RowDescription",
        "DataRow",
        "CommandComplete",
        "ReadyForQuery"
      ])
      // The unspecified $2 is inferred as text.
      assert.deepStrictEqual(only(reply, "ParameterDescription")[0]!.parameterTypes, [23, 25])
      const [ofStatement, ofPortal] = only(reply, "RowDescription")
      assert.deepStrictEqual(ofStatement!.fields.map((f) => f.formatCode), [0, 0])
      assert.deepStrictEqual(ofPortal!.fields.map((f) => [f.name, f.dataTypeOid, f.formatCode]), [
        ["n", 23, 1],
        ["t", 25, 0]
      ])
      const [row] = only(reply, "DataRow")
      assert.deepStrictEqual([...row!.values[0]!], [0, 0, 0, 42]) // int4 in binary, big-endian
      assert.strictEqual(text(row!.values[1]), "hé")
      assert.deepStrictEqual(only(reply, "CommandComplete")[0]!.tag, "SELECT 1")

      // A named statement, executed twice with a row limit: PortalSuspended, then the rest.
      wire.send(
        encode(Frontend.Parse, {
          _tag: "Parse",
          name: "series",
          query: "SELECT g FROM generate_series(1, 3) g",
          parameterTypes: []
        }),
        encode(Frontend.Bind, {
          _tag: "Bind",
          portal: "p",
          statement: "series",
          parameterFormats: [],
          parameters: [],
          resultFormats: []
        }),
        encode(Frontend.Execute, { _tag: "Execute", portal: "p", maxRows: 2 }),
        encode(Frontend.Execute, { _tag: "Execute", portal: "p", maxRows: 0 }),
        encode(Frontend.Close, { _tag: "Close", target: "S", name: "series" }),
        Frontend.SYNC
      )
      const paged = await wire.until("ReadyForQuery")
      assert.deepStrictEqual(tags(paged), [
        "ParseComplete",
        "BindComplete",
        "DataRow",
        "DataRow",
        "PortalSuspended",
        "DataRow",
        "CommandComplete",
        "CloseComplete",
        "ReadyForQuery"
      ])
      assert.deepStrictEqual(only(paged, "DataRow").map((r) => text(r.values[0])), ["1", "2", "3"])

      // An error skips to Sync; the session is usable afterwards.
      wire.send(
        encode(Frontend.Parse, { _tag: "Parse", name: "", query: "SELEC 1", parameterTypes: [] }),
        Frontend.EXECUTE_UNNAMED_ALL,
        Frontend.SYNC
      )
      const failed = await wire.until("ReadyForQuery")
      assert.deepStrictEqual(tags(failed), ["ErrorResponse", "ReadyForQuery"])
      assert.strictEqual(ErrorFields.get(only(failed, "ErrorResponse")[0]!.fields, "C"), "42601") // syntax_error
    } finally {
      await terminate(wire)
    }
  })
})

describe("raw protocol 2.0 against PostgreSQL 13", () => {
  const openV2 = (server: ServerInfo) => {
    const decoder = new V2.BackendDecoder()
    return Wire.open<V2.BackendMessage>(server, (chunk, out) => decoder.pushUnsafe(chunk, out))
  }

  const startupPacket = (user: string) =>
    encode(V2.StartupPacket, {
      _tag: "StartupPacket",
      protocolVersion: 0x20000,
      database: "postgres",
      user,
      options: "",
      unused: "",
      tty: ""
    })

  it("StartupPacket, then the incremental decoder through startup, a query and an error", async () => {
    const { pg13 } = servers()
    const wire = await openV2(pg13)
    try {
      wire.send(startupPacket("postgres"))
      const startup = await wire.until("ReadyForQuery")
      assert.deepStrictEqual(tags(startup), ["AuthenticationOk", "BackendKeyData", "ReadyForQuery"])
      const key = startup[1] as V2.BackendKeyData
      assert.isTrue(key.processId > 0)

      wire.send(encode(V2.Query, { _tag: "Query", query: "SELECT 1 AS one, 'é'::text AS two, NULL::int4 AS three" }))
      const reply = await wire.until("ReadyForQuery")
      assert.deepStrictEqual(tags(reply), [
        "CursorResponse",
        "RowDescription",
        "AsciiRow",
        "CompletedResponse",
        "ReadyForQuery"
      ])
      assert.deepStrictEqual(reply[0], { _tag: "CursorResponse", name: "blank" })
      const description = reply[1] as V2.RowDescription
      assert.deepStrictEqual(description.fields.map((f) => [f.name, f.dataTypeOid]), [
        ["one", 23],
        ["two", 25],
        ["three", 23]
      ])
      assert.deepStrictEqual((reply[2] as V2.AsciiRow).values.map(text), ["1", "é", null])
      assert.match((reply[3] as V2.CompletedResponse).tag, /^SELECT/)

      wire.send(encode(V2.Query, { _tag: "Query", query: "SELECT 1/0" }))
      const failed = await wire.until("ReadyForQuery")
      // A 2.0 error is one string, severity included.
      assert.deepStrictEqual(failed, [
        { _tag: "ErrorResponse", message: "ERROR:  division by zero\n" },
        { _tag: "ReadyForQuery" }
      ])
    } finally {
      wire.send(encode(V2.Terminate, { _tag: "Terminate" }))
      await wire.closed()
    }
  })

  it("an MD5 login over 2.0 with the product's MD5 response", async () => {
    const { pg13 } = servers()
    const wire = await openV2(pg13)
    try {
      wire.send(startupPacket("md5user"))
      const [request] = await wire.until("AuthenticationMD5Password")
      const salt = (request as V2.AuthenticationMD5Password).salt
      assert.strictEqual(salt.length, 4)
      wire.send(encode(V2.PasswordPacket, {
        _tag: "PasswordPacket",
        password: Md5.passwordResponse(PASSWORDS.md5user, "md5user", salt)
      }))
      assert.deepStrictEqual(tags(await wire.until("ReadyForQuery")), ["AuthenticationOk", "BackendKeyData", "ReadyForQuery"])
    } finally {
      wire.send(encode(V2.Terminate, { _tag: "Terminate" }))
      await wire.closed()
    }
  })
})
