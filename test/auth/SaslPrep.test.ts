import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as SaslPrep from "../../src/auth/SaslPrep.ts"
import vectors from "../fixtures/auth/scram_sha256_vectors.json" with { type: "json" }

const prepared = (input: string): string => {
  const r = SaslPrep.saslPrep(input)
  if (r._tag !== "Prepared") return assert.fail(`rejected (${r.reason}): ${JSON.stringify(input)}`)
  return r.value
}

const rejection = (input: string): SaslPrep.SaslPrepRejection => {
  const r = SaslPrep.saslPrep(input)
  if (r._tag !== "Rejected") return assert.fail(`accepted as ${JSON.stringify(r.value)}: ${JSON.stringify(input)}`)
  return r.reason
}

const utf8 = (s: string) => new TextEncoder().encode(s)

describe("SaslPrep", () => {
  it("maps the fixture's equivalent passwords to the same string", () => {
    for (const e of vectors.saslprep_equivalences) {
      assert.strictEqual(prepared(e.password), prepared(e.equivalent_to), e.rule)
    }
  })

  it("follows RFC 4013 section 3's examples, except that ASCII passes unchanged as in PostgreSQL", () => {
    assert.strictEqual(prepared("I\u00ADX"), "IX")
    assert.strictEqual(prepared("user"), "user")
    assert.strictEqual(prepared("USER"), "USER")
    assert.strictEqual(prepared("\u00AA"), "a")
    assert.strictEqual(prepared("\u2168"), "IX")
    // RFC 4013 rejects U+0007; PostgreSQL skips SASLprep for ASCII strings.
    assert.strictEqual(prepared("\u0007"), "\u0007")
    assert.strictEqual(rejection("\u0627\u0031"), "Bidi")
  })

  it("leaves ASCII alone, including control characters and the empty string", () => {
    for (const s of ["", " ", "\u0000\u001f\u007f", "pass word", "\u0007abc"]) assert.strictEqual(prepared(s), s)
  })

  it("maps non-ASCII spaces to SPACE and table B.1 to nothing", () => {
    assert.strictEqual(prepared("a\u00A0b"), "a b")
    assert.strictEqual(prepared("a\u3000b"), "a b")
    assert.strictEqual(prepared("a\u200Bb"), "a b", "U+200B is in C.1.2 and B.1: C.1.2 wins, as in PostgreSQL")
    assert.strictEqual(prepared("a\u200Db\uFEFF\uFE0F\u00AD"), "ab")
    assert.strictEqual(prepared("\u00E9\u00AD"), "\u00E9")
    assert.strictEqual(rejection("\u00AD\u200C"), "Empty")
  })

  it("normalizes with NFKC", () => {
    assert.strictEqual(prepared("\uFB01x"), "fix")
    assert.strictEqual(prepared("\uFF46\uFF55\uFF4C\uFF4C"), "full")
    assert.strictEqual(prepared("e\u0301"), "\u00E9")
    assert.strictEqual(prepared("\u212B"), "\u00C5")
  })

  it("prohibits tables C.2 to C.9 in non-ASCII strings", () => {
    for (const s of [
      "\u00E9\u0007", // C.2.1
      "\u00E9\u0085", // C.2.2
      "\u00E9\u2028", // C.2.2
      "\u00E9\uE000", // C.3
      "\u00E9\u{F0000}", // C.3
      "\u00E9\uFDD0", // C.4
      "\u00E9\uFFFE", // C.4
      "\u00E9\uFFFD", // C.6
      "\u00E9\u2FF0", // C.7
      "\u00E9\u200E", // C.8
      "\u00E9\u202E", // C.8
      "\u00E9\u{E0001}", // C.9
      "\u00E9\u{E0041}" // C.9
    ]) {
      assert.strictEqual(rejection(s), "Prohibited", JSON.stringify(s))
    }
  })

  it("prohibits code points unassigned in Unicode 3.2, and only those", () => {
    assert.strictEqual(prepared("\u0220"), "\u0220", "assigned in 3.2")
    assert.strictEqual(rejection("\u0221"), "Unassigned", "assigned in 4.0")
    assert.strictEqual(rejection("\u{1F600}"), "Unassigned", "emoji came after 3.2")
    assert.strictEqual(rejection("a\u20BFb"), "Unassigned", "BITCOIN SIGN, Unicode 10")
    assert.strictEqual(prepared("\u20AC"), "\u20AC", "EURO SIGN, Unicode 2.1")
    assert.strictEqual(prepared("\u{1D400}"), "A", "MATHEMATICAL BOLD CAPITAL A, 3.1, NFKC to A")
  })

  it("checks the mapped string, not the normalized one, as PostgreSQL does", () => {
    // U+FE18 was assigned after Unicode 3.2; NFKC maps it to U+3017, which
    // was not. RFC 4013 would accept the normalized string; PostgreSQL checks
    // before normalizing and uses the raw password.
    assert.strictEqual("\uFF76\uFE18".normalize("NFKC"), "\u30AB\u3017")
    assert.strictEqual(rejection("\uFF76\uFE18"), "Unassigned")
    // U+FB1D (HEBREW LETTER YOD WITH HIRIQ) is RandALCat before NFKC turns it
    // into U+05D9 U+05B4, which ends with a non-RandALCat mark.
    assert.strictEqual(prepared("\uFB1D"), "\u05D9\u05B4")
  })

  it("applies the bidi rules", () => {
    assert.strictEqual(prepared("\u05D0\u05D1"), "\u05D0\u05D1")
    assert.strictEqual(prepared("\u0627\u0031\u0628"), "\u0627\u0031\u0628")
    assert.strictEqual(rejection("\u05D0a\u05D1"), "Bidi", "RandALCat with LCat")
    assert.strictEqual(rejection("1\u05D0"), "Bidi", "RandALCat not first")
    assert.strictEqual(rejection("\u05D01"), "Bidi", "RandALCat not last")
    assert.strictEqual(prepared("\u00E91"), "\u00E91", "no RandALCat: no bidi rule")
  })

  it("rejects strings with an unpaired surrogate", () => {
    assert.strictEqual(rejection("\u00E9\uD800"), "NotWellFormed")
    assert.strictEqual(rejection("\uDC00"), "NotWellFormed")
  })

  it("prepares password bytes with PostgreSQL's raw fallback", () => {
    const ok = (r: Result.Result<Uint8Array, unknown>) => Result.getOrThrow(r)
    assert.deepStrictEqual(ok(SaslPrep.preparePassword("\u2168")), utf8("IX"))
    assert.deepStrictEqual(ok(SaslPrep.preparePassword(utf8("\u2168"))), utf8("IX"))
    // Rejected by SASLprep: the raw UTF-8 is used.
    assert.deepStrictEqual(ok(SaslPrep.preparePassword("\u00E9\u0007")), utf8("\u00E9\u0007"))
    assert.deepStrictEqual(ok(SaslPrep.preparePassword("\u{1F600}")), utf8("\u{1F600}"))
    // Not UTF-8 (Latin-1 "é"): the bytes as given, copied.
    const latin1 = new Uint8Array([0x70, 0xe9])
    const out = ok(SaslPrep.preparePassword(latin1))
    assert.deepStrictEqual(out, latin1)
    assert.notStrictEqual(out, latin1)
    const e = Result.getFailure(SaslPrep.preparePassword("se\uD800cret"))
    assert.isTrue(e._tag === "Some")
    if (e._tag === "Some") assert.notInclude(e.value.message, "se\uD800cret")
  })
})
