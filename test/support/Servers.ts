/**
 * The shared PostgreSQL servers, as seen from a test file.
 *
 * ```ts
 * import { PASSWORDS, servers } from "../support/Servers.ts"
 *
 * const { main, noTls, pg13 } = servers()
 * // main.host, main.port, main.socketDir, main.user, main.database,
 * // main.version, main.majorVersion, main.certs.caCert, ...
 * ```
 *
 * - `main`: PostgreSQL 18, TLS on (`ssl = on`, the run's certificates),
 *   `wal_level = logical`, every authentication method at once through per-role
 *   `pg_hba.conf` lines: `postgres` trust (also for replication), `md5user` md5,
 *   `passworduser` password, `scramuser` scram-sha-256, `certuser` cert
 *   (hostssl only), `ssluser` scram-sha-256 (hostssl only), `nossluser` trust
 *   (hostnossl only), `testuser` trust. Passwords are in `PASSWORDS`.
 * - `noTls`: PostgreSQL 18 with TLS off (SSLRequest is answered 'N'), same roles
 *   minus the hostssl lines.
 * - `pg13`: PostgreSQL 13 (accepts protocol 2.0), TLS off, same roles.
 * - `certs`: the run's certificate paths (`caCert`, `clientCert`/`clientKey` for
 *   certuser, `otherCaCert`, `wrongHostCert`, `expiredCert`, ...); every server's
 *   `certs` holds them too, also where TLS is off (check `tls`).
 *
 * Tests share these servers: create objects with unique names (or in a
 * temporary schema) and drop them afterwards. A test that needs other server
 * settings starts its own with `acquire` / `TestServer.layer` from
 * `EmbeddedPostgres.ts`.
 *
 * `servers()` only works inside vitest (the global setup provides the data);
 * scripts use `startServer` directly.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import { inject } from "vitest"
import type { CertPaths } from "./Certs.ts"
import type { ServerInfo } from "./EmbeddedPostgres.ts"

export type { CertPaths } from "./Certs.ts"
export { PASSWORDS, ROLES, type ServerInfo } from "./EmbeddedPostgres.ts"

/**
 * A server with TLS on: its certificates are always there.
 *
 * @since 0.1.0
 */
export interface TlsServerInfo extends ServerInfo {
  readonly tls: true
  readonly certs: CertPaths
}

/**
 * The servers the global setup starts for the whole run.
 *
 * @since 0.1.0
 */
export interface SharedServers {
  readonly main: TlsServerInfo
  /** TLS off; `certs` are the run's certificates all the same. */
  readonly noTls: ServerInfo & { readonly certs: CertPaths }
  /** TLS off; `certs` are the run's certificates all the same. */
  readonly pg13: ServerInfo & { readonly certs: CertPaths }
  /** The run's certificates (the same object as `main.certs`). */
  readonly certs: CertPaths
}

/**
 * The `provide`/`inject` key.
 *
 * @since 0.1.0
 */
export const PROVIDE_KEY = "effectPgwireServers"

declare module "vitest" {
  export interface ProvidedContext {
    effectPgwireServers: SharedServers
  }
}

/**
 * The shared servers' connection info.
 *
 * @since 0.1.0
 */
export const servers = (): SharedServers => {
  const provided = inject(PROVIDE_KEY)
  if (provided === undefined) {
    throw new Error(
      "the shared PostgreSQL servers are not available: run the tests through vitest with " +
        "test/support/GlobalSetup.ts as globalSetup (see vitest.config.ts)"
    )
  }
  return provided
}

/**
 * The shared servers as a service, for `it.layer(PgServers.layer)`.
 *
 * @since 0.1.0
 */
export class PgServers extends Context.Service<PgServers, SharedServers>()("effect-pgwire/test/support/PgServers") {
  static readonly layer: Layer.Layer<PgServers> = Layer.sync(PgServers, servers)
}
