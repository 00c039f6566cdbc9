/**
 * The client's PostgreSQL extras (`PgClient.stream`, ...) against the real server: they follow the client's
 * configuration as its statements do.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as PgClient from "../../src/sql/PgClient.ts"
import { layer } from "./Clients.ts"

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())

describe("PgClient extras", () => {
  it.live("stream renames columns with transformResultNames, as statements and sql.stream do", () =>
    Effect.gen(function*() {
      const client = yield* PgClient.PgClient
      const statement = client`select n as user_id, 'x' as display_name from generate_series(1, 2) n`
      const expected = [{ userId: 1, displayName: "x" }, { userId: 2, displayName: "x" }]
      assert.deepStrictEqual(yield* statement, expected)
      assert.deepStrictEqual(Array.from(yield* Stream.runCollect(statement.stream)), expected)
      assert.deepStrictEqual(Array.from(yield* Stream.runCollect(client.stream(statement))), expected)
      assert.deepStrictEqual(Array.from(yield* Stream.runCollect(client.stream(statement, { pageSize: 1 }))), expected)
      // Arrays have no names to rename.
      assert.deepStrictEqual(
        Array.from(yield* Stream.runCollect(client.stream<ReadonlyArray<unknown>>(statement, { rowMode: "array" }))),
        [[1, "x"], [2, "x"]]
      )
      // Inside a transaction too.
      const inTx = yield* client.withTransaction(Stream.runCollect(client.stream(statement)))
      assert.deepStrictEqual(Array.from(inTx), expected)
    }).pipe(Effect.provide(layer({ transformResultNames: camel }))))
})
