import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Effect, Result, Schema } from "effect"
import { Buffer } from "node:buffer"
import { AuthError } from "../../src/errors/PgError.ts"
import * as Scram from "../../src/auth/Scram.ts"
import vectors from "../fixtures/auth/scram_sha256_vectors.json" with { type: "json" }
import goldens from "../fixtures/auth/effect_sql_pg_auth_goldens.json" with { type: "json" }

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"))
const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"))

const ok = <A>(r: Result.Result<A, AuthError>): A => {
  if (Result.isFailure(r)) assert.fail(`unexpected AuthError: ${r.failure.message}`)
  return r.success
}

const err = <A>(r: Result.Result<A, AuthError>): AuthError => {
  if (Result.isSuccess(r)) return assert.fail("expected an AuthError")
  assert.instanceOf(r.failure, AuthError)
  return r.failure
}

/** The error must not carry the password anywhere, in any field. */
const assertNoPassword = (e: AuthError, password: string) => {
  assert.notInclude(e.message, password)
  assert.notInclude(JSON.stringify(e), password)
  assert.notInclude(String(e), password)
}

/** "n=*,r=abc" -> { user: "*", nonce: "abc" } */
const bare = (clientFirstBare: string) => {
  const m = /^n=([^,]*),r=(.*)$/.exec(clientFirstBare)!
  return { user: m[1]!, nonce: m[2]! }
}

const bindingOf = (v: (typeof vectors.vectors)[number]): Scram.ClientChannelBinding =>
  v.gs2_header === "n,,"
    ? { _tag: "None" }
    : v.gs2_header === "y,,"
    ? { _tag: "NotOffered" }
    : { _tag: "TlsServerEndPoint", certificateHash: hex((v as { channel_binding_data_hex: string }).channel_binding_data_hex) }

describe("Scram client", () => {
  for (const v of vectors.vectors) {
    it(`replays ${v.name} byte for byte`, () => {
      const { user, nonce } = bare(v.client_first_message_bare)
      const client = ok(Scram.ScramClient.make({ password: v.password, nonce, username: user, channelBinding: bindingOf(v) }))
      assert.strictEqual(client.mechanism, v.mechanism)
      assert.strictEqual(client.clientFirstMessage, v.client_first_message)
      assert.strictEqual(ok(client.receiveServerFirst(v.server_first_message)), v.expected_client_final_message)
      assert.isFalse(client.isComplete)
      ok(client.receiveServerFinal(v.expected_server_final_message))
      assert.isTrue(client.isComplete)
      assert.strictEqual(client.channelBound, v.mechanism === Scram.MECHANISM_PLUS)
    })
  }

  it("accepts the messages as bytes too", () => {
    const v = vectors.vectors[0]!
    const client = ok(Scram.ScramClient.make({ password: v.password, nonce: bare(v.client_first_message_bare).nonce, username: "user" }))
    const final = ok(client.receiveServerFirst(new TextEncoder().encode(v.server_first_message)))
    assert.strictEqual(final, v.expected_client_final_message)
    ok(client.receiveServerFinal(new TextEncoder().encode(v.expected_server_final_message)))
  })

  it("a KeyCache yields the same messages and derives once per (password, salt, iterations)", () => {
    const g = goldens.scram
    const cache = new Scram.KeyCache()
    for (let i = 0; i < 3; i++) {
      const client = ok(Scram.ScramClient.make({ password: g.password, nonce: g.clientNonce, keyCache: cache }))
      assert.strictEqual(ok(client.receiveServerFirst(g.serverFirstMessage)), g.clientFinalMessage)
      ok(client.receiveServerFinal(g.serverFinalMessage))
    }
    assert.strictEqual(cache.misses, 1)
    // Another password: another entry, and a proof the server refuses (its signature no longer matches).
    const other = ok(Scram.ScramClient.make({ password: `${g.password}x`, nonce: g.clientNonce, keyCache: cache }))
    assert.notStrictEqual(ok(other.receiveServerFirst(g.serverFirstMessage)), g.clientFinalMessage)
    err(other.receiveServerFinal(g.serverFinalMessage))
    assert.strictEqual(cache.misses, 2)
    assert.strictEqual(cache.size, 2)
  })

  it("a KeyCache keeps at most its capacity, least recently used out first, and no input triples collide", () => {
    const cache = new Scram.KeyCache(2)
    const bytes = (s: string) => new TextEncoder().encode(s)
    const a = cache.derive(bytes("a"), bytes("salt"), 1)
    cache.derive(bytes("b"), bytes("salt"), 1)
    assert.strictEqual(cache.derive(bytes("a"), bytes("salt"), 1), a)
    cache.derive(bytes("c"), bytes("salt"), 1)
    assert.strictEqual(cache.size, 2)
    assert.strictEqual(cache.misses, 3)
    assert.strictEqual(cache.derive(bytes("a"), bytes("salt"), 1), a)
    cache.derive(bytes("b"), bytes("salt"), 1)
    assert.strictEqual(cache.misses, 4)
    // The same bytes split differently between password and salt, or another count: other entries, other keys.
    const split = cache.derive(bytes("as"), bytes("alt"), 1)
    assert.notDeepEqual(split.clientKey, a.clientKey)
    assert.notDeepEqual(cache.derive(bytes("a"), bytes("salt"), 2).clientKey, a.clientKey)
    assert.strictEqual(cache.misses, 6)
  })

  it("replays the exchange a live PostgreSQL 16 accepted", () => {
    const g = goldens.scram
    const client = ok(Scram.ScramClient.make({ password: g.password, nonce: g.clientNonce }))
    assert.strictEqual(client.clientFirstMessage, g.clientFirstMessage)
    assert.strictEqual(ok(client.receiveServerFirst(g.serverFirstMessage)), g.clientFinalMessage)
    ok(client.receiveServerFinal(g.serverFinalMessage))
  })

  it("derives the -PLUS binding data from the vector's certificate", () => {
    const v = vectors.vectors.find((x) => x.mechanism === "SCRAM-SHA-256-PLUS")!
    const hash = ok(Scram.certificateHashForChannelBinding(hex(v.server_certificate_der_hex!)))
    assert.deepStrictEqual(hash, hex(v.channel_binding_data_hex!))
  })

  it("sends the gs2 header each channel binding situation requires", () => {
    const headers = vectors.client_first_shapes.map((s) => s.gs2_header)
    const bindings: ReadonlyArray<Scram.ClientChannelBinding> = [
      { _tag: "None" },
      { _tag: "NotOffered" },
      { _tag: "TlsServerEndPoint", certificateHash: new Uint8Array(32) }
    ]
    bindings.forEach((channelBinding, k) => {
      const client = ok(Scram.ScramClient.make({ password: "p", channelBinding }))
      assert.isTrue(client.clientFirstMessage.startsWith(headers[k]! + "n=,r="), client.clientFirstMessage)
    })
  })

  it("treats SASLprep-equivalent passwords alike", () => {
    const v = vectors.vectors.find((x) => x.name === "node-postgres-basic")!
    const run = (password: string) => {
      const client = ok(Scram.ScramClient.make({ password, nonce: "a", username: "*" }))
      return ok(client.receiveServerFirst(v.server_first_message))
    }
    for (const e of vectors.saslprep_equivalences) {
      assert.strictEqual(run(e.password), run(e.equivalent_to), e.rule)
    }
    assert.notStrictEqual(run("IX"), run("IY"))
  })

  it("makes a fresh random nonce for every client", () => {
    const nonces = new Set<string>()
    for (let k = 0; k < 100; k++) {
      const client = ok(Scram.ScramClient.make({ password: "p" }))
      const nonce = bare(client.clientFirstMessage.slice(3)).nonce
      assert.strictEqual(Buffer.from(nonce, "base64").length, Scram.NONCE_BYTES)
      nonces.add(nonce)
    }
    assert.strictEqual(nonces.size, 100)
  })

  it("escapes ',' and '=' in the user name", () => {
    const client = ok(Scram.ScramClient.make({ password: "p", nonce: "x", username: "a,b=c" }))
    assert.strictEqual(client.clientFirstMessage, "n,,n=a=2Cb=3Dc,r=x")
  })

  it("refuses bad options", () => {
    err(Scram.ScramClient.make({ password: "p", nonce: "has,comma" }))
    err(Scram.ScramClient.make({ password: "p", nonce: "" }))
    err(Scram.ScramClient.make({ password: "p", maxIterations: 0 }))
    err(Scram.ScramClient.make({ password: "p", maxIterations: 2 ** 31 }))
    err(Scram.ScramClient.make({ password: "p", channelBinding: { _tag: "TlsServerEndPoint", certificateHash: new Uint8Array(0) } }))
    const lone = err(Scram.ScramClient.make({ password: "pass\ud800word" }))
    assertNoPassword(lone, "pass\ud800word")
  })
})

describe("Scram client against a broken or malicious server", () => {
  const password = "correct horse battery staple"

  for (const bad of vectors.invalid_server_first_messages) {
    it(`rejects server-first: ${bad.reason}`, () => {
      // The "policy" entries are over a client's cap; node-postgres caps at 100,000.
      const maxIterations = bad.server_first.includes("i=100001") ? 100_000 : undefined
      const client = ok(Scram.ScramClient.make({ password, nonce: bad.client_nonce, maxIterations }))
      const e = err(client.receiveServerFirst(bad.server_first))
      assertNoPassword(e, password)
      assert.strictEqual(e.method, "SCRAM-SHA-256")
      // A failed exchange stays failed.
      err(client.receiveServerFinal("v=AAAA"))
      assert.isFalse(client.isComplete)
    })
  }

  it("accepts i=100001 under the default cap, which leaves room for OWASP's 600,000", () => {
    const client = ok(Scram.ScramClient.make({ password, nonce: "a" }))
    ok(client.receiveServerFirst("r=ab,s=abcd,i=100001"))
  })

  it("checks the iteration cap before running PBKDF2", () => {
    const client = ok(Scram.ScramClient.make({ password, nonce: "testnonce" }))
    const started = performance.now()
    const e = err(client.receiveServerFirst("r=testnonceservernonce,s=dGVzdHNhbHQ=,i=2000000000"))
    // PBKDF2 with 2e9 iterations takes many minutes; a refusal takes microseconds.
    assert.isBelow(performance.now() - started, 50)
    assert.include(e.message, "exceeds the maximum 1000000")
    const huge = ok(Scram.ScramClient.make({ password, nonce: "testnonce" }))
    err(huge.receiveServerFirst(`r=testnonceservernonce,s=dGVzdHNhbHQ=,i=${"9".repeat(400)}`))
  })

  it("rejects more malformed server-first messages", () => {
    const cases = [
      "",
      "r=testnonceX",
      "r=testnonceX,s=c2FsdA==,i=4096,x=ext",
      "s=c2FsdA==,r=testnonceX,i=4096",
      "r=testnonceX,s=,i=4096",
      "r=testnonceX,s=c2FsdA==,i=-1",
      "r=testnonceX,s=c2FsdA==,i=04096",
      "r=testnonceX,s=c2FsdA==,i=4096,",
      "r=testnonce\u0001X,s=c2FsdA==,i=4096",
      "r=testnonceX,s=c2FsdA,i=4096"
    ]
    for (const message of cases) {
      const client = ok(Scram.ScramClient.make({ password, nonce: "testnonce" }))
      assertNoPassword(err(client.receiveServerFirst(message)), password)
    }
    const client = ok(Scram.ScramClient.make({ password, nonce: "testnonce" }))
    err(client.receiveServerFirst(new Uint8Array([0x72, 0x3d, 0xff])))
  })

  for (const bad of vectors.invalid_server_final_messages) {
    it(`rejects server-final: ${bad.reason}`, () => {
      const v = vectors.vectors[0]!
      const client = ok(Scram.ScramClient.make({ password, nonce: bare(v.client_first_message_bare).nonce }))
      ok(client.receiveServerFirst(v.server_first_message))
      const e = err(client.receiveServerFinal(bad.server_final))
      assertNoPassword(e, password)
      if (bad.server_final.startsWith("e=")) assert.include(e.message, bad.server_final.slice(2))
      // A wrong v= leaves the exchange incomplete, so a following AuthenticationOk is not trusted.
      assert.isFalse(client.isComplete)
      assert.isFalse(client.channelBound)
    })
  }

  it("rejects a correct v= for another password, extra attributes, and calls out of order", () => {
    const v = vectors.vectors[0]!
    const nonce = bare(v.client_first_message_bare).nonce
    const wrong = ok(Scram.ScramClient.make({ password: "not-pencil", nonce, username: "user" }))
    ok(wrong.receiveServerFirst(v.server_first_message))
    err(wrong.receiveServerFinal(v.expected_server_final_message))

    // A signature of the right length with one bit flipped.
    const flipped = b64(v.expected_server_final_message.slice(2))
    flipped[31] = flipped[31]! ^ 1
    const bitFlip = ok(Scram.ScramClient.make({ password: "pencil", nonce, username: "user" }))
    ok(bitFlip.receiveServerFirst(v.server_first_message))
    err(bitFlip.receiveServerFinal(`v=${Buffer.from(flipped).toString("base64")}`))
    assert.isFalse(bitFlip.isComplete)

    const extra = ok(Scram.ScramClient.make({ password: "pencil", nonce }))
    ok(extra.receiveServerFirst(v.server_first_message))
    err(extra.receiveServerFinal(v.expected_server_final_message + ",x=1"))

    const early = ok(Scram.ScramClient.make({ password: "pencil", nonce }))
    err(early.receiveServerFinal(v.expected_server_final_message))
    err(early.receiveServerFirst(v.server_first_message))

    const twice = ok(Scram.ScramClient.make({ password: "pencil", nonce }))
    ok(twice.receiveServerFirst(v.server_first_message))
    err(twice.receiveServerFirst(v.server_first_message))
  })
})

describe("Scram secret", () => {
  it("builds the secret PostgreSQL stores, from each vector's password, salt and iterations", () => {
    for (const v of vectors.vectors) {
      const m = /,s=([^,]+),i=(\d+)$/.exec(v.server_first_message)!
      const secret = ok(Scram.makeSecret(v.password, { salt: b64(m[1]!), iterations: Number(m[2]) }))
      assert.strictEqual(
        Scram.formatSecret(secret),
        `SCRAM-SHA-256$${m[2]}:${m[1]}$${v.derived.stored_key_b64}:${v.derived.server_key_b64}`,
        v.name
      )
      assert.isTrue(Scram.verifyPassword(secret, v.password))
      assert.isFalse(Scram.verifyPassword(secret, v.password + "x"))
    }
  })

  it("parses what it formats", () => {
    const text = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
    const secret = ok(Scram.parseSecret(text))
    assert.strictEqual(secret.iterations, 4096)
    assert.deepStrictEqual(secret.salt, b64("W22ZaJ0SNY7soEsUEjb6gQ=="))
    assert.strictEqual(Scram.formatSecret(secret), text)
    assert.isTrue(Scram.verifyPassword(secret, "pencil"))
  })

  it("refuses malformed secrets without quoting them", () => {
    const key = "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
    const bad = [
      "",
      "md5c4a0a8cb01e2bad5a6e5e2bd4e2b3a56",
      `SCRAM-SHA-1$4096:c2FsdA==$${key}:${key}`,
      `SCRAM-SHA-256$0:c2FsdA==$${key}:${key}`,
      `SCRAM-SHA-256$99999999999:c2FsdA==$${key}:${key}`,
      `SCRAM-SHA-256$x:c2FsdA==$${key}:${key}`,
      `SCRAM-SHA-256$4096:$${key}:${key}`,
      `SCRAM-SHA-256$4096:c2F%dA==$${key}:${key}`,
      `SCRAM-SHA-256$4096:c2FsdA==$c2FsdA==:${key}`,
      `SCRAM-SHA-256$4096:c2FsdA==$${key}:c2FsdA==`,
      `SCRAM-SHA-256$4096:c2FsdA==$${key}:${key}$extra`
    ]
    for (const text of bad) {
      const e = err(Scram.parseSecret(text))
      if (text.length > 0) assert.notInclude(e.message, key)
    }
    err(Scram.makeSecret("p", { iterations: 0 }))
    err(Scram.makeSecret("p", { salt: new Uint8Array(0) }))
  })

  it("makes a random 16-byte salt and 4096 iterations by default", () => {
    const a = ok(Scram.makeSecret("p"))
    const b = ok(Scram.makeSecret("p"))
    assert.strictEqual(a.iterations, 4096)
    assert.strictEqual(a.salt.length, 16)
    assert.notDeepEqual(a.salt, b.salt)
  })
})

describe("Scram server", () => {
  for (const v of vectors.vectors) {
    it(`answers ${v.name} byte for byte`, () => {
      const m = /^r=([^,]+),s=([^,]+),i=(\d+)$/.exec(v.server_first_message)!
      const clientNonce = bare(v.client_first_message_bare).nonce
      const secret = ok(Scram.makeSecret(v.password, { salt: b64(m[2]!), iterations: Number(m[3]) }))
      const certificateHash = "channel_binding_data_hex" in v ? hex(v.channel_binding_data_hex!) : undefined
      const server = ok(Scram.ScramServer.make({ secret, certificateHash, nonce: m[1]!.slice(clientNonce.length) }))
      assert.strictEqual(ok(server.receiveClientFirst(v.mechanism, v.client_first_message)), v.server_first_message)
      assert.strictEqual(ok(server.receiveClientFinal(v.expected_client_final_message)), v.expected_server_final_message)
      assert.isTrue(server.isComplete)
    })
  }

  const exchange = (options: {
    readonly password: string
    readonly clientPassword?: string
    readonly binding: "n" | "y" | "p"
    readonly serverTls: boolean
    readonly clientHash?: Uint8Array
  }) => {
    const serverHash = new Uint8Array(32).fill(7)
    const secret = ok(Scram.makeSecret(options.password, { iterations: 16 }))
    const server = ok(Scram.ScramServer.make({ secret, certificateHash: options.serverTls ? serverHash : undefined }))
    const channelBinding: Scram.ClientChannelBinding = options.binding === "n"
      ? { _tag: "None" }
      : options.binding === "y"
      ? { _tag: "NotOffered" }
      : { _tag: "TlsServerEndPoint", certificateHash: options.clientHash ?? serverHash }
    const client = ok(Scram.ScramClient.make({ password: options.clientPassword ?? options.password, channelBinding }))
    return Result.flatMap(server.receiveClientFirst(client.mechanism, client.clientFirstMessage), (serverFirst) =>
      Result.flatMap(client.receiveServerFirst(serverFirst), (clientFinal) =>
        Result.flatMap(server.receiveClientFinal(clientFinal), (serverFinal) =>
          Result.map(client.receiveServerFinal(serverFinal), () => ({ client, server }))
        )
      )
    )
  }

  it("completes with and without channel binding", () => {
    for (const binding of ["n", "p"] as const) {
      const { client, server } = ok(exchange({ password: "pw", binding, serverTls: true }))
      assert.isTrue(client.isComplete && server.isComplete)
      assert.strictEqual(client.channelBound, binding === "p")
    }
    ok(exchange({ password: "pw", binding: "y", serverTls: false }))
    ok(exchange({ password: "pw", binding: "n", serverTls: false }))
  })

  it("refuses a wrong password, a downgrade, and a mismatched certificate", () => {
    err(exchange({ password: "pw", clientPassword: "pW", binding: "n", serverTls: false }))
    // y,, to a server that offers -PLUS: someone stripped SCRAM-SHA-256-PLUS from the offer.
    err(exchange({ password: "pw", binding: "y", serverTls: true }))
    // -PLUS to a server that did not offer it.
    err(exchange({ password: "pw", binding: "p", serverTls: false }))
    // The client saw another certificate than the server's own: a man in the middle.
    err(exchange({ password: "pw", binding: "p", serverTls: true, clientHash: new Uint8Array(32).fill(8) }))
  })

  it("fails every proof for an unknown role, with a stable mock salt", () => {
    const mockSalt = new Uint8Array(16).fill(1)
    const server = ok(Scram.ScramServer.make({ secret: undefined, mockSalt }))
    const client = ok(Scram.ScramClient.make({ password: "anything" }))
    const serverFirst = ok(server.receiveClientFirst("SCRAM-SHA-256", client.clientFirstMessage))
    assert.include(serverFirst, `,s=${Buffer.from(mockSalt).toString("base64")},i=4096`)
    err(server.receiveClientFinal(ok(client.receiveServerFirst(serverFirst))))
  })

  it("lists SCRAM-SHA-256-PLUS first only over TLS", () => {
    assert.deepStrictEqual(Scram.serverMechanisms(true), ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"])
    assert.deepStrictEqual(Scram.serverMechanisms(false), ["SCRAM-SHA-256"])
  })

  it("rejects malformed client messages", () => {
    const secret = ok(Scram.makeSecret("pw", { iterations: 1 }))
    const first = (mechanism: string, message: string, tls = false) =>
      ok(Scram.ScramServer.make({ secret, certificateHash: tls ? new Uint8Array(32) : undefined })).receiveClientFirst(mechanism, message)
    err(first("SCRAM-SHA-1", "n,,n=,r=abc"))
    err(first("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=abc"))
    err(first("SCRAM-SHA-256-PLUS", "n,,n=,r=abc", true))
    err(first("SCRAM-SHA-256", "p=tls-server-end-point,,n=,r=abc", true))
    err(first("SCRAM-SHA-256-PLUS", "p=tls-unique,,n=,r=abc", true))
    err(first("SCRAM-SHA-256", "n,a=admin,n=,r=abc"))
    err(first("SCRAM-SHA-256", "n,,m=ext,n=,r=abc"))
    err(first("SCRAM-SHA-256", "n,,n=,r="))
    err(first("SCRAM-SHA-256", "n,,n=a=b,r=abc"))
    err(first("SCRAM-SHA-256", "x,,n=,r=abc"))
    err(first("SCRAM-SHA-256", "n,n=,r=abc"))
    err(first("SCRAM-SHA-256", "n,,r=abc"))
    ok(first("SCRAM-SHA-256", "n,,n=,r=abc,x=extension"))

    const final = (message: string) => {
      const server = ok(Scram.ScramServer.make({ secret, nonce: "S" }))
      ok(server.receiveClientFirst("SCRAM-SHA-256", "n,,n=,r=C"))
      return server.receiveClientFinal(message)
    }
    const proof = Buffer.alloc(32).toString("base64")
    err(final(`c=biws,r=C,p=${proof}`))
    err(final(`c=eSws,r=CS,p=${proof}`))
    err(final(`r=CS,c=biws,p=${proof}`))
    err(final(`c=biws,r=CS,p=${proof},x=1`))
    err(final(`c=biws,r=CS,p=AAAA`))
    err(final(`c=biws,r=CS`))
    err(final(`c=biws,r=CS,p=${proof}`))
  })
})

// Passwords of any code points (surrogates excluded), so SASLprep's mapping,
// normalization and raw fallback all take part.
const codePoint = Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0x10ffff })))
const password = Arbitrary.map(
  Arbitrary.array(codePoint, { maxLength: 12 }),
  (cps) => String.fromCodePoint(...cps.filter((c) => c < 0xd800 || c > 0xdfff))
)

describe("Scram client and server against each other", () => {
  it.effect.prop("agree on every password", [password], ([pw]) =>
    Effect.sync(() => {
      const secret = ok(Scram.makeSecret(pw, { iterations: 2 }))
      const server = ok(Scram.ScramServer.make({ secret, certificateHash: new Uint8Array(32).fill(3) }))
      const client = ok(
        Scram.ScramClient.make({ password: pw, channelBinding: { _tag: "TlsServerEndPoint", certificateHash: new Uint8Array(32).fill(3) } })
      )
      const serverFirst = ok(server.receiveClientFirst(client.mechanism, client.clientFirstMessage))
      const serverFinal = ok(server.receiveClientFinal(ok(client.receiveServerFirst(serverFirst))))
      ok(client.receiveServerFinal(serverFinal))
      assert.isTrue(client.channelBound)
    }))

  it.effect.prop("refuse a different password", [password, password], ([a, b]) =>
    Effect.sync(() => {
      const secret = ok(Scram.makeSecret(a, { iterations: 2 }))
      if (Scram.verifyPassword(secret, b)) return // b prepares to the same bytes as a
      const server = ok(Scram.ScramServer.make({ secret }))
      const client = ok(Scram.ScramClient.make({ password: b }))
      const serverFirst = ok(server.receiveClientFirst(client.mechanism, client.clientFirstMessage))
      err(server.receiveClientFinal(ok(client.receiveServerFirst(serverFirst))))
    }))
})
