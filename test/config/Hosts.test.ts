import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as Config from "../../src/config/Config.ts"
import * as ConnString from "../../src/config/ConnString.ts"
import * as Hosts from "../../src/config/Hosts.ts"
import * as Platform from "../../src/config/Platform.ts"

const config = (s: string) => {
  const r = Result.flatMap(ConnString.parse(s), (params) =>
    Config.resolve({ params, env: {}, platform: { ...Platform.empty, user: "u", defaultHost: "/var/run/postgresql" } }))
  if (Result.isFailure(r)) assert.fail(r.failure.message)
  return r.success
}

const order = (s: string, random?: Hosts.Random) => Hosts.attempts(config(s), random).map((a) => a.host)

// A scripted random source.
const script = (...values: ReadonlyArray<number>): Hosts.Random => {
  let i = 0
  return () => values[i++ % values.length]!
}

describe("attempt order", () => {
  it("tries hosts in the order given by default", () => {
    assert.deepStrictEqual(order("host=a,b,c"), ["a", "b", "c"])
    assert.deepStrictEqual(order("host=a,b,c load_balance_hosts=disable", script(0)), ["a", "b", "c"])
  })

  it("shuffles with libpq's inside-out Fisher-Yates under load_balance_hosts=random", () => {
    // j = 0 each time: swap(0,1) then swap(0,2).
    assert.deepStrictEqual(order("host=a,b,c load_balance_hosts=random", script(0)), ["c", "a", "b"])
    // j = i each time: nothing moves.
    assert.deepStrictEqual(order("host=a,b,c load_balance_hosts=random", script(0.999999)), ["a", "b", "c"])
    // i=1: j=floor(0.5*2)=1 (stay); i=2: j=floor(0.4*3)=1, swap(1,2).
    assert.deepStrictEqual(order("host=a,b,c load_balance_hosts=random", script(0.5, 0.4)), ["a", "c", "b"])
    assert.deepStrictEqual(order("host=a load_balance_hosts=random", script(0)), ["a"])
  })

  it("reaches every permutation, roughly evenly", () => {
    const counts = new Map<string, number>()
    for (let k = 0; k < 3000; k++) {
      const key = order("host=a,b,c load_balance_hosts=random").join("")
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    assert.strictEqual(counts.size, 6)
    for (const n of counts.values()) assert.isTrue(n > 350 && n < 650, `${n}`)
  })

  it("keeps each host's hostaddr and port with it", () => {
    const attempts = Hosts.attempts(config("host=a,b hostaddr=10.0.0.1,10.0.0.2 port=1,2 load_balance_hosts=random"), script(0))
    assert.deepStrictEqual(attempts.map((a) => [a.index, a.host, a.hostaddr, a.port]), [[1, "b", "10.0.0.2", 2], [0, "a", "10.0.0.1", 1]])
  })
})

describe("how each host is reached", () => {
  it("a directory or @name is a Unix socket, a hostaddr always TCP", () => {
    const [unix, abstract, name, addr, both] = Hosts.attempts(
      config("host=/run/pg,@pg,db.example,,/run/pg hostaddr=,,,10.0.0.9,10.0.0.8")
    )
    assert.deepStrictEqual([unix!.transport, unix!.address], ["unix", "/run/pg"])
    assert.deepStrictEqual([abstract!.transport, abstract!.address], ["unix", "@pg"])
    assert.deepStrictEqual([name!.transport, name!.address, name!.verifyName], ["tcp", "db.example", "db.example"])
    assert.deepStrictEqual([addr!.transport, addr!.address, addr!.verifyName], ["tcp", "10.0.0.9", "10.0.0.9"])
    assert.deepStrictEqual([both!.transport, both!.address, both!.verifyName], ["tcp", "10.0.0.8", "/run/pg"])
  })

  it("the default host is the platform's", () => {
    assert.deepStrictEqual(Hosts.attempts(config(""))[0]!.transport, "unix")
  })

  it("sslmode does not apply to Unix sockets", () => {
    const c = config("host=/run/pg,db sslmode=verify-full")
    const [unix, tcp] = Hosts.attempts(c)
    assert.strictEqual(Hosts.sslModeFor(c, unix!), "disable")
    assert.strictEqual(Hosts.sslModeFor(c, tcp!), "verify-full")
  })

  it("sends SNI for host names only, and not with sslsni=0", () => {
    const c = config("host=db.example,10.1.2.3,::1,,h hostaddr=,,,10.0.0.1,")
    const names = Hosts.attempts(c).map((a) => Hosts.serverNameFor(c, a))
    assert.deepStrictEqual(names, ["db.example", undefined, undefined, undefined, "h"])
    const off = config("host=db.example sslsni=0")
    assert.strictEqual(Hosts.serverNameFor(off, Hosts.attempts(off)[0]!), undefined)
  })
})
