/**
 * Test certificates, generated at run time with the `openssl` command line
 * tool: a CA, a server certificate for localhost, a client certificate for the
 * role `certuser`, and the "bad" certificates TLS tests need (an unrelated CA
 * and a client certificate it signed, a server certificate for a wrong host
 * name, an expired server certificate).
 *
 * **Details**
 *
 * - Keys are EC P-256 (generation takes milliseconds, unlike RSA); signatures
 *   use SHA-256, so SCRAM channel binding (`tls-server-end-point`) hashes the
 *   certificate with SHA-256 (RFC 5929 section 4.1).
 * - Certificates are generated once per harness run directory: into a
 *   scratch directory that is then renamed into place, so two processes that
 *   race both end up using one complete set.
 * - Private keys are written mode 0600 (libpq and PostgreSQL both refuse
 *   group- or world-readable keys).
 *
 * Deliberately not here: CRLs, intermediate CAs, certificates without names.
 * Add them (and their paths) when a test needs them.
 *
 * @since 0.1.0
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs/promises"
import * as path from "node:path"

/**
 * Paths of the generated PEM files.
 *
 * @since 0.1.0
 */
export interface CertPaths {
  readonly dir: string
  /** The CA that signed the server and client certificates; the servers trust it for client certificates. */
  readonly caCert: string
  readonly caKey: string
  /** Server certificate: CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1. */
  readonly serverCert: string
  readonly serverKey: string
  /** Client certificate for the role `certuser` (CN=certuser), signed by the CA. */
  readonly clientCert: string
  readonly clientKey: string
  /** A second CA that signed nothing the servers present. */
  readonly otherCaCert: string
  readonly otherCaKey: string
  /** A client certificate for `certuser` signed by the other CA (a server must reject it). */
  readonly otherClientCert: string
  readonly otherClientKey: string
  /** A server certificate signed by the CA for the name `wrong.example` only (no IP SANs). */
  readonly wrongHostCert: string
  readonly wrongHostKey: string
  /** A server certificate for localhost signed by the CA, valid 2020-01-01 to 2021-01-01. */
  readonly expiredCert: string
  readonly expiredKey: string
}

/**
 * The names a server can present (see `StartOptions.serverCert`).
 *
 * @since 0.1.0
 */
export type ServerCertName = "server" | "wrongHost" | "expired"

/**
 * The certificate and key paths of a named server certificate.
 *
 * @since 0.1.0
 */
export const serverCertFiles = (certs: CertPaths, name: ServerCertName): { cert: string; key: string } => {
  switch (name) {
    case "server":
      return { cert: certs.serverCert, key: certs.serverKey }
    case "wrongHost":
      return { cert: certs.wrongHostCert, key: certs.wrongHostKey }
    case "expired":
      return { cert: certs.expiredCert, key: certs.expiredKey }
  }
}

/**
 * The paths the certificates have (or will have) inside `dir`.
 *
 * @since 0.1.0
 */
export const certPaths = (dir: string): CertPaths => {
  const p = (name: string) => path.join(dir, name)
  return {
    dir,
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    serverCert: p("server.crt"),
    serverKey: p("server.key"),
    clientCert: p("client.crt"),
    clientKey: p("client.key"),
    otherCaCert: p("other-ca.crt"),
    otherCaKey: p("other-ca.key"),
    otherClientCert: p("other-client.crt"),
    otherClientKey: p("other-client.key"),
    wrongHostCert: p("wrong-host.crt"),
    wrongHostKey: p("wrong-host.key"),
    expiredCert: p("expired.crt"),
    expiredKey: p("expired.key")
  }
}

// `openssl ca` needs a configuration; its sections are the certificate profiles.
const CA_CONFIG = `[ca]
default_ca = harness
[harness]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any_name
unique_subject = no
copy_extensions = none
[any_name]
commonName = supplied
[server_localhost]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
[server_wrong_host]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
`

const openssl = (cwd: string, args: ReadonlyArray<string>): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile("openssl", args, { cwd }, (error, _stdout, stderr) => {
      if (error === null) {
        resolve()
        return
      }
      const missing = (error as NodeJS.ErrnoException).code === "ENOENT"
      reject(
        new Error(
          missing
            ? "the `openssl` command is missing: the test harness generates its TLS certificates with it " +
              "(Debian: apt-get install openssl)"
            : `openssl ${args.join(" ")} failed in ${cwd}: ${stderr.trim() || error.message}`
        )
      )
    })
  })

const genKey = (cwd: string, file: string) =>
  openssl(cwd, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file])

const makeCa = async (cwd: string, base: string, cn: string) => {
  await genKey(cwd, `${base}.key`)
  await openssl(cwd, [
    "req", "-x509", "-new", "-key", `${base}.key`, "-sha256", "-days", "3650", "-subj", `/CN=${cn}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-out", `${base}.crt`
  ])
  // Each CA keeps its own `openssl ca` database in a subdirectory.
  const db = path.join(cwd, `${base}.db`)
  await fs.mkdir(db)
  await fs.writeFile(path.join(db, "index.txt"), "")
  await fs.writeFile(path.join(db, "serial"), base === "ca" ? "1000\n" : "2000\n")
  await fs.writeFile(path.join(db, "ca.cnf"), CA_CONFIG)
}

const makeLeaf = async (
  cwd: string,
  ca: string,
  base: string,
  cn: string,
  profile: string,
  validity: ReadonlyArray<string>
) => {
  await genKey(cwd, `${base}.key`)
  await openssl(cwd, ["req", "-new", "-key", `${base}.key`, "-subj", `/CN=${cn}`, "-out", `${base}.csr`])
  // `openssl ca` runs with its database directory as cwd; file arguments are absolute.
  const db = path.join(cwd, `${ca}.db`)
  await openssl(db, [
    "ca", "-batch", "-notext", "-config", "ca.cnf",
    "-cert", path.join(cwd, `${ca}.crt`), "-keyfile", path.join(cwd, `${ca}.key`),
    "-in", path.join(cwd, `${base}.csr`), "-out", path.join(cwd, `${base}.crt`),
    "-extensions", profile, ...validity
  ])
}

const VALID = ["-days", "3650"]
// Fixed dates in the past: `openssl x509 -days` refuses non-positive values.
const EXPIRED = ["-startdate", "20200101000000Z", "-enddate", "20210101000000Z"]

/**
 * Generates every certificate into `dir` (which must not exist yet) and
 * returns their paths. Idempotent across processes: when `dir` already holds
 * a complete set, it is reused.
 *
 * @since 0.1.0
 */
export const generateCerts = async (dir: string): Promise<CertPaths> => {
  const paths = certPaths(dir)
  if (await exists(paths.expiredKey)) return paths
  const scratch = `${dir}.build-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  await fs.mkdir(scratch, { recursive: true })
  try {
    await Promise.all([
      makeCa(scratch, "ca", "effect-pgwire test CA"),
      makeCa(scratch, "other-ca", "effect-pgwire unrelated test CA")
    ])
    // One `openssl ca` database per CA, so signing under one CA is sequential.
    await Promise.all([
      (async () => {
        await makeLeaf(scratch, "ca", "server", "localhost", "server_localhost", VALID)
        await makeLeaf(scratch, "ca", "client", "certuser", "client", VALID)
        await makeLeaf(scratch, "ca", "wrong-host", "wrong.example", "server_wrong_host", VALID)
        await makeLeaf(scratch, "ca", "expired", "localhost", "server_localhost", EXPIRED)
      })(),
      makeLeaf(scratch, "other-ca", "other-client", "certuser", "client", VALID)
    ])
    for (const entry of await fs.readdir(scratch, { withFileTypes: true })) {
      const full = path.join(scratch, entry.name)
      if (entry.isDirectory() || entry.name.endsWith(".csr")) await fs.rm(full, { recursive: true, force: true })
      else await fs.chmod(full, entry.name.endsWith(".key") ? 0o600 : 0o644)
    }
    await fs.chmod(scratch, 0o755)
    try {
      await fs.rename(scratch, dir)
    } catch (e) {
      // Another process finished first: use its set.
      if (!isExistsError(e)) throw e
    }
    return paths
  } finally {
    await fs.rm(scratch, { recursive: true, force: true })
  }
}

const exists = (p: string) => fs.access(p).then(() => true, () => false)

const isExistsError = (e: unknown) => {
  const code = (e as NodeJS.ErrnoException | undefined)?.code
  return code === "EEXIST" || code === "ENOTEMPTY"
}
