/**
 * The 36 binary DataRows of `SELECT $1::<type>` captured from a live
 * PostgreSQL 16 by Effect's sql-pg codec tests (test/fixtures/types/
 * effect_sql_pg_binary_datarows.json, a semi-public corpus): each field
 * decodes to the value that was sent, and encoding that value as a binary
 * parameter gives the field's bytes back (the query echoed its parameter).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import { readFileSync } from "node:fs"
import * as Backend from "../../src/protocol/Backend.ts"
import * as Message from "../../src/protocol/Message.ts"
import { Oid } from "../../src/types/Oid.ts"
import { defaultRegistry } from "../../src/types/Registry.ts"

interface Row {
  readonly name: string
  readonly sql_type: string
  readonly value: unknown
  readonly datarow_hex: string
}

const fixture = JSON.parse(
  readFileSync(new URL("../fixtures/types/effect_sql_pg_binary_datarows.json", import.meta.url), "utf8")
) as { readonly binary_datarows: ReadonlyArray<Row> }

const oidOf = (sqlType: string): number => {
  const name = sqlType.endsWith("[]") ? `_${sqlType.slice(0, -2)}` : sqlType
  const oid = (Oid as Record<string, number>)[name]
  if (oid === undefined) throw new Error(`unknown type ${sqlType}`)
  return oid
}

/** That corpus' JavaScript value, in this library's representation. */
const ours = (row: Row): unknown => {
  const v = row.value as any
  const one = (x: any): unknown => {
    if (x === null) return null
    if (typeof x === "object" && "epoch_ms" in x) return new Date(x.epoch_ms)
    return x
  }
  switch (row.name) {
    case "int8Max":
    case "int8Min":
      return BigInt(v)
    case "bytea":
      return new Uint8Array(Buffer.from(v.hex, "hex"))
    case "time":
      return v.text
    case "timetz":
      // That codec prints "+02:00"; PostgreSQL's own text (which we reproduce) is "+02".
      return "12:34:56+02"
    case "timestamp":
    case "timestamptz":
      return new Date(v.epoch_ms)
    case "timestampInfinity":
      return Number.POSITIVE_INFINITY
    case "timestamptzNegInfinity":
      return Number.NEGATIVE_INFINITY
    case "timestamptzArray":
      return (v as Array<unknown>).map(one)
    default:
      return v
  }
}

describe("effect sql-pg binary DataRows (PostgreSQL 16)", () => {
  it("has the 36 rows", () => {
    assert.strictEqual(fixture.binary_datarows.length, 36)
  })

  for (const row of fixture.binary_datarows) {
    it(`${row.name}: decodes to the value sent and encodes back to the same bytes`, () => {
      const frame = Result.getOrThrow(
        Message.decodeFrame(Backend.DataRow, new Uint8Array(Buffer.from(row.datarow_hex, "hex")))
      )
      assert.strictEqual(frame.values.length, 1)
      const field = frame.values[0]!
      assert.isNotNull(field)
      const oid = oidOf(row.sql_type)
      assert.strictEqual(defaultRegistry.resultFormat(oid), 1)
      const value = defaultRegistry.decoder(oid, 1)(field!, 0, field!.length)
      assert.deepStrictEqual(value, ours(row))
      const encoded = defaultRegistry.encodeParameter(value, oid)
      if (row.name === "jsonb") {
        // The server prints jsonb with spaces; the same document, serialised compactly.
        assert.deepStrictEqual(encoded.bytes, new Uint8Array([1, ...Buffer.from(JSON.stringify(value))]))
      } else if (encoded.format === 1) assert.deepStrictEqual(encoded.bytes, field)
      else assert.isTrue(typeof value === "string" || Array.isArray(value), row.name)
    })
  }
})
