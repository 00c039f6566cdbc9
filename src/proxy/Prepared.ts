/**
 * A client's Parse, Bind, Describe and Close of named statements, translated
 * for the upstream that serves it (`Statements.ts` holds the names and the
 * per-upstream tables).
 *
 * **Details**
 *
 * - Parse of a named statement: the client's name is recorded with its Parse
 *   body; an upstream that already has the statement (another client's, or
 *   this client's on an earlier loan) is not asked again, the proxy answers
 *   ParseComplete itself; without an upstream the proxy answers too, and the
 *   Parse is replayed where the statement is first used.
 * - Bind and Describe of a named statement name the upstream statement; an
 *   upstream lacking it gets the Parse first, whose reply is dropped.
 * - Close of a named statement forgets the client's name; the upstream keeps
 *   the statement (other clients may share it; the LRU closes it in time).
 * - Portals are the client's alone on its loan: their messages go upstream
 *   unchanged. So is the unnamed statement, but it lives until the next
 *   unnamed Parse or Query (protocol-3.2 "Extended Query"), across
 *   transactions: the client's Parse body is kept, and an upstream that does
 *   not have it from this loan gets it again before a Bind or Describe of
 *   the unnamed statement (it may hold another client's); without one the
 *   proxy answers 26000 as the server would.
 * - `DEALLOCATE` of the client's names is answered by the proxy.
 * - A name the client prepared twice is 42P05, an unknown one 26000, as the
 *   server says; the rest of the batch is then dropped until Sync.
 *
 * @since 0.1.0
 */
import * as ServerError from "../server/ServerError.ts"
import { Frontend as In } from "../wire/Codes.ts"
import { backend, CLOSE_COMPLETE, cstringEnd, type Entry, Kind, PARSE_COMPLETE, SHARED, text } from "./Replies.ts"
import * as SessionState from "./SessionState.ts"
import { type ClientStatement, upstreamNameOf } from "./Statements.ts"
import type { Upstream } from "./Upstream.ts"

/**
 * What the translation needs of a client's relay.
 *
 * @since 0.1.0
 */
export interface Host {
  /** The client's statements by its own names. */
  readonly statements: Map<string, ClientStatement>
  readonly upstream: Upstream | undefined
  /** Records what a message written upstream is owed. */
  readonly expect: (entry: Entry) => void
  /** Queues a reply of the proxy's own. */
  readonly reply: (entry: Entry) => void
  /** Replies an error of the proxy's own; the batch is dropped until Sync. */
  readonly fail: (error: ServerError.ServerError) => void
  /** Writes a client message upstream unchanged. */
  readonly forward: (type: number, body: Uint8Array, entry: Entry | undefined) => void
  /** The client's unnamed statement. */
  readonly unnamed: Unnamed
  /** A statement that leaves state in the backend. */
  readonly pin: (why: string) => void
  readonly tracked: (name: string) => boolean
}

/**
 * A client's unnamed statement: the Parse body after the name (none once a
 * Query, a Close or a failed Parse destroyed it), and whether the upstream
 * the client holds has it from this loan.
 *
 * @since 0.1.0
 */
export interface Unnamed {
  rest: Uint8Array | undefined
  here: boolean
}

const UNNAMED_PARSE: Entry = Object.freeze({ kind: Kind.Parse, unnamed: true })
const UNNAMED_REPLAY: Entry = Object.freeze({ kind: Kind.ParseHidden, unnamed: true })

/** Whether the upstream has the client's unnamed statement now: replayed there if not; false (and 26000 sent) if the client has none. */
const unnamedFor = (host: Host, upstream: Upstream): boolean => {
  const unnamed = host.unnamed
  if (unnamed.here) return true
  if (unnamed.rest === undefined) {
    host.fail(ServerError.make("26000", "unnamed prepared statement does not exist"))
    return false
  }
  upstream.writer.begin(In.Parse).cstring("").bytes(unnamed.rest).end()
  host.expect(UNNAMED_REPLAY)
  unnamed.here = true
  return true
}

/**
 * @since 0.1.0
 */
export const parse = (host: Host, body: Uint8Array): void => {
  const nameEnd = cstringEnd(body, 0)
  const rest = body.subarray(nameEnd + 1)
  const sql = text(rest, 0, cstringEnd(rest, 0))
  if (SessionState.mayAffectSession(sql)) {
    const effect = SessionState.classify(sql, host.tracked)
    if (effect._tag === "Pin") host.pin(effect.why)
  }
  if (nameEnd === 0) {
    if (host.upstream !== undefined) {
      host.unnamed.rest = rest.slice()
      host.unnamed.here = true
    }
    return host.forward(In.Parse, body, UNNAMED_PARSE)
  }
  const name = text(body, 0, nameEnd)
  if (host.statements.has(name)) return host.fail(ServerError.duplicateStatement(name))
  const statement: ClientStatement = { upstreamName: upstreamNameOf(rest), rest: rest.slice(), sql }
  host.statements.set(name, statement)
  const upstream = host.upstream
  if (upstream === undefined) return host.reply({ kind: Kind.Synthetic, bytes: PARSE_COMPLETE, clientName: name })
  if (upstream.statements.has(statement.upstreamName)) {
    upstream.statements.touch(statement.upstreamName)
    return host.reply({ kind: Kind.Synthetic, bytes: PARSE_COMPLETE, clientName: name })
  }
  writeParse(host, upstream, statement, Kind.Parse, name)
}

/** Writes Parse of `statement` under its upstream name (closing evicted statements first). */
const writeParse = (host: Host, upstream: Upstream, statement: ClientStatement, kind: Kind, clientName: string | undefined): void => {
  const w = upstream.writer
  for (const evicted of upstream.statements.add(statement.upstreamName)) {
    w.begin(In.Close).uint8(0x53).cstring(evicted).end()
    host.expect(SHARED.CloseHidden)
  }
  w.begin(In.Parse).cstring(statement.upstreamName).bytes(statement.rest).end()
  upstream.scheduleFlush()
  host.expect({ kind, upstreamName: statement.upstreamName, clientName })
}

/** The statement `name` on the current upstream: replayed there if it lacks it. Undefined (and an error sent) if unknown. */
const statementFor = (host: Host, upstream: Upstream, name: string): ClientStatement | undefined => {
  const statement = host.statements.get(name)
  if (statement === undefined) {
    host.fail(ServerError.unknownStatement(name))
    return undefined
  }
  if (upstream.statements.has(statement.upstreamName)) upstream.statements.touch(statement.upstreamName)
  else writeParse(host, upstream, statement, Kind.ParseHidden, undefined)
  return statement
}

/**
 * @since 0.1.0
 */
export const bind = (host: Host, body: Uint8Array): void => {
  const portalEnd = cstringEnd(body, 0)
  const nameEnd = cstringEnd(body, portalEnd + 1)
  const upstream = host.upstream
  if (upstream === undefined) return
  if (nameEnd === portalEnd + 1) {
    if (unnamedFor(host, upstream)) host.forward(In.Bind, body, SHARED.Bind)
    return
  }
  const statement = statementFor(host, upstream, text(body, portalEnd + 1, nameEnd))
  if (statement === undefined) return
  upstream.writer.begin(In.Bind)
    .bytes(body.subarray(0, portalEnd + 1))
    .cstring(statement.upstreamName)
    .bytes(body.subarray(nameEnd + 1))
    .end()
  upstream.scheduleFlush()
  host.expect(SHARED.Bind)
}

/**
 * @since 0.1.0
 */
export const describe = (host: Host, body: Uint8Array): void => {
  const target = body[0]
  const nameEnd = cstringEnd(body, 1)
  const upstream = host.upstream
  if (upstream === undefined) return
  if (target !== 0x53) return host.forward(In.Describe, body, SHARED.DescribePortal)
  if (nameEnd === 1) {
    if (unnamedFor(host, upstream)) host.forward(In.Describe, body, { kind: Kind.DescribeStatement })
    return
  }
  const statement = statementFor(host, upstream, text(body, 1, nameEnd))
  if (statement === undefined) return
  upstream.writer.begin(In.Describe).uint8(0x53).cstring(statement.upstreamName).end()
  upstream.scheduleFlush()
  host.expect({ kind: Kind.DescribeStatement })
}

/**
 * @since 0.1.0
 */
export const close = (host: Host, body: Uint8Array): void => {
  const nameEnd = cstringEnd(body, 1)
  if (body[0] === 0x53 && nameEnd > 1) {
    host.statements.delete(text(body, 1, nameEnd))
    return host.reply({ kind: Kind.Synthetic, bytes: CLOSE_COMPLETE })
  }
  if (body[0] === 0x53) {
    host.unnamed.rest = undefined
    host.unnamed.here = false
  }
  host.forward(In.Close, body, SHARED.Close)
}

/**
 * `DEALLOCATE name` or `DEALLOCATE ALL` alone in a Query, of the client's own
 * statements: the proxy forgets them and answers (upstream they stay, shared).
 * False when `name` is not the client's (the server answers: a SQL-level
 * PREPARE, or its 26000).
 *
 * @since 0.1.0
 */
export const deallocate = (host: Host, name: string | undefined, status: "I" | "T" | "E"): boolean => {
  if (name !== undefined && !host.statements.has(name)) return false
  if (name === undefined) host.statements.clear()
  else host.statements.delete(name)
  host.reply({
    kind: Kind.Synthetic,
    bytes: backend(
      { _tag: "CommandComplete", tag: name === undefined ? "DEALLOCATE ALL" : "DEALLOCATE" },
      { _tag: "ReadyForQuery", transactionStatus: status }
    ),
    ready: true
  })
  return true
}

/**
 * An entry the server skipped after an error in the batch (protocol-3.2
 * "Extended Query"): a Parse that did not run leaves no statement under its
 * names; for the unnamed statement, a failed Parse leaves none and a skipped
 * one may have left the previous, so it is not known to be on the upstream.
 *
 * @since 0.1.0
 */
export const forgetSkipped = (host: Host, skipped: Entry): void => {
  if (skipped.upstreamName !== undefined) host.upstream?.statements.remove(skipped.upstreamName)
  if (skipped.clientName !== undefined) host.statements.delete(skipped.clientName)
  if (skipped.unnamed === true) {
    host.unnamed.here = false
    if (skipped.kind === Kind.Parse) host.unnamed.rest = undefined
  }
}
