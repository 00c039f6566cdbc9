/**
 * The protocol trace as Effect log lines: the PQtrace rendering of every
 * message (`Tracer`, passwords masked) logged at a chosen level, switchable
 * per session while it runs.
 *
 * **Details**
 *
 * `ProtocolTraceLevel` (a Context reference, default off) is read when a
 * session opens: `Effect.provideService(ProtocolTraceLevel, "Debug")` around
 * `connect` (or a pool's creation) traces its sessions from their start-up.
 * `setProtocolTrace(session, level)` turns one session's trace on (at
 * `level`) or off (`undefined`) at any time. Lines go to the loggers of the
 * context the session was opened in, annotated with `pgwire.process_id`.
 * Logged lines never show parameter values: Bind parameters and FunctionCall
 * arguments read `'********'` (with their lengths), passwords as always.
 *
 * Every session carries the switch (it also counts the bytes each way for
 * the metrics); while it is off, no frame is decoded a second time.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as LogLevel from "effect/LogLevel"
import type { Session, SessionOptions } from "./Api.ts"
import { switchable, TraceSwitch } from "./Tracer.ts"

/**
 * The level at which sessions opened from now on log their protocol trace;
 * `undefined` (the default): not logged.
 *
 * @since 0.1.0
 */
export const ProtocolTraceLevel = Context.Reference<LogLevel.Severity | undefined>(
  "effect-pgwire/session/ProtocolTraceLevel",
  { defaultValue: () => undefined }
)

/**
 * One session's trace: where its lines go, and at which level.
 *
 * @since 0.1.0
 */
export class ProtocolLog {
  level: LogLevel.Severity | undefined
  processId = 0
  readonly traceSwitch: TraceSwitch
  private readonly context: Context.Context<never>
  private readonly user: ((line: string) => void) | undefined

  constructor(level: LogLevel.Severity | undefined, context: Context.Context<never>, user: ((line: string) => void) | undefined) {
    this.level = level
    this.context = context
    this.user = user
    this.traceSwitch = new TraceSwitch((line) => this.line(line), level !== undefined || user !== undefined)
    this.traceSwitch.maskValues = level !== undefined
  }

  private line(line: string): void {
    this.user?.(line)
    const level = this.level
    if (level === undefined) return
    try {
      Effect.runSyncWith(this.context)(
        Effect.logWithLevel(level)(line).pipe(Effect.annotateLogs("pgwire.process_id", this.processId))
      )
    } catch {
      // A logger that throws loses its line; the connection reading the frame must go on.
    }
  }

  setLevel(level: LogLevel.Severity | undefined): void {
    this.level = level
    this.traceSwitch.on = level !== undefined || this.user !== undefined
    this.traceSwitch.maskValues = level !== undefined
  }
}

const logs = new WeakMap<Session, ProtocolLog>()

/**
 * The options a session is opened with: `trace` becomes the switchable
 * trace (still calling the caller's `trace`, if any).
 *
 * @since 0.1.0
 */
export const prepare = (
  given: SessionOptions
): Effect.Effect<{ readonly options: SessionOptions; readonly log: ProtocolLog }> =>
  Effect.withFiber((fiber) => {
    const log = new ProtocolLog(fiber.getRef(ProtocolTraceLevel), fiber.context, given.trace)
    return Effect.succeed({ options: { ...given, trace: switchable(log.traceSwitch) }, log })
  })

/**
 * Ties `log` to `session` (for `setProtocolTrace`).
 *
 * @since 0.1.0
 */
export const register = (session: Session, log: ProtocolLog): void => {
  log.processId = session.processId
  logs.set(session, log)
}

/**
 * Turns `session`'s protocol trace on at `level`, or off with `undefined`. A
 * session this library did not open is left as it is.
 *
 * @since 0.1.0
 */
export const setProtocolTrace = (session: Session, level: LogLevel.Severity | undefined): Effect.Effect<void> =>
  Effect.sync(() => logs.get(session)?.setLevel(level))
