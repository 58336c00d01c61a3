/**
 * `ckptd restore ID`: makes the run's state byte-identical to a snapshot. In order:
 * 1. refuse (SafetyError, exit 3) while the trainer is writing, naming the files and the process;
 * 2. stage every file to write under a short temp name (`.ckptd-tmp-restore-<token>-<n>`, so any
 *    legal file name restores) in its target's folder, copied fresh from the store (never a hard
 *    link, so a trainer writing in place cannot alter a snapshot) and checked against the manifest
 *    (a file's sha256; a symlink's stored link must have exactly the recorded target): a damaged or
 *    tampered snapshot is refused here, before the run is touched and without a pre-restore snapshot;
 * 3. take a `pre-restore` snapshot of the current state (unchanged files cost a link): it exists
 *    before any file of the run is replaced;
 * 4. rename each staged file over its target, then remove the files the snapshot lacks, then the
 *    folders those removals emptied (a later `checkpoint-N/` a resume would pick, a folder where
 *    the snapshot holds a file), and rename the files whose place such a folder held in; a file
 *    under a folder of the snapshot where the run had a regular file (staged in the nearest real
 *    folder above) is renamed in once that file is removed and its folders made.
 * Every mkdir, rename and unlink in the run is preceded by a walk from the run folder that checks
 * each folder on the path with lstat (`walkInside`) and followed by a realpath check: a folder
 * swapped for a symlink stops the restore with a SafetyError naming it, and nothing outside the run
 * is created, replaced or removed.
 * A kill during 2 leaves the run as it was (plus temp names every scan ignores and the next restore,
 * of any snapshot, removes wherever they are); a kill during 4 leaves a mix that running the
 * restore again completes, with the pre-restore snapshot holding what was there. `--to DIR` writes
 * a copy elsewhere and touches nothing else.
 *
 * Over 300 lines on purpose: refusal, staging, the pre-restore snapshot, the renames and the
 * removals are one ordered procedure whose safety depends on that order; read it whole.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { RunConfig } from '../config/types.js';
import { planRestore, type RestorePlan, type TargetFile } from '../policy/plan-restore.js';
import { readProgress, runFilesOf } from '../progress/read-progress.js';
import { SMALL_FILE } from '../store/capture-file.js';
import { HASH_WORKERS } from '../store/hash-workers.js';
import { commitStaged, syncDirs } from '../store/durable.js';
import { isSafeRelPath } from '../store/layout.js';
import { assertStillInside, walkInside } from '../store/safe-dir.js';
import { storeOf } from '../store/local-store.js';
import type { Store } from '../store/store.js';
import type { ScanEntry, SnapshotMeta } from '../store/types.js';
import { identityOf, lstatQuiet, placedCopy, recordRestored, type FileIdentity } from './record-restored.js';
import { captureSnapshot, scanRunIfThere } from './run-actions.js';
import { assertLockHeld, signalOfHeldLock } from '../store/lock-signal.js';
import { judgeSettled } from './settle.js';
import { SafetyError } from '../util/errors.js';
import { assertApartFromRun, assertFolderPlace } from './restore-target.js';
import { removeEmptiedFolders, removeEmptyFolder, removeExtra, replaceOnlyAsKept, type ReplaceCheck } from './restore-remove.js';
import type { Logger } from '../util/logger.js';
import { utimesSeconds } from '../util/fs.js';
import { runPools } from '../util/run-pools.js';

const STAGE_PREFIX = '.ckptd-tmp-restore-';

/** The trigger recorded on the `pre-restore` snapshot taken before restoring snapshot `id`. */
export function preRestoreTrigger(id: string): string {
  return `pre-restore ${id}`;
}

/** The id of the snapshot a restore put in place, from its `pre-restore` snapshot's trigger; null otherwise. */
export function restoredIdOf(preRestoreTriggerText: string): string | null {
  return /^pre-restore (\S+)$/.exec(preRestoreTriggerText)?.[1] ?? null;
}

export interface RestoreOptions {
  run: RunConfig;
  snapshot: SnapshotMeta;
  /** The store holding `snapshot` (a remote one for `restore --remote`); default: the run's local store. */
  from?: Store;
  /** Restore into this folder instead of the run (no pre-restore snapshot, the run is not touched). */
  to: string | null;
  /** Restore even while files are open for writing or just changed; into a non-empty `to`. */
  force: boolean;
  now: number;
  logger: Logger;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** The store lock it runs under (see `OpContext.signal`); default: the lock this process holds on the run's store. */
  signal?: AbortSignal;
  /** Test-only: lets a test act at a fixed point of the restore (see `RestoreHooks`). */
  hooks?: RestoreHooks;
}

/**
 * Test-only points inside a restore, for tests that change the run at a moment no event marks.
 * Production callers pass none.
 */
export interface RestoreHooks {
  /** Awaited once every file is staged and the pre-restore snapshot taken, before anything in the run is replaced or removed. */
  beforeCommit?: () => Promise<void>;
}

export interface RestoreResult {
  target: string;
  preRestoreId: string | null;
  written: string[];
  unchanged: string[];
  removed: string[];
  /**
   * Files the restore would have removed but left: they changed meanwhile, or the pre-restore
   * snapshot had to leave them out (kept changing, open for writing), so no copy would be left.
   */
  leftInPlace: string[];
  /** Files of the snapshot not written: at their path, a file the config leaves out now, or a folder still holding something. */
  notReplaced: string[];
  /** Files of the run the snapshot left out (it holds no version of them): kept as they are, not removed. */
  keptLeftOut: string[];
  bytesWritten: number;
}

/** What restoring `snapshot` into the run would change, for the confirmation prompt. */
export async function previewRestore(run: RunConfig, snapshot: SnapshotMeta): Promise<RestorePlan> {
  return planRestore(await scanRunIfThere(run), snapshot.files, snapshot.skipped);
}

export async function restoreSnapshot(opts: RestoreOptions): Promise<RestoreResult> {
  const { run, snapshot } = opts;
  for (const f of snapshot.files) if (!isSafeRelPath(f.path)) throw new Error(`snapshot ${snapshot.id} lists an unsafe path ${JSON.stringify(f.path)}; not restoring it`);
  if (opts.to !== null) return restoreElsewhere(opts, opts.to);

  const entries = await scanRunIfThere(run);
  if (!opts.force) {
    const verdict = await judgeSettled(run, entries, 0, opts.now);
    if (!verdict.settled) {
      throw new SafetyError(`not restoring while the trainer is writing: ${verdict.reason}; stop the trainer first, or pass --force`);
    }
  }
  // The run folder itself is the configured one (it may be a symlink the user made); below it
  // every folder is checked, from its real path.
  await fsp.mkdir(run.path, { recursive: true });
  const root = await fsp.realpath(run.path);
  await removeStaleStaging(root);
  const plan = planRestore(entries, snapshot.files, snapshot.skipped);
  const result: RestoreResult = { target: run.path, preRestoreId: null, written: [], unchanged: [], removed: [], leftInPlace: [], notReplaced: [], keptLeftOut: plan.keep.map((f) => f.path), bytesWritten: 0 };

  const toWrite = [...plan.write];
  for (const f of plan.confirm) {
    const dir = await walkInside(root, path.posix.dirname(f.path)).catch(() => null);
    if (dir !== null && (await sha256File(path.join(dir, path.basename(f.path)))) === f.sha256) result.unchanged.push(f.path);
    else toWrite.push(f);
  }
  // A path the scan did not list where something is now: a file the run's include or exclude leave
  // out today. The pre-restore snapshot does not hold it, so it is never replaced.
  const scanned = new Set(entries.map((e) => e.path));
  const written: TargetFile[] = [];
  // Paths where the run has a folder and the snapshot a file: written once the removals emptied it.
  const folderInTheWay = new Set<string>();
  // Files under a folder of the snapshot where the run has a file: staged in the nearest
  // real folder above it, written once the removals took that file away and the folders are made.
  const stageAbove = new Map<string, string>();
  for (const f of toWrite) {
    const blocker = await fileAbove(root, f.path);
    if (blocker !== null) stageAbove.set(f.path, path.posix.dirname(blocker));
    const found = scanned.has(f.path) || blocker !== null ? null : await occupant(root, f.path);
    if (found === 'folder') folderInTheWay.add(f.path);
    if (found === 'other') result.notReplaced.push(f.path);
    else written.push(f);
  }
  const staging = await stageAll(opts.from ?? storeOf(run.store), snapshot, written, root, opts.onProgress, stageAbove);
  // The files the pre-restore snapshot could not keep: removed, they would be lost for good.
  let unkept = new Set<string>();
  try {
    if (entries.length > 0) {
      const progress = await readProgress(run.path, run.progress, runFilesOf(entries));
      const pre = await captureSnapshot(run, entries, { kind: 'pre-restore', trigger: preRestoreTrigger(snapshot.id), progress, now: opts.now, ...(opts.signal ? { signal: opts.signal } : {}) }, opts.logger);
      result.preRestoreId = pre.id;
      unkept = new Set(pre.skipped.map((s) => s.path));
    }
    await opts.hooks?.beforeCommit?.();
  } catch (err) {
    await staging.discard();
    throw err;
  }
  const signal = opts.signal ?? signalOfHeldLock(run.store);
  const renamedIn = new Set<string>();
  // Without --force a file is replaced only as the pre-restore snapshot holds it: a version written since would be lost.
  const check = opts.force ? undefined : replaceOnlyAsKept(entries, unkept);
  let emptied: string[] = [];
  try {
    await commitAll(root, { ...staging, files: staging.files.filter((s) => !folderInTheWay.has(s.file.path) && !stageAbove.has(s.file.path)) }, result, signal, renamedIn, check);
    await removeExtra(root, plan.remove, entries, unkept, result, signal);
    emptied = await removeEmptiedFolders(root, result.removed, signal);
    const placeable: Staged[] = [];
    for (const s of staging.files.filter((x) => folderInTheWay.has(x.file.path))) {
      if (await removeEmptyFolder(root, s.file.path, signal)) placeable.push(s);
      else result.notReplaced.push(s.file.path);
    }
    for (const s of staging.files.filter((x) => stageAbove.has(x.file.path))) {
      // The file in the way was left (changed, or one the pre-restore snapshot could not hold): this one is not written.
      const dir = await walkInside(root, path.posix.dirname(s.file.path), { create: true }).catch(() => null);
      if (dir === null) result.notReplaced.push(s.file.path);
      else placeable.push(Object.assign(s, { final: path.join(dir, path.posix.basename(s.file.path)) }));
    }
    await commitAll(root, { ...staging, files: placeable }, result, signal, renamedIn, check);
    // The temp files of those left as they are.
    if (placeable.length < folderInTheWay.size + stageAbove.size) await staging.discard();
  } catch (err) {
    if (!(err instanceof SafetyError)) throw err;
    const before = result.preRestoreId !== null ? `; the state before it is snapshot ${result.preRestoreId} (pre-restore)` : '';
    throw new SafetyError(`${err.message}. The restore of ${snapshot.id} stopped after writing ${result.written.length} of ${staging.files.length} file(s)${before}`);
  }
  for (const r of result.removed) renamedIn.add(path.dirname(path.join(root, r)));
  for (const d of emptied) renamedIn.add(path.dirname(path.join(root, d)));
  await syncRestored(renamedIn);
  if (opts.from === undefined) await recordRestored(run, snapshot, root, staging.files, signal, opts.logger);
  return result;
}

async function restoreElsewhere(opts: RestoreOptions, to: string): Promise<RestoreResult> {
  await assertApartFromRun(opts.run, to);
  await assertFolderPlace(to);
  const existing = await fsp.readdir(to).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  if (existing.length > 0 && !opts.force) throw new SafetyError(`${to} is not empty; restore into an empty or new folder, or pass --force to write over it`);
  await fsp.mkdir(to, { recursive: true });
  const root = await fsp.realpath(to);
  const staging = await stageAll(opts.from ?? storeOf(opts.run.store), opts.snapshot, opts.snapshot.files, root, opts.onProgress);
  const result: RestoreResult = { target: to, preRestoreId: null, written: [], unchanged: [], removed: [], leftInPlace: [], notReplaced: [], keptLeftOut: [], bytesWritten: 0 };
  const renamedIn = new Set<string>();
  await commitAll(root, staging, result, undefined, renamedIn);
  await syncRestored(renamedIn);
  return result;
}

/** What is at `rel` under `root`, reached folder by folder inside it: a real folder, something else (file, symlink), or nothing. */
async function occupant(root: string, rel: string): Promise<'folder' | 'other' | null> {
  const dir = await walkInside(root, path.posix.dirname(rel)).catch(() => null);
  const st = dir === null ? null : await fsp.lstat(path.join(dir, path.posix.basename(rel))).catch(() => null);
  return st === null ? null : st.isDirectory() ? 'folder' : 'other';
}

/**
 * The nearest path above `rel` (relative to `root`) that is a regular file in the run, looked at
 * with lstat from the top; null when every folder above `rel` is a real folder or missing, or when
 * a symlink comes first: one may be the person's link to another disk, never replaced by a folder
 * (staging refuses it, naming it).
 */
async function fileAbove(root: string, rel: string): Promise<string | null> {
  const parts = rel.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const at = parts.slice(0, i).join('/');
    const st = await fsp.lstat(path.join(root, at)).catch(() => null);
    if (st === null || !st.isDirectory()) return st?.isFile() === true ? at : null;
  }
  return null;
}

/** fsyncs the folders the restore renamed into or removed from; one removed meanwhile is skipped. */
async function syncRestored(dirs: Set<string>): Promise<void> {
  for (const d of dirs) {
    await syncDirs([d]).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR') throw err;
    });
  }
}

/**
 * Renames every staged file over its target (`commitStaged`, its folder added to `renamedIn` for
 * the caller to fsync once all are in place), recording it, each after checking no folder on its
 * path became a symlink, that `replaceable` (when given) accepts what is at its path, and that the
 * store lock (`signal`) is still held (a lost lock stops it with `LockLostError`); on any failure
 * the temp files not yet renamed are removed (`discard`).
 */
async function commitAll(root: string, staging: Staging, result: RestoreResult, signal: AbortSignal | undefined, renamedIn: Set<string>, replaceable?: ReplaceCheck): Promise<void> {
  try {
    for (const s of staging.files) {
      const dir = await walkInside(root, path.posix.dirname(s.file.path));
      if (dir === null) throw new SafetyError(`refusing to write ${s.file.path}: its folder vanished from ${root} while the restore ran`);
      await replaceable?.(s.file.path, s.final);
      assertLockHeld(signal);
      const beforeRename = s.copy === null ? undefined : lstatQuiet(s.tmp);
      await commitStaged(s.tmp, s.final, { deferSync: renamedIn });
      if (s.copy !== null) s.placed = placedCopy(s.copy, beforeRename, lstatQuiet(s.final));
      result.written.push(s.file.path);
      result.bytesWritten += s.file.size;
      await assertStillInside(root, dir);
    }
  } catch (err) {
    await staging.discard();
    throw err;
  }
}

interface Staged {
  file: TargetFile;
  tmp: string;
  final: string;
  /** The staged copy's identity once checked and its times set; null for a symlink. */
  copy: FileIdentity | null;
  /** Its identity once renamed into place, when still that copy (`placedCopy`); null: not recorded. */
  placed: FileIdentity | null;
}

/** The files `stageAll` staged, in manifest order, and how to take them back. */
interface Staging {
  files: Staged[];
  /**
   * Removes every temp file still there (one already renamed is gone) and the folders the staging
   * made that are still empty; each only after `walkInside` checked its folder.
   */
  discard: () => Promise<void>;
}

/** Files up to `SMALL_FILE` (and symlinks) staged at a time; larger ones go `HASH_WORKERS` at a time, as in capture. */
const SMALL_PARALLEL = 16;

/**
 * Copies every file of `files` from the snapshot to a short temp name in its target's folder under
 * `root` (a real path), or in the folder `stageAbove` names for it, checking each copy's sha256 against the manifest, and each symlink's stored
 * link against its recorded target; files are staged concurrently (see `SMALL_PARALLEL`). Missing
 * folders are made one at a time by `walkInside`, which refuses a symlink on the way.
 * `onProgress` gets the bytes copied so far, never decreasing, the last call at `total` (no call
 * when there are no bytes to copy). On any failure no new file is started, the copies under way are
 * awaited, then every temp file and every folder made is removed and the first error thrown:
 * nothing under `root` has been replaced yet.
 */
async function stageAll(
  store: Store,
  snapshot: SnapshotMeta,
  files: TargetFile[],
  root: string,
  onProgress?: (done: number, total: number) => void,
  stageAbove: ReadonlyMap<string, string> = new Map(),
): Promise<Staging> {
  // Every temp name, recorded before it is created, so a failure removes even a half-written one.
  const staged: (Staged & { index: number })[] = [];
  const created: string[] = [];
  const total = files.reduce((n, f) => n + (f.type === 'symlink' ? 0 : f.size), 0);
  let done = 0;
  // Temp names stay short whatever the file's name: a name may take all 255 bytes a folder entry has.
  const token = randomBytes(4).toString('hex');
  // Set on the first failure: a file already under way then creates no temp file (the error is thrown anyway).
  let failing = false;

  const discard = async (): Promise<void> => {
    for (const s of staged) {
      const dir = await walkInside(root, stageAbove.get(s.file.path) ?? path.posix.dirname(s.file.path)).catch(() => null);
      if (dir !== null) await fsp.rm(path.join(dir, path.basename(s.tmp)), { force: true }).catch(() => undefined);
    }
    for (const d of [...created].sort((a, b) => b.length - a.length)) {
      const parent = await walkInside(root, path.relative(root, path.dirname(d)).split(path.sep).join('/') || '.').catch(() => null);
      if (parent !== null) await fsp.rmdir(path.join(parent, path.basename(d))).catch(() => undefined);
    }
  };

  const stageOne = async ({ file: f, index }: { file: TargetFile; index: number }): Promise<void> => {
    const dir = (await walkInside(root, stageAbove.get(f.path) ?? path.posix.dirname(f.path), { create: true, created }))!;
    // Under a file in the way, the final name is known once its folder is made (see `restoreSnapshot`).
    const final = path.join(dir, path.posix.basename(f.path));
    const tmp = path.join(dir, `${STAGE_PREFIX}${token}-${index}`);
    if (failing) return;
    if (f.type === 'symlink') {
      const target = await store.readLink(snapshot, f.path).catch(() => null);
      if (target === null || target !== f.target || sha256Text(target) !== f.sha256) {
        const found = target === null ? 'no stored link' : `a stored link to ${JSON.stringify(target)}`;
        throw new Error(
          `snapshot ${snapshot.id} is damaged: the symlink ${f.path} does not match its manifest (${found}, snapshot.json says ${JSON.stringify(f.target ?? null)}); ` +
            `nothing in ${root} was changed. Run \`ckptd verify ${snapshot.id}\``,
        );
      }
      staged.push({ file: f, tmp, final, index, copy: null, placed: null });
      await fsp.symlink(target, tmp);
      await assertStillInside(root, dir);
      return;
    }
    const entry: Staged & { index: number } = { file: f, tmp, final, index, copy: null, placed: null };
    staged.push(entry);
    const copy = await store.copyFileOut(snapshot, f.path, tmp, {
      mode: f.mode,
      onBytes: (n) => {
        done += n;
        onProgress?.(done, total);
      },
    });
    await assertStillInside(root, dir);
    if (copy.sha256 !== f.sha256 || copy.size !== f.size) {
      throw new Error(`snapshot ${snapshot.id} is damaged: ${f.path} does not match its manifest (sha256 differs); nothing in ${root} was changed. Run \`ckptd verify ${snapshot.id}\``);
    }
    // The nearest microsecond: Node sets no finer (diff compares to that precision).
    const mtime = utimesSeconds(BigInt(f.mtime_ns) + 500n);
    await fsp.utimes(tmp, mtime, mtime);
    const st = await fsp.lstat(tmp, { bigint: true });
    entry.copy = identityOf(st);
  };

  const items = files.map((file, index) => ({ file, index }));
  const isSmall = ({ file: f }: { file: TargetFile }): boolean => f.type === 'symlink' || f.size <= SMALL_FILE;
  try {
    await runPools(
      [
        { items: items.filter(isSmall), parallel: SMALL_PARALLEL },
        { items: items.filter((i) => !isSmall(i)), parallel: HASH_WORKERS },
      ],
      async (item) => {
        try {
          await stageOne(item);
        } catch (err) {
          failing = true;
          throw err;
        }
      },
    );
  } catch (err) {
    // runPools has awaited every copy under way: no temp file can appear after this cleanup.
    await discard();
    throw err;
  }
  return { files: staged.sort((a, b) => a.index - b.index).map(({ file, tmp, final, copy, placed }) => ({ file, tmp, final, copy, placed })), discard };
}

/**
 * Removes the temp files an interrupted restore left anywhere in the run (the prefix proves they
 * are ours), also in folders the scan does not list: ones only that staging made, holding nothing
 * but its temp files, and excluded ones. Each folder is entered only as a real folder under the
 * run (`walkInside`, never through a symlink); the folders themselves are left.
 */
async function removeStaleStaging(root: string): Promise<void> {
  const queue = ['.'];
  for (let d = queue.pop(); d !== undefined; d = queue.pop()) {
    const abs = await walkInside(root, d).catch(() => null);
    if (abs === null) continue;
    for (const e of await fsp.readdir(abs, { withFileTypes: true }).catch(() => [])) {
      if (e.name.startsWith(STAGE_PREFIX)) await fsp.rm(path.join(abs, e.name), { force: true });
      else if (e.isDirectory()) queue.push(d === '.' ? e.name : `${d}/${e.name}`);
    }
  }
}

function sha256Text(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

async function sha256File(file: string): Promise<string | null> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 8 << 20 })) hash.update(chunk as Buffer);
  } catch {
    return null;
  }
  return hash.digest('hex');
}
