import { assert, describe, it } from "@effect/vitest"
import { Statement, StatementCache } from "../../src/session/Statement.ts"

const statement = (cache: StatementCache, sql: string) => new Statement(cache.nextName(), sql, [])

describe("StatementCache", () => {
  it("evicts the least recently used statement, and a lookup counts as a use", () => {
    const cache = new StatementCache(2)
    const a = statement(cache, "a")
    const b = statement(cache, "b")
    assert.deepStrictEqual(cache.add("a", a), [])
    assert.deepStrictEqual(cache.add("b", b), [])
    assert.strictEqual(cache.get("a"), a)
    const c = statement(cache, "c")
    assert.deepStrictEqual(cache.add("c", c), [b])
    assert.strictEqual(cache.get("b"), undefined)
    assert.strictEqual(cache.get("a"), a)
    const d = statement(cache, "d")
    assert.deepStrictEqual(cache.add("d", d), [c])
    assert.strictEqual(cache.size, 2)
  })

  it("names statements uniquely and never reuses a name", () => {
    const cache = new StatementCache(1)
    const names = new Set<string>()
    for (let i = 0; i < 100; i++) {
      const s = statement(cache, `q${i}`)
      names.add(s.name)
      cache.add(`q${i}`, s)
    }
    assert.strictEqual(names.size, 100)
  })

  it("removes a statement only if it is still the cached one for its key", () => {
    const cache = new StatementCache(4)
    const old = statement(cache, "x")
    const fresh = statement(cache, "x")
    cache.add("x", old)
    cache.add("x", fresh)
    assert.isFalse(cache.remove("x", old))
    assert.isTrue(cache.remove("x", fresh))
    assert.strictEqual(cache.size, 0)
  })
})
