/**
 * Summarises V8 CPU profiles written by `BENCH_PROFILE=<dir> npm run bench`
 * (children run with `node --cpu-prof`): where the time goes, by function
 * and by file, as self time in percent of the samples.
 *
 * Usage: `node bench/e2e/profile.ts <file.cpuprofile> [more...] [--top N]`.
 * Several files are added together (e.g. every round of one driver and
 * workload). Paths of the compiled children are shown as their sources
 * (`src/...ts`, `bench/...ts`); line numbers are those of the compiled file.
 *
 * It reads profiles and prints; it measures nothing.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { textTable } from "../Machine.ts"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const compiledPrefix = path.join(repoRoot, "node_modules", ".cache", "effect-pgwire-bench") + path.sep

const shortUrl = (url: string): string => {
  if (url === "") return ""
  let p = url.startsWith("file://") ? fileURLToPath(url) : url
  if (p.startsWith(compiledPrefix)) p = p.slice(compiledPrefix.length).replace(/\.js$/, ".ts")
  else if (p.startsWith(repoRoot + path.sep)) p = p.slice(repoRoot.length + 1)
  return p
}

/**
 * Self time in microseconds per "file:function" and per file, over the given profiles.
 *
 * @since 0.1.0
 */
export const selfTimes = (profiles: ReadonlyArray<Profile>) => {
  const byFunction = new Map<string, number>()
  const byFile = new Map<string, number>()
  let total = 0
  for (const profile of profiles) {
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
    for (let i = 0; i < profile.samples.length; i++) {
      const node = nodes.get(profile.samples[i]!)
      const dt = profile.timeDeltas[i] ?? 0
      if (node === undefined) continue
      total += dt
      const file = shortUrl(node.callFrame.url)
      const name = node.callFrame.functionName || "(anonymous)"
      const key = file === "" ? name : `${file}:${node.callFrame.lineNumber + 1} ${name}`
      byFunction.set(key, (byFunction.get(key) ?? 0) + dt)
      const fileKey = file === "" ? name : file.startsWith("node:") ? "node internals" : file
      byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + dt)
    }
  }
  return { byFunction, byFile, total }
}

const main = (): void => {
  const args = process.argv.slice(2)
  const topAt = args.indexOf("--top")
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 25
  const files = args.filter((a, i) => a !== "--top" && i !== topAt + 1)
  if (files.length === 0) {
    console.error("usage: node bench/e2e/profile.ts <file.cpuprofile>... [--top N]")
    process.exit(2)
  }
  const profiles = files.map((f) => JSON.parse(fs.readFileSync(f, "utf8")) as Profile)
  const { byFunction, byFile, total } = selfTimes(profiles)
  const rows = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => [`${((v / total) * 100).toFixed(1)}%`, `${(v / 1000).toFixed(0)} ms`, k])
  console.log(`${files.length} profile(s), ${(total / 1e6).toFixed(2)} s of samples\n`)
  console.log("Self time by file\n")
  console.log(textTable(["self", "time", "file"], rows(byFile)))
  console.log("\nSelf time by function\n")
  console.log(textTable(["self", "time", "function"], rows(byFunction)))
}

main()
