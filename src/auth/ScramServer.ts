/**
 * The server side of a SCRAM-SHA-256 or SCRAM-SHA-256-PLUS exchange
 * (RFC 5802, RFC 7677), for the server engine and test servers: steps 1, 3
 * and 5 of the exchange told in `Scram.ts`.
 *
 * **Details**
 *
 * The checks follow the server's `read_client_first_message`,
 * `read_client_final_message` and `verify_client_proof`. A role without a
 * secret runs a "doomed" exchange that fails only at the proof, so a client
 * cannot tell unknown users from wrong passwords.
 *
 * Not here: the secret's text form and plain password checks
 * (`ScramSecret`), and the ErrorResponse a failure becomes (the engine's
 * choice). Pure: `node:crypto` for random bytes.
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"
import * as Result from "effect/Result"
import { AuthError } from "../errors/PgError.ts"
import { TLS_SERVER_END_POINT } from "./ChannelBinding.ts"
import {
  channelBindingInput,
  clientSignature,
  equalConstantTime,
  fromBase64,
  isNonce,
  isSaslName,
  keyFromBase64,
  makeAuthMessage,
  type Mechanism,
  MECHANISM,
  MECHANISM_PLUS,
  parseAttributes,
  randomNonce,
  readAttributes,
  serverSignature,
  sha256,
  toBase64,
  toText,
  xor
} from "./ScramPrimitives.ts"
import { DEFAULT_ITERATIONS, DEFAULT_SALT_BYTES, type ScramSecret } from "./ScramSecret.ts"

/**
 * The message of the one failure that means a wrong password (the client
 * proof does not match, or the role is unknown): every other failure of
 * `receiveClientFinal` is a message that breaks the exchange.
 *
 * @since 0.1.0
 */
export const WRONG_PROOF = "the proof is wrong"

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
    if (!isNonce(nonce)) {
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
    if (!isNonce(clientNonce)) return this.#fail(where, "the nonce is not printable")
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
    const read = readAttributes(message)
    if (Result.isFailure(read)) return this.#fail(where, read.failure)
    const { attributes, text } = read.success
    if (attributes.length < 3) return this.#fail(where, "malformed attribute list")
    const [c, r] = attributes
    const p = attributes[attributes.length - 1]!
    if (c!.name !== "c") return this.#fail(where, "missing c=")
    if (r!.name !== "r") return this.#fail(where, "missing r=")
    if (p.name !== "p") return this.#fail(where, "p= is not the last attribute")
    for (let k = 2; k < attributes.length - 1; k++) {
      if (attributes[k]!.name === "p") return this.#fail(where, "p= appears twice")
    }

    const binding = fromBase64(c!.value)
    const expectedBinding = channelBindingInput(
      state.gs2Header,
      state.mechanism === MECHANISM_PLUS ? this.#certificateHash! : new Uint8Array(0)
    )
    if (binding === undefined || !equalConstantTime(binding, expectedBinding)) {
      return this.#fail(where, "the channel binding check failed")
    }
    if (r!.value !== state.nonce) return this.#fail(where, "the nonce does not match")
    const proof = keyFromBase64(p.value)
    if (proof === undefined) return this.#fail(where, "the proof is not 32 bytes of base64")

    const withoutProof = text.slice(0, text.length - p.value.length - 3)
    const authMessage = makeAuthMessage(state.clientFirstBare, state.serverFirst, withoutProof)
    const secret = this.#secret
    if (secret === undefined) return this.#fail(where, WRONG_PROOF)
    const clientKey = xor(proof, clientSignature(secret.storedKey, authMessage))
    if (!equalConstantTime(sha256(clientKey), secret.storedKey)) return this.#fail(where, WRONG_PROOF)
    this.#state = { _tag: "Complete" }
    return Result.succeed(`v=${toBase64(serverSignature(secret.serverKey, authMessage))}`)
  }
}
