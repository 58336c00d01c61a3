/**
 * The actions the shell takes for a run once the core has decided: capture a snapshot, export a
 * save, apply rolling retention. Shared by the daemon and by CLI commands that run without one.
 * Callers serialize these per store (one writer at a time).
 */
import fsp from 'node:fs/promises';
import type { RunConfig } from '../config/types.js';
import type { Progress } from '../policy/types.js';
import { planRetention } from '../policy/plan-retention.js';
import type { ScanEntry, SnapshotKind, SnapshotMeta, SaveMeta } from '../store/types.js';
import { scanState } from '../store/scan.js';
import { writeSnapshot } from '../store/write-snapshot.js';
import { writeSave } from '../store/write-save.js';
import { listSnapshots, newestGoodSnapshot } from '../store/read-store.js';
import { deleteSnapshot } from '../store/delete-snapshot.js';
import type { Logger } from '../util/logger.js';
import { formatBytes, formatDuration, formatProgress } from '../util/format.js';

/** Scans a run's state with its include/exclude rules, never descending into ckptd's own folders. */
export async function scanRun(run: RunConfig): Promise<ScanEntry[]> {
  return scanState(run.path, { include: run.include, exclude: run.exclude, excludeAbs: [run.store, run.save.to] });
}

/** Thrown when a snapshot would leave less free disk than `retention.min_free`. Nothing is written. */
export class LowDiskError extends Error {
  override readonly name = 'LowDiskError';
}

/** Bytes a snapshot of `entries` would copy: files not linkable from `previous`. */
export function bytesToCopy(entries: ScanEntry[], previous: SnapshotMeta | null): number {
  const prev = new Map((previous?.files ?? []).map((f) => [f.path, f]));
  let total = 0;
  for (const e of entries) {
    const p = prev.get(e.path);
    const linkable = p && p.size === e.size && p.mtime_ns === e.mtimeNs && p.mode === e.mode && (p.type === 'symlink') === (e.type === 'symlink');
    if (!linkable && e.type === 'file') total += e.size;
  }
  return total;
}

/** Free bytes for an unprivileged writer on the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await fsp.statfs(dir);
  return s.bavail * s.bsize;
}

export interface CaptureOptions {
  kind: SnapshotKind;
  trigger: string;
  name?: string | null;
  notes?: string | null;
  pinned?: boolean;
  progress: Progress;
  now: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Captures `entries` of the run as a new snapshot, hard-linking what the newest good (not damaged)
 * snapshot already holds. Refuses with `LowDiskError` before writing anything when the copy would
 * cross `min_free`.
 */
export async function captureSnapshot(
  run: RunConfig,
  entries: ScanEntry[],
  opts: CaptureOptions,
  logger: Logger,
): Promise<SnapshotMeta> {
  const started = performance.now();
  const previous = await newestGoodSnapshot(run.store);
  const need = bytesToCopy(entries, previous);
  const free = await freeBytes(run.store);
  if (free - need < run.retention.minFreeBytes) {
    throw new LowDiskError(
      `not taking a ${opts.kind} snapshot: it needs ${formatBytes(need)} and would leave ${formatBytes(Math.max(0, free - need))} free ` +
        `on ${run.store}, below retention.min_free (${formatBytes(run.retention.minFreeBytes)}); free space or lower min_free`,
    );
  }
  const meta = await writeSnapshot({
    store: run.store,
    runName: run.name,
    runDir: run.path,
    entries,
    kind: opts.kind,
    trigger: opts.trigger,
    name: opts.name ?? null,
    notes: opts.notes ?? null,
    pinned: opts.pinned ?? false,
    progress: opts.progress,
    previous,
    now: opts.now,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  logger.info(
    `${meta.kind} ${meta.id} taken (${meta.trigger}) at ${formatProgress(meta)}: ${meta.files.length} files, ` +
      `${formatBytes(meta.copied_bytes)} copied, ${formatBytes(meta.linked_bytes)} linked, in ${formatDuration(performance.now() - started)}`,
    { event: 'snapshot', id: meta.id, kind: meta.kind, trigger: meta.trigger, epoch: meta.epoch, step: meta.step },
  );
  for (const s of meta.skipped) logger.warn(`${meta.id}: left out ${s.path}: ${s.reason}`, { event: 'skipped', id: meta.id, path: s.path });
  return meta;
}

/**
 * Exports the run's model files (`save.files`) as a save. `from` is the backup just taken of the
 * same state: its verified, read-only copies are exported instead of the live files.
 */
export async function exportSave(
  run: RunConfig,
  entries: ScanEntry[],
  progress: Progress,
  trigger: string,
  from: SnapshotMeta | null,
  now: number,
  logger: Logger,
): Promise<SaveMeta> {
  const started = performance.now();
  const save = await writeSave({
    store: run.store,
    saveTo: run.save.to,
    runName: run.name,
    prefix: run.save.prefix,
    files: run.save.files,
    from,
    runDir: run.path,
    entries,
    progress,
    trigger,
    now,
  });
  logger.info(
    `save ${save.id} written (${trigger}) at ${formatProgress(save)}: ${save.path} (${formatBytes(save.bytes)}) in ${formatDuration(performance.now() - started)}`,
    { event: 'save', id: save.id, trigger, path: save.path, epoch: save.epoch, step: save.step },
  );
  return save;
}

/**
 * Applies rolling retention after a backup: deletes the backups the plan removes, re-reading each
 * from disk first and refusing anything that is not an unpinned policy backup, or is `justTaken`.
 * Damaged snapshots (marked by `ckptd verify`) count as such: never the newest good backup, and
 * not counted toward `keep`.
 */
export async function applyRetention(run: RunConfig, justTaken: string | null, now: number, logger: Logger): Promise<string[]> {
  const snapshots = await listSnapshots(run.store);
  const plan = planRetention(
    snapshots.map((s) => ({
      id: s.id,
      kind: s.kind,
      pinned: s.pinned,
      created: Date.parse(s.created),
      damaged: s.damaged,
      metrics: s.metrics,
      loss: s.loss,
    })),
    { rolling: run.backup.rolling, keep: run.backup.keep, keepBest: run.retention.keepBest },
    now,
  );
  const deleted: string[] = [];
  for (const r of plan.remove) {
    try {
      await deleteSnapshot(run.store, r.id, (fresh) => {
        if (fresh.kind !== 'backup') return `it is a ${fresh.kind} snapshot`;
        if (fresh.pinned) return 'it is pinned';
        if (fresh.id === justTaken) return 'it was just taken';
        return null;
      });
      deleted.push(r.id);
      logger.info(`backup ${r.id} deleted: ${r.reasons.join('; ')}`, { event: 'delete', id: r.id, reasons: r.reasons });
    } catch (err) {
      logger.warn(`backup ${r.id} kept: ${(err as Error).message}`, { event: 'delete-refused', id: r.id });
    }
  }
  return deleted;
}
