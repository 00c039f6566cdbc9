/**
 * Establishing the byte stream for one connection attempt with libpq's
 * encryption semantics: `sslmode`, `sslnegotiation`, `gssencmode`, certificate
 * verification, SNI, ALPN, client certificates, TLS protocol bounds.
 *
 * **Details**
 *
 * - `sslmode` (libpq-connect.sgml "SSL Mode Descriptions"): `disable` never
 *   encrypts; `allow` tries plain first and TLS only if the server rejects the
 *   plain connection; `prefer` (the default) tries TLS first and falls back to
 *   plain on the server's 'N', on a failed TLS start-up, or when the server
 *   rejects the TLS connection; `require` insists on TLS but checks no
 *   certificate, unless a root certificate file exists, in which case it
 *   behaves as `verify-ca` (libpq's backward compatibility rule); `verify-ca`
 *   checks the chain; `verify-full` also checks the host name (subjectAltName,
 *   or the CN when there is none; wildcards match one label).
 * - `sslrootcert=system` uses the system's trusted roots and requires
 *   `verify-full`, as libpq 16+ does.
 * - `sslnegotiation=direct` starts TLS at once (ALPN `postgresql`, PostgreSQL
 *   17+) and needs `sslmode` require or stronger.
 * - `gssencmode`: there is no GSSAPI library here, so, as libpq built without
 *   GSSAPI, `prefer` never tries GSS encryption and `require` fails before
 *   connecting.
 * - A server answering 'N' under `require` or stronger is a `TlsError`: never
 *   a silent downgrade. Bytes received after 'S' and before the handshake are
 *   refused (CVE-2021-23222).
 *
 * The same plan opens the CancelRequest side connection, so a cancel travels
 * encrypted when the session is.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { Buffer } from "node:buffer"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Tls from "node:tls"
import * as Hosts from "../config/Hosts.ts"
import type { TlsKeywords } from "../config/SessionSettings.ts"
import { ConfigError, PgError, TlsError } from "../errors/PgError.ts"
import * as StartupCodec from "../protocol/Startup.ts"
import * as Transport from "../transport/Transport.ts"

/**
 * TLS settings of a session: the configuration's encryption keywords, with
 * the client key's passphrase in clear.
 *
 * @since 0.1.0
 */
export interface TlsSettings extends Omit<TlsKeywords, "sslPassword"> {
  /** Passphrase of the client key. */
  readonly sslPassword?: string | undefined
}

/**
 * One way of opening the stream, in the order `sslmode` tries them.
 *
 * @since 0.1.0
 */
export type Encryption = "plain" | "tls" | "direct-tls"

/**
 * The encryption methods to try, in order (libpq's `select_next_encryption_method`).
 *
 * @since 0.1.0
 */
export const encryptionOrder = (settings: TlsSettings): Effect.Effect<ReadonlyArray<Encryption>, PgError> => {
  const mode = settings.sslMode
  if (settings.sslNegotiation === "direct" && (mode === "disable" || mode === "allow" || mode === "prefer")) {
    return configError("sslnegotiation", `sslnegotiation=direct requires sslmode require, verify-ca or verify-full (got ${mode})`)
  }
  if (settings.sslRootCert === "system" && mode !== "verify-full" && mode !== "disable") {
    return configError("sslrootcert", `sslrootcert=system requires sslmode=verify-full (got ${mode})`)
  }
  const tls: Encryption = settings.sslNegotiation === "direct" ? "direct-tls" : "tls"
  switch (mode) {
    case "disable":
      return Effect.succeed(["plain"])
    case "allow":
      return Effect.succeed(["plain", tls])
    case "prefer":
      return Effect.succeed([tls, "plain"])
    default:
      return Effect.succeed([tls])
  }
}

const configError = (parameter: string, message: string) =>
  Effect.fail(new PgError({ reason: new ConfigError({ message, parameter }) }))

const tlsError = (message: string, cause?: unknown) =>
  new PgError({ reason: new TlsError({ message, ...(cause === undefined ? {} : { cause }) }) })

/** libpq's per-user directory of certificates and keys. */
const userDirectory = (): string => Path.join(process.env["HOME"] ?? Os.homedir(), ".postgresql")

const readIfExists = (path: string): Buffer | undefined => {
  try {
    return Fs.readFileSync(path)
  } catch {
    return undefined
  }
}

const readRequired = (parameter: string, path: string): Effect.Effect<Buffer, PgError> =>
  Effect.try({
    try: () => Fs.readFileSync(path),
    catch: (cause) =>
      new PgError({
        reason: new ConfigError({
          message: `${parameter}: could not read "${path}": ${cause instanceof Error ? cause.message : String(cause)}`,
          parameter
        })
      })
  })

/**
 * Node TLS options for a host, following libpq's verification rules.
 *
 * @since 0.1.0
 */
export const tlsOptions = (
  settings: TlsSettings,
  host: string,
  direct: boolean
): Effect.Effect<Tls.ConnectionOptions, PgError> =>
  Effect.gen(function*() {
    const mode = settings.sslMode
    let ca: Array<string | Buffer> | undefined
    if (settings.sslRootCert === "system") {
      ca = typeof Tls.getCACertificates === "function" ? [...Tls.getCACertificates("system")] : undefined
    } else if (settings.sslRootCert !== undefined) {
      ca = [yield* readRequired("sslrootcert", settings.sslRootCert)]
    } else {
      const fallback = readIfExists(Path.join(userDirectory(), "root.crt"))
      if (fallback !== undefined) ca = [fallback]
      else if (mode === "verify-ca" || mode === "verify-full") {
        return yield* configError(
          "sslrootcert",
          `root certificate file "${Path.join(userDirectory(), "root.crt")}" does not exist; ` +
            `either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode`
        )
      }
    }
    const verify = mode === "verify-ca" || mode === "verify-full" || (mode === "require" && ca !== undefined) ||
      settings.sslRootCert === "system"
    const options: Tls.ConnectionOptions = {
      rejectUnauthorized: verify,
      checkServerIdentity: mode === "verify-full"
        ? (_servername, certificate) => Tls.checkServerIdentity(host, certificate)
        : () => undefined,
      minVersion: settings.sslMinProtocolVersion ?? "TLSv1.2",
      ALPNProtocols: ["postgresql"]
    }
    if (ca !== undefined) options.ca = ca
    if (settings.sslMaxProtocolVersion !== undefined) options.maxVersion = settings.sslMaxProtocolVersion
    const serverName = Hosts.serverNameFor({ sslSni: settings.sslSni ?? true }, { host })
    if (serverName !== undefined) options.servername = serverName
    const crls: Array<Buffer> = []
    if (settings.sslCrl !== undefined) crls.push(yield* readRequired("sslcrl", settings.sslCrl))
    if (settings.sslCrlDir !== undefined) {
      const dir = settings.sslCrlDir
      const names = yield* Effect.try({
        try: () => Fs.readdirSync(dir),
        catch: () => new PgError({ reason: new ConfigError({ message: `sslcrldir: cannot read "${dir}"`, parameter: "sslcrldir" }) })
      })
      for (const name of names) crls.push(yield* readRequired("sslcrldir", Path.join(dir, name)))
    }
    if (crls.length > 0) options.crl = crls
    const certPath = settings.sslCert ?? Path.join(userDirectory(), "postgresql.crt")
    const keyPath = settings.sslKey ?? Path.join(userDirectory(), "postgresql.key")
    const cert = settings.sslCertMode === "disable"
      ? undefined
      : settings.sslCert !== undefined
      ? yield* readRequired("sslcert", certPath)
      : readIfExists(certPath)
    if (cert !== undefined) {
      const key = settings.sslKey !== undefined || settings.sslCert !== undefined
        ? yield* readRequired("sslkey", keyPath)
        : readIfExists(keyPath)
      if (key === undefined) return yield* configError("sslkey", `certificate present, but not the private key file "${keyPath}"`)
      options.cert = cert
      options.key = key
      if (settings.sslPassword !== undefined) options.passphrase = settings.sslPassword
    }
    if (direct && options.ALPNProtocols === undefined) options.ALPNProtocols = ["postgresql"]
    return yield* withSecureContext(options)
  })

/** Secure contexts kept for reuse; each holds parsed certificates, keys and CRLs. */
const SECURE_CONTEXT_ENTRIES = 16
const secureContexts = new Map<string, Tls.SecureContext>()
const secureContextSecret = Crypto.createSecretKey(Crypto.randomBytes(32))

/**
 * Gives the options a secure context built once per distinct content: `tls.connect` would otherwise parse the CA,
 * certificate, key and CRLs again for every connection (about 0.6 ms). The files are still read at every attempt, as
 * libpq does, so a changed file is a new context. Keyed by an HMAC under a random key (the passphrase is an input).
 */
const withSecureContext = (options: Tls.ConnectionOptions): Effect.Effect<Tls.ConnectionOptions, PgError> =>
  Effect.try({
    try: () => {
      const h = Crypto.createHmac("sha256", secureContextSecret)
      const part = (label: string, value: unknown) => {
        if (value === undefined) return
        for (const item of Array.isArray(value) ? value : [value]) {
          const bytes = typeof item === "string" ? Buffer.from(item) : item as Uint8Array
          h.update(`${label}:${bytes.length}:`).update(bytes)
        }
      }
      part("ca", options.ca)
      part("cert", options.cert)
      part("key", options.key)
      part("crl", options.crl)
      part("passphrase", options.passphrase)
      part("min", options.minVersion)
      part("max", options.maxVersion)
      const id = h.digest("base64")
      let context = secureContexts.get(id)
      if (context === undefined) {
        context = Tls.createSecureContext({
          ca: options.ca,
          cert: options.cert,
          key: options.key,
          crl: options.crl,
          passphrase: options.passphrase,
          minVersion: options.minVersion,
          maxVersion: options.maxVersion
        })
        if (secureContexts.size >= SECURE_CONTEXT_ENTRIES) secureContexts.delete(secureContexts.keys().next().value!)
      } else secureContexts.delete(id)
      secureContexts.set(id, context)
      return { ...options, secureContext: context }
    },
    catch: (cause) =>
      new PgError({
        reason: new TlsError({
          message: `TLS configuration: ${cause instanceof Error ? cause.message : String(cause)}`,
          cause
        })
      })
  })

/**
 * An open stream and what the session needs to know about it.
 *
 * @since 0.1.0
 */
export interface Established {
  readonly socket: Net.Socket
  /** Set when the socket lends its reads (a socket in clear opened with `lendReads`): read through it, not 'data'. */
  readonly reads: Transport.LentReads | undefined
  readonly encryption: Encryption
  /** DER of the server certificate (for SCRAM-SHA-256-PLUS channel binding). */
  readonly peerCertificate: Uint8Array | undefined
}

/** How long the server may take to answer SSLRequest and finish the handshake, at most (bounded by connect_timeout too). */
export const TLS_HANDSHAKE_TIMEOUT_MILLIS = 30_000

/**
 * Opens the stream for one attempt with one encryption method.
 *
 * **Details**
 *
 * Fails with `TlsError` when the server refuses TLS ('N' to SSLRequest, or a
 * direct handshake that fails) and with `ServerError`-free `TlsError`s for
 * handshake failures; the caller decides about falling back (only `prefer`
 * and `allow` do).
 *
 * @since 0.1.0
 */
export const open = (
  target: Transport.Endpoint,
  host: string,
  encryption: Encryption,
  settings: TlsSettings,
  timeoutMillis: number,
  keepAlive?: Transport.KeepAlive,
  plainAfterReject = false,
  lendReads = false
): Effect.Effect<Established, PgError> =>
  Effect.gen(function*() {
    // `onread` is fixed when the socket is made: a socket that may stay in clear (plain, or `prefer` awaiting the
    // answer to SSLRequest, which comes through the lent reads too) lends its reads; if TLS starts over it, the TLS
    // socket reads the raw bytes itself and the buffer (64 KiB) goes unused. Sockets that must carry TLS get none.
    const reads = lendReads && (encryption === "plain" || (encryption === "tls" && plainAfterReject))
      ? new Transport.LentReads()
      : undefined
    const socket = yield* Transport.openSocket(target, timeoutMillis, keepAlive, reads)
    if (encryption === "plain") return { socket, reads, encryption, peerCertificate: undefined }
    const handshakeTimeout = timeoutMillis > 0 ? timeoutMillis : TLS_HANDSHAKE_TIMEOUT_MILLIS
    const options = yield* tlsOptions(settings, host, encryption === "direct-tls").pipe(
      Effect.onError(() => Effect.sync(() => socket.destroy()))
    )
    if (encryption === "tls") {
      const answer = yield* Transport.exchangeEncryptionRequest(socket, StartupCodec.SSL_REQUEST, handshakeTimeout, reads).pipe(
        Effect.onError(() => Effect.sync(() => socket.destroy()))
      )
      if (answer === 0x4e && plainAfterReject) {
        // sslmode=prefer: continue in clear on the same connection, as libpq does.
        return { socket, reads, encryption: "plain" as const, peerCertificate: undefined }
      }
      if (answer !== 0x53) {
        socket.destroy()
        if (answer === 0x4e) return yield* Effect.fail(tlsError("the server does not support SSL (it answered 'N' to SSLRequest)"))
        if (answer === 0x45) {
          return yield* Effect.fail(
            new PgError({
              reason: new TlsError({
                message: "the server answered SSLRequest with an error (it may be too old, or failed to start)",
                failedBeforeNegotiation: true
              })
            })
          )
        }
        return yield* Effect.fail(tlsError(`invalid answer 0x${answer.toString(16)} to SSLRequest`))
      }
    }
    const keyLogFile = settings.sslKeyLogFile
    const onKeylog = keyLogFile === undefined ? undefined : (line: Buffer) => {
      try {
        Fs.appendFileSync(keyLogFile, line, { mode: 0o600 })
      } catch {
        // A key log is a debugging aid: failing to write it never fails the connection.
      }
    }
    const tls = yield* Transport.upgradeTls(socket, options, handshakeTimeout, onKeylog).pipe(
      Effect.mapError((error) =>
        encryption === "direct-tls" && error.reason._tag === "TlsError"
          ? tlsError(`direct TLS failed: ${error.reason.message}`, error.reason.cause)
          : error
      )
    )
    if (encryption === "direct-tls" && tls.alpnProtocol !== "postgresql") {
      tls.destroy()
      return yield* Effect.fail(tlsError("direct TLS: the server did not agree to ALPN protocol \"postgresql\""))
    }
    const peer = tls.getPeerX509Certificate()
    return {
      socket: tls,
      reads: undefined,
      encryption,
      peerCertificate: peer === undefined ? undefined : new Uint8Array(peer.raw)
    }
  })
