import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Result } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Platform from "../../src/config/Platform.ts"
import * as ServiceFile from "../../src/config/ServiceFile.ts"

const found = (text: string, service = "mydb") => {
  const r = ServiceFile.find(text, "pg_service.conf", service)
  if (Result.isFailure(r)) assert.fail(r.failure.message)
  return r.success
}

const refused = (text: string, service = "mydb") => {
  const r = ServiceFile.find(text, "pg_service.conf", service)
  if (Result.isSuccess(r)) assert.fail("accepted")
  return r.failure
}

describe("reading one file (libpq parseServiceFile)", () => {
  it("reads the example of libpq-connect.sgml", () => {
    assert.deepStrictEqual(found("# comment\n[mydb]\nhost=somehost\nport=5433\nuser=admin\n"), {
      found: true,
      params: [["host", "somehost"], ["port", "5433"], ["user", "admin"]]
    })
  })

  it("reads only the named group, which ends at the next header", () => {
    const text = "[other]\nhost=no\n[mydb]\nhost=yes\n[third]\nport=1\n"
    assert.deepStrictEqual(found(text).params, [["host", "yes"]])
    assert.deepStrictEqual(found("[other]\nhost=no\n"), { found: false, params: [] })
    assert.isFalse(found("[mydbx]\nhost=x\n").found)
    // libpq compares the name and the "]" after it; the rest of the header line is not looked at.
    assert.isTrue(found("[mydb] trailing\nhost=x\n").found)
  })

  it("keeps the first setting of a keyword, trims lines, and takes the value verbatim", () => {
    const text = "  [mydb]  \n\t host=first \r\nhost=second\noptions=-c a=b = c\napplication_name=\n"
    assert.deepStrictEqual(found(text).params, [["host", "first"], ["options", "-c a=b = c"], ["application_name", ""]])
  })

  it("does not unquote or unescape values", () => {
    assert.deepStrictEqual(found("[mydb]\npassword='a b'\\x\n").params, [["password", "'a b'\\x"]])
  })

  it("refuses a line without '=', an unknown keyword, spaces before '=', and requiressl", () => {
    for (const line of ["host", "hots=x", "host =x", "requiressl=1", "ldap://ldap.example.com/dc=x?y?one?(cn=mydb)"]) {
      const e = refused(`[mydb]\n${line}\n`)
      assert.include(e.message, "syntax error in service file \"pg_service.conf\", line 2")
      assert.strictEqual(e.parameter, "service")
    }
  })

  it("refuses nested service and servicefile settings", () => {
    assert.include(refused("[mydb]\nservice=other\n").message, "nested \"service\"")
    assert.include(refused("[mydb]\nservicefile=/x\n").message, "nested \"servicefile\"")
  })

  it("checks only the wanted group's lines, but every line's length", () => {
    assert.isTrue(found("[other]\nnonsense\n[mydb]\nhost=h\n").found)
    const long = `[other]\n# ${"x".repeat(1020)}\n[mydb]\nhost=h\n`
    assert.include(refused(long).message, "line 2 too long")
    assert.isTrue(found(`# ${"x".repeat(1019)}\n[mydb]\nhost=h\n`).found)
  })
})

describe("finding the files (libpq parseServiceInfo)", () => {
  const dir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "pgservice-"))
  const base: Platform.Platform = { ...Platform.empty, user: "alice" }

  it.effect("uses servicefile, else PGSERVICEFILE, and then the system file for services not there", () =>
    Effect.gen(function*() {
      const d = dir()
      const named = Path.join(d, "named.conf")
      const fromEnv = Path.join(d, "env.conf")
      Fs.writeFileSync(named, "[a]\nhost=named\n")
      Fs.writeFileSync(fromEnv, "[a]\nhost=env\n")
      Fs.writeFileSync(Path.join(d, "pg_service.conf"), "[a]\nhost=system\n[b]\nhost=system-b\n")
      const env = { PGSERVICEFILE: fromEnv, PGSYSCONFDIR: d }
      assert.deepStrictEqual(yield* ServiceFile.lookup("a", named, env, base), {
        name: "a",
        file: named,
        params: [["host", "named"]]
      })
      assert.strictEqual((yield* ServiceFile.lookup("a", undefined, env, base)).file, fromEnv)
      const b = yield* ServiceFile.lookup("b", undefined, env, base)
      assert.deepStrictEqual(b.params, [["host", "system-b"]])
      assert.strictEqual(b.file, Path.join(d, "pg_service.conf"))
    }))

  it.effect("uses ~/.pg_service.conf when it exists, before the system file", () =>
    Effect.gen(function*() {
      const home = dir()
      const sys = dir()
      Fs.writeFileSync(Path.join(sys, "pg_service.conf"), "[a]\nhost=system\n")
      const env = { PGSYSCONFDIR: sys }
      assert.deepStrictEqual((yield* ServiceFile.lookup("a", undefined, env, { ...base, home })).params, [["host", "system"]])
      Fs.writeFileSync(Path.join(home, ".pg_service.conf"), "[a]\nhost=user\n")
      assert.deepStrictEqual((yield* ServiceFile.lookup("a", undefined, env, { ...base, home })).params, [["host", "user"]])
    }))

  it.effect("fails for a named file that does not exist, a service found nowhere, and a syntax error", () =>
    Effect.gen(function*() {
      const d = dir()
      const missing = yield* Effect.exit(ServiceFile.lookup("a", Path.join(d, "none.conf"), {}, base))
      assert.include(String(missing), "not found")
      const nowhere = yield* Effect.exit(ServiceFile.lookup("zzz", undefined, { PGSYSCONFDIR: d }, base))
      assert.include(String(nowhere), "definition of service \"zzz\" not found")
      const bad = Path.join(d, "bad.conf")
      Fs.writeFileSync(bad, "[a]\nbogus\n")
      const syntax = yield* Effect.exit(ServiceFile.lookup("a", bad, {}, base))
      assert.isTrue(Exit.isFailure(syntax))
      assert.include(String(syntax), "syntax error")
    }))
})
