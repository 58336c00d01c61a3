/**
 * Writing a snapshot so that it is never visible half-written: everything is staged in
 * `<store>/.staging/<id>/` (files, then `snapshot.json`, all fsynced), then the folder is renamed
 * into `snapshots/` in one step. A crash at any instant leaves at most a staging folder, which
 * `sweepStore` removes at the next start.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Progress } from '../policy/types.js';
import { allocateId } from './allocate-id.js';
import { captureState } from './capture-state.js';
import { fsyncDir, removeTree } from './durable.js';
import { withPath } from './errors.js';
import { isValidId } from './ids.js';
import { DIR_MODE, ensureStore, snapshotDir, snapshotFilesDir, snapshotsDir, stagingRoot } from './layout.js';
import { stateDigest } from './scan.js';
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
  progress: Progress;
  modelType?: string | null;
  /**
   * The newest good snapshot (see `newestGoodSnapshot`): its unchanged files are hard-linked instead
   * of copied. One marked `damaged` is ignored (everything is copied), so bad bytes are never shared.
   */
  previous: SnapshotMeta | null;
  /** Creation time (ms since the Unix epoch): the id and `created`. */
  now: number;
  /** Bytes captured so far and the bytes to capture. */
  onProgress?: (done: number, total: number) => void;
  /** What the scan of `entries` left out (see `ScanResult.leftOut`): recorded as `left_out`. */
  leftOut?: LeftOut[];
  /** Extra capture passes when sources change during the capture (default 3). */
  retries?: number;
  /** Pause before retry k is `retryDelayMs * 2^k` (default 200 ms: 200, 400, 800). */
  retryDelayMs?: number;
}

/**
 * Captures `entries` as a new snapshot and returns its metadata (also written as `snapshot.json`).
 *
 * - Unchanged files (same path, type, size, mtime and mode as in `previous`, whose stored file is
 *   still there with that size) are hard-linked from `previous` and keep its sha256; others are
 *   copied with `captureFile`; symlinks are recreated with the same target (never followed), their
 *   sha256 being that of the target string.
 * - The state is captured as one generation: sources that change during the capture are captured
 *   again (up to `retries` more passes, with backoff); on the last pass files that keep changing
 *   are left out and listed in `skipped` with the reason, as are files that vanished.
 * - Stored files are read-only (0o444, 0o555 when the source had an x bit), folders 0o755; the
 *   manifest's `mode` is the source's.
 * - On any error the staging folder is removed and the error rethrown: no snapshot appears. A full
 *   disk is a `NoSpaceError` (path and errno), a changed/vanished file never is an error.
 * The caller holds the store's lock.
 */
export async function writeSnapshot(opts: WriteSnapshotOptions): Promise<SnapshotMeta> {
  await ensureStore(opts.store);
  const id = await allocateId(opts.store, opts.now);
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
    const captured = await captureState({
      runDir: opts.runDir,
      entries: opts.entries,
      dest: filesDir,
      previous: prev ? { filesDir: snapshotFilesDir(opts.store, prev.id), files: prev.files } : null,
      retries: opts.retries ?? 3,
      retryDelayMs: opts.retryDelayMs ?? 200,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    for (const dir of captured.dirs) await fsyncDir(dir);

    meta = {
      id,
      run: opts.runName,
      kind: opts.kind,
      name: opts.name ?? null,
      notes: opts.notes ?? null,
      pinned: opts.pinned ?? false,
      created: new Date(opts.now).toISOString(),
      trigger: opts.trigger,
      epoch: opts.progress.epoch,
      step: opts.progress.step,
      loss: opts.progress.loss,
      metrics: { ...opts.progress.metrics },
      model_type: opts.modelType ?? null,
      bytes: captured.files.reduce((n, f) => n + f.size, 0),
      path: snapshotFilesDir(opts.store, id),
      files: captured.files,
      state_digest: stateDigest(captured.entries),
      skipped: captured.skipped,
      left_out: opts.leftOut ?? [],
      copied_bytes: captured.copiedBytes,
      linked_bytes: captured.linkedBytes,
      format: 1,
    };
    await writeNewFile(path.join(stage, 'snapshot.json'), `${JSON.stringify(meta, null, 2)}\n`, 0o444);
    await fsyncDir(stage);
    // rename(2) would silently replace an empty folder of the same name; ids are unique, but be sure.
    if (await fsp.lstat(final).then(() => true, () => false)) throw new Error(`${final} already exists`);
    await fsp.rename(stage, final);
  } catch (err) {
    await removeTree(stage).catch(() => undefined);
    throw err;
  }
  // The snapshot is complete and visible from here on; these make the rename itself durable.
  await fsyncDir(snapshotsDir(opts.store));
  await fsyncDir(stagingRoot(opts.store));
  return meta;
}

/** Writes a new file (fails if it exists) with `mode`, fsynced. */
async function writeNewFile(file: string, text: string, mode: number): Promise<void> {
  try {
    const fh = await fsp.open(file, 'wx', mode);
    try {
      await fh.writeFile(text);
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw withPath(err, 'writing', file);
  }
}
