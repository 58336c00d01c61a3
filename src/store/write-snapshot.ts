/**
 * Writing a snapshot so that it is never visible half-written: everything is staged in
 * `<store>/.staging/<id>/` (files, then `snapshot.json`, all fsynced), then the folder is renamed
 * into `snapshots/` in one step. A crash at any instant leaves at most a staging folder, which
 * `sweepStore` removes at the next start.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { KnownBefore } from '../policy/emptied-file.js';
import type { Progress } from '../policy/types.js';
import { allocateId } from './allocate-id.js';
import { captureState } from './capture-state.js';
import { commitStaged, fsyncDir, removeTree, syncDirs } from './durable.js';
import { isValidId } from './ids.js';
import type { FindWriters } from './open-writers.js';
import { assertLockHeld, signalOfHeldLock } from './lock-signal.js';
import { DIR_MODE, ensureStore, snapshotDir, snapshotFilesDir, snapshotMetaFile, stagingRoot } from './layout.js';
import { stateDigest } from './scan.js';
import { writeSnapshotJson } from './snapshot-json.js';
import { stagedHandle } from './staged-handle.js';
import type { LeftOut, ScanEntry, SnapshotKind, SnapshotMeta } from './types.js';

/** What `writeSnapshot` captures and the metadata it records. */
export interface WriteSnapshotOptions {
  store: string;
  runName: string;
  runDir: string;
  /** The scanned, settled state to capture. */
  entries: ScanEntry[];
  kind: SnapshotKind;
  trigger: string;
  name?: string | null;
  notes?: string | null;
  pinned?: boolean;
  /** The progress decided on; replaced by what `label` reads from the captured files, when given. */
  progress: Progress;
  modelType?: string | null;
  /**
   * Reads the labels (progress, model type) from the captured copies in `filesDir` (a local folder
   * holding exactly the captured bytes, readable during the call) once the capture
   * is complete, so that a snapshot's labels describe the bytes it holds even when the trainer moved
   * on between the decision and the copy. Its result replaces `progress` and `modelType`.
   */
  label?: (filesDir: string, captured: ScanEntry[]) => Promise<{ progress: Progress; modelType: string | null }>;
  /**
   * The newest good snapshot (see `newestGoodSnapshot`): its unchanged files are hard-linked instead
   * of copied. One marked `damaged` is ignored (everything is copied), so bad bytes are never shared.
   */
  previous: SnapshotMeta | null;
  /**
   * What snapshots newer than `previous` knew of files (`Store.lastKnown`), asked only about the
   * few files found empty that `previous` did not hold with bytes: an empty file one of them held
   * with bytes, or left out, is held back as just emptied (`policy/emptied-file.ts`). Leave it out
   * when `previous` is the state the run was set to (right after a restore): newer snapshots then
   * describe a state the run no longer has.
   */
  lastKnown?: (paths: readonly string[]) => Promise<Map<string, KnownBefore>>;
  /** Creation time (ms since the Unix epoch): the id and `created`. */
  now: number;
  /** Bytes captured so far and the bytes to capture. */
  onProgress?: (done: number, total: number) => void;
  /** Files of the state left out before the capture (files that never settle), listed in `skipped` with these reasons. */
  neverSettled?: { path: string; reason: string }[];
  /**
   * Scans the run now with the rules that made `entries` (`CaptureStateOptions.rescan`): files that
   * appeared while a capture followed a later version of the state are captured with it. The
   * paths of `neverSettled` are never taken from it.
   */
  rescan?: () => Promise<ScanEntry[]>;
  /** What the scan of `entries` left out (see `ScanResult.leftOut`): recorded as `left_out`. */
  leftOut?: LeftOut[];
  /** The `ckptd run` session taking it: recorded as `session`. */
  session?: string;
  /** Extra capture passes when sources change during the capture (default 3). */
  retries?: number;
  /**
   * Pause before retry k is `retryDelayMs * 2^k` (default 200 ms: 200, 400, 800), or up to
   * `settleMs` when a changed file needs that long to settle.
   */
  retryDelayMs?: number;
  /**
   * The run's `settle` (ms): a file that changes during the capture is captured again only once it
   * is settled like the first time (unchanged for `settleMs`, mtime that old, not open for writing).
   */
  settleMs: number;
  /** Who holds files open for writing (default: `findOpenWriters`, this process left out). For tests. */
  openWriters?: FindWriters;
  /**
   * The store lock's signal (`StoreLock.signal`), checked right before the rename into
   * `snapshots/`. Default: the lock this process holds on `store`, if any.
   */
  signal?: AbortSignal;
}

/**
 * Captures `entries` as a new snapshot and returns its metadata (also written as `snapshot.json`).
 *
 * - Unchanged files (same path, size, mtime, mode, inode and ctime as in `previous`, see
 *   `unchangedSince`, whose stored file is still there with that size and mode) are hard-linked
 *   from `previous` and keep its sha256; others are
 *   copied with `captureFile`; symlinks are recreated with the same target (never followed), their
 *   sha256 being that of the target string.
 * - The state is captured as one generation: sources that change during the capture are captured
 *   again once settled (up to `retries` more passes, with backoff); on the last pass files that
 *   keep changing or are still open for writing are left out and listed in `skipped` with the
 *   reason, as are files that vanished and files reached through a folder of the run that was
 *   replaced by a symlink (never read). With `rescan`, files that appeared with a later version
 *   captured are captured too (or listed in `skipped`, "appeared during the capture").
 * - Stored files keep the source's read and execute bits and lose every write bit (0o600 -> 0o400,
 *   0o644 -> 0o444, 0o755 -> 0o555), folders 0o755; the manifest's `mode` is the source's.
 * - On any error the staging folder is removed and the error rethrown: no snapshot appears. A full
 *   disk is a `NoSpaceError` (path and errno), a changed/vanished file never is an error.
 * - Once the store lock is lost (`signal`), it throws `LockLostError` before the rename: the
 *   staging folder is removed and no snapshot appears.
 * The caller holds the store's lock.
 */
export async function writeSnapshot(opts: WriteSnapshotOptions): Promise<SnapshotMeta> {
  return (await stageSnapshot(opts)).commit();
}

/**
 * A snapshot written in full under `<store>/.staging/<id>/` (files and `snapshot.json`, fsynced) and
 * not yet visible: `commit` makes it visible in one rename, `abandon` removes it. One abandoned
 * without either (a crash, a kill) stays invisible and is removed by `sweepStore`.
 */
export interface StagedSnapshot {
  readonly id: string;
  /** The metadata `commit` makes visible (and returns). */
  readonly meta: SnapshotMeta;
  /**
   * Checks the lock (`LockLostError`), renames the staged folder into `snapshots/` (never replacing
   * anything) and makes the rename durable. On an error before the rename the staged folder is
   * removed and nothing is visible. Once it resolved, calling it again throws.
   */
  commit(): Promise<SnapshotMeta>;
  /** Removes the staged folder; nothing becomes visible. Idempotent; a no-op after `commit`. */
  abandon(): Promise<void>;
}

/**
 * The first half of `writeSnapshot`: everything but the rename into `snapshots/` (see there for
 * what is captured and how). On any error the staging folder is removed and the error rethrown.
 * `id`, when given, is used instead of one allocated here: for a store that stages in a scratch
 * store of its own and allocates ids against its own records (the remote store); it must be valid.
 */
export async function stageSnapshot(opts: WriteSnapshotOptions, id?: string): Promise<StagedSnapshot> {
  const signal = opts.signal ?? signalOfHeldLock(opts.store);
  assertLockHeld(signal);
  if (id !== undefined && !isValidId(id)) throw new Error(`refusing to stage snapshot ${JSON.stringify(id)}: not a valid id`);
  await ensureStore(opts.store);
  id ??= await allocateId(opts.store, opts.now);
  const stage = path.join(stagingRoot(opts.store), id);
  const final = snapshotDir(opts.store, id);
  // Not recursive: the staging folder must be new, so no two writers ever share one.
  await fsp.mkdir(stage, { mode: DIR_MODE });
  let meta: SnapshotMeta;
  try {
    await fsp.chmod(stage, DIR_MODE);
    const filesDir = path.join(stage, 'files');
    await fsp.mkdir(filesDir, { mode: DIR_MODE });
    await fsp.chmod(filesDir, DIR_MODE);
    const prev = opts.previous !== null && isValidId(opts.previous.id) && opts.previous.damaged !== true ? opts.previous : null;
    // When it was sealed: a stored file written after that may not hold what its digest names.
    const sealedUs = prev === null ? null : await fsp.stat(snapshotMetaFile(opts.store, prev.id), { bigint: true }).then((st) => Number(st.mtimeNs / 1000n), () => null);
    const captured = await captureState({
      runDir: opts.runDir,
      entries: opts.entries,
      dest: filesDir,
      previous: prev && sealedUs !== null ? { filesDir: snapshotFilesDir(opts.store, prev.id), files: prev.files, sealedUs, leftOut: prev.skipped.map((s) => s.path) } : null,
      retries: opts.retries ?? 3,
      retryDelayMs: opts.retryDelayMs ?? 200,
      settleMs: opts.settleMs,
      ...(opts.lastKnown ? { lastKnown: opts.lastKnown } : {}),
      ...(opts.openWriters ? { openWriters: opts.openWriters } : {}),
      ...(opts.rescan ? { rescan: rescanOf(opts.rescan, opts.neverSettled ?? []) } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    // After one syncfs of the whole file system (many small copies) the folders are durable too.
    if (!captured.synced) for (const dir of captured.dirs) await fsyncDir(dir);
    const labels = opts.label ? await opts.label(filesDir, captured.entries) : { progress: opts.progress, modelType: opts.modelType ?? null };

    meta = {
      id,
      run: opts.runName,
      kind: opts.kind,
      name: opts.name ?? null,
      notes: opts.notes ?? null,
      pinned: opts.pinned ?? false,
      created: new Date(opts.now).toISOString(),
      trigger: opts.trigger,
      epoch: labels.progress.epoch,
      step: labels.progress.step,
      loss: labels.progress.loss,
      metrics: { ...labels.progress.metrics },
      model_type: labels.modelType,
      ...(labels.progress.trainer ? { trainer: labels.progress.trainer } : {}),
      bytes: captured.files.reduce((n, f) => n + f.size, 0),
      path: snapshotFilesDir(opts.store, id),
      files: captured.files,
      state_digest: stateDigest(captured.entries),
      ...(opts.session !== undefined ? { session: opts.session } : {}),
      skipped: [...(opts.neverSettled ?? []), ...captured.skipped].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0)),
      incomplete: captured.skipped.length + (opts.neverSettled?.length ?? 0) > 0,
      left_out: opts.leftOut ?? [],
      copied_bytes: captured.copiedBytes,
      linked_bytes: captured.linkedBytes,
      format: 1,
    };
    await writeSnapshotJson(path.join(stage, 'snapshot.json'), meta, 0o444);
    await fsyncDir(stage);
  } catch (err) {
    await removeTree(stage).catch(() => undefined);
    throw err;
  }
  // Filled by the rename: `snapshots/` and `.staging/`, fsynced once the snapshot is visible.
  const renamed = new Set<string>();
  return stagedHandle(id, meta, {
    async publish() {
      assertLockHeld(signal);
      // rename(2) would silently replace an empty folder of the same name; ids are unique, but be sure.
      await commitStaged(stage, final, { noReplace: true, deferSync: renamed });
    },
    // The snapshot is complete and visible from here on; this makes the rename itself durable.
    afterPublish: () => syncDirs(renamed),
    discard: () => removeTree(stage),
  });
}

/** `rescan`, without the files left out as never settling (listed in `skipped` already). */
function rescanOf(rescan: () => Promise<ScanEntry[]>, neverSettled: { path: string }[]): () => Promise<ScanEntry[]> {
  if (neverSettled.length === 0) return rescan;
  const hot = new Set(neverSettled.map((n) => n.path));
  return async () => (await rescan()).filter((e) => !hot.has(e.path));
}
