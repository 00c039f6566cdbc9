/**
 * Random client messages after start-up: Schema arbitraries of every frontend
 * message and random bytes under random type bytes. Whatever arrives, the
 * connection either answers and stays usable (a Query after it gets its
 * result and ReadyForQuery) or closes after a FATAL 08P01; it never closes
 * silently (a defect), and the listener keeps serving.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Frontend from "../../src/protocol/Frontend.ts"
import { handler, makeProbe } from "./ScriptedHandler.ts"
import { codeOf, concat, encodeFrontend, RawClient, type Running, severityOf, startServer, startup } from "./Support.ts"

const PROBE = encodeFrontend({ _tag: "Query", query: "select 42" })

/** Sends `frame`, a Sync and a probe query; checks the invariant. */
const check = async (port: number, frame: Uint8Array): Promise<void> => {
  const c = await RawClient.open(port)
  c.send(startup())
  await c.until("ReadyForQuery")
  const from = c.messages.length
  c.send(frame, Frontend.SYNC, PROBE)
  const answered = () => c.messages.findIndex((m, i) => i >= from && m._tag === "DataRow")
  await c.waitFor(() => answered() >= 0)
  if (!c.closed) {
    const rest = await c.until("ReadyForQuery", answered())
    assert.strictEqual(rest.at(-1)?._tag, "ReadyForQuery")
    c.close()
    return
  }
  const last = c.messages.at(-1)
  const terminated = frame[0] === 0x58
  if (!terminated) {
    assert.strictEqual(last?._tag, "ErrorResponse", `closed without a FATAL after ${Buffer.from(frame.subarray(0, 16)).toString("hex")}`)
    assert.strictEqual(codeOf(last), "08P01")
    assert.strictEqual(severityOf(last), "FATAL")
  }
}

describe("PgServer under random frames", () => {
  let shared: Running | undefined
  beforeAll(async () => {
    shared = await startServer({ handler: handler(makeProbe()) })
  })
  afterAll(() => shared?.close())

  it.effect.prop("a Schema-arbitrary frontend message never breaks the engine", [Frontend.MessageSchema], ([m]) =>
    Effect.promise(async () => {
      const encoded = Frontend.encode(m as Frontend.FrontendMessage)
      if (Result.isFailure(encoded)) return
      await check(shared!.port, encoded.success)
    }), { arbitrary: { runs: 60 } })

  it("random bytes under every type byte never break the engine", async () => {
    const server = await startServer({ handler: handler(makeProbe()) })
    let seed = 20_261_206
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) >>> 0)
    try {
      for (let i = 0; i < 60; i++) {
        const type = i < 40 ? next() % 128 : [0x42, 0x50, 0x45, 0x44, 0x43, 0x46][i % 6]!
        const body = new Uint8Array(next() % 24)
        for (let k = 0; k < body.length; k++) body[k] = next() & 0xff
        const frame = concat(new Uint8Array([type, 0, 0, 0, 0]), body)
        new DataView(frame.buffer).setInt32(1, body.length + 4)
        await check(server.port, frame)
      }
      // The listener still serves.
      await check(server.port, new Uint8Array(0))
    } finally {
      await server.close()
    }
  })
})
