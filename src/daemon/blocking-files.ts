/**
 * The files that keep one run from settling, tracked across looks (`policy/hot-files.ts` decides;
 * this keeps its state, the watcher activity it judges, and says what changed).
 *
 * Contract:
 * - `noteActivity` records a watched write by relative path ('' = the run folder itself).
 * - `look` prunes activity older than `settle`, finds what blocks now (hot paths included; a
 *   checkpoint folder still being saved, see `savesInProgress`, blocks as a path; a file emptied
 *   moments ago that a recent snapshot held with bytes, see `emptiedBlockers`, blocks until it
 *   has stayed empty `EMPTIED_QUIET_MS`), folds it
 *   into the state, logs each path that starts blocking for long (`keeps-changing`), is left out
 *   (`never-settles`) or settles again (`settled-again`) (a file inside a checkpoint folder still
 *   being saved only as that folder), rewrites the store's blocking record for
 *   `ckptd status` when any of that happened, and returns the blockers.
 * - `isHot` / `neverSettled` tell which paths are left out of backups for now, and why.
 */
import type { RunConfig } from '../config/types.js';
import { hotPaths, isHot, NO_BLOCKING, savingFolderOf, SKIP_AFTER_WINDOWS, trackBlocking, type Blocking, type BlockingState } from '../policy/hot-files.js';
import { emptiedBlockers, findBlockers, savesInProgress, type TimedBlocker } from '../ops/settle.js';
import { writeBlocking } from '../store/blocking-file.js';
import { KnownBeforeReader } from '../store/known-before.js';
import type { ScanEntry } from '../store/types.js';
import { formatDuration, printableName } from '../util/format.js';
import type { Logger } from '../util/logger.js';

export class BlockingFiles {
  /** Watcher activity by relative path ('' = the run folder itself) -> when; pruned at each look. */
  private readonly activity = new Map<string, number>();
  /** Paths that keep the state from settling, and which of them are left out. */
  private state: BlockingState = NO_BLOCKING;
  /** What the newest snapshot knew of the files the "emptied" rule asks about, kept while it is the newest. */
  private readonly knownBefore = new KnownBeforeReader();

  constructor(private readonly logger: Logger) {}

  noteActivity(rel: string, at: number): void {
    this.activity.set(rel, at);
  }

  /** True while some path keeps the state from settling. */
  get any(): boolean {
    return Object.keys(this.state).length > 0;
  }

  /** True when `rel` is left out of backups for never settling. */
  isHot(rel: string): boolean {
    return isHot(this.state, rel);
  }

  /**
   * The paths left out for never settling, each with the reason listed in a snapshot's `skipped`;
   * a file inside a checkpoint folder still being saved is listed as that folder.
   */
  neverSettled(settleMs: number, now: number): { path: string; reason: string }[] {
    const saving = Object.values(this.state);
    return hotPaths(this.state)
      .filter((p) => savingFolderOf(saving, p)?.hot !== true)
      .map((p) => ({ path: p, reason: neverSettledReason(this.state[p]!, settleMs, now, savingFolderOf(saving, p)) }));
  }

  /** See the contract above. */
  async look(run: RunConfig, all: ScanEntry[], now: number): Promise<TimedBlocker[]> {
    for (const [rel, at] of this.activity) if (now - at >= run.settleMs) this.activity.delete(rel);
    // A checkpoint folder still being saved blocks like a file that keeps changing: waited for,
    // then left out (and the backups marked incomplete) if it never completes.
    // A file emptied moments ago blocks too: the capture would leave it out (`emptiedBlockers`).
    const emptied = await emptiedBlockers(run, all, now, (paths) => this.knownBefore.of(run.store, paths));
    const blockers = [...(await findBlockers(run, all, this.activity, now)), ...emptied, ...savesInProgress(run, all)];
    const update = trackBlocking(this.state, blockers, now, run.settleMs);
    this.state = update.state;
    // Recorded before it is said: whoever reads the log line finds `ckptd status` saying the same.
    if (update.warned.length + update.hot.length + update.cleared.length > 0) {
      await writeBlocking(run.store, Object.values(this.state).filter((b) => b.warned)).catch((err: unknown) =>
        this.logger.warn(`could not record the blocking files for status: ${(err as Error).message}`),
      );
    }
    // A file of a checkpoint folder still being saved is that save at work: the folder's own lines say so.
    const ownLine = (b: Blocking): boolean => savingFolderOf(Object.values(this.state), b.path) === undefined;
    for (const b of update.warned.filter(ownLine)) {
      if (b.lastFile !== undefined) {
        this.logger.warn(
          `${printableName(b.path)} has kept the state from settling for ${formatDuration(now - b.since)} (${b.reason}): no backup is taken while it is being saved; ` +
            `after ${SKIP_AFTER_WINDOWS} settle windows backups are taken without it (marked incomplete) until its ${b.lastFile} appears or a later checkpoint of its kind is complete`,
          { event: 'keeps-changing', path: b.path },
        );
        continue;
      }
      this.logger.warn(
        `${printableName(b.path)} has kept the state from settling for ${formatDuration(now - b.since)} (${b.reason}): no backup can be taken while it changes; ` +
          `if it need not be backed up, add it to the exclude list of run "${run.name}" (exclude: ["${printableName(b.path)}"]); ` +
          `after ${SKIP_AFTER_WINDOWS} settle windows it is left out of backups`,
        { event: 'keeps-changing', path: b.path },
      );
    }
    for (const b of update.hot.filter(ownLine)) {
      if (b.lastFile !== undefined) {
        this.logger.warn(
          `${printableName(b.path)} is still not saved whole (${b.reason}); backups are taken without it from now on and are marked incomplete, ` +
            `until its ${b.lastFile} appears or a later checkpoint of its kind is complete`,
          { event: 'never-settles', path: b.path },
        );
        continue;
      }
      this.logger.warn(
        `${printableName(b.path)} never settles (${b.reason}); backups are taken without it from now on and are marked incomplete, until it settles; ` +
          `add it to exclude (exclude: ["${printableName(b.path)}"]) to leave it out for good`,
        { event: 'never-settles', path: b.path },
      );
    }
    for (const b of update.cleared) this.logger.info(`${printableName(b.path)} has settled again${b.hot ? ' and is backed up again' : ''}`, { event: 'settled-again', path: b.path });
    return blockers;
  }
}

/**
 * Why a never-settling file is not in a snapshot, with the fix (listed in the snapshot's `skipped`);
 * `saving` is the checkpoint folder still being saved that holds it, if any (no fix to offer then).
 */
function neverSettledReason(b: Blocking, settleMs: number, now: number, saving?: Blocking): string {
  const windows = `over ${SKIP_AFTER_WINDOWS} settle windows of ${formatDuration(settleMs)}`;
  if (b.lastFile !== undefined) return `never saved whole: still without its ${b.lastFile} after ${formatDuration(now - b.since)} (${windows}; ${b.reason})`;
  if (saving !== undefined) return `never settled: kept changing for ${formatDuration(now - b.since)}, part of ${saving.path}, still being saved (${windows}; ${b.reason})`;
  return `never settled: kept changing for ${formatDuration(now - b.since)} (${windows}; ${b.reason}); add it to exclude if it need not be backed up`;
}
