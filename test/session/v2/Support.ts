/**
 * Sessions on the shared PostgreSQL 13 server for the protocol 2.0 suites.
 */
import * as PgSession from "../../../src/session/Session.ts"
import { servers } from "../../support/Servers.ts"

/** A session on PostgreSQL 13 in clear, as `postgres`, speaking `version` (2.0 by default). */
export const connect13 = (options: Partial<PgSession.SessionOptions> = {}) =>
  PgSession.connect({
    host: servers().pg13.host,
    port: servers().pg13.port,
    user: "postgres",
    database: "postgres",
    sslMode: "disable",
    protocolVersion: "2.0",
    ...options
  })
