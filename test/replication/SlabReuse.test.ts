/**
 * The feed's slabs (64 KiB buffers the received payloads are copied into) are reused once the logical
 * consumer is done with the batch they were in: no payload is overwritten while it waits to be taken or decoded.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import { servers } from "../support/Servers.ts"
import { logicalFixture, sqlSession } from "./Support.ts"

/** Transactions and rows per transaction: more rows than the feed hands out at once, so some always wait. */
const TRANSACTIONS = 6
const ROWS = 3000
/** Each value: 256 characters that differ from row to row (some 4.6 MiB in all, about 75 slabs). */
const expected = (id: number): string => createHash("md5").update(String(id)).digest("hex").repeat(8)

describe("PgReplication.logical: slabs reused", () => {
  it.live("every value of thousands of buffered rows arrives intact while slabs are reused", () =>
    Effect.gen(function*() {
      const session = yield* sqlSession(servers().main)
      const f = yield* logicalFixture(session, servers().main)
      for (let t = 0; t < TRANSACTIONS; t++) {
        yield* session.query(
          `insert into ${f.table} select g, repeat(md5(g::text), 8) from generate_series($1::int, $2::int) g`,
          [t * ROWS + 1, (t + 1) * ROWS]
        )
      }
      let next = 1
      let wrong = 0
      let commits = 0
      yield* f.open({ statusIntervalMillis: 100 }).pipe(
        Stream.takeUntil((c) => c._tag === "Commit" && ++commits === TRANSACTIONS),
        Stream.runForEach((c) =>
          Effect.gen(function*() {
            if (c._tag !== "Insert") return
            const id = c.new["id"] as number
            if (id !== next || c.new["v"] !== expected(id)) wrong++
            next = id + 1
            // A slow start and pauses: the feed buffers what arrives meanwhile, batches leave messages behind.
            if (id === 1) yield* Effect.sleep(200)
            else if (id % 2000 === 0) yield* Effect.sleep(5)
          })
        )
      )
      assert.strictEqual(next, TRANSACTIONS * ROWS + 1, "every row arrived, in order")
      assert.strictEqual(wrong, 0, "no value was overwritten")
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
