import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as PassFile from "../../src/config/PassFile.ts"
import authCases from "../fixtures/auth/libpq_auth_policy_cases.json" with { type: "json" }

const key = (k: Partial<PassFile.Key> = {}): PassFile.Key => ({ host: "db", port: "5432", database: "app", user: "alice", ...k })

const find = (text: string, k: Partial<PassFile.Key> = {}): string | undefined => {
  const found = PassFile.lookup(PassFile.parse(text), key(k))
  return found === undefined ? undefined : Redacted.value(found)
}

const tempFile = (text: string, mode: number): string => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "pgpass-"))
  const file = Path.join(dir, "pgpass")
  Fs.writeFileSync(file, text)
  Fs.chmodSync(file, mode)
  return file
}

describe("parsing and matching (libpq passwordFromFile)", () => {
  it("takes the password of the first matching line", () => {
    const text = "db:5432:app:alice:first\ndb:5432:app:alice:second\n"
    assert.strictEqual(find(text), "first")
  })

  it("matches * in the first four fields, and only a field that is exactly *", () => {
    assert.strictEqual(find("*:*:*:*:any"), "any")
    assert.strictEqual(find("*:5433:*:*:other\n*:5432:*:alice:mine"), "mine")
    assert.strictEqual(find("\\*:*:*:*:literal-star"), undefined)
    assert.strictEqual(find("\\*:*:*:*:literal-star", { host: "*" }), "literal-star")
    assert.strictEqual(find("*x:*:*:*:no"), undefined)
  })

  it("unescapes \\: and \\\\ in every field, and a password runs to the next unescaped colon", () => {
    assert.strictEqual(find("db:5432:app:al\\:ice:p\\:w\\\\d:ignored", { user: "al:ice" }), "p:w\\d")
    assert.strictEqual(find("db:5432:app:alice:tail\\"), "tail\\")
    assert.strictEqual(find("db:5432:app:alice:"), "")
  })

  it("skips comments, blank lines, short lines and CRLF endings", () => {
    const text = "# db:5432:app:alice:commented\n\ndb:5432:app:alice\r\n db:5432:app:alice:leading-space\r\ndb:5432:app:alice:crlf\r\n"
    assert.strictEqual(find(text), "crlf")
    assert.strictEqual(find(text, { host: " db" }), "leading-space")
  })

  it("searches localhost for an empty host and for the default socket directories", () => {
    const text = "localhost:5432:app:alice:local"
    assert.strictEqual(find(text, { host: "" }), "local")
    assert.strictEqual(find(text, { host: "/tmp" }), "local")
    assert.strictEqual(find(text, { host: "/var/run/postgresql" }), "local")
    assert.strictEqual(find(text, { host: "/srv/sockets" }), undefined)
    assert.strictEqual(find("*:5432:app:alice:default-port", { port: "" }), "default-port")
  })

  it("does not look anything up without a database or a user", () => {
    assert.strictEqual(find("*:*:*:*:x", { database: "" }), undefined)
    assert.strictEqual(find("*:*:*:*:x", { user: "" }), undefined)
  })

  it("keys a host by host, else hostaddr", () => {
    assert.deepStrictEqual(PassFile.keyFor({ database: "d", user: "u" }, { host: "h", hostaddr: "10.0.0.1", port: 6 }), {
      host: "h",
      port: "6",
      database: "d",
      user: "u"
    })
    assert.strictEqual(PassFile.keyFor({ database: "d", user: "u" }, { host: "", hostaddr: "10.0.0.1", port: 6 }).host, "10.0.0.1")
  })

  it("keeps passwords Redacted", () => {
    const [entry] = PassFile.parse("*:*:*:*:hunter2")
    assert.notInclude(String(entry!.password), "hunter2")
    assert.notInclude(JSON.stringify(entry), "hunter2")
  })

  for (const c of authCases.pgpass_cases) {
    if (!("connect" in c)) continue
    it(`libpq's 001_password.pl: ${c.pgpass_line}`, () => {
      const connect = c.connect as { user: string; dbname?: string }
      assert.strictEqual(
        find(c.pgpass_line, { host: "localhost", user: connect.user, database: connect.dbname ?? connect.user }),
        c.expected_password
      )
    })
  }

  it("handles long lines (001_password.pl writes one over 320 characters)", () => {
    const text = `# ${"x".repeat(5000)}\n*:*:*:${"u".repeat(400)}:long`
    assert.strictEqual(find(text, { user: "u".repeat(400) }), "long")
  })
})

describe("reading the file", () => {
  const capture = () => {
    const lines: Array<string> = []
    const logger = Logger.layer([Logger.make(({ message }) => lines.push(String(message)))])
    return { lines, logger }
  }

  it.effect("uses a file only the owner can access", () =>
    Effect.gen(function*() {
      const file = tempFile("*:*:*:*:ok\n", 0o600)
      const entries = yield* PassFile.read(file)
      assert.strictEqual(entries.length, 1)
      assert.strictEqual((yield* PassFile.read(tempFile("*:*:*:*:ok\n", 0o400))).length, 1)
    }))

  it.effect("ignores, with a warning, a file group or others may access", () =>
    Effect.gen(function*() {
      for (const mode of [0o640, 0o604, 0o610, 0o644]) {
        const { lines, logger } = capture()
        const file = tempFile("*:*:*:*:leaked\n", mode)
        const entries = yield* PassFile.read(file).pipe(Effect.provide(logger))
        assert.deepStrictEqual(entries, [])
        assert.strictEqual(lines.length, 1)
        assert.include(lines[0]!, "group or world access")
        assert.notInclude(lines[0]!, "leaked")
      }
    }))

  it.effect("ignores a directory (with a warning) and a missing file (silently); Windows skips the check", () =>
    Effect.gen(function*() {
      const { lines, logger } = capture()
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "pgpass-"))
      assert.deepStrictEqual(yield* PassFile.read(dir).pipe(Effect.provide(logger)), [])
      assert.strictEqual(lines.length, 1)
      assert.deepStrictEqual(yield* PassFile.read(Path.join(dir, "missing")).pipe(Effect.provide(logger)), [])
      assert.strictEqual(lines.length, 1)
      assert.strictEqual((yield* PassFile.read(tempFile("*:*:*:*:ok\n", 0o644), { windows: true })).length, 1)
    }))

  it.effect("passwordFor prefers the configured password and reads the file per host otherwise", () =>
    Effect.gen(function*() {
      const file = tempFile("a:5432:d:u:for-a\nb:5433:d:u:for-b\n", 0o600)
      const config = { database: "d", user: "u", passfile: file }
      const a = yield* PassFile.passwordFor(config, { host: "a", port: 5432 })
      const b = yield* PassFile.passwordFor(config, { host: "b", port: 5433 })
      const none = yield* PassFile.passwordFor(config, { host: "b", port: 5432 })
      assert.strictEqual(Redacted.value(a!), "for-a")
      assert.strictEqual(Redacted.value(b!), "for-b")
      assert.strictEqual(none, undefined)
      const given = yield* PassFile.passwordFor({ ...config, password: Redacted.make("given") }, { host: "a", port: 5432 })
      assert.strictEqual(Redacted.value(given!), "given")
      // Edited between attempts: the next lookup sees the change.
      Fs.writeFileSync(file, "a:5432:d:u:rotated\n")
      assert.strictEqual(Redacted.value((yield* PassFile.passwordFor(config, { host: "a", port: 5432 }))!), "rotated")
    }))
})
