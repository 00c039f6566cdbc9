/**
 * A description of the machine a benchmark ran on (CPU model, cores, memory,
 * Node version, OS, date), for the results files, and the small statistics
 * and formatting helpers both suites share.
 *
 * It measures nothing itself.
 *
 * @since 0.1.0
 */
import * as os from "node:os"

/**
 * @since 0.1.0
 */
export interface MachineInfo {
  readonly cpuModel: string
  readonly cores: number
  readonly memoryGiB: number
  readonly node: string
  readonly os: string
  readonly date: string
}

/**
 * Describes this machine.
 *
 * @since 0.1.0
 */
export const describeMachine = (): MachineInfo => {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString()
  }
}

/**
 * The median of a non-empty list (the mean of the two middle values for an
 * even count).
 *
 * @since 0.1.0
 */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Formats a number with a fixed count of significant digits, without
 * exponent notation for the magnitudes benchmarks print.
 *
 * @since 0.1.0
 */
export const fmt = (value: number, digits = 3): string => {
  if (!Number.isFinite(value)) return "—"
  if (value === 0) return "0"
  const magnitude = Math.floor(Math.log10(Math.abs(value)))
  const decimals = Math.max(0, digits - 1 - magnitude)
  return value.toFixed(decimals)
}

/**
 * Renders a Markdown table.
 *
 * @since 0.1.0
 */
export const markdownTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const line = (cells: ReadonlyArray<string>) => `| ${cells.join(" | ")} |`
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n")
}

/**
 * Renders a fixed-width text table for the console.
 *
 * @since 0.1.0
 */
export const textTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}
