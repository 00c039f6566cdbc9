/**
 * The consumer process of the kill matrix (`KillMatrix.test.ts`): appends each
 * transaction (Commit, Prepare, CommitPrepared, RollbackPrepared) to a log
 * file and fsyncs it, then acknowledges it. It SIGKILLs itself at its kill
 * point, if given: right after the `at`-th append (between append and ack) or
 * right after the `at`-th acknowledgement (whose status update may not have
 * left yet). It exits 0 once it has acknowledged the transaction holding the
 * marker row (id -1), and 3 when its stream fails (a server restart, a reset
 * connection), printing the failure's reason.
 *
 * Arguments: a JSON object `{ host, port, slot, publication, log, kill? }`,
 * `kill` being `{ on: "appended" | "acked", at }`, on the command line or as
 * the first line of stdin (the test starts the next consumer ahead, so its
 * start-up overlaps the run before it).
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as PgReplication from "../../src/replication/PgReplication.ts"

interface Args {
  readonly host: string
  readonly port: number
  readonly slot: string
  readonly publication: string
  readonly log: string
  readonly kill?: { readonly on: "appended" | "acked"; readonly at: number } | undefined
}

/** The arguments: the command line's, or the first line of stdin (a process started ahead, modules loaded). */
const readArgs = (): Promise<Args> => {
  if (process.argv[2] !== undefined) return Promise.resolve(JSON.parse(process.argv[2]) as Args)
  return new Promise((resolve) => {
    let input = ""
    process.stdin.on("data", (c: Buffer) => {
      input += c.toString()
      const newline = input.indexOf("\n")
      if (newline >= 0) {
        process.stdin.pause()
        resolve(JSON.parse(input.slice(0, newline)) as Args)
      }
    })
  })
}

const args = await readArgs()
const fd = Fs.openSync(args.log, "a")

const idsOf = (tx: PgReplication.Transaction) =>
  tx.changes.flatMap((c) => (c._tag === "Insert" ? [Number(c.new["id"])] : []))

let appended = 0
let acked = 0
const killAt = (on: "appended" | "acked", count: number) => {
  if (args.kill?.on === on && args.kill.at === count) process.kill(process.pid, "SIGKILL")
}

// runAcked's shape (the effect, then ack), spelled out so the process can die between the two.
const program = Stream.runForEach(
  Stream.takeUntil(
    PgReplication.transactions(PgReplication.logical(
      { host: args.host, port: args.port, user: "postgres", database: "postgres", sslMode: "disable" },
      {
        slot: args.slot,
        publications: [args.publication],
        twoPhase: true,
        streaming: "on",
        statusIntervalMillis: 100
      }
    )),
    (tx) => tx.end._tag === "Commit" && idsOf(tx).includes(-1)
  ),
  (tx) =>
    Effect.gen(function*() {
      const entry = {
        pid: process.pid,
        kind: tx.end._tag,
        endLsn: String(tx.endLsn),
        gid: "gid" in tx.end ? tx.end.gid : undefined,
        ids: idsOf(tx)
      }
      Fs.writeSync(fd, `${JSON.stringify(entry)}\n`)
      Fs.fsyncSync(fd)
      killAt("appended", ++appended)
      yield* tx.ack
      killAt("acked", ++acked)
    })
)

Effect.runPromiseExit(program).then((exit) => {
  if (exit._tag === "Success") process.exit(0)
  const fail = exit.cause.reasons.find((r) => r._tag === "Fail") as { readonly error: unknown } | undefined
  const error = fail?.error as { readonly reason?: { readonly _tag?: string } } | undefined
  process.stdout.write(`${error?.reason?._tag ?? `defect ${String(exit.cause)}`}\n`)
  process.exit(3)
})
