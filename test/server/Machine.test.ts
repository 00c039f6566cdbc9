/**
 * The server's per-connection state machine (`Machine.step`), without
 * sockets: which messages run, which are discarded until Sync, what COPY FROM
 * STDIN accepts, and how the transaction status byte moves.
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Frontend from "../../src/protocol/Frontend.ts"
import * as Machine from "../../src/server/Machine.ts"

const parse: Frontend.FrontendMessage = { _tag: "Parse", name: "", query: "select 1", parameterTypes: [] }
const sync: Frontend.FrontendMessage = { _tag: "Sync" }
const query: Frontend.FrontendMessage = { _tag: "Query", query: "select 1" }
const copyData: Frontend.FrontendMessage = { _tag: "CopyData", data: new Uint8Array([1]) }

const actions = (state: Machine.State, messages: ReadonlyArray<Frontend.FrontendMessage>) => {
  const out: Array<string> = []
  for (const m of messages) {
    const t = Machine.step(state, m)
    state = t.state
    out.push(t.action._tag)
  }
  return { state, out }
}

describe("server Machine.step", () => {
  it("runs extended messages, flushes on Flush and answers Sync", () => {
    const { out } = actions(Machine.initial, [parse, { _tag: "Flush" }, sync, query])
    assert.deepStrictEqual(out, ["Run", "Flush", "Sync", "Run"])
  })

  it("discards everything but Sync after an extended-protocol error, Query included", () => {
    const failed = Machine.failed(Machine.initial, true)
    const { out, state } = actions(failed, [parse, query, { _tag: "Flush" }, copyData, sync, parse])
    assert.deepStrictEqual(out, ["Ignore", "Ignore", "Ignore", "Ignore", "Sync", "Run"])
    assert.strictEqual(state.phase._tag, "Ready")
  })

  it("keeps running after a simple-query error (the ReadyForQuery already went out)", () => {
    const failed = Machine.failed(Machine.initial, false)
    assert.deepStrictEqual(actions(failed, [query]).out, ["Run"])
  })

  it("moves the status byte: begin to T, an error in T to E, E stays E until commit or rollback", () => {
    let s = Machine.completed(Machine.initial, "begin")
    assert.strictEqual(s.transaction, "T")
    s = Machine.failed(s, false)
    assert.strictEqual(s.transaction, "E")
    s = Machine.completed(s, undefined)
    assert.strictEqual(s.transaction, "E")
    s = Machine.completed(s, "begin")
    assert.strictEqual(s.transaction, "E")
    assert.strictEqual(Machine.completed(s, "rollback").transaction, "I")
    assert.strictEqual(Machine.failed(Machine.initial, true).transaction, "I")
  })

  it("in COPY FROM STDIN passes data, ignores Flush and Sync, and makes anything else a COPY violation", () => {
    const copying = Machine.copyIn(Machine.initial, true)
    const { out } = actions(copying, [copyData, { _tag: "Flush" }, sync, query, { _tag: "CopyDone" }, { _tag: "CopyFail", message: "x" }])
    assert.deepStrictEqual(out, ["CopyData", "Ignore", "Ignore", "CopyViolation", "CopyDone", "CopyFail"])
  })

  it("ignores COPY messages outside COPY and treats password messages after start-up as fatal", () => {
    const { out } = actions(Machine.initial, [copyData, { _tag: "CopyDone" }, { _tag: "CopyFail", message: "x" }, { _tag: "PasswordMessage", password: "p" }, { _tag: "Terminate" }])
    assert.deepStrictEqual(out, ["Ignore", "Ignore", "Ignore", "Fatal", "Terminate"])
  })
})
