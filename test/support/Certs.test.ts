import { assert, describe, it } from "@effect/vitest"
import { X509Certificate } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { certPaths, generateCerts } from "./Certs.ts"
import { runCerts } from "./EmbeddedPostgres.ts"

const load = (file: string) => new X509Certificate(fs.readFileSync(file))

describe("Certs", () => {
  it("signs the server certificate for localhost, 127.0.0.1 and ::1 with the CA", async () => {
    const certs = await runCerts()
    const ca = load(certs.caCert)
    const server = load(certs.serverCert)
    assert.isTrue(ca.ca)
    assert.isFalse(server.ca)
    assert.isTrue(server.verify(ca.publicKey))
    assert.isTrue(server.checkIssued(ca))
    assert.strictEqual(server.checkHost("localhost"), "localhost")
    assert.strictEqual(server.checkIP("127.0.0.1"), "127.0.0.1")
    assert.strictEqual(server.checkIP("::1"), "::1")
    assert.isUndefined(server.checkHost("example.com"))
    assert.isTrue(new Date(server.validTo).getTime() > Date.now())
  })

  it("issues the client certificate to CN=certuser under the CA", async () => {
    const certs = await runCerts()
    const client = load(certs.clientCert)
    assert.include(client.subject, "CN=certuser")
    assert.isTrue(client.verify(load(certs.caCert).publicKey))
    assert.include(client.keyUsage ?? [], "1.3.6.1.5.5.7.3.2") // id-kp-clientAuth
  })

  it("makes the bad certificates bad in exactly one way each", async () => {
    const certs = await runCerts()
    const ca = load(certs.caCert)
    const other = load(certs.otherClientCert)
    assert.include(other.subject, "CN=certuser")
    assert.isFalse(other.verify(ca.publicKey))
    assert.isTrue(other.verify(load(certs.otherCaCert).publicKey))

    const wrongHost = load(certs.wrongHostCert)
    assert.isTrue(wrongHost.verify(ca.publicKey))
    assert.isUndefined(wrongHost.checkHost("localhost"))
    assert.isUndefined(wrongHost.checkIP("127.0.0.1"))
    assert.strictEqual(wrongHost.checkHost("wrong.example"), "wrong.example")

    const expired = load(certs.expiredCert)
    assert.isTrue(expired.verify(ca.publicKey))
    assert.strictEqual(expired.checkHost("localhost"), "localhost")
    assert.isTrue(new Date(expired.validTo).getTime() < Date.now())
  })

  it("writes private keys readable by their owner only", async () => {
    const certs = await runCerts()
    for (const key of [certs.caKey, certs.serverKey, certs.clientKey, certs.otherClientKey, certs.expiredKey]) {
      assert.strictEqual(fs.statSync(key).mode & 0o777, 0o600, key)
    }
  })

  it("reuses a complete set when two generators race for the same directory", async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "effect-pgwire-certs-test-"))
    try {
      const dir = path.join(base, "certs")
      const [a, b] = await Promise.all([generateCerts(dir), generateCerts(dir)])
      assert.deepStrictEqual(a, certPaths(dir))
      assert.deepStrictEqual(b, certPaths(dir))
      const server = load(a.serverCert)
      assert.isTrue(server.verify(load(a.caCert).publicKey))
      // Only the final directory is left, no scratch directories.
      assert.deepStrictEqual(fs.readdirSync(base), ["certs"])
    } finally {
      fs.rmSync(base, { recursive: true, force: true })
    }
  })
})
