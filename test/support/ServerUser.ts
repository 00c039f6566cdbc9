/**
 * Who runs PostgreSQL's programs for the harness, and how. PostgreSQL refuses
 * to run as root: when this process is root, `initdb` and `postgres` run as
 * `nobody`, the files they use are chowned to it, and every directory on the
 * way to them must be traversable by it. Programs run in a clean environment
 * (no `PG*` variables of the caller), and their failures name the account.
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import * as fsSync from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { HarnessError } from "./HarnessError.ts"

/**
 * An unprivileged account to run PostgreSQL as.
 *
 * @since 0.1.0
 */
export interface ServerUser {
  readonly name: string
  readonly uid: number
  readonly gid: number
}

/**
 * Decides who runs `initdb` and `postgres`: `undefined` (this process's own
 * user) unless this process is root, in which case the `nobody` account from
 * `passwd` (the text of /etc/passwd), or 65534:65534 when it has none.
 *
 * @since 0.1.0
 */
export const resolveServerUser = (uid: number | undefined, passwd: string): ServerUser | undefined => {
  if (uid !== 0) return undefined
  for (const line of passwd.split("\n")) {
    const fields = line.split(":")
    if (fields[0] === "nobody" && fields.length >= 4) {
      const u = Number(fields[2])
      const g = Number(fields[3])
      if (Number.isInteger(u) && Number.isInteger(g) && u !== 0) return { name: "nobody", uid: u, gid: g }
    }
  }
  return { name: "nobody", uid: 65534, gid: 65534 }
}

/**
 * The subset of `fs.Stats` the reachability check reads.
 *
 * @since 0.1.0
 */
export interface ModeInfo {
  readonly uid: number
  readonly gid: number
  readonly mode: number
}

/**
 * The first directory on the way to `target` (itself included) that `user`
 * may not traverse (no search permission for it as owner, group or other),
 * or `undefined` when every one is traversable.
 *
 * @since 0.1.0
 */
export const firstUntraversable = (
  target: string,
  user: ServerUser,
  stat: (dir: string) => ModeInfo
): string | undefined => {
  const dirs: Array<string> = []
  let dir = path.resolve(target)
  while (true) {
    dirs.unshift(dir)
    const parent = path.dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  for (const d of dirs) {
    const s = stat(d)
    const bit = s.uid === user.uid ? 0o100 : s.gid === user.gid ? 0o010 : 0o001
    if ((s.mode & bit) === 0) return d
  }
  return undefined
}

let serverUserMemo: { value: ServerUser | undefined } | undefined

/** The account to run PostgreSQL as (see `resolveServerUser`), read once. */
export const serverUser = (): ServerUser | undefined => {
  if (serverUserMemo === undefined) {
    let passwd = ""
    try {
      passwd = fsSync.readFileSync("/etc/passwd", "utf8")
    } catch {
      // No passwd file: fall back to the conventional nobody ids.
    }
    serverUserMemo = { value: resolveServerUser(process.getuid?.(), passwd) }
  }
  return serverUserMemo.value
}

/** Gives `root` and everything under it to `user` (nothing when `user` is undefined). */
export const chownTree = async (root: string, user: ServerUser | undefined): Promise<void> => {
  if (user === undefined) return
  await fs.lchown(root, user.uid, user.gid)
  const entries = await fs.readdir(root, { withFileTypes: true, recursive: true })
  for (const entry of entries) {
    await fs.lchown(path.join(entry.parentPath, entry.name), user.uid, user.gid)
  }
}

/** Fails with a `HarnessError` when the server user cannot reach `dir` (`what` names it). */
export const checkReachable = (dir: string, what: string): void => {
  const user = serverUser()
  if (user === undefined) return
  const blocked = firstUntraversable(dir, user, (d) => fsSync.statSync(d))
  if (blocked !== undefined) {
    throw new HarnessError(
      `${what} ${dir} is not reachable by ${user.name} (uid ${user.uid}): ${blocked} lacks search permission. ` +
        `PostgreSQL refuses to run as root, so the harness runs it as ${user.name}; ` +
        `point TMPDIR at a world-traversable directory.`
    )
  }
}

export interface RunResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly output: string
}

/** Runs a binary to completion, as the server user, collecting its output. */
export const run = (
  binary: string,
  args: ReadonlyArray<string>,
  options: { readonly stdin?: string; readonly cwd: string; readonly timeoutMs: number }
): Promise<RunResult> =>
  new Promise((resolve, reject) => {
    const user = serverUser()
    const child = spawn(binary, args, {
      cwd: options.cwd,
      stdio: ["pipe", "pipe", "pipe"],
      env: serverEnv(),
      ...(user !== undefined ? { uid: user.uid, gid: user.gid } : {})
    })
    const chunks: Array<Buffer> = []
    child.stdout.on("data", (c: Buffer) => chunks.push(c))
    child.stderr.on("data", (c: Buffer) => chunks.push(c))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs)
    child.once("error", (e) => {
      clearTimeout(timer)
      reject(new HarnessError(`cannot run ${binary}: ${e.message}${asUser()}`))
    })
    child.once("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, output: Buffer.concat(chunks).toString("utf8") })
    })
    child.stdin.on("error", () => {
      // The child may exit before reading its input; the exit status reports why.
    })
    child.stdin.end(options.stdin ?? "")
  })

/** The environment of every PostgreSQL program the harness runs. */
export const serverEnv = (): NodeJS.ProcessEnv => {
  // A clean environment: PG* variables from the caller must not steer initdb or the server.
  const env: NodeJS.ProcessEnv = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", LC_ALL: "C", TZ: "UTC" }
  return env
}

/** For error messages: whom a program ran as, when not this process's own user. */
export const asUser = (): string => {
  const user = serverUser()
  return user === undefined ? "" : ` (as ${user.name}, uid ${user.uid}, because PostgreSQL refuses to run as root)`
}
