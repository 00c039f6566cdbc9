/**
 * The replies one client is owed, in order (`Replies.ts` says what each entry
 * expects): a queue read from its head, whose array is reused once it has
 * been emptied, so a transaction adds no garbage but its entries.
 *
 * **Details**
 *
 * - `skipToSync`: after an ErrorResponse in the extended protocol the server
 *   skips to Sync (protocol-3.2 "Extended Query"), and so do the entries
 *   before the next Sync entry.
 * - `dropSyncsBehindHead`: COPY FROM STDIN began after an Execute; a Sync the
 *   client sent behind that Execute was read, and ignored, by the server in
 *   COPY mode (protocol-3.2 "COPY Operations"), so it is owed nothing.
 *
 * Pure bookkeeping: no IO.
 *
 * @since 0.1.0
 */
import { type Entry, Kind, owedOnLoss } from "./Replies.ts"

/**
 * @since 0.1.0
 */
export class Outstanding {
  readonly #entries: Array<Entry> = []
  #head = 0

  /** Whether nothing is owed. */
  get empty(): boolean {
    return this.#head === this.#entries.length
  }

  /** The entry the next upstream frame answers, if any. */
  get head(): Entry | undefined {
    return this.#entries[this.#head]
  }

  push(entry: Entry): void {
    this.#entries.push(entry)
  }

  /** The head entry is done. */
  pop(): void {
    this.#entries[this.#head] = undefined as unknown as Entry
    this.#head++
    if (this.#head === this.#entries.length) {
      this.#entries.length = 0
      this.#head = 0
    }
  }

  /** Pops the entries before the next Sync entry, telling `skipped` of each. */
  skipToSync(skipped: (entry: Entry) => void): void {
    while (this.#head < this.#entries.length && this.#entries[this.#head]!.kind !== Kind.Sync) {
      skipped(this.#entries[this.#head]!)
      this.pop()
    }
  }

  /**
   * Removes the Sync entries right behind the head (a COPY FROM STDIN began at the head), up to one the client sent
   * after its CopyDone or CopyFail, which the server answers.
   */
  dropSyncsBehindHead(): void {
    let i = this.#head + 1
    while (i < this.#entries.length && this.#entries[i]!.kind === Kind.Sync && this.#entries[i]!.afterCopy !== true) i++
    if (i > this.#head + 1) this.#entries.splice(this.#head + 1, i - this.#head - 1)
  }

  /** What the client is owed when its upstream is lost (see `owedOnLoss`); the queue is emptied. */
  takeOwed(failure: Uint8Array): { readonly frames: Array<Uint8Array>; readonly open: boolean } {
    const owed = owedOnLoss(this.#entries, this.#head, failure)
    this.clear()
    return owed
  }

  clear(): void {
    this.#entries.length = 0
    this.#head = 0
  }
}
