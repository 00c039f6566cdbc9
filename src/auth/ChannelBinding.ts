/**
 * The `tls-server-end-point` channel binding data (RFC 5929 section 4) that
 * SCRAM-SHA-256-PLUS mixes into the proof: a hash of the server certificate.
 *
 * **Details**
 *
 * RFC 5929 section 4.1: the hash function is the one the certificate's
 * signatureAlgorithm uses, except that MD5 and SHA-1 are replaced by SHA-256.
 * For RSASSA-PSS the signatureAlgorithm names no hash itself; it sits in the
 * PSS parameters (`hashAlgorithm`, SHA-1 when absent). PostgreSQL before
 * 15.2 got that case wrong (bug #17760); the server now reads the parameters,
 * and so does this module.
 *
 * The certificate comes as DER bytes (in Node, from
 * `tls.TLSSocket.getPeerX509Certificate().raw`). Only the outer `Certificate`
 * SEQUENCE and its `signatureAlgorithm` are read, with a minimal DER reader;
 * nothing is verified (TLS verification is the transport's job).
 *
 * Deliberately not here: `tls-unique` and `tls-exporter` (PostgreSQL supports
 * neither), and signature algorithms without a hash function (Ed25519, Ed448),
 * for which RFC 5929 defines no binding: they fail with an `AuthError`, as
 * PostgreSQL's server fails.
 *
 * Pure: `node:crypto` for hashing only.
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"
import * as Result from "effect/Result"
import { AuthError } from "../errors/PgError.ts"

/**
 * The name of the channel binding type PostgreSQL uses, as it appears in the
 * gs2 header (`p=tls-server-end-point`).
 *
 * @since 0.1.0
 */
export const TLS_SERVER_END_POINT = "tls-server-end-point"

/**
 * A hash function a certificate can select, by its Node `crypto` name.
 *
 * @since 0.1.0
 */
export type HashName =
  | "sha224"
  | "sha256"
  | "sha384"
  | "sha512"
  | "sha512-224"
  | "sha512-256"
  | "sha3-224"
  | "sha3-256"
  | "sha3-384"
  | "sha3-512"

// Digest algorithm OIDs (as used inside RSASSA-PSS parameters), RFC 5754 / NIST.
// MD5 and SHA-1 map to SHA-256 per RFC 5929 section 4.1.
const DIGESTS: ReadonlyMap<string, HashName> = new Map([
  ["1.2.840.113549.2.5", "sha256"], // md5
  ["1.3.14.3.2.26", "sha256"], // sha1
  ["2.16.840.1.101.3.4.2.4", "sha224"],
  ["2.16.840.1.101.3.4.2.1", "sha256"],
  ["2.16.840.1.101.3.4.2.2", "sha384"],
  ["2.16.840.1.101.3.4.2.3", "sha512"],
  ["2.16.840.1.101.3.4.2.5", "sha512-224"],
  ["2.16.840.1.101.3.4.2.6", "sha512-256"],
  ["2.16.840.1.101.3.4.2.7", "sha3-224"],
  ["2.16.840.1.101.3.4.2.8", "sha3-256"],
  ["2.16.840.1.101.3.4.2.9", "sha3-384"],
  ["2.16.840.1.101.3.4.2.10", "sha3-512"]
])

// Signature algorithm OIDs with their hash (RFC 8017, RFC 5758, RFC 3279, NIST CSOR).
const SIGNATURES: ReadonlyMap<string, HashName> = new Map([
  ["1.2.840.113549.1.1.4", "sha256"], // md5WithRSAEncryption
  ["1.2.840.113549.1.1.5", "sha256"], // sha1WithRSAEncryption
  ["1.2.840.113549.1.1.14", "sha224"],
  ["1.2.840.113549.1.1.11", "sha256"],
  ["1.2.840.113549.1.1.12", "sha384"],
  ["1.2.840.113549.1.1.13", "sha512"],
  ["1.2.840.113549.1.1.15", "sha512-224"],
  ["1.2.840.113549.1.1.16", "sha512-256"],
  ["1.2.840.10045.4.1", "sha256"], // ecdsa-with-SHA1
  ["1.2.840.10045.4.3.1", "sha224"],
  ["1.2.840.10045.4.3.2", "sha256"],
  ["1.2.840.10045.4.3.3", "sha384"],
  ["1.2.840.10045.4.3.4", "sha512"],
  ["1.2.840.10040.4.3", "sha256"], // dsa-with-sha1
  ["2.16.840.1.101.3.4.3.1", "sha224"], // dsa-with-sha224
  ["2.16.840.1.101.3.4.3.2", "sha256"], // dsa-with-sha256
  ["2.16.840.1.101.3.4.3.3", "sha384"],
  ["2.16.840.1.101.3.4.3.4", "sha512"],
  ["2.16.840.1.101.3.4.3.5", "sha3-224"], // id-dsa-with-sha3-*
  ["2.16.840.1.101.3.4.3.6", "sha3-256"],
  ["2.16.840.1.101.3.4.3.7", "sha3-384"],
  ["2.16.840.1.101.3.4.3.8", "sha3-512"],
  ["2.16.840.1.101.3.4.3.9", "sha3-224"], // id-ecdsa-with-sha3-*
  ["2.16.840.1.101.3.4.3.10", "sha3-256"],
  ["2.16.840.1.101.3.4.3.11", "sha3-384"],
  ["2.16.840.1.101.3.4.3.12", "sha3-512"],
  ["2.16.840.1.101.3.4.3.13", "sha3-224"], // id-rsassa-pkcs1-v1_5-with-sha3-*
  ["2.16.840.1.101.3.4.3.14", "sha3-256"],
  ["2.16.840.1.101.3.4.3.15", "sha3-384"],
  ["2.16.840.1.101.3.4.3.16", "sha3-512"]
])

const RSASSA_PSS = "1.2.840.113549.1.1.10"

const NO_HASH: ReadonlyMap<string, string> = new Map([
  ["1.3.101.112", "Ed25519"],
  ["1.3.101.113", "Ed448"]
])

// DER tags used here (X.690).
const TAG_SEQUENCE = 0x30
const TAG_OID = 0x06
const TAG_BIT_STRING = 0x03
const TAG_NULL = 0x05
const TAG_CONTEXT_0 = 0xa0

class DerError extends Error {}

interface Tlv {
  readonly tag: number
  readonly start: number
  readonly end: number
}

/** Reads one DER TLV at `pos`, not past `limit`. Throws `DerError`. */
const readTlv = (der: Uint8Array, pos: number, limit: number): Tlv => {
  if (pos + 2 > limit) throw new DerError(`truncated element at offset ${pos}`)
  const tag = der[pos]!
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tag at offset ${pos}`)
  let length = der[pos + 1]!
  let start = pos + 2
  if (length >= 0x80) {
    const n = length & 0x7f
    // 0x80 is BER's indefinite length, never DER; four length bytes cover any certificate.
    if (n === 0 || n > 4) throw new DerError(`unsupported length encoding at offset ${pos + 1}`)
    if (start + n > limit) throw new DerError(`truncated length at offset ${pos + 1}`)
    length = 0
    for (let i = 0; i < n; i++) length = length * 256 + der[start + i]!
    start += n
  }
  if (start + length > limit) throw new DerError(`element at offset ${pos} runs past its container`)
  return { tag, start, end: start + length }
}

const expect = (tlv: Tlv, tag: number, what: string, at: number): Tlv => {
  if (tlv.tag !== tag) throw new DerError(`expected ${what} at offset ${at}, found tag 0x${tlv.tag.toString(16)}`)
  return tlv
}

/** Decodes an OBJECT IDENTIFIER's content to dotted form. */
const readOid = (der: Uint8Array, tlv: Tlv): string => {
  if (tlv.end === tlv.start) throw new DerError(`empty OBJECT IDENTIFIER at offset ${tlv.start}`)
  const arcs: Array<number> = []
  let value = 0
  for (let i = tlv.start; i < tlv.end; i++) {
    const b = der[i]!
    if (value === 0 && b === 0x80) throw new DerError(`non-minimal OBJECT IDENTIFIER at offset ${i}`)
    value = value * 128 + (b & 0x7f)
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError(`OBJECT IDENTIFIER arc too large at offset ${i}`)
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 40 ? 0 : value < 80 ? 1 : 2
        arcs.push(first, value - first * 40)
      } else arcs.push(value)
      value = 0
    } else if (i === tlv.end - 1) throw new DerError(`truncated OBJECT IDENTIFIER at offset ${i}`)
  }
  return arcs.join(".")
}

/** An AlgorithmIdentifier: the OID and the bounds of its optional parameters. */
const readAlgorithmIdentifier = (der: Uint8Array, tlv: Tlv): { readonly oid: string; readonly params: Tlv | undefined } => {
  const oidTlv = expect(readTlv(der, tlv.start, tlv.end), TAG_OID, "an algorithm OBJECT IDENTIFIER", tlv.start)
  const oid = readOid(der, oidTlv)
  const params = oidTlv.end < tlv.end ? readTlv(der, oidTlv.end, tlv.end) : undefined
  return { oid, params }
}

/** The hash of RSASSA-PSS-params (RFC 8017 appendix A.2.3): `hashAlgorithm [0]`, SHA-1 by default. */
const pssHash = (der: Uint8Array, params: Tlv | undefined): HashName => {
  if (params === undefined || params.tag === TAG_NULL) {
    throw new DerError("RSASSA-PSS signatureAlgorithm without parameters")
  }
  expect(params, TAG_SEQUENCE, "RSASSA-PSS-params", params.start)
  if (params.start === params.end) return "sha256" // every field defaulted: SHA-1, hence SHA-256
  const first = readTlv(der, params.start, params.end)
  if (first.tag !== TAG_CONTEXT_0) return "sha256" // hashAlgorithm absent: SHA-1
  const algorithm = expect(readTlv(der, first.start, first.end), TAG_SEQUENCE, "a hashAlgorithm", first.start)
  const { oid } = readAlgorithmIdentifier(der, algorithm)
  const hash = DIGESTS.get(oid)
  if (hash === undefined) throw new DerError(`RSASSA-PSS with the unsupported hash algorithm ${oid}`)
  return hash
}

const authError = (message: string) =>
  new AuthError({ message: `channel binding: ${message}`, method: "SCRAM-SHA-256-PLUS" })

/**
 * The hash function RFC 5929 prescribes for `tls-server-end-point` with this
 * certificate, with the signature algorithm's OID.
 *
 * **Details**
 *
 * Fails with an `AuthError` naming the problem and its byte offset when the
 * bytes are not a DER certificate, and naming the OID when the signature
 * algorithm is unknown or has no hash function.
 *
 * @since 0.1.0
 */
export const hashForCertificate = (
  der: Uint8Array
): Result.Result<{ readonly signatureAlgorithm: string; readonly hash: HashName }, AuthError> => {
  try {
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } (RFC 5280 4.1)
    const certificate = expect(readTlv(der, 0, der.length), TAG_SEQUENCE, "a Certificate SEQUENCE", 0)
    if (certificate.end !== der.length) {
      throw new DerError(`${der.length - certificate.end} bytes after the certificate at offset ${certificate.end}`)
    }
    const tbs = expect(readTlv(der, certificate.start, certificate.end), TAG_SEQUENCE, "tbsCertificate", certificate.start)
    const algorithm = expect(readTlv(der, tbs.end, certificate.end), TAG_SEQUENCE, "signatureAlgorithm", tbs.end)
    expect(readTlv(der, algorithm.end, certificate.end), TAG_BIT_STRING, "signatureValue", algorithm.end)
    const { oid, params } = readAlgorithmIdentifier(der, algorithm)
    if (oid === RSASSA_PSS) return Result.succeed({ signatureAlgorithm: oid, hash: pssHash(der, params) })
    const hash = SIGNATURES.get(oid)
    if (hash !== undefined) return Result.succeed({ signatureAlgorithm: oid, hash })
    const noHash = NO_HASH.get(oid)
    if (noHash !== undefined) {
      return Result.fail(authError(`the server certificate is signed with ${noHash}, which defines no tls-server-end-point hash`))
    }
    return Result.fail(authError(`the server certificate's signature algorithm ${oid} is not supported`))
  } catch (e) {
    if (e instanceof DerError) return Result.fail(authError(`the server certificate is not valid DER: ${e.message}`))
    throw e
  }
}

/**
 * The `tls-server-end-point` channel binding data for a server certificate:
 * its DER bytes hashed with the function RFC 5929 section 4.1 selects.
 *
 * **Details**
 *
 * The result is a fresh array (32 bytes for SHA-256). Fails as
 * `hashForCertificate` does.
 *
 * @since 0.1.0
 */
export const certificateHashForChannelBinding = (der: Uint8Array): Result.Result<Uint8Array, AuthError> =>
  Result.map(hashForCertificate(der), ({ hash }) => new Uint8Array(Crypto.createHash(hash).update(der).digest()))
