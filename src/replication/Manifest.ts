/**
 * Checking a base backup against its manifest while it streams: the tar
 * archives are read entry by entry (ustar headers, 512-byte blocks), each
 * regular file's size and SHA-256 are computed, and at the end every file the
 * manifest lists must have been seen with its size and checksum, and the
 * manifest's own checksum must match.
 *
 * Manifest format: PostgreSQL's `backup_manifest` (JSON, "PostgreSQL-Backup-Manifest-Version" 1 or 2):
 * `Files: [{ Path, Size, "Checksum-Algorithm", Checksum }]` and a final `Manifest-Checksum`, the SHA-256 of
 * everything before that line.
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"

const BLOCK = 512

/** One file found in an archive. */
interface Seen {
  readonly size: number
  readonly sha256: string
}

/**
 * Reads tar archives incrementally and remembers each regular file's size and SHA-256.
 *
 * @since 0.1.0
 */
export class TarDigest {
  readonly files = new Map<string, Seen>()
  private header = new Uint8Array(BLOCK)
  private headerFill = 0
  private remaining = 0
  private padding = 0
  private current: { readonly path: string; readonly size: number; readonly hash: Crypto.Hash | undefined } | undefined
  private ended = false

  /** Starts a new archive (the previous one must have ended on a block boundary). */
  newArchive(): void {
    this.headerFill = 0
    this.remaining = 0
    this.padding = 0
    this.current = undefined
    this.ended = false
  }

  /** Feeds archive bytes. Throws an Error on a malformed archive. */
  push(bytes: Uint8Array): void {
    let p = 0
    while (p < bytes.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, bytes.length - p)
        this.current?.hash?.update(bytes.subarray(p, p + n))
        this.remaining -= n
        p += n
        if (this.remaining === 0) this.finishEntry()
        continue
      }
      if (this.padding > 0) {
        const n = Math.min(this.padding, bytes.length - p)
        this.padding -= n
        p += n
        continue
      }
      const n = Math.min(BLOCK - this.headerFill, bytes.length - p)
      this.header.set(bytes.subarray(p, p + n), this.headerFill)
      this.headerFill += n
      p += n
      if (this.headerFill === BLOCK) {
        this.headerFill = 0
        this.readHeader()
      }
    }
  }

  private finishEntry(): void {
    const c = this.current
    if (c?.hash !== undefined) this.files.set(c.path, { size: c.size, sha256: c.hash.digest("hex") })
    this.current = undefined
    this.padding = (BLOCK - (c === undefined ? 0 : c.size % BLOCK)) % BLOCK
  }

  private readHeader(): void {
    const h = this.header
    if (this.ended || h.every((b) => b === 0)) {
      this.ended = true
      return
    }
    const text = (start: number, length: number) => {
      let end = start
      while (end < start + length && h[end] !== 0) end++
      return new TextDecoder().decode(h.subarray(start, end))
    }
    const name = text(0, 100)
    const prefix = text(345, 155)
    const sizeText = text(124, 12).trim()
    const size = sizeText === "" ? 0 : Number.parseInt(sizeText, 8)
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`tar: bad size ${JSON.stringify(sizeText)} for ${name}`)
    const type = String.fromCharCode(h[156]!)
    const path = prefix === "" ? name : `${prefix}/${name}`
    const regular = type === "0" || type === "\0"
    this.current = { path, size, hash: regular ? Crypto.createHash("sha256") : undefined }
    this.remaining = size
    if (size === 0) this.finishEntry()
  }
}

/**
 * Why the archives do not match the manifest, or undefined when they do.
 *
 * **Details**
 *
 * Only the files of the archives read are checked (a manifest path is relative to the data directory: files of
 * the main archive, `base.tar`).
 *
 * @since 0.1.0
 */
export const verify = (manifestText: string, digest: TarDigest): string | undefined => {
  const marker = manifestText.lastIndexOf("\"Manifest-Checksum\"")
  if (marker < 0) return "the manifest has no Manifest-Checksum"
  const lineStart = manifestText.lastIndexOf("\n", marker) + 1
  const expected = /"Manifest-Checksum"\s*:\s*"([0-9a-f]+)"/.exec(manifestText.slice(marker))?.[1]
  const actual = Crypto.createHash("sha256").update(manifestText.slice(0, lineStart)).digest("hex")
  if (expected !== actual) return `the manifest's checksum does not match its content`
  let parsed: { readonly Files?: ReadonlyArray<Record<string, unknown>> }
  try {
    parsed = JSON.parse(manifestText)
  } catch (e) {
    return `the manifest is not JSON: ${e instanceof Error ? e.message : String(e)}`
  }
  for (const file of parsed.Files ?? []) {
    const path = String(file["Path"] ?? file["Encoded-Path"])
    const seen = digest.files.get(path)
    if (seen === undefined) return `${path}: listed in the manifest, missing from the archive`
    if (seen.size !== Number(file["Size"])) return `${path}: ${seen.size} bytes, the manifest says ${file["Size"]}`
    const algorithm = String(file["Checksum-Algorithm"] ?? "NONE")
    if (algorithm === "SHA256" && seen.sha256 !== String(file["Checksum"]).toLowerCase()) {
      return `${path}: SHA-256 differs from the manifest's`
    }
  }
  return undefined
}
