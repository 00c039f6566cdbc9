/**
 * SQLSTATE classification. (Replaced by the generated table.)
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export interface SqlStateClassification {
  readonly code: string
  /** The two-character class, e.g. "23". */
  readonly class: string
  /** The condition name from errcodes.txt, e.g. "unique_violation"; undefined when unknown. */
  readonly condition: string | undefined
  /** Retrying the transaction is safe (40001, 40P01, class 08). */
  readonly retryable: boolean
}

/** @since 0.1.0 */
export const classify = (code: string): SqlStateClassification => {
  const cls = code.slice(0, 2)
  return {
    code,
    class: cls,
    condition: undefined,
    retryable: code === "40001" || code === "40P01" || cls === "08"
  }
}
