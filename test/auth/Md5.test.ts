import { assert, describe, it } from "@effect/vitest"
import { Buffer } from "node:buffer"
import * as Md5 from "../../src/auth/Md5.ts"
import goldens from "../fixtures/auth/effect_sql_pg_auth_goldens.json" with { type: "json" }

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"))

describe("Md5", () => {
  it("answers the challenge a live PostgreSQL 16 accepted", () => {
    const g = goldens.md5
    assert.strictEqual(Md5.passwordResponse(g.password, g.user, hex(g.salt)), g.expected)
  })

  it("computes the stored form and the response by the documented formula", () => {
    // Worked out with coreutils: printf 'secreteffect' | md5sum, then
    // (printf '<that hex>'; printf '\x70\xe7\xd4\x5e') | md5sum.
    assert.strictEqual(Md5.storedPassword("secret", "effect"), "md5e05e723776338603aec56aec353e2445")
    assert.strictEqual(
      Md5.responseFromStored("md5e05e723776338603aec56aec353e2445", hex("70e7d45e")),
      "md5dc8f3c0ed2dd6e3843d5b7623544d96b"
    )
    assert.strictEqual(Md5.storedPassword("foo", "bar"), "md53858f62230ac3c915f300c664312c63f")
    assert.strictEqual(Md5.storedPassword("", ""), "md5d41d8cd98f00b204e9800998ecf8427e")
    assert.strictEqual(
      Md5.responseFromStored("md5d41d8cd98f00b204e9800998ecf8427e", new Uint8Array(0)),
      "md574be16979710d4c4e7c6647856088456"
    )
  })

  it("hashes strings as UTF-8 and bytes as given", () => {
    assert.strictEqual(Md5.storedPassword("p\u00E9", "u"), Md5.storedPassword(new Uint8Array([0x70, 0xc3, 0xa9]), new Uint8Array([0x75])))
    assert.notStrictEqual(Md5.storedPassword("p\u00E9", "u"), Md5.storedPassword(new Uint8Array([0x70, 0xe9]), "u"))
  })

  it("verifies a response on the server side", () => {
    const salt = new Uint8Array([1, 2, 3, 4])
    const stored = Md5.storedPassword("pw", "alice")
    assert.isTrue(Md5.isStoredPassword(stored))
    assert.isTrue(Md5.verifyResponse(stored, salt, Md5.passwordResponse("pw", "alice", salt)))
    assert.isFalse(Md5.verifyResponse(stored, salt, Md5.passwordResponse("pw", "bob", salt)))
    assert.isFalse(Md5.verifyResponse(stored, new Uint8Array([1, 2, 3, 5]), Md5.passwordResponse("pw", "alice", salt)))
    assert.isFalse(Md5.verifyResponse(stored, salt, ""))
    assert.isFalse(Md5.verifyResponse("SCRAM-SHA-256$4096:...", salt, Md5.passwordResponse("pw", "alice", salt)))
    assert.isFalse(Md5.isStoredPassword("md5" + "A".repeat(32)))
  })
})
