import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Result } from "effect"
import * as AuthPolicy from "../../src/auth/AuthPolicy.ts"
import * as AuthKeywords from "../../src/config/AuthKeywords.ts"
import * as Config from "../../src/config/Config.ts"

const sources = { env: {}, platform: { user: "alice", home: undefined } }

const failure = (value: string): string => {
  const r = AuthKeywords.parseRequireAuth(value)
  if (Result.isSuccess(r)) return assert.fail(`"${value}" parsed`)
  assert.strictEqual(r.failure.parameter, "require_auth")
  return r.failure.message
}

describe("require_auth grammar", () => {
  it("reads a plain or a negated list, in order, with none as a method", () => {
    assert.deepStrictEqual(Result.getOrThrow(AuthKeywords.parseRequireAuth("md5,scram-sha-256,none")), {
      source: "md5,scram-sha-256,none",
      negated: false,
      methods: ["md5", "scram-sha-256", "none"]
    })
    assert.deepStrictEqual(Result.getOrThrow(AuthKeywords.parseRequireAuth("!password,!none")), {
      source: "!password,!none",
      negated: true,
      methods: ["password", "none"]
    })
    assert.isUndefined(Result.getOrThrow(AuthKeywords.parseRequireAuth("")))
    assert.isUndefined(Result.getOrThrow(AuthKeywords.parseRequireAuth(undefined)))
  })

  it("refuses with libpq's texts: mixed lists either way, a method twice, an unknown or untrimmed method", () => {
    assert.strictEqual(failure("md5,!password"), `negative require_auth method "!password" cannot be mixed with non-negative methods`)
    assert.strictEqual(failure("!md5,password"), `require_auth method "password" cannot be mixed with negative methods`)
    assert.strictEqual(failure("!gss,!gss"), `require_auth method "!gss" is specified more than once`)
    assert.strictEqual(failure("none,md5,none"), `require_auth method "none" is specified more than once`)
    assert.strictEqual(failure("md5, password"), `invalid require_auth value: " password"`)
    assert.strictEqual(failure("md5,"), `invalid require_auth value: ""`)
    assert.strictEqual(failure("!"), `invalid require_auth value: ""`)
  })

  it("is the one grammar: the configuration and the authentication policy accept the same lists", () =>
    Effect.gen(function*() {
      const lists = [
        "md5", "!md5", "gss,sspi", "!gss,!sspi", "none", "!none", "oauth,scram-sha-256", "password,md5,gss,sspi,scram-sha-256,oauth,none",
        "md5,!password", "!md5,password", "md5,md5", "!sspi,!sspi", "scram", "MD5", "md5,", ",", "!", "md5, password"
      ]
      for (const list of lists) {
        const grammar = Result.isSuccess(AuthKeywords.parseRequireAuth(list))
        const policy = Result.isSuccess(AuthPolicy.make({ requireAuth: list }))
        const config = Exit.isSuccess(yield* Effect.exit(Config.parse(`require_auth='${list}'`, {}, sources)))
        assert.deepStrictEqual([policy, config], [grammar, grammar], list)
      }
    }))

  it("gives channel_binding's values to the policy and the configuration alike", () =>
    Effect.gen(function*() {
      for (const value of [...AuthKeywords.ChannelBinding.literals, "Require", "on", ""]) {
        const known = (AuthKeywords.ChannelBinding.literals as ReadonlyArray<string>).includes(value)
        assert.strictEqual(Result.isSuccess(AuthPolicy.parseChannelBinding(value)), known, value)
        const config = yield* Effect.exit(Config.load({ channelBinding: value }, sources))
        // An empty option is no option: the default applies.
        assert.strictEqual(Exit.isSuccess(config), known || value === "", value)
      }
    }))
})
