import * as SqlPgClient from "@effect/sql-pg/PgClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Statement from "effect/sql/Statement"
import * as Compiler from "../../src/sql/Compiler.ts"
import * as Param from "../../src/types/Param.ts"

const ours = Statement.make(Effect.die("ours"), Compiler.makeCompiler(), [], undefined)
const theirs = Statement.make(Effect.die("theirs"), SqlPgClient.makeCompiler(), [], undefined)

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
const oursSnake = Statement.make(Effect.die("ours-snake"), Compiler.makeCompiler(snake), [], undefined)
const theirsSnake = Statement.make(Effect.die("theirs-snake"), SqlPgClient.makeCompiler(snake), [], undefined)

/** Typed parameters of either library, compared by OID and value. */
const normalize = (params: ReadonlyArray<unknown>) =>
  params.map((p) =>
    Param.isTypedParam(p)
      ? { typed: p.oid, value: p.value }
      : typeof p === "object" && p !== null && "oid" in p && "value" in p
      ? { typed: (p as { oid: number }).oid, value: (p as { value: unknown }).value }
      : p
  )

type Build = (sql: Statement.Constructor, json: (value: unknown) => Statement.Fragment) => Statement.Statement<any>

const cases: ReadonlyArray<readonly [string, Build]> = [
  ["parameters", (sql) => sql`select * from users where id = ${1} and name = ${"a"}`],
  ["identifiers", (sql) => sql`select ${sql("weird\"name")} from ${sql("app.users")}`],
  ["in", (sql) => sql`select * from t where ${sql.in("id", [1, 2, 3])}`],
  ["in list", (sql) => sql`select * from t where id in ${sql.in([1, 2, 3])}`],
  ["empty in", (sql) => sql`select * from t where id in ${sql.in([])}`],
  ["empty not in", (sql) => sql`select * from t where id not in ${sql.in([])}`],
  ["empty in column form", (sql) => sql`select * from t where ${sql.in("id", [])}`],
  ["insert", (sql) => sql`insert into t ${sql.insert({ a: 1, b: "x" })}`],
  ["insert many returning", (sql) => sql`insert into t ${sql.insert([{ a: 1, b: 2 }, { a: 3, b: 4 }]).returning("*")}`],
  ["update", (sql) => sql`update t set ${sql.update({ a: 1, b: "x", id: 5 }, ["id"])} where id = ${5}`],
  ["update returning", (sql) => sql`update t set ${sql.update({ a: 1 }).returning("a")} where id = ${2}`],
  [
    "update values",
    (sql) =>
      sql`update t set name = data.name from ${sql.updateValues([{ id: 1, name: "a" }, { id: 2, name: "b" }], "data")} where t.id = data.id`
  ],
  ["and/or", (sql) => sql`select * from t where ${sql.and([sql`a = ${1}`, sql.or([sql`b = ${2}`, "c is null"])])}`],
  ["empty and", (sql) => sql`select * from t where ${sql.and([])}`],
  ["csv", (sql) => sql`select * from t order by ${sql.csv(["a", sql`b desc`])}`],
  ["array parameter", (sql) => sql`select * from t where id = any(${[1, 2, 3]})`],
  ["object parameter", (sql) => sql`insert into t (doc) values (${{ a: 1 }})`],
  ["json", (sql, json) => sql`insert into t (doc) values (${json({ camelKey: [1, { innerKey: 2 }] })})`],
  ["json in insert", (sql, json) => sql`insert into t ${sql.insert({ id: 1, doc: json({ someKey: 1 }) })}`],
  ["literal and unsafe", (sql) => sql`select ${sql.literal("now()")}, ${sql.unsafe("1 + $1", [5])}`],
  ["nested fragments", (sql) => sql`select * from (${sql`select ${1} as x`}) s where s.x = ${2}`]
]

describe("Compiler: the same output as @effect/sql-pg", () => {
  for (const [name, build] of cases) {
    it(name, () => {
      const [sql, params] = build(ours, Compiler.json).compile()
      const [expectedSql, expectedParams] = build(theirs, (v) => theirs`${theirsJson(v)}`).compile()
      assert.strictEqual(sql, expectedSql)
      assert.deepStrictEqual(normalize(params), normalize(expectedParams))
      const [snakeSql, snakeParams] = build(oursSnake, Compiler.json).compile()
      const [expectedSnakeSql, expectedSnakeParams] = build(theirsSnake, (v) => theirsSnake`${theirsJson(v)}`).compile()
      assert.strictEqual(snakeSql, expectedSnakeSql)
      assert.deepStrictEqual(normalize(snakeParams), normalize(expectedSnakeParams))
    })
  }
})

// @effect/sql-pg builds its json fragment from its client: the same custom segment kind ("PgJson").
const theirsJson = (value: unknown) => Statement.fragment([Compiler.PgJson(value)])

describe("Compiler: golden output", () => {
  it("numbers placeholders in order and keeps values out of the text", () => {
    const [sql, params] = ours`select * from t where a = ${"x'; drop table t; --"} and b in ${ours.in([1, 2])}`.compile()
    assert.strictEqual(sql, "select * from t where a = $1 and b in ($2,$3)")
    assert.deepStrictEqual(params, ["x'; drop table t; --", 1, 2])
  })

  it("quotes identifiers so that none can close its quotes", () => {
    assert.strictEqual(ours`${ours("a\"; drop table t; --")}`.compile()[0], "\"a\"\"; drop table t; --\"")
    assert.strictEqual(ours`${ours("public.users")}`.compile()[0], "\"public\".\"users\"")
    assert.strictEqual(Compiler.escape("x"), "\"x\"")
  })

  it("renders insert, update and updateValues in PostgreSQL's syntax", () => {
    assert.deepStrictEqual(ours`insert into t ${ours.insert([{ a: 1, b: 2 }, { a: 3, b: 4 }]).returning("*")}`.compile(), [
      "insert into t (\"a\",\"b\") VALUES ($1,$2),($3,$4) RETURNING *",
      [1, 2, 3, 4]
    ])
    assert.deepStrictEqual(ours`update t set ${ours.update({ a: 1, b: 2 })}`.compile(), [
      "update t set \"a\" = $1, \"b\" = $2",
      [1, 2]
    ])
    assert.deepStrictEqual(ours`update t set a = v.a from ${ours.updateValues([{ id: 1, a: 2 }], "v")}`.compile(), [
      "update t set a = v.a from (values ($1,$2)) AS \"v\"(\"id\",\"a\")",
      [1, 2]
    ])
  })

  it("sends json(...) as a typed jsonb parameter, with keys renamed by the name transform", () => {
    const [sql, params] = oursSnake`select ${Compiler.json({ camelCase: { deepKey: 1 } })}`.compile()
    assert.strictEqual(sql, "select $1")
    const param = params[0]
    assert.isTrue(Param.isTypedParam(param))
    assert.strictEqual((param as Param.TypedParam).oid, 3802)
    assert.deepStrictEqual((param as Param.TypedParam).value, { camel_case: { deep_key: 1 } })
    const [, raw] = oursSnake`select ${Compiler.json({ camelCase: 1 })}`.compile(true)
    assert.deepStrictEqual((raw[0] as Param.TypedParam).value, { camelCase: 1 })
  })

  it.prop("matches @effect/sql-pg for arbitrary identifiers and values", [
    Schema.String,
    Schema.Array(Schema.Union([Schema.Int, Schema.String, Schema.Boolean]))
  ], ([name, values]) => {
    const build: Build = (sql) => sql`select ${sql(name)} from t where ${sql.in("c", values)} and d = ${name}`
    const [sql, params] = build(ours, Compiler.json).compile()
    const [expectedSql, expectedParams] = build(theirs, Compiler.json).compile()
    assert.strictEqual(sql, expectedSql)
    assert.deepStrictEqual(params, expectedParams)
  })
})
