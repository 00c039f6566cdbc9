/**
 * A client's simple Query on its way upstream, and what the session commands
 * among them do to the client and its upstream.
 *
 * **Details**
 *
 * - Before: the statement's effect on session state (`SessionState.ts`): a
 *   pin, DISCARD ALL, RESET ALL, or a DEALLOCATE of the client's own
 *   statements the proxy answers itself. A Query also destroys the client's
 *   unnamed statement (protocol-3.2 "Extended Query").
 * - After (its CommandComplete, `reset`): DISCARD ALL or RESET ALL ran, so
 *   the values the proxy set upstream beyond those the server reports are no
 *   longer known (RESET ALL may yet be rolled back) and are set again, or
 *   reset, for the next client; DISCARD ALL also drops the statements, the
 *   client's names and its pin.
 *
 * @since 0.1.0
 */
import { Frontend as In } from "../wire/Codes.ts"
import * as Prepared from "./Prepared.ts"
import { cstringEnd, Kind, SHARED, text } from "./Replies.ts"
import * as SessionState from "./SessionState.ts"

/**
 * What the commands need of a client's relay.
 *
 * @since 0.1.0
 */
export interface Host extends Prepared.Host {
  /** The client's transaction status. */
  readonly status: "I" | "T" | "E"
  readonly mode: "session" | "transaction"
  /** Counts one query (admin `SHOW CLIENTS`, `SHOW STATS`). */
  readonly countQuery: () => void
  /** Drops the client's pin. */
  readonly unpin: () => void
}

/**
 * Handles one simple Query of the client.
 *
 * @since 0.1.0
 */
export const query = (host: Host, body: Uint8Array): void => {
  const sql = text(body, 0, cstringEnd(body, 0))
  host.countQuery()
  host.unnamed.rest = undefined
  host.unnamed.here = false
  let discardAll = false
  let resetAll = false
  if (SessionState.mayAffectSession(sql)) {
    const effect = SessionState.classify(sql, host.tracked)
    switch (effect._tag) {
      case "Pin":
        host.pin(effect.why)
        break
      case "DiscardAll":
        discardAll = true
        break
      case "ResetAll":
        resetAll = true
        break
      case "Deallocate":
        if (Prepared.deallocate(host, effect.name, host.status)) return
        break
      case "None":
        break
    }
  }
  host.forward(In.Query, body, discardAll || resetAll ? { kind: Kind.Query, discardAll, resetAll } : SHARED.Query)
}

/**
 * The CommandComplete of a Query that held DISCARD ALL or RESET ALL (its tag
 * in `buf[start, end)`).
 *
 * @since 0.1.0
 */
export const reset = (host: Host, buf: Uint8Array, start: number, end: number): void => {
  const tag = text(buf, start, end).replace(/\0$/, "")
  const discard = tag === "DISCARD ALL"
  if (!discard && tag !== "RESET") return
  const upstream = host.upstream
  if (upstream !== undefined) {
    for (const name of upstream.extraSettings) upstream.settings.delete(name)
    upstream.alignedTo = undefined
    if (discard) upstream.statements.clear()
  }
  if (!discard) return
  host.statements.clear()
  if (host.mode === "transaction") host.unpin()
}
