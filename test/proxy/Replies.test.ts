/**
 * The verdicts of the reply accounting: which upstream frame ends which entry.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Entry, judge, Kind, Verdict } from "../../src/proxy/Replies.ts"
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
})
