/**
 * Files that never let the state settle (a log appended every few hundred ms, a file a logging
 * handler holds open for writing): which ones to warn about, and which to leave out so that
 * backups happen at all (SPEC section 6: "a file that keeps changing is retried, then skipped with
 * a warning"). Pure: the shell passes what blocked each look at the run and `now`.
 *
 * The rule: a path that blocked settling at every look for `WARN_AFTER_WINDOWS` settle windows
 * in a row is reported (log and `status`, naming the `exclude` that fixes it); once it has blocked
 * for `SKIP_AFTER_WINDOWS` windows in a row it is "hot": the state is judged, compared and captured
 * without it (each snapshot lists it as skipped, so it is marked incomplete) until a look finds it
 * no longer blocking, when it is captured again. A look at which the path did not block breaks the
 * run of windows.
 */

/** Settle windows of continuous blocking before a path is reported. */
export const WARN_AFTER_WINDOWS = 5;
/** Settle windows of continuous blocking before a path is left out of the state. */
export const SKIP_AFTER_WINDOWS = 30;

/** One file (or folder) that kept the state from settling at one look, and why. */
export interface Blocker {
  /** Relative POSIX path in the run. */
  path: string;
  /** For people: `modified 120ms ago`, `open for writing by pid 42 (python)`. */
  reason: string;
  /**
   * How long one window of this blocking is (ms; default the run's `settle`): a file emptied
   * moments ago is waited for up to `EMPTIED_QUIET_MS`, one window, not 30 settle windows.
   */
  windowMs?: number;
  /**
   * Set for a checkpoint folder still being saved: the file its trainer writes last. Such a folder
   * is reported as a save not finished, never as a file to exclude.
   */
  lastFile?: string;
}

/** A path that has been blocking for a while. */
export interface Blocking {
  path: string;
  /** When it first blocked, in this run of looks (ms since the Unix epoch). */
  since: number;
  /** The latest reason it blocked. */
  reason: string;
  /** Reported (log and status) from this look on. */
  warned: boolean;
  /** Left out of the state from this look on. */
  hot: boolean;
  /** A checkpoint folder still being saved (at this look or an earlier one): the file written last. */
  lastFile?: string;
}

/** What the tracker remembers between looks: every path blocking now, by path. */
export type BlockingState = Readonly<Record<string, Blocking>>;

export const NO_BLOCKING: BlockingState = {};

/** The state after one look, and what changed for the shell to report. */
export interface BlockingUpdate {
  state: BlockingState;
  /** Paths reported for the first time at this look. */
  warned: Blocking[];
  /** Paths left out from this look on. */
  hot: Blocking[];
  /** Paths that were reported or hot and no longer block. */
  cleared: Blocking[];
}

/**
 * Folds one look at the run into `state`: `blockers` are every path that kept the state from
 * settling at `now` (hot paths included: the shell still checks them, to see them cool down).
 * `settleMs` is the run's settle time: the length of a window, unless a blocker gives its own.
 */
export function trackBlocking(state: BlockingState, blockers: readonly Blocker[], now: number, settleMs: number): BlockingUpdate {
  const next: Record<string, Blocking> = {};
  const warned: Blocking[] = [];
  const hot: Blocking[] = [];
  for (const b of blockers) {
    const seen = next[b.path];
    if (seen !== undefined) {
      // One path, several reasons (a write seen in the folder, and its last file missing).
      seen.lastFile ??= b.lastFile;
      continue;
    }
    const prev = state[b.path];
    const since = prev?.since ?? now;
    const windows = (now - since) / Math.max(1, b.windowMs ?? settleMs);
    const cur: Blocking = {
      path: b.path,
      since,
      reason: b.reason,
      warned: (prev?.warned ?? false) || windows >= WARN_AFTER_WINDOWS,
      hot: (prev?.hot ?? false) || windows >= SKIP_AFTER_WINDOWS,
      ...((b.lastFile ?? prev?.lastFile) !== undefined ? { lastFile: b.lastFile ?? prev?.lastFile } : {}),
    };
    if (cur.warned && !(prev?.warned ?? false)) warned.push(cur);
    if (cur.hot && !(prev?.hot ?? false)) hot.push(cur);
    next[b.path] = cur;
  }
  const cleared = Object.values(state).filter((b) => next[b.path] === undefined && (b.warned || b.hot));
  return { state: next, warned, hot, cleared };
}

/** The paths left out of the state now. */
export function hotPaths(state: BlockingState): string[] {
  return Object.values(state)
    .filter((b) => b.hot)
    .map((b) => b.path)
    .sort();
}

/** Whether `rel` is a hot path or lies inside a hot folder. */
export function isHot(state: BlockingState, rel: string): boolean {
  for (let p = rel; ; ) {
    if (state[p]?.hot === true) return true;
    const slash = p.lastIndexOf('/');
    if (slash < 0) return false;
    p = p.slice(0, slash);
  }
}

/**
 * The checkpoint folder still being saved (a blocking path with a `lastFile`) that holds `rel`, if
 * any: a file of it that keeps changing is that save at work, reported as the folder, never as a
 * file to exclude.
 */
export function savingFolderOf(blocking: Iterable<Blocking>, rel: string): Blocking | undefined {
  for (const b of blocking) if (b.lastFile !== undefined && rel.startsWith(`${b.path}/`)) return b;
  return undefined;
}
