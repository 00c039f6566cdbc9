/**
 * The server engine's message handling against raw frames from the project's
 * codecs, after start-up: simple and extended queries, pipelining and
 * ReadyForQuery accounting, portals, COPY, errors, limits, backpressure, and
 * `PgServer.handle` over an in-memory duplex. Every reply is decoded by
 * `Backend`; a frame that does not decode fails the test.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Frontend from "../../src/protocol/Frontend.ts"
import * as Backend from "../../src/protocol/Backend.ts"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as PgServer from "../../src/server/PgServer.ts"
import * as net from "node:net"
import { duplexPair } from "node:stream"
import { Framer } from "../../src/wire/Framer.ts"
import { handler, makeProbe } from "./ScriptedHandler.ts"
import { codeOf, concat, encodeFrontend, RawClient, startup, waitUntil, withServer } from "./Support.ts"

const query = (sql: string) => encodeFrontend({ _tag: "Query", query: sql })
const SYNC = Frontend.SYNC
const parseUnnamed = (sql: string) => encodeFrontend({ _tag: "Parse", name: "", query: sql, parameterTypes: [] })
const BIND_UNNAMED = encodeFrontend({ _tag: "Bind", portal: "", statement: "", parameterFormats: [], parameters: [], resultFormats: [] })
const EXECUTE_UNNAMED = encodeFrontend({ _tag: "Execute", portal: "", maxRows: 0 })

describe("PgServer messages", () => {
  const session = async (port: number) => {
    const c = await RawClient.open(port)
    c.send(startup())
    await c.until("ReadyForQuery")
    return c
  }

  it("stops a pipelined batch at its failing Parse and sends exactly one ReadyForQuery; the next batch works", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await session(port)
      const from = c.messages.length
      const pbe = (sql: string) =>
        concat(
          encodeFrontend({ _tag: "Parse", name: "", query: sql, parameterTypes: [] }),
          BIND_UNNAMED,
          EXECUTE_UNNAMED
        )
      c.send(pbe("select 1"), pbe("nonsense"), pbe("select 3"), SYNC)
      const got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.map((m) => m._tag), [
        "ParseComplete",
        "BindComplete",
        "DataRow",
        "CommandComplete",
        "ErrorResponse",
        "ReadyForQuery"
      ])
      assert.strictEqual(codeOf(got[4]), "42601")
      await new Promise((r) => setTimeout(r, 50))
      assert.strictEqual(c.tags(from).filter((t) => t === "ReadyForQuery").length, 1)
      const next = c.messages.length
      c.send(pbe("select 4"), SYNC)
      const again = await c.until("ReadyForQuery", next)
      assert.deepStrictEqual(again.map((m) => m._tag), ["ParseComplete", "BindComplete", "DataRow", "CommandComplete", "ReadyForQuery"])
      c.close()
    })
  })

  it("answers a multi-statement Query failing in the middle with a result, the error and one ReadyForQuery, and an empty Query with EmptyQueryResponse", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe) }, async ({ port }) => {
      const c = await session(port)
      const from = c.messages.length
      c.send(query("select 1; select 1/0; select 3"), query(""))
      await c.waitFor(() => c.tags(from).filter((t) => t === "ReadyForQuery").length === 2)
      await new Promise((r) => setTimeout(r, 50))
      assert.deepStrictEqual(c.tags(from), [
        "RowDescription",
        "DataRow",
        "CommandComplete",
        "ErrorResponse",
        "ReadyForQuery",
        "EmptyQueryResponse",
        "ReadyForQuery"
      ])
      assert.strictEqual(codeOf(c.messages[from + 3]), "22012")
      assert.deepStrictEqual(probe.statements, ["select 1", "select 1/0", ""])
      c.close()
    })
  })

  it("answers statements pipelined before a slow one at once, not when the slow one ends", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe) }, async ({ port, server }) => {
      const c = await session(port)
      const from = c.messages.length
      // One write: the engine defers its answers while more messages are queued, and must send them before it waits.
      c.send(query("select 1"), query("select 2"), query("sleep 30000"))
      await c.waitFor(() => c.tags(from).filter((t) => t === "ReadyForQuery").length === 2)
      assert.deepStrictEqual(c.tags(from), [
        "RowDescription",
        "DataRow",
        "CommandComplete",
        "ReadyForQuery",
        "RowDescription",
        "DataRow",
        "CommandComplete",
        "ReadyForQuery"
      ])
      assert.strictEqual(probe.started, 1)
      assert.strictEqual(probe.finalized, 0)
      c.close()
      await waitUntil(() => probe.finalized === 1)
      await waitUntil(async () => (await Effect.runPromise(server.connections)) === 0)
    })
  })

  it("pulls a result only as fast as its client reads it: a client that stops reading holds bounded memory and slows no one else", async () => {
    let pulled = 0
    let finalized = 0
    const wide = "x".repeat(10_000)
    const probe = makeProbe()
    const scripted = handler(probe)
    const endless: PgServer.Handler = {
      simple: (sql) =>
        sql === "endless"
          ? Stream.make(PgServer.Outcome.rows(
            [PgServer.field("w", "text")],
            Stream.forever(Stream.sync(() => [wide])).pipe(
              Stream.tap(() => Effect.sync(() => pulled++)),
              Stream.ensuring(Effect.sync(() => finalized++))
            )
          ))
          : scripted.simple(sql)
    }
    await withServer({ handler: endless }, async ({ port, server }) => {
      // A raw socket that sends its query and never reads.
      const stalled = net.connect({ port, host: "127.0.0.1" })
      await new Promise<void>((r) => stalled.once("connect", () => r()))
      stalled.pause()
      stalled.write(concat(startup(), query("endless")))
      await waitUntil(() => pulled > 0)
      const other = await session(port)
      const from = other.messages.length
      other.send(query("select 7"))
      const got = await other.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["RowDescription", "DataRow", "CommandComplete", "ReadyForQuery"])
      // The socket's buffers fill and the handler's stream stops being pulled (kernel buffers are a few MiB):
      // the count stands still for 300 ms (without backpressure it grows until this times out).
      let last = -1
      await waitUntil(async () => {
        const now = pulled
        await new Promise((r) => setTimeout(r, 300))
        const stable = now === last && pulled === now
        last = pulled
        return stable
      }, 15_000)
      assert.isBelow(pulled * wide.length, 64 * 1024 * 1024)
      stalled.destroy()
      await waitUntil(() => finalized === 1)
      other.close()
      await waitUntil(async () => (await Effect.runPromise(server.connections)) === 0)
    })
  })

  it("keeps each connection's prepared statements its own: two clients pipelining the same name with different SQL", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const [a, b] = await Promise.all([session(port), session(port)])
      const run = (sql: string) =>
        concat(
          encodeFrontend({ _tag: "Parse", name: "s1", query: sql, parameterTypes: [] }),
          encodeFrontend({ _tag: "Bind", portal: "", statement: "s1", parameterFormats: [], parameters: [], resultFormats: [] }),
          EXECUTE_UNNAMED,
          encodeFrontend({ _tag: "Close", target: "S", name: "s1" }),
          SYNC
        )
      const fromA = a.messages.length
      const fromB = b.messages.length
      for (let i = 0; i < 20; i++) {
        a.send(run(`select ${i}`))
        b.send(run(`select ${1000 + i}`))
      }
      const values = (c: RawClient, from: number) =>
        c.messages.slice(from).flatMap((m) => (m._tag === "DataRow" ? [new TextDecoder().decode(m.values[0]!)] : []))
      await a.waitFor(() => a.tags(fromA).filter((t) => t === "ReadyForQuery").length === 20)
      await b.waitFor(() => b.tags(fromB).filter((t) => t === "ReadyForQuery").length === 20)
      assert.deepStrictEqual(values(a, fromA), Array.from({ length: 20 }, (_, i) => String(i)))
      assert.deepStrictEqual(values(b, fromB), Array.from({ length: 20 }, (_, i) => String(1000 + i)))
      assert.notInclude(a.tags(fromA), "ErrorResponse")
      assert.notInclude(b.tags(fromB), "ErrorResponse")
      a.close()
      b.close()
    })
  })

  it("closes the socket at Terminate and counts the connection out", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port, server }) => {
      const c = await session(port)
      c.send(query("select 1"), encodeFrontend({ _tag: "Terminate" }))
      await c.untilClosed()
      assert.isTrue(c.closed)
      assert.deepStrictEqual(c.tags().slice(-4), ["RowDescription", "DataRow", "CommandComplete", "ReadyForQuery"])
      await waitUntil(async () => (await Effect.runPromise(server.connections)) === 0)
    })
  })

  it("answers Parse+Describe(S)+Sync with ParameterDescription and RowDescription or NoData, and Close of nothing with CloseComplete", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await session(port)
      const from = c.messages.length
      c.send(
        encodeFrontend({ _tag: "Parse", name: "a", query: "select $1, $2", parameterTypes: [23, 0] }),
        encodeFrontend({ _tag: "Describe", target: "S", name: "a" }),
        encodeFrontend({ _tag: "Parse", name: "b", query: "begin", parameterTypes: [] }),
        encodeFrontend({ _tag: "Describe", target: "S", name: "b" }),
        encodeFrontend({ _tag: "Close", target: "S", name: "nothing" }),
        encodeFrontend({ _tag: "Close", target: "P", name: "nothing" }),
        SYNC
      )
      const got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.map((m) => m._tag), [
        "ParseComplete",
        "ParameterDescription",
        "RowDescription",
        "ParseComplete",
        "ParameterDescription",
        "NoData",
        "CloseComplete",
        "CloseComplete",
        "ReadyForQuery"
      ])
      assert.deepStrictEqual(got[1], { _tag: "ParameterDescription", parameterTypes: [23, 25] })
      c.close()
    })
  })

  it("pages a named portal inside a transaction across Syncs, and drops it at COMMIT (34000)", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe) }, async ({ port }) => {
      const c = await session(port)
      let from = c.messages.length
      c.send(query("begin"))
      await c.until("ReadyForQuery", from)
      from = c.messages.length
      c.send(
        encodeFrontend({ _tag: "Parse", name: "s", query: "series 25", parameterTypes: [] }),
        encodeFrontend({ _tag: "Bind", portal: "p", statement: "s", parameterFormats: [], parameters: [], resultFormats: [1] }),
        encodeFrontend({ _tag: "Execute", portal: "p", maxRows: 10 }),
        SYNC
      )
      let got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.filter((m) => m._tag === "DataRow").length, 10)
      assert.include(got.map((m) => m._tag), "PortalSuspended")
      assert.deepStrictEqual(got.at(-1), { _tag: "ReadyForQuery", transactionStatus: "T" })
      assert.isAtMost(probe.pulled, 11)
      from = c.messages.length
      c.send(encodeFrontend({ _tag: "Execute", portal: "p", maxRows: 10 }), SYNC)
      got = await c.until("ReadyForQuery", from)
      const rows = got.filter((m): m is Backend.DataRow => m._tag === "DataRow")
      assert.strictEqual(rows.length, 10)
      assert.deepStrictEqual(Array.from(rows[0]!.values[0]!), [0, 0, 0, 11])
      from = c.messages.length
      c.send(encodeFrontend({ _tag: "Execute", portal: "p", maxRows: 10 }), SYNC)
      got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.filter((m) => m._tag === "DataRow").length, 5)
      assert.deepStrictEqual(got.find((m) => m._tag === "CommandComplete"), { _tag: "CommandComplete", tag: "SELECT 25" })
      from = c.messages.length
      c.send(query("commit"))
      await c.until("ReadyForQuery", from)
      from = c.messages.length
      c.send(encodeFrontend({ _tag: "Execute", portal: "p", maxRows: 10 }), SYNC)
      got = await c.until("ReadyForQuery", from)
      assert.strictEqual(codeOf(got[0]), "34000")
      assert.deepStrictEqual(got.at(-1), { _tag: "ReadyForQuery", transactionStatus: "I" })
      c.close()
    })
  })

  it("reports transaction status T, E, E, I for begin, a failing statement, another statement, rollback", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await session(port)
      const statuses: Array<string> = []
      for (const sql of ["begin", "fail", "select 1", "rollback"]) {
        const from = c.messages.length
        c.send(query(sql))
        const got = await c.until("ReadyForQuery", from)
        const last = got.at(-1)!
        statuses.push(last._tag === "ReadyForQuery" ? last.transactionStatus : "?")
      }
      assert.deepStrictEqual(statuses, ["T", "E", "E", "I"])
      c.close()
    })
  })

  it("ignores Flush and Sync during COPY FROM STDIN started by Execute, and answers the batch's Sync once", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe) }, async ({ port }) => {
      const c = await session(port)
      const from = c.messages.length
      const data = (text: string) => encodeFrontend({ _tag: "CopyData", data: new TextEncoder().encode(text) })
      c.send(
        parseUnnamed("copy in"),
        BIND_UNNAMED,
        EXECUTE_UNNAMED,
        Frontend.FLUSH
      )
      await c.until("CopyInResponse", from)
      c.send(data("a\n"), Frontend.FLUSH, SYNC, data("b\n"), encodeFrontend({ _tag: "CopyDone" }), SYNC)
      const got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["ParseComplete", "BindComplete", "CopyInResponse", "CommandComplete", "ReadyForQuery"])
      assert.deepStrictEqual(got[3], { _tag: "CommandComplete", tag: "COPY 2" })
      assert.strictEqual(Buffer.concat(probe.copied).toString(), "a\nb\n")
      c.close()
    })
  })

  it("answers an empty statement's Execute with one EmptyQueryResponse", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await session(port)
      const from = c.messages.length
      c.send(
        parseUnnamed(""),
        BIND_UNNAMED,
        encodeFrontend({ _tag: "Describe", target: "P", name: "" }),
        EXECUTE_UNNAMED,
        SYNC
      )
      const got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["ParseComplete", "BindComplete", "NoData", "EmptyQueryResponse", "ReadyForQuery"])
      c.close()
    })
  })

  it("turns a handler's defect into XX000 with its text withheld, and the session goes on", async () => {
    const dying: PgServer.Handler = {
      simple: (sql) =>
        sql === "die"
          ? Stream.fromEffect(Effect.die(new Error("secret internal detail")))
          : handler(makeProbe()).simple(sql)
    }
    await withServer({ handler: dying }, async ({ port }) => {
      const c = await session(port)
      let from = c.messages.length
      c.send(query("die"))
      const got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["ErrorResponse", "ReadyForQuery"])
      assert.strictEqual(codeOf(got[0]), "XX000")
      assert.notInclude(JSON.stringify(got[0]), "secret")
      from = c.messages.length
      c.send(query("select 5"))
      assert.include((await c.until("ReadyForQuery", from)).map((m) => m._tag), "DataRow")
      c.close()
    })
  })

  it("interrupts a statement past limits.statementTimeout with 57014 and runs the next one", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe), limits: { statementTimeout: 100 } }, async ({ port }) => {
      const c = await session(port)
      let from = c.messages.length
      c.send(query("sleep 30000"))
      const got = await c.until("ReadyForQuery", from)
      assert.strictEqual(codeOf(got[0]), "57014")
      assert.match(got[0]!._tag === "ErrorResponse" ? got[0].fields.find((f) => f.code === "M")!.value : "", /statement timeout/)
      assert.strictEqual(probe.finalized, 1)
      from = c.messages.length
      c.send(query("select 1"))
      assert.deepStrictEqual((await c.until("ReadyForQuery", from)).map((m) => m._tag), ["RowDescription", "DataRow", "CommandComplete", "ReadyForQuery"])
      c.close()
    })
  })

  it("ends COPY FROM STDIN at a failing sink with one ErrorResponse and one ReadyForQuery, dropping the CopyData after it", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await session(port)
      const from = c.messages.length
      c.send(query("copy in fail"))
      await c.until("CopyInResponse", from)
      const data = encodeFrontend({ _tag: "CopyData", data: new TextEncoder().encode("1\n") })
      c.send(data, data, data, encodeFrontend({ _tag: "CopyDone" }))
      const got = await c.until("ReadyForQuery", from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["CopyInResponse", "ErrorResponse", "ReadyForQuery"])
      assert.strictEqual(codeOf(got[1]), "22P04")
      await new Promise((r) => setTimeout(r, 50))
      assert.strictEqual(c.tags(from).filter((t) => t === "ReadyForQuery").length, 1)
      // CopyFail from the client: 57014, and the session goes on.
      const next = c.messages.length
      c.send(query("copy in"))
      await c.until("CopyInResponse", next)
      c.send(data, encodeFrontend({ _tag: "CopyFail", message: "client gave up" }))
      const failed = await c.until("ReadyForQuery", next)
      assert.strictEqual(codeOf(failed[1]), "57014")
      c.close()
    })
  })
})

describe("PgServer.handle in memory", () => {
  it("serves a duplex pair with no socket: start-up, a query, Terminate, and handle() returns", async () => {
    const [serverSide, clientSide] = duplexPair()
    const served = Effect.runPromise(PgServer.handle(serverSide, { handler: handler(makeProbe()) }))
    const framer = new Framer()
    const messages: Array<Backend.BackendMessage> = []
    clientSide.on("data", (chunk: Buffer) => {
      for (const f of framer.pushAll(new Uint8Array(chunk))) {
        const frame = concat(new Uint8Array([f.type, 0, 0, 0, 0]), f.body)
        new DataView(frame.buffer).setInt32(1, f.body.length + 4)
        messages.push(Result.getOrThrow(Backend.decode(frame)))
      }
    })
    clientSide.write(concat(startup(), query("series 3")))
    await waitUntil(() => messages.filter((m) => m._tag === "ReadyForQuery").length === 2)
    const tags = messages.map((m) => m._tag)
    assert.deepStrictEqual(tags.slice(0, 1), ["AuthenticationOk"])
    assert.deepStrictEqual(tags.slice(tags.indexOf("BackendKeyData") + 1), [
      "ReadyForQuery",
      "RowDescription",
      "DataRow",
      "DataRow",
      "DataRow",
      "CommandComplete",
      "ReadyForQuery"
    ])
    clientSide.write(encodeFrontend({ _tag: "Terminate" }))
    await served
    await new Promise<void>((r) => (clientSide.readableEnded ? r() : clientSide.once("end", () => r())))
  })
})
