import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as AuthPolicy from "../../src/auth/AuthPolicy.ts"
import * as Md5 from "../../src/auth/Md5.ts"
import * as Scram from "../../src/auth/Scram.ts"
import { AuthError, ConfigError } from "../../src/errors/PgError.ts"
import cases from "../fixtures/auth/libpq_auth_policy_cases.json" with { type: "json" }

/**
 * What a role's server side does: its pg_hba method and what its password is
 * stored as (scram_role has a SCRAM secret, md5_role an MD5 one; both 'pass').
 */
type ServerMethod = "trust" | "password" | "md5" | "scram-sha-256" | "cert"

interface Outcome {
  readonly ok: boolean
  readonly error?: string
  /** What the client sent, in order, for the "never send a password" checks. */
  readonly sent: ReadonlyArray<string>
  readonly mechanism?: string
}

const PASSWORD = "pass"
const CERTIFICATE_HASH = new Uint8Array(32).fill(9)

/**
 * Drives one connection's authentication: the server side as PostgreSQL
 * behaves for the method and the stored secret, the client side through the
 * policy decisions and the real SCRAM and MD5 code.
 */
const authenticate = (options: {
  readonly requireAuth?: string | undefined
  readonly channelBinding?: string | undefined
  readonly method: ServerMethod
  readonly user: "scram_role" | "md5_role"
  readonly password?: string | undefined
  readonly tls?: boolean | undefined
  readonly scramIterations?: number | undefined
}): Outcome => {
  const sent: Array<string> = []
  const fail = (e: AuthError | ConfigError): Outcome => ({ ok: false, error: e.message, sent })
  const policyResult = AuthPolicy.make({ requireAuth: options.requireAuth, channelBinding: options.channelBinding })
  if (Result.isFailure(policyResult)) return fail(policyResult.failure)
  const policy = policyResult.success
  const tls = options.tls ?? false
  const password = options.password ?? PASSWORD
  let progress = AuthPolicy.initialProgress
  const step = (request: AuthPolicy.AuthRequest) => AuthPolicy.check(policy, request, progress)

  // hba md5 with a SCRAM secret runs SCRAM (client authentication docs, "Password Authentication").
  const method = options.method === "md5" && options.user === "scram_role" ? "scram-sha-256" : options.method
  switch (method) {
    case "trust":
    case "cert":
      break
    case "password":
    case "md5": {
      const request = method === "password" ? "AuthenticationCleartextPassword" : "AuthenticationMD5Password"
      const allowed = step(request)
      if (Result.isFailure(allowed)) return fail(allowed.failure)
      const salt = new Uint8Array([1, 2, 3, 4])
      const response = method === "password" ? password : Md5.passwordResponse(password, options.user, salt)
      sent.push(response)
      progress = { ...progress, clientFinishedAuth: true }
      const accepted = method === "password"
        ? response === PASSWORD
        : Md5.verifyResponse(Md5.storedPassword(PASSWORD, options.user), salt, response)
      if (!accepted) return { ok: false, error: "28P01 password authentication failed", sent }
      break
    }
    case "scram-sha-256": {
      const allowed = step("AuthenticationSASL")
      if (Result.isFailure(allowed)) return fail(allowed.failure)
      const secret = options.user === "scram_role"
        ? Result.getOrThrow(Scram.makeSecret(PASSWORD, { iterations: options.scramIterations ?? 4096 }))
        : undefined
      const server = Result.getOrThrow(Scram.ScramServer.make({ secret, certificateHash: tls ? CERTIFICATE_HASH : undefined }))
      const choice = AuthPolicy.selectMechanism(policy, server.mechanisms, tls)
      if (Result.isFailure(choice)) return fail(choice.failure)
      const binding: Scram.ClientChannelBinding = choice.success.channelBinding === "TlsServerEndPoint"
        ? { _tag: "TlsServerEndPoint", certificateHash: CERTIFICATE_HASH }
        : { _tag: choice.success.channelBinding }
      const client = Result.getOrThrow(Scram.ScramClient.make({ password, channelBinding: binding }))
      assert.strictEqual(client.mechanism, choice.success.mechanism)
      sent.push(client.clientFirstMessage)
      const serverFirst = server.receiveClientFirst(client.mechanism, client.clientFirstMessage)
      if (Result.isFailure(serverFirst)) return { ok: false, error: `server: ${serverFirst.failure.message}`, sent }
      const cont = step("AuthenticationSASLContinue")
      if (Result.isFailure(cont)) return fail(cont.failure)
      const clientFinal = client.receiveServerFirst(serverFirst.success)
      if (Result.isFailure(clientFinal)) return fail(clientFinal.failure)
      sent.push(clientFinal.success)
      const serverFinal = server.receiveClientFinal(clientFinal.success)
      if (Result.isFailure(serverFinal)) return { ok: false, error: `server: ${serverFinal.failure.message}`, sent }
      const fin = step("AuthenticationSASLFinal")
      if (Result.isFailure(fin)) return fail(fin.failure)
      const verified = client.receiveServerFinal(serverFinal.success)
      if (Result.isFailure(verified)) return fail(verified.failure)
      progress = { clientFinishedAuth: client.isComplete, channelBound: client.channelBound }
      const ok = step("AuthenticationOk")
      if (Result.isFailure(ok)) return fail(ok.failure)
      return { ok: true, sent, mechanism: client.mechanism }
    }
  }
  const ok = step("AuthenticationOk")
  if (Result.isFailure(ok)) return fail(ok.failure)
  return { ok: true, sent }
}

describe("AuthPolicy: libpq's require_auth cases", () => {
  for (const c of cases.require_auth_cases) {
    it(`require_auth=${JSON.stringify(c.require_auth)} against ${c.server_method} is ${c.expected.ok ? "ok" : "refused"}`, () => {
      const outcome = authenticate({
        requireAuth: c.require_auth,
        method: c.server_method as ServerMethod,
        user: c.user as "scram_role" | "md5_role"
      })
      assert.strictEqual(outcome.ok, c.expected.ok, outcome.error)
      if ("error_matches" in c.expected && c.expected.error_matches !== undefined) {
        assert.match(outcome.error ?? "", new RegExp(c.expected.error_matches))
      }
      if (!outcome.ok) {
        // A refused cleartext or MD5 request never gets the password.
        for (const s of outcome.sent) assert.notInclude(s, PASSWORD)
      }
    })
  }
})

describe("AuthPolicy: libpq's other authentication cases", () => {
  for (const c of cases.other_auth_cases) {
    it(c.case, () => {
      const outcome = authenticate({
        channelBinding: "channel_binding" in c ? c.channel_binding : undefined,
        method: c.server_method as ServerMethod,
        user: ("user" in c && c.user === "md5_role") ? "md5_role" : "scram_role",
        password: "password" in c ? c.password : undefined,
        tls: "ssl" in c ? c.ssl : false,
        scramIterations: "user" in c && c.user === "scram_role_iter" ? 1024 : undefined
      })
      assert.strictEqual(outcome.ok, c.expected.ok, outcome.error)
      if (c.server_method === "password" && !c.expected.ok) assert.deepStrictEqual(outcome.sent, [])
    })
  }
})

describe("AuthPolicy: libpq's channel binding cases over TLS", () => {
  const option = (extra: string, name: string) => new RegExp(`${name}=([a-z0-9_-]+)`).exec(extra)?.[1]
  for (const c of cases.channel_binding_over_tls_cases) {
    it(c.conninfo_extra, () => {
      const method: ServerMethod = c.role_auth === "scram" ? "scram-sha-256" : c.role_auth === "cert" ? "cert" : "md5"
      const outcome = authenticate({
        requireAuth: option(c.conninfo_extra, "require_auth"),
        channelBinding: option(c.conninfo_extra, "channel_binding"),
        method,
        user: method === "md5" ? "md5_role" : "scram_role",
        tls: true
      })
      assert.strictEqual(outcome.ok, c.expected.ok, outcome.error)
      if ("error_matches" in c.expected && c.expected.error_matches !== undefined) {
        assert.match(outcome.error ?? "", new RegExp(c.expected.error_matches))
      }
      if ("mechanism" in c.expected) assert.strictEqual(outcome.mechanism, c.expected.mechanism)
      if (method === "md5" && !c.expected.ok) assert.deepStrictEqual(outcome.sent, [])
    })
  }
})

describe("AuthPolicy: decisions", () => {
  const policy = (requireAuth?: string, channelBinding?: string) =>
    Result.getOrThrow(AuthPolicy.make({ requireAuth, channelBinding }))

  it("refuses an AuthenticationOk that skips SCRAM's final message", () => {
    // The server sent SASL and SASLContinue, then AuthenticationOk without SASLFinal.
    const outcome = AuthPolicy.check(policy("scram-sha-256"), "AuthenticationOk", AuthPolicy.initialProgress)
    assert.isTrue(Result.isFailure(outcome))
    // With "none" also allowed, libpq accepts it (its documented leniency).
    assert.isTrue(Result.isSuccess(AuthPolicy.check(policy("scram-sha-256,none"), "AuthenticationOk", AuthPolicy.initialProgress)))
  })

  it("uses -PLUS over TLS when offered unless disabled, and says 'y' otherwise", () => {
    const both = ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]
    const choose = (p: AuthPolicy.AuthPolicy, offered: ReadonlyArray<string>, tls: boolean) =>
      Result.getOrThrow(AuthPolicy.selectMechanism(p, offered, tls))
    assert.deepStrictEqual(choose(policy(), both, true), { mechanism: "SCRAM-SHA-256-PLUS", channelBinding: "TlsServerEndPoint" })
    assert.deepStrictEqual(choose(policy(), ["SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"], true).mechanism, "SCRAM-SHA-256-PLUS")
    assert.deepStrictEqual(choose(policy(undefined, "disable"), both, true), { mechanism: "SCRAM-SHA-256", channelBinding: "None" })
    assert.deepStrictEqual(choose(policy(), ["SCRAM-SHA-256"], true), { mechanism: "SCRAM-SHA-256", channelBinding: "NotOffered" })
    assert.deepStrictEqual(choose(policy(), ["SCRAM-SHA-256"], false), { mechanism: "SCRAM-SHA-256", channelBinding: "None" })
    assert.deepStrictEqual(choose(policy(), ["OAUTHBEARER", "SCRAM-SHA-256"], false).mechanism, "SCRAM-SHA-256")
  })

  it("refuses what libpq's pg_SASL_init refuses", () => {
    const refuse = (p: AuthPolicy.AuthPolicy, offered: ReadonlyArray<string>, tls: boolean, pattern: RegExp) => {
      const r = AuthPolicy.selectMechanism(p, offered, tls)
      if (Result.isSuccess(r)) assert.fail(`chose ${r.success.mechanism}`)
      else assert.match(r.failure.message, pattern)
    }
    refuse(policy(), ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"], false, /over a non-SSL connection/)
    refuse(policy(), ["OAUTHBEARER"], true, /none of the server's SASL authentication mechanisms are supported/)
    refuse(policy(), [], true, /none of the server's SASL/)
    refuse(policy(undefined, "require"), ["SCRAM-SHA-256"], false, /SSL not in use/)
    refuse(policy(undefined, "require"), ["SCRAM-SHA-256"], true, /did not offer an authentication method that supports channel binding/)
    refuse(policy("oauth"), ["SCRAM-SHA-256"], true, /requirement "oauth" failed: server requested SASL authentication/)
  })

  it("names the parameter in configuration errors", () => {
    const e = Result.getFailure(AuthPolicy.make({ requireAuth: "md5, password" }))
    assert.isTrue(e._tag === "Some" && e.value.parameter === "require_auth" && /" password"/.test(e.value.message))
    const cb = Result.getFailure(AuthPolicy.make({ channelBinding: "Require" }))
    assert.isTrue(cb._tag === "Some" && cb.value.parameter === "channel_binding")
    for (const bad of [",", "md5,", "!", "!md5,", "gss,gss", "gss,sspi,gss"]) {
      assert.isTrue(Result.isFailure(AuthPolicy.parseRequireAuth(bad)), bad)
    }
  })

  it("keeps gss and sspi apart although they share GSSContinue", () => {
    const gssOnly = policy("gss")
    assert.isTrue(Result.isSuccess(AuthPolicy.check(gssOnly, "AuthenticationGSS", AuthPolicy.initialProgress)))
    assert.isTrue(Result.isSuccess(AuthPolicy.check(gssOnly, "AuthenticationGSSContinue", AuthPolicy.initialProgress)))
    assert.isTrue(Result.isFailure(AuthPolicy.check(gssOnly, "AuthenticationSSPI", AuthPolicy.initialProgress)))
    assert.isTrue(Result.isSuccess(AuthPolicy.parseRequireAuth("gss,sspi")))
    assert.isTrue(Result.isSuccess(AuthPolicy.parseRequireAuth("!gss,!sspi")))
    // As in libpq, "!sspi" also takes GSSContinue away, so it refuses a multi-round GSS exchange.
    const notSspi = policy("!sspi")
    assert.isTrue(Result.isSuccess(AuthPolicy.check(notSspi, "AuthenticationGSS", AuthPolicy.initialProgress)))
    assert.isTrue(Result.isFailure(AuthPolicy.check(notSspi, "AuthenticationGSSContinue", AuthPolicy.initialProgress)))
  })

  it("refuses unknown requests under any require_auth and under channel_binding=require", () => {
    for (const request of ["AuthenticationKerberosV5", "AuthenticationUnknown"] as const) {
      const r = AuthPolicy.check(policy("!md5"), request, AuthPolicy.initialProgress)
      assert.isTrue(Result.isFailure(r))
      assert.isTrue(Result.isFailure(AuthPolicy.check(policy(undefined, "require"), request, AuthPolicy.initialProgress)))
      assert.isTrue(Result.isSuccess(AuthPolicy.check(AuthPolicy.defaultPolicy, request, AuthPolicy.initialProgress)))
    }
  })
})
