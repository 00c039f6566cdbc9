/**
 * The connection attempts a configuration asks for, as pure decisions: which
 * hosts in which order, how each is reached, and the TLS settings that depend
 * on the host.
 *
 * **Details**
 *
 * libpq-connect.sgml "Specifying Multiple Hosts" and `load_balance_hosts`;
 * `pqConnectOptions2` and `PQconnectPoll` in `fe-connect.c`:
 *
 * - Hosts are tried in the order given; with `load_balance_hosts=random` the
 *   list is shuffled once, with libpq's "inside-out" Fisher-Yates, from an
 *   injectable random source (the addresses one name resolves to are shuffled
 *   again by the caller after DNS, as libpq does).
 * - A host with a `hostaddr` is reached at that address over TCP; otherwise a
 *   host starting with `/` (a directory) or `@` (Linux's abstract namespace)
 *   is a Unix-domain socket, anything else a name or address to resolve.
 * - `sslmode` does not apply to Unix-domain sockets: they connect in plain
 *   text whatever the mode (libpq's `init_allowed_encryption_methods`).
 * - TLS Server Name Indication carries the host name when `sslsni` is on and
 *   the host is not an IP address literal (`fe-secure-openssl.c`, RFC 6066).
 *   `verify-full` checks the certificate against the host name, or against the
 *   address when only `hostaddr` names the server.
 *
 * Deliberately not here: DNS, sockets, `target_session_attrs` checks (they
 * need a live session) and the second pass of `prefer-standby`.
 *
 * @since 0.1.0
 */
import type { HostSpec, LoadBalanceHosts, SslMode } from "./Vocabulary.ts"

/**
 * How one attempt reaches its server.
 *
 * @since 0.1.0
 */
export interface Attempt {
  /** Position of the host in the configuration. */
  readonly index: number
  readonly host: string
  readonly hostaddr: string | undefined
  readonly port: number
  /** `unix`: a socket in the directory `address`; `tcp`: `address` is a name or IP address to connect to. */
  readonly transport: "unix" | "tcp"
  readonly address: string
  /** The name TLS `verify-full` checks the certificate against. */
  readonly verifyName: string
}

/**
 * libpq's `is_unixsock_path` on POSIX: an absolute path, or `@` for the
 * abstract namespace.
 *
 * @since 0.1.0
 */
export const isUnixSocketPath = (host: string): boolean => host.startsWith("/") || host.startsWith("@")

/**
 * The attempt for one host.
 *
 * @since 0.1.0
 */
export const attempt = (spec: HostSpec, index = 0): Attempt => {
  const hostaddr = spec.hostaddr
  const unix = hostaddr === undefined && isUnixSocketPath(spec.host)
  return {
    index,
    host: spec.host,
    hostaddr,
    port: spec.port,
    transport: unix ? "unix" : "tcp",
    address: hostaddr ?? spec.host,
    verifyName: spec.host !== "" ? spec.host : hostaddr!
  }
}

/**
 * A source of random numbers in [0, 1), like `Math.random`.
 *
 * @since 0.1.0
 */
export type Random = () => number

/**
 * The attempts in the order to try them.
 *
 * @since 0.1.0
 */
export const attempts = (
  config: { readonly hosts: ReadonlyArray<HostSpec>; readonly loadBalanceHosts: LoadBalanceHosts },
  random: Random = Math.random
): ReadonlyArray<Attempt> => {
  const list = config.hosts.map((spec, index) => attempt(spec, index))
  if (config.loadBalanceHosts === "random") {
    // Inside-out Fisher-Yates: j uniform in [0, i], as pg_prng_uint64_range(0, i).
    for (let i = 1; i < list.length; i++) {
      const j = Math.min(i, Math.floor(random() * (i + 1)))
      const t = list[j]!
      list[j] = list[i]!
      list[i] = t
    }
  }
  return list
}

/**
 * The `sslmode` that applies to an attempt: `disable` over a Unix-domain
 * socket, the configured mode otherwise.
 *
 * @since 0.1.0
 */
export const sslModeFor = (config: { readonly sslMode: SslMode }, a: Attempt): SslMode =>
  a.transport === "unix" ? "disable" : config.sslMode

/**
 * The TLS Server Name Indication for an attempt, or `undefined` when none is
 * sent (`sslsni=0`, no host name, or a host that is an IP literal: digits and
 * dots only, or containing a colon).
 *
 * @since 0.1.0
 */
export const serverNameFor = (
  config: { readonly sslSni: boolean },
  a: Pick<Attempt, "host">
): string | undefined => {
  if (!config.sslSni || a.host === "") return undefined
  if (/^[0-9.]*$/.test(a.host) || a.host.includes(":")) return undefined
  return a.host
}
