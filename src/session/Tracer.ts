/**
 * PQtrace-style tracing of a connection: every frame in both directions.
 *
 * @since 0.1.0
 */
import * as Trace from "../protocol/Trace.ts"
import { Backend as Code } from "../wire/Codes.ts"
import { Framer } from "../wire/Framer.ts"

/**
 * Renders every frame in both directions, as libpq's PQtrace does. Only built
 * when tracing is asked for: it decodes every frame a second time.
 */
export class Tracer {
  private readonly outgoing = new Framer({ startup: true })
  private password: "PasswordMessage" | "SASLInitialResponse" | "SASLResponse" = "PasswordMessage"
  readonly emit: (line: string) => void

  constructor(emit: (line: string) => void) {
    this.emit = emit
  }

  sent(bytes: Uint8Array): void {
    this.outgoing.push(bytes, (type, buf, start, end) => {
      this.emit(
        Trace.renderFrame("F", frameOf(type, buf, start, end), { startup: type === -1, password: this.password })
      )
    })
  }

  received(type: number, buf: Uint8Array, start: number, end: number): void {
    if (type === Code.Authentication && end - start >= 4) {
      const code = (buf[start]! << 24) | (buf[start + 1]! << 16) | (buf[start + 2]! << 8) | buf[start + 3]!
      this.password = code === 10 ? "SASLInitialResponse" : code === 11 ? "SASLResponse" : "PasswordMessage"
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
