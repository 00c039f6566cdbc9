import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import * as Config from "../../src/config/Config.ts"
import * as ConnString from "../../src/config/ConnString.ts"
import * as Hosts from "../../src/config/Hosts.ts"
import * as Keywords from "../../src/config/Keywords.ts"
import * as Platform from "../../src/config/Platform.ts"
import keywordValueCases from "../fixtures/config/conninfo_keyword_value_cases.json" with { type: "json" }
import uriCases from "../fixtures/config/libpq_uri_cases.json" with { type: "json" }
import pgxCases from "../fixtures/config/pgx_uri_extra_cases.json" with { type: "json" }

const ok = (input: string): Record<string, string> => {
  const r = ConnString.parse(input)
  if (Result.isFailure(r)) assert.fail(`${JSON.stringify(input)} was rejected: ${r.failure.message}`)
  return Object.fromEntries(r.success)
}

const rejected = (input: string) => {
  const r = ConnString.parse(input)
  if (Result.isSuccess(r)) assert.fail(`${JSON.stringify(input)} was accepted: ${JSON.stringify([...r.success])}`)
  return r.failure
}

// The libpq harness ran as some OS user with a clean environment; the default
// host is the Unix socket directory of a POSIX build.
const platform: Platform.Platform = { ...Platform.empty, user: "os-user", defaultHost: "/tmp" }

describe("libpq URI corpus (src/interfaces/libpq/t/001_uri.pl)", () => {
  for (const c of uriCases.cases) {
    const env: Record<string, string> = "env" in c ? (c.env as Record<string, string>) : {}
    if (c.expected.ok) {
      it(`accepts ${c.input}`, () => {
        const params = ok(c.input)
        // libpq_uri_regress prints what differs from PQconndefaults.
        const defaults = Config.withDefaults({ params: new Map(), env, platform })
        const shown = Object.fromEntries(Object.entries(params).filter(([k, v]) => defaults.get(k) !== v))
        assert.deepStrictEqual(shown, c.expected.params)
        const resolved = Config.resolve({ params: new Map(Object.entries(params)), env, platform })
        const sslmode = params["sslmode"]
        if (env["PGSSLROOTCERT"] === "system" && sslmode !== undefined && sslmode !== "verify-full") {
          // PQconninfoParse accepts it; connecting refuses the weak mode (pqConnectOptions2).
          assert.isTrue(Result.isFailure(resolved))
          return
        }
        if (Result.isFailure(resolved)) assert.fail(resolved.failure.message)
        const first = Hosts.attempts(resolved.success)[0]!
        assert.strictEqual(first.transport, c.expected.transport === "local" ? "unix" : "tcp")
      })
    } else {
      it(`rejects ${JSON.stringify(c.input)}`, () => {
        rejected(c.input)
      })
    }
  }
})

describe("pgx URI cases", () => {
  const translate = (settings: Record<string, string>) =>
    Object.fromEntries(Object.entries(settings).map(([k, v]) => [k === "database" ? "dbname" : k, v]))

  for (const c of pgxCases.cases) {
    const expected = c.expected as { ok: boolean; settings?: Record<string, string>; error_must_not_contain?: string }
    // libpq has no "ssl" keyword: only ssl=true is translated, anything else is an unknown query parameter.
    const libpqRejects = c.group === "raw_nul_rejected" || c.group === "secret_not_in_error" ||
      c.group === "pgx_diverges_from_libpq" || /[?&]ssl=(?!true(&|$))/.test(c.input)
    if (libpqRejects) {
      it(`[${c.group}] rejects ${JSON.stringify(c.input)}`, () => {
        const error = rejected(c.input)
        const secret = expected.error_must_not_contain
        if (secret !== undefined) {
          for (const text of [error.message, String(error), JSON.stringify(error)]) {
            assert.notInclude(text, secret)
            assert.notInclude(text, "ret@")
          }
        }
      })
    } else {
      it(`[${c.group}] ${c.input}`, () => {
        assert.deepStrictEqual(ok(c.input), translate(expected.settings!))
      })
    }
  }

  for (const c of pgxCases.uri_component_decode_cases) {
    it(`decodes the component ${JSON.stringify(c.raw)}`, () => {
      const r = ConnString.decodeComponent(c.raw, "host")
      const e = c.expected as { ok: boolean; value?: string; bytes_hex?: string }
      if (!e.ok) {
        assert.isTrue(Result.isFailure(r))
        return
      }
      if (Result.isFailure(r)) assert.fail(r.failure.message)
      const value = e.value ?? new TextDecoder().decode(Buffer.from(e.bytes_hex!, "hex"))
      assert.strictEqual(r.success, value)
    })
  }
})

describe("keyword/value corpus (pgx parse_keyword_value_test.go, written to match libpq)", () => {
  for (const c of keywordValueCases.cases) {
    const e = c.expected as { ok: boolean; key?: string; value?: string }
    it(`[${c.group}] ${JSON.stringify(c.input)}`, () => {
      if (e.ok) assert.deepStrictEqual(ok(c.input), { [e.key!]: e.value! })
      else rejected(c.input)
    })
  }

  it("never throws on the fuzz seeds, and what parses formats back to the same settings", () => {
    for (const input of keywordValueCases.fuzz_seed_inputs) {
      const r = ConnString.parse(input)
      if (Result.isSuccess(r)) {
        assert.deepStrictEqual(ok(ConnString.formatKeywordValue(r.success)), Object.fromEntries(r.success))
      }
    }
    // The ones libpq accepts.
    assert.deepStrictEqual(ok("host='' user=jack"), { host: "", user: "jack" })
    assert.deepStrictEqual(ok("dbname='foo'  "), { dbname: "foo" })
    assert.include(rejected("x=x\\").message, "\"x\"")
  })
})

describe("keyword/value rules of fe-connect.c conninfo_parse", () => {
  it("skips blanks after '=', so an empty unquoted value swallows the next setting", () => {
    assert.deepStrictEqual(ok("host= port=5432"), { host: "port=5432" })
  })

  it("lets a later setting override an earlier one, keeping its position", () => {
    assert.deepStrictEqual([...Result.getOrThrow(ConnString.parse("host=a port=1 host=b"))], [["host", "b"], ["port", "1"]])
  })

  it("needs no blank after a closing quote", () => {
    assert.deepStrictEqual(ok("host='a'port=5"), { host: "a", port: "5" })
  })

  it("keeps a quote that does not open the value", () => {
    assert.deepStrictEqual(ok("application_name=it's"), { application_name: "it's" })
  })

  it("translates requiressl as conninfo_storeval does", () => {
    assert.deepStrictEqual(ok("requiressl=1"), { sslmode: "require" })
    assert.deepStrictEqual(ok("requiressl=0"), { sslmode: "prefer" })
    assert.deepStrictEqual(ok("requiressl=1 sslmode=disable"), { sslmode: "disable" })
    assert.deepStrictEqual(ok("postgresql://h?requiressl=1"), { host: "h", sslmode: "require" })
  })

  it("rejects keywords libpq no longer knows, and names them", () => {
    const e = rejected("host=x tty=y")
    assert.include(e.message, "\"tty\"")
  })

  it("accepts every documented keyword", () => {
    for (const k of Keywords.KEYWORDS) ok(`${k.keyword}=x`)
  })

  it("reads the documented example", () => {
    assert.deepStrictEqual(ok("host=localhost port=5432 dbname=mydb connect_timeout=10"), {
      host: "localhost",
      port: "5432",
      dbname: "mydb",
      connect_timeout: "10"
    })
    assert.deepStrictEqual(ok("keyword = 'a value'".replace("keyword", "options")), { options: "a value" })
  })
})

describe("the URI examples of libpq-connect.sgml", () => {
  const examples: ReadonlyArray<readonly [string, Record<string, string>]> = [
    ["postgresql://", {}],
    ["postgresql://localhost", { host: "localhost" }],
    ["postgresql://localhost:5433", { host: "localhost", port: "5433" }],
    ["postgresql://localhost/mydb", { host: "localhost", dbname: "mydb" }],
    ["postgresql://user@localhost", { user: "user", host: "localhost" }],
    ["postgresql://user:secret@localhost", { user: "user", password: "secret", host: "localhost" }],
    ["postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp", {
      user: "other",
      host: "localhost",
      dbname: "otherdb",
      connect_timeout: "10",
      application_name: "myapp"
    }],
    ["postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp", {
      host: "host1,host2",
      port: "123,456",
      dbname: "somedb",
      target_session_attrs: "any",
      application_name: "myapp"
    }],
    ["postgresql:///mydb?host=localhost&port=5433", { dbname: "mydb", host: "localhost", port: "5433" }],
    ["postgresql://user@localhost:5433/mydb?options=-c%20synchronous_commit%3Doff", {
      user: "user",
      host: "localhost",
      port: "5433",
      dbname: "mydb",
      options: "-c synchronous_commit=off"
    }],
    ["postgresql://[2001:db8::1234]/database", { host: "2001:db8::1234", dbname: "database" }],
    ["postgresql:///dbname?host=/var/lib/postgresql", { dbname: "dbname", host: "/var/lib/postgresql" }],
    ["postgresql://%2Fvar%2Flib%2Fpostgresql/dbname", { host: "/var/lib/postgresql", dbname: "dbname" }],
    ["postgresql://host1:port1,host2:port2,host3:port3/", { host: "host1,host2,host3", port: "port1,port2,port3" }],
    ["host=host1,host2,host3 port=port1,port2,port3", { host: "host1,host2,host3", port: "port1,port2,port3" }],
    ["postgresql://localhost/mydb?ssl=true", { host: "localhost", dbname: "mydb", sslmode: "require" }]
  ]
  for (const [input, expected] of examples) {
    it(input, () => {
      assert.deepStrictEqual(ok(input), expected)
    })
  }
})

describe("errors never carry a secret", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["postgres://user:s%zzecret@host/db", "s%zzecret"],
    ["postgres://user:se cret@host/db", "se cret"],
    ["postgres://user:s%ffecret@host/db", "s%ffecret"],
    ["postgres://host/db?password=se%00cret", "se%00cret"],
    ["postgres://host/db?sslpassword=se%zzcret", "se%zzcret"],
    ["postgres://host/db?oauth_client_secret=se%zzcret", "se%zzcret"],
    ["postgres://host/db?password=se&cret", "cret"],
    ["postgres://u:secret@[::1", "secret"],
    ["postgres://u:secret@[::1]x/db", "secret"],
    ["password=se cret=x", "cret"],
    ["password=se cret", "cret"],
    ["password=secret\u0000x", "secret"],
    ["postgres://u:secr\u0000et@h/db", "secr"]
  ]
  for (const [input, secret] of cases) {
    it(`${JSON.stringify(input)} fails without quoting the secret`, () => {
      const error = rejected(input)
      for (const text of [error.message, String(error), JSON.stringify(error)]) assert.notInclude(text, secret)
    })
  }

  it("names the parameter that holds a NUL", () => {
    const e = rejected("application_name='x\u0000user\u0000admin'")
    assert.strictEqual(e.parameter, "application_name")
    assert.strictEqual(rejected("options='-c a=\u0000'").parameter, "options")
    assert.strictEqual(rejected("postgres://h/d\u0000b").parameter, "dbname")
    assert.strictEqual(rejected("postgres://u:p\u0000w@h/db").parameter, "password")
  })
})

describe("formatting", () => {
  const KeywordName = Schema.Literals(Keywords.KEYWORDS.map((k) => k.keyword))
  const Value = Schema.String.check(Schema.makeFilter((s: string) => !s.includes("\u0000") && s.isWellFormed()))
  const Settings = Schema.Array(Schema.Tuple([KeywordName, Value]))

  it.effect.prop("keyword/value: parse(format(settings)) gives the settings back", [Settings], ([settings]) =>
    Effect.sync(() => {
      const params = new Map(settings)
      assert.deepStrictEqual(ok(ConnString.formatKeywordValue(params)), Object.fromEntries(params))
    }))

  it.effect.prop("URI: parse(format(settings)) gives the settings back", [Settings], ([settings]) =>
    Effect.sync(() => {
      const params = new Map(settings)
      const parsed = ok(ConnString.formatUri(params))
      // Host lists written in the authority come back with one port item per host.
      const expected = Object.fromEntries(params)
      const hosts = params.get("host")
      if (hosts !== undefined && hosts.includes(",") && !params.has("port")) expected["port"] = hosts.replace(/[^,]/g, "")
      assert.deepStrictEqual(parsed, expected)
    }))

  // A property run found it (issue 15): the empty port fell out of the URI. An empty port is a setting of its
  // own (the default port, 5432, as libpq reads it, not PGPORT), so it goes back as ?port=.
  it("keeps an empty port, which the authority cannot write", () => {
    for (
      const settings of [
        [["host", "\u0001"], ["port", ""]],
        [["host", "a,b"], ["port", ""]],
        [["port", ""]],
        [["host", "h"], ["port", ""], ["dbname", "d"]]
      ] as const
    ) {
      const params = new Map<string, string>(settings)
      const uri = ConnString.formatUri(params)
      assert.deepStrictEqual(ok(uri), Object.fromEntries(params), uri)
    }
    assert.strictEqual(ConnString.formatUri(new Map([["host", "h"], ["port", ""]])), "postgresql://h/?port=")
    // An empty port item of a list still goes in the authority: "h1:5433,h2" reads back as "5433,".
    assert.strictEqual(ConnString.formatUri(new Map([["host", "h1,h2"], ["port", "5433,"]])), "postgresql://h1:5433,h2")
    assert.deepStrictEqual(ok("postgresql://h1:5433,h2"), { host: "h1,h2", port: "5433," })
    // What the empty port means: the default port, even where PGPORT names another (pqConnectOptions2).
    const resolved = Config.resolve({ params: new Map(Object.entries(ok("postgresql://h/?port="))), env: { PGPORT: "6000" }, platform })
    if (Result.isFailure(resolved)) assert.fail(resolved.failure.message)
    assert.deepStrictEqual(resolved.success.hosts.map((h) => h.port), [5432])
  })

  it("writes IPv6 hosts in brackets and socket directories percent-encoded", () => {
    const uri = ConnString.formatUri(new Map([["host", "::1,/tmp"], ["port", "5432,5433"], ["dbname", "d b"]]))
    assert.strictEqual(uri, "postgresql://[%3A%3A1]:5432,%2Ftmp:5433/d%20b")
    assert.deepStrictEqual(ok(uri), { host: "::1,/tmp", port: "5432,5433", dbname: "d b" })
  })
})

describe("fuzzing", () => {
  // Inputs built from the characters that matter to both grammars.
  const Noise = Schema.String.check(Schema.isPattern(/^[a-z_=' \\%0-9A-F,:@/[\]?&\t\u0000é]*$/))
  const Keyword = Schema.Literals(["host", "port", "user", "password", "dbname", "options", "sslmode", "ssl", "bogus"])
  const Piece = Schema.Union([Noise, Keyword])
  const Input = Schema.Array(Piece)

  const check = (input: string) => {
    const r = ConnString.parse(input)
    if (Result.isFailure(r)) {
      assert.strictEqual(r.failure._tag, "ConfigError")
      return
    }
    assert.deepStrictEqual(ok(ConnString.formatKeywordValue(r.success)), Object.fromEntries(r.success))
    const viaUri = ok(ConnString.formatUri(r.success))
    const hosts = r.success.get("host")
    const expected = Object.fromEntries(r.success)
    if (hosts !== undefined && hosts.includes(",") && !r.success.has("port")) expected["port"] = hosts.replace(/[^,]/g, "")
    assert.deepStrictEqual(viaUri, expected)
  }

  it.effect.prop("keyword/value: never throws; what parses formats back", [Input], ([pieces]) =>
    Effect.sync(() => check(pieces.join(""))))

  it.effect.prop("URI: never throws; what parses formats back", [Input], ([pieces]) =>
    Effect.sync(() => check(`postgresql://${pieces.join("")}`)))
})
