/**
 * Protocol sequences real clients send, through PgProxy in transaction mode
 * with a pool of one upstream (so a second client gets the upstream the first
 * one left) in front of the shared PostgreSQL 18: extended batches left
 * without Sync, the unnamed statement used in a later batch, Flush-driven
 * describes, row-limited Executes, COPY, clients that leave at awkward times.
 */
import { assert, describe, it } from "@effect/vitest"
import pg from "pg"
import type * as Backend from "../../src/protocol/Backend.ts"
import * as Frontend from "../../src/protocol/Frontend.ts"
import { concat, encodeFrontend, startup } from "../server/Support.ts"
import { servers } from "../support/Servers.ts"
import { RawClient, upstreamOf, withProxy } from "./Support.ts"

const TABLE = `proxy_seq_${process.pid}`

/** Runs SQL directly on the upstream server (not through the proxy). */
const direct = async (sql: string) => {
  const client = new pg.Client({ host: servers().main.host, port: servers().main.port, user: "postgres", database: "postgres" })
  await client.connect()
  try {
    return await client.query(sql)
  } finally {
    await client.end()
  }
}

const enc = new TextEncoder()
const dec = new TextDecoder()
const parse = (name: string, query: string) => encodeFrontend({ _tag: "Parse", name, query, parameterTypes: [] })
const bind = (statement: string, parameters: ReadonlyArray<string | null> = [], portal = "") =>
  encodeFrontend({
    _tag: "Bind",
    portal,
    statement,
    parameterFormats: [],
    parameters: parameters.map((p) => (p === null ? null : enc.encode(p))),
    resultFormats: []
  })
const execute = (maxRows = 0, portal = "") => encodeFrontend({ _tag: "Execute", portal, maxRows })
const query = (sql: string) => encodeFrontend({ _tag: "Query", query: sql })
const describeStatement = (name: string) => encodeFrontend({ _tag: "Describe", target: "S", name })
const SYNC = Frontend.SYNC
const FLUSH = Frontend.FLUSH

/** A raw client through the proxy, started up as `postgres` on `postgres`. */
const connect = async (port: number): Promise<RawClient> => {
  const c = await RawClient.open(port)
  c.send(startup("postgres", undefined, { database: "postgres" }))
  await c.until("ReadyForQuery")
  return c
}

/** Sends `parts` and waits for the `count`-th ReadyForQuery from now; returns the messages since. */
const exchange = async (c: RawClient, parts: ReadonlyArray<Uint8Array>, count = 1): Promise<Array<Backend.BackendMessage>> => {
  const from = c.messages.length
  c.send(concat(...parts))
  await c.waitFor(() => c.messages.slice(from).filter((m) => m._tag === "ReadyForQuery").length >= count, 10_000)
  return c.messages.slice(from)
}

/** The text values of the DataRows among `messages`. */
const rowsOf = (messages: ReadonlyArray<Backend.BackendMessage>): Array<Array<string | null>> =>
  messages.flatMap((m) => (m._tag === "DataRow" ? [m.values.map((v) => (v === null ? null : dec.decode(v)))] : []))

const errorsOf = (messages: ReadonlyArray<Backend.BackendMessage>): Array<string> =>
  messages.flatMap((m) => (m._tag === "ErrorResponse" ? [m.fields.find((f) => f.code === "C")?.value ?? "?"] : []))

const withTable = async <A>(f: () => Promise<A>): Promise<A> => {
  await direct(`drop table if exists ${TABLE}; create table ${TABLE} (id int primary key, note text)`)
  try {
    return await f()
  } finally {
    await direct(`drop table if exists ${TABLE}`)
  }
}

const one = () => ({ upstream: upstreamOf({ maxSize: 1, acquireTimeout: "10 seconds" }) })

describe("PgProxy protocol sequences", () => {
  it("a client that leaves after an extended batch without Sync: its implicit transaction is not lent to the next client", async () => {
    await withTable(() =>
      withProxy(one(), async ({ port }) => {
        const a = await connect(port)
        const from = a.messages.length
        // Parse/Bind/Execute/Flush: the INSERT ran inside the implicit transaction the server keeps open until Sync.
        a.send(concat(parse("", `insert into ${TABLE} values (1, 'uncommitted')`), bind(""), execute(), FLUSH))
        await a.waitFor(() => a.messages.slice(from).some((m) => m._tag === "CommandComplete"), 10_000)
        a.close()
        // On a direct connection the insert is rolled back with the connection. Through the proxy the next client
        // must not run inside that transaction (its Query would commit the insert).
        const b = await connect(port)
        const seen = await exchange(b, [query(`select count(*) from ${TABLE}`)])
        assert.deepStrictEqual(rowsOf(seen), [["0"]])
        b.close()
        const after = await direct(`select count(*)::int as n from ${TABLE}`)
        assert.strictEqual(after.rows[0]?.n, 0)
      })
    )
  })

  it("the unnamed statement, parsed in one batch and bound in a later one, runs the client's own SQL", async () => {
    await withProxy(one(), async ({ port }) => {
      const a = await connect(port)
      const b = await connect(port)
      // How libpq's PQprepare(conn, "", ...) then PQexecPrepared(conn, "", ...) talk: two batches, two Syncs.
      const described = await exchange(a, [parse("", "select 'mine:' || $1::text"), describeStatement(""), SYNC])
      assert.deepStrictEqual(described.map((m) => m._tag), ["ParseComplete", "ParameterDescription", "RowDescription", "ReadyForQuery"])
      // Another client's batch on the one upstream in between, with its own unnamed statement.
      const other = await exchange(b, [parse("", "select 'other:' || $1::text"), bind("", ["b"]), execute(), SYNC])
      assert.deepStrictEqual(rowsOf(other), [["other:b"]])
      const ran = await exchange(a, [bind("", ["a"]), execute(), SYNC])
      assert.deepStrictEqual(errorsOf(ran), [])
      assert.deepStrictEqual(rowsOf(ran), [["mine:a"]])
      // A simple Query destroys the unnamed statement (protocol-3.2 "Extended Query"): a Bind of it is then 26000,
      // even though the upstream holds another client's unnamed statement.
      await exchange(a, [query("select 1")])
      await exchange(b, [parse("", "select 'other:' || $1::text"), bind("", ["b"]), execute(), SYNC])
      const gone = await exchange(a, [bind("", ["a"]), execute(), SYNC])
      assert.deepStrictEqual(errorsOf(gone), ["26000"])
      assert.deepStrictEqual(rowsOf(gone), [])
      a.close()
      b.close()
    })
  })
})
