/**
 * vitest global setup: starts the shared PostgreSQL servers once per run and
 * hands their connection info to the test files (`servers()` in
 * `Servers.ts`), then stops them and removes their files when the run ends,
 * whether the tests passed or not.
 *
 * All three servers start in parallel (about a second in all: `initdb` runs
 * once per PostgreSQL version, each server copies the template). A failure to
 * start fails the whole run with the server's log tail; nothing is skipped.
 * So does a shared server that is no longer running when the run ends.
 *
 * @since 0.1.0
 */
import type { TestProject } from "vitest/node"
import { harnessDir, runCerts, shutdown, startServer } from "./EmbeddedPostgres.ts"
import { PROVIDE_KEY, type SharedServers, type TlsServerInfo } from "./Servers.ts"

/**
 * @since 0.1.0
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Created before the workers start, so they inherit it and reuse the templates.
  await harnessDir()
  const started = await Promise.allSettled([
    startServer({
      name: "main",
      kind: "pg18",
      tls: true,
      settings: { wal_level: "logical", max_wal_senders: 10, max_replication_slots: 10, max_connections: 200 }
    }),
    startServer({ name: "noTls", kind: "pg18", tls: false }),
    startServer({ name: "pg13", kind: "pg13", tls: false })
  ])
  const failures = started.flatMap((r) => (r.status === "rejected" ? [r.reason] : []))
  if (failures.length > 0) {
    await shutdown()
    throw new Error(
      `the test harness could not start the shared PostgreSQL servers:\n\n` +
        failures.map((f) => (f instanceof Error ? f.message : String(f))).join("\n\n")
    )
  }
  const [main, noTls, pg13] = started.map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof startServer>>>).value)
  const certs = await runCerts()
  // TLS-off servers carry the run's certificates too (for tests that must fail to use them).
  const shared: SharedServers = {
    main: main!.info as TlsServerInfo,
    noTls: { ...noTls!.info, certs },
    pg13: { ...pg13!.info, certs },
    certs
  }
  project.provide(PROVIDE_KEY, shared)
  const all = [main!, noTls!, pg13!]
  return async () => {
    // A shared server that died during the run (a crash, a test that killed it)
    // fails the run, with its log, even if every test passed.
    const died = all.filter((s) => !s.isRunning())
    const report = died.map((s) => `server "${s.info.name}" (pid ${s.info.pid}) exited during the run; log tail:\n${s.logTail()}`)
    await shutdown()
    if (report.length > 0) throw new Error(report.join("\n\n"))
  }
}
