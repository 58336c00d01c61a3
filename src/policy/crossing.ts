/**
 * Progress crossing: does going from the anchor to the current epoch/step pass a multiple of N?
 * Pure arithmetic shared by `decide` and `describeNext`.
 */

// Floats such as 2.9999999999999996 (Hugging Face epochs) must count as the multiple they mean.
const EPSILON = 1e-9;

/** Index of the last multiple of `n` at or below `value` (`bucket(9, 10)` = 0, `bucket(10, 10)` = 1). */
export function bucket(value: number, n: number): number {
  return Math.floor(value / n + EPSILON);
}

/**
 * True when progress moving from `anchor` to `cur` passes (or lands on) at least one multiple of `n`
 * that `anchor` had not reached: 9 → 10 with n=10 crosses; 7 → 23 with n=5 crosses (once: the caller
 * fires one snapshot however many multiples were passed); 10 → 19 with n=10 does not.
 */
export function crosses(anchor: number, cur: number, n: number): boolean {
  return bucket(cur, n) > bucket(anchor, n);
}

/** The first multiple of `n` strictly past `anchor`'s bucket: where the next crossing happens. */
export function nextMultiple(anchor: number, n: number): number {
  return (bucket(anchor, n) + 1) * n;
}
