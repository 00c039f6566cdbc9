/**
 * The auth modules against real PostgreSQL servers (the run's shared 18 and
 * 13): the secrets the servers compute for passwords set in SQL (their own
 * SASLprep and MD5), and complete logins driven by ScramClient, Md5 and
 * AuthPolicy over a few hand-built frames (this file owns its tiny wire code so
 * it depends on nothing but the modules under test).
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { Buffer } from "node:buffer"
import * as net from "node:net"
import * as tls from "node:tls"
import * as AuthPolicy from "../../src/auth/AuthPolicy.ts"
import * as Md5 from "../../src/auth/Md5.ts"
import * as Scram from "../../src/auth/Scram.ts"
import * as SqlState from "../../src/errors/SqlState.ts"
import { RawConnection } from "../support/RawPg.ts"
import { PASSWORDS, ROLES, type ServerInfo, servers } from "../support/Servers.ts"

// ---------------------------------------------------------------------------
// Secrets computed by the server
// ---------------------------------------------------------------------------

const literal = (s: string) => `'${s.replaceAll("'", "''")}'`

/** Passwords where SASLprep maps, normalizes, or gives up and uses the raw bytes. */
const TRICKY: ReadonlyArray<string> = [
  "pass",
  "\u0007abc",
  "I\u00ADX",
  "\u2168",
  "\u200Bfoo bar",
  "a\u00A0b\u3000c",
  "\uFB01x",
  "e\u0301",
  "\u212B",
  "\uFF46\uFF55\uFF4C\uFF4C",
  "\u{1D400}",
  "stra\u00DFe",
  "\u0130",
  "\u00E9\u0007",
  "\u00E9\uE000",
  "\u00E9\uFFFD",
  "\u{1F600}",
  "\u0221x",
  "\u00AD",
  "\u00AD\u200D",
  "\u05D0\u05D1",
  "\u05D0a\u05D1",
  "\u05D01",
  "\u0627\u0031\u0628",
  "\uFF76\uFE18",
  "\uFB1D",
  "p'q\"r\\s"
]

/** A deterministic spread of code points from many blocks (xorshift32). */
const randomPasswords = (count: number): Array<string> => {
  let state = 0x9e3779b9
  const next = () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return state >>> 0
  }
  const blocks = [0x20, 0xa0, 0x300, 0x590, 0x600, 0x1100, 0x2000, 0x2100, 0x3000, 0xac00, 0xfb00, 0xfe00, 0xff00, 0x1d400, 0x1f600]
  const out: Array<string> = []
  while (out.length < count) {
    const length = 1 + (next() % 5)
    const cps: Array<number> = []
    for (let k = 0; k < length; k++) cps.push(blocks[next() % blocks.length]! + (next() % 0x80))
    const s = String.fromCodePoint(...cps)
    if (!s.includes("\u0000")) out.push(s)
  }
  return out
}

const serverSecrets = async (
  server: ServerInfo,
  encryption: "scram-sha-256" | "md5",
  passwords: ReadonlyArray<string>
): Promise<Array<{ readonly role: string; readonly secret: string }>> => {
  const conn = await RawConnection.connect({ host: server.host, port: server.port }, { user: server.user, database: server.database })
  try {
    const prefix = `auth_live_${process.pid}_${Date.now()}_`
    const statements = [
      "BEGIN",
      `SET LOCAL password_encryption = '${encryption}'`,
      ...passwords.map((p, k) => `CREATE ROLE ${prefix}${k} PASSWORD ${literal(p)}`),
      `SELECT rolname, rolpassword FROM pg_authid WHERE rolname LIKE '${prefix}%' ORDER BY length(rolname), rolname`,
      "ROLLBACK"
    ]
    const results = await conn.query(statements.join(";\n"))
    const rows = results.find((r) => r.columns.includes("rolpassword"))!.rows
    assert.strictEqual(rows.length, passwords.length)
    return rows.map((row, k) => {
      assert.strictEqual(row[0], `${prefix}${k}`)
      return { role: row[0]!, secret: row[1]! }
    })
  } finally {
    await conn.close()
  }
}

const checkScramSecrets = async (server: ServerInfo) => {
  const passwords = [...TRICKY, ...randomPasswords(150)]
  const secrets = await serverSecrets(server, "scram-sha-256", passwords)
  passwords.forEach((password, k) => {
    const { secret } = secrets[k]!
    const stored = Result.getOrThrow(Scram.parseSecret(secret))
    const ours = Result.getOrThrow(Scram.makeSecret(password, { salt: stored.salt, iterations: stored.iterations }))
    assert.strictEqual(Scram.formatSecret(ours), secret, `PostgreSQL ${server.version} prepares ${JSON.stringify(password)} differently`)
    assert.isTrue(Scram.verifyPassword(stored, password))
  })
}

describe("Auth secrets computed by PostgreSQL", () => {
  it("SCRAM secrets of PostgreSQL 18 match ours, SASLprep included", () => checkScramSecrets(servers().main), 60_000)
  it("SCRAM secrets of PostgreSQL 13 match ours, SASLprep included", () => checkScramSecrets(servers().pg13), 60_000)

  it("MD5 stored passwords match ours", async () => {
    const passwords = ["pass", "\u00E9t\u00E9", "\u{1F600}", "p'q"]
    for (const server of [servers().main, servers().pg13]) {
      const secrets = await serverSecrets(server, "md5", passwords)
      passwords.forEach((password, k) => {
        const { role, secret } = secrets[k]!
        assert.strictEqual(Md5.storedPassword(password, role), secret)
      })
    }
  })
})

// ---------------------------------------------------------------------------
// Logins
// ---------------------------------------------------------------------------

const TIMEOUT_MS = 10_000

/** Just enough of the protocol to authenticate: frames in, frames out. */
class Wire {
  private buffered = Buffer.alloc(0)
  private waiter: (() => void) | undefined = undefined
  private closed: Error | undefined = undefined
  readonly socket: net.Socket | tls.TLSSocket

  private constructor(socket: net.Socket | tls.TLSSocket) {
    this.socket = socket
    socket.on("data", (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk])
      this.waiter?.()
    })
    socket.on("error", (e) => {
      this.closed = e
      this.waiter?.()
    })
    socket.on("close", () => {
      this.closed ??= new Error("closed")
      this.waiter?.()
    })
  }

  static async open(server: ServerInfo, useTls: boolean): Promise<Wire> {
    const socket = net.connect(server.port, server.host)
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject))
    if (!useTls) return new Wire(socket)
    // SSLRequest (protocol-3.2 "SSLRequest"): length 8, code 80877103.
    socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]))
    const answer = await new Promise<Buffer>((resolve) => socket.once("data", resolve))
    assert.strictEqual(answer.toString("latin1"), "S")
    const secure = tls.connect({ socket, rejectUnauthorized: false })
    await new Promise<void>((resolve, reject) => secure.once("secureConnect", resolve).once("error", reject))
    return new Wire(secure)
  }

  send(type: string, body: Buffer): void {
    const header = Buffer.alloc(5)
    header.write(type, 0, "latin1")
    header.writeInt32BE(body.length + 4, 1)
    this.socket.write(Buffer.concat([header, body]))
  }

  startup(user: string, database: string): void {
    const params = Buffer.from(`user\0${user}\0database\0${database}\0\0`, "utf8")
    const header = Buffer.alloc(8)
    header.writeInt32BE(params.length + 8, 0)
    header.writeInt32BE(196608, 4)
    this.socket.write(Buffer.concat([header, params]))
  }

  async next(): Promise<{ type: string; body: Buffer }> {
    const deadline = Date.now() + TIMEOUT_MS
    while (true) {
      if (this.buffered.length >= 5) {
        const length = this.buffered.readInt32BE(1)
        if (this.buffered.length >= length + 1) {
          const frame = { type: String.fromCharCode(this.buffered[0]!), body: this.buffered.subarray(5, length + 1) }
          this.buffered = this.buffered.subarray(length + 1)
          return frame
        }
      }
      if (this.closed !== undefined) throw this.closed
      if (Date.now() > deadline) throw new Error("timed out")
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100)
        this.waiter = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.waiter = undefined
    }
  }

  close(): void {
    this.socket.destroy()
  }
}

const errorFields = (body: Buffer): Record<string, string> => {
  const fields: Record<string, string> = {}
  let pos = 0
  while (pos < body.length && body[pos] !== 0) {
    const end = body.indexOf(0, pos + 1)
    fields[String.fromCharCode(body[pos]!)] = body.toString("utf8", pos + 1, end)
    pos = end + 1
  }
  return fields
}

type Login =
  | { readonly ok: true; readonly mechanism: string | undefined; readonly channelBound: boolean }
  | { readonly ok: false; readonly code: string | undefined; readonly message: string }

/** Connects and authenticates with the auth modules; stops at ReadyForQuery or the first failure. */
const login = async (options: {
  readonly server: ServerInfo
  readonly user: string
  readonly password: string
  readonly tls: boolean
  readonly policy?: AuthPolicy.AuthPolicy | undefined
  /** Pretend the server offered no -PLUS (what a downgrading man in the middle does). */
  readonly hidePlus?: boolean | undefined
}): Promise<Login> => {
  const policy = options.policy ?? AuthPolicy.defaultPolicy
  const wire = await Wire.open(options.server, options.tls)
  let progress = AuthPolicy.initialProgress
  let client: Scram.ScramClient | undefined = undefined
  const refuse = (message: string): Login => ({ ok: false, code: undefined, message })
  try {
    wire.startup(options.user, options.server.database)
    while (true) {
      const { type, body } = await wire.next()
      if (type === "E") {
        const fields = errorFields(body)
        return { ok: false, code: fields["C"], message: fields["M"] ?? "" }
      }
      if (type === "Z") return { ok: true, mechanism: client?.mechanism, channelBound: progress.channelBound }
      if (type !== "R") continue
      const code = body.readInt32BE(0)
      const request: AuthPolicy.AuthRequest = code === 0
        ? "AuthenticationOk"
        : code === 3
        ? "AuthenticationCleartextPassword"
        : code === 5
        ? "AuthenticationMD5Password"
        : code === 10
        ? "AuthenticationSASL"
        : code === 11
        ? "AuthenticationSASLContinue"
        : code === 12
        ? "AuthenticationSASLFinal"
        : "AuthenticationUnknown"
      const allowed = AuthPolicy.check(policy, request, progress)
      if (Result.isFailure(allowed)) return refuse(allowed.failure.message)
      switch (request) {
        case "AuthenticationMD5Password": {
          const response = Md5.passwordResponse(options.password, options.user, body.subarray(4, 8))
          wire.send("p", Buffer.from(`${response}\0`, "latin1"))
          progress = { ...progress, clientFinishedAuth: true }
          break
        }
        case "AuthenticationSASL": {
          const offered = body.toString("utf8", 4).split("\0").filter((m) => m.length > 0)
          const visible = options.hidePlus === true ? offered.filter((m) => m !== Scram.MECHANISM_PLUS) : offered
          const choice = AuthPolicy.selectMechanism(policy, visible, options.tls)
          if (Result.isFailure(choice)) return refuse(choice.failure.message)
          let channelBinding: Scram.ClientChannelBinding = { _tag: "None" }
          if (choice.success.channelBinding === "NotOffered") channelBinding = { _tag: "NotOffered" }
          if (choice.success.channelBinding === "TlsServerEndPoint") {
            const der = (wire.socket as tls.TLSSocket).getPeerX509Certificate()!.raw
            const certificateHash = Result.getOrThrow(Scram.certificateHashForChannelBinding(new Uint8Array(der)))
            channelBinding = { _tag: "TlsServerEndPoint", certificateHash }
          }
          client = Result.getOrThrow(Scram.ScramClient.make({ password: options.password, channelBinding }))
          const data = Buffer.from(client.clientFirstMessage, "utf8")
          const length = Buffer.alloc(4)
          length.writeInt32BE(data.length, 0)
          wire.send("p", Buffer.concat([Buffer.from(`${client.mechanism}\0`, "latin1"), length, data]))
          break
        }
        case "AuthenticationSASLContinue": {
          const final = client!.receiveServerFirst(new Uint8Array(body.subarray(4)))
          if (Result.isFailure(final)) return refuse(final.failure.message)
          wire.send("p", Buffer.from(final.success, "utf8"))
          break
        }
        case "AuthenticationSASLFinal": {
          const verified = client!.receiveServerFinal(new Uint8Array(body.subarray(4)))
          if (Result.isFailure(verified)) return refuse(verified.failure.message)
          progress = { clientFinishedAuth: client!.isComplete, channelBound: client!.channelBound }
          break
        }
        case "AuthenticationOk":
          break
        default:
          return refuse(`unsupported ${request}`)
      }
    }
  } finally {
    wire.close()
  }
}

describe("Auth logins against PostgreSQL", () => {
  it("SCRAM-SHA-256 without TLS, PostgreSQL 18 and 13", async () => {
    for (const server of [servers().main, servers().pg13]) {
      const r = await login({ server, user: ROLES.scram, password: PASSWORDS.scramuser, tls: false })
      assert.deepStrictEqual(r, { ok: true, mechanism: "SCRAM-SHA-256", channelBound: false }, server.name)
    }
  })

  it("SCRAM-SHA-256-PLUS over TLS, bound to the server certificate", async () => {
    const r = await login({ server: servers().main, user: ROLES.ssl, password: PASSWORDS.ssluser, tls: true })
    assert.deepStrictEqual(r, { ok: true, mechanism: "SCRAM-SHA-256-PLUS", channelBound: true })
    const required = Result.getOrThrow(AuthPolicy.make({ channelBinding: "require", requireAuth: "scram-sha-256" }))
    const again = await login({ server: servers().main, user: ROLES.ssl, password: PASSWORDS.ssluser, tls: true, policy: required })
    assert.isTrue(again.ok)
  })

  it("the server detects a stripped -PLUS offer ('y' from a client over TLS)", async () => {
    const r = await login({ server: servers().main, user: ROLES.ssl, password: PASSWORDS.ssluser, tls: true, hidePlus: true })
    assert.isFalse(r.ok)
    if (!r.ok) {
      assert.strictEqual(SqlState.classify(r.code!).condition, "invalid_authorization_specification")
      assert.match(r.message, /SCRAM channel binding negotiation error/)
    }
  })

  it("a wrong SCRAM password gets 28P01 invalid_password", async () => {
    const r = await login({ server: servers().main, user: ROLES.scram, password: "wrong", tls: false })
    assert.isFalse(r.ok)
    if (!r.ok) {
      assert.strictEqual(SqlState.classify(r.code!).condition, "invalid_password")
      assert.notInclude(r.message, "wrong")
    }
  })

  it("MD5, and require_auth refusing it before the password leaves", async () => {
    const r = await login({ server: servers().pg13, user: ROLES.md5, password: PASSWORDS.md5user, tls: false })
    assert.deepStrictEqual(r, { ok: true, mechanism: undefined, channelBound: false })
    const scramOnly = Result.getOrThrow(AuthPolicy.make({ requireAuth: "scram-sha-256" }))
    const refused = await login({ server: servers().pg13, user: ROLES.md5, password: PASSWORDS.md5user, tls: false, policy: scramOnly })
    assert.deepStrictEqual(refused, {
      ok: false,
      code: undefined,
      message: "authentication method requirement \"scram-sha-256\" failed: server requested a hashed password"
    })
  })

  it("channel_binding=require refuses trust authentication", async () => {
    const policy = Result.getOrThrow(AuthPolicy.make({ channelBinding: "require" }))
    const r = await login({ server: servers().main, user: ROLES.trust, password: "", tls: true, policy })
    assert.isFalse(r.ok)
    if (!r.ok) assert.match(r.message, /authenticated client without channel binding/)
  })
})
