/**
 * Start-up of one server connection, up to the point where authentication
 * begins: the encryption probes, CancelRequest, the protocol version and the
 * `_pq_.` options.
 *
 * **Details**
 *
 * As PostgreSQL 18's `ProcessStartupPacket`:
 * - SSLRequest is answered 'S' when a certificate is configured (then TLS
 *   starts, and bytes the client queued behind the request are refused:
 *   CVE-2021-3935, the connection is closed), else 'N'; GSSENCRequest is
 *   answered 'N'. Each is answered once: a repeat (or either after TLS) is
 *   refused as an unknown protocol version, FATAL 0A000, as PostgreSQL.
 * - CancelRequest is handed to the cancel registry and the connection closes
 *   without a reply, whatever the outcome.
 * - StartupMessage 3.x: a minor version newer than the one offered, or any
 *   `_pq_.` option (this engine knows none), gets NegotiateProtocolVersion
 *   with the newest version in full (`3 << 16 | minor`) and every such option
 *   by name, before authentication and never otherwise. Majors other than 3
 *   are refused FATAL 0A000 (1.0 and 2.0 in the 2.0 error format).
 * - `user` is required (FATAL 28000); `database` defaults to the user;
 *   `client_encoding` must be UTF8 or SQL_ASCII (the engine sends UTF-8).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Backend from "../protocol/Backend.ts"
import * as Startup from "../protocol/Startup.ts"
import { StartupCode } from "../wire/Codes.ts"
import { Reader } from "../wire/Reader.ts"
import * as Utf8 from "../wire/Utf8.ts"
import type * as Cancel from "./Cancel.ts"
import type { ServeOptions } from "./Options.ts"
import * as ServerError from "./ServerError.ts"
import type { Wire } from "./Wire.ts"
import type * as Tls from "node:tls"

const reader = new Reader()
const ANSWER_S = new Uint8Array([0x53])
const ANSWER_N = new Uint8Array([0x4e])

/**
 * What start-up settled.
 *
 * @since 0.1.0
 */
export interface Negotiated {
  readonly user: string
  readonly database: string
  readonly parameters: ReadonlyMap<string, string>
  readonly minor: 0 | 2
  readonly tls: Tls.TLSSocket | undefined
}

/**
 * How start-up ended without a session: the client left, sent a CancelRequest,
 * or was refused (the FATAL is already queued).
 *
 * @since 0.1.0
 */
export type Outcome =
  | { readonly _tag: "Session"; readonly negotiated: Negotiated }
  | { readonly _tag: "Done" }

const DONE: Outcome = { _tag: "Done" }

const refuse = (wire: Wire, error: ServerError.ServerError): Outcome => {
  try {
    wire.send({ _tag: "ErrorResponse", fields: ServerError.toFields(error) })
  } catch {
    // The fields came from this module; nothing to add.
  }
  return DONE
}

/** The client_encoding values the engine accepts, normalised as PostgreSQL reports them. */
const encodingOf = (value: string): string | undefined => {
  const v = value.toUpperCase().replace(/[-_]/g, "")
  if (v === "UTF8" || v === "UNICODE") return "UTF8"
  if (v === "SQLASCII") return "SQL_ASCII"
  return undefined
}

/**
 * Runs start-up until authentication can begin.
 *
 * @since 0.1.0
 */
export const negotiate = <R>(
  wire: Wire,
  options: ServeOptions<R>,
  tlsOptions: Tls.TlsOptions | undefined,
  registry: Cancel.Registry
): Effect.Effect<Outcome> =>
  Effect.gen(function*() {
    let tls: Tls.TLSSocket | undefined
    // Each encryption request is answered once (ProcessStartupPacket's ssl_done and gss_done): a repeat is read as a
    // startup packet of protocol 1234.5679 or 1234.5680 and refused below like any unknown version.
    let sslDone = false
    let gssDone = false
    while (true) {
      const frame = yield* wire.take
      if (!("type" in frame)) {
        if (frame._tag === "Closed") return DONE
        if (frame._tag === "DirectTls") {
          // Direct TLS (protocol-3.2 "SSL Session Encryption"): only with a certificate, and only for ALPN "postgresql".
          if (tlsOptions === undefined || tls !== undefined) {
            wire.destroy()
            return DONE
          }
          tls = yield* wire.startTls(tlsOptions)
          if (tls === undefined) return DONE
          if (tls.alpnProtocol !== "postgresql") {
            wire.destroy()
            return DONE
          }
          sslDone = true
          gssDone = true
          wire.framer.expectUntyped()
          continue
        }
        return refuse(wire, ServerError.protocolViolation(`invalid startup packet: ${frame.message}`))
      }
      const body = frame.body
      const code = (body[0]! << 24) | (body[1]! << 16) | (body[2]! << 8) | body[3]!
      if ((code === StartupCode.SSLRequest && !sslDone) || (code === StartupCode.GSSENCRequest && !gssDone)) {
        if (body.length !== 4) return refuse(wire, ServerError.protocolViolation("invalid length of encryption request"))
        // After SSLRequest 'N' a GSSENCRequest may follow (and the other way round); after TLS, neither.
        if (code === StartupCode.SSLRequest) sslDone = true
        else gssDone = true
        if (code === StartupCode.SSLRequest && tlsOptions !== undefined) {
          gssDone = true
          wire.socket.pause()
          wire.sendRaw(ANSWER_S)
          // CVE-2021-3935: nothing may be buffered behind the request; it would be read as if it came over TLS.
          if (wire.hasLeftover) {
            wire.destroy()
            return DONE
          }
          tls = yield* wire.startTls(tlsOptions)
          if (tls === undefined) return DONE
        } else {
          wire.sendRaw(ANSWER_N)
        }
        wire.framer.expectUntyped()
        continue
      }
      if (code === StartupCode.CancelRequest) {
        try {
          const message = Startup.readUnsafe(body, 0, body.length, reader)
          if (message._tag === "CancelRequest") registry.cancel(message.processId, message.secretKey)
        } catch {
          // A malformed cancel is dropped like a wrong one: no reply.
        }
        return DONE
      }
      const major = code >>> 16
      const minor = code & 0xffff
      if (major !== 3) {
        const message = `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.2`
        // PostgreSQL answers in the client's protocol when it is older (a 2.0 error is 'E' and a text), and with
        // 0A000 (ERRCODE_FEATURE_NOT_SUPPORTED), not 08P01.
        if (major < 3) {
          wire.sendRaw(Utf8.encode(`EFATAL:  ${message}\n\0`))
          return DONE
        }
        return refuse(wire, ServerError.make("0A000", message, undefined, "FATAL"))
      }
      let message: Startup.StartupPhaseMessage
      try {
        message = Startup.readUnsafe(body, 0, body.length, reader)
      } catch (e) {
        return refuse(wire, ServerError.protocolViolation(`invalid startup packet layout: ${(e as Error).message}`))
      }
      if (message._tag !== "StartupMessage") return refuse(wire, ServerError.protocolViolation("invalid startup packet"))
      if (options.tls?.required === true && tls === undefined) {
        return refuse(wire, ServerError.invalidAuthorization("connections in clear are not accepted; use sslmode=require"))
      }
      const parameters = new Map<string, string>()
      const unrecognized: Array<string> = []
      for (const p of message.parameters) {
        if (p.name.startsWith("_pq_.")) unrecognized.push(p.name)
        else parameters.set(p.name, p.value)
      }
      const user = parameters.get("user")
      if (user === undefined || user === "") {
        return refuse(wire, ServerError.invalidAuthorization("no PostgreSQL user name specified in startup packet"))
      }
      const offered = options.protocol?.max === "3.0" ? 0 : 2
      const chosen: 0 | 2 = minor >= 2 && offered === 2 ? 2 : 0
      if (minor > offered || unrecognized.length > 0) {
        const npv: Backend.NegotiateProtocolVersion = {
          _tag: "NegotiateProtocolVersion",
          newestMinorVersion: (3 << 16) | Math.min(minor, offered),
          unrecognizedOptions: unrecognized
        }
        wire.send(npv)
      }
      const encoding = parameters.get("client_encoding")
      if (encoding !== undefined) {
        const normalized = encodingOf(encoding)
        if (normalized === undefined) {
          return refuse(
            wire,
            ServerError.make("22023", `invalid value for parameter "client_encoding": "${encoding}"`, {
              hint: "this server sends UTF-8 only: use UTF8 or SQL_ASCII"
            }, "FATAL")
          )
        }
        parameters.set("client_encoding", normalized)
      }
      const database = parameters.get("database") || user
      return { _tag: "Session", negotiated: { user, database, parameters, minor: chosen, tls } } as Outcome
    }
  })
