/**
 * SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677) as PostgreSQL
 * speaks them, client and server side, plus the SCRAM secret PostgreSQL
 * stores.
 *
 * **The exchange, message by message** (protocol-3.2 "SASL Authentication")
 *
 * 1. Server: AuthenticationSASL listing its mechanisms (`SCRAM-SHA-256-PLUS`
 *    first when the connection uses TLS).
 * 2. Client: SASLInitialResponse with the mechanism and the
 *    client-first-message `gs2-header client-first-bare`, where the gs2 header
 *    is `n,,` (no channel binding), `y,,` (the client could bind but the server
 *    offered no -PLUS) or `p=tls-server-end-point,,`, and the bare part is
 *    `n=<user>,r=<client nonce>`. PostgreSQL ignores the user name (the startup
 *    packet's is used), so it is empty by default, as libpq sends it.
 *    `ScramClient.make` then `clientFirstMessage`.
 * 3. Server: AuthenticationSASLContinue with the server-first-message
 *    `r=<client nonce + server nonce>,s=<salt>,i=<iterations>`
 *    (`ScramServer.receiveClientFirst`).
 * 4. Client: SASLResponse with the client-final-message
 *    `c=<base64(gs2 header + binding data)>,r=<nonce>,p=<proof>`
 *    (`ScramClient.receiveServerFirst`).
 * 5. Server: AuthenticationSASLFinal with the server-final-message
 *    `v=<server signature>` (`ScramServer.receiveClientFinal`), then
 *    AuthenticationOk. The client must verify `v=` before it trusts the
 *    AuthenticationOk (`ScramClient.receiveServerFinal`).
 *
 * With `SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, i)`,
 * `ClientKey = HMAC(SaltedPassword, "Client Key")`, `StoredKey = H(ClientKey)`,
 * `ServerKey = HMAC(SaltedPassword, "Server Key")` and `AuthMessage =
 * client-first-bare + "," + server-first + "," + client-final-without-proof`:
 * the proof is `ClientKey XOR HMAC(StoredKey, AuthMessage)` and the server
 * signature `HMAC(ServerKey, AuthMessage)`.
 *
 * **Hardening.** The server-first-message is parsed strictly (exactly `r`, `s`,
 * `i` in that order, as libpq does): a mandatory extension `m=` fails (RFC 5802
 * section 5.1), as does a duplicate or extra attribute; the nonce must extend
 * ours; the iteration count is bounded by `maxIterations` and checked before
 * PBKDF2 runs, because PBKDF2 cannot be interrupted and a hostile
 * `i=2000000000` would pin a core for minutes. `v=` is compared in constant
 * time. Every failure is an `AuthError` that never contains the password; a
 * state machine that failed stays failed.
 *
 * **Cost.** PBKDF2 runs synchronously in `receiveServerFirst` (and in
 * `makeSecret`/`verifyPassword`): on a current x86 core about 1 ms for
 * PostgreSQL's default 4096 iterations, 0.2 s at the default cap. A client
 * given a `KeyCache` derives the keys once per (password, salt, iteration
 * count), as RFC 7677 section 4 suggests: a reconnect then skips PBKDF2.
 *
 * Deliberately not here: choosing the mechanism and deciding whether the
 * exchange may run (`AuthPolicy`), the message framing (protocol layer), and
 * reading the certificate (`ChannelBinding`).
 *
 * Pure: `node:crypto` for hashing and random bytes, `node:buffer` for base64.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import * as Crypto from "node:crypto"
import * as Result from "effect/Result"
import { AuthError } from "../errors/PgError.ts"
import * as Utf8 from "../wire/Utf8.ts"
import { TLS_SERVER_END_POINT } from "./ChannelBinding.ts"
import { preparePassword } from "./SaslPrep.ts"

export { certificateHashForChannelBinding } from "./ChannelBinding.ts"

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const MECHANISM = "SCRAM-SHA-256"

/** @since 0.1.0 */
export const MECHANISM_PLUS = "SCRAM-SHA-256-PLUS"

/**
 * A SCRAM mechanism name as it appears in AuthenticationSASL and
 * SASLInitialResponse.
 *
 * @since 0.1.0
 */
export type Mechanism = typeof MECHANISM | typeof MECHANISM_PLUS

/**
 * The largest iteration count the client accepts from a server by default.
 *
 * **Details**
 *
 * PostgreSQL's `scram_iterations` defaults to 4096. OWASP's 2023 advice for
 * PBKDF2-HMAC-SHA-256 is 600,000, which some administrators follow; one
 * million leaves room for that, and bounds what a hostile server can make the
 * client burn to about 0.2 s of CPU per attempt. (node-postgres caps at
 * 100,000, which refuses such servers; pgx caps at 10,000,000.) Override it
 * with `maxIterations`.
 *
 * @since 0.1.0
 */
export const DEFAULT_MAX_ITERATIONS = 1_000_000

/**
 * The iteration count of a new secret: PostgreSQL's `scram_iterations` default.
 *
 * @since 0.1.0
 */
export const DEFAULT_ITERATIONS = 4096

/**
 * Random bytes in a nonce (libpq's and the server's `SCRAM_RAW_NONCE_LEN`),
 * sent as 24 base64 characters.
 *
 * @since 0.1.0
 */
export const NONCE_BYTES = 18

/**
 * Bytes of salt in a new secret (PostgreSQL's `SCRAM_DEFAULT_SALT_LEN`).
 *
 * @since 0.1.0
 */
export const DEFAULT_SALT_BYTES = 16

/**
 * Entries a `KeyCache` keeps by default: one per (password, salt, iteration
 * count), that is per role and server secret a process connects with.
 *
 * @since 0.1.0
 */
export const DEFAULT_KEY_CACHE_ENTRIES = 64

/** PostgreSQL stores the iteration count as an int32 (and PBKDF2 here takes no more). */
const MAX_ITERATIONS = 0x7fffffff

/** SHA-256 output, the length of every key and signature. */
const KEY_BYTES = 32

/** Server errors (`e=`) are quoted in our error up to this length. */
const MAX_QUOTED_SERVER_ERROR = 100

// ---------------------------------------------------------------------------
// Primitives
// ---------------------------------------------------------------------------

// Through a KeyObject: Node's createHmac takes about three times as long with the raw key bytes.
const hmac = (key: Uint8Array | Crypto.KeyObject, data: Uint8Array | string): Uint8Array =>
  new Uint8Array(
    Crypto.createHmac("sha256", key instanceof Uint8Array ? Crypto.createSecretKey(key) : key).update(data).digest()
  )

const sha256 = (data: Uint8Array): Uint8Array => new Uint8Array(Crypto.createHash("sha256").update(data).digest())

const xor = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!
  return out
}

const equalConstantTime = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && Crypto.timingSafeEqual(a, b)

// Strict base64 (RFC 4648 section 4, padded): Buffer.from would skip junk.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

const fromBase64 = (text: string): Uint8Array | undefined =>
  BASE64.test(text) ? new Uint8Array(Buffer.from(text, "base64")) : undefined

const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

/** RFC 5802 `printable`: %x21-2B / %x2D-7E (visible ASCII except ','). */
const isPrintable = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x21 || c > 0x7e || c === 0x2c) return false
  }
  return true
}

const randomNonce = (): string => toBase64(new Uint8Array(Crypto.randomBytes(NONCE_BYTES)))

/** RFC 5802 `saslname`: ',' and '=' escaped as =2C and =3D. */
const saslName = (name: string): string => name.replace(/=/g, "=3D").replace(/,/g, "=2C")

const isSaslName = (value: string): boolean => /^(?:[^=,]|=2C|=3D)*$/.test(value)

/** Quotes a server-sent string in an error: printable ASCII only, bounded. */
const quote = (value: string): string => {
  const clipped = value.length > MAX_QUOTED_SERVER_ERROR ? `${value.slice(0, MAX_QUOTED_SERVER_ERROR)}...` : value
  return JSON.stringify(clipped.replace(/[^\x20-\x7e]/g, "?"))
}

/**
 * What a password yields for one salt and iteration count.
 *
 * @since 0.1.0
 */
export interface Keys {
  readonly clientKey: Uint8Array
  readonly storedKey: Uint8Array
  readonly serverKey: Uint8Array
}

const deriveKeys = (password: Uint8Array, salt: Uint8Array, iterations: number): Keys => {
  const salted = new Uint8Array(Crypto.pbkdf2Sync(password, salt, iterations, KEY_BYTES, "sha256"))
  const clientKey = hmac(salted, "Client Key")
  return { clientKey, storedKey: sha256(clientKey), serverKey: hmac(salted, "Server Key") }
}

/**
 * The keys derived from a password, remembered per (password, salt, iteration
 * count) so that a reconnect skips PBKDF2: RFC 7677 section 4, "this
 * computational cost can be avoided by caching the ClientKey (assuming the
 * Salt and hash iteration-count is stable)".
 *
 * **Details**
 *
 * An entry is found by an HMAC of the three inputs under a key drawn at random
 * when the cache is made, so the cache holds neither the password nor a plain
 * hash of it; what it holds (ClientKey, ServerKey) is what the server's own
 * secret is made of. A changed password, or a new secret on the server (a new
 * salt), is simply another entry. At most `capacity` entries, the least
 * recently used dropped first.
 *
 * @since 0.1.0
 */
export class KeyCache {
  readonly capacity: number
  readonly #entries = new Map<string, Keys>()
  readonly #secret = Crypto.createSecretKey(Crypto.randomBytes(KEY_BYTES))
  #misses = 0

  constructor(capacity = DEFAULT_KEY_CACHE_ENTRIES) {
    this.capacity = Math.max(1, Math.floor(capacity))
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size
  }

  /** Derivations run (PBKDF2 calls) since the cache was made. */
  get misses(): number {
    return this.#misses
  }

  /** The keys for these inputs, derived on the first use. */
  derive(password: Uint8Array, salt: Uint8Array, iterations: number): Keys {
    const id = this.#id(password, salt, iterations)
    const found = this.#entries.get(id)
    if (found !== undefined) {
      // Re-inserted: a Map iterates in insertion order, so the first key is the least recently used.
      this.#entries.delete(id)
      this.#entries.set(id, found)
      return found
    }
    this.#misses++
    const keys = deriveKeys(password, salt, iterations)
    if (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value!)
    this.#entries.set(id, keys)
    return keys
  }

  /** Lengths first, so no two input triples share an id. */
  #id(password: Uint8Array, salt: Uint8Array, iterations: number): string {
    const lengths = new Uint8Array(12)
    const view = new DataView(lengths.buffer)
    view.setUint32(0, password.length)
    view.setUint32(4, salt.length)
    view.setUint32(8, iterations)
    return Crypto.createHmac("sha256", this.#secret).update(lengths).update(password).update(salt).digest("base64")
  }
}

/** One `x=value` attribute of a SCRAM message. */
interface Attribute {
  readonly name: string
  readonly value: string
}

/** Splits a SCRAM message into attributes; undefined when a part is not `x=value`. */
const parseAttributes = (message: string): ReadonlyArray<Attribute> | undefined => {
  const parts = message.split(",")
  const out: Array<Attribute> = []
  for (const part of parts) {
    if (part.length < 2 || part.charCodeAt(1) !== 0x3d) return undefined
    const name = part[0]!
    if (!/^[A-Za-z]$/.test(name)) return undefined
    out.push({ name, value: part.slice(2) })
  }
  return out
}

const toText = (message: string | Uint8Array): string | undefined =>
  typeof message === "string" ? message : Utf8.decode(message, 0, message.length)

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

/**
 * What the client knows about channel binding when it starts the exchange.
 *
 * **Details**
 *
 * - `None` (gs2 `n,,`): no TLS, or `channel_binding=disable`.
 * - `NotOffered` (gs2 `y,,`): TLS is in use and the client could bind, but the
 *   server did not offer SCRAM-SHA-256-PLUS. A server that does support it then
 *   fails the exchange: that is how a downgrade by a man in the middle shows.
 * - `TlsServerEndPoint` (gs2 `p=tls-server-end-point,,`, mechanism
 *   SCRAM-SHA-256-PLUS): `certificateHash` is
 *   `certificateHashForChannelBinding(serverCertificateDer)`.
 *
 * @since 0.1.0
 */
export type ClientChannelBinding =
  | { readonly _tag: "None" }
  | { readonly _tag: "NotOffered" }
  | { readonly _tag: "TlsServerEndPoint"; readonly certificateHash: Uint8Array }

/**
 * Options of `ScramClient.make`.
 *
 * @since 0.1.0
 */
export interface ClientOptions {
  /**
   * The password, SASLprep'd here as PostgreSQL does (`SaslPrep.preparePassword`):
   * a password SASLprep rejects is used raw. Bytes are used as given when they
   * are not UTF-8.
   */
  readonly password: string | Uint8Array
  /** Default `{ _tag: "None" }`. */
  readonly channelBinding?: ClientChannelBinding | undefined
  /** The user name in client-first-bare; PostgreSQL ignores it. Default "" (as libpq). */
  readonly username?: string | undefined
  /** The client nonce, for tests only: printable ASCII without ','. Default: 18 random bytes, base64. */
  readonly nonce?: string | undefined
  /** The largest `i=` accepted. Default `DEFAULT_MAX_ITERATIONS`. */
  readonly maxIterations?: number | undefined
  /** Where derived keys are looked up and kept; without one, every exchange runs PBKDF2. */
  readonly keyCache?: KeyCache | undefined
}

type ClientState =
  | { readonly _tag: "AwaitingServerFirst"; readonly password: Uint8Array }
  | { readonly _tag: "AwaitingServerFinal"; readonly serverSignature: Uint8Array }
  | { readonly _tag: "Complete" }
  | { readonly _tag: "Failed" }

/**
 * The client side of one SCRAM exchange. Use it once: make a new one per
 * connection attempt (never share a nonce between connections).
 *
 * **Details**
 *
 * States: AwaitingServerFirst -> AwaitingServerFinal -> Complete, or Failed
 * from any state. A method called in the wrong state fails with an
 * `AuthError` and moves to Failed.
 *
 * @since 0.1.0
 */
export class ScramClient {
  /** The mechanism to name in SASLInitialResponse. */
  readonly mechanism: Mechanism
  /** The SASLInitialResponse data: `gs2-header client-first-bare`. */
  readonly clientFirstMessage: string
  readonly #nonce: string
  readonly #gs2Header: string
  readonly #bindingData: Uint8Array
  readonly #clientFirstBare: string
  readonly #maxIterations: number
  readonly #keyCache: KeyCache | undefined
  #state: ClientState

  private constructor(fields: {
    readonly mechanism: Mechanism
    readonly gs2Header: string
    readonly bindingData: Uint8Array
    readonly nonce: string
    readonly username: string
    readonly maxIterations: number
    readonly keyCache: KeyCache | undefined
    readonly password: Uint8Array
  }) {
    this.mechanism = fields.mechanism
    this.#gs2Header = fields.gs2Header
    this.#bindingData = fields.bindingData
    this.#nonce = fields.nonce
    this.#clientFirstBare = `n=${saslName(fields.username)},r=${fields.nonce}`
    this.clientFirstMessage = this.#gs2Header + this.#clientFirstBare
    this.#maxIterations = fields.maxIterations
    this.#keyCache = fields.keyCache
    this.#state = { _tag: "AwaitingServerFirst", password: fields.password }
  }

  /**
   * Starts an exchange.
   *
   * **Details**
   *
   * Fails when the password is a string with an unpaired surrogate, the
   * injected nonce is not printable, `maxIterations` is not a positive integer,
   * or the certificate hash is empty.
   *
   * @since 0.1.0
   */
  static make(options: ClientOptions): Result.Result<ScramClient, AuthError> {
    const binding = options.channelBinding ?? { _tag: "None" }
    const mechanism: Mechanism = binding._tag === "TlsServerEndPoint" ? MECHANISM_PLUS : MECHANISM
    const fail = (message: string) => Result.fail(new AuthError({ message: `SCRAM: ${message}`, method: mechanism }))
    const nonce = options.nonce ?? randomNonce()
    if (nonce.length === 0 || !isPrintable(nonce)) return fail("the client nonce must be printable ASCII without ','")
    const maxIterations = options.maxIterations ?? DEFAULT_MAX_ITERATIONS
    if (!Number.isSafeInteger(maxIterations) || maxIterations < 1 || maxIterations > MAX_ITERATIONS) {
      return fail("maxIterations must be an integer from 1 to 2147483647")
    }
    if (binding._tag === "TlsServerEndPoint" && binding.certificateHash.length === 0) {
      return fail("the channel binding certificate hash is empty")
    }
    const password = preparePassword(options.password)
    if (Result.isFailure(password)) return Result.fail(password.failure)
    const gs2Header = binding._tag === "None"
      ? "n,,"
      : binding._tag === "NotOffered"
      ? "y,,"
      : `p=${TLS_SERVER_END_POINT},,`
    return Result.succeed(
      new ScramClient({
        mechanism,
        gs2Header,
        bindingData: binding._tag === "TlsServerEndPoint" ? binding.certificateHash.slice() : new Uint8Array(0),
        nonce,
        username: options.username ?? "",
        maxIterations,
        keyCache: options.keyCache,
        password: password.success
      })
    )
  }

  /** Whether the server proved it knows the password (server-final verified). */
  get isComplete(): boolean {
    return this.#state._tag === "Complete"
  }

  /** Whether the exchange completed with channel binding (what `channel_binding=require` asks). */
  get channelBound(): boolean {
    return this.#state._tag === "Complete" && this.mechanism === MECHANISM_PLUS
  }

  #fail(where: string, message: string): Result.Result<never, AuthError> {
    this.#state = { _tag: "Failed" }
    return Result.fail(new AuthError({ message: `SCRAM ${where}: ${message}`, method: this.mechanism }))
  }

  /**
   * Step 4: reads the server-first-message (AuthenticationSASLContinue data)
   * and returns the client-final-message (SASLResponse data).
   *
   * @since 0.1.0
   */
  receiveServerFirst(message: string | Uint8Array): Result.Result<string, AuthError> {
    const where = "server-first-message"
    const state = this.#state
    if (state._tag !== "AwaitingServerFirst") return this.#fail(where, `unexpected in state ${state._tag}`)
    const text = toText(message)
    if (text === undefined) return this.#fail(where, "not valid UTF-8")
    const attributes = parseAttributes(text)
    if (attributes === undefined) return this.#fail(where, "malformed attribute list")
    if (attributes[0]?.name === "m") return this.#fail(where, "the server requires an unsupported extension (m=)")
    const expected = ["r", "s", "i"]
    for (let k = 0; k < expected.length; k++) {
      const found = attributes[k]?.name
      if (found !== expected[k]) {
        return this.#fail(
          where,
          found === undefined ? `missing ${expected[k]}=` : `expected ${expected[k]}= as attribute ${k + 1}, found ${found}=`
        )
      }
    }
    if (attributes.length > expected.length) {
      return this.#fail(where, `unexpected attribute ${attributes[expected.length]!.name}= after i=`)
    }
    const nonce = attributes[0]!.value
    const saltText = attributes[1]!.value
    const iterationsText = attributes[2]!.value

    if (!isPrintable(nonce)) return this.#fail(where, "the nonce is not printable")
    if (!nonce.startsWith(this.#nonce)) return this.#fail(where, "the nonce does not start with the client nonce")
    if (nonce.length === this.#nonce.length) return this.#fail(where, "the nonce has no server part")

    const salt = fromBase64(saltText)
    if (salt === undefined || salt.length === 0) return this.#fail(where, "the salt is not valid base64")

    // RFC 5802 posit-number; the length test keeps parseInt exact.
    if (!/^[1-9][0-9]*$/.test(iterationsText)) return this.#fail(where, "the iteration count is not a positive integer")
    const iterations = iterationsText.length > 15 ? Infinity : Number.parseInt(iterationsText, 10)
    // Checked before PBKDF2: the whole point of the cap.
    if (iterations > this.#maxIterations) {
      return this.#fail(where, `the iteration count ${iterationsText} exceeds the maximum ${this.#maxIterations}`)
    }

    const keys = this.#keyCache === undefined
      ? deriveKeys(state.password, salt, iterations)
      : this.#keyCache.derive(state.password, salt, iterations)
    const channelBinding = toBase64(concat(Utf8.encode(this.#gs2Header), this.#bindingData))
    const withoutProof = `c=${channelBinding},r=${nonce}`
    const authMessage = `${this.#clientFirstBare},${text},${withoutProof}`
    const proof = xor(keys.clientKey, hmac(keys.storedKey, authMessage))
    this.#state = { _tag: "AwaitingServerFinal", serverSignature: hmac(keys.serverKey, authMessage) }
    return Result.succeed(`${withoutProof},p=${toBase64(proof)}`)
  }

  /**
   * Step 5: verifies the server-final-message (AuthenticationSASLFinal data).
   *
   * **Details**
   *
   * Only after this succeeds may the AuthenticationOk that follows be trusted.
   * An `e=` message fails with the server's error value quoted.
   *
   * @since 0.1.0
   */
  receiveServerFinal(message: string | Uint8Array): Result.Result<void, AuthError> {
    const where = "server-final-message"
    const state = this.#state
    if (state._tag !== "AwaitingServerFinal") return this.#fail(where, `unexpected in state ${state._tag}`)
    const text = toText(message)
    if (text === undefined) return this.#fail(where, "not valid UTF-8")
    if (text.startsWith("e=")) return this.#fail(where, `the server reported an error ${quote(text.slice(2))}`)
    const attributes = parseAttributes(text)
    if (attributes === undefined) return this.#fail(where, "malformed attribute list")
    if (attributes[0]!.name !== "v") return this.#fail(where, `expected v=, found ${attributes[0]!.name}=`)
    if (attributes.length > 1) return this.#fail(where, `unexpected attribute ${attributes[1]!.name}= after v=`)
    const signature = fromBase64(attributes[0]!.value)
    if (signature === undefined || signature.length !== KEY_BYTES) {
      return this.#fail(where, "the server signature is not 32 bytes of base64")
    }
    if (!equalConstantTime(signature, state.serverSignature)) {
      return this.#fail(where, "the server signature is wrong: the server did not prove it knows the password")
    }
    this.#state = { _tag: "Complete" }
    return Result.void
  }
}

// ---------------------------------------------------------------------------
// Secret
// ---------------------------------------------------------------------------

/**
 * A SCRAM-SHA-256 secret, what PostgreSQL stores in `pg_authid.rolpassword`
 * instead of the password.
 *
 * @since 0.1.0
 */
export interface ScramSecret {
  readonly iterations: number
  readonly salt: Uint8Array
  /** H(ClientKey): verifies the client's proof. */
  readonly storedKey: Uint8Array
  /** HMAC(SaltedPassword, "Server Key"): signs the server-final-message. */
  readonly serverKey: Uint8Array
}

const secretError = (message: string) => new AuthError({ message: `SCRAM secret: ${message}`, method: MECHANISM })

/**
 * Builds a secret from a password, as the server does for
 * `CREATE ROLE ... PASSWORD` with `password_encryption = scram-sha-256`
 * (and libpq's `PQencryptPasswordConn`).
 *
 * **Details**
 *
 * The password is SASLprep'd as for the client. `iterations` defaults to
 * `DEFAULT_ITERATIONS`, `salt` to `DEFAULT_SALT_BYTES` random bytes.
 *
 * @since 0.1.0
 */
export const makeSecret = (
  password: string | Uint8Array,
  options?: { readonly iterations?: number | undefined; readonly salt?: Uint8Array | undefined }
): Result.Result<ScramSecret, AuthError> => {
  const iterations = options?.iterations ?? DEFAULT_ITERATIONS
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    return Result.fail(secretError("the iteration count must be an integer from 1 to 2147483647"))
  }
  const salt = options?.salt ?? new Uint8Array(Crypto.randomBytes(DEFAULT_SALT_BYTES))
  if (salt.length === 0) return Result.fail(secretError("the salt is empty"))
  return Result.map(preparePassword(password), (prepared) => {
    const keys = deriveKeys(prepared, salt, iterations)
    return { iterations, salt: salt.slice(), storedKey: keys.storedKey, serverKey: keys.serverKey }
  })
}

/**
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64 parts:
 * the text form PostgreSQL stores.
 *
 * @since 0.1.0
 */
export const formatSecret = (secret: ScramSecret): string =>
  `${MECHANISM}$${secret.iterations}:${toBase64(secret.salt)}$${toBase64(secret.storedKey)}:${toBase64(secret.serverKey)}`

/**
 * Parses the stored text form (see `formatSecret`), as the server's
 * `parse_scram_secret` does.
 *
 * **Details**
 *
 * Fails when the scheme is not SCRAM-SHA-256, the iteration count is not an
 * integer from 1 to 2147483647, a part is not base64, or a key is not 32
 * bytes. The error never quotes the secret.
 *
 * @since 0.1.0
 */
export const parseSecret = (text: string): Result.Result<ScramSecret, AuthError> => {
  const m = /^SCRAM-SHA-256\$([0-9]+):([^$:]*)\$([^$:]*):([^$:]*)$/.exec(text)
  if (m === null) return Result.fail(secretError("not of the form SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"))
  const iterations = m[1]!.length > 10 ? Infinity : Number.parseInt(m[1]!, 10)
  if (iterations < 1 || iterations > MAX_ITERATIONS) return Result.fail(secretError("the iteration count is out of range"))
  const salt = fromBase64(m[2]!)
  if (salt === undefined || salt.length === 0) return Result.fail(secretError("the salt is not base64"))
  const storedKey = fromBase64(m[3]!)
  if (storedKey === undefined || storedKey.length !== KEY_BYTES) {
    return Result.fail(secretError("StoredKey is not 32 bytes of base64"))
  }
  const serverKey = fromBase64(m[4]!)
  if (serverKey === undefined || serverKey.length !== KEY_BYTES) {
    return Result.fail(secretError("ServerKey is not 32 bytes of base64"))
  }
  return Result.succeed({ iterations, salt, storedKey, serverKey })
}

/**
 * Server side of plain `password` authentication for a role with a SCRAM
 * secret: whether `password` is the one the secret was made from.
 *
 * **Details**
 *
 * As the server's `scram_verify_plain_password`: SASLprep, PBKDF2 with the
 * secret's salt and iterations, then a constant-time comparison of ServerKey.
 * False for a string with an unpaired surrogate.
 *
 * @since 0.1.0
 */
export const verifyPassword = (secret: ScramSecret, password: string | Uint8Array): boolean => {
  const prepared = preparePassword(password)
  if (Result.isFailure(prepared)) return false
  const keys = deriveKeys(prepared.success, secret.salt, secret.iterations)
  return equalConstantTime(keys.serverKey, secret.serverKey)
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/**
 * The mechanisms a server offers in AuthenticationSASL, best first:
 * SCRAM-SHA-256-PLUS only over TLS (protocol-3.2 "SCRAM-SHA-256 Authentication").
 *
 * @since 0.1.0
 */
export const serverMechanisms = (tls: boolean): ReadonlyArray<Mechanism> =>
  tls ? [MECHANISM_PLUS, MECHANISM] : [MECHANISM]

/**
 * Options of `ScramServer.make`.
 *
 * @since 0.1.0
 */
export interface ServerOptions {
  /**
   * The role's secret. `undefined` for a role that does not exist or has no
   * SCRAM secret: the exchange then runs with `mockSalt` and always fails at
   * the proof, so a client cannot tell unknown users from wrong passwords
   * (as PostgreSQL's "doomed" exchanges).
   */
  readonly secret: ScramSecret | undefined
  /**
   * The `tls-server-end-point` hash of the server's own certificate, when the
   * connection uses TLS and the server offers SCRAM-SHA-256-PLUS. Absent: the
   * server offers no channel binding.
   */
  readonly certificateHash?: Uint8Array | undefined
  /** The server part of the nonce, for tests only. Default: 18 random bytes, base64. */
  readonly nonce?: string | undefined
  /** The salt shown for an unknown role; keep it stable per role name. Default: random. */
  readonly mockSalt?: Uint8Array | undefined
}

type ServerState =
  | { readonly _tag: "AwaitingClientFirst" }
  | {
    readonly _tag: "AwaitingClientFinal"
    readonly mechanism: Mechanism
    readonly gs2Header: string
    readonly clientFirstBare: string
    readonly serverFirst: string
    readonly nonce: string
  }
  | { readonly _tag: "Complete" }
  | { readonly _tag: "Failed" }

/**
 * The server side of one SCRAM exchange, for the server engine and test
 * servers.
 *
 * **Details**
 *
 * States: AwaitingClientFirst -> AwaitingClientFinal -> Complete, or Failed.
 * Failures are `AuthError`s describing the client's fault; PostgreSQL answers
 * every one of them with an ErrorResponse (28P01 for a wrong proof, 08P01 for
 * a malformed message), which is the engine's choice to make.
 *
 * @since 0.1.0
 */
export class ScramServer {
  readonly #secret: ScramSecret | undefined
  readonly #salt: Uint8Array
  readonly #iterations: number
  readonly #certificateHash: Uint8Array | undefined
  readonly #serverNonce: string
  #state: ServerState = { _tag: "AwaitingClientFirst" }

  private constructor(options: ServerOptions, serverNonce: string) {
    this.#secret = options.secret
    this.#salt = options.secret?.salt ?? options.mockSalt ?? new Uint8Array(Crypto.randomBytes(DEFAULT_SALT_BYTES))
    this.#iterations = options.secret?.iterations ?? DEFAULT_ITERATIONS
    this.#certificateHash = options.certificateHash
    this.#serverNonce = serverNonce
  }

  /**
   * Starts an exchange. Fails when the injected nonce is not printable.
   *
   * @since 0.1.0
   */
  static make(options: ServerOptions): Result.Result<ScramServer, AuthError> {
    const nonce = options.nonce ?? randomNonce()
    if (nonce.length === 0 || !isPrintable(nonce)) {
      return Result.fail(new AuthError({ message: "SCRAM: the server nonce must be printable ASCII without ','", method: MECHANISM }))
    }
    return Result.succeed(new ScramServer(options, nonce))
  }

  /** The mechanisms to list in AuthenticationSASL. */
  get mechanisms(): ReadonlyArray<Mechanism> {
    return serverMechanisms(this.#certificateHash !== undefined)
  }

  /** Whether the client proved it knows the password. */
  get isComplete(): boolean {
    return this.#state._tag === "Complete"
  }

  #fail(where: string, message: string): Result.Result<never, AuthError> {
    const mechanism = this.#state._tag === "AwaitingClientFinal" ? this.#state.mechanism : MECHANISM
    this.#state = { _tag: "Failed" }
    return Result.fail(new AuthError({ message: `SCRAM ${where}: ${message}`, method: mechanism }))
  }

  /**
   * Step 3: reads SASLInitialResponse (the mechanism and the
   * client-first-message) and returns the server-first-message.
   *
   * **Details**
   *
   * Checks follow the server's `read_client_first_message`: the mechanism must
   * be one offered; `p=` must name tls-server-end-point and match the
   * mechanism; `y` fails when this server offers channel binding (a downgrade);
   * an authorization identity (`a=`) and a mandatory extension (`m=`) are
   * refused; the nonce must be printable. The user name is ignored.
   *
   * @since 0.1.0
   */
  receiveClientFirst(mechanism: string, message: string | Uint8Array): Result.Result<string, AuthError> {
    const where = "client-first-message"
    if (this.#state._tag !== "AwaitingClientFirst") return this.#fail(where, `unexpected in state ${this.#state._tag}`)
    const plus = mechanism === MECHANISM_PLUS
    if (!(mechanism === MECHANISM || (plus && this.#certificateHash !== undefined))) {
      return this.#fail(where, "the client selected a mechanism this server did not offer")
    }
    const text = toText(message)
    if (text === undefined) return this.#fail(where, "not valid UTF-8")

    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    const first = text.indexOf(",")
    const second = first < 0 ? -1 : text.indexOf(",", first + 1)
    if (second < 0) return this.#fail(where, "malformed gs2 header")
    const flag = text.slice(0, first)
    const authzid = text.slice(first + 1, second)
    if (flag === "n" || flag === "y") {
      if (plus) return this.#fail(where, "SCRAM-SHA-256-PLUS selected without channel binding data")
      if (flag === "y" && this.#certificateHash !== undefined) {
        return this.#fail(where, "the client thinks this server does not support channel binding, but it does")
      }
    } else if (flag.startsWith("p=")) {
      if (!plus) return this.#fail(where, "SCRAM-SHA-256 selected with channel binding data")
      if (flag.slice(2) !== TLS_SERVER_END_POINT) return this.#fail(where, "unsupported channel binding type")
    } else {
      return this.#fail(where, "malformed gs2 channel binding flag")
    }
    if (authzid !== "") return this.#fail(where, "authorization identities (a=) are not supported")

    const clientFirstBare = text.slice(second + 1)
    const attributes = parseAttributes(clientFirstBare)
    if (attributes === undefined) return this.#fail(where, "malformed attribute list")
    if (attributes[0]?.name === "m") return this.#fail(where, "the client requires an unsupported extension (m=)")
    if (attributes[0]?.name !== "n") return this.#fail(where, "missing n=")
    if (!isSaslName(attributes[0].value)) return this.#fail(where, "malformed user name")
    if (attributes[1]?.name !== "r") return this.#fail(where, "missing r=")
    const clientNonce = attributes[1].value
    if (clientNonce.length === 0 || !isPrintable(clientNonce)) return this.#fail(where, "the nonce is not printable")
    // Further attributes are extensions, ignored as the server does.

    const nonce = clientNonce + this.#serverNonce
    const serverFirst = `r=${nonce},s=${toBase64(this.#salt)},i=${this.#iterations}`
    this.#state = {
      _tag: "AwaitingClientFinal",
      mechanism: plus ? MECHANISM_PLUS : MECHANISM,
      gs2Header: text.slice(0, second + 1),
      clientFirstBare,
      serverFirst,
      nonce
    }
    return Result.succeed(serverFirst)
  }

  /**
   * Step 5: verifies the client-final-message (SASLResponse data) and returns
   * the server-final-message.
   *
   * **Details**
   *
   * As the server's `read_client_final_message` and `verify_client_proof`: the
   * channel binding attribute must repeat the gs2 header (and the certificate
   * hash for -PLUS), the nonce must be the combined one, `p=` must be last, and
   * H(ClientKey) recovered from the proof must equal StoredKey.
   *
   * @since 0.1.0
   */
  receiveClientFinal(message: string | Uint8Array): Result.Result<string, AuthError> {
    const where = "client-final-message"
    const state = this.#state
    if (state._tag !== "AwaitingClientFinal") return this.#fail(where, `unexpected in state ${state._tag}`)
    const text = toText(message)
    if (text === undefined) return this.#fail(where, "not valid UTF-8")
    const attributes = parseAttributes(text)
    if (attributes === undefined || attributes.length < 3) return this.#fail(where, "malformed attribute list")
    const [c, r] = attributes
    const p = attributes[attributes.length - 1]!
    if (c!.name !== "c") return this.#fail(where, "missing c=")
    if (r!.name !== "r") return this.#fail(where, "missing r=")
    if (p.name !== "p") return this.#fail(where, "p= is not the last attribute")
    for (let k = 2; k < attributes.length - 1; k++) {
      if (attributes[k]!.name === "p") return this.#fail(where, "p= appears twice")
    }

    const binding = fromBase64(c!.value)
    const expectedBinding = concat(
      Utf8.encode(state.gs2Header),
      state.mechanism === MECHANISM_PLUS ? this.#certificateHash! : new Uint8Array(0)
    )
    if (binding === undefined || !equalConstantTime(binding, expectedBinding)) {
      return this.#fail(where, "the channel binding check failed")
    }
    if (r!.value !== state.nonce) return this.#fail(where, "the nonce does not match")
    const proof = fromBase64(p.value)
    if (proof === undefined || proof.length !== KEY_BYTES) return this.#fail(where, "the proof is not 32 bytes of base64")

    const withoutProof = text.slice(0, text.length - p.value.length - 3)
    const authMessage = `${state.clientFirstBare},${state.serverFirst},${withoutProof}`
    const secret = this.#secret
    if (secret === undefined) return this.#fail(where, "the proof is wrong")
    const clientKey = xor(proof, hmac(secret.storedKey, authMessage))
    if (!equalConstantTime(sha256(clientKey), secret.storedKey)) return this.#fail(where, "the proof is wrong")
    this.#state = { _tag: "Complete" }
    return Result.succeed(`v=${toBase64(hmac(secret.serverKey, authMessage))}`)
  }
}
