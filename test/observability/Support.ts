/**
 * An in-memory tracer for the observability suites: every span it makes is
 * kept, with its attributes, events, parent and exit.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/** The spans a `Recorder` made, in the order they started. */
export interface Recorder {
  readonly tracer: Tracer.Tracer
  readonly spans: Array<Tracer.NativeSpan>
}

export const recorder = (): Recorder => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { tracer, spans }
}

/** `effect` with the recorder's tracer installed. */
export const traced = <A, E, R>(rec: Recorder, effect: Effect.Effect<A, E, R>) => Effect.withTracer(effect, rec.tracer)

export const attributesOf = (span: Tracer.NativeSpan): Record<string, unknown> => Object.fromEntries(span.attributes)

export const parentOf = (span: Tracer.NativeSpan): Tracer.AnySpan | undefined => Option.getOrUndefined(span.parent)

export const exitOf = (span: Tracer.NativeSpan): Exit.Exit<unknown, unknown> | undefined =>
  span.status._tag === "Ended" ? span.status.exit : undefined

/** Every string an attribute or an event of `spans` holds. */
export const everyString = (spans: ReadonlyArray<Tracer.NativeSpan>): Array<string> => {
  const out: Array<string> = []
  for (const span of spans) {
    out.push(span.name)
    for (const [k, v] of span.attributes) out.push(k, String(v))
    for (const [name, , attributes] of span.events) {
      out.push(name)
      for (const [k, v] of Object.entries(attributes)) out.push(k, String(v))
    }
  }
  return out
}
