/**
 * One timed consumer run of the replication benchmark (`main.ts`): reads a
 * slot that already holds the WAL, decodes every change and acknowledges each
 * transaction's end, until `transactions` commits; prints one JSON line.
 *
 * Arguments: a JSON object `{ contender, port, slot, publication, transactions }`.
 * Contenders: `effect-pgwire` (text values), `effect-pgwire-binary` (binary
 * values), `pg-logical-replication` (proto_version 1, its defaults, manual
 * acknowledgement at each Commit's end LSN).
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { LogicalReplicationService, PgoutputPlugin } from "pg-logical-replication"
import * as PgReplication from "../../src/replication/PgReplication.ts"

const args = JSON.parse(process.argv[2] ?? "{}") as {
  readonly contender:
    | "effect-pgwire"
    | "effect-pgwire-binary"
    | "pg-logical-replication"
    | "effect-pgwire-big-streaming-off"
    | "effect-pgwire-big-streaming-on"
  readonly port: number
  readonly slot: string
  readonly publication: string
  readonly transactions: number
}

const conn = { host: "127.0.0.1", port: args.port, user: "postgres", database: "postgres" }

/** Runs the contender; resolves with the number of row changes seen. */
const effectPgwire = (binary: boolean): Promise<number> => {
  let changes = 0
  // runAcked's shape (the consumer's effect, then ack), for a fixed count of transactions.
  return Effect.runPromise(
    Stream.runForEach(
      Stream.take(
        PgReplication.transactions(PgReplication.logical({ ...conn, sslMode: "disable" }, {
          slot: args.slot,
          publications: [args.publication],
          binary
        })),
        args.transactions
      ),
      (tx) => {
        changes += tx.changes.length
        return tx.ack
      }
    )
  ).then(() => changes)
}

/**
 * One large transaction read change by change (not grouped: a consumer of a huge transaction acknowledges at
 * its Commit), with `streaming` off (the server holds it) or on (this client holds it, spilling past 64 MiB).
 */
const effectPgwireBig = (streaming: "off" | "on"): Promise<number> => {
  let changes = 0
  return Effect.runPromise(
    Stream.runForEach(
      Stream.takeUntil(
        PgReplication.logical({ ...conn, sslMode: "disable" }, {
          slot: args.slot,
          publications: [args.publication],
          streaming
        }),
        (c) => c._tag === "Commit"
      ),
      (c) => {
        if (c._tag === "Insert") changes++
        return c._tag === "Commit" ? c.ack : Effect.void
      }
    )
  ).then(() => changes)
}

const pgLogicalReplication = (): Promise<number> =>
  new Promise((resolve, reject) => {
    let changes = 0
    let commits = 0
    const service = new LogicalReplicationService(conn, { acknowledge: { auto: false, timeoutSeconds: 10 } })
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [args.publication] })
    service.on("data", (_lsn: string, message: { tag: string; commitEndLsn?: string }) => {
      if (message.tag === "insert" || message.tag === "update" || message.tag === "delete") changes++
      else if (message.tag === "commit") {
        void service.acknowledge(message.commitEndLsn!)
        if (++commits === args.transactions) service.stop().then(() => resolve(changes), reject)
      }
    })
    service.on("error", reject)
    service.subscribe(plugin, args.slot).catch(reject)
  })

const cpu0 = process.cpuUsage()
const t0 = performance.now()
const rssBefore = process.memoryUsage().rss
const run = args.contender === "pg-logical-replication"
  ? pgLogicalReplication()
  : args.contender === "effect-pgwire-big-streaming-off"
  ? effectPgwireBig("off")
  : args.contender === "effect-pgwire-big-streaming-on"
  ? effectPgwireBig("on")
  : effectPgwire(args.contender === "effect-pgwire-binary")
run.then(
  (changes) => {
    const ms = performance.now() - t0
    const cpu = process.cpuUsage(cpu0)
    process.stdout.write(
      `${
        JSON.stringify({
          ms,
          changes,
          cpuMs: (cpu.user + cpu.system) / 1000,
          maxRssMiB: process.resourceUsage().maxRSS / 1024,
          rssBeforeMiB: rssBefore / 2 ** 20
        })
      }\n`
    )
    process.exit(0)
  },
  (e: unknown) => {
    process.stderr.write(`${String(e)}\n`)
    process.exit(1)
  }
)
