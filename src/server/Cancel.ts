/**
 * The cancel registry of one server: every connection's (processId, secret
 * key), and what a CancelRequest with that pair interrupts.
 *
 * **Details**
 *
 * A connection registers a `cancel` callback for the life of its Scope; the
 * callback interrupts the statement running at that instant and nothing else
 * (the connection clears its slot when the statement ends, so a cancel that
 * arrives late finds nothing to interrupt and never reaches the next
 * statement). Keys are compared in constant time and must have the issued
 * length: a 4-byte key never matches a 32-byte one. A wrong pair does nothing
 * and the caller answers nothing, as PostgreSQL.
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** Secret key length under protocol 3.0 (protocol-3.2 "BackendKeyData"). */
export const KEY_BYTES_3_0 = 4
/** Secret key length this engine issues under protocol 3.2 (256 bits, as PostgreSQL 18). */
export const KEY_BYTES_3_2 = 32

interface Entry {
  readonly key: Uint8Array
  readonly cancel: () => void
}

/**
 * @since 0.1.0
 */
export class Registry {
  readonly #entries = new Map<number, Entry>()
  #nextPid = 1 + Crypto.randomInt(1_000_000)

  /** Registers a connection for the life of the Scope; returns its process id and key. */
  register(keyBytes: number, cancel: () => void): Effect.Effect<{ readonly processId: number; readonly secretKey: Uint8Array }, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.sync(() => {
        let processId = this.#nextPid
        while (this.#entries.has(processId)) processId = processId >= 0x7fffffff ? 1 : processId + 1
        this.#nextPid = processId >= 0x7fffffff ? 1 : processId + 1
        const secretKey = new Uint8Array(Crypto.randomBytes(keyBytes))
        this.#entries.set(processId, { key: secretKey, cancel })
        return { processId, secretKey }
      }),
      ({ processId }) => Effect.sync(() => this.#entries.delete(processId))
    )
  }

  /** Handles a CancelRequest: true when the pair matched (its statement, if any, is interrupted). */
  cancel(processId: number, secretKey: Uint8Array): boolean {
    const entry = this.#entries.get(processId)
    if (entry === undefined || entry.key.length !== secretKey.length) return false
    if (!Crypto.timingSafeEqual(entry.key, secretKey)) return false
    entry.cancel()
    return true
  }

  /** Registered connections. */
  get size(): number {
    return this.#entries.size
  }
}
