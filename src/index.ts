/**
 * effect-pgwire: the PostgreSQL frontend/backend protocol, implemented natively
 * on Effect.
 *
 * The only public entry point: every public module as a namespace.
 *
 * @since 0.1.0
 */

/** Sessions: connect, query, stream, COPY, LISTEN, cancel. @since 0.1.0 */
export * as PgSession from "./session/Session.ts"
/** Connection configuration: libpq connection strings, environment, service and password files. @since 0.1.0 */
export * as PgConfig from "./config/Config.ts"
/** Replication sessions: slots, logical change streams with acknowledgement, physical WAL streams. @since 0.1.0 */
export * as PgReplication from "./replication/PgReplication.ts"
/** Sessions in an Effect Pool: limits, timeouts, lifetime, health checks, multiplexing, metrics. @since 0.1.0 */
export * as PgPool from "./pool/Pool.ts"
/** Transactions on pooled sessions: BEGIN modes, savepoints, checked COMMIT, retry on conflicts. @since 0.1.0 */
export * as PgTransaction from "./pool/Transaction.ts"
export * as PgRouting from "./pool/Routing.ts"
/** The `effect/sql` SqlClient layer (drop-in for `@effect/sql-pg`'s PgClient). @since 0.1.0 */
export * as PgClient from "./sql/PgClient.ts"
/** `effect/sql` migrations under an advisory lock. @since 0.1.0 */
export * as PgMigrator from "./sql/PgMigrator.ts"
/** The `effect/sql` statement compiler for PostgreSQL. @since 0.1.0 */
export * as PgCompiler from "./sql/Compiler.ts"
/** PgError to `effect/sql` SqlError reasons. @since 0.1.0 */
export * as PgSqlErrors from "./sql/SqlErrors.ts"
/** The error type and its reasons. @since 0.1.0 */
export * as PgError from "./errors/PgError.ts"
/** The server engine: real PostgreSQL clients connect to an Effect handler. @since 0.1.0 */
export * as PgServer from "./server/PgServer.ts"
/** A connection pooler on PgServer: transaction or session mode, prepared statements and cancels that stay with their client. @since 0.1.0 */
export * as PgProxy from "./proxy/PgProxy.ts"
/** SQLSTATE table and classification. @since 0.1.0 */
export * as SqlState from "./errors/SqlState.ts"
/** Typed parameters and value shapes. @since 0.1.0 */
export * as PgTypes from "./types/PgTypes.ts"
/** The type registry (codecs by OID and name). @since 0.1.0 */
export * as PgRegistry from "./types/Registry.ts"
/** Messages sent by the client. @since 0.1.0 */
export * as Frontend from "./protocol/Frontend.ts"
/** Messages sent by the server. @since 0.1.0 */
export * as Backend from "./protocol/Backend.ts"
/** Start-up phase frames (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest). @since 0.1.0 */
export * as Startup from "./protocol/Startup.ts"
/** The codec shape shared by every message. @since 0.1.0 */
export * as Message from "./protocol/Message.ts"
/** ErrorResponse/NoticeResponse fields. @since 0.1.0 */
export * as ErrorFields from "./protocol/ErrorFields.ts"
/** Streaming replication CopyData payloads. @since 0.1.0 */
export * as Replication from "./protocol/Replication.ts"
/** Logical replication (pgoutput) messages. @since 0.1.0 */
export * as PgOutput from "./protocol/PgOutput.ts"
/** Protocol 2.0 messages. @since 0.1.0 */
export * as V2 from "./protocol/V2.ts"
/** PQtrace-style rendering. @since 0.1.0 */
export * as Trace from "./protocol/Trace.ts"
/** Incremental framing. @since 0.1.0 */
export * as Framer from "./wire/Framer.ts"
/** Frame reading. @since 0.1.0 */
export * as Reader from "./wire/Reader.ts"
/** Frame writing. @since 0.1.0 */
export * as Writer from "./wire/Writer.ts"
/** SCRAM-SHA-256 (client and server). @since 0.1.0 */
export * as Scram from "./auth/Scram.ts"
/** MD5 password authentication. @since 0.1.0 */
export * as Md5 from "./auth/Md5.ts"
/** require_auth / channel_binding policy. @since 0.1.0 */
export * as AuthPolicy from "./auth/AuthPolicy.ts"
