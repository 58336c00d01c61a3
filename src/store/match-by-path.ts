/**
 * Pairing two lists of files by path: the previous snapshot's manifest with a scan of the run.
 * Both are sorted by path when ckptd wrote them (a scan sorts its entries, a manifest keeps the
 * order of the scan it captured), so they are walked side by side; a lookup table by path is
 * built only when either is not strictly sorted. For 100,000 files the table cost ~0.2 s and ~5 MB
 * each time it was built (twice per capture: the free-space estimate and the capture itself).
 */

/**
 * For each of `wanted`, the element of `have` with the same path (null when none), in `wanted`'s
 * order. When `have` holds a path more than once, the last one is returned.
 */
export function matchByPath<T extends { path: string }>(have: readonly T[], wanted: readonly { path: string }[]): (T | null)[] {
  if (have.length === 0) return wanted.map(() => null);
  if (!inPathOrder(have) || !inPathOrder(wanted)) {
    const byPath = new Map<string, T>();
    for (const h of have) byPath.set(h.path, h);
    return wanted.map((w) => byPath.get(w.path) ?? null);
  }
  let j = 0;
  return wanted.map((w) => {
    while (j < have.length && have[j]!.path < w.path) j++;
    return j < have.length && have[j]!.path === w.path ? have[j]! : null;
  });
}

/** Whether every path is smaller than the next (plain string order, no path twice). */
export function inPathOrder(list: readonly { path: string }[]): boolean {
  for (let i = 1; i < list.length; i++) if (!(list[i - 1]!.path < list[i]!.path)) return false;
  return true;
}
