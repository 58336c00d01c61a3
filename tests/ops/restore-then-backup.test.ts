/**
 * The first backup after a restore (`ckptd restore`, `ckptd run --resume`) costs what changed since
 * the restore: a restored file the trainer has not touched since is linked from the restored
 * snapshot, not copied again (a restore writes fresh copies, which no manifest knows by inode and
 * ctime). A restored file changed since, even one that kept its size and mtime, is copied.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunConfig } from '../../src/config/types.js';
import { zeroConfig } from '../../src/config/zero-config.js';
import { restoreSnapshot } from '../../src/ops/restore.js';
import { captureSnapshot, scanRun } from '../../src/ops/run-actions.js';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { recordVerification } from '../../src/store/damaged-marker.js';
import { deleteSnapshot } from '../../src/store/delete-snapshot.js';
import type { VerifyResult } from '../../src/store/verify-snapshot.js';
import { restoredRecordFile } from '../../src/store/restored-record.js';
import type { SnapshotKind, SnapshotMeta } from '../../src/store/types.js';
import type { Logger } from '../../src/util/logger.js';
import { sha256, sha256File } from '../store/fixtures.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };
const MODEL = 2 << 20;
const OPTIM = 3 << 20;

let dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
  dirs = [];
});

/** A run with a model, an optimizer state and a config (files a minute old), and its store. */
function setUp(): { run: RunConfig; file: (rel: string) => string } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-restore-then-backup-'));
  dirs.push(base);
  const runDir = path.join(base, 'run');
  fs.mkdirSync(path.join(runDir, 'ckpt'), { recursive: true });
  const file = (rel: string): string => path.join(runDir, rel);
  write(file('ckpt/model.bin'), randomBytes(MODEL));
  write(file('ckpt/optimizer.pt'), randomBytes(OPTIM));
  write(file('config.json'), '{"lr": 0.001}');
  const c = zeroConfig(runDir, path.join(base, 'store')).runs[0]!;
  return { run: { ...c, settleMs: 20, retention: { ...c.retention, minFreeBytes: 0 } }, file };
}

/** Writes `file` with an mtime a minute back (settled). */
function write(file: string, data: string | Buffer): void {
  fs.writeFileSync(file, data);
  const t = new Date(Date.now() - 60_000);
  fs.utimesSync(file, t, t);
}

async function backup(run: RunConfig, kind: SnapshotKind = 'backup'): Promise<SnapshotMeta> {
  return captureSnapshot(run, await scanRun(run), { kind, trigger: 'test', progress: NO_PROGRESS, now: Date.now() }, quiet);
}

const inode = (file: string): number => fs.statSync(file).ino;

describe('the first backup after a restore', () => {
  it('links the restored files the trainer has not touched since from the restored snapshot, and copies only what changed', async () => {
    const { run, file } = setUp();
    const good = await backup(run);
    // The crash: the trainer had half-rewritten both checkpoint files.
    write(file('ckpt/model.bin'), randomBytes(MODEL));
    write(file('ckpt/optimizer.pt'), randomBytes(OPTIM));
    const restore = await restoreSnapshot({ run, snapshot: good, to: null, force: false, now: Date.now(), logger: quiet });
    expect(restore.written.sort()).toEqual(['ckpt/model.bin', 'ckpt/optimizer.pt']);
    expect(restore.unchanged).toEqual(['config.json']);

    // The trainer resumes and writes one small file.
    write(file('trainer_state.json'), '{"epoch": 3}');
    const next = await backup(run);

    expect(next.copied_bytes, 'only the new file is copied').toBe('{"epoch": 3}'.length);
    for (const rel of ['ckpt/model.bin', 'ckpt/optimizer.pt', 'config.json']) {
      expect(inode(path.join(next.path, rel)), `${rel} is the restored snapshot's stored file`).toBe(inode(path.join(good.path, rel)));
      expect(next.files.find((f) => f.path === rel)!.sha256).toBe(good.files.find((f) => f.path === rel)!.sha256);
    }
    // The record has served: the next backup links from this one.
    expect(fs.existsSync(restoredRecordFile(run.store))).toBe(false);
    write(file('trainer_state.json'), '{"epoch": 4}');
    const after = await backup(run);
    expect(after.copied_bytes).toBe('{"epoch": 4}'.length);
    expect(inode(path.join(after.path, 'ckpt/model.bin'))).toBe(inode(path.join(good.path, 'ckpt/model.bin')));
  });

  it('copies a restored file changed since the restore, even with its size and mtime put back', async () => {
    const { run, file } = setUp();
    const good = await backup(run);
    write(file('ckpt/model.bin'), randomBytes(MODEL));
    await restoreSnapshot({ run, snapshot: good, to: null, force: false, now: Date.now(), logger: quiet });

    const model = file('ckpt/model.bin');
    const { mtime } = fs.statSync(model);
    const other = randomBytes(MODEL);
    fs.writeFileSync(model, other);
    fs.utimesSync(model, mtime, mtime);
    const next = await backup(run);

    expect(sha256File(path.join(next.path, 'ckpt/model.bin'))).toBe(sha256(other));
    expect(inode(path.join(next.path, 'ckpt/model.bin'))).not.toBe(inode(path.join(good.path, 'ckpt/model.bin')));
    expect(next.copied_bytes).toBe(MODEL);
  });

  it('copies as before once the restored snapshot is gone', async () => {
    const { run, file } = setUp();
    const good = await backup(run);
    write(file('ckpt/model.bin'), randomBytes(MODEL));
    await restoreSnapshot({ run, snapshot: good, to: null, force: false, now: Date.now(), logger: quiet });
    await deleteSnapshot(run.store, good.id);
    write(file('trainer_state.json'), '{"epoch": 3}');
    const next = await backup(run);
    expect(next.copied_bytes).toBe(MODEL + '{"epoch": 3}'.length);
    expect(sha256File(path.join(next.path, 'ckpt/model.bin'))).toBe(good.files.find((f) => f.path === 'ckpt/model.bin')!.sha256);
    // A record that can no longer serve is not kept (nor read again at every snapshot).
    expect(fs.existsSync(restoredRecordFile(run.store))).toBe(false);
  });

  it('never links from a restored snapshot found damaged since: copies instead', async () => {
    const { run, file } = setUp();
    const good = await backup(run);
    write(file('ckpt/model.bin'), randomBytes(MODEL));
    await restoreSnapshot({ run, snapshot: good, to: null, force: false, now: Date.now(), logger: quiet });
    // A verify found its optimizer state changed on disk (bit rot): its files are no link source.
    const bad: VerifyResult = { id: good.id, kind: good.kind, ok: false, missing: [], changed: [{ path: 'ckpt/optimizer.pt', reason: 'sha256 differs' }], extra: [], files: 3, bytesHashed: 0 };
    expect(await recordVerification(run.store, bad, Date.now())).toBe('marked');
    write(file('trainer_state.json'), '{"epoch": 3}');
    const next = await backup(run);
    expect(inode(path.join(next.path, 'ckpt/model.bin'))).not.toBe(inode(path.join(good.path, 'ckpt/model.bin')));
    expect(sha256File(path.join(next.path, 'ckpt/model.bin'))).toBe(good.files.find((f) => f.path === 'ckpt/model.bin')!.sha256);
    // The rest is linked from the pre-restore snapshot, as without a restore record.
    expect(next.copied_bytes).toBe(MODEL + '{"epoch": 3}'.length);
  });
});

