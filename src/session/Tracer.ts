/**
 * PQtrace-style tracing of a connection: every frame in both directions.
 *
 * @since 0.1.0
 */
import * as Trace from "../protocol/Trace.ts"
import { Backend as Code } from "../wire/Codes.ts"
import { Framer } from "../wire/Framer.ts"

/**
 * A trace that can be turned on and off while the session runs, and that
 * counts the bytes each way whether it is on or not. A `trace` function made
 * by `switchable` carries it; the connection's `Tracer` then renders frames
 * only while `on`.
 *
 * @since 0.1.0
 */
export class TraceSwitch {
  on: boolean
  /** Bind parameters and FunctionCall arguments rendered as `'********'`. */
  maskValues = false
  bytesIn = 0
  bytesOut = 0
  readonly sink: (line: string) => void

  constructor(sink: (line: string) => void, on: boolean) {
    this.sink = sink
    this.on = on
  }
}

const SwitchKey = Symbol.for("effect-pgwire/session/TraceSwitch")

/**
 * A `trace` option that renders only while `traceSwitch.on`.
 *
 * @since 0.1.0
 */
export const switchable = (traceSwitch: TraceSwitch): (line: string) => void =>
  Object.assign((line: string) => traceSwitch.sink(line), { [SwitchKey]: traceSwitch })

/**
 * Renders every frame in both directions, as libpq's PQtrace does. Only built
 * when tracing is asked for: it decodes every frame a second time (with a
 * `TraceSwitch`, only while the switch is on).
 */
export class Tracer {
  private outgoing = new Framer({ startup: true })
  /** Whether bytes went out while the switch was off (the start-up message among them). */
  private skipped = false
  private password: "PasswordMessage" | "SASLInitialResponse" | "SASLResponse" = "PasswordMessage"
  readonly emit: (line: string) => void
  private readonly traceSwitch: TraceSwitch | undefined

  constructor(emit: (line: string) => void) {
    this.emit = emit
    this.traceSwitch = (emit as { [SwitchKey]?: TraceSwitch })[SwitchKey]
  }

  sent(bytes: Uint8Array): void {
    const traceSwitch = this.traceSwitch
    if (traceSwitch !== undefined) {
      traceSwitch.bytesOut += bytes.length
      if (!traceSwitch.on) {
        this.skipped = true
        return
      }
      // Whole frames are written at once: after a pause the next write starts a regular frame.
      if (this.skipped) this.outgoing = new Framer({ startup: false })
      this.skipped = false
    }
    this.outgoing.push(bytes, (type, buf, start, end) => {
      this.emit(
        Trace.renderFrame("F", frameOf(type, buf, start, end), {
          startup: type === -1,
          password: this.password,
          maskValues: this.traceSwitch?.maskValues
        })
      )
    })
  }

  received(type: number, buf: Uint8Array, start: number, end: number): void {
    if (type === Code.Authentication && end - start >= 4) {
      const code = (buf[start]! << 24) | (buf[start + 1]! << 16) | (buf[start + 2]! << 8) | buf[start + 3]!
      this.password = code === 10 ? "SASLInitialResponse" : code === 11 ? "SASLResponse" : "PasswordMessage"
    }
    const traceSwitch = this.traceSwitch
    if (traceSwitch !== undefined) {
      traceSwitch.bytesIn += end - start + 5
      if (!traceSwitch.on) return
    }
    this.emit(Trace.renderFrame("B", frameOf(type, buf, start, end)))
  }
}

/** Rebuilds a whole frame (header and body) from a body range. */
const frameOf = (type: number, buf: Uint8Array, start: number, end: number): Uint8Array => {
  const header = type === -1 ? 4 : 5
  const frame = new Uint8Array(header + end - start)
  const length = end - start + 4
  let o = 0
  if (type !== -1) frame[o++] = type
  frame[o] = length >>> 24
  frame[o + 1] = (length >>> 16) & 0xff
  frame[o + 2] = (length >>> 8) & 0xff
  frame[o + 3] = length & 0xff
  frame.set(buf.subarray(start, end), header)
  return frame
}
