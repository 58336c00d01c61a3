/**
 * The "emptied" rule of the settled judgement (SPEC section 1): a file that is empty now but whose
 * last known version had bytes is taken as a finished version only once it has been empty for a
 * while. A truncating open (`open(path, 'w')`, torch.save) makes a file empty before its
 * descriptor exists, and logrotate's copytruncate empties a log, so no writer is seen; under journal
 * or writeback pressure that moment can outlast `settle`. Pure: the capture
 * (`store/settle-changed.ts`) and the daemon's settle check (`ops/settle.ts`) both judge by it, each
 * passing the file, its mtime's age and what the snapshots before knew of it (`Store.lastKnown`:
 * the newest one, complete or not, and the newest complete one, which a capture links from; right
 * after a restore, the capture judges against the restored one alone).
 */

/** How long a file emptied since the previous snapshot must have been empty (by its mtime) to count as finished. */
export const EMPTIED_QUIET_MS = 10_000;

/** The file as the rule sees it: a regular file has `type` 'file'. */
export interface EmptiedCandidate {
  type: string;
  size: number;
}

/** What the snapshots before knew of the file: the largest size one held it at (null: none held it), and whether one left it out. */
export interface KnownBefore {
  size: number | null;
  leftOut: boolean;
}

/** How long an emptied file is waited for under a run's `settle` (ms): `EMPTIED_QUIET_MS`, or `settleMs` when longer. */
export function emptiedQuietMs(settleMs: number): number {
  return Math.max(settleMs, EMPTIED_QUIET_MS);
}

/**
 * True when `f` is an empty regular file modified less than `emptiedQuietMs` ago (`ageMs`; a
 * negative age, a clock skew or a future stamp, is never waited for): only such a file can be
 * emptied recently, so only these need the snapshots before asked about them.
 */
export function mayBeEmptiedRecently(f: EmptiedCandidate, ageMs: number, settleMs: number): boolean {
  return f.type === 'file' && f.size === 0 && ageMs >= 0 && ageMs < emptiedQuietMs(settleMs);
}

/**
 * True when `f` was emptied recently: `mayBeEmptiedRecently`, and a snapshot before (`before`, see
 * the file comment) held it with bytes or left it out (one it left out was being written then, and
 * the version before may have had bytes). A file they held empty, or did not hold, is new or was
 * empty already.
 */
export function emptiedRecently(f: EmptiedCandidate, ageMs: number, settleMs: number, before: KnownBefore): boolean {
  return mayBeEmptiedRecently(f, ageMs, settleMs) && ((before.size ?? 0) > 0 || before.leftOut);
}
