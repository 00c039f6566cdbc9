/**
 * Hand-made bytes for the engine's bad-input tests: frames with any body, and
 * an exchange over a plain socket that returns every byte the server sent
 * (answer bytes, frames in either protocol's format) until it closed.
 */
import { assert } from "@effect/vitest"
import * as Result from "effect/Result"
import * as net from "node:net"
import * as Backend from "../../src/protocol/Backend.ts"
import { Framer } from "../../src/wire/Framer.ts"
import { concat, encodeFrontend } from "./Support.ts"

export const int32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setInt32(0, n)
  return b
}
export const cstring = (s: string | Uint8Array): Uint8Array =>
  concat(typeof s === "string" ? new TextEncoder().encode(s) : s, new Uint8Array([0]))
/** A frame with any body, valid or not. */
export const frame = (type: string, ...body: ReadonlyArray<Uint8Array>): Uint8Array => {
  const b = concat(...body)
  return concat(new Uint8Array([type.charCodeAt(0)]), int32(b.length + 4), b)
}
export const query = (sql: string) => encodeFrontend({ _tag: "Query", query: sql })
export const SSL_REQUEST = concat(int32(8), int32(80877103))
export const GSSENC_REQUEST = concat(int32(8), int32(80877104))

/**
 * Sends each chunk after the previous one was answered (or 300 ms passed) and
 * returns every byte the server sent until it closed (at most 10 s).
 */
export const exchange = (port: number, chunks: ReadonlyArray<Uint8Array>): Promise<Uint8Array> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" })
    const got: Array<Uint8Array> = []
    let wake: (() => void) | undefined
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`not closed; got ${Buffer.concat(got).toString("hex")}`))
    }, 10_000)
    socket.on("data", (d) => {
      got.push(d)
      wake?.()
    })
    socket.on("error", () => {})
    socket.on("close", () => {
      clearTimeout(timer)
      wake?.()
      resolve(new Uint8Array(Buffer.concat(got)))
    })
    socket.on("connect", async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return
        const before = got.length
        socket.write(chunk)
        await new Promise<void>((r) => {
          wake = () => got.length > before && r()
          setTimeout(r, 300)
        })
      }
    })
  })

/** The one ErrorResponse `bytes` hold. */
export const errorIn = (bytes: Uint8Array) => {
  const frames = new Framer().pushAll(bytes)
  assert.strictEqual(frames.length, 1, `one frame in ${Buffer.from(bytes).toString("hex")}`)
  assert.strictEqual(frames[0]!.type, 0x45)
  const message = Result.getOrThrow(Backend.decode(concat(new Uint8Array([0x45]), int32(frames[0]!.body.length + 4), frames[0]!.body)))
  const field = (code: string) => message._tag === "ErrorResponse" ? message.fields.find((f) => f.code === code)?.value ?? "" : ""
  return { severity: field("V"), code: field("C"), message: field("M") }
}

