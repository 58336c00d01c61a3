/**
 * The actions the shell takes for a run once the core has decided: capture a snapshot, export a
 * save, apply rolling retention. Shared by the daemon and by CLI commands that run without one.
 * Callers serialize these per store (one writer at a time).
 */
import type { RunConfig } from '../config/types.js';
import type { Progress } from '../policy/types.js';
import type { LeftOut, ScanEntry, SnapshotKind, SnapshotMeta, SaveMeta } from '../store/types.js';
import { leftOutOf, scanState } from '../store/scan.js';
import { storeOf } from '../store/local-store.js';
import { matchByPath } from '../store/match-by-path.js';
import { isIncomplete } from '../store/read-store.js';
import { removeRestoredRecord } from '../store/restored-record.js';
import { unchangedSince } from '../store/unchanged-since.js';
import { applyPlan, planStore } from './retention.js';
import { linkSourceAfterRestore } from './restored-link-source.js';
import { FolderCount, SNAPSHOT_OWN_INODES } from './snapshot-inodes.js';
import { saveFilesOf } from './save-files.js';
import { detectModelType } from '../progress/model-type.js';
import { readCapturedProgress, runFilesOf } from '../progress/read-progress.js';
import type { Logger } from '../util/logger.js';
import { atProgress, formatBytes, formatDuration, formatProgress, printableName } from '../util/format.js';

/**
 * Scans a run's state with its include/exclude rules, never descending into ckptd's own folders
 * and never taking ckptd's own files (`run.ownFiles`: the config, the log and metrics files).
 * `leftOutOf(result)` names what it left out (names that are not UTF-8).
 */
export async function scanRun(run: RunConfig): Promise<ScanEntry[]> {
  return scanState(run.path, { include: run.include, exclude: run.exclude, excludeAbs: [run.store, run.save.to, ...run.ownFiles] });
}

/** `scanRun`, with a run folder that is not there (deleted, or not written yet) as a state of no files. */
export async function scanRunIfThere(run: RunConfig): Promise<ScanEntry[]> {
  return scanRun(run).catch((err: unknown) => {
    if (isMissing(err)) return [];
    throw err;
  });
}

/** True for the error a scan of a run folder that is not there throws. */
export function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** `model_type` of a snapshot: the config's, else what the trainer's files say (null when they say nothing). */
export async function modelTypeOf(run: RunConfig, entries: ScanEntry[]): Promise<string | null> {
  return run.modelType ?? (await detectModelType(run.path, entries));
}

/** Thrown when a snapshot would leave less free disk than `retention.min_free`. Nothing is written. */
export class LowDiskError extends Error {
  override readonly name = 'LowDiskError';
}

/**
 * Bytes a snapshot of `entries` would copy: the files the capture will not link from `previous`,
 * by the capture's own rule (`unchangedSince`); a sparse file counts its `allocated` bytes.
 */
export function bytesToCopy(entries: ScanEntry[], previous: SnapshotMeta | null): number {
  return whatItTakes(entries, previous).bytes;
}

/**
 * What a snapshot of `entries` would take of its file system: `bytes` as `bytesToCopy` counts them,
 * and `inodes`, the files and folders it would create: each file the capture will not link from
 * `previous` (a hard link takes no inode), each symlink, each folder of its tree, and
 * `SNAPSHOT_OWN_INODES`.
 */
export function whatItTakes(entries: ScanEntry[], previous: SnapshotMeta | null): { bytes: number; inodes: number } {
  const prev = matchByPath(previous?.files ?? [], entries);
  const folders = new FolderCount();
  let bytes = 0;
  let inodes = SNAPSHOT_OWN_INODES;
  entries.forEach((e, i) => {
    if (e.type === 'symlink') inodes++;
    // A sparse file's copy keeps its holes: it takes the blocks written, not its apparent size.
    else if (!unchangedSince(prev[i], e)) {
      bytes += e.allocated ?? e.size;
      inodes++;
    }
    folders.add(e.path);
  });
  return { bytes, inodes: inodes + folders.size };
}

/** The progress a snapshot is labelled with (read from its own files when it was taken). */
export function progressOf(meta: SnapshotMeta, source: string | null): Progress {
  return { epoch: meta.epoch, step: meta.step, loss: meta.loss, metrics: { ...meta.metrics }, source, ...(meta.trainer ? { trainer: meta.trainer } : {}) };
}

/**
 * The regular files a snapshot holds, as the scan entries of the versions it captured (symlinks
 * are never exported; the inode is not recorded and not needed to copy from the snapshot).
 */
function entriesHeldBy(meta: SnapshotMeta): ScanEntry[] {
  return meta.files
    .filter((f) => f.type === undefined)
    .map((f) => ({ path: f.path, type: 'file' as const, size: f.size, mtimeNs: f.mtime_ns, ino: 0, mode: f.mode }));
}

export interface CaptureOptions {
  kind: SnapshotKind;
  trigger: string;
  name?: string | null;
  notes?: string | null;
  pinned?: boolean;
  progress: Progress;
  now: number;
  /** Extra capture passes and the first pause between them (default: `writeSnapshot`'s 3 and 200 ms). */
  retry?: { retries: number; delayMs: number };
  /** Names the scan could not capture (default: `leftOutOf(entries)`, which a filtered copy of a scan loses). */
  leftOut?: LeftOut[];
  /** Files of the state left out because they never settle, with the reasons (see `writeSnapshot`). */
  neverSettled?: { path: string; reason: string }[];
  onProgress?: (done: number, total: number) => void;
  /** The store lock's signal (`StoreLock.signal`): the snapshot is not committed once it fires. */
  signal?: AbortSignal;
  /** The `ckptd run` session whose daemon takes it (`SnapshotMeta.session`). */
  session?: string;
}

/**
 * Captures `entries` of the run as a new snapshot, hard-linking what the newest good (not damaged)
 * snapshot already holds (right after a restore: what the restored snapshot holds, see
 * `restored-link-source.ts`). Refuses with `LowDiskError` before writing anything when the copy would
 * cross `min_free`.
 */
export async function captureSnapshot(
  run: RunConfig,
  entries: ScanEntry[],
  opts: CaptureOptions,
  logger: Logger,
): Promise<SnapshotMeta> {
  const started = performance.now();
  const store = storeOf(run.store);
  // Held beside `entries` for the whole capture: its entries hold the scan's strings, not copies.
  const newest = await store.newestGood({ like: entries });
  // Right after a restore: the restored snapshot, as the run holds it (see restored-link-source.ts).
  const afterRestore = await linkSourceAfterRestore(run, store, newest);
  // Removed only by the lock holder (a lost lock writes nothing more, removals included).
  const holdsLock = (): boolean => opts.signal?.aborted !== true;
  if (afterRestore.stale && holdsLock()) await removeRestoredRecord(run.store).catch(() => undefined);
  const previous = afterRestore.source ?? newest;
  const { bytes: need, inodes } = whatItTakes(entries, previous);
  let free = await store.freeBytes();
  let freeInodes = await store.freeInodes();
  const shortBytes = Math.max(0, run.retention.minFreeBytes - (free - need));
  const shortInodes = Math.max(0, inodes - freeInodes);
  if (shortBytes > 0 || shortInodes > 0) {
    // Before refusing, free what retention may free: the oldest backups no rule protects.
    // Never the snapshot this capture links from: deleting it would turn its links into copies.
    const inUse = previous === null ? [] : [{ id: previous.id, why: 'the snapshot this capture links from' }];
    const plan = await planStore(run, opts.now, { bytes: shortBytes, inodes: shortInodes }, true, inUse, true);
    if (plan.snapshots.freedBytes >= shortBytes && plan.snapshots.freedInodes >= shortInodes) {
      const lacks = [
        ...(shortBytes > 0 ? [`${formatBytes(need)} and min_free is ${formatBytes(run.retention.minFreeBytes)}`] : []),
        ...(shortInodes > 0 ? [`${inodes} new files and folders (inodes) and the file system of ${run.store} has ${freeInodes} left`] : []),
      ];
      const frees = [...(shortBytes > 0 ? [formatBytes(shortBytes)] : []), ...(shortInodes > 0 ? [`${shortInodes} inodes`] : [])];
      logger.warn(`disk low: a ${opts.kind} snapshot needs ${lacks.join(', and ')}; deleting the oldest unprotected backups to free ${frees.join(' and ')}`, {
        event: 'low-disk-prune',
      });
      await applyPlan(run, plan, null, logger, opts.signal);
      free = await store.freeBytes();
      freeInodes = await store.freeInodes();
    }
  }
  if (need > free) {
    throw new LowDiskError(
      `not taking a ${opts.kind} snapshot: it needs ${formatBytes(need)} but only ${formatBytes(free)} is free on ${run.store}, ` +
        'and retention could not free enough; free some space (or move the store)',
    );
  }
  // Many small files can use up a file system's inodes with bytes to spare: refused here, before
  // any is copied, not by an ENOSPC midway (the daemon would copy and remove them again at each try).
  if (inodes > freeInodes) {
    throw new LowDiskError(
      `not taking a ${opts.kind} snapshot: it needs ${inodes} new files and folders (inodes) but the file system of ${run.store} ` +
        `has only ${freeInodes} left, whatever its free bytes (\`df -i\` shows them), and retention could not free enough; ` +
        'delete files there, keep fewer snapshots, or put the store on a file system with more inodes',
    );
  }
  if (free - need < run.retention.minFreeBytes) {
    throw new LowDiskError(
      `not taking a ${opts.kind} snapshot: it needs ${formatBytes(need)} and would leave ${formatBytes(free - need)} free ` +
        `on ${run.store}, below retention.min_free (${formatBytes(run.retention.minFreeBytes)}); free space or lower min_free`,
    );
  }
  // Staged in full, then committed at once: what `writeSnapshot` does, through the Store.
  const staged = await store.stageSnapshot({
    runName: run.name,
    runDir: run.path,
    entries,
    kind: opts.kind,
    trigger: opts.trigger,
    name: opts.name ?? null,
    notes: opts.notes ?? null,
    pinned: opts.pinned ?? false,
    progress: opts.progress,
    label: async (filesDir, captured) => {
      const files = runFilesOf(captured);
      return {
        progress: await readCapturedProgress(filesDir, run.path, run.progress, files),
        modelType: run.modelType ?? (await detectModelType(filesDir, captured)),
      };
    },
    previous,
    // Incomplete snapshots newer than the link source may be the last to have seen a file with
    // bytes; right after a restore the run is the restored state, and newer ones describe another.
    ...(afterRestore.source === null ? { lastKnown: (paths: readonly string[]) => store.lastKnown(paths) } : {}),
    // A capture that follows the trainer to a later state takes the files that state added.
    rescan: () => scanRun(run),
    ...(opts.neverSettled ? { neverSettled: opts.neverSettled } : {}),
    now: opts.now,
    // The CLI (`snapshot`, `backup-now`, pre-restore) and the daemon both capture here: a file
    // changing during the capture is recaptured only once settled by the run's own `settle`.
    settleMs: run.settleMs,
    leftOut: opts.leftOut ?? leftOutOf(entries),
    ...(opts.retry ? { retries: opts.retry.retries, retryDelayMs: opts.retry.delayMs } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.session !== undefined ? { session: opts.session } : {}),
  });
  const meta = await staged.commit();
  // The record describes the run until a newer good snapshot is taken: this one now.
  if (afterRestore.source !== null && !isIncomplete(meta) && holdsLock()) await removeRestoredRecord(run.store).catch(() => undefined);
  if (meta.epoch !== opts.progress.epoch || meta.step !== opts.progress.step) {
    logger.info(
      `${meta.id}: the trainer moved on while it was captured: decided at ${formatProgress(opts.progress)}, ` +
        `its files hold ${formatProgress(meta)}, which is what it is labelled`,
      { event: 'labels-moved', id: meta.id },
    );
  }
  logger.info(
    `${meta.kind} ${meta.id} taken (${meta.trigger}) ${atProgress(meta)}: ${meta.files.length} files, ` +
      `${formatBytes(meta.copied_bytes)} copied, ${formatBytes(meta.linked_bytes)} linked, in ${formatDuration(performance.now() - started)}`,
    {
      event: 'snapshot',
      id: meta.id,
      kind: meta.kind,
      trigger: meta.trigger,
      epoch: meta.epoch,
      step: meta.step,
      copied_bytes: meta.copied_bytes,
      linked_bytes: meta.linked_bytes,
      duration_ms: Math.round(performance.now() - started),
    },
  );
  for (const s of meta.skipped) logger.warn(`${meta.id}: left out ${printableName(s.path)}: ${s.reason}`, { event: 'skipped', id: meta.id, path: s.path });
  for (const l of meta.left_out ?? []) logger.warn(`${meta.id}: left out ${l.path}: ${l.reason}`, { event: 'left-out', id: meta.id, path: l.path });
  return meta;
}

/**
 * Exports the run's model files (`save.files`, all or the newest model's by `save.pick`) as a save.
 * `from` is the backup just taken of the same state: its verified, read-only copies are exported
 * instead of the live files. The log line says what `save.pick: newest` chose and left out.
 */
export async function exportSave(
  run: RunConfig,
  entries: ScanEntry[],
  progress: Progress,
  trigger: string,
  from: SnapshotMeta | null,
  now: number,
  logger: Logger,
  signal?: AbortSignal,
): Promise<SaveMeta> {
  const started = performance.now();
  // Exported from the backup: exactly the versions it holds, even where the run has moved on.
  const chosen = saveFilesOf(run, from && from.damaged !== true ? entriesHeldBy(from) : entries, progress.source);
  const save = await storeOf(run.store).commitSave({
    saveTo: run.save.to,
    runName: run.name,
    prefix: run.save.prefix,
    files: run.save.files,
    from,
    runDir: run.path,
    entries: chosen.entries,
    progress,
    trigger,
    now,
    modelType: from?.model_type ?? (await modelTypeOf(run, entries)),
    ...(signal ? { signal } : {}),
  });
  logger.info(
    `save ${save.id} written (${trigger}) ${atProgress(save)}: ${save.path} (${formatBytes(save.bytes)}) in ${formatDuration(performance.now() - started)}` +
      (chosen.picked === null ? '' : `; ${chosen.picked}`),
    { event: 'save', id: save.id, trigger, path: save.path, epoch: save.epoch, step: save.step },
  );
  return save;
}

/**
 * Applies retention after a backup (SPEC section 3, `retention`): asks the pure core for a plan over
 * the store (rolling keep, keep_best, time buckets, max_size, save.keep) and deletes what it
 * removes, re-reading each from disk first and refusing anything that is not an unpinned policy
 * backup, or is `justTaken`. Damaged snapshots never count as the newest good backup. `run` may be a
 * getter of the config in force (the daemon's): retention then plans with it as it is now and stops
 * deleting once a reload changes its rules (see `applyPlan`).
 */
export async function applyRetention(run: RunConfig | (() => RunConfig), justTaken: string | null, now: number, logger: Logger, signal?: AbortSignal): Promise<string[]> {
  // The daemon's config in force: an edit saved while the backup was taken applies now.
  const configNow = typeof run === 'function' ? run : undefined;
  const current = configNow?.() ?? (run as RunConfig);
  // Nothing here reports bytes: the stored files are read only when a size rule needs them.
  return applyPlan(current, await planStore(current, now, {}, false), justTaken, logger, signal, configNow);
}
