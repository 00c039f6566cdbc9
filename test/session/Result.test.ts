import { assert, describe, it } from "@effect/vitest"
import { parseCommandTag, selectCount } from "../../src/session/Result.ts"

describe("CommandComplete tags", () => {
  it("splits every kind of tag into the command and the row count", () => {
    const cases: ReadonlyArray<readonly [string, string, number | null]> = [
      ["SELECT 0", "SELECT", 0],
      ["SELECT 1", "SELECT", 1],
      ["SELECT 123456789012345", "SELECT", 123456789012345],
      ["INSERT 0 5", "INSERT", 5],
      ["UPDATE 3", "UPDATE", 3],
      ["DELETE 0", "DELETE", 0],
      ["MERGE 2", "MERGE", 2],
      ["COPY 10", "COPY", 10],
      ["FETCH 1", "FETCH", 1],
      ["MOVE 2", "MOVE", 2],
      ["CREATE TABLE", "CREATE TABLE", null],
      ["BEGIN", "BEGIN", null],
      ["SELECT", "SELECT", null],
      ["SELECT x", "SELECT x", null],
      ["", "", null]
    ]
    for (const [tag, command, rowCount] of cases) assert.deepStrictEqual(parseCommandTag(tag), { command, rowCount }, tag)
  })

  it("reads SELECT counts without making strings, and declines everything else", () => {
    assert.strictEqual(selectCount("SELECT 0"), 0)
    assert.strictEqual(selectCount("SELECT 42"), 42)
    assert.strictEqual(selectCount("SELECT 999999999999999"), 999999999999999)
    for (const tag of ["SELECT", "SELECT ", "SELECT x", "SELECT 1 2", "SELECT -1", "SELECT 1e3", "INSERT 0 1", "select 1"]) {
      assert.strictEqual(selectCount(tag), -1, tag)
    }
    // Beyond 15 digits the general parser takes over (and says what Number makes of it).
    assert.strictEqual(selectCount("SELECT 1234567890123456"), -1)
    assert.deepStrictEqual(parseCommandTag("SELECT 1234567890123456"), { command: "SELECT", rowCount: 1234567890123456 })
  })
})
