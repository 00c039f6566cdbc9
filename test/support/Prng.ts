/**
 * A small seeded pseudo-random generator (mulberry32) for the fuzz tests that
 * draw their own inputs: the same seed gives the same sequence, so a failure
 * is reproduced by its seed.
 */

/** Numbers in [0, 1), the same sequence for the same seed. */
export const prng = (seed: number): () => number => {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
