/** Choosing the furthest-along candidate among files whose names carry progress. */

/** A candidate reading taken from one file's name. */
export interface NameCandidate {
  epoch: number | null;
  step: number | null;
  mtimeMs: number;
}

/**
 * The candidate furthest along: the highest step, then the highest epoch, then the newest mtime
 * (a missing step or epoch ranks below any number). Undefined for an empty list.
 */
export function pickFurthest<T extends NameCandidate>(candidates: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const c of candidates) if (!best || compareProgress(c, best) > 0) best = c;
  return best;
}

/** Orders candidates by step, then epoch, then mtime; positive when `a` is further along than `b`. */
export function compareProgress(a: NameCandidate, b: NameCandidate): number {
  return (a.step ?? -1) - (b.step ?? -1) || (a.epoch ?? -1) - (b.epoch ?? -1) || a.mtimeMs - b.mtimeMs;
}
