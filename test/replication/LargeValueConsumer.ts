/**
 * The consumer process of the large-value test (`LargeValue.test.ts`): reads
 * `transactions` transactions of a slot (values in binary format), hashes
 * every text or bytea value of their inserted rows with MD5, acknowledges
 * nothing, and prints one JSON line: the hashes by row id and the memory it
 * took. RSS is sampled every `SAMPLE_MILLIS` from just before connecting
 * until the last transaction has arrived, before any hashing (which makes a
 * UTF-8 copy of a string); `getrusage` gives the peak of the whole run.
 *
 * Arguments: a JSON object `{ host, port, slot, publication, streaming, transactions, spillDirectory,
 * spillMemoryBytes }`.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as PgReplication from "../../src/replication/PgReplication.ts"

/** How often RSS is sampled while the stream runs. */
const SAMPLE_MILLIS = 5

const args = JSON.parse(process.argv[2] ?? "{}") as {
  readonly host: string
  readonly port: number
  readonly slot: string
  readonly publication: string
  readonly streaming: "on" | "off"
  readonly transactions: number
  readonly spillDirectory: string
  readonly spillMemoryBytes: number
}

const MiB = 2 ** 20
const rssBefore = process.memoryUsage().rss
let peak = rssBefore
const timer = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss)
}, SAMPLE_MILLIS)

const program = Effect.gen(function*() {
  const hashes: Record<string, { readonly md5: string; readonly length: number; readonly kind: string }> = {}
  let streamPeak = 0
  yield* Stream.runForEach(
    Stream.take(
      PgReplication.transactions(PgReplication.logical(
        { host: args.host, port: args.port, user: "postgres", database: "postgres", sslMode: "disable" },
        {
          slot: args.slot,
          publications: [args.publication],
          streaming: args.streaming,
          binary: true,
          spill: { directory: args.spillDirectory, memoryBytes: args.spillMemoryBytes }
        }
      )),
      args.transactions
    ),
    (tx) =>
      Effect.sync(() => {
        peak = Math.max(peak, process.memoryUsage().rss)
        streamPeak = Math.max(streamPeak, peak)
        for (const c of tx.changes) {
          if (c._tag !== "Insert") continue
          for (const [column, value] of Object.entries(c.new)) {
            if (column === "id" || value === null) continue
            const hash = Crypto.createHash("md5")
            if (typeof value === "string") hash.update(value, "utf8")
            else if (value instanceof Uint8Array) hash.update(value)
            else throw new Error(`unexpected value of ${column}: ${typeof value}`)
            hashes[`${String(c.new["id"])}.${column}`] = {
              md5: hash.digest("hex"),
              length: value.length,
              kind: typeof value === "string" ? "string" : "bytes"
            }
          }
        }
      })
  )
  return { hashes, streamPeak }
})

Effect.runPromise(program).then(
  ({ hashes, streamPeak }) => {
    clearInterval(timer)
    process.stdout.write(
      `${
        JSON.stringify({
          hashes,
          rssBeforeMiB: rssBefore / MiB,
          streamGrowthMiB: (streamPeak - rssBefore) / MiB,
          runGrowthMiB: (Math.max(peak, process.resourceUsage().maxRSS * 1024) - rssBefore) / MiB,
          cpuMillis: (process.cpuUsage().user + process.cpuUsage().system) / 1000
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
