// Packaging check, run by .ci/run inside a scratch project where the packed
// tarball was installed from the registry like a user would: imports the
// package by name from plain Node ESM and makes one real codec call.
import * as pkg from "effect-pgwire"

const fail = (message) => {
  console.error(`pack-check: ${message}`)
  process.exit(1)
}

const names = Object.keys(pkg)
if (names.length === 0) fail("the package exports nothing")

const { Frontend, Message } = pkg
if (Frontend?.Query !== undefined && typeof Message?.encodeFrame === "function") {
  // Query (F): 'Q', int32 length counting itself, the query string, NUL (protocol "Message Formats").
  const result = Message.encodeFrame(Frontend.Query, { _tag: "Query", query: "SELECT 1" })
  if (result._tag !== "Success") fail(`encoding Frontend.Query failed: ${String(result.failure)}`)
  const expected = [0x51, 0, 0, 0, 13, ...Buffer.from("SELECT 1"), 0]
  const actual = [...result.success]
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    fail(`Frontend.Query encoded as [${actual}], expected [${expected}]`)
  }
  console.log(`pack-check: OK (${names.length} exports; Frontend.Query encodes to ${actual.length} bytes)`)
} else {
  // Before the codecs are exported: any exported function must at least be callable.
  const fn = names.map((n) => pkg[n]).find((v) => typeof v === "function")
  if (fn === undefined) fail(`no codec and no exported function among: ${names.join(", ")}`)
  console.log(`pack-check: OK (${names.length} exports; Frontend.Query not exported yet)`)
}
