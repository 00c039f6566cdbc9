import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Redacted, Result, Schema } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Util from "node:util"
import * as Config from "../../src/config/Config.ts"
import * as ConnString from "../../src/config/ConnString.ts"
import * as Keywords from "../../src/config/Keywords.ts"
import * as Platform from "../../src/config/Platform.ts"
import { ConfigError, PgError } from "../../src/errors/PgError.ts"

const platform: Platform.Platform = { ...Platform.empty, user: "alice", defaultHost: "/tmp" }

const resolve = (
  connectionString: string,
  env: Record<string, string> = {},
  p: Platform.Platform = platform
): Result.Result<Config.PgConfig, ConfigError> =>
  Result.flatMap(ConnString.parse(connectionString), (params) => Config.resolve({ params, env, platform: p }))

const ok = (connectionString: string, env: Record<string, string> = {}, p: Platform.Platform = platform) => {
  const r = resolve(connectionString, env, p)
  if (Result.isFailure(r)) assert.fail(`${connectionString}: ${r.failure.message}`)
  return r.success
}

const refused = (connectionString: string, env: Record<string, string> = {}): ConfigError => {
  const r = resolve(connectionString, env)
  if (Result.isSuccess(r)) assert.fail(`${connectionString} was accepted`)
  return r.failure
}

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "pgconfig-"))

const failure = <A>(exit: Exit.Exit<A, PgError>): ConfigError => {
  if (Exit.isSuccess(exit)) assert.fail("expected a failure")
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (error === undefined || error._tag !== "Fail") assert.fail("expected a typed failure")
  const reason = (error.error as PgError).reason
  assert.strictEqual(reason._tag, "ConfigError")
  return reason as ConfigError
}

describe("defaults", () => {
  it("an empty string gives libpq's defaults", () => {
    const c = ok("")
    assert.deepStrictEqual(c.hosts, [{ host: "/tmp", port: 5432 }])
    assert.strictEqual(c.user, "alice")
    assert.strictEqual(c.database, "alice")
    assert.strictEqual(c.sslMode, "prefer")
    assert.strictEqual(c.sslNegotiation, "postgres")
    assert.strictEqual(c.sslCertMode, "allow")
    assert.strictEqual(c.sslMinProtocolVersion, "TLSv1.2")
    assert.strictEqual(c.sslMaxProtocolVersion, undefined)
    assert.strictEqual(c.sslSni, true)
    assert.strictEqual(c.gssEncMode, "disable")
    assert.strictEqual(c.channelBinding, "prefer")
    assert.strictEqual(c.targetSessionAttrs, "any")
    assert.strictEqual(c.loadBalanceHosts, "disable")
    assert.strictEqual(c.minProtocolVersion, "3.0")
    assert.strictEqual(c.maxProtocolVersion, "3.2") // libpq 18 says 3.0; we ask for the latest (see Config.ts)
    assert.strictEqual(c.keepalives, true)
    assert.strictEqual(c.replication, "false")
    assert.strictEqual(c.options, "")
    assert.strictEqual(c.password, undefined)
    assert.strictEqual(c.connectTimeoutMillis, undefined)
  })

  it("an empty host, user or database falls back as libpq's pqConnectOptions2 does", () => {
    const c = ok("host='' user='' dbname=''", { PGHOST: "ignored", PGUSER: "ignored", PGDATABASE: "ignored" })
    assert.deepStrictEqual(c.hosts, [{ host: "/tmp", port: 5432 }])
    assert.strictEqual(c.user, "alice")
    assert.strictEqual(c.database, "alice")
  })

  it("without a user name from anywhere, fails naming user", () => {
    const r = resolve("", {}, { ...platform, user: undefined })
    assert.isTrue(Result.isFailure(r) && r.failure.parameter === "user")
  })

  it("the password file defaults to ~/.pgpass, only when no password is given", () => {
    const home = { ...platform, home: "/home/alice" }
    assert.strictEqual(ok("", {}, home).passfile, "/home/alice/.pgpass")
    assert.strictEqual(ok("password=x", {}, home).passfile, undefined)
    assert.strictEqual(ok("passfile=/p", {}, home).passfile, "/p")
    assert.strictEqual(ok("", {}, { ...home, home: "C:\\Users\\a\\AppData\\postgresql", windows: true }).passfile,
      "C:\\Users\\a\\AppData\\postgresql\\pgpass.conf")
  })

  it("sslrootcert=system makes verify-full the default and refuses weaker modes", () => {
    assert.strictEqual(ok("sslrootcert=system").sslMode, "verify-full")
    assert.strictEqual(ok("", { PGSSLROOTCERT: "system" }).sslMode, "verify-full")
    assert.strictEqual(refused("sslrootcert=system sslmode=require").parameter, "sslmode")
    assert.strictEqual(refused("sslrootcert=system", { PGSSLMODE: "prefer" }).parameter, "sslmode")
    // PGREQUIRESSL is not the compiled default: it stays, and is refused.
    assert.strictEqual(refused("sslrootcert=system", { PGREQUIRESSL: "1" }).parameter, "sslmode")
    // A file that happens to be named system is written as a path.
    assert.strictEqual(ok("sslrootcert=./system").sslMode, "prefer")
  })

  it("max_protocol_version defaults to 3.0, or to the latest when the minimum is higher", () => {
    assert.strictEqual(ok("min_protocol_version=3.2").maxProtocolVersion, "3.2")
    assert.strictEqual(ok("min_protocol_version=latest").minProtocolVersion, "3.2")
    assert.strictEqual(ok("max_protocol_version=latest").maxProtocolVersion, "3.2")
    assert.strictEqual(refused("min_protocol_version=3.2 max_protocol_version=3.0").parameter, "min_protocol_version")
  })
})

describe("precedence: explicit options > string > service file > environment > defaults", () => {
  it("explicit options override the string, and empty ones do not count", () =>
    Effect.gen(function*() {
      const c = yield* Config.load(
        { url: "postgresql://u@a:1/db?application_name=s", host: "b", applicationName: "", port: 2 },
        { env: {}, platform }
      )
      assert.deepStrictEqual(c.hosts, [{ host: "b", port: 2 }])
      assert.strictEqual(c.applicationName, "s")
      assert.strictEqual(c.user, "u")
    }).pipe(Effect.runSync))

  it("the string overrides the environment, even with an empty value", () => {
    const env = { PGHOST: "envhost", PGPORT: "6000", PGUSER: "envuser", PGAPPNAME: "envapp" }
    const c = ok("host=strhost application_name=''", env)
    assert.deepStrictEqual(c.hosts, [{ host: "strhost", port: 6000 }])
    assert.strictEqual(c.user, "envuser")
    assert.strictEqual(c.applicationName, undefined)
  })

  it("a variable set to the empty string counts as set", () => {
    assert.strictEqual(refused("", { PGSSLMODE: "" }).parameter, "sslmode")
  })

  it("PGREQUIRESSL applies only when nothing sets sslmode", () => {
    assert.strictEqual(ok("", { PGREQUIRESSL: "1" }).sslMode, "require")
    assert.strictEqual(ok("", { PGREQUIRESSL: "0" }).sslMode, "prefer")
    assert.strictEqual(ok("", { PGREQUIRESSL: "1", PGSSLMODE: "disable" }).sslMode, "disable")
    assert.strictEqual(ok("sslmode=allow", { PGREQUIRESSL: "1" }).sslMode, "allow")
  })

  it("every documented variable feeds its keyword", () => {
    const env: Record<string, string> = {
      PGHOST: "h1,h2",
      PGHOSTADDR: "10.0.0.1,10.0.0.2",
      PGPORT: "5433",
      PGDATABASE: "db",
      PGUSER: "bob",
      PGPASSWORD: "pw",
      PGPASSFILE: "/pass",
      PGOPTIONS: "-c geqo=off",
      PGAPPNAME: "app",
      PGSSLMODE: "require",
      PGSSLNEGOTIATION: "direct",
      PGSSLCERT: "/c",
      PGSSLKEY: "/k",
      PGSSLCERTMODE: "disable",
      PGSSLROOTCERT: "/r",
      PGSSLCRL: "/crl",
      PGSSLCRLDIR: "/crldir",
      PGSSLSNI: "0",
      PGSSLMINPROTOCOLVERSION: "TLSv1.3",
      PGSSLMAXPROTOCOLVERSION: "TLSv1.3",
      PGREQUIREAUTH: "scram-sha-256",
      PGCHANNELBINDING: "require",
      PGCONNECT_TIMEOUT: "7",
      PGCLIENTENCODING: "UTF8",
      PGTARGETSESSIONATTRS: "read-write",
      PGLOADBALANCEHOSTS: "random",
      PGMINPROTOCOLVERSION: "3.2",
      PGMAXPROTOCOLVERSION: "latest",
      PGGSSENCMODE: "prefer",
      PGKRBSRVNAME: "ignored",
      PGGSSLIB: "ignored",
      PGGSSDELEGATION: "1",
      PGSSLCOMPRESSION: "1",
      PGOAUTHCAFILE: "/ignored"
    }
    const c = ok("", env)
    assert.deepStrictEqual(c.hosts, [
      { host: "h1", hostaddr: "10.0.0.1", port: 5433 },
      { host: "h2", hostaddr: "10.0.0.2", port: 5433 }
    ])
    assert.strictEqual(c.database, "db")
    assert.strictEqual(c.user, "bob")
    assert.strictEqual(Redacted.value(c.password!), "pw")
    assert.strictEqual(c.passfile, "/pass")
    assert.strictEqual(c.options, "-c geqo=off")
    assert.strictEqual(c.applicationName, "app")
    assert.strictEqual(c.sslMode, "require")
    assert.strictEqual(c.sslNegotiation, "direct")
    assert.strictEqual(c.sslCert, "/c")
    assert.strictEqual(c.sslKey, "/k")
    assert.strictEqual(c.sslCertMode, "disable")
    assert.strictEqual(c.sslRootCert, "/r")
    assert.strictEqual(c.sslCrl, "/crl")
    assert.strictEqual(c.sslCrlDir, "/crldir")
    assert.strictEqual(c.sslSni, false)
    assert.strictEqual(c.sslMinProtocolVersion, "TLSv1.3")
    assert.strictEqual(c.sslMaxProtocolVersion, "TLSv1.3")
    assert.strictEqual(c.requireAuth, "scram-sha-256")
    assert.strictEqual(c.channelBinding, "require")
    assert.strictEqual(c.connectTimeoutMillis, 7000)
    assert.strictEqual(c.clientEncoding, "UTF8")
    assert.strictEqual(c.targetSessionAttrs, "read-write")
    assert.strictEqual(c.loadBalanceHosts, "random")
    assert.strictEqual(c.minProtocolVersion, "3.2")
    assert.strictEqual(c.maxProtocolVersion, "3.2")
    assert.strictEqual(c.gssEncMode, "prefer")
    // Every documented variable was exercised.
    const used = new Set(Object.keys(env))
    for (const k of Keywords.KEYWORDS) {
      if (k.env !== undefined && !["PGSERVICE", "PGSERVICEFILE", "PGREQUIREPEER"].includes(k.env)) {
        assert.isTrue(used.has(k.env), k.env)
      }
    }
  })

  it.effect("a service file sits between the string and the environment (libpq-connect.sgml example)", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const file = Path.join(dir, "services.conf")
      Fs.writeFileSync(file, "# comment\n[mydb]\nhost=somehost\nport=5433\nuser=admin\n")
      const env = { PGSERVICEFILE: file, PGHOST: "envhost", PGUSER: "envuser", PGDATABASE: "envdb", PGAPPNAME: "envapp" }
      const c = yield* Config.parse("service=mydb port=5434", {}, { env, platform })
      assert.deepStrictEqual(c.hosts, [{ host: "somehost", port: 5434 }])
      assert.strictEqual(c.user, "admin")
      assert.strictEqual(c.database, "envdb")
      assert.strictEqual(c.applicationName, "envapp")
      // PGSERVICE names the service when the string does not; explicit options still win.
      const viaEnv = yield* Config.load({ user: "explicit" }, { env: { ...env, PGSERVICE: "mydb" }, platform })
      assert.deepStrictEqual(viaEnv.hosts, [{ host: "somehost", port: 5433 }])
      assert.strictEqual(viaEnv.user, "explicit")
      // A service that is nowhere is an error naming service.
      const missing = yield* Effect.exit(Config.parse("service=other", {}, { env, platform }))
      assert.strictEqual(failure(missing).parameter, "service")
    }))
})

describe("checks", () => {
  const invalid: ReadonlyArray<readonly [string, string]> = [
    ["sslmode=off", "sslmode"],
    ["sslmode=REQUIRE", "sslmode"],
    ["channel_binding=maybe", "channel_binding"],
    ["sslnegotiation=fast", "sslnegotiation"],
    ["sslcertmode=sometimes", "sslcertmode"],
    ["gssencmode=always", "gssencmode"],
    ["target_session_attrs=primary-ish", "target_session_attrs"],
    ["load_balance_hosts=round-robin", "load_balance_hosts"],
    ["min_protocol_version=3.1", "min_protocol_version"],
    ["max_protocol_version=4.0", "max_protocol_version"],
    ["ssl_min_protocol_version=TLSv1.4", "ssl_min_protocol_version"],
    ["ssl_max_protocol_version=SSLv3", "ssl_max_protocol_version"],
    ["replication=maybe", "replication"],
    ["require_auth=md5,foo", "require_auth"],
    ["require_auth=md5,!password", "require_auth"],
    ["client_encoding=LATIN1", "client_encoding"],
    ["connect_timeout=ten", "connect_timeout"],
    ["connect_timeout=99999999999", "connect_timeout"],
    ["keepalives=yes", "keepalives"],
    ["keepalives_idle=1.5", "keepalives_idle"],
    ["keepalives_interval=0x10", "keepalives_interval"],
    ["keepalives_count=", "keepalives_count"],
    ["tcp_user_timeout=-", "tcp_user_timeout"],
    ["port=0", "port"],
    ["port=65536", "port"],
    ["port=54a", "port"],
    ["hostaddr=example.com", "hostaddr"],
    ["host=a,b port=1,2,3", "port"],
    ["host=a hostaddr=10.0.0.1,10.0.0.2", "host"],
    ["sslnegotiation=direct", "sslmode"],
    ["sslnegotiation=direct sslmode=allow", "sslmode"],
    ["ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2", "ssl_min_protocol_version"],
    ["gssencmode=require", "gssencmode"],
    ["requirepeer=postgres", "requirepeer"],
    ["scram_client_key=abc", "scram_client_key"],
    ["scram_server_key=abc", "scram_server_key"]
  ]
  for (const [input, parameter] of invalid) {
    it(`refuses ${input}, naming ${parameter}`, () => {
      const e = refused(input)
      assert.strictEqual(e.parameter, parameter)
      assert.isTrue(e.message.length > 0)
    })
  }

  it("quotes the offending value of a non-secret setting", () => {
    assert.include(refused("sslmode=off").message, "\"off\"")
  })

  it("sslcertmode=require is refused as libpq refuses it without a certificate callback", () => {
    assert.include(refused("sslcertmode=require").parameter ?? "", "sslcertmode")
  })

  it("accepts and ignores the keywords of features this client lacks", () => {
    const c = ok(
      "krbsrvname=POSTGRES gsslib=gssapi gssdelegation=1 sslcompression=1 oauth_issuer=https://issuer " +
        "oauth_client_id=id oauth_client_secret=s oauth_scope='a b' oauth_ca_file=/ca"
    )
    assert.deepStrictEqual(Config.toParams(c), Config.toParams(ok("")))
  })

  it("parses integers as libpq's pqParseIntParam", () => {
    assert.strictEqual(ok("connect_timeout=' 7 '").connectTimeout, 7)
    assert.strictEqual(ok("connect_timeout=+3").connectTimeoutMillis, 3000)
    assert.strictEqual(ok("connect_timeout=0").connectTimeoutMillis, undefined)
    assert.strictEqual(ok("connect_timeout=-5").connectTimeoutMillis, undefined)
    assert.strictEqual(ok("keepalives=0").keepalives, false)
    assert.strictEqual(ok("keepalives=2").keepalives, true)
    assert.strictEqual(ok("keepalives_idle=30 keepalives_interval=5 keepalives_count=3 tcp_user_timeout=9000")
      .tcpUserTimeout, 9000)
    assert.strictEqual(ok("port=' 5433'").hosts[0]!.port, 5433)
  })

  it("reads sslsni, replication and client_encoding as libpq and the server do", () => {
    assert.strictEqual(ok("sslsni=0").sslSni, false)
    assert.strictEqual(ok("sslsni=1x").sslSni, true)
    assert.strictEqual(ok("sslsni=yes").sslSni, false)
    assert.strictEqual(ok("replication=ON").replication, "true")
    assert.strictEqual(ok("replication=database").replication, "database")
    assert.strictEqual(ok("replication=no").replication, "false")
    assert.strictEqual(ok("client_encoding=utf-8").clientEncoding, "UTF8")
    assert.strictEqual(ok("client_encoding=auto").clientEncoding, "UTF8")
    assert.strictEqual(ok("ssl_min_protocol_version=tlsv1.3").sslMinProtocolVersion, "TLSv1.3")
    assert.strictEqual(ok("ssl_min_protocol_version=''").sslMinProtocolVersion, undefined)
  })

  it("accepts sslnegotiation=direct with require or stronger", () => {
    for (const mode of ["require", "verify-ca", "verify-full"]) {
      assert.strictEqual(ok(`sslnegotiation=direct sslmode=${mode}`).sslNegotiation, "direct")
    }
  })

  it("lines up host, hostaddr and port lists", () => {
    assert.deepStrictEqual(ok("host=a,b port=7").hosts, [{ host: "a", port: 7 }, { host: "b", port: 7 }])
    assert.deepStrictEqual(ok("host=a,,b port=1,,3").hosts, [
      { host: "a", port: 1 },
      { host: "/tmp", port: 5432 },
      { host: "b", port: 3 }
    ])
    assert.deepStrictEqual(ok("hostaddr=10.0.0.1,::1 host=a,").hosts, [
      { host: "a", hostaddr: "10.0.0.1", port: 5432 },
      { host: "", hostaddr: "::1", port: 5432 }
    ])
    assert.deepStrictEqual(ok("hostaddr=,10.0.0.2 host=a,b").hosts, [
      { host: "a", port: 5432 },
      { host: "b", hostaddr: "10.0.0.2", port: 5432 }
    ])
    assert.deepStrictEqual(ok("postgresql://h1:5433,h2/db").hosts, [{ host: "h1", port: 5433 }, { host: "h2", port: 5432 }])
    assert.deepStrictEqual(ok("postgresql://[::1]:5432,[fe80::1%25eth0]:5433/db").hosts, [
      { host: "::1", port: 5432 },
      { host: "fe80::1%eth0", port: 5433 }
    ])
  })

  it("refuses a NUL or a lone surrogate in any value, naming the parameter and not the secret", () => {
    const e = refused("application_name='x\u0000user\u0000admin'")
    assert.strictEqual(e.parameter, "application_name")
    const r = Config.resolve({ params: new Map([["password", "hunt\u0000er2"]]), env: {}, platform })
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) {
      assert.strictEqual(r.failure.parameter, "password")
      assert.notInclude(r.failure.message, "hunt")
    }
    const s = Config.resolve({ params: new Map([["options", "\uD800"]]), env: {}, platform })
    assert.isTrue(Result.isFailure(s) && s.failure.parameter === "options")
    const fromEnv = Config.resolve({ params: new Map(), env: { PGPASSWORD: "se\u0000cret" }, platform })
    assert.isTrue(Result.isFailure(fromEnv) && !fromEnv.failure.message.includes("se"))
  })
})

describe("the keyword table tells the truth", () => {
  const valid: Record<string, string> = {
    user: "u", password: "p", passfile: "/pf", channel_binding: "require", connect_timeout: "3", dbname: "d",
    host: "h", hostaddr: "10.0.0.1", port: "5433", client_encoding: "UTF8", options: "-c a=b",
    application_name: "app", fallback_application_name: "fb", keepalives: "1", keepalives_idle: "1",
    keepalives_interval: "2", keepalives_count: "3", tcp_user_timeout: "4", sslmode: "verify-full",
    sslnegotiation: "direct", sslcert: "/c", sslkey: "/k", sslcertmode: "disable", sslpassword: "kp",
    sslrootcert: "/r", sslcrl: "/l", sslcrldir: "/ld", sslsni: "0", require_auth: "scram-sha-256",
    min_protocol_version: "3.2", max_protocol_version: "3.2", ssl_min_protocol_version: "TLSv1.3",
    ssl_max_protocol_version: "TLSv1.3", gssencmode: "prefer", replication: "database",
    target_session_attrs: "standby", load_balance_hosts: "random", sslkeylogfile: "/keys"
  }

  it("every honoured keyword reaches the config (service and servicefile are consumed while loading)", () => {
    const honoured = Keywords.KEYWORDS.filter((k) => k.support === "honoured" && k.keyword !== "service" && k.keyword !== "servicefile")
    assert.deepStrictEqual(honoured.map((k) => k.keyword).sort(), Object.keys(valid).sort())
    const c = ok(ConnString.formatKeywordValue(Object.entries(valid)))
    assert.deepStrictEqual(Object.fromEntries(Config.toParams(c)), valid)
  })

  it("an ignored keyword changes nothing; a rejected one fails naming itself", () => {
    for (const k of Keywords.KEYWORDS) {
      if (k.support === "ignored") {
        assert.deepStrictEqual(Config.toParams(ok(`${k.keyword}=1`)), Config.toParams(ok("")), k.keyword)
      } else if (k.support === "rejected") {
        assert.strictEqual(refused(`${k.keyword}=1`).parameter, k.keyword)
        ok(`${k.keyword}=''`)
      }
    }
  })
})

describe("explicit options", () => {
  it("map camelCase names to keywords, booleans to 1/0, Redacted to its value", () => {
    const params = Result.getOrThrow(
      Config.optionParams({
        database: "db",
        sslMode: "verify-full",
        keepalives: false,
        sslSni: true,
        replication: true,
        password: Redacted.make("pw"),
        connectTimeout: 5,
        hosts: [{ host: "a", port: 1 }, { host: "b", hostaddr: "10.0.0.2" }]
      })
    )
    assert.deepStrictEqual(Object.fromEntries(params), {
      dbname: "db",
      sslmode: "verify-full",
      keepalives: "0",
      sslsni: "1",
      replication: "true",
      password: "pw",
      connect_timeout: "5",
      host: "a,b",
      hostaddr: ",10.0.0.2",
      port: "1,"
    })
  })

  it("refuse unknown names, hosts combined with host, commas inside hosts items", () => {
    const unknown = Config.optionParams({ sslmod: "require" } as Config.Options)
    assert.isTrue(Result.isFailure(unknown) && unknown.failure.parameter === "sslmod")
    assert.isTrue(Result.isFailure(Config.optionParams({ host: "a", hosts: [{ host: "b" }] })))
    assert.isTrue(Result.isFailure(Config.optionParams({ hosts: [{ host: "a,b" }] })))
  })

  it.effect("a NUL in an explicit password fails naming password, without the password", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Config.load({ password: "hunter\u00002" }, { env: {}, platform }))
      const e = failure(exit)
      assert.strictEqual(e.parameter, "password")
      assert.notInclude(e.message, "hunter")
    }))
})

describe("secrets stay hidden", () => {
  it("printing a config shows no password", () => {
    const c = ok("password=hunter2 sslpassword=keypass2 host=h")
    for (const text of [String(c), JSON.stringify(c), Util.inspect(c, { depth: 5 }), Config.describe(c)]) {
      assert.notInclude(text, "hunter2")
      assert.notInclude(text, "keypass2")
    }
    assert.strictEqual(Config.describe(c), "h:5432 user=alice database=alice sslmode=prefer")
  })
})

describe("format", () => {
  const resolveEmpty = (s: string) => {
    const r = resolve(s, {}, Platform.empty)
    if (Result.isFailure(r)) assert.fail(`${s}: ${r.failure.message}`)
    return r.success
  }
  const equivalent = Schema.toEquivalence(Config.PgConfig)

  it.effect.prop("parse(format(config)) gives the config back, in both forms", [Config.PgConfig], ([c]) =>
    Effect.sync(() => {
      for (const style of ["keyword-value", "uri"] as const) {
        const back = resolveEmpty(Config.format(c, style))
        assert.deepStrictEqual([...Config.toParams(back)], [...Config.toParams(c)])
        assert.isTrue(equivalent(back, c))
      }
    }))

  it("pins every value, so the reader's environment cannot change it", () => {
    const c = ok("host=h sslmode=prefer")
    const back = ok(Config.format(c), { PGSSLMODE: "disable", PGPORT: "1", PGUSER: "mallory" })
    assert.isTrue(equivalent(back, c))
  })

  it("writes the password in clear: a connection string is a credential", () => {
    assert.include(Config.format(ok("password=s3cret")), "password='s3cret'")
  })
})

describe("effect/Config", () => {
  it.effect("reads the PG* variables from the current ConfigProvider", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.fromEnv({
        env: { PGHOST: "db.example", PGPORT: "6543", PGUSER: "carol", PGSSLMODE: "verify-full", PGSSLROOTCERT: "system" }
      })
      const c = yield* Config.config({}, platform).parse(provider)
      assert.deepStrictEqual(c.hosts, [{ host: "db.example", port: 6543 }])
      assert.strictEqual(c.user, "carol")
      assert.strictEqual(c.sslMode, "verify-full")
      const bad = yield* Effect.exit(
        Config.config({}, platform).parse(ConfigProvider.fromEnv({ env: { PGSSLMODE: "bogus" } }))
      )
      assert.isTrue(Exit.isFailure(bad))
      assert.include(String(bad), "sslmode")
    }))

  it("a PgConfig is a Schema: it decodes from its encoded form", () => {
    const c = ok("host=h password=pw")
    const encoded = Schema.encodeSync(Config.PgConfig)(c)
    assert.isTrue(equivalentConfigs(Schema.decodeUnknownSync(Config.PgConfig)(encoded), c))
    assert.throws(() => Schema.decodeUnknownSync(Config.PgConfig)({ ...encoded, sslMode: "off" }))
  })
})

const equivalentConfigs = Schema.toEquivalence(Config.PgConfig)

describe("session settings", () => {
  it("carry the libpq settings in the session's units", () => {
    const c = ok(
      "host=a,b port=1,2 user=u dbname=d password=pw connect_timeout=3 keepalives_idle=10 options='-c x=y' " +
        "replication=database fallback_application_name=fb min_protocol_version=3.2"
    )
    const s = Config.toSessionOptions(c)
    assert.deepStrictEqual(s.hosts, [{ host: "a", port: 1 }, { host: "b", port: 2 }])
    assert.strictEqual(s.connectTimeout, 3000)
    assert.strictEqual(s.keepAliveIdleMillis, 10000)
    assert.deepStrictEqual(s.parameters, { options: "-c x=y", replication: "database" })
    assert.strictEqual(s.applicationName, "fb")
    assert.strictEqual(s.protocolVersion, "3.2")
    assert.isTrue(Redacted.isRedacted(s.password))
  })

  it.effect("read the password file when no password is configured, refusing to mix hosts' passwords", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const file = Path.join(dir, "pgpass")
      Fs.writeFileSync(file, "a:*:*:u:pw-of-a\nb:*:*:u:pw-of-b\n", { mode: 0o600 })
      const one = Config.toSessionOptions(ok(`host=a user=u passfile=${file}`))
      const password = yield* (one.password as Effect.Effect<Redacted.Redacted<string>, PgError>)
      assert.strictEqual(Redacted.value(password), "pw-of-a")
      const two = Config.toSessionOptions(ok(`host=a,b user=u passfile=${file}`))
      const exit = yield* Effect.exit(two.password as Effect.Effect<Redacted.Redacted<string>, PgError>)
      assert.strictEqual(failure(exit).parameter, "passfile")
      assert.notInclude(String(exit), "pw-of")
      const perHost = yield* Config.passwordFor(ok(`host=a,b user=u passfile=${file}`), { host: "b", port: 5432 })
      assert.strictEqual(Redacted.value(perHost!), "pw-of-b")
    }))
})
