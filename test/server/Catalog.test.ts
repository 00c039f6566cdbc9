/**
 * The minimal catalog (`PgServer.Catalog`) as real clients use it: psql's
 * describe commands and postgres.js's type loading on connect, against a
 * handler that has tables but no SQL engine.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import postgres from "postgres"
import * as PgServer from "../../src/server/PgServer.ts"
import { formatType } from "../../src/server/Catalog.ts"
import { shapeOf } from "../../src/server/CatalogSql.ts"
import { handler, makeProbe } from "./ScriptedHandler.ts"
import { psql, run, withServer } from "./Support.ts"

const description: PgServer.Catalog.Description = {
  owner: "owner",
  relations: [
    {
      name: "accounts",
      columns: [
        { name: "id", type: "int4", notNull: true, default: "nextval('accounts_id_seq'::regclass)" },
        { name: "name", type: "varchar", typeModifier: 24, notNull: true },
        { name: "balance", type: "numeric", typeModifier: ((12 << 16) | 2) + 4 },
        { name: "tags", type: "_text" }
      ]
    },
    { name: "recent", kind: "view", columns: [{ name: "id", type: "int4" }] },
    { schema: "audit", name: "log", columns: [{ name: "at", type: "timestamptz" }, { name: "entry", type: "jsonb" }] }
  ]
}

const options = () => ({ handler: PgServer.Catalog.handler(description, handler(makeProbe())) })

describe("PgServer.Catalog", () => {
  it("reads a catalog query's select list whatever its order and additions", () => {
    const shape = shapeOf(
      `SELECT c.relchecks, false AS relhasoids, '', CASE WHEN c.reloftype = 0 THEN '' END, pg_catalog.format_type(a.atttypid, a.atttypmod),
       (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) FROM pg_catalog.pg_attrdef d), n.nspname as "Schema" FROM pg_catalog.pg_class c WHERE c.oid = '16384';`
    )
    assert.deepStrictEqual(shape?.items.map((i) => i.key), ["relchecks", "relhasoids", "", "reloftype", "format_type", "adbin", "Schema"])
    assert.deepStrictEqual([...shape!.tables].sort(), ["pg_attrdef", "pg_class"])
    assert.strictEqual(shapeOf("select 1; select 2"), undefined)
    assert.deepStrictEqual(shapeOf("select c.constructor, c.tostring from pg_catalog.pg_class c")?.items.map((i) => i.key), ["constructor", "tostring"])
    assert.deepStrictEqual(
      [formatType("int4"), formatType("varchar", 24), formatType("numeric", ((12 << 16) | 2) + 4), formatType("_text"), formatType("timestamptz")],
      ["integer", "character varying(20)", "numeric(12,2)", "text[]", "timestamp with time zone"]
    )
  })

  it("answers psql's \\d, \\dt, \\dv, \\dn and \\l", async () => {
    await withServer(options(), async ({ port }) => {
      const list = await psql(port, ["-c", "\\d"])
      assert.strictEqual(list.code, 0, list.stderr)
      assert.deepStrictEqual(list.stdout.trim().split("\n"), [
        "public|accounts|table|owner",
        "public|recent|view|owner"
      ])
      const tables = await psql(port, ["-c", "\\dt"])
      assert.deepStrictEqual(tables.stdout.trim().split("\n"), ["public|accounts|table|owner"])
      const views = await psql(port, ["-c", "\\dv"])
      assert.deepStrictEqual(views.stdout.trim().split("\n"), ["public|recent|view|owner"])
      const audit = await psql(port, ["-c", "\\dt audit.*"])
      assert.deepStrictEqual(audit.stdout.trim().split("\n"), ["audit|log|table|owner"])
      const schemas = await psql(port, ["-c", "\\dn"])
      assert.deepStrictEqual(schemas.stdout.trim().split("\n"), ["audit|owner", "public|owner"])
      const databases = await psql(port, ["-c", "\\l"])
      assert.strictEqual(databases.code, 0, databases.stderr)
      assert.match(databases.stdout, /^db\|owner\|UTF8\|/)
    })
  })

  it("describes a table and a view with \\d name and \\d+ name as psql prints them", async () => {
    await withServer(options(), async ({ port }) => {
      const table = await psql(port, ["-c", "\\d accounts"])
      assert.strictEqual(table.code, 0, table.stderr)
      assert.deepStrictEqual(table.stdout.trim().split("\n"), [
        "id|integer||not null|nextval('accounts_id_seq'::regclass)",
        "name|character varying(20)||not null|",
        "balance|numeric(12,2)|||",
        "tags|text[]|||"
      ])
      const aligned = await psql(port, ["-P", "format=aligned", "-P", "tuples_only=off", "-c", "\\d+ accounts"])
      assert.strictEqual(aligned.code, 0, aligned.stderr)
      assert.match(aligned.stdout, /Table "public\.accounts"/)
      assert.match(aligned.stdout, /Access method: heap/)
      const view = await psql(port, ["-P", "format=aligned", "-P", "tuples_only=off", "-c", "\\d recent"])
      assert.strictEqual(view.code, 0, view.stderr)
      assert.match(view.stdout, /View "public\.recent"/)
      const missing = await psql(port, ["-c", "\\d nothing"])
      assert.match(missing.stderr, /Did not find any relation named "nothing"/)
    })
  })

  it("lets pgbench run its built-in select-only script (it looks its accounts table up first)", async () => {
    const balance = [PgServer.field("abalance", "int4")]
    const select = /^select abalance from pgbench_accounts where aid = (\$1|\d+);?$/i
    const accounts: PgServer.Handler = {
      simple: (sql) =>
        select.test(sql.trim())
          ? Stream.make(PgServer.Outcome.rows(balance, Stream.make([0])))
          : /^select count\(\*\) from pgbench_branches$/i.test(sql.trim())
          ? Stream.make(PgServer.Outcome.rows([PgServer.field("count", "int8")], Stream.make([1n])))
          : Stream.fail(PgServer.Errors.syntaxError(`unexpected: ${sql}`)),
      prepare: ({ sql }) =>
        select.test(sql.trim())
          ? Effect.succeed({ paramTypes: [23], fields: balance, execute: () => Effect.succeed(PgServer.Outcome.rows(balance, Stream.make([0]))) })
          : Effect.fail(PgServer.Errors.syntaxError(`unexpected: ${sql}`))
    }
    const catalog = { relations: [{ name: "pgbench_accounts", columns: [{ name: "aid", type: "int4" as const }, { name: "abalance", type: "int4" as const }] }] }
    await withServer({ handler: PgServer.Catalog.handler(catalog, accounts) }, async ({ port }) => {
      for (const mode of ["simple", "extended", "prepared"]) {
        const r = await run("pgbench", ["-h", "127.0.0.1", "-p", String(port), "-U", "tester", "-n", "-S", "-c", "2", "-j", "1", "-t", "50", "-M", mode, "db"])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.match(r.stdout, /number of transactions actually processed: 100\/100/)
      }
    })
    // A catalog without the table: pgbench is told so (it would have run on against a handler failing its look-up).
    await withServer({ handler: PgServer.Catalog.handler({ relations: [] }, accounts) }, async ({ port }) => {
      const r = await run("pgbench", ["-h", "127.0.0.1", "-p", String(port), "-U", "tester", "-n", "-S", "-t", "1", "db"])
      assert.notStrictEqual(r.code, 0)
      assert.match(r.stderr, /no pgbench_accounts table found/)
    })
  })

  // Without it, postgres.js's first query fails: its type query reaches a handler that cannot answer it.
  it("serves postgres.js's type loading on connect, and leaves other statements to the inner handler", async () => {
    const probe = makeProbe()
    await withServer({ handler: PgServer.Catalog.handler(description, handler(probe)) }, async ({ port }) => {
      const sql = postgres({ host: "127.0.0.1", port, user: "tester", database: "db", max: 1 })
      try {
        const rows = await sql.unsafe("select $1", ["x"])
        assert.deepStrictEqual([...rows], [{ p1: "x" }])
        const version = await sql.unsafe("select version()")
        assert.match(String(version[0]?.["version"]), /^PostgreSQL 18/)
        const who = await sql.unsafe("select current_user")
        assert.deepStrictEqual([...who], [{ current_user: "tester" }])
        // Another catalog query: no rows, its columns as text (a key named like an Object property included).
        const other = await sql.unsafe("select c.constructor, c.relname from pg_catalog.pg_class c where c.relkind = 'i'")
        assert.deepStrictEqual([...other], [])
        assert.deepStrictEqual(other.columns.map((c) => [c.name, c.type]), [["constructor", 25], ["relname", 25]])
        assert.deepStrictEqual(probe.statements, ["select $1"])
      } finally {
        await sql.end()
      }
    })
  })
})
