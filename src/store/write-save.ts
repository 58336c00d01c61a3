/**
 * Exporting a run's model files as a save: into `save.to`, under a name that says what it is
 * (`<prefix><run>-e<epoch>-s<step>-<id>.<ext>`). In order: the export under a temp name
 * (`.ckptd-tmp-<id>[.ext]`, fsynced), its record under a pending name
 * (`save-records/.ckptd-tmp-pending-<id>.json`), the export renamed into place, then the record
 * renamed to `<store>/save-records/<id>.json`. A crash at any point leaves temp names (swept) or a
 * pending record naming a complete export (completed by `sweepStore`), never an export without a record.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { globMatcher } from '../util/globs.js';
import { saveExtensionOf, saveFileName } from '../policy/save-file-name.js';
import type { Progress } from '../policy/types.js';
import { allocateId } from './allocate-id.js';
import { captureFile } from './capture-file.js';
import { commitStaged, ensureDirDurable, fsyncDir, removeTree, writeFileAtomic } from './durable.js';
import { SaveToNotWritableError, withPath } from './errors.js';
import { hashOpenFileOnWorker } from './hash-workers.js';
import { isValidId } from './ids.js';
import { keepCommittedCtime } from './labels.js';
import { assertLockHeld, signalOfHeldLock } from './lock-signal.js';
import { DIR_MODE, TEMP_PREFIX, ensureStore, isSafeRelPath, pendingSaveRecordFile, saveIntentFile, saveRecordFile, snapshotFilesDir } from './layout.js';
import type { ManifestEntry, SaveMeta, ScanEntry, SnapshotMeta } from './types.js';
import { existsNoFollow } from '../util/fs.js';

/** What `writeSave` exports, where to, and the facts its record carries. */
export interface WriteSaveOptions {
  store: string;
  /** The folder that receives saves (created when missing). */
  saveTo: string;
  runName: string;
  /** Prepended to the name; `/`, `\`, NUL and control characters become `_`. */
  prefix: string;
  /** `save.files`: globs (relative POSIX paths, `dot: true`) selecting the model files. */
  files: string[];
  /**
   * The backup just taken of this same state: its stored copies are exported. One marked `damaged`
   * is ignored (the files are captured from the run and `from_snapshot` is null).
   */
  from: SnapshotMeta | null;
  runDir: string;
  /** The scanned state the save is of. */
  entries: ScanEntry[];
  progress: Progress;
  trigger: string;
  now: number;
  modelType?: string | null;
  /**
   * The store lock's signal, checked right before the export is put in place and before its record
   * is written. Default: the lock this process holds on `store`, if any.
   */
  signal?: AbortSignal;
}

/**
 * Exports the regular files of `entries` that `files` selects (symlinks are not exported) and
 * returns the save's record. One model file becomes `<saveTo>/<prefix><run>-e<E>-s<S>-<id><.ext>`
 * (`-e`/`-s` left out when unknown); several become a folder of that name (no ext) holding them at
 * their relative paths. Exported files are read-only with the source's read and execute bits
 * (`saveMode`: 0600 -> 0400, 0644 -> 0444, 0755 -> 0555), so a private model stays private.
 *
 * Files that `from` holds in the same version (path, size, mtime) are copied from its read-only,
 * already hashed copies (`copyFile` with FICLONE: a reflink where the file system has them), each
 * copy hashed again and refused (throws naming the backup) unless it holds its manifest's bytes;
 * others are captured from the run with `captureFile` (a file changing meanwhile throws
 * `FileChangedError`; nothing is left behind). The record's `files[].path` are run-relative; for a
 * single file its bytes are at `path` itself, for a folder at `path/<files[].path>`.
 *
 * Nothing outside `saveTo` and the store is written; an existing file is never replaced. Throws
 * when no model file matches, naming the globs. The record is written (pending) before the export
 * is put in place and committed after; if anything before that commit fails, the export and the
 * pending record are removed again. Once the store lock is lost (`signal`) it throws
 * `LockLostError` and leaves neither the export nor a record. `id`, when given, is used instead of
 * one allocated here (see `stageSnapshot`).
 */
export async function writeSave(opts: WriteSaveOptions, id?: string): Promise<SaveMeta> {
  const models = selectModelFiles(opts.entries, opts.files, opts.runDir);
  const signal = opts.signal ?? signalOfHeldLock(opts.store);
  assertLockHeld(signal);
  if (id !== undefined && !isValidId(id)) throw new Error(`refusing to save as ${JSON.stringify(id)}: not a valid id`);
  await ensureStore(opts.store);
  id ??= await allocateId(opts.store, opts.now);
  const single = models.length === 1;
  const ext = single ? saveExtensionOf(models[0]!.path) : '';
  const base = saveBaseName(opts.prefix, opts.runName, opts.progress, id);
  await ensureSaveTo(opts.saveTo);
  const saveTo = path.resolve(opts.saveTo);
  const tmp = path.join(saveTo, `${TEMP_PREFIX}${id}${ext}`);
  const final = path.join(saveTo, `${base}${ext}`);
  const pending = pendingSaveRecordFile(opts.store, id);

  const runReal = await fsp.realpath(opts.runDir);
  const from = opts.from !== null && isValidId(opts.from.id) && opts.from.damaged !== true ? opts.from : null;
  const stored = new Map((from?.files ?? []).map((f) => [f.path, f]));
  const files: ManifestEntry[] = [];
  let placed = false;
  /** The staged export's inode, once it is about to be put in place. */
  let exportIno: number | null = null;
  // Before any temp name appears in save.to: what lets a sweep prove that temp name this store's.
  const intent = saveIntentFile(opts.store, id);
  await writeFileAtomic(intent, '');
  try {
    if (!single) await fsp.mkdir(tmp, { mode: DIR_MODE });
    const dirs = new Set<string>();
    for (const e of models) {
      const dst = single ? tmp : path.join(tmp, e.path);
      if (!single) {
        for (let d = path.posix.dirname(e.path); d !== '.'; d = path.posix.dirname(d)) dirs.add(d);
        await fsp.mkdir(path.dirname(dst), { recursive: true, mode: DIR_MODE });
      }
      const mode = saveMode(e.mode);
      const s = stored.get(e.path);
      let sha256: string;
      if (from !== null && s !== undefined && s.type === undefined && s.size === e.size && s.mtime_ns === e.mtimeNs) {
        await copyStored(path.join(snapshotFilesDir(opts.store, from.id), e.path), dst, { size: e.size, sha256: s.sha256, mode, from: from.id });
        sha256 = s.sha256;
      } else {
        // Read only as the run's own file at that path, never through a folder swapped for a symlink.
        sha256 = (await captureFile(path.join(opts.runDir, e.path), dst, e, { mode, inRun: path.join(runReal, e.path) })).sha256;
      }
      files.push({ path: e.path, size: e.size, sha256, mode: e.mode, mtime_ns: e.mtimeNs });
    }
    if (!single) {
      const ordered = [...dirs].sort((a, b) => b.split('/').length - a.split('/').length);
      for (const d of ordered) await fsyncDir(path.join(tmp, d));
      await fsyncDir(tmp);
    }
    const meta: SaveMeta = {
      id,
      run: opts.runName,
      kind: 'save',
      name: null,
      notes: null,
      pinned: false,
      created: new Date(opts.now).toISOString(),
      trigger: opts.trigger,
      epoch: opts.progress.epoch,
      step: opts.progress.step,
      loss: opts.progress.loss,
      metrics: { ...opts.progress.metrics },
      model_type: opts.modelType ?? null,
      ...(opts.progress.trainer ? { trainer: opts.progress.trainer } : {}),
      bytes: files.reduce((n, f) => n + f.size, 0),
      path: final,
      files,
      from_snapshot: from?.id ?? null,
      format: 1,
    };
    // The record first, under a hidden name, so that the export is never visible without a record
    // naming it: a crash after the export's rename leaves this pending record, and `sweepStore`
    // completes it (a crash before leaves only temp names, which it removes).
    await writeFileAtomic(pending, `${JSON.stringify(meta, null, 2)}\n`);
    assertLockHeld(signal);
    exportIno = (await fsp.lstat(tmp)).ino;
    await commitStaged(tmp, final, { noReplace: true });
    placed = true;
    // When the export was placed, by the file system's clock, kept in the record: `deleteSave`
    // takes a file changed since as the person's. Not the record's own ctime, which a chmod or chown
    // over the store, or a copy of it, moves past the person's changes.
    const exported = [final, ...(single ? [] : files.map((f) => path.join(final, f.path)))];
    let placedAt = 0n;
    for (const f of exported) placedAt = bigMax(placedAt, (await fsp.lstat(f, { bigint: true })).ctimeNs);
    await keepCommittedCtime(opts.store, pending, id, placedAt, signal);
    assertLockHeld(signal);
    await commitStaged(pending, saveRecordFile(opts.store, id), { noReplace: true });
    await fsp.rm(intent, { force: true }).catch(() => undefined);
    return meta;
  } catch (err) {
    // The export may be in place though its commit threw after the link (its folders' fsync, the
    // unlink of the temp name): it is ours when `final` is the very file staged.
    if (!placed && exportIno !== null) placed = (await fsp.lstat(final).catch(() => null))?.ino === exportIno;
    // The record is in place (only its folder's fsync failed): the save exists, nothing is taken back.
    if (placed && (await existsNoFollow(saveRecordFile(opts.store, id)))) throw err;
    await removeTree(tmp).catch(() => undefined);
    await fsp.rm(pending, { force: true }).catch(() => undefined);
    // Only what this call just put in place (its name carries the new id) is removed.
    if (placed) await removeTree(final).catch(() => undefined);
    // Kept while the temp name is still there: the next sweep removes both.
    if (!(await existsNoFollow(tmp))) await fsp.rm(intent, { force: true }).catch(() => undefined);
    throw err;
  }
}

/**
 * The mode of an exported file: the source's read and execute bits, no write bit (a save is a
 * finished export), and always owner-read so the owner can use it.
 */
export function saveMode(sourceMode: number): number {
  return (sourceMode & 0o555) | 0o400;
}

/**
 * `<prefix><run>[-e<epoch>][-s<step>]-<id>`, with the prefix made safe as part of one file name
 * (`/`, `\`, NUL, control characters -> `_`; a leading `.ckptd-` loses its dot so the name can
 * never be mistaken for a ckptd temp file).
 */
export function saveBaseName(prefix: string, runName: string, progress: Progress, id: string): string {
  const name = saveFileName({ prefix, run: runName, epoch: progress.epoch, step: progress.step, id, ext: '' });
  return name.startsWith('.ckptd-') ? `_${name.slice(1)}` : name;
}

/** The regular files of `entries` that `globs` (`save.files`) select, in the order given. */
export function matchModelFiles(entries: readonly ScanEntry[], globs: readonly string[]): ScanEntry[] {
  const match = globMatcher(globs);
  return entries.filter((e) => e.type === 'file' && match(e.path));
}

/** The regular files `globs` select; throws naming the globs when there are none. */
function selectModelFiles(entries: ScanEntry[], globs: string[], runDir: string): ScanEntry[] {
  const models = matchModelFiles(entries, globs);
  for (const e of models) if (!isSafeRelPath(e.path)) throw new Error(`refusing to save unsafe path ${JSON.stringify(e.path)}`);
  if (models.length > 0) return models;
  const described = globs.map((g) => {
    const matches = globMatcher([g]);
    const only = entries.some((e) => matches(e.path));
    return `"${g}" ${only ? 'matched only symlinks' : 'matched nothing'}`;
  });
  throw new Error(`no model file to save in ${runDir}: save.files ${described.length > 0 ? described.join(', ') : 'is empty'}`);
}

/**
 * Copies a stored file of backup `from`: reflink where possible, then narrows the mode, checks the
 * copy's size and its bytes against the manifest (`size`, `sha256`), fsyncs. A stored copy that no
 * longer holds its manifest's bytes (a backup found by its digest may be old and never verified
 * since) throws naming the backup: the record would otherwise claim a hash the export does not have.
 */
async function copyStored(src: string, dst: string, want: { size: number; sha256: string; mode: number; from: string }): Promise<void> {
  try {
    await fsp.copyFile(src, dst, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
    const fh = await fsp.open(dst, 'r');
    try {
      // The copy starts with the stored file's mode: narrow it before anything else.
      await fh.chmod(want.mode);
      const st = await fh.stat();
      if (st.size !== want.size) throw new Error(`stored copy ${src} has ${st.size} bytes, its manifest says ${want.size}`);
      // The bytes exported, hashed from the export itself: what the record's sha256 promises.
      const got = await hashOpenFileOnWorker(fh.fd, want.size);
      if (got !== want.sha256) throw new Error(`stored copy ${src} does not hold the bytes backup ${want.from}'s manifest names (damaged?): not exported; run \`ckptd verify ${want.from}\``);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    await fsp.rm(dst, { force: true }).catch(() => undefined);
    throw withPath(err, 'exporting', dst);
  }
}

function bigMax(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/**
 * Makes `saveTo` (and any missing folder above it) durably, and checks that this process may
 * create files in it, before anything of a save is written: one it may not write (permission
 * denied, a read-only file system) is a `SaveToNotWritableError` that names it, who ckptd runs as,
 * and what to do.
 */
async function ensureSaveTo(saveTo: string): Promise<void> {
  try {
    await ensureDirDurable(saveTo, { mode: DIR_MODE });
    await fsp.access(saveTo, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new SaveToNotWritableError(saveTo, code, (err as Error).message);
    throw err;
  }
}
