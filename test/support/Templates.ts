/**
 * The data-directory templates every server starts from: `initdb` runs once
 * per run directory and kind (trust auth, UTF8, no locale, superuser
 * `postgres`), and the standard roles (`ROLES`, with `PASSWORDS`) are created
 * in it with the single-user backend. Each server copies a template instead of
 * running `initdb` itself.
 *
 * @since 0.1.0
 */
import * as fsSync from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { Binaries } from "./Binaries.ts"
import { HarnessError, tail } from "./HarnessError.ts"
import { harnessDir, isExistsError, randomSuffix } from "./RunDir.ts"
import { asUser, checkReachable, chownTree, run, serverUser } from "./ServerUser.ts"

/**
 * The standard roles (created when `roles` is not `false`) and how the
 * standard `pg_hba.conf` lets each one in.
 *
 * @since 0.1.0
 */
export const ROLES = {
  /** Superuser; trust over TCP and the Unix socket; also the `replication` line. */
  superuser: "postgres",
  /** Password stored as MD5 (`password_encryption = md5`); `md5` method. */
  md5: "md5user",
  /** `password` method (cleartext on the wire). */
  password: "passworduser",
  /** `scram-sha-256` method. */
  scram: "scramuser",
  /** `cert` method, `hostssl` only: a client certificate with CN=certuser. */
  cert: "certuser",
  /** `scram-sha-256`, `hostssl` only. */
  ssl: "ssluser",
  /** `trust`, `hostnossl` only (and the Unix socket). */
  nossl: "nossluser",
  /** `trust` over any TCP connection and the Unix socket (libpq's negotiation tests' `testuser`). */
  trust: "testuser"
} as const

/**
 * The passwords of the standard roles.
 *
 * @since 0.1.0
 */
export const PASSWORDS = {
  md5user: "md5-pass-1",
  passworduser: "password-pass-2",
  scramuser: "scram-pass-3",
  ssluser: "ssl-pass-4"
} as const

/** A string as an SQL literal (standard_conforming_strings on). */
export const sqlLiteral = (s: string) => `'${s.replaceAll("'", "''")}'`

/**
 * The statements that create the standard roles, one per line (the
 * single-user backend ends a statement at a newline).
 *
 * @since 0.1.0
 */
export const standardRolesSql = (): ReadonlyArray<string> => [
  // MD5-hashed password, so the `md5` hba method really does MD5 (with a SCRAM
  // verifier the server would silently switch md5 to SCRAM; pg_hba.conf docs).
  "SET password_encryption = 'md5'",
  `CREATE ROLE ${ROLES.md5} LOGIN PASSWORD ${sqlLiteral(PASSWORDS.md5user)}`,
  // Explicit: PostgreSQL 13's default is still md5.
  "SET password_encryption = 'scram-sha-256'",
  `CREATE ROLE ${ROLES.password} LOGIN PASSWORD ${sqlLiteral(PASSWORDS.passworduser)}`,
  `CREATE ROLE ${ROLES.scram} LOGIN PASSWORD ${sqlLiteral(PASSWORDS.scramuser)}`,
  `CREATE ROLE ${ROLES.ssl} LOGIN PASSWORD ${sqlLiteral(PASSWORDS.ssluser)}`,
  `CREATE ROLE ${ROLES.cert} LOGIN`,
  `CREATE ROLE ${ROLES.nossl} LOGIN`,
  `CREATE ROLE ${ROLES.trust} LOGIN`,
  // Since PostgreSQL 15 only the owner may create in schema public; keep 13 and 18 alike for tests.
  "GRANT ALL ON SCHEMA public TO PUBLIC"
]

const templateMemo = new Map<string, Promise<string>>()

/**
 * The template data directory of `bins`'s kind, with or without the standard
 * roles: built once per run directory, then reused.
 */
export const ensureTemplate = (bins: Binaries, roles: boolean): Promise<string> => {
  const key = `${bins.kind}-${roles ? "roles" : "bare"}`
  let memo = templateMemo.get(key)
  if (memo === undefined) {
    memo = buildTemplate(bins, roles, key)
    templateMemo.set(key, memo)
    memo.catch(() => templateMemo.delete(key))
  }
  return memo
}

const buildTemplate = async (bins: Binaries, roles: boolean, key: string): Promise<string> => {
  const dir = await harnessDir()
  checkReachable(dir, "the harness run directory")
  const final = path.join(dir, `template-${key}`)
  if (fsSync.existsSync(path.join(final, "PG_VERSION"))) return final
  const scratch = `${final}.build-${process.pid}-${randomSuffix()}`
  await fs.mkdir(scratch, { mode: 0o700 })
  try {
    await chownTree(scratch, serverUser())
    const initdb = await run(
      bins.initdb,
      ["-D", scratch, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"],
      { cwd: dir, timeoutMs: 120_000 }
    )
    if (initdb.code !== 0) {
      throw new HarnessError(
        `initdb failed (exit ${initdb.code ?? initdb.signal}): ${bins.initdb}${asUser()}\n${tail(initdb.output)}`
      )
    }
    if (roles) {
      const single = await run(
        bins.postgres,
        ["--single", "-D", scratch, "-F", "-c", "exit_on_error=true", "postgres"],
        { cwd: dir, timeoutMs: 60_000, stdin: standardRolesSql().join("\n") + "\n" }
      )
      if (single.code !== 0) {
        throw new HarnessError(
          `creating the standard roles failed (exit ${single.code ?? single.signal}): ` +
            `${bins.postgres} --single${asUser()}\n${tail(single.output)}`
        )
      }
    }
    try {
      await fs.rename(scratch, final)
    } catch (e) {
      // Another process built the same template first: use it.
      if (!isExistsError(e)) throw e
    }
    return final
  } finally {
    await fs.rm(scratch, { recursive: true, force: true })
  }
}

/** After the run directory is gone: forgets the templates built in it. */
export const clearTemplates = (): void => {
  templateMemo.clear()
}
