/**
 * A small handler for the engine's tests: statements separated by `;`, each
 * one of a few forms whose behaviour the tests can predict exactly.
 *
 * - `select N` (an integer): one int4 row `?column?` = N; `select N/0`: 22012.
 * - `select $1` style statements through Parse: one row echoing the parameters.
 * - `series N`: N int4 rows 1..N (pulled lazily; `pulled` counts them).
 * - `sleep MS`: sleeps, then `SLEEP`; its finalizer bumps `finalized`.
 * - `begin`, `commit`, `rollback`: transaction outcomes; `fail`: 42000-ish error.
 * - `copy in`: COPY FROM STDIN, the bytes collected in `copied`; `copy out N`:
 *   N lines `i\n`.
 * - an empty statement: EmptyQueryResponse.
 */
import * as Effect from "effect/Effect"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as PgServer from "../../src/server/PgServer.ts"

export interface Probe {
  pulled: number
  finalized: number
  started: number
  copied: Array<Uint8Array>
  statements: Array<string>
}

export const makeProbe = (): Probe => ({ pulled: 0, finalized: 0, started: 0, copied: [], statements: [] })

const int4 = PgServer.field("?column?", "int4")

const outcomeOf = (
  probe: Probe,
  text: string,
  params: ReadonlyArray<unknown>
): Effect.Effect<PgServer.Outcome, PgServer.Errors.ServerError, PgServer.Session> => {
  const sql = text.trim().replace(/;+$/, "").trim().replace(/\s+/g, " ")
  const lower = sql.toLowerCase()
  probe.statements.push(sql)
  let m: RegExpExecArray | null
  if (sql === "") return Effect.succeed(PgServer.Outcome.empty)
  if ((m = /^select (-?\d+)\/0$/i.exec(sql)) !== null) {
    return Effect.fail(PgServer.Errors.make("22012", "division by zero"))
  }
  if ((m = /^select (-?\d+)$/i.exec(sql)) !== null) {
    return Effect.succeed(PgServer.Outcome.rows([int4], Stream.make([Number(m[1])])))
  }
  if (/^select(\s+\$\d+(::\w+)?\s*,?)+$/i.test(sql)) {
    const fields = params.map((_, i) => PgServer.field(`p${i + 1}`, "text"))
    return Effect.succeed(PgServer.Outcome.rows(fields, Stream.make(params.map((p) => (p === null ? null : String(p))))))
  }
  if ((m = /^series (\d+)$/i.exec(sql)) !== null) {
    const n = Number(m[1])
    const rows = Stream.range(1, n).pipe(
      Stream.rechunk(1),
      Stream.map((i): ReadonlyArray<unknown> => [i]),
      Stream.tap(() => Effect.sync(() => probe.pulled++))
    )
    return Effect.succeed(PgServer.Outcome.rows([PgServer.field("n", "int4")], rows))
  }
  if ((m = /^sleep (\d+)$/i.exec(sql)) !== null) {
    const ms = Number(m[1])
    return Effect.sync(() => probe.started++).pipe(
      Effect.andThen(Effect.sleep(ms)),
      Effect.ensuring(Effect.sync(() => probe.finalized++)),
      Effect.as(PgServer.Outcome.command("SLEEP"))
    )
  }
  if ((m = /^set (\w+) (\S+)$/i.exec(sql)) !== null) {
    const [, name, value] = m
    return Effect.gen(function*() {
      const session = yield* PgServer.Session
      yield* session.setParameter(name!, value!)
      return PgServer.Outcome.command("SET")
    })
  }
  if ((m = /^notify (\w+) (\S+)$/i.exec(sql)) !== null) {
    const [, channel, payload] = m
    return Effect.gen(function*() {
      const session = yield* PgServer.Session
      yield* session.notice(PgServer.Errors.toFields(PgServer.Errors.make("01000", `notifying ${channel}`, undefined, "ERROR")).map(
        (f) => (f.code === "S" || f.code === "V" ? { code: f.code, value: "NOTICE" } : f)
      ))
      yield* session.notify(channel!, payload!)
      return PgServer.Outcome.command("NOTIFY")
    })
  }
  if (lower === "begin") return Effect.succeed(PgServer.Outcome.command("BEGIN", "begin"))
  if (lower === "commit") return Effect.succeed(PgServer.Outcome.command("COMMIT", "commit"))
  if (lower === "rollback") return Effect.succeed(PgServer.Outcome.command("ROLLBACK", "rollback"))
  if (lower === "fail") return Effect.fail(PgServer.Errors.make("P0001", "failed on purpose"))
  if (lower === "copy in" || lower === "copy in from stdin") {
    return Effect.succeed({
      _tag: "CopyIn",
      sink: Sink.forEach((chunk: Uint8Array) => Effect.sync(() => probe.copied.push(chunk))).pipe(
        Sink.map(() => `COPY ${probe.copied.length}`)
      )
    })
  }
  if (lower === "copy in fail") {
    return Effect.succeed({
      _tag: "CopyIn",
      sink: Sink.forEach((_: Uint8Array) => Effect.fail(PgServer.Errors.make("22P04", "bad copy data"))).pipe(
        Sink.map(() => "COPY 0")
      )
    })
  }
  if ((m = /^copy (?:out (\d+)|\(\s*out (\d+)\s*\) to stdout)$/i.exec(sql)) !== null) {
    const n = Number(m[1] ?? m[2])
    return Effect.succeed({
      _tag: "CopyOut",
      data: Stream.range(1, n).pipe(Stream.map((i) => new TextEncoder().encode(`${i}\n`)))
    })
  }
  return Effect.fail(PgServer.Errors.syntaxError(`syntax error at or near "${sql.split(/\s+/)[0]}"`, { position: 1 }))
}

/** Splits a query string on `;` (no quoting: the scripted forms have none). */
const split = (sql: string): Array<string> => {
  const parts = sql.split(";")
  if (parts.length > 1 && parts[parts.length - 1]!.trim() === "") parts.pop()
  return parts
}

const paramCount = (sql: string): number => {
  let max = 0
  for (const m of sql.matchAll(/\$(\d+)/g)) max = Math.max(max, Number(m[1]))
  return max
}

/** The statement forms `prepare` accepts (others fail at Parse, as PostgreSQL's parser would). */
const KNOWN = /^(|select .*|set \w+ \S+|notify \w+ \S+|series \d+|sleep \d+|begin|commit|rollback|fail|copy in( fail)?|copy out \d+)$/i

export const handler = (probe: Probe, options: { readonly prepareDelayMs?: number } = {}): PgServer.Handler => ({
  simple: (sql) =>
    Stream.fromIterable(split(sql)).pipe(
      Stream.mapEffect((statement) => outcomeOf(probe, statement, []))
    ),
  prepare: ({ sql: text, paramTypes }) => {
    const sql = text.trim().replace(/;+$/, "")
    if (!KNOWN.test(sql)) {
      return Effect.fail(PgServer.Errors.syntaxError(`syntax error at or near "${sql.split(/\s+/)[0]}"`, { position: 1 }))
    }
    return Effect.as(Effect.sleep(options.prepareDelayMs ?? 0), {
      paramTypes: Array.from({ length: paramCount(sql) }, (_, i) => paramTypes[i] || 25),
      fields: /^select (-?\d+)$/i.test(sql.trim())
        ? [int4]
        : /^series/i.test(sql.trim())
        ? [PgServer.field("n", "int4")]
        : /^select\s+\$/i.test(sql.trim())
        ? Array.from({ length: paramCount(sql) }, (_, i) => PgServer.field(`p${i + 1}`, "text"))
        : null,
      execute: (params) => outcomeOf(probe, sql, params.values)
    })
  }
})
