/**
 * The SCRAM-SHA-256 secret PostgreSQL stores instead of a password
 * (`pg_authid.rolpassword`): making one from a password, its text form, and
 * checking a plain password against it.
 *
 * **Details**
 *
 * `makeSecret` and `verifyPassword` run PBKDF2 synchronously: about 1 ms on
 * a current x86 core for the default 4096 iterations. Errors never quote the
 * password or the secret.
 *
 * Not here: the exchange itself (`ScramServer` uses a secret to verify a
 * client's proof). Pure: `node:crypto` for random bytes.
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"
import * as Result from "effect/Result"
import { AuthError } from "../errors/PgError.ts"
import { preparePassword } from "./SaslPrep.ts"
import {
  deriveKeys,
  equalConstantTime,
  fromBase64,
  isIterationCount,
  keyFromBase64,
  MECHANISM,
  toBase64
} from "./ScramPrimitives.ts"

/**
 * The iteration count of a new secret: PostgreSQL's `scram_iterations` default.
 *
 * @since 0.1.0
 */
export const DEFAULT_ITERATIONS = 4096

/**
 * Bytes of salt in a new secret (PostgreSQL's `SCRAM_DEFAULT_SALT_LEN`).
 *
 * @since 0.1.0
 */
export const DEFAULT_SALT_BYTES = 16

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
  if (!isIterationCount(iterations)) {
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
  if (!isIterationCount(iterations)) return Result.fail(secretError("the iteration count is out of range"))
  const salt = fromBase64(m[2]!)
  if (salt === undefined || salt.length === 0) return Result.fail(secretError("the salt is not base64"))
  const storedKey = keyFromBase64(m[3]!)
  if (storedKey === undefined) return Result.fail(secretError("StoredKey is not 32 bytes of base64"))
  const serverKey = keyFromBase64(m[4]!)
  if (serverKey === undefined) return Result.fail(secretError("ServerKey is not 32 bytes of base64"))
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
