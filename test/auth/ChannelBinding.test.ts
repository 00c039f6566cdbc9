import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { execFileSync } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as ChannelBinding from "../../src/auth/ChannelBinding.ts"

// Certificates are made by openssl for each run; the expected channel binding
// data comes from `openssl dgst`, never from the code under test.
let dir = ""
const openssl = (...args: ReadonlyArray<string>): Buffer =>
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })

beforeAll(() => {
  dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-pgwire-channel-binding-"))
  openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem")
  openssl("genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048", "-pkeyopt", "rsa_pss_keygen_md:sha384", "-out", "pss.pem")
  openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "ec.pem")
  openssl("genpkey", "-algorithm", "ED25519", "-out", "ed25519.pem")
}, 60_000)

afterAll(() => {
  if (dir !== "") Fs.rmSync(dir, { recursive: true, force: true })
})

/** A self-signed certificate as DER, and openssl's own reading of its signature algorithm. */
const certificate = (name: string, key: string, options: ReadonlyArray<string>) => {
  openssl("req", "-x509", "-key", key, "-subj", `/CN=${name}`, "-days", "1", ...options, "-out", `${name}.pem`)
  openssl("x509", "-in", `${name}.pem`, "-outform", "der", "-out", `${name}.der`)
  const text = openssl("x509", "-in", `${name}.pem`, "-noout", "-text").toString("utf8")
  return { der: new Uint8Array(Fs.readFileSync(Path.join(dir, `${name}.der`))), text, file: `${name}.der` }
}

const cases: ReadonlyArray<{
  readonly name: string
  readonly key: string
  readonly options: ReadonlyArray<string>
  /** What openssl must report, so the case really is what its name says. */
  readonly signature: RegExp
  /** RFC 5929 4.1's hash for it: MD5 and SHA-1 become SHA-256. */
  readonly digest: string
}> = [
  { name: "rsa-sha256", key: "rsa.pem", options: ["-sha256"], signature: /sha256WithRSAEncryption/, digest: "sha256" },
  { name: "rsa-sha224", key: "rsa.pem", options: ["-sha224"], signature: /sha224WithRSAEncryption/, digest: "sha224" },
  { name: "rsa-sha512", key: "rsa.pem", options: ["-sha512"], signature: /sha512WithRSAEncryption/, digest: "sha512" },
  { name: "rsa-sha1", key: "rsa.pem", options: ["-sha1"], signature: /sha1WithRSAEncryption/, digest: "sha256" },
  { name: "rsa-md5", key: "rsa.pem", options: ["-md5"], signature: /md5WithRSAEncryption/, digest: "sha256" },
  { name: "rsa-sha3-256", key: "rsa.pem", options: ["-sha3-256"], signature: /RSA-SHA3-256/, digest: "sha3-256" },
  {
    name: "rsa-pss-sha512",
    key: "rsa.pem",
    options: ["-sigopt", "rsa_padding_mode:pss", "-sha512"],
    signature: /rsassaPss[\s\S]*Hash Algorithm: sha512/,
    digest: "sha512"
  },
  {
    name: "rsa-pss-sha256",
    key: "rsa.pem",
    options: ["-sigopt", "rsa_padding_mode:pss", "-sha256"],
    signature: /rsassaPss[\s\S]*Hash Algorithm: sha256/,
    digest: "sha256"
  },
  {
    name: "rsa-pss-sha1-default",
    key: "rsa.pem",
    options: ["-sigopt", "rsa_padding_mode:pss", "-sha1"],
    signature: /rsassaPss[\s\S]*Hash Algorithm: sha1 \(default\)/,
    digest: "sha256"
  },
  {
    name: "pss-key-sha384",
    key: "pss.pem",
    options: ["-sha384"],
    signature: /rsassaPss[\s\S]*Hash Algorithm: sha384/,
    digest: "sha384"
  },
  { name: "ecdsa-sha384", key: "ec.pem", options: ["-sha384"], signature: /ecdsa-with-SHA384/, digest: "sha384" },
  { name: "ecdsa-sha256", key: "ec.pem", options: ["-sha256"], signature: /ecdsa-with-SHA256/, digest: "sha256" },
  { name: "ecdsa-sha512", key: "ec.pem", options: ["-sha512"], signature: /ecdsa-with-SHA512/, digest: "sha512" },
  { name: "ecdsa-sha1", key: "ec.pem", options: ["-sha1"], signature: /ecdsa-with-SHA1/, digest: "sha256" }
]

describe("ChannelBinding", () => {
  for (const c of cases) {
    it(`hashes a ${c.name} certificate as openssl dgst -${c.digest} does`, () => {
      const cert = certificate(c.name, c.key, c.options)
      assert.match(cert.text, c.signature)
      const expected = new Uint8Array(openssl("dgst", `-${c.digest}`, "-binary", cert.file))
      const actual = Result.getOrThrow(ChannelBinding.certificateHashForChannelBinding(cert.der))
      assert.deepStrictEqual(actual, expected)
      // Node hands the session the same DER.
      const pem = Fs.readFileSync(Path.join(dir, `${c.name}.pem`))
      assert.deepStrictEqual(new Uint8Array(new Crypto.X509Certificate(pem).raw), cert.der)
    })
  }

  it("refuses Ed25519, which has no tls-server-end-point hash", () => {
    const cert = certificate("ed25519", "ed25519.pem", [])
    assert.match(cert.text, /ED25519/)
    const r = ChannelBinding.certificateHashForChannelBinding(cert.der)
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) assert.include(r.failure.message, "Ed25519")
  })

  // The minimal certificate of the -PLUS vector: SEQUENCE { SEQUENCE { 00 },
  // SEQUENCE { OID sha256WithRSAEncryption, NULL }, BIT STRING }.
  const minimal = "3016300100300d06092a864886f70d01010b0500030200ff"
  const der = (h: string) => new Uint8Array(Buffer.from(h, "hex"))

  it("reads the signature algorithm of a minimal certificate", () => {
    const r = Result.getOrThrow(ChannelBinding.hashForCertificate(der(minimal)))
    assert.deepStrictEqual(r, { signatureAlgorithm: "1.2.840.113549.1.1.11", hash: "sha256" })
  })

  it("fails with an offset on bytes that are not a DER certificate", () => {
    const bad: ReadonlyArray<readonly [string, RegExp]> = [
      ["", /truncated element at offset 0/],
      ["30", /truncated element at offset 0/],
      ["3017300100300d06092a864886f70d01010b0500030200ff", /runs past its container/],
      [minimal + "00", /1 bytes after the certificate at offset 24/],
      ["3100", /expected a Certificate SEQUENCE at offset 0/],
      ["3080300100300d06092a864886f70d01010b0500030200ff0000", /unsupported length encoding at offset 1/],
      ["3016300100310d06092a864886f70d01010b0500030200ff", /expected signatureAlgorithm at offset 5/],
      ["3016300100300d06092a864886f70d01010b0500040200ff", /expected signatureValue at offset 20/],
      ["3016300100300d05092a864886f70d01010b0500030200ff", /expected an algorithm OBJECT IDENTIFIER at offset 7/],
      ["300c300100300406028001030100", /non-minimal OBJECT IDENTIFIER at offset 9/],
      ["300d300100300406022a86030200ff", /truncated OBJECT IDENTIFIER at offset 10/],
      ["300b3001003002060003020000", /empty OBJECT IDENTIFIER at offset 9/]
    ]
    for (const [h, pattern] of bad) {
      const r = ChannelBinding.certificateHashForChannelBinding(der(h))
      if (Result.isSuccess(r)) assert.fail(`accepted ${h}`)
      else {
        assert.match(r.failure.message, pattern, h)
        assert.strictEqual(r.failure.method, "SCRAM-SHA-256-PLUS")
      }
    }
  })

  it("names an unknown signature algorithm", () => {
    // OID 1.2.3.4 in place of sha256WithRSAEncryption.
    const r = ChannelBinding.certificateHashForChannelBinding(der("300e300100300506032a0304030200ff"))
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) assert.include(r.failure.message, "1.2.3.4")
  })

  it("reads RSASSA-PSS parameters, and refuses PSS without them", () => {
    // AlgorithmIdentifier { id-RSASSA-PSS, SEQUENCE { [0] { SEQUENCE { id-sha384 } } } }
    const pss = (params: string) => {
      const oid = "06092a864886f70d01010a"
      const alg = `30${((oid.length + params.length) / 2).toString(16).padStart(2, "0")}${oid}${params}`
      const body = `300100${alg}030200ff`
      return der(`30${(body.length / 2).toString(16).padStart(2, "0")}${body}`)
    }
    const sha384 = "3011a00f300d06096086480165030402020500"
    assert.strictEqual(Result.getOrThrow(ChannelBinding.hashForCertificate(pss(sha384))).hash, "sha384")
    assert.strictEqual(Result.getOrThrow(ChannelBinding.hashForCertificate(pss("3000"))).hash, "sha256")
    assert.isTrue(Result.isFailure(ChannelBinding.hashForCertificate(pss(""))))
    assert.isTrue(Result.isFailure(ChannelBinding.hashForCertificate(pss("0500"))))
    // [0] holding an unknown digest (1.2.3.4).
    assert.isTrue(Result.isFailure(ChannelBinding.hashForCertificate(pss("3009a0073005060306022a"))))
  })
})
