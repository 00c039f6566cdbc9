import { assert, describe, it } from "@effect/vitest"
import { PgError, ServerError } from "../../src/errors/PgError.ts"
import { AckState } from "../../src/replication/AckState.ts"
import * as Errors from "../../src/replication/Errors.ts"

describe("AckState", () => {
  it("a position of 0 (Relation, Type) never moves the received position back", () => {
    const a = new AckState(true)
    a.onPosition(0x1000n)
    a.onPosition(0n)
    assert.strictEqual(a.received, 0x1000n)
  })

  it("only ack moves the flush position, to the acknowledged end and never backwards", () => {
    const a = new AckState(true)
    a.onBegin()
    a.onEnd(0x200n)
    a.onBegin()
    a.onEnd(0x300n)
    assert.strictEqual(a.flushed, 0n)
    assert.strictEqual(a.received, 0x300n)
    assert.isTrue(a.ack(0x200n))
    assert.strictEqual(a.flushed, 0x200n)
    assert.deepStrictEqual(a.unacknowledged, [0x300n])
    assert.isFalse(a.ack(0x100n))
    assert.strictEqual(a.flushed, 0x200n)
  })

  it("acknowledging a commit LSN (the commit record's start) leaves that transaction unacknowledged", () => {
    const a = new AckState(true)
    const commitLsn = 0x1f0n
    const endLsn = 0x220n
    a.onBegin()
    a.onEnd(endLsn)
    a.ack(commitLsn)
    assert.deepStrictEqual(a.unacknowledged, [endLsn])
    assert.isFalse(a.idle)
    // So a keepalive cannot advance past it either.
    assert.isFalse(a.onKeepalive(0x400n))
    assert.strictEqual(a.flushed, commitLsn)
    a.ack(endLsn)
    assert.isTrue(a.idle)
  })

  it("keepalive positions are acknowledged only while idle: nothing unacknowledged, nothing open or streamed", () => {
    const a = new AckState(true)
    assert.isTrue(a.onKeepalive(0x100n))
    assert.strictEqual(a.flushed, 0x100n)
    a.onBegin()
    assert.isFalse(a.onKeepalive(0x200n), "a transaction is open")
    a.onEnd(0x300n)
    assert.isFalse(a.onKeepalive(0x400n), "a received transaction is unacknowledged")
    a.ack(0x300n)
    assert.isTrue(a.onKeepalive(0x500n))
    a.onStreamStart(42)
    assert.isFalse(a.onKeepalive(0x600n), "a streamed transaction is in progress")
    a.onStreamDone(42)
    assert.isTrue(a.onKeepalive(0x600n))
    assert.strictEqual(a.flushed, 0x600n)
  })

  it("without idle advance keepalives move nothing", () => {
    const a = new AckState(false)
    assert.isFalse(a.onKeepalive(0x100n))
    assert.strictEqual(a.flushed, 0n)
    assert.strictEqual(a.received, 0x100n)
  })
})

describe("Errors.classify", () => {
  const server = (code: string, message: string) =>
    new PgError({ reason: new ServerError({ severity: "ERROR", code, message }) })
  const tagOf = (error: PgError) => {
    const c = Errors.classify(error, "s")
    return c instanceof Errors.ReplicationError ? c.reason._tag : c.reason._tag
  }

  it("maps the server's slot and WAL conditions to their reasons, and nothing else", () => {
    assert.strictEqual(tagOf(server("42704", "replication slot \"s\" does not exist")), "SlotNotFound")
    assert.strictEqual(tagOf(server("55006", "replication slot \"s\" is active for PID 42")), "SlotInUse")
    assert.strictEqual(
      tagOf(server("55000", "can no longer get changes from replication slot \"s\"")),
      "SlotInvalidated"
    )
    assert.strictEqual(
      tagOf(server("58P01", "requested WAL segment 000000010000000000000001 has already been removed")),
      "WalRemoved"
    )
    assert.strictEqual(tagOf(server("42704", "type \"x\" does not exist")), "ServerError")
    assert.strictEqual(tagOf(server("42601", "syntax error")), "ServerError")
  })
})
