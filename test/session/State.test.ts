/**
 * The session's one transition function, walked over every phase and every
 * backend message (protocol-3.2 "Message Flow"): which messages each phase
 * accepts and what each does to the request's position.
 */
import { assert, describe, it } from "@effect/vitest"
import * as State from "../../src/session/State.ts"

const PHASES: ReadonlyArray<State.Phase> = [
  "Startup",
  "ParseComplete",
  "BindComplete",
  "ParameterDescription",
  "RowDescription",
  "Rows",
  "SimpleResult",
  "SimpleRows",
  "CloseComplete",
  "FunctionCallResponse",
  "CopyIn",
  "CopyOut",
  "CopyOutDone",
  "CopyBoth",
  "ReadyForQuery"
]

const EVENTS: ReadonlyArray<State.Event> = [
  "AuthenticationRequest",
  "BackendKeyData",
  "NegotiateProtocolVersion",
  "ParseComplete",
  "BindComplete",
  "CloseComplete",
  "ParameterDescription",
  "RowDescription",
  "NoData",
  "DataRow",
  "CommandComplete",
  "EmptyQueryResponse",
  "PortalSuspended",
  "CopyInResponse",
  "CopyOutResponse",
  "CopyBothResponse",
  "CopyData",
  "CopyDone",
  "FunctionCallResponse",
  "ErrorResponse",
  "ReadyForQuery"
]

/** What each phase accepts; every other message (but ErrorResponse, always a Skip) is a desync. */
const ACCEPTS: Record<State.Phase, Partial<Record<State.Event, State.Outcome>>> = {
  Startup: { AuthenticationRequest: "Stay", BackendKeyData: "Stay", NegotiateProtocolVersion: "Stay", ReadyForQuery: "Complete" },
  ParseComplete: { ParseComplete: "Advance" },
  BindComplete: { BindComplete: "Advance" },
  ParameterDescription: { ParameterDescription: "Advance" },
  RowDescription: { RowDescription: "Advance", NoData: "Advance" },
  Rows: {
    DataRow: "Stay",
    CommandComplete: "Advance",
    EmptyQueryResponse: "Advance",
    PortalSuspended: "Advance",
    CopyInResponse: "Copy",
    CopyOutResponse: "Copy",
    CopyBothResponse: "Copy"
  },
  SimpleResult: {
    RowDescription: "Advance",
    CommandComplete: "Stay",
    EmptyQueryResponse: "Stay",
    CopyInResponse: "Copy",
    CopyOutResponse: "Copy",
    CopyBothResponse: "Copy",
    ReadyForQuery: "Complete"
  },
  SimpleRows: { DataRow: "Stay", CommandComplete: "Advance" },
  CloseComplete: { CloseComplete: "Advance" },
  FunctionCallResponse: { FunctionCallResponse: "Advance" },
  CopyIn: { CommandComplete: "Advance" },
  CopyOut: { CopyData: "Stay", CopyDone: "Advance" },
  CopyOutDone: { CommandComplete: "Advance" },
  CopyBoth: { CopyData: "Stay", CopyDone: "Advance" },
  ReadyForQuery: { ReadyForQuery: "Complete" }
}

const cursor = (phase: State.Phase, plan: ReadonlyArray<State.Phase>, index: number, portal = false): State.Cursor => ({
  phase,
  plan,
  index,
  afterCopy: "ReadyForQuery",
  continuePortal: () => portal
})

const UNNAMED: ReadonlyArray<State.Phase> = ["ParseComplete", "BindComplete", "RowDescription", "Rows", "ReadyForQuery"]

describe("State.step: every phase x every backend message", () => {
  for (const phase of PHASES) {
    it(phase, () => {
      for (const event of EVENTS) {
        const expected = event === "ErrorResponse" ? "Skip" : (ACCEPTS[phase][event] ?? "Desync")
        assert.strictEqual(State.step(phase, event), expected, `${phase} x ${event}`)
      }
    })
  }
})

describe("State: what a message does to the request's position", () => {
  it("an extended-protocol plan advances phase by phase to ReadyForQuery", () => {
    const c = cursor("ReadyForQuery", [], 0)
    State.begin(c, UNNAMED)
    const seen: Array<State.Phase> = [c.phase]
    for (const event of ["ParseComplete", "BindComplete", "RowDescription", "CommandComplete"] as const) {
      assert.strictEqual(State.step(c.phase, event), "Advance")
      State.advance(c, event)
      seen.push(c.phase)
    }
    assert.deepStrictEqual(seen, UNNAMED)
  })

  it("a PortalSuspended keeps a paged portal in Rows, and ends the Execute of one that is synced", () => {
    const paged = cursor("Rows", ["BindComplete", "Rows", "ReadyForQuery"], 1, true)
    State.advance(paged, "PortalSuspended")
    assert.strictEqual(paged.phase, "Rows")
    const synced = cursor("Rows", ["BindComplete", "Rows", "ReadyForQuery"], 1, false)
    State.advance(synced, "PortalSuspended")
    assert.strictEqual(synced.phase, "ReadyForQuery")
  })

  it("a simple query's result sets open and close until ReadyForQuery", () => {
    const c = cursor("SimpleResult", ["SimpleResult"], 0)
    State.advance(c, "RowDescription")
    assert.strictEqual(c.phase, "SimpleRows")
    State.advance(c, "CommandComplete")
    assert.strictEqual(c.phase, "SimpleResult")
  })

  it("a COPY returns where it started: the next simple result, or the plan's next phase", () => {
    const simple = cursor("SimpleResult", ["SimpleResult"], 0)
    State.enterCopy(simple, "CopyOutResponse")
    assert.strictEqual(simple.phase, "CopyOut")
    State.advance(simple, "CopyDone")
    assert.strictEqual(simple.phase, "SimpleResult")
    const extended = cursor("Rows", UNNAMED, 3)
    State.enterCopy(extended, "CopyOutResponse")
    assert.strictEqual(extended.phase, "CopyOut")
    State.advance(extended, "CopyDone")
    assert.strictEqual(extended.phase, "CopyOutDone")
    State.advance(extended, "CommandComplete")
    assert.strictEqual(extended.phase, "ReadyForQuery")
    const copyIn = cursor("SimpleResult", ["SimpleResult"], 0)
    State.enterCopy(copyIn, "CopyInResponse")
    assert.strictEqual(copyIn.phase, "CopyIn")
    State.advance(copyIn, "CommandComplete")
    assert.strictEqual(copyIn.phase, "SimpleResult")
    const both = cursor("SimpleResult", ["SimpleResult"], 0)
    State.enterCopy(both, "CopyBothResponse")
    assert.strictEqual(both.phase, "CopyBoth")
  })

  it("an error skips to ReadyForQuery from any phase but start-up", () => {
    for (const phase of PHASES) {
      const c = cursor(phase, UNNAMED, 0)
      State.skip(c)
      assert.strictEqual(c.phase, phase === "Startup" ? "Startup" : "ReadyForQuery", phase)
    }
  })
})
