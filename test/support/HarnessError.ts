/**
 * How the embedded-PostgreSQL harness reports a failure: a `HarnessError`
 * whose message names the step, the binary or path involved and the tail of
 * the relevant log, with the helpers that read those logs.
 *
 * @since 0.1.0
 */
import * as fsSync from "node:fs"

/**
 * A harness failure: which step, which binary or path, and the relevant log.
 *
 * @since 0.1.0
 */
export class HarnessError extends Error {
  constructor(message: string) {
    super(message)
    this.name = "HarnessError"
  }
}

/** The last `lines` lines of `text`. */
export const tail = (text: string, lines = 40): string => text.trimEnd().split("\n").slice(-lines).join("\n")

/** The whole of a log (or any small file), or `""` when it cannot be read. */
export const readLog = (file: string) => {
  try {
    return fsSync.readFileSync(file, "utf8")
  } catch {
    return ""
  }
}
