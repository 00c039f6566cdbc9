/**
 * The authentication exchange of one server connection: trust, cleartext,
 * MD5 and SCRAM-SHA-256(-PLUS), over the project's codecs and the server-side
 * pieces of `src/auth`.
 *
 * **Details**
 *
 * Every failure is a FATAL `ServerError`: a wrong password or unknown role
 * 28P01 (the same text for both, as PostgreSQL, so a client cannot probe role
 * names), an empty password 28P01 whatever `verify` or `lookup` say (as
 * PostgreSQL, which never accepts one), a malformed SASL message or a SCRAM
 * client-final-message with a wrong nonce or channel binding 08P01, a client
 * that leaves 08P01. An
 * unknown role still runs a whole SCRAM exchange with a mock salt that fails at
 * the proof.
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Md5 from "../auth/Md5.ts"
import * as Scram from "../auth/Scram.ts"
import type { FrontendMessage, PasswordContext } from "../protocol/Frontend.ts"
import * as Frontend from "../protocol/Frontend.ts"
import { Frontend as Code } from "../wire/Codes.ts"
import { Reader } from "../wire/Reader.ts"
import * as Utf8 from "../wire/Utf8.ts"
import type { AuthMethod } from "./Options.ts"
import * as ServerError from "./ServerError.ts"
import type { Wire } from "./Wire.ts"

const reader = new Reader()

/** Reads the client's next 'p' frame as `context` says; anything else is FATAL 08P01. */
const readPassword = (wire: Wire, password: PasswordContext["password"]): Effect.Effect<FrontendMessage, ServerError.ServerError> =>
  Effect.flatMap(wire.take, (frame) => {
    if (!("type" in frame)) {
      return Effect.fail(ServerError.protocolViolation(
        frame._tag === "Malformed" ? frame.message : "the client closed the connection during authentication"
      ))
    }
    if (frame.type !== Code.PasswordFamily) {
      return Effect.fail(ServerError.protocolViolation(
        `expected a password response, got message type ${String.fromCharCode(frame.type)}`
      ))
    }
    try {
      return Effect.succeed(Frontend.readUnsafe(frame.type, frame.body, 0, frame.body.length, reader, { password }))
    } catch (e) {
      return Effect.fail(ServerError.protocolViolation(e instanceof Error ? e.message : "malformed password message"))
    }
  })

/** PostgreSQL's answer to an empty password, whatever the role's (`recv_password_packet`). */
const emptyPassword = (): ServerError.ServerError =>
  ServerError.make("28P01", "empty password returned by client", undefined, "FATAL")

const mockSalt = (user: string): Uint8Array =>
  new Uint8Array(Crypto.createHash("sha256").update("effect-pgwire mock salt").update(user).digest().subarray(0, 16))

/**
 * Runs `method` for `user` on `wire`; succeeds once AuthenticationOk is queued.
 *
 * **Details**
 *
 * `certificateHash` is the tls-server-end-point hash of the server's
 * certificate when the connection uses TLS (SCRAM-SHA-256-PLUS is offered
 * then).
 *
 * @since 0.1.0
 */
export const authenticate = <R>(
  wire: Wire,
  method: AuthMethod<R>,
  user: string,
  certificateHash: Uint8Array | undefined
): Effect.Effect<void, ServerError.ServerError, R> =>
  Effect.gen(function*() {
    switch (method._tag) {
      case "Trust":
        break
      case "Cleartext": {
        wire.send({ _tag: "AuthenticationCleartextPassword" })
        yield* wire.flush
        const message = yield* readPassword(wire, "PasswordMessage")
        if (message._tag === "PasswordMessage" && message.password === "") return yield* Effect.fail(emptyPassword())
        const ok = message._tag === "PasswordMessage" && (yield* method.verify(user, message.password))
        if (!ok) return yield* Effect.fail(ServerError.passwordFailed(user))
        break
      }
      case "Md5": {
        const salt = new Uint8Array(Crypto.randomBytes(4))
        wire.send({ _tag: "AuthenticationMD5Password", salt })
        yield* wire.flush
        const message = yield* readPassword(wire, "PasswordMessage")
        if (message._tag === "PasswordMessage" && message.password === "") return yield* Effect.fail(emptyPassword())
        const known = yield* method.lookup(user)
        // An empty password is no password (PostgreSQL stores none for ''): nothing matches it.
        const stored = known === undefined || known === ""
          ? undefined
          : Md5.isStoredPassword(known)
          ? known
          : Md5.storedPassword(known, user)
        const ok = message._tag === "PasswordMessage" && stored !== undefined &&
          Md5.verifyResponse(stored, salt, message.password)
        if (!ok) return yield* Effect.fail(ServerError.passwordFailed(user))
        break
      }
      case "Scram": {
        const known = yield* method.lookup(user)
        let secret: Scram.ScramSecret | undefined
        if (typeof known === "string") {
          const parsed = known.startsWith("SCRAM-SHA-256$") ? Scram.parseSecret(known) : Scram.makeSecret(known)
          secret = Result.isSuccess(parsed) ? parsed.success : undefined
        } else {
          secret = known
        }
        const binding = method.channelBinding === "off" ? undefined : certificateHash
        if (method.channelBinding === "require" && binding === undefined) {
          return yield* Effect.fail(ServerError.invalidAuthorization("channel binding requires a TLS connection"))
        }
        const server = Scram.ScramServer.make({ secret, certificateHash: binding, mockSalt: mockSalt(user) })
        if (Result.isFailure(server)) return yield* Effect.fail(ServerError.internalError())
        const exchange = server.success
        const mechanisms = method.channelBinding === "require" ? [Scram.MECHANISM_PLUS] : exchange.mechanisms
        wire.send({ _tag: "AuthenticationSASL", mechanisms: [...mechanisms] })
        yield* wire.flush
        const first = yield* readPassword(wire, "SASLInitialResponse")
        if (first._tag !== "SASLInitialResponse" || first.data === null) {
          return yield* Effect.fail(ServerError.protocolViolation("malformed SCRAM message"))
        }
        if (!mechanisms.includes(first.mechanism as Scram.Mechanism)) {
          return yield* Effect.fail(ServerError.protocolViolation("client selected an invalid SASL authentication mechanism"))
        }
        const serverFirst = exchange.receiveClientFirst(first.mechanism, first.data)
        if (Result.isFailure(serverFirst)) {
          return yield* Effect.fail(ServerError.protocolViolation(serverFirst.failure.message))
        }
        wire.send({ _tag: "AuthenticationSASLContinue", data: Utf8.encode(serverFirst.success) })
        yield* wire.flush
        const final = yield* readPassword(wire, "SASLResponse")
        if (final._tag !== "SASLResponse") return yield* Effect.fail(ServerError.protocolViolation("malformed SCRAM message"))
        const serverFinal = exchange.receiveClientFinal(final.data)
        if (Result.isFailure(serverFinal)) {
          // As PostgreSQL: only a wrong proof is a wrong password (28P01); a message that breaks the exchange (nonce,
          // channel binding, grammar) is 08P01. An unknown role fails at the proof too, so this tells nothing apart.
          return yield* Effect.fail(
            serverFinal.failure.message.endsWith(Scram.WRONG_PROOF)
              ? ServerError.passwordFailed(user)
              : ServerError.protocolViolation(`invalid SCRAM response: ${serverFinal.failure.message}`)
          )
        }
        wire.send({ _tag: "AuthenticationSASLFinal", data: Utf8.encode(serverFinal.success) })
        break
      }
    }
    wire.send({ _tag: "AuthenticationOk" })
  })
