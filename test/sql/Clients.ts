/**
 * Helpers shared by the `effect/sql` suites: unique names, a `PgClient`
 * layer on the main test server, and a plain session to watch the server.
 */
import * as PgClient from "../../src/sql/PgClient.ts"
import * as PgSession from "../../src/session/Session.ts"
import { servers } from "../support/Servers.ts"

let counter = 0

/** A name no other test (of this process or another) uses. */
export const unique = (prefix: string) => `${prefix}_${process.pid}_${++counter}_${Math.floor(Math.random() * 1e6)}`

/** A client configuration for the main server, as `postgres`, with a pool of its own. */
export const config = (extra: Partial<PgClient.PgClientConfig> = {}): PgClient.PgClientConfig => ({
  host: servers().main.host,
  port: servers().main.port,
  username: "postgres",
  database: "postgres",
  name: unique("client"),
  ...extra
})

/** `PgClient.layer(config(extra))`. */
export const layer = (extra: Partial<PgClient.PgClientConfig> = {}) => PgClient.layer(config(extra))

/** A session of its own, to look at the server from outside the client. */
export const monitor = () =>
  PgSession.connect({ host: servers().main.host, port: servers().main.port, user: "postgres", database: "postgres" })
