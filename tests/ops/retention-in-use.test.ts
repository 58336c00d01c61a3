/**
 * Retention never deletes a snapshot the store relies on at the moment it deletes: the store's
 * newest good snapshot (which it orders by id: what the next backup links from and a resume
 * restores, even when `created` disagrees after the clock went back), one that became the newest
 * good since the plan (a verify marked the one after it damaged), and, when `min_free` makes room
 * before a snapshot, the snapshot that capture links from. Nor one the plan removed before what it
 * was made from changed: a `ckptd verify` (which needs no lock) marking a snapshot damaged or
 * clearing its mark changes the newest good backups and the best by `keep_best`; a `ckptd push ID`
 * served beside the daemon's evaluation queues a backup for the remote.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RunConfig } from '../../src/config/types.js';
import { zeroConfig } from '../../src/config/zero-config.js';
import { deleteOnFinish } from '../../src/ops/delete-on-finish.js';
import { enqueueForPush } from '../../src/ops/push.js';
import { restoreSnapshot } from '../../src/ops/restore.js';
import { applyPlan, planStore } from '../../src/ops/retention.js';
import { applyRetention, captureSnapshot, scanRun } from '../../src/ops/run-actions.js';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { recordVerification } from '../../src/store/damaged-marker.js';
import { damagedMarkerFile } from '../../src/store/layout.js';
import { storeOf } from '../../src/store/local-store.js';
import type { SnapshotMeta } from '../../src/store/types.js';
import type { Logger } from '../../src/util/logger.js';

const said: string[] = [];
const logger: Logger = { error: (m) => void said.push(m), warn: (m) => void said.push(m), info: (m) => void said.push(m), debug() {}, child: () => logger };
const MODEL = 2 << 20;

let dirs: string[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
  dirs = [];
  said.length = 0;
});

/** Writes `file` with an mtime a minute back (settled). */
function write(file: string, data: string | Buffer): void {
  fs.writeFileSync(file, data);
  const t = new Date(Date.now() - 60_000);
  fs.utimesSync(file, t, t);
}

function setUp(keep: number, keepBest: RunConfig['retention']['keepBest'] = null): { run: RunConfig; model: string } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-in-use-'));
  dirs.push(base);
  const runDir = path.join(base, 'run');
  fs.mkdirSync(runDir);
  const model = path.join(runDir, 'model.bin');
  write(model, randomBytes(MODEL));
  write(path.join(runDir, 'config.json'), '{}');
  const c = zeroConfig(runDir, path.join(base, 'store')).runs[0]!;
  return { run: { ...c, settleMs: 20, backup: { ...c.backup, keep }, retention: { ...c.retention, keepBest, minFreeBytes: 0, minAgeMs: 0 } }, model };
}

async function backup(run: RunConfig, now = Date.now()): Promise<SnapshotMeta> {
  return captureSnapshot(run, await scanRun(run), { kind: 'backup', trigger: 'test', progress: NO_PROGRESS, now }, logger);
}

/** Bytes of the files under `dir`, each inode once. */
function storeBytes(dir: string): number {
  const seen = new Set<number>();
  let n = 0;
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const st = fs.lstatSync(path.join(dir, rel));
    if (st.isFile() && !seen.has(st.ino)) {
      seen.add(st.ino);
      n += st.size;
    }
  }
  return n;
}

/** Makes the store's file system hold exactly what the store holds now plus `free` bytes (statfs faked). */
function diskOf(store: string, free: number): void {
  const cap = storeBytes(store) + free;
  const statfs = fsp.statfs.bind(fsp);
  vi.spyOn(fsp, 'statfs').mockImplementation((async (p: string) => {
    const real = await statfs(p);
    return { ...real, bavail: Math.floor((cap - storeBytes(store)) / real.bsize) };
  }) as typeof fsp.statfs);
}

const ids = async (run: RunConfig): Promise<string[]> => (await storeOf(run.store).listSnapshotHeaders()).map((s) => s.id);

describe('retention and the snapshots the store relies on', () => {
  it('keeps the store\'s newest good backup when a clock set ahead stamped an older one later', async () => {
    const { run, model } = setUp(1);
    // Taken while the clock ran a day ahead; the next one, after the clock was put right, gets an id after it.
    const ahead = await backup(run, Date.now() + 86_400_000);
    write(model, randomBytes(MODEL));
    const current = await backup(run);
    expect(current.id > ahead.id).toBe(true);
    expect((await storeOf(run.store).newestGood())!.id).toBe(current.id);

    await applyRetention(run, null, Date.now(), logger); // `ckptd prune`
    expect(await ids(run)).toContain(current.id);
  });

  it('keeps a backup that a verify made the newest good between the plan and the deletion', async () => {
    const { run, model } = setUp(1);
    const older = await backup(run);
    write(model, randomBytes(MODEL));
    const newer = await backup(run);
    const plan = await planStore(run, Date.now(), {}, false);
    expect(plan.snapshots.remove.map((r) => r.id)).toEqual([older.id]);
    // `ckptd verify` needs no lock: it finds the newer one damaged meanwhile.
    await recordVerification(run.store, { id: newer.id, kind: 'backup', ok: false, missing: ['model.bin'], changed: [], extra: [], files: 2, bytesHashed: 0 }, Date.now());

    await applyPlan(run, plan, null, logger);
    expect(await ids(run)).toContain(older.id);
    expect((await storeOf(run.store).newestGood())!.id).toBe(older.id);
    expect(said.some((m) => m.startsWith(`backup ${older.id} kept: it is now the store's newest good snapshot`))).toBe(true);
  });

  it('never deletes, to make room under min_free, the snapshot the capture links from', async () => {
    const { run, model } = setUp(5);
    const restored = await backup(run);
    write(model, randomBytes(MODEL));
    await backup(run);
    await restoreSnapshot({ run, snapshot: restored, to: null, force: false, now: Date.now(), logger });
    write(path.join(run.path, 'trainer_state.json'), '{"epoch": 3}');
    // A disk of exactly what the store holds plus 16 MiB (the machine's own free space moves with
    // whatever else runs), and min_free 1 MiB more than the next snapshot would leave.
    diskOf(run.store, 16 << 20);
    const tight: RunConfig = { ...run, retention: { ...run.retention, minFreeBytes: (16 << 20) - '{"epoch": 3}'.length + (1 << 20) } };
    // The only backup whose bytes no other snapshot shares is the restored one: deleting it would
    // have turned every link of this capture into a copy (past min_free after all). Refused instead.
    await expect(backup(tight)).rejects.toThrow(/not taking a backup snapshot: it needs 12 B and would leave .* below retention.min_free/);
    expect(await ids(run)).toContain(restored.id);
  });
  it('makes room under min_free before a manual snapshot by size alone: a keep lowered since the last backup waits for the next one', async () => {
    const { run, model } = setUp(5);
    const taken: SnapshotMeta[] = [];
    for (let i = 0; i < 4; i++) {
      write(model, randomBytes(MODEL));
      taken.push(await backup(run, Date.now() - (4 - i) * 1000));
    }
    write(path.join(run.path, 'notes.txt'), 'a manual snapshot of this state');
    // keep edited from 5 to 1; the disk is one small file short of min_free.
    diskOf(run.store, 1 << 20);
    const tight: RunConfig = { ...run, backup: { ...run.backup, keep: 1 }, retention: { ...run.retention, minFreeBytes: (1 << 20) - 'a manual snapshot of this state'.length + 100 } };
    await captureSnapshot(tight, await scanRun(tight), { kind: 'manual', trigger: 'manual', progress: NO_PROGRESS, now: Date.now() }, logger);
    // The oldest backup goes (it frees more than enough); the other two beyond keep=1 stay until the next backup.
    expect(await ids(run)).not.toContain(taken[0]!.id);
    for (const t of taken.slice(1)) expect(await ids(run)).toContain(t.id);
  });
});

/** A backup of a new model, at `loss` when given (reported through `.ckptd-progress.json`). */
async function backupAt(run: RunConfig, loss?: number): Promise<SnapshotMeta> {
  write(path.join(run.path, 'model.bin'), randomBytes(4096));
  if (loss !== undefined) write(path.join(run.path, '.ckptd-progress.json'), JSON.stringify({ loss }));
  return captureSnapshot(run, await scanRun(run), { kind: 'backup', trigger: 'test', progress: NO_PROGRESS, now: Date.now() }, logger);
}

/** What `ckptd verify` records for `s` (it runs beside the daemon, without the lock). */
async function verified(run: RunConfig, s: SnapshotMeta, ok: boolean): Promise<void> {
  await recordVerification(run.store, { id: s.id, kind: 'backup', ok, missing: ok ? [] : ['model.bin'], changed: [], extra: [], files: s.files.length, bytesHashed: 0 }, Date.now());
}

/** Plans retention (which removes `doomed`), lets `meanwhile` happen, then applies the plan as the daemon does after `justTaken`. */
async function planChangeApply(run: RunConfig, doomed: SnapshotMeta, justTaken: SnapshotMeta, meanwhile: () => Promise<void>): Promise<void> {
  const plan = await planStore(run, Date.now(), {}, false);
  expect(plan.snapshots.remove.map((r) => r.id)).toContain(doomed.id);
  await meanwhile();
  await applyPlan(run, plan, justTaken.id, logger);
}

describe('retention re-checks what changed between its plan and each deletion', () => {
  it('keeps the backup that became the best by keep_best when a verify marked the best damaged meanwhile', async () => {
    const { run } = setUp(1, { metric: 'loss', mode: 'min', count: 1 });
    const best = await backupAt(run, 0.1);
    const second = await backupAt(run, 0.2);
    await backupAt(run, 0.5);
    const newest = await backupAt(run, 0.6);
    expect(best.loss).toBe(0.1);
    await planChangeApply(run, second, newest, () => verified(run, best, false));
    // The best good epoch left is the 0.2 one: keep_best keeps it.
    expect(await ids(run)).toContain(second.id);
  });

  it('keeps a backup that is again among the newest `keep` good ones after a verify marked a newer one damaged', async () => {
    const { run } = setUp(2);
    const oldest = await backupAt(run);
    const middle = await backupAt(run);
    const newest = await backupAt(run);
    await planChangeApply(run, oldest, newest, () => verified(run, middle, false));
    expect(await ids(run)).toContain(oldest.id);
  });

  it('keeps a backup planned away as damaged when a verify found it clean again meanwhile', async () => {
    const { run } = setUp(2);
    await backupAt(run);
    const middle = await backupAt(run);
    const newest = await backupAt(run);
    await verified(run, middle, false);
    await planChangeApply(run, middle, newest, () => verified(run, middle, true));
    expect(await ids(run)).toContain(middle.id);
  });

  it('keeps a backup queued for push after the plan (`ckptd push ID` served beside the evaluation)', async () => {
    const { run } = setUp(1);
    const older = await backupAt(run);
    const newest = await backupAt(run);
    await planChangeApply(run, older, newest, () => enqueueForPush(run.store, [older.id], Date.now()));
    expect(await ids(run)).toContain(older.id);
    expect(said.some((m) => m.startsWith(`backup ${older.id} kept:`))).toBe(true);
  });

  it('still deletes what the plan removes when nothing changed, damaged ones included', async () => {
    const { run } = setUp(1);
    const first = await backupAt(run);
    const second = await backupAt(run);
    const newest = await backupAt(run);
    await verified(run, first, false);
    await verified(run, second, false);
    await enqueueForPush(run.store, [newest.id], Date.now());
    // Deleting the first clears its own mark: not a change by a verify.
    expect(await applyPlan(run, await planStore(run, Date.now(), {}, false), newest.id, logger)).toEqual([first.id, second.id]);
    expect(await ids(run)).toEqual([newest.id]);
  });

  it('keeps what the plan removes when the retention rules were edited since (the daemon reloads the config beside it)', async () => {
    const { run } = setUp(1);
    const older = await backupAt(run);
    const newest = await backupAt(run);
    const plan = await planStore(run, Date.now(), {}, false);
    expect(plan.snapshots.remove.map((r) => r.id)).toEqual([older.id]);
    // keep raised to 5 while retention runs: the config in force keeps the older one.
    const edited: RunConfig = { ...run, backup: { ...run.backup, keep: 5 } };
    await applyPlan(run, plan, newest.id, logger, undefined, () => edited);
    expect(await ids(run)).toContain(older.id);
    expect(said.some((m) => m.startsWith(`backup ${older.id} kept: the retention rules were edited since`))).toBe(true);

    // An edit of anything else (here the settle time) changes nothing retention applies.
    const other: RunConfig = { ...run, settleMs: 999 };
    expect(await applyPlan(run, await planStore(run, Date.now(), {}, false), newest.id, logger, undefined, () => other)).toEqual([older.id]);
  });

  it('plans with the config in force when it starts, not the one the backup before it was taken with', async () => {
    const { run } = setUp(1);
    const older = await backupAt(run);
    const newest = await backupAt(run);
    const edited: RunConfig = { ...run, backup: { ...run.backup, rolling: false } };
    // The daemon hands its current config: rolling turned off while the backup was taken.
    await applyRetention(() => edited, newest.id, Date.now(), logger);
    expect(await ids(run)).toContain(older.id);
  });

  it('delete_on_finish keeps the backup that became the best by keep_best when a verify marked the best damaged meanwhile', async () => {
    const { run } = setUp(1, { metric: 'loss', mode: 'min', count: 1 });
    const best = await backupAt(run, 0.1);
    await backupAt(run, 0.5);
    // The runner-up between the others: not the first deleted, oldest or newest first.
    const second = await backupAt(run, 0.2);
    await backupAt(run, 0.6);
    // A verify beside the finish marks the best damaged right after the first deletion (its marker, as `recordVerification` writes it).
    const mark = (): void => {
      fs.mkdirSync(path.dirname(damagedMarkerFile(run.store, best.id)), { recursive: true });
      fs.writeFileSync(damagedMarkerFile(run.store, best.id), '{}');
    };
    const marking: Logger = { ...logger, info: (m) => (m.includes(' deleted: ') && mark(), logger.info(m)) };
    await deleteOnFinish(run, marking, Date.now());
    expect(await ids(run)).toContain(second.id);
    expect(await ids(run)).toContain(best.id);
  });
});
