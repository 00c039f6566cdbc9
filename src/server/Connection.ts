/**
 * One server connection from the first byte to the close: admission
 * (start-up and authentication, `Admission.ts`), the command loop over
 * `Machine.step`, and the statement fibers a CancelRequest interrupts.
 *
 * **Details**
 *
 * - Everything the connection acquires lives in its Scope: the socket, the
 *   cancel registration, the portals' Scopes, the handler's resources.
 * - Each statement (a Query's outcomes, Parse, Execute, FunctionCall) runs in a
 *   child fiber held in a slot while it runs. A matching CancelRequest
 *   interrupts the fiber in the slot (57014); the slot is emptied when the
 *   statement ends, so a late cancel finds nothing. A client that drops
 *   interrupts it too; Terminate ends the loop.
 * - One ReadyForQuery per Query and per Sync, never another; after an error in
 *   an extended message everything up to Sync is discarded.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Duplex } from "node:stream"
import * as Frontend from "../protocol/Frontend.ts"
import { Frontend as Code } from "../wire/Codes.ts"
import { Reader } from "../wire/Reader.ts"
import { admit, type Gate } from "./Admission.ts"
import { KEY_BYTES_3_0, KEY_BYTES_3_2 } from "./Cancel.ts"
import * as Copy from "./Copy.ts"
import { type Handler, type Outcome, Session } from "./Handler.ts"
import * as Machine from "./Machine.ts"
import { DEFAULT_MAX_MESSAGE_BYTES, type ServeOptions } from "./Options.ts"
import * as Portals from "./Portals.ts"
import * as ServerError from "./ServerError.ts"
import { AUTH_MESSAGE_MAX_BYTES, Wire } from "./Wire.ts"

/**
 * What every connection of one server shares.
 *
 * @since 0.1.0
 */
export interface Shared extends Gate {
  /** Live connections, for a fast shutdown. */
  readonly live: Set<Live>
}

/**
 * A live connection as the listener sees it.
 *
 * @since 0.1.0
 */
export interface Live {
  /** Sends FATAL `error`, interrupts the running statement and closes. */
  readonly terminate: (error: ServerError.ServerError) => void
}

type Extended = Extract<Frontend.FrontendMessage, { _tag: "Parse" | "Bind" | "Describe" | "Execute" | "Close" }>

const reader = new Reader()

/** The extended-protocol message types: an error in one discards the batch until Sync. */
const EXTENDED_TYPES: ReadonlySet<number> = new Set([Code.Parse, Code.Bind, Code.Execute, Code.Describe, Code.Close, Code.Flush])
/** Message types answered by a ReadyForQuery even when they fail. */
const READY_TYPES: ReadonlySet<number> = new Set([Code.Query, Code.Sync, Code.FunctionCall])

/**
 * What a message that did not decode costs, as PostgreSQL 18's `postgres.c`:
 * an unknown type ends the connection (FATAL 08P01, the stream cannot be
 * trusted); a known type with malformed contents is an ERROR (08P01, or 22021
 * for bytes that are not UTF-8) and the session goes on; Terminate ends it
 * whatever follows; CopyData, CopyDone and CopyFail outside COPY are ignored
 * unread.
 */
const malformed = (
  type: number,
  message: string
): "Fatal" | "Terminate" | "Ignore" | { readonly error: ServerError.ServerError; readonly extended: boolean } => {
  if (type === Code.Terminate) return "Terminate"
  if (type === Code.CopyData || type === Code.CopyDone || type === Code.CopyFail) return "Ignore"
  const extended = EXTENDED_TYPES.has(type)
  if (!extended && !READY_TYPES.has(type)) return "Fatal"
  const error = message.includes("invalid UTF-8")
    ? ServerError.make("22021", `invalid byte sequence for encoding "UTF8": ${message}`)
    : ServerError.protocolViolation(`invalid message format: ${message}`, "ERROR")
  return { error, extended }
}

const durationMillis = (input: Duration.Input | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(Duration.fromInputUnsafe(input))

/** Sends an ErrorResponse (or a NoticeResponse fallback never needed: the fields come from a ServerError). */
const sendError = (wire: Wire, error: ServerError.ServerError): void => {
  wire.send({ _tag: "ErrorResponse", fields: ServerError.toFields(error) })
}

/**
 * Refuses a connection before reading from it: FATAL `error`, then the close.
 *
 * @since 0.1.0
 */
export const refuseAtOnce = (socket: Duplex, error: ServerError.ServerError): void => {
  const wire = new Wire(socket, AUTH_MESSAGE_MAX_BYTES)
  sendError(wire, error)
  wire.close()
}

/**
 * Serves one connection over `socket` until it closes. Never fails: every
 * problem becomes an ErrorResponse (FATAL when the connection cannot go on).
 * With `refusal`, start-up runs (so SSLRequest is answered as usual) and the
 * refusal is sent FATAL in place of authentication (53300 over the limit).
 *
 * @since 0.1.0
 */
export const run = <R>(
  socket: Duplex,
  options: ServeOptions<R>,
  shared: Shared,
  refusal?: ServerError.ServerError
): Effect.Effect<void, never, Exclude<R, Session>> =>
  Effect.scoped(Effect.gen(function*() {
    const wire = new Wire(socket, options.limits?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES)
    yield* Effect.addFinalizer(() => Effect.sync(() => wire.close()))

    // The running statement: what a CancelRequest, a dropped client or a shutdown interrupts.
    let running: { readonly fiber: Fiber.Fiber<unknown, unknown>; canceled: boolean } | undefined
    const interruptRunning = (canceled: boolean) => {
      const current = running
      if (current !== undefined) {
        current.canceled = canceled
        current.fiber.interruptUnsafe()
      }
    }
    wire.onClose(() => interruptRunning(false))
    let shutdown: ServerError.ServerError | undefined
    const live: Live = {
      terminate: (error) => {
        shutdown = error
        try {
          sendError(wire, error)
        } catch {
          // A ServerError's fields always encode.
        }
        interruptRunning(false)
        wire.close()
      }
    }
    shared.live.add(live)
    yield* Effect.addFinalizer(() => Effect.sync(() => shared.live.delete(live)))

    // --- start-up and authentication, under one time limit ---
    const admitted = yield* admit(wire, options, shared, refusal)
    if (admitted === undefined) return
    const { negotiated, values, info } = admitted
    if (options.takeover !== undefined) {
      let onCancel: () => void = () => {}
      const taken = yield* shared.registry.register(
        negotiated.minor >= 2 ? KEY_BYTES_3_2 : KEY_BYTES_3_0,
        () => onCancel()
      )
      const sent = new Map(Object.entries(values))
      for (const [name, value] of sent) wire.send({ _tag: "ParameterStatus", name, value })
      wire.send({ _tag: "BackendKeyData", processId: taken.processId, secretKey: taken.secretKey })
      wire.send({ _tag: "ReadyForQuery", transactionStatus: "I" })
      yield* wire.flush
      return yield* options.takeover({
        info,
        wire,
        processId: taken.processId,
        parameters: sent,
        onCancel: (f) => {
          onCancel = f
        }
      })
    }
    let handler: Handler<R>
    if (typeof options.handler === "function") {
      const made = yield* Effect.exit(options.handler(info))
      if (Exit.isFailure(made)) {
        sendError(wire, ServerError.fatal(Copy.failureOf(made.cause)))
        return
      }
      handler = made.value
    } else {
      handler = options.handler
    }
    const key = yield* shared.registry.register(
      negotiated.minor >= 2 ? KEY_BYTES_3_2 : KEY_BYTES_3_0,
      () => interruptRunning(true)
    )
    const parameterValues = new Map(Object.entries(values))
    for (const [name, value] of parameterValues) wire.send({ _tag: "ParameterStatus", name, value })
    wire.send({ _tag: "BackendKeyData", processId: key.processId, secretKey: key.secretKey })

    let state = Machine.initial
    const session = Session.of({
      processId: key.processId,
      protocol: { major: 3, minor: negotiated.minor },
      startup: negotiated.parameters,
      user: negotiated.user,
      database: negotiated.database,
      tls: negotiated.tls === undefined
        ? Option.none()
        : Option.some({
          sni: (negotiated.tls as unknown as { servername?: string | false }).servername || undefined,
          alpn: negotiated.tls.alpnProtocol || undefined
        }),
      transactionStatus: Effect.sync(() => state.transaction),
      setParameter: (name, value) =>
        Effect.suspend(() => {
          parameterValues.set(name, value)
          wire.send({ _tag: "ParameterStatus", name, value })
          return wire.flush
        }),
      notice: (fields) =>
        Effect.suspend(() => {
          wire.send({ _tag: "NoticeResponse", fields })
          return wire.flush
        }),
      notify: (channel, payload, processId) =>
        Effect.suspend(() => {
          wire.send({ _tag: "NotificationResponse", processId: processId ?? key.processId, channel, payload })
          return wire.flush
        })
    })
    const statementMillis = options.limits?.statementTimeout === undefined
      ? 0
      : durationMillis(options.limits.statementTimeout, 0)

    /**
     * Runs one statement in a child fiber registered for cancellation. Succeeds
     * with its value or the ServerError the client must see.
     */
    const statement: <A>(
      effect: Effect.Effect<A, ServerError.ServerError, R | Session>
    ) => Effect.Effect<{ readonly ok: A } | { readonly error: ServerError.ServerError }, never, Exclude<R, Session>> = Effect
      .fnUntraced(function*(effect: Effect.Effect<unknown, ServerError.ServerError, R | Session>) {
        let timedOut = false
        const bounded = statementMillis > 0
          ? Effect.flatMap(Effect.timeoutOption(effect, Duration.millis(statementMillis)), (o) => {
            if (Option.isSome(o)) return Effect.succeed(o.value)
            timedOut = true
            return Effect.fail(ServerError.statementTimeout())
          })
          : effect
        const fiber = yield* Effect.forkChild(Effect.provideService(bounded, Session, session), { startImmediately: true })
        const slot = { fiber: fiber as Fiber.Fiber<unknown, unknown>, canceled: false }
        running = slot
        // A statement that waits: what earlier statements answered goes out now, not after it (registered first, so
        // a cancel or a drop while this flush waits for the socket still reaches the statement).
        if (fiber.pollUnsafe() === undefined) yield* wire.flush
        const exit = yield* Fiber.await(fiber)
        if (running === slot) running = undefined
        if (Exit.isSuccess(exit)) return { ok: exit.value }
        if (timedOut) return { error: ServerError.statementTimeout() }
        if (slot.canceled && Cause.hasInterrupts(exit.cause)) return { error: ServerError.queryCanceled() }
        if (Cause.hasDies(exit.cause)) yield* Effect.logWarning("server handler defect", exit.cause)
        return { error: Copy.failureOf(exit.cause) }
      }) as <A>(
        effect: Effect.Effect<A, ServerError.ServerError, R | Session>
      ) => Effect.Effect<{ readonly ok: A } | { readonly error: ServerError.ServerError }, never, Exclude<R, Session>>

    // --- extended-protocol objects ---
    const statements = new Map<string, Portals.Statement<R>>()
    const portals = new Map<string, Portals.Portal<R>>()
    const closePortal = (name: string) =>
      Effect.suspend(() => {
        const portal = portals.get(name)
        if (portal === undefined) return Effect.void
        portals.delete(name)
        return Portals.closePortal(portal)
      })
    const closeAllPortals = (except?: string) =>
      Effect.forEach([...portals.keys()].filter((k) => k !== except), closePortal, { discard: true })
    yield* Effect.addFinalizer(() => closeAllPortals())

    /** Applies an outcome's transaction effect; commit and rollback close the block's portals. */
    const applyTransaction = (transaction: "begin" | "commit" | "rollback" | undefined, current?: string) =>
      Effect.suspend(() => {
        state = Machine.completed(state, transaction)
        return transaction === "commit" || transaction === "rollback" ? closeAllPortals(current) : Effect.void
      })

    /** Sends one non-Rows outcome's frames; COPY FROM STDIN reads the client's data. Returns a FATAL when the client left. */
    // Per-message steps are made once per connection (Effect.fnUntraced): a generator function created per
    // message costs more than the rest of a simple query's bookkeeping.
    const sendOutcome: (
      outcome: Exclude<Outcome<R>, { _tag: "Rows" }>,
      extended: boolean
    ) => Effect.Effect<{ tag?: string; fatal?: ServerError.ServerError | undefined; gone?: boolean }, ServerError.ServerError, R> =
      Effect.fnUntraced(function*(outcome: Exclude<Outcome<R>, { _tag: "Rows" }>, extended: boolean) {
        switch (outcome._tag) {
          case "Command":
            return { tag: outcome.tag }
          case "Empty":
            wire.send({ _tag: "EmptyQueryResponse" })
            return {}
          case "CopyOut":
            return { tag: yield* Copy.copyOut(wire, outcome) }
          case "CopyIn": {
            const result = yield* Copy.copyIn(wire, outcome, Machine.copyIn(state, extended))
            if (result._tag === "Done") return { tag: result.tag }
            if (result._tag === "Failed") return yield* Effect.fail(result.error)
            return { gone: true, fatal: result.fatal }
          }
        }
      })

    // --- simple Query ---
    let closing = false
    const notGone = { gone: false, transaction: undefined } as const
    const simpleQuery = Effect.fnUntraced(function*(sql: string) {
      statements.delete("")
      if (portals.size > 0) yield* closePortal("")
      const result = yield* statement(Stream.runForEachWhile(handler.simple(sql), (outcome) => {
        if (outcome._tag === "Rows") {
          // A simple query sends every row: no portal, no pull kept between messages.
          const formats = outcome.fields.map(() => 0 as const)
          const encode = Portals.encoders(outcome.fields, formats)
          if (encode instanceof ServerError.ServerError) return Effect.fail(encode)
          wire.send(Portals.rowDescription(outcome.fields, formats))
          return Effect.map(Portals.sendAllRows(wire, outcome.rows, encode), (sent) => {
            wire.send({ _tag: "CommandComplete", tag: (outcome.tag ?? Portals.selectTag)(sent) })
            return true
          })
        }
        return Effect.flatMap(sendOutcome(outcome, false), (sent) => {
          if (sent.gone === true) {
            closing = true
            if (sent.fatal !== undefined) sendError(wire, sent.fatal)
            return Effect.succeed(false)
          }
          if (sent.tag !== undefined) wire.send({ _tag: "CommandComplete", tag: sent.tag })
          return outcome._tag === "Command" ? Effect.as(applyTransaction(outcome.transaction), true) : Effect.succeed(true)
        })
      }))
      if (closing) return
      if ("error" in result) {
        sendError(wire, result.error)
        state = Machine.failed(state, false)
      }
      if (state.transaction === "I" && portals.size > 0) yield* closeAllPortals()
      wire.send({ _tag: "ReadyForQuery", transactionStatus: state.transaction })
      yield* wire.flushAtReady
    })

    // --- extended protocol ---
    const extendedMessage: (message: Extended) => Effect.Effect<ServerError.ServerError | undefined, never, Exclude<R, Session>> =
      Effect.fnUntraced(function*(message: Extended) {
        switch (message._tag) {
          case "Parse": {
            const prepare = handler.prepare
            if (prepare === undefined) {
              return ServerError.featureNotSupported("the extended query protocol is not supported by this server")
            }
            if (message.name !== "" && statements.has(message.name)) return ServerError.duplicateStatement(message.name)
            const result = yield* statement(
              prepare({ name: message.name, sql: message.query, paramTypes: message.parameterTypes })
            )
            if ("error" in result) return result.error
            statements.set(message.name, { name: message.name, sql: message.query, prepared: result.ok })
            wire.send({ _tag: "ParseComplete" })
            return undefined
          }
          case "Bind": {
            const stmt = statements.get(message.statement)
            if (stmt === undefined) return ServerError.unknownStatement(message.statement)
            if (message.portal !== "" && portals.has(message.portal)) return ServerError.duplicatePortal(message.portal)
            if (message.portal === "") yield* closePortal("")
            const params = Portals.bindParams(message, stmt.prepared.paramTypes)
            if (params instanceof ServerError.ServerError) return params
            const formats = Portals.resultFormats(stmt.prepared.fields, message.resultFormats)
            if (formats instanceof ServerError.ServerError) return formats
            const scope = yield* Scope.make()
            portals.set(message.portal, {
              name: message.portal,
              statement: stmt,
              params,
              formats,
              scope,
              outcome: undefined,
              rows: undefined,
              completedTag: undefined
            })
            wire.send({ _tag: "BindComplete" })
            return undefined
          }
          case "Describe": {
            if (message.target === "S") {
              const stmt = statements.get(message.name)
              if (stmt === undefined) return ServerError.unknownStatement(message.name)
              wire.send({ _tag: "ParameterDescription", parameterTypes: [...stmt.prepared.paramTypes] })
              const fields = stmt.prepared.fields
              wire.send(fields === null ? { _tag: "NoData" } : Portals.rowDescription(fields, fields.map(() => 0)))
              return undefined
            }
            const portal = portals.get(message.name)
            if (portal === undefined) return ServerError.unknownPortal(message.name)
            const fields = portal.statement.prepared.fields
            wire.send(fields === null ? { _tag: "NoData" } : Portals.rowDescription(fields, portal.formats))
            return undefined
          }
          case "Close": {
            if (message.target === "S") statements.delete(message.name)
            else yield* closePortal(message.name)
            wire.send({ _tag: "CloseComplete" })
            return undefined
          }
          case "Execute":
            return yield* execute(message.portal, message.maxRows)
        }
      })

    /**
     * Runs a portal up to `maxRows`; succeeds with `gone` when the client left
     * during COPY, and with the transaction effect of a Command outcome.
     */
    const runPortal = Effect.fnUntraced(function*(portal: Portals.Portal<R>, maxRows: number) {
      if (portal.outcome === undefined) {
        portal.outcome = yield* Scope.provide(portal.statement.prepared.execute(portal.params), portal.scope)
      }
      const outcome = portal.outcome
      if (outcome._tag === "Rows") {
        if (portal.rows === undefined && maxRows <= 0) {
          // Every row at the first Execute (most clients): sent straight from the stream, no pull kept in the portal.
          const encode = Portals.encoders(outcome.fields, portal.formats)
          if (encode instanceof ServerError.ServerError) return yield* Effect.fail(encode)
          const sent = yield* Portals.sendAllRows(wire, outcome.rows, encode)
          const tag = outcome.tag ?? Portals.selectTag
          portal.completedTag = tag(0)
          wire.send({ _tag: "CommandComplete", tag: tag(sent) })
          return notGone
        }
        if (portal.rows === undefined) portal.rows = yield* Portals.startRows(outcome, portal.formats, portal.scope)
        const rows = portal.rows
        const suspended = yield* Portals.pumpRows(wire, rows, maxRows)
        if (suspended) {
          wire.send({ _tag: "PortalSuspended" })
          return notGone
        }
        const tag = rows.tag(rows.sent)
        portal.completedTag = rows.tag(0)
        wire.send({ _tag: "CommandComplete", tag })
        return notGone
      }
      const sent = yield* sendOutcome(outcome, true)
      if (sent.gone === true) {
        if (sent.fatal !== undefined) sendError(wire, sent.fatal)
        return { gone: true, transaction: undefined }
      }
      if (sent.tag !== undefined) {
        wire.send({ _tag: "CommandComplete", tag: sent.tag })
        portal.completedTag = sent.tag
      }
      return { gone: false, transaction: outcome._tag === "Command" ? outcome.transaction : undefined }
    })

    const execute: (name: string, maxRows: number) => Effect.Effect<ServerError.ServerError | undefined, never, Exclude<R, Session>> =
      Effect.fnUntraced(function*(name: string, maxRows: number) {
        const portal = portals.get(name)
        if (portal === undefined) return ServerError.unknownPortal(name)
        if (portal.completedTag !== undefined) {
          wire.send({ _tag: "CommandComplete", tag: portal.completedTag })
          return undefined
        }
        const result = yield* statement(runPortal(portal, maxRows))
        if ("error" in result) return result.error
        if (result.ok.gone) {
          closing = true
          return undefined
        }
        yield* applyTransaction(result.ok.transaction, name)
        return undefined
      })

    const functionCall = Effect.fnUntraced(function*(message: Extract<Frontend.FrontendMessage, { _tag: "FunctionCall" }>) {
      const call = handler.functionCall
      const result = call === undefined
        ? { error: ServerError.featureNotSupported("function calls are not supported by this server") }
        : yield* statement(call(message.functionOid, message.arguments.map((a) => (a === null ? null : a.slice())), message.resultFormat))
      if ("error" in result) {
        sendError(wire, result.error)
        state = Machine.failed(state, false)
      } else {
        wire.send({ _tag: "FunctionCallResponse", result: result.ok })
      }
      wire.send({ _tag: "ReadyForQuery", transactionStatus: state.transaction })
      yield* wire.flushAtReady
    })

    wire.send({ _tag: "ReadyForQuery", transactionStatus: "I" })
    yield* wire.flush

    // --- the command loop ---
    while (!closing && shutdown === undefined) {
      const frame = yield* wire.take
      if (!("type" in frame)) {
        if (frame._tag === "Malformed") sendError(wire, ServerError.protocolViolation(frame.message))
        return
      }
      let message: Frontend.FrontendMessage
      try {
        message = Frontend.readUnsafe(frame.type, frame.body, 0, frame.body.length, reader)
      } catch (e) {
        const recovery = malformed(frame.type, (e as Error).message)
        if (recovery === "Fatal") {
          sendError(wire, ServerError.protocolViolation((e as Error).message))
          return
        }
        if (recovery === "Terminate") return
        // The framing is intact, so only this message is lost (postgres.c reads a message's fields after its
        // frame): an ERROR, then as after any failed message of its kind. While discarding, PostgreSQL skips
        // every message but Sync unread, so a malformed one goes unnoticed.
        if (recovery === "Ignore" || (state.phase._tag === "Discarding" && frame.type !== Code.Sync)) continue
        sendError(wire, recovery.error)
        state = Machine.failed(state, recovery.extended)
        if (!recovery.extended) {
          if (state.transaction === "I") yield* closeAllPortals()
          wire.send({ _tag: "ReadyForQuery", transactionStatus: state.transaction })
          yield* wire.flushAtReady
        }
        continue
      }
      const transition = Machine.step(state, message)
      state = transition.state
      const action = transition.action
      switch (action._tag) {
        case "Ignore":
          break
        case "Terminate":
          return
        case "Fatal":
          sendError(wire, ServerError.protocolViolation(action.message))
          return
        case "Flush":
          yield* wire.flush
          break
        case "Sync":
          if (state.transaction === "I") yield* closeAllPortals()
          wire.send({ _tag: "ReadyForQuery", transactionStatus: state.transaction })
          yield* wire.flushAtReady
          break
        case "Run": {
          const m = action.message
          if (m._tag === "Query") {
            yield* simpleQuery(m.query)
          } else if (m._tag === "FunctionCall") {
            yield* functionCall(m)
          } else {
            const error = yield* extendedMessage(m)
            if (error !== undefined && !closing) {
              sendError(wire, error)
              state = Machine.failed(state, true)
              if (ServerError.isFatal(error)) return
            }
          }
          break
        }
        default:
          // Copy actions only arise in the CopyIn phase, which Copy.copyIn drives.
          sendError(wire, ServerError.protocolViolation(`unexpected ${action._tag}`))
          return
      }
    }
  })).pipe(
    // The loop turns every failure into an ErrorResponse; a defect here is a bug of the engine, kept off the listener.
    Effect.catchCause((cause) => Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.logError("server connection defect", cause))
  ) as Effect.Effect<void, never, Exclude<R, Session>>
