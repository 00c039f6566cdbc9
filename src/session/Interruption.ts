/**
 * Interruption: the cancellation sequence for a request whose caller went
 * away, and the fibers waiting on queries.
 *
 * **Details**
 *
 * The sequence (the module header of `Session` has it in full):
 * 1. a request not yet written is withdrawn: nothing is sent; if work of the
 *    session's own that it waited on (its statement being prepared, a type
 *    lookup) is at the head, the session breaks unless that work is answered
 *    within `DRAIN_TIMEOUT_MILLIS`;
 * 2. a request already answered needs nothing;
 * 3. a request behind others is not running yet: its caller is released at
 *    once, its replies are dropped when they come (a cancel now would hit the
 *    request ahead of it), and if it reaches the head of the pipeline still
 *    running, the rest of the sequence runs then;
 * 4. otherwise, after `CANCEL_GRACE_MILLIS`, a CancelRequest goes out on a side
 *    connection with the session's transport settings while the session holds
 *    the wire, and the session drains to ReadyForQuery within
 *    `DRAIN_TIMEOUT_MILLIS`, or is broken.
 * Queries pipelined behind a cancelled one are marked at risk of the stray
 * cancel: the engine re-runs them once if they fail with 57014.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Net from "node:net"
import { CancelError, PgError, TimeoutError } from "../errors/PgError.ts"
import { sendCancel } from "./Cancel.ts"
import type { Connection, Request } from "./Connection.ts"
import { CloseRequest, PrepareRequest, QueryRequest } from "./Requests.ts"

/**
 * Whether `request` is work the session does on its own (a statement prepared for the cache, a type lookup, a
 * statement closed): no caller waits on it directly, so no caller's interruption would ever cancel it.
 */
const isOwnWork = (request: Request): boolean =>
  request instanceof PrepareRequest || request instanceof CloseRequest ||
  (request instanceof QueryRequest && request.waiter === undefined && !request.discard)

/** After an interruption, how long a running request may take to finish on its own before a CancelRequest is sent. */
export const CANCEL_GRACE_MILLIS = 10
/** `CANCEL_GRACE_MILLIS` as a Duration (the clock in use decides, so a test clock can drive it). */
export const CANCEL_GRACE: Duration.Duration = Duration.millis(CANCEL_GRACE_MILLIS)
/** After a CancelRequest, how long the session may take to reach ReadyForQuery before it is broken. */
export const DRAIN_TIMEOUT_MILLIS = 5_000
/** `DRAIN_TIMEOUT_MILLIS` as a Duration. */
export const DRAIN_TIMEOUT: Duration.Duration = Duration.millis(DRAIN_TIMEOUT_MILLIS)

/**
 * The cancellation sequence of one session.
 *
 * @since 0.1.0
 */
export class Interruption {
  private readonly conn: Connection
  private readonly openSide: Effect.Effect<Net.Socket, PgError>
  /** Fibers waiting for the session to be idle (or closed). */
  private settledWaiters: Array<() => void> = []

  constructor(conn: Connection, openSide: Effect.Effect<Net.Socket, PgError>) {
    this.conn = conn
    this.openSide = openSide
    // Guarded: the sequence's waits are tested on their own, without a connection.
    if ((conn as Connection | undefined) !== undefined) conn.onDiscardedHead = this.onDiscardedHead
  }

  /**
   * A request abandoned while it was behind others has reached the head of the pipeline and is running: it gets
   * the rest of the sequence now (grace, then a CancelRequest while the wire is held, then the drain), so work
   * nobody waits for stops costing the callers behind it. Called from the socket's callback, so the sequence runs
   * on a fiber of its own.
   */
  private readonly onDiscardedHead = (request: Request): void => {
    Effect.runFork(this.cancelAfterGrace(request))
  }

  private cancelAfterGrace(request: Request): Effect.Effect<void> {
    return this.awaitDone(request, CANCEL_GRACE).pipe(
      Effect.flatMap((done) => (done || this.conn.current !== request ? Effect.void : this.cancelAndDrain(request)))
    )
  }

  // -- callers waiting on queries ----------------------------------------------

  /** The query each fiber waits on (a fiber waits on one at a time). */
  private readonly waiting = new Map<Fiber.Fiber<unknown, unknown>, QueryRequest>()

  /**
   * What an interrupted caller of a query runs: one Effect for the session, which finds the query by the
   * interrupted fiber. (A canceller per query, an Effect with a closure and its context, stayed in memory for as
   * long as the query waited: in a deep pipeline, a few percent of the time went to collecting it.)
   */
  private readonly abandonWaiting: Effect.Effect<void> = Effect.withFiber((fiber) => {
    const request = this.waiting.get(fiber)
    if (request === undefined) return Effect.void
    this.waiting.delete(fiber)
    request.waiter = undefined
    return this.abandon(request)
  })

  /**
   * Registers the current fiber as waiting on `request` and returns what `Effect.callback` runs if that fiber is
   * interrupted. Called from the callback's registration, which runs on the waiting fiber.
   */
  waitOn(request: QueryRequest): Effect.Effect<void> {
    const fiber = Fiber.getCurrent()
    if (fiber === undefined) return this.abandon(request)
    request.waiter = fiber
    this.waiting.set(fiber, request)
    return this.abandonWaiting
  }

  /** `request` is finished for good: its fiber no longer waits on it. */
  release(request: QueryRequest): void {
    const fiber = request.waiter
    if (fiber === undefined) return
    request.waiter = undefined
    if (this.waiting.get(fiber) === request) this.waiting.delete(fiber)
  }

  // -- waiting on requests ----------------------------------------------------

  /** Waits until `request` is done, at most `timeout` (on the clock in use); true if it is done. */
  awaitDone(request: Request, timeout: Duration.Duration): Effect.Effect<boolean> {
    if (request.done) return Effect.succeed(true)
    const settled = Effect.callback<boolean>((resume) => {
      const previous = request.onSettled
      request.onSettled = () => {
        previous?.()
        resume(Effect.succeed(true))
      }
    })
    return Effect.map(Effect.timeoutOption(settled, timeout), (done) => Option.isSome(done) || request.done)
  }


  /** Called when the connection becomes idle or closes: releases what waits for `settled`. */
  notifySettled(): void {
    const waiters = this.settledWaiters
    if (waiters.length === 0 || (!this.conn.idle && !this.conn.isClosed)) return
    this.settledWaiters = []
    for (const w of waiters) w()
  }

  /** Completes once the connection is idle (nothing in flight, pending or held) or closed. */
  readonly settled: Effect.Effect<void> = Effect.callback((resume) => {
    if (this.conn.idle || this.conn.isClosed) return resume(Effect.void)
    const waiter = () => resume(Effect.void)
    this.settledWaiters.push(waiter)
    return Effect.sync(() => {
      this.settledWaiters = this.settledWaiters.filter((w) => w !== waiter)
    })
  })

  // -- interruption -----------------------------------------------------------

  /**
   * The caller of `request` went away. Runs the cancellation sequence (see the
   * module header) and returns once the session is consistent again.
   *
   * `stop` lets streaming requests end their work without a cancel when they can
   * (a suspended portal just needs a Sync); it returns true when nothing is executing.
   */
  abandon(request: Request, stop?: () => boolean): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (request.done) return Effect.void
      if (!request.written) {
        this.conn.withdraw(request)
        request.discard = true
        request.done = true
        if (request instanceof QueryRequest) request.finish()
        return this.watchOwnWork()
      }
      request.discard = true
      if (stop?.() === true) return this.drain(request)
      // Behind other requests: not running yet, so a cancel would hit another request.
      // Its replies are dropped when they come.
      // It is cancelled when it reaches the head (`onDiscardedHead`).
      if (this.conn.current !== request) return Effect.void
      return this.cancelAfterGrace(request)
    })
  }

  /**
   * A caller gave up before its request was written, typically while the session prepared its statement or looked
   * its types up. When such work of the session's own is at the head of the pipeline, it gets the drain limit to
   * be answered, or the session breaks: on a silent link it never will be, and everything behind it would wait
   * forever. The caller is released at once; the watch runs on a fiber of its own. (The work is not cancelled:
   * other callers may wait on the same statement, and a cancel would fail them with 57014.)
   */
  private watchOwnWork(): Effect.Effect<void> {
    const head = this.conn.current
    if (head === undefined || head.done || !isOwnWork(head)) return Effect.void
    return Effect.asVoid(Effect.forkDetach(this.drain(head)))
  }

  /**
   * Waits for `request` to reach ReadyForQuery within the drain limit, else breaks the session (a COPY FROM that
   * sent CopyFail and hears nothing back).
   */
  drainOrBreak(request: Request): Effect.Effect<void> {
    return this.drain(request)
  }

  private drain(request: Request): Effect.Effect<void> {
    return this.awaitDone(request, DRAIN_TIMEOUT).pipe(
      Effect.flatMap((done) => {
        if (!done) {
          this.conn.breakWith(
            new PgError({
              reason: new TimeoutError({
                message: `the session did not return to ReadyForQuery within ${DRAIN_TIMEOUT_MILLIS} ms`,
                operation: "drain",
                timeoutMillis: DRAIN_TIMEOUT_MILLIS
              })
            })
          )
        }
        return Effect.void
      })
    )
  }

  private cancelAndDrain(request: Request): Effect.Effect<void> {
    const conn = this.conn
    const self = this
    return Effect.gen(function*() {
      if (request.done || conn.isClosed) return
      conn.hold()
      self.markAtRisk(request)
      const cancel = yield* Effect.forkDetach(
        sendCancel(self.openSide, conn.processId, conn.secretKey).pipe(Effect.exit)
      )
      const done = yield* self.awaitDone(request, DRAIN_TIMEOUT)
      const cancelExit = yield* Fiber.join(cancel)
      if (!done) {
        const reason = Exit.isFailure(cancelExit)
          ? "the cancel request failed and the query did not finish"
          : "the server did not answer the cancel"
        conn.breakWith(
          new PgError({
            reason: new CancelError({
              message: `${reason} within ${DRAIN_TIMEOUT_MILLIS} ms; the session was closed`
            })
          })
        )
      }
      conn.unhold()
      self.notifySettled()
    })
  }

  /**
   * Requests written after `target` may be hit by its cancel: mark them, so the engine runs them once more if they
   * fail with 57014 outside a transaction block (queries, simple queries and batches; see `Settle`).
   */
  private markAtRisk(target: Request): void {
    // Every in-flight request other than the target is at risk (they are all after it: the target is the head).
    for (const request of this.conn.inflightRequests()) if (request !== target) request.atRiskOfStrayCancel = true
  }
}
