/**
 * The settle decision, every input that changes it.
 */
import { assert, describe, it } from "@effect/vitest"
import { ServerError } from "../../src/errors/PgError.ts"
import { decide, type Finished } from "../../src/session/Settle.ts"

const error = (code: string) => new ServerError({ severity: "ERROR", code, message: code })

const base: Finished = {
  discard: false,
  hasRawRows: false,
  serverError: undefined,
  retries: 0,
  failedOnNamedStatement: false,
  atRiskOfStrayCancel: false,
  endedTransaction: false
}

const stale = new ServerError({ severity: "ERROR", code: "42804", message: "retyped", routine: "transformAssignedExpr" })

describe("Settle.decide", () => {
  it("drops what nobody waits for, and answers a failure of the connection", () => {
    assert.strictEqual(decide({ ...base, discard: true, hasRawRows: true }, "I"), "drop")
    assert.strictEqual(decide({ ...base, hasRawRows: true, serverError: error("26000") }, undefined), "answer")
  })

  it("looks types up before answering rows kept as bytes, unless the request failed", () => {
    assert.strictEqual(decide({ ...base, hasRawRows: true }, "I"), "lookUpTypes")
    assert.strictEqual(decide({ ...base, hasRawRows: true }, "T"), "lookUpTypes")
    assert.strictEqual(decide({ ...base, hasRawRows: true, serverError: error("22012") }, "I"), "answer")
    assert.strictEqual(decide(base, "I"), "answer")
  })

  it("prepares a stale named statement afresh outside a transaction block only, once", () => {
    for (const e of [error("26000"), error("0A000"), stale]) {
      const finished = { ...base, serverError: e, failedOnNamedStatement: true }
      assert.strictEqual(decide(finished, "I"), "reprepare", e.code)
      assert.strictEqual(decide(finished, "T"), "evict", e.code)
      assert.strictEqual(decide(finished, "E"), "evict", e.code)
      assert.strictEqual(decide({ ...finished, endedTransaction: true }, "I"), "evict", e.code)
      assert.strictEqual(decide({ ...finished, retries: 1 }, "I"), "answer", e.code)
      assert.strictEqual(decide({ ...finished, failedOnNamedStatement: false }, "I"), "answer", e.code)
    }
    const otherRoutine = new ServerError({ severity: "ERROR", code: "42804", message: "x", routine: "coerce_type" })
    assert.strictEqual(decide({ ...base, serverError: otherRoutine, failedOnNamedStatement: true }, "I"), "answer")
  })

  it("runs once more what a stray cancel hit, outside a transaction block", () => {
    const hit = { ...base, serverError: error("57014"), atRiskOfStrayCancel: true }
    assert.strictEqual(decide(hit, "I"), "rerun")
    assert.strictEqual(decide(hit, "T"), "answer")
    assert.strictEqual(decide({ ...hit, retries: 1 }, "I"), "answer")
    assert.strictEqual(decide({ ...hit, atRiskOfStrayCancel: false }, "I"), "answer")
  })
})
