/**
 * `PgSession`: one PostgreSQL connection as an Effect service.
 *
 * **Details**
 *
 * `connect(options)` opens a Scoped session: the socket, the startup and
 * authentication exchange, and on scope close a Terminate and the socket's
 * end. Queries are Effects (`query`, `simple`, `batch`, `functionCall`) or
 * Streams (`stream`, `copyTo`); `copyFrom` is a Sink; prepared statements and
 * LISTEN subscriptions are Scoped resources.
 *
 * Concurrent fibers may share a session: their requests are pipelined (each
 * ends in its own Sync, so an error fails only its own request) and replies
 * are routed strictly in order.
 *
 * Interruption (of a query fiber, a stream consumer, or an `Effect.timeout`)
 * runs the cancellation sequence (`Interruption`):
 * 1. a request not yet written is withdrawn: nothing is sent;
 * 2. a request already answered needs nothing;
 * 3. otherwise, after `CANCEL_GRACE_MILLIS`, a CancelRequest goes out on a side
 *    connection with the session's transport settings, while the session holds
 *    the wire so nothing new is written;
 * 4. the session drains to ReadyForQuery within `DRAIN_TIMEOUT_MILLIS`; the
 *    interrupted request's rows are dropped, never delivered to anyone else;
 * 5. if the drain does not finish, the session is broken (and a pool retires it);
 * 6. requests already pipelined behind the cancelled one that fail with
 *    57014 query_canceled outside a transaction are re-run once: the cancel
 *    reached the backend after its target had finished.
 *
 * Where each part lives: `Api` (options, the `Session` interface), `Connect`
 * (hosts, encryption, start-up), `Service` (the operations), `Engine` (the
 * statement cache and the settle decisions of `Settle`), `TypeLookup`,
 * `Interruption`, `Connection` (the FIFO of requests and its reader, judged
 * by `State`), `SocketIo` (the socket's bytes both ways), `Dispatch` (replies
 * outside the row path), `Breaks` (why a connection broke), `Requests` and
 * `Streaming` (what each request writes and receives).
 *
 * @since 0.1.0
 */

export * from "./Api.ts"
export { connect, DEFAULT_CONNECT_TIMEOUT_MILLIS, layer } from "./Connect.ts"
export { CANCEL_GRACE_MILLIS, DRAIN_TIMEOUT_MILLIS } from "./Interruption.ts"
export { ObserveSessions } from "./Observe.ts"
export { ProtocolTraceLevel, setProtocolTrace } from "./ProtocolLog.ts"
export { MAX_IDENTIFIER_BYTES, quoteIdentifier, STATEMENT_CLOSE_TIMEOUT_MILLIS } from "./Service.ts"
export type { TargetSessionAttrs } from "./Api.ts"
