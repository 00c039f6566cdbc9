/**
 * Authentication under bad client answers, over hand-made frames, answered
 * as PostgreSQL 18 answers the same exchange (each case was run against a
 * real PostgreSQL 18 first): an empty password is never accepted, a SCRAM
 * message that breaks the exchange is 08P01, a wrong proof 28P01.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import * as PgServer from "../../src/server/PgServer.ts"
import { handler, makeProbe } from "./ScriptedHandler.ts"
import { codeOf, concat, RawClient, severityOf, startup, withServer } from "./Support.ts"
import { cstring, frame, int32 } from "./RawBytes.ts"

const utf8 = (s: string) => new TextEncoder().encode(s)
const hmac = (key: Uint8Array, data: string) => new Uint8Array(Crypto.createHmac("sha256", key).update(data).digest())
const xor = (a: Uint8Array, b: Uint8Array) => a.map((x, i) => x ^ b[i]!)
const b64 = (b: Uint8Array | string) => Buffer.from(b).toString("base64")

/** The last message (the FATAL) and whether the session was refused. */
const refusal = async (c: RawClient) => {
  await c.waitFor(() => c.closed || c.tags().includes("ReadyForQuery"), 10_000)
  const last = c.messages.at(-1)
  assert.notInclude(c.tags(), "AuthenticationOk")
  assert.strictEqual(severityOf(last), "FATAL")
  return { code: codeOf(last), message: last?._tag === "ErrorResponse" ? last.fields.find((f) => f.code === "M")?.value : "" }
}

type Spoil = "none" | "nonce" | "binding" | "proof" | "garbage"

/** Runs a SCRAM-SHA-256 exchange with password `pw`, spoiling its client-final-message as `spoil` says. */
const scram = async (port: number, spoil: Spoil, user = "alice") => {
  const c = await RawClient.open(port)
  c.send(startup(user))
  await c.until("AuthenticationSASL")
  const bare = `n=,r=${b64(Crypto.randomBytes(18))}`
  const first = `n,,${bare}`
  c.send(frame("p", cstring("SCRAM-SHA-256"), int32(first.length), utf8(first)))
  const got = await c.until("AuthenticationSASLContinue")
  const cont = got.find((m) => m._tag === "AuthenticationSASLContinue")
  assert.isDefined(cont)
  const serverFirst = new TextDecoder().decode(cont?._tag === "AuthenticationSASLContinue" ? cont.data : new Uint8Array(0))
  const attrs = Object.fromEntries(serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)]))
  const salted = new Uint8Array(Crypto.pbkdf2Sync("secret", Buffer.from(attrs.s!, "base64"), Number(attrs.i), 32, "sha256"))
  const clientKey = hmac(salted, "Client Key")
  const storedKey = new Uint8Array(Crypto.createHash("sha256").update(clientKey).digest())
  const binding = b64(spoil === "binding" ? "y,," : "n,,")
  const nonce = spoil === "nonce" ? `${attrs.r!.slice(0, -4)}AAAA` : attrs.r!
  const withoutProof = `c=${binding},r=${nonce}`
  let proof = xor(clientKey, hmac(storedKey, `${bare},${serverFirst},${withoutProof}`))
  if (spoil === "proof") proof = xor(proof, new Uint8Array(32).fill(1))
  const final = spoil === "garbage" ? "garbage" : `${withoutProof},p=${b64(proof)}`
  c.send(frame("p", utf8(final)))
  return c
}

describe("PgServer authentication under bad input", () => {
  it("refuses an empty password with FATAL 28P01 under cleartext and md5, even where verify or lookup would accept it", async () => {
    // A verify comparing with an unset setting, a lookup giving an empty password: PostgreSQL never accepts "".
    for (
      const auth of [
        PgServer.Auth.cleartext((_user, password) => Effect.succeed(password === "")),
        PgServer.Auth.md5(() => Effect.succeed(""))
      ]
    ) {
      await withServer({ handler: handler(makeProbe()), auth }, async ({ port }) => {
        const c = await RawClient.open(port)
        c.send(startup("alice"))
        await c.waitFor(() => c.messages.some((m) => m._tag.startsWith("Authentication")))
        if (auth._tag === "Md5") {
          // What a client holding the empty password answers: md5(md5("" + user) + salt).
          const request = c.messages.find((m) => m._tag === "AuthenticationMD5Password")
          const salt = request?._tag === "AuthenticationMD5Password" ? request.salt : new Uint8Array(4)
          const inner = Crypto.createHash("md5").update("alice").digest("hex")
          const outer = Crypto.createHash("md5").update(concat(utf8(inner), salt)).digest("hex")
          c.send(frame("p", cstring(`md5${outer}`)))
        } else {
          c.send(frame("p", cstring("")))
        }
        const refused = await refusal(c)
        assert.strictEqual(refused.code, "28P01", auth._tag)
      })
    }
  })

  it("answers a SCRAM client-final-message with a wrong nonce, a changed channel binding or garbage with FATAL 08P01, a wrong proof with 28P01", async () => {
    await withServer({
      handler: handler(makeProbe()),
      auth: PgServer.Auth.scram((user) => Effect.succeed(user === "alice" ? "secret" : undefined))
    }, async ({ port }) => {
      const ok = await scram(port, "none")
      await ok.until("ReadyForQuery")
      assert.include(ok.tags(), "AuthenticationOk")
      ok.close()
      for (const spoil of ["nonce", "binding", "garbage"] as const) {
        const refused = await refusal(await scram(port, spoil))
        assert.strictEqual(refused.code, "08P01", `${spoil}: ${refused.message}`)
      }
      const wrong = await refusal(await scram(port, "proof"))
      assert.strictEqual(wrong.code, "28P01")
      assert.strictEqual(wrong.message, `password authentication failed for user "alice"`)
      // An unknown role fails at the proof like a wrong password, not earlier: nothing tells it apart.
      const unknown = await refusal(await scram(port, "none", "bob"))
      assert.strictEqual(unknown.code, "28P01")
    })
  })

  it("refuses a password message longer than 65,535 bytes at its header, before reading it, and takes large messages once authenticated", async () => {
    await withServer({
      handler: handler(makeProbe()),
      auth: PgServer.Auth.cleartext((_user, password) => Effect.succeed(password === "secret"))
    }, async ({ port }) => {
      const c = await RawClient.open(port)
      c.send(startup("alice"))
      await c.until("AuthenticationCleartextPassword")
      // Only the header and a few bytes: PostgreSQL closes here (PG_MAX_AUTH_TOKEN_LENGTH), it does not wait for the rest.
      c.send(concat(new Uint8Array([0x70]), int32(100_004), new Uint8Array(16)))
      const refused = await refusal(c)
      assert.strictEqual(refused.code, "08P01")

      // A session's messages are not held to that limit: a 200 kB query after the password in the same write.
      const ok = await RawClient.open(port)
      ok.send(startup("alice"))
      await ok.until("AuthenticationCleartextPassword")
      ok.send(frame("p", cstring("secret")), frame("Q", cstring(`select 5${" ".repeat(200_000)}`)))
      const got = await ok.until("DataRow")
      assert.include(got.map((m) => m._tag), "DataRow")
      assert.isFalse(ok.closed)
      ok.close()
    })
  })
})
