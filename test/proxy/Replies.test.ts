/**
 * The verdicts of the reply accounting: which upstream frame ends which entry.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Entry, judge, Kind, owedOnLoss, PARSE_COMPLETE, readyFrame, Verdict } from "../../src/proxy/Replies.ts"
import { Backend as Code } from "../../src/wire/Codes.ts"

describe("proxy reply accounting", () => {
  it("judges each upstream frame against the head entry", () => {
    const e = (kind: Entry["kind"]): Entry => ({ kind })
    assert.strictEqual(judge(e(Kind.Parse), Code.ParseComplete), Verdict.RelayLast)
    assert.strictEqual(judge(e(Kind.ParseHidden), Code.ParseComplete), Verdict.DropLast)
    assert.strictEqual(judge(e(Kind.Parse), Code.BindComplete), Verdict.Desync)
    const describe = e(Kind.DescribeStatement)
    assert.strictEqual(judge(describe, Code.ParameterDescription), Verdict.Relay)
    assert.strictEqual(judge(describe, Code.ParameterDescription), Verdict.Desync)
    assert.strictEqual(judge(describe, Code.NoData), Verdict.RelayLast)
    assert.strictEqual(judge(e(Kind.Execute), Code.DataRow), Verdict.Relay)
    assert.strictEqual(judge(e(Kind.Execute), Code.PortalSuspended), Verdict.RelayLast)
    assert.strictEqual(judge(e(Kind.CloseHidden), Code.CloseComplete), Verdict.DropLast)
    assert.strictEqual(judge(e(Kind.QueryHidden), Code.DataRow), Verdict.Drop)
    assert.strictEqual(judge(e(Kind.Sync), Code.DataRow), Verdict.Desync)
  })

  it("owes, when the upstream is lost, one failure per batch and each ReadyForQuery", () => {
    const failure = new Uint8Array([0x45])
    const ready = readyFrame("I")
    const entries: Array<Entry> = [
      { kind: Kind.Synthetic, bytes: PARSE_COMPLETE },
      { kind: Kind.Bind },
      { kind: Kind.Execute },
      { kind: Kind.Sync },
      { kind: Kind.QueryHidden },
      { kind: Kind.Query },
      { kind: Kind.Parse }
    ]
    const owed = owedOnLoss(entries, 0, failure)
    assert.deepStrictEqual(owed.frames, [PARSE_COMPLETE, failure, ready, failure, ready, failure])
    assert.strictEqual(owed.open, true)
    assert.deepStrictEqual(owedOnLoss(entries.slice(0, 4), 0, failure), { frames: [PARSE_COMPLETE, failure, ready], open: false })
  })
})
