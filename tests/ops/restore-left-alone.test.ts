/**
 * A restore writes only the run's state as the config names it now. A file the snapshot holds but
 * the run's include/exclude leave out today is not part of the state the pre-restore snapshot keeps:
 * a file at its path is left as it is and reported, never replaced with no copy of it anywhere.
 *
 * An incomplete snapshot holds no version of the files it left out (they kept changing, or could not
 * be read): restoring it leaves whatever is at their paths as it is, and says so. Removing them
 * would lose them for good when the pre-restore snapshot has to leave them out too (a log appended
 * to all the time, a restore with --force).
 *
 * A snapshot holding a file where the run now has a folder (`ckpt` was one file, now a folder of
 * shards) puts the file back once the folder's files are removed (the pre-restore snapshot holds
 * them); a folder still holding something the restore may not remove stays as it is, named.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunConfig } from '../../src/config/types.js';
import { zeroConfig } from '../../src/config/zero-config.js';
import { previewRestore, restoreSnapshot } from '../../src/ops/restore.js';
import { captureSnapshot, scanRun } from '../../src/ops/run-actions.js';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { storeOf } from '../../src/store/local-store.js';
import type { SnapshotMeta } from '../../src/store/types.js';
import type { Logger } from '../../src/util/logger.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

let dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
  dirs = [];
});

function write(file: string, data: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  const t = new Date(Date.now() - 60_000);
  fs.utimesSync(file, t, t);
}

/** A run folder holding `files` (written a minute ago), its config, and `file(rel)` for its paths. */
function runWith(files: Record<string, string>): { run: RunConfig; file: (rel: string) => string } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-restore-left-alone-'));
  dirs.push(base);
  const runDir = path.join(base, 'run');
  const file = (rel: string): string => path.join(runDir, rel);
  for (const [rel, text] of Object.entries(files)) write(file(rel), text);
  const c = zeroConfig(runDir, path.join(base, 'store')).runs[0]!;
  return { run: { ...c, settleMs: 20, retention: { ...c.retention, minFreeBytes: 0 } }, file };
}

describe('restore and files the config now leaves out', () => {
  it('leaves a file now excluded as it is, reports it, and restores the rest', async () => {
    const { run, file } = runWith({ 'model.bin': 'weights 1', 'notes/plan.md': 'the plan as it was', 'gone.txt': 'only in the snapshot' });
    const snap = await captureSnapshot(run, await scanRun(run), { kind: 'backup', trigger: 'test', progress: NO_PROGRESS, now: Date.now() }, quiet);

    // Later the person excludes notes/ and gone.txt and goes on editing the notes; the model changes.
    const now: RunConfig = { ...run, exclude: [...run.exclude, 'notes/**', 'gone.txt'] };
    write(file('notes/plan.md'), 'the plan as it is now');
    fs.rmSync(file('gone.txt'));
    write(file('model.bin'), 'weights 2');

    const r = await restoreSnapshot({ run: now, snapshot: snap, to: null, force: false, now: Date.now(), logger: quiet });
    expect(fs.readFileSync(file('model.bin'), 'utf8')).toBe('weights 1');
    expect(fs.readFileSync(file('notes/plan.md'), 'utf8')).toBe('the plan as it is now');
    expect(r.notReplaced).toEqual(['notes/plan.md']);
    // Nothing was at its path: restoring it harms nothing.
    expect(fs.readFileSync(file('gone.txt'), 'utf8')).toBe('only in the snapshot');
    expect(r.written.sort()).toEqual(['gone.txt', 'model.bin']);
  });
});

describe('restore of an incomplete snapshot', () => {
  it('leaves the files it left out as they are, reports them, and restores the rest', async () => {
    const { run, file } = runWith({ 'model.bin': 'weights 1', 'logs/train.log': 'epoch 1\n' });
    // The log kept changing: the backup left it out.
    const entries = (await scanRun(run)).filter((e) => e.path !== 'logs/train.log');
    const neverSettled = [{ path: 'logs/train.log', reason: 'kept changing' }];
    const snap = await captureSnapshot(run, entries, { kind: 'backup', trigger: 'test', progress: NO_PROGRESS, now: Date.now(), neverSettled }, quiet);
    expect(snap.incomplete).toBe(true);

    write(file('model.bin'), 'weights 2');
    write(file('logs/train.log'), 'epoch 1\nepoch 2\n');
    write(file('extra.bin'), 'not in the snapshot');
    expect((await previewRestore(run, snap)).remove.map((f) => f.path)).toEqual(['extra.bin']);

    const r = await restoreSnapshot({ run, snapshot: snap, to: null, force: true, now: Date.now(), logger: quiet });
    expect(fs.readFileSync(file('model.bin'), 'utf8')).toBe('weights 1');
    expect(fs.readFileSync(file('logs/train.log'), 'utf8')).toBe('epoch 1\nepoch 2\n');
    expect(fs.existsSync(file('extra.bin'))).toBe(false);
    expect(r.removed).toEqual(['extra.bin']);
    expect(r.keptLeftOut).toEqual(['logs/train.log']);
  });
});

describe('restore --force while a file is held open for writing', () => {
  it('keeps a file the snapshot lacks when the pre-restore snapshot had to leave it out', async () => {
    const { run, file } = runWith({ 'model.bin': 'weights 1' });
    const snap = await captureSnapshot(run, await scanRun(run), { kind: 'backup', trigger: 'test', progress: NO_PROGRESS, now: Date.now() }, quiet);

    // The trainer went on: a log it holds open for writing (as it does all along), the model changed.
    write(file('logs/train.log'), 'epoch 1\nepoch 2\n');
    write(file('model.bin'), 'weights 2');
    const holder = spawn('sh', ['-c', 'exec 3>>"$1"; echo ready; exec sleep 600', 'sh', file('logs/train.log')], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((r) => holder.stdout.once('data', r));
      const r = await restoreSnapshot({ run, snapshot: snap, to: null, force: true, now: Date.now(), logger: quiet });
      expect(fs.readFileSync(file('model.bin'), 'utf8')).toBe('weights 1');
      const pre = await storeOf(run.store).resolve(r.preRestoreId!);
      // Not in the pre-restore snapshot, so not removed: no copy of it would be left anywhere.
      expect((pre as SnapshotMeta).skipped.map((s) => s.path)).toEqual(['logs/train.log']);
      expect(fs.readFileSync(file('logs/train.log'), 'utf8')).toBe('epoch 1\nepoch 2\n');
      expect(r.removed).toEqual([]);
      expect(r.leftInPlace).toEqual(['logs/train.log']);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});

/** A backup of the run as it is now. */
async function backupOf(run: RunConfig): Promise<SnapshotMeta> {
  return captureSnapshot(run, await scanRun(run), { kind: 'backup', trigger: 'test', progress: NO_PROGRESS, now: Date.now() }, quiet);
}

/** The names of ckptd's temp files in `dir` (a restore's staged copies). */
function tempNamesIn(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.startsWith('.ckptd-'));
}

describe('restore and a file the snapshot lacks, rewritten after the pre-restore snapshot', () => {
  it('keeps it when the rewrite put its size and mtime back (rsync -t, cp -p, touch -r)', async () => {
    const { run, file } = runWith({ 'model.bin': 'weights 1' });
    const snap = await backupOf(run);
    write(file('eval/results.json'), '{"acc": 0.1}');
    const { mtime } = fs.statSync(file('eval/results.json'));

    // After the pre-restore snapshot took the first version, a sync tool writes the second over it,
    // of the same size, and sets the mtime it had.
    const resync = async (): Promise<void> => {
      fs.writeFileSync(file('eval/results.json'), '{"acc": 0.9}');
      fs.utimesSync(file('eval/results.json'), mtime, mtime);
    };
    const r = await restoreSnapshot({ run, snapshot: snap, to: null, force: false, now: Date.now(), logger: quiet, hooks: { beforeCommit: resync } });
    expect(fs.readFileSync(file('model.bin'), 'utf8')).toBe('weights 1');
    // No snapshot holds this version: removed, it would be lost.
    expect(fs.readFileSync(file('eval/results.json'), 'utf8')).toBe('{"acc": 0.9}');
    expect({ removed: r.removed, leftInPlace: r.leftInPlace }).toEqual({ removed: [], leftInPlace: ['eval/results.json'] });
  });
});

/** A run whose snapshot holds `ckpt` as a file, then `ckpt` made a folder holding `inside`. */
async function folderWhereFileWas(inside: Record<string, string>): Promise<{ run: RunConfig; snap: SnapshotMeta; file: (rel: string) => string }> {
  const { run, file } = runWith({ ckpt: 'one file of weights', 'config.json': '{"lr": 1}' });
  const snap = await backupOf(run);
  fs.rmSync(file('ckpt'));
  for (const [rel, text] of Object.entries(inside)) write(file(`ckpt/${rel}`), text);
  write(file('config.json'), '{"lr": 2}');
  return { run, snap, file };
}

describe('restore of a file where the run now has a folder', () => {
  it('removes the folder files the pre-restore snapshot holds, then puts the file back', async () => {
    const { run, snap, file } = await folderWhereFileWas({ 'shard-0.bin': 'shard 0', 'sub/shard-1.bin': 'shard 1' });
    const r = await restoreSnapshot({ run, snapshot: snap, to: null, force: false, now: Date.now(), logger: quiet });
    expect(fs.readFileSync(file('ckpt'), 'utf8')).toBe('one file of weights');
    expect(fs.readFileSync(file('config.json'), 'utf8')).toBe('{"lr": 1}');
    expect({ written: r.written.sort(), removed: r.removed.sort(), notReplaced: r.notReplaced }).toEqual({
      written: ['ckpt', 'config.json'],
      removed: ['ckpt/shard-0.bin', 'ckpt/sub/shard-1.bin'],
      notReplaced: [],
    });
    const pre = (await storeOf(run.store).resolve(r.preRestoreId!)) as SnapshotMeta;
    expect(pre.files.map((f) => f.path).sort()).toEqual(['ckpt/shard-0.bin', 'ckpt/sub/shard-1.bin', 'config.json']);
  });

  it('leaves a folder holding a file the config leaves out as it is, and names it', async () => {
    const { run, snap, file } = await folderWhereFileWas({ 'shard-0.bin': 'shard 0', 'cache/index.db': 'a cache' });
    const now: RunConfig = { ...run, exclude: [...run.exclude, 'ckpt/cache/**'] };
    const r = await restoreSnapshot({ run: now, snapshot: snap, to: null, force: false, now: Date.now(), logger: quiet });
    expect(fs.readFileSync(file('ckpt/cache/index.db'), 'utf8')).toBe('a cache');
    expect(fs.readFileSync(file('config.json'), 'utf8')).toBe('{"lr": 1}');
    expect(r.notReplaced).toEqual(['ckpt']);
    // Its staged copy is not left behind.
    expect(tempNamesIn(path.dirname(file('ckpt')))).toEqual([]);
  });
});

describe('restore and a file the snapshot holds, written again after the pre-restore snapshot', () => {
  it('does not replace it: the restore stops, naming it, and the new version stays', async () => {
    const { run, file } = runWith({ 'model.bin': 'weights 1' });
    const snap = await backupOf(run);
    write(file('model.bin'), 'weights 2');
    // The trainer, started again meanwhile, writes its next model after the pre-restore snapshot took weights 2.
    const trainerWrites = async (): Promise<void> => {
      fs.writeFileSync(file('model.bin'), 'weights 3');
    };
    const restoring = restoreSnapshot({ run, snapshot: snap, to: null, force: false, now: Date.now(), logger: quiet, hooks: { beforeCommit: trainerWrites } });
    await expect(restoring).rejects.toThrow(/model\.bin.* changed while the restore ran/);
    // No snapshot holds weights 3: replaced, it would be lost.
    expect(fs.readFileSync(file('model.bin'), 'utf8')).toBe('weights 3');
    expect(tempNamesIn(path.dirname(file('model.bin')))).toEqual([]);
  });
});

describe('restore and files hard-linked to each other in the run', () => {
  it('replaces and removes them all: the link count one change moves on the others is no write', async () => {
    const { run, file } = runWith({ 'model.bin': 'weights 1', 'latest.bin': 'weights 1' });
    const snap = await backupOf(run);
    // The trainer keeps latest.bin as a hard link of its newest model, and two links of a step's.
    write(file('model.bin'), 'weights 2');
    fs.rmSync(file('latest.bin'));
    fs.linkSync(file('model.bin'), file('latest.bin'));
    write(file('step-2.bin'), 'weights 2');
    fs.linkSync(file('step-2.bin'), file('step-2-copy.bin'));

    const r = await restoreSnapshot({ run, snapshot: snap, to: null, force: false, now: Date.now(), logger: quiet });
    expect([fs.readFileSync(file('model.bin'), 'utf8'), fs.readFileSync(file('latest.bin'), 'utf8')]).toEqual(['weights 1', 'weights 1']);
    expect({ removed: r.removed.sort(), leftInPlace: r.leftInPlace }).toEqual({ removed: ['step-2-copy.bin', 'step-2.bin'], leftInPlace: [] });
  });
});
