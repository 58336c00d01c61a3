/**
 * The "did you mean" of an unknown key (SPEC section 3). Pure. Contract: `nearKey(key, known)` is
 * the known key closest to `key` by edit distance when that distance is at most 2, or a third of
 * the key's length if longer (`evry` → `every`, `keep_dayly` → `keep_daily`); else undefined.
 */
import { closest, distance } from 'fastest-levenshtein';

export function nearKey(key: string, known: readonly string[]): string | undefined {
  if (known.length === 0) return undefined;
  const near = closest(key, [...known]);
  return distance(key, near) <= Math.max(2, Math.floor(key.length / 3)) ? near : undefined;
}

/** ` (did you mean "KEY"?)` for an unknown key close to a known one, else ''. */
export function didYouMean(key: string, known: readonly string[]): string {
  const near = nearKey(key, known);
  return near === undefined ? '' : ` (did you mean "${near}"?)`;
}
