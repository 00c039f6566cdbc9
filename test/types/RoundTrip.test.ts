/**
 * The value types against real servers, through the session: every value of
 * the captured corpus (test/fixtures/types/pg_values.json), the edge values of
 * issue 5, and an array of every built-in element type go to PostgreSQL 18
 * and PostgreSQL 13 as parameters and come back as results, in both wire
 * formats.
 *
 * The method, for each value (an SQL expression):
 * - the server's own text: `SELECT (<expression>)::text`;
 * - the value decoded from a binary result (statement cache on) and from a text
 *   result (cache off) must be the same JavaScript value;
 * - sent back as a parameter, `SELECT $1::<type>::text` must print the
 *   server's own text: untyped with the cache on (the server declares the
 *   type, the value goes in binary where the codec can), as the codec's text
 *   form with the cache off (OID 0: the server's input function parses it), and
 *   untyped with the cache off (the unnamed statement).
 * The two untyped round trips are the write-back property of issue 15: a value
 * decoded from the server and sent back as it is stays the same value on the
 * server, on the cached and on the unnamed path. The server compares by its own
 * text (`::text`), which is stricter than `=` (it tells `1.50` from `1.5` and
 * `-0` from `0`) and works for the types without an equality operator (json,
 * point, polygon, pg_snapshot...).
 * Values that cannot go back that way are listed below with the reason; the
 * lists are checked (each listed case still fails), and the untyped ones go
 * back typed (`PgTypes`) unless listed again.
 *
 * Then values built in JavaScript (numbers, times, arrays, ranges, composites,
 * extension types), the parameter rules (OID 0 inference, typed parameters,
 * encoding errors before anything is sent) and the session's use of the
 * registry. Known session issues are `it.effect.fails` tests with the cause in a
 * comment: they start failing once the issue is fixed.
 *
 * The cases and the lists are in RoundTripCases.ts, the servers, scratch
 * databases and the run of the cases in RoundTripScratch.ts, the tests of
 * values built in JavaScript in RoundTripValues.ts and those of the parameter
 * rules and the other families in RoundTripParameters.ts.
 *
 * Not here: byte layouts and the codecs' edge cases without a server
 * (Goldens, Corpus, Properties, Fuzz), and the session's own protocol tests.
 *
 * Each run works in databases of its own, created and dropped here, so the
 * user-defined and extension types it creates meet nobody else's.
 */
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { builtinTypes } from "../../src/types/Oid.ts"
import {
  corpusCases,
  extraCases,
  exactRegistry,
  arrayCases,
  untypedFails,
  typedFails,
  textFormFails,
  inferenceFails,
  decodeDiffers
} from "./RoundTripCases.ts"
import {
  shipsExtension,
  serverList,
  Scratch,
  targetOf,
  type Outcome,
  type CaseRun,
  show,
  assertPrints,
  assertStillFails
} from "./RoundTripScratch.ts"
import { valueTests } from "./RoundTripValues.ts"
import { parameterTests } from "./RoundTripParameters.ts"

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

layer(Scratch.layer, { excludeTestServices: true, timeout: 120_000 })("value types through the session", (it) => {
  for (const [label, server] of serverList()) {
    describe(label, () => {
      const runsOf = Effect.flatMap(targetOf(label), (t) => t.runs)

      describe("every value: binary/text agreement and round trips", () => {
        for (const c of [...corpusCases, ...extraCases, ...arrayCases]) {
          if ((c.since ?? 0) > server.majorVersion) {
            it.effect.skip(`${c.label}: not in PostgreSQL ${server.majorVersion} (since ${c.since})`, () => Effect.void)
            continue
          }
          if (c.extension !== undefined && !shipsExtension(server, c.extension)) {
            it.effect.skip(`${c.label}: the ${c.extension} extension is absent from these binaries`, () => Effect.void)
            continue
          }
          it.effect(c.label, () =>
            Effect.gen(function*() {
              const run = (yield* runsOf).get(c.label)!
              // 1. The binary and the text result decode to the same value.
              const differs = decodeDiffers(run.type)
              if (differs === undefined) {
                assert.strictEqual(show(run.fromBinary), show(run.fromText), "binary and text decodings")
                assert.deepStrictEqual(run.fromBinary, run.fromText)
              } else {
                assert.notStrictEqual(show(run.fromBinary), show(run.fromText), differs)
              }
              // 2. Untyped, statement cache on (the server declares the type).
              const untypedReason = untypedFails[c.label]
              if (untypedReason === undefined) assertPrints(run.untyped, run, "untyped, cache on")
              else assertStillFails(run.untyped, run, "untyped, cache on", untypedReason)
              // 3. Typed.
              const typedReason = typedFails[c.label]
              if (typedReason === undefined) assertPrints(run.typed, run, "typed, cache on")
              else assertStillFails(run.typed, run, "typed, cache on", typedReason)
              // 4. The codec's text form, parsed by the server's input function.
              const textReason = textFormFails[c.label]
              if (textReason === undefined) assertPrints(run.asText, run, "text form, cache off")
              else assertStillFails(run.asText, run, "text form, cache off", textReason)
              // 5. Untyped with the cache off: the value's remembered type, the type the parameter rules
              // declare, or OID 0 text.
              const inferenceReason = inferenceFails[c.label]
              if (inferenceReason === undefined) assertPrints(run.inferred, run, "untyped, cache off")
              else assertStillFails(run.inferred, run, "untyped, cache off", inferenceReason)
            }))
        }
      })

      // The write-back property of issue 15 in one place: what fails is exactly what the lists name.
      it.effect("write-back: every decoded value sent back untyped is the same value, cache on and off, but the listed", () =>
        Effect.gen(function*() {
          const runs = [...(yield* runsOf).values()]
          const differs = (o: Outcome, run: CaseRun) => !(o.ok && o.text === run.serverText)
          const failing = (path: "untyped" | "inferred") => runs.filter((r) => differs(r[path], r)).map((r) => r.c.label)
          const listed = (list: Readonly<Record<string, string>>) =>
            runs.map((r) => r.c.label).filter((label) => list[label] !== undefined)
          assert.deepStrictEqual(failing("untyped"), listed(untypedFails), "cache on")
          assert.deepStrictEqual(failing("inferred"), listed(inferenceFails), "cache off")
          assert.isAtLeast(runs.length, 300)
        }))

      valueTests(it, label, server)
      parameterTests(it, label, server)
    })
  }

  it.effect("the generated array cases cover every built-in element type that has a codec and an input", () =>
    Effect.sync(() => {
      const covered = new Set(arrayCases.map((c) => c.label.slice(0, c.label.indexOf("[]"))))
      const missing = builtinTypes
        .filter((t) => t.array !== 0 && t.type !== "p" && t.category !== "A" && exactRegistry.has(t.oid))
        .map((t) => t.name)
        .filter((name) => !covered.has(name))
      // gtsvector is an index-internal type without an input function.
      assert.deepStrictEqual(missing, ["gtsvector"])
    }))
})
