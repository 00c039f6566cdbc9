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
import { RawClient, upstreamOf, waitUntil, withProxy } from "./Support.ts"

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
const copyData = (text: string) => encodeFrontend({ _tag: "CopyData", data: enc.encode(text) })
const copyFail = (message: string) => encodeFrontend({ _tag: "CopyFail", message })
const COPY_DONE = Frontend.COPY_DONE

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

  it("Execute with a row limit: PortalSuspended then the rest, in and out of a transaction block", async () => {
    await withProxy(one(), async ({ port }) => {
      const a = await connect(port)
      const b = await connect(port)
      const series = "select g from generate_series(1, 5) g"
      // Outside a block: the portal lives until Sync, held by Flush between the Executes.
      const first = await (async () => {
        const from = a.messages.length
        a.send(concat(parse("", series), bind(""), execute(2), FLUSH))
        await a.waitFor(() => a.messages.slice(from).some((m) => m._tag === "PortalSuspended"), 10_000)
        return a.messages.slice(from)
      })()
      assert.deepStrictEqual(rowsOf(first), [["1"], ["2"]])
      const rest = await exchange(a, [execute(2), execute(0), SYNC])
      assert.deepStrictEqual(rest.map((m) => m._tag), ["DataRow", "DataRow", "PortalSuspended", "DataRow", "CommandComplete", "ReadyForQuery"])
      assert.deepStrictEqual(rowsOf(rest), [["3"], ["4"], ["5"]])
      // Inside a block the portal survives Sync; B waits meanwhile and is served after COMMIT.
      await exchange(a, [query("begin")])
      const part = await exchange(a, [parse("", series), bind("", [], "p1"), execute(3, "p1"), SYNC])
      assert.deepStrictEqual(rowsOf(part), [["1"], ["2"], ["3"]])
      const fromB = b.messages.length
      b.send(query("select 'b'"))
      const more = await exchange(a, [execute(0, "p1"), encodeFrontend({ _tag: "Close", target: "P", name: "p1" }), SYNC])
      assert.deepStrictEqual(more.map((m) => m._tag), ["DataRow", "DataRow", "CommandComplete", "CloseComplete", "ReadyForQuery"])
      assert.deepStrictEqual((await exchange(a, [query("commit")])).at(-1), { _tag: "ReadyForQuery", transactionStatus: "I" })
      await b.waitFor(() => b.messages.slice(fromB).some((m) => m._tag === "ReadyForQuery"), 10_000)
      assert.deepStrictEqual(rowsOf(b.messages.slice(fromB)), [["b"]])
      a.close()
      b.close()
    })
  })

  it("Parse/Describe/Flush, then Bind/Execute/Sync; an error after Flush is followed by a clean Sync", async () => {
    await withProxy(one(), async ({ port }) => {
      const a = await connect(port)
      const from = a.messages.length
      a.send(concat(parse("s1", "select $1::int + 1 as n"), describeStatement("s1"), FLUSH))
      await a.waitFor(() => a.messages.slice(from).some((m) => m._tag === "RowDescription"), 10_000)
      assert.deepStrictEqual(a.messages.slice(from).map((m) => m._tag), ["ParseComplete", "ParameterDescription", "RowDescription"])
      const ran = await exchange(a, [bind("s1", ["41"]), execute(), SYNC])
      assert.deepStrictEqual(rowsOf(ran), [["42"]])
      // An error answered before the Sync: the messages after it are skipped, the Sync answers once.
      const from2 = a.messages.length
      a.send(concat(parse("", "select 1/0"), bind(""), execute(), FLUSH))
      await a.waitFor(() => a.messages.slice(from2).some((m) => m._tag === "ErrorResponse"), 10_000)
      const after = await exchange(a, [bind("s1", ["1"]), execute(), SYNC])
      assert.deepStrictEqual(errorsOf(a.messages.slice(from2)), ["22012"])
      assert.deepStrictEqual(after.filter((m) => m._tag !== "ErrorResponse").map((m) => m._tag), ["ReadyForQuery"])
      const again = await exchange(a, [bind("s1", ["1"]), execute(), SYNC])
      assert.deepStrictEqual(rowsOf(again), [["2"]])
      a.close()
    })
  })

  it("COPY FROM STDIN through the extended protocol and the simple one: a bad row, a CopyFail, then the upstream is clean", async () => {
    await withTable(() =>
      withProxy(one(), async ({ port }) => {
        const a = await connect(port)
        const b = await connect(port)
        // Extended, as libpq sends it: the Sync right behind the Execute is read (and ignored) in COPY mode.
        const from = a.messages.length
        a.send(concat(parse("", `copy ${TABLE} from stdin`), bind(""), execute(), SYNC))
        await a.waitFor(() => a.messages.slice(from).some((m) => m._tag === "CopyInResponse"), 10_000)
        const copied = await exchange(a, [copyData("1\tone\n2\ttwo\n"), COPY_DONE, SYNC])
        assert.deepStrictEqual(copied.map((m) => m._tag), ["CommandComplete", "ReadyForQuery"])
        // Simple, with a bad row in the middle: the server's error, then later CopyData the server drops.
        const from2 = a.messages.length
        a.send(query(`copy ${TABLE} from stdin`))
        await a.waitFor(() => a.messages.slice(from2).some((m) => m._tag === "CopyInResponse"), 10_000)
        const bad = await exchange(a, [copyData("3\tthree\nnot a number\tx\n4\tfour\n"), COPY_DONE])
        assert.deepStrictEqual(errorsOf(bad), ["22P02"])
        // Extended, failed by the client.
        const from3 = a.messages.length
        a.send(concat(parse("", `copy ${TABLE} from stdin`), bind(""), execute(), SYNC))
        await a.waitFor(() => a.messages.slice(from3).some((m) => m._tag === "CopyInResponse"), 10_000)
        const failed = await exchange(a, [copyData("5\tfive\n"), copyFail("changed my mind"), SYNC])
        assert.deepStrictEqual(errorsOf(failed), ["57014"])
        // The next client on the one upstream sees only the committed rows, outside any transaction.
        const seen = await exchange(b, [query(`select count(*) from ${TABLE}`)])
        assert.deepStrictEqual(rowsOf(seen), [["2"]])
        assert.deepStrictEqual(seen.at(-1), { _tag: "ReadyForQuery", transactionStatus: "I" })
        a.close()
        b.close()
      })
    )
  })

  it("COPY FROM STDIN with the data sent right behind the Query, before CopyInResponse (pgx's CopyFrom): no row lost, no hang", async () => {
    await withTable(() =>
      withProxy(one(), async ({ port }) => {
        const a = await connect(port)
        // All at once, as pgconn.CopyFrom writes the Query and starts sending CopyData without waiting.
        const rows = Array.from({ length: 2000 }, (_, i) => `${i}\trow ${i}\n`)
        const chunks = Array.from({ length: 20 }, (_, c) => copyData(rows.slice(c * 100, c * 100 + 100).join("")))
        const copied = await exchange(a, [query(`copy ${TABLE} from stdin`), ...chunks, COPY_DONE])
        assert.deepStrictEqual(errorsOf(copied), [])
        assert.deepStrictEqual(copied.filter((m) => m._tag === "CommandComplete"), [{ _tag: "CommandComplete", tag: "COPY 2000" }])
        // The same through the extended protocol: the Sync behind the Execute is ignored in COPY mode, the one
        // after CopyDone answers.
        const more = Array.from({ length: 10 }, (_, i) => `${2000 + i}\tmore\n`).join("")
        const extended = await exchange(a, [parse("", `copy ${TABLE} from stdin`), bind(""), execute(), SYNC, copyData(more), COPY_DONE, SYNC])
        assert.deepStrictEqual(errorsOf(extended), [])
        assert.deepStrictEqual(extended.filter((m) => m._tag === "CommandComplete"), [{ _tag: "CommandComplete", tag: "COPY 10" }])
        assert.deepStrictEqual(rowsOf(await exchange(a, [query(`select count(*) from ${TABLE}`)])), [["2010"]])
        // Data for a COPY that fails at once (no such table): the server drops it, the client gets the error.
        const failed = await exchange(a, [query("copy no_such_table_here from stdin"), copyData("1\n"), COPY_DONE])
        assert.deepStrictEqual(errorsOf(failed), ["42P01"])
        assert.deepStrictEqual(rowsOf(await exchange(a, [query("select 'still fine'")])), [["still fine"]])
        a.close()
      })
    )
  })

  it("statements a client sends right before it leaves (Terminate, or a closed socket) still reach the server, as on a direct connection", async () => {
    await withTable(() =>
      withProxy(one(), async ({ port }) => {
        const count = async () => (await direct(`select count(*)::int as n from ${TABLE}`)).rows[0]?.n
        // Fire and forget: a Query then Terminate in one write (node-postgres' query() then end() without waiting
        // sends the Query, then closes the socket).
        const a = await connect(port)
        a.send(concat(query(`insert into ${TABLE} values (1, 'query then terminate')`), Frontend.TERMINATE))
        await a.untilClosed(10_000)
        await waitUntil(async () => (await count()) === 1, 10_000).catch(async () => assert.fail(`count ${await count()} after the query then terminate`))
        const b = await connect(port)
        await exchange(b, [query("select 1")]) // an upstream is idle in the pool: the batch gets it at once
        b.send(concat(parse("", `insert into ${TABLE} values (2, 'batch then close')`), bind(""), execute(), SYNC))
        b.close()
        await waitUntil(async () => (await count()) === 2, 10_000).catch(async () => assert.fail(`count ${await count()} after the batch then close`))
        // The pool still serves.
        const c = await connect(port)
        assert.deepStrictEqual(rowsOf(await exchange(c, [query(`select string_agg(note, ',' order by id) from ${TABLE}`)])), [["query then terminate,batch then close"]])
        c.close()
      })
    )
  })

  it("COPY TO STDOUT of 20 MB to a client that stops reading, while another client waits for the one upstream", async () => {
    await withProxy(one(), async ({ port }) => {
      const a = await connect(port)
      const b = await connect(port)
      const from = a.messages.length
      a.socket.pause()
      a.send(query("copy (select repeat('x', 999) from generate_series(1, 20000)) to stdout"))
      const fromB = b.messages.length
      b.send(query("select 'b'"))
      // A's socket fills; the proxy pauses the upstream for it (B keeps waiting), then A reads again.
      await new Promise((resolve) => setTimeout(resolve, 300))
      a.socket.resume()
      await a.waitFor(() => a.messages.slice(from).some((m) => m._tag === "ReadyForQuery"), 20_000)
      const got = a.messages.slice(from)
      const data = got.filter((m) => m._tag === "CopyData")
      const bytes = data.reduce((n, m) => n + (m._tag === "CopyData" ? m.data.length : 0), 0)
      assert.strictEqual(bytes, 20000 * 1000)
      assert.deepStrictEqual(got.filter((m) => m._tag === "CommandComplete"), [{ _tag: "CommandComplete", tag: "COPY 20000" }])
      await b.waitFor(() => b.messages.slice(fromB).some((m) => m._tag === "ReadyForQuery"), 20_000)
      assert.deepStrictEqual(rowsOf(b.messages.slice(fromB)), [["b"]])
      a.close()
      b.close()
    })
  })
})
