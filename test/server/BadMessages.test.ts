/**
 * Messages after start-up under bad input, answered as PostgreSQL 18 answers
 * the same bytes (each case was sent to a real PostgreSQL 18 first): a message
 * of a known type whose contents are malformed is an ERROR and the session
 * goes on.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Frontend from "../../src/protocol/Frontend.ts"
import { handler, makeProbe } from "./ScriptedHandler.ts"
import { codeOf, concat, encodeFrontend, RawClient, severityOf, startup, withServer } from "./Support.ts"
import { cstring, frame, int32, query } from "./RawBytes.ts"

const session = async (port: number) => {
  const c = await RawClient.open(port)
  c.send(startup())
  await c.until("ReadyForQuery")
  return c
}

/** The messages from `from` up to and including the next ReadyForQuery (the test fails if the connection closes first). */
const nextReady = async (c: RawClient, from: number) => {
  const got = await c.until("ReadyForQuery", from)
  assert.isFalse(c.closed && !got.some((m) => m._tag === "ReadyForQuery"), `closed after ${got.map((m) => m._tag)}`)
  return got.slice(0, got.findIndex((m) => m._tag === "ReadyForQuery") + 1)
}

/** Checks that the session still answers a query. */
const stillServes = async (c: RawClient) => {
  const from = c.messages.length
  c.send(query("select 7"))
  const got = await nextReady(c, from)
  assert.deepStrictEqual(got.map((m) => m._tag), ["RowDescription", "DataRow", "CommandComplete", "ReadyForQuery"])
}

describe("PgServer messages under bad input", () => {
  it("answers a Query holding bytes that are not UTF-8 with ERROR 22021 and ReadyForQuery, and the session goes on", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await session(port)
      const from = c.messages.length
      c.send(frame("Q", cstring(concat(new TextEncoder().encode("select '"), new Uint8Array([0xff, 0xfe]), new TextEncoder().encode("'")))))
      const got = await nextReady(c, from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["ErrorResponse", "ReadyForQuery"])
      assert.strictEqual(codeOf(got[0]), "22021")
      assert.strictEqual(severityOf(got[0]), "ERROR")
      await stillServes(c)
      c.close()
    })
  })

  it("answers a Describe and a Close of an unknown target byte with ERROR 08P01, discards to Sync, and the session goes on", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await session(port)
      for (const type of ["D", "C"]) {
        const from = c.messages.length
        // The Parse after the bad message is discarded: no ParseComplete before the Sync's ReadyForQuery.
        c.send(
          frame(type, new Uint8Array([0x58]), cstring("")),
          encodeFrontend({ _tag: "Parse", name: "", query: "select 1", parameterTypes: [] }),
          Frontend.SYNC
        )
        const got = await nextReady(c, from)
        assert.deepStrictEqual(got.map((m) => m._tag), ["ErrorResponse", "ReadyForQuery"], type)
        assert.strictEqual(codeOf(got[0]), "08P01")
        assert.strictEqual(severityOf(got[0]), "ERROR")
        await stillServes(c)
      }
      c.close()
    })
  })

  it("answers a Sync and a Query with trailing bytes, and a Bind with format code 3, with ERROR 08P01; the session goes on", async () => {
    await withServer({ handler: handler(makeProbe()) }, async ({ port }) => {
      const c = await session(port)
      let from = c.messages.length
      c.send(frame("S", new Uint8Array([1, 2])))
      let got = await nextReady(c, from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["ErrorResponse", "ReadyForQuery"])
      assert.strictEqual(codeOf(got[0]), "08P01")
      await stillServes(c)

      from = c.messages.length
      c.send(frame("Q", cstring("select 1"), new Uint8Array([1, 2])))
      got = await nextReady(c, from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["ErrorResponse", "ReadyForQuery"])
      assert.strictEqual(codeOf(got[0]), "08P01")
      await stillServes(c)

      from = c.messages.length
      c.send(
        encodeFrontend({ _tag: "Parse", name: "", query: "select $1", parameterTypes: [] }),
        frame("B", cstring(""), cstring(""), new Uint8Array([0, 1, 0, 3, 0, 1]), int32(1), new Uint8Array([0x31, 0, 0])),
        encodeFrontend({ _tag: "Execute", portal: "", maxRows: 0 }),
        Frontend.SYNC
      )
      got = await nextReady(c, from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["ParseComplete", "ErrorResponse", "ReadyForQuery"])
      assert.strictEqual(severityOf(got[1]), "ERROR")
      await stillServes(c)
      c.close()
    })
  })

  it("ends COPY FROM STDIN at a CopyDone with trailing bytes, and fails it at a CopyFail without its terminator (ERROR 08P01); the session goes on", async () => {
    const probe = makeProbe()
    await withServer({ handler: handler(probe) }, async ({ port }) => {
      const c = await session(port)
      // PostgreSQL does not read a CopyDone's body: the COPY completes.
      let from = c.messages.length
      c.send(query("copy in"), frame("d", new TextEncoder().encode("x\n")), frame("c", new Uint8Array([1, 2])))
      let got = await nextReady(c, from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["CopyInResponse", "CommandComplete", "ReadyForQuery"])
      assert.strictEqual(probe.copied.length, 1)
      await stillServes(c)

      from = c.messages.length
      c.send(query("copy in"), frame("f", new TextEncoder().encode("no terminator")))
      got = await nextReady(c, from)
      assert.deepStrictEqual(got.map((m) => m._tag), ["CopyInResponse", "ErrorResponse", "ReadyForQuery"])
      assert.strictEqual(codeOf(got[1]), "08P01")
      assert.strictEqual(severityOf(got[1]), "ERROR")
      await stillServes(c)
      c.close()
    })
  })
})
