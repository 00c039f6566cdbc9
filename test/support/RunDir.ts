/**
 * The harness's run directory: one per run, in the system temp directory,
 * holding what every server of the run shares (the data-directory templates,
 * the certificates, a reachable copy of the binaries when needed). Child
 * processes (vitest workers) inherit it through `EFFECT_PGWIRE_HARNESS_DIR`;
 * the process that created it removes it. Creating one first sweeps the
 * directories of runs that were killed without cleanup.
 *
 * What is built in it is built in a scratch directory and renamed into place,
 * so processes racing to build the same thing all end up with one whole copy.
 *
 * @since 0.1.0
 */
import * as fsSync from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { type CertPaths, generateCerts } from "./Certs.ts"
import { installExitHandlers, pidRunning, setOwnedHarnessDir } from "./Cleanup.ts"
import { readLog } from "./HarnessError.ts"

/**
 * The environment variable naming the run directory shared with child processes.
 *
 * @since 0.1.0
 */
export const HARNESS_DIR_ENV = "EFFECT_PGWIRE_HARNESS_DIR"

let harnessDirMemo: Promise<string> | undefined

/**
 * The run directory (templates, certificates): inherited from
 * `EFFECT_PGWIRE_HARNESS_DIR`, or created in the system temp directory and
 * exported through that variable to child processes. A directory this
 * process created is removed when it exits.
 *
 * @since 0.1.0
 */
export const harnessDir = (): Promise<string> => {
  if (harnessDirMemo === undefined) {
    harnessDirMemo = (async () => {
      const inherited = process.env[HARNESS_DIR_ENV]
      if (inherited !== undefined && inherited !== "" && fsSync.existsSync(inherited)) return inherited
      await sweepStale(os.tmpdir())
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), `effect-pgwire-run-${process.pid}-`))
      // Traversable by the server user, who reads the templates inside.
      await fs.chmod(dir, 0o755)
      setOwnedHarnessDir(dir)
      process.env[HARNESS_DIR_ENV] = dir
      installExitHandlers()
      return dir
    })()
  }
  return harnessDirMemo
}

// `effect-pgwire-<name>-<owner pid>-<mkdtemp suffix>`: run and server directories.
const OWNED_DIR = /^effect-pgwire-[A-Za-z0-9]+-(\d+)-[A-Za-z0-9]{6}$/

/**
 * Removes the directories that runs killed without cleanup (SIGKILL) left in
 * `tmp`: those whose owner process is gone and whose server, if any, is not
 * running. It never signals a process: a server that outlived its owner is
 * left alone (and reported by its directory still being there).
 *
 * @since 0.1.0
 */
export const sweepStale = async (tmp: string): Promise<ReadonlyArray<string>> => {
  const removed: Array<string> = []
  let entries: Array<string>
  try {
    entries = await fs.readdir(tmp)
  } catch {
    return removed
  }
  for (const entry of entries) {
    const owner = OWNED_DIR.exec(entry)?.[1]
    if (owner === undefined || Number(owner) === process.pid || pidRunning(Number(owner))) continue
    const dir = path.join(tmp, entry)
    const postmaster = Number(readLog(path.join(dir, "data", "postmaster.pid")).split("\n")[0])
    if (Number.isInteger(postmaster) && postmaster > 0 && pidRunning(postmaster)) continue
    try {
      await fs.rm(dir, { recursive: true, force: true })
      removed.push(dir)
    } catch {
      // Not ours to remove after all (permissions): leave it.
    }
  }
  return removed
}

let certsMemo: Promise<CertPaths> | undefined

/**
 * The run's certificates (generated on first use).
 *
 * @since 0.1.0
 */
export const runCerts = (): Promise<CertPaths> => {
  if (certsMemo === undefined) {
    certsMemo = harnessDir().then((dir) => generateCerts(path.join(dir, "certs")))
    certsMemo.catch(() => {
      certsMemo = undefined
    })
  }
  return certsMemo
}

/** A short random tag for a scratch directory's name. */
export const randomSuffix = () => Math.random().toString(36).slice(2, 8)

/** Whether a rename failed because its target exists: someone else built the same thing first. */
export const isExistsError = (e: unknown) => {
  const code = (e as NodeJS.ErrnoException | undefined)?.code
  return code === "EEXIST" || code === "ENOTEMPTY"
}

/** After the run directory this process created is removed: forgets it, its certificates and the variable naming it. */
export const forgetHarnessDir = (): void => {
  setOwnedHarnessDir(undefined)
  harnessDirMemo = undefined
  certsMemo = undefined
  delete process.env[HARNESS_DIR_ENV]
}
