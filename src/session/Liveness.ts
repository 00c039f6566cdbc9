/**
 * Liveness: how a session notices that its connection went silent when no
 * caller's timeout would (a stalled network path, a dead NAT entry, a peer
 * whose sockets stay open but forward nothing), and a frame whose length
 * promised bytes that never come.
 *
 * **Details**
 *
 * TCP keepalive does not help here: it probes only an idle socket, and with
 * unacknowledged data in flight (a query just sent) it never fires. So the
 * session watches the bytes itself, on one timer:
 * - A request waits (something in flight, reading not paused by a slow
 *   consumer) and nothing has arrived or gone out for `livenessCheckAfter`:
 *   the session checks that the server still answers on a side connection
 *   opened as the session's own was (same endpoint, same TLS), which sends
 *   GSSENCRequest in clear (the server answers one byte, logs nothing, and
 *   forks a backend only for that byte) or completes its TLS handshake. No
 *   answer within `livenessProbeTimeout` breaks the session. An answer means
 *   the server is reachable and the query may simply be long: the session goes
 *   on waiting, and checks again after another `livenessCheckAfter`.
 * - Part of a frame is buffered and the rest has not come for
 *   `livenessCheckAfter` (a length corrupted upward waits for bytes that will
 *   never come): the same check; either way the session breaks (the server
 *   sends a message whole, so a frame stopped in the middle while the server
 *   answers means its length cannot be trusted).
 * - A listening session with nothing in flight writes a Sync every
 *   `listenCheckInterval` (the server answers ReadyForQuery, whatever the
 *   transaction state); no answer within `livenessProbeTimeout` breaks it, so
 *   its notification streams fail loudly instead of going quiet.
 *
 * The protocol 2.0 session is watched by the same rules: its wire exposes the
 * same facts (`Watched`), and its listening check is an empty Query (2.0 has
 * no Sync; the server answers EmptyQueryResponse and ReadyForQuery).
 *
 * What the side check cannot see: a path that is dead for this connection
 * alone while new connections still get through. There, only the caller's
 * timeout (or `queryTimeout`) ends the wait, and a listening session's Sync.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Net from "node:net"
import { ConnectionError, PgError, ProtocolError } from "../errors/PgError.ts"
import type * as Backend from "../protocol/Backend.ts"
import * as Frontend from "../protocol/Frontend.ts"
import type { Writer } from "../wire/Writer.ts"
import type { Connection } from "./Connection.ts"
import { Request } from "./Request.ts"

/** Silence while a request waits before the session checks that the server still answers. */
export const LIVENESS_CHECK_AFTER_MILLIS = 15_000
/** How long the check (a side connection's answer, a listening session's Sync) may take. */
export const LIVENESS_PROBE_TIMEOUT_MILLIS = 5_000
/** How often a listening session with nothing in flight checks its own connection. */
export const LISTEN_CHECK_INTERVAL_MILLIS = 30_000
/** The timer never ticks more often than this. */
const MIN_TICK_MILLIS = 25

/** GSSENCRequest (protocol-3.2 "GSSENCRequest"): any server answers it with one byte ('N' without GSSAPI). */
const GSSENC_REQUEST = new Uint8Array([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30])

/**
 * The settings, in milliseconds (0: off).
 *
 * @since 0.1.0
 */
export interface LivenessSettings {
  readonly checkAfter: number
  readonly probeTimeout: number
  readonly listenInterval: number
}

/**
 * What the watch reads from a connection (the 3.x `Connection` and the 2.0 wire both have it).
 *
 * @since 0.1.0
 */
export interface Watched {
  readonly isClosed: boolean
  /** A connection still starting is not watched (the connect timeout bounds it). */
  readonly state?: { readonly _tag: string } | undefined
  /** When bytes last arrived from the server, and when bytes last went out (`Date.now()`). */
  readonly lastReceivedAt: number
  readonly lastSentAt: number
  /** Requests written and not answered yet. */
  readonly inflightCount: number
  /** Reading is paused for a slow consumer (the server's silence is then ours). */
  readonly readingPaused: boolean
  /** Part of a message is buffered and the rest has not come. */
  readonly midFrame: boolean
  /** Nothing queued, in flight or holding the wire. */
  readonly idle: boolean
  breakWith(error: PgError): void
}

/**
 * A listening session's check: sends something the server answers whatever the transaction state, and calls
 * `onDone` with whether it was answered.
 *
 * @since 0.1.0
 */
export type Ping = (onDone: (ok: boolean) => void) => void

/** A Sync alone: the server answers ReadyForQuery. */
class SyncPing extends Request {
  readonly onDone: (ok: boolean) => void
  constructor(onDone: (ok: boolean) => void) {
    super()
    this.onDone = onDone
  }
  encode(w: Writer): void {
    w.bytes(Frontend.SYNC)
  }
  complete(_conn: Connection, _status: Backend.TransactionStatus): void {
    this.onDone(true)
  }
  fail(): void {
    this.onDone(false)
  }
}

/**
 * Whether the server answers a side connection opened by `open` within `timeoutMillis`.
 *
 * @since 0.1.0
 */
export const serverAnswers = (
  open: Effect.Effect<Net.Socket, PgError>,
  timeoutMillis: number
): Effect.Effect<boolean> =>
  Effect.flatMap(open, (socket) =>
    Effect.callback<boolean>((resume) => {
      let finished = false
      const finish = (ok: boolean) => {
        if (finished) return
        finished = true
        socket.removeAllListeners("data")
        socket.destroy()
        resume(Effect.succeed(ok))
      }
      // A TLS socket has had its handshake answered already.
      if ((socket as { encrypted?: boolean }).encrypted === true) return finish(true)
      // Any answer through the path counts, a close too (a pooler that does not know GSSENCRequest hangs up).
      socket.once("data", () => finish(true))
      socket.once("end", () => finish(true))
      socket.once("close", () => finish(true))
      socket.once("error", () => finish(false))
      socket.write(GSSENC_REQUEST)
      return Effect.sync(() => socket.destroy())
    })).pipe(
      Effect.timeoutOption(timeoutMillis),
      Effect.map((answered) => answered._tag === "Some" && answered.value),
      Effect.catch(() => Effect.succeed(false))
    )

/**
 * The liveness watch of one session.
 *
 * @since 0.1.0
 */
export class Liveness {
  private readonly conn: Watched
  private readonly sendPing: Ping
  private readonly openSide: Effect.Effect<Net.Socket, PgError>
  private readonly settings: LivenessSettings
  private readonly listening: () => boolean
  private readonly tick: number
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  /** A check in progress. */
  private checking = false
  /** When the last check found the server answering (silence before it is not counted again). */
  private answeredAt = 0
  /** When the listening session's Sync went out, while it is unanswered. */
  private pingSentAt = 0
  /** Checks made so far (tests read it). */
  checks = 0

  constructor(
    conn: Connection,
    openSide: Effect.Effect<Net.Socket, PgError>,
    settings: LivenessSettings,
    listening: () => boolean
  )
  constructor(
    conn: Watched,
    openSide: Effect.Effect<Net.Socket, PgError>,
    settings: LivenessSettings,
    listening: () => boolean,
    ping: Ping
  )
  constructor(
    conn: Watched,
    openSide: Effect.Effect<Net.Socket, PgError>,
    settings: LivenessSettings,
    listening: () => boolean,
    ping?: Ping
  ) {
    this.conn = conn
    // Without a ping of its own the connection is a 3.x `Connection` (the first overload): a Sync.
    this.sendPing = ping ?? ((onDone) => (conn as Connection).submit(new SyncPing(onDone)))
    this.openSide = openSide
    // A check needs time to be answered: no positive limit means the default one (0 would break at every check).
    const positive = (n: number) => Number.isFinite(n) && n > 0
    this.settings = {
      checkAfter: positive(settings.checkAfter) ? settings.checkAfter : 0,
      listenInterval: positive(settings.listenInterval) ? settings.listenInterval : 0,
      probeTimeout: positive(settings.probeTimeout) ? settings.probeTimeout : LIVENESS_PROBE_TIMEOUT_MILLIS
    }
    settings = this.settings
    this.listening = listening
    const periods = [settings.checkAfter, settings.listenInterval, settings.probeTimeout].filter((p) => p > 0)
    this.tick = periods.length === 0 ? 0 : Math.max(MIN_TICK_MILLIS, Math.min(...periods) / 4)
    if (settings.checkAfter > 0 || settings.listenInterval > 0) this.arm()
  }

  /** Stops the timer (the session closed). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  private arm(): void {
    this.timer = setTimeout(this.onTick, this.tick)
    this.timer.unref?.()
  }

  private readonly onTick = (): void => {
    this.timer = undefined
    const conn = this.conn
    if (conn.isClosed) return
    this.arm()
    if (this.checking || conn.state?._tag === "Connecting" || conn.state?._tag === "Startup") return
    const now = Date.now()
    const { checkAfter, listenInterval, probeTimeout } = this.settings
    if (this.pingSentAt > 0) {
      if (probeTimeout > 0 && now - this.pingSentAt > probeTimeout) {
        return this.breakSilent(`a listening session's Sync was not answered within ${probeTimeout} ms`)
      }
      return
    }
    const quietSince = Math.max(conn.lastReceivedAt, conn.lastSentAt, this.answeredAt)
    if (conn.inflightCount > 0) {
      if (checkAfter <= 0 || conn.readingPaused || now - quietSince < checkAfter) return
      return this.check(now - quietSince, conn.midFrame)
    }
    if (listenInterval > 0 && conn.idle && this.listening() && now - quietSince >= listenInterval) this.ping(now)
  }

  private ping(now: number): void {
    this.pingSentAt = now
    this.sendPing((ok) => {
      this.pingSentAt = 0
      if (ok) this.answeredAt = Date.now()
    })
  }

  private check(silentMillis: number, midFrame: boolean): void {
    this.checking = true
    this.checks++
    Effect.runFork(
      Effect.map(serverAnswers(this.openSide, this.settings.probeTimeout), (answered) => {
        this.checking = false
        if (this.conn.isClosed) return
        // Bytes came while the check ran: nothing to decide.
        if (Date.now() - this.conn.lastReceivedAt < silentMillis) return
        if (!answered) {
          return this.breakSilent(
            `nothing came from the server for ${silentMillis} ms while a request waited, and it did not answer a ` +
              `liveness check within ${this.settings.probeTimeout} ms: the connection is silent`
          )
        }
        if (midFrame && this.conn.midFrame) {
          return this.conn.breakWith(
            new PgError({
              reason: new ProtocolError({
                message: `a message stopped in the middle for ${silentMillis} ms while the server answered a liveness ` +
                  `check: its length cannot be trusted`
              })
            })
          )
        }
        this.answeredAt = Date.now()
      })
    )
  }

  private breakSilent(message: string): void {
    this.conn.breakWith(new PgError({ reason: new ConnectionError({ message, requestSent: true }) }))
  }
}
