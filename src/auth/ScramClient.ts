/**
 * The client side of a SCRAM-SHA-256 or SCRAM-SHA-256-PLUS exchange
 * (RFC 5802, RFC 7677) as PostgreSQL speaks it: steps 2, 4 and 5 of the
 * exchange told in `Scram.ts`, and the cache of derived keys.
 *
 * **Details**
 *
 * The server-first-message is parsed strictly (exactly `r`, `s`, `i` in that
 * order, as libpq does): a mandatory extension `m=` fails (RFC 5802 section
 * 5.1), as does a duplicate or extra attribute; the nonce must extend ours;
 * the iteration count is bounded by `maxIterations` and checked before PBKDF2
 * runs, because PBKDF2 cannot be interrupted and a hostile `i=2000000000`
 * would pin a core for minutes. `v=` is compared in constant time. Every
 * failure is an `AuthError` that never contains the password; a client that
 * failed stays failed.
 *
 * PBKDF2 runs synchronously in `receiveServerFirst`: about 1 ms on a current
 * x86 core for PostgreSQL's default 4096 iterations, 0.2 s at the default
 * cap. A client given a `KeyCache` derives the keys once per (password,
 * salt, iteration count), as RFC 7677 section 4 suggests: a reconnect then
 * skips PBKDF2.
 *
 * Not here: choosing the mechanism and deciding whether the exchange may run
 * (`AuthPolicy`), and reading the certificate (`ChannelBinding`). Pure:
 * `node:crypto` for hashing and random bytes.
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"
import * as Result from "effect/Result"
import { AuthError } from "../errors/PgError.ts"
import { TLS_SERVER_END_POINT } from "./ChannelBinding.ts"
import { preparePassword } from "./SaslPrep.ts"
import {
  channelBindingInput,
  clientSignature,
  deriveKeys,
  equalConstantTime,
  fromBase64,
  isIterationCount,
  isNonce,
  isPrintable,
  KEY_BYTES,
  keyFromBase64,
  type Keys,
  makeAuthMessage,
  type Mechanism,
  MECHANISM,
  MECHANISM_PLUS,
  parseAttributes,
  randomNonce,
  readAttributes,
  saslName,
  serverSignature,
  toBase64,
  toText,
  xor
} from "./ScramPrimitives.ts"

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
 * Entries a `KeyCache` keeps by default: one per (password, salt, iteration
 * count), that is per role and server secret a process connects with.
 *
 * @since 0.1.0
 */
export const DEFAULT_KEY_CACHE_ENTRIES = 64

/** Server errors (`e=`) are quoted in our error up to this length. */
const MAX_QUOTED_SERVER_ERROR = 100

/** Quotes a server-sent string in an error: printable ASCII only, bounded. */
const quote = (value: string): string => {
  const clipped = value.length > MAX_QUOTED_SERVER_ERROR ? `${value.slice(0, MAX_QUOTED_SERVER_ERROR)}...` : value
  return JSON.stringify(clipped.replace(/[^\x20-\x7e]/g, "?"))
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
    if (!isNonce(nonce)) return fail("the client nonce must be printable ASCII without ','")
    const maxIterations = options.maxIterations ?? DEFAULT_MAX_ITERATIONS
    if (!isIterationCount(maxIterations)) {
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
    const read = readAttributes(message)
    if (Result.isFailure(read)) return this.#fail(where, read.failure)
    const { attributes, text } = read.success
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
    const withoutProof = `c=${toBase64(channelBindingInput(this.#gs2Header, this.#bindingData))},r=${nonce}`
    const authMessage = makeAuthMessage(this.#clientFirstBare, text, withoutProof)
    const proof = xor(keys.clientKey, clientSignature(keys.storedKey, authMessage))
    this.#state = { _tag: "AwaitingServerFinal", serverSignature: serverSignature(keys.serverKey, authMessage) }
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
    const signature = keyFromBase64(attributes[0]!.value)
    if (signature === undefined) {
      return this.#fail(where, "the server signature is not 32 bytes of base64")
    }
    if (!equalConstantTime(signature, state.serverSignature)) {
      return this.#fail(where, "the server signature is wrong: the server did not prove it knows the password")
    }
    this.#state = { _tag: "Complete" }
    return Result.void
  }
}
