/**
 * Finds the JSON integer values that `JSON.parse` would round: a run of 16 or
 * more digits (every integer of at most 15 digits is exact as a double)
 * standing where a value can. `Json.parse` takes its exact path (a reviver,
 * several times slower than a plain `JSON.parse`) only for documents where one
 * is found.
 *
 * **Details**
 *
 * - A run "stands where a value can" when the character before it (after an
 *   optional `-`) is `[`, `,`, `:`, JSON whitespace or the start of the text,
 *   and the character after it is `,`, `]`, `}`, JSON whitespace or the end.
 *   Every integer value of valid JSON does. Digits inside a string (a hex
 *   digest, an identifier) almost always touch a letter or a quote and are
 *   skipped; a string that merely looks like a value (`"id 12345678901234567"`)
 *   sends its document down the exact path, which is slower but still exact.
 * - A run followed by `.`, `e` or `E` is the integer part of a fraction or an
 *   exponent: a double, which the exact path would not change either.
 * - The scan probes every 16th character of the decoded string. Reading the
 *   UTF-8 bytes four at a time instead (a word test for "all digits") halves
 *   the cost on digit-dense text such as hex digests, but triples it on
 *   ordinary text (the words are all read, the probes only every 16th
 *   character), so the codecs scan the string too.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */

/** Digits in a row from which an integer may exceed 2^53 (2^53 itself has 16). */
const UNSAFE_DIGITS = 16

const MINUS = 0x2d

const isDigit = (c: number): boolean => c >= 48 && c <= 57

/** Bit 1: may stand before a number value (after its `-`). Bit 2: may follow an integer value. */
const AROUND_VALUE = (() => {
  const table = new Uint8Array(128)
  for (const c of "[,: \t\n\r") table[c.charCodeAt(0)]! |= 1
  for (const c of ",]} \t\n\r") table[c.charCodeAt(0)]! |= 2
  return table
})()

/** Whether character (or byte) `c` has `bit` in `AROUND_VALUE`; nothing at or above 0x80 does. */
const around = (c: number, bit: number): boolean => c < 0x80 && (AROUND_VALUE[c]! & bit) !== 0

/**
 * Finds runs of `UNSAFE_DIGITS` or more digits in `s`. Any such run covers
 * exactly one index `p` with `p % UNSAFE_DIGITS === UNSAFE_DIGITS - 1`, so only
 * those indices are probed: about `length / 16` reads for text with few
 * digits. Around a probe that hits a digit, the run is measured backwards
 * first; with `asValue`, a run whose start does not stand where a value can is
 * dropped there, without measuring its end.
 */
const scanString = (s: string, asValue: boolean): boolean => {
  const n = s.length
  for (let p = UNSAFE_DIGITS - 1; p < n; p += UNSAFE_DIGITS) {
    if (!isDigit(s.charCodeAt(p))) continue
    let start = p
    while (start > 0 && isDigit(s.charCodeAt(start - 1))) start--
    if (asValue) {
      const before = start > 0 && s.charCodeAt(start - 1) === MINUS ? start - 2 : start - 1
      if (before >= 0 && !around(s.charCodeAt(before), 1)) continue
    }
    let end = p + 1
    while (end < n && isDigit(s.charCodeAt(end))) end++
    if (end - start >= UNSAFE_DIGITS && (!asValue || end === n || around(s.charCodeAt(end), 2))) return true
    // The next probe at or after `end`: the run's digits are done with.
    if (end > p + 1) p = end + (UNSAFE_DIGITS - 1 - (end % UNSAFE_DIGITS)) - UNSAFE_DIGITS
  }
  return false
}

/**
 * Whether `s` holds a run of 16 digits, wherever it stands (in a number or in
 * a string).
 *
 * @since 0.1.0
 */
export const hasLongDigitRun = (s: string): boolean => scanString(s, false)

/**
 * Whether JSON text `s` may hold an integer value `JSON.parse` would round: a
 * run of 16 or more digits standing where a value can. Never false for such a
 * value in valid JSON.
 *
 * @since 0.1.0
 */
export const mayHoldUnsafeInteger = (s: string): boolean => scanString(s, true)
