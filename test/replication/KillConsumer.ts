/**
 * The consumer process of the kill test (`KillMatrix.test.ts`): appends each
 * transaction to a log file and fsyncs it, then acknowledges it, printing
 * `appended <endLsn>` and `acked <endLsn>` on stdout. Between the two it
 * pauses (`PAUSE_MILLIS`), so the parent can kill it there. It exits once it
 * has acknowledged the transaction holding the marker row (id -1).
 *
 * Arguments: a JSON object `{ host, port, slot, publication, log }`.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as PgReplication from "../../src/replication/PgReplication.ts"

/** The pause between a transaction's fsync and its acknowledgement, where the parent may kill this process. */
const PAUSE_MILLIS = 20

const args = JSON.parse(process.argv[2] ?? "{}") as {
  readonly host: string
  readonly port: number
  readonly slot: string
  readonly publication: string
  readonly log: string
}

const fd = Fs.openSync(args.log, "a")

const idsOf = (tx: PgReplication.Transaction) =>
  tx.changes.flatMap((c) => (c._tag === "Insert" ? [Number(c.new["id"])] : []))

// runAcked's shape (the effect, then ack), spelled out so each step can be reported.
const program = Stream.runForEach(
  Stream.takeUntil(
    PgReplication.transactions(PgReplication.logical(
      { host: args.host, port: args.port, user: "postgres", database: "postgres", sslMode: "disable" },
      { slot: args.slot, publications: [args.publication], statusIntervalMillis: 100 }
    )),
    (tx) => idsOf(tx).includes(-1)
  ),
  (tx) =>
    Effect.gen(function*() {
      Fs.writeSync(fd, `${JSON.stringify({ pid: process.pid, endLsn: String(tx.endLsn), ids: idsOf(tx) })}\n`)
      Fs.fsyncSync(fd)
      process.stdout.write(`appended ${tx.endLsn}\n`)
      yield* Effect.sleep(PAUSE_MILLIS)
      yield* tx.ack
      process.stdout.write(`acked ${tx.endLsn}\n`)
    })
)

Effect.runPromiseExit(program).then((exit) => {
  process.stdout.write(exit._tag === "Success" ? "done\n" : `failed ${String(exit.cause)}\n`)
  process.exit(exit._tag === "Success" ? 0 : 1)
})
