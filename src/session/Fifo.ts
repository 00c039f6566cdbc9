/**
 * The queue of requests waiting to be written.
 *
 * @since 0.1.0
 */

/**
 * A FIFO with O(1) push, shift and unshift (a head index over an array,
 * compacted now and then): deep pipelines move tens of thousands of requests
 * through it, where `Array#shift` would be quadratic.
 *
 * @since 0.1.0
 */
export class Fifo<A> {
  private items: Array<A | undefined> = []
  private head = 0

  get length(): number {
    return this.items.length - this.head
  }

  push(item: A): void {
    this.items.push(item)
  }

  unshift(item: A): void {
    if (this.head > 0) this.items[--this.head] = item
    else this.items.unshift(item)
  }

  shift(): A | undefined {
    if (this.head === this.items.length) return undefined
    const item = this.items[this.head]
    this.items[this.head++] = undefined
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  /** Removes one item (rare: a request withdrawn before it was written). */
  remove(item: A): boolean {
    const i = this.items.indexOf(item, this.head)
    if (i < 0) return false
    this.items.splice(i, 1)
    return true
  }

  /** Empties the queue, returning its items in order. */
  drain(): Array<A> {
    const out = this.items.slice(this.head) as Array<A>
    this.items = []
    this.head = 0
    return out
  }
}
