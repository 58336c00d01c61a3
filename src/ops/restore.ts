/**
 * `ckptd restore ID`: makes the run's state byte-identical to a snapshot. In order:
 * 1. refuse (SafetyError, exit 3) while the trainer is writing, naming the files and the process;
 * 2. take a `pre-restore` snapshot of the current state (unchanged files cost a link);
 * 3. stage every file to write as `.ckptd-tmp-restore-*` beside its target, copied fresh from the
 *    store (never a hard link, so a trainer writing in place cannot alter a snapshot) and hashed
 *    against the manifest: a damaged snapshot is refused here, before the run is touched;
 * 4. rename each staged file over its target, then remove the files the snapshot lacks.
 * A kill during 3 leaves the run as it was (plus temp names every scan ignores and the next restore
 * removes); a kill during 4 leaves a mix that running the restore again completes, with the
 * pre-restore snapshot holding what was there. `--to DIR` writes a copy elsewhere and touches nothing else.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { RunConfig } from '../config/types.js';
import { planRestore, type RestorePlan, type TargetFile } from '../policy/plan-restore.js';
import { readProgress } from '../progress/read-progress.js';
import { captureFile, SMALL_FILE } from '../store/capture-file.js';
import { HASH_WORKERS } from '../store/hash-workers.js';
import { fsyncDir } from '../store/durable.js';
import { isSafeRelPath } from '../store/layout.js';
import type { ScanEntry, SnapshotMeta } from '../store/types.js';
import { captureSnapshot, scanRun } from '../daemon/run-actions.js';
import { assertLockHeld, signalOfHeldLock } from '../store/lock-signal.js';
import { judgeSettled } from '../daemon/settle.js';
import { SafetyError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
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
  /** Restore into this folder instead of the run (no pre-restore snapshot, the run is not touched). */
  to: string | null;
  /** Restore even while files are open for writing or just changed; into a non-empty `to`. */
  force: boolean;
  now: number;
  logger: Logger;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

export interface RestoreResult {
  target: string;
  preRestoreId: string | null;
  written: string[];
  unchanged: string[];
  removed: string[];
  /** Files the restore would have removed but left because they changed meanwhile. */
  leftInPlace: string[];
  bytesWritten: number;
}

/** What restoring `snapshot` into the run would change, for the confirmation prompt. */
export async function previewRestore(run: RunConfig, snapshot: SnapshotMeta): Promise<RestorePlan> {
  return planRestore(await scanRun(run), snapshot.files);
}

export async function restoreSnapshot(opts: RestoreOptions): Promise<RestoreResult> {
  const { run, snapshot } = opts;
  for (const f of snapshot.files) if (!isSafeRelPath(f.path)) throw new Error(`snapshot ${snapshot.id} lists an unsafe path ${JSON.stringify(f.path)}; not restoring it`);
  if (opts.to !== null) return restoreElsewhere(opts, opts.to);

  const entries = await scanRun(run).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [] as ScanEntry[];
    throw err;
  });
  if (!opts.force) {
    const verdict = await judgeSettled(run, entries, 0, opts.now);
    if (!verdict.settled) {
      throw new SafetyError(`not restoring while the trainer is writing: ${verdict.reason}; stop the trainer first, or pass --force`);
    }
  }
  await removeStaleStaging(run.path, entries);
  let preRestoreId: string | null = null;
  if (entries.length > 0) {
    const progress = await readProgress(run.path, run.progress, entries.map((e) => ({ path: e.path, mtimeMs: Number(BigInt(e.mtimeNs) / 1_000_000n) })));
    const pre = await captureSnapshot(run, entries, { kind: 'pre-restore', trigger: preRestoreTrigger(snapshot.id), progress, now: opts.now }, opts.logger);
    preRestoreId = pre.id;
  }
  const plan = planRestore(entries, snapshot.files);
  const result: RestoreResult = { target: run.path, preRestoreId, written: [], unchanged: [], removed: [], leftInPlace: [], bytesWritten: 0 };

  const toWrite = [...plan.write];
  for (const f of plan.confirm) {
    if ((await sha256File(path.join(run.path, f.path))) === f.sha256) result.unchanged.push(f.path);
    else toWrite.push(f);
  }
  const staged = await stageAll(snapshot, toWrite, run.path, opts.onProgress);
  const signal = signalOfHeldLock(run.store);
  await commitStaged(staged, result, signal);
  const byPath = new Map(entries.map((e) => [e.path, e]));
  for (const c of plan.remove) {
    const abs = path.join(run.path, c.path);
    const st = await fsp.lstat(abs, { bigint: true }).catch(() => null);
    const was = byPath.get(c.path)!;
    if (st === null) continue;
    if (Number(st.size) !== was.size || st.mtimeNs.toString() !== was.mtimeNs) {
      result.leftInPlace.push(c.path);
      continue;
    }
    assertLockHeld(signal);
    await fsp.unlink(abs);
    result.removed.push(c.path);
  }
  for (const d of new Set([...staged.map((s) => path.dirname(s.final)), ...result.removed.map((r) => path.dirname(path.join(run.path, r)))])) {
    await fsyncDir(d).catch(() => undefined);
  }
  return result;
}

async function restoreElsewhere(opts: RestoreOptions, to: string): Promise<RestoreResult> {
  const existing = await fsp.readdir(to).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  if (existing.length > 0 && !opts.force) throw new SafetyError(`${to} is not empty; restore into an empty or new folder, or pass --force to write over it`);
  await fsp.mkdir(to, { recursive: true });
  const staged = await stageAll(opts.snapshot, opts.snapshot.files, to, opts.onProgress);
  const result: RestoreResult = { target: to, preRestoreId: null, written: [], unchanged: [], removed: [], leftInPlace: [], bytesWritten: 0 };
  await commitStaged(staged, result, undefined);
  return result;
}

/**
 * Renames every staged file over its target, recording it; removes any temp file left on failure.
 * Checks the store lock (`signal`) before each rename: a lost lock stops it with `LockLostError`.
 */
async function commitStaged(staged: Staged[], result: RestoreResult, signal: AbortSignal | undefined): Promise<void> {
  try {
    for (const s of staged) {
      assertLockHeld(signal);
      await fsp.rename(s.tmp, s.final);
      result.written.push(s.file.path);
      result.bytesWritten += s.file.size;
    }
  } finally {
    for (const s of staged) await fsp.rm(s.tmp, { force: true }).catch(() => undefined);
  }
}

interface Staged {
  file: TargetFile;
  tmp: string;
  final: string;
}

/** Files up to `SMALL_FILE` (and symlinks) staged at a time; larger ones go `HASH_WORKERS` at a time, as in capture. */
const SMALL_PARALLEL = 16;

/**
 * Copies every file of `files` from the snapshot to a temp name beside its target under `root`,
 * checking each copy's sha256 against the manifest; files are staged concurrently (see `SMALL_PARALLEL`).
 * Returns the staged files in the order of `files`. `onProgress` gets the bytes copied so far,
 * never decreasing, the last call at `total` (no call when there are no bytes to copy). On any
 * failure no new file is started, the copies under way are awaited, then every temp file is
 * removed and the first error thrown: nothing under `root` has been replaced yet.
 */
async function stageAll(snapshot: SnapshotMeta, files: TargetFile[], root: string, onProgress?: (done: number, total: number) => void): Promise<Staged[]> {
  // Every temp name, recorded before it is created, so a failure removes even a half-written one.
  const staged: (Staged & { index: number })[] = [];
  const total = files.reduce((n, f) => n + (f.type === 'symlink' ? 0 : f.size), 0);
  let done = 0;
  await fsp.mkdir(root, { recursive: true });
  const realRoot = await fsp.realpath(root);
  // Set on the first failure: a file already under way then creates no temp file (the error is thrown anyway).
  let failing = false;

  const stageOne = async ({ file: f, index }: { file: TargetFile; index: number }): Promise<void> => {
    const final = path.join(root, f.path);
    await fsp.mkdir(path.dirname(final), { recursive: true });
    // A folder of the path may have become a symlink since: never write through it out of `root`.
    const realDir = await fsp.realpath(path.dirname(final));
    if (realDir !== realRoot && !realDir.startsWith(realRoot + path.sep)) {
      throw new SafetyError(`not restoring ${f.path}: ${path.dirname(final)} now leads outside ${root} (to ${realDir}); nothing in ${root} was changed`);
    }
    const tmp = path.join(path.dirname(final), `${STAGE_PREFIX}${randomBytes(4).toString('hex')}-${path.basename(final)}`.slice(0, 255));
    const stored = path.join(snapshot.path, f.path);
    if (failing) return;
    if (f.type === 'symlink') {
      await fsp.symlink(f.target ?? '', tmp);
      staged.push({ file: f, tmp, final, index });
      return;
    }
    const st = await fsp.lstat(stored, { bigint: true }).catch(() => null);
    if (!st?.isFile()) throw new Error(`snapshot ${snapshot.id} is damaged: ${f.path} is missing from the store; nothing in ${root} was changed`);
    const entry: ScanEntry = { path: f.path, type: 'file', size: Number(st.size), mtimeNs: st.mtimeNs.toString(), ino: Number(st.ino), mode: f.mode };
    if (failing) return;
    staged.push({ file: f, tmp, final, index });
    const copy = await captureFile(stored, tmp, entry, {
      mode: f.mode,
      onBytes: (n) => {
        done += n;
        onProgress?.(done, total);
      },
    });
    if (copy.sha256 !== f.sha256 || copy.size !== f.size) {
      throw new Error(`snapshot ${snapshot.id} is damaged: ${f.path} does not match its manifest (sha256 differs); nothing in ${root} was changed. Run \`ckptd verify ${snapshot.id}\``);
    }
    // Node sets times from a double of seconds, truncated to the microsecond; aiming at the middle
    // of the intended microsecond makes the truncation land on it (diff compares to that precision).
    const mtime = (Number((BigInt(f.mtime_ns) + 500n) / 1000n) + 0.5) / 1e6;
    await fsp.utimes(tmp, mtime, mtime);
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
    for (const s of staged) await fsp.rm(s.tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  return staged.sort((a, b) => a.index - b.index).map(({ file, tmp, final }) => ({ file, tmp, final }));
}

/** Removes temp files an interrupted restore left in the run (the prefix proves they are ours). */
async function removeStaleStaging(root: string, entries: ScanEntry[]): Promise<void> {
  const dirs = new Set(['.', ...entries.map((e) => path.posix.dirname(e.path))]);
  for (const d of dirs) {
    const abs = path.join(root, d);
    for (const name of await fsp.readdir(abs).catch(() => [] as string[])) {
      if (name.startsWith(STAGE_PREFIX)) await fsp.rm(path.join(abs, name), { force: true });
    }
  }
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
