/**
 * Protocol 2.0 transaction status on PostgreSQL 13 after a COMMIT that fails: the server ends the transaction
 * (a deferred constraint checked at COMMIT rolls it back), so the status is I, as 3.x's ReadyForQuery says.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { connect13 } from "./Support.ts"

describe("protocol 2.0: a failed COMMIT", () => {
  it.live("leaves transactionStatus I, as on 3.x, and the next statement runs outside a transaction", () =>
    Effect.gen(function*() {
      for (const protocolVersion of ["3.0", "2.0"] as const) {
        const session = yield* connect13({ protocolVersion })
        yield* session.simple(
          "create temp table parent (id int primary key); " +
            "create temp table child (p int references parent deferrable initially deferred)"
        )
        yield* session.simple("BEGIN")
        // With a parameter: an EXECUTE, which keeps the tracked status (T).
        yield* session.query("insert into child values ($1)", [1])
        const commit = yield* Effect.exit(session.simple("COMMIT"))
        assert.isTrue(Exit.isFailure(commit), protocolVersion)
        assert.strictEqual(yield* session.transactionStatus, "I", protocolVersion)
        // A stream reads a cursor only inside a block: outside one, DECLARE would fail.
        const rows = yield* Stream.runCollect(session.stream("select g from generate_series(1, 2) g"))
        assert.deepStrictEqual(rows, [{ g: 1 }, { g: 2 }], protocolVersion)
      }
    }), 20_000)
})
